// File: services/gateway/gateway.cc
#include "services/gateway/gateway.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <cmath>
#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "libs/auth/service_credential.h"
#include "libs/base/strings.h"
#include "libs/log/log.h"
#include "services/gateway/edge/errors.h"
#include "services/gateway/edge/ratelimit.h"
#include "services/gateway/transcode/descriptor_set.h"
#include "services/gateway/transcode/router.h"
#include "services/gateway/transcode/transcode.h"

namespace crm::gateway {
namespace {

// What a client is told about a failed backend call. Transport and server failures (UNAVAILABLE,
// DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, DATA_LOSS) carry addresses and stack details meant for
// operators: those are logged, and the client gets the code with a plain message naming the service.
absl::Status ForClient(const absl::Status& s, const google::protobuf::MethodDescriptor& method) {
  const char* what = nullptr;
  switch (s.code()) {
    case absl::StatusCode::kUnavailable: what = "is unavailable; try again"; break;
    case absl::StatusCode::kDeadlineExceeded: what = "did not answer in time"; break;
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss: what = "failed"; break;
    default: return s;
  }
  log::Warn("backend call failed", {{"method", method.full_name()}, {"error", s}});
  return absl::Status(s.code(), absl::StrCat("the ", method.service()->full_name(), " service ", what));
}

using google::protobuf::internal::WireFormatLite;

// Reads the Any messages (field 3) of a serialized google.rpc.Status and returns the values of those
// whose type URL is kBadRequestTypeUrl. Malformed input yields what was read before the fault.
std::vector<std::string> BadRequestDetails(const std::string& status_bytes) {
  std::vector<std::string> out;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(status_bytes.data()),
                                            static_cast<int>(status_bytes.size()));
  while (uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == 3 &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      std::string any;
      if (!WireFormatLite::ReadBytes(&in, &any)) break;
      google::protobuf::io::CodedInputStream a(reinterpret_cast<const uint8_t*>(any.data()),
                                               static_cast<int>(any.size()));
      std::string type_url, value;
      while (uint32_t t = a.ReadTag()) {
        const int field = WireFormatLite::GetTagFieldNumber(t);
        if (field == 1 && WireFormatLite::GetTagWireType(t) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
          if (!WireFormatLite::ReadBytes(&a, &type_url)) break;
        } else if (field == 2 &&
                   WireFormatLite::GetTagWireType(t) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
          if (!WireFormatLite::ReadBytes(&a, &value)) break;
        } else if (!WireFormatLite::SkipField(&a, t)) {
          break;
        }
      }
      if (type_url == kBadRequestTypeUrl) out.push_back(std::move(value));
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      break;
    }
  }
  return out;
}

// The absl::Status for a failed backend call: same code and message, field violations as payload.
absl::Status FromGrpc(const grpc::Status& s) {
  absl::Status out(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  if (!s.error_details().empty()) {
    absl::Cord all;
    for (const std::string& v : BadRequestDetails(s.error_details())) all.Append(v);
    if (!all.empty()) out.SetPayload(kBadRequestTypeUrl, all);
  }
  return out;
}

std::string ToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

}  // namespace

std::string BackendSettingName(std::string_view service) {
  std::vector<absl::string_view> parts = absl::StrSplit(AsAbsl(service), '.');
  if (parts.size() < 3) return "";
  return absl::StrCat(absl::AsciiStrToUpper(parts[1]), "_ADDRESS");
}

std::optional<absl::Duration> ParseGrpcTimeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  int64_t n = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  switch (value.back()) {
    case 'H': return absl::Hours(n);
    case 'M': return absl::Minutes(n);
    case 'S': return absl::Seconds(n);
    case 'm': return absl::Milliseconds(n);
    case 'u': return absl::Microseconds(n);
    case 'n': return absl::Nanoseconds(n);
    default: return std::nullopt;
  }
}

struct Gateway::Impl {
  GatewayOptions options;
  google::protobuf::DescriptorPool pool;
  std::vector<std::string> services;
  std::optional<Router> router;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<RateLimiter> per_user;
  // Service full name → stub on the cached channel of its address (absent: no backend configured).
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::GenericStub>> stubs;

  HttpResponse Handle(HttpCall& call);
  absl::StatusOr<std::string> Forward(HttpCall& call, const RouteMatch& m, std::string request,
                                      const std::optional<common::v1::Principal>& principal);
};

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;

const std::vector<std::string>& Gateway::services() const { return impl_->services; }

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(GatewayOptions options) {
  if (options.descriptor_sets.empty()) return absl::InvalidArgumentError("no descriptor sets given");
  if (!options.service_key.has_value()) return absl::InvalidArgumentError("no service key given");
  if (options.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("call timeout must be positive");
  }
  if (options.clock == nullptr) options.clock = &SystemClock();
  if (options.auth.clock == nullptr) options.auth.clock = options.clock;
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  GatewayOptions& o = impl->options;
  absl::StatusOr<std::vector<std::string>> services = LoadDescriptorSetFiles(o.descriptor_sets, &impl->pool);
  if (!services.ok()) return services.status();
  impl->services = *std::move(services);
  if (impl->services.empty()) return absl::InvalidArgumentError("the descriptor sets define no service");
  absl::StatusOr<Router> router = Router::Build(impl->pool, impl->services);
  if (!router.ok()) return router.status();
  impl->router.emplace(*std::move(router));
  absl::StatusOr<std::unique_ptr<Authenticator>> auth = Authenticator::Create(o.auth);
  if (!auth.ok()) return auth.status();
  impl->auth = *std::move(auth);
  if (o.per_user_rate > 0) {
    if (o.per_user_burst <= 0) o.per_user_burst = o.per_user_rate;
    impl->per_user = std::make_unique<RateLimiter>(o.per_user_rate, o.per_user_burst, *o.clock,
                                                   std::max<size_t>(1, o.per_user_max_keys));
  }
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::GenericStub>> by_address;
  for (const std::string& service : impl->services) {
    std::string address = o.backend_for ? o.backend_for(service) : "";
    if (address.empty()) {
      log::Warn("no backend address for service; its routes answer 503",
                {{"service", service}, {"setting", BackendSettingName(service)}});
      continue;
    }
    std::shared_ptr<grpc::GenericStub>& stub = by_address[address];
    if (stub == nullptr) {
      stub = std::make_shared<grpc::GenericStub>(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    }
    impl->stubs[service] = stub;
    log::Info("routing service", {{"service", service}, {"backend", address}});
  }
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

HttpResponse Gateway::Handle(HttpCall& call) {
  try {
    return impl_->Handle(call);
  } catch (const std::exception& e) {
    log::Error("gateway handler failed", {{"error", e.what()}});
    return HttpResponse::FromStatus(absl::InternalError("internal error"), call.request().request_id);
  }
}

HttpResponse Gateway::Impl::Handle(HttpCall& call) {
  const HttpRequest& req = call.request();
  absl::StatusOr<RouteMatch> m = router->Match(req.method, req.path);
  if (!m.ok()) {
    if (IsMethodNotAllowed(m.status())) {
      const absl::Status s(absl::StatusCode::kFailedPrecondition,
                           absl::StrCat("method ", AsAbsl(req.method), " is not allowed on this path"));
      HttpResponse r = HttpResponse::Json(405, ErrorBody(s, req.request_id, 405));
      r.headers.emplace_back("Allow", AllowedMethods(m.status()));
      return r;
    }
    if (m.status().code() == absl::StatusCode::kNotFound) {
      return HttpResponse::FromStatus(absl::NotFoundError("no route for this path"), req.request_id);
    }
    return HttpResponse::FromStatus(m.status(), req.request_id);
  }
  call.SetRoute(m->route->path.ToString());
  const std::string method = m->method->full_name();

  absl::StatusOr<std::optional<common::v1::Principal>> principal =
      auth->Authenticate(method, req.Header("Authorization"));
  if (!principal.ok()) return HttpResponse::FromStatus(principal.status(), req.request_id);

  if (per_user != nullptr && principal->has_value()) {
    const common::v1::Principal& p = **principal;
    const std::string key = p.id().empty() ? absl::StrCat("service:", p.service()) : p.id();
    RateLimiter::Decision d = per_user->Take(key);
    if (!d.allowed) {
      HttpResponse r = HttpResponse::FromStatus(absl::ResourceExhaustedError("too many requests"),
                                                req.request_id);
      const int64_t secs = d.retry_after == absl::InfiniteDuration()
                               ? 3600
                               : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(
                                                          absl::ToDoubleSeconds(d.retry_after))));
      r.headers.emplace_back("Retry-After", std::to_string(secs));
      return r;
    }
  }

  absl::StatusOr<std::string> request = BuildRequest(*m, req.body, req.query);
  if (!request.ok()) return HttpResponse::FromStatus(request.status(), req.request_id);
  absl::StatusOr<std::string> reply = Forward(call, *m, *std::move(request), *principal);
  if (!reply.ok()) return HttpResponse::FromStatus(ForClient(reply.status(), *m->method), req.request_id);
  absl::StatusOr<std::string> json = ResponseToJson(*m, *reply);
  if (!json.ok()) {
    log::Error("cannot transcode a backend reply", {{"method", method}, {"error", json.status()}});
    return HttpResponse::FromStatus(json.status(), req.request_id);
  }
  return HttpResponse::Json(200, *std::move(json));
}

absl::StatusOr<std::string> Gateway::Impl::Forward(
    HttpCall& call, const RouteMatch& m, std::string request,
    const std::optional<common::v1::Principal>& principal) {
  const HttpRequest& req = call.request();
  const std::string& service = m.method->service()->full_name();
  auto it = stubs.find(service);
  if (it == stubs.end()) {
    return absl::UnavailableError(absl::StrCat("no backend configured for ", service));
  }
  const absl::Time now = options.clock->Now();
  absl::Duration timeout = options.call_timeout;
  if (std::optional<std::string_view> h = req.Header("Grpc-Timeout"); h.has_value()) {
    std::optional<absl::Duration> t = ParseGrpcTimeout(*h);
    if (!t.has_value()) return absl::InvalidArgumentError("malformed Grpc-Timeout header");
    timeout = std::min(timeout, *t);
  }
  // The edge's own deadline is on the wall clock; the call deadline too.
  absl::Time deadline = std::min(absl::Now() + timeout, call.deadline());

  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(deadline));
  ctx.AddMetadata("x-request-id", req.request_id);
  if (req.method == "POST") {
    if (std::optional<std::string_view> k = req.Header("Idempotency-Key"); k.has_value() && !k->empty()) {
      ctx.AddMetadata(kIdempotencyKeyHeader, std::string(*k));
    }
  }
  if (std::optional<std::string_view> e = req.Header("If-Match"); e.has_value() && !e->empty()) {
    ctx.AddMetadata(kIfMatchHeader, std::string(*e));
  }
  if (principal.has_value()) {
    std::string bytes = principal->SerializeAsString();
    absl::StatusOr<std::string> sig = auth::SignPrincipalBytes(bytes, *options.service_key, now);
    if (!sig.ok()) return sig.status();
    ctx.AddMetadata("x-crm-principal-bin", bytes);
    ctx.AddMetadata(std::string(auth::kPrincipalSigHeader), *sig);
  }

  grpc::Slice slice(request);
  grpc::ByteBuffer send(&slice, 1);
  grpc::ByteBuffer receive;
  grpc::Status status;
  absl::Notification done;
  const std::string path = absl::StrCat("/", service, "/", m.method->name());
  it->second->UnaryCall(&ctx, path, grpc::StubOptions(), &send, &receive, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  if (!status.ok()) {
    absl::Status s = FromGrpc(status);
    log::Info("backend call failed", {{"method", path}, {"error", s}});
    return s;
  }
  return ToString(receive);
}

}  // namespace crm::gateway
