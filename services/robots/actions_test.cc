// File: services/robots/actions_test.cc
// The robots' deal actions (actions.h) end to end: a DealsClient calls an in-process deals server
// (DealService, TaskService, TimelineService, PipelineService on the ServiceTest harness of
// services/deals/deals_testing.h: a fresh PostgreSQL database per test from CRM_TEST_PG_DSN, a
// ManualClock, signed principals) and every effect is checked through deals' API or its outbox.
#include "services/robots/actions.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <pqxx/binarystring>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "crm/deals/v1/tasks.grpc.pb.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/robots/v1/robots.pb.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/calendar/calendar.h"
#include "libs/rpc/client.h"
#include "services/deals/deals.h"
#include "services/deals/deals_testing.h"
#include "services/deals/pipelines.h"
#include "services/deals/tasks.h"
#include "services/deals/timeline.h"

namespace crm::robots {
namespace {

namespace dv1 = crm::deals::v1;
namespace rv1 = crm::robots::v1;
using crm::common::v1::Principal;
using namespace crm::deals::fixture;  // NOLINT: the fixture's users and ids

constexpr char kTag[] = "Жёлтое предупреждение";

class ActionsTest : public ServiceTest {
 protected:
  ActionsTest() : ServiceTest("robact") {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServiceTest::SetUp());
    InsertTestPipelines("('returned', 'Возврат', 6, '{}'), ('visit_time', 'Визит', 5, '{}')");
    blob_dir_ = std::filesystem::temp_directory_path() / absl::StrCat("robact-blobs-", NewUuidV7());
    blobs_ = std::make_unique<deals::LocalDirBlobStore>(blob_dir_.string(), deals::kMaxAttachmentBytes);
    deals_ = std::make_unique<deals::DealStore>(*pool_, clock_);
    tasks_ = std::make_unique<deals::TaskStore>(*pool_, clock_);
    timeline_ = std::make_unique<deals::TimelineStore>(*pool_, clock_, *blobs_);
    pipelines_ = std::make_unique<deals::PipelineStore>(*pool_, clock_);
    deal_service_ = std::make_unique<deals::DealServiceImpl>(*deals_);
    task_service_ = std::make_unique<deals::TaskServiceImpl>(*tasks_);
    timeline_service_ = std::make_unique<deals::TimelineServiceImpl>(*timeline_);
    pipeline_service_ = std::make_unique<deals::PipelineServiceImpl>(pipelines_.get());
    channel_ = Serve({deal_service_.get(), task_service_.get(), timeline_service_.get(), pipeline_service_.get()});
    deal_stub_ = dv1::DealService::NewStub(channel_);
    task_stub_ = dv1::TaskService::NewStub(channel_);
    timeline_stub_ = dv1::TimelineService::NewStub(channel_);
    auto msk = LoadTimeZone("Europe/Moscow");
    ASSERT_TRUE(msk.ok()) << msk.status();
    msk_ = *msk;
    calendar_ = std::make_unique<calendar::WorkingCalendar>(calendar::WorkingCalendar::FiveDay(msk_));
    client_ = std::make_unique<DealsClient>(channel_, &*gateway_key_, calendar_.get(), msk_,
                                            DealsClientOptions{.clock = &clock_});
  }

  void TearDown() override {
    ServiceTest::TearDown();
    std::error_code ec;
    std::filesystem::remove_all(blob_dir_, ec);
  }

  // A new deal of Anna's in the first stage.
  dv1::Deal MustDeal(const std::string& name = "Квартира 2к, ЖК Северный") {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    dv1::CreateDealRequest req;
    req.mutable_deal()->set_name(name);
    req.mutable_deal()->set_pipeline_id(kPipeline);
    dv1::Deal out;
    grpc::Status s = deal_stub_->CreateDeal(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    clock_.Advance(absl::Seconds(1));
    return out;
  }
  dv1::Deal Deal(const std::string& id) {
    grpc::ClientContext ctx;
    As(ctx, Head());
    dv1::GetDealRequest req;
    req.set_id(id);
    dv1::Deal out;
    grpc::Status s = deal_stub_->GetDeal(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }
  std::vector<dv1::Task> Tasks(const std::string& deal_id) {
    grpc::ClientContext ctx;
    As(ctx, Head());
    dv1::ListTasksRequest req;
    req.set_deal_id(deal_id);
    dv1::ListTasksResponse out;
    grpc::Status s = task_stub_->ListTasks(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {out.tasks().begin(), out.tasks().end()};
  }
  std::vector<dv1::TimelineEntry> Comments(const std::string& deal_id) {
    grpc::ClientContext ctx;
    As(ctx, Head());
    dv1::ListTimelineRequest req;
    req.set_deal_id(deal_id);
    req.set_page_size(100);
    dv1::ListTimelineResponse out;
    grpc::Status s = timeline_stub_->ListTimeline(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<dv1::TimelineEntry> comments;
    for (const auto& e : out.entries()) {
      if (e.kind() == dv1::TimelineEntry::COMMENT) comments.push_back(e);
    }
    return comments;
  }
  // The envelopes of the deal's events of `type` in the outbox, oldest first.
  std::vector<crm::events::v1::Envelope> Events(const std::string& deal_id, const std::string& type) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<crm::events::v1::Envelope> out;
    for (const pqxx::row& r : tx.exec_params("SELECT payload FROM outbox WHERE aggregateid = $1 AND type = $2 "
                                             "ORDER BY seq",
                                             deal_id, type)) {
      crm::events::v1::Envelope env;
      pqxx::binarystring raw(r[0]);
      EXPECT_TRUE(env.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
      out.push_back(std::move(env));
    }
    return out;
  }
  // A run's context for `deal`: Head's rule, depth 1, now = clock_.
  ActionContext Ctx(const dv1::Deal& deal, const std::string& key = "exec-1/0") {
    return ActionContext{.deal_id = deal.id(),
                         .deal = &deal,
                         .idempotency_key = key,
                         .depth = 1,
                         .on_behalf_of_user_id = kHead,
                         .now = clock_.Now()};
  }
  static rv1::Action Tag(const std::string& tag) {
    rv1::Action a;
    a.mutable_add_tag()->set_tag(tag);
    return a;
  }
  static rv1::Action Set(const std::string& field, const std::string& value) {
    rv1::Action a;
    a.mutable_set_field()->set_field(field);
    a.mutable_set_field()->set_value(value);
    return a;
  }
  static rv1::Action Move(const std::string& stage) {
    rv1::Action a;
    a.mutable_move_stage()->set_stage_id(stage);
    return a;
  }
  static rv1::Action Task(const std::string& title, absl::Duration due_in, bool working_time,
                          const std::string& responsible = "") {
    rv1::Action a;
    rv1::CreateTask& t = *a.mutable_create_task();
    t.set_title(title);
    t.set_kind("call");
    t.mutable_due_in()->set_seconds(absl::ToInt64Seconds(due_in));
    t.set_working_time(working_time);
    t.set_responsible(responsible);
    return a;
  }

  std::filesystem::path blob_dir_;
  std::unique_ptr<deals::LocalDirBlobStore> blobs_;
  std::unique_ptr<deals::DealStore> deals_;
  std::unique_ptr<deals::TaskStore> tasks_;
  std::unique_ptr<deals::TimelineStore> timeline_;
  std::unique_ptr<deals::PipelineStore> pipelines_;
  std::unique_ptr<deals::DealServiceImpl> deal_service_;
  std::unique_ptr<deals::TaskServiceImpl> task_service_;
  std::unique_ptr<deals::TimelineServiceImpl> timeline_service_;
  std::unique_ptr<deals::PipelineServiceImpl> pipeline_service_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<dv1::DealService::Stub> deal_stub_;
  std::unique_ptr<dv1::TaskService::Stub> task_stub_;
  std::unique_ptr<dv1::TimelineService::Stub> timeline_stub_;
  absl::TimeZone msk_;
  std::unique_ptr<calendar::WorkingCalendar> calendar_;
  std::unique_ptr<DealsClient> client_;
};

// ---------------------------------------------------------------------------------------------------
// add_tag

TEST_F(ActionsTest, AddTagAddsItOnceHoweverOftenApplied) {
  const dv1::Deal deal = MustDeal();
  const ActionContext ctx = Ctx(deal);
  auto first = client_->Apply(Tag(kTag), ctx);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, "tag «Жёлтое предупреждение» added");
  auto again = client_->Apply(Tag(kTag), ctx);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, "tag «Жёлтое предупреждение» already there");

  const dv1::Deal now = Deal(deal.id());
  EXPECT_EQ(std::vector<std::string>(now.tags().begin(), now.tags().end()), std::vector<std::string>{kTag});
  EXPECT_EQ(now.version(), deal.version() + 1);
  EXPECT_EQ(Events(deal.id(), deals::kDealUpdatedType).size(), 1u);
}

// The run's deal saves a read when it is current, but "nothing to do" comes only from a fresh read: a run
// whose deal still showed the tag (removed since) adds it again.
TEST_F(ActionsTest, AddTagConcludesNothingToDoOnlyFromAFreshRead) {
  const dv1::Deal deal = MustDeal();
  dv1::Deal as_the_run_saw_it = deal;
  as_the_run_saw_it.add_tags(kTag);
  auto added = client_->Apply(Tag(kTag), Ctx(as_the_run_saw_it));
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, "tag «Жёлтое предупреждение» added");
  const dv1::Deal now = Deal(deal.id());
  EXPECT_EQ(std::vector<std::string>(now.tags().begin(), now.tags().end()), std::vector<std::string>{kTag});

  rv1::Action a;
  a.mutable_change_responsible()->set_user_id(kBoris);
  dv1::Deal with_boris = now;
  with_boris.set_responsible_id(kBoris);
  auto changed = client_->Apply(a, Ctx(with_boris));
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(*changed, absl::StrCat("responsible set to ", kBoris));
  EXPECT_EQ(Deal(deal.id()).responsible_id(), kBoris);
}

// Robots tagging one deal at once all get their tag: a write that lost the race re-reads and retries.
TEST_F(ActionsTest, AddTagRetriesWhenTheDealChangedUnderIt) {
  const dv1::Deal deal = MustDeal();
  const std::vector<std::string> tags = {"a", "b", "c", "d"};
  std::vector<absl::Status> results(tags.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < tags.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = client_->Apply(Tag(tags[i]), Ctx(deal)).status(); });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s;
  const dv1::Deal now = Deal(deal.id());
  std::vector<std::string> got(now.tags().begin(), now.tags().end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, tags);
}

// ---------------------------------------------------------------------------------------------------
// set_field

TEST_F(ActionsTest, SetFieldSetsPrioritySourceAndCustomFieldsOnce) {
  const dv1::Deal deal = MustDeal();
  const ActionContext ctx = Ctx(deal);
  struct Case {
    std::string field, value, detail;
  };
  const std::vector<Case> cases = {
      {"priority", "A", "priority set to PRIORITY_A"},
      {"source", "telegram", "source set to \"telegram\""},
      {"custom.object_type", "\"house\"", "custom.object_type set to {\"code\":\"object_type\",\"text\":\"house\"}"},
      {"custom.area", "54.5", "custom.area set to {\"code\":\"area\",\"number\":\"54.5\"}"},
      {"custom.returned", "true", "custom.returned set to {\"code\":\"returned\",\"flag\":true}"},
      {"custom.visit_time", "2026-12-01T10:00:00Z",
       "custom.visit_time set to {\"code\":\"visit_time\",\"time\":\"2026-12-01T10:00:00Z\"}"},
  };
  for (const Case& c : cases) {
    auto r = client_->Apply(Set(c.field, c.value), ctx);
    ASSERT_TRUE(r.ok()) << c.field << ": " << r.status();
    EXPECT_EQ(*r, c.detail);
  }
  const dv1::Deal set = Deal(deal.id());
  EXPECT_EQ(set.priority(), dv1::Deal::PRIORITY_A);
  EXPECT_EQ(set.source(), "telegram");
  std::map<std::string, dv1::FieldValue> fields;
  for (const auto& f : set.fields()) fields[f.code()] = f;
  EXPECT_EQ(fields["object_type"].text(), "house");
  EXPECT_EQ(fields["area"].number(), "54.5");
  EXPECT_TRUE(fields["returned"].flag());
  EXPECT_EQ(FromProtoTimestamp(fields["visit_time"].time()), absl::FromCivil(absl::CivilMinute(2026, 12, 1, 10, 0),
                                                                           absl::UTCTimeZone()));
  EXPECT_EQ(set.version(), deal.version() + static_cast<int64_t>(cases.size()));

  // Applied again: nothing changes.
  for (const Case& c : cases) {
    auto r = client_->Apply(Set(c.field, c.value), ctx);
    ASSERT_TRUE(r.ok()) << c.field << ": " << r.status();
    EXPECT_TRUE(absl::StrContains(*r, " already ")) << *r;
  }
  EXPECT_EQ(Deal(deal.id()).version(), set.version());

  // An empty value removes a custom field.
  auto cleared = client_->Apply(Set("custom.area", ""), ctx);
  ASSERT_TRUE(cleared.ok()) << cleared.status();
  const dv1::Deal after = Deal(deal.id());
  for (const auto& f : after.fields()) EXPECT_NE(f.code(), "area");
}

TEST_F(ActionsTest, SetFieldRejectsWhatItCannotSet) {
  const dv1::Deal deal = MustDeal();
  const ActionContext ctx = Ctx(deal);
  EXPECT_EQ(client_->Apply(Set("name", "x"), ctx).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Apply(Set("custom.nope", "x"), ctx).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Apply(Set("priority", "Z"), ctx).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Apply(Set("custom.returned", "yes"), ctx).status().code(), absl::StatusCode::kInvalidArgument);
  // Deals' own check: not an option of the enum.
  EXPECT_EQ(client_->Apply(Set("custom.object_type", "castle"), ctx).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Deal(deal.id()).version(), deal.version());
}

// ---------------------------------------------------------------------------------------------------
// change_responsible

TEST_F(ActionsTest, ChangeResponsibleOnce) {
  const dv1::Deal deal = MustDeal();
  ASSERT_EQ(deal.responsible_id(), kAnna);
  rv1::Action a;
  a.mutable_change_responsible()->set_user_id(kBoris);
  const ActionContext ctx = Ctx(deal);
  auto first = client_->Apply(a, ctx);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, absl::StrCat("responsible set to ", kBoris));
  auto again = client_->Apply(a, ctx);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, absl::StrCat("responsible already ", kBoris));
  EXPECT_EQ(Deal(deal.id()).responsible_id(), kBoris);
  EXPECT_EQ(Events(deal.id(), deals::kDealResponsibleChangedType).size(), 1u);
}

// ---------------------------------------------------------------------------------------------------
// move_stage

TEST_F(ActionsTest, MoveStageOnceAndToAnotherPipeline) {
  const dv1::Deal deal = MustDeal();
  const ActionContext ctx = Ctx(deal);
  auto first = client_->Apply(Move(kWon), ctx);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, absl::StrCat("moved to stage ", kWon));
  auto again = client_->Apply(Move(kWon), ctx);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, absl::StrCat("already in stage ", kWon));
  EXPECT_EQ(Deal(deal.id()).stage_id(), kWon);
  EXPECT_EQ(Events(deal.id(), deals::kDealStageChangedType).size(), 1u);

  // A stage of another pipeline: the client finds its pipeline.
  const dv1::Deal other = MustDeal("Другая");
  auto moved = client_->Apply(Move(kOtherStage), Ctx(other));
  ASSERT_TRUE(moved.ok()) << moved.status();
  const dv1::Deal now = Deal(other.id());
  EXPECT_EQ(now.stage_id(), kOtherStage);
  EXPECT_EQ(now.pipeline_id(), kOther);

  EXPECT_EQ(client_->Apply(Move(NewUuidV7()), Ctx(other)).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ActionsTest, GateRefusedMoveIsFailedPrecondition) {
  const dv1::Deal deal = MustDeal();
  auto r = client_->Apply(Move(kQualified), Ctx(deal));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_FALSE(IsTransient(r.status()));
  EXPECT_TRUE(absl::StrContains(r.status().message(), "amount")) << r.status();
  EXPECT_EQ(Deal(deal.id()).stage_id(), kNew);
}

// ---------------------------------------------------------------------------------------------------
// copy_deal

TEST_F(ActionsTest, CopyDealMakesOneCopyPerContext) {
  const dv1::Deal deal = MustDeal("Квартира 2к");
  rv1::Action a;
  a.mutable_copy_deal()->set_pipeline_id(kOther);
  a.mutable_copy_deal()->set_responsible_id(kBoris);
  a.mutable_copy_deal()->set_options_json(R"({"name": true, "tags": true})");
  const ActionContext ctx = Ctx(deal, "exec-7/2");
  auto first = client_->Apply(a, ctx);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(absl::StartsWith(*first, "copy ")) << *first;
  auto again = client_->Apply(a, ctx);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first);

  const dv1::Deal copy = Deal(first->substr(5));
  EXPECT_EQ(copy.copied_from_id(), deal.id());
  EXPECT_EQ(copy.pipeline_id(), kOther);
  EXPECT_EQ(copy.stage_id(), kOtherStage);
  EXPECT_EQ(copy.responsible_id(), kBoris);
  EXPECT_EQ(copy.name(), "Квартира 2к");
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM deals WHERE copied_from_id = '", deal.id(), "'")), 1);

  // Another execution makes another copy; a redacted one has the neutral name.
  a.mutable_copy_deal()->set_redacted(true);
  auto partner = client_->Apply(a, Ctx(deal, "exec-8/2"));
  ASSERT_TRUE(partner.ok()) << partner.status();
  EXPECT_NE(*partner, *first);
  EXPECT_TRUE(absl::StartsWith(Deal(partner->substr(5)).name(), "Копия для партнёра"));

  a.mutable_copy_deal()->set_options_json("{not json");
  EXPECT_EQ(client_->Apply(a, Ctx(deal, "exec-9/2")).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------------
// create_task, add_comment

TEST_F(ActionsTest, CreateTaskForTheDealsResponsible) {
  const dv1::Deal deal = MustDeal();
  ActionContext ctx = Ctx(deal);
  auto r = client_->Apply(Task("Срочно связаться", absl::Hours(1), false), ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::vector<dv1::Task> tasks = Tasks(deal.id());
  ASSERT_EQ(tasks.size(), 1u);
  const dv1::Task& t = tasks[0];
  EXPECT_EQ(*r, absl::StrCat("task ", t.id(), " due ",
                             absl::FormatTime("%Y-%m-%d %H:%M %Z", ctx.now + absl::Hours(1), msk_)));
  EXPECT_EQ(t.title(), "Срочно связаться");
  EXPECT_EQ(t.kind(), dv1::Task::CALL);
  EXPECT_EQ(t.responsible_id(), kAnna);
  EXPECT_EQ(t.creator_id(), kHead);  // the rule's author
  EXPECT_EQ(FromProtoTimestamp(t.due_time()), ctx.now + absl::Hours(1));

  // Another user as the responsible; forms not supported yet are refused.
  auto boris = client_->Apply(Task("Проверить", absl::Hours(2), false, absl::StrCat("user:", kBoris)),
                              Ctx(deal, "exec-1/1"));
  ASSERT_TRUE(boris.ok()) << boris.status();
  bool found = false;
  for (const auto& task : Tasks(deal.id())) found |= task.title() == "Проверить" && task.responsible_id() == kBoris;
  EXPECT_TRUE(found);
  EXPECT_EQ(client_->Apply(Task("x", absl::Hours(1), false, "role:head_of_sales"), Ctx(deal, "exec-1/2"))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  rv1::Action bad_kind = Task("x", absl::Hours(1), false);
  bad_kind.mutable_create_task()->set_kind("party");
  EXPECT_EQ(client_->Apply(bad_kind, Ctx(deal, "exec-1/3")).status().code(), absl::StatusCode::kInvalidArgument);
}

// Created on Friday at 18:30 in Moscow (after hours) with "1 working hour": due Monday 10:00.
TEST_F(ActionsTest, WorkingTimeDeadlineSkipsTheWeekend) {
  const dv1::Deal deal = MustDeal();
  ActionContext ctx = Ctx(deal);
  ctx.now = absl::FromCivil(absl::CivilMinute(2026, 11, 27, 18, 30), msk_);  // Friday
  auto r = client_->Apply(Task("Срочно связаться", absl::Hours(1), true), ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::vector<dv1::Task> tasks = Tasks(deal.id());
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(FromProtoTimestamp(tasks[0].due_time()), absl::FromCivil(absl::CivilMinute(2026, 11, 30, 10, 0), msk_));
  EXPECT_TRUE(absl::EndsWith(*r, "due 2026-11-30 10:00 MSK")) << *r;
}

TEST_F(ActionsTest, DueTimeCountsWholeDaysAsWorkingDays) {
  const absl::Time wed = absl::FromCivil(absl::CivilMinute(2026, 11, 25, 11, 0), msk_);
  const absl::Time fri_evening = absl::FromCivil(absl::CivilMinute(2026, 11, 27, 18, 30), msk_);
  auto at = [&](int y, int m, int d, int h, int min) { return absl::FromCivil(absl::CivilMinute(y, m, d, h, min), msk_); };
  EXPECT_EQ(*client_->DueTime(wed, absl::Hours(48), true), at(2026, 11, 27, 11, 0));   // "2 working days"
  EXPECT_EQ(*client_->DueTime(wed, absl::Hours(72), true), at(2026, 11, 30, 11, 0));   // over the weekend
  EXPECT_EQ(*client_->DueTime(wed, absl::Hours(8), true), at(2026, 11, 26, 10, 0));    // 7 h Wed + 1 h Thu
  EXPECT_EQ(*client_->DueTime(fri_evening, absl::Hours(1), true), at(2026, 11, 30, 10, 0));
  EXPECT_EQ(*client_->DueTime(fri_evening, absl::Hours(1), false), fri_evening + absl::Hours(1));
  DealsClient no_calendar(channel_, &*gateway_key_, nullptr, msk_);
  EXPECT_EQ(no_calendar.DueTime(wed, absl::Hours(1), true).status().code(), absl::StatusCode::kInvalidArgument);
}

// Needs deals' CreateTask to honour idempotency-key (services/deals/tasks.cc).
TEST_F(ActionsTest, CreateTaskTwiceWithTheSameContextMakesOneTask) {
  const dv1::Deal deal = MustDeal();
  const ActionContext ctx = Ctx(deal, "exec-3/0");
  auto first = client_->Apply(Task("Срочно связаться", absl::Minutes(30), false), ctx);
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = client_->Apply(Task("Срочно связаться", absl::Minutes(30), false), ctx);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(Tasks(deal.id()).size(), 1u);
}

// Needs deals' AddComment to honour idempotency-key (services/deals/timeline.cc).
TEST_F(ActionsTest, AddCommentOncePerContext) {
  const dv1::Deal deal = MustDeal();
  rv1::Action a;
  a.mutable_add_comment()->set_text("Клиент не отвечает 30 минут");
  const ActionContext ctx = Ctx(deal, "exec-4/1");
  auto first = client_->Apply(a, ctx);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(absl::StartsWith(*first, "comment ")) << *first;
  std::vector<dv1::TimelineEntry> comments = Comments(deal.id());
  ASSERT_EQ(comments.size(), 1u);
  EXPECT_EQ(comments[0].text(), "Клиент не отвечает 30 минут");
  EXPECT_EQ(comments[0].actor_id(), kHead);
  auto again = client_->Apply(a, ctx);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(Comments(deal.id()).size(), 1u);
}

// ---------------------------------------------------------------------------------------------------
// The call itself

// Needs deals to copy x-crm-automation-depth into its events' envelopes.
TEST_F(ActionsTest, AutomationDepthReachesDealsEvents) {
  const dv1::Deal deal = MustDeal();
  ActionContext ctx = Ctx(deal);
  ctx.depth = 2;
  ASSERT_TRUE(client_->Apply(Tag(kTag), ctx).ok());
  const auto events = Events(deal.id(), deals::kDealUpdatedType);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].automation_depth(), 2);
  // The deal's creation by a person has none.
  const auto created = Events(deal.id(), deals::kDealCreatedType);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].automation_depth(), 0);
}

TEST_F(ActionsTest, NotDealActionsAreUnimplemented) {
  const dv1::Deal deal = MustDeal();
  rv1::Action notify;
  notify.mutable_notify()->add_recipients("responsible");
  EXPECT_EQ(client_->Apply(notify, Ctx(deal)).status().code(), absl::StatusCode::kUnimplemented);
  rv1::Action report;
  report.mutable_start_report()->set_report("end_of_day");
  EXPECT_EQ(client_->Apply(report, Ctx(deal)).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(client_->Apply(rv1::Action(), Ctx(deal)).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ActionsTest, GetDealAndListOpenDeals) {
  std::vector<std::string> open;
  for (int i = 0; i < 4; ++i) open.push_back(MustDeal(absl::StrCat("Сделка ", i)).id());
  const dv1::Deal won = MustDeal("Выиграна");
  ASSERT_TRUE(client_->Apply(Move(kWon), Ctx(won)).ok());
  ASSERT_TRUE(client_->Apply(Set("custom.area", "12"), Ctx(Deal(open[0]))).ok());

  auto got = client_->GetDeal(open[0]);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->fields_size(), 1);
  EXPECT_EQ(client_->GetDeal(NewUuidV7()).status().code(), absl::StatusCode::kNotFound);

  auto all = client_->ListOpenDeals(kPipeline, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  std::vector<std::string> ids;
  for (const auto& d : *all) ids.push_back(d.id());
  std::sort(ids.begin(), ids.end());
  std::sort(open.begin(), open.end());
  EXPECT_EQ(ids, open);
  for (const auto& d : *all) {
    if (d.id() == open[0]) {
      EXPECT_EQ(d.fields_size(), 1);  // full deals, not cards
    }
  }
  auto some = client_->ListOpenDeals(kPipeline, 3);
  ASSERT_TRUE(some.ok()) << some.status();
  EXPECT_EQ(some->size(), 3u);
  auto none = client_->ListOpenDeals(kOther, 100);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

// A principal the server does not trust is refused: the client signs, and with another key it fails.
TEST_F(ActionsTest, UntrustedKeyIsUnauthenticated) {
  const dv1::Deal deal = MustDeal();
  auto other = auth::SigningKey::Generate("robots-untrusted");
  ASSERT_TRUE(other.ok());
  DealsClient client(channel_, &*other, calendar_.get(), msk_, {.clock = &clock_});
  EXPECT_EQ(client.GetDeal(deal.id()).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(client.Apply(Tag(kTag), Ctx(deal)).status().code(), absl::StatusCode::kUnauthenticated);
  // Unsigned (development mode) is not believed by a server that trusts keys.
  DealsClient unsigned_client(channel_, nullptr, calendar_.get(), msk_);
  EXPECT_EQ(unsigned_client.GetDeal(deal.id()).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Deal(deal.id()).tags().empty());
}

TEST_F(ActionsTest, DealsDownIsUnavailableAndTransient) {
  const dv1::Deal deal = MustDeal();
  // Nothing listens there.
  DealsClient nowhere(grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()), &*gateway_key_,
                      calendar_.get(), msk_, {.timeout = absl::Seconds(2), .clock = &clock_});
  absl::Status s = nowhere.Apply(Tag(kTag), Ctx(deal)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_TRUE(IsTransient(s));

  // The server goes away.
  server_->Shutdown();
  server_->Wait();
  server_.reset();
  s = client_->Apply(Task("Срочно связаться", absl::Hours(1), false), Ctx(deal)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_TRUE(IsTransient(s));
  s = client_->GetDeal(deal.id()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
}

TEST(IsTransientTest, Codes) {
  EXPECT_TRUE(IsTransient(absl::UnavailableError("")));
  EXPECT_TRUE(IsTransient(absl::DeadlineExceededError("")));
  EXPECT_TRUE(IsTransient(absl::AbortedError("")));
  EXPECT_TRUE(IsTransient(absl::ResourceExhaustedError("")));
  EXPECT_TRUE(IsTransient(absl::InternalError("")));
  EXPECT_TRUE(IsTransient(absl::UnknownError("")));
  EXPECT_FALSE(IsTransient(absl::OkStatus()));
  EXPECT_FALSE(IsTransient(absl::InvalidArgumentError("")));
  EXPECT_FALSE(IsTransient(absl::NotFoundError("")));
  EXPECT_FALSE(IsTransient(absl::FailedPreconditionError("")));
  EXPECT_FALSE(IsTransient(absl::PermissionDeniedError("")));
  EXPECT_FALSE(IsTransient(absl::UnauthenticatedError("")));
  EXPECT_FALSE(IsTransient(absl::UnimplementedError("")));
}

}  // namespace
}  // namespace crm::robots
