// crm-interactions-bench: interactions (D16, issue 17) at 1 000 000 interactions, next to the bare SQL
// of the same work in the same run.
//
//   tools/crm bench interactions [--interactions N] [--requests N] [--seconds S] [--clients N]
//   (a throwaway PostgreSQL comes from tools/crm: CRM_TEST_PG_DSN)
//
// Load (generate_series, then VACUUM ANALYZE): 100 000 clients, 200 000 client requests over 20 projects,
// N interactions (default 1 000 000) of requests drawn by a hash, a minute apart up to a month ahead, 100
// responsibles in 10 teams; planned from "now" on, one in 100 forgotten (overdue), one in 20 cancelled,
// done otherwise.
//
// Measured:
//   «Задачи на сегодня»   InteractionStore::Today (three sections with their counts) for the head of sales
//                         (all), a manager (team: 10 colleagues), an operator (own) and the head of sales
//                         over two projects: p50 / p95 / p99 over --requests calls, next to the bare SQL —
//                         the very statements the store sent for that call (StatementRecorder), replayed
//                         in one read-only transaction on one connection;
//   recording             InteractionStore::Create of a planned call of a client's request (checks, primacy
//                         under its lock, the request's refresh and events, the outbox) and the telephony
//                         path, UpsertInteraction of a finished PBX call (its completion event with the
//                         client's open deals), at 1 and --clients threads for --seconds each: interactions/s
//                         and p50 / p99, next to a raw durable transaction inserting the same interaction row
//                         and its InteractionCreated event through the outbox writer at the same concurrency.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "crm/deals/v1/interactions_events.pb.h"
#include "libs/base/clock.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/events/outbox.h"
#include "libs/events/schema.h"
#include "libs/log/log.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/rpc/client.h"
#include "proto/crm/deals/v1/interactions_event_types.h"
#include "services/deals/interactions/interaction_store.h"
#include "services/deals/interactions/wiring.h"
#include "services/deals/sql.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "crm-interactions-bench: %s\n", what.c_str());
  std::exit(1);
}

struct Options {
  int interactions = 1'000'000;
  int requests = 200;
  int seconds = 5;
  int clients = 8;
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    int v = 0;
    if (!absl::SimpleAtoi(argv[i + 1], &v) || v <= 0) Die(absl::StrCat("bad value for ", flag));
    if (flag == "--interactions") {
      o.interactions = v;
    } else if (flag == "--requests") {
      o.requests = v;
    } else if (flag == "--seconds") {
      o.seconds = v;
    } else if (flag == "--clients") {
      o.clients = v;
    } else {
      Die("usage: crm-interactions-bench [--interactions N] [--requests N] [--seconds S] [--clients N]");
    }
  }
  return o;
}

constexpr int kUsers = 100;
constexpr int kTeams = 10;
constexpr int kProjects = 20;
constexpr int kClients = 100'000;
constexpr int kRequests = 200'000;

std::string RowIdSql(const std::string& rows, const std::string& n) {
  return absl::StrCat("('01900000-0000-7000-", rows, "-' || lpad(to_hex(", n, "), 12, '0'))::uuid");
}
std::string RowId(const std::string& rows, int64_t n) {
  return absl::StrCat("01900000-0000-7000-", rows, "-", absl::StrFormat("%012x", n));
}
std::string UserSql(const std::string& n) {
  return absl::StrCat("('01900000-0000-7000-8000-00000000' || to_hex(", 0xa000, " + (", n, ")))::uuid");
}
std::string UserId(int n) { return absl::StrCat("01900000-0000-7000-8000-00000000", absl::Hex(0xa000 + n)); }
std::string TeamId(int n) { return absl::StrCat("01900000-0000-7000-8000-00000000", absl::Hex(0xe000 + n)); }

void Load(const std::string& dsn, int n, absl::Time now) {
  const auto start = SteadyClock::now();
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  tx.exec0(absl::StrCat("INSERT INTO user_directory (user_id, team_ids, version) SELECT ", UserSql("u"),
                        ", ARRAY[('01900000-0000-7000-8000-00000000' || to_hex(", 0xe000, " + u % ", kTeams,
                        "))::uuid], 1 FROM generate_series(1, ", kUsers, ") u"));
  tx.exec0(absl::StrCat("INSERT INTO clients (id, kind, name) SELECT ", RowIdSql("a000", "g"),
                        ", 2, 'Клиент ' || g FROM generate_series(1, ", kClients, ") g"));
  tx.exec0(absl::StrCat("INSERT INTO client_requests (id, client_id, project_id, unit_kind, responsible_id, stage, "
                        "create_time, update_time) SELECT ", RowIdSql("d000", "r"), ", ",
                        RowIdSql("a000", absl::StrCat("1 + (r - 1) % ", kClients)), ", ",
                        RowIdSql("f000", absl::StrCat("r % ", kProjects)), ", 1, ",
                        UserSql(absl::StrCat("1 + (r / 7) % ", kUsers)),
                        ", 1 + r % 5, now(), now() FROM generate_series(1, ", kRequests, ") r"));
  const absl::Time first = now - absl::Minutes(n - 30 * 24 * 60);  // the last month still to come
  tx.exec0(absl::StrCat(
      "INSERT INTO interactions (id, kind, status, client_id, request_id, project_id, is_primary, responsible_id, "
      "planned_time, done_time, occur_time, create_time, update_time) SELECT ", RowIdSql("d100", "g"),
      ", 1 + g % 4, s.status, ", RowIdSql("a000", absl::StrCat("1 + (x.r - 1) % ", kClients)), ", ",
      RowIdSql("d000", "x.r"), ", ", RowIdSql("f000", absl::StrCat("x.r % ", kProjects)), ", false, ",
      UserSql(absl::StrCat("1 + (x.r / 7) % ", kUsers)),
      ", x.t, CASE WHEN s.status = 2 THEN x.t END, x.t, x.t, x.t FROM generate_series(1, ", n,
      ") g, LATERAL (SELECT 1 + abs(hashint4(g)) % ", kRequests, " AS r, timestamptz '",
      absl::FormatTime("%Y-%m-%d %H:%M:%S+00", first, absl::UTCTimeZone()),
      "' + g * interval '1 minute' AS t) x, LATERAL (SELECT CASE WHEN g % 20 = 3 THEN 3 WHEN x.t >= '",
      absl::FormatTime("%Y-%m-%d %H:%M:%S+00", now, absl::UTCTimeZone()),
      "' OR g % 100 = 1 THEN 1 ELSE 2 END AS status) s"));
  tx.commit();
  pqxx::nontransaction(c).exec0("VACUUM ANALYZE");
  std::printf("load: %d interactions, %d requests, %d clients in %.1f s (with VACUUM ANALYZE)\n", n, kRequests,
              kClients, std::chrono::duration<double>(SteadyClock::now() - start).count());
}

struct Latency {
  double p50 = 0, p95 = 0, p99 = 0;
};
Latency Percentiles(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  const auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(ms.size() * q))]; };
  return {at(0.50), at(0.95), at(0.99)};
}
std::vector<double> Time(int n, const std::function<void()>& fn) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const auto s = SteadyClock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - s).count());
  }
  return ms;
}

void Replay(pqxx::connection& c, const std::vector<crm::pg::StatementRecorder::Statement>& statements) {
  pqxx::read_transaction tx(c);
  for (const auto& st : statements) tx.exec_params(st.sql, pqxx::prepare::make_dynamic_params(st.params));
  tx.commit();
}

Principal User(int n, std::vector<std::string> permissions) {
  Principal p;
  p.set_kind(Principal::KIND_USER);
  p.set_id(UserId(n));
  for (auto& s : permissions) p.add_permissions(std::move(s));
  p.add_team_ids(TeamId(n % kTeams));
  return p;
}

// Runs `one(thread, i)` on `threads` threads for `seconds`; rate and latencies.
struct Run {
  double per_second = 0;
  Latency latency;
  int errors = 0;
};
Run Drive(int threads, int seconds, const std::function<bool(int, int)>& one) {
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::mutex mu;
  std::vector<double> all;
  std::vector<std::thread> pool;
  const auto start = SteadyClock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<double> mine;
      for (int i = 0; !stop.load(); ++i) {
        const auto s = SteadyClock::now();
        if (!one(t, i)) ++errors;
        mine.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - s).count());
      }
      std::lock_guard<std::mutex> lock(mu);
      all.insert(all.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  return {static_cast<double>(all.size()) / elapsed, Percentiles(all), errors.load()};
}

}  // namespace

int main(int argc, char** argv) {
  crm::log::Init("interactions-bench", crm::log::Level::kWarn);
  const Options o = Parse(argc, argv);
  auto db = crm::pg::testing::TempDatabase::Create("interactions_bench");
  if (!db.ok()) Die(db.status().ToString());
  std::vector<crm::pg::Migration> all = crm::EventsMigrations();
  all.insert(all.end(), crm::DealsMigrations().begin(), crm::DealsMigrations().end());
  all.insert(all.end(), crm::deals::interactions::InteractionsMigrations().begin(),
             crm::deals::interactions::InteractionsMigrations().end());
  if (auto m = crm::pg::Migrate((*db)->dsn(), all); !m.ok()) Die(m.status().ToString());
  absl::TimeZone zone;
  if (!absl::LoadTimeZone("Europe/Moscow", &zone)) Die("no Europe/Moscow");
  const absl::Time now = absl::FromCivil(absl::CivilMinute(2026, 3, 2, 15, 0), zone);
  Load((*db)->dsn(), o.interactions, now);
  auto pool = crm::pg::Pool::Create({.dsn = (*db)->dsn(), .size = o.clients + 2, .application_name = "bench"});
  if (!pool.ok()) Die(pool.status().ToString());
  crm::ManualClock clock(now);
  crm::deals::interactions::InteractionStore store(**pool, clock, zone);

  // «Задачи на сегодня».
  std::printf("\n«Задачи на сегодня», %d calls each            store p50 / p95 / p99 ms      bare SQL p50 / p95 / p99 ms\n",
              o.requests);
  pqxx::connection bare((*db)->dsn());
  struct View {
    const char* name;
    Principal who;
    std::vector<std::string> projects;
  };
  const View views[] = {
      {"head of sales (all)", User(3, {"interactions.read.all"}), {}},
      {"manager (team)", User(2, {"interactions.read.team", "interactions.write.own"}), {}},
      {"operator (own)", User(1, {"interactions.read.own", "interactions.write.own"}), {}},
      {"head of sales, 2 projects", User(3, {"interactions.read.all"}), {RowId("f000", 3), RowId("f000", 7)}},
  };
  for (const View& v : views) {
    v1::GetTodayTasksRequest req;
    for (const std::string& p : v.projects) req.add_project_ids(p);
    std::vector<crm::pg::StatementRecorder::Statement> statements;
    {
      crm::pg::StatementRecorder recorder;
      auto got = store.Today(v.who, req);
      if (!got.ok()) Die(got.status().ToString());
      statements = recorder.Take();
      std::printf("  %-27s planned %lld, done %lld, overdue %lld\n", v.name,
                  static_cast<long long>(got->planned_count()), static_cast<long long>(got->done_count()),
                  static_cast<long long>(got->overdue_count()));
    }
    for (int i = 0; i < 20; ++i) {
      (void)store.Today(v.who, req);
      Replay(bare, statements);
    }
    const Latency s = Percentiles(Time(o.requests, [&] {
      if (!store.Today(v.who, req).ok()) Die("Today failed");
    }));
    const Latency b = Percentiles(Time(o.requests, [&] { Replay(bare, statements); }));
    std::printf("  %-27s %8.2f / %6.2f / %6.2f          %8.2f / %6.2f / %6.2f\n", v.name, s.p50, s.p95, s.p99, b.p50,
                b.p95, b.p99);
  }

  // Recording.
  Principal service = crm::rpc::ServicePrincipal("telephony");
  service.add_permissions("interactions.read.all");
  service.add_permissions("interactions.write.all");
  const crm::deals::Actor actor{.principal = service};
  std::atomic<int64_t> seq{0};
  const auto planned_call = [&](int64_t n) {
    v1::Interaction x;
    const int64_t r = 1 + (n * 7919) % kRequests;
    x.set_kind(v1::Interaction::CALL);
    x.set_client_id(RowId("a000", 1 + (r - 1) % kClients));
    x.set_request_id(RowId("d000", r));
    x.set_responsible_id(UserId(1 + static_cast<int>((r / 7) % kUsers)));
    x.set_subject("Перезвонить по запросу");
    *x.mutable_planned_time() = crm::ToProtoTimestamp(now + absl::Hours(24 + n % 240));
    return x;
  };
  crm::events::OutboxWriter outbox("deals", clock);
  const auto raw = [&](int64_t n) {
    const v1::Interaction x = planned_call(n);
    return crm::pg::InTransaction(**pool, [&](pqxx::work& tx) -> absl::Status {
             const std::string id = crm::NewUuidV7();
             tx.exec_params0(
                 "INSERT INTO interactions (id, kind, status, client_id, request_id, project_id, responsible_id, "
                 "subject, planned_time, occur_time, create_time, update_time) VALUES ($1::uuid, 1, 1, $2::uuid, "
                 "$3::uuid, $4::uuid, $5::uuid, $6, now() + interval '1 day', now() + interval '1 day', now(), now())",
                 id, x.client_id(), x.request_id(), RowId("f000", 3), x.responsible_id(), x.subject());
             v1::InteractionCreated ev;
             *ev.mutable_interaction() = x;
             ev.mutable_interaction()->set_id(id);
             return outbox
                 .Append(tx, {.aggregate_type = v1::kInteractionAggregate, .aggregate_id = id,
                              .type = v1::kInteractionCreatedType, .payload = &ev, .actor = service})
                 .status();
           })
        .ok();
  };
  std::printf("\nrecording, %d s each                          interactions/s   p50 / p99 ms   errors\n", o.seconds);
  for (int threads : {1, o.clients}) {
    const Run made = Drive(threads, o.seconds, [&](int, int) { return store.Create(actor, planned_call(++seq)).ok(); });
    const Run upserted = Drive(threads, o.seconds, [&](int t, int i) {
      const int64_t n = ++seq;
      v1::Interaction x = planned_call(n);
      x.clear_planned_time();
      x.set_status(v1::Interaction::DONE);
      *x.mutable_start_time() = crm::ToProtoTimestamp(now);
      x.set_source("telephony");
      x.set_external_id(absl::StrCat("bench-", t, "-", i, "-", n));
      return store.Upsert(actor, x).ok() && store.Upsert(actor, x).ok();  // the PBX retries once
    });
    const Run bare_run = Drive(threads, o.seconds, [&](int, int) { return raw(++seq); });
    std::printf("  %2d client(s) CreateInteraction             %8.0f      %5.2f / %6.2f   %d\n", threads,
                made.per_second, made.latency.p50, made.latency.p99, made.errors);
    std::printf("  %2d client(s) UpsertInteraction ×2 (DONE)   %8.0f      %5.2f / %6.2f   %d   (calls/s, two upserts each)\n",
                threads, upserted.per_second, upserted.latency.p50, upserted.latency.p99, upserted.errors);
    std::printf("  %2d client(s) raw row + outbox event        %8.0f      %5.2f / %6.2f   %d   ratio create/raw %.2f\n",
                threads, bare_run.per_second, bare_run.latency.p50, bare_run.latency.p99, bare_run.errors,
                made.per_second / std::max(1.0, bare_run.per_second));
  }
  return 0;
}
