// File: services/deals/interactions/common.h
// -----------------------------------------------------------------------------
// What the request and interaction stores share: the one page rule, the responsible filter ("me" or a
// user id), timestamps' bounds, and events written to the outbox with the visibility of the record's
// responsible (the envelope's visible_to_user_ids / visible_to_team_ids, as deals' events).
//
// Example:
//   std::vector<FieldViolation> bad;
//   const std::string responsible = ResponsibleFilter(caller, req.responsible(), "responsible", bad);
//   const int size = PageSizeOr(req.page_size(), bad);
//   if (!bad.empty()) return InvalidFieldsError(bad);
#ifndef CRM_SERVICES_DEALS_INTERACTIONS_COMMON_H_
#define CRM_SERVICES_DEALS_INTERACTIONS_COMMON_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "libs/base/status.h"
#include "libs/events/outbox.h"
#include "services/deals/deals.h"
#include "services/deals/interactions/access.h"

namespace crm::deals::interactions {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 200;

// The page size by deals' one page rule (services/deals/sql.h PageSize: 0 is the default, above the maximum
// clamped); a negative page_size is added to `bad` as a violation naming `field`.
int PageSizeOr(int requested, std::vector<FieldViolation>& bad, std::string_view field = "page_size");

// The user id a responsible filter names: "" for none, the caller's for "me", else the UUID given; a
// violation naming `field` otherwise ("me" without a user caller, or not a UUID).
std::string ResponsibleFilter(const crm::common::v1::Principal& caller, const std::string& value, std::string_view field,
                              std::vector<FieldViolation>& bad);

// A violation naming `field` when `id` is neither empty nor a UUID (or, `required`, empty).
void CheckUuid(std::string_view id, std::string_view field, bool required, std::vector<FieldViolation>& bad);

// Whether `ts` is a time the API accepts: 1970-01-01 .. 9999-12-31, nanos in range.
bool ValidTime(const google::protobuf::Timestamp& ts);

// ABORTED "version mismatch" when `given` is non-zero and differs from `stored`.
absl::Status CheckVersion(int64_t given, int64_t stored);

// Appends the event `type` of a record held by `owner` (and, after a hand-over, `previous`) to `tx`'s
// outbox: visible to the responsible(s) and their teams, with the actor's request id and automation
// causation.
absl::Status Emit(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                  std::string_view aggregate, const std::string& id, std::string_view type,
                  const google::protobuf::Message& payload, const Owner& owner, const Owner* previous = nullptr);

}  // namespace crm::deals::interactions

#endif  // CRM_SERVICES_DEALS_INTERACTIONS_COMMON_H_
