// crm-telephony-bench: the call-request queue (issue 19, P4), next to its bare SQL in the same run.
//
//   tools/crm bench telephony [--queued N] [--operators N] [--requests N] [--creators N] [--rate N] [--rounds N]
//                             (a throwaway PostgreSQL comes from tools/crm: CRM_TEST_PG_DSN)
//
// Measured:
//   latency   Offer latency, a request queued → offered, with --queued (default 10 000) requests in the
//             queue (planned for tomorrow: priority 1, which the matcher must step over) and --operators
//             (default 50) auto-ready operators, each on a thread of its own taking every offer and finishing
//             it at once (CallRequests: MyState, Accept, Finish — the next offer comes in Finish's own
//             transaction; an idle operator looks again after 50 ms). --creators threads (default 4) create
//             --requests requests (default 2 000) arriving at --rate a second (default 25: open loop, below
//             what the operators finish, so the figure is the matcher's, not a backlog's). Per request: from just before Create to the offer — Create's return when it came back
//             OFFERED, else the attempt's offer_time (the offering transaction's clock, before its commit).
//             p50 / p99 / max. Target p99 ≤ 50 ms.
//   matcher   Queue::Match's offers per second on a queue of --queued due requests and --operators free
//             operators (each pass offers one per operator: the attempt, the request, the operator, the
//             35 s timer, the event), next to the bare SQL of one offer (sql::kOffer alone for the same
//             pairs, one transaction per pass): ratio = matcher / bare. Both reset between passes outside the
//             timing; --rounds passes each (default 40), interleaved.
// Prints the figures; asserts nothing about time.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/base/time.h"
#include "libs/events/outbox.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/testing.h"
#include "services/telephony/migrations.h"
#include "services/telephony/requests/api.h"
#include "services/telephony/requests/queue.h"
#include "services/telephony/requests/sql.h"

namespace {

namespace req = crm::telephony::requests;
namespace v1 = crm::telephony::v1;
using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "crm-telephony-bench: %s\n", msg.c_str());
  std::exit(1);
}

int Flag(int argc, char** argv, const char* name, int def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == name) return std::atoi(argv[i + 1]);
  }
  return def;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size()));
  return v[std::min(k, v.size() - 1)];
}

std::string UserId(int n) { return absl::StrFormat("01930000-0000-7000-8000-%012x", n); }

crm::common::v1::Principal Operator(int n) {
  crm::common::v1::Principal p;
  p.set_kind(crm::common::v1::Principal::KIND_USER);
  p.set_id(UserId(n));
  p.add_permissions(req::kOperate);
  return p;
}

// `n` queued requests with due times from `due` on (one a millisecond), priority `priority`, planned when
// `planned`.
void Fill(pqxx::connection& c, int n, absl::Time due, int priority, bool planned) {
  pqxx::work tx(c);
  tx.exec0(absl::StrCat(
      "INSERT INTO call_requests (id, source, type, priority, phone, planned_time, due_time, state, create_time, "
      "update_time) SELECT gen_random_uuid(), 'SITE', 'CALLBACK', ", priority, ", '+7916' || lpad(g::text, 7, '0'), ",
      planned ? "d" : "NULL", ", d, 'QUEUED', now(), now() FROM generate_series(1, ", n,
      ") g, LATERAL (SELECT timestamptz '", crm::FormatRfc3339Utc(due), "' + g * interval '1 millisecond' AS d) x"));
  tx.commit();
}

void Latency(crm::pg::Pool& pool, const std::string& dsn, int queued, int operators, int requests, int creators,
             double rate) {
  pqxx::connection c(dsn);
  Fill(c, queued, absl::Now() + absl::Hours(24), 1, true);
  {
    pqxx::nontransaction n(c);
    n.exec0("VACUUM ANALYZE call_requests");
  }
  crm::events::OutboxWriter outbox("telephony");
  req::Queue queue(outbox, req::QueueOptions{.match_batch = operators});
  req::CallRequests api(pool, crm::SystemClock(), queue, absl::UTCTimeZone());
  for (int o = 1; o <= operators; ++o) {
    v1::SetReadinessRequest r;
    r.set_readiness(v1::READINESS_AUTO_READY);
    if (auto s = api.SetReadiness(Operator(o), r); !s.ok()) Die(std::string(s.status().message()));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int o = 1; o <= operators; ++o) {
    threads.emplace_back([&, o] {
      while (!stop.load()) {
        auto s = api.MyState(Operator(o));
        if (!s.ok()) Die(std::string(s.status().message()));
        if (s->request_state() == v1::REQUEST_STATE_OFFERED) {
          (void)api.Accept(Operator(o), s->request_id());
        } else if (s->request_state() == v1::REQUEST_STATE_IN_WORK) {
          v1::FinishCallRequestRequest f;
          f.set_id(s->request_id());
          f.set_outcome(v1::REQUEST_OUTCOME_PROCESSED);
          if (api.Finish(Operator(o), f).ok()) ++finished;
        } else {
          // Idle: look again in 50 ms (an operator's screen learns of an offer from the event stream; polling
          // without a pause would make 50 threads the load being measured).
          absl::SleepFor(absl::Milliseconds(50));
        }
      }
    });
  }
  absl::Mutex mu;
  std::vector<std::pair<std::string, absl::Time>> started;  // queued later: the offer's time from the database
  std::vector<double> ms;
  const auto t0 = SteadyClock::now();
  std::vector<std::thread> makers;
  for (int t = 0; t < creators; ++t) {
    makers.emplace_back([&, t] {
      for (int i = t; i < requests; i += creators) {
        // Open loop: request i arrives at t0 + i / rate, whatever happened to the ones before.
        const auto due = t0 + std::chrono::microseconds(static_cast<int64_t>(1e6 * i / rate));
        if (due > SteadyClock::now()) std::this_thread::sleep_until(due);
        v1::CallRequest r;
        r.set_source(v1::REQUEST_SOURCE_SITE);
        r.set_type(v1::REQUEST_TYPE_CALLBACK);
        r.set_phone(absl::StrFormat("+7917%07d", i));
        const absl::Time before = absl::Now();
        auto made = api.Create(Operator(9999), r, "");
        const absl::Time after = absl::Now();
        if (!made.ok()) Die(std::string(made.status().message()));
        absl::MutexLock l(&mu);
        if (made->state() == v1::REQUEST_STATE_QUEUED) {
          started.emplace_back(made->id(), before);
        } else {
          ms.push_back(absl::ToDoubleMilliseconds(after - before));
        }
      }
    });
  }
  for (std::thread& t : makers) t.join();
  const double create_seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  // The ones queued at first: wait until each was offered (the operators keep going), then read when.
  int queued_first = static_cast<int>(started.size());
  for (auto& [id, before] : started) {
    for (;;) {
      pqxx::work tx(c);
      pqxx::result r = tx.exec_params(
          "SELECT (extract(epoch FROM min(offer_time)) * 1000000)::bigint FROM call_request_attempts "
          "WHERE request_id = $1::uuid HAVING count(*) > 0",
          id);
      tx.commit();
      if (!r.empty()) {
        ms.push_back(absl::ToDoubleMilliseconds(absl::FromUnixMicros(r[0][0].as<int64_t>()) - before));
        break;
      }
      std::this_thread::yield();
    }
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  std::printf("latency  %d requests arriving at %.0f/s (%d threads) in %.2f s with %d queued (planned) and %d auto-ready "
              "operators (%d finished meanwhile); %d offered within Create, %d queued first\n",
              requests, rate, creators, create_seconds, queued, operators, finished.load(), requests - queued_first,
              queued_first);
  std::printf("latency  offer latency (queued → offered): p50 %.2f ms, p99 %.2f ms, max %.2f ms (target p99 <= 50 "
              "ms)\n",
              Percentile(ms, 0.5), Percentile(ms, 0.99), Percentile(ms, 1.0));
}

void Matcher(crm::pg::Pool& pool, const std::string& dsn, int queued, int operators, int rounds) {
  pqxx::connection c(dsn);
  {
    pqxx::work tx(c);
    tx.exec0("TRUNCATE call_requests, call_request_attempts, call_operators, timers, outbox CASCADE");
    tx.commit();
  }
  Fill(c, queued, absl::Now() - absl::Hours(1), 2, false);
  {
    pqxx::work tx(c);
    for (int o = 1; o <= operators; ++o) {
      tx.exec0(absl::StrCat("INSERT INTO call_operators (user_id, readiness, readiness_time, idle_since, update_time) "
                            "VALUES ('", UserId(o), "', 'AUTO_READY', now(), now(), now())"));
    }
    tx.commit();
    pqxx::nontransaction n(c);
    n.exec0("VACUUM ANALYZE");
  }
  crm::events::OutboxWriter outbox("telephony");
  req::Queue queue(outbox, req::QueueOptions{.match_batch = operators});
  // Back to the start: the offered requests done, the operators free (outside the timing).
  auto reset = [&] {
    pqxx::work tx(c);
    tx.exec0("UPDATE call_operators SET active_request = NULL");
    tx.exec0("UPDATE call_requests SET state = 'DONE' WHERE state = 'OFFERED'");
    tx.exec0("UPDATE call_request_attempts SET result = 'EXPIRED' WHERE result = 'OFFERED'");
    tx.commit();
  };
  double match_s = 0, bare_s = 0;
  int64_t match_n = 0, bare_n = 0;
  for (int round = 0; round < rounds; ++round) {
    auto a = SteadyClock::now();
    absl::Status st = crm::pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
      auto made = queue.Match(tx, absl::Now());
      if (!made.ok()) return made.status();
      match_n += *made;
      return absl::OkStatus();
    });
    if (!st.ok()) Die(std::string(st.message()));
    match_s += std::chrono::duration<double>(SteadyClock::now() - a).count();
    reset();
    // The bare SQL: the next `operators` due requests (chosen outside the timing), one kOffer each.
    std::vector<std::string> ids;
    {
      pqxx::work tx(c);
      for (const pqxx::row& r : tx.exec(absl::StrCat("SELECT id::text FROM call_requests WHERE state = 'QUEUED' "
                                                     "ORDER BY priority, due_time, id LIMIT ", operators))) {
        ids.emplace_back(r[0].c_str());
      }
    }
    a = SteadyClock::now();
    st = crm::pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
      const std::string now = crm::FormatRfc3339Utc(absl::Now()), deadline = crm::FormatRfc3339Utc(absl::Now() + absl::Seconds(35));
      for (size_t i = 0; i < ids.size(); ++i) {
        crm::pg::ExecPrepared1(tx, req::sql::kOffer, ids[i], UserId(static_cast<int>(i) + 1), now, deadline);
      }
      return absl::OkStatus();
    });
    if (!st.ok()) Die(std::string(st.message()));
    bare_s += std::chrono::duration<double>(SteadyClock::now() - a).count();
    bare_n += static_cast<int64_t>(ids.size());
    reset();
  }
  const double match_rate = static_cast<double>(match_n) / match_s, bare_rate = static_cast<double>(bare_n) / bare_s;
  std::printf("matcher  %d passes of %d operators over %d due requests: Queue::Match %.0f offers/s (%.2f ms a pass), "
              "bare kOffer %.0f offers/s: ratio %.2f\n",
              rounds, operators, queued, match_rate, 1000 * match_s / rounds, bare_rate, match_rate / bare_rate);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const int queued = Flag(argc, argv, "--queued", 10000);
  const int operators = Flag(argc, argv, "--operators", 50);
  const int requests = Flag(argc, argv, "--requests", 2000);
  const int creators = Flag(argc, argv, "--creators", 4);
  const int rounds = Flag(argc, argv, "--rounds", 40);
  const int rate = Flag(argc, argv, "--rate", 25);
  auto db = crm::pg::testing::TempDatabase::Create("telephony_bench");
  if (!db.ok()) Die(std::string(db.status().message()));
  if (auto m = crm::pg::Migrate((*db)->dsn(), crm::telephony::AllMigrations()); !m.ok()) {
    Die(std::string(m.status().message()));
  }
  auto pool = crm::pg::Pool::Create({.dsn = (*db)->dsn(), .size = operators + creators + 2,
                                     .acquire_timeout = absl::Seconds(60)});
  if (!pool.ok()) Die(std::string(pool.status().message()));
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {  // the figures mean little on a loaded machine: say so
    char load[64] = {0};
    if (std::fgets(load, sizeof load, f) != nullptr) std::printf("machine  load average at the start: %s", load);
    std::fclose(f);
  }
  Latency(**pool, (*db)->dsn(), queued, operators, requests, creators, rate);
  Matcher(**pool, (*db)->dsn(), queued, operators, rounds);
  return 0;
}
