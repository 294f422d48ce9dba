// File: services/deals/realty/import.cc
// InventoryStore::Import — the external system's bulk upsert (D14; inventory.h). One transaction:
// projects and buildings row by row (few), then every unit in a handful of statements whatever their
// number: one read of the stored rows by external id, one upsert from arrays (unnest) of the changed units
// that also appends their price history, a COPY of the new units and one of their first prices, and one
// statement of all events (events::OutboxBatch).
#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/prepared.h"
#include "libs/pg/pool.h"
#include "libs/pg/sql_array.h"
#include "libs/rpc/call.h"
#include "proto/crm/deals/v1/realty_event_types.h"
#include "services/deals/realty/access.h"
#include "services/deals/realty/internal.h"
#include "services/deals/realty/inventory.h"
#include "services/deals/realty/rules.h"

namespace crm::deals::realty {

namespace {

// Imports run one at a time (a transaction-scoped advisory lock): two loads of the same new external
// ids then never race to insert them both.
constexpr char kImportLock[] = "SELECT pg_advisory_xact_lock(hashtext('crm.deals.realty.import'))";

// The stored units of the batch's external ids, locked. One index probe per id (LATERAL … LIMIT 1 keeps
// the planner from a hash join over the whole table, which it picks for 10 000 ids: 112 ms at 300 000
// units and growing with the table, against 17 ms for the probes).
constexpr char kStoredUnits[] =
    "SELECT u.id::text, u.external_id, u.building_id::text, u.section_number, u.floor, u.position, u.number, "
    "u.plan_number, u.kind, u.purpose, u.status, u.rooms, u.area_centi, u.currency, u.price_minor, "
    "u.price_per_m2_minor, u.final_price_minor, u.discounts::text, u.special_offer, u.special_offer_name, "
    "u.right_holder, u.no_ownership, u.plan_image, u.version, (extract(epoch FROM u.create_time) * "
    "1000000)::bigint "
    "FROM unnest($1::text[]) AS e(external_id) CROSS JOIN LATERAL (SELECT * FROM realty_units x "
    "WHERE x.external_id = e.external_id LIMIT 1 FOR UPDATE) u";

// The units to write, as 25 arrays ($1..$25, UnitArrays's order) unnested into rows `t`; $26 = the time
// in microseconds, $27 = the actor.
constexpr char kUnitRows[] =
    "SELECT t.id, t.external_id, t.project_id, t.building_id, t.section_number, t.floor, t.position, "
    "t.number, t.plan_number, t.kind, t.purpose, t.status, t.rooms, t.area_centi, t.currency, t.price_minor, "
    "t.price_per_m2_minor, t.final_price_minor, t.discounts::jsonb, t.special_offer, t.special_offer_name, "
    "t.right_holder, t.no_ownership, t.plan_image, t.version, "
    "('epoch'::timestamptz + $26::bigint * interval '1 microsecond'), "
    "('epoch'::timestamptz + $26::bigint * interval '1 microsecond') "
    "FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::int[], $6::int[], $7::int[], $8::text[], "
    "$9::text[], $10::smallint[], $11::smallint[], $12::smallint[], $13::smallint[], $14::bigint[], $15::text[], "
    "$16::bigint[], $17::bigint[], $18::bigint[], $19::text[], $20::boolean[], $21::text[], $22::text[], "
    "$23::boolean[], $24::text[], $25::bigint[]) AS t(id, external_id, project_id, building_id, section_number, "
    "floor, position, number, plan_number, kind, purpose, status, rooms, area_centi, currency, price_minor, "
    "price_per_m2_minor, final_price_minor, discounts, special_offer, special_offer_name, right_holder, "
    "no_ownership, plan_image, version)";
constexpr char kInsertUnitsInto[] =
    "WITH up AS (INSERT INTO realty_units (id, external_id, project_id, building_id, section_number, floor, "
    "position, number, plan_number, kind, purpose, status, rooms, area_centi, currency, price_minor, "
    "price_per_m2_minor, final_price_minor, discounts, special_offer, special_offer_name, right_holder, "
    "no_ownership, plan_image, version, create_time, update_time) ";
constexpr char kOnConflictUpdate[] =
    " ON CONFLICT (id) DO UPDATE SET external_id = EXCLUDED.external_id, building_id = EXCLUDED.building_id, "
    "section_number = EXCLUDED.section_number, floor = EXCLUDED.floor, position = EXCLUDED.position, "
    "number = EXCLUDED.number, plan_number = EXCLUDED.plan_number, kind = EXCLUDED.kind, "
    "purpose = EXCLUDED.purpose, status = EXCLUDED.status, rooms = EXCLUDED.rooms, "
    "area_centi = EXCLUDED.area_centi, currency = EXCLUDED.currency, price_minor = EXCLUDED.price_minor, "
    "price_per_m2_minor = EXCLUDED.price_per_m2_minor, final_price_minor = EXCLUDED.final_price_minor, "
    "discounts = EXCLUDED.discounts, special_offer = EXCLUDED.special_offer, "
    "special_offer_name = EXCLUDED.special_offer_name, right_holder = EXCLUDED.right_holder, "
    "no_ownership = EXCLUDED.no_ownership, plan_image = EXCLUDED.plan_image, version = EXCLUDED.version, "
    "update_time = EXCLUDED.update_time";
constexpr char kReturningPrices[] =
    " RETURNING id, price_minor, price_per_m2_minor, final_price_minor, currency, discounts, special_offer, "
    "area_centi) "
    "INSERT INTO realty_unit_prices (unit_id, price_minor, price_per_m2_minor, final_price_minor, currency, "
    "discounts, special_offer, area_centi, change_time, actor_id, source) "
    "SELECT up.id, up.price_minor, up.price_per_m2_minor, up.final_price_minor, up.currency, up.discounts, "
    "up.special_offer, up.area_centi, ('epoch'::timestamptz + $26::bigint * interval '1 microsecond'), $27, 2 "
    "FROM up";

// Changed units: an upsert by id, with a price row for those whose price moved ($28).
const std::string& UpsertUnitsSql() {
  static const std::string* sql = new std::string(
      absl::StrCat(kInsertUnitsInto, kUnitRows, kOnConflictUpdate, kReturningPrices,
                   " JOIN unnest($28::uuid[]) AS moved(id) ON moved.id = up.id RETURNING id, unit_id::text"));
  return *sql;
}

// Places the batch wants that another unit (not the one moving there) holds.
constexpr char kTakenPlaces[] =
    "SELECT t.i, u.number FROM unnest($1::int[], $2::uuid[], $3::uuid[], $4::int[], $5::int[], $6::int[]) "
    "AS t(i, id, building_id, section_number, floor, position) JOIN realty_units u ON u.building_id = "
    "t.building_id "
    "AND u.section_number = t.section_number AND u.floor = t.floor AND u.position = t.position AND u.id <> "
    "t.id";

std::string IntArray(const std::vector<int64_t>& v) { return absl::StrCat("{", absl::StrJoin(v, ","), "}"); }

std::string BoolArray(const std::vector<bool>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) absl::StrAppend(&s, i ? "," : "", v[i] ? "t" : "f");
  return s + "}";
}

// Adds a violation for every row of `rows` whose place another unit holds.
template <typename Rows>
void NamePlacesTaken(pqxx::transaction_base& tx, const Rows& rows, Violations& bad) {
  std::vector<int64_t> idx, sections, floors, positions;
  std::vector<std::string> ids, bids;
  for (const auto& r : rows) {
    idx.push_back(r.index);
    ids.push_back(r.unit.id());
    bids.push_back(r.unit.building_id());
    sections.push_back(r.unit.section_number());
    floors.push_back(r.unit.floor());
    positions.push_back(r.unit.position());
  }
  SqlParams p;
  p.Add(IntArray(idx));
  p.Add(pg::ArrayLiteral(ids));
  p.Add(pg::ArrayLiteral(bids));
  p.Add(IntArray(sections));
  p.Add(IntArray(floors));
  p.Add(IntArray(positions));
  for (const pqxx::row& taken : Exec(tx, kTakenPlaces, p)) {
    bad.Add(absl::StrCat("units[", taken[0].as<int>(), "].position"),
            absl::StrCat("the place is taken by unit ", taken[1].as<std::string>()));
  }
}

struct BuildingInfo {
  std::string id, project_id, name, external_id;
  std::map<int, std::pair<int, int>> sections;  // number → floors
};

// A unit as stored, in the terms the comparison needs.
struct Stored {
  std::string id;
  v1::Unit unit;  // the stored values (prices normalised as ComputePrices would)
  int64_t version = 0;
  int64_t create_micros = 0;
};

// One import row as decided: the unit to write and what changed.
struct Row {
  int index;
  v1::Unit unit;
  Prices prices;
  bool is_new = false;
  bool price_moved = false;
  v1::Unit::Status old_status = v1::Unit::STATUS_UNSPECIFIED;
  std::vector<std::string> changed_fields;
};

// The units of `rows` as kUnitRows's 25 arrays, $1..$25.
SqlParams UnitArrays(const std::vector<const Row*>& rows) {
  std::vector<std::string> id, ext, project, building, number, plan, currency, discounts, offer_name, holder,
      plan_image;
  std::vector<int64_t> section, floor, position, kind, purpose, status, rooms, area, price, per_m2, final_price,
      version;
  std::vector<bool> offer, no_ownership;
  for (const Row* r : rows) {
    const v1::Unit& u = r->unit;
    id.push_back(u.id());
    ext.push_back(u.external_id());
    project.push_back(u.project_id());
    building.push_back(u.building_id());
    section.push_back(u.section_number());
    floor.push_back(u.floor());
    position.push_back(u.position());
    number.push_back(u.number());
    plan.push_back(u.plan_number());
    kind.push_back(u.kind());
    purpose.push_back(u.purpose());
    status.push_back(u.status());
    rooms.push_back(u.rooms());
    area.push_back(u.area_centi_m2());
    currency.push_back(r->prices.currency);
    price.push_back(r->prices.price_minor);
    per_m2.push_back(r->prices.per_m2_minor);
    final_price.push_back(r->prices.final_minor);
    discounts.push_back(DiscountsJson(r->prices.discounts));
    offer.push_back(u.special_offer());
    offer_name.push_back(u.special_offer_name());
    holder.push_back(u.right_holder());
    no_ownership.push_back(u.no_ownership());
    plan_image.push_back(u.plan_image());
    version.push_back(u.version());
  }
  SqlParams p;
  for (const auto* texts : {&id, &ext, &project, &building}) p.Add(pg::ArrayLiteral(*texts));
  for (const auto* ints : {&section, &floor, &position}) p.Add(IntArray(*ints));
  p.Add(pg::ArrayLiteral(number));
  p.Add(pg::ArrayLiteral(plan));
  for (const auto* ints : {&kind, &purpose, &status, &rooms, &area}) p.Add(IntArray(*ints));
  p.Add(pg::ArrayLiteral(currency));
  for (const auto* ints : {&price, &per_m2, &final_price}) p.Add(IntArray(*ints));
  p.Add(pg::ArrayLiteral(discounts));
  p.Add(BoolArray(offer));
  p.Add(pg::ArrayLiteral(offer_name));
  p.Add(pg::ArrayLiteral(holder));
  p.Add(BoolArray(no_ownership));
  p.Add(pg::ArrayLiteral(plan_image));
  p.Add(IntArray(version));
  return p;
}

constexpr char kReservePriceIds[] =
    "SELECT nextval('realty_unit_prices_id_seq') FROM generate_series(1, $1::int)";

// Writes the new units of `rows` and a first price row for each, by COPY (about half the server's work of
// an insert from arrays: no array to parse, no conflict to check — the ids are new); their price row ids
// are reserved from the table's identity first and recorded in `price_ids` (unit id → price row id). A
// place or external id another unit holds throws pqxx::unique_violation.
void CopyNewUnits(pqxx::transaction_base& tx, const std::vector<const Row*>& rows, absl::Time now,
                  const std::string& actor_id, std::map<std::string, int64_t>& price_ids) {
  if (rows.empty()) return;
  const std::string at = FormatRfc3339Utc(now);
  std::vector<int64_t> reserved;
  reserved.reserve(rows.size());
  for (const pqxx::row& r : pg::ExecPrepared(tx, kReservePriceIds, static_cast<int>(rows.size())))
    reserved.push_back(r[0].as<int64_t>());
  {
    pqxx::stream_to copy(
        tx, "realty_units",
        std::vector<std::string>{"id", "external_id", "project_id", "building_id", "section_number", "floor",
                                 "position", "number", "plan_number", "kind", "purpose", "status", "rooms",
                                 "area_centi", "currency", "price_minor", "price_per_m2_minor", "final_price_minor",
                                 "discounts", "special_offer", "special_offer_name", "right_holder", "no_ownership",
                                 "plan_image", "version", "create_time", "update_time"});
    std::array<std::string, 27> f;
    for (const Row* r : rows) {
      const v1::Unit& u = r->unit;
      f = {u.id(), u.external_id(), u.project_id(), u.building_id(), absl::StrCat(u.section_number()),
           absl::StrCat(u.floor()), absl::StrCat(u.position()), u.number(), u.plan_number(),
           absl::StrCat(static_cast<int>(u.kind())), absl::StrCat(static_cast<int>(u.purpose())),
           absl::StrCat(static_cast<int>(u.status())), absl::StrCat(u.rooms()), absl::StrCat(u.area_centi_m2()),
           r->prices.currency, absl::StrCat(r->prices.price_minor), absl::StrCat(r->prices.per_m2_minor),
           absl::StrCat(r->prices.final_minor), DiscountsJson(r->prices.discounts), u.special_offer() ? "t" : "f",
           u.special_offer_name(), u.right_holder(), u.no_ownership() ? "t" : "f", u.plan_image(),
           absl::StrCat(u.version()), at, at};
      copy << f;
    }
    copy.complete();
  }
  pqxx::stream_to copy(tx, "realty_unit_prices",
                       std::vector<std::string>{"id", "unit_id", "price_minor", "price_per_m2_minor",
                                                "final_price_minor", "currency", "discounts", "special_offer",
                                                "area_centi", "change_time", "actor_id", "source"});
  std::array<std::string, 12> f;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = *rows[i];
    f = {absl::StrCat(reserved[i]), r.unit.id(), absl::StrCat(r.prices.price_minor), absl::StrCat(r.prices.per_m2_minor),
         absl::StrCat(r.prices.final_minor), r.prices.currency, DiscountsJson(r.prices.discounts),
         r.unit.special_offer() ? "t" : "f", absl::StrCat(r.unit.area_centi_m2()), at, actor_id, "2"};
    copy << f;
    price_ids[r.unit.id()] = reserved[i];
  }
  copy.complete();
}

// The canonical text of what an import row decides about a unit (equal texts: nothing to write).
std::string Canonical(const v1::Unit& u, const Prices& pr) {
  return absl::StrCat(u.building_id(), "|", u.section_number(), "|", u.floor(), "|", u.position(), "|",
                      u.number(), "|", u.plan_number(), "|", u.kind(), "|", u.purpose(), "|", u.status(), "|",
                      u.rooms(), "|", u.area_centi_m2(), "|", pr.currency, "|", pr.price_minor, "|",
                      pr.per_m2_minor, "|", pr.final_minor, "|", DiscountsJson(pr.discounts), "|",
                      u.special_offer(), "|", u.special_offer_name(), "|", u.right_holder(), "|",
                      u.no_ownership(), "|", u.plan_image());
}

std::string PriceKey(const v1::Unit& u, const Prices& pr) {
  return absl::StrCat(pr.currency, "|", pr.price_minor, "|", pr.per_m2_minor, "|", pr.final_minor, "|",
                      DiscountsJson(pr.discounts), "|", u.special_offer(), "|", u.area_centi_m2());
}

}  // namespace

absl::StatusOr<v1::ImportInventoryResponse> InventoryStore::Import(const Actor& actor,
                                                                   const v1::ImportInventoryRequest& req,
                                                                   std::string_view key) {
  CRM_RETURN_IF_ERROR(RequireRealtyManage(actor.principal));
  Violations v;
  if (req.projects_size() > kMaxImportProjects)
    v.Add("projects", absl::StrCat("at most ", kMaxImportProjects));
  if (req.buildings_size() > kMaxImportBuildings)
    v.Add("buildings", absl::StrCat("at most ", kMaxImportBuildings));
  if (req.units_size() > kMaxImportUnits)
    v.Add("units", absl::StrCat("at most ", kMaxImportUnits, " a call"));
  CRM_RETURN_IF_ERROR(v.ToStatus());
  std::map<std::string, int> seen;
  for (int i = 0; i < req.projects_size(); ++i) {
    const std::string f = absl::StrCat("projects[", i, "]");
    ValidateProject(req.projects(i), f, true, nullptr, v);
    auto [it, fresh] = seen.emplace("p" + req.projects(i).external_id(), i);
    if (!fresh && !req.projects(i).external_id().empty()) {
      v.Add(f + ".external_id", absl::StrCat("repeats projects[", it->second, "]"));
    }
  }
  for (int i = 0; i < req.buildings_size(); ++i) {
    const std::string f = absl::StrCat("buildings[", i, "]");
    const v1::Building& b = req.buildings(i);
    ValidateBuilding(b, f, true, v);
    if (b.project_id().empty() && b.project_external_id().empty()) {
      v.Add(f + ".project_external_id", "required (or project_id)");
    } else if (!b.project_id().empty() && !IsUuid(b.project_id())) {
      v.Add(f + ".project_id", "not a UUID");
    }
    auto [it, fresh] = seen.emplace("b" + b.external_id(), i);
    if (!fresh && !b.external_id().empty()) {
      v.Add(f + ".external_id", absl::StrCat("repeats buildings[", it->second, "]"));
    }
  }
  for (int i = 0; i < req.units_size(); ++i) {
    const std::string f = absl::StrCat("units[", i, "]");
    ValidateUnit(req.units(i), f, UnitCheck::kImport, {}, v);
    auto [it, fresh] = seen.emplace("u" + req.units(i).external_id(), i);
    if (!fresh && !req.units(i).external_id().empty()) {
      v.Add(f + ".external_id", absl::StrCat("repeats units[", it->second, "]"));
    }
  }
  CRM_RETURN_IF_ERROR(v.ToStatus());

  const absl::Time now = clock_.Now();
  const int64_t now_micros = absl::ToUnixMicros(now);
  const std::string actor_id = ActingUserId(actor.principal);
  v1::ImportInventoryResponse out;
  const pg::IdempotencyScope scope{.caller = rpc::IdempotencyCaller(actor.principal),
                                   .method = "crm.deals.v1.RealtyService/ImportInventory",
                                   .key = std::string(key)};
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return pg::RunIdempotent(tx, scope, now, req, out, [&]() -> absl::Status {
      out.Clear();
      tx.exec(kImportLock);
      Actor imported = actor;
      Violations bad;

      // ---- projects: upserted one by one (at most 100) ----
      std::map<std::string, std::pair<std::string, std::string>> projects;  // external id → (id, name)
      for (int i = 0; i < req.projects_size(); ++i) {
        const v1::Project& in = req.projects(i);
        SqlParams p;
        pqxx::result r = Exec(
            tx,
            absl::StrCat(
                "INSERT INTO realty_projects AS x (id, external_id, name, city, address, version, "
                "create_time, "
                "update_time) VALUES (",
                p.Add(NewUuidV7()), "::uuid, ", p.Add(in.external_id()), ", ", p.Add(in.name()), ", ",
                p.Add(in.city()), ", ", p.Add(in.address()), ", 1, ", TsParam(p, now), ", ", TsParam(p, now),
                ") ON CONFLICT (external_id) DO UPDATE SET name = EXCLUDED.name, city = EXCLUDED.city, "
                "address = EXCLUDED.address, version = x.version + 1, update_time = EXCLUDED.update_time "
                "WHERE (x.name, x.city, x.address) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.city, "
                "EXCLUDED.address) "
                "RETURNING x.id::text, x.version"),
            p);
        if (r.empty()) {
          SqlParams q;
          pqxx::row row = Exec(tx,
                               absl::StrCat("SELECT id::text FROM realty_projects WHERE external_id = ",
                                            q.Add(in.external_id())),
                               q)[0];
          projects[in.external_id()] = {row[0].as<std::string>(), in.name()};
          continue;
        }
        v1::ProjectChanged ev;
        *ev.mutable_project() = in;
        ev.mutable_project()->set_id(r[0][0].as<std::string>());
        ev.mutable_project()->set_version(r[0][1].as<int64_t>());
        ev.set_imported(true);
        const bool created = r[0][1].as<int64_t>() == 1;
        if (created) {
          out.set_projects_created(out.projects_created() + 1);
        } else {
          out.set_projects_updated(out.projects_updated() + 1);
        }
        projects[in.external_id()] = {ev.project().id(), in.name()};
        CRM_RETURN_IF_ERROR(EmitProjectChanged(
            tx, outbox_, imported, created ? v1::kProjectCreatedType : v1::kProjectUpdatedType, ev));
      }

      // ---- buildings: upserted one by one (at most 1 000), sections added or changed ----
      std::map<std::string, BuildingInfo> buildings;  // key: "x:" external id or "i:" id
      for (int i = 0; i < req.buildings_size(); ++i) {
        const v1::Building& in = req.buildings(i);
        const std::string f = absl::StrCat("buildings[", i, "]");
        std::string project_id = in.project_id();
        if (project_id.empty()) {
          auto it = projects.find(in.project_external_id());
          if (it != projects.end()) {
            project_id = it->second.first;
          } else {
            SqlParams q;
            pqxx::result r = Exec(tx,
                                  absl::StrCat("SELECT id::text FROM realty_projects WHERE external_id = ",
                                               q.Add(in.project_external_id())),
                                  q);
            if (!r.empty()) project_id = r[0][0].as<std::string>();
          }
        } else {
          SqlParams q;
          if (Exec(tx, absl::StrCat("SELECT 1 FROM realty_projects WHERE id = ", q.Add(project_id), "::uuid"),
                   q)
                  .empty()) {
            project_id.clear();
          }
        }
        if (project_id.empty()) {
          bad.Add(f + (in.project_id().empty() ? ".project_external_id" : ".project_id"), "no such project");
          continue;
        }
        SqlParams p;
        pqxx::result r = Exec(
            tx,
            absl::StrCat(
                "INSERT INTO realty_buildings AS x (id, project_id, external_id, name, phase, house_type, "
                "address, "
                "version, create_time, update_time) VALUES (",
                p.Add(NewUuidV7()), "::uuid, ", p.Add(project_id), "::uuid, ", p.Add(in.external_id()), ", ",
                p.Add(in.name()), ", ", p.Add(in.phase()), ", ", p.Add(in.house_type()), ", ",
                p.Add(in.address()), ", 1, ", TsParam(p, now), ", ", TsParam(p, now),
                ") ON CONFLICT (external_id) DO UPDATE SET name = EXCLUDED.name, phase = EXCLUDED.phase, "
                "house_type = EXCLUDED.house_type, address = EXCLUDED.address, version = x.version + 1, "
                "update_time = EXCLUDED.update_time WHERE x.project_id = EXCLUDED.project_id AND "
                "(x.name, x.phase, x.house_type, x.address) IS DISTINCT FROM "
                "(EXCLUDED.name, EXCLUDED.phase, EXCLUDED.house_type, EXCLUDED.address) RETURNING "
                "x.id::text, x.version"),
            p);
        SqlParams q;
        pqxx::row stored =
            Exec(tx,
                 absl::StrCat("SELECT id::text, project_id::text FROM realty_buildings WHERE external_id = ",
                              q.Add(in.external_id())),
                 q)[0];
        if (stored[1].as<std::string>() != project_id) {
          bad.Add(f + ".project_external_id", "a building does not move to another project");
          continue;
        }
        const std::string id = stored[0].as<std::string>();
        bool sections_changed = false;
        for (const v1::Section& s : in.sections()) {
          SqlParams sp;
          pqxx::result changed = Exec(
              tx,
              absl::StrCat(
                  "INSERT INTO realty_sections AS s (building_id, number, name, first_floor, last_floor) "
                  "VALUES (",
                  sp.Add(id), "::uuid, ", sp.Add(absl::StrCat(s.number())), "::int, ", sp.Add(s.name()), ", ",
                  sp.Add(absl::StrCat(FirstFloor(s))), "::int, ", sp.Add(absl::StrCat(s.last_floor())),
                  "::int) ON CONFLICT (building_id, number) DO UPDATE SET name = EXCLUDED.name, "
                  "first_floor = EXCLUDED.first_floor, last_floor = EXCLUDED.last_floor WHERE "
                  "(s.name, s.first_floor, s.last_floor) IS DISTINCT FROM "
                  "(EXCLUDED.name, EXCLUDED.first_floor, EXCLUDED.last_floor) RETURNING s.number"),
              sp);
          sections_changed = sections_changed || !changed.empty();
        }
        if (sections_changed) {
          SqlParams cp;
          pqxx::result outside = Exec(
              tx,
              absl::StrCat(
                  "SELECT s.number, u.number FROM realty_units u JOIN realty_sections s ON s.building_id = "
                  "u.building_id AND s.number = u.section_number WHERE u.building_id = ",
                  cp.Add(id), "::uuid AND (u.floor < s.first_floor OR u.floor > s.last_floor) LIMIT 1"),
              cp);
          if (!outside.empty()) {
            bad.Add(f + ".sections", absl::StrCat("section ", outside[0][0].as<int>(), " would leave unit ",
                                                  outside[0][1].as<std::string>(), " outside its floors"));
          }
        }
        if (!r.empty() || sections_changed) {
          const bool created = !r.empty() && r[0][1].as<int64_t>() == 1;
          if (created) {
            out.set_buildings_created(out.buildings_created() + 1);
          } else {
            out.set_buildings_updated(out.buildings_updated() + 1);
          }
          v1::ProjectChanged ev;
          std::optional<v1::Building> now_stored = LoadBuilding(tx, id, false);
          ev.mutable_project()->set_id(project_id);
          ev.mutable_project()->set_name(now_stored->project_name());
          ev.mutable_project()->set_external_id(now_stored->project_external_id());
          *ev.mutable_building() = *now_stored;
          ev.set_imported(true);
          CRM_RETURN_IF_ERROR(EmitProjectChanged(
              tx, outbox_, imported, created ? v1::kBuildingCreatedType : v1::kBuildingUpdatedType, ev));
        }
      }
      CRM_RETURN_IF_ERROR(bad.ToStatus());
      if (req.units().empty()) return absl::OkStatus();

      // ---- units ----
      // The buildings they name, with their sections and their projects' names.
      std::map<std::string, std::string> project_names;  // project id → name
      std::vector<std::string> building_ids, building_external_ids;
      for (const v1::Unit& u : req.units()) {
        if (!u.building_id().empty()) {
          building_ids.push_back(u.building_id());
        } else {
          building_external_ids.push_back(u.building_external_id());
        }
      }
      {
        SqlParams p;
        pqxx::result r = Exec(
            tx,
            absl::StrCat(
                "SELECT bl.id::text, coalesce(bl.external_id, ''), bl.project_id::text, bl.name, p.name, "
                "coalesce(json_agg(json_build_array(s.number, s.first_floor, s.last_floor)) FILTER (WHERE "
                "s.number IS NOT NULL), '[]')::text FROM realty_buildings bl JOIN realty_projects p ON "
                "p.id = bl.project_id LEFT JOIN realty_sections s ON s.building_id = bl.id WHERE bl.id = "
                "ANY(",
                p.Add(pg::ArrayLiteral(building_ids)), "::uuid[]) OR bl.external_id = ANY(",
                p.Add(pg::ArrayLiteral(building_external_ids)), "::text[]) GROUP BY bl.id, p.name"),
            p);
        for (const pqxx::row& row : r) {
          BuildingInfo b;
          b.id = row[0].as<std::string>();
          b.external_id = row[1].as<std::string>();
          b.project_id = row[2].as<std::string>();
          b.name = row[3].as<std::string>();
          project_names[b.project_id] = row[4].as<std::string>();
          nlohmann::json sections = nlohmann::json::parse(row[5].as<std::string>(), nullptr, false);
          for (const auto& s : sections) b.sections[s[0].get<int>()] = {s[1].get<int>(), s[2].get<int>()};
          buildings["i:" + b.id] = b;
          if (!b.external_id.empty()) buildings["x:" + b.external_id] = b;
        }
      }
      // The stored units, locked.
      std::vector<std::string> external_ids;
      external_ids.reserve(static_cast<size_t>(req.units_size()));
      for (const v1::Unit& u : req.units()) external_ids.push_back(u.external_id());
      std::map<std::string, Stored> stored;
      {
        SqlParams p;
        p.Add(pg::ArrayLiteral(external_ids));
        pqxx::result r = Exec(tx, kStoredUnits, p);
        for (const pqxx::row& row : r) {
          Stored s;
          s.id = row[0].as<std::string>();
          v1::Unit& u = s.unit;
          u.set_id(s.id);
          u.set_external_id(row[1].as<std::string>());
          u.set_building_id(row[2].as<std::string>());
          u.set_section_number(row[3].as<int>());
          u.set_floor(row[4].as<int>());
          u.set_position(row[5].as<int>());
          u.set_number(row[6].as<std::string>());
          u.set_plan_number(row[7].as<std::string>());
          u.set_kind(static_cast<v1::Unit::Kind>(row[8].as<int>()));
          u.set_purpose(static_cast<v1::Unit::Purpose>(row[9].as<int>()));
          u.set_status(static_cast<v1::Unit::Status>(row[10].as<int>()));
          u.set_rooms(row[11].as<int>());
          u.set_area_centi_m2(row[12].as<int64_t>());
          const std::string currency = row[13].as<std::string>();
          *u.mutable_price() = MakeMoney(row[14].as<int64_t>(), currency);
          *u.mutable_price_per_m2() = MakeMoney(row[15].as<int64_t>(), currency);
          *u.mutable_final_price() = MakeMoney(row[16].as<int64_t>(), currency);
          for (v1::Discount& d :
               DiscountsFromJson(row[17].as<std::string>(), row[14].as<int64_t>(), currency)) {
            *u.add_discounts() = std::move(d);
          }
          u.set_special_offer(row[18].as<bool>());
          u.set_special_offer_name(row[19].as<std::string>());
          u.set_right_holder(row[20].as<std::string>());
          u.set_no_ownership(row[21].as<bool>());
          u.set_plan_image(row[22].as<std::string>());
          s.version = row[23].as<int64_t>();
          s.create_micros = row[24].as<int64_t>();
          stored.emplace(u.external_id(), std::move(s));
        }
      }
      // Decide each row: new, changed or the same; refuse what the state machine or the places forbid.
      std::vector<Row> rows;
      std::map<std::tuple<std::string, int, int, int>, int> places;
      for (int i = 0; i < req.units_size(); ++i) {
        const v1::Unit& in = req.units(i);
        const std::string f = absl::StrCat("units[", i, "]");
        auto b = buildings.find(in.building_id().empty() ? "x:" + in.building_external_id()
                                                         : "i:" + in.building_id());
        if (b == buildings.end()) {
          bad.Add(f + (in.building_id().empty() ? ".building_external_id" : ".building_id"),
                  "no such building");
          continue;
        }
        Row row{.index = i, .unit = in};
        v1::Unit& u = row.unit;
        u.set_building_id(b->second.id);
        u.set_building_external_id(b->second.external_id);
        u.set_building_name(b->second.name);
        u.set_project_id(b->second.project_id);
        u.set_project_name(project_names[b->second.project_id]);
        if (u.purpose() == v1::Unit::PURPOSE_UNSPECIFIED) u.set_purpose(DefaultPurpose(u.kind()));
        u.clear_booking();
        u.set_queue_length(0);
        auto section = b->second.sections.find(u.section_number());
        if (section == b->second.sections.end()) {
          bad.Add(f + ".section_number",
                  absl::StrCat("building ", b->second.name, " has no section ", u.section_number()));
        } else if (u.floor() < section->second.first || u.floor() > section->second.second) {
          bad.Add(f + ".floor", absl::StrCat("section ", u.section_number(), " has floors ",
                                             section->second.first, "..", section->second.second));
        }
        auto [place, fresh] =
            places.emplace(std::make_tuple(u.building_id(), u.section_number(), u.floor(), u.position()), i);
        if (!fresh) bad.Add(f + ".position", absl::StrCat("the same place as units[", place->second, "]"));
        row.prices = ComputePrices(u);
        auto old = stored.find(u.external_id());
        if (old == stored.end()) {
          row.is_new = true;
          u.set_id(NewUuidV7());
          const v1::Unit::Status to =
              u.status() == v1::Unit::STATUS_UNSPECIFIED ? v1::Unit::NOT_RELEASED : u.status();
          if (auto why = RefuseInitialStatus(to, row.prices.price_minor)) {
            bad.Add(f + ".status", *why);
          }
          u.set_status(to);
          u.set_version(1);
          *u.mutable_create_time() = ToProtoTimestamp(now);
          row.price_moved = true;
        } else {
          const Stored& s = old->second;
          u.set_id(s.id);
          row.old_status = s.unit.status();
          v1::Unit::Status to = u.status() == v1::Unit::STATUS_UNSPECIFIED ? s.unit.status() : u.status();
          // "On sale" from the external system about a unit booked here: the booking owns that status.
          if (s.unit.status() == v1::Unit::BOOKED && to == v1::Unit::AVAILABLE) to = v1::Unit::BOOKED;
          if (auto why = RefuseTransition(s.unit.status(), to, TransitionBy::kImport, row.prices.price_minor,
                                          false)) {
            bad.Add(f + ".status", *why);
          }
          if (to == v1::Unit::BOOKED && row.prices.price_minor <= 0) {
            bad.Add(f + ".price", "a booked unit keeps a price");
          }
          u.set_status(to);
          const Prices old_prices = ComputePrices(s.unit);
          if (Canonical(u, row.prices) == Canonical(s.unit, old_prices)) {
            out.set_units_unchanged(out.units_unchanged() + 1);
            continue;
          }
          row.price_moved = PriceKey(u, row.prices) != PriceKey(s.unit, old_prices);
          u.set_version(s.version + 1);
          *u.mutable_create_time() = TsFromMicros(s.create_micros);
          auto differs = [&](const char* name, bool d) {
            if (d) row.changed_fields.push_back(name);
          };
          differs("building_id", u.building_id() != s.unit.building_id());
          differs("section_number", u.section_number() != s.unit.section_number());
          differs("floor", u.floor() != s.unit.floor());
          differs("position", u.position() != s.unit.position());
          differs("number", u.number() != s.unit.number());
          differs("plan_number", u.plan_number() != s.unit.plan_number());
          differs("kind", u.kind() != s.unit.kind());
          differs("purpose", u.purpose() != s.unit.purpose());
          differs("status", u.status() != s.unit.status());
          differs("rooms", u.rooms() != s.unit.rooms());
          differs("area_centi_m2", u.area_centi_m2() != s.unit.area_centi_m2());
          differs("price", row.prices.price_minor != old_prices.price_minor ||
                               row.prices.currency != old_prices.currency);
          differs("price_per_m2", row.prices.per_m2_minor != old_prices.per_m2_minor);
          differs("discounts", DiscountsJson(row.prices.discounts) != DiscountsJson(old_prices.discounts));
          differs("special_offer", u.special_offer() != s.unit.special_offer());
          differs("special_offer_name", u.special_offer_name() != s.unit.special_offer_name());
          differs("right_holder", u.right_holder() != s.unit.right_holder());
          differs("no_ownership", u.no_ownership() != s.unit.no_ownership());
          differs("plan_image", u.plan_image() != s.unit.plan_image());
        }
        *u.mutable_price() = MakeMoney(row.prices.price_minor, row.prices.currency);
        *u.mutable_price_per_m2() = MakeMoney(row.prices.per_m2_minor, row.prices.currency);
        *u.mutable_final_price() = MakeMoney(row.prices.final_minor, row.prices.currency);
        u.clear_discounts();
        for (const v1::Discount& d : row.prices.discounts) *u.add_discounts() = d;
        *u.mutable_update_time() = ToProtoTimestamp(now);
        rows.push_back(std::move(row));
      }
      CRM_RETURN_IF_ERROR(bad.ToStatus());
      if (rows.empty()) return absl::OkStatus();
      // The changed units in one upsert (first: a unit moving frees its place for a new one), with a price
      // row for each whose price moved; then the new ones and their first price rows by COPY.
      std::map<std::string, int64_t> price_ids;
      {
        std::vector<const Row*> fresh, changed;
        std::vector<std::string> moved;
        for (const Row& r : rows) {
          (r.is_new ? fresh : changed).push_back(&r);
          if (r.price_moved && !r.is_new) moved.push_back(r.unit.id());
        }
        out.set_prices_recorded(static_cast<int32_t>(fresh.size() + moved.size()));
        auto write = [&](const std::string& sql, const std::vector<const Row*>& part, bool upsert) {
          if (part.empty()) return;
          SqlParams p = UnitArrays(part);
          p.Add(absl::StrCat(now_micros));
          p.Add(actor_id);
          if (upsert) p.Add(pg::ArrayLiteral(moved));
          for (const pqxx::row& r : Exec(tx, sql, p)) price_ids[r[1].as<std::string>()] = r[0].as<int64_t>();
        };
        // Under a savepoint: a place another unit holds (the unique index) is then named row by row.
        bool taken = false;
        tx.exec0("SAVEPOINT realty_import");
        try {
          write(UpsertUnitsSql(), changed, true);
          CopyNewUnits(tx, fresh, absl::FromUnixMicros(now_micros), actor_id, price_ids);
        } catch (const pqxx::unique_violation&) {
          taken = true;
        }
        if (taken) {
          tx.exec0("ROLLBACK TO SAVEPOINT realty_import");
          NamePlacesTaken(tx, rows, bad);
          if (bad.empty())
            return absl::AbortedError("another writer made one of these units at the same time: retry");
          return bad.ToStatus();
        }
      }
      // Every event, in one statement.
      events::OutboxBatch batch(outbox_);
      auto add_event = [&](const events::NewEvent& e) { return batch.Add(e).status(); };
      for (Row& r : rows) {
        v1::UnitChanged ev;
        *ev.mutable_unit() = r.unit;
        for (std::string& f : r.changed_fields) ev.add_changed_fields(std::move(f));
        auto pid = price_ids.find(r.unit.id());
        if (pid != price_ids.end()) ev.set_price_id(pid->second);
        ev.set_imported(true);
        CRM_RETURN_IF_ERROR(
            add_event(RealtyEvent(imported, v1::kUnitAggregate, r.unit.id(),
                                  r.is_new ? v1::kUnitCreatedType : v1::kUnitUpdatedType, ev)));
        if (r.is_new) {
          out.set_units_created(out.units_created() + 1);
        } else {
          out.set_units_updated(out.units_updated() + 1);
        }
        if (!r.is_new && r.old_status != r.unit.status()) {
          v1::UnitStatusChanged sc;
          sc.set_unit_id(r.unit.id());
          sc.set_project_id(r.unit.project_id());
          sc.set_building_id(r.unit.building_id());
          sc.set_old_status(r.old_status);
          sc.set_new_status(r.unit.status());
          sc.set_reason("импорт");
          sc.set_version(r.unit.version());
          CRM_RETURN_IF_ERROR(add_event(
              RealtyEvent(imported, v1::kUnitAggregate, r.unit.id(), v1::kUnitStatusChangedType, sc)));
          out.set_status_changes(out.status_changes() + 1);
        }
      }
      CRM_RETURN_IF_ERROR(batch.Flush(tx));
      return absl::OkStatus();
    });
  }));
  return out;
}

}  // namespace crm::deals::realty
