// File: services/gateway/gateway.cc
#include "services/gateway/gateway.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "libs/auth/service_credential.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/log/log.h"
#include "libs/rpc/call.h"
#include "services/gateway/edge/errors.h"
#include "services/gateway/identity_client.h"
#include "services/gateway/edge/ratelimit.h"
#include "services/gateway/transcode/descriptor_set.h"
#include "services/gateway/transcode/http_body.h"
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

// The int64 `version` field of `type`, or nullptr.
const google::protobuf::FieldDescriptor* VersionField(const google::protobuf::Descriptor* type) {
  if (type == nullptr) return nullptr;
  const google::protobuf::FieldDescriptor* f = type->FindFieldByName("version");
  if (f == nullptr || f->is_repeated() || f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_INT64 ||
      f->type() != google::protobuf::FieldDescriptor::TYPE_INT64) {
    return nullptr;
  }
  return f;
}

// Returns the version an If-Match header names: `"7"`, `W/"7"` or `7`; nullopt for `*` (any version).
absl::StatusOr<std::optional<int64_t>> ParseIfMatch(std::string_view value) {
  absl::string_view v = absl::StripAsciiWhitespace(AsAbsl(value));
  if (v == "*") return std::optional<int64_t>();
  if (absl::StartsWith(v, "W/")) v.remove_prefix(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  int64_t n = 0;
  if (!absl::SimpleAtoi(v, &n) || n <= 0) {
    return absl::InvalidArgumentError("If-Match must be an ETag this API returned, such as \"3\"");
  }
  return std::optional<int64_t>(n);
}

// Appends `version` to the serialized request of `m` so that parsing sets it: into the message field
// named by the binding's body when that message has an int64 `version`, else the request's own
// `version`. (Protobuf parsing merges repeated occurrences of a message field and lets the last
// occurrence of a scalar win.) InvalidArgument when the method has no version to set.
absl::Status SetRequestVersion(const RouteMatch& m, int64_t version, std::string& request) {
  const google::protobuf::Descriptor* input = m.method->input_type();
  const std::string& body = m.route->binding.body();
  const google::protobuf::FieldDescriptor* holder = nullptr;
  const google::protobuf::FieldDescriptor* field = nullptr;
  if (!body.empty() && body != "*") {
    holder = input->FindFieldByName(body);
    if (holder != nullptr && holder->message_type() != nullptr && !holder->is_repeated()) {
      field = VersionField(holder->message_type());
    }
    if (field == nullptr) holder = nullptr;
  }
  if (field == nullptr) field = VersionField(input);
  if (field == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("If-Match is not supported by ", m.method->full_name(), ": it carries no version"));
  }
  std::string inner;
  {
    google::protobuf::io::StringOutputStream out(holder != nullptr ? &inner : &request);
    google::protobuf::io::CodedOutputStream coded(&out);
    WireFormatLite::WriteInt64(field->number(), version, &coded);
  }
  if (holder != nullptr) {
    google::protobuf::io::StringOutputStream out(&request);
    google::protobuf::io::CodedOutputStream coded(&out);
    WireFormatLite::WriteBytes(holder->number(), inner, &coded);
  }
  return absl::OkStatus();
}

// The value of the top-level int64 `version` field of a serialized reply of `m`, or 0.
int64_t ReplyVersion(const RouteMatch& m, const std::string& reply) {
  if (!m.route->binding.response_body().empty()) return 0;
  const google::protobuf::FieldDescriptor* f = VersionField(m.method->output_type());
  if (f == nullptr) return 0;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(reply.data()),
                                            static_cast<int>(reply.size()));
  int64_t version = 0;
  while (uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == f->number() &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT) {
      uint64_t v = 0;
      if (!in.ReadVarint64(&v)) return 0;
      version = static_cast<int64_t>(v);
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return 0;
    }
  }
  return version;
}

// The answer of a method that replies with a google.api.HttpBody (transcode/http_body.h): 200, its
// Content-Type, its bytes. Content-Length and `X-Content-Type-Options: nosniff` (no browser may sniff the
// bytes into, say, HTML) come from the edge, as on every answer. No Cache-Control of its own: the edge's
// `no-store` (+ `Pragma: no-cache`) stays. The suite's one such reply is an operator's personal QR code
// (T7), whose deep link refers clients to that operator: neither a browser's store nor a shared cache
// may keep it (`no-store` already says all `private` would), and it is cheap to draw again.
HttpResponse RawAnswer(RawBody raw) {
  HttpResponse r;
  r.headers.emplace_back("Content-Type", std::move(raw.content_type));
  r.body = std::move(raw.data);
  return r;
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
  std::string openapi_json;
  std::unique_ptr<StreamHub> stream;
  // Service full name → stub on the cached channel of its address (absent: no backend configured).
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::GenericStub>> stubs;

  // Signatures of forwarded principals, reused for a few seconds (an Ed25519 signature per request
  // would be the gateway's largest cost): principal bytes → (x-crm-principal-sig, signed at).
  absl::Mutex sig_mu;
  absl::flat_hash_map<std::string, std::pair<std::string, absl::Time>> signatures ABSL_GUARDED_BY(sig_mu);

  HttpResponse Handle(HttpCall& call);
  HttpResponse Stream(HttpCall& call);
  // 429 with Retry-After when `p` has used up its requests, else nullopt.
  std::optional<HttpResponse> Throttle(const common::v1::Principal& p, std::string_view request_id);
  absl::StatusOr<std::string> Sign(const std::string& principal_bytes, absl::Time now);
  absl::StatusOr<std::string> Forward(HttpCall& call, const RouteMatch& m, std::string request,
                                      const std::optional<common::v1::Principal>& principal);
};

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;

const std::vector<std::string>& Gateway::services() const { return impl_->services; }

bool Gateway::Ready() const { return impl_->stream == nullptr || impl_->stream->Ready(); }

void Gateway::Stop() {
  if (impl_->stream != nullptr) impl_->stream->Stop();
}

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
  // Webhooks are public (webhooks.h): the one place that says so.
  for (const Webhook& w : o.webhooks) {
    if (std::find(o.auth.public_methods.begin(), o.auth.public_methods.end(), w.method) == o.auth.public_methods.end()) {
      o.auth.public_methods.push_back(w.method);
    }
  }
  OpenApiOptions openapi = o.openapi;
  openapi.public_methods = o.auth.public_methods;
  absl::StatusOr<std::string> doc = BuildOpenApiJson(*impl->router, openapi);
  if (!doc.ok()) return doc.status();
  impl->openapi_json = *std::move(doc);
  if (o.stream.has_value()) {
    StreamOptions so = *o.stream;
    so.pool = &impl->pool;
    if (so.clock == nullptr) so.clock = o.clock;
    absl::StatusOr<std::unique_ptr<StreamHub>> hub = StreamHub::Start(std::move(so));
    if (!hub.ok()) return hub.status();
    impl->stream = *std::move(hub);
  }
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

// The method name the live stream is authorised as (not public: it needs a caller).
constexpr char kStreamMethod[] = "crm.gateway.Stream";

std::optional<HttpResponse> Gateway::Impl::Throttle(const common::v1::Principal& p,
                                                    std::string_view request_id) {
  if (per_user == nullptr) return std::nullopt;
  const std::string key = p.id().empty() ? absl::StrCat("service:", p.service()) : p.id();
  RateLimiter::Decision d = per_user->Take(key);
  if (d.allowed) return std::nullopt;
  return HttpResponse::FromStatus(WithRetryDelay(absl::ResourceExhaustedError("too many requests"), d.retry_after),
                                  request_id);
}

namespace {
// The 401 for a refused credential, with the RFC 6750 challenge that says why (auth.h).
HttpResponse Unauthorized(const absl::Status& refused, std::string_view request_id) {
  HttpResponse r = HttpResponse::FromStatus(refused, request_id);
  if (refused.code() != absl::StatusCode::kUnauthenticated) return r;
  for (auto& [name, value] : r.headers) {
    if (name == "WWW-Authenticate") value = WwwAuthenticate(refused);
  }
  return r;
}
}  // namespace

HttpResponse Gateway::Impl::Stream(HttpCall& call) {
  const HttpRequest& req = call.request();
  call.SetRoute("/v1/stream");
  if (stream == nullptr) {
    return HttpResponse::FromStatus(absl::UnavailableError("the live stream is not configured"), req.request_id);
  }
  std::optional<std::string> bearer;
  for (const auto& [name, value] : req.query) {
    if (name == "access_token" && !value.empty()) bearer = absl::StrCat("Bearer ", AsAbsl(value));
  }
  std::optional<std::string_view> authorization = req.Header("Authorization");
  if (!authorization.has_value() && bearer.has_value()) authorization = *bearer;
  absl::StatusOr<std::optional<common::v1::Principal>> who = auth->Authenticate(
      kStreamMethod, {.authorization = authorization, .api_key = req.Header("X-Api-Key"),
                      .request_id = req.request_id});
  if (!who.ok()) return Unauthorized(who.status(), req.request_id);
  if (std::optional<HttpResponse> refused = Throttle(**who, req.request_id)) return *std::move(refused);
  SseStream& sse = call.StartSse();
  stream->Serve(sse, **who, sse.LastEventId(), ParseTypePrefixes(req));
  return {};
}

HttpResponse Gateway::Impl::Handle(HttpCall& call) {
  const HttpRequest& req = call.request();
  if (req.method == "GET" && req.path == "/openapi.json") {
    call.SetRoute("/openapi.json");
    HttpResponse r = HttpResponse::Json(200, openapi_json);
    r.headers.emplace_back("Cache-Control", "public, max-age=300");
    return r;
  }
  if (req.method == "GET" && req.path == "/v1/stream") return Stream(call);
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

  absl::StatusOr<std::optional<common::v1::Principal>> principal = auth->Authenticate(
      method, {.authorization = req.Header("Authorization"),
               .api_key = req.Header("X-Api-Key"),
               .request_id = req.request_id});
  if (!principal.ok()) return Unauthorized(principal.status(), req.request_id);

  if (principal->has_value()) {
    if (std::optional<HttpResponse> refused = Throttle(**principal, req.request_id)) return *std::move(refused);
  }

  absl::StatusOr<std::string> request =
      BuildRequest(*m, req.body, req.query, {}, req.Header("Content-Type").value_or(""));
  if (!request.ok()) {
    // The transcoder's size limit is a body too large (413), not a rate limit to retry after (429).
    if (request.status().code() == absl::StatusCode::kResourceExhausted) {
      return HttpResponse::Json(413, ErrorBody(request.status(), req.request_id, 413));
    }
    return HttpResponse::FromStatus(request.status(), req.request_id);
  }
  // If-Match: the version the client read; the backend refuses a stale one with ABORTED (→ 412).
  std::optional<int64_t> if_match;
  if (std::optional<std::string_view> h = req.Header("If-Match"); h.has_value()) {
    absl::StatusOr<std::optional<int64_t>> v = ParseIfMatch(*h);
    if (!v.ok()) return HttpResponse::FromStatus(v.status(), req.request_id);
    if_match = *v;
    if (if_match.has_value()) {
      if (absl::Status s = SetRequestVersion(*m, *if_match, *request); !s.ok()) {
        return HttpResponse::FromStatus(s, req.request_id);
      }
    }
  }
  absl::StatusOr<std::string> reply = Forward(call, *m, *std::move(request), *principal);
  if (!reply.ok()) {
    const absl::Status s = ForClient(reply.status(), *m->method);
    if (if_match.has_value() && s.code() == absl::StatusCode::kAborted) {
      HttpResponse r = HttpResponse::FromStatus(s, req.request_id);
      r.status = 412;  // Precondition Failed: the resource changed since the client read it
      r.body = ErrorBody(s, req.request_id, 412);
      return r;
    }
    return HttpResponse::FromStatus(s, req.request_id);
  }
  if (AnswersHttpBody(*m->method, m->route->binding)) {
    absl::StatusOr<RawBody> raw = HttpBodyReply(*m, *reply);
    if (!raw.ok()) {
      log::Error("cannot answer a backend's HttpBody", {{"method", method}, {"error", raw.status()}});
      return HttpResponse::FromStatus(raw.status(), req.request_id);
    }
    return RawAnswer(*std::move(raw));
  }
  absl::StatusOr<std::string> json = ResponseToJson(*m, *reply);
  if (!json.ok()) {
    log::Error("cannot transcode a backend reply", {{"method", method}, {"error", json.status()}});
    return HttpResponse::FromStatus(json.status(), req.request_id);
  }
  HttpResponse r = HttpResponse::Json(200, *std::move(json));
  if (const int64_t version = ReplyVersion(*m, *reply); version > 0) {
    r.headers.emplace_back("ETag", absl::StrCat("\"", version, "\""));
  }
  return r;
}

// How long one principal signature is reused: well inside the backends' accepted age (minutes), so a
// reused signature is as good as a fresh one.
constexpr absl::Duration kSignatureReuse = absl::Seconds(5);
constexpr size_t kMaxCachedSignatures = 10'000;

absl::StatusOr<std::string> Gateway::Impl::Sign(const std::string& principal_bytes, absl::Time now) {
  {
    absl::MutexLock lock(&sig_mu);
    auto it = signatures.find(principal_bytes);
    if (it != signatures.end() && now >= it->second.second && now - it->second.second < kSignatureReuse) {
      return it->second.first;
    }
  }
  absl::StatusOr<std::string> sig = auth::SignPrincipalBytes(principal_bytes, *options.service_key, now);
  if (!sig.ok()) return sig.status();
  absl::MutexLock lock(&sig_mu);
  if (signatures.size() >= kMaxCachedSignatures) signatures.clear();
  signatures.insert_or_assign(principal_bytes, std::make_pair(*sig, now));
  return sig;
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
      ctx.AddMetadata(rpc::kIdempotencyKeyHeader, std::string(*k));
    }
  }
  // A bulk import asks for its changes to be made with automation skipped. The automation depth is
  // never taken from a client (only services set it): an X-Automation-Depth header is not forwarded.
  if (std::optional<std::string_view> skip = req.Header("X-Skip-Automation"); skip.has_value()) {
    const absl::string_view v = absl::StripAsciiWhitespace(AsAbsl(*skip));
    if (v == "1" || absl::EqualsIgnoreCase(v, "true")) ctx.AddMetadata(rpc::kSkipAutomationHeader, "true");
  }
  ctx.AddMetadata(kClientIpHeader, req.remote_ip);
  // A webhook's secret header, for that method only (webhooks.h).
  for (const Webhook& w : options.webhooks) {
    if (w.method != m.method->full_name()) continue;
    std::optional<std::string_view> v = req.Header(w.header);
    if (v.has_value() && !v->empty() && v->size() <= kMaxWebhookHeaderBytes &&
        std::all_of(v->begin(), v->end(), [](char c) { return c >= 0x20 && c <= 0x7e; })) {
      ctx.AddMetadata(absl::AsciiStrToLower(w.header), std::string(*v));
    }
  }
  // Callers who are not signed in (sign-in itself) reach backends as the gateway's own principal, so a
  // backend can tell the gateway's calls (and the client address it vouches for) from anyone else's.
  const std::string bytes =
      principal.has_value() ? principal->SerializeAsString() : GatewayPrincipal().SerializeAsString();
  absl::StatusOr<std::string> sig = Sign(bytes, now);
  if (!sig.ok()) return sig.status();
  ctx.AddMetadata(rpc::kPrincipalHeader, bytes);
  ctx.AddMetadata(std::string(auth::kPrincipalSigHeader), *sig);

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
    // Field violations come through FromGrpcStatus; a retry hint (identity's throttled sign-in) too.
    absl::Status s = FromGrpcStatus(status);
    log::Info("backend call failed", {{"method", path}, {"error", s}});
    return s;
  }
  return ToString(receive);
}

}  // namespace crm::gateway
