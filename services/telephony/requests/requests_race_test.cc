// File: services/telephony/requests/requests_race_test.cc
// -----------------------------------------------------------------------------
// The call-request queue (P4) exact under concurrency, on real PostgreSQL (the fixture: requests_testing.h):
// the database itself refuses a second open offer of a request or to an operator; and 20 operators and 200
// requests racing from many threads never make one, while every request's history is exactly what its row
// and its events say.
#include <pqxx/pqxx>

#include <atomic>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "services/telephony/requests/requests_testing.h"

namespace crm::telephony::requests::testing {
namespace {

TEST_F(RequestsTest, TheDatabaseRefusesASecondOpenOffer) {
  Ready(1);
  const std::string id = Create(NewRequest(Phone(1)));
  ASSERT_EQ(Get(id).state(), v1::REQUEST_STATE_OFFERED);
  pqxx::connection c(db_->dsn());
  const std::string at = FormatRfc3339Utc(clock_.Now());
  // The same request offered to a second operator at once.
  EXPECT_THROW(pqxx::nontransaction(c).exec_params(
                   "INSERT INTO call_request_attempts (request_id, operator_id, offer_time, deadline) VALUES "
                   "($1::uuid, $2::uuid, $3::timestamptz, $3::timestamptz)",
                   id, UserId(2), at),
               pqxx::unique_violation);
  // A second offer to the same operator.
  const std::string other = Create(NewRequest(Phone(2)));
  EXPECT_THROW(pqxx::nontransaction(c).exec_params(
                   "UPDATE call_requests SET state = 'OFFERED', operator_id = $2::uuid, attempt_id = 1, "
                   "offer_deadline = now() WHERE id = $1::uuid",
                   other, UserId(1)),
               pqxx::unique_violation);
}

// 20 operators (auto-ready) and 200 requests from 4 creating threads; each operator's thread takes its offers
// (accepts, declines 1 in 8, lets 1 in 16 lie until a clock thread moves time 40 s on and fires the timers,
// then is ready again), 2 sweepers match at the same time, a watcher checks the invariant on every pass.
TEST_F(RequestsTest, TwentyOperatorsTwoHundredRequestsRacing) {
  constexpr int kOperators = 20, kRequests = 200, kCreators = 4;
  for (int o = 1; o <= kOperators; ++o) Ready(o, v1::READINESS_AUTO_READY);
  std::atomic<bool> stop{false};
  std::atomic<int> violations{0};
  std::atomic<int> accepted{0}, declined{0};
  absl::Mutex lying_mu;
  int lying = 0;  // offers left to lie since the clock last moved
  std::pair<int*, std::atomic<bool>*> wake(&lying, &stop);
  std::vector<std::thread> threads;
  for (int t = 0; t < kCreators; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequests / kCreators; ++i) {
        auto made = api_->Create(Op(100), NewRequest(Phone(t * 1000 + i)), "");
        if (!made.ok()) ADD_FAILURE() << made.status();
      }
    });
  }
  for (int o = 1; o <= kOperators; ++o) {
    threads.emplace_back([&, o] {
      std::mt19937 rng(o);
      std::string lying_on;  // the offer this operator lets lie
      while (!stop.load()) {
        absl::StatusOr<v1::OperatorState> s = api_->MyState(Op(o));
        if (!s.ok()) {
          ADD_FAILURE() << s.status();
          return;
        }
        if (s->readiness() == v1::READINESS_NOT_READY) {  // let one expire: autopaused; ready again
          v1::SetReadinessRequest ready;
          ready.set_readiness(v1::READINESS_AUTO_READY);
          (void)api_->SetReadiness(Op(o), ready);
          continue;
        }
        if (s->request_state() == v1::REQUEST_STATE_OFFERED) {
          if (s->request_id() == lying_on) continue;
          const int dice = static_cast<int>(rng() % 16);
          if (dice == 0) {  // let it lie: the clock thread expires it
            absl::MutexLock l(&lying_mu);
            ++lying;
            lying_on = s->request_id();
            continue;
          }
          absl::Status r = dice <= 2 ? Decline(o, s->request_id()) : api_->Accept(Op(o), s->request_id()).status();
          // Expired meanwhile: FAILED_PRECONDITION is the honest answer; anything else is a bug.
          if (!r.ok() && r.code() != absl::StatusCode::kFailedPrecondition) ADD_FAILURE() << r;
          if (r.ok()) ++(dice <= 2 ? declined : accepted);
        } else if (s->request_state() == v1::REQUEST_STATE_IN_WORK) {
          absl::Status r = Finish(o, s->request_id(), v1::REQUEST_OUTCOME_PROCESSED);
          if (!r.ok()) ADD_FAILURE() << r;
        }
      }
    });
  }
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        if (auto m = api_->MatchNow(); !m.ok()) ADD_FAILURE() << m.status();
      }
    });
  }
  threads.emplace_back([&] {  // the clock: once an offer lies, 40 s on and fire what is due
    for (;;) {
      {
        absl::MutexLock l(&lying_mu);
        lying_mu.Await(absl::Condition(
            +[](std::pair<int*, std::atomic<bool>*>* p) { return *p->first > 0 || p->second->load(); }, &wake));
        if (stop.load()) return;
        lying = 0;
      }
      clock_.Advance(absl::Seconds(40));
      FireDue();
    }
  });
  // The watcher: in one snapshot, no operator with two open requests and no request with two open attempts.
  pqxx::connection c(db_->dsn());
  const absl::Time until = absl::Now() + absl::Minutes(5);
  int64_t done = 0;
  while (absl::Now() < until) {
    pqxx::work tx(c);
    violations += tx.exec1("SELECT (SELECT count(*) FROM (SELECT operator_id FROM call_requests WHERE state IN "
                           "('OFFERED', 'IN_WORK') GROUP BY operator_id HAVING count(*) > 1) x) + (SELECT count(*) "
                           "FROM (SELECT request_id FROM call_request_attempts WHERE result = 'OFFERED' OR (result = "
                           "'ACCEPTED' AND finish_time IS NULL) GROUP BY request_id HAVING count(*) > 1) y) + "
                           "(SELECT count(*) FROM (SELECT operator_id FROM call_request_attempts WHERE result = "
                           "'OFFERED' OR (result = 'ACCEPTED' AND finish_time IS NULL) GROUP BY operator_id "
                           "HAVING count(*) > 1) z)")[0]
                      .as<int>();
    done = tx.exec1("SELECT count(*) FROM call_requests WHERE state = 'DONE'")[0].as<int64_t>();
    tx.commit();
    if (done == kRequests) break;
  }
  {
    absl::MutexLock l(&lying_mu);
    stop = true;
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(done, kRequests) << "not every request was worked within 5 minutes";
  EXPECT_EQ(violations.load(), 0);
  EXPECT_GT(accepted.load(), 0);
  EXPECT_GT(declined.load(), 0);

  // Every request's history is exactly what its row and its events say: attempts before the last ended
  // (declined or expired), the last accepted and finished PROCESSED by the request's operator; one
  // offered event per attempt, one accepted, one finished.
  pqxx::work tx(c);
  int expired = 0;
  std::map<std::string, std::vector<std::string>> events;
  for (const pqxx::row& r : tx.exec("SELECT aggregateid, type FROM outbox ORDER BY seq")) {
    events[r[0].c_str()].emplace_back(r[1].c_str());
  }
  for (const pqxx::row& req : tx.exec("SELECT id::text, operator_id::text, attempt_count, outcome, attempt_id "
                                      "FROM call_requests")) {
    const std::string id = req[0].c_str();
    pqxx::result attempts = tx.exec_params(
        "SELECT id, operator_id::text, result, outcome, finish_time IS NOT NULL FROM call_request_attempts "
        "WHERE request_id = $1::uuid ORDER BY id",
        id);
    ASSERT_GE(attempts.size(), 1u) << id;
    EXPECT_EQ(req[2].as<int>(), static_cast<int>(attempts.size())) << id;
    EXPECT_EQ(std::string(req[3].c_str()), "PROCESSED") << id;
    int offered = 0, accepted_events = 0, finished = 0, ended = 0;
    for (const std::string& type : events[id]) {
      offered += type == v1::kRequestOfferedType;
      accepted_events += type == v1::kRequestAcceptedType;
      finished += type == v1::kRequestFinishedType;
      ended += type == v1::kRequestDeclinedType || type == v1::kRequestExpiredType;
    }
    EXPECT_EQ(offered, static_cast<int>(attempts.size())) << id;
    EXPECT_EQ(accepted_events, 1) << id;
    EXPECT_EQ(finished, 1) << id;
    EXPECT_EQ(ended, static_cast<int>(attempts.size()) - 1) << id;
    for (size_t i = 0; i + 1 < attempts.size(); ++i) {
      const std::string result = attempts[i][2].c_str();
      EXPECT_TRUE(result == "DECLINED" || result == "EXPIRED") << id << " attempt " << i << ": " << result;
      expired += result == "EXPIRED";
    }
    const pqxx::row last = attempts[attempts.size() - 1];
    EXPECT_EQ(std::string(last[2].c_str()), "ACCEPTED") << id;
    EXPECT_EQ(std::string(last[3].c_str()), "PROCESSED") << id;
    EXPECT_TRUE(last[4].as<bool>()) << id;
    EXPECT_EQ(std::string(last[1].c_str()), std::string(req[1].c_str())) << id;
    EXPECT_EQ(last[0].as<int64_t>(), req[4].as<int64_t>()) << id;
  }
  std::cerr << "accepted " << accepted.load() << ", declined " << declined.load() << ", expired " << expired << "\n";
}

}  // namespace
}  // namespace crm::telephony::requests::testing
