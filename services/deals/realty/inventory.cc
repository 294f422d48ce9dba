// File: services/deals/realty/inventory.cc
#include "services/deals/realty/inventory.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/rpc/call.h"
#include "services/deals/realty/access.h"
#include "services/deals/realty/bookings.h"
#include "services/deals/realty/internal.h"
#include "services/deals/realty/rules.h"

namespace crm::deals::realty {

using crm::common::v1::Principal;

namespace {


// ---- projects -------------------------------------------------------------------------------------

std::string ProjectColumns() {
  return absl::StrCat("p.id::text, coalesce(p.external_id, ''), p.name, p.city, p.address, p.version, ",
                      MicrosOf("p.create_time"), ", ", MicrosOf("p.update_time"));
}

v1::Project ReadProject(const pqxx::row& r) {
  v1::Project p;
  p.set_id(r[0].as<std::string>());
  p.set_external_id(r[1].as<std::string>());
  p.set_name(r[2].as<std::string>());
  p.set_city(r[3].as<std::string>());
  p.set_address(r[4].as<std::string>());
  p.set_version(r[5].as<int64_t>());
  *p.mutable_create_time() = TsFromMicros(r[6].as<int64_t>());
  *p.mutable_update_time() = TsFromMicros(r[7].as<int64_t>());
  return p;
}

std::optional<v1::Project> LoadProject(pqxx::transaction_base& tx, const std::string& id, bool for_update) {
  SqlParams p;
  pqxx::result r =
      Exec(tx,
           absl::StrCat("SELECT ", ProjectColumns(), " FROM realty_projects p WHERE p.id = ", p.Add(id),
                        "::uuid", for_update ? " FOR UPDATE" : ""),
           p);
  if (r.empty()) return std::nullopt;
  return ReadProject(r[0]);
}

// ---- buildings ------------------------------------------------------------------------------------

std::string BuildingColumns() {
  return absl::StrCat(
      "bl.id::text, bl.project_id::text, coalesce(p.external_id, ''), p.name, coalesce(bl.external_id, ''), "
      "bl.name, bl.phase, bl.house_type, bl.address, bl.version, ",
      MicrosOf("bl.create_time"), ", ", MicrosOf("bl.update_time"),
      ", (SELECT coalesce(json_agg(json_build_array(s.number, s.name, s.first_floor, s.last_floor) "
      "ORDER BY s.number), '[]') FROM realty_sections s WHERE s.building_id = bl.id)");
}

constexpr char kBuildingFrom[] = " FROM realty_buildings bl JOIN realty_projects p ON p.id = bl.project_id";

v1::Building ReadBuilding(const pqxx::row& r) {
  v1::Building b;
  b.set_id(r[0].as<std::string>());
  b.set_project_id(r[1].as<std::string>());
  b.set_project_external_id(r[2].as<std::string>());
  b.set_project_name(r[3].as<std::string>());
  b.set_external_id(r[4].as<std::string>());
  b.set_name(r[5].as<std::string>());
  b.set_phase(r[6].as<std::string>());
  b.set_house_type(r[7].as<std::string>());
  b.set_address(r[8].as<std::string>());
  b.set_version(r[9].as<int64_t>());
  *b.mutable_create_time() = TsFromMicros(r[10].as<int64_t>());
  *b.mutable_update_time() = TsFromMicros(r[11].as<int64_t>());
  nlohmann::json sections = nlohmann::json::parse(r[12].as<std::string>(), nullptr, false);
  if (sections.is_array()) {
    for (const auto& s : sections) {
      v1::Section* out = b.add_sections();
      out->set_number(s[0].get<int>());
      out->set_name(s[1].get<std::string>());
      out->set_first_floor(s[2].get<int>());
      out->set_last_floor(s[3].get<int>());
    }
  }
  return b;
}

// ---- units ----------------------------------------------------------------------------------------

// Adds a violation when the unit's place is not in `building` (a section of it, a floor within the
// section's floors) or is taken by another unit.
void CheckPlace(pqxx::transaction_base& tx, const v1::Building& building, const v1::Unit& u,
                const std::string& prefix, Violations& out) {
  const v1::Section* section = nullptr;
  for (const v1::Section& s : building.sections()) {
    if (s.number() == u.section_number()) section = &s;
  }
  if (section == nullptr) {
    out.Add(prefix + ".section_number",
            absl::StrCat("building ", building.name(), " has no section ", u.section_number()));
    return;
  }
  if (u.floor() < FirstFloor(*section) || u.floor() > section->last_floor()) {
    out.Add(prefix + ".floor", absl::StrCat("section ", section->number(), " has floors ",
                                            FirstFloor(*section), "..", section->last_floor()));
    return;
  }
  SqlParams p;
  pqxx::result r =
      Exec(tx,
           absl::StrCat("SELECT number FROM realty_units WHERE building_id = ", p.Add(building.id()),
                        "::uuid AND section_number = ", p.Add(absl::StrCat(u.section_number())),
                        "::int AND floor = ", p.Add(absl::StrCat(u.floor())),
                        "::int AND position = ", p.Add(absl::StrCat(u.position())), "::int AND id <> ",
                        p.Add(u.id().empty() ? std::string("00000000-0000-0000-0000-000000000000") : u.id()),
                        "::uuid"),
           p);
  if (!r.empty()) {
    out.Add(prefix + ".position", absl::StrCat("the place is taken by unit ", r[0][0].as<std::string>()));
  }
}

// The unit `write` (an INSERT or UPDATE of realty_units … RETURNING *) leaves, as LoadUnit reads it for
// `caller` — from the returned row, not read again.
v1::Unit WrittenUnit(pqxx::transaction_base& tx, const std::string& write, const SqlParams& p,
                     const Principal& caller) {
  return ReadUnit(Exec(tx, absl::StrCat("WITH u AS (", write, ") SELECT ", UnitColumns(), " FROM u", kUnitJoins), p)[0],
                  0, caller);
}

// Writes every column of `u` with its prices `pr` (insert or update by id); returns the unit as stored.
v1::Unit SaveUnit(pqxx::transaction_base& tx, const v1::Unit& u, const Prices& pr, bool insert, absl::Time now,
                  const Principal& caller) {
  SqlParams p;
  const std::string id = p.Add(u.id());
  const std::string values = absl::StrCat(
      id, "::uuid, NULLIF(", p.Add(u.external_id()), ", ''), ", p.Add(u.project_id()), "::uuid, ",
      p.Add(u.building_id()), "::uuid, ", p.Add(absl::StrCat(u.section_number())), "::int, ",
      p.Add(absl::StrCat(u.floor())), "::int, ", p.Add(absl::StrCat(u.position())), "::int, ",
      p.Add(u.number()), ", ", p.Add(u.plan_number()), ", ", p.Add(absl::StrCat(static_cast<int>(u.kind()))),
      "::smallint, ", p.Add(absl::StrCat(static_cast<int>(u.purpose()))), "::smallint, ",
      p.Add(absl::StrCat(static_cast<int>(u.status()))), "::smallint, ", p.Add(absl::StrCat(u.rooms())),
      "::smallint, ", p.Add(absl::StrCat(u.area_centi_m2())), "::bigint, ", p.Add(pr.currency), ", ",
      p.Add(absl::StrCat(pr.price_minor)), "::bigint, ", p.Add(absl::StrCat(pr.per_m2_minor)), "::bigint, ",
      p.Add(absl::StrCat(pr.final_minor)), "::bigint, ", p.Add(DiscountsJson(pr.discounts)), "::jsonb, ",
      p.Add(u.special_offer() ? "true" : "false"), "::boolean, ", p.Add(u.special_offer_name()), ", ",
      p.Add(u.right_holder()), ", ", p.Add(u.no_ownership() ? "true" : "false"), "::boolean, ",
      p.Add(u.plan_image()), ", ", p.Add(absl::StrCat(u.version())), "::bigint, ", TsParam(p, now));
  constexpr char kColumns[] =
      "id, external_id, project_id, building_id, section_number, floor, position, number, plan_number, kind, "
      "purpose, status, rooms, area_centi, currency, price_minor, price_per_m2_minor, final_price_minor, "
      "discounts, "
      "special_offer, special_offer_name, right_holder, no_ownership, plan_image, version, update_time";
  if (insert) {
    const std::string sql = absl::StrCat("INSERT INTO realty_units (", kColumns, ", create_time) VALUES (", values,
                                         ", ", TsParam(p, now), ") RETURNING *");
    return WrittenUnit(tx, sql, p, caller);
  }
  return WrittenUnit(
      tx, absl::StrCat("UPDATE realty_units SET (", kColumns, ") = (", values, ") WHERE id = ", id, "::uuid RETURNING *"),
      p, caller);
}

// Whether the prices of two units differ (what a price history row records).
bool PriceMoved(const v1::Unit& a, const v1::Unit& b) {
  auto key = [](const v1::Unit& u) {
    std::string d;
    for (const v1::Discount& x : u.discounts())
      absl::StrAppend(&d, x.code(), "|", x.name(), "|", x.percent_bp(), "|", x.amount().amount_minor(), ";");
    return absl::StrCat(u.price().amount_minor(), "/", u.price().currency(), "/",
                        u.price_per_m2().amount_minor(), "/", u.final_price().amount_minor(), "/",
                        u.area_centi_m2(), "/", u.special_offer(), "/", d);
  };
  return key(a) != key(b);
}

// `u`'s prices as stored (ComputePrices), copied into the unit itself.
Prices ApplyPrices(v1::Unit& u) {
  Prices pr = ComputePrices(u);
  *u.mutable_price() = MakeMoney(pr.price_minor, pr.currency);
  *u.mutable_price_per_m2() = MakeMoney(pr.per_m2_minor, pr.currency);
  *u.mutable_final_price() = MakeMoney(pr.final_minor, pr.currency);
  u.clear_discounts();
  for (const v1::Discount& d : pr.discounts) *u.add_discounts() = d;
  return pr;
}

absl::Status CheckVersion(int64_t given, int64_t stored) {
  if (given != 0 && given != stored) return absl::AbortedError("version mismatch");
  return absl::OkStatus();
}

// The fields a mask names: its paths' first segments, each once ("price.amount_minor" is "price": the
// gateway fills a PATCH's mask with the body's nested keys).
std::vector<std::string> MaskPaths(const google::protobuf::FieldMask& mask) {
  std::vector<std::string> out;
  for (const std::string& path : mask.paths()) {
    std::string top = path.substr(0, path.find('.'));
    if (std::find(out.begin(), out.end(), top) == out.end()) out.push_back(std::move(top));
  }
  return out;
}

}  // namespace

std::optional<v1::Building> LoadBuilding(pqxx::transaction_base& tx, const std::string& id, bool for_update) {
  SqlParams p;
  pqxx::result r =
      Exec(tx,
           absl::StrCat("SELECT ", BuildingColumns(), kBuildingFrom, " WHERE bl.id = ", p.Add(id), "::uuid",
                        for_update ? " FOR UPDATE OF bl" : ""),
           p);
  if (r.empty()) return std::nullopt;
  return ReadBuilding(r[0]);
}

absl::StatusOr<v1::Unit> LoadUnit(pqxx::transaction_base& tx, const Principal& caller, std::string_view id,
                                  bool for_update) {
  SqlParams p;
  pqxx::result r =
      Exec(tx,
           absl::StrCat("SELECT ", UnitColumns(), kUnitFrom, " WHERE u.id = ", p.Add(std::string(id)),
                        "::uuid", for_update ? " FOR UPDATE OF u" : ""),
           p);
  if (r.empty()) return absl::NotFoundError("unit not found");
  return ReadUnit(r[0], 0, caller);
}

InventoryStore::InventoryStore(pg::Pool& pool, const Clock& clock)
    : pool_(pool), clock_(clock), outbox_("deals", clock) {}

// ---- projects -------------------------------------------------------------------------------------

absl::StatusOr<v1::Project> InventoryStore::CreateProject(const Actor& actor,
                                                          const v1::CreateProjectRequest& req,
                                                          std::string_view key) {
  CRM_RETURN_IF_ERROR(RequireRealtyManage(actor.principal));
  Violations v;
  ValidateProject(req.project(), "project", false, nullptr, v);
  CRM_RETURN_IF_ERROR(v.ToStatus());
  const absl::Time now = clock_.Now();
  v1::Project out;
  const pg::IdempotencyScope scope{.caller = rpc::IdempotencyCaller(actor.principal),
                                   .method = "crm.deals.v1.RealtyService/CreateProject",
                                   .key = std::string(key)};
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return pg::RunIdempotent(tx, scope, now, req, out, [&]() -> absl::Status {
      out = req.project();
      out.set_id(NewUuidV7());
      out.set_version(1);
      *out.mutable_create_time() = ToProtoTimestamp(now);
      *out.mutable_update_time() = out.create_time();
      SqlParams p;
      pqxx::result r =
          Exec(tx,
               absl::StrCat(
                   "INSERT INTO realty_projects (id, external_id, name, city, address, version, create_time, "
                   "update_time) VALUES (",
                   p.Add(out.id()), "::uuid, NULLIF(", p.Add(out.external_id()), ", ''), ", p.Add(out.name()),
                   ", ", p.Add(out.city()), ", ", p.Add(out.address()), ", 1, ", TsParam(p, now), ", ",
                   TsParam(p, now), ") ON CONFLICT (external_id) DO NOTHING RETURNING id"),
               p);
      if (r.empty()) return InvalidFieldError("project.external_id", "another project has this external id");
      v1::ProjectChanged ev;
      *ev.mutable_project() = out;
      return EmitProjectChanged(tx, outbox_, actor, v1::kProjectCreatedType, ev);
    });
  }));
  return out;
}

absl::StatusOr<v1::Project> InventoryStore::GetProject(const Principal& caller, std::string_view id) {
  CRM_RETURN_IF_ERROR(RequireRealtyRead(caller));
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  v1::Project out;
  CRM_RETURN_IF_ERROR(pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    std::optional<v1::Project> p = LoadProject(tx, std::string(id), false);
    if (!p) return absl::NotFoundError("project not found");
    out = *std::move(p);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::ListProjectsResponse> InventoryStore::ListProjects(const Principal& caller,
                                                                      const v1::ListProjectsRequest& req) {
  CRM_RETURN_IF_ERROR(RequireRealtyRead(caller));
  Violations v;
  const int size = PageSizeOf(req.page_size(), v);
  SqlParams p;
  std::string where = "TRUE";
  if (!req.page_token().empty()) {
    where = v.Value(AfterNamePageToken(req.page_token(), "p", p), "page_token").value_or("FALSE");
  }
  CRM_RETURN_IF_ERROR(v.ToStatus());
  // The token keeps PostgreSQL's lower(name) (the key the index orders by), not a C++ lowercase: names are
  // Cyrillic («ЖК …»), which AsciiStrToLower leaves as they are.
  const std::string sql = absl::StrCat("SELECT ", ProjectColumns(), ", lower(p.name) FROM realty_projects p WHERE ",
                                       where, " ORDER BY lower(p.name), p.id LIMIT ", size + 1);
  v1::ListProjectsResponse out;
  CRM_RETURN_IF_ERROR(pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.Clear();
    pqxx::result r = Exec(tx, sql, p);
    for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i)
      *out.add_projects() = ReadProject(r[i]);
    if (static_cast<int>(r.size()) > size) {
      const pqxx::row last = r[size - 1];
      out.set_next_page_token(NamePageToken(last[last.size() - 1].as<std::string>(), out.projects(size - 1).id()));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Project> InventoryStore::UpdateProject(const Actor& actor,
                                                          const v1::UpdateProjectRequest& req) {
  CRM_RETURN_IF_ERROR(RequireRealtyManage(actor.principal));
  Violations v;
  if (!IsUuid(req.project().id())) v.Add("project.id", "not a UUID");
  static const std::set<std::string> kPaths = {"name", "city", "address", "external_id"};
  const std::vector<std::string> paths = MaskPaths(req.update_mask());
  if (paths.empty()) v.Add("update_mask", "required: name, city, address, external_id");
  for (const std::string& path : paths) {
    if (!kPaths.contains(path)) v.Add("update_mask", absl::StrCat("cannot update ", path));
  }
  ValidateProject(req.project(), "project", false, &paths, v);
  CRM_RETURN_IF_ERROR(v.ToStatus());
  const absl::Time now = clock_.Now();
  v1::Project out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<v1::Project> old = LoadProject(tx, req.project().id(), true);
    if (!old) return absl::NotFoundError("project not found");
    CRM_RETURN_IF_ERROR(CheckVersion(req.project().version(), old->version()));
    out = *old;
    v1::ProjectChanged ev;
    for (const std::string& path : paths) {
      const google::protobuf::FieldDescriptor* f = v1::Project::descriptor()->FindFieldByName(path);
      const auto* refl = v1::Project::GetReflection();
      const std::string value = refl->GetString(req.project(), f);
      if (value != refl->GetString(out, f)) {
        refl->SetString(&out, f, value);
        ev.add_changed_fields(path);
      }
    }
    if (ev.changed_fields().empty()) return absl::OkStatus();
    out.set_version(old->version() + 1);
    *out.mutable_update_time() = ToProtoTimestamp(now);
    SqlParams p;
    const std::string external_id = p.Add(out.external_id());
    pqxx::result r = Exec(
        tx,
        absl::StrCat("UPDATE realty_projects SET external_id = NULLIF(", external_id,
                     ", ''), name = ", p.Add(out.name()), ", city = ", p.Add(out.city()),
                     ", address = ", p.Add(out.address()), ", version = ", p.Add(absl::StrCat(out.version())),
                     "::bigint, update_time = ", TsParam(p, now), " WHERE id = ", p.Add(out.id()),
                     "::uuid AND NOT EXISTS (SELECT 1 FROM realty_projects o WHERE o.external_id = NULLIF(",
                     external_id,
                     ", '') "
                     "AND o.id <> ",
                     p.Add(out.id()), "::uuid) RETURNING id"),
        p);
    if (r.empty()) return InvalidFieldError("project.external_id", "another project has this external id");
    *ev.mutable_project() = out;
    return EmitProjectChanged(tx, outbox_, actor, v1::kProjectUpdatedType, ev);
  }));
  return out;
}

// ---- buildings ------------------------------------------------------------------------------------

absl::StatusOr<v1::Building> InventoryStore::CreateBuilding(const Actor& actor,
                                                            const v1::CreateBuildingRequest& req,
                                                            std::string_view key) {
  CRM_RETURN_IF_ERROR(RequireRealtyManage(actor.principal));
  Violations v;
  if (!IsUuid(req.building().project_id())) v.Add("building.project_id", "not a UUID");
  ValidateBuilding(req.building(), "building", false, v);
  CRM_RETURN_IF_ERROR(v.ToStatus());
  const absl::Time now = clock_.Now();
  v1::Building out;
  const pg::IdempotencyScope scope{.caller = rpc::IdempotencyCaller(actor.principal),
                                   .method = "crm.deals.v1.RealtyService/CreateBuilding",
                                   .key = std::string(key)};
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return pg::RunIdempotent(tx, scope, now, req, out, [&]() -> absl::Status {
      std::optional<v1::Project> project = LoadProject(tx, req.building().project_id(), true);
      if (!project) return InvalidFieldError("building.project_id", "no such project");
      const std::string id = NewUuidV7();
      SqlParams p;
      const v1::Building& b = req.building();
      pqxx::result r = Exec(
          tx,
          absl::StrCat(
              "INSERT INTO realty_buildings (id, project_id, external_id, name, phase, house_type, address, "
              "version, create_time, update_time) VALUES (",
              p.Add(id), "::uuid, ", p.Add(project->id()), "::uuid, NULLIF(", p.Add(b.external_id()),
              ", ''), ", p.Add(b.name()), ", ", p.Add(b.phase()), ", ", p.Add(b.house_type()), ", ",
              p.Add(b.address()), ", 1, ", TsParam(p, now), ", ", TsParam(p, now),
              ") ON CONFLICT (external_id) DO NOTHING RETURNING id"),
          p);
      if (r.empty())
        return InvalidFieldError("building.external_id", "another building has this external id");
      for (const v1::Section& s : b.sections()) {
        SqlParams q;
        Exec(
            tx,
            absl::StrCat(
                "INSERT INTO realty_sections (building_id, number, name, first_floor, last_floor) VALUES (",
                q.Add(id), "::uuid, ", q.Add(absl::StrCat(s.number())), "::int, ", q.Add(s.name()), ", ",
                q.Add(absl::StrCat(FirstFloor(s))), "::int, ", q.Add(absl::StrCat(s.last_floor())), "::int)"),
            q);
      }
      out = *LoadBuilding(tx, id, false);
      v1::ProjectChanged ev;
      *ev.mutable_project() = *project;
      *ev.mutable_building() = out;
      return EmitProjectChanged(tx, outbox_, actor, v1::kBuildingCreatedType, ev);
    });
  }));
  return out;
}

absl::StatusOr<v1::Building> InventoryStore::GetBuilding(const Principal& caller, std::string_view id) {
  CRM_RETURN_IF_ERROR(RequireRealtyRead(caller));
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  v1::Building out;
  CRM_RETURN_IF_ERROR(pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    std::optional<v1::Building> b = LoadBuilding(tx, std::string(id), false);
    if (!b) return absl::NotFoundError("building not found");
    out = *std::move(b);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::ListBuildingsResponse> InventoryStore::ListBuildings(const Principal& caller,
                                                                        const v1::ListBuildingsRequest& req) {
  CRM_RETURN_IF_ERROR(RequireRealtyRead(caller));
  Violations v;
  if (!IsUuid(req.project_id())) v.Add("project_id", "not a UUID");
  const int size = PageSizeOf(req.page_size(), v);
  SqlParams p;
  std::string where = absl::StrCat("bl.project_id = ", p.Add(req.project_id()), "::uuid");
  if (!req.page_token().empty()) {
    std::optional<std::string> after = v.Value(AfterNamePageToken(req.page_token(), "bl", p), "page_token");
    absl::StrAppend(&where, " AND ", after.value_or("FALSE"));
  }
  CRM_RETURN_IF_ERROR(v.ToStatus());
  const std::string sql = absl::StrCat("SELECT ", BuildingColumns(), ", lower(bl.name)", kBuildingFrom, " WHERE ",
                                       where, " ORDER BY lower(bl.name), bl.id LIMIT ", size + 1);
  v1::ListBuildingsResponse out;
  CRM_RETURN_IF_ERROR(pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.Clear();
    pqxx::result r = Exec(tx, sql, p);
    for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i)
      *out.add_buildings() = ReadBuilding(r[i]);
    if (static_cast<int>(r.size()) > size) {
      const pqxx::row last = r[size - 1];
      out.set_next_page_token(NamePageToken(last[last.size() - 1].as<std::string>(), out.buildings(size - 1).id()));
    }
    return absl::OkStatus();
  }));
  return out;
}

// ---- units ----------------------------------------------------------------------------------------

absl::StatusOr<v1::Unit> InventoryStore::CreateUnit(const Actor& actor, const v1::CreateUnitRequest& req,
                                                    std::string_view key) {
  CRM_RETURN_IF_ERROR(RequireRealtyManage(actor.principal));
  Violations v;
  if (!IsUuid(req.unit().building_id())) v.Add("unit.building_id", "not a UUID");
  ValidateUnit(req.unit(), "unit", UnitCheck::kCreate, {}, v);
  CRM_RETURN_IF_ERROR(v.ToStatus());
  const v1::Unit::Status status =
      req.unit().status() == v1::Unit::STATUS_UNSPECIFIED ? v1::Unit::NOT_RELEASED : req.unit().status();
  const absl::Time now = clock_.Now();
  v1::Unit out;
  const pg::IdempotencyScope scope{.caller = rpc::IdempotencyCaller(actor.principal),
                                   .method = "crm.deals.v1.RealtyService/CreateUnit",
                                   .key = std::string(key)};
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return pg::RunIdempotent(tx, scope, now, req, out, [&]() -> absl::Status {
      std::optional<v1::Building> building = LoadBuilding(tx, req.unit().building_id(), true);
      if (!building) return InvalidFieldError("unit.building_id", "no such building");
      v1::Unit u = req.unit();
      u.set_id(NewUuidV7());
      u.set_project_id(building->project_id());
      if (u.purpose() == v1::Unit::PURPOSE_UNSPECIFIED) u.set_purpose(DefaultPurpose(u.kind()));
      u.set_version(1);
      Violations place;
      CheckPlace(tx, *building, u, "unit", place);
      const Prices pr = ApplyPrices(u);
      if (auto why = RefuseInitialStatus(status, pr.price_minor)) {
        place.Add("unit.status", *why);
      }
      CRM_RETURN_IF_ERROR(place.ToStatus());
      u.set_status(status);
      out = SaveUnit(tx, u, pr, /*insert=*/true, now, actor.principal);
      const int64_t price_id =
          AppendPriceRow(tx, u.id(), now, ActingUserId(actor.principal), v1::UnitPrice::API);
      v1::UnitChanged ev;
      *ev.mutable_unit() = out;
      ev.set_price_id(price_id);
      return EmitUnitChanged(tx, outbox_, actor, v1::kUnitCreatedType, ev);
    });
  }));
  return out;
}

absl::StatusOr<v1::Unit> InventoryStore::GetUnit(const Principal& caller, std::string_view id) {
  CRM_RETURN_IF_ERROR(RequireRealtyRead(caller));
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  v1::Unit out;
  CRM_RETURN_IF_ERROR(pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(out, LoadUnit(tx, caller, id, false));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Unit> InventoryStore::UpdateUnit(const Actor& actor, const v1::UpdateUnitRequest& req) {
  CRM_RETURN_IF_ERROR(RequireRealtyManage(actor.principal));
  static const std::set<std::string> kPaths = {"external_id",    "number",        "plan_number",
                                               "kind",           "purpose",       "rooms",
                                               "area_centi_m2",  "price",         "price_per_m2",
                                               "discounts",      "special_offer", "special_offer_name",
                                               "right_holder",   "no_ownership",  "plan_image",
                                               "section_number", "floor",         "position"};
  Violations v;
  if (!IsUuid(req.unit().id())) v.Add("unit.id", "not a UUID");
  const std::vector<std::string> paths = MaskPaths(req.update_mask());
  if (paths.empty()) v.Add("update_mask", "required");
  for (const std::string& path : paths) {
    if (path == "status") {
      v.Add("update_mask", "status moves through ChangeUnitStatus (the state machine), not an update");
    } else if (!kPaths.contains(path)) {
      v.Add("update_mask", absl::StrCat("cannot update ", path));
    }
  }
  ValidateUnit(req.unit(), "unit", UnitCheck::kUpdate, paths, v);
  CRM_RETURN_IF_ERROR(v.ToStatus());
  const std::set<std::string> mask(paths.begin(), paths.end());
  const absl::Time now = clock_.Now();
  v1::Unit out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(v1::Unit old, LoadUnit(tx, actor.principal, req.unit().id(), true));
    CRM_RETURN_IF_ERROR(CheckVersion(req.unit().version(), old.version()));
    const v1::Unit& in = req.unit();
    v1::Unit u = old;
    u.clear_booking();
    u.set_queue_length(0);
    const auto* refl = v1::Unit::GetReflection();
    for (const std::string& path : mask) {
      if (path == "price" || path == "price_per_m2" || path == "discounts") continue;
      const google::protobuf::FieldDescriptor* f = v1::Unit::descriptor()->FindFieldByName(path);
      switch (f->cpp_type()) {
        case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
          refl->SetString(&u, f, refl->GetString(in, f));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_INT32:
          refl->SetInt32(&u, f, refl->GetInt32(in, f));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_INT64:
          refl->SetInt64(&u, f, refl->GetInt64(in, f));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_BOOL:
          refl->SetBool(&u, f, refl->GetBool(in, f));
          break;
        case google::protobuf::FieldDescriptor::CPPTYPE_ENUM:
          refl->SetEnumValue(&u, f, refl->GetEnumValue(in, f));
          break;
        default:
          break;
      }
    }
    // The price: the one asked for, or — the area or the discounts changing — the total kept.
    if (mask.contains("price_per_m2")) {
      u.clear_price();
      *u.mutable_price_per_m2() = in.price_per_m2();
      if (u.price_per_m2().currency().empty()) u.mutable_price_per_m2()->set_currency(old.price().currency());
    } else if (mask.contains("price")) {
      u.clear_price_per_m2();
      *u.mutable_price() = in.price();
      if (u.price().currency().empty()) u.mutable_price()->set_currency(old.price().currency());
    }
    if (mask.contains("discounts")) *u.mutable_discounts() = in.discounts();
    const Prices pr = ApplyPrices(u);
    Violations place;
    if (u.status() == v1::Unit::AVAILABLE && pr.price_minor <= 0) {
      place.Add("unit.price", "a unit on sale (AVAILABLE) keeps a price");
    }
    if (mask.contains("section_number") || mask.contains("floor") || mask.contains("position")) {
      std::optional<v1::Building> building = LoadBuilding(tx, u.building_id(), false);
      CheckPlace(tx, *building, u, "unit", place);
    }
    if (mask.contains("external_id") && !u.external_id().empty()) {
      SqlParams p;
      if (!Exec(tx,
                absl::StrCat("SELECT 1 FROM realty_units WHERE external_id = ", p.Add(u.external_id()),
                             " AND id <> ", p.Add(u.id()), "::uuid"),
                p)
               .empty()) {
        place.Add("unit.external_id", "another unit has this external id");
      }
    }
    CRM_RETURN_IF_ERROR(place.ToStatus());
    v1::UnitChanged ev;
    for (const std::string& path : mask) {
      v1::Unit a = old, b = u;
      a.clear_booking();
      a.set_queue_length(0);
      const google::protobuf::FieldDescriptor* f = v1::Unit::descriptor()->FindFieldByName(path);
      std::string x, y;
      if (f->is_repeated()) {
        x = DiscountsJson({a.discounts().begin(), a.discounts().end()});
        y = DiscountsJson({b.discounts().begin(), b.discounts().end()});
      } else {
        google::protobuf::TextFormat::PrintFieldValueToString(a, f, -1, &x);
        google::protobuf::TextFormat::PrintFieldValueToString(b, f, -1, &y);
      }
      if (x != y) ev.add_changed_fields(path);
    }
    const bool price_moved = PriceMoved(old, u);
    if (ev.changed_fields().empty() && !price_moved) {
      out = old;
      return absl::OkStatus();
    }
    u.set_version(old.version() + 1);
    out = SaveUnit(tx, u, pr, /*insert=*/false, now, actor.principal);
    if (price_moved) {
      ev.set_price_id(AppendPriceRow(tx, u.id(), now, ActingUserId(actor.principal), v1::UnitPrice::API));
    }
    *ev.mutable_unit() = out;
    ev.mutable_unit()->clear_booking();
    return EmitUnitChanged(tx, outbox_, actor, v1::kUnitUpdatedType, ev);
  }));
  return out;
}

absl::StatusOr<v1::Unit> InventoryStore::ChangeStatus(const Actor& actor,
                                                      const v1::ChangeUnitStatusRequest& req) {
  CRM_RETURN_IF_ERROR(RequireRealtyManage(actor.principal));
  Violations v;
  if (!IsUuid(req.id())) v.Add("id", "not a UUID");
  if (req.status() == v1::Unit::STATUS_UNSPECIFIED || !v1::Unit::Status_IsValid(req.status())) {
    v.Add("status", "required: NOT_RELEASED, AVAILABLE, SOLD or WITHDRAWN");
  }
  CheckText(req.reason(), "reason", kMaxTextChars, false, v);
  CRM_RETURN_IF_ERROR(v.ToStatus());
  const absl::Time now = clock_.Now();
  v1::Unit out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(v1::Unit old, LoadUnit(tx, actor.principal, req.id(), true));
    CRM_RETURN_IF_ERROR(CheckVersion(req.version(), old.version()));
    if (old.status() == req.status()) {
      out = old;
      return absl::OkStatus();
    }
    if (auto why = RefuseTransition(old.status(), req.status(), TransitionBy::kPerson,
                                    old.price().amount_minor(), !req.reason().empty())) {
      return absl::FailedPreconditionError(*why);
    }
    v1::UnitStatusChanged ev;
    if (old.status() == v1::Unit::BOOKED) {
      // Sold to the booking's client: the booking converts, the queue is cancelled.
      CRM_ASSIGN_OR_RETURN(std::string booking_id,
                           EndUnitBookingsInTx(tx, outbox_, actor, old.id(), now, v1::Booking::CONVERTED,
                                               req.reason().empty() ? "продано" : req.reason()));
      ev.set_booking_id(booking_id);
    }
    SqlParams p;
    out = WrittenUnit(
        tx,
        absl::StrCat("UPDATE realty_units SET status = ", p.Add(absl::StrCat(static_cast<int>(req.status()))),
                     "::smallint, version = version + 1, update_time = ", TsParam(p, now),
                     " WHERE id = ", p.Add(old.id()), "::uuid RETURNING *"),
        p, actor.principal);
    ev.set_unit_id(out.id());
    ev.set_project_id(out.project_id());
    ev.set_building_id(out.building_id());
    ev.set_old_status(old.status());
    ev.set_new_status(out.status());
    ev.set_reason(req.reason());
    ev.set_version(out.version());
    return EmitUnitStatusChanged(tx, outbox_, actor, ev);
  }));
  return out;
}

absl::StatusOr<v1::ListUnitPricesResponse> InventoryStore::ListPrices(const Principal& caller,
                                                                      const v1::ListUnitPricesRequest& req) {
  CRM_RETURN_IF_ERROR(RequireRealtyRead(caller));
  Violations v;
  if (!IsUuid(req.unit_id())) v.Add("unit_id", "not a UUID");
  const int size = PageSizeOf(req.page_size(), v);
  std::optional<std::optional<std::vector<std::string>>> token =
      v.Value(DecodeToken("prices", req.page_token(), 1), "page_token");
  std::optional<int64_t> before;
  if (token && token->has_value()) before = v.Value(TokenInt((**token)[0]), "page_token");
  CRM_RETURN_IF_ERROR(v.ToStatus());
  SqlParams p;
  std::string where = absl::StrCat("x.unit_id = ", p.Add(req.unit_id()), "::uuid");
  if (before) absl::StrAppend(&where, " AND x.id < ", p.Add(absl::StrCat(*before)), "::bigint");
  const std::string sql = absl::StrCat(
      "SELECT x.id, x.price_minor, x.price_per_m2_minor, x.final_price_minor, x.currency, x.discounts::text, "
      "x.special_offer, x.area_centi, ",
      MicrosOf("x.change_time"), ", x.actor_id, x.source FROM realty_unit_prices x WHERE ", where,
      " ORDER BY x.id DESC LIMIT ", size + 1);
  v1::ListUnitPricesResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        SqlParams q;
        if (Exec(tx, absl::StrCat("SELECT 1 FROM realty_units WHERE id = ", q.Add(req.unit_id()), "::uuid"),
                 q)
                .empty()) {
          return absl::NotFoundError("unit not found");
        }
        pqxx::result r = Exec(tx, sql, p);
        for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i) {
          const pqxx::row& row = r[i];
          v1::UnitPrice* x = out.add_unit_prices();
          const std::string currency = row[4].as<std::string>();
          const int64_t price = row[1].as<int64_t>();
          x->set_id(row[0].as<int64_t>());
          x->set_unit_id(req.unit_id());
          *x->mutable_price() = MakeMoney(price, currency);
          *x->mutable_price_per_m2() = MakeMoney(row[2].as<int64_t>(), currency);
          *x->mutable_final_price() = MakeMoney(row[3].as<int64_t>(), currency);
          for (v1::Discount& d : DiscountsFromJson(row[5].as<std::string>(), price, currency)) {
            *x->add_discounts() = std::move(d);
          }
          x->set_special_offer(row[6].as<bool>());
          x->set_area_centi_m2(row[7].as<int64_t>());
          *x->mutable_change_time() = TsFromMicros(row[8].as<int64_t>());
          x->set_actor_id(row[9].as<std::string>());
          x->set_source(static_cast<v1::UnitPrice::Source>(row[10].as<int>()));
        }
        if (static_cast<int>(r.size()) > size) {
          out.set_next_page_token(EncodeToken("prices", {absl::StrCat(out.unit_prices(size - 1).id())}));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

}  // namespace crm::deals::realty
