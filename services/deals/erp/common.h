// File: services/deals/erp/common.h
// -----------------------------------------------------------------------------
// What the stores of the 1C side (D17) share: the permissions, the deal a record belongs to with its
// names and access ("as for deals", services/deals/access.h — and erp.sync, 1C's scope, reaches every
// deal), the direction (pipeline) settings of a deal, events to the outbox visible to the deal's people,
// dates, and the one page rule.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(DealInfo deal, LoadDeal(tx, actor.principal, id, Access::kWrite, "document.deal_id"));
//   CRM_RETURN_IF_ERROR(Emit(tx, outbox_, actor, v1::kDocumentAggregate, doc.id(), v1::kDocumentCreatedType,
//                            event, deal));
#ifndef CRM_SERVICES_DEALS_ERP_COMMON_H_
#define CRM_SERVICES_DEALS_ERP_COMMON_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "crm/common/v1/common.pb.h"
#include "google/protobuf/message.h"
#include "libs/events/outbox.h"
#include "services/deals/access.h"
#include "services/deals/deals.h"
#include "services/deals/violations.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::deals::erp {

// 1C's scope: upsert proposals and documents, report task statuses, read every deal's documents.
inline constexpr char kErpSyncPermission[] = "erp.sync";
// Which directions 1C manages and where signed documents are mailed (ErpSettings).
inline constexpr char kErpManagePermission[] = "erp.manage";

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 200;

// What the 1C side needs of a deal.
struct DealInfo {
  std::string id;
  std::string name;
  std::string pipeline_id;
  std::string client_id;
  std::string client_name;
  std::string currency;
  int64_t amount_minor = 0;
  DealOwnership ownership;  // responsible and teams
};

enum class Access { kRead, kWrite };

// The deal `deal_id` checked for `caller`: erp.sync reaches every deal; anyone else as deals.proto says
// (read or write access; an invisible deal is NOT_FOUND "deal not found", a visible one they may not
// change PERMISSION_DENIED). `field` names deal_id in the INVALID_ARGUMENT of a non-UUID. With
// `for_update` the deal's row is locked until `tx` ends (so the deal's events keep their order).
absl::StatusOr<DealInfo> LoadDeal(pqxx::transaction_base& tx, const crm::common::v1::Principal& caller,
                                  std::string_view deal_id, Access access, std::string_view field = "deal_id",
                                  bool for_update = false);
// The deal without an access check (NOT_FOUND if missing); for callers that checked it otherwise.
absl::StatusOr<DealInfo> LoadDealUnchecked(pqxx::transaction_base& tx, std::string_view deal_id, bool for_update);

// The deals of `ids` that exist (no access check), by id; with `for_update` locked in id order until `tx` ends.
absl::StatusOr<std::map<std::string, DealInfo>> LoadDealsUnchecked(pqxx::transaction_base& tx,
                                                                   const std::vector<std::string>& ids,
                                                                   bool for_update);

// Whether `caller` may see / change what belongs to `deal` (erp.sync reaches every deal).
absl::Status CheckDealAccess(const crm::common::v1::Principal& caller, const DealInfo& deal, Access access);

// How a direction (a pipeline) is tied to 1C; nullopt for a pipeline 1C does not manage.
struct Direction {
  std::string pipeline_id;
  std::string pipeline_name;
  bool proposals_from_erp = false;
  bool tasks_mirrored = false;
};
absl::StatusOr<std::optional<Direction>> DirectionOf(pqxx::transaction_base& tx, std::string_view pipeline_id);

// The name of a pipeline ("" when unknown).
std::string PipelineName(pqxx::transaction_base& tx, std::string_view pipeline_id);

// The name deals' user directory has for `user_id` ("" when none).
std::string UserName(pqxx::transaction_base& tx, std::string_view user_id);

// Appends the event `type` of `aggregate` `id` to `tx`'s outbox, visible to the deal's responsible (and
// `also_users`, e.g. a task's responsible) and the deal's teams.
absl::Status Emit(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                  std::string_view aggregate, const std::string& id, std::string_view type,
                  const google::protobuf::Message& payload, const DealInfo& deal,
                  const std::vector<std::string>& also_users = {});

// Inserts outbox rows made by OutboxWriter::Row (one per event, in order) with one statement: what a
// bulk upsert writes instead of thousands of single inserts.
absl::Status AppendEventRows(pqxx::transaction_base& tx, const std::vector<std::vector<std::string>>& rows);

// A "YYYY-MM-DD" date: records a violation naming `field` unless it is one ("" is `required`'s call).
std::optional<absl::CivilDay> CheckDay(std::string_view text, std::string_view field, bool required, Violations& v);

// A required text of at most `max` characters (after trimming) / an optional one.
void CheckText(std::string_view text, std::string_view field, size_t max, bool required, Violations& v);

// A Money that is an amount of a known ISO 4217 currency (libs/base/money.h ValidateCurrency) ("" allowed when `currency_optional`), > 0 when
// `positive`, ≥ 0 otherwise, at most 10^15.
void CheckMoney(const crm::common::v1::Money& m, std::string_view field, bool positive, bool currency_optional,
                Violations& v);

// The keyset token of a page ending at (`day`, `id`) of a list ordered by (a date DESC, id DESC), and the
// SQL "after it" on `date_column` / `id_column` (INVALID_ARGUMENT naming page_token for a foreign token).
std::string DayPageToken(absl::CivilDay day, std::string_view id);
absl::StatusOr<std::string> AfterDayPageToken(std::string_view token, std::string_view date_column,
                                              std::string_view id_column, SqlParams& p);

}  // namespace crm::deals::erp

#endif  // CRM_SERVICES_DEALS_ERP_COMMON_H_
