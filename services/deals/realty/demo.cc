// File: services/deals/realty/demo.cc
#include "services/deals/realty/demo.h"

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/calendar/calendar.h"
#include "libs/pg/pool.h"
#include "services/deals/realty/bookings.h"
#include "services/deals/realty/inventory.h"
#include "services/deals/sql.h"

namespace crm::deals::realty {

namespace {

struct DemoClient {
  const char* id;
  const char* name;
  const char* phone;
};

constexpr DemoClient kClients[] = {
    {"01930000-0100-7000-8000-0000000000c1", "Тестов Тест Тестович", "+79160000101"},
    {"01930000-0100-7000-8000-0000000000c2", "Иванова Мария Петровна", "+79160000102"},
    {"01930000-0100-7000-8000-0000000000c3", "Смирнов Алексей Игоревич", "+79160000103"},
    {"01930000-0100-7000-8000-0000000000c4", "Кузнецова Ольга Сергеевна", "+79160000104"},
};

v1::Unit DemoUnit(const std::string& building, int section, int floor, int position, int n) {
  v1::Unit u;
  u.set_building_external_id(building);
  u.set_external_id(absl::StrCat(building, "-", section, "-", floor, "-", position));
  u.set_section_number(section);
  u.set_floor(floor);
  u.set_position(position);
  u.set_right_holder("ООО «СЗ Северный парк»");
  u.mutable_price_per_m2()->set_currency("RUB");
  if (floor < 0) {
    const bool parking = position <= 3;
    u.set_kind(parking ? v1::Unit::PARKING : v1::Unit::STORAGE);
    u.set_number(absl::StrCat(parking ? "М-" : "К-", section, floor * -1, position));
    u.set_area_centi_m2(parking ? 1350 : 420 + 10 * position);
    u.mutable_price()->set_amount_minor(parking ? 150000000 : 60000000);
    u.mutable_price()->set_currency("RUB");
    u.clear_price_per_m2();
    u.set_status(v1::Unit::AVAILABLE);
    return u;
  }
  if (floor == 1 && section == 1 && building == kDemoBuilding1ExternalId) {
    u.set_kind(v1::Unit::COMMERCIAL);
    u.set_number(absl::StrCat("П-", position));
    u.set_area_centi_m2(6500 + 700 * position);
    u.mutable_price_per_m2()->set_amount_minor(32000000);
    u.set_status(position == 4 ? v1::Unit::NOT_RELEASED : v1::Unit::AVAILABLE);
    return u;
  }
  static constexpr int kRooms[] = {1, 2, 3, 0};
  static constexpr int64_t kArea[] = {3850, 5620, 7840, 2680};
  u.set_kind(v1::Unit::APARTMENT);
  u.set_number(absl::StrCat(n));
  u.set_plan_number(absl::StrCat(section, ".", floor, ".", position));
  u.set_rooms(kRooms[position - 1]);
  u.set_area_centi_m2(kArea[position - 1] + 10 * (floor % 3));
  // Higher floors cost more a square metre.
  u.mutable_price_per_m2()->set_amount_minor(24500000 + 150000 * floor);
  u.set_status(v1::Unit::AVAILABLE);
  if (n % 11 == 0) u.set_status(v1::Unit::SOLD);
  if (floor >= 11) u.set_status(v1::Unit::NOT_RELEASED);
  if (n % 37 == 0) u.set_status(v1::Unit::WITHDRAWN);
  if (n % 9 == 0) {
    u.set_special_offer(true);
    u.set_special_offer_name("Спецпредложение: кухня в подарок");
  }
  if (n % 5 == 0) {
    v1::Discount* d = u.add_discounts();
    d->set_code("full_payment");
    d->set_name("Скидка при 100% оплате");
    d->set_percent_bp(300);
  }
  if (n % 13 == 0) {
    v1::Discount* d = u.add_discounts();
    d->set_code("trade_in");
    d->set_name("Trade-in");
    d->mutable_amount()->set_amount_minor(20000000);
  }
  if (n % 17 == 0) u.set_no_ownership(true);
  u.set_plan_image(absl::StrCat("https://example.com/plans/", building, "/", kRooms[position - 1], "k.png"));
  return u;
}

v1::ImportInventoryRequest DemoInventory() {
  v1::ImportInventoryRequest req;
  v1::Project* p = req.add_projects();
  p->set_external_id(kDemoProjectExternalId);
  p->set_name("ЖК Северный парк");
  p->set_city("Москва");
  p->set_address("ул. Северная, 10");
  for (const char* ext : {kDemoBuilding1ExternalId, kDemoBuilding2ExternalId}) {
    const bool first = std::string(ext) == kDemoBuilding1ExternalId;
    v1::Building* b = req.add_buildings();
    b->set_external_id(ext);
    b->set_project_external_id(kDemoProjectExternalId);
    b->set_name(first ? "Корпус 1" : "Корпус 2");
    b->set_phase(first ? "Фаза 1" : "Фаза 2");
    b->set_house_type("Монолит");
    const int sections = first ? 4 : 3;
    for (int s = 1; s <= sections; ++s) {
      v1::Section* sec = b->add_sections();
      sec->set_number(s);
      sec->set_name(absl::StrCat("Секция ", s));
      sec->set_first_floor(first ? 1 : -1);
      sec->set_last_floor(first ? 12 : 9);
    }
    int n = 0;
    for (int s = 1; s <= sections; ++s) {
      for (int f = first ? 1 : -1; f <= (first ? 12 : 9); ++f) {
        if (f == 0) continue;
        for (int pos = 1; pos <= 4; ++pos) {
          if (f > 0 && !(first && s == 1 && f == 1)) ++n;
          *req.add_units() = DemoUnit(ext, s, f, pos, n);
        }
      }
    }
  }
  return req;
}

// The demo bookings: (unit external id, client index) — the last two queue behind the first.
struct DemoBooking {
  const char* unit;
  int client;
  bool queue;
};

}  // namespace

absl::Status LoadDemoRealty(crm::pg::Pool& pool) {
  const Clock& clock = SystemClock();
  InventoryStore inventory(pool, clock);
  Actor actor;
  actor.principal.set_kind(crm::common::v1::Principal::KIND_SERVICE);
  actor.principal.set_service("deals");
  actor.principal.set_on_behalf_of_user_id(kDemoBookingManagerId);
  actor.principal.add_permissions("realty.manage");
  actor.principal.add_permissions("bookings.write.all");
  CRM_RETURN_IF_ERROR(inventory.Import(actor, DemoInventory()).status());
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
    for (const DemoClient& c : kClients) {
      SqlParams p;
      Exec(tx,
           absl::StrCat("INSERT INTO clients (id, kind, name, phones) VALUES (", p.Add(c.id), "::uuid, 2, ",
                        p.Add(c.name), ", ARRAY[", p.Add(c.phone), "]) ON CONFLICT (id) DO NOTHING"),
           p);
    }
    return absl::OkStatus();
  }));
  CRM_ASSIGN_OR_RETURN(crm::calendar::WorkingCalendar cal,
                       crm::calendar::WorkingCalendar::FiveDay("Europe/Moscow", ""));
  BookingStore bookings(pool, clock, std::move(cal));
  const std::string k1 = kDemoBuilding1ExternalId, k2 = kDemoBuilding2ExternalId;
  const std::vector<std::pair<std::string, int>> plan = {
      {k1 + "-1-5-2", 0},  {k1 + "-2-7-3", 1}, {k1 + "-3-3-1", 2}, {k1 + "-4-9-2", 3}, {k2 + "-1-4-2", 0},
      {k2 + "-2--1-1", 1}, {k1 + "-2-6-1", 2}, {k1 + "-2-6-1", 3}, {k1 + "-2-6-1", 1}};
  for (const auto& [external_id, client] : plan) {
    std::string unit_id;
    CRM_RETURN_IF_ERROR(pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
      SqlParams p;
      pqxx::result r = Exec(
          tx, absl::StrCat("SELECT id::text FROM realty_units WHERE external_id = ", p.Add(external_id)), p);
      if (!r.empty()) unit_id = r[0][0].as<std::string>();
      return absl::OkStatus();
    }));
    if (unit_id.empty()) continue;
    v1::CreateBookingRequest req;
    req.set_unit_id(unit_id);
    req.set_client_id(kClients[client].id);
    req.mutable_fee()->set_amount_minor(5000000);  // 50 000 ₽
    req.set_receipt_number(absl::StrCat("ДЕМО-", client + 1));
    req.set_join_queue(true);
    absl::StatusOr<v1::Booking> made = bookings.Create(actor, req);
    // Already held or waited for (a second run), or a unit the demo marked sold: nothing to do.
    if (!made.ok() && made.status().code() != absl::StatusCode::kFailedPrecondition) return made.status();
  }
  return absl::OkStatus();
}

}  // namespace crm::deals::realty
