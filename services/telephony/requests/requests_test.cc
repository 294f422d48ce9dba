// File: services/telephony/requests/requests_test.cc
// -----------------------------------------------------------------------------
// The call-request queue (P4) on real PostgreSQL (the fixture: requests_testing.h; no sleeping: timers fire
// when the test moves the ManualClock and calls FireDue). Proves: the flow create → offered → accepted →
// finished with its events; the 35 s timer (expiry → back to the queue → the next operator; the expired one
// not ready); decline; «Готов» vs «Авто-готов»; planned times; back to the queue; related duplicates; errors
// naming fields; scopes; idempotency; the control panel. The race of 20 operators and 200 requests:
// requests_race_test.cc.
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/telephony/requests/requests_testing.h"

namespace crm::telephony::requests::testing {
namespace {

using ::testing::ElementsAre;

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

}  // namespace
}  // namespace crm::telephony::requests::testing
