// File: services/telephony/requests/requests_testing.h
// -----------------------------------------------------------------------------
// Tests only: the fixture of the call-request queue's PostgreSQL tests (requests_test.cc,
// requests_race_test.cc) — telephony's database migrated as crm-telephony migrates it, CallRequests and
// Queue over it, a ManualClock, timers fired as the service's loop fires them — and its helpers.
#ifndef CRM_SERVICES_TELEPHONY_REQUESTS_REQUESTS_TESTING_H_
#define CRM_SERVICES_TELEPHONY_REQUESTS_REQUESTS_TESTING_H_

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

namespace crm::telephony::requests::testing {

using crm::rpc::testing::UserPrincipal;

inline std::string UserId(int n) { return absl::StrFormat("01930000-0000-7000-8000-%012x", n); }
inline Principal Op(int n) { return UserPrincipal(UserId(n), {kOperate}); }
inline Principal Head() { return UserPrincipal(UserId(999), {kReadAll}); }
inline Principal Nobody() { return UserPrincipal(UserId(998), {"deals.read.own"}); }

inline v1::CallRequest NewRequest(const std::string& phone) {
  v1::CallRequest r;
  r.set_source(v1::REQUEST_SOURCE_SITE);
  r.set_type(v1::REQUEST_TYPE_CALLBACK);
  r.set_phone(phone);
  return r;
}
inline std::string Phone(int n) { return absl::StrFormat("+7916%07d", n); }

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

}  // namespace crm::telephony::requests::testing

#endif  // CRM_SERVICES_TELEPHONY_REQUESTS_REQUESTS_TESTING_H_
