// File: services/deals/interactions/interactions_test.cc
// D15/D16 stores on a real PostgreSQL (a fresh database per test from CRM_TEST_PG_DSN, with the events,
// deals, requests and interactions migrations) and a ManualClock: requests and their derived stage,
// interactions with primacy (also under 16 concurrent first calls), the integrations' upsert (also
// concurrent), completion with the §6.5.3 decodes, «Задачи на сегодня», the slot calendar with its
// capacity (also concurrent), access by scope, a service recording for anyone, and the events of every
// change in the outbox.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <pqxx/binarystring>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crm/deals/v1/interactions_events.pb.h"
#include "crm/events/v1/envelope.pb.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/rpc/client.h"
#include "libs/rpc/testing/principals.h"
#include "proto/crm/deals/v1/interactions_event_types.h"
#include "services/deals/interactions/calendar_store.h"
#include "services/deals/interactions/interaction_store.h"
#include "services/deals/interactions/request_store.h"
#include "services/deals/interactions/wiring.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::deals::interactions {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using crm::rpc::testing::UserPrincipal;
using I = v1::Interaction;

constexpr char kAnna[] = "01900000-0000-7000-8000-00000000a001";   // manager, team 1
constexpr char kBoris[] = "01900000-0000-7000-8000-00000000a002";  // manager, team 1
constexpr char kVera[] = "01900000-0000-7000-8000-00000000a003";   // manager, team 2
constexpr char kTeam1[] = "01900000-0000-7000-8000-00000000e001";
constexpr char kTeam2[] = "01900000-0000-7000-8000-00000000e002";
constexpr char kProject[] = "01900000-0000-7000-8000-0000000f0001";
constexpr char kOtherProject[] = "01900000-0000-7000-8000-0000000f0002";
constexpr char kPipeline[] = "01900000-0000-7000-8000-00000000c001";
constexpr char kStage[] = "01900000-0000-7000-8000-00000000d001";
constexpr char kCalendar[] = "01900000-0000-7000-8000-0000000ca001";

// A manager: their team's interactions to read, their own to change (as identity's manager role).
Principal Manager(const std::string& id, const std::string& team) {
  return UserPrincipal(id, {"interactions.read.team", "interactions.write.own"}, {team});
}
Principal Head() { return UserPrincipal(kVera, {"interactions.read.all", "interactions.write.all"}, {kTeam2}); }
Principal Telephony() {
  Principal p = rpc::ServicePrincipal("telephony");
  p.add_permissions("interactions.read.all");
  p.add_permissions("interactions.write.all");
  return p;
}
Actor As(const Principal& p) { return Actor{.principal = p}; }

std::vector<std::string> Fields(const absl::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& v : FieldViolations(s)) out.push_back(v.field);
  return out;
}

class InteractionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pg::testing::TempDatabase::Create("dinteractions");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), DealsMigrations().begin(), DealsMigrations().end());
    all.insert(all.end(), InteractionsMigrations().begin(), InteractionsMigrations().end());
    auto migrated = pg::Migrate(db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 20});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    ASSERT_TRUE(absl::LoadTimeZone("Europe/Moscow", &zone_));
    // Monday 2026-03-02 10:00 Moscow.
    clock_.Set(absl::FromCivil(absl::CivilMinute(2026, 3, 2, 10, 0), zone_));
    db_->Exec(absl::StrCat(
        "INSERT INTO user_directory (user_id, team_ids, version) VALUES ('", kAnna, "', '{", kTeam1, "}', 1), ('",
        kBoris, "', '{", kTeam1, "}', 1), ('", kVera, "', '{", kTeam2, "}', 1);",
        "INSERT INTO pipelines (id, name) VALUES ('", kPipeline, "', 'Продажа');",
        "INSERT INTO stages (id, pipeline_id, position, name, kind) VALUES ('", kStage, "', '", kPipeline,
        "', 1, 'Новая', 1);"));
    requests_ = std::make_unique<RequestStore>(*pool_, clock_);
    store_ = std::make_unique<InteractionStore>(*pool_, clock_, zone_);
    calendars_ = std::make_unique<CalendarStore>(*pool_, clock_, zone_);
  }

  std::string Client(const std::string& name = "Юлия") {
    const std::string id = NewUuidV7();
    db_->Exec(absl::StrCat("INSERT INTO clients (id, kind, name) VALUES ('", id, "', 2, '", name, "')"));
    return id;
  }
  std::string Deal(const std::string& client, int status = 1) {
    const std::string id = NewUuidV7();
    db_->Exec(absl::StrCat("INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id, client_id) "
                           "VALUES ('", id, "', 'Квартира', '", kPipeline, "', '", kStage, "', ", status, ", '", kAnna,
                           "', '", client, "')"));
    return id;
  }
  v1::ClientRequest Request(const std::string& client, const Principal& who, const std::string& project = kProject) {
    v1::ClientRequest q;
    q.set_client_id(client);
    q.set_project_id(project);
    q.set_unit_kind(v1::ClientRequest::APARTMENT);
    q.set_source("Сайт");
    auto made = requests_->Create(As(who), q);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? *made : q;
  }
  I Call(const std::string& client, absl::Duration in, const std::string& request = "") {
    I x;
    x.set_kind(I::CALL);
    x.set_client_id(client);
    x.set_request_id(request);
    x.set_subject("Звонок");
    *x.mutable_planned_time() = ToProtoTimestamp(clock_.Now() + in);
    return x;
  }
  I MustCreate(const Principal& who, const I& x) {
    auto made = store_->Create(As(who), x);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? *made : x;
  }
  // The event types of one aggregate, in order.
  std::vector<std::string> Events(const std::string& id) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<std::string> out;
    for (const auto& r : tx.exec_params("SELECT type FROM outbox WHERE aggregateid = $1 ORDER BY seq", id)) {
      out.push_back(r[0].c_str());
    }
    return out;
  }
  template <typename M>
  M LastPayload(const std::string& id, const std::string& type) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    pqxx::result r = tx.exec_params(
        "SELECT payload FROM outbox WHERE aggregateid = $1 AND type = $2 ORDER BY seq DESC LIMIT 1", id, type);
    M m;
    if (r.empty()) {
      ADD_FAILURE() << "no " << type << " of " << id;
      return m;
    }
    pqxx::binarystring raw(r[0][0]);
    crm::events::v1::Envelope env;
    EXPECT_TRUE(env.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
    EXPECT_TRUE(env.payload().UnpackTo(&m));
    return m;
  }
  void Office(int capacity = 2) {
    v1::SlotCalendar c;
    c.set_id(kCalendar);
    c.set_name("Офис продаж");
    c.set_project_id(kProject);
    c.set_open_time("09:00");
    c.set_close_time("21:00");
    c.set_slot_minutes(60);
    c.set_capacity(capacity);
    Principal admin = UserPrincipal(kVera, {"interactions.slots.manage"}, {});
    auto made = calendars_->Upsert(admin, c);
    ASSERT_TRUE(made.ok()) << made.status();
  }
  google::protobuf::Timestamp Today(int hour, int minute = 0) {
    return ToProtoTimestamp(absl::FromCivil(absl::CivilMinute(2026, 3, 2, hour, minute), zone_));
  }

  std::unique_ptr<pg::testing::TempDatabase> db_;
  std::unique_ptr<pg::Pool> pool_;
  absl::TimeZone zone_;
  ManualClock clock_{absl::UnixEpoch()};
  std::unique_ptr<RequestStore> requests_;
  std::unique_ptr<InteractionStore> store_;
  std::unique_ptr<CalendarStore> calendars_;
};

// ---- requests (D15) ----

TEST_F(InteractionsTest, ARequestRefusesEveryBadFieldAtOnce) {
  v1::ClientRequest q;
  q.set_client_id("nope");
  q.set_unit_kind(static_cast<v1::ClientRequest::UnitKind>(42));
  q.add_choice_factors("Цена");
  q.add_choice_factors("Цена");
  q.add_choice_factors("");
  q.mutable_budget_max()->set_currency("rub");
  q.mutable_budget_max()->set_amount_minor(-1);
  q.set_area_from_centi_m2(6000);
  q.set_area_to_centi_m2(4000);
  auto made = requests_->Create(As(Manager(kAnna, kTeam1)), q);
  ASSERT_EQ(made.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fields(made.status()),
            (std::vector<std::string>{"request.client_id", "request.project_id", "request.unit_kind",
                                      "request.choice_factors[1]", "request.choice_factors[2]",
                                      "request.budget_max.currency", "request.budget_max.amount_minor",
                                      "request.area_to_centi_m2"}));
  EXPECT_EQ(db_->Count("SELECT count(*) FROM client_requests"), 0);
}

TEST_F(InteractionsTest, ARequestIsCreatedOnceForAnIdempotencyKey) {
  const std::string client = Client();
  v1::ClientRequest q;
  q.set_client_id(client);
  q.set_project_id(kProject);
  q.add_choice_factors("Цена");
  q.mutable_budget_max()->set_amount_minor(1'200'000'000);
  q.mutable_budget_max()->set_currency("RUB");
  q.set_area_from_centi_m2(4550);
  q.set_area_to_centi_m2(7000);
  auto first = requests_->Create(As(Manager(kAnna, kTeam1)), q, "key-1");
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = requests_->Create(As(Manager(kAnna, kTeam1)), q, "key-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(first->id(), again->id());
  EXPECT_EQ(first->stage(), v1::ClientRequest::NEW);
  EXPECT_EQ(first->stage_name(), "Новый");
  EXPECT_EQ(first->client_name(), "Юлия");
  EXPECT_EQ(first->responsible_id(), kAnna);
  EXPECT_EQ(first->area_from_centi_m2(), 4550);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM client_requests"), 1);
  EXPECT_EQ(Events(first->id()), (std::vector<std::string>{v1::kRequestCreatedType}));
  q.set_comment("другое");
  auto reused = requests_->Create(As(Manager(kAnna, kTeam1)), q, "key-1");
  EXPECT_EQ(Fields(reused.status()), (std::vector<std::string>{"idempotency-key"}));
  // Even with a bad request, the reused key is what is named.
  EXPECT_EQ(Fields(requests_->Create(As(Manager(kAnna, kTeam1)), v1::ClientRequest(), "key-1").status()),
            (std::vector<std::string>{"idempotency-key"}));
  // What Create returns is the stored row (one INSERT … RETURNING), every field as Get reads it; a client
  // that does not exist is named and nothing is written.
  auto got = requests_->Get(Manager(kAnna, kTeam1), first->id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), first->SerializeAsString());
  q.set_client_id("01900000-0000-7000-8000-0000000dead1");
  EXPECT_EQ(Fields(requests_->Create(As(Manager(kAnna, kTeam1)), q).status()),
            (std::vector<std::string>{"request.client_id"}));
  EXPECT_EQ(db_->Count("SELECT count(*) FROM client_requests"), 1);
}

TEST_F(InteractionsTest, RequestsAreSeenAsDealsAre) {
  const std::string client = Client();
  const v1::ClientRequest anna = Request(client, Manager(kAnna, kTeam1));
  // Boris shares Anna's team: he reads it, but may not change it; Vera's team is another.
  EXPECT_TRUE(requests_->Get(Manager(kBoris, kTeam1), anna.id()).ok());
  EXPECT_EQ(requests_->Get(Manager(kVera, kTeam2), anna.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(requests_->Get(Head(), anna.id()).ok());
  v1::ClientRequest change = anna;
  change.set_comment("Хочет вид на парк");
  google::protobuf::FieldMask mask;
  mask.add_paths("comment");
  auto denied = requests_->Update(As(Manager(kBoris, kTeam1)), change, mask);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.status().message(), "missing permission interactions.write.team");
  auto changed = requests_->Update(As(Manager(kAnna, kTeam1)), change, mask);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->version(), 2);
  change.set_version(1);
  EXPECT_EQ(requests_->Update(As(Manager(kAnna, kTeam1)), change, mask).status().code(), absl::StatusCode::kAborted);
  // Lists: Boris sees his team's, Vera (team 2, own scope) none, the head of sales all.
  Request(Client("Зита"), Manager(kVera, kTeam2));
  v1::ListClientRequestsRequest list;
  list.set_project_id(kProject);
  EXPECT_EQ(requests_->List(Manager(kBoris, kTeam1), list)->requests_size(), 1);
  EXPECT_EQ(requests_->List(UserPrincipal(kBoris, {"interactions.read.own"}, {kTeam1}), list)->requests_size(), 0);
  EXPECT_EQ(requests_->List(Head(), list)->requests_size(), 2);
  list.set_responsible("me");
  EXPECT_EQ(requests_->List(Manager(kAnna, kTeam1), list)->requests(0).id(), anna.id());
  list.set_page_size(-1);
  EXPECT_EQ(Fields(requests_->List(Head(), list).status()), (std::vector<std::string>{"page_size"}));
  // Handing a request to someone outside one's reach needs the scope that reaches them.
  change.set_version(0);
  change.set_responsible_id(kVera);
  mask.set_paths(0, "responsible_id");
  EXPECT_EQ(requests_->Update(As(Manager(kAnna, kTeam1)), change, mask).status().message(),
            "missing permission interactions.write.all");
}

TEST_F(InteractionsTest, ListsPageNewestFirst) {
  const std::string client = Client();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.insert(ids.begin(), Request(client, Manager(kAnna, kTeam1), i % 2 ? kProject : kOtherProject).id());
    clock_.Advance(absl::Seconds(1));
  }
  for (const Principal& who : {Manager(kAnna, kTeam1), Head()}) {
    v1::ListClientRequestsRequest list;
    list.set_page_size(2);
    std::vector<std::string> seen;
    for (int page = 0; page < 5; ++page) {
      auto got = requests_->List(who, list);
      ASSERT_TRUE(got.ok()) << got.status();
      for (const auto& r : got->requests()) seen.push_back(r.id());
      if (got->next_page_token().empty()) break;
      list.set_page_token(got->next_page_token());
    }
    EXPECT_EQ(seen, ids);
  }
}

// ---- interactions (D16) ----

TEST_F(InteractionsTest, TheClientsFirstInteractionInAProjectIsPrimary) {
  const std::string client = Client();
  const v1::ClientRequest req = Request(client, Manager(kAnna, kTeam1));
  const I first = MustCreate(Manager(kAnna, kTeam1), Call(client, absl::Hours(1), req.id()));
  EXPECT_EQ(first.project_id(), kProject);  // from the request
  EXPECT_EQ(first.primacy(), I::PRIMARY);
  EXPECT_EQ(MustCreate(Manager(kAnna, kTeam1), Call(client, absl::Hours(2), req.id())).primacy(), I::SECONDARY);
  I other = Call(client, absl::Hours(3));
  other.set_project_id(kOtherProject);
  EXPECT_EQ(MustCreate(Manager(kAnna, kTeam1), other).primacy(), I::PRIMARY);  // another project: primary there
  EXPECT_EQ(MustCreate(Manager(kAnna, kTeam1), Call(client, absl::Hours(4))).primacy(), I::PRIMACY_UNSPECIFIED);
  // Another client's request cannot be linked; nor a project other than the request's.
  I wrong = Call(Client("Зита"), absl::Hours(1), req.id());
  EXPECT_EQ(Fields(store_->Create(As(Manager(kAnna, kTeam1)), wrong).status()),
            (std::vector<std::string>{"interaction.request_id"}));
  I mismatch = Call(client, absl::Hours(1), req.id());
  mismatch.set_project_id(kOtherProject);
  EXPECT_EQ(Fields(store_->Create(As(Manager(kAnna, kTeam1)), mismatch).status()),
            (std::vector<std::string>{"interaction.project_id"}));
}

TEST_F(InteractionsTest, SixteenConcurrentFirstCallsMakeExactlyOnePrimary) {
  const std::string client = Client();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      I x = Call(client, absl::Hours(1 + i));
      x.set_project_id(kProject);
      if (store_->Create(As(Head()), x).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16);
  EXPECT_EQ(db_->Count(absl::StrCat("SELECT count(*) FROM interactions WHERE client_id = '", client, "'")), 16);
  EXPECT_EQ(db_->Count(absl::StrCat("SELECT count(*) FROM interactions WHERE client_id = '", client,
                                    "' AND is_primary")),
            1);
}

TEST_F(InteractionsTest, EveryBadFieldOfAnInteractionIsNamed) {
  I x;
  x.set_kind(I::LETTER);
  x.set_status(I::PLANNED);
  x.set_client_id("x");
  x.set_deal_id("y");
  x.set_calendar_id(kCalendar);
  x.set_online(true);
  x.set_result("итог");
  x.set_source("PBX!");
  auto made = store_->Create(As(Head()), x);
  EXPECT_EQ(Fields(made.status()),
            (std::vector<std::string>{"interaction.client_id", "interaction.deal_id", "interaction.planned_time",
                                      "interaction.result", "interaction.calendar_id", "interaction.online",
                                      "interaction.source", "interaction.external_id"}));
}

TEST_F(InteractionsTest, TheSameCallUpsertedTwiceIsRecordedOnceAndItsCompletionIsATouch) {
  const std::string client = Client();
  const std::string deal = Deal(client);
  Deal(client, /*status=*/2);  // won: not open, not touched
  I call;
  call.set_kind(I::CALL);
  call.set_direction(I::INBOUND);
  call.set_status(I::PLANNED);
  call.set_client_id(client);
  call.set_responsible_id(kAnna);  // a service records for anyone
  call.set_source("telephony");
  call.set_external_id("pbx-1718031234.5678");
  *call.mutable_planned_time() = ToProtoTimestamp(clock_.Now());
  auto first = store_->Upsert(As(Telephony()), call);
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = store_->Upsert(As(Telephony()), call);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(first->id(), again->id());
  EXPECT_EQ(again->version(), 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM interactions"), 1);
  EXPECT_EQ(Events(first->id()), (std::vector<std::string>{v1::kInteractionCreatedType}));
  // The PBX reports the end: DONE with its times; the client's open deal is touched.
  call.clear_status();
  *call.mutable_start_time() = ToProtoTimestamp(clock_.Now());
  *call.mutable_end_time() = ToProtoTimestamp(clock_.Now() + absl::Minutes(3));
  auto done = store_->Upsert(As(Telephony()), call);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), I::DONE);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM interactions"), 1);
  EXPECT_EQ(Events(first->id()), (std::vector<std::string>{v1::kInteractionCreatedType, v1::kInteractionUpdatedType,
                                                           v1::kInteractionCompletedType}));
  const auto completed = LastPayload<v1::InteractionCompleted>(first->id(), v1::kInteractionCompletedType);
  EXPECT_EQ(std::vector<std::string>(completed.touched_deal_ids().begin(), completed.touched_deal_ids().end()),
            std::vector<std::string>{deal});
  // Retried once more after the end: nothing new.
  ASSERT_TRUE(store_->Upsert(As(Telephony()), call).ok());
  EXPECT_EQ(Events(first->id()).size(), 3u);
}

TEST_F(InteractionsTest, ConcurrentUpsertsOfOneCallMakeOne) {
  const std::string client = Client();
  std::vector<std::thread> threads;
  std::set<std::string> ids;
  std::mutex mu;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      I call;
      call.set_kind(I::CALL);
      call.set_client_id(client);
      call.set_responsible_id(kAnna);
      call.set_source("telephony");
      call.set_external_id("pbx-42");
      *call.mutable_start_time() = ToProtoTimestamp(clock_.Now());
      auto got = store_->Upsert(As(Telephony()), call);
      EXPECT_TRUE(got.ok()) << got.status();
      std::lock_guard<std::mutex> lock(mu);
      if (got.ok()) ids.insert(got->id());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM interactions WHERE source = 'telephony' AND external_id = 'pbx-42'"), 1);
  EXPECT_EQ(db_->Count(absl::StrCat("SELECT count(*) FROM outbox WHERE type = '", v1::kInteractionCompletedType, "'")),
            1);
}

TEST_F(InteractionsTest, AManagerRecordsOnlyForThemselvesAServiceForAnyone) {
  const std::string client = Client();
  I x = Call(client, absl::Hours(1));
  x.set_responsible_id(kBoris);
  EXPECT_EQ(store_->Create(As(Manager(kAnna, kTeam1)), x).status().message(),
            "missing permission interactions.write.team");
  I mine = MustCreate(Manager(kAnna, kTeam1), Call(client, absl::Hours(1)));
  EXPECT_EQ(mine.responsible_id(), kAnna);
  EXPECT_EQ(mine.creator_id(), kAnna);
  // A service acting for nobody must name the responsible.
  EXPECT_EQ(Fields(store_->Create(As(Telephony()), Call(client, absl::Hours(1))).status()),
            (std::vector<std::string>{"interaction.responsible_id"}));
  EXPECT_TRUE(store_->Create(As(Telephony()), x).ok());
  // Team reads, own writes, others do not see it.
  EXPECT_TRUE(store_->Get(Manager(kBoris, kTeam1), mine.id()).ok());
  EXPECT_EQ(store_->Get(Manager(kVera, kTeam2), mine.id()).status().code(), absl::StatusCode::kNotFound);
  v1::CancelInteractionRequest cancel;
  cancel.set_id(mine.id());
  EXPECT_EQ(store_->Cancel(As(Manager(kBoris, kTeam1)), cancel).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(store_->Cancel(As(Manager(kVera, kTeam2)), cancel).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(InteractionsTest, OverdueIsDerivedFromTheClock) {
  const std::string client = Client();
  const I x = MustCreate(Manager(kAnna, kTeam1), Call(client, absl::Hours(1)));
  EXPECT_FALSE(x.overdue());
  v1::ListInteractionsRequest list;
  list.set_overdue(true);
  EXPECT_EQ(store_->List(Head(), list)->interactions_size(), 0);
  clock_.Advance(absl::Hours(2));
  EXPECT_TRUE(store_->Get(Head(), x.id())->overdue());
  EXPECT_EQ(store_->List(Head(), list)->interactions_size(), 1);
  EXPECT_EQ(store_->List(Manager(kAnna, kTeam1), list)->interactions(0).id(), x.id());
}

TEST_F(InteractionsTest, DecodesPlanWhatComesNextAndMoveTheRequestsStage) {
  const std::string client = Client();
  const v1::ClientRequest req = Request(client, Manager(kAnna, kTeam1));
  const I call = MustCreate(Manager(kAnna, kTeam1), Call(client, absl::Minutes(5), req.id()));
  EXPECT_EQ(requests_->Get(Head(), req.id())->next_interaction_time().seconds(), call.planned_time().seconds());
  v1::CompleteInteractionRequest done;
  done.set_id(call.id());
  done.set_result("Клиент готов приехать");
  // A call of a request needs its decode; «Назначена встреча» needs the meeting's time.
  EXPECT_EQ(Fields(store_->Complete(As(Manager(kAnna, kTeam1)), done).status()), (std::vector<std::string>{"outcome"}));
  done.set_outcome(I::MEETING_SCHEDULED);
  EXPECT_EQ(Fields(store_->Complete(As(Manager(kAnna, kTeam1)), done).status()),
            (std::vector<std::string>{"next.planned_time"}));
  *done.mutable_next()->mutable_planned_time() = Today(14);
  auto finished = store_->Complete(As(Manager(kAnna, kTeam1)), done);
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(finished->interaction().status(), I::DONE);
  EXPECT_EQ(finished->next().kind(), I::MEETING);
  EXPECT_EQ(finished->next().subject(), "Назначена встреча");
  EXPECT_EQ(finished->next().previous_interaction_id(), call.id());
  EXPECT_EQ(finished->interaction().next_interaction_id(), finished->next().id());
  EXPECT_EQ(finished->next().primacy(), I::SECONDARY);
  v1::ClientRequest after = *requests_->Get(Head(), req.id());
  EXPECT_EQ(after.stage(), v1::ClientRequest::MEETING_SCHEDULED);
  EXPECT_EQ(after.last_outcome(), I::MEETING_SCHEDULED);
  EXPECT_EQ(after.next_interaction_time().seconds(), Today(14).seconds());
  const auto moved = LastPayload<v1::ClientRequestStageChanged>(req.id(), v1::kRequestStageChangedType);
  EXPECT_EQ(moved.from_stage(), v1::ClientRequest::NEW);
  EXPECT_EQ(moved.request().stage(), v1::ClientRequest::MEETING_SCHEDULED);
  // Completed twice: the state guards it.
  EXPECT_EQ(store_->Complete(As(Manager(kAnna, kTeam1)), done).status().code(), absl::StatusCode::kFailedPrecondition);
  // The meeting held, the client thinks it over: a call planned; the stage is «Встреча проведена».
  v1::CompleteInteractionRequest met;
  met.set_id(finished->next().id());
  met.set_outcome(I::DECISION_MAKING);
  *met.mutable_next()->mutable_planned_time() = Today(18);
  met.mutable_next()->set_calendar_id(kCalendar);  // a call is not booked into the calendar
  EXPECT_EQ(Fields(store_->Complete(As(Manager(kAnna, kTeam1)), met).status()),
            (std::vector<std::string>{"next.calendar_id"}));
  met.mutable_next()->clear_calendar_id();
  auto thinking = store_->Complete(As(Manager(kAnna, kTeam1)), met);
  ASSERT_TRUE(thinking.ok()) << thinking.status();
  EXPECT_EQ(thinking->next().kind(), I::CALL);
  EXPECT_EQ(requests_->Get(Head(), req.id())->stage(), v1::ClientRequest::MEETING_HELD);
  // «Отказ» plans nothing, and says so when asked to.
  v1::CompleteInteractionRequest refuse;
  refuse.set_id(thinking->next().id());
  refuse.set_outcome(I::REFUSAL);
  *refuse.mutable_next()->mutable_planned_time() = Today(19);
  EXPECT_EQ(Fields(store_->Complete(As(Manager(kAnna, kTeam1)), refuse).status()), (std::vector<std::string>{"next"}));
  refuse.clear_next();
  auto refused = store_->Complete(As(Manager(kAnna, kTeam1)), refuse);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_FALSE(refused->has_next());
  after = *requests_->Get(Head(), req.id());
  EXPECT_EQ(after.stage(), v1::ClientRequest::REFUSED);
  EXPECT_EQ(after.stage_name(), "Отказ");
  EXPECT_FALSE(after.has_next_interaction_time());
  // The planned call moved only next_interaction_time (updated.v1); each completion moved the stage.
  EXPECT_EQ(Events(req.id()),
            (std::vector<std::string>{v1::kRequestCreatedType, v1::kRequestUpdatedType, v1::kRequestStageChangedType,
                                      v1::kRequestStageChangedType, v1::kRequestStageChangedType}));
}

// The next-interaction path: a responsible the directory does not know yet is seeded by the next one's
// checks, and the completion is visible to their team as read there (not read again).
TEST_F(InteractionsTest, ACompletionThatSeedsItsCallerIsVisibleToTheirTeam) {
  constexpr char kGleb[] = "01900000-0000-7000-8000-00000000a004";  // manager, team 1, not in the directory
  const std::string client = Client();
  I call = Call(client, absl::Minutes(5));
  call.set_responsible_id(kGleb);
  const I planned = MustCreate(Telephony(), call);
  v1::CompleteInteractionRequest done;
  done.set_id(planned.id());
  done.set_outcome(I::DECISION_MAKING);
  *done.mutable_next()->mutable_planned_time() = Today(18);
  auto finished = store_->Complete(As(Manager(kGleb, kTeam1)), done);
  ASSERT_TRUE(finished.ok()) << finished.status();
  pqxx::connection c(db_->dsn());
  pqxx::work tx(c);
  for (const std::string& id : {planned.id(), finished->next().id()}) {
    pqxx::result r = tx.exec_params("SELECT payload FROM outbox WHERE aggregateid = $1 ORDER BY seq DESC LIMIT 1", id);
    ASSERT_EQ(r.size(), 1u);
    pqxx::binarystring raw(r[0][0]);
    crm::events::v1::Envelope env;
    ASSERT_TRUE(env.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
    EXPECT_EQ(std::vector<std::string>(env.visible_to_team_ids().begin(), env.visible_to_team_ids().end()),
              std::vector<std::string>{kTeam1})
        << env.type();
  }
}

TEST_F(InteractionsTest, AFinishedCallLinkedToARequestLaterMovesItsStage) {
  // Telephony records the call before anyone knows the request; the manager links it afterwards.
  const std::string client = Client();
  const v1::ClientRequest req = Request(client, Manager(kAnna, kTeam1));
  I call;
  call.set_kind(I::CALL);
  call.set_client_id(client);
  call.set_responsible_id(kAnna);
  call.set_source("telephony");
  call.set_external_id("pbx-7");
  *call.mutable_start_time() = ToProtoTimestamp(clock_.Now());
  const I recorded = *store_->Upsert(As(Telephony()), call);
  EXPECT_EQ(recorded.status(), I::DONE);
  EXPECT_EQ(recorded.primacy(), I::PRIMACY_UNSPECIFIED);
  I link;
  link.set_id(recorded.id());
  link.set_request_id(req.id());
  link.set_version(1);
  google::protobuf::FieldMask mask;
  mask.add_paths("request_id");
  auto linked = store_->Update(As(Manager(kAnna, kTeam1)), link, mask);
  ASSERT_TRUE(linked.ok()) << linked.status();
  EXPECT_EQ(linked->project_id(), kProject);
  EXPECT_EQ(linked->primacy(), I::PRIMARY);
  EXPECT_EQ(requests_->Get(Head(), req.id())->stage(), v1::ClientRequest::PRIMARY_CONTACT);
  EXPECT_EQ(store_->Update(As(Manager(kAnna, kTeam1)), link, mask).status().code(), absl::StatusCode::kAborted);
}

TEST_F(InteractionsTest, TheSlotCalendarShowsOccupancyAndNeverOverbooks) {
  ASSERT_NO_FATAL_FAILURE(Office());
  const auto meeting = [&](const std::string& client, int hour, int minute = 0, bool online = false) {
    I m;
    m.set_kind(I::MEETING);
    m.set_client_id(client);
    *m.mutable_planned_time() = Today(hour, minute);
    m.set_calendar_id(kCalendar);
    m.set_online(online);
    return store_->Create(As(Manager(kAnna, kTeam1)), m);
  };
  auto julia = meeting(Client("Юлия"), 14, 0, true);
  ASSERT_TRUE(julia.ok()) << julia.status();
  EXPECT_TRUE(julia->pre_registered());
  ASSERT_TRUE(meeting(Client("Зита"), 14).ok());
  auto third = meeting(Client("Кристина"), 14);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Fields(meeting(Client("Заира"), 14, 30).status()), (std::vector<std::string>{"interaction.planned_time"}));
  v1::ListSlotsRequest req;
  req.set_calendar_id(kCalendar);
  req.set_from_day("2026-03-02");
  req.set_days(1);
  auto slots = calendars_->Slots(Manager(kBoris, kTeam1), req);
  ASSERT_TRUE(slots.ok()) << slots.status();
  ASSERT_EQ(slots->days_size(), 1);
  ASSERT_EQ(slots->days(0).slots_size(), 12);
  EXPECT_EQ(slots->days(0).slots(0).text(), "09:00 - (0/2)");
  EXPECT_EQ(slots->days(0).slots(5).text(), "14:00 - (2/2)(Онлайн ПЗ:Юлия)(ПЗ:Зита)");
  // Cancelling frees the place; moving a meeting moves its place.
  v1::CancelInteractionRequest cancel;
  cancel.set_id(julia->id());
  ASSERT_TRUE(store_->Cancel(As(Manager(kAnna, kTeam1)), cancel).ok());
  auto kristina = meeting(Client("Кристина"), 14);
  ASSERT_TRUE(kristina.ok()) << kristina.status();
  I move;
  move.set_id(kristina->id());
  *move.mutable_planned_time() = Today(16);
  google::protobuf::FieldMask mask;
  mask.add_paths("planned_time");
  ASSERT_TRUE(store_->Update(As(Manager(kAnna, kTeam1)), move, mask).ok());
  slots = calendars_->Slots(Head(), req);
  EXPECT_EQ(slots->days(0).slots(5).text(), "14:00 - (1/2)(ПЗ:Зита)");
  EXPECT_EQ(slots->days(0).slots(7).text(), "16:00 - (1/2)(ПЗ:Кристина)");
  EXPECT_EQ(db_->Count("SELECT sum(booked) FROM slot_loads"), 2);
  // Configuring a calendar needs its permission.
  v1::SlotCalendar c = slots->calendar();
  EXPECT_EQ(calendars_->Upsert(Head(), c).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(InteractionsTest, EightConcurrentBookingsOfATwoPlaceSlotMakeTwo) {
  ASSERT_NO_FATAL_FAILURE(Office());
  std::vector<std::string> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(Client(absl::StrCat("Клиент ", i)));
  std::atomic<int> booked{0};
  std::atomic<int> full{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      I m;
      m.set_kind(I::MEETING);
      m.set_client_id(clients[i]);
      *m.mutable_planned_time() = Today(11);
      m.set_calendar_id(kCalendar);
      auto got = store_->Create(As(Head()), m);
      if (got.ok()) ++booked;
      if (got.status().code() == absl::StatusCode::kFailedPrecondition) ++full;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(booked.load(), 2);
  EXPECT_EQ(full.load(), 6);
  EXPECT_EQ(db_->Count(absl::StrCat("SELECT count(*) FROM interactions WHERE calendar_id = '", kCalendar, "'")), 2);
}

TEST_F(InteractionsTest, TodaysTasksArePlannedDoneAndOverdueOfWhatTheCallerSees) {
  const std::string client = Client();
  // Anna: a call at 09:00 (overdue by 10:00), one at 15:00, a meeting at 12:00 done, a letter today (not a
  // call or meeting), yesterday's forgotten call; Vera: a call at 16:00 in another project.
  const I early = MustCreate(Manager(kAnna, kTeam1), [&] {
    I x = Call(client, absl::ZeroDuration());
    *x.mutable_planned_time() = Today(9);
    x.set_project_id(kProject);
    return x;
  }());
  const I later = MustCreate(Manager(kAnna, kTeam1), [&] {
    I x = Call(client, absl::ZeroDuration());
    *x.mutable_planned_time() = Today(15);
    x.set_project_id(kProject);
    return x;
  }());
  I meeting;
  meeting.set_kind(I::MEETING);
  meeting.set_client_id(client);
  meeting.set_status(I::DONE);
  *meeting.mutable_start_time() = Today(8);
  MustCreate(Manager(kAnna, kTeam1), meeting);
  I letter;
  letter.set_kind(I::LETTER);
  letter.set_client_id(client);
  *letter.mutable_planned_time() = Today(17);
  MustCreate(Manager(kAnna, kTeam1), letter);
  I yesterday = Call(client, absl::ZeroDuration());
  *yesterday.mutable_planned_time() = ToProtoTimestamp(FromProtoTimestamp(Today(9)) - absl::Hours(24));
  const I forgotten = MustCreate(Manager(kAnna, kTeam1), yesterday);
  I veras = Call(client, absl::ZeroDuration());
  *veras.mutable_planned_time() = Today(16);
  veras.set_project_id(kOtherProject);
  const I vera = MustCreate(Manager(kVera, kTeam2), veras);

  v1::GetTodayTasksRequest req;
  auto anna = store_->Today(Manager(kAnna, kTeam1), req);
  ASSERT_TRUE(anna.ok()) << anna.status();
  EXPECT_EQ(anna->day(), "2026-03-02");
  ASSERT_EQ(anna->planned_size(), 1);
  EXPECT_EQ(anna->planned(0).id(), later.id());
  EXPECT_EQ(anna->done_size(), 1);
  ASSERT_EQ(anna->overdue_size(), 2);
  EXPECT_EQ(anna->overdue(0).id(), forgotten.id());  // oldest first
  EXPECT_EQ(anna->overdue(1).id(), early.id());
  EXPECT_TRUE(anna->overdue(1).overdue());
  EXPECT_EQ(anna->overdue_count(), 2);
  auto head = store_->Today(Head(), req);
  EXPECT_EQ(head->planned_count(), 2);
  EXPECT_EQ(head->planned(1).id(), vera.id());
  req.add_project_ids(kOtherProject);
  head = store_->Today(Head(), req);
  EXPECT_EQ(head->planned_count(), 1);
  EXPECT_EQ(head->overdue_count(), 0);
  req.clear_project_ids();
  req.set_responsible("me");
  EXPECT_EQ(store_->Today(Head(), req)->planned_count(), 1);  // «Только мои задачи»: Vera's own
  req.set_responsible("");
  req.set_day("2026-03-03");
  auto tomorrow = store_->Today(Manager(kAnna, kTeam1), req);
  EXPECT_EQ(tomorrow->planned_count(), 0);
  EXPECT_EQ(tomorrow->overdue_count(), 2);  // still overdue now
  req.set_day("2026-3-3");
  req.set_limit(-1);
  EXPECT_EQ(Fields(store_->Today(Head(), req).status()), (std::vector<std::string>{"day", "limit"}));
}

TEST_F(InteractionsTest, EveryChangeHasItsEvent) {
  const std::string client = Client();
  const I x = MustCreate(Manager(kAnna, kTeam1), Call(client, absl::Hours(1)));
  I change;
  change.set_id(x.id());
  change.set_subject("Уточнить бюджет");
  google::protobuf::FieldMask mask;
  mask.add_paths("subject");
  ASSERT_TRUE(store_->Update(As(Manager(kAnna, kTeam1)), change, mask).ok());
  ASSERT_TRUE(store_->Update(As(Manager(kAnna, kTeam1)), change, mask).ok());  // the same again: nothing
  v1::CompleteInteractionRequest done;
  done.set_id(x.id());
  ASSERT_TRUE(store_->Complete(As(Manager(kAnna, kTeam1)), done).ok());
  const I y = MustCreate(Manager(kAnna, kTeam1), Call(client, absl::Hours(2)));
  v1::CancelInteractionRequest cancel;
  cancel.set_id(y.id());
  cancel.set_reason("клиент недоступен");
  ASSERT_TRUE(store_->Cancel(As(Manager(kAnna, kTeam1)), cancel).ok());
  EXPECT_EQ(Events(x.id()), (std::vector<std::string>{v1::kInteractionCreatedType, v1::kInteractionUpdatedType,
                                                      v1::kInteractionCompletedType}));
  EXPECT_EQ(Events(y.id()), (std::vector<std::string>{v1::kInteractionCreatedType, v1::kInteractionCancelledType}));
  const auto updated = LastPayload<v1::InteractionUpdated>(x.id(), v1::kInteractionUpdatedType);
  EXPECT_EQ(std::vector<std::string>(updated.changed_fields().begin(), updated.changed_fields().end()),
            std::vector<std::string>{"subject"});
  EXPECT_EQ(db_->Count(absl::StrCat("SELECT count(*) FROM outbox WHERE topic = '", v1::kInteractionTopic, "'")), 5);
  // Idempotent creates: one interaction for one key.
  auto a = store_->Create(As(Manager(kAnna, kTeam1)), Call(client, absl::Hours(3)), "k");
  auto b = store_->Create(As(Manager(kAnna, kTeam1)), Call(client, absl::Hours(3)), "k");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->id(), b->id());
}

}  // namespace
}  // namespace crm::deals::interactions
