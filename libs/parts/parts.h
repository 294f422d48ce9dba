// File: libs/parts/parts.h
// -----------------------------------------------------------------------------
// A service built of parts (dialogs, telephony): what the parts share once wired (Context), and the wiring
// around them (WireService), so each service's wiring.cc says only which parts it has and in which order.
//
// WireService(env, server, options, wire_parts) promises:
//   * the settings every such service reads (CRM_<SERVICE>_<NAME>): PG_DSN (options.default_dsn),
//     PG_POOL_SIZE (8), OUTBOX_RELAY (true) and the relay's (libs/events/relay.h), TIME_ZONE
//     (Europe/Moscow) and HOLIDAYS (the company's working calendar), PUBLIC_URL (http://127.0.0.1:8080:
//     where outside systems call back), DEALS_ADDRESS (127.0.0.1:7102: deals' ClientService and
//     InteractionService), TIMER_POLL_INTERVAL (1s) and TIMER_BATCH (100); a bad one leaves env.status()
//     bad and returns OK (RunService reports it, exit 2);
//   * the database migrated (options.migrations) and a pool opened; the Context built; then
//     `wire_parts(ctx)` — the service's parts add their gRPC services, workers and timer kinds; a bad
//     setting of theirs stops here the same way;
//   * then, on every replica: one TimerLoop over ctx.timer_kinds (SKIP LOCKED: each timer fires once),
//     the hourly purge of idempotency records past 24 hours, and the outbox relay (OUTBOX_RELAY).
#ifndef CRM_LIBS_PARTS_PARTS_H_
#define CRM_LIBS_PARTS_PARTS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/pg/migrations.h"
#include "libs/timers/kinds.h"

namespace grpc {
class Channel;
}  // namespace grpc
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

namespace crm::parts {

// What a service's parts share. A part reads its own settings from `env` (CRM_<SERVICE>_<NAME>) and
// returns OK with env.status() bad when one is bad.
struct Context {
  crm::config::Env& env;
  crm::rpc::Server& server;
  crm::pg::Pool& pool;
  const crm::Clock& clock;
  const crm::calendar::WorkingCalendar& calendar;  // the company's zone and working days
  absl::TimeZone zone;
  crm::events::OutboxWriter& outbox;               // source = the service's name
  crm::timers::TimerStore& timers;                 // schedule in the caller's transaction
  crm::timers::TimerKinds& timer_kinds;            // register before the loop starts (wiring order)
  std::shared_ptr<grpc::Channel> deals;            // deals' ClientService and InteractionService
  const crm::auth::SigningKey* service_key;        // signs the service's own principal (nullptr: development)
  std::string public_url;                          // PUBLIC_URL: callback URLs, deep links
};

struct Options {
  std::string service;      // "dialogs": the outbox's source, the pool's application_name, log texts
  std::string default_dsn;  // PG_DSN when unset
  std::vector<crm::pg::Migration> migrations;  // every migration of the service's database, in order
};

// See the file comment.
absl::Status WireService(crm::config::Env& env, crm::rpc::Server& server, const Options& options,
                         absl::FunctionRef<absl::Status(Context&)> wire_parts);

}  // namespace crm::parts

#endif  // CRM_LIBS_PARTS_PARTS_H_
