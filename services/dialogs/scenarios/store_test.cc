// The scenario store on a real PostgreSQL (T3): validation naming every problem, idempotent creates,
// optimistic versions with every version kept, one active scenario per bot, the page rule, export/import.
#include "services/dialogs/scenarios/store.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/events/outbox.h"
#include "services/dialogs/scenarios/demo.h"
#include "services/dialogs/scenarios/scenarios_testing.h"

namespace crm::dialogs::scenarios {
namespace {

class ScenarioStoreTest : public ScenariosDbTest {
 protected:
  void SetUp() override {
    ScenariosDbTest::SetUp();
    caller_.set_id("u1");
    store_ = std::make_unique<ScenarioStore>(*pool_, clock_, outbox_);
  }
  v1::Scenario Named(std::string bot, std::string name) {
    v1::Scenario s = DemoScenario();
    s.set_bot_id(std::move(bot));
    s.set_name(std::move(name));
    return s;
  }

  ManualClock clock_{absl::FromUnixSeconds(1796000000)};
  crm::events::OutboxWriter outbox_{"dialogs", clock_};
  crm::common::v1::Principal caller_;
  std::unique_ptr<ScenarioStore> store_;
};

TEST_F(ScenarioStoreTest, CreateRefusesABadScenarioNamingEveryProblem) {
  v1::Scenario s = DemoScenario();
  s.clear_bot_id();
  s.mutable_stages(0)->set_first(false);
  s.mutable_stages(1)->mutable_keys(0)->mutable_actions(2)->set_stage("404");
  absl::StatusOr<v1::Scenario> r = store_->Create(caller_, s, "");
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  std::set<std::string> fields;
  for (const FieldViolation& v : FieldViolations(r.status())) fields.insert(v.field);
  EXPECT_EQ(fields, (std::set<std::string>{"scenario.bot_id", "scenario.stages",
                                           "scenario.stages[1].keys[0].actions[2].stage"}));
  EXPECT_EQ(db_->Count("SELECT count(*) FROM scenarios"), 0);
}

TEST_F(ScenarioStoreTest, CreateIsIdempotentByKey) {
  absl::StatusOr<v1::Scenario> a = store_->Create(caller_, Named("bot1", "Основной"), "k1");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->version(), 1);
  absl::StatusOr<v1::Scenario> again = store_->Create(caller_, Named("bot1", "Основной"), "k1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id(), a->id());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM scenarios"), 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM outbox"), 1);  // one event too
  absl::StatusOr<v1::Scenario> other = store_->Create(caller_, Named("bot1", "Другой"), "k1");
  ASSERT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolations(other.status())[0].field, "idempotency-key");
}

TEST_F(ScenarioStoreTest, UpdateWritesTheNextVersionKeepingTheOldOnes) {
  absl::StatusOr<v1::Scenario> a = store_->Create(caller_, Named("bot1", "Основной"), "");
  ASSERT_TRUE(a.ok()) << a.status();
  v1::Scenario edit = *a;
  edit.mutable_stages(0)->mutable_entry_actions(0)->set_text("Добрый день!");
  clock_.Advance(absl::Minutes(5));
  absl::StatusOr<v1::Scenario> b = store_->Update(caller_, edit);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->version(), 2);
  EXPECT_EQ(b->create_time().seconds(), a->create_time().seconds());
  EXPECT_EQ(b->update_time().seconds(), a->update_time().seconds() + 300);
  // A stale version is ABORTED; version 0 overwrites.
  EXPECT_EQ(store_->Update(caller_, edit).status().code(), absl::StatusCode::kAborted);
  edit.set_version(0);
  EXPECT_EQ(store_->Update(caller_, edit)->version(), 3);
  // Every version stays readable: a dialog in a stage keeps its own.
  EXPECT_EQ(store_->Get(a->id(), 1)->stages(0).entry_actions(0).text(), a->stages(0).entry_actions(0).text());
  EXPECT_EQ(store_->Get(a->id(), 0)->version(), 3);
  EXPECT_EQ(store_->Get(a->id(), 9).status().code(), absl::StatusCode::kNotFound);
  // Each write's event, in its transaction, on crm.dialogs.scenario.v1 keyed by the scenario.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM outbox WHERE topic = 'crm.dialogs.scenario.v1' AND aggregateid = '" +
                       a->id() + "' AND type = 'crm.dialogs.scenario.created.v1'"),
            1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM outbox WHERE aggregateid = '" + a->id() +
                       "' AND type = 'crm.dialogs.scenario.updated.v1'"),
            2);
  // The bot cannot change; an invalid edit names its fields.
  edit.set_bot_id("bot2");
  EXPECT_EQ(FieldViolations(store_->Update(caller_, edit).status())[0].field, "scenario.bot_id");
}

TEST_F(ScenarioStoreTest, OneActiveScenarioPerBot) {
  v1::Scenario s = Named("bot1", "A");
  s.set_active(true);
  ASSERT_TRUE(store_->Create(caller_, s, "").ok());
  s.set_name("B");
  EXPECT_EQ(store_->Create(caller_, s, "").status().code(), absl::StatusCode::kFailedPrecondition);
  s.set_bot_id("bot2");
  EXPECT_TRUE(store_->Create(caller_, s, "").ok());
}

TEST_F(ScenarioStoreTest, ListFollowsThePageRule) {
  for (const char* name : {"e", "a", "d", "b", "c"}) ASSERT_TRUE(store_->Create(caller_, Named("bot1", name), "").ok());
  ASSERT_TRUE(store_->Create(caller_, Named("bot2", "z"), "").ok());
  v1::ListScenariosRequest req;
  req.set_bot_id("bot1");
  req.set_page_size(2);
  std::vector<std::string> names;
  for (int page = 0; page < 5; ++page) {
    absl::StatusOr<v1::ListScenariosResponse> r = store_->List(req);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const v1::Scenario& s : r->scenarios()) {
      names.push_back(s.name());
      EXPECT_EQ(s.stages_size(), 0);  // heads only
      EXPECT_EQ(s.bot_id(), "bot1");
    }
    if (r->next_page_token().empty()) break;
    req.set_page_token(r->next_page_token());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  req.Clear();
  EXPECT_EQ(store_->List(req)->scenarios_size(), 6);  // every bot, default page
  req.set_page_size(1000);
  EXPECT_EQ(store_->List(req)->scenarios_size(), 6);  // clamped, not refused
  req.set_page_size(-1);
  req.set_page_token("garbage");
  absl::Status bad = store_->List(req).status();
  ASSERT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(FieldViolations(bad).size(), 2u);
  EXPECT_EQ(FieldViolations(bad)[0].field, "page_size");
  EXPECT_EQ(FieldViolations(bad)[1].field, "page_token");
}

TEST_F(ScenarioStoreTest, ExportImportRoundTrips) {
  absl::StatusOr<v1::Scenario> a = store_->Create(caller_, Named("bot1", "Основной"), "");
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<std::string> json = store_->Export(a->id(), 0);
  ASSERT_TRUE(json.ok()) << json.status();
  v1::ImportScenarioRequest req;
  req.set_json(*json);
  req.set_bot_id("bot2");
  absl::StatusOr<v1::Scenario> b = store_->Import(caller_, req, "imp1");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_NE(b->id(), a->id());
  EXPECT_EQ(b->bot_id(), "bot2");
  absl::StatusOr<std::string> json2 = store_->Export(b->id(), 0);
  v1::ImportScenarioRequest same;
  same.set_json(*json);
  // Exactly the same document, but for the bot the import named.
  absl::StatusOr<v1::Scenario> parsed = ParseExport(*json2, "json");
  ASSERT_TRUE(parsed.ok());
  parsed->set_bot_id("bot1");
  EXPECT_EQ(*ExportJson(*parsed), *json);
  // Idempotent by key; a document that does not parse names json.
  EXPECT_EQ(store_->Import(caller_, req, "imp1")->id(), b->id());
  req.set_json("{");
  EXPECT_EQ(FieldViolations(store_->Import(caller_, req, "").status())[0].field, "json");
}

}  // namespace
}  // namespace crm::dialogs::scenarios
