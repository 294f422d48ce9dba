// File: services/deals/erp/settings_store.h
// -----------------------------------------------------------------------------
// ErpSettings (D17): the directions (pipelines) 1C manages — their proposals come from 1C, their tasks
// are mirrored to it — and where signed documents are mailed (the accountant). One row, replaced as a
// whole with a version check (0 = any), by erp.manage; read by anyone with a deals permission,
// erp.manage or erp.sync. A bad setting is INVALID_ARGUMENT naming every bad field
// ("settings.directions[1].pipeline_id", "settings.accountant_emails[0]").
//
// Example:
//   SettingsStore settings(*pool, clock);
//   CRM_ASSIGN_OR_RETURN(v1::ErpSettings s, settings.Get(caller));
#ifndef CRM_SERVICES_DEALS_ERP_SETTINGS_STORE_H_
#define CRM_SERVICES_DEALS_ERP_SETTINGS_STORE_H_

#include "absl/status/statusor.h"
#include "crm/deals/v1/erp.pb.h"
#include "services/deals/deals.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::deals::erp {

inline constexpr int kMaxAccountantEmails = 10;

// The settings as stored, read inside `tx` (no access check).
crm::deals::v1::ErpSettings LoadSettings(pqxx::transaction_base& tx);

// Thread-safe; pool and clock must outlive it.
class SettingsStore {
 public:
  SettingsStore(pg::Pool& pool, const Clock& clock) : pool_(pool), clock_(clock) {}

  absl::StatusOr<crm::deals::v1::ErpSettings> Get(const crm::common::v1::Principal& caller);
  absl::StatusOr<crm::deals::v1::ErpSettings> Update(const Actor& actor, const crm::deals::v1::ErpSettings& settings);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
};

}  // namespace crm::deals::erp

#endif  // CRM_SERVICES_DEALS_ERP_SETTINGS_STORE_H_
