// File: services/deals/realty/plan_test.cc
// Issue 17 (D14): every read and report of real estate on its index at a realistic size — 100 000
// units in 10 projects of 10 buildings (8 sections × 25 floors × 5 places each), their price history,
// 1 000 000 bookings of 100 managers in 10 teams, 100 000 clients; beside them 5 000 archived projects of
// 4 buildings each, the directory the project and building lists page through. With fresh statistics, every
// statement the stores send (StatementRecorder, services/deals/sql.h) is EXPLAINed (ANALYZE) with its
// values and as the generic plan a prepared statement may settle on: none may read a big table with a
// sequential scan, throw away more than kMaxDiscarded rows of one, or sort more than kMaxSorted rows.
// The answers are checked against plain queries of what each read promises.
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/plan_testing.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "services/deals/realty/board.h"
#include "services/deals/realty/bookings.h"
#include "services/deals/realty/inventory.h"
#include "services/deals/realty/wiring.h"
#include "services/deals/sql.h"
#include "services/deals/plan_test_base.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::deals::realty {
namespace {

using crm::common::v1::Principal;

constexpr int kUsers = 100;
constexpr int kTeams = 10;
constexpr int kProjects = 10;
constexpr int kBuildings = 100;  // 10 a project
constexpr int kUnits = 100'000;  // 1 000 a building
constexpr int kBookings = 1'000'000;
constexpr int kClients = 100'000;
constexpr int64_t kMaxDiscarded = 20'000;
constexpr double kMaxSorted = 5'000;
const std::set<std::string> kBigTables = {"realty_units", "realty_bookings", "realty_unit_prices", "clients"};

constexpr char kProjectRows[] = "e000";
constexpr char kBuildingRows[] = "e100";
constexpr char kUnitRows[] = "e200";
constexpr int kBigProjectUnits = 100'000;
constexpr char kBigProjectRows[] = "e600";
constexpr char kBigBuildingRows[] = "e700";
constexpr char kBigUnitRows[] = "e800";
constexpr char kBookingRows[] = "e300";
constexpr char kClientRows[] = "a000";
constexpr char kUserRows[] = "f000";
constexpr char kTeamRows[] = "f100";
// A large developer's directory beside the 10 live projects: 5 000 archived projects of 4 buildings each.
constexpr int kArchivedProjects = 5'000;
constexpr char kArchivedProjectRows[] = "e400";
constexpr char kArchivedBuildingRows[] = "e500";

// User n (1..100) is in team n % 10.
Principal User(int n, std::vector<std::string> permissions) {
  Principal p;
  p.set_kind(Principal::KIND_USER);
  p.set_id(RowId(kUserRows, n));
  for (std::string& s : permissions) p.add_permissions(std::move(s));
  p.add_team_ids(RowId(kTeamRows, n % kTeams));
  return p;
}

// Units 1..count of rows `unit_rows` in the project of SQL expression `project` (of g), 1 000 a building of
// rows `building_rows`: commerce on floor 1, apartments (апартаменты) at place 5, storage every 97th,
// flats otherwise with place - 1 rooms; statuses by g % 10 (0–5 available, 6 booked, 7–8 sold, 9 not
// released or withdrawn); a special offer every 20th, a 3 % discount every 10th.
std::string InsertUnits(const std::string& unit_rows, const std::string& project, const std::string& building_rows,
                        int count) {
  return absl::StrCat(
              "INSERT INTO realty_units (id, external_id, project_id, building_id, section_number, floor, "
              "position, "
              "number, kind, purpose, status, rooms, area_centi, price_minor, price_per_m2_minor, "
              "final_price_minor, "
              "discounts, special_offer, create_time, update_time) SELECT ",
              RowIdSql(unit_rows, "g"), ", '", unit_rows, "-' || g, ", project, ", ",
              RowIdSql(building_rows, "1 + (g - 1) / 1000"),
              ", x.section, x.floor, x.position, g::text, x.kind, CASE WHEN x.kind = 1 THEN 1 ELSE 2 END, "
              "x.status, "
              "x.rooms, x.area, x.price, (x.price * 100 + x.area / 2) / x.area, "
              "x.price - CASE WHEN g % 10 = 0 THEN (x.price * 3 + 50) / 100 ELSE 0 END, "
              "CASE WHEN g % 10 = 0 THEN '[{\"code\":\"full\",\"name\":\"100%\",\"percent_bp\":300,"
              "\"amount_minor\":0}]' ELSE '[]' END::jsonb, g % 20 = 3, now(), now() FROM generate_series(1, ",
              count,
              ") g, LATERAL (SELECT i / 125 + 1 AS section, (i % 125) / 5 + 1 AS floor, i % 5 + 1 AS "
              "position "
              "FROM (SELECT (g - 1) % 1000 AS i) z) p, "
              "LATERAL (SELECT CASE WHEN p.floor = 1 THEN 5 WHEN g % 97 = 0 THEN 3 WHEN p.position = 5 THEN "
              "2 "
              "ELSE 1 END AS kind, CASE WHEN g % 10 <= 5 THEN 2 WHEN g % 10 = 6 THEN 3 WHEN g % 10 <= 8 THEN "
              "4 "
              "WHEN g % 20 = 9 THEN 1 ELSE 5 END AS status, p.position - 1 AS rooms, "
              "2500 + (p.position - 1) * 1800 + (g % 7) * 10 AS area, "
              "((2500 + (p.position - 1) * 1800 + (g % 7) * 10)::bigint * (20000000 + p.floor * 100000 + "
              "(g % 13) * 1000)) / 100 AS price, p.section, p.floor, p.position) x");
}

class RealtyPlanTest : public PlanTestBase<RealtyPlanTest> {
 protected:
  static void SetUpTestSuite() {
    const absl::Time start = absl::Now();
    auto db = pg::testing::TempDatabase::Create("realty_plan");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = db->release();
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), DealsMigrations().begin(), DealsMigrations().end());
    all.insert(all.end(), RealtyMigrations().begin(), RealtyMigrations().end());
    auto migrated = pg::Migrate(db_->dsn(), all);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    pqxx::connection c(db_->dsn());
    {
      pqxx::work tx(c);
      tx.exec0("SET LOCAL session_replication_role = replica");  // consistent by construction
      tx.exec0("SET LOCAL maintenance_work_mem = '256MB'");
      tx.exec0(absl::StrCat("INSERT INTO user_directory (user_id, team_ids, version) SELECT ",
                            RowIdSql(kUserRows, "u"), ", ARRAY[",
                            RowIdSql(kTeamRows, absl::StrCat("u % ", kTeams)),
                            "], 1 FROM generate_series(1, ", kUsers, ") u"));
      tx.exec0(absl::StrCat(
          "INSERT INTO realty_projects (id, external_id, name, create_time, update_time) SELECT ",
          RowIdSql(kProjectRows, "p"), ", 'p' || p, 'ЖК ' || p, now(), now() FROM generate_series(1, ",
          kProjects, ") p"));
      tx.exec0(absl::StrCat(
          "INSERT INTO realty_buildings (id, project_id, external_id, name, create_time, update_time) "
          "SELECT ",
          RowIdSql(kBuildingRows, "b"), ", ", RowIdSql(kProjectRows, "1 + (b - 1) / 10"),
          ", 'b' || b, 'Корпус ' || b, now(), now() FROM generate_series(1, ", kBuildings, ") b"));
      tx.exec0(absl::StrCat(
          "INSERT INTO realty_projects (id, external_id, name, create_time, update_time) SELECT ",
          RowIdSql(kArchivedProjectRows, "p"), ", 'ap' || p, 'Архив ЖК ' || p, now(), now() FROM generate_series(1, ",
          kArchivedProjects, ") p"));
      tx.exec0(absl::StrCat(
          "INSERT INTO realty_buildings (id, project_id, external_id, name, create_time, update_time) SELECT ",
          RowIdSql(kArchivedBuildingRows, "b"), ", ", RowIdSql(kArchivedProjectRows, "1 + (b - 1) / 4"),
          ", 'ab' || b, 'Корпус ' || b, now(), now() FROM generate_series(1, ", 4 * kArchivedProjects, ") b"));
      // The big project: 100 buildings of 1 000 units.
      tx.exec0(absl::StrCat("INSERT INTO realty_projects (id, external_id, name, create_time, update_time) VALUES ('",
                            RowId(kBigProjectRows, 1), "', 'big', 'ЖК Большой', now(), now())"));
      tx.exec0(absl::StrCat(
          "INSERT INTO realty_buildings (id, project_id, external_id, name, create_time, update_time) SELECT ",
          RowIdSql(kBigBuildingRows, "b"), ", '", RowId(kBigProjectRows, 1),
          "', 'big-b' || b, 'Корпус ' || b, now(), now() FROM generate_series(1, ", kBigProjectUnits / 1000, ") b"));
      tx.exec0(absl::StrCat(
          "INSERT INTO realty_sections (building_id, number, name, first_floor, last_floor) SELECT ",
          RowIdSql(kBuildingRows, "b"), ", s, 'Секция ' || s, 1, 25 FROM generate_series(1, ", kBuildings,
          ") b, generate_series(1, 8) s"));
      BulkLoad(tx, "clients",
               absl::StrCat("INSERT INTO clients (id, kind, name) SELECT ", RowIdSql(kClientRows, "c"),
                            ", 2, 'Клиент ' || c FROM generate_series(1, ", kClients, ") c"));
      // Unit g: building 1 + (g - 1) / 1000 in project 1 + (g - 1) / 10 000 (InsertUnits); and a
      // developer's one big project (ЖК) of 100 000 units, of which «Подбор ОН» must read a page, not all.
      BulkLoad(tx, "realty_units",
               absl::StrCat(InsertUnits(kUnitRows, RowIdSql(kProjectRows, "1 + (g - 1) / 10000"), kBuildingRows,
                                        kUnits),
                            "; ",
                            InsertUnits(kBigUnitRows, absl::StrCat("'", RowId(kBigProjectRows, 1), "'::uuid"),
                                        kBigBuildingRows, kBigProjectUnits)));
      BulkLoad(
          tx, "realty_unit_prices",
          absl::StrCat(
              "INSERT INTO realty_unit_prices (id, unit_id, price_minor, price_per_m2_minor, "
              "final_price_minor, currency, discounts, special_offer, area_centi, change_time, source) "
              "OVERRIDING SYSTEM VALUE SELECT g, ",
              RowIdSql(kUnitRows, "g"),
              ", 100, 100, 100, 'RUB', '[]', false, 100, now(), 2 FROM generate_series(1, ", kUnits, ") g"));
      tx.exec(
          absl::StrCat("SELECT setval(pg_get_serial_sequence('realty_unit_prices', 'id'), ", kUnits, ")"));
      // Booking k: of unit 1 + (k - 1) % 100000 in round (k - 1) / 100000 (0..9); a booked unit's round 9
      // is its ACTIVE booking and round 8 its queue; every other one has ended; responsible user
      // 1 + (7k) % 100; newer rounds later.
      BulkLoad(
          tx, "realty_bookings",
          absl::StrCat(
              "INSERT INTO realty_bookings (id, unit_id, project_id, building_id, client_id, status, "
              "responsible_id, "
              "team_ids, fee_minor, currency, price_id, price_minor, final_price_minor, start_time, "
              "expire_time, "
              "create_time, update_time) SELECT ",
              RowIdSql(kBookingRows, "k"), ", ", RowIdSql(kUnitRows, "x.g"), ", ",
              RowIdSql(kProjectRows, "1 + (x.g - 1) / 10000"), ", ",
              RowIdSql(kBuildingRows, "1 + (x.g - 1) / 1000"), ", ",
              RowIdSql(kClientRows, absl::StrCat("1 + k % ", kClients)), ", x.status, ",
              RowIdSql(kUserRows, "x.r"), ", ARRAY[", RowIdSql(kTeamRows, absl::StrCat("x.r % ", kTeams)),
              "], 5000000, 'RUB', CASE WHEN x.status >= 2 THEN x.g END, CASE WHEN x.status >= 2 THEN 100 "
              "END, "
              "CASE WHEN x.status >= 2 THEN 100 END, CASE WHEN x.status >= 2 THEN x.t END, "
              "CASE WHEN x.status >= 2 THEN x.t + interval '21 days' END, x.t, x.t FROM generate_series(1, ",
              kBookings,
              ") k, LATERAL (SELECT 1 + (k - 1) % 100000 AS g, (k - 1) / 100000 AS round, 1 + (7 * k) % 100 "
              "AS r, "
              "timestamptz '2025-01-01 00:00:00+00' + k * interval '1 minute' AS t) y, "
              "LATERAL (SELECT y.g, y.r, y.t, CASE WHEN y.g % 10 = 6 AND y.round = 9 THEN 2 "
              "WHEN y.g % 10 = 6 AND y.round = 8 THEN 1 WHEN y.g % 10 = 6 THEN 3 + k % 2 ELSE 3 + k % 4 END "
              "AS status) x"));
      tx.commit();
    }
    pqxx::nontransaction ntx(c);
    ntx.exec0("VACUUM ANALYZE");
    std::cerr << "realty_plan_test: data loaded and analysed in " << absl::Now() - start << "\n";
  }

  int ExpectIndexBacked(const std::vector<StatementRecorder::Statement>& statements,
                        const std::string& what) {
    return pg::testing::ExpectNoSeqScan(db_->dsn(), statements,
                                        {.tables = kBigTables,
                                         .max_sort_rows = kMaxSorted,
                                         .max_removed_rows = kMaxDiscarded,
                                         .analyze = true,
                                         .analyze_generic = true,
                                         .what = what});
  }

  ManualClock clock_{absl::FromCivil(absl::CivilDay(2026, 6, 10), absl::UTCTimeZone())};
};

TEST_F(RealtyPlanTest, TheChessboardOfA1000UnitBuildingIsOneIndexedStatement) {
  BoardReader board(*pool_);
  StatementRecorder recorder;
  v1::GetChessboardRequest req;
  req.set_building_id(RowId(kBuildingRows, 57));
  auto grid = board.Chessboard(User(1, {"realty.read"}), req);
  ASSERT_TRUE(grid.ok()) << grid.status();
  int cells = 0, booked = 0;
  for (const auto& s : grid->sections()) {
    EXPECT_EQ(s.floors_size(), 25);
    for (const auto& f : s.floors()) {
      cells += f.cells_size();
      for (const auto& c : f.cells()) booked += c.has_booking();
    }
  }
  EXPECT_EQ(cells, 1000);
  EXPECT_EQ(booked, 100);
  EXPECT_GE(ExpectIndexBacked(recorder.Take(), "chessboard"), 1);
}

struct Match {
  std::string name;
  v1::MatchUnitsRequest req;
  std::string where;
};

TEST_F(RealtyPlanTest, MatchingOfEveryCriterionIsIndexBackedAndExact) {
  BoardReader board(*pool_);
  std::vector<Match> matches;
  matches.push_back({"nothing but the project", {}, "status IN (2, 3)"});
  {
    Match m{"flats of 1–2 rooms, 40–70 m², ≤ 12 000 000 ₽",
            {},
            "status IN (2, 3) AND kind = 1 AND rooms IN (1, 2) AND area_centi BETWEEN 4000 AND 7000 AND "
            "final_price_minor <= 1200000000"};
    m.req.add_kinds(v1::Unit::APARTMENT);
    m.req.add_rooms(1);
    m.req.add_rooms(2);
    m.req.set_area_min_centi_m2(4000);
    m.req.set_area_max_centi_m2(7000);
    m.req.mutable_budget_max()->set_amount_minor(1'200'000'000);
    matches.push_back(m);
  }
  {
    Match m{"special offers", {}, "status IN (2, 3) AND special_offer"};
    m.req.set_special_offer_only(true);
    matches.push_back(m);
  }
  {
    Match m{"sold commerce", {}, "status = 4 AND kind = 5"};
    m.req.add_statuses(v1::Unit::SOLD);
    m.req.add_kinds(v1::Unit::COMMERCIAL);
    matches.push_back(m);
  }
  {
    Match m{"3 rooms on a small budget",
            {},
            "status IN (2, 3) AND rooms = 3 AND final_price_minor <= 1650000000"};
    m.req.add_rooms(3);
    m.req.mutable_budget_max()->set_amount_minor(1'650'000'000);
    matches.push_back(m);
  }
  // A project of 10 000 units, and the big one of 100 000.
  for (const std::string& project : {RowId(kProjectRows, 3), RowId(kBigProjectRows, 1)}) {
  for (Match m : matches) {
    SCOPED_TRACE(m.name + " in " + project);
    StatementRecorder recorder;
    m.req.set_project_id(project);
    m.req.set_page_size(50);
    auto first = board.Match(User(1, {"realty.read"}), m.req);
    ASSERT_TRUE(first.ok()) << first.status();
    std::vector<std::string> got;
    for (const auto& u : first->units()) got.push_back(u.id());
    if (!first->next_page_token().empty()) {
      m.req.set_page_token(first->next_page_token());
      auto second = board.Match(User(1, {"realty.read"}), m.req);
      ASSERT_TRUE(second.ok()) << second.status();
      for (const auto& u : second->units()) got.push_back(u.id());
    }
    EXPECT_EQ(got, Column(absl::StrCat("SELECT id::text FROM realty_units WHERE project_id = '", project,
                                       "' AND ", m.where, " ORDER BY final_price_minor, id LIMIT 100")));
    EXPECT_GE(ExpectIndexBacked(recorder.Take(), "match / " + m.name), 1);
  }
  }
}

TEST_F(RealtyPlanTest, TheUnitListOfABuildingIsIndexBackedAndExact) {
  BoardReader board(*pool_);
  const std::string building = RowId(kBuildingRows, 33);
  for (const auto& [name, statuses, rooms, where] :
       std::vector<std::tuple<std::string, std::vector<int>, std::vector<int>, std::string>>{
           {"all", {}, {}, "TRUE"},
           {"on sale, 2 rooms", {2}, {2}, "status = 2 AND rooms = 2"},
           {"sold or withdrawn", {4, 5}, {}, "status IN (4, 5)"}}) {
    SCOPED_TRACE(name);
    StatementRecorder recorder;
    v1::ListUnitsRequest req;
    req.set_building_id(building);
    for (int s : statuses) req.add_statuses(static_cast<v1::Unit::Status>(s));
    for (int r : rooms) req.add_rooms(r);
    req.set_page_size(50);
    auto first = board.ListUnits(User(1, {"realty.read"}), req);
    ASSERT_TRUE(first.ok()) << first.status();
    std::vector<std::string> got;
    for (const auto& u : first->units()) got.push_back(u.id());
    if (!first->next_page_token().empty()) {
      req.set_page_token(first->next_page_token());
      auto second = board.ListUnits(User(1, {"realty.read"}), req);
      ASSERT_TRUE(second.ok()) << second.status();
      for (const auto& u : second->units()) got.push_back(u.id());
    }
    EXPECT_EQ(got,
              Column(absl::StrCat("SELECT id::text FROM realty_units WHERE building_id = '", building,
                                  "' AND ", where, " ORDER BY section_number, floor, position LIMIT 100")));
    EXPECT_GE(ExpectIndexBacked(recorder.Take(), "unit list / " + name), 1);
  }
}

TEST_F(RealtyPlanTest, BookingReportsOfEveryScopeAndFilterAreIndexBackedAndExact) {
  auto cal = crm::calendar::WorkingCalendar::FiveDay("Europe/Moscow", "");
  ASSERT_TRUE(cal.ok());
  BookingStore store(*pool_, clock_, *cal);
  const std::string team2 =
      "(SELECT user_id FROM user_directory WHERE team_ids && ARRAY['" + RowId(kTeamRows, 2) + "'::uuid])";
  struct Caller {
    std::string name;
    Principal principal;
    std::string sees;
  };
  const std::vector<Caller> callers = {
      {"own", User(1, {"bookings.read.own"}), absl::StrCat("responsible_id = '", RowId(kUserRows, 1), "'")},
      {"team", User(2, {"bookings.read.team"}), absl::StrCat("responsible_id IN ", team2)},
      {"all", User(3, {"bookings.read.all"}), "TRUE"},
      {"none", User(4, {"realty.read"}), "FALSE"},
  };
  struct Filter {
    std::string name;
    v1::ListBookingsRequest req;
    std::string where;
  };
  std::vector<Filter> filters;
  filters.push_back({"active", {}, "status = 2"});
  {
    Filter f{
        "a project's active", {}, absl::StrCat("status = 2 AND project_id = '", RowId(kProjectRows, 4), "'")};
    f.req.set_project_id(RowId(kProjectRows, 4));
    filters.push_back(f);
  }
  {
    Filter f{"queued", {}, "status = 1"};
    f.req.set_status(v1::Booking::QUEUED);
    filters.push_back(f);
  }
  {
    Filter f{"a project's released",
             {},
             absl::StrCat("status = 3 AND project_id = '", RowId(kProjectRows, 7), "'")};
    f.req.set_status(v1::Booking::RELEASED);
    f.req.set_project_id(RowId(kProjectRows, 7));
    filters.push_back(f);
  }
  {
    Filter f{"user 12's", {}, absl::StrCat("status = 2 AND responsible_id = '", RowId(kUserRows, 12), "'")};
    f.req.set_responsible(RowId(kUserRows, 12));
    filters.push_back(f);
  }
  {
    Filter f{"user 12's in a project",
             {},
             absl::StrCat("status = 2 AND responsible_id = '", RowId(kUserRows, 12), "' AND project_id = '",
                          RowId(kProjectRows, 2), "'")};
    f.req.set_responsible(RowId(kUserRows, 12));
    f.req.set_project_id(RowId(kProjectRows, 2));
    filters.push_back(f);
  }
  for (const Caller& caller : callers) {
    for (Filter f : filters) {
      SCOPED_TRACE(caller.name + " / " + f.name);
      StatementRecorder recorder;
      f.req.set_page_size(50);
      auto first = store.List(caller.principal, f.req);
      ASSERT_TRUE(first.ok()) << first.status();
      std::vector<std::string> got;
      for (const auto& b : first->bookings()) got.push_back(b.id());
      if (!first->next_page_token().empty()) {
        f.req.set_page_token(first->next_page_token());
        auto second = store.List(caller.principal, f.req);
        ASSERT_TRUE(second.ok()) << second.status();
        for (const auto& b : second->bookings()) got.push_back(b.id());
      }
      // A responsible filter shows one's own bookings to anyone, another's within one's scope.
      std::string sees = caller.sees;
      if (!f.req.responsible().empty() && f.req.responsible() == caller.principal.id()) sees = "TRUE";
      EXPECT_EQ(got, Column(absl::StrCat("SELECT id::text FROM realty_bookings WHERE ", sees, " AND ",
                                         f.where, " ORDER BY create_time DESC, id DESC LIMIT 100")));
      const int readers = ExpectIndexBacked(recorder.Take(), caller.name + " / " + f.name);
      if (caller.name != "none") {
        EXPECT_GE(readers, 1);
      }
    }
  }
}

TEST_F(RealtyPlanTest, TheProjectAndBuildingListsAreIndexBackedAndExact) {
  InventoryStore inventory(*pool_, clock_);
  const Principal reader = User(1, {"realty.read"});
  const auto index_backed = [&](StatementRecorder& recorder, const std::string& table, const std::string& what) {
    return pg::testing::ExpectNoSeqScan(db_->dsn(), recorder.Take(),
                                        {.tables = {table},
                                         .max_sort_rows = kMaxSorted,
                                         .max_removed_rows = kMaxDiscarded,
                                         .analyze = true,
                                         .analyze_generic = true,
                                         .what = what});
  };
  {
    // Projects by name, two pages of 50 over 5 010.
    StatementRecorder recorder;
    v1::ListProjectsRequest req;
    req.set_page_size(50);
    std::vector<std::string> got;
    for (int page = 0; page < 2; ++page) {
      auto r = inventory.ListProjects(reader, req);
      ASSERT_TRUE(r.ok()) << r.status();
      for (const v1::Project& x : r->projects()) got.push_back(x.id());
      ASSERT_FALSE(r->next_page_token().empty());
      req.set_page_token(r->next_page_token());
    }
    EXPECT_EQ(got, Column("SELECT id::text FROM realty_projects ORDER BY lower(name), id LIMIT 100"));
    EXPECT_GE(index_backed(recorder, "realty_projects", "projects"), 2);
  }
  for (const std::string& project : {RowId(kProjectRows, 3), RowId(kArchivedProjectRows, 777)}) {
    // A project's buildings by name (10 of a live one, 4 of an archived one), every page of 3.
    SCOPED_TRACE(project);
    StatementRecorder recorder;
    v1::ListBuildingsRequest req;
    req.set_project_id(project);
    req.set_page_size(3);
    std::vector<std::string> got;
    for (int page = 0; page < 10; ++page) {  // bounded: a token that does not move on fails, not hangs
      auto r = inventory.ListBuildings(reader, req);
      ASSERT_TRUE(r.ok()) << r.status();
      for (const v1::Building& x : r->buildings()) got.push_back(x.id());
      if (r->next_page_token().empty()) break;
      req.set_page_token(r->next_page_token());
    }
    EXPECT_EQ(got, Column(absl::StrCat("SELECT id::text FROM realty_buildings WHERE project_id = '", project,
                                       "' ORDER BY lower(name), id")));
    EXPECT_FALSE(got.empty());
    EXPECT_GE(index_backed(recorder, "realty_buildings", "buildings"), 2);
  }
}

TEST_F(RealtyPlanTest, AUnitsPriceHistoryIsIndexBacked) {
  ManualClock clock(absl::FromCivil(absl::CivilDay(2024, 1, 1), absl::UTCTimeZone()));
  InventoryStore inventory(*pool_, clock);
  StatementRecorder recorder;
  v1::ListUnitPricesRequest req;
  req.set_unit_id(RowId(kUnitRows, 4566));
  auto prices = inventory.ListPrices(User(1, {"realty.read"}), req);
  ASSERT_TRUE(prices.ok()) << prices.status();
  ASSERT_EQ(prices->unit_prices_size(), 1);
  EXPECT_EQ(prices->unit_prices(0).id(), 4566);
  EXPECT_GE(ExpectIndexBacked(recorder.Take(), "a unit's price history"), 1);
}

TEST_F(RealtyPlanTest, TheExpirySweepAndAUnitsQueueAreIndexBacked) {
  auto cal = crm::calendar::WorkingCalendar::FiveDay("Europe/Moscow", "");
  ASSERT_TRUE(cal.ok());
  // The clock before every booking's end: the sweep finds nothing, its statements are what it runs.
  ManualClock early(absl::FromCivil(absl::CivilDay(2024, 1, 1), absl::UTCTimeZone()));
  BookingStore store(*pool_, early, *cal);
  StatementRecorder recorder;
  auto expired = store.ExpireDue();
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(*expired, 0);
  EXPECT_GE(ExpectIndexBacked(recorder.Take(), "expiry sweep"), 1);
  v1::ListUnitBookingsRequest req;
  req.set_unit_id(RowId(kUnitRows, 4566));  // a booked unit: an ACTIVE booking and one queued
  auto queue = store.ListForUnit(User(3, {"bookings.read.all"}), req);
  ASSERT_TRUE(queue.ok()) << queue.status();
  ASSERT_EQ(queue->bookings_size(), 2);
  EXPECT_EQ(queue->bookings(0).status(), v1::Booking::ACTIVE);
  EXPECT_EQ(queue->queue_length(), 1);
  EXPECT_EQ(queue->bookings(1).queue_position(), 1);
  EXPECT_GE(ExpectIndexBacked(recorder.Take(), "a unit's queue"), 1);
}

}  // namespace
}  // namespace crm::deals::realty
