// File: services/dialogs/context.h
// -----------------------------------------------------------------------------
// What the dialogs service's parts share once wired (wiring.cc builds it; each part's Wire<Part>(ctx)
// adds its gRPC services, workers and timer kinds): the database, the clock, the company's calendar,
// the outbox writer, the durable timers and deals (the client search and D16's interactions).
//
// Parts (issue 18; README.md): telegram/ (T1: the Bot API, intake, the sender), inbox/ (T2, T5–T9:
// dialogs, messages, routing, the operator API), scenarios/ (T3, T4: the chat-bot engine). A part reads its
// own settings from `env` (CRM_DIALOGS_<NAME>) and returns OK with env.status() bad when one is bad.
#ifndef CRM_SERVICES_DIALOGS_CONTEXT_H_
#define CRM_SERVICES_DIALOGS_CONTEXT_H_

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

namespace crm::dialogs {

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
  crm::events::OutboxWriter& outbox;               // source "dialogs"
  crm::timers::TimerStore& timers;                 // schedule in the caller's transaction
  TimerKinds& timer_kinds;                         // register before the loops start (wiring order)
  std::shared_ptr<grpc::Channel> deals;            // deals' ClientService and InteractionService
  const crm::auth::SigningKey* service_key;        // signs dialogs' own principal (nullptr: development)
  std::string public_url;                          // CRM_PUBLIC_URL: webhook URLs, deep links
};

}  // namespace crm::dialogs

#endif  // CRM_SERVICES_DIALOGS_CONTEXT_H_
