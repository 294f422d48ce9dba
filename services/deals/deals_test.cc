// File: services/deals/deals_test.cc
// DealService end to end: an in-process crm::rpc::Server on loopback trusting a test "gateway" key that
// signs principals, a fresh PostgreSQL database per test (CRM_TEST_PG_DSN) with the events and deals
// migrations, a test pipeline with gated stages inserted by SQL, and a ManualClock.
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <pqxx/binarystring>
#include <limits>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "crm/deals/v1/events.pb.h"
#include "crm/events/v1/envelope.pb.h"
#include "libs/auth/jwt.h"
#include "libs/auth/service_credential.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/rpc/call.h"
#include "libs/rpc/server.h"
#include "libs/rpc/signed_principal.h"
#include "services/deals/access.h"
#include "services/deals/deals.h"
#include "services/deals/deals_testing.h"
#include "services/deals/pipelines.h"

namespace crm::deals {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using grpc::StatusCode;

using namespace crm::deals::fixture;  // NOLINT: the fixture's users and ids

class DealsTest : public DealsFixture {};

TEST_F(DealsTest, CreateDefaultsResponsibleStageAndWritesEvent) {
  v1::Deal d = MustCreate(Anna(), Named("Квартира 2к, ЖК Северный"));
  EXPECT_TRUE(IsUuid(d.id()));
  EXPECT_EQ(d.responsible_id(), kAnna);
  EXPECT_EQ(d.creator_id(), kAnna);
  EXPECT_EQ(d.stage_id(), kNew);
  EXPECT_EQ(d.status(), v1::Deal::STATUS_OPEN);
  EXPECT_EQ(d.version(), 1);
  EXPECT_EQ(d.amount().currency(), "RUB");
  EXPECT_EQ(FromProtoTimestamp(d.create_time()), absl::FromUnixSeconds(1'795'000'000));
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM deals WHERE id = '", d.id(), "' AND team_ids = '{", kTeam1,
                               "}'::uuid[] AND responsible_id = '", kAnna, "'")),
            1);
  std::vector<OutboxRow> events = Outbox();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, kDealCreatedType);
  EXPECT_EQ(events[0].aggregate_id, d.id());
  ASSERT_EQ(events[0].env.visible_to_user_ids_size(), 1);
  EXPECT_EQ(events[0].env.visible_to_user_ids(0), kAnna);
  ASSERT_EQ(events[0].env.visible_to_team_ids_size(), 1);
  EXPECT_EQ(events[0].env.visible_to_team_ids(0), kTeam1);
  v1::DealCreated created;
  ASSERT_TRUE(events[0].env.payload().UnpackTo(&created));
  EXPECT_EQ(created.deal().id(), d.id());
  EXPECT_EQ(created.deal().name(), "Квартира 2к, ЖК Северный");
  // Read back equals what create returned.
  v1::Deal got;
  ASSERT_TRUE(Get(Anna(), d.id(), &got).ok());
  EXPECT_EQ(got.SerializeAsString(), d.SerializeAsString());
}

TEST_F(DealsTest, ValidationErrorsNameTheFieldAndWriteNothing) {
  struct Case {
    std::string field;
    std::function<void(v1::Deal&)> mutate;
  };
  const std::vector<Case> cases = {
      {"deal.name", [](v1::Deal& d) { d.clear_name(); }},
      {"deal.name", [](v1::Deal& d) { d.set_name(std::string(501, 'x')); }},
      {"deal.pipeline_id", [](v1::Deal& d) { d.set_pipeline_id("01900000-0000-7000-8000-00000000dead"); }},
      {"deal.pipeline_id", [](v1::Deal& d) { d.set_pipeline_id("nope"); }},
      {"deal.stage_id", [](v1::Deal& d) { d.set_stage_id(kOtherStage); }},
      {"deal.amount.currency", [](v1::Deal& d) { d.mutable_amount()->set_currency("rub"); }},
      {"deal.amount.amount_minor",
       [](v1::Deal& d) {
         d.mutable_amount()->set_currency("RUB");
         d.mutable_amount()->set_amount_minor(-1);
       }},
      {"deal.priority", [](v1::Deal& d) { d.set_priority(static_cast<v1::Deal::Priority>(7)); }},
      {"deal.tags",
       [](v1::Deal& d) {
         for (int i = 0; i < 51; ++i) d.add_tags(absl::StrCat("t", i));
       }},
      {"deal.tags[1]",
       [](v1::Deal& d) {
         d.add_tags("ok");
         d.add_tags(std::string(65, 'x'));
       }},
      {"deal.fields[0].code", [](v1::Deal& d) { d.add_fields()->set_code("no_such_field"); }},
      {"deal.fields[0].text",
       [](v1::Deal& d) {
         auto* f = d.add_fields();
         f->set_code("object_type");
         f->set_text("castle");
       }},
      {"deal.fields[1].number",
       [](v1::Deal& d) {
         auto* f = d.add_fields();
         f->set_code("object_type");
         f->set_text("flat");
         f = d.add_fields();
         f->set_code("area");
         f->set_number("12,5a");
       }},
      {"deal.fields[0]",
       [](v1::Deal& d) {
         auto* f = d.add_fields();
         f->set_code("area");
         f->set_flag(true);
       }},
  };
  for (const Case& c : cases) {
    v1::Deal d = Named("x");
    c.mutate(d);
    v1::Deal out;
    grpc::Status s = Create(Head(), d, &out);
    EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << c.field << ": " << s.error_message();
    EXPECT_EQ(FirstField(s), c.field) << s.error_message();
  }
  EXPECT_EQ(Count("SELECT count(*) FROM deals"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), 0);
  // A well-typed deal with custom fields goes through.
  v1::Deal d = Named("ok");
  auto* f = d.add_fields();
  f->set_code("area");
  f->set_number("12.5");
  v1::Deal made = MustCreate(Head(), d);
  ASSERT_EQ(made.fields_size(), 1);
  EXPECT_EQ(made.fields(0).number(), "12.5");
}

TEST_F(DealsTest, OwnRightsCannotAssignAnotherResponsible) {
  v1::Deal d = Named("x");
  d.set_responsible_id(kBoris);
  v1::Deal out;
  grpc::Status s = Create(Anna(), d, &out);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "deals.write.team")) << s.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM deals"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), 0);
  // The head of sales may; the deal then has no teams (the responsible's are not known here).
  v1::Deal made = MustCreate(Head(), d);
  EXPECT_EQ(made.responsible_id(), kBoris);
  EXPECT_EQ(made.creator_id(), kHead);
  EXPECT_EQ(Count(absl::StrCat("SELECT cardinality(team_ids) FROM deals WHERE id = '", made.id(), "'")), 0);
}

TEST_F(DealsTest, ReadAndWriteAccessByScope) {
  v1::Deal annas = MustCreate(Anna(), Named("Аннина"));
  v1::Deal got;
  EXPECT_TRUE(Get(Anna(), annas.id(), &got).ok());
  // Another manager: not found, for reading and for writing.
  grpc::Status s = Get(Boris(), annas.id(), &got);
  EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "deal not found");
  v1::Deal change = annas;
  change.set_name("Борина");
  EXPECT_EQ(Update(Boris(), change, {"name"}, &got).error_code(), StatusCode::NOT_FOUND);
  // The team lead of Anna's team sees and changes it; the lead of another team does not see it.
  EXPECT_TRUE(Get(Lena(), annas.id(), &got).ok());
  Principal other_lead = User(kLena, {"deals.read.team", "deals.write.team"}, {kTeam2});
  EXPECT_EQ(Get(other_lead, annas.id(), &got).error_code(), StatusCode::NOT_FOUND);
  change.set_name("Ленина правка");
  ASSERT_TRUE(Update(Lena(), change, {"name"}, &got).ok());
  EXPECT_EQ(got.version(), 2);
  // Head of sales sees every deal; a read-only auditor sees but may not change it.
  EXPECT_TRUE(Get(Head(), annas.id(), &got).ok());
  EXPECT_TRUE(Get(Auditor(), annas.id(), &got).ok());
  change.set_version(2);
  s = Update(Auditor(), change, {"name"}, &got);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "deals.write.all")) << s.error_message();
  // A team reader without write rights is told which permission is missing.
  s = Update(User(kLena, {"deals.read.team"}, {kTeam1}), change, {"name"}, &got);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "deals.write.team")) << s.error_message();
  // No deals permission at all: nothing is visible.
  EXPECT_EQ(Get(User(kBoris, {}), annas.id(), &got).error_code(), StatusCode::NOT_FOUND);
}

TEST_F(DealsTest, StaleVersionIsAbortedAndChangesNothing) {
  v1::Deal d = MustCreate(Anna(), Named("Старое"));
  const int64_t events = Count("SELECT count(*) FROM outbox");
  v1::Deal change = d;
  change.set_name("Новое");
  change.set_version(7);
  v1::Deal out;
  grpc::Status s = Update(Anna(), change, {"name"}, &out);
  EXPECT_EQ(s.error_code(), StatusCode::ABORTED);
  EXPECT_EQ(s.error_message(), "version mismatch: the deal is at version 1, not 7");
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM deals WHERE name = 'Старое' AND version = 1")), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), events);
  // With the right version: applied, version+1, DealUpdated naming the changed fields only.
  change.set_version(1);
  change.mutable_amount()->set_amount_minor(150000);
  change.mutable_amount()->set_currency("RUB");
  change.set_source(d.source());
  ASSERT_TRUE(Update(Anna(), change, {"name", "amount", "source"}, &out).ok());
  EXPECT_EQ(out.version(), 2);
  EXPECT_EQ(out.name(), "Новое");
  EXPECT_EQ(out.amount().amount_minor(), 150000);
  std::vector<OutboxRow> rows = Outbox();
  ASSERT_EQ(rows.back().type, kDealUpdatedType);
  v1::DealUpdated updated;
  ASSERT_TRUE(rows.back().env.payload().UnpackTo(&updated));
  EXPECT_EQ(std::vector<std::string>(updated.changed_fields().begin(), updated.changed_fields().end()),
            (std::vector<std::string>{"name", "amount"}));
  EXPECT_EQ(updated.deal().version(), 2);
}

TEST_F(DealsTest, ConcurrentUpdatesWithOneVersionExactlyOneWins) {
  v1::Deal d = MustCreate(Anna(), Named("Гонка"));
  std::atomic<int> ok{0}, aborted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      v1::Deal change = d;
      change.set_name(absl::StrCat("Поток ", i));
      v1::Deal out;
      grpc::Status s = Update(Anna(), change, {"name"}, &out);
      if (s.ok()) ++ok;
      if (s.error_code() == StatusCode::ABORTED) ++aborted;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(aborted.load(), 1);
  EXPECT_EQ(Count(absl::StrCat("SELECT version FROM deals WHERE id = '", d.id(), "'")), 2);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM outbox WHERE type = '", kDealUpdatedType, "'")), 1);
}

TEST_F(DealsTest, ReassignmentWritesResponsibleChangedVisibleToBoth) {
  v1::Deal d = MustCreate(Anna(), Named("Передача"));
  v1::Deal change = d;
  change.set_responsible_id(kBoris);
  v1::Deal out;
  ASSERT_TRUE(Update(Head(), change, {"responsible_id"}, &out).ok());
  EXPECT_EQ(out.responsible_id(), kBoris);
  std::vector<OutboxRow> rows = Outbox();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].type, kDealUpdatedType);
  EXPECT_EQ(rows[2].type, kDealResponsibleChangedType);
  v1::DealResponsibleChanged rc;
  ASSERT_TRUE(rows[2].env.payload().UnpackTo(&rc));
  EXPECT_EQ(rc.from_responsible_id(), kAnna);
  EXPECT_EQ(rc.deal().responsible_id(), kBoris);
  std::set<std::string> users(rows[2].env.visible_to_user_ids().begin(), rows[2].env.visible_to_user_ids().end());
  EXPECT_EQ(users, (std::set<std::string>{kAnna, kBoris}));
  // Anna no longer sees it; Boris does.
  EXPECT_EQ(Get(Anna(), d.id(), &out).error_code(), StatusCode::NOT_FOUND);
  EXPECT_TRUE(Get(Boris(), d.id(), &out).ok());
}

TEST_F(DealsTest, MoveIntoGatedStageListsEveryMissingItem) {
  v1::Deal d = MustCreate(Anna(), Named("Ворота"));
  v1::MoveDealRequest req;
  req.set_id(d.id());
  req.set_stage_id(kQualified);
  req.set_version(1);
  v1::Deal out;
  grpc::Status s = Move(Anna(), req, &out);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(),
            "stage «Квалифицирован» requires: amount, custom.object_type, an open task, a comment");
  // Fill some: only the rest is listed.
  Sql(absl::StrCat("UPDATE deals SET amount_minor = 500000, fields = '{\"object_type\": {\"text\": \"flat\"}}' ",
                   "WHERE id = '", d.id(), "'"));
  s = Move(Anna(), req, &out);
  EXPECT_EQ(s.error_message(), "stage «Квалифицирован» requires: an open task, a comment");
  Sql(absl::StrCat("UPDATE deals SET next_task_time = now() WHERE id = '", d.id(), "'"));
  req.set_comment("Созвонились");
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), 1);
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(Move(Anna(), req, &out).ok());
  EXPECT_EQ(out.stage_id(), kQualified);
  EXPECT_EQ(out.version(), 2);
  EXPECT_EQ(out.status(), v1::Deal::STATUS_OPEN);
  EXPECT_EQ(FromProtoTimestamp(out.stage_enter_time()), clock_.Now());
  EXPECT_FALSE(out.has_close_time());
  std::vector<OutboxRow> rows = Outbox();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].type, kDealStageChangedType);
  v1::DealStageChanged sc;
  ASSERT_TRUE(rows[1].env.payload().UnpackTo(&sc));
  EXPECT_EQ(sc.from_stage_id(), kNew);
  EXPECT_EQ(sc.comment(), "Созвонились");
  // A stale version is refused.
  req.set_stage_id(kNew);
  EXPECT_EQ(Move(Anna(), req, &out).error_code(), StatusCode::ABORTED);
  // Creating straight into the gated stage meets the same gates.
  v1::Deal gated = Named("Сразу");
  gated.set_stage_id(kQualified);
  s = Create(Anna(), gated, &out);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "amount, custom.object_type, an open task")) << s.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM deals"), 1);
}

TEST_F(DealsTest, LostNeedsReasonAndCommentForOther) {
  v1::Deal d = MustCreate(Anna(), Named("Отказник"));
  v1::MoveDealRequest req;
  req.set_id(d.id());
  req.set_stage_id(kLost);
  v1::Deal out;
  grpc::Status s = Move(Anna(), req, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "lost_reason_code");
  req.set_lost_reason_code("aliens");
  s = Move(Anna(), req, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "lost_reason_code");
  req.set_lost_reason_code("other");
  s = Move(Anna(), req, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "comment");
  EXPECT_EQ(Count("SELECT count(*) FROM deals WHERE status = 1 AND close_time IS NULL"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), 1);
  req.set_comment("Купили у знакомых");
  clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(Move(Anna(), req, &out).ok()) << s.error_message();
  EXPECT_EQ(out.status(), v1::Deal::STATUS_LOST);
  EXPECT_EQ(out.lost_reason_code(), "other");
  EXPECT_EQ(out.lost_comment(), "Купили у знакомых");
  EXPECT_EQ(FromProtoTimestamp(out.close_time()), clock_.Now());
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM deals WHERE status = 3 AND lost_reason_code = 'other' "
                               "AND close_time IS NOT NULL AND id = '",
                               d.id(), "'")),
            1);
  std::vector<OutboxRow> rows = Outbox();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].type, kDealStageChangedType);
  EXPECT_EQ(rows[2].type, kDealLostType);
  v1::DealLost lost;
  ASSERT_TRUE(rows[2].env.payload().UnpackTo(&lost));
  EXPECT_EQ(lost.reason_code(), "other");
  EXPECT_EQ(lost.comment(), "Купили у знакомых");
  // A reason without a comment requirement needs none; won then clears the lost fields.
  req.set_stage_id(kWon);
  req.clear_comment();
  ASSERT_TRUE(Move(Anna(), req, &out).ok());
  EXPECT_EQ(out.status(), v1::Deal::STATUS_WON);
  EXPECT_EQ(out.lost_reason_code(), "");
  EXPECT_EQ(Outbox().back().type, kDealWonType);
  // Moving to another pipeline's stage needs that pipeline named.
  req.set_stage_id(kOtherStage);
  s = Move(Anna(), req, &out);
  EXPECT_EQ(FirstField(s), "stage_id");
  req.set_pipeline_id(kOther);
  ASSERT_TRUE(Move(Anna(), req, &out).ok());
  EXPECT_EQ(out.pipeline_id(), kOther);
  EXPECT_EQ(out.status(), v1::Deal::STATUS_OPEN);
  EXPECT_FALSE(out.has_close_time());
}

TEST_F(DealsTest, ListFiltersAndKeysetPagination) {
  std::vector<std::string> made;  // oldest first
  for (int i = 0; i < 11; ++i) {
    v1::Deal d = Named(i == 4 ? "Скидка 100%_акция" : absl::StrCat("Сделка ", i));
    d.mutable_amount()->set_amount_minor(i * 1000);
    if (i % 3 == 0) d.add_tags("vip");
    if (i % 2 == 0) d.set_responsible_id(kAnna);
    made.push_back(MustCreate(Head(), d).id());
  }
  std::vector<std::string> newest_first(made.rbegin(), made.rend());
  // Same create_time for the last two: the id breaks the tie.
  Sql(absl::StrCat("UPDATE deals SET create_time = (SELECT create_time FROM deals WHERE id = '", made[9],
                   "') WHERE id = '", made[10], "'"));
  std::vector<std::string> expected = newest_first;
  std::sort(expected.begin(), expected.begin() + 2, std::greater<>());
  for (int page : {1, 3, 4, 50}) {
    EXPECT_EQ(ListAll(Head(), {}, page), expected) << page;
  }
  v1::DealFilter f;
  f.add_tags("vip");
  EXPECT_EQ(ListAll(Head(), f, 2).size(), 4u);  // 0, 3, 6, 9
  f.Clear();
  f.set_query("0%_");
  std::vector<std::string> q = ListAll(Head(), f, 5);
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0], made[4]);
  f.Clear();
  f.set_query("сделка 1");  // ILIKE: 1 and 10
  EXPECT_EQ(ListAll(Head(), f, 5).size(), 2u);
  f.Clear();
  f.set_amount_min(3000);
  f.set_amount_max(5000);
  EXPECT_EQ(ListAll(Head(), f, 5).size(), 3u);
  f.Clear();
  *f.mutable_created_after() = ToProtoTimestamp(absl::FromUnixSeconds(1'795'000'000 + 8));
  EXPECT_EQ(ListAll(Head(), f, 5).size(), 3u);
  f.Clear();
  f.add_statuses(v1::Deal::STATUS_WON);
  EXPECT_EQ(ListAll(Head(), f, 5).size(), 0u);
  // mine: the caller's own deals (Anna has 0, 2, 4, 6, 8, 10; the head has the rest).
  f.Clear();
  f.set_mine(true);
  EXPECT_EQ(ListAll(Head(), f, 4).size(), 5u);
  EXPECT_EQ(ListAll(Anna(), f, 4).size(), 6u);
  // Access applies to the list: Anna sees only hers, Boris none.
  EXPECT_EQ(ListAll(Anna(), {}, 4).size(), 6u);
  EXPECT_EQ(ListAll(Boris(), {}, 4).size(), 0u);
  // A bad token is INVALID_ARGUMENT naming page_token.
  v1::ListDealsRequest bad;
  bad.set_page_token("garbage!");
  v1::ListDealsResponse resp;
  EXPECT_EQ(FirstField(List(Head(), bad, &resp)), "page_token");
}

TEST_F(DealsTest, BoardCountsAndSumsMatchTheTable) {
  for (int i = 0; i < 5; ++i) {
    v1::Deal d = Named(absl::StrCat("Новая ", i));
    d.mutable_amount()->set_amount_minor(100 * (i + 1));
    if (i == 4) d.mutable_amount()->set_currency("USD");
    MustCreate(i < 2 ? Anna() : Head(), d);
  }
  v1::Deal won = Named("Выиграна");
  won.set_stage_id(kWon);
  won.mutable_amount()->set_amount_minor(7000);
  MustCreate(Head(), won);
  grpc::ClientContext ctx;
  As(ctx, Head());
  v1::GetBoardRequest req;
  req.set_pipeline_id(kPipeline);
  req.set_cards_per_stage(3);
  v1::Board board;
  grpc::Status s = stub_->GetBoard(&ctx, req, &board);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(board.columns_size(), 4);
  const std::vector<std::string> order = {kNew, kQualified, kWon, kLost};
  for (int i = 0; i < 4; ++i) {
    const auto& col = board.columns(i);
    EXPECT_EQ(col.stage().id(), order[i]);
    EXPECT_EQ(col.count(), Count(absl::StrCat("SELECT count(*) FROM deals WHERE stage_id = '", order[i], "'")));
    EXPECT_EQ(col.sum().amount_minor(),
              Count(absl::StrCat("SELECT coalesce(sum(amount_minor), 0) FROM deals WHERE currency = 'RUB' AND "
                                 "stage_id = '",
                                 order[i], "'")));
    EXPECT_EQ(col.sum().currency(), "RUB");
  }
  EXPECT_EQ(board.columns(0).count(), 5);
  EXPECT_EQ(board.columns(0).sum().amount_minor(), 100 + 200 + 300 + 400);  // the USD deal is not added
  EXPECT_EQ(board.columns(1).stage().gates().required_fields_size(), 2);
  EXPECT_EQ(board.columns(2).sum().amount_minor(), 7000);
  // Three cards and a cursor; ListStageDeals gives the rest without duplicates.
  ASSERT_EQ(board.columns(0).cards_size(), 3);
  ASSERT_FALSE(board.columns(0).next_page_token().empty());
  EXPECT_TRUE(board.columns(2).next_page_token().empty());
  std::set<std::string> ids;
  for (const auto& c : board.columns(0).cards()) ids.insert(c.id());
  grpc::ClientContext ctx2;
  As(ctx2, Head());
  v1::ListStageDealsRequest more;
  more.set_pipeline_id(kPipeline);
  more.set_stage_id(kNew);
  more.set_page_token(board.columns(0).next_page_token());
  v1::ListStageDealsResponse rest;
  ASSERT_TRUE(stub_->ListStageDeals(&ctx2, more, &rest).ok());
  EXPECT_TRUE(rest.next_page_token().empty());
  for (const auto& c : rest.deals()) ids.insert(c.id());
  EXPECT_EQ(ids.size(), 5u);
  // The board under access and the mine filter: Anna's column has only her two deals.
  grpc::ClientContext ctx3;
  As(ctx3, Anna());
  req.mutable_filter()->set_mine(true);
  ASSERT_TRUE(stub_->GetBoard(&ctx3, req, &board).ok());
  EXPECT_EQ(board.columns(0).count(), 2);
  EXPECT_EQ(board.columns(0).sum().amount_minor(), 300);
  EXPECT_EQ(board.columns(2).count(), 0);
}

// Issue 15: an amount beyond the business bound is refused naming the field, text with NUL never reaches
// the store, and a board whose sums pass int64 (rows written before the bound, or by hand) still
// renders — saturated, not an error for every user.
TEST_F(DealsTest, ExtremeAmountsAndControlCharactersAreRefusedAndABoardNeverOverflows) {
  v1::Deal huge = Named("Огромная");
  huge.mutable_amount()->set_amount_minor(std::numeric_limits<int64_t>::max());
  v1::Deal out;
  absl::Status s = FromGrpcStatus(Create(Head(), huge, &out));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldViolations(s), ::testing::ElementsAre(::testing::Field(&FieldViolation::field,
                                                                           "deal.amount.amount_minor")));
  s = FromGrpcStatus(Create(Head(), Named(std::string("Имя\0обрезано", sizeof("Имя\0обрезано") - 1)), &out));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldViolations(s), ::testing::ElementsAre(::testing::Field(&FieldViolation::field, "deal.name")));
  EXPECT_EQ(Count("SELECT count(*) FROM deals"), 0);

  v1::Deal a = MustCreate(Head(), Named("Первая"));
  v1::Deal b = MustCreate(Head(), Named("Вторая"));
  Sql(absl::StrCat("UPDATE deals SET amount_minor = 9000000000000000000 WHERE id IN ('", a.id(), "', '", b.id(), "')"));
  grpc::ClientContext ctx;
  As(ctx, Head());
  v1::GetBoardRequest req;
  req.set_pipeline_id(kPipeline);
  v1::Board board;
  const grpc::Status got = stub_->GetBoard(&ctx, req, &board);
  ASSERT_TRUE(got.ok()) << got.error_message();
  EXPECT_EQ(board.columns(0).count(), 2);
  EXPECT_EQ(board.columns(0).sum().amount_minor(), std::numeric_limits<int64_t>::max());
  MustCreate(Head(), Named("Третья, в ту же стадию"));
}

// A retried create with the same Idempotency-Key returns the first deal and writes nothing new; the key
// reused with another request is refused; without a key every create is a new deal.
TEST_F(DealsTest, CreateWithIdempotencyKeyMakesOneDeal) {
  auto create = [&](const v1::Deal& d, const std::string& key, v1::Deal* out) {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    if (!key.empty()) ctx.AddMetadata("idempotency-key", key);
    v1::CreateDealRequest req;
    *req.mutable_deal() = d;
    return stub_->CreateDeal(&ctx, req, out);
  };
  v1::Deal first, second;
  ASSERT_TRUE(create(Named("Повтор"), "k-1", &first).ok());
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(create(Named("Повтор"), "k-1", &second).ok());
  EXPECT_EQ(second.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(Count("SELECT count(*) FROM deals"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), 1);
  grpc::Status s = create(Named("Другое"), "k-1", &second);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "idempotency-key");
  EXPECT_EQ(create(Named("Длинный"), std::string(201, 'k'), &second).error_code(), StatusCode::INVALID_ARGUMENT);
  // After the retention the key makes a new deal.
  clock_.Advance(absl::Hours(25));
  ASSERT_TRUE(create(Named("Повтор"), "k-1", &second).ok());
  EXPECT_NE(second.id(), first.id());
  ASSERT_TRUE(create(Named("Повтор"), "", &second).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM deals"), 3);
}

// The call's automation causation (x-crm-automation-depth, x-crm-skip-automation) goes into every event
// the call writes; a call without it writes depth 0 and skip false.
TEST_F(DealsTest, EventsCarryTheCallsAutomationCausation) {
  auto with_causation = [](grpc::ClientContext& ctx) {
    ctx.AddMetadata(rpc::kAutomationDepthHeader, "2");
    ctx.AddMetadata(rpc::kSkipAutomationHeader, "true");
  };
  v1::Deal robot_made;
  {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    with_causation(ctx);
    v1::CreateDealRequest req;
    *req.mutable_deal() = Named("Робот");
    ASSERT_TRUE(stub_->CreateDeal(&ctx, req, &robot_made).ok());
  }
  v1::Deal person_made = MustCreate(Anna(), Named("Человек"));
  {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    with_causation(ctx);
    v1::UpdateDealRequest req;
    *req.mutable_deal() = person_made;
    req.mutable_deal()->set_name("Человек, поправлено роботом");
    req.mutable_update_mask()->add_paths("name");
    v1::Deal out;
    ASSERT_TRUE(stub_->UpdateDeal(&ctx, req, &out).ok());
  }
  {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    with_causation(ctx);
    v1::MoveDealRequest req;
    req.set_id(robot_made.id());
    req.set_stage_id(kWon);
    v1::Deal out;
    ASSERT_TRUE(stub_->MoveDeal(&ctx, req, &out).ok());
  }
  v1::Deal updated;
  v1::Deal fresh = person_made;
  fresh.set_version(2);
  fresh.set_name("Человек снова");
  ASSERT_TRUE(Update(Anna(), fresh, {"name"}, &updated).ok());

  std::vector<OutboxRow> rows = Outbox();
  std::vector<std::string> seen;
  for (const OutboxRow& r : rows) {
    seen.push_back(absl::StrCat(r.type, " ", r.aggregate_id == robot_made.id() ? "robot" : "person", " ",
                                r.env.automation_depth(), " ", r.env.skip_automation() ? "skip" : "run"));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{
                      absl::StrCat(kDealCreatedType, " robot 2 skip"),
                      absl::StrCat(kDealCreatedType, " person 0 run"),
                      absl::StrCat(kDealUpdatedType, " person 2 skip"),
                      absl::StrCat(kDealStageChangedType, " robot 2 skip"),
                      absl::StrCat(kDealWonType, " robot 2 skip"),
                      absl::StrCat(kDealUpdatedType, " person 0 run"),
                  }));
}

// A move to the stage the deal is already in changes nothing: the deal comes back as it was, with its
// version, and no event or timeline entry is written.
TEST_F(DealsTest, MoveToTheCurrentStageIsANoOp) {
  v1::Deal d = MustCreate(Anna(), Named("На месте"));
  const int64_t events = Count("SELECT count(*) FROM outbox");
  const int64_t entries = Count("SELECT count(*) FROM timeline_entries");
  clock_.Advance(absl::Minutes(5));
  for (const std::string& pipeline : {std::string(), std::string(kPipeline)}) {
    v1::MoveDealRequest req;
    req.set_id(d.id());
    req.set_pipeline_id(pipeline);
    req.set_stage_id(kNew);
    req.set_version(d.version());
    req.set_comment("ещё раз");
    v1::Deal out;
    grpc::Status s = Move(Anna(), req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(out.SerializeAsString(), d.SerializeAsString()) << pipeline;
  }
  v1::Deal got;
  ASSERT_TRUE(Get(Anna(), d.id(), &got).ok());
  EXPECT_EQ(got.version(), 1);
  EXPECT_EQ(got.SerializeAsString(), d.SerializeAsString());
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), events);
  EXPECT_EQ(Count("SELECT count(*) FROM timeline_entries"), entries);
}

// A create lands where the pipeline says at that moment: a stage change made through PipelineService
// after earlier creates (whose target the store remembers) applies to the very next create.
TEST_F(DealsTest, CreateFollowsAChangedPipeline) {
  v1::Deal first = MustCreate(Anna(), Named("До изменения"));
  EXPECT_EQ(first.stage_id(), kNew);
  PipelineStore pipelines(*pool_, clock_);
  absl::StatusOr<v1::Pipeline> p = pipelines.Get(kPipeline);
  ASSERT_TRUE(p.ok()) << p.status();
  p->mutable_stages(0)->mutable_gates()->add_required_fields("source");
  ASSERT_TRUE(pipelines.Update(*p, {"stages"}).ok());
  v1::Deal out;
  grpc::Status s = Create(Anna(), Named("После изменения"), &out);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "source")) << s.error_message();
  v1::Deal with_source = Named("С источником");
  with_source.set_source("site");
  EXPECT_EQ(MustCreate(Anna(), with_source).stage_id(), kNew);
  EXPECT_EQ(Count("SELECT count(*) FROM deals"), 2);
}

// D3: the list filters on custom field values — all given must match; a bad filter names its field.
TEST_F(DealsTest, ListFiltersOnCustomFields) {
  auto with = [&](const std::string& name, const std::string& type, const std::string& area) {
    v1::Deal d = Named(name);
    auto* f = d.add_fields();
    f->set_code("object_type");
    f->set_text(type);
    f = d.add_fields();
    f->set_code("area");
    f->set_number(area);
    return MustCreate(Head(), d).id();
  };
  const std::string flat54 = with("Квартира 54", "flat", "54");
  const std::string flat70 = with("Квартира 70", "flat", "70");
  const std::string house = with("Дом", "house", "54");
  MustCreate(Head(), Named("Без полей"));
  v1::DealFilter f;
  auto* v = f.add_fields();
  v->set_code("object_type");
  v->set_text("flat");
  EXPECT_EQ(ListAll(Head(), f, 10), (std::vector<std::string>{flat70, flat54}));
  v = f.add_fields();
  v->set_code("area");
  v->set_number("54");
  EXPECT_EQ(ListAll(Head(), f, 10), std::vector<std::string>{flat54});
  f.mutable_fields(0)->set_text("house");
  EXPECT_EQ(ListAll(Head(), f, 10), std::vector<std::string>{house});
  f.mutable_fields(1)->clear_number();
  v1::ListDealsRequest req;
  *req.mutable_filter() = f;
  v1::ListDealsResponse resp;
  grpc::Status s = List(Head(), req, &resp);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "filter.fields[1]");
}

}  // namespace
}  // namespace crm::deals
