// File: services/telephony/calls/calls_test.cc
// -----------------------------------------------------------------------------
// The calls part beyond the intake on PostgreSQL (P1, P2; calls_testing.h): identification and interactions
// against deals in process, the worker with deals down or a busy call, the commands against a recording
// PbxCommands, the call log by scope and filter, the extensions admin, the demo's extensions by login.
#include <pqxx/pqxx>

#include <algorithm>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/telephony/calls/calls_testing.h"

namespace crm::telephony::calls {
namespace {

using namespace calls_testing;  // NOLINT: the fixture and its constants
TEST_F(CallsTest, IdentificationAndInteractionsThroughDeals) {
  const std::string ivan = MustClient("Иван Петров", "+79161234567");
  const std::string anna = MustClient("Анна Смирнова", "+79167654321");
  const std::string olga = MustClient("Ольга Смирнова", "+79167654321");

  // One client: the call's, while it rings; the operator's screen gets the identified event.
  const std::string one = InboundCall("i1", "+79161234567", true, 90, /*end=*/false);
  Drain();
  v1::Call c = Get(one);
  EXPECT_EQ(c.identification(), v1::IDENTIFICATION_IDENTIFIED);
  EXPECT_EQ(c.client_id(), ivan);
  EXPECT_EQ(c.client_name(), "Иван Петров");
  auto identified = LastEvent<v1::CallIdentified>(v1::kCallIdentifiedType, one);
  ASSERT_EQ(identified.candidates_size(), 1);
  EXPECT_EQ(identified.candidates(0).name(), "Иван Петров");
  // The operator links the project (for primacy) while talking; then the call ends.
  v1::SetCallClientRequest set;
  set.set_id(one);
  set.set_project_id(kProject);
  ASSERT_TRUE(calls_->SetCallClient(Operator(), set).ok());
  Record(Fact("i1", "i1:e2", K::kEnded, "i1-op", 95, "101"));
  Record(Fact("i1", "i1:e1", K::kEnded, "i1-out", 95));
  const auto finished = LastEvent<v1::CallFinished>(v1::kCallFinishedType, one);
  EXPECT_EQ(finished.client_id(), ivan);  // the finished event carries the client
  Drain();
  c = Get(one);
  EXPECT_FALSE(c.interaction_id().empty());
  EXPECT_EQ(c.primacy(), v1::PRIMACY_PRIMARY);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM interactions WHERE source = 'telephony' AND external_id = '",
                               one, "' AND client_id = '", ivan, "' AND kind = 1 AND status = 2 AND responsible_id = '",
                               kOperator, "' AND project_id = '", kProject, "'")),
            1);
  // A second call of the client in the project: «Вторичный».
  const std::string two = InboundCall("i2", "+79161234567", true, 30, /*end=*/false);
  Drain();
  set.set_id(two);
  ASSERT_TRUE(calls_->SetCallClient(Operator(), set).ok());
  Record(Fact("i2", "i2:e2", K::kEnded, "i2-op", 40, "101"));
  Record(Fact("i2", "i2:e1", K::kEnded, "i2-out", 40));
  Drain();
  EXPECT_EQ(Get(two).primacy(), v1::PRIMACY_SECONDARY);
  // Redelivered work changes nothing in deals: still one interaction per call.
  tdb_->Exec(absl::StrCat("INSERT INTO call_deals_sync (call_id, kind, due_time, create_time) VALUES ('", one,
                          "', 'interaction', '2020-01-01', now())"));
  Drain();
  EXPECT_EQ(Count("SELECT count(*) FROM interactions WHERE source = 'telephony'"), 2);

  // Two clients share a number: both are candidates, none is guessed; the interaction waits for a choice.
  const std::string three = InboundCall("i3", "+79167654321", false);
  Drain();
  c = Get(three);
  EXPECT_EQ(c.identification(), v1::IDENTIFICATION_CANDIDATES);
  EXPECT_TRUE(c.client_id().empty());
  ASSERT_EQ(c.client_candidates_size(), 2);
  EXPECT_EQ(TCount(absl::StrCat("SELECT count(*) FROM call_deals_sync WHERE call_id = '", three,
                                "' AND kind = 'interaction' AND due_time IS NULL")),
            1);  // parked
  EXPECT_EQ(LastEvent<v1::CallIdentified>(v1::kCallIdentifiedType, three).candidates_size(), 2);
  set.Clear();
  set.set_id(three);
  set.set_client_id(ivan);  // not a candidate
  auto wrong = calls_->SetCallClient(Operator(), set);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(FieldViolations(wrong.status())[0].field, "client_id");
  set.set_client_id(olga);
  auto chosen = calls_->SetCallClient(Operator(), set);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(chosen->identification(), v1::IDENTIFICATION_CHOSEN);
  EXPECT_EQ(chosen->client_name(), "Ольга Смирнова");
  Drain();
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM interactions WHERE external_id = '", three, "' AND client_id = '",
                               olga, "'")),
            1);
  EXPECT_FALSE(Get(three).interaction_id().empty());
  // Once recorded, the client cannot change.
  set.set_client_id(anna);
  auto late = calls_->SetCallClient(Operator(), set);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  // A number nobody has: none.
  const std::string four = InboundCall("i4", "+79031112233", false);
  Drain();
  EXPECT_EQ(Get(four).identification(), v1::IDENTIFICATION_NONE);
  EXPECT_EQ(TCount("SELECT count(*) FROM call_deals_sync WHERE due_time IS NOT NULL"), 0);
}

TEST_F(CallsTest, DealsDownKeepsTheWorkAndRetries) {
  const std::string id = InboundCall("d1", "+79161234567", true, 10, /*end=*/false);
  server_->Shutdown();
  server_->Wait();
  Drain();
  EXPECT_EQ(TCount("SELECT count(*) FROM call_deals_sync WHERE attempts = 1 AND last_error <> ''"), 1);
  EXPECT_EQ(Get(id).identification(), v1::IDENTIFICATION_PENDING);
  // Not due again before its backoff.
  Drain();
  EXPECT_EQ(TCount("SELECT count(*) FROM call_deals_sync WHERE attempts = 1"), 1);
}

// The worker never waits for a call's row (the intake holds it, then wants the queue row the worker holds):
// a busy call is tried again a second later.
TEST_F(CallsTest, ABusyCallIsIdentifiedASecondLater) {
  const std::string ivan = MustClient("Иван Петров", "+79161234567");
  const std::string id = InboundCall("b1", "+79161234567", true, 10, /*end=*/false);
  {
    pqxx::connection holder(tdb_->dsn());
    pqxx::work lock(holder);
    lock.exec_params("SELECT 1 FROM calls WHERE id = $1::uuid FOR UPDATE", id);
    Drain();  // returns: it did not wait for the lock
    EXPECT_EQ(TCount("SELECT count(*) FROM call_deals_sync WHERE kind = 'identify' AND attempts = 0"), 1);
  }
  EXPECT_EQ(Get(id).identification(), v1::IDENTIFICATION_PENDING);
  Drain();
  EXPECT_EQ(Get(id).identification(), v1::IDENTIFICATION_PENDING);  // not due yet
  clock_.Advance(absl::Seconds(1));
  Drain();
  EXPECT_EQ(Get(id).client_id(), ivan);
}

TEST_F(CallsTest, CommandsReachTheAdapterOfTheCallsProvider) {
  // Click-to-call from the caller's extension, once per Idempotency-Key.
  v1::OriginateRequest o;
  o.set_number("8 916 123-45-67");
  auto r1 = calls_->Originate(Operator(), o, "key-1");
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->extension(), "101");
  EXPECT_EQ(r1->number(), "+79161234567");
  EXPECT_EQ(r1->reference(), "pbx-ref-1");
  auto r2 = calls_->Originate(Operator(), o, "key-1");
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(pbx_->Asked(), (std::vector<std::string>{"originate 101 +79161234567 "}));
  // Without an extension; without a number; without the permission.
  auto none = calls_->Originate(User(kAdmin, {kOperate}), o, "");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  v1::OriginateRequest empty;
  EXPECT_EQ(FieldViolations(calls_->Originate(Operator(), empty, "").status())[0].field, "number");
  EXPECT_EQ(calls_->Originate(User(kOperator, {}), o, "").status().code(), absl::StatusCode::kPermissionDenied);

  // Leg commands: the employee on the call, or telephony.manage.
  const std::string id = InboundCall("k1", "+79161234567", true, 10, /*end=*/false);
  const v1::Call c = Get(id);
  std::string out_leg, op_leg;
  for (const v1::CallLeg& l : c.legs()) (l.extension().empty() ? out_leg : op_leg) = l.id();
  v1::TransferRequest t;
  t.set_call_id(id);
  t.set_leg_id(out_leg);
  t.set_target("102");
  ASSERT_TRUE(calls_->Transfer(Operator(), t).ok());
  EXPECT_EQ(pbx_->Asked().back(), "transfer k1 k1-out PJSIP/k1-out 102");
  // Another operator does not see the call.
  EXPECT_EQ(calls_->Transfer(Operator(kOperator2), t).status().code(), absl::StatusCode::kNotFound);
  v1::HoldRequest h;
  h.set_call_id(id);
  h.set_leg_id(out_leg);
  h.set_on(true);
  ASSERT_TRUE(calls_->Hold(Admin(), h).ok());
  EXPECT_EQ(pbx_->Asked().back(), "hold k1-out on");
  v1::MergeRequest m;
  m.set_call_id(id);
  m.set_leg_id(out_leg);
  m.set_other_call_id(id);
  m.set_other_leg_id(op_leg);
  ASSERT_TRUE(calls_->Merge(Operator(), m).ok());
  EXPECT_EQ(pbx_->Asked().back(), "merge k1-out k1-op");
  v1::HangupRequest hu;
  hu.set_call_id(id);
  hu.set_leg_id(op_leg);
  ASSERT_TRUE(calls_->Hangup(Operator(), hu).ok());
  EXPECT_EQ(pbx_->Asked().back(), "hangup k1-op PJSIP/k1-op");
  // An ended leg cannot be commanded.
  Record(Fact("k1", "k1:e2", K::kEnded, "k1-op", 20, "101"));
  EXPECT_EQ(calls_->Hangup(Operator(), hu).status().code(), absl::StatusCode::kFailedPrecondition);
  // Bad ids are named.
  v1::HangupRequest bad;
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolations(calls_->Hangup(Operator(), bad).status())) fields.push_back(v.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"call_id", "leg_id"}));

  // A call of a provider with no adapter: FAILED_PRECONDITION naming it.
  CallEvent mango = Fact("m1", "m1:r", K::kRinging, "m1-out", 0);
  mango.provider = "mango";
  Record(mango);
  const v1::Call mc = Get(CallId("m1"));
  hu.set_call_id(mc.id());
  hu.set_leg_id(mc.legs(0).id());
  auto no_pbx = calls_->Hangup(Admin(), hu);
  EXPECT_EQ(no_pbx.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(no_pbx.status().message().find("\"mango\""), std::string_view::npos) << no_pbx.status();
  const PbxRegistry empty_registry;
  Calls without(*tpool_, clock_, empty_registry, "asterisk");
  auto no_adapter = without.Originate(Operator(), o, "");
  EXPECT_EQ(no_adapter.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(no_adapter.status().message().find("\"asterisk\""), std::string_view::npos);
}

TEST_F(CallsTest, TheCallLogByScopeAndFilter) {
  const std::string ivan = MustClient("Иван Петров", "+79161234567");
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(InboundCall(absl::StrCat("l", i), "+79161234567", i % 3 != 0, 10 + i));
  // One outbound call of operator 2.
  Record(Fact("l-out", "l-out:1", K::kRinging, "l-out-op", 50, "102", D::kOutbound));
  Drain();
  // All: newest first, pages of 3 through the token.
  v1::ListCallsRequest req;
  req.set_page_size(3);
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    auto r = calls_->ListCalls(Admin(), req);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const v1::Call& c : r->calls()) seen.push_back(c.id());
    if (r->next_page_token().empty()) break;
    req.set_page_token(r->next_page_token());
  }
  ASSERT_EQ(seen.size(), 8u);
  EXPECT_EQ(seen[0], CallId("l-out"));  // started last
  auto list = [&](const Principal& who, auto fill) {
    v1::ListCallsRequest q;
    fill(q);
    auto r = calls_->ListCalls(who, q);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->calls_size() : -1;
  };
  EXPECT_EQ(list(Operator(), [](auto&) {}), 7);                // own: operator 1's
  EXPECT_EQ(list(Operator(kOperator2), [](auto&) {}), 1);
  EXPECT_EQ(list(Operator(), [](auto& q) { q.set_user(kOperator2); }), 0);  // own scope: not another's
  EXPECT_EQ(list(Admin(), [](auto& q) { q.set_user(kOperator2); }), 1);
  EXPECT_EQ(list(Admin(), [](auto& q) { q.set_missed_only(true); }), 3);
  EXPECT_EQ(list(Operator(), [](auto& q) { q.set_missed_only(true); }), 3);
  EXPECT_EQ(list(Admin(), [](auto& q) { q.set_direction(v1::CALL_DIRECTION_OUTBOUND); }), 1);
  EXPECT_EQ(list(Admin(), [&](auto& q) { q.set_client_id(ivan); }), 7);
  EXPECT_EQ(list(Admin(), [&](auto& q) {
              *q.mutable_from_time() = ToProtoTimestamp(absl::FromUnixSeconds(1795000000));
              *q.mutable_to_time() = ToProtoTimestamp(absl::FromUnixSeconds(1795000001));
            }),
            7);
  // Errors name every field; no permission: denied.
  v1::ListCallsRequest bad;
  bad.set_page_size(-1);
  bad.set_page_token("nonsense!");
  bad.set_client_id("x");
  bad.set_user("y");
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolations(calls_->ListCalls(Admin(), bad).status())) fields.push_back(v.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"page_size", "page_token", "client_id", "user"}));
  EXPECT_EQ(calls_->ListCalls(User(kOperator, {}), v1::ListCallsRequest()).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(calls_->GetCall(Operator(kOperator2), ids[0]).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CallsTest, ExtensionsAdmin) {
  v1::PutExtensionRequest put;
  put.mutable_extension()->set_provider("asterisk");
  put.mutable_extension()->set_extension("205");
  put.mutable_extension()->set_user_id(kOperator2);
  EXPECT_EQ(calls_->PutExtension(Operator(), put).status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(calls_->PutExtension(Admin(), put).ok());
  v1::ListExtensionsRequest lr;
  lr.set_user_id(kOperator2);
  auto l = calls_->ListExtensions(Admin(), lr);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->extensions_size(), 2);
  EXPECT_EQ(l->extensions(1).extension(), "205");
  // A later leg on 205 names operator 2.
  Record(Fact("x1", "x1:r", K::kRinging, "x1-op", 0, "205"));
  EXPECT_EQ(Get(CallId("x1")).user_id(), kOperator2);
  v1::PutExtensionRequest bad;
  bad.mutable_extension()->set_extension("bad ext");
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolations(calls_->PutExtension(Admin(), bad).status())) fields.push_back(v.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"extension.provider", "extension.extension", "extension.user_id"}));
  v1::DeleteExtensionRequest del;
  del.set_provider("asterisk");
  del.set_extension("205");
  ASSERT_TRUE(calls_->DeleteExtension(Admin(), del).ok());
  EXPECT_EQ(calls_->DeleteExtension(Admin(), del).status().code(), absl::StatusCode::kNotFound);
}

// The demo plans extensions by login; identity's user event of that login gives them to its user — once, and
// never over an extension an administrator assigned meanwhile.
TEST_F(CallsTest, DemoExtensionsFollowIdentitysUsersByLogin) {
  tdb_->Exec("DELETE FROM extensions");
  tdb_->Exec(absl::StrCat("INSERT INTO extensions (provider, extension, user_id, update_time) VALUES "
                          "('asterisk', '102', '", kOperator2, "', now())"));
  ASSERT_TRUE(InstallDemo(*tpool_).ok());
  ASSERT_TRUE(InstallDemo(*tpool_).ok());  // repeatable
  EXPECT_EQ(TCount("SELECT count(*) FROM pending_extensions"), 2);  // 102 is taken: not planned
  auto apply = [&](const std::string& id, const std::string& login, int64_t offset) {
    crm::identity::v1::UserCreated created;
    created.mutable_user()->set_id(id);
    created.mutable_user()->set_login(login);
    crm::events::v1::Envelope e;
    e.set_type(crm::identity::v1::kUserCreatedType);
    e.mutable_payload()->PackFrom(created);
    const std::string topic = crm::identity::v1::kUserTopic;
    ASSERT_TRUE(crm::pg::InTransaction(*tpool_, [&](pqxx::work& tx) -> absl::Status {
                  return ApplyUserEvent(tx, {.envelope = e, .topic = topic, .partition = 0, .offset = offset});
                }).ok());
  };
  apply(kOperator, "cc.operator", 1);
  apply(kAdmin, "somebody.else", 2);
  EXPECT_EQ(TCount(absl::StrCat("SELECT count(*) FROM extensions WHERE extension = '101' AND user_id = '", kOperator,
                                "'")),
            1);
  EXPECT_EQ(TCount("SELECT count(*) FROM pending_extensions"), 1);  // admin's 100 waits for «admin»
  apply(kOperator2, "cc.operator", 3);                                // a later user of the login: nothing planned
  EXPECT_EQ(TCount(absl::StrCat("SELECT count(*) FROM extensions WHERE user_id = '", kOperator, "'")), 1);
  // The user's event came before the plan (the service ran before the demo): the plan is given at once.
  tdb_->Exec("DELETE FROM extensions WHERE extension = '101'");
  apply("01930000-0000-7000-8000-0000000000a5", "admin", 4);
  EXPECT_EQ(TCount("SELECT count(*) FROM pending_extensions"), 0);
  EXPECT_EQ(TCount("SELECT count(*) FROM extensions WHERE extension = '100' AND user_id = "
                   "'01930000-0000-7000-8000-0000000000a5'"),
            1);
  tdb_->Exec("DELETE FROM extensions WHERE extension = '100'");
  ASSERT_TRUE(InstallDemo(*tpool_).ok());  // both logins are known users' now: 101 and 100 given at once
  EXPECT_EQ(TCount("SELECT count(*) FROM pending_extensions"), 0);
  EXPECT_EQ(TCount("SELECT count(*) FROM extensions WHERE extension = '101'"), 1);
  EXPECT_EQ(TCount("SELECT count(*) FROM extensions WHERE extension = '100'"), 1);
}

}  // namespace
}  // namespace crm::telephony::calls
