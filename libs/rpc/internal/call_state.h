// File: libs/rpc/internal/call_state.h
// -----------------------------------------------------------------------------
// Internal to crm::rpc. What the server interceptor decides about a call on arrival, and the
// process-wide table that lets call.h's functions find it from the call's ServerContextBase.
#ifndef CRM_LIBS_RPC_INTERNAL_CALL_STATE_H_
#define CRM_LIBS_RPC_INTERNAL_CALL_STATE_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "crm/common/v1/common.pb.h"

namespace grpc {
class ServerContextBase;
}  // namespace grpc

namespace crm::rpc::internal {

// Filled before the state is published with PublishCall(), read-only afterwards — but for `rejection`,
// which the request message's arrival may still set (input_guard.h), on the thread that then runs the
// handler and before it does.
struct CallState {
  // The caller's usable x-request-id, or a fresh UUIDv7.
  std::string request_id;
  // OK, or why the call is turned away (DeadlineExceeded, Unauthenticated).
  absl::Status rejection;
  // The verified principal, when the call carried a well-formed, accepted one.
  std::optional<crm::common::v1::Principal> principal;
  // The raw principal header as received (forwarded as-is by PrepareClientContext).
  std::string raw_principal;
  // The effective deadline: the caller's, bounded by arrival + max_deadline.
  absl::Time deadline = absl::InfiniteFuture();
};

// Makes `state` findable from `ctx` until WithdrawCall(ctx, state). A later publication for the same
// context replaces an earlier one.
void PublishCall(const grpc::ServerContextBase* ctx, const CallState* state);
// Removes the entry for `ctx` if it still points to `state`.
void WithdrawCall(const grpc::ServerContextBase* ctx, const CallState* state);
// Returns the state published for `ctx`, or nullptr. Valid while the call lives.
const CallState* FindCall(const grpc::ServerContextBase& ctx);

}  // namespace crm::rpc::internal

#endif  // CRM_LIBS_RPC_INTERNAL_CALL_STATE_H_
