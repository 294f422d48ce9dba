// File: services/deals/tasks_test.cc
// TaskService and TimelineService end to end on the ServiceTest harness (deals_testing.h): an
// in-process crm::rpc::Server on loopback (with DealService to make deals) trusting a test gateway key,
// a fresh PostgreSQL database per test (CRM_TEST_PG_DSN) with the events and deals migrations, a
// ManualClock and a temp-dir blob store.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <pqxx/binarystring>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "crm/deals/v1/tasks.grpc.pb.h"
#include "crm/events/v1/envelope.pb.h"
#include "libs/auth/secrets.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/rpc/call.h"
#include "services/deals/access.h"
#include "services/deals/deals.h"
#include "services/deals/deals_testing.h"
#include "services/deals/tasks.h"
#include "services/deals/timeline.h"

namespace crm::deals {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using grpc::StatusCode;

using namespace crm::deals::fixture;  // NOLINT: the fixture's users and ids

class TasksTest : public ServiceTest {
 protected:
  TasksTest() : ServiceTest("dtasks") {}

  void SetUp() override {
    clock_.Set(absl::FromUnixSeconds(1'800'000'000));
    ASSERT_NO_FATAL_FAILURE(ServiceTest::SetUp());
    Sql(absl::StrCat("INSERT INTO pipelines (id, name, currency) VALUES ('", kPipeline, "', 'Продажа', 'RUB');",
                     "INSERT INTO stages (id, pipeline_id, position, name, kind, gates) VALUES ('", kNew, "', '",
                     kPipeline, "', 1, 'Неразобранное', 1, '{}');"));
    blob_dir_ = std::filesystem::temp_directory_path() / absl::StrCat("dtasks-blobs-", NewUuidV7());
    blobs_ = std::make_unique<LocalDirBlobStore>(blob_dir_.string(), kMaxAttachmentBytes);
    deals_ = std::make_unique<DealStore>(*pool_, clock_);
    tasks_ = std::make_unique<TaskStore>(*pool_, clock_);
    timeline_ = std::make_unique<TimelineStore>(*pool_, clock_, *blobs_);
    deal_service_ = std::make_unique<DealServiceImpl>(*deals_);
    task_service_ = std::make_unique<TaskServiceImpl>(*tasks_);
    timeline_service_ = std::make_unique<TimelineServiceImpl>(*timeline_);
    auto channel = Serve({deal_service_.get(), task_service_.get(), timeline_service_.get()});
    deal_stub_ = v1::DealService::NewStub(channel);
    task_stub_ = v1::TaskService::NewStub(channel);
    timeline_stub_ = v1::TimelineService::NewStub(channel);
  }

  void TearDown() override {
    ServiceTest::TearDown();
    std::error_code ec;
    std::filesystem::remove_all(blob_dir_, ec);
  }

  // The overdue events in the outbox, oldest first.
  std::vector<crm::events::v1::Envelope> OverdueEvents() {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<crm::events::v1::Envelope> out;
    for (const pqxx::row& r : tx.exec("SELECT aggregateid, payload FROM outbox WHERE aggregatetype = 'task' AND "
                                      "type = 'crm.deals.task.overdue.v1' ORDER BY seq")) {
      crm::events::v1::Envelope env;
      pqxx::binarystring raw(r[1]);
      EXPECT_TRUE(env.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
      EXPECT_EQ(env.subject(), r[0].as<std::string>());
      out.push_back(std::move(env));
    }
    return out;
  }
  static std::string OverdueTaskId(const crm::events::v1::Envelope& env) {
    v1::TaskOverdue ev;
    EXPECT_TRUE(env.payload().UnpackTo(&ev));
    return ev.task().id();
  }

  v1::Deal MustDeal(const Principal& p, const std::string& responsible = "") {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::CreateDealRequest req;
    req.mutable_deal()->set_name("Квартира");
    req.mutable_deal()->set_pipeline_id(kPipeline);
    req.mutable_deal()->set_responsible_id(responsible);
    v1::Deal out;
    grpc::Status s = deal_stub_->CreateDeal(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    clock_.Advance(absl::Seconds(1));
    return out;
  }
  v1::Deal GetDeal(const std::string& id) {
    grpc::ClientContext ctx;
    As(ctx, Head());
    v1::GetDealRequest req;
    req.set_id(id);
    v1::Deal out;
    grpc::Status s = deal_stub_->GetDeal(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }
  v1::Task NewTask(const std::string& deal_id, v1::Task::Kind kind, absl::Duration due_in) {
    v1::Task t;
    t.set_deal_id(deal_id);
    t.set_kind(kind);
    t.set_title("Позвонить клиенту");
    *t.mutable_due_time() = ToProtoTimestamp(clock_.Now() + due_in);
    return t;
  }
  grpc::Status CreateTask(const Principal& p, const v1::Task& t, v1::Task* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::CreateTaskRequest req;
    *req.mutable_task() = t;
    return task_stub_->CreateTask(&ctx, req, out);
  }
  v1::Task MustTask(const Principal& p, const v1::Task& t) {
    v1::Task out;
    grpc::Status s = CreateTask(p, t, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    clock_.Advance(absl::Seconds(1));
    return out;
  }
  grpc::Status Complete(const Principal& p, const std::string& id, const std::string& result, int64_t version,
                        v1::Task* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::CompleteTaskRequest req;
    req.set_id(id);
    req.set_result(result);
    req.set_version(version);
    return task_stub_->CompleteTask(&ctx, req, out);
  }
  grpc::Status Cancel(const Principal& p, const std::string& id, v1::Task* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    v1::CancelTaskRequest req;
    req.set_id(id);
    return task_stub_->CancelTask(&ctx, req, out);
  }
  grpc::Status ListTasks(const Principal& p, const v1::ListTasksRequest& req, v1::ListTasksResponse* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    return task_stub_->ListTasks(&ctx, req, out);
  }
  grpc::Status Comment(const Principal& p, const v1::AddCommentRequest& req, v1::TimelineEntry* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    return timeline_stub_->AddComment(&ctx, req, out);
  }
  grpc::Status Upload(const Principal& p, const v1::UploadAttachmentRequest& req, v1::Attachment* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    return timeline_stub_->UploadAttachment(&ctx, req, out);
  }
  grpc::Status Timeline(const Principal& p, const v1::ListTimelineRequest& req, v1::ListTimelineResponse* out) {
    grpc::ClientContext ctx;
    As(ctx, p);
    return timeline_stub_->ListTimeline(&ctx, req, out);
  }

  std::filesystem::path blob_dir_;
  std::unique_ptr<LocalDirBlobStore> blobs_;
  std::unique_ptr<DealStore> deals_;
  std::unique_ptr<TaskStore> tasks_;
  std::unique_ptr<TimelineStore> timeline_;
  std::unique_ptr<DealServiceImpl> deal_service_;
  std::unique_ptr<TaskServiceImpl> task_service_;
  std::unique_ptr<TimelineServiceImpl> timeline_service_;
  std::unique_ptr<v1::DealService::Stub> deal_stub_;
  std::unique_ptr<v1::TaskService::Stub> task_stub_;
  std::unique_ptr<v1::TimelineService::Stub> timeline_stub_;
};

TEST_F(TasksTest, NextTaskTimeIsTheEarliestOpenTaskAndClearsWhenNoneLeft) {
  const v1::Deal deal = MustDeal(Anna());
  EXPECT_FALSE(deal.has_next_task_time());  // the card shows «Нет задач»
  const v1::Task later = MustTask(Anna(), NewTask(deal.id(), v1::Task::FOLLOW_UP, absl::Hours(48)));
  const v1::Task sooner = MustTask(Anna(), NewTask(deal.id(), v1::Task::CALL, absl::Hours(2)));
  EXPECT_EQ(sooner.responsible_id(), kAnna);  // defaults to the deal's responsible
  EXPECT_EQ(sooner.creator_id(), kAnna);
  EXPECT_EQ(sooner.status(), v1::Task::OPEN);
  v1::Deal now = GetDeal(deal.id());
  EXPECT_EQ(FromProtoTimestamp(now.next_task_time()), FromProtoTimestamp(sooner.due_time()));
  EXPECT_EQ(now.version(), deal.version());  // tasks do not bump the deal

  // A call needs its result.
  v1::Task done;
  grpc::Status s = Complete(Anna(), sooner.id(), "", 0, &done);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "result")) << s.error_message();
  ASSERT_TRUE(Complete(Anna(), sooner.id(), "Договорились о показе", sooner.version(), &done).ok());
  EXPECT_EQ(done.status(), v1::Task::DONE);
  EXPECT_EQ(done.result(), "Договорились о показе");
  EXPECT_TRUE(done.has_completed_time());
  EXPECT_EQ(FromProtoTimestamp(GetDeal(deal.id()).next_task_time()), FromProtoTimestamp(later.due_time()));

  v1::Task cancelled;
  ASSERT_TRUE(Cancel(Anna(), later.id(), &cancelled).ok());
  EXPECT_EQ(cancelled.status(), v1::Task::CANCELLED);
  now = GetDeal(deal.id());
  EXPECT_FALSE(now.has_next_task_time());
  EXPECT_EQ(now.version(), deal.version());

  // A finished task cannot be completed again.
  EXPECT_EQ(Complete(Anna(), sooner.id(), "again", 0, &done).error_code(), StatusCode::FAILED_PRECONDITION);

  // Events: two created, one completed, one cancelled, all on the task aggregate.
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE aggregatetype = 'task' AND type = 'crm.deals.task.created.v1'"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE aggregatetype = 'task' AND type = 'crm.deals.task.completed.v1'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE aggregatetype = 'task' AND type = 'crm.deals.task.cancelled.v1'"), 1);
}

TEST_F(TasksTest, ValidationNamesTheField) {
  const v1::Deal deal = MustDeal(Anna());
  v1::Task out;
  v1::Task t = NewTask(deal.id(), v1::Task::CALL, absl::Hours(1));
  t.clear_title();
  grpc::Status s = CreateTask(Anna(), t, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "task.title")) << s.error_message();
  t = NewTask(deal.id(), v1::Task::KIND_UNSPECIFIED, absl::Hours(1));
  s = CreateTask(Anna(), t, &out);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "task.kind")) << s.error_message();
  t = NewTask(deal.id(), v1::Task::CALL, absl::Hours(1));
  t.clear_due_time();
  s = CreateTask(Anna(), t, &out);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "task.due_time")) << s.error_message();
  t = NewTask("nope", v1::Task::CALL, absl::Hours(1));
  s = CreateTask(Anna(), t, &out);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "task.deal_id")) << s.error_message();
  t = NewTask(deal.id(), v1::Task::CALL, absl::Hours(1));
  t.set_title(std::string(501, 'x'));
  s = CreateTask(Anna(), t, &out);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "task.title")) << s.error_message();
  t = NewTask(NewUuidV7(), v1::Task::CALL, absl::Hours(1));
  EXPECT_EQ(CreateTask(Anna(), t, &out).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Count("SELECT count(*) FROM tasks"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE aggregatetype = 'task'"), 0);
}

TEST_F(TasksTest, VersionConflictAndUpdateRecomputesReminder) {
  const v1::Deal deal = MustDeal(Anna());
  const v1::Task t = MustTask(Anna(), NewTask(deal.id(), v1::Task::EMAIL, absl::Hours(5)));
  v1::Task upd = t;
  *upd.mutable_due_time() = ToProtoTimestamp(clock_.Now() + absl::Hours(1));
  grpc::ClientContext ctx;
  As(ctx, Anna());
  v1::UpdateTaskRequest req;
  *req.mutable_task() = upd;
  req.mutable_update_mask()->add_paths("due_time");
  v1::Task updated;
  ASSERT_TRUE(task_stub_->UpdateTask(&ctx, req, &updated).ok());
  EXPECT_EQ(updated.version(), t.version() + 1);
  EXPECT_EQ(FromProtoTimestamp(GetDeal(deal.id()).next_task_time()), FromProtoTimestamp(upd.due_time()));
  // The old version is stale now.
  grpc::ClientContext ctx2;
  As(ctx2, Anna());
  EXPECT_EQ(task_stub_->UpdateTask(&ctx2, req, &updated).error_code(), StatusCode::ABORTED);
  v1::Task done;
  EXPECT_EQ(Complete(Anna(), t.id(), "ok", t.version(), &done).error_code(), StatusCode::ABORTED);
  EXPECT_TRUE(Complete(Anna(), t.id(), "", t.version() + 1, &done).ok());  // EMAIL needs no result
}

TEST_F(TasksTest, AccessFollowsTheDealAndTheResponsibleCompletesOwnTask) {
  const v1::Deal deal = MustDeal(Anna());
  v1::Task out;
  const v1::Task t = NewTask(deal.id(), v1::Task::FOLLOW_UP, absl::Hours(3));
  EXPECT_EQ(CreateTask(Boris(), t, &out).error_code(), StatusCode::NOT_FOUND);          // own, not his deal
  EXPECT_EQ(CreateTask(Auditor(), t, &out).error_code(), StatusCode::PERMISSION_DENIED);  // read-only
  EXPECT_TRUE(CreateTask(Lena(), t, &out).ok());                                       // team
  v1::Task for_boris = t;
  for_boris.set_responsible_id(kBoris);
  const v1::Task borises = MustTask(Head(), for_boris);  // all
  EXPECT_EQ(borises.responsible_id(), kBoris);
  // Boris cannot see the deal but may complete his own task and sees it in "mine".
  v1::ListTasksRequest mine;
  mine.set_responsible("me");
  v1::ListTasksResponse resp;
  ASSERT_TRUE(ListTasks(Boris(), mine, &resp).ok());
  ASSERT_EQ(resp.tasks_size(), 1);
  EXPECT_EQ(resp.tasks(0).id(), borises.id());
  EXPECT_EQ(Cancel(Boris(), borises.id(), &out).error_code(), StatusCode::NOT_FOUND);
  v1::Task done;
  EXPECT_TRUE(Complete(Boris(), borises.id(), "", 0, &done).ok());
  // Boris cannot complete Anna's task.
  EXPECT_EQ(Complete(Boris(), out.id(), "", 0, &done).error_code(), StatusCode::NOT_FOUND);
  // Anna (own) sees both tasks of her deal.
  v1::ListTasksRequest by_deal;
  by_deal.set_deal_id(deal.id());
  ASSERT_TRUE(ListTasks(Anna(), by_deal, &resp).ok());
  EXPECT_EQ(resp.tasks_size(), 2);
}

TEST_F(TasksTest, ListsFollowTheDealsResponsibleThroughTheTeamAndAReassignment) {
  const v1::Deal deal = MustDeal(Anna());
  v1::Task for_boris = NewTask(deal.id(), v1::Task::CALL, absl::Hours(1));
  for_boris.set_responsible_id(kBoris);
  const v1::Task borises = MustTask(Head(), for_boris);
  const v1::Task annas = MustTask(Head(), NewTask(deal.id(), v1::Task::CALL, absl::Hours(2)));
  EXPECT_EQ(annas.responsible_id(), kAnna);
  const auto listed = [&](const Principal& p) {
    v1::ListTasksResponse resp;
    EXPECT_TRUE(ListTasks(p, v1::ListTasksRequest(), &resp).ok());
    std::vector<std::string> ids;
    for (const auto& t : resp.tasks()) ids.push_back(t.id());
    return ids;
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(listed(Anna()), (Ids{borises.id(), annas.id()}));  // her deal's
  EXPECT_EQ(listed(Lena()), (Ids{borises.id(), annas.id()}));  // her team's deal
  EXPECT_EQ(listed(Boris()), (Ids{borises.id()}));             // his own task only

  // The deal goes to Boris: its tasks follow it in the lists (Anna keeps her own task).
  grpc::ClientContext ctx;
  As(ctx, Head());
  v1::UpdateDealRequest req;
  *req.mutable_deal() = GetDeal(deal.id());
  req.mutable_deal()->set_responsible_id(kBoris);
  req.mutable_update_mask()->add_paths("responsible_id");
  v1::Deal moved;
  ASSERT_TRUE(deal_stub_->UpdateDeal(&ctx, req, &moved).ok());
  EXPECT_EQ(listed(Anna()), (Ids{annas.id()}));
  EXPECT_EQ(listed(Lena()), Ids{});
  EXPECT_EQ(listed(Boris()), (Ids{borises.id(), annas.id()}));
  EXPECT_EQ(listed(Head()), (Ids{borises.id(), annas.id()}));
}

TEST_F(TasksTest, OverdueUsesTheClockAndListsPageByDueTime) {
  const v1::Deal deal = MustDeal(Anna());
  std::vector<std::string> ids;
  for (int i = 1; i <= 5; ++i) {
    ids.push_back(MustTask(Anna(), NewTask(deal.id(), v1::Task::CUSTOM, absl::Hours(i))).id());
  }
  v1::ListTasksRequest req;
  req.set_overdue(true);
  v1::ListTasksResponse resp;
  ASSERT_TRUE(ListTasks(Anna(), req, &resp).ok());
  EXPECT_EQ(resp.tasks_size(), 0);
  clock_.Advance(absl::Hours(2) + absl::Minutes(30));  // tasks 1 and 2 are due now
  ASSERT_TRUE(ListTasks(Anna(), req, &resp).ok());
  ASSERT_EQ(resp.tasks_size(), 2);
  EXPECT_EQ(resp.tasks(0).id(), ids[0]);
  EXPECT_EQ(resp.tasks(1).id(), ids[1]);

  std::vector<std::string> seen;
  v1::ListTasksRequest page;
  page.set_deal_id(deal.id());
  page.set_status(v1::Task::OPEN);
  page.set_page_size(2);
  for (int guard = 0; guard < 10; ++guard) {
    ASSERT_TRUE(ListTasks(Anna(), page, &resp).ok());
    for (const auto& t : resp.tasks()) seen.push_back(t.id());
    if (resp.next_page_token().empty()) break;
    page.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(seen, ids);
  page.set_page_token("garbage");
  grpc::Status s = ListTasks(Anna(), page, &resp);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "page_token")) << s.error_message();
}

TEST_F(TasksTest, CommentWithAttachmentIsStoredAndListed) {
  const v1::Deal deal = MustDeal(Anna());
  v1::UploadAttachmentRequest up;
  up.set_deal_id(deal.id());
  up.set_file_name("plan.pdf");
  up.set_content_type("application/pdf");
  up.set_content("%PDF-1.4 план квартиры");
  v1::Attachment att;
  ASSERT_TRUE(Upload(Anna(), up, &att).ok());
  EXPECT_EQ(att.sha256(), auth::Sha256Hex(up.content()));
  EXPECT_EQ(att.size_bytes(), static_cast<int64_t>(up.content().size()));
  auto stored = blobs_->Get(att.sha256());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, up.content());
  EXPECT_TRUE(std::filesystem::exists(blob_dir_ / att.sha256().substr(0, 2) / att.sha256()));
  EXPECT_EQ(Upload(Boris(), up, &att).error_code(), StatusCode::NOT_FOUND);

  v1::AddCommentRequest c;
  c.set_deal_id(deal.id());
  c.set_text("Клиент прислал план");
  c.add_attachment_ids(att.id());
  v1::TimelineEntry entry;
  ASSERT_TRUE(Comment(Anna(), c, &entry).ok());
  EXPECT_EQ(entry.kind(), v1::TimelineEntry::COMMENT);
  EXPECT_EQ(entry.actor_id(), kAnna);
  ASSERT_EQ(entry.attachments_size(), 1);
  EXPECT_EQ(entry.attachments(0).file_name(), "plan.pdf");
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE aggregatetype = 'deal' AND "
                  "type = 'crm.deals.deal.comment_added.v1'"),
            1);
  // An attachment belongs to one comment: reusing it fails and writes nothing (no entry, no event).
  grpc::Status s = Comment(Anna(), c, &entry);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "attachment_ids[0]")) << s.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM timeline_entries WHERE kind = 1"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE type = 'crm.deals.deal.comment_added.v1'"), 1);

  v1::ListTimelineRequest lr;
  lr.set_deal_id(deal.id());
  v1::ListTimelineResponse tl;
  ASSERT_TRUE(Timeline(Anna(), lr, &tl).ok());
  ASSERT_EQ(tl.entries_size(), 1);
  ASSERT_EQ(tl.entries(0).attachments_size(), 1);
  EXPECT_EQ(tl.entries(0).attachments(0).sha256(), att.sha256());

  // Text limits and access.
  c.clear_attachment_ids();
  c.set_text(std::string(10001, 'a'));
  s = Comment(Anna(), c, &entry);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "text")) << s.error_message();
  c.set_text("ok");
  EXPECT_EQ(Comment(Auditor(), c, &entry).error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Timeline(Boris(), lr, &tl).error_code(), StatusCode::NOT_FOUND);
}

// CreateTask with an idempotency-key (a robot's retried action): the repeat returns the first task and
// writes no second task, timeline entry or event; the key with another task is refused naming it.
TEST_F(TasksTest, CreateTaskWithIdempotencyKeyMakesOneTask) {
  const v1::Deal deal = MustDeal(Anna());
  auto create = [&](const v1::Task& t, const std::string& key, v1::Task* out) {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    if (!key.empty()) ctx.AddMetadata(rpc::kIdempotencyKeyHeader, key);
    v1::CreateTaskRequest req;
    *req.mutable_task() = t;
    return task_stub_->CreateTask(&ctx, req, out);
  };
  const v1::Task t = NewTask(deal.id(), v1::Task::CALL, absl::Hours(2));
  v1::Task first, again;
  ASSERT_TRUE(create(t, "robot-rule-1:event-1", &first).ok());
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(create(t, "robot-rule-1:event-1", &again).ok());
  EXPECT_EQ(again.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(Count("SELECT count(*) FROM tasks"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE type = 'crm.deals.task.created.v1'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM timeline_entries WHERE kind <> 1"), 1);  // TASK_CREATED once
  // The same key with another task: refused, nothing written.
  v1::Task other = t;
  other.set_title("Другая задача");
  grpc::Status s = create(other, "robot-rule-1:event-1", &again);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FirstField(s), "idempotency-key");
  EXPECT_EQ(Count("SELECT count(*) FROM tasks"), 1);
  // Another key, or none, makes another task.
  ASSERT_TRUE(create(t, "robot-rule-1:event-2", &again).ok());
  EXPECT_NE(again.id(), first.id());
  ASSERT_TRUE(create(t, "", &again).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM tasks"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE type = 'crm.deals.task.created.v1'"), 3);
}

TEST_F(TasksTest, ConcurrentCreateTasksWithOneKeyMakeOneTask) {
  const v1::Deal deal = MustDeal(Anna());
  const v1::Task t = NewTask(deal.id(), v1::Task::EMAIL, absl::Hours(1));
  constexpr int kCalls = 3;
  std::vector<v1::Task> got(kCalls);
  std::vector<grpc::Status> status(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      grpc::ClientContext ctx;
      As(ctx, Anna());
      ctx.AddMetadata(rpc::kIdempotencyKeyHeader, "same-key");
      v1::CreateTaskRequest req;
      *req.mutable_task() = t;
      status[i] = task_stub_->CreateTask(&ctx, req, &got[i]);
    });
  }
  for (std::thread& th : threads) th.join();
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(status[i].ok()) << status[i].error_message();
    EXPECT_EQ(got[i].id(), got[0].id());
  }
  EXPECT_EQ(Count("SELECT count(*) FROM tasks"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE type = 'crm.deals.task.created.v1'"), 1);
}

// Task and comment events carry the call's automation causation; calls without it write 0 / false.
TEST_F(TasksTest, TaskAndCommentEventsCarryTheAutomationCausation) {
  const v1::Deal deal = MustDeal(Anna());
  v1::Task robot_task;
  {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    ctx.AddMetadata(rpc::kAutomationDepthHeader, "3");
    ctx.AddMetadata(rpc::kSkipAutomationHeader, "true");
    v1::CreateTaskRequest req;
    *req.mutable_task() = NewTask(deal.id(), v1::Task::CALL, absl::Hours(1));
    ASSERT_TRUE(task_stub_->CreateTask(&ctx, req, &robot_task).ok());
  }
  {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    ctx.AddMetadata(rpc::kAutomationDepthHeader, "1");
    v1::AddCommentRequest req;
    req.set_deal_id(deal.id());
    req.set_text("Робот напомнил");
    v1::TimelineEntry entry;
    ASSERT_TRUE(timeline_stub_->AddComment(&ctx, req, &entry).ok());
  }
  v1::Task done;
  ASSERT_TRUE(Complete(Anna(), robot_task.id(), "Дозвонились", robot_task.version(), &done).ok());

  pqxx::connection c(db_->dsn());
  pqxx::work tx(c);
  std::vector<std::string> seen;
  for (const pqxx::row& r : tx.exec("SELECT type, payload FROM outbox WHERE type <> 'crm.deals.deal.created.v1' "
                                    "ORDER BY seq")) {
    crm::events::v1::Envelope env;
    pqxx::binarystring raw(r[1]);
    ASSERT_TRUE(env.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
    seen.push_back(absl::StrCat(r[0].as<std::string>(), " ", env.automation_depth(), " ",
                                env.skip_automation() ? "skip" : "run"));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"crm.deals.task.created.v1 3 skip",
                                            "crm.deals.deal.comment_added.v1 1 run",
                                            "crm.deals.task.completed.v1 0 run"}));
}

TEST_F(TasksTest, AttachmentSizeLimitIsEnforced) {
  const v1::Deal deal = MustDeal(Anna());
  v1::UploadAttachmentRequest up;
  up.set_deal_id(deal.id());
  up.set_file_name("big.bin");
  up.set_content(std::string(kMaxAttachmentBytes + 1, 'x'));
  auto too_big = timeline_->Upload(Actor{Anna(), ""}, up);
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(too_big.status().message(), "content")) << too_big.status();
  LocalDirBlobStore small(blob_dir_.string(), 4);
  EXPECT_EQ(small.Put("12345").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(small.Put("1234").ok());
  EXPECT_EQ(Count("SELECT count(*) FROM attachments"), 0);
}

TEST_F(TasksTest, TimelineIsNewestFirstWithKeysetPagesAndDealChanges) {
  const v1::Deal deal = MustDeal(Anna());
  std::vector<std::string> expected;  // newest first
  const v1::Task t = MustTask(Anna(), NewTask(deal.id(), v1::Task::CALL, absl::Hours(1)));
  for (int i = 0; i < 3; ++i) {
    v1::AddCommentRequest c;
    c.set_deal_id(deal.id());
    c.set_text(absl::StrCat("комментарий ", i));
    v1::TimelineEntry e;
    ASSERT_TRUE(Comment(Anna(), c, &e).ok());
    expected.insert(expected.begin(), e.id());
    clock_.Advance(absl::Seconds(1));
  }
  v1::Task done;
  ASSERT_TRUE(Complete(Anna(), t.id(), "Перезвонить завтра", 0, &done).ok());
  clock_.Advance(absl::Seconds(1));
  // What deals.cc will record for a stage change, in its own transaction.
  v1::TimelineEntry change;
  change.set_deal_id(deal.id());
  change.set_kind(v1::TimelineEntry::STAGE_CHANGED);
  change.set_actor_id(kHead);
  change.set_field("stage_id");
  change.set_old_value(kNew);
  change.set_new_value("won");
  *change.mutable_create_time() = ToProtoTimestamp(clock_.Now());
  {
    pqxx::connection conn(db_->dsn());
    pqxx::work tx(conn);
    ASSERT_TRUE(RecordDealChange(tx, change).ok());
    tx.commit();
  }
  v1::TimelineEntry bad = change;
  bad.clear_create_time();
  {
    pqxx::connection conn(db_->dsn());
    pqxx::work tx(conn);
    EXPECT_EQ(RecordDealChange(tx, bad).code(), absl::StatusCode::kInvalidArgument);
  }

  std::vector<v1::TimelineEntry> all;
  v1::ListTimelineRequest lr;
  lr.set_deal_id(deal.id());
  lr.set_page_size(2);
  for (int guard = 0; guard < 10; ++guard) {
    v1::ListTimelineResponse tl;
    ASSERT_TRUE(Timeline(Lena(), lr, &tl).ok());
    for (const auto& e : tl.entries()) all.push_back(e);
    if (tl.next_page_token().empty()) break;
    lr.set_page_token(tl.next_page_token());
  }
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0].kind(), v1::TimelineEntry::STAGE_CHANGED);
  EXPECT_EQ(all[0].actor_id(), kHead);
  EXPECT_EQ(all[0].new_value(), "won");
  EXPECT_EQ(all[1].kind(), v1::TimelineEntry::TASK_COMPLETED);
  EXPECT_EQ(all[1].task_id(), t.id());
  EXPECT_TRUE(absl::StrContains(all[1].text(), "Перезвонить завтра"));
  EXPECT_EQ(all[2].id(), expected[0]);
  EXPECT_EQ(all[3].id(), expected[1]);
  EXPECT_EQ(all[4].id(), expected[2]);
  EXPECT_EQ(all[5].kind(), v1::TimelineEntry::TASK_CREATED);
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_GE(FromProtoTimestamp(all[i - 1].create_time()), FromProtoTimestamp(all[i].create_time()));
  }
}

TEST_F(TasksTest, OverdueTaskIsReportedOnceAfterItsDueTime) {
  const v1::Deal deal = MustDeal(Anna());
  v1::Task for_boris = NewTask(deal.id(), v1::Task::CALL, absl::Hours(1));
  for_boris.set_responsible_id(kBoris);
  const v1::Task t = MustTask(Anna(), for_boris);
  const v1::Task later = MustTask(Anna(), NewTask(deal.id(), v1::Task::EMAIL, absl::Hours(5)));

  // Nothing is due yet, not even at the due time itself (overdue means due *before* now).
  ASSERT_EQ(*tasks_->ReportOverdue(), 0);
  clock_.Set(FromProtoTimestamp(t.due_time()));
  ASSERT_EQ(*tasks_->ReportOverdue(), 0);
  EXPECT_TRUE(OverdueEvents().empty());

  clock_.Advance(absl::Minutes(1));
  absl::StatusOr<int> reported = tasks_->ReportOverdue();
  ASSERT_TRUE(reported.ok()) << reported.status();
  EXPECT_EQ(*reported, 1);
  std::vector<crm::events::v1::Envelope> events = OverdueEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type(), kTaskOverdueType);
  EXPECT_EQ(events[0].subject(), t.id());
  EXPECT_EQ(OverdueTaskId(events[0]), t.id());
  v1::TaskOverdue payload;
  ASSERT_TRUE(events[0].payload().UnpackTo(&payload));
  EXPECT_EQ(payload.task().status(), v1::Task::OPEN);
  EXPECT_EQ(payload.task().version(), t.version());  // reporting is not a change of the task
  // Visible like the other task events: the task's and the deal's responsible, the deal's teams.
  EXPECT_EQ(std::set<std::string>(events[0].visible_to_user_ids().begin(), events[0].visible_to_user_ids().end()),
            (std::set<std::string>{kBoris, kAnna}));
  EXPECT_EQ(std::vector<std::string>(events[0].visible_to_team_ids().begin(), events[0].visible_to_team_ids().end()),
            std::vector<std::string>{kTeam1});
  EXPECT_EQ(events[0].actor().kind(), Principal::KIND_SERVICE);
  EXPECT_EQ(events[0].actor().service(), "deals");

  // A second scan, now or much later, reports nothing more for it.
  EXPECT_EQ(*tasks_->ReportOverdue(), 0);
  clock_.Advance(absl::Hours(3));
  EXPECT_EQ(*tasks_->ReportOverdue(), 0);
  EXPECT_EQ(OverdueEvents().size(), 1u);
  // The later task's turn comes when its own due time passes.
  clock_.Set(FromProtoTimestamp(later.due_time()) + absl::Seconds(1));
  EXPECT_EQ(*tasks_->ReportOverdue(), 1);
  events = OverdueEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(OverdueTaskId(events[1]), later.id());
  EXPECT_EQ(GetDeal(deal.id()).version(), deal.version());
}

TEST_F(TasksTest, FinishedTasksAreNeverReportedOverdue) {
  const v1::Deal deal = MustDeal(Anna());
  const v1::Task done = MustTask(Anna(), NewTask(deal.id(), v1::Task::EMAIL, absl::Hours(1)));
  const v1::Task cancelled = MustTask(Anna(), NewTask(deal.id(), v1::Task::EMAIL, absl::Hours(1)));
  v1::Task out;
  ASSERT_TRUE(Complete(Anna(), done.id(), "", 0, &out).ok());
  ASSERT_TRUE(Cancel(Anna(), cancelled.id(), &out).ok());
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(*tasks_->ReportOverdue(), 0);
  EXPECT_TRUE(OverdueEvents().empty());
  // Overdue first and completed afterwards: reported once, completed normally.
  const v1::Task late = MustTask(Anna(), NewTask(deal.id(), v1::Task::EMAIL, absl::Hours(1)));
  clock_.Advance(absl::Hours(2));
  EXPECT_EQ(*tasks_->ReportOverdue(), 1);
  ASSERT_TRUE(Complete(Anna(), late.id(), "", 0, &out).ok());
  EXPECT_EQ(*tasks_->ReportOverdue(), 0);
  EXPECT_EQ(OverdueEvents().size(), 1u);
  EXPECT_EQ(tasks_->ReportOverdue(0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TasksTest, TaskMovedLaterIsReportedAgainWhenOverdueAgain) {
  const v1::Deal deal = MustDeal(Anna());
  const v1::Task t = MustTask(Anna(), NewTask(deal.id(), v1::Task::FOLLOW_UP, absl::Hours(1)));
  clock_.Advance(absl::Hours(2));
  ASSERT_EQ(*tasks_->ReportOverdue(), 1);
  auto move_due = [&](absl::Time due) {
    grpc::ClientContext ctx;
    As(ctx, Anna());
    v1::UpdateTaskRequest req;
    req.mutable_task()->set_id(t.id());
    *req.mutable_task()->mutable_due_time() = ToProtoTimestamp(due);
    req.mutable_update_mask()->add_paths("due_time");
    v1::Task out;
    grpc::Status s = task_stub_->UpdateTask(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
  };
  // Moved to another time that has already passed: still the same overdue spell, not reported again.
  move_due(clock_.Now() - absl::Minutes(30));
  EXPECT_EQ(*tasks_->ReportOverdue(), 0);
  // Moved into the future: not overdue until that passes, then reported a second time.
  move_due(clock_.Now() + absl::Hours(1));
  EXPECT_EQ(*tasks_->ReportOverdue(), 0);
  clock_.Advance(absl::Hours(1) + absl::Seconds(1));
  EXPECT_EQ(*tasks_->ReportOverdue(), 1);
  EXPECT_EQ(*tasks_->ReportOverdue(), 0);
  const std::vector<crm::events::v1::Envelope> events = OverdueEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(OverdueTaskId(events[0]), t.id());
  EXPECT_EQ(OverdueTaskId(events[1]), t.id());
}

TEST_F(TasksTest, ConcurrentScannersReportEachTaskOnce) {
  const v1::Deal deal = MustDeal(Anna());
  constexpr int kTasks = 60;
  std::set<std::string> ids;
  for (int i = 0; i < kTasks; ++i) {
    v1::Task out;
    ASSERT_TRUE(CreateTask(Anna(), NewTask(deal.id(), v1::Task::CUSTOM, absl::Minutes(i + 1)), &out).ok());
    ids.insert(out.id());
  }
  clock_.Advance(absl::Hours(3));
  // Four replicas, each with its own pool, scanning in small batches at the same time.
  constexpr int kScanners = 4;
  std::vector<std::unique_ptr<pg::Pool>> pools;
  std::vector<std::unique_ptr<TaskStore>> stores;
  for (int i = 0; i < kScanners; ++i) {
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 1});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pools.push_back(*std::move(pool));
    stores.push_back(std::make_unique<TaskStore>(*pools.back(), clock_));
  }
  std::atomic<int> total{0};
  std::atomic<int> errors{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kScanners; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      for (int round = 0; round < 3; ++round) {
        absl::StatusOr<int> n = stores[i]->ReportOverdue(/*batch_size=*/3);
        if (n.ok()) {
          total += *n;
        } else {
          ++errors;
        }
      }
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(total.load(), kTasks);
  std::multiset<std::string> reported;
  for (const auto& env : OverdueEvents()) reported.insert(OverdueTaskId(env));
  EXPECT_EQ(reported.size(), static_cast<size_t>(kTasks));
  EXPECT_EQ(std::set<std::string>(reported.begin(), reported.end()), ids);
  EXPECT_EQ(*tasks_->ReportOverdue(), 0);
}

TEST_F(TasksTest, OverdueReporterScansOnItsThreadUntilDestroyed) {
  const v1::Deal deal = MustDeal(Anna());
  const v1::Task t = MustTask(Anna(), NewTask(deal.id(), v1::Task::CALL, absl::Minutes(5)));
  clock_.Advance(absl::Minutes(10));
  {
    OverdueReporter reporter(*tasks_, absl::Milliseconds(20));
    // Bounded wait for the reporter's thread (it scans at once, then every 20 ms).
    for (int i = 0; i < 500 && OverdueEvents().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }  // stops and joins here
  const std::vector<crm::events::v1::Envelope> events = OverdueEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(OverdueTaskId(events[0]), t.id());
  // Stopped: a task overdue now stays unreported until someone scans.
  MustTask(Anna(), NewTask(deal.id(), v1::Task::CALL, absl::Minutes(1)));
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(OverdueEvents().size(), 1u);
  EXPECT_EQ(*tasks_->ReportOverdue(), 1);
}

}  // namespace
}  // namespace crm::deals
