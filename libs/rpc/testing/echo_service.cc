#include "libs/rpc/testing/echo_service.h"

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/log/log.h"
#include "libs/rpc/call.h"
#include "libs/rpc/client.h"

namespace crm::rpc::testing {
namespace {

using crm::testing::v1::AppendRequest;
using crm::testing::v1::AppendResponse;
using crm::testing::v1::EchoRequest;
using crm::testing::v1::EchoResponse;
using crm::testing::v1::PutRequest;
using crm::testing::v1::PutResponse;
using crm::testing::v1::SlowRequest;
using crm::testing::v1::SlowResponse;

absl::Status Unavailable(int attempt) {
  return absl::UnavailableError(absl::StrCat("failing attempt ", attempt, " on purpose"));
}

}  // namespace

int EchoServiceImpl::Attempt(std::string_view method, std::string_view key) {
  absl::MutexLock lock(&mu_);
  return ++attempts_[absl::StrCat(AsAbsl(method), "/", AsAbsl(key))];
}

int EchoServiceImpl::BodyRuns(std::string_view method) const {
  absl::MutexLock lock(&mu_);
  auto it = runs_.find(AsAbsl(method));
  return it == runs_.end() ? 0 : it->second;
}

grpc::Status EchoServiceImpl::Echo(grpc::ServerContext* ctx, const EchoRequest* request,
                                   EchoResponse* response) {
  return Handle(*ctx, [&]() -> absl::Status {
    {
      absl::MutexLock lock(&mu_);
      ++runs_["Echo"];
    }
    const int attempt = Attempt("Echo", request->key());
    log::Info("echo", {{"text", request->text()}, {"attempt", attempt}});
    if (attempt <= request->unavailable_attempts()) return Unavailable(attempt);
    response->set_text(request->text());
    response->set_request_id(RequestId(*ctx));
    response->set_attempts(attempt);
    absl::StatusOr<crm::common::v1::Principal> caller = Caller(*ctx);
    if (caller.ok()) {
      *response->mutable_caller() = *caller;
    } else {
      response->set_caller_error(std::string(caller.status().message()));
    }
    const absl::Time deadline = Deadline(*ctx);
    if (deadline != absl::InfiniteFuture()) response->set_deadline_unix_ms(absl::ToUnixMillis(deadline));
    if (!request->forward_target().empty()) {
      auto stub = crm::testing::v1::EchoService::NewStub(
          grpc::CreateChannel(request->forward_target(), grpc::InsecureChannelCredentials()));
      grpc::ClientContext forward_ctx;
      PrepareClientContext(forward_ctx, absl::Seconds(60), ctx);
      EchoRequest forward;
      forward.set_text(request->text());
      CRM_RETURN_IF_ERROR(FromGrpcStatus(stub->Echo(&forward_ctx, forward, response->mutable_forwarded())));
    }
    return absl::OkStatus();
  });
}

grpc::Status EchoServiceImpl::Put(grpc::ServerContext*, const PutRequest* request, PutResponse* response) {
  // Deliberately without Handle(): see the header.
  {
    absl::MutexLock lock(&mu_);
    ++runs_["Put"];
  }
  const int attempt = Attempt("Put", request->key());
  if (attempt <= request->unavailable_attempts()) return ToGrpcStatus(Unavailable(attempt));
  response->set_attempts(attempt);
  return grpc::Status::OK;
}

grpc::Status EchoServiceImpl::Append(grpc::ServerContext* ctx, const AppendRequest* request,
                                     AppendResponse* response) {
  return Handle(*ctx, [&]() -> absl::Status {
    {
      absl::MutexLock lock(&mu_);
      ++runs_["Append"];
    }
    const int attempt = Attempt("Append", request->key());
    if (attempt <= request->unavailable_attempts()) return Unavailable(attempt);
    response->set_attempts(attempt);
    return absl::OkStatus();
  });
}

grpc::Status EchoServiceImpl::Slow(grpc::ServerContext* ctx, const SlowRequest* request,
                                   grpc::ServerWriter<SlowResponse>* writer) {
  return Handle(*ctx, [&]() -> absl::Status {
    {
      absl::MutexLock lock(&mu_);
      ++runs_["Slow"];
    }
    SlowResponse started;
    started.set_phase(SlowResponse::PHASE_STARTED);
    started.set_text(request->text());
    if (!writer->Write(started)) return absl::CancelledError("client went away");
    log::Info("slow call started", {{"text", request->text()}});
    bool released = false;
    {
      absl::MutexLock lock(&mu_);
      ++slow_running_;
      // The sync API has no cancellation callback: look at IsCancelled() between short waits.
      while (!released_ && !ctx->IsCancelled()) {
        mu_.AwaitWithTimeout(absl::Condition(&released_), absl::Milliseconds(20));
      }
      released = released_;
      --slow_running_;
    }
    if (!released) return absl::CancelledError("cancelled while waiting to be released");
    SlowResponse done;
    done.set_phase(SlowResponse::PHASE_DONE);
    done.set_text(request->text());
    if (!writer->Write(done)) return absl::CancelledError("client went away");
    log::Info("slow call done", {{"text", request->text()}});
    return absl::OkStatus();
  });
}

void EchoServiceImpl::ReleaseSlowCalls() {
  absl::MutexLock lock(&mu_);
  released_ = true;
}

bool EchoServiceImpl::WaitForSlowCalls(int n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto reached = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return slow_running_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

}  // namespace crm::rpc::testing
