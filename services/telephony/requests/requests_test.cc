// File: services/telephony/requests/requests_test.cc
// -----------------------------------------------------------------------------
// The call-request queue (P4) on real PostgreSQL: telephony's database migrated as crm-telephony migrates
// it, CallRequests and Queue over it, a ManualClock (no sleeping: timers fire when the test moves the clock
// and calls FireDue). Proves: the flow create → offered → accepted → finished with its events; the 35 s
// timer (expiry → back to the queue → the next operator; the expired one not ready); decline; «Готов» vs
// «Авто-готов»; planned times; back to the queue; related duplicates; errors naming fields; scopes; and
// 20 operators × 200 requests racing from many threads: never two open offers of one request or to one
// operator, every request's history exactly what its row and its events say.
#include <pqxx/pqxx>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/events/outbox.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/rpc/testing/principals.h"
#include "libs/timers/timers.h"
#include "proto/crm/telephony/v1/request_event_types.h"
#include "services/telephony/migrations.h"
#include "services/telephony/requests/api.h"
#include "services/telephony/requests/queue.h"

namespace crm::telephony::requests {
namespace {

using crm::rpc::testing::UserPrincipal;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

std::string UserId(int n) { return absl::StrFormat("01930000-0000-7000-8000-%012x", n); }
Principal Op(int n) { return UserPrincipal(UserId(n), {kOperate}); }
Principal Head() { return UserPrincipal(UserId(999), {kReadAll}); }
Principal Nobody() { return UserPrincipal(UserId(998), {"deals.read.own"}); }

v1::CallRequest NewRequest(const std::string& phone) {
  v1::CallRequest r;
  r.set_source(v1::REQUEST_SOURCE_SITE);
  r.set_type(v1::REQUEST_TYPE_CALLBACK);
  r.set_phone(phone);
  return r;
}
std::string Phone(int n) { return absl::StrFormat("+7916%07d", n); }

class RequestsTest : public ::testing::Test {
 protected:
  RequestsTest() : clock_(absl::FromCivil(absl::CivilSecond(2026, 11, 2, 10, 0, 0), absl::UTCTimeZone())) {}

  void SetUp() override {
    auto db = crm::pg::testing::TempDatabase::Create("telreq");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto migrated = crm::pg::Migrate(db_->dsn(), crm::telephony::AllMigrations());
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    auto pool = crm::pg::Pool::Create({.dsn = db_->dsn(), .size = 24, .acquire_timeout = absl::Seconds(60)});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
    outbox_ = std::make_unique<crm::events::OutboxWriter>("telephony", clock_);
    queue_ = std::make_unique<Queue>(*outbox_, QueueOptions{});
    api_ = std::make_unique<CallRequests>(*pool_, clock_, *queue_, absl::UTCTimeZone());
    timers_ = std::make_unique<crm::timers::TimerStore>(*pool_, clock_,
                                                        crm::timers::TimerStoreOptions{.export_metrics = false});
  }

  // Fires every due timer as the service's loop would (kinds as wire.cc registers them); returns how many.
  int FireDue() {
    int fired = 0;
    for (;;) {
      auto r = timers_->FireDue([this](pqxx::transaction_base& tx, const crm::timers::Timer& t) -> absl::Status {
        if (t.kind == kOfferExpiryKind) return queue_->OnOfferExpiry(tx, t, clock_.Now());
        if (t.kind == kDueKind) return queue_->OnDue(tx, t, clock_.Now());
        return absl::InternalError(t.kind);
      });
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok() || r->claimed == 0) return fired;
      EXPECT_EQ(r->retried, 0);
      fired += r->fired;
    }
  }

  v1::OperatorState Ready(int op, v1::Readiness readiness = v1::READINESS_READY) {
    v1::SetReadinessRequest req;
    req.set_readiness(readiness);
    if (readiness == v1::READINESS_NOT_READY) req.set_reason("Перерыв");
    auto s = api_->SetReadiness(Op(op), req);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : v1::OperatorState();
  }
  std::string Create(const v1::CallRequest& r, const Principal& by = Op(100)) {
    auto made = api_->Create(by, r, "");
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? made->id() : "";
  }
  v1::CallRequest Get(const std::string& id) {
    auto r = api_->Get(Head(), id);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::CallRequest();
  }
  v1::OperatorState State(int op) {
    auto s = api_->MyState(Op(op));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : v1::OperatorState();
  }
  absl::Status Finish(int op, const std::string& id, v1::RequestOutcome outcome,
                      std::optional<absl::Time> planned = std::nullopt) {
    v1::FinishCallRequestRequest req;
    req.set_id(id);
    req.set_outcome(outcome);
    if (planned) *req.mutable_planned_time() = ToProtoTimestamp(*planned);
    return api_->Finish(Op(op), req).status();
  }
  absl::Status Decline(int op, const std::string& id) {
    v1::DeclineCallRequestRequest req;
    req.set_id(id);
    return api_->Decline(Op(op), req).status();
  }
  // The event types of one request in outbox order.
  std::vector<std::string> Events(const std::string& id) {
    std::vector<std::string> out;
    pqxx::connection c(db_->dsn());
    pqxx::nontransaction tx(c);
    for (const pqxx::row& r : tx.exec_params("SELECT type FROM outbox WHERE aggregateid = $1 ORDER BY seq", id)) {
      out.emplace_back(r[0].c_str());
    }
    return out;
  }

  ManualClock clock_;
  std::unique_ptr<crm::pg::testing::TempDatabase> db_;
  std::unique_ptr<crm::pg::Pool> pool_;
  std::unique_ptr<crm::events::OutboxWriter> outbox_;
  std::unique_ptr<Queue> queue_;
  std::unique_ptr<CallRequests> api_;
  std::unique_ptr<crm::timers::TimerStore> timers_;
};

TEST_F(RequestsTest, CreateOfferAcceptFinish) {
  const std::string id = Create(NewRequest("8 (916) 000-00-01"));
  v1::CallRequest r = Get(id);
  EXPECT_EQ(r.phone(), "+79160000001");
  EXPECT_EQ(r.state(), v1::REQUEST_STATE_QUEUED);  // nobody ready
  EXPECT_EQ(r.priority(), kDefaultPriority);

  v1::OperatorState s = Ready(1);
  EXPECT_EQ(s.request_id(), id);  // offered as soon as they are ready
  EXPECT_EQ(s.request_state(), v1::REQUEST_STATE_OFFERED);
  EXPECT_EQ(FromProtoTimestamp(s.offer_deadline()), clock_.Now() + absl::Seconds(35));
  EXPECT_EQ(State(1).request().id(), id);

  ASSERT_TRUE(api_->Accept(Op(1), id).ok());
  EXPECT_EQ(Get(id).state(), v1::REQUEST_STATE_IN_WORK);
  // Accepting twice, or someone else's offer: FAILED_PRECONDITION.
  EXPECT_EQ(api_->Accept(Op(1), id).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(api_->Accept(Op(2), id).status().code(), absl::StatusCode::kFailedPrecondition);
  // The 35 s passing after the accept changes nothing.
  clock_.Advance(absl::Seconds(40));
  FireDue();
  EXPECT_EQ(Get(id).state(), v1::REQUEST_STATE_IN_WORK);

  ASSERT_TRUE(Finish(1, id, v1::REQUEST_OUTCOME_PROCESSED).ok());
  r = Get(id);
  EXPECT_EQ(r.state(), v1::REQUEST_STATE_DONE);
  EXPECT_EQ(r.outcome(), v1::REQUEST_OUTCOME_PROCESSED);
  ASSERT_EQ(r.attempts_size(), 1);
  EXPECT_EQ(r.attempts(0).operator_id(), UserId(1));
  EXPECT_EQ(r.attempts(0).result(), v1::ATTEMPT_RESULT_ACCEPTED);
  EXPECT_EQ(r.attempts(0).outcome(), v1::REQUEST_OUTCOME_PROCESSED);
  EXPECT_THAT(Events(id), ElementsAre(v1::kRequestCreatedType, v1::kRequestOfferedType, v1::kRequestAcceptedType,
                                      v1::kRequestFinishedType));
  // «Готов» takes one request: not ready afterwards; a new request waits.
  s = State(1);
  EXPECT_EQ(s.readiness(), v1::READINESS_NOT_READY);
  EXPECT_EQ(s.reason(), kReasonAfterRequest);
  const std::string next = Create(NewRequest(Phone(2)));
  EXPECT_EQ(Get(next).state(), v1::REQUEST_STATE_QUEUED);
}

TEST_F(RequestsTest, AutoReadyTakesTheNextByItself) {
  const std::string a = Create(NewRequest(Phone(1)));
  const std::string b = Create(NewRequest(Phone(2)));
  Ready(1, v1::READINESS_AUTO_READY);
  ASSERT_TRUE(api_->Accept(Op(1), a).ok());
  ASSERT_TRUE(Finish(1, a, v1::REQUEST_OUTCOME_SPAM).ok());
  const v1::OperatorState s = State(1);
  EXPECT_EQ(s.readiness(), v1::READINESS_AUTO_READY);
  EXPECT_EQ(s.request_id(), b);  // the next one at once
  EXPECT_EQ(s.request_state(), v1::REQUEST_STATE_OFFERED);
}

TEST_F(RequestsTest, ExpiryAfter35SecondsGoesToTheNextOperator) {
  Ready(1);
  clock_.Advance(absl::Seconds(1));
  Ready(2);  // operator 1 has waited longer: first
  const std::string id = Create(NewRequest(Phone(1)));
  EXPECT_EQ(Get(id).operator_id(), UserId(1));
  clock_.Advance(absl::Seconds(34));
  EXPECT_EQ(FireDue(), 0);  // not yet
  EXPECT_EQ(Get(id).operator_id(), UserId(1));
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(FireDue(), 1);
  v1::CallRequest r = Get(id);
  EXPECT_EQ(r.state(), v1::REQUEST_STATE_OFFERED);
  EXPECT_EQ(r.operator_id(), UserId(2));
  EXPECT_EQ(FromProtoTimestamp(r.offer_deadline()), clock_.Now() + absl::Seconds(35));
  ASSERT_EQ(r.attempts_size(), 2);
  EXPECT_EQ(r.attempts(0).result(), v1::ATTEMPT_RESULT_EXPIRED);
  EXPECT_EQ(r.attempts(1).result(), v1::ATTEMPT_RESULT_OFFERED);
  // The one who let it expire is paused (autopause), with the reason the panel shows.
  const v1::OperatorState s1 = State(1);
  EXPECT_EQ(s1.readiness(), v1::READINESS_NOT_READY);
  EXPECT_EQ(s1.reason(), kReasonExpired);
  EXPECT_EQ(s1.request_id(), "");
  EXPECT_THAT(Events(id), ElementsAre(v1::kRequestCreatedType, v1::kRequestOfferedType, v1::kRequestExpiredType,
                                      v1::kRequestOfferedType));
  // Operator 2 lets it expire too: back in the queue, nobody ready.
  clock_.Advance(absl::Seconds(35));
  EXPECT_EQ(FireDue(), 1);
  EXPECT_EQ(Get(id).state(), v1::REQUEST_STATE_QUEUED);
  // A stale accept of the expired offer is refused.
  EXPECT_EQ(api_->Accept(Op(2), id).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(RequestsTest, DeclineGoesToTheNextAndKeepsItsPlace) {
  Ready(1);
  clock_.Advance(absl::Seconds(1));
  const std::string first = Create(NewRequest(Phone(1)));
  clock_.Advance(absl::Seconds(1));
  const std::string second = Create(NewRequest(Phone(2)));
  EXPECT_EQ(Get(first).operator_id(), UserId(1));
  ASSERT_TRUE(Decline(1, first).ok());
  // Operator 1 (still ready) is not offered the one they declined, but the next.
  EXPECT_EQ(State(1).request_id(), second);
  EXPECT_EQ(Get(first).state(), v1::REQUEST_STATE_QUEUED);
  Ready(2);
  EXPECT_EQ(State(2).request_id(), first);  // it kept its place at the head of the queue
  EXPECT_EQ(Decline(3, first).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(RequestsTest, PlannedTimeAndBackToQueue) {
  Ready(1, v1::READINESS_AUTO_READY);
  v1::CallRequest planned = NewRequest(Phone(1));
  *planned.mutable_planned_time() = ToProtoTimestamp(clock_.Now() + absl::Hours(1));
  const std::string id = Create(planned);
  v1::CallRequest r = Get(id);
  EXPECT_EQ(r.state(), v1::REQUEST_STATE_QUEUED);  // an operator is ready, but it is not time yet
  EXPECT_EQ(r.priority(), kHighestPriority);      // «Приоритет 1»: planned
  clock_.Advance(absl::Minutes(59));
  FireDue();
  EXPECT_EQ(Get(id).state(), v1::REQUEST_STATE_QUEUED);
  clock_.Advance(absl::Minutes(1));
  EXPECT_GE(FireDue(), 1);  // the due timer matches
  EXPECT_EQ(Get(id).state(), v1::REQUEST_STATE_OFFERED);
  ASSERT_TRUE(api_->Accept(Op(1), id).ok());

  // Back to the queue: a planned time is required and must be in the future — every violation named.
  v1::FinishCallRequestRequest bad;
  bad.set_id(id);
  bad.set_outcome(v1::REQUEST_OUTCOME_BACK_TO_QUEUE);
  bad.set_comment(std::string(3000, 'x'));
  absl::Status s = api_->Finish(Op(1), bad).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  std::set<std::string> fields;
  for (const FieldViolation& v : FieldViolations(s)) fields.insert(v.field);
  EXPECT_EQ(fields, (std::set<std::string>{"comment", "planned_time"}));
  EXPECT_EQ(Finish(1, id, v1::REQUEST_OUTCOME_BACK_TO_QUEUE, clock_.Now()).code(), absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(Finish(1, id, v1::REQUEST_OUTCOME_BACK_TO_QUEUE, clock_.Now() + absl::Hours(2)).ok());
  r = Get(id);
  EXPECT_EQ(r.state(), v1::REQUEST_STATE_QUEUED);
  EXPECT_EQ(r.outcome(), v1::REQUEST_OUTCOME_BACK_TO_QUEUE);
  EXPECT_EQ(State(1).request_id(), "");  // auto-ready, but nothing due
  clock_.Advance(absl::Hours(2));
  FireDue();
  r = Get(id);
  EXPECT_EQ(r.state(), v1::REQUEST_STATE_OFFERED);
  EXPECT_EQ(r.attempts_size(), 2);
  EXPECT_EQ(r.attempts(0).outcome(), v1::REQUEST_OUTCOME_BACK_TO_QUEUE);
}

TEST_F(RequestsTest, RelatedDuplicatesErrorsScopesAndIdempotency) {
  const std::string first = Create(NewRequest("+7 916 000-00-01"));
  const std::string dup = Create(NewRequest("89160000001"));  // the same number typed otherwise
  const std::string dup2 = Create(NewRequest("79160000001"));
  const std::string other = Create(NewRequest(Phone(2)));
  EXPECT_EQ(Get(dup).related_to_id(), first);
  EXPECT_EQ(Get(dup2).related_to_id(), first);  // linked to the oldest open one, not to a duplicate
  EXPECT_EQ(Get(other).related_to_id(), "");
  std::vector<std::string> related;
  const v1::CallRequest first_read = Get(first);
  for (const v1::RelatedRequest& x : first_read.related()) related.push_back(x.id());
  EXPECT_THAT(related, ElementsAre(dup, dup2));
  related.clear();
  const v1::CallRequest dup_read = Get(dup);
  for (const v1::RelatedRequest& x : dup_read.related()) related.push_back(x.id());
  EXPECT_THAT(related, ElementsAre(first, dup2));

  // Every violation at once, naming the fields.
  v1::CallRequest bad;
  bad.set_phone("12");
  bad.set_client_id("nope");
  bad.set_priority(7);
  absl::Status s = api_->Create(Op(100), bad, "").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  std::set<std::string> fields;
  for (const FieldViolation& v : FieldViolations(s)) fields.insert(v.field);
  EXPECT_EQ(fields, (std::set<std::string>{"request.source", "request.type", "request.priority", "request.phone",
                                           "request.client_id"}));
  EXPECT_EQ(api_->Create(Nobody(), NewRequest(Phone(3)), "").status().code(), absl::StatusCode::kPermissionDenied);
  v1::SetReadinessRequest not_ready;
  not_ready.set_readiness(v1::READINESS_NOT_READY);
  s = api_->SetReadiness(Op(1), not_ready).status();
  ASSERT_EQ(FieldViolations(s).size(), 1u);
  EXPECT_EQ(FieldViolations(s)[0].field, "reason");

  // Idempotency-Key: one request for two tries.
  auto k1 = api_->Create(Op(100), NewRequest(Phone(4)), "key-1");
  auto k2 = api_->Create(Op(100), NewRequest(Phone(4)), "key-1");
  ASSERT_TRUE(k1.ok() && k2.ok());
  EXPECT_EQ(k1->id(), k2->id());

  // Scopes: an operator reads what they had; ALL needs telephony.read.all.
  Ready(1);
  const std::string mine = State(1).request_id();
  ASSERT_FALSE(mine.empty());
  v1::ListCallRequestsRequest list;
  auto own = api_->List(Op(1), list);
  ASSERT_TRUE(own.ok()) << own.status();
  ASSERT_EQ(own->requests_size(), 1);
  EXPECT_EQ(own->requests(0).id(), mine);
  EXPECT_EQ(api_->Get(Op(1), mine).status().code(), absl::StatusCode::kOk);
  EXPECT_EQ(api_->Get(Op(2), mine).status().code(), absl::StatusCode::kNotFound);
  list.set_scope(v1::ListCallRequestsRequest::SCOPE_ALL);
  EXPECT_EQ(api_->List(Op(1), list).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(api_->List(Nobody(), v1::ListCallRequestsRequest()).status().code(), absl::StatusCode::kPermissionDenied);
  // ALL, pages of 2, newest first, then a filter.
  list.set_page_size(2);
  std::vector<std::string> ids;
  for (;;) {
    auto page = api_->List(Head(), list);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const v1::CallRequest& x : page->requests()) ids.push_back(x.id());
    if (page->next_page_token().empty()) break;
    list.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids.back(), first);
  list.set_page_token("");
  list.set_page_size(0);
  list.set_state(v1::REQUEST_STATE_OFFERED);
  auto offered = api_->List(Head(), list);
  ASSERT_TRUE(offered.ok());
  ASSERT_EQ(offered->requests_size(), 1);
  EXPECT_EQ(offered->requests(0).id(), mine);

  // The control panel.
  auto stats = api_->Statistics(Head(), v1::GetCallRequestStatisticsRequest());
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->date(), "2026-11-02");
  EXPECT_EQ(stats->created(), 5);
  EXPECT_EQ(stats->queued_now(), 4);
  EXPECT_EQ(stats->offered_now(), 1);
  ASSERT_EQ(stats->operators_size(), 1);
  EXPECT_EQ(stats->operators(0).offered(), 1);
  EXPECT_EQ(api_->Statistics(Op(1), v1::GetCallRequestStatisticsRequest()).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto ops = api_->Operators(Head());
  ASSERT_TRUE(ops.ok());
  ASSERT_EQ(ops->operators_size(), 1);
  EXPECT_EQ(ops->operators(0).request_id(), mine);
}

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
}  // namespace crm::telephony::requests
