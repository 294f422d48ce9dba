// File: services/telephony/requests/api.h
// -----------------------------------------------------------------------------
// The call-request API (P4; requests.proto): `CallRequests` decides each call from the caller's Principal
// in one transaction (service.cc is the thin gRPC CallRequestService over it).
//   * calls.operate: create requests, set one's own readiness, see one's state and offer, accept / decline
//     one's offer, finish one's request in work, read the requests one had (operator_id = the caller:
//     scope OWN). telephony.read.all: read every request (scope ALL), the statistics and the operators'
//     states. telephony.manage: create requests too. A request the caller may not read is NOT_FOUND.
//   * Every change that can make a match matches in its transaction, and once more after its commit (a
//     request and an operator made ready by two concurrent transactions see each other then); the sweep
//     (wire.cc) heals the rest.
//   * Lists: newest first, keyset by (create_time, id); page_size < 0 refused, 0 = 50, above 200 clamped.
#ifndef CRM_SERVICES_TELEPHONY_REQUESTS_API_H_
#define CRM_SERVICES_TELEPHONY_REQUESTS_API_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/common/v1/common.pb.h"
#include "crm/telephony/v1/requests.pb.h"

namespace crm {
class Clock;
}  // namespace crm
namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::telephony::requests {

namespace v1 = ::crm::telephony::v1;
using crm::common::v1::Principal;

class Queue;

inline constexpr char kOperate[] = "calls.operate";
inline constexpr char kReadAll[] = "telephony.read.all";
inline constexpr char kManage[] = "telephony.manage";
inline constexpr int kMaxComment = 2000;
inline constexpr int kMaxReason = 200;

class CallRequests {
 public:
  // All must outlive this. `zone`: the company's (the statistics' day).
  CallRequests(crm::pg::Pool& pool, const Clock& clock, const Queue& queue, absl::TimeZone zone);

  absl::StatusOr<v1::CallRequest> Create(const Principal& caller, const v1::CallRequest& req,
                                         std::string_view idempotency_key);
  absl::StatusOr<v1::CallRequest> Get(const Principal& caller, std::string_view id);
  absl::StatusOr<v1::ListCallRequestsResponse> List(const Principal& caller, const v1::ListCallRequestsRequest& req);
  absl::StatusOr<v1::CallRequest> Accept(const Principal& caller, std::string_view id);
  absl::StatusOr<v1::CallRequest> Decline(const Principal& caller, const v1::DeclineCallRequestRequest& req);
  absl::StatusOr<v1::CallRequest> Finish(const Principal& caller, const v1::FinishCallRequestRequest& req);
  absl::StatusOr<v1::OperatorState> SetReadiness(const Principal& caller, const v1::SetReadinessRequest& req);
  absl::StatusOr<v1::OperatorState> MyState(const Principal& caller);
  absl::StatusOr<v1::ListOperatorStatesResponse> Operators(const Principal& caller);
  absl::StatusOr<v1::CallRequestStatistics> Statistics(const Principal& caller,
                                                       const v1::GetCallRequestStatisticsRequest& req);

  // Matches in a transaction of its own (the sweep, and after each change's commit); returns the offers.
  absl::StatusOr<int> MatchNow();

 private:
  // The request as `caller` may read it (NOT_FOUND otherwise), with attempts and related when `full`;
  // `acted`: the caller just accepted, declined or finished it — theirs to see as it is now, even when it
  // went to another operator at once.
  absl::StatusOr<v1::CallRequest> Read(const Principal& caller, std::string_view id, bool full, bool acted = false);
  absl::StatusOr<v1::OperatorState> LoadState(const std::string& user);

  crm::pg::Pool& pool_;
  const Clock& clock_;
  const Queue& queue_;
  absl::TimeZone zone_;
};

// The caller's user id ("" for none): a user's id, or the user a service acts for.
std::string CallerUserId(const Principal& caller);

}  // namespace crm::telephony::requests

#endif  // CRM_SERVICES_TELEPHONY_REQUESTS_API_H_
