#include "libs/rpc/internal/interceptor.h"

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/alarm.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics.h"
#include "libs/rpc/input_guard.h"
#include "libs/rpc/internal/call_state.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace crm::rpc::internal {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr int kNumCodes = 17;  // grpc::StatusCode OK .. UNAUTHENTICATED
// Beyond this many distinct methods, calls are counted under grpc_method="unknown": bounds the number
// of series whatever method names clients send.
constexpr size_t kMaxMethods = 1000;

const char* CodeName(int code) {
  static constexpr const char* kNames[kNumCodes] = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  return code >= 0 && code < kNumCodes ? kNames[code] : "UNKNOWN";
}

// The three metric families, registered once per process in crm::metrics::Registry().
struct Families {
  prometheus::Family<prometheus::Counter>& handled;
  prometheus::Family<prometheus::Histogram>& seconds;
  prometheus::Family<prometheus::Gauge>& in_flight;
};

Families& GetFamilies() {
  static auto* const kFamilies = new Families{
      prometheus::BuildCounter()
          .Name("grpc_server_handled_total")
          .Help("RPCs completed on the server, by method and status code.")
          .Register(metrics::Registry()),
      prometheus::BuildHistogram()
          .Name("grpc_server_handling_seconds")
          .Help("Time from the arrival of an RPC to its status, in seconds.")
          .Register(metrics::Registry()),
      prometheus::BuildGauge()
          .Name("grpc_server_calls_in_flight")
          .Help("RPCs that have arrived and not yet completed.")
          .Register(metrics::Registry()),
  };
  return *kFamilies;
}

// One method's metrics; the per-code counters are added on first use (Family::Add is slow).
class MethodMetrics {
 public:
  MethodMetrics(std::string service, std::string grpc_service, std::string grpc_method)
      : labels_{{"service", std::move(service)},
                {"grpc_service", std::move(grpc_service)},
                {"grpc_method", std::move(grpc_method)}},
        seconds_(GetFamilies().seconds.Add(labels_, metrics::LatencyBuckets())),
        in_flight_(GetFamilies().in_flight.Add(labels_)) {
    for (auto& c : handled_) c.store(nullptr, std::memory_order_relaxed);
  }

  prometheus::Gauge& in_flight() { return in_flight_; }
  prometheus::Histogram& seconds() { return seconds_; }

  prometheus::Counter& Handled(int code) {
    if (code < 0 || code >= kNumCodes) code = static_cast<int>(grpc::StatusCode::UNKNOWN);
    prometheus::Counter* c = handled_[code].load(std::memory_order_acquire);
    if (c != nullptr) return *c;
    absl::MutexLock lock(&mu_);
    c = handled_[code].load(std::memory_order_relaxed);
    if (c == nullptr) {
      std::map<std::string, std::string> labels = labels_;
      labels["grpc_code"] = CodeName(code);
      c = &GetFamilies().handled.Add(labels);
      handled_[code].store(c, std::memory_order_release);
    }
    return *c;
  }

 private:
  const std::map<std::string, std::string> labels_;
  prometheus::Histogram& seconds_;
  prometheus::Gauge& in_flight_;
  absl::Mutex mu_;
  std::array<std::atomic<prometheus::Counter*>, kNumCodes> handled_;
};

// Splits "/pkg.Service/Method" into ("pkg.Service", "Method").
std::pair<std::string, std::string> SplitMethod(std::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  size_t slash = path.rfind('/');
  if (path.empty() || slash == std::string_view::npos || slash == 0 || slash + 1 == path.size()) {
    return {"unknown", "unknown"};
  }
  return {std::string(path.substr(0, slash)), std::string(path.substr(slash + 1))};
}

}  // namespace

class ServerCallShared {
 public:
  explicit ServerCallShared(InterceptorOptions options) : options_(std::move(options)) {
    if (options_.clock == nullptr) options_.clock = &SystemClock();
    if (options_.verifier == nullptr) options_.verifier = UnverifiedPrincipals();
  }

  const InterceptorOptions& options() const { return options_; }

  // The metrics of `method` if a call of it has completed before, else nullptr.
  MethodMetrics* Find(absl::string_view method) {
    absl::ReaderMutexLock lock(&mu_);
    auto it = methods_.find(method);
    return it == methods_.end() ? nullptr : it->second.get();
  }

  // The metrics of `method`, added if new (beyond kMaxMethods: Unknown()).
  MethodMetrics& ForMethod(absl::string_view method) {
    absl::MutexLock lock(&mu_);
    auto it = methods_.find(method);
    if (it != methods_.end()) return *it->second;
    if (methods_.size() >= kMaxMethods) return UnknownLocked();
    auto [service, name] = SplitMethod(std::string_view(method.data(), method.size()));
    auto metrics = std::make_unique<MethodMetrics>(options_.service, std::move(service), std::move(name));
    MethodMetrics& ref = *metrics;
    methods_.emplace(std::string(method), std::move(metrics));
    return ref;
  }

  // grpc_service="unknown", grpc_method="unknown": calls of methods the server does not have, so that
  // clients cannot add series by inventing method names.
  MethodMetrics& Unknown() {
    absl::MutexLock lock(&mu_);
    return UnknownLocked();
  }

 private:
  MethodMetrics& UnknownLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (unknown_ == nullptr)
      unknown_ = std::make_unique<MethodMetrics>(options_.service, "unknown", "unknown");
    return *unknown_;
  }

  InterceptorOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<MethodMetrics>> methods_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<MethodMetrics> unknown_ ABSL_GUARDED_BY(mu_);
};

namespace {

// The call a max_deadline alarm may cancel; cleared (under the lock) once the call has its status, so
// a late alarm never touches a finished call.
struct BoundTarget {
  absl::Mutex mu;
  grpc::ServerContextBase* ctx ABSL_GUARDED_BY(mu) = nullptr;
  std::string method;
  std::string request_id;
};

bool UsableRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

class CallInterceptor final : public grpc::experimental::Interceptor {
 public:
  CallInterceptor(std::shared_ptr<ServerCallShared> shared, grpc::experimental::ServerRpcInfo* info)
      : shared_(std::move(shared)),
        ctx_(info->server_context()),
        method_(info->method() != nullptr ? info->method() : ""),
        metrics_(shared_->Find(method_)),
        in_flight_(metrics_ != nullptr ? metrics_ : &shared_->Unknown()),
        start_(std::chrono::steady_clock::now()) {
    in_flight_->in_flight().Increment();
  }

  ~CallInterceptor() override {
    // A call that never sent a status (e.g. dropped while the server stopped) counts as CANCELLED.
    Finish(static_cast<int>(grpc::StatusCode::CANCELLED));
    if (published_) WithdrawCall(ctx_, &state_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* m) override {
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      OnArrival(*m->GetRecvInitialMetadata());
    }
    const bool sending_status = m->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS);
    // UNIMPLEMENTED (no such method) stands: the call was never going to run anything.
    if (sending_status && !state_.rejection.ok() &&
        m->GetSendStatus().error_code() != grpc::StatusCode::UNIMPLEMENTED) {
      m->ModifySendStatus(ToGrpcStatus(state_.rejection));
    }
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA) &&
        !state_.request_id.empty()) {
      // A call failing with no response message goes out as a trailers-only response, which clients
      // need to retry it (gRFC A6); custom initial metadata would prevent that, so the id goes in
      // the trailers then.
      const bool trailers_only = sending_status && !m->GetSendStatus().ok() &&
                                 !m->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE);
      std::multimap<std::string, std::string>* md =
          trailers_only ? m->GetSendTrailingMetadata() : m->GetSendInitialMetadata();
      if (md != nullptr && md->find(kRequestIdHeader) == md->end())
        md->emplace(kRequestIdHeader, state_.request_id);
    }
    if (sending_status) {
      grpc::Status status = m->GetSendStatus();
      LogFailure(status);
      Finish(static_cast<int>(status.error_code()));
    }
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) OnRequest(m->GetRecvMessage());
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA) ||
        m->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      // The sync server calls the handler from inside the last Proceed(): its log lines get the id.
      log::ScopedRequestId request_id(state_.request_id);
      m->Proceed();
      return;
    }
    m->Proceed();
  }

 private:
  // The first request message of a synchronous call of a method with a generated descriptor (every
  // service the suite writes): a request that breaks input_guard.h's rules turns the call away with
  // INVALID_ARGUMENT. Runs on the thread that then calls the handler, before it. The message is the
  // deserialized protobuf request only for the synchronous API (grpc::ServerContext); callback-API
  // services (gRPC's own health service) hand interceptors something else, and are not checked.
  void OnRequest(void* message) {
    if (checked_request_ || message == nullptr || metrics_ == nullptr || !state_.rejection.ok()) return;
    if (dynamic_cast<grpc::ServerContext*>(ctx_) == nullptr) return;
    checked_request_ = true;
    state_.rejection = CheckRequest(*static_cast<const google::protobuf::Message*>(message));
  }

  void OnArrival(const std::multimap<grpc::string_ref, grpc::string_ref>& md) {
    if (arrived_) return;
    arrived_ = true;
    const InterceptorOptions& options = shared_->options();

    auto id = md.find(kRequestIdHeader);
    if (id != md.end() && UsableRequestId(std::string_view(id->second.data(), id->second.size()))) {
      state_.request_id.assign(id->second.data(), id->second.size());
    } else {
      state_.request_id = NewUuidV7();
    }

    const absl::Time now = options.clock->Now();
    const auto raw_deadline = ctx_->deadline();
    const absl::Time deadline = raw_deadline == std::chrono::system_clock::time_point::max()
                                    ? absl::InfiniteFuture()
                                    : absl::FromChrono(raw_deadline);
    const absl::Time bound = now + options.max_deadline;
    state_.deadline = std::min(deadline, bound);
    if (deadline <= now) {
      state_.rejection = absl::DeadlineExceededError(
          absl::StrCat("the call arrived ", absl::FormatDuration(now - deadline), " after its deadline"));
    } else if (deadline > bound) {
      ArmBound(options.max_deadline);
    }

    auto principal = md.find(kPrincipalHeader);
    if (principal != md.end()) {
      state_.raw_principal.assign(principal->second.data(), principal->second.size());
      crm::common::v1::Principal parsed;
      if (!parsed.ParseFromString(state_.raw_principal)) {
        if (state_.rejection.ok()) {
          state_.rejection =
              absl::UnauthenticatedError("malformed caller: x-crm-principal-bin is not a Principal");
        }
      } else if (absl::Status verdict = options.verifier->Verify(*ctx_, state_.raw_principal, parsed);
                 !verdict.ok()) {
        if (state_.rejection.ok()) {
          state_.rejection =
              absl::UnauthenticatedError(absl::StrCat("caller not accepted: ", verdict.message()));
        }
      } else {
        state_.principal = std::move(parsed);
      }
    }
    PublishCall(ctx_, &state_);
    published_ = true;
  }

  // Cancels the call `after` from now unless it has finished by then.
  void ArmBound(absl::Duration after) {
    bound_ = std::make_shared<BoundTarget>();
    {
      absl::MutexLock lock(&bound_->mu);
      bound_->ctx = ctx_;
    }
    bound_->method = method_;
    bound_->request_id = state_.request_id;
    alarm_ = std::make_unique<grpc::Alarm>();
    alarm_->Set(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(after), [target = bound_,
                                                                                      after](bool fired) {
      if (!fired) return;
      absl::MutexLock lock(&target->mu);
      if (target->ctx == nullptr) return;
      log::ScopedRequestId request_id(target->request_id);
      log::Warn("rpc cancelled at max_deadline", {{"grpc_method", target->method}, {"max_deadline", after}});
      target->ctx->TryCancel();
    });
  }

  void LogFailure(const grpc::Status& status) {
    switch (status.error_code()) {
      case grpc::StatusCode::UNKNOWN:
      case grpc::StatusCode::INTERNAL:
      case grpc::StatusCode::DATA_LOSS: {
        log::ScopedRequestId request_id(state_.request_id);
        log::Error("rpc failed", {{"grpc_method", method_},
                                  {"grpc_code", CodeName(status.error_code())},
                                  {"error", status.error_message()}});
        break;
      }
      default:
        break;
    }
  }

  void Finish(int code) {
    if (finished_.exchange(true)) return;
    if (bound_ != nullptr) {
      absl::MutexLock lock(&bound_->mu);
      bound_->ctx = nullptr;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    // A method gets its own series once a call of it ends other than UNIMPLEMENTED, i.e. it exists.
    MethodMetrics* metrics = metrics_;
    if (metrics == nullptr) {
      metrics = code == static_cast<int>(grpc::StatusCode::UNIMPLEMENTED) ? &shared_->Unknown()
                                                                          : &shared_->ForMethod(method_);
    }
    metrics->Handled(code).Increment();
    metrics->seconds().Observe(seconds);
    in_flight_->in_flight().Decrement();
  }

  const std::shared_ptr<ServerCallShared> shared_;
  grpc::ServerContextBase* const ctx_;
  const std::string method_;
  MethodMetrics* const metrics_;    // nullptr until the method has completed a call once
  MethodMetrics* const in_flight_;  // whose gauge this call incremented
  const std::chrono::steady_clock::time_point start_;
  CallState state_;
  bool arrived_ = false;
  bool checked_request_ = false;
  bool published_ = false;
  std::atomic<bool> finished_{false};
  std::shared_ptr<BoundTarget> bound_;
  std::unique_ptr<grpc::Alarm> alarm_;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(std::shared_ptr<ServerCallShared> shared) : shared_(std::move(shared)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new CallInterceptor(shared_, info);
  }

 private:
  std::shared_ptr<ServerCallShared> shared_;
};

}  // namespace

std::shared_ptr<ServerCallShared> NewServerCallShared(InterceptorOptions options) {
  return std::make_shared<ServerCallShared>(std::move(options));
}

void DeclareMethod(ServerCallShared& shared, std::string_view method_path) {
  shared.ForMethod(absl::string_view(method_path.data(), method_path.size()));
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewServerInterceptorFactory(
    std::shared_ptr<ServerCallShared> shared) {
  return std::make_unique<Factory>(std::move(shared));
}

}  // namespace crm::rpc::internal
