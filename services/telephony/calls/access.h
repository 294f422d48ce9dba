// File: services/telephony/calls/access.h
// -----------------------------------------------------------------------------
// Who sees and drives which calls (P1; service.h): the caller's user id, the call log's scope, the
// visibility of one call, and the right to command one of its legs.
#ifndef CRM_SERVICES_TELEPHONY_CALLS_ACCESS_H_
#define CRM_SERVICES_TELEPHONY_CALLS_ACCESS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "crm/common/v1/common.pb.h"
#include "crm/telephony/v1/calls.pb.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::telephony::calls {

// The caller's user id ("" for a service acting for nobody).
std::string CallerUserId(const crm::common::v1::Principal& caller);

enum class Scope { kNone, kOwn, kAll };
// telephony.read.all → kAll; calls.operate → kOwn; else kNone.
Scope ScopeOf(const crm::common::v1::Principal& caller);

// Whether the caller was on `c` (its employee, or one of its legs').
bool OnCall(pqxx::transaction_base& tx, const crm::common::v1::Principal& caller, const crm::telephony::v1::Call& c);

// OK when `caller` may see `c`; NOT_FOUND "call <id> not found" otherwise.
absl::Status CheckCanSee(pqxx::transaction_base& tx, const crm::common::v1::Principal& caller,
                         const crm::telephony::v1::Call& c);

// OK when `caller` may command `c`'s legs or set its client: telephony.manage, or calls.operate and on the
// call. NOT_FOUND when they may not see it, PERMISSION_DENIED naming the permission otherwise.
absl::Status CheckCanOperate(pqxx::transaction_base& tx, const crm::common::v1::Principal& caller,
                             const crm::telephony::v1::Call& c);

absl::Status CallNotFound(std::string_view id);

}  // namespace crm::telephony::calls

#endif  // CRM_SERVICES_TELEPHONY_CALLS_ACCESS_H_
