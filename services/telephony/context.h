// File: services/telephony/context.h
// -----------------------------------------------------------------------------
// What the telephony service's parts share once wired (wiring.cc builds it; each part's Wire<Part>(ctx)
// adds its gRPC services, workers and timer kinds): the database, the clock, the company's calendar, the
// outbox writer, the durable timers and deals (the client search by phone and D16's interactions).
//
// Parts (issue 19; README.md): calls/ (P1, P2: the call model, the intake every PBX adapter feeds, the call
// log, caller identification, interactions, commands), ami/ (P1: Asterisk over AMI), requests/ (P4: the
// call-request queue). A part reads its own settings from `env` (CRM_TELEPHONY_<NAME>) and returns OK
// with env.status() bad when one is bad.
#ifndef CRM_SERVICES_TELEPHONY_CONTEXT_H_
#define CRM_SERVICES_TELEPHONY_CONTEXT_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "libs/timers/kinds.h"

namespace grpc {
class Channel;
}  // namespace grpc
namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm {
class Clock;
namespace auth {
class SigningKey;
}  // namespace auth
namespace calendar {
class WorkingCalendar;
}  // namespace calendar
namespace config {
class Env;
}  // namespace config
namespace events {
class OutboxWriter;
}  // namespace events
namespace pg {
class Pool;
}  // namespace pg
namespace rpc {
class Server;
}  // namespace rpc
namespace timers {
class TimerStore;
}  // namespace timers
}  // namespace crm

namespace crm::telephony {

// Durable timers by kind (libs/timers/kinds.h): each part registers the kinds it schedules before the
// service's timer loop starts.
using TimerKinds = crm::timers::TimerKinds;

struct Context {
  crm::config::Env& env;
  crm::rpc::Server& server;
  crm::pg::Pool& pool;
  const crm::Clock& clock;
  const crm::calendar::WorkingCalendar& calendar;  // the company's zone and working days
  absl::TimeZone zone;
  crm::events::OutboxWriter& outbox;               // source "telephony"
  crm::timers::TimerStore& timers;                 // schedule in the caller's transaction
  TimerKinds& timer_kinds;                         // register before the loop starts (wiring order)
  std::shared_ptr<grpc::Channel> deals;            // deals' ClientService and InteractionService
  const crm::auth::SigningKey* service_key;        // signs telephony's own principal (nullptr: development)
  std::string public_url;                          // CRM_PUBLIC_URL: callback URLs given to cloud PBXs
};

}  // namespace crm::telephony

#endif  // CRM_SERVICES_TELEPHONY_CONTEXT_H_
