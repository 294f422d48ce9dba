// The robots engine against an in-process deals service on real PostgreSQL, with the demo rules of seeds
// 001 and 002 installed on deals' demo pipelines and an injected clock: the seed scenarios run as they
// would in production, minus Kafka (Pump() hands deals' outbox rows to Engine::OnEvent in commit order,
// as the idempotent consumer does; tests/e2e/robots_test.py covers the Kafka path).
#include "services/robots/engine.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "crm/deals/v1/interactions_events.pb.h"
#include "proto/crm/deals/v1/interactions_event_types.h"
#include "crm/deals/v1/tasks.grpc.pb.h"
#include "crm/identity/v1/events.pb.h"
#include "crm/robots/v1/events.pb.h"
#include "crm/telephony/v1/events.pb.h"
#include "google/protobuf/util/json_util.h"
#include "libs/base/time.h"
#include "libs/calendar/calendar.h"
#include "libs/events/consumer.h"
#include "libs/events/outbox.h"
#include "libs/events/schema.h"
#include "libs/rpc/call.h"
#include "libs/rpc/client.h"
#include "services/deals/deals_testing.h"
#include "services/deals/demo.h"
#include "services/deals/pipelines.h"
#include "services/deals/tasks.h"
#include "services/deals/timeline.h"
#include "services/robots/actions.h"
#include "services/robots/demo.h"
#include "services/robots/notify.h"
#include "services/robots/rule_store.h"
#include "libs/timers/schedules.h"
#include "libs/timers/timers.h"

namespace crm {
const std::vector<crm::pg::Migration>& RobotsMigrations();
}  // namespace crm

namespace crm::robots {
namespace {

namespace dv1 = ::crm::deals::v1;
using crm::common::v1::Principal;
using crm::deals::fixture::User;

constexpr char kLead[] = "01930000-0001-7000-8000-000000000000";
constexpr char kUnsorted[] = "01930000-0001-7000-8000-000000000001";
constexpr char kQualification[] = "01930000-0001-7000-8000-000000000002";
constexpr char kAppointed[] = "01930000-0001-7000-8000-000000000004";
constexpr char kNoShow[] = "01930000-0001-7000-8000-000000000005";
constexpr char kSales[] = "01930000-0002-7000-8000-000000000000";
constexpr char kSalesKp[] = "01930000-0002-7000-8000-000000000003";
constexpr char kManager[] = "01900000-0000-7000-8000-00000000f001";
constexpr char kRop[] = "01900000-0000-7000-8000-00000000f004";
constexpr char kTeam[] = "01900000-0000-7000-8000-00000000e001";

// A Monday 10:00 in Moscow: working time.
absl::Time MondayMorning() {
  return absl::FromCivil(absl::CivilSecond(2026, 11, 23, 10, 0, 0), *LoadTimeZone("Europe/Moscow"));
}

class EngineTest : public crm::deals::fixture::ServiceTest {
 protected:
  EngineTest() : ServiceTest("robots") {}

  void SetUp() override {
    clock_.Set(MondayMorning());
    ASSERT_NO_FATAL_FAILURE(ServiceTest::SetUp());
    ASSERT_TRUE(crm::deals::LoadDemoPipelines(*pool_).ok());
    // The demo gates (client, visit date, comment, task) are deals' business, tested there.
    Sql("UPDATE stages SET gates = '{}'::jsonb; UPDATE pipelines SET version = version + 1");
    deal_store_ = std::make_unique<crm::deals::DealStore>(*pool_, clock_);
    deal_service_ = std::make_unique<crm::deals::DealServiceImpl>(*deal_store_);
    task_store_ = std::make_unique<crm::deals::TaskStore>(*pool_, clock_);
    task_service_ = std::make_unique<crm::deals::TaskServiceImpl>(*task_store_);
    blobs_ = std::make_unique<crm::deals::LocalDirBlobStore>(::testing::TempDir() + "/robots-blobs", 1 << 20);
    timeline_store_ = std::make_unique<crm::deals::TimelineStore>(*pool_, clock_, *blobs_);
    timeline_service_ = std::make_unique<crm::deals::TimelineServiceImpl>(*timeline_store_);
    pipeline_store_ = std::make_unique<crm::deals::PipelineStore>(*pool_, clock_);
    pipeline_service_ = std::make_unique<crm::deals::PipelineServiceImpl>(pipeline_store_.get());
    channel_ =
        Serve({deal_service_.get(), task_service_.get(), timeline_service_.get(), pipeline_service_.get()});
    deals_stub_ = dv1::DealService::NewStub(channel_);
    tasks_stub_ = dv1::TaskService::NewStub(channel_);

    // The robots side: its own database, stores and engine on the same clock.
    auto db = pg::testing::TempDatabase::Create("robots_engine");
    ASSERT_TRUE(db.ok()) << db.status();
    robots_db_ = *std::move(db);
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), RobotsMigrations().begin(), RobotsMigrations().end());
    ASSERT_TRUE(pg::Migrate(robots_db_->dsn(), all).ok());
    auto pool = pg::Pool::Create({.dsn = robots_db_->dsn(), .size = 4});
    ASSERT_TRUE(pool.ok()) << pool.status();
    robots_pool_ = *std::move(pool);
    calendar_ = std::make_unique<calendar::WorkingCalendar>(
        calendar::WorkingCalendar::FiveDay(*LoadTimeZone("Europe/Moscow")));
    schedules_ = std::make_unique<timers::ScheduleStore>(*robots_pool_, clock_, [this](std::string_view) {
      return absl::StatusOr<calendar::WorkingCalendar>(*calendar_);
    });
    rules_ = std::make_unique<RuleStore>(*robots_pool_, clock_, schedules_.get(),
                                         RuleStoreOptions{.refresh = absl::ZeroDuration()});
    deals_client_ = std::make_unique<DealsClient>(channel_, &*gateway_key_, calendar_.get(),
                                                  calendar_->zone(), DealsClientOptions{.clock = &clock_});
    outbox_ = std::make_unique<events::OutboxWriter>("robots", clock_);
    engine_ = MakeEngine(*deals_client_);
    timers_ = std::make_unique<timers::TimerStore>(*robots_pool_, clock_);
    ASSERT_TRUE(InstallDemoRules(*rules_).ok());
    AddUser(kManager, "Анна Менеджерова", "anna@crm.local", {"manager"});
    AddUser(kRop, "Роман Руководителев", "rop@crm.local", {"head_of_sales"});
  }

  // The seed scenarios check each notification on its own, so digests are off unless a test sets
  // digest_window_ before SetUp() (DigestTest below).
  std::unique_ptr<Engine> MakeEngine(DealsClient& deals) {
    return std::make_unique<Engine>(*robots_pool_, clock_, *rules_, deals, nullptr, *outbox_,
                                    EngineOptions{.calendar = calendar_.get(), .digest_window = digest_window_});
  }
  absl::Duration digest_window_ = absl::ZeroDuration();

  // identity's UserCreated, as robots' users consumer applies it.
  void AddUser(const std::string& id, const std::string& name, const std::string& email,
               std::vector<std::string> roles) {
    crm::identity::v1::UserCreated created;
    auto* u = created.mutable_user();
    u->set_id(id);
    u->set_full_name(name);
    u->set_email(email);
    u->set_active(true);
    u->set_version(1);
    u->add_team_ids(kTeam);
    for (auto& r : roles) u->add_role_codes(r);
    events::v1::Envelope e;
    e.set_id(NewUuidV7());
    e.set_type("crm.identity.user.created.v1");
    e.mutable_payload()->PackFrom(created);
    const std::string topic = kUserTopic;
    ASSERT_TRUE(pg::InTransaction(*robots_pool_, [&](pqxx::work& tx) {
                  return ApplyUserEvent(tx, {.envelope = e, .topic = topic, .partition = 0, .offset = 0});
                }).ok());
  }

  // Hands every deals outbox row not handed yet to the engine, in commit order, each in a transaction
  // of its own (as the consumer does).
  void Pump(Engine* engine = nullptr) {
    if (engine == nullptr) engine = engine_.get();
    pqxx::connection conn(db_->dsn());
    pqxx::work read(conn);
    pqxx::result rows =
        read.exec_params("SELECT seq, payload, topic FROM outbox WHERE seq > $1 ORDER BY seq", pumped_);
    read.commit();
    for (const auto& row : rows) {
      pumped_ = row[0].as<int64_t>();
      events::v1::Envelope e;
      ASSERT_TRUE(e.ParseFromString(pqxx::binarystring(row[1]).str()));
      const std::string topic = row[2].as<std::string>();
      Deliver(e, topic, engine);
    }
  }

  void Deliver(const events::v1::Envelope& e, const std::string& topic, Engine* engine = nullptr) {
    if (engine == nullptr) engine = engine_.get();
    absl::Status s = pg::InTransaction(*robots_pool_, [&](pqxx::work& tx) {
      return engine->OnEvent(tx, {.envelope = e, .topic = topic, .partition = 0, .offset = 0});
    });
    ASSERT_TRUE(s.ok()) << e.type() << ": " << s;
  }

  // Fires every due timer (and due schedule occurrences) until none is left.
  int Fire(Engine* engine = nullptr) {
    if (engine == nullptr) engine = engine_.get();
    int fired = 0;
    timers::TimerHandler handler = schedules_->Wrap(
        [engine](pqxx::transaction_base& tx, const timers::Timer& t) { return engine->OnTimer(tx, t); });
    for (int i = 0; i < 20; ++i) {
      EXPECT_TRUE(schedules_->Materialize().ok());
      auto r = timers_->FireDue(handler);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok() || r->claimed == 0) break;
      fired += r->fired;
    }
    return fired;
  }

  void Advance(absl::Duration d) {
    clock_.Advance(d);
    Fire();
  }

  Principal Manager() { return User(kManager, {"deals.read.all", "deals.write.all"}, {kTeam}); }

  dv1::Deal NewDeal(const std::string& pipeline, const std::string& stage, const std::string& name,
                    int64_t amount_minor = 0, const std::string& currency = "RUB") {
    dv1::CreateDealRequest req;
    auto* d = req.mutable_deal();
    d->set_name(name);
    d->set_pipeline_id(pipeline);
    d->set_stage_id(stage);
    d->set_responsible_id(kManager);
    if (amount_minor > 0) {
      d->mutable_amount()->set_amount_minor(amount_minor);
      d->mutable_amount()->set_currency(currency);
    }
    grpc::ClientContext ctx;
    As(ctx, Manager());
    dv1::Deal out;
    grpc::Status s = deals_stub_->CreateDeal(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  dv1::Deal GetDeal(const std::string& id) {
    dv1::GetDealRequest req;
    req.set_id(id);
    grpc::ClientContext ctx;
    As(ctx, Manager());
    dv1::Deal out;
    grpc::Status s = deals_stub_->GetDeal(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  void Move(const std::string& id, const std::string& stage, const std::string& comment = "",
            const std::string& lost_reason = "") {
    dv1::MoveDealRequest req;
    req.set_id(id);
    req.set_stage_id(stage);
    req.set_comment(comment);
    req.set_lost_reason_code(lost_reason);
    grpc::ClientContext ctx;
    As(ctx, Manager());
    dv1::Deal out;
    grpc::Status s = deals_stub_->MoveDeal(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  void SetKpStatus(const std::string& id, const std::string& status) {
    dv1::Deal d = GetDeal(id);
    dv1::UpdateDealRequest req;
    *req.mutable_deal() = d;
    bool found = false;
    for (auto& f : *req.mutable_deal()->mutable_fields()) {
      if (f.code() == "kp_status") {
        f.set_text(status);
        found = true;
      }
    }
    if (!found) {
      auto* f = req.mutable_deal()->add_fields();
      f->set_code("kp_status");
      f->set_text(status);
    }
    req.mutable_update_mask()->add_paths("fields");
    grpc::ClientContext ctx;
    As(ctx, Manager());
    dv1::Deal out;
    grpc::Status s = deals_stub_->UpdateDeal(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  void CompleteTask(const std::string& deal_id, const std::string& title) {
    pqxx::connection conn(db_->dsn());
    pqxx::work tx(conn);
    pqxx::row r = tx.exec_params1(
        "SELECT id::text, version FROM tasks WHERE deal_id = $1::uuid AND title = $2 "
        "AND status = 1",
        deal_id, title);
    tx.commit();
    dv1::CompleteTaskRequest req;
    req.set_id(r[0].as<std::string>());
    req.set_version(r[1].as<int64_t>());
    req.set_result("готово");
    grpc::ClientContext ctx;
    As(ctx, Manager());
    dv1::Task out;
    grpc::Status s = tasks_stub_->CompleteTask(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // A finished call on the deal, as telephony will publish it (a touch); `call_id` "" = a new call.
  void Call(const std::string& deal_id, const std::string& call_id = "") {
    crm::telephony::v1::CallFinished call;
    call.set_call_id(call_id.empty() ? NewUuidV7() : call_id);
    call.set_deal_id(deal_id);
    call.set_user_id(kManager);
    call.set_answered(true);
    events::v1::Envelope e;
    e.set_id(NewUuidV7());
    e.set_type("crm.telephony.call.finished.v1");
    *e.mutable_time() = ToProtoTimestamp(clock_.Now());
    e.mutable_payload()->PackFrom(call);
    Deliver(e, "crm.telephony.call.v1");
  }

  // A finished interaction as deals publishes it (issue 17, D16): touching `deals`, recorded by `source`
  // with `external_id` ("" = by a person).
  void Interaction(const std::string& id, const std::vector<std::string>& deals, const std::string& source = "",
                   const std::string& external_id = "") {
    dv1::InteractionCompleted done;
    done.mutable_interaction()->set_id(id);
    done.mutable_interaction()->set_kind(dv1::Interaction::CALL);
    done.mutable_interaction()->set_status(dv1::Interaction::DONE);
    done.mutable_interaction()->set_source(source);
    done.mutable_interaction()->set_external_id(external_id);
    for (const std::string& d : deals) done.add_touched_deal_ids(d);
    events::v1::Envelope e;
    e.set_id(NewUuidV7());
    e.set_type(dv1::kInteractionCompletedType);
    *e.mutable_time() = ToProtoTimestamp(clock_.Now());
    e.mutable_payload()->PackFrom(done);
    Deliver(e, dv1::kInteractionTopic);
  }

  int64_t Tasks(const std::string& deal_id, const std::string& title) {
    return Count(
        absl::StrCat("SELECT count(*) FROM tasks WHERE deal_id = '", deal_id, "' AND title = '", title, "'"));
  }
  int64_t OpenTasks(const std::string& deal_id, const std::string& title) {
    return Count(absl::StrCat("SELECT count(*) FROM tasks WHERE deal_id = '", deal_id, "' AND title = '", title,
                              "' AND status = 1"));
  }
  // The creators (Постановщик) of the deal's tasks titled `title`, "" for none.
  std::set<std::string> Creators(const std::string& deal_id, const std::string& title) {
    pqxx::connection conn(db_->dsn());
    pqxx::work tx(conn);
    std::set<std::string> out;
    for (const auto& row : tx.exec_params("SELECT coalesce(creator_id::text, '') FROM tasks WHERE deal_id = $1::uuid "
                                          "AND title = $2", deal_id, title)) {
      out.insert(row[0].as<std::string>());
    }
    return out;
  }
  int64_t Comments(const std::string& deal_id, const std::string& text) {
    return Count(absl::StrCat("SELECT count(*) FROM timeline_entries WHERE deal_id = '", deal_id,
                              "' AND text = '", text, "'"));
  }
  bool HasTag(const std::string& deal_id, const std::string& tag) {
    return Count(absl::StrCat("SELECT count(*) FROM deals WHERE id = '", deal_id, "' AND '", tag,
                              "' = ANY(tags)")) == 1;
  }
  // Robots' notifications (outbox) of `type` to `user`.
  int64_t Notifications(const std::string& user,
                        const std::string& type = "crm.robots.notification.in_app.v1") {
    return robots_db_->Count(
        absl::StrCat("SELECT count(*) FROM outbox WHERE aggregateid = '", user, "' AND type = '", type, "'"));
  }
  // The texts of robots' in-app notifications to `user` whose subject starts with `subject`.
  std::vector<std::string> NotificationTexts(const std::string& user, const std::string& subject) {
    pqxx::connection conn(robots_db_->dsn());
    pqxx::work tx(conn);
    std::vector<std::string> out;
    for (const auto& row : tx.exec_params("SELECT payload FROM outbox WHERE aggregateid = $1 AND type = $2 ORDER BY seq",
                                          user, std::string(kInAppType))) {
      events::v1::Envelope e;
      crm::robots::v1::Notification note;
      if (!e.ParseFromString(pqxx::binarystring(row[0]).str()) || !e.payload().UnpackTo(&note)) continue;
      if (note.subject().rfind(subject, 0) == 0) out.push_back(note.text());
    }
    return out;
  }
  std::vector<crm::robots::v1::Execution> Log(const std::string& deal_id, const std::string& rule_id = "") {
    crm::robots::v1::ListExecutionsRequest req;
    req.set_deal_id(deal_id);
    req.set_rule_id(rule_id);
    req.set_page_size(100);
    auto r = engine_->ListExecutions(User(kRop, {"robots.read", "robots.read.all"}), req);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    return {r->executions().begin(), r->executions().end()};
  }
  std::string StateOf(const std::string& deal_id, const std::string& rule_id) {
    std::vector<crm::robots::v1::Execution> log = Log(deal_id, rule_id);
    if (log.empty()) return "(none)";
    return crm::robots::v1::Execution::State_Name(log[0].state());
  }

  // ---- Helpers of the tests below the seed scenarios. ----

  // A rule from crm.robots.v1.Rule JSON; $LEAD / $SALES are the demo pipelines' id prefixes (as demo.cc).
  static crm::robots::v1::Rule RuleFromJson(const std::string& json) {
    const std::string text = absl::StrReplaceAll(json, {{"$LEAD", "01930000-0001-7000-8000-0000000000"},
                                                        {"$SALES", "01930000-0002-7000-8000-0000000000"}});
    crm::robots::v1::Rule rule;
    auto status = google::protobuf::util::JsonStringToMessage(text, &rule);
    EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << text;
    return rule;
  }
  static Principal RuleAdmin() {
    Principal p;
    p.set_kind(Principal::KIND_SERVICE);
    p.set_service("robots-test");
    return p;
  }
  // The coalescing rule of the burst tests: a comment «Теги изменены» 60 s after the last tag edit.
  crm::robots::v1::Rule CreateTagBurstRule() {
    return CreateRule(R"({"name": "Теги изменены", "enabled": true,
     "trigger": {"kind": "FIELD_CHANGED", "pipelineId": "$LEAD00", "field": "tags"},
     "coalesceWindow": "60s",
     "actions": [{"addComment": {"text": "Теги изменены"}}]})");
  }

  // Creates a rule (see RuleFromJson) and returns it as stored.
  crm::robots::v1::Rule CreateRule(const std::string& json) {
    auto r = rules_->Create(RuleAdmin(), RuleFromJson(json), "");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : crm::robots::v1::Rule();
  }

  // UpdateDeal of the deal as read now, edited by `edit`, with mask `path`.
  void EditDeal(const std::string& id, const std::string& path, const std::function<void(dv1::Deal&)>& edit) {
    dv1::UpdateDealRequest req;
    *req.mutable_deal() = GetDeal(id);
    edit(*req.mutable_deal());
    req.mutable_update_mask()->add_paths(path);
    grpc::ClientContext ctx;
    As(ctx, Manager());
    dv1::Deal out;
    grpc::Status s = deals_stub_->UpdateDeal(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // Sets custom fields given as text (STRING, ENUM, DATE) through UpdateDeal.
  void SetTextFields(const std::string& id, const std::map<std::string, std::string>& values) {
    EditDeal(id, "fields", [&](dv1::Deal& d) {
      for (const auto& [code, text] : values) {
        auto* f = d.add_fields();
        f->set_code(code);
        f->set_text(text);
      }
    });
  }
  // The copies of `source` in `pipeline`, each as "<stage>|<responsible>|<client>|<custom field codes>|
  // <line items>|<contacts>".
  std::vector<std::string> Copies(const std::string& source, const std::string& pipeline) {
    pqxx::connection conn(db_->dsn());
    pqxx::work tx(conn);
    std::vector<std::string> out;
    for (const auto& row : tx.exec_params(
             "SELECT d.stage_id::text || '|' || d.responsible_id::text || '|' || coalesce(d.client_id::text, '') || '|' "
             "|| coalesce((SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(d.fields) k), '') || '|' || "
             "(SELECT count(*) FROM deal_products p WHERE p.deal_id = d.id) || '|' || "
             "(SELECT count(*) FROM deal_contacts c WHERE c.deal_id = d.id) FROM deals d "
             "WHERE d.copied_from_id = $1::uuid AND d.pipeline_id = $2::uuid ORDER BY d.create_time, d.id",
             source, pipeline)) {
      out.push_back(row[0].as<std::string>());
    }
    return out;
  }
  void AddTag(const std::string& id, const std::string& tag) {
    EditDeal(id, "tags", [&](dv1::Deal& d) { d.add_tags(tag); });
  }
  void SetVisitTime(const std::string& id, absl::Time at) {
    EditDeal(id, "fields", [&](dv1::Deal& d) {
      for (auto& f : *d.mutable_fields()) {
        if (f.code() == "visit_time") {
          *f.mutable_time() = ToProtoTimestamp(at);
          return;
        }
      }
      auto* f = d.add_fields();
      f->set_code("visit_time");
      *f->mutable_time() = ToProtoTimestamp(at);
    });
  }
  void MoveTo(const std::string& id, const std::string& pipeline, const std::string& stage) {
    dv1::MoveDealRequest req;
    req.set_id(id);
    req.set_pipeline_id(pipeline);
    req.set_stage_id(stage);
    grpc::ClientContext ctx;
    As(ctx, Manager());
    dv1::Deal out;
    grpc::Status s = deals_stub_->MoveDeal(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // An open task on the deal through deals' TaskService (sets the deal's next_task_time).
  void CreateTask(const std::string& deal_id, const std::string& title, dv1::Task::Kind kind = dv1::Task::CALL) {
    dv1::CreateTaskRequest req;
    req.mutable_task()->set_deal_id(deal_id);
    req.mutable_task()->set_title(title);
    req.mutable_task()->set_kind(kind);
    req.mutable_task()->set_responsible_id(kManager);
    *req.mutable_task()->mutable_due_time() = ToProtoTimestamp(clock_.Now() + absl::Hours(48));
    grpc::ClientContext ctx;
    As(ctx, Manager());
    dv1::Task out;
    grpc::Status s = tasks_stub_->CreateTask(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // A comment in the deal's timeline through deals' TimelineService.
  void AddComment(const std::string& deal_id, const std::string& text) {
    auto stub = dv1::TimelineService::NewStub(channel_);
    dv1::AddCommentRequest req;
    req.set_deal_id(deal_id);
    req.set_text(text);
    grpc::ClientContext ctx;
    As(ctx, Manager());
    dv1::TimelineEntry out;
    grpc::Status s = stub->AddComment(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // Pumps and fires until nothing new happens (a chain of robots' own changes runs out), at most `rounds`.
  void Settle(int rounds = 12) {
    for (int i = 0; i < rounds; ++i) {
      const int64_t before = pumped_;
      Pump();
      const int fired = Fire();
      if (pumped_ == before && fired == 0) return;
    }
    ADD_FAILURE() << "events and timers still coming after " << rounds << " rounds: a loop?";
  }
  int64_t RobotsCount(const std::string& sql) { return robots_db_->Count(sql); }
  std::string StateName(const crm::robots::v1::Execution& e) {
    return crm::robots::v1::Execution::State_Name(e.state());
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<crm::deals::PipelineStore> pipeline_store_;
  std::unique_ptr<crm::deals::PipelineServiceImpl> pipeline_service_;
  std::unique_ptr<crm::deals::DealStore> deal_store_;
  std::unique_ptr<crm::deals::DealServiceImpl> deal_service_;
  std::unique_ptr<crm::deals::TaskStore> task_store_;
  std::unique_ptr<crm::deals::TaskServiceImpl> task_service_;
  std::unique_ptr<crm::deals::LocalDirBlobStore> blobs_;
  std::unique_ptr<crm::deals::TimelineStore> timeline_store_;
  std::unique_ptr<crm::deals::TimelineServiceImpl> timeline_service_;
  std::unique_ptr<dv1::DealService::Stub> deals_stub_;
  std::unique_ptr<dv1::TaskService::Stub> tasks_stub_;
  std::unique_ptr<pg::testing::TempDatabase> robots_db_;
  std::unique_ptr<pg::Pool> robots_pool_;
  std::unique_ptr<calendar::WorkingCalendar> calendar_;
  std::unique_ptr<timers::ScheduleStore> schedules_;
  std::unique_ptr<RuleStore> rules_;
  std::unique_ptr<DealsClient> deals_client_;
  std::unique_ptr<events::OutboxWriter> outbox_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<timers::TimerStore> timers_;
  int64_t pumped_ = 0;
};

constexpr char kYellowRule[] = "01930000-0100-7000-8000-000000000001";
constexpr char kUrgentRule[] = "01930000-0100-7000-8000-000000000002";
constexpr char kTouchesRule[] = "01930000-0100-7000-8000-000000000003";
constexpr char kReturnRule[] = "01930000-0100-7000-8000-000000000009";

// Seed 001 §1.1: ≤ 15 min nothing; 15–30 the yellow tag; > 30 «Срочно связаться» and the РОП notified.
TEST_F(EngineTest, FirstContactSlaEscalates) {
  dv1::Deal d = NewDeal(kLead, kUnsorted, "Лид с сайта");
  Pump();
  EXPECT_EQ(StateOf(d.id(), kYellowRule), "WAITING");
  Advance(absl::Minutes(14));
  EXPECT_FALSE(HasTag(d.id(), "Жёлтое предупреждение"));
  Advance(absl::Minutes(2));  // 16 min
  EXPECT_TRUE(HasTag(d.id(), "Жёлтое предупреждение"));
  EXPECT_EQ(Tasks(d.id(), "Срочно связаться"), 0);
  EXPECT_EQ(StateOf(d.id(), kYellowRule), "DONE");
  Pump();                      // the robot's own change comes back as an event (depth 1): nothing new fires
  Advance(absl::Minutes(15));  // 31 min
  EXPECT_EQ(Tasks(d.id(), "Срочно связаться"), 1);
  EXPECT_EQ(Notifications(kRop), 1);
  EXPECT_EQ(Notifications(kManager), 0);
  std::vector<crm::robots::v1::Execution> log = Log(d.id(), kUrgentRule);
  ASSERT_EQ(log.size(), 1u);
  ASSERT_EQ(log[0].actions_size(), 2);
  EXPECT_EQ(log[0].actions(0).state(), "DONE");
  EXPECT_EQ(log[0].actions(1).state(), "DONE");
  EXPECT_NE(log[0].actions(1).detail().find("in-app"), std::string::npos) << log[0].actions(1).detail();
  // Issue 16: the link is the deal on the suite's public URL (default: tools/crm up's gateway), a page
  // that exists — not localhost:8080/deals/….
  std::vector<std::string> texts = NotificationTexts(kRop, "Нет первого контакта");
  ASSERT_EQ(texts.size(), 1u);
  EXPECT_NE(texts[0].find(absl::StrCat("http://127.0.0.1:8080/v1/deals/", d.id())), std::string::npos) << texts[0];
  // Nothing fires twice, however often the clock moves and events are replayed.
  pumped_ = 0;
  Pump();
  Advance(absl::Hours(1));
  EXPECT_EQ(Tasks(d.id(), "Срочно связаться"), 1);
  EXPECT_EQ(Notifications(kRop), 1);
}

// Seed 001 §1.1: a touch within 15 minutes makes both SLA steps moot: cancelled, and the log says why.
TEST_F(EngineTest, FirstContactCancelledByATouch) {
  dv1::Deal d = NewDeal(kLead, kUnsorted, "Лид из Telegram");
  Pump();
  Advance(absl::Minutes(5));
  Call(d.id());
  EXPECT_EQ(StateOf(d.id(), kYellowRule), "CANCELLED");
  EXPECT_EQ(StateOf(d.id(), kUrgentRule), "CANCELLED");
  std::vector<crm::robots::v1::Execution> log = Log(d.id(), kYellowRule);
  ASSERT_FALSE(log.empty());
  bool explained = false;
  for (const auto& p : log[0].predicates())
    explained |= p.result() && p.predicate().find("touches") != std::string::npos;
  EXPECT_TRUE(explained) << log[0].DebugString();
  Advance(absl::Hours(1));
  EXPECT_FALSE(HasTag(d.id(), "Жёлтое предупреждение"));
  EXPECT_EQ(Tasks(d.id(), "Срочно связаться"), 0);
}

// Seed 001 §1.2: 24 h after creation, fewer than 3 touches → notify the manager + «Недостаточно касаний».
TEST_F(EngineTest, TouchCountAfterADay) {
  dv1::Deal few = NewDeal(kLead, kQualification, "Два касания");
  dv1::Deal enough = NewDeal(kLead, kQualification, "Три касания");
  Pump();
  Call(few.id());
  Call(few.id());
  for (int i = 0; i < 3; ++i) Call(enough.id());
  Advance(absl::Hours(23));
  EXPECT_EQ(Comments(few.id(), "Недостаточно касаний"), 0);
  Advance(absl::Hours(1) + absl::Minutes(1));
  EXPECT_EQ(Comments(few.id(), "Недостаточно касаний"), 1);
  EXPECT_EQ(Comments(enough.id(), "Недостаточно касаний"), 0);
  EXPECT_EQ(StateOf(few.id(), kTouchesRule), "DONE");
  EXPECT_EQ(StateOf(enough.id(), kTouchesRule), "NOT_MATCHED");
  EXPECT_GE(Notifications(kManager), 1);
}

// Seed 001 §1.1–1.2 (issue 16): the manager records a touch by completing a call, meeting or e-mail task
// in deals — it cancels both first-contact steps, and three of them (with a call from telephony) meet the
// 24-hour touch count; a follow-up task is no touch, and a call whose event comes twice counts once.
TEST_F(EngineTest, CompletedCallMeetingAndEmailTasksAreTouches) {
  dv1::Deal called = NewDeal(kLead, kUnsorted, "Менеджер позвонил");
  dv1::Deal followed = NewDeal(kLead, kUnsorted, "Только напоминание");
  Pump();
  Advance(absl::Minutes(5));
  CreateTask(called.id(), "Позвонить клиенту", dv1::Task::CALL);
  CreateTask(followed.id(), "Напомнить себе", dv1::Task::FOLLOW_UP);
  CompleteTask(called.id(), "Позвонить клиенту");
  CompleteTask(followed.id(), "Напомнить себе");
  Pump();
  EXPECT_EQ(StateOf(called.id(), kYellowRule), "CANCELLED");
  EXPECT_EQ(StateOf(called.id(), kUrgentRule), "CANCELLED");
  EXPECT_EQ(StateOf(followed.id(), kYellowRule), "WAITING");
  Advance(absl::Minutes(31));
  EXPECT_FALSE(HasTag(called.id(), "Жёлтое предупреждение"));
  EXPECT_EQ(Tasks(called.id(), "Срочно связаться"), 0);
  EXPECT_TRUE(HasTag(followed.id(), "Жёлтое предупреждение"));
  EXPECT_EQ(Tasks(followed.id(), "Срочно связаться"), 1);

  // Two more touches of `called`: a meeting and an e-mail; the same call reported twice is one.
  CreateTask(called.id(), "Встреча в офисе", dv1::Task::MEETING);
  CreateTask(called.id(), "Отправить презентацию", dv1::Task::EMAIL);
  CompleteTask(called.id(), "Встреча в офисе");
  CompleteTask(called.id(), "Отправить презентацию");
  Pump();
  const std::string call = NewUuidV7();
  Call(followed.id(), call);
  Call(followed.id(), call);  // redelivered with a new envelope: the same call
  EXPECT_EQ(RobotsCount(absl::StrCat("SELECT touches FROM deal_facts WHERE deal_id = '", called.id(), "'")), 3);
  EXPECT_EQ(RobotsCount(absl::StrCat("SELECT touches FROM deal_facts WHERE deal_id = '", followed.id(), "'")), 1);
  Advance(absl::Hours(24));
  EXPECT_EQ(StateOf(called.id(), kTouchesRule), "NOT_MATCHED");
  EXPECT_EQ(Comments(called.id(), "Недостаточно касаний"), 0);
  EXPECT_EQ(StateOf(followed.id(), kTouchesRule), "DONE");
  EXPECT_EQ(Comments(followed.id(), "Недостаточно касаний"), 1);
}

// Issue 17 (D16, system.md: "a client touch of any kind is an interaction in deals, whichever service
// recorded it"): a finished interaction is one touch of each deal it touched — it cancels the
// first-contact steps, counts once however often its event comes, and a call telephony recorded as an
// interaction and also reports finished (call_id = the interaction's external id) is one touch.
TEST_F(EngineTest, AFinishedInteractionIsATouchOfEachDealItTouched) {
  dv1::Deal first = NewDeal(kLead, kUnsorted, "Квартира в ЖК");
  dv1::Deal second = NewDeal(kLead, kUnsorted, "Кладовая в ЖК");
  dv1::Deal untouched = NewDeal(kLead, kUnsorted, "Другой клиент");
  Pump();
  Advance(absl::Minutes(5));
  const std::string meeting = NewUuidV7();
  Interaction(meeting, {first.id(), second.id()});
  Interaction(meeting, {first.id(), second.id()});  // redelivered: the same meeting
  EXPECT_EQ(StateOf(first.id(), kYellowRule), "CANCELLED");
  EXPECT_EQ(StateOf(second.id(), kUrgentRule), "CANCELLED");
  EXPECT_EQ(StateOf(untouched.id(), kYellowRule), "WAITING");
  // A PBX call telephony recorded through deals and also reported finished itself: one touch.
  Interaction(NewUuidV7(), {first.id()}, "telephony", "pbx-1718031234.5678");
  Call(first.id(), "pbx-1718031234.5678");
  EXPECT_EQ(RobotsCount(absl::StrCat("SELECT touches FROM deal_facts WHERE deal_id = '", first.id(), "'")), 2);
  EXPECT_EQ(RobotsCount(absl::StrCat("SELECT touches FROM deal_facts WHERE deal_id = '", second.id(), "'")), 1);
  EXPECT_EQ(RobotsCount(absl::StrCat("SELECT count(*) FROM deal_touches WHERE deal_id = '", first.id(),
                                     "' AND kind = 'interaction'")),
            1);
  // An interaction that touched no deal (a client without open deals) changes nothing.
  Interaction(NewUuidV7(), {});
  Advance(absl::Minutes(31));
  EXPECT_FALSE(HasTag(first.id(), "Жёлтое предупреждение"));
  EXPECT_TRUE(HasTag(untouched.id(), "Жёлтое предупреждение"));
}

// The dry run says how many touches it counted (and the other counters it read).
TEST_F(EngineTest, DryRunShowsTheTouchCountItUsed) {
  dv1::Deal d = NewDeal(kLead, kQualification, "Два касания");
  Pump();
  Call(d.id());
  CreateTask(d.id(), "Перезвонить", dv1::Task::CALL);
  CompleteTask(d.id(), "Перезвонить");
  Pump();
  crm::robots::v1::DryRunRequest req;
  req.set_rule_id(kTouchesRule);
  req.set_deal_id(d.id());
  auto r = engine_->DryRun(User(kRop, {"robots.manage"}), req);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->counters().count("touches"), 1u) << r->DebugString();
  EXPECT_EQ(r->counters().at("touches"), 2);
  ASSERT_EQ(r->predicates_size(), 1);
  EXPECT_EQ(r->predicates(0).actual(), "2");
  EXPECT_TRUE(r->predicates(0).result());  // 2 < 3: the rule would act
}

// Seed 001 §3.2: «Срыв визита» → «Назначено»: «Возврат» = Да and the manager's returns counter + 1.
TEST_F(EngineTest, NoShowReturnSetsFieldAndCountsPerManager) {
  dv1::Deal a = NewDeal(kLead, kNoShow, "Срыв 1");
  dv1::Deal b = NewDeal(kLead, kNoShow, "Срыв 2");
  Pump();
  Move(a.id(), kAppointed);
  Move(b.id(), kQualification);  // not a return
  Pump();
  Fire();
  bool returned = false;
  const dv1::Deal after_a = GetDeal(a.id());
  const dv1::Deal after_b = GetDeal(b.id());
  for (const auto& f : after_a.fields()) returned |= f.code() == "returned" && f.flag();
  EXPECT_TRUE(returned);
  for (const auto& f : after_b.fields()) EXPECT_NE(f.code(), "returned");
  EXPECT_EQ(robots_db_->Count(absl::StrCat("SELECT value FROM counters WHERE scope = 'user:", kManager,
                                           "' AND name = 'returns'")),
            1);
  EXPECT_EQ(StateOf(a.id(), kReturnRule), "DONE");
  EXPECT_EQ(StateOf(b.id(), kReturnRule), "(none)");
}

// Seed 002: the document thresholds when the КП is agreed.
TEST_F(EngineTest, DocumentThresholds) {
  dv1::Deal big = NewDeal(kSales, kSalesKp, "Крупная", 60'000'000);  // 600 000 ₽
  dv1::Deal mid = NewDeal(kSales, kSalesKp, "Средняя", 20'000'000);  // 200 000 ₽
  dv1::Deal small = NewDeal(kSales, kSalesKp, "Малая", 10'000'000);  // 100 000 ₽
  dv1::Deal edge = NewDeal(kSales, kSalesKp, "Ровно 500 000", 50'000'000);
  Pump();
  for (const dv1::Deal* d : {&big, &mid, &small, &edge}) SetKpStatus(d->id(), "Согласовано");
  Pump();
  Fire();
  EXPECT_EQ(Tasks(big.id(), "Подготовить договор и счёт"), 1);
  EXPECT_EQ(Tasks(big.id(), "Подготовить счёт-договор"), 0);
  EXPECT_EQ(Tasks(mid.id(), "Подготовить счёт-договор"), 1);
  EXPECT_EQ(Tasks(small.id(), "Подготовить счёт"), 1);
  EXPECT_EQ(Tasks(small.id(), "Подготовить счёт-договор"), 0);
  EXPECT_EQ(Tasks(edge.id(), "Подготовить счёт-договор"), 1);  // "свыше 500 000" is strictly above
  EXPECT_EQ(Tasks(edge.id(), "Подготовить договор и счёт"), 0);
}

// Seed 002: the КП loop — sent → feedback; not agreed → rework → feedback again, until agreed — with one
// open «…обратная связь по КП» task at a time (the status set is the feedback: its task closes), each
// task set by the head of sales (Постановщик РОП).
TEST_F(EngineTest, ProposalLoopUntilAgreed) {
  constexpr char kFeedback[] = "Связаться с клиентом, получить обратную связь по КП";
  constexpr char kRework[] = "Отработать возражение, переформировать КП";
  dv1::Deal d = NewDeal(kSales, kSalesKp, "КП на оборудование", 30'000'000);
  Pump();
  Fire();
  ASSERT_EQ(Tasks(d.id(), "Отправить КП клиенту"), 1);
  // Its deadline is one working hour: Monday 10:00 → 11:00.
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM tasks WHERE deal_id = '", d.id(),
                               "' AND due_time = timestamptz '2026-11-23 11:00:00+03'")),
            1);
  CompleteTask(d.id(), "Отправить КП клиенту");
  Settle();
  EXPECT_EQ(Tasks(d.id(), kFeedback), 1);
  EXPECT_EQ(OpenTasks(d.id(), kFeedback), 1);
  SetKpStatus(d.id(), "Не согласовано");
  Settle();
  EXPECT_EQ(Tasks(d.id(), kRework), 1);
  EXPECT_EQ(OpenTasks(d.id(), kFeedback), 0) << "the status is the feedback the task waited for";
  CompleteTask(d.id(), kRework);
  Settle();
  EXPECT_EQ(Tasks(d.id(), kFeedback), 2);
  EXPECT_EQ(OpenTasks(d.id(), kFeedback), 1);
  // The same task completed event twice (redelivered) makes no second open one.
  pumped_ = 0;
  Pump();
  Settle();
  EXPECT_EQ(OpenTasks(d.id(), kFeedback), 1);
  SetKpStatus(d.id(), "Согласовано");
  Settle();
  EXPECT_EQ(Tasks(d.id(), "Подготовить счёт-договор"), 1);
  EXPECT_EQ(Tasks(d.id(), kRework), 1);
  EXPECT_EQ(OpenTasks(d.id(), kFeedback), 0);
  for (const char* title : {"Отправить КП клиенту", kFeedback, kRework, "Подготовить счёт-договор"}) {
    EXPECT_EQ(Creators(d.id(), title), std::set<std::string>{kRop}) << title;
  }
}

// Seed 002's stages «Счет», «К отгрузке» and «Отгружен/Доставлен»: the invoice approval and payment
// tasks (an unpaid invoice loops through «Отработать возражение, переформировать Счет»), the shipping
// control at «К отгрузке», the acts and the УПД when shipped — set by the head of sales; «Отгрузить товар
// клиенту» by the manager.
TEST_F(EngineTest, InvoiceShippingActsAndUpdTasks) {
  constexpr char kInvoice[] = "01930000-0002-7000-8000-000000000005";
  constexpr char kAccepted[] = "01930000-0002-7000-8000-000000000007";
  constexpr char kToShip[] = "01930000-0002-7000-8000-000000000008";
  constexpr char kShipped[] = "01930000-0002-7000-8000-000000000009";
  constexpr char kPay[] = "Получить оплату от клиента";
  constexpr char kReworkInvoice[] = "Отработать возражение, переформировать Счет";
  dv1::Deal d = NewDeal(kSales, kSalesKp, "Поставка станков", 40'000'000);
  Settle();
  Move(d.id(), kInvoice);
  Settle();
  EXPECT_EQ(OpenTasks(d.id(), "Отправить Счет, Договор на согласование внутри компании"), 1);
  EXPECT_EQ(OpenTasks(d.id(), kPay), 1);
  // Not paid in 2 working days: deals reports the task overdue; the robot closes it and sets the rework.
  clock_.Advance(absl::Hours(72));
  ASSERT_TRUE(task_store_->ReportOverdue().ok());
  Settle();
  EXPECT_EQ(OpenTasks(d.id(), kPay), 0);
  EXPECT_EQ(OpenTasks(d.id(), kReworkInvoice), 1);
  CompleteTask(d.id(), kReworkInvoice);
  Settle();
  EXPECT_EQ(OpenTasks(d.id(), kPay), 1);
  EXPECT_EQ(Tasks(d.id(), kPay), 2);

  Move(d.id(), kAccepted);
  Settle();
  EXPECT_EQ(Tasks(d.id(), "Проконтролировать отгрузку-доставку"), 0) << "it belongs to «К отгрузке»";
  Move(d.id(), kToShip);
  Settle();
  EXPECT_EQ(Tasks(d.id(), "Проконтролировать отгрузку-доставку"), 1);
  Move(d.id(), kShipped);
  Settle();
  EXPECT_EQ(Tasks(d.id(), "Проконтролировать отгрузку-доставку"), 1);
  EXPECT_EQ(Tasks(d.id(), "Отправить Акты выполненных работ, получить подписанный документ"), 1);
  EXPECT_EQ(Tasks(d.id(), "Отправить УПД, получить подписанный документ"), 1);
  for (const char* title : {"Отправить Счет, Договор на согласование внутри компании", kPay, kReworkInvoice,
                            "Проконтролировать упаковку", "Проконтролировать отгрузку-доставку",
                            "Отправить Акты выполненных работ, получить подписанный документ",
                            "Отправить УПД, получить подписанный документ"}) {
    EXPECT_EQ(Creators(d.id(), title), std::set<std::string>{kRop}) << title;
  }
  EXPECT_EQ(Creators(d.id(), "Отгрузить товар клиенту"), std::set<std::string>{kManager});
}

// A demo rule nobody edited follows its definition in a newer build (the next version); one a person
// edited stays theirs.
TEST_F(EngineTest, InstallBringsUneditedDemoRulesUpToDate) {
  std::vector<crm::robots::v1::Rule> demo = DemoRules();
  ASSERT_GE(demo.size(), 2u);
  // A person edits rule 1.
  auto edit = rules_->Get(demo[1].id(), 0);
  ASSERT_TRUE(edit.ok()) << edit.status();
  crm::robots::v1::Rule mine = *edit;
  mine.set_name("Моё правило");
  ASSERT_TRUE(rules_->Update(User(kRop, {"robots.manage"}), mine, {"name"}).ok());
  crm::robots::v1::Rule renamed = demo[0];
  renamed.set_name("Старое имя из прошлой сборки");
  // Installing the same definitions again changes nothing.
  ASSERT_TRUE(InstallDemoRules(*rules_).ok());
  EXPECT_EQ(rules_->Get(demo[0].id(), 0)->version(), 1);
  // A build whose definition of rule 0 differs: its next version.
  auto installed = rules_->Install(RuleAdmin() /* not the demo installer */, renamed);
  ASSERT_TRUE(installed.ok());
  EXPECT_FALSE(*installed) << "another installer's rule is left as it is";
  crm::common::v1::Principal demo_installer;
  demo_installer.set_kind(crm::common::v1::Principal::KIND_SERVICE);
  demo_installer.set_service("robots-demo");
  installed = rules_->Install(demo_installer, renamed);
  ASSERT_TRUE(installed.ok());
  EXPECT_TRUE(*installed);
  EXPECT_EQ(rules_->Get(demo[0].id(), 0)->version(), 2);
  EXPECT_EQ(rules_->Get(demo[0].id(), 0)->name(), "Старое имя из прошлой сборки");
  ASSERT_TRUE(InstallDemoRules(*rules_).ok());
  EXPECT_EQ(rules_->Get(demo[0].id(), 0)->version(), 3);
  EXPECT_EQ(rules_->Get(demo[0].id(), 0)->name(), demo[0].name());
  EXPECT_EQ(rules_->Get(demo[1].id(), 0)->name(), "Моё правило");
  EXPECT_EQ(rules_->Get(demo[1].id(), 0)->version(), 2);
}

// R10: an action whose downstream call fails is retried with backoff, the log says so, and the effect
// happens once.
TEST_F(EngineTest, FailedActionIsRetriedWithBackoffAndAppliedOnce) {
  // An engine whose deals address has nobody listening.
  auto dead = grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  DealsClient unreachable(dead, &*gateway_key_, calendar_.get(), calendar_->zone(),
                          DealsClientOptions{.timeout = absl::Milliseconds(300), .clock = &clock_});
  std::unique_ptr<Engine> broken = MakeEngine(unreachable);
  dv1::Deal d = NewDeal(kSales, kSalesKp, "Сеть недоступна");
  Pump(broken.get());
  Fire(broken.get());
  const std::string rule = "01930000-0100-7000-8000-000000000012";
  std::vector<crm::robots::v1::Execution> log = Log(d.id(), rule);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].state(), crm::robots::v1::Execution::WAITING);
  EXPECT_NE(log[0].due_time().seconds(), 0);
  EXPECT_GT(FromProtoTimestamp(log[0].due_time()), clock_.Now());
  EXPECT_EQ(Tasks(d.id(), "Отправить КП клиенту"), 0);
  // deals is back; the retry is due after the backoff and does it once.
  clock_.Advance(absl::Seconds(11));
  Fire();
  EXPECT_EQ(Tasks(d.id(), "Отправить КП клиенту"), 1);
  log = Log(d.id(), rule);
  EXPECT_EQ(log[0].state(), crm::robots::v1::Execution::DONE);
  EXPECT_EQ(log[0].actions(0).attempts(), 2);
  Advance(absl::Hours(2));
  EXPECT_EQ(Tasks(d.id(), "Отправить КП клиенту"), 1);
}

// ---- Where the anchors fail (issue 6) and the remaining seed scenarios. ----

constexpr char kReportRule[] = "01930000-0100-7000-8000-000000000004";
constexpr char kVisitRule[] = "01930000-0100-7000-8000-000000000008";
constexpr char kKpTaskRule[] = "01930000-0100-7000-8000-000000000012";
constexpr char kBigDocsRule[] = "01930000-0100-7000-8000-000000000016";
constexpr char kQualified[] = "01930000-0001-7000-8000-000000000003";
constexpr char kSales04[] = "01930000-0002-7000-8000-000000000004";
constexpr char kSales05[] = "01930000-0002-7000-8000-000000000005";

absl::Time Moscow(int y, int m, int d, int hh, int mm, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss), *LoadTimeZone("Europe/Moscow"));
}

// Seed 001 §1.4 / §2.5: every working day at 19:00 one report to the РОП listing the deals of
// «Первичная обработка» with no open task, no comment since their stage, or still «Неразобранное» —
// once, even with two replicas firing at the same moment; the next firing skips the weekend.
TEST_F(EngineTest, EndOfDayReportListsTheViolationsOnceOnWorkingDays) {
  dv1::Deal no_task = NewDeal(kLead, kQualification, "Без задачи");
  dv1::Deal fine = NewDeal(kLead, kQualification, "Всё в порядке");
  dv1::Deal no_comment = NewDeal(kLead, kQualification, "Без комментария");
  dv1::Deal unsorted = NewDeal(kLead, kUnsorted, "Неразобранная");
  Pump();
  for (const dv1::Deal* d : {&no_task, &fine, &no_comment, &unsorted}) Call(d->id());  // SLA steps met
  clock_.Advance(absl::Minutes(1));
  CreateTask(fine.id(), "Перезвонить");
  CreateTask(no_comment.id(), "Перезвонить");
  CreateTask(unsorted.id(), "Перезвонить");
  // robots learn of comments from deals' timeline events.
  AddComment(no_task.id(), "Клиент думает");
  AddComment(fine.id(), "Договорились созвониться");
  AddComment(unsorted.id(), "Ещё не разобрана");
  Pump();

  clock_.Set(Moscow(2026, 11, 23, 18, 59));  // Monday
  Fire();
  EXPECT_TRUE(Log("", kReportRule).empty());
  const int64_t rop_before = Notifications(kRop);

  // 19:00:30: two replicas (engines and timer stores over the same database) fire at once.
  clock_.Set(Moscow(2026, 11, 23, 19, 0, 30));
  std::unique_ptr<Engine> replica = MakeEngine(*deals_client_);
  std::atomic<int> fired{0};
  auto fire = [this, &fired](Engine* engine) {
    timers::TimerStoreOptions o;
    o.export_metrics = false;
    timers::TimerStore store(*robots_pool_, clock_, o);
    timers::TimerHandler handler = schedules_->Wrap(
        [engine](pqxx::transaction_base& tx, const timers::Timer& t) { return engine->OnTimer(tx, t); });
    for (int i = 0; i < 5; ++i) {
      EXPECT_TRUE(schedules_->Materialize().ok());
      auto r = store.FireDue(handler);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok() || r->claimed == 0) break;
      fired += r->fired;
    }
  };
  std::thread a(fire, engine_.get());
  std::thread b(fire, replica.get());
  a.join();
  b.join();
  EXPECT_EQ(fired.load(), 1);  // the occurrence, by one of them

  std::vector<crm::robots::v1::Execution> log = Log("", kReportRule);
  ASSERT_EQ(log.size(), 1u);
  const crm::robots::v1::Execution& digest = log[0];
  EXPECT_EQ(digest.deal_id(), "");
  EXPECT_EQ(StateName(digest), "DONE");
  EXPECT_EQ(digest.selected_deal_ids_size(), 3) << digest.DebugString();
  EXPECT_EQ(std::set<std::string>(digest.selected_deal_ids().begin(), digest.selected_deal_ids().end()),
            (std::set<std::string>{no_task.id(), no_comment.id(), unsorted.id()}));
  ASSERT_EQ(digest.actions_size(), 1);
  EXPECT_EQ(digest.actions(0).state(), "DONE");
  EXPECT_NE(digest.actions(0).detail().find("in-app to 1"), std::string::npos) << digest.actions(0).detail();
  EXPECT_NE(digest.actions(0).detail().find("e-mail not sent"), std::string::npos)
      << digest.actions(0).detail();
  EXPECT_EQ(Notifications(kRop) - rop_before, 1);
  EXPECT_EQ(RobotsCount(absl::StrCat("SELECT count(*) FROM executions WHERE rule_id = '", kReportRule, "'")),
            1);

  // The next occurrence is Tuesday 19:00; from a Friday it is the Monday after (no Saturday).
  const std::string next = absl::StrCat("SELECT count(*) FROM schedules WHERE key = 'rule:", kReportRule,
                                        "' AND next_time = timestamptz ");
  EXPECT_EQ(RobotsCount(next + "'2026-11-24 19:00:00+03'"), 1);
  clock_.Set(Moscow(2026, 11, 27, 18, 0));  // Friday: Tuesday's occurrence fires late, once
  Fire();
  EXPECT_EQ(RobotsCount(next + "'2026-11-27 19:00:00+03'"), 1);
  clock_.Set(Moscow(2026, 11, 27, 19, 0, 30));
  Fire();
  EXPECT_EQ(RobotsCount(next + "'2026-11-30 19:00:00+03'"), 1);
  EXPECT_EQ(RobotsCount("SELECT count(*) FROM timers WHERE key LIKE 'schedule:%' AND state = 'pending' AND "
                        "due_time = timestamptz '2026-11-30 19:00:00+03'"),
            1);
  EXPECT_EQ(Log("", kReportRule).size(), 3u);
}

// Issue 16: "comment" is one thing — a comment on the deal since it entered its current stage, or one sent
// with the move. The 19:00 report counts both; a comment from before the move does not count in the new
// stage.
TEST_F(EngineTest, EndOfDayReportCountsCommentsSentWithTheMoveAndSinceTheStage) {
  dv1::Deal with_move = NewDeal(kLead, kQualification, "Комментарий при переводе");
  dv1::Deal after = NewDeal(kLead, kQualification, "Комментарий после перевода");
  dv1::Deal before = NewDeal(kLead, kQualification, "Комментарий до перевода");
  Pump();
  for (const dv1::Deal* d : {&with_move, &after, &before}) {
    Call(d->id());
    CreateTask(d->id(), "Перезвонить");
  }
  clock_.Advance(absl::Minutes(1));
  AddComment(before.id(), "Клиент просил перезвонить");
  clock_.Advance(absl::Minutes(1));
  Move(with_move.id(), kQualified, "Клиент квалифицирован: бюджет есть");
  Move(after.id(), kQualified);
  Move(before.id(), kQualified);
  clock_.Advance(absl::Minutes(1));
  AddComment(after.id(), "Назначаем встречу");
  Pump();
  clock_.Set(Moscow(2026, 11, 23, 19, 0, 30));
  Fire();
  std::vector<crm::robots::v1::Execution> log = Log("", kReportRule);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(std::set<std::string>(log[0].selected_deal_ids().begin(), log[0].selected_deal_ids().end()),
            std::set<std::string>{before.id()})
      << log[0].DebugString();
}

// Issue 16, one definition of "a comment in the stage": deals' Deal.comment_since_stage_entry. A copy made
// into the stage with a comment (its first comment, which deals publishes in no comment event) has one.
TEST_F(EngineTest, EndOfDayReportTakesTheCommentInTheStageFromDeals) {
  dv1::Deal source = NewDeal(kLead, kQualification, "Исходная сделка");
  dv1::Deal copies[2];
  for (int i = 0; i < 2; ++i) {
    dv1::CopyDealRequest req;
    req.set_id(source.id());
    req.set_stage_id(kQualified);
    if (i == 0) req.set_comment("Копия: клиент квалифицирован");
    grpc::ClientContext ctx;
    As(ctx, User(kManager, {"deals.read.all", "deals.write.all", "deals.copy"}, {kTeam}));
    grpc::Status s = deals_stub_->CopyDeal(&ctx, req, &copies[i]);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_TRUE(copies[0].comment_since_stage_entry()) << copies[0].DebugString();
  EXPECT_FALSE(copies[1].comment_since_stage_entry());
  Pump();
  for (const dv1::Deal* d : {&source, &copies[0], &copies[1]}) {
    Call(d->id());
    CreateTask(d->id(), "Перезвонить");
  }
  AddComment(source.id(), "Исходная сделка с задачей и комментарием");
  Pump();
  clock_.Set(Moscow(2026, 11, 23, 19, 0, 30));
  Fire();
  std::vector<crm::robots::v1::Execution> log = Log("", kReportRule);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(std::set<std::string>(log[0].selected_deal_ids().begin(), log[0].selected_deal_ids().end()),
            std::set<std::string>{copies[1].id()})
      << log[0].DebugString();
}

// Seed 001 §3.1: «Подтвердить визит» 24 h before «Дата визита»; a changed date cancels the old reminder
// and arms a new one.
TEST_F(EngineTest, VisitConfirmationFollowsAChangedVisitDate) {
  dv1::Deal d = NewDeal(kLead, kAppointed, "Визит в салон");
  Pump();
  const absl::Time start = clock_.Now();
  SetVisitTime(d.id(), start + absl::Hours(72));
  Pump();
  Fire();
  EXPECT_EQ(Tasks(d.id(), "Подтвердить визит"), 0);
  const std::string old_key =
      absl::StrCat("date:", kVisitRule, ":", d.id(), ":", absl::ToUnixSeconds(start + absl::Hours(48)));
  const std::string new_key =
      absl::StrCat("date:", kVisitRule, ":", d.id(), ":", absl::ToUnixSeconds(start + absl::Hours(24)));
  auto timer_state = [&](const std::string& key, const std::string& state) {
    return RobotsCount(
        absl::StrCat("SELECT count(*) FROM timers WHERE key = '", key, "' AND state = '", state, "'"));
  };
  EXPECT_EQ(timer_state(old_key, "pending"), 1);

  clock_.Advance(absl::Hours(1));
  SetVisitTime(d.id(), start + absl::Hours(48));
  Pump();
  EXPECT_EQ(timer_state(old_key, "cancelled"), 1);
  EXPECT_EQ(timer_state(new_key, "pending"), 1);

  clock_.Set(start + absl::Hours(24) - absl::Minutes(1));
  Fire();
  EXPECT_EQ(Tasks(d.id(), "Подтвердить визит"), 0);
  clock_.Set(start + absl::Hours(24));
  Fire();
  EXPECT_EQ(Tasks(d.id(), "Подтвердить визит"), 1);
  Settle();
  clock_.Set(start + absl::Hours(48) + absl::Minutes(1));  // the old reminder's time
  Settle();
  EXPECT_EQ(Tasks(d.id(), "Подтвердить визит"), 1);
  std::vector<crm::robots::v1::Execution> log = Log(d.id(), kVisitRule);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(StateName(log[0]), "DONE");
}

// coalesce_window: a burst of three tag edits within 30 s runs the rule once, 60 s after the last.
TEST_F(EngineTest, CoalescedBurstRunsOnceOnTheLastEvent) {
  const crm::robots::v1::Rule rule = CreateTagBurstRule();
  dv1::Deal d = NewDeal(kLead, kQualified, "Правки тегов");
  Pump();
  AddTag(d.id(), "первый");
  Pump();
  clock_.Advance(absl::Seconds(10));
  AddTag(d.id(), "второй");
  Pump();
  clock_.Advance(absl::Seconds(15));
  AddTag(d.id(), "третий");
  Pump();
  Advance(absl::Seconds(50));  // 60 s after the first edit, 50 s after the last
  EXPECT_EQ(Comments(d.id(), "Теги изменены"), 0);
  Advance(absl::Seconds(11));  // 61 s after the last
  EXPECT_EQ(Comments(d.id(), "Теги изменены"), 1);
  Settle();
  Advance(absl::Minutes(10));
  EXPECT_EQ(Comments(d.id(), "Теги изменены"), 1);
  std::vector<crm::robots::v1::Execution> log = Log(d.id(), rule.id());
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(StateName(log[0]), "DONE");  // the newest: the last event of the burst
  EXPECT_EQ(StateName(log[1]), "COALESCED");
  EXPECT_EQ(StateName(log[2]), "COALESCED");
}

// No loops (max_depth 0): the robot's own tag change comes back at automation depth 1 and is not run.
TEST_F(EngineTest, MaxDepthZeroSkipsTheRobotsOwnChange) {
  crm::robots::v1::Rule rule = RuleFromJson(R"({"name": "Проверить теги", "enabled": true,
     "trigger": {"kind": "FIELD_CHANGED", "pipelineId": "$LEAD00", "field": "tags"},
     "actions": [{"addTag": {"tag": "Проверено"}}]})");
  rule.set_max_depth(0);
  auto created = rules_->Create(RuleAdmin(), rule, "");
  ASSERT_TRUE(created.ok()) << created.status();
  dv1::Deal d = NewDeal(kLead, kQualified, "Теги вручную");
  Pump();
  AddTag(d.id(), "VIP");
  Settle();
  EXPECT_TRUE(HasTag(d.id(), "Проверено"));
  // deals stamped the robot's change with x-crm-automation-depth 1.
  {
    pqxx::connection conn(db_->dsn());
    pqxx::work tx(conn);
    pqxx::result rows =
        tx.exec("SELECT payload FROM outbox WHERE type = 'crm.deals.deal.updated.v1' ORDER BY seq");
    ASSERT_EQ(rows.size(), 2u);
    events::v1::Envelope user, robot;
    ASSERT_TRUE(user.ParseFromString(pqxx::binarystring(rows[0][0]).str()));
    ASSERT_TRUE(robot.ParseFromString(pqxx::binarystring(rows[1][0]).str()));
    EXPECT_EQ(user.automation_depth(), 0);
    EXPECT_EQ(robot.automation_depth(), 1);
  }
  std::vector<crm::robots::v1::Execution> log = Log(d.id(), created->id());
  ASSERT_EQ(log.size(), 2u);
  std::map<int, std::string> by_depth;
  for (const auto& e : log) by_depth[e.depth()] = StateName(e);
  EXPECT_EQ(by_depth, (std::map<int, std::string>{{0, "DONE"}, {1, "SKIPPED_DEPTH"}}));
  for (const auto& e : log) {
    if (e.depth() == 1) {
      EXPECT_EQ(e.actions_size(), 0);
    }
  }
}

// No loops (default max_depth 2): two robots moving a deal back and forth run at depths 0, 1 and 2;
// the change of depth 3 is SKIPPED_DEPTH and the chain ends.
TEST_F(EngineTest, DefaultMaxDepthEndsALoopOfRobots) {
  const crm::robots::v1::Rule there = CreateRule(R"({"name": "Туда", "enabled": true,
     "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$SALES00", "stageId": "$SALES04"},
     "actions": [{"moveStage": {"stageId": "$SALES05"}}]})");
  const crm::robots::v1::Rule back = CreateRule(R"({"name": "Обратно", "enabled": true,
     "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$SALES00", "stageId": "$SALES05"},
     "actions": [{"moveStage": {"stageId": "$SALES04"}}]})");
  dv1::Deal d = NewDeal(kSales, kSales04, "Пинг-понг");
  Settle();
  std::map<std::pair<std::string, int>, std::string> runs;  // (rule, depth) -> state, of these two rules
  auto ours = [&] {
    std::vector<crm::robots::v1::Execution> out;
    for (const auto& e : Log(d.id())) {
      if (e.rule_id() == there.id() || e.rule_id() == back.id()) out.push_back(e);
    }
    return out;
  };
  for (const auto& e : ours()) runs[{e.rule_id(), e.depth()}] = StateName(e);
  EXPECT_EQ(runs, (std::map<std::pair<std::string, int>, std::string>{{{there.id(), 0}, "DONE"},
                                                                      {{back.id(), 1}, "DONE"},
                                                                      {{there.id(), 2}, "DONE"},
                                                                      {{back.id(), 3}, "SKIPPED_DEPTH"}}));
  EXPECT_EQ(GetDeal(d.id()).stage_id(), kSales05);
  Advance(absl::Hours(1));
  Settle();
  EXPECT_EQ(ours().size(), 4u);
}

// Versioned: a waiting step keeps the version it started with; a later trigger uses the new one.
TEST_F(EngineTest, AWaitingStepKeepsItsRuleVersion) {
  const crm::robots::v1::Rule rule = CreateRule(R"({"name": "Отложенный тег", "enabled": true,
     "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$LEAD00", "stageId": "$LEAD03"},
     "delay": {"duration": "600s"},
     "actions": [{"addTag": {"tag": "v1"}}]})");
  ASSERT_EQ(rule.version(), 1);
  dv1::Deal d = NewDeal(kLead, kQualified, "Версии");
  Pump();
  EXPECT_EQ(StateOf(d.id(), rule.id()), "WAITING");
  crm::robots::v1::Rule next = rule;
  next.mutable_actions(0)->mutable_add_tag()->set_tag("v2");
  auto updated = rules_->Update(RuleAdmin(), next, {"actions"});
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->version(), 2);
  Advance(absl::Minutes(11));
  EXPECT_TRUE(HasTag(d.id(), "v1"));
  EXPECT_FALSE(HasTag(d.id(), "v2"));
  std::vector<crm::robots::v1::Execution> log = Log(d.id(), rule.id());
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(StateName(log[0]), "DONE");
  EXPECT_EQ(log[0].rule_version(), 1);
  Settle();
  // A new trigger: the deal leaves the stage and comes back.
  Move(d.id(), kAppointed);
  clock_.Advance(absl::Seconds(1));
  Move(d.id(), kQualified);
  Pump();
  log = Log(d.id(), rule.id());
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(StateName(log[0]), "WAITING");
  EXPECT_EQ(log[0].rule_version(), 2);
  Advance(absl::Minutes(11));
  EXPECT_TRUE(HasTag(d.id(), "v2"));
  log = Log(d.id(), rule.id());
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(StateName(log[0]), "DONE");
  EXPECT_EQ(log[0].rule_version(), 2);
}

// An import marked x-crm-skip-automation runs only rules with trigger.include_skipped_imports.
TEST_F(EngineTest, SkipAutomationImportRunsOnlyRulesThatIncludeImports) {
  const crm::robots::v1::Rule rule = CreateRule(R"({"name": "Импорт", "enabled": true,
     "trigger": {"kind": "DEAL_CREATED", "pipelineId": "$LEAD00", "includeSkippedImports": true},
     "actions": [{"addTag": {"tag": "Импорт"}}]})");
  dv1::CreateDealRequest req;
  req.mutable_deal()->set_name("Импортированный лид");
  req.mutable_deal()->set_pipeline_id(kLead);
  req.mutable_deal()->set_stage_id(kUnsorted);
  req.mutable_deal()->set_responsible_id(kManager);
  grpc::ClientContext ctx;
  As(ctx, Manager());
  ctx.AddMetadata(rpc::kSkipAutomationHeader, "true");
  dv1::Deal imported;
  grpc::Status s = deals_stub_->CreateDeal(&ctx, req, &imported);
  ASSERT_TRUE(s.ok()) << s.error_message();
  dv1::Deal manual = NewDeal(kLead, kUnsorted, "Лид вручную");
  Pump();
  std::vector<crm::robots::v1::Execution> log = Log(imported.id());
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].rule_id(), rule.id());
  EXPECT_EQ(StateOf(manual.id(), kYellowRule), "WAITING");  // the demo rules run on a manual deal
  Advance(absl::Hours(1));
  Settle();
  EXPECT_TRUE(HasTag(imported.id(), "Импорт"));
  EXPECT_FALSE(HasTag(imported.id(), "Жёлтое предупреждение"));
  EXPECT_EQ(Tasks(imported.id(), "Срочно связаться"), 0);
  EXPECT_TRUE(HasTag(manual.id(), "Жёлтое предупреждение"));
  for (const auto& e : Log(imported.id())) EXPECT_EQ(e.rule_id(), rule.id()) << e.DebugString();
}

// Redelivery: the same events handed over again (before and after the step ran) make no second
// execution and no second task.
TEST_F(EngineTest, RedeliveredEventsRunAnImmediateRuleOnce) {
  dv1::Deal d = NewDeal(kSales, kSalesKp, "Повторная доставка");
  Pump();
  pumped_ = 0;
  Pump();  // redelivered before the step ran
  Fire();
  EXPECT_EQ(Tasks(d.id(), "Отправить КП клиенту"), 1);
  pumped_ = 0;
  Pump();  // and after
  Fire();
  Advance(absl::Hours(1));
  Settle();
  EXPECT_EQ(Tasks(d.id(), "Отправить КП клиенту"), 1);
  std::vector<crm::robots::v1::Execution> log = Log(d.id(), kKpTaskRule);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(StateName(log[0]), "DONE");
  EXPECT_EQ(RobotsCount(absl::StrCat("SELECT count(*) FROM executions WHERE rule_id = '", kKpTaskRule, "'")),
            1);
}

// Dry run of the demo threshold rule: predicates and the PLANNED task, and nothing changes anywhere.
TEST_F(EngineTest, DryRunPlansWithoutChangingAnything) {
  dv1::Deal d = NewDeal(kSales, kSales04, "Крупная, проверка", 60'000'000);  // 600 000 ₽
  SetKpStatus(d.id(), "Согласовано");
  const int64_t deals_outbox = Count("SELECT count(*) FROM outbox");
  const int64_t timers = RobotsCount("SELECT count(*) FROM timers");
  crm::robots::v1::DryRunRequest req;
  req.set_rule_id(kBigDocsRule);
  req.set_deal_id(d.id());
  auto denied = engine_->DryRun(User(kManager, {"robots.read"}), req);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  auto r = engine_->DryRun(User(kRop, {"robots.manage"}), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(StateName(*r), "DRY_RUN");
  EXPECT_EQ(r->deal_id(), d.id());
  ASSERT_EQ(r->predicates_size(), 2) << r->DebugString();
  for (const auto& p : r->predicates()) EXPECT_TRUE(p.result()) << p.predicate() << " " << p.actual();
  ASSERT_EQ(r->actions_size(), 1);
  EXPECT_EQ(r->actions(0).state(), "PLANNED");
  EXPECT_NE(r->actions(0).detail().find("Подготовить договор и счёт"), std::string::npos)
      << r->actions(0).detail();
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM tasks WHERE deal_id = '", d.id(), "'")), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), deals_outbox);
  EXPECT_EQ(RobotsCount("SELECT count(*) FROM executions"), 0);
  EXPECT_EQ(RobotsCount("SELECT count(*) FROM outbox"), 0);
  EXPECT_EQ(RobotsCount("SELECT count(*) FROM timers"), timers);
}

// Issue 16, the API's conventions: every bad field named at once (the first in the message, "(and N
// more)", all in the details); one page rule (negative refused naming page_size, 0 = 50, over 200 = 200);
// a malformed id is INVALID_ARGUMENT naming its field.
TEST_F(EngineTest, ListsAndDryRunNameEveryBadFieldAtOnce) {
  auto fields = [](const absl::Status& s) {
    std::vector<std::string> out;
    for (const FieldViolation& v : FieldViolations(s)) out.push_back(v.field);
    return out;
  };
  const Principal rop = User(kRop, {"robots.read", "robots.read.all", "robots.manage"});
  crm::robots::v1::ListExecutionsRequest list;
  list.set_deal_id("42");
  list.set_rule_id("not-a-rule");
  list.set_page_size(-1);
  list.set_page_token("garbage");
  auto bad = engine_->ListExecutions(rop, list);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fields(bad.status()), (std::vector<std::string>{"deal_id", "rule_id", "page_size", "page_token"}));
  EXPECT_EQ(bad.status().message(), "deal_id: not a UUID (and 3 more)");

  crm::robots::v1::ListRulesRequest rules;
  rules.set_pipeline_id("lead");
  rules.set_page_size(-5);
  auto bad_rules = rules_->List(rules);
  EXPECT_EQ(fields(bad_rules.status()), (std::vector<std::string>{"pipeline_id", "page_size"}));
  rules.Clear();
  rules.set_page_size(100000);  // clamped to 200: all the demo rules, one page
  auto clamped = rules_->List(rules);
  ASSERT_TRUE(clamped.ok()) << clamped.status();
  EXPECT_EQ(static_cast<size_t>(clamped->rules_size()), DemoRules().size());
  rules.set_page_size(0);  // the default, 50
  ASSERT_TRUE(rules_->List(rules).ok());

  crm::robots::v1::DryRunRequest dry;
  dry.set_rule_id("rule-1");
  dry.set_deal_id("deal-1");
  auto bad_dry = engine_->DryRun(rop, dry);
  EXPECT_EQ(fields(bad_dry.status()), (std::vector<std::string>{"rule_id", "deal_id"}));
  dry.Clear();
  dry.mutable_rule()->set_name("");  // an inline rule with its own problems, and no deal
  auto bad_inline = engine_->DryRun(rop, dry);
  EXPECT_EQ(fields(bad_inline.status()),
            (std::vector<std::string>{"rule.name", "rule.trigger.kind", "rule.actions", "deal_id"}));
}

// STAGE_LEFT naming a pipeline (no stage): a deal leaving it for another pipeline triggers it; a deal
// coming into it from another pipeline does not.
TEST_F(EngineTest, StageLeftOfAPipelineFiresAcrossPipelines) {
  const crm::robots::v1::Rule rule = CreateRule(R"({"name": "Ушла из лидов", "enabled": true,
     "trigger": {"kind": "STAGE_LEFT", "pipelineId": "$LEAD00"},
     "actions": [{"addTag": {"tag": "Ушла из лидов"}}]})");
  dv1::Deal out = NewDeal(kLead, kQualified, "Лид → продажа");
  dv1::Deal in = NewDeal(kSales, kSales04, "Продажа → лид");
  dv1::Deal within = NewDeal(kLead, kQualified, "Внутри лидов");
  Pump();
  MoveTo(out.id(), kSales, kSales04);
  MoveTo(in.id(), kLead, kQualified);
  Move(within.id(), kAppointed);
  Settle();
  EXPECT_EQ(StateOf(out.id(), rule.id()), "DONE");
  EXPECT_TRUE(HasTag(out.id(), "Ушла из лидов"));
  EXPECT_EQ(StateOf(in.id(), rule.id()), "(none)");
  EXPECT_FALSE(HasTag(in.id(), "Ушла из лидов"));
  EXPECT_EQ(StateOf(within.id(), rule.id()), "DONE");
}

// Redelivery within a coalescing window: handing the burst's events over again must not cancel the run
// that waits for the last of them ("a redelivered event finds its execution and does nothing").
TEST_F(EngineTest, RedeliveredBurstStillRunsOnce) {
  const crm::robots::v1::Rule rule = CreateTagBurstRule();
  dv1::Deal d = NewDeal(kLead, kQualified, "Правки тегов, повтор");
  Pump();
  AddTag(d.id(), "первый");
  Pump();
  clock_.Advance(absl::Seconds(10));
  AddTag(d.id(), "второй");
  Pump();
  ASSERT_EQ(StateOf(d.id(), rule.id()), "WAITING");
  pumped_ = 0;
  Pump();  // both edits again
  EXPECT_EQ(StateOf(d.id(), rule.id()), "WAITING");
  Advance(absl::Seconds(61));
  Settle();
  EXPECT_EQ(Comments(d.id(), "Теги изменены"), 1);
  EXPECT_EQ(Log(d.id(), rule.id()).size(), 2u);
}

// Redelivery of a date change: the event that set the earlier visit date, handed over again after the
// date changed, must not take the reminder back to the old date (or lose it).
TEST_F(EngineTest, RedeliveredOldVisitDateKeepsTheCurrentReminder) {
  dv1::Deal d = NewDeal(kLead, kAppointed, "Визит, повтор доставки");
  Pump();
  const absl::Time start = clock_.Now();
  SetVisitTime(d.id(), start + absl::Hours(72));
  Pump();
  clock_.Advance(absl::Hours(1));
  SetVisitTime(d.id(), start + absl::Hours(48));
  Pump();
  pumped_ = 0;
  Pump();  // every event of the deal again, the old date's included
  const std::string new_key =
      absl::StrCat("date:", kVisitRule, ":", d.id(), ":", absl::ToUnixSeconds(start + absl::Hours(24)));
  EXPECT_EQ(RobotsCount(absl::StrCat("SELECT count(*) FROM timers WHERE key = '", new_key,
                                     "' AND state = 'pending'")),
            1);
  clock_.Set(start + absl::Hours(24));
  Settle();
  EXPECT_EQ(Tasks(d.id(), "Подтвердить визит"), 1);
  clock_.Set(start + absl::Hours(48) + absl::Minutes(1));
  Settle();
  EXPECT_EQ(Tasks(d.id(), "Подтвердить визит"), 1);
}

// Dates re-arm: a new date whose reminder time has already passed cancels the old reminder and arms
// nothing; no task appears, then or at the old time.
TEST_F(EngineTest, VisitDateMovedInsideTheReminderWindowArmsNothing) {
  dv1::Deal d = NewDeal(kLead, kAppointed, "Визит завтра утром");
  Pump();
  const absl::Time start = clock_.Now();
  SetVisitTime(d.id(), start + absl::Hours(72));
  Pump();
  const std::string old_key =
      absl::StrCat("date:", kVisitRule, ":", d.id(), ":", absl::ToUnixSeconds(start + absl::Hours(48)));
  EXPECT_EQ(RobotsCount(absl::StrCat("SELECT count(*) FROM timers WHERE key = '", old_key,
                                     "' AND state = 'pending'")),
            1);
  SetVisitTime(d.id(), start + absl::Hours(12));  // 24 h before it is already past
  Pump();
  EXPECT_EQ(RobotsCount(absl::StrCat("SELECT count(*) FROM timers WHERE key = '", old_key,
                                     "' AND state = 'cancelled'")),
            1);
  EXPECT_EQ(RobotsCount(absl::StrCat("SELECT count(*) FROM timers WHERE key LIKE 'date:", kVisitRule, ":",
                                     d.id(), ":%' AND state = 'pending'")),
            0);
  Settle();
  clock_.Set(start + absl::Hours(48) + absl::Minutes(1));
  Settle();
  EXPECT_EQ(Tasks(d.id(), "Подтвердить визит"), 0);
  EXPECT_TRUE(Log(d.id(), kVisitRule).empty());
}


constexpr char kQualificationTagRule[] = "01930000-0100-7000-8000-000000000005";
constexpr char kQualificationRopRule[] = "01930000-0100-7000-8000-000000000006";
constexpr char kViolation36Rule[] = "01930000-0100-7000-8000-000000000007";
constexpr char kConversionRule[] = "01930000-0100-7000-8000-000000000019";
constexpr char kTargetsRule[] = "01930000-0100-7000-8000-000000000020";

// Seed 001 §2.1: in «Квалификация» ≤ 30 min nothing, 30–60 the yellow tag, 2 h the РОП notified; and
// §2.2: not moved on within 36 h — a violation (tag + РОП), cancelled for a deal that moved on.
TEST_F(EngineTest, QualificationThirtyMinutesTwoHoursAndThirtySixHours) {
  dv1::Deal slow = NewDeal(kLead, kQualification, "Квалификация без движения");
  dv1::Deal moved = NewDeal(kLead, kQualification, "Назначена вовремя");
  Pump();
  Advance(absl::Minutes(29));
  EXPECT_FALSE(HasTag(slow.id(), "Жёлтое предупреждение"));
  Advance(absl::Minutes(2));  // 31 min
  EXPECT_TRUE(HasTag(slow.id(), "Жёлтое предупреждение"));
  EXPECT_EQ(StateOf(slow.id(), kQualificationRopRule), "WAITING");
  Advance(absl::Minutes(88));  // 119 min
  EXPECT_EQ(StateOf(slow.id(), kQualificationRopRule), "WAITING");
  Advance(absl::Minutes(2));  // 121 min
  EXPECT_EQ(StateOf(slow.id(), kQualificationRopRule), "DONE");
  EXPECT_EQ(Notifications(kRop, "crm.robots.notification.telegram.v1"), 2);  // one per deal
  Move(moved.id(), kAppointed);
  Pump();
  EXPECT_EQ(StateOf(moved.id(), kViolation36Rule), "CANCELLED");
  Advance(absl::Hours(34));  // 36 h 1 min
  EXPECT_TRUE(HasTag(slow.id(), "Нарушение 36 часов"));
  EXPECT_FALSE(HasTag(moved.id(), "Нарушение 36 часов"));
  EXPECT_EQ(StateOf(slow.id(), kViolation36Rule), "DONE");
  EXPECT_EQ(StateOf(slow.id(), kQualificationTagRule), "DONE");
}

// Seed 001 §2.4 and §4: on Monday morning the week's conversion «Квалификация» → «Назначено» (below
// 40 % → the РОП) and each manager's records and revenue over 30 days against the plan.
TEST_F(EngineTest, WeeklyConversionWatchAndManagerTargets) {
  std::vector<dv1::Deal> deals;
  for (int i = 0; i < 5; ++i) deals.push_back(NewDeal(kLead, kQualification, absl::StrCat("Квалификация ", i)));
  Pump();
  Move(deals[0].id(), kAppointed);  // 1 of 5 converted: 20 %
  Pump();
  clock_.Set(Moscow(2026, 11, 30, 9, 0, 30));  // the next Monday, 09:00:30
  Fire();
  std::vector<crm::robots::v1::Execution> conv = Log("", kConversionRule);
  ASSERT_EQ(conv.size(), 1u);
  EXPECT_EQ(StateName(conv[0]), "DONE");
  EXPECT_EQ(conv[0].measures().at("base"), 5);
  EXPECT_EQ(conv[0].measures().at("converted"), 1);
  EXPECT_EQ(conv[0].measures().at("conversion_percent"), 20);
  ASSERT_EQ(conv[0].actions_size(), 1);
  EXPECT_NE(conv[0].actions(0).detail().find("in-app to 1"), std::string::npos) << conv[0].actions(0).detail();
  EXPECT_TRUE(Log("", kTargetsRule).empty());  // its time is 09:05
  clock_.Set(Moscow(2026, 11, 30, 9, 5, 30));
  Fire();
  std::vector<crm::robots::v1::Execution> targets = Log("", kTargetsRule);
  ASSERT_EQ(targets.size(), 1u) << "one digest per manager";
  EXPECT_EQ(targets[0].responsible_id(), kManager);
  EXPECT_EQ(targets[0].measures().at("entered"), 1);  // 1 record of the 40 planned
  EXPECT_EQ(StateName(targets[0]), "DONE");
  EXPECT_NE(targets[0].actions(0).detail().find("in-app to 2"), std::string::npos)  // the manager and the РОП
      << targets[0].actions(0).detail();
  // The week after: nothing entered «Квалификация» — no base, no alarm.
  clock_.Set(Moscow(2026, 12, 7, 9, 0, 30));
  Fire();
  conv = Log("", kConversionRule);
  ASSERT_EQ(conv.size(), 2u);
  EXPECT_EQ(StateName(conv[0]), "NOT_MATCHED");
  EXPECT_EQ(conv[0].measures().at("base"), 0);
}

// Seed 001 §4 (issue 16): the revenue plan is 40 000 000 сум — money in the plan's currency: wins in UZS
// count, a win in roubles does not, and the notification says «сум», not kopecks.
TEST_F(EngineTest, ManagerRevenueTargetIsInThePlansCurrency) {
  constexpr char kWonLead[] = "01930000-0001-7000-8000-000000000006";
  dv1::Deal uzs = NewDeal(kLead, kQualification, "Повторная продажа в сумах", 1'250'000'000, "UZS");
  dv1::Deal rub = NewDeal(kLead, kQualification, "Продажа в рублях", 30'000'000, "RUB");
  Pump();
  Move(uzs.id(), kWonLead);
  Move(rub.id(), kWonLead);
  Settle();
  clock_.Set(Moscow(2026, 11, 30, 9, 5, 30));
  Fire();
  std::vector<crm::robots::v1::Execution> targets = Log("", kTargetsRule);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].measures().at("won"), 2);
  EXPECT_EQ(targets[0].measures().at("revenue"), 1'250'000'000) << "12 500 000 сум; the roubles are not сум";
  EXPECT_EQ(StateName(targets[0]), "DONE");  // under 40 000 000 сум
  std::vector<std::string> texts = NotificationTexts(kManager, "План за 30 дней");
  ASSERT_EQ(texts.size(), 1u);
  EXPECT_NE(texts[0].find("выручка 12 500 000 сум из 40 000 000 сум"), std::string::npos) << texts[0];
  EXPECT_EQ(texts[0].find("коп"), std::string::npos) << texts[0];
  auto rule = rules_->Get(kTargetsRule, 0);
  ASSERT_TRUE(rule.ok());
  EXPECT_EQ(rule->trigger().measure().currency(), "UZS");
}

// R10: robots die after deals made the task but before robots committed the step (the handler's
// transaction is lost): the step runs again after the backoff and the task is not made twice.
TEST_F(EngineTest, DiesMidActionAndTheRetryMakesNoDuplicate) {
  dv1::Deal d = NewDeal(kSales, kSalesKp, "Сбой посреди шага");
  Pump();
  timers::TimerHandler crashing = [this](pqxx::transaction_base& tx, const timers::Timer& t) -> absl::Status {
    CRM_RETURN_IF_ERROR(engine_->OnTimer(tx, t));
    return absl::UnavailableError("the process died before its commit");  // rolls the step's writes back
  };
  auto r = timers_->FireDue(crashing);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->retried, 1);
  EXPECT_EQ(Tasks(d.id(), "Отправить КП клиенту"), 1);  // deals did it
  EXPECT_EQ(StateOf(d.id(), kKpTaskRule), "WAITING");      // robots did not record it
  clock_.Advance(absl::Seconds(11));
  Fire();
  EXPECT_EQ(StateOf(d.id(), kKpTaskRule), "DONE");
  EXPECT_EQ(Tasks(d.id(), "Отправить КП клиенту"), 1);
}

// Seed 000 §5.5: winning a lead hands it over as a copy into «Продажа» — once, however often the events
// come back; the copy's own creation (depth 1) is an ordinary new deal to the rules.
TEST_F(EngineTest, WonLeadIsHandedOverAsACopyOnce) {
  constexpr char kWonLead[] = "01930000-0001-7000-8000-000000000006";
  constexpr char kHandOverRule[] = "01930000-0100-7000-8000-000000000021";
  dv1::Deal d = NewDeal(kLead, kUnsorted, "Визит состоялся", 25'000'000);
  Pump();
  Move(d.id(), kWonLead);
  Pump();
  Fire();
  const std::string copies =
      absl::StrCat("SELECT count(*) FROM deals WHERE copied_from_id = '", d.id(), "' AND pipeline_id = '", kSales, "'");
  EXPECT_EQ(Count(copies), 1);
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM deals WHERE copied_from_id = '", d.id(), "' AND amount_minor = ",
                               25'000'000)),
            1);
  std::vector<crm::robots::v1::Execution> log = Log(d.id(), kHandOverRule);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(StateName(log[0]), "DONE");
  EXPECT_EQ(log[0].actions(0).detail().rfind("copy ", 0), 0u) << log[0].actions(0).detail();
  pumped_ = 0;
  Pump();
  Settle();
  EXPECT_EQ(Count(copies), 1);
}

// R10: as above, but the deal is renamed before the retry, so the task's title template renders anew:
// deals knows the key with the first request, which means the first attempt did it — done, no second task.
TEST_F(EngineTest, RetryAfterACrashWithAChangedTemplateIsDoneOnce) {
  CreateRule(R"({"name": "Позвонить по новой сделке", "enabled": true,
     "trigger": {"kind": "DEAL_CREATED", "pipelineId": "$SALES00"},
     "actions": [{"createTask": {"title": "Позвонить: {deal.name}", "kind": "call", "dueIn": "3600s"}}]})");
  dv1::Deal d = NewDeal(kSales, kSalesKp, "Старое имя");
  Pump();
  timers::TimerHandler crashing = [this](pqxx::transaction_base& tx, const timers::Timer& t) -> absl::Status {
    CRM_RETURN_IF_ERROR(engine_->OnTimer(tx, t));
    return absl::UnavailableError("the process died before its commit");
  };
  ASSERT_TRUE(timers_->FireDue(crashing).ok());
  EXPECT_EQ(Tasks(d.id(), "Позвонить: Старое имя"), 1);
  EditDeal(d.id(), "name", [](dv1::Deal& x) { x.set_name("Новое имя"); });
  Pump();
  clock_.Advance(absl::Seconds(11));
  Fire();
  EXPECT_EQ(Tasks(d.id(), "Позвонить: Новое имя"), 0);
  EXPECT_EQ(Tasks(d.id(), "Позвонить: Старое имя"), 1);
  bool done_before = false;
  for (const auto& e : Log(d.id())) {
    for (const auto& a : e.actions()) done_before |= a.detail().find("done by an earlier attempt") != std::string::npos;
  }
  EXPECT_TRUE(done_before);
}

// Seed 002: «Взят в работу» writes to the client who their manager is; «Сделка успешна» asks the client
// for feedback and converts the deal into the engineers' pipeline; «Принят» sets the payment-schedule check.
TEST_F(EngineTest, ClientMessagesAndTheEngineersPipeline) {
  constexpr char kClient[] = "01900000-0000-7000-8000-00000000c001";
  constexpr char kTaken[] = "01930000-0002-7000-8000-000000000002";
  constexpr char kAccepted[] = "01930000-0002-7000-8000-000000000007";
  constexpr char kSalesWon[] = "01930000-0002-7000-8000-000000000010";
  constexpr char kEngineers[] = "01930000-0003-7000-8000-000000000000";
  Sql(absl::StrCat("INSERT INTO clients (id, kind, name) VALUES ('", kClient, "', 1, 'Иван Покупатель')"));
  dv1::CreateDealRequest req;
  req.mutable_deal()->set_name("Поставка насосов");
  req.mutable_deal()->set_pipeline_id(kSales);
  req.mutable_deal()->set_stage_id(kTaken);
  req.mutable_deal()->set_responsible_id(kManager);
  req.mutable_deal()->set_client_id(kClient);
  grpc::ClientContext ctx;
  As(ctx, Manager());
  dv1::Deal d;
  ASSERT_TRUE(deals_stub_->CreateDeal(&ctx, req, &d).ok());
  Pump();
  Fire();
  const std::string to_client = absl::StrCat("SELECT count(*) FROM outbox WHERE aggregateid = '", kClient,
                                             "' AND type = 'crm.robots.notification.telegram.v1'");
  EXPECT_EQ(RobotsCount(to_client), 1);
  {
    pqxx::connection conn(robots_db_->dsn());
    pqxx::work tx(conn);
    pqxx::row r = tx.exec_params1("SELECT payload FROM outbox WHERE aggregateid = $1", std::string(kClient));
    events::v1::Envelope e;
    ASSERT_TRUE(e.ParseFromString(pqxx::binarystring(r[0]).str()));
    crm::robots::v1::Notification note;
    ASSERT_TRUE(e.payload().UnpackTo(&note));
    EXPECT_EQ(note.client_id(), kClient);
    EXPECT_EQ(note.recipient_user_id(), "");
    EXPECT_NE(note.text().find("Ваш персональный менеджер Анна Менеджерова"), std::string::npos) << note.text();
    EXPECT_NE(note.text().find("anna@crm.local"), std::string::npos) << note.text();
  }
  Move(d.id(), kAccepted);
  Pump();
  Fire();
  EXPECT_EQ(Tasks(d.id(), "Проверить оплату по клиенту"), 1);
  EXPECT_EQ(Tasks(d.id(), "Проконтролировать упаковку"), 1);
  Move(d.id(), kSalesWon);
  Pump();
  Fire();
  EXPECT_EQ(RobotsCount(to_client), 2);  // the feedback request
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM deals WHERE copied_from_id = '", d.id(), "' AND pipeline_id = '",
                               kEngineers, "' AND client_id = '", kClient, "'")),
            1);
}

// ---- Seed 000 §5.6–5.8 (issue 16): the automatic copies with their pipelines. ----

constexpr char kBuyer[] = "01900000-0000-7000-8000-00000000c0b1";
constexpr char kBuyerContact[] = "01900000-0000-7000-8000-00000000c0c1";
constexpr char kSalesWonStage[] = "01930000-0002-7000-8000-000000000010";
constexpr char kInvoicesPipeline[] = "01930000-0004-7000-8000-000000000000";
constexpr char kLogisticsPipeline[] = "01930000-0005-7000-8000-000000000000";
constexpr char kRepeatPipeline[] = "01930000-0006-7000-8000-000000000000";
constexpr char kEngineersPipeline[] = "01930000-0003-7000-8000-000000000000";

// §5.7: a sale won is copied into «Счета/закупки» and, with a delivery address, into «Логистика»: the
// company, its main contact, the products, the requisites and the address — not the payment terms.
TEST_F(EngineTest, PostSaleCopiesIntoInvoicesAndLogistics) {
  Sql(absl::StrCat("INSERT INTO clients (id, kind, name) VALUES ('", kBuyer, "', 2, 'ООО «Насосы»');"
                   "INSERT INTO contacts (id, client_id, full_name) VALUES ('", kBuyerContact, "', '", kBuyer,
                   "', 'Пётр Закупщиков')"));
  auto sale = [&](const std::string& name, bool delivery) {
    dv1::Deal d = NewDeal(kSales, kSalesKp, name, 90'000'000);
    EditDeal(d.id(), "client_id", [](dv1::Deal& x) { x.set_client_id(kBuyer); });
    Sql(absl::StrCat("INSERT INTO deal_contacts (deal_id, contact_id, main) VALUES ('", d.id(), "', '", kBuyerContact,
                     "', true); INSERT INTO deal_products (id, deal_id, name, quantity_milli, unit_price_minor, "
                     "currency, total_minor) VALUES ('", NewUuidV7(), "', '", d.id(), "', 'Насос ЦНС-60', 2000, ",
                     45'000'000, ", 'RUB', ", 90'000'000, ")"));
    std::map<std::string, std::string> fields = {{"requisites", "ИНН 7701234567, р/с 40702810000000000001"},
                                                 {"payment_terms", "Предоплата"}};
    if (delivery) {
      fields["delivery_address"] = "Москва, ул. Заводская, 1";
      fields["delivery_date"] = "2026-12-15";
    }
    SetTextFields(d.id(), fields);
    return d;
  };
  dv1::Deal shipped = sale("Насосы с доставкой", true);
  dv1::Deal pickup = sale("Насосы самовывозом", false);
  Settle();
  Move(shipped.id(), kSalesWonStage);
  Move(pickup.id(), kSalesWonStage);
  Settle();
  const std::string invoices_stage = "01930000-0004-7000-8000-000000000001";
  const std::string logistics_stage = "01930000-0005-7000-8000-000000000001";
  EXPECT_EQ(Copies(shipped.id(), kInvoicesPipeline),
            std::vector<std::string>{absl::StrCat(invoices_stage, "|", kManager, "|", kBuyer,
                                                  "|delivery_address,requisites|1|1")});
  EXPECT_EQ(Copies(shipped.id(), kLogisticsPipeline),
            std::vector<std::string>{absl::StrCat(logistics_stage, "|", kManager, "|", kBuyer,
                                                  "|delivery_address,delivery_date,requisites|1|1")});
  EXPECT_EQ(Copies(pickup.id(), kInvoicesPipeline),
            std::vector<std::string>{absl::StrCat(invoices_stage, "|", kManager, "|", kBuyer, "|requisites|1|1")});
  EXPECT_TRUE(Copies(pickup.id(), kLogisticsPipeline).empty()) << "no delivery address: nothing to ship";
  pumped_ = 0;  // redelivered: no second copy
  Settle();
  EXPECT_EQ(Copies(shipped.id(), kInvoicesPipeline).size(), 1u);
}

// §5.8: «Активация услуги» copies the deal into «Повторные продажи» («Новый запрос») for the account
// manager of the moment, with the products and the package; 330 days later the renewal copy — not for a
// deal cancelled meanwhile.
TEST_F(EngineTest, ActivationMakesUpsellAndRenewalCopiesForTheCurrentAccountManager) {
  constexpr char kActivation[] = "01930000-0003-7000-8000-000000000005";
  constexpr char kEngWorking[] = "01930000-0003-7000-8000-000000000002";
  constexpr char kEngCancelled[] = "01930000-0003-7000-8000-000000000004";
  const std::string repeat_new = "01930000-0006-7000-8000-000000000001";
  dv1::Deal kept = NewDeal(kEngineersPipeline, kEngWorking, "Облачная АТС: внедрение");
  dv1::Deal cancelled = NewDeal(kEngineersPipeline, kEngWorking, "CRM: внедрение");
  for (const dv1::Deal* d : {&kept, &cancelled}) {
    SetTextFields(d->id(), {{"service_package", "Бизнес, 20 линий"}, {"payment_terms", "Постоплата"}});
  }
  // The account manager changes before the activation: the copy is the new one's.
  EditDeal(kept.id(), "responsible_id", [](dv1::Deal& x) { x.set_responsible_id(kRop); });
  Settle();
  Move(kept.id(), kActivation);
  Move(cancelled.id(), kActivation);
  Settle();
  EXPECT_EQ(Copies(kept.id(), kRepeatPipeline),
            std::vector<std::string>{absl::StrCat(repeat_new, "|", kRop, "||service_package|0|0")});
  EXPECT_EQ(Copies(cancelled.id(), kRepeatPipeline).size(), 1u);
  Move(cancelled.id(), kEngCancelled, "", "no_money");
  Settle();
  Advance(absl::Hours(24 * 329));
  Settle();
  EXPECT_EQ(Copies(kept.id(), kRepeatPipeline).size(), 1u);
  Advance(absl::Hours(24) + absl::Minutes(1));
  Settle();
  EXPECT_EQ(Copies(kept.id(), kRepeatPipeline).size(), 2u) << "the renewal, 330 days after the activation";
  EXPECT_EQ(Copies(cancelled.id(), kRepeatPipeline).size(), 1u) << "cancelled: no renewal";
}

// D12 with the demo fields: a partner copy (§5.6, redacted) carries the technical fields (the delivery
// date, the package) and not «Оплата» — payment terms are no technical field.
TEST_F(EngineTest, PartnerCopyDoesNotCarryThePaymentTerms) {
  CreateRule(R"({"name": "Передать партнёру", "enabled": true,
     "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$SALES00", "stageId": "$SALES07"},
     "actions": [{"copyDeal": {"pipelineId": "01930000-0003-7000-8000-000000000000", "redacted": true,
                               "optionsJson": "{\"products\": true}"}}]})");
  dv1::Deal d = NewDeal(kSales, kSalesKp, "Монтаж у клиента", 50'000'000);
  SetTextFields(d.id(), {{"payment_terms", "Предоплата"}, {"delivery_date", "2026-12-15"},
                         {"service_package", "Монтаж + пусконаладка"}, {"delivery_address", "Казань, ул. Мира, 5"}});
  Settle();
  Move(d.id(), "01930000-0002-7000-8000-000000000007");
  Settle();
  const std::vector<std::string> copies = Copies(d.id(), kEngineersPipeline);
  ASSERT_EQ(copies.size(), 1u);
  const std::vector<std::string> parts = absl::StrSplit(copies[0], '|');
  ASSERT_EQ(parts.size(), 6u);
  EXPECT_EQ(parts[3], "delivery_date,service_package") << copies[0];
}

// Issue 14: a burst of 200 leads left without a first contact: the head of sales is told of the first at
// once and of the other 199 in ONE digest when the window ends — not 200 messages a channel — and the
// digest lists them; the next window starts with that digest.
class DigestTest : public EngineTest {
 protected:
  void SetUp() override {
    digest_window_ = absl::Minutes(5);
    EngineTest::SetUp();
  }
};

TEST_F(DigestTest, ABurstOfLeadsReachesTheHeadOfSalesAsOneDigestAChannel) {
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(NewDeal(kLead, kUnsorted, absl::StrCat("Лид ", i)).id());
  Pump();
  Advance(absl::Minutes(31));  // every lead's 30-minute step has run
  for (const std::string& id : ids) ASSERT_EQ(StateOf(id, kUrgentRule), "DONE") << id;
  for (const char* type : {"crm.robots.notification.in_app.v1", "crm.robots.notification.telegram.v1"}) {
    EXPECT_EQ(Notifications(kRop, type), 1) << type << ": the first lead's, at once";
  }
  // The others' log says where their notification went.
  int held = 0;
  for (const std::string& id : ids) {
    const auto log = Log(id, kUrgentRule);
    if (!log.empty() && log[0].actions(1).detail().find("held for the digest") != std::string::npos) ++held;
  }
  EXPECT_EQ(held, 199);

  Advance(absl::Minutes(5));  // the window ends: one digest a channel
  for (const char* type : {"crm.robots.notification.in_app.v1", "crm.robots.notification.telegram.v1"}) {
    EXPECT_EQ(Notifications(kRop, type), 2) << type;
  }
  // The digest names every held lead once, oldest first.
  pqxx::connection c(robots_db_->dsn());
  pqxx::work tx(c);
  const pqxx::result r = tx.exec(absl::StrCat("SELECT payload FROM outbox WHERE aggregateid = '", kRop,
                                              "' AND type = 'crm.robots.notification.in_app.v1' ORDER BY seq"));
  ASSERT_EQ(r.size(), 2u);
  events::v1::Envelope env;
  const pqxx::binarystring raw(r[1][0]);
  ASSERT_TRUE(env.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
  crm::robots::v1::Notification note;
  ASSERT_TRUE(env.payload().UnpackTo(&note));
  EXPECT_EQ(note.subject(), "Сводка уведомлений: 199");
  ASSERT_EQ(note.digest_size(), 199);
  EXPECT_EQ(note.digest_total(), 199);
  std::set<std::string> listed;
  for (const auto& item : note.digest()) listed.insert(item.deal_id());
  EXPECT_EQ(listed.size(), 199u);
  int missing = 0;  // the one told at once
  for (const std::string& id : ids) missing += listed.contains(id) ? 0 : 1;
  EXPECT_EQ(missing, 1);
  EXPECT_NE(note.text().find("… и ещё 149"), std::string::npos) << note.text();

  // Nothing is sent twice, however often the clock moves.
  Advance(absl::Hours(1));
  EXPECT_EQ(Notifications(kRop), 2);
}

}  // namespace
}  // namespace crm::robots
