// File: services/deals/realty/inventory.h
// -----------------------------------------------------------------------------
// The real-estate inventory (D14, seed 004 §6.2, §6.8): projects (ЖК), buildings with sections and
// floors, units. InventoryStore keeps them in PostgreSQL (migrations/0001_realty.sql) and writes their
// events to the deals outbox in the same transaction.
//
// What the store promises:
//   - reading needs realty.read (or realty.manage), every change realty.manage (access.h);
//   - every bad field is named at once (rules.h), as the request spells it; a stale non-zero version is
//     ABORTED "version mismatch";
//   - a unit sits at one place (building, section, floor within the section's floors, position): two
//     units never share one (a unique index);
//   - every change of a unit's price, area, discounts or special offer appends a row to its price history
//     (realty_unit_prices, append-only: a trigger refuses UPDATE, DELETE and TRUNCATE), so the history is
//     exact; a booking fixes its price by referring to such a row (bookings.h);
//   - status moves only along the state machine (rules.h) — ChangeStatus, Import, and the bookings; a
//     BOOKED unit sold converts its booking and cancels its queue in the same transaction;
//   - events: crm.deals.unit.{created,updated,status_changed}.v1 (key = unit id) and
//     crm.deals.project.{created,updated,building_created,building_updated}.v1 (key = project id);
//   - Import (import.cc): up to 10 000 units, 1 000 buildings and 100 projects upserted by external id in
//     one transaction, all or nothing, every bad row named ("units[17].area_centi_m2"); identical rows
//     write nothing; a row saying AVAILABLE about a unit booked here keeps it BOOKED (the booking owns
//     that status), any other move of a booked unit is refused.
//
// Example:
//   InventoryStore inventory(*pool, crm::SystemClock());
//   CRM_ASSIGN_OR_RETURN(v1::Unit unit, inventory.CreateUnit(actor, request, rpc::IdempotencyKey(ctx)));
#ifndef CRM_SERVICES_DEALS_REALTY_INVENTORY_H_
#define CRM_SERVICES_DEALS_REALTY_INVENTORY_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crm/deals/v1/realty.pb.h"
#include "libs/events/outbox.h"
#include "services/deals/deals.h"

namespace crm::deals::realty {

namespace v1 = crm::deals::v1;

// The import's bounds.
inline constexpr int kMaxImportProjects = 100;
inline constexpr int kMaxImportBuildings = 1000;
inline constexpr int kMaxImportUnits = 10000;

class InventoryStore {
 public:
  InventoryStore(pg::Pool& pool, const Clock& clock);

  absl::StatusOr<v1::Project> CreateProject(const Actor& actor, const v1::CreateProjectRequest& req,
                                            std::string_view idempotency_key = "");
  absl::StatusOr<v1::Project> GetProject(const crm::common::v1::Principal& caller, std::string_view id);
  absl::StatusOr<v1::ListProjectsResponse> ListProjects(const crm::common::v1::Principal& caller,
                                                        const v1::ListProjectsRequest& req);
  absl::StatusOr<v1::Project> UpdateProject(const Actor& actor, const v1::UpdateProjectRequest& req);

  absl::StatusOr<v1::Building> CreateBuilding(const Actor& actor, const v1::CreateBuildingRequest& req,
                                              std::string_view idempotency_key = "");
  absl::StatusOr<v1::Building> GetBuilding(const crm::common::v1::Principal& caller, std::string_view id);
  absl::StatusOr<v1::ListBuildingsResponse> ListBuildings(const crm::common::v1::Principal& caller,
                                                          const v1::ListBuildingsRequest& req);

  absl::StatusOr<v1::Unit> CreateUnit(const Actor& actor, const v1::CreateUnitRequest& req,
                                      std::string_view idempotency_key = "");
  absl::StatusOr<v1::Unit> GetUnit(const crm::common::v1::Principal& caller, std::string_view id);
  absl::StatusOr<v1::Unit> UpdateUnit(const Actor& actor, const v1::UpdateUnitRequest& req);
  absl::StatusOr<v1::Unit> ChangeStatus(const Actor& actor, const v1::ChangeUnitStatusRequest& req);
  absl::StatusOr<v1::ListUnitPricesResponse> ListPrices(const crm::common::v1::Principal& caller,
                                                        const v1::ListUnitPricesRequest& req);

  // The external system's bulk upsert (import.cc; see the file comment).
  absl::StatusOr<v1::ImportInventoryResponse> Import(const Actor& actor,
                                                     const v1::ImportInventoryRequest& req,
                                                     std::string_view idempotency_key = "");

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  crm::events::OutboxWriter outbox_;
};

// The unit `id` as the caller sees it, read in `tx` (FOR UPDATE of the unit row when `for_update`);
// NotFound "unit not found".
absl::StatusOr<v1::Unit> LoadUnit(pqxx::transaction_base& tx, const crm::common::v1::Principal& caller,
                                  std::string_view id, bool for_update);

// The building `id` with its sections, read in `tx` (FOR UPDATE of its row when `for_update`); nullopt
// when there is none.
std::optional<v1::Building> LoadBuilding(pqxx::transaction_base& tx, const std::string& id, bool for_update);

}  // namespace crm::deals::realty

#endif  // CRM_SERVICES_DEALS_REALTY_INVENTORY_H_
