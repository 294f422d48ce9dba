#include "libs/rpc/call.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/log/log.h"
#include "libs/rpc/internal/call_state.h"

namespace crm::rpc {
namespace internal {
namespace {

// A sharded table: each call publishes and withdraws once, handlers look up a few times.
class CallTable {
 public:
  void Publish(const grpc::ServerContextBase* ctx, const CallState* state) {
    Shard& s = ShardFor(ctx);
    absl::MutexLock lock(&s.mu);
    s.calls[ctx] = state;
  }
  void Withdraw(const grpc::ServerContextBase* ctx, const CallState* state) {
    Shard& s = ShardFor(ctx);
    absl::MutexLock lock(&s.mu);
    auto it = s.calls.find(ctx);
    if (it != s.calls.end() && it->second == state) s.calls.erase(it);
  }
  const CallState* Find(const grpc::ServerContextBase* ctx) {
    Shard& s = ShardFor(ctx);
    absl::ReaderMutexLock lock(&s.mu);
    auto it = s.calls.find(ctx);
    return it == s.calls.end() ? nullptr : it->second;
  }

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<const grpc::ServerContextBase*, const CallState*> calls ABSL_GUARDED_BY(mu);
  };
  Shard& ShardFor(const grpc::ServerContextBase* ctx) {
    return shards_[(reinterpret_cast<uintptr_t>(ctx) >> 6) % kShards];
  }
  Shard shards_[kShards];
};

CallTable& Table() {
  static auto* const kTable = new CallTable();
  return *kTable;
}

}  // namespace

void PublishCall(const grpc::ServerContextBase* ctx, const CallState* state) { Table().Publish(ctx, state); }
void WithdrawCall(const grpc::ServerContextBase* ctx, const CallState* state) {
  Table().Withdraw(ctx, state);
}
const CallState* FindCall(const grpc::ServerContextBase& ctx) { return Table().Find(&ctx); }

}  // namespace internal

namespace {

// The first value of `key` in the call's metadata, if any.
std::optional<std::string_view> Header(const grpc::ServerContextBase& ctx, std::string_view key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return std::nullopt;
  return std::string_view(it->second.data(), it->second.size());
}

class AcceptAll final : public PrincipalVerifier {
 public:
  absl::Status Verify(const grpc::ServerContextBase&, std::string_view,
                      const crm::common::v1::Principal&) const override {
    return absl::OkStatus();
  }
};

}  // namespace

std::string RequestId(const grpc::ServerContextBase& ctx) {
  if (const internal::CallState* state = internal::FindCall(ctx)) return state->request_id;
  return std::string(Header(ctx, kRequestIdHeader).value_or(""));
}

std::string IdempotencyCaller(const crm::common::v1::Principal& caller) {
  return absl::StrCat(static_cast<int>(caller.kind()), ":", caller.id(), ":", caller.service(), ":",
                      caller.on_behalf_of_user_id());
}

std::string IdempotencyKey(const grpc::ServerContextBase& ctx) {
  return std::string(Header(ctx, kIdempotencyKeyHeader).value_or(""));
}

int AutomationDepth(const grpc::ServerContextBase& ctx) {
  std::optional<std::string_view> raw = Header(ctx, kAutomationDepthHeader);
  if (!raw.has_value() || raw->empty()) return 0;
  int depth = 0;
  for (char c : *raw) {
    if (c < '0' || c > '9') return 0;
    depth = std::min(depth * 10 + (c - '0'), kMaxAutomationDepth + 1);  // bounded: no overflow
  }
  return std::min(depth, kMaxAutomationDepth);
}

bool SkipAutomation(const grpc::ServerContextBase& ctx) {
  std::optional<std::string_view> raw = Header(ctx, kSkipAutomationHeader);
  if (!raw.has_value()) return false;
  return *raw == "1" || absl::EqualsIgnoreCase(AsAbsl(*raw), "true");
}

absl::StatusOr<crm::common::v1::Principal> Caller(const grpc::ServerContextBase& ctx) {
  if (const internal::CallState* state = internal::FindCall(ctx)) {
    if (state->principal.has_value()) return *state->principal;
    if (absl::IsUnauthenticated(state->rejection)) return state->rejection;
    return absl::UnauthenticatedError("the call carries no caller (x-crm-principal-bin)");
  }
  // Not served by crm::rpc::Server: parse the header as sent.
  std::optional<std::string_view> raw = Header(ctx, kPrincipalHeader);
  if (!raw.has_value()) return absl::UnauthenticatedError("the call carries no caller (x-crm-principal-bin)");
  crm::common::v1::Principal principal;
  if (!principal.ParseFromArray(raw->data(), static_cast<int>(raw->size()))) {
    return absl::UnauthenticatedError("malformed caller (x-crm-principal-bin)");
  }
  return principal;
}

bool HasPermission(const crm::common::v1::Principal& principal, std::string_view code) {
  for (const std::string& p : principal.permissions()) {
    if (p == code) return true;
  }
  return false;
}

absl::Status RequirePermission(const crm::common::v1::Principal& principal, std::string_view code) {
  if (HasPermission(principal, code)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("missing permission ", AsAbsl(code)));
}

absl::Status CheckCall(const grpc::ServerContextBase& ctx) {
  if (const internal::CallState* state = internal::FindCall(ctx)) return state->rejection;
  return absl::OkStatus();
}

absl::Time Deadline(const grpc::ServerContextBase& ctx) {
  if (const internal::CallState* state = internal::FindCall(ctx)) return state->deadline;
  auto d = ctx.deadline();
  if (d == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(d);
}

grpc::Status Handle(const grpc::ServerContextBase& ctx, absl::FunctionRef<absl::Status()> body) {
  const internal::CallState* state = internal::FindCall(ctx);
  if (state != nullptr && !state->rejection.ok()) return ToGrpcStatus(state->rejection);
  std::string id = state != nullptr ? state->request_id : RequestId(ctx);
  log::ScopedRequestId request_id(id);
  absl::Status status = body();
  if (std::optional<std::string> shown = PublicMessage(status); shown.has_value()) {
    // A database's or a library's words stay in the log; the client gets plain words and the id to
    // find them by.
    log::Warn("request failed; the client was told less", {{"error", status}});
    absl::Status public_status(status.code(), absl::StrCat(*shown, " (request id ", id, ")"));
    if (std::optional<absl::Duration> delay = RetryDelay(status)) {
      public_status = WithRetryDelay(std::move(public_status), *delay);
    }
    status = std::move(public_status);
  }
  return ToGrpcStatus(status);
}

namespace internal {

grpc::Status HandleWithCaller(const grpc::ServerContextBase& ctx,
                              absl::FunctionRef<absl::Status(const crm::common::v1::Principal&)> body) {
  return Handle(ctx, [&]() -> absl::Status {
    CRM_ASSIGN_OR_RETURN(crm::common::v1::Principal caller, Caller(ctx));
    return body(caller);
  });
}

}  // namespace internal

std::shared_ptr<const PrincipalVerifier> UnverifiedPrincipals() {
  static auto* const kVerifier = new std::shared_ptr<const PrincipalVerifier>(std::make_shared<AcceptAll>());
  return *kVerifier;
}

}  // namespace crm::rpc
