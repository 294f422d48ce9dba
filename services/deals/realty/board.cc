// File: services/deals/realty/board.cc
#include "services/deals/realty/board.h"

#include <algorithm>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/money.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "services/deals/realty/access.h"
#include "services/deals/realty/internal.h"
#include "services/deals/realty/inventory.h"
#include "services/deals/realty/rules.h"

namespace crm::deals::realty {

using crm::common::v1::Principal;

namespace {

// The chessboard's grid: a building's units with their ACTIVE booking, in the order of realty_units_place
// (no sort; the floors are drawn top first from the rows) — one statement, and realty_bookings_one_active
// per unit.
const std::string& CellsSql() {
  static const std::string* sql = new std::string(absl::StrCat(
      "SELECT u.section_number, u.floor, u.id::text, u.position, u.number, u.kind, u.status, u.rooms, "
      "u.area_centi, "
      "u.currency, u.price_minor, u.price_per_m2_minor, u.final_price_minor, u.special_offer, "
      "u.discounts <> '[]'::jsonb, u.no_ownership, u.version, "
      "b.id::text, b.responsible_id::text, array_to_string(b.team_ids, ','), b.client_id::text, c.name, ",
      MicrosOf("b.expire_time"),
      ", (SELECT count(*) FROM realty_bookings q WHERE q.unit_id = u.id AND q.status = 1) "
      "FROM realty_units u LEFT JOIN realty_bookings b ON b.unit_id = u.id AND b.status = 2 "
      "LEFT JOIN clients c ON c.id = b.client_id WHERE u.building_id = $1::uuid "
      "ORDER BY u.section_number, u.floor, u.position"));
  return *sql;
}

std::string SmallintArray(const std::vector<int>& values) {
  return absl::StrCat("{", absl::StrJoin(values, ","), "}");
}

}  // namespace

absl::StatusOr<v1::Chessboard> BoardReader::Chessboard(const Principal& caller,
                                                       const v1::GetChessboardRequest& req) {
  CRM_RETURN_IF_ERROR(RequireRealtyRead(caller));
  if (!IsUuid(req.building_id())) return InvalidFieldError("building_id", "not a UUID");
  v1::Chessboard out;
  CRM_RETURN_IF_ERROR(
      pg::InTransaction(pool_,
                        [&](pqxx::work& tx) -> absl::Status {
                          out.Clear();
                          std::optional<v1::Building> building = LoadBuilding(tx, req.building_id(), false);
                          if (!building) return absl::NotFoundError("building not found");
                          // Every floor of every section, empty ones too, the top floor first.
                          std::map<int, v1::ChessboardSection*> sections;
                          std::map<std::pair<int, int>, v1::ChessboardFloor*> floors;
                          for (const v1::Section& s : building->sections()) {
                            v1::ChessboardSection* cs = out.add_sections();
                            cs->set_number(s.number());
                            cs->set_name(s.name());
                            sections[s.number()] = cs;
                            for (int f = s.last_floor(); f >= FirstFloor(s); --f) {
                              if (f == 0) continue;
                              v1::ChessboardFloor* floor = cs->add_floors();
                              floor->set_floor(f);
                            }
                            for (v1::ChessboardFloor& floor : *cs->mutable_floors())
                              floors[{s.number(), floor.floor()}] = &floor;
                          }
                          std::map<int, int> counts;
                          SqlParams p;
                          p.Add(req.building_id());
                          pqxx::result r = ExecPrepared(tx, CellsSql(), p);
                          for (const pqxx::row& row : r) {
                            auto floor = floors.find({row[0].as<int>(), row[1].as<int>()});
                            if (floor == floors.end())
                              continue;  // cannot happen: places are checked against the sections
                            v1::ChessboardCell* c = floor->second->add_cells();
                            c->set_unit_id(row[2].as<std::string>());
                            c->set_position(row[3].as<int>());
                            c->set_number(row[4].as<std::string>());
                            c->set_kind(static_cast<v1::Unit::Kind>(row[5].as<int>()));
                            c->set_status(static_cast<v1::Unit::Status>(row[6].as<int>()));
                            c->set_rooms(row[7].as<int>());
                            c->set_area_centi_m2(row[8].as<int64_t>());
                            const std::string currency = row[9].as<std::string>();
                            *c->mutable_price() = MakeMoney(row[10].as<int64_t>(), currency);
                            *c->mutable_price_per_m2() = MakeMoney(row[11].as<int64_t>(), currency);
                            *c->mutable_final_price() = MakeMoney(row[12].as<int64_t>(), currency);
                            c->set_special_offer(row[13].as<bool>());
                            c->set_has_discounts(row[14].as<bool>());
                            c->set_no_ownership(row[15].as<bool>());
                            c->set_version(row[16].as<int64_t>());
                            if (std::optional<v1::UnitBooking> b = ReadUnitBooking(row, 17, caller))
                              *c->mutable_booking() = *b;
                            c->set_queue_length(row[23].as<int>());
                            ++counts[c->status()];
                            v1::ChessboardSection* s = sections[row[0].as<int>()];
                            s->set_width(std::max(s->width(), c->position()));
                          }
                          for (const auto& [status, n] : counts) {
                            v1::StatusCount* sc = out.add_status_counts();
                            sc->set_status(static_cast<v1::Unit::Status>(status));
                            sc->set_units(n);
                          }
                          *out.mutable_building() = *std::move(building);
                          return absl::OkStatus();
                        },
                        {.read_only = true}));
  return out;
}

absl::StatusOr<v1::MatchUnitsResponse> BoardReader::Match(const Principal& caller,
                                                          const v1::MatchUnitsRequest& req) {
  CRM_RETURN_IF_ERROR(RequireRealtyRead(caller));
  Violations v;
  if (req.project_id().empty()) {
    v.Add("project_id", "required: the request's project (объект)");
  } else if (!IsUuid(req.project_id())) {
    v.Add("project_id", "not a UUID");
  }
  std::set<int> kinds, rooms, statuses;
  for (int i = 0; i < req.kinds_size(); ++i) {
    if (req.kinds(i) == v1::Unit::KIND_UNSPECIFIED || !v1::Unit::Kind_IsValid(req.kinds(i))) {
      v.Add(absl::StrCat("kinds[", i, "]"), "unknown kind");
    }
    kinds.insert(req.kinds(i));
  }
  if (req.rooms_size() > kMaxMatchRooms) v.Add("rooms", absl::StrCat("at most ", kMaxMatchRooms, " values"));
  for (int i = 0; i < req.rooms_size(); ++i) {
    if (req.rooms(i) < 0 || req.rooms(i) > kMaxRooms) v.Add(absl::StrCat("rooms[", i, "]"), "must be 0..20");
    rooms.insert(req.rooms(i));
  }
  for (int i = 0; i < req.statuses_size(); ++i) {
    if (req.statuses(i) == v1::Unit::STATUS_UNSPECIFIED || !v1::Unit::Status_IsValid(req.statuses(i))) {
      v.Add(absl::StrCat("statuses[", i, "]"), "unknown status");
    }
    statuses.insert(req.statuses(i));
  }
  if (req.has_budget_max()) {
    if (req.budget_max().amount_minor() < 0) v.Add("budget_max.amount_minor", "must not be negative");
    if (!req.budget_max().currency().empty() && !ValidateCurrency(req.budget_max().currency()).ok()) {
      v.Add("budget_max.currency", "not an ISO 4217 code (\"RUB\")");
    }
  }
  if (req.area_min_centi_m2() < 0) v.Add("area_min_centi_m2", "must not be negative");
  if (req.area_max_centi_m2() < 0) v.Add("area_max_centi_m2", "must not be negative");
  if (req.area_min_centi_m2() > 0 && req.area_max_centi_m2() > 0 &&
      req.area_max_centi_m2() < req.area_min_centi_m2()) {
    v.Add("area_max_centi_m2", "below area_min_centi_m2");
  }
  const int size = PageSizeOf(req.page_size(), v);
  std::optional<std::optional<std::vector<std::string>>> token =
      v.Value(DecodeToken("match", req.page_token(), 2), "page_token");
  int64_t after_price = 0;
  if (token && token->has_value()) {
    absl::StatusOr<int64_t> price = TokenInt((**token)[0]);
    if (!price.ok() || !IsUuid((**token)[1])) {
      v.Add("page_token", "malformed page token");
    } else {
      after_price = *price;
    }
  }
  CRM_RETURN_IF_ERROR(v.ToStatus());
  if (kinds.empty()) kinds = {1, 2, 3, 4, 5};
  if (statuses.empty()) statuses = {v1::Unit::AVAILABLE, v1::Unit::BOOKED};
  SqlParams p;
  const std::string project = p.Add(req.project_id());
  // What every branch shares, after its (status, kind[, rooms]).
  std::string common;
  // Written literally so the planner may take the partial index realty_units_match_offer.
  if (req.special_offer_only()) absl::StrAppend(&common, " AND u.special_offer");
  if (req.has_budget_max()) {
    absl::StrAppend(&common,
                    " AND u.final_price_minor <= ", p.Add(absl::StrCat(req.budget_max().amount_minor())),
                    "::bigint");
    if (!req.budget_max().currency().empty()) {
      absl::StrAppend(&common, " AND u.currency = ", p.Add(req.budget_max().currency()));
    }
  }
  if (req.area_min_centi_m2() > 0) {
    absl::StrAppend(&common, " AND u.area_centi >= ", p.Add(absl::StrCat(req.area_min_centi_m2())),
                    "::bigint");
  }
  if (req.area_max_centi_m2() > 0) {
    absl::StrAppend(&common, " AND u.area_centi <= ", p.Add(absl::StrCat(req.area_max_centi_m2())),
                    "::bigint");
  }
  if (token && token->has_value()) {
    const std::string price = p.Add(absl::StrCat(after_price));
    absl::StrAppend(&common, " AND (u.final_price_minor, u.id) > (", price, "::bigint, ", p.Add((**token)[1]),
                    "::uuid)");
  }
  // One branch per (status, kind[, rooms]): an index range already in (final price, id) order, cut at the
  // page by its own ORDER BY … LIMIT, and the page is the Merge Append of those cut ranges: at most a page
  // per branch is read, whatever the project holds. (Without the branches' own LIMIT the planner flattens
  // the UNION ALL and costs each range without the page: at 100 000 units in one project it took a
  // sequential scan and a top-N sort of 70 000 rows, 100–200 ms, instead of 0.6 ms.)
  std::map<int, std::string> value;  // each number once as a parameter
  auto param = [&](int v) -> const std::string& {
    auto it = value.find(v);
    if (it == value.end()) it = value.emplace(v, p.Add(absl::StrCat(v))).first;
    return it->second;
  };
  std::vector<std::string> branches;
  for (int st : statuses) {
    for (int kd : kinds) {
      const std::string head = absl::StrCat("SELECT u.* FROM realty_units u WHERE u.project_id = ", project,
                                            "::uuid AND u.status = ", param(st),
                                            "::smallint AND u.kind = ", param(kd), "::smallint");
      const std::string cut = absl::StrCat(" ORDER BY u.final_price_minor, u.id LIMIT ", size + 1, ")");
      if (rooms.empty()) {
        branches.push_back(absl::StrCat("(", head, common, cut));
      } else {
        for (int rm : rooms) {
          branches.push_back(absl::StrCat("(", head, " AND u.rooms = ", param(rm), "::smallint", common, cut));
        }
      }
    }
  }
  const std::string sql =
      absl::StrCat("SELECT ", UnitColumns(), " FROM (SELECT x.* FROM (",
                   absl::StrJoin(branches, " UNION ALL "), ") x ORDER BY x.final_price_minor, x.id LIMIT ",
                   size + 1, ") u", kUnitJoins, " ORDER BY u.final_price_minor, u.id");
  v1::MatchUnitsResponse out;
  auto read = [&](pqxx::work& tx) -> absl::Status {
    out.Clear();
    // A few dozen rows from ordered index ranges: parallel workers would cost more to start (8 ms) than
    // the whole read, and their Gather Merge replaces the Merge Append that stops at the page.
    tx.exec0("SET LOCAL max_parallel_workers_per_gather = 0");
    pqxx::result r = Exec(tx, sql, p);
    for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i)
      *out.add_units() = ReadUnit(r[i], 0, caller);
    if (static_cast<int>(r.size()) > size) {
      const v1::Unit& last = out.units(size - 1);
      out.set_next_page_token(
          EncodeToken("match", {absl::StrCat(last.final_price().amount_minor()), last.id()}));
    }
    return absl::OkStatus();
  };
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, read, {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ListUnitsResponse> BoardReader::ListUnits(const Principal& caller,
                                                             const v1::ListUnitsRequest& req) {
  CRM_RETURN_IF_ERROR(RequireRealtyRead(caller));
  Violations v;
  if (!IsUuid(req.building_id())) v.Add("building_id", "not a UUID");
  std::set<int> rooms, statuses;
  for (int i = 0; i < req.statuses_size(); ++i) {
    if (req.statuses(i) == v1::Unit::STATUS_UNSPECIFIED || !v1::Unit::Status_IsValid(req.statuses(i))) {
      v.Add(absl::StrCat("statuses[", i, "]"), "unknown status");
    }
    statuses.insert(req.statuses(i));
  }
  if (req.rooms_size() > kMaxMatchRooms) v.Add("rooms", absl::StrCat("at most ", kMaxMatchRooms, " values"));
  for (int i = 0; i < req.rooms_size(); ++i) {
    if (req.rooms(i) < 0 || req.rooms(i) > kMaxRooms) v.Add(absl::StrCat("rooms[", i, "]"), "must be 0..20");
    rooms.insert(req.rooms(i));
  }
  const int size = PageSizeOf(req.page_size(), v);
  std::optional<std::optional<std::vector<std::string>>> token =
      v.Value(DecodeToken("units", req.page_token(), 3), "page_token");
  std::vector<int64_t> after;
  if (token && token->has_value()) {
    for (const std::string& part : **token) {
      absl::StatusOr<int64_t> n = TokenInt(part);
      if (!n.ok()) break;
      after.push_back(*n);
    }
    if (after.size() != 3) v.Add("page_token", "malformed page token");
  }
  CRM_RETURN_IF_ERROR(v.ToStatus());
  SqlParams p;
  std::string where = absl::StrCat("u.building_id = ", p.Add(req.building_id()), "::uuid");
  if (!statuses.empty()) {
    absl::StrAppend(&where, " AND u.status = ANY(", p.Add(SmallintArray({statuses.begin(), statuses.end()})),
                    "::smallint[])");
  }
  if (!rooms.empty()) {
    absl::StrAppend(&where, " AND u.rooms = ANY(", p.Add(SmallintArray({rooms.begin(), rooms.end()})),
                    "::smallint[])");
  }
  if (!after.empty()) {
    absl::StrAppend(&where, " AND (u.section_number, u.floor, u.position) > (", p.Add(absl::StrCat(after[0])),
                    "::int, ", p.Add(absl::StrCat(after[1])), "::int, ", p.Add(absl::StrCat(after[2])),
                    "::int)");
  }
  const std::string sql = absl::StrCat("SELECT ", UnitColumns(), kUnitFrom, " WHERE ", where,
                                       " ORDER BY u.section_number, u.floor, u.position LIMIT ", size + 1);
  v1::ListUnitsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        SqlParams q;
        if (Exec(tx,
                 absl::StrCat("SELECT 1 FROM realty_buildings WHERE id = ", q.Add(req.building_id()),
                              "::uuid"),
                 q)
                .empty()) {
          return absl::NotFoundError("building not found");
        }
        pqxx::result r = Exec(tx, sql, p);
        for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i) {
          *out.add_units() = ReadUnit(r[i], 0, caller);
        }
        if (static_cast<int>(r.size()) > size) {
          const v1::Unit& last = out.units(size - 1);
          out.set_next_page_token(
              EncodeToken("units", {absl::StrCat(last.section_number()), absl::StrCat(last.floor()),
                                    absl::StrCat(last.position())}));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

}  // namespace crm::deals::realty
