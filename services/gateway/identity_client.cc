// File: services/gateway/identity_client.cc
#include "services/gateway/identity_client.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "crm/identity/v1/identity.grpc.pb.h"
#include "libs/auth/service_credential.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/log/log.h"
#include "libs/rpc/call.h"

namespace crm::gateway {

namespace idv1 = crm::identity::v1;

common::v1::Principal GatewayPrincipal() {
  common::v1::Principal p;
  p.set_kind(common::v1::Principal::KIND_SERVICE);
  p.set_service("gateway");
  return p;
}

// Shared by the source and its fetcher thread, so the thread may outlive neither.
struct IdentityJwksSource::State {
  IdentityJwksOptions options;
  std::unique_ptr<idv1::AuthService::Stub> stub;

  absl::Mutex mu;
  std::shared_ptr<const auth::KeySet> keys ABSL_GUARDED_BY(mu);
  absl::Status last_error ABSL_GUARDED_BY(mu) = absl::UnavailableError("signing keys not fetched yet");
  int64_t fetches ABSL_GUARDED_BY(mu) = 0;      // completed fetch attempts
  bool fetch_requested ABSL_GUARDED_BY(mu) = false;
  absl::Time last_start ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::thread thread;

  // One GetSigningKeys call; records its outcome.
  void FetchOnce() {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options.call_timeout));
    // Wait for identity within the deadline instead of failing at once while the channel backs off
    // (identity starting beside the gateway): a token signed meanwhile is not refused for a retry period.
    ctx.set_wait_for_ready(true);
    idv1::GetSigningKeysRequest req;
    idv1::SigningKeys resp;
    grpc::Status s = stub->GetSigningKeys(&ctx, req, &resp);
    absl::StatusOr<auth::KeySet> set =
        s.ok() ? auth::KeySet::FromJwks(resp.jwks_json())
               : absl::StatusOr<auth::KeySet>(absl::UnavailableError(absl::StrCat(
                     "GetSigningKeys failed: ", AsAbsl(s.error_message()))));
    if (set.ok() && set->size() == 0) set = absl::UnavailableError("identity published no keys");
    absl::MutexLock lock(&mu);
    ++fetches;
    if (!set.ok()) {
      last_error = set.status();
      log::Warn("cannot fetch the token-signing keys; keeping the previous ones",
                {{"error", last_error}, {"keys", keys == nullptr ? 0 : keys->size()}});
      return;
    }
    const bool changed = keys == nullptr || keys->ToJwks() != set->ToJwks();
    keys = std::make_shared<const auth::KeySet>(*std::move(set));
    last_error = absl::OkStatus();
    if (changed) log::Info("loaded token-signing keys from identity", {{"keys", keys->size()}});
  }

  void Run() {
    for (;;) {
      {
        absl::MutexLock lock(&mu);
        if (stopping) return;
        last_start = absl::Now();
        fetch_requested = false;
      }
      FetchOnce();
      absl::MutexLock lock(&mu);
      const absl::Duration wait = last_error.ok() ? options.refresh_interval : options.retry_interval;
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return stopping || fetch_requested; };
      mu.AwaitWithTimeout(absl::Condition(&woken), wait);
      if (stopping) return;
    }
  }
};

std::shared_ptr<IdentityJwksSource> IdentityJwksSource::Start(std::shared_ptr<grpc::Channel> channel,
                                                              IdentityJwksOptions options) {
  auto state = std::make_shared<State>();
  state->options = options;
  state->stub = idv1::AuthService::NewStub(std::move(channel));
  State* raw = state.get();
  state->thread = std::thread([raw] { raw->Run(); });
  return std::shared_ptr<IdentityJwksSource>(new IdentityJwksSource(std::move(state)));
}

IdentityJwksSource::~IdentityJwksSource() {
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = true;
  }
  state_->thread.join();
}

absl::StatusOr<std::shared_ptr<const auth::KeySet>> IdentityJwksSource::Keys(absl::Time) {
  absl::MutexLock lock(&state_->mu);
  if (state_->keys == nullptr) return state_->last_error;
  return state_->keys;
}

absl::StatusOr<std::shared_ptr<const auth::KeySet>> IdentityJwksSource::Refresh(absl::Duration wait) {
  State& st = *state_;
  absl::MutexLock lock(&st.mu);
  if (absl::Now() - st.last_start >= st.options.min_refetch_interval) {
    st.fetch_requested = true;
    const int64_t target = st.fetches + 1;
    auto fetched = [&st, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(st.mu) {
      return st.stopping || st.fetches >= target;
    };
    st.mu.AwaitWithTimeout(absl::Condition(&fetched), wait);
  }
  if (st.keys == nullptr) return st.last_error;
  return st.keys;
}

bool IdentityJwksSource::Ready() const {
  absl::MutexLock lock(&state_->mu);
  return state_->keys != nullptr;
}

IdentityApiKeyVerifier::IdentityApiKeyVerifier(std::shared_ptr<grpc::Channel> channel,
                                               auth::SigningKey service_key, absl::Duration call_timeout)
    : channel_(std::move(channel)), service_key_(std::move(service_key)), call_timeout_(call_timeout) {}

absl::StatusOr<common::v1::Principal> IdentityApiKeyVerifier::Verify(std::string_view key,
                                                                     std::string_view request_id) {
  const std::string principal = GatewayPrincipal().SerializeAsString();
  CRM_ASSIGN_OR_RETURN(std::string sig, auth::SignPrincipalBytes(principal, service_key_, absl::Now()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + call_timeout_));
  if (!request_id.empty()) ctx.AddMetadata(rpc::kRequestIdHeader, std::string(request_id));
  ctx.AddMetadata(rpc::kPrincipalHeader, principal);
  ctx.AddMetadata(std::string(auth::kPrincipalSigHeader), sig);
  idv1::VerifyApiKeyRequest req;
  req.set_key(std::string(key));
  common::v1::Principal out;
  grpc::Status s = idv1::AuthService::NewStub(channel_)->VerifyApiKey(&ctx, req, &out);
  if (s.ok()) return out;
  const auto code = static_cast<absl::StatusCode>(s.error_code());
  if (code == absl::StatusCode::kUnauthenticated || code == absl::StatusCode::kInvalidArgument) {
    return absl::UnauthenticatedError(s.error_message());
  }
  return absl::Status(code, s.error_message());
}

// grpc.health.v1.Health/Check through a generic stub (no generated health classes needed): the request
// HealthCheckRequest{service: ""} is empty, and the reply HealthCheckResponse{status: SERVING} is
// field 1 = 1.
struct IdentityHealth::State {
  IdentityHealthOptions options;
  std::unique_ptr<grpc::GenericStub> stub;
  const absl::Time started = absl::Now();

  mutable absl::Mutex mu;
  absl::Time last_ok ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  absl::Status last_error ABSL_GUARDED_BY(mu) = absl::UnavailableError("not checked yet");
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::thread thread;

  absl::Status CheckOnce() {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options.call_timeout));
    grpc::ByteBuffer request, reply;
    grpc::Slice empty("");
    request = grpc::ByteBuffer(&empty, 1);
    grpc::Status status;
    absl::Notification done;
    stub->UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &reply,
                    [&](grpc::Status s) {
                      status = std::move(s);
                      done.Notify();
                    });
    done.WaitForNotification();
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat("health check failed: ", AsAbsl(status.error_message())));
    }
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (reply.Dump(&slices).ok()) {
      for (const grpc::Slice& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    }
    if (bytes != std::string("\x08\x01", 2)) return absl::UnavailableError("identity reports NOT_SERVING");
    return absl::OkStatus();
  }

  void Run() {
    for (;;) {
      absl::Status s = CheckOnce();
      absl::MutexLock lock(&mu);
      if (s.ok()) {
        last_ok = absl::Now();
      } else {
        last_error = s;
      }
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return stopping; };
      mu.AwaitWithTimeout(absl::Condition(&stop), options.interval);
      if (stopping) return;
    }
  }
};

std::unique_ptr<IdentityHealth> IdentityHealth::Start(std::shared_ptr<grpc::Channel> channel,
                                                      IdentityHealthOptions options) {
  auto state = std::make_shared<State>();
  state->options = options;
  state->stub = std::make_unique<grpc::GenericStub>(std::move(channel));
  State* raw = state.get();
  state->thread = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<IdentityHealth>(new IdentityHealth(std::move(state)));
}

IdentityHealth::~IdentityHealth() {
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = true;
  }
  state_->thread.join();
}

absl::Status IdentityHealth::Ready() const {
  absl::MutexLock lock(&state_->mu);
  const absl::Time now = absl::Now();
  if (now - state_->last_ok <= state_->options.max_silence) return absl::OkStatus();
  if (state_->last_ok == absl::InfinitePast()) {
    return absl::UnavailableError(absl::StrCat("identity not reached since start (",
                                               state_->last_error.message(), ")"));
  }
  return absl::UnavailableError(absl::StrCat(
      "identity has not answered a health check for ",
      absl::FormatDuration(absl::Trunc(now - state_->last_ok, absl::Seconds(1))), " (",
      state_->last_error.message(), ")"));
}

}  // namespace crm::gateway
