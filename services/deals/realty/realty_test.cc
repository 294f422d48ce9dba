// File: services/deals/realty/realty_test.cc
// Real estate (D14) through gRPC on a real PostgreSQL: the inventory and its state machine, the exact
// price history, the bulk import (all or nothing, every bad row named), the chessboard, matching, the
// unit list, bookings with their queue and expiry on a ManualClock, 16 concurrent bookings of one unit,
// the database's own guarantees, access and events.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "services/deals/realty/demo.h"
#include "services/deals/realty/internal.h"
#include "services/deals/realty/realty_testing.h"

namespace crm::deals::realty::testing {
namespace {

using R = v1::RealtyService::Stub;
using B = v1::BookingService::Stub;

// ---- inventory ------------------------------------------------------------------------------------

TEST_F(RealtyTest, ABuildingHasSectionsFloorsAndOneUnitPerPlace) {
  v1::Building b = MakeBuilding(2, 10);
  ASSERT_EQ(b.sections_size(), 2);
  EXPECT_EQ(b.sections(1).first_floor(), 1);
  EXPECT_EQ(b.project_name(), "ЖК Корпус 1");
  v1::Unit u = MakeUnit(b, 1, 5, 2);
  EXPECT_EQ(u.project_id(), b.project_id());
  EXPECT_EQ(u.building_name(), "Корпус 1");
  EXPECT_EQ(u.purpose(), v1::Unit::RESIDENTIAL);
  EXPECT_EQ(u.price_per_m2().amount_minor(), 20'000'000);  // 10 000 000 ₽ / 50 m²
  EXPECT_EQ(u.final_price().amount_minor(), 1'000'000'000);

  // The same place, a section the building lacks and a floor outside the section: each named.
  v1::CreateUnitRequest req;
  v1::Unit* in = req.mutable_unit();
  in->set_building_id(b.id());
  in->set_section_number(1);
  in->set_floor(5);
  in->set_position(2);
  in->set_number("99");
  in->set_kind(v1::Unit::APARTMENT);
  in->set_area_centi_m2(4000);
  v1::Unit out;
  grpc::Status s = Call(&R::CreateUnit, Head(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Fields(s), std::vector<std::string>{"unit.position"});
  in->set_section_number(3);
  EXPECT_EQ(Fields(Call(&R::CreateUnit, Head(), req, &out)), std::vector<std::string>{"unit.section_number"});
  in->set_section_number(2);
  in->set_floor(11);
  EXPECT_EQ(Fields(Call(&R::CreateUnit, Head(), req, &out)), std::vector<std::string>{"unit.floor"});
}

TEST_F(RealtyTest, EveryBadFieldOfAUnitIsNamedAtOnce) {
  v1::Building b = MakeBuilding(1, 5);
  v1::CreateUnitRequest req;
  v1::Unit* in = req.mutable_unit();
  in->set_building_id(b.id());
  in->mutable_price()->set_currency("XXX");
  in->set_plan_image("javascript:alert(1)");
  v1::Unit out;
  grpc::Status s = Call(&R::CreateUnit, Head(), req, &out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<std::string> f = Fields(s);
  std::sort(f.begin(), f.end());
  EXPECT_EQ(f, (std::vector<std::string>{"unit.area_centi_m2", "unit.floor", "unit.kind", "unit.number",
                                         "unit.plan_image", "unit.position", "unit.price.currency",
                                         "unit.section_number"}));
  EXPECT_EQ(Count("SELECT count(*) FROM realty_units"), 0);
}

// Issue 16's conventions on every list: a bad page_token is named with the other violations, and
// page_size follows deals' one page rule with its text (sql.h PageSize).
TEST_F(RealtyTest, AListNamesABadPageTokenWithEveryOtherViolation) {
  const std::string deals_text(PageSize("page_size", -1, kDefaultPage, kMaxPage).status().message());
  v1::ListProjectsRequest projects;
  projects.set_page_size(-1);
  projects.set_page_token("not-a-token");
  v1::ListProjectsResponse projects_out;
  grpc::Status s = Call(&R::ListProjects, Anna(), projects, &projects_out);
  EXPECT_EQ(Fields(s), (std::vector<std::string>{"page_size", "page_token"}));
  EXPECT_EQ(s.error_message(), absl::StrCat(deals_text, " (and 1 more)"));

  v1::ListBuildingsRequest buildings;
  buildings.set_project_id("nope");
  buildings.set_page_size(-1);
  buildings.set_page_token("not-a-token");
  v1::ListBuildingsResponse buildings_out;
  EXPECT_EQ(Fields(Call(&R::ListBuildings, Anna(), buildings, &buildings_out)),
            (std::vector<std::string>{"project_id", "page_size", "page_token"}));

  v1::ListUnitPricesRequest prices;
  prices.set_unit_id("nope");
  prices.set_page_size(-1);
  prices.set_page_token("not-a-token");
  v1::ListUnitPricesResponse prices_out;
  EXPECT_EQ(Fields(Call(&R::ListUnitPrices, Anna(), prices, &prices_out)),
            (std::vector<std::string>{"unit_id", "page_size", "page_token"}));

  v1::ListBookingsRequest bookings;
  bookings.set_page_size(-1);
  v1::ListBookingsResponse bookings_out;
  s = Call(&B::ListBookings, Anna(), bookings, &bookings_out);
  ASSERT_EQ(Fields(s), (std::vector<std::string>{"page_size"}));
  EXPECT_EQ(FieldViolations(FromGrpcStatus(s))[0].description,
            FieldViolations(PageSize("page_size", -1, kDefaultPage, kMaxPage).status())[0].description);
}

// Projects page by lower(name) as PostgreSQL lowers it: Cyrillic names («ЖК …») page through every project
// exactly once, in order (a token made with an ASCII-only lowercase skipped or repeated them).
TEST_F(RealtyTest, ProjectsWithCyrillicNamesPageThroughEveryOneOnce) {
  std::vector<std::string> made;
  for (const char* name : {"Березы", "акация", "Ясень", "клён", "Дуб"}) {
    v1::CreateProjectRequest pr;
    pr.mutable_project()->set_name(absl::StrCat("ЖК ", name));
    v1::Project project;
    ASSERT_TRUE(Ok(Call(&R::CreateProject, Head(), pr, &project)));
    made.push_back(project.id());
  }
  v1::ListProjectsRequest req;
  req.set_page_size(2);
  std::vector<std::string> got;
  for (int page = 0; page < 5; ++page) {
    v1::ListProjectsResponse out;
    ASSERT_TRUE(Ok(Call(&R::ListProjects, Anna(), req, &out)));
    for (const v1::Project& x : out.projects()) got.push_back(x.id());
    if (out.next_page_token().empty()) break;
    req.set_page_token(out.next_page_token());
  }
  std::vector<std::string> want;
  {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    for (const pqxx::row& r : tx.exec("SELECT id::text FROM realty_projects ORDER BY lower(name), id")) {
      want.push_back(r[0].as<std::string>());
    }
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(got.size(), made.size());
}

TEST_F(RealtyTest, ReadingNeedsRealtyReadAndChangingRealtyManage) {
  v1::Building b = MakeBuilding(1, 5);
  v1::GetBuildingRequest get;
  get.set_id(b.id());
  v1::Building out;
  EXPECT_TRUE(Ok(Call(&R::GetBuilding, Reader(), get, &out)));
  EXPECT_EQ(Call(&R::GetBuilding, User(kAnna, {"deals.read.all"}), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::CreateProjectRequest pr;
  pr.mutable_project()->set_name("ЖК без права");
  v1::Project p;
  grpc::Status s = Call(&R::CreateProject, Reader(), pr, &p);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(s.error_message().find("realty.manage"), std::string::npos);
}

TEST_F(RealtyTest, EveryPriceChangeIsKeptExactlyAndTheHistoryIsAppendOnly) {
  v1::Building b = MakeBuilding(1, 5);
  v1::Unit u = MakeUnit(b, 1, 1, 1, 1'000'000'000);
  const int64_t prices[] = {1'050'000'000, 1'050'000'000, 990'000'000, 1'100'000'000};
  for (int64_t price : prices) {
    clock_.Advance(absl::Hours(1));
    v1::UpdateUnitRequest req;
    req.mutable_unit()->set_id(u.id());
    req.mutable_unit()->mutable_price()->set_amount_minor(price);
    req.mutable_update_mask()->add_paths("price");
    ASSERT_TRUE(Ok(Call(&R::UpdateUnit, Head(), req, &u)));
  }
  // A discount moves the final price: another row.
  v1::UpdateUnitRequest disc;
  disc.mutable_unit()->set_id(u.id());
  v1::Discount* d = disc.mutable_unit()->add_discounts();
  d->set_code("full");
  d->set_name("Скидка при 100% оплате");
  d->set_percent_bp(500);
  disc.mutable_update_mask()->add_paths("discounts");
  ASSERT_TRUE(Ok(Call(&R::UpdateUnit, Head(), disc, &u)));
  EXPECT_EQ(u.final_price().amount_minor(), 1'045'000'000);
  EXPECT_EQ(u.discounts(0).value().amount_minor(), 55'000'000);
  // Status is not a field one writes.
  v1::UpdateUnitRequest bad;
  bad.mutable_unit()->set_id(u.id());
  bad.mutable_update_mask()->add_paths("status");
  EXPECT_EQ(Fields(Call(&R::UpdateUnit, Head(), bad, &u)), std::vector<std::string>{"update_mask"});

  v1::ListUnitPricesRequest lr;
  lr.set_unit_id(u.id());
  lr.set_page_size(2);
  std::vector<int64_t> seen, finals;
  for (int guard = 0; guard < 10; ++guard) {
    v1::ListUnitPricesResponse page;
    ASSERT_TRUE(Ok(Call(&R::ListUnitPrices, Reader(), lr, &page)));
    for (const v1::UnitPrice& p : page.unit_prices()) {
      seen.push_back(p.price().amount_minor());
      finals.push_back(p.final_price().amount_minor());
    }
    if (page.next_page_token().empty()) break;
    lr.set_page_token(page.next_page_token());
  }
  // Newest first; the repeated 1 050 000 ₽ wrote nothing.
  EXPECT_EQ(seen,
            (std::vector<int64_t>{1'100'000'000, 1'100'000'000, 990'000'000, 1'050'000'000, 1'000'000'000}));
  EXPECT_EQ(finals[0], 1'045'000'000);
  // The database refuses to rewrite or drop history.
  pqxx::connection c(db_->dsn());
  for (const char* sql : {"UPDATE realty_unit_prices SET price_minor = 1", "DELETE FROM realty_unit_prices",
                          "TRUNCATE realty_unit_prices CASCADE"}) {
    pqxx::work tx(c);
    EXPECT_THROW(tx.exec(sql), pqxx::sql_error) << sql;
  }
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM realty_unit_prices WHERE unit_id = '", u.id(), "'")), 5);
}

TEST_F(RealtyTest, StatusMovesOnlyAlongTheStateMachine) {
  v1::Building b = MakeBuilding(1, 5);
  v1::Unit u = MakeUnit(b, 1, 1, 1, 0, 2, v1::Unit::NOT_RELEASED);
  auto change = [&](v1::Unit::Status to, const std::string& reason = "") {
    v1::ChangeUnitStatusRequest req;
    req.set_id(u.id());
    req.set_status(to);
    req.set_reason(reason);
    v1::Unit out;
    grpc::Status s = Call(&R::ChangeUnitStatus, Head(), req, &out);
    if (s.ok()) u = out;
    return s.error_code();
  };
  EXPECT_EQ(change(v1::Unit::AVAILABLE), grpc::StatusCode::FAILED_PRECONDITION);  // no price
  v1::UpdateUnitRequest price;
  price.mutable_unit()->set_id(u.id());
  price.mutable_unit()->mutable_price_per_m2()->set_amount_minor(25'000'000);
  price.mutable_update_mask()->add_paths("price_per_m2");
  ASSERT_TRUE(Ok(Call(&R::UpdateUnit, Head(), price, &u)));
  EXPECT_EQ(u.price().amount_minor(), 1'250'000'000);
  EXPECT_EQ(change(v1::Unit::AVAILABLE), grpc::StatusCode::OK);
  EXPECT_EQ(change(v1::Unit::BOOKED), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(change(v1::Unit::SOLD), grpc::StatusCode::OK);
  EXPECT_EQ(change(v1::Unit::WITHDRAWN), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(change(v1::Unit::AVAILABLE),
            grpc::StatusCode::FAILED_PRECONDITION);  // a termination needs a reason
  EXPECT_EQ(change(v1::Unit::AVAILABLE, "расторжение ДДУ"), grpc::StatusCode::OK);
  EXPECT_EQ(change(v1::Unit::AVAILABLE), grpc::StatusCode::OK);  // the same status: nothing to do
  std::vector<std::string> types = EventTypes(u.id());
  EXPECT_EQ(std::count(types.begin(), types.end(), "crm.deals.unit.status_changed.v1"), 3);
  // The database holds the guard too: no unit on sale without a price.
  pqxx::connection c(db_->dsn());
  pqxx::work tx(c);
  EXPECT_THROW(tx.exec_params("UPDATE realty_units SET price_minor = 0, price_per_m2_minor = 0, "
                              "final_price_minor = 0 WHERE id = $1",
                              u.id()),
               pqxx::check_violation);
}

// ---- the bulk import ------------------------------------------------------------------------------

v1::ImportInventoryRequest Inventory(int units_per_floor, int floors, int sections) {
  v1::ImportInventoryRequest req;
  v1::Project* p = req.add_projects();
  p->set_external_id("p-1");
  p->set_name("ЖК Импорт");
  v1::Building* b = req.add_buildings();
  b->set_external_id("b-1");
  b->set_project_external_id("p-1");
  b->set_name("Корпус 7");
  for (int s = 1; s <= sections; ++s) {
    v1::Section* sec = b->add_sections();
    sec->set_number(s);
    sec->set_last_floor(floors);
  }
  for (int s = 1; s <= sections; ++s) {
    for (int f = 1; f <= floors; ++f) {
      for (int pos = 1; pos <= units_per_floor; ++pos) {
        v1::Unit* u = req.add_units();
        u->set_external_id(absl::StrCat("u-", s, "-", f, "-", pos));
        u->set_building_external_id("b-1");
        u->set_section_number(s);
        u->set_floor(f);
        u->set_position(pos);
        u->set_number(absl::StrCat(s, f, pos));
        u->set_kind(pos == 4 ? v1::Unit::APARTMENTS : v1::Unit::APARTMENT);
        u->set_rooms(pos % 4);
        u->set_area_centi_m2(3000 + 1000 * pos);
        u->mutable_price_per_m2()->set_amount_minor(20'000'000 + 10'000 * f);
        u->set_status(v1::Unit::AVAILABLE);
        u->set_special_offer(f == 1);
      }
    }
  }
  return req;
}

TEST_F(RealtyTest, ImportUpsertsByExternalIdAndAnIdenticalRowWritesNothing) {
  v1::ImportInventoryRequest req = Inventory(4, 10, 3);
  v1::ImportInventoryResponse out;
  ASSERT_TRUE(Ok(Call(&R::ImportInventory, Head(), req, &out)));
  EXPECT_EQ(out.projects_created(), 1);
  EXPECT_EQ(out.buildings_created(), 1);
  EXPECT_EQ(out.units_created(), 120);
  EXPECT_EQ(out.prices_recorded(), 120);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE type = 'crm.deals.unit.created.v1'"), 120);
  const int64_t events = Count("SELECT count(*) FROM outbox");
  // Again: nothing changes, nothing is written.
  ASSERT_TRUE(Ok(Call(&R::ImportInventory, Head(), req, &out)));
  EXPECT_EQ(out.units_unchanged(), 120);
  EXPECT_EQ(out.units_created() + out.units_updated() + out.prices_recorded() + out.projects_updated(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), events);
  // Five prices and one status move.
  for (int i = 0; i < 5; ++i) req.mutable_units(i)->mutable_price_per_m2()->set_amount_minor(30'000'000);
  req.mutable_units(7)->set_status(v1::Unit::WITHDRAWN);
  ASSERT_TRUE(Ok(Call(&R::ImportInventory, Head(), req, &out)));
  EXPECT_EQ(out.units_updated(), 6);
  EXPECT_EQ(out.prices_recorded(), 5);
  EXPECT_EQ(out.status_changes(), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM realty_unit_prices"), 125);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE type = 'crm.deals.unit.status_changed.v1'"), 1);
  // The events are whole envelopes of the unit.
  for (const Event& e : Events()) {
    if (e.type != "crm.deals.unit.updated.v1") continue;
    v1::UnitChanged changed;
    ASSERT_TRUE(e.env.payload().UnpackTo(&changed));
    EXPECT_TRUE(changed.imported());
    EXPECT_EQ(changed.unit().id(), e.aggregate_id);
    EXPECT_EQ(changed.unit().project_name(), "ЖК Импорт");
  }
}

TEST_F(RealtyTest, ABadImportWritesNothingAndNamesEveryBadRow) {
  v1::ImportInventoryRequest req = Inventory(4, 10, 3);
  v1::ImportInventoryResponse out;
  ASSERT_TRUE(Ok(Call(&R::ImportInventory, Head(), req, &out)));
  const int64_t events = Count("SELECT count(*) FROM outbox");
  for (int i = 0; i < req.units_size(); ++i)
    req.mutable_units(i)->mutable_price_per_m2()->set_amount_minor(1);
  req.mutable_units(17)->set_area_centi_m2(0);
  req.mutable_units(18)->set_floor(11);
  req.mutable_units(19)->set_status(v1::Unit::BOOKED);
  req.mutable_units(20)->set_position(req.units(21).position());
  req.mutable_units(20)->set_floor(req.units(21).floor());
  req.mutable_units(22)->set_external_id(req.units(23).external_id());
  req.mutable_units(24)->set_building_external_id("nowhere");
  grpc::Status s = Call(&R::ImportInventory, Head(), req, &out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<std::string> f = Fields(s);
  EXPECT_EQ(f, (std::vector<std::string>{"units[17].area_centi_m2", "units[23].external_id"}));
  req.mutable_units(17)->set_area_centi_m2(5000);
  req.mutable_units(23)->set_external_id("u-new");
  s = Call(&R::ImportInventory, Head(), req, &out);
  f = Fields(s);
  EXPECT_EQ(f, (std::vector<std::string>{"units[18].floor", "units[19].status", "units[21].position",
                                         "units[24].building_external_id"}))
      << s.error_message();
  // All or nothing: not one of the 120 prices moved.
  EXPECT_EQ(Count("SELECT count(*) FROM realty_unit_prices"), 120);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), events);
  // A place another unit holds (one made through the API, without an external id) is named too.
  req.mutable_units(18)->set_floor(5);
  req.mutable_units(19)->set_status(v1::Unit::AVAILABLE);
  req.mutable_units(20)->set_position(1);  // back to its own place
  req.mutable_units(22)->set_external_id("u-1-6-3");
  req.mutable_units(23)->set_external_id("u-1-6-4");
  req.mutable_units(24)->set_building_external_id("b-1");
  v1::ListBuildingsRequest lb;
  v1::ListProjectsResponse projects;
  ASSERT_TRUE(Ok(Call(&R::ListProjects, Reader(), v1::ListProjectsRequest(), &projects)));
  lb.set_project_id(projects.projects(0).id());
  v1::ListBuildingsResponse buildings;
  ASSERT_TRUE(Ok(Call(&R::ListBuildings, Reader(), lb, &buildings)));
  v1::CreateUnitRequest cu;
  v1::Unit* holder = cu.mutable_unit();
  holder->set_building_id(buildings.buildings(0).id());
  holder->set_section_number(3);
  holder->set_floor(10);
  holder->set_position(5);
  holder->set_number("API");
  holder->set_kind(v1::Unit::STORAGE);
  holder->set_area_centi_m2(300);
  v1::Unit made;
  ASSERT_TRUE(Ok(Call(&R::CreateUnit, Head(), cu, &made)));
  v1::Unit* mover = req.mutable_units(req.units_size() - 1);  // u-3-10-4, moving to place 5
  mover->set_position(5);
  s = Call(&R::ImportInventory, Head(), req, &out);
  EXPECT_EQ(Fields(s), std::vector<std::string>{absl::StrCat("units[", req.units_size() - 1, "].position")})
      << s.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM realty_unit_prices"), 121);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE type = 'crm.deals.unit.updated.v1'"), 0);
  // Over 10 000 units is refused whole.
  v1::ImportInventoryRequest big;
  for (int i = 0; i <= kMaxImportUnits; ++i) big.add_units();
  EXPECT_EQ(Fields(Call(&R::ImportInventory, Head(), big, &out)), std::vector<std::string>{"units"});
}

// ---- the chessboard, matching, the unit list -----------------------------------------------------

TEST_F(RealtyTest, TheChessboardIsTheWholeGridWithBookings) {
  v1::Building b = MakeBuilding(2, 4);
  v1::Unit a = MakeUnit(b, 1, 4, 1);
  MakeUnit(b, 1, 4, 3);
  MakeUnit(b, 2, 1, 1, 500'000'000, 1, v1::Unit::SOLD);
  v1::Booking booking;
  ASSERT_TRUE(
      Ok(Call(&B::CreateBooking, Anna(), BookingFor(a, MakeClient("Тестов Тест Тестович")), &booking)));
  v1::GetChessboardRequest req;
  req.set_building_id(b.id());
  v1::Chessboard board;
  ASSERT_TRUE(Ok(Call(&R::GetChessboard, Anna(), req, &board)));
  ASSERT_EQ(board.sections_size(), 2);
  const v1::ChessboardSection& s1 = board.sections(0);
  ASSERT_EQ(s1.floors_size(), 4);  // every floor, empty ones too, the top first
  EXPECT_EQ(s1.floors(0).floor(), 4);
  EXPECT_EQ(s1.floors(3).floor(), 1);
  EXPECT_EQ(s1.floors(3).cells_size(), 0);
  EXPECT_EQ(s1.width(), 3);
  ASSERT_EQ(s1.floors(0).cells_size(), 2);
  const v1::ChessboardCell& cell = s1.floors(0).cells(0);
  EXPECT_EQ(cell.unit_id(), a.id());
  EXPECT_EQ(cell.status(), v1::Unit::BOOKED);
  EXPECT_EQ(cell.price().amount_minor(), 1'000'000'000);
  EXPECT_EQ(cell.area_centi_m2(), 5000);
  EXPECT_EQ(cell.booking().responsible_id(), kAnna);
  EXPECT_EQ(cell.booking().client_name(), "Тестов Тест Тестович");
  EXPECT_EQ(cell.booking().expire_time().seconds(), booking.expire_time().seconds());
  // Another manager sees who booked it and until when, not the client.
  ASSERT_TRUE(Ok(Call(&R::GetChessboard, Boris(), req, &board)));
  const v1::UnitBooking& seen = board.sections(0).floors(0).cells(0).booking();
  EXPECT_EQ(seen.responsible_id(), kAnna);
  EXPECT_FALSE(seen.visible());
  EXPECT_EQ(seen.client_name(), "");
  std::map<int, int> counts;
  for (const v1::StatusCount& c : board.status_counts()) counts[c.status()] = c.units();
  EXPECT_EQ(counts,
            (std::map<int, int>{{v1::Unit::AVAILABLE, 1}, {v1::Unit::BOOKED, 1}, {v1::Unit::SOLD, 1}}));
}

TEST_F(RealtyTest, MatchingFindsTheRequestsUnitsCheapestFirstAcrossPages) {
  v1::ImportInventoryResponse imported;
  ASSERT_TRUE(Ok(Call(&R::ImportInventory, Head(), Inventory(4, 10, 3), &imported)));
  v1::ListProjectsResponse projects;
  ASSERT_TRUE(Ok(Call(&R::ListProjects, Reader(), v1::ListProjectsRequest(), &projects)));
  const std::string project = projects.projects(0).id();
  // Ground truth straight from SQL: apartments of 1 or 2 rooms, 40–60 m², final ≤ 12 000 000 ₽, on
  // sale.
  const int64_t want = Count(absl::StrCat(
      "SELECT count(*) FROM realty_units WHERE project_id = '", project,
      "' AND kind = 1 AND rooms IN (1, 2) AND "
      "area_centi BETWEEN 4000 AND 6000 AND final_price_minor <= 1200000000 AND status IN (2, 3)"));
  ASSERT_GT(want, 10);
  v1::MatchUnitsRequest req;
  req.set_project_id(project);
  req.add_kinds(v1::Unit::APARTMENT);
  req.add_rooms(1);
  req.add_rooms(2);
  req.set_area_min_centi_m2(4000);
  req.set_area_max_centi_m2(6000);
  req.mutable_budget_max()->set_amount_minor(1'200'000'000);
  req.set_page_size(7);
  std::vector<int64_t> prices;
  std::set<std::string> ids;
  for (int guard = 0; guard < 100; ++guard) {
    v1::MatchUnitsResponse page;
    grpc::Status s = Call(&R::MatchUnits, Anna(), req, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    for (const v1::Unit& u : page.units()) {
      EXPECT_LE(u.final_price().amount_minor(), 1'200'000'000);
      EXPECT_TRUE(u.rooms() == 1 || u.rooms() == 2);
      prices.push_back(u.final_price().amount_minor());
      EXPECT_TRUE(ids.insert(u.id()).second);
    }
    if (page.next_page_token().empty()) break;
    req.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(static_cast<int64_t>(ids.size()), want);
  EXPECT_TRUE(std::is_sorted(prices.begin(), prices.end()));
  // Special offers only (floor 1 of the import).
  v1::MatchUnitsRequest offers;
  offers.set_project_id(project);
  offers.set_special_offer_only(true);
  offers.set_page_size(200);
  v1::MatchUnitsResponse page;
  ASSERT_TRUE(Ok(Call(&R::MatchUnits, Anna(), offers, &page)));
  EXPECT_EQ(page.units_size(), 12);
  for (const v1::Unit& u : page.units()) EXPECT_TRUE(u.special_offer());
  // Bad criteria are each named.
  v1::MatchUnitsRequest bad;
  bad.add_kinds(static_cast<v1::Unit::Kind>(42));
  bad.set_area_min_centi_m2(5000);
  bad.set_area_max_centi_m2(4000);
  bad.set_page_size(-1);
  std::vector<std::string> f = Fields(Call(&R::MatchUnits, Anna(), bad, &page));
  EXPECT_EQ(f, (std::vector<std::string>{"project_id", "kinds[0]", "area_max_centi_m2", "page_size"}));
}

TEST_F(RealtyTest, TheUnitListIsABuildingsUnitsByPlaceFilteredByStatusAndRooms) {
  v1::ImportInventoryResponse imported;
  ASSERT_TRUE(Ok(Call(&R::ImportInventory, Head(), Inventory(4, 5, 2), &imported)));
  v1::ListProjectsResponse projects;
  ASSERT_TRUE(Ok(Call(&R::ListProjects, Reader(), v1::ListProjectsRequest(), &projects)));
  v1::ListBuildingsRequest br;
  br.set_project_id(projects.projects(0).id());
  v1::ListBuildingsResponse buildings;
  ASSERT_TRUE(Ok(Call(&R::ListBuildings, Reader(), br, &buildings)));
  v1::ListUnitsRequest req;
  req.set_building_id(buildings.buildings(0).id());
  req.add_rooms(2);
  req.set_page_size(3);
  std::vector<std::string> places;
  for (int guard = 0; guard < 20; ++guard) {
    v1::ListUnitsResponse page;
    ASSERT_TRUE(Ok(Call(&R::ListUnits, Reader(), req, &page)));
    for (const v1::Unit& u : page.units()) {
      EXPECT_EQ(u.rooms(), 2);
      places.push_back(absl::StrCat(u.section_number(), "/", u.floor(), "/", u.position()));
    }
    if (page.next_page_token().empty()) break;
    req.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(places, (std::vector<std::string>{"1/1/2", "1/2/2", "1/3/2", "1/4/2", "1/5/2", "2/1/2", "2/2/2",
                                              "2/3/2", "2/4/2", "2/5/2"}));
}

// ---- bookings -------------------------------------------------------------------------------------

TEST_F(RealtyTest, APaidBookingHoldsTheUnitFor15WorkingDaysAtItsPrice) {
  v1::Building b = MakeBuilding(1, 5);
  v1::Unit u = MakeUnit(b, 1, 2, 1, 1'000'000'000);
  const std::string client = MakeClient("Иванова Мария Петровна");
  v1::Booking booking;
  ASSERT_TRUE(Ok(Call(&B::CreateBooking, Anna(), BookingFor(u, client), &booking)));
  EXPECT_EQ(booking.status(), v1::Booking::ACTIVE);
  EXPECT_EQ(booking.client_name(), "Иванова Мария Петровна");
  EXPECT_EQ(booking.unit_number(), u.number());
  EXPECT_EQ(booking.responsible_id(), kAnna);
  // Fri 2027-01-15 11:00 MSK + 15 working days, Mon 18th a holiday: Mon 2027-02-08 11:00 MSK.
  EXPECT_EQ(FromProtoTimestamp(booking.expire_time()),
            absl::FromCivil(absl::CivilSecond(2027, 2, 8, 8, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(booking.price().amount_minor(), 1'000'000'000);
  EXPECT_GT(booking.price_id(), 0);
  // The price moves; the booking's does not.
  v1::UpdateUnitRequest up;
  up.mutable_unit()->set_id(u.id());
  up.mutable_unit()->mutable_price()->set_amount_minor(1'200'000'000);
  up.mutable_update_mask()->add_paths("price");
  ASSERT_TRUE(Ok(Call(&R::UpdateUnit, Head(), up, &u)));
  EXPECT_EQ(u.status(), v1::Unit::BOOKED);
  v1::GetBookingRequest get;
  get.set_id(booking.id());
  ASSERT_TRUE(Ok(Call(&B::GetBooking, Anna(), get, &booking)));
  EXPECT_EQ(booking.price().amount_minor(), 1'000'000'000);
  EXPECT_EQ(Count(absl::StrCat("SELECT price_minor FROM realty_unit_prices WHERE id = ", booking.price_id())),
            1'000'000'000);
  EXPECT_EQ(EventTypes(booking.id()), std::vector<std::string>{"crm.deals.booking.created.v1"});
  // A booking needs its fee, its client and a unit on sale, each named.
  v1::CreateBookingRequest bad;
  bad.set_unit_id("x");
  grpc::Status s = Call(&B::CreateBooking, Anna(), bad, &booking);
  EXPECT_EQ(Fields(s), (std::vector<std::string>{"unit_id", "client_id", "fee.amount_minor"}));
}

TEST_F(RealtyTest, ASecondClientQueuesAndGetsTheUnitWhenTheFirstReleases) {
  v1::Building b = MakeBuilding(1, 5);
  v1::Unit u = MakeUnit(b, 1, 2, 1);
  v1::Booking first, second, third;
  ASSERT_TRUE(Ok(Call(&B::CreateBooking, Anna(), BookingFor(u, MakeClient("Первый")), &first)));
  grpc::Status s = Call(&B::CreateBooking, Boris(), BookingFor(u, MakeClient("Второй")), &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("join its queue"), std::string::npos);
  ASSERT_TRUE(Ok(Call(&B::CreateBooking, Boris(), BookingFor(u, MakeClient("Второй"), true), &second)));
  ASSERT_TRUE(Ok(Call(&B::CreateBooking, Anna(), BookingFor(u, MakeClient("Третий"), true), &third)));
  EXPECT_EQ(second.status(), v1::Booking::QUEUED);
  EXPECT_EQ(second.queue_position(), 1);
  EXPECT_EQ(third.queue_position(), 2);
  EXPECT_FALSE(second.has_expire_time());
  // A week later Anna releases her booking: Boris's client gets the unit in the same transaction.
  clock_.Advance(absl::Hours(24 * 7));
  v1::ReleaseBookingRequest rel;
  rel.set_id(first.id());
  rel.set_reason("клиент передумал");
  ASSERT_TRUE(Ok(Call(&B::ReleaseBooking, Anna(), rel, &first)));
  EXPECT_EQ(first.status(), v1::Booking::RELEASED);
  v1::GetBookingRequest get;
  get.set_id(second.id());
  ASSERT_TRUE(Ok(Call(&B::GetBooking, Boris(), get, &second)));
  EXPECT_EQ(second.status(), v1::Booking::ACTIVE);
  EXPECT_EQ(FromProtoTimestamp(second.start_time()), clock_.Now());
  EXPECT_EQ(FromProtoTimestamp(second.expire_time()), bookings_->ExpiryOf(clock_.Now()));
  get.set_id(third.id());
  ASSERT_TRUE(Ok(Call(&B::GetBooking, Anna(), get, &third)));
  EXPECT_EQ(third.queue_position(), 1);
  // Boris, who queued them, is told: the promotion's event is visible to him.
  bool told = false;
  for (const Event& e : Events()) {
    if (e.type != "crm.deals.booking.promoted.v1") continue;
    EXPECT_EQ(e.aggregate_id, second.id());
    EXPECT_EQ(
        std::vector<std::string>(e.env.visible_to_user_ids().begin(), e.env.visible_to_user_ids().end()),
        std::vector<std::string>{kBoris});
    v1::BookingChanged ev;
    ASSERT_TRUE(e.env.payload().UnpackTo(&ev));
    EXPECT_EQ(ev.old_status(), v1::Booking::QUEUED);
    told = true;
  }
  EXPECT_TRUE(told);
  v1::ListUnitBookingsRequest lr;
  lr.set_unit_id(u.id());
  v1::ListUnitBookingsResponse queue;
  ASSERT_TRUE(Ok(Call(&B::ListUnitBookings, Head(), lr, &queue)));
  ASSERT_EQ(queue.bookings_size(), 2);
  EXPECT_EQ(queue.bookings(0).id(), second.id());
  EXPECT_EQ(queue.bookings(1).id(), third.id());
  EXPECT_EQ(queue.queue_length(), 1);
  // A queued client leaves the queue; releasing it again is refused.
  rel.set_id(third.id());
  ASSERT_TRUE(Ok(Call(&B::ReleaseBooking, Anna(), rel, &third)));
  EXPECT_EQ(third.status(), v1::Booking::CANCELLED);
  EXPECT_EQ(Call(&B::ReleaseBooking, Anna(), rel, &third).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(RealtyTest, ExpiryOnTheInjectedClockPassesTheUnitDownTheQueueThenFreesIt) {
  v1::Building b = MakeBuilding(1, 5);
  v1::Unit u = MakeUnit(b, 1, 2, 1);
  v1::Booking first, second;
  ASSERT_TRUE(Ok(Call(&B::CreateBooking, Anna(), BookingFor(u, MakeClient("Первый")), &first)));
  ASSERT_TRUE(Ok(Call(&B::CreateBooking, Boris(), BookingFor(u, MakeClient("Второй"), true), &second)));
  // A second before the end nothing expires.
  clock_.Set(FromProtoTimestamp(first.expire_time()) - absl::Seconds(1));
  ASSERT_EQ(*bookings_->ExpireDue(), 0);
  clock_.Advance(absl::Seconds(1));
  ASSERT_EQ(*bookings_->ExpireDue(), 1);
  v1::GetBookingRequest get;
  get.set_id(first.id());
  ASSERT_TRUE(Ok(Call(&B::GetBooking, Anna(), get, &first)));
  EXPECT_EQ(first.status(), v1::Booking::EXPIRED);
  get.set_id(second.id());
  ASSERT_TRUE(Ok(Call(&B::GetBooking, Boris(), get, &second)));
  EXPECT_EQ(second.status(), v1::Booking::ACTIVE);
  EXPECT_EQ(FromProtoTimestamp(second.expire_time()), bookings_->ExpiryOf(clock_.Now()));
  EXPECT_EQ(*bookings_->ExpireDue(), 0);  // a second sweep finds nothing
  clock_.Set(FromProtoTimestamp(second.expire_time()));
  ASSERT_EQ(*bookings_->ExpireDue(), 1);
  v1::GetUnitRequest gu;
  gu.set_id(u.id());
  ASSERT_TRUE(Ok(Call(&R::GetUnit, Reader(), gu, &u)));
  EXPECT_EQ(u.status(), v1::Unit::AVAILABLE);
  EXPECT_FALSE(u.has_booking());
  EXPECT_EQ(EventTypes(first.id()),
            (std::vector<std::string>{"crm.deals.booking.created.v1", "crm.deals.booking.expired.v1"}));
  EXPECT_EQ(EventTypes(second.id()),
            (std::vector<std::string>{"crm.deals.booking.queued.v1", "crm.deals.booking.promoted.v1",
                                      "crm.deals.booking.expired.v1"}));
  // Many due at once, two sweepers racing: each expires once.
  std::vector<v1::Unit> units;
  for (int i = 2; i <= 5; ++i) {
    for (int pos = 1; pos <= 10; ++pos) {
      units.push_back(MakeUnit(b, 1, i, pos + 1));
      v1::Booking bk;
      ASSERT_TRUE(Ok(Call(&B::CreateBooking, Anna(), BookingFor(units.back(), MakeClient("К")), &bk)));
    }
  }
  clock_.Advance(absl::Hours(24 * 60));
  std::atomic<int> expired{0};
  std::thread t1([&] { expired += *bookings_->ExpireDue(7); });
  std::thread t2([&] { expired += *bookings_->ExpireDue(7); });
  t1.join();
  t2.join();
  expired += *bookings_->ExpireDue(7);
  EXPECT_EQ(expired.load(), 40);
  EXPECT_EQ(Count("SELECT count(*) FROM outbox WHERE type = 'crm.deals.booking.expired.v1'"), 42);
  EXPECT_EQ(Count("SELECT count(*) FROM realty_units WHERE status = 3"), 0);
}

TEST_F(RealtyTest, SixteenConcurrentBookingsOfOneUnitMakeExactlyOne) {
  v1::Building b = MakeBuilding(1, 5);
  for (bool queue : {false, true}) {
    v1::Unit u = MakeUnit(b, 1, queue ? 2 : 1, 1);
    std::vector<std::string> clients;
    for (int i = 0; i < 16; ++i) clients.push_back(MakeClient(absl::StrCat("Клиент ", i)));
    std::vector<grpc::Status> results(16);
    std::vector<v1::Booking> made(16);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < 16; ++i) {
      threads.emplace_back([&, i] {
        auto stub = v1::BookingService::NewStub(grpc::CreateChannel(
            absl::StrCat("127.0.0.1:", server_->grpc_port()), grpc::InsecureChannelCredentials()));
        grpc::ClientContext ctx;
        As(ctx, i % 2 ? Anna() : Boris());
        const v1::CreateBookingRequest req = BookingFor(u, clients[static_cast<size_t>(i)], queue);
        while (!go.load()) std::this_thread::yield();
        results[static_cast<size_t>(i)] = stub->CreateBooking(&ctx, req, &made[static_cast<size_t>(i)]);
      });
    }
    go = true;
    for (std::thread& t : threads) t.join();
    int ok = 0, active = 0, refused = 0;
    std::set<int> positions;
    for (size_t i = 0; i < 16; ++i) {
      if (results[i].ok()) {
        ++ok;
        if (made[i].status() == v1::Booking::ACTIVE) ++active;
        if (made[i].status() == v1::Booking::QUEUED) positions.insert(made[i].queue_position());
      } else {
        EXPECT_EQ(results[i].error_code(), grpc::StatusCode::FAILED_PRECONDITION)
            << results[i].error_message();
        ++refused;
      }
    }
    EXPECT_EQ(active, 1);
    EXPECT_EQ(ok, queue ? 16 : 1);
    EXPECT_EQ(refused, queue ? 0 : 15);
    if (queue) {
      EXPECT_EQ(positions.size(), 15u);  // 1..15, each once
      EXPECT_EQ(*positions.begin(), 1);
      EXPECT_EQ(*positions.rbegin(), 15);
    }
    EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM realty_bookings WHERE status = 2 AND unit_id = '",
                                 u.id(), "'")),
              1);
  }
}

TEST_F(RealtyTest, TheDatabaseItselfNeverBooksAUnitTwice) {
  v1::Building b = MakeBuilding(1, 5);
  v1::Unit u = MakeUnit(b, 1, 2, 1);
  v1::Booking first;
  ASSERT_TRUE(Ok(Call(&B::CreateBooking, Anna(), BookingFor(u, MakeClient("Первый")), &first)));
  const std::string client = MakeClient("Второй");
  pqxx::connection c(db_->dsn());
  {
    // A writer that skipped every check in code: the partial unique index refuses a second ACTIVE booking.
    pqxx::work tx(c);
    EXPECT_THROW(
        tx.exec_params(
            "INSERT INTO realty_bookings (id, unit_id, project_id, building_id, client_id, status, "
            "responsible_id, fee_minor, currency, price_id, start_time, expire_time, create_time, "
            "update_time) SELECT $1, unit_id, project_id, building_id, $2, 2, responsible_id, 1, 'RUB', "
            "price_id, now(), now(), now(), now() FROM realty_bookings WHERE id = $3",
            NewUuidV7(), client, first.id()),
        pqxx::unique_violation);
  }
  {
    // A unit marked BOOKED with no booking: refused at commit (the deferred trigger).
    v1::Unit free = MakeUnit(b, 1, 3, 1);
    pqxx::work tx(c);
    tx.exec_params("UPDATE realty_units SET status = 3 WHERE id = $1", free.id());
    EXPECT_THROW(tx.commit(), pqxx::sql_error);
  }
  {
    // A booking ended behind the unit's back, leaving it BOOKED: refused at commit too.
    pqxx::work tx(c);
    tx.exec_params("UPDATE realty_bookings SET status = 3 WHERE id = $1", first.id());
    EXPECT_THROW(tx.commit(), pqxx::sql_error);
  }
  EXPECT_EQ(Count(absl::StrCat("SELECT count(*) FROM realty_bookings WHERE status = 2")), 1);
}

TEST_F(RealtyTest, SellingABookedUnitConvertsItsBookingAndCancelsTheQueue) {
  v1::Building b = MakeBuilding(1, 5);
  v1::Unit u = MakeUnit(b, 1, 2, 1);
  v1::Booking first, second;
  ASSERT_TRUE(Ok(Call(&B::CreateBooking, Anna(), BookingFor(u, MakeClient("Первый")), &first)));
  ASSERT_TRUE(Ok(Call(&B::CreateBooking, Boris(), BookingFor(u, MakeClient("Второй"), true), &second)));
  v1::ChangeUnitStatusRequest sell;
  sell.set_id(u.id());
  sell.set_status(v1::Unit::SOLD);
  ASSERT_TRUE(Ok(Call(&R::ChangeUnitStatus, Head(), sell, &u)));
  EXPECT_EQ(u.status(), v1::Unit::SOLD);
  v1::GetBookingRequest get;
  get.set_id(first.id());
  ASSERT_TRUE(Ok(Call(&B::GetBooking, Head(), get, &first)));
  EXPECT_EQ(first.status(), v1::Booking::CONVERTED);
  get.set_id(second.id());
  ASSERT_TRUE(Ok(Call(&B::GetBooking, Head(), get, &second)));
  EXPECT_EQ(second.status(), v1::Booking::CANCELLED);
  EXPECT_EQ(second.end_reason(), "объект продан");
  EXPECT_EQ(first.end_reason(), "продано");
  EXPECT_EQ(EventTypes(second.id()).back(), "crm.deals.booking.cancelled.v1");
  EXPECT_EQ(EventTypes(first.id()).back(), v1::kBookingConvertedType);
  // The ended bookings' events carry them as stored (one set statement ends them all), the active first;
  // each unit status event carries the unit's version as its write left it.
  std::vector<std::string> ended;
  std::vector<int64_t> unit_versions;
  for (const Event& e : Events()) {
    if (e.type == v1::kBookingConvertedType || e.type == v1::kBookingCancelledType) {
      v1::BookingChanged ev;
      ASSERT_TRUE(e.env.payload().UnpackTo(&ev));
      EXPECT_EQ(ev.booking().version(), e.aggregate_id == first.id() ? first.version() : second.version());
      EXPECT_EQ(ev.booking().status(), e.aggregate_id == first.id() ? v1::Booking::CONVERTED : v1::Booking::CANCELLED);
      ended.push_back(e.aggregate_id);
    }
    if (e.type == v1::kUnitStatusChangedType && e.aggregate_id == u.id()) {
      v1::UnitStatusChanged ev;
      ASSERT_TRUE(e.env.payload().UnpackTo(&ev));
      unit_versions.push_back(ev.version());
      EXPECT_EQ(ev.building_id(), b.id());
    }
  }
  EXPECT_EQ(ended, (std::vector<std::string>{first.id(), second.id()}));
  ASSERT_FALSE(unit_versions.empty());
  EXPECT_EQ(unit_versions.back(), u.version());  // SOLD, as ChangeUnitStatus returned the unit
  EXPECT_EQ(unit_versions.front(), u.version() - 1);  // BOOKED by the first booking
  v1::Booking third;
  EXPECT_EQ(Call(&B::CreateBooking, Anna(), BookingFor(u, MakeClient("Третий"), true), &third).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(RealtyTest, BookingsAreSeenAndChangedByScopeAsDeals) {
  v1::Building b = MakeBuilding(1, 5);
  v1::Unit u1 = MakeUnit(b, 1, 2, 1), u2 = MakeUnit(b, 1, 2, 2);
  v1::Booking anna, boris;
  ASSERT_TRUE(Ok(Call(&B::CreateBooking, Anna(), BookingFor(u1, MakeClient("Клиент Анны")), &anna)));
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(Ok(Call(&B::CreateBooking, Boris(), BookingFor(u2, MakeClient("Клиент Бориса")), &boris)));
  v1::GetBookingRequest get;
  get.set_id(boris.id());
  v1::Booking out;
  EXPECT_EQ(Call(&B::GetBooking, Anna(), get, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Call(&B::GetBooking, Lena(), get, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  get.set_id(anna.id());
  EXPECT_TRUE(Call(&B::GetBooking, Lena(), get, &out).ok());  // the same team
  v1::ReleaseBookingRequest rel;
  rel.set_id(boris.id());
  EXPECT_EQ(Call(&B::ReleaseBooking, Anna(), rel, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Call(&B::ReleaseBooking, User(kAnna, {"bookings.read.all", "bookings.write.own"}), rel, &out)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto listed = [&](const Principal& who, const std::string& responsible = "") {
    v1::ListBookingsRequest req;
    req.set_project_id(b.project_id());
    req.set_responsible(responsible);
    v1::ListBookingsResponse resp;
    grpc::Status s = Call(&B::ListBookings, who, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const v1::Booking& x : resp.bookings()) ids.push_back(x.id());
    return ids;
  };
  EXPECT_EQ(listed(Anna()), std::vector<std::string>{anna.id()});
  EXPECT_EQ(listed(Lena()), std::vector<std::string>{anna.id()});
  EXPECT_EQ(listed(Head()), (std::vector<std::string>{boris.id(), anna.id()}));
  EXPECT_EQ(listed(Head(), kBoris), std::vector<std::string>{boris.id()});
  EXPECT_EQ(listed(Anna(), kBoris), std::vector<std::string>{});
  EXPECT_EQ(listed(Anna(), "me"), std::vector<std::string>{anna.id()});
  EXPECT_TRUE(listed(Reader()).empty());
}

TEST_F(RealtyTest, ACreateRepeatedWithItsIdempotencyKeyMakesOneBooking) {
  v1::Building b = MakeBuilding(1, 5);
  v1::Unit u = MakeUnit(b, 1, 2, 1);
  const v1::CreateBookingRequest req = BookingFor(u, MakeClient("Клиент"));
  v1::Booking a, again;
  ASSERT_TRUE(Ok(Call(&B::CreateBooking, Anna(), req, &a, "key-1")));
  ASSERT_TRUE(Ok(Call(&B::CreateBooking, Anna(), req, &again, "key-1")));
  EXPECT_EQ(a.SerializeAsString(), again.SerializeAsString());
  v1::CreateBookingRequest other = req;
  other.set_comment("другое");
  grpc::Status s = Call(&B::CreateBooking, Anna(), other, &again, "key-1");
  EXPECT_EQ(Fields(s), std::vector<std::string>{"idempotency-key"});
  EXPECT_EQ(Count("SELECT count(*) FROM realty_bookings"), 1);
}

// ---- the demo -------------------------------------------------------------------------------------

TEST_F(RealtyTest, TheDemoLoadsAProjectWithTwoBuildingsAndBookingsAndASecondRunChangesNothing) {
  ASSERT_TRUE(LoadDemoRealty(*wide_pool_).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM realty_projects"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM realty_buildings"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM realty_units"), 312);
  EXPECT_EQ(Count("SELECT count(*) FROM realty_bookings WHERE status = 2"), 7);
  EXPECT_EQ(Count("SELECT count(*) FROM realty_bookings WHERE status = 1"), 2);
  EXPECT_EQ(Count("SELECT count(DISTINCT status) FROM realty_units"), 5);
  EXPECT_GT(Count("SELECT count(*) FROM realty_units WHERE special_offer"), 0);
  const int64_t events = Count("SELECT count(*) FROM outbox");
  ASSERT_TRUE(LoadDemoRealty(*wide_pool_).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM outbox"), events);
  EXPECT_EQ(Count("SELECT count(*) FROM realty_bookings"), 9);
}

}  // namespace
}  // namespace crm::deals::realty::testing
