// File: services/deals/applications/applications_test.cc
// Deal applications (D15 second half, seed 004 §6.3) on a real PostgreSQL (a fresh database per test
// with the events, deals, realty, requests/interactions and applications migrations) and a ManualClock:
// creation from a request with the client pre-filled and names beside ids; the price from the unit or
// from the client's own booking; a unit booked by another client refused naming application.unit_id;
// all or nothing (a failing participant leaves nothing written); НЛ at the application's date in the
// company's zone and ДУЛ from the card; shares and «Пересчитать доли»; versions; statuses; idempotent
// create; lists by request, client, responsible and status within the caller's scope; events; and the
// client card's birth date and passport (validation, who reads the passport).
#include <gtest/gtest.h>

#include <memory>
#include <pqxx/binarystring>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crm/deals/v1/applications_events.pb.h"
#include "crm/events/v1/envelope.pb.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/rpc/client.h"
#include "libs/rpc/testing/principals.h"
#include "proto/crm/deals/v1/applications_event_types.h"
#include "services/deals/applications/store.h"
#include "services/deals/applications/wiring.h"
#include "services/deals/clients.h"
#include "services/deals/interactions/request_store.h"
#include "services/deals/interactions/wiring.h"
#include "services/deals/realty/wiring.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::deals::applications {
namespace {

using crm::common::v1::Principal;
using crm::rpc::testing::UserPrincipal;
using A = v1::DealApplication;

constexpr char kAnna[] = "01900000-0000-7000-8000-00000000a001";   // manager, team 1
constexpr char kBoris[] = "01900000-0000-7000-8000-00000000a002";  // manager, team 2
constexpr char kTeam1[] = "01900000-0000-7000-8000-00000000e001";
constexpr char kTeam2[] = "01900000-0000-7000-8000-00000000e002";
constexpr char kProject[] = "01900000-0000-7000-8000-0000000f0001";
constexpr char kOtherProject[] = "01900000-0000-7000-8000-0000000f0002";
constexpr char kBuilding[] = "01900000-0000-7000-8000-0000000b0001";
constexpr char kOtherBuilding[] = "01900000-0000-7000-8000-0000000b0002";
constexpr char kCampaign[] = "01900000-0000-7000-8000-0000000c0001";
constexpr char kBank[] = "01900000-0000-7000-8000-000000000014";

// As identity's manager role: their team's requests and applications to read, their own to change.
Principal Manager(const std::string& id, const std::string& team) {
  return UserPrincipal(id,
              {"interactions.read.team", "interactions.write.own", "applications.read.team", "applications.write.own",
               "clients.read", "clients.write"},
              {team});
}
Principal Anna() { return Manager(kAnna, kTeam1); }
Principal Boris() { return Manager(kBoris, kTeam2); }
Actor As(const Principal& p) { return Actor{.principal = p}; }

std::vector<std::string> Fields(const absl::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& v : FieldViolations(s)) out.push_back(v.field);
  return out;
}

class ApplicationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pg::testing::TempDatabase::Create("dapplications");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), DealsMigrations().begin(), DealsMigrations().end());
    all.insert(all.end(), RealtyMigrations().begin(), RealtyMigrations().end());
    all.insert(all.end(), interactions::InteractionsMigrations().begin(), interactions::InteractionsMigrations().end());
    all.insert(all.end(), ApplicationsMigrations().begin(), ApplicationsMigrations().end());
    auto migrated = pg::Migrate(db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 8});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
    ASSERT_TRUE(absl::LoadTimeZone("Europe/Moscow", &zone_));
    // Monday 2026-03-02 10:00 Moscow.
    clock_.Set(absl::FromCivil(absl::CivilMinute(2026, 3, 2, 10, 0), zone_));
    db_->Exec(absl::StrCat(
        "INSERT INTO user_directory (user_id, team_ids, version) VALUES ('", kAnna, "', '{", kTeam1, "}', 1), ('",
        kBoris, "', '{", kTeam2, "}', 1);",
        "INSERT INTO realty_projects (id, name, create_time, update_time) VALUES ('", kProject,
        "', 'ЖК Северный парк', now(), now()), ('", kOtherProject, "', 'ЖК Южный', now(), now());",
        "INSERT INTO realty_buildings (id, project_id, name, phase, create_time, update_time) VALUES ('", kBuilding,
        "', '", kProject, "', 'Корпус 1', 'Очередь 1', now(), now()), ('", kOtherBuilding, "', '", kOtherProject,
        "', 'Корпус 9', '', now(), now());",
        "INSERT INTO marketing_campaigns (id, name, create_time) VALUES ('", kCampaign, "', 'Новогодние скидки', now());"));
    requests_ = std::make_unique<interactions::RequestStore>(*pool_, clock_);
    store_ = std::make_unique<ApplicationStore>(*pool_, clock_, zone_);
    clients_ = std::make_unique<ClientStore>(*pool_, clock_);
  }

  std::string Client(const std::string& name, int kind = 2, const std::string& birth = "") {
    const std::string id = NewUuidV7();
    db_->Exec(absl::StrCat("INSERT INTO clients (id, kind, name, birth_date) VALUES ('", id, "', ", kind, ", '", name,
                           "', ", birth.empty() ? "NULL" : "'" + birth + "'", ")"));
    return id;
  }
  // A unit of the building (or of the other project's) at place `pos`, AVAILABLE at `price` kopecks.
  std::string Unit(int pos, int64_t price, bool other_project = false) {
    const std::string id = NewUuidV7();
    db_->Exec(absl::StrCat(
        "INSERT INTO realty_units (id, project_id, building_id, section_number, floor, position, number, kind, purpose, "
        "status, rooms, area_centi, price_minor, price_per_m2_minor, final_price_minor, create_time, update_time) "
        "VALUES ('",
        id, "', '", other_project ? kOtherProject : kProject, "', '", other_project ? kOtherBuilding : kBuilding,
        "', 1, 5, ", pos, ", '", 100 + pos, "', 1, 1, 2, 2, 5000, ", price, ", 1, ", price,
        ", now(), now());",
        "INSERT INTO realty_unit_prices (unit_id, price_minor, price_per_m2_minor, final_price_minor, currency, "
        "discounts, special_offer, area_centi, change_time, source) VALUES ('",
        id, "', ", price, ", 1, ", price, ", 'RUB', '[]', false, 5000, now(), 1)"));
    return id;
  }
  // An ACTIVE booking of `unit` for `client` with its price fixed at `fixed` kopecks.
  std::string Book(const std::string& unit, const std::string& client, int64_t fixed) {
    const std::string id = NewUuidV7();
    db_->Exec(absl::StrCat(
        "BEGIN; UPDATE realty_units SET status = 3 WHERE id = '", unit, "';",
        "INSERT INTO realty_bookings (id, unit_id, project_id, building_id, client_id, status, responsible_id, fee_minor, "
        "currency, price_id, price_minor, final_price_minor, start_time, expire_time, create_time, update_time) "
        "SELECT '",
        id, "', '", unit, "', project_id, building_id, '", client, "', 2, '", kAnna, "', 1000, 'RUB', (SELECT max(id) FROM "
        "realty_unit_prices WHERE unit_id = '", unit, "'), ", fixed, ", ", fixed,
        ", now(), now() + interval '15 days', now(), now() FROM realty_units WHERE id = '", unit, "'; COMMIT;"));
    return id;
  }
  std::string Request(const std::string& client, const Principal& who) {
    v1::ClientRequest q;
    q.set_client_id(client);
    q.set_project_id(kProject);
    auto made = requests_->Create(As(who), q);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? made->id() : "";
  }
  A New(const std::string& request, const std::string& unit = "") {
    A a;
    a.set_request_id(request);
    a.set_unit_id(unit);
    return a;
  }
  int64_t Count(const std::string& sql) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    return tx.exec1(sql)[0].as<int64_t>();
  }
  int64_t Events(const std::string& type) {
    return Count(absl::StrCat("SELECT count(*) FROM outbox WHERE type = '", type, "'"));
  }
  v1::DealApplicationChanged LastEvent(const std::string& id) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    pqxx::result r = tx.exec_params("SELECT payload, topic FROM outbox WHERE aggregateid = $1 ORDER BY seq DESC LIMIT 1", id);
    v1::DealApplicationChanged ev;
    EXPECT_EQ(r.size(), 1u);
    if (r.empty()) return ev;
    EXPECT_EQ(r[0][1].as<std::string>(), v1::kApplicationTopic);
    pqxx::binarystring raw(r[0][0]);
    crm::events::v1::Envelope env;
    EXPECT_TRUE(env.ParseFromArray(raw.data(), static_cast<int>(raw.size())));
    EXPECT_TRUE(env.payload().UnpackTo(&ev));
    return ev;
  }

  std::unique_ptr<pg::testing::TempDatabase> db_;
  std::unique_ptr<pg::Pool> pool_;
  ManualClock clock_{absl::UnixEpoch()};
  absl::TimeZone zone_;
  std::unique_ptr<interactions::RequestStore> requests_;
  std::unique_ptr<ApplicationStore> store_;
  std::unique_ptr<ClientStore> clients_;
};

TEST_F(ApplicationsTest, CreatedFromARequestWithTheClientPrefilledAndNamesBesideIds) {
  const std::string yulia = Client("Юлия Тестова");
  const std::string request = Request(yulia, Anna());
  const std::string unit = Unit(1, 2698456884);
  auto made = store_->Create(As(Anna()), New(request, unit));
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->status(), A::DRAFT);
  EXPECT_EQ(made->client_id(), yulia);
  EXPECT_EQ(made->client_name(), "Юлия Тестова");
  EXPECT_EQ(made->project_id(), kProject);
  EXPECT_EQ(made->project_name(), "ЖК Северный парк");
  EXPECT_EQ(made->building_name(), "Корпус 1");
  EXPECT_EQ(made->phase(), "Очередь 1");
  EXPECT_EQ(made->section_number(), 1);
  EXPECT_EQ(made->floor(), 5);
  EXPECT_EQ(made->unit_number(), "101");
  EXPECT_EQ(made->price().amount_minor(), 2698456884);
  EXPECT_EQ(made->booking_id(), "");
  EXPECT_EQ(made->responsible_id(), kAnna);
  EXPECT_EQ(made->application_date(), "2026-03-02");
  EXPECT_EQ(made->ownership_kind(), v1::INDIVIDUAL);
  ASSERT_EQ(made->participants_size(), 1);
  const v1::DealParticipant& p = made->participants(0);
  EXPECT_EQ(p.client_id(), yulia);
  EXPECT_EQ(p.client_name(), "Юлия Тестова");
  EXPECT_TRUE(p.real());
  EXPECT_TRUE(p.signer());
  EXPECT_TRUE(p.owner());
  EXPECT_FALSE(p.minor());
  EXPECT_FALSE(p.identity_document());
  EXPECT_EQ(p.share_numerator(), 1);
  EXPECT_EQ(p.share_denominator(), 1);
  EXPECT_EQ(p.share_amount().amount_minor(), 2698456884);  // the seed's row: 26 984 568,84
  // Read back the same; the event on crm.deals.application.v1.
  auto got = store_->Get(Anna(), made->id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), made->SerializeAsString());
  EXPECT_EQ(Events(v1::kApplicationCreatedType), 1);
  EXPECT_EQ(LastEvent(made->id()).application().id(), made->id());
  // Another team's manager does not see it.
  EXPECT_EQ(store_->Get(Boris(), made->id()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ApplicationsTest, PriceIsTheBookingsWhenTheClientHoldsItAndABookingOfAnotherIsRefused) {
  const std::string yulia = Client("Юлия");
  const std::string zita = Client("Зита");
  const std::string request = Request(yulia, Anna());
  const std::string mine = Unit(1, 10'000'000'00);
  const std::string theirs = Unit(2, 12'000'000'00);
  const std::string booking = Book(mine, yulia, 9'500'000'00);  // the price fixed lower at booking
  Book(theirs, zita, 11'000'000'00);
  auto made = store_->Create(As(Anna()), New(request, mine));
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->price().amount_minor(), 9'500'000'00);
  EXPECT_EQ(made->booking_id(), booking);
  // A unit another client holds: FAILED_PRECONDITION naming application.unit_id; nothing written.
  absl::Status refused = store_->Create(As(Anna()), New(request, theirs)).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_EQ(Fields(refused), std::vector<std::string>{"application.unit_id"});
  google::protobuf::FieldMask mask;
  mask.add_paths("unit_id");
  A change = *made;
  change.set_unit_id(theirs);
  refused = store_->Update(As(Anna()), change, mask).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_EQ(Fields(refused), std::vector<std::string>{"application.unit_id"});
  EXPECT_EQ(Count("SELECT count(*) FROM deal_applications"), 1);
  EXPECT_EQ(store_->Get(Anna(), made->id())->unit_id(), mine);
  // A unit of another project.
  absl::Status other = store_->Create(As(Anna()), New(request, Unit(3, 100, /*other_project=*/true))).status();
  EXPECT_EQ(other.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fields(other), std::vector<std::string>{"application.unit_id"});
}

TEST_F(ApplicationsTest, AFailingParticipantLeavesNothingWrittenAndEveryViolationIsNamed) {
  const std::string yulia = Client("Юлия");
  const std::string romashka = Client("ООО Ромашка", 1);
  const std::string request = Request(yulia, Anna());
  A a = New(request, Unit(1, 100'00));
  v1::DealParticipant* p0 = a.add_participants();
  p0->set_client_id(yulia);
  p0->set_real(true);
  p0->set_conditional(true);
  v1::DealParticipant* p1 = a.add_participants();
  p1->set_client_id(NewUuidV7());  // no such client
  v1::DealParticipant* p2 = a.add_participants();
  p2->set_client_id(romashka);
  p2->set_real(true);         // a company is never real
  p2->set_conditional(true);  // a second У
  v1::PaymentScheduleItem* s = a.add_payment_schedule();
  s->set_date("2026-03-10");
  s->mutable_amount()->set_amount_minor(50'00);  // does not sum to the price
  s->set_kind(v1::PaymentScheduleItem::OWN_FUNDS);
  absl::Status st = store_->Create(As(Anna()), a).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fields(st), (std::vector<std::string>{"application.participants[2].conditional",
                                                  "application.participants[1].client_id",
                                                  "application.participants[2].real",
                                                  // nobody owns the unit: an individual ownership has one owner
                                                  "application.ownership_kind", "application.payment_schedule"}));
  EXPECT_EQ(Count("SELECT count(*) FROM deal_applications"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM deal_application_participants"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE aggregatetype = 'application'"), 0);

  // An update that fails on one participant leaves the application as it was.
  auto made = store_->Create(As(Anna()), New(request, Unit(2, 100'00)));
  ASSERT_TRUE(made.ok()) << made.status();
  A change = *made;
  v1::DealParticipant* extra = change.add_participants();
  extra->set_client_id(NewUuidV7());
  extra->set_owner(true);
  google::protobuf::FieldMask mask;
  mask.add_paths("participants");
  mask.add_paths("comment");
  change.set_comment("ещё один");
  st = store_->Update(As(Anna()), change, mask).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  auto after = store_->Get(Anna(), made->id());
  EXPECT_EQ(after->SerializeAsString(), made->SerializeAsString());
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE aggregatetype = 'application'"), 1);  // the create only
}

TEST_F(ApplicationsTest, MinorAtTheApplicationsDateInTheCompanysZoneAndIdentityDocumentFromTheCard) {
  // Turns 18 on 2026-03-03.
  const std::string teen = Client("Пётр", 2, "2008-03-03");
  const std::string request = Request(teen, Anna());
  auto before = store_->Create(As(Anna()), New(request));
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_TRUE(before->participants(0).minor());
  // 2026-03-03 00:30 in Moscow is still 2026-03-02 in UTC: the company's day decides.
  clock_.Set(absl::FromCivil(absl::CivilMinute(2026, 3, 3, 0, 30), zone_));
  auto after = store_->Create(As(Anna()), New(request));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->application_date(), "2026-03-03");
  EXPECT_FALSE(after->participants(0).minor());
  EXPECT_TRUE(store_->Get(Anna(), before->id())->participants(0).minor());  // decided at its own date
  // ДУЛ: set once the card's passport is filled.
  EXPECT_FALSE(after->participants(0).identity_document());
  google::protobuf::FieldMask mask;
  mask.add_paths("passport");
  v1::Client card;
  card.set_id(teen);
  card.mutable_passport()->set_series("4510");
  card.mutable_passport()->set_number("123456");
  card.mutable_passport()->set_department_code("770-001");
  card.mutable_passport()->set_issue_date("2022-03-10");
  auto updated = clients_->UpdateClient(As(Anna()), card, mask);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_TRUE(store_->Get(Anna(), after->id())->participants(0).identity_document());
}

TEST_F(ApplicationsTest, SharesAndRecalculationWithVersions) {
  const std::string yulia = Client("Юлия");
  const std::string ivan = Client("Иван");
  const std::string request = Request(yulia, Anna());
  auto made = store_->Create(As(Anna()), New(request, Unit(1, 100'00)));
  ASSERT_TRUE(made.ok()) << made.status();
  // Add Ivan as a second owner with given fractions 2/6 and 4/6: reduced, amounts by largest remainder.
  A change = *made;
  change.set_ownership_kind(v1::SHARED);
  change.mutable_participants(0)->set_share_numerator(2);
  change.mutable_participants(0)->set_share_denominator(6);
  v1::DealParticipant* ivan_row = change.add_participants();
  ivan_row->set_client_id(ivan);
  ivan_row->set_real(true);
  ivan_row->set_owner(true);
  ivan_row->set_share_numerator(4);
  ivan_row->set_share_denominator(6);
  google::protobuf::FieldMask mask;
  mask.add_paths("participants");
  mask.add_paths("ownership_kind");
  auto shared = store_->Update(As(Anna()), change, mask);
  ASSERT_TRUE(shared.ok()) << shared.status();
  EXPECT_EQ(shared->version(), 2);
  EXPECT_EQ(shared->participants(0).share_denominator(), 3);
  EXPECT_EQ(shared->participants(0).share_amount().amount_minor(), 33'33);
  EXPECT_EQ(shared->participants(1).share_numerator(), 2);
  EXPECT_EQ(shared->participants(1).share_amount().amount_minor(), 66'67);
  // Fractions not summing to 1: both owners' share fields named, nothing changed.
  change.set_version(2);
  change.mutable_participants(1)->set_share_numerator(3);
  absl::Status bad = store_->Update(As(Anna()), change, mask).status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fields(bad), (std::vector<std::string>{
                             "application.participants[0].share_numerator", "application.participants[0].share_denominator",
                             "application.participants[1].share_numerator", "application.participants[1].share_denominator"}));
  // «Пересчитать доли» with an equal split; a stale version is ABORTED; a repeat changes nothing.
  v1::RecalculateSharesRequest recalc;
  recalc.set_id(made->id());
  recalc.set_version(1);
  recalc.set_equal_split(true);
  EXPECT_EQ(store_->RecalculateShares(As(Anna()), recalc).status().code(), absl::StatusCode::kAborted);
  recalc.set_version(2);
  auto equal = store_->RecalculateShares(As(Anna()), recalc);
  ASSERT_TRUE(equal.ok()) << equal.status();
  EXPECT_EQ(equal->version(), 3);
  EXPECT_EQ(equal->participants(0).share_numerator(), 1);
  EXPECT_EQ(equal->participants(0).share_denominator(), 2);
  EXPECT_EQ(equal->participants(0).share_amount().amount_minor(), 50'00);
  EXPECT_EQ(equal->participants(1).share_amount().amount_minor(), 50'00);
  recalc.set_version(0);
  auto again = store_->RecalculateShares(As(Anna()), recalc);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->version(), 3);
  EXPECT_EQ(Events(v1::kApplicationSharesRecalculatedType), 1);
  // Joint: no fractions, no amounts per owner.
  recalc.set_ownership_kind(v1::JOINT);
  auto joint = store_->RecalculateShares(As(Anna()), recalc);
  ASSERT_TRUE(joint.ok()) << joint.status();
  EXPECT_EQ(joint->participants(0).share_denominator(), 0);
  EXPECT_FALSE(joint->participants(0).has_share_amount());
  // Individual with two owners: refused naming the ownership kind.
  recalc.set_ownership_kind(v1::INDIVIDUAL);
  EXPECT_EQ(Fields(store_->RecalculateShares(As(Anna()), recalc).status()),
            std::vector<std::string>{"application.ownership_kind"});
  // Boris (another team) may not even see it.
  EXPECT_EQ(store_->RecalculateShares(As(Boris()), recalc).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ApplicationsTest, StatusesPaymentTermsAndIdempotentCreate) {
  const std::string yulia = Client("Юлия");
  const std::string request = Request(yulia, Anna());
  const std::string unit = Unit(1, 1000'00);
  auto first = store_->Create(As(Anna()), New(request, unit), "key-1");
  auto repeat = store_->Create(As(Anna()), New(request, unit), "key-1");
  ASSERT_TRUE(first.ok() && repeat.ok());
  EXPECT_EQ(first->id(), repeat->id());
  EXPECT_EQ(Count("SELECT count(*) FROM deal_applications"), 1);
  // Submitting an incomplete application names every missing piece.
  v1::ChangeDealApplicationStatusRequest submit;
  submit.set_id(first->id());
  submit.set_status(A::SUBMITTED);
  absl::Status st = store_->ChangeStatus(As(Anna()), submit).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Fields(st), (std::vector<std::string>{"application.payment_kind", "application.payment_schedule"}));
  // Block 3: a mortgage with a bank, a campaign, own funds and a schedule summing to the price.
  A change = *first;
  change.set_payment_kind(v1::MORTGAGE);
  change.set_bank_id(kBank);
  change.set_campaign_id(kCampaign);
  change.mutable_own_funds()->set_amount_minor(200'00);
  auto add = [&](const char* date, int64_t minor, v1::PaymentScheduleItem::Kind kind) {
    v1::PaymentScheduleItem* s = change.add_payment_schedule();
    s->set_date(date);
    s->mutable_amount()->set_amount_minor(minor);
    s->set_kind(kind);
  };
  add("2026-03-10", 200'00, v1::PaymentScheduleItem::OWN_FUNDS);
  add("2026-03-05", 800'00, v1::PaymentScheduleItem::MORTGAGE_LOAN);  // goes back in time
  google::protobuf::FieldMask mask;
  for (const char* p : {"payment_kind", "bank_id", "campaign_id", "own_funds", "payment_schedule"}) mask.add_paths(p);
  EXPECT_EQ(Fields(store_->Update(As(Anna()), change, mask).status()),
            std::vector<std::string>{"application.payment_schedule[1].date"});
  change.mutable_payment_schedule(1)->set_date("2026-04-01");
  change.mutable_own_funds()->set_amount_minor(2000'00);  // over the price
  EXPECT_EQ(Fields(store_->Update(As(Anna()), change, mask).status()),
            std::vector<std::string>{"application.own_funds.amount_minor"});
  change.mutable_own_funds()->set_amount_minor(200'00);
  auto terms = store_->Update(As(Anna()), change, mask);
  ASSERT_TRUE(terms.ok()) << terms.status();
  EXPECT_EQ(terms->campaign_name(), "Новогодние скидки");
  EXPECT_EQ(terms->payment_schedule(1).amount().currency(), "RUB");
  // DRAFT → SUBMITTED → APPROVED; edits only while DRAFT; a repeat of the status changes nothing.
  auto submitted = store_->ChangeStatus(As(Anna()), submit);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(submitted->status(), A::SUBMITTED);
  EXPECT_EQ(store_->ChangeStatus(As(Anna()), submit)->version(), submitted->version());
  change.set_version(0);
  EXPECT_EQ(store_->Update(As(Anna()), change, mask).status().code(), absl::StatusCode::kFailedPrecondition);
  submit.set_status(A::APPROVED);
  ASSERT_TRUE(store_->ChangeStatus(As(Anna()), submit).ok());
  submit.set_status(A::DRAFT);
  EXPECT_EQ(store_->ChangeStatus(As(Anna()), submit).status().code(), absl::StatusCode::kFailedPrecondition);
  submit.set_status(A::CANCELLED);
  submit.set_reason("клиент передумал");
  auto cancelled = store_->ChangeStatus(As(Anna()), submit);
  ASSERT_TRUE(cancelled.ok());
  v1::DealApplicationChanged ev = LastEvent(first->id());
  EXPECT_EQ(ev.old_status(), A::APPROVED);
  EXPECT_EQ(ev.reason(), "клиент передумал");
  EXPECT_EQ(Events(v1::kApplicationStatusChangedType), 3);
}

TEST_F(ApplicationsTest, ListsByRequestClientResponsibleAndStatusWithinTheScope) {
  const std::string yulia = Client("Юлия");
  const std::string oleg = Client("Олег");
  const std::string r1 = Request(yulia, Anna());
  const std::string r2 = Request(oleg, Boris());
  std::vector<std::string> annas;
  for (int i = 0; i < 3; ++i) {
    annas.push_back(store_->Create(As(Anna()), New(r1))->id());
    clock_.Advance(absl::Seconds(1));
  }
  const std::string boris = store_->Create(As(Boris()), New(r2))->id();
  auto list = [&](const Principal& who, v1::ListDealApplicationsRequest req) {
    auto got = store_->List(who, req);
    EXPECT_TRUE(got.ok()) << got.status();
    std::vector<std::string> ids;
    for (const A& a : got->applications()) ids.push_back(a.id());
    return ids;
  };
  v1::ListDealApplicationsRequest req;
  // Anna's team scope: her three, newest first, with names.
  EXPECT_EQ(list(Anna(), req), (std::vector<std::string>{annas[2], annas[1], annas[0]}));
  req.set_page_size(2);
  auto page = store_->List(Anna(), req);
  ASSERT_EQ(page->applications_size(), 2);
  EXPECT_EQ(page->applications(0).participants(0).client_name(), "Юлия");
  req.set_page_token(page->next_page_token());
  EXPECT_EQ(list(Anna(), req), std::vector<std::string>{annas[0]});
  req.Clear();
  req.set_client_id(oleg);
  EXPECT_TRUE(list(Anna(), req).empty());  // Boris's application: not in Anna's scope
  Principal head = UserPrincipal(kAnna, {"applications.read.all"}, {kTeam1});
  EXPECT_EQ(list(head, req), std::vector<std::string>{boris});
  req.Clear();
  req.set_request_id(r1);
  EXPECT_EQ(list(head, req).size(), 3u);
  req.Clear();
  req.set_responsible("me");
  EXPECT_EQ(list(Boris(), req), std::vector<std::string>{boris});
  req.Clear();
  req.set_status(A::SUBMITTED);
  EXPECT_TRUE(list(head, req).empty());
  req.set_status(A::DRAFT);
  EXPECT_EQ(list(head, req).size(), 4u);
  req.set_page_size(-1);
  EXPECT_EQ(Fields(store_->List(head, req).status()), std::vector<std::string>{"page_size"});
  // Marketing campaigns.
  auto campaigns = store_->ListCampaigns(Anna(), {});
  ASSERT_TRUE(campaigns.ok());
  ASSERT_EQ(campaigns->campaigns_size(), 1);
  EXPECT_EQ(campaigns->campaigns(0).name(), "Новогодние скидки");
}

TEST_F(ApplicationsTest, TheSalesDealIsOneTheCallerSeesOfTheRequestsClient) {
  const std::string yulia = Client("Юлия");
  const std::string oleg = Client("Олег");
  const std::string request = Request(yulia, Anna());
  auto deal = [&](const std::string& client) {
    const std::string id = NewUuidV7();
    db_->Exec(absl::StrCat(
        "INSERT INTO pipelines (id, name) SELECT '01900000-0000-7000-8000-00000000c001', 'Продажа' WHERE NOT EXISTS "
        "(SELECT 1 FROM pipelines);"
        "INSERT INTO stages (id, pipeline_id, position, name, kind) SELECT '01900000-0000-7000-8000-00000000d001', "
        "'01900000-0000-7000-8000-00000000c001', 1, 'Новая', 1 WHERE NOT EXISTS (SELECT 1 FROM stages);"
        "INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id, client_id) VALUES ('",
        id, "', 'Квартира', '01900000-0000-7000-8000-00000000c001', '01900000-0000-7000-8000-00000000d001', 1, '",
        kAnna, "', '", client, "')"));
    return id;
  };
  A a = New(request);
  a.set_deal_id(deal(oleg));
  Principal anna = Anna();
  anna.add_permissions("deals.read.team");
  EXPECT_EQ(Fields(store_->Create(As(anna), a).status()), std::vector<std::string>{"application.deal_id"});
  a.set_deal_id(deal(yulia));
  EXPECT_EQ(Fields(store_->Create(As(Anna()), a).status()), std::vector<std::string>{"application.deal_id"});  // no deals.read
  auto made = store_->Create(As(anna), a);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(store_->Get(anna, made->id())->deal_id(), a.deal_id());
}

TEST_F(ApplicationsTest, ClientCardBirthDateAndPassportArePersonalData) {
  v1::Client c;
  c.set_kind(v1::Client::KIND_COMPANY);
  c.set_name("ООО Ромашка");
  c.set_birth_date("2000-01-01");
  c.mutable_passport()->set_series("45");
  c.mutable_passport()->set_number("12345x");
  c.mutable_passport()->set_department_code("770001");
  absl::Status bad = clients_->CreateClient(As(Anna()), c, false).status();
  EXPECT_EQ(Fields(bad), (std::vector<std::string>{"client.birth_date", "client.passport", "client.passport.series",
                                                   "client.passport.number", "client.passport.department_code"}));
  c.set_kind(v1::Client::KIND_PERSON);
  c.set_name("Иван Петров");
  c.mutable_passport()->set_series("4510");
  c.mutable_passport()->set_number("123456");
  c.mutable_passport()->set_department_code("770-001");
  auto made = clients_->CreateClient(As(Anna()), c, false);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->birth_date(), "2000-01-01");
  EXPECT_FALSE(made->has_passport());  // Anna here holds no clients.passport.read
  EXPECT_TRUE(made->passport_filled());
  Principal no_pii = UserPrincipal(kBoris, {"clients.read"}, {});
  auto seen = clients_->GetClient(no_pii, made->id());
  ASSERT_TRUE(seen.ok());
  EXPECT_FALSE(seen->has_passport());
  EXPECT_TRUE(seen->passport_filled());
  Principal pii = UserPrincipal(kBoris, {"clients.read", "clients.passport.read"}, {});
  EXPECT_EQ(clients_->GetClient(pii, made->id())->passport().series(), "4510");
  // Never in lists nor events.
  v1::BatchGetClientsRequest batch;
  batch.add_ids(made->id());
  EXPECT_FALSE(clients_->BatchGetClients(pii, batch)->clients(0).has_passport());
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE aggregatetype = 'client' AND position('123456' in "
                  "encode(payload, 'escape')) > 0"),
            0);
}

}  // namespace
}  // namespace crm::deals::applications
