// File: services/gateway/edge/server.cc
// Threading: one io_context run by io_threads threads; each connection is a C++20 coroutine on its own
// strand. Handlers are co_spawn'ed onto an asio::thread_pool and the session resumes on its strand when
// they return. An SSE stream writes through a queue that lives on the connection's strand; Send() posts
// to it and waits for the write to complete.
#include "services/gateway/edge/server.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <deque>
#include <exception>
#include <future>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "services/gateway/edge/errors.h"
#include "services/gateway/edge/ratelimit.h"

namespace crm::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr size_t kMaxRequestIdLength = 128;

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  if (d > absl::Hours(24 * 365)) d = absl::Hours(24 * 365);
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(absl::ToChronoNanoseconds(d));
}

bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char ch : id) {
    if (ch < 0x21 || ch > 0x7e) return false;
  }
  return true;
}

// Decodes a query component: '+' is a space, %XX a byte; a malformed escape is kept literally.
std::string DecodeQueryComponent(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexDigitValue(s[i + 1]) >= 0 && HexDigitValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigitValue(s[i + 1]) * 16 + HexDigitValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(DecodeQueryComponent(part), "");
    } else {
      out.emplace_back(DecodeQueryComponent(part.substr(0, eq)), DecodeQueryComponent(part.substr(eq + 1)));
    }
  }
  return out;
}

// The client address per HttpServerOptions::trusted_proxy_hops: the hops-th X-Forwarded-For entry from
// the right (all such headers joined in order), the leftmost when there are fewer, else the peer.
std::string ClientIp(const std::string& peer, const HttpRequest& req, int hops) {
  if (hops <= 0) return peer;
  std::vector<std::string> entries;
  for (const auto& [k, v] : req.headers) {
    if (!absl::EqualsIgnoreCase(AsAbsl(k), "X-Forwarded-For")) continue;
    for (absl::string_view part : absl::StrSplit(AsAbsl(v), ',')) {
      part = absl::StripAsciiWhitespace(part);
      if (!part.empty()) entries.emplace_back(part);
    }
  }
  if (entries.empty()) return peer;
  size_t n = static_cast<size_t>(hops);
  return n >= entries.size() ? entries.front() : entries[entries.size() - n];
}

std::string_view MethodLabel(std::string_view m) {
  static constexpr std::string_view kKnown[] = {"GET",  "HEAD",    "POST",    "PUT",
                                                "PATCH", "DELETE", "OPTIONS"};
  for (auto k : kKnown) {
    if (m == k) return k;
  }
  return "OTHER";
}

// The two metric families, and a cache of their children (Family::Add is slow).
class HttpMetrics {
 public:
  static HttpMetrics& Get() {
    static auto* m = new HttpMetrics();
    return *m;
  }
  void Observe(std::string_view method, const std::string& route, int status, double seconds) {
    prometheus::Counter* counter;
    prometheus::Histogram* hist;
    {
      absl::MutexLock lock(&mu_);
      std::string key = absl::StrCat(AsAbsl(method), " ", status, " ", route);
      auto it = counters_.find(key);
      if (it == counters_.end()) {
        it = counters_
                 .emplace(key, &requests_.Add({{"method", std::string(method)},
                                               {"route", route},
                                               {"status", std::to_string(status)}}))
                 .first;
      }
      counter = it->second;
      auto hit = hists_.find(route);
      if (hit == hists_.end()) {
        hit = hists_.emplace(route, &duration_.Add({{"route", route}}, prometheus::Histogram::BucketBoundaries(
                                                                            metrics::LatencyBuckets())))
                  .first;
      }
      hist = hit->second;
    }
    counter->Increment();
    hist->Observe(seconds);
  }

 private:
  HttpMetrics()
      : requests_(prometheus::BuildCounter()
                      .Name("http_requests_total")
                      .Help("HTTP requests answered by the gateway edge.")
                      .Register(metrics::Registry())),
        duration_(prometheus::BuildHistogram()
                      .Name("http_request_duration_seconds")
                      .Help("Time from the request's headers to the end of its response, by route.")
                      .Register(metrics::Registry())) {}
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, prometheus::Counter*> counters_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Histogram*> hists_ ABSL_GUARDED_BY(mu_);
};

// Returns the answer to a request head that must not be served, whatever its body (issue 15, request
// smuggling): nullopt when the head is acceptable. Beast has already refused Transfer-Encoding after
// Content-Length, a second Transfer-Encoding "chunked" and Content-Lengths that disagree; this covers
// the rest. The caller closes the connection after answering.
struct Refusal {
  int http_status;
  absl::Status status;
};
std::optional<Refusal> RefuseHead(const http::request_parser<http::string_body>& parser) {
  const auto& msg = parser.get();
  int transfer_encodings = 0, content_lengths = 0, hosts = 0, authorizations = 0, api_keys = 0;
  std::string transfer_encoding;
  for (const auto& f : msg) {
    switch (f.name()) {
      case http::field::transfer_encoding:
        ++transfer_encodings;
        if (!transfer_encoding.empty()) transfer_encoding += ", ";
        transfer_encoding += std::string(f.value());
        break;
      case http::field::content_length: ++content_lengths; break;
      case http::field::host: ++hosts; break;
      case http::field::authorization: ++authorizations; break;
      default:
        if (absl::EqualsIgnoreCase(AsAbsl(std::string_view(f.name_string())), "X-Api-Key")) ++api_keys;
        break;
    }
  }
  auto bad = [](std::string_view why) {
    return Refusal{400, absl::InvalidArgumentError(absl::StrCat("malformed HTTP request: ", AsAbsl(why)))};
  };
  if (transfer_encodings > 0 && content_lengths > 0) {
    return bad("both Transfer-Encoding and Content-Length");
  }
  if (transfer_encodings > 0 &&
      !absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(transfer_encoding), "chunked")) {
    // RFC 9112 §6.1: a server that does not understand a transfer coding answers 501 and closes.
    return Refusal{501, absl::UnimplementedError(absl::StrCat("Transfer-Encoding ", QuoteForError(transfer_encoding),
                                                             " is not implemented; only chunked is"))};
  }
  if (msg.version() >= 11 && hosts == 0) return bad("HTTP/1.1 request without Host");
  if (hosts > 1) return bad("more than one Host header");
  if (authorizations > 1) return bad("more than one Authorization header");
  if (api_keys > 1) return bad("more than one X-Api-Key header");
  return std::nullopt;
}

// Headers on every response of the edge (issue 15; the README's "Response headers"). A JSON API has no
// reason to be framed, sniffed, to leak its URLs, or to load anything.
constexpr std::pair<std::string_view, std::string_view> kSecurityHeaders[] = {
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
};

const char* ReasonFor(int status) {
  switch (status) {
    case 499: return "Client Closed Request";
    case 431: return "Request Header Fields Too Large";
    case 429: return "Too Many Requests";
    default: return nullptr;
  }
}

}  // namespace

std::optional<std::string_view> HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(AsAbsl(k), AsAbsl(name))) return std::string_view(v);
  }
  return std::nullopt;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::FromStatus(const absl::Status& status, std::string_view request_id) {
  HttpResponse r = Json(HttpStatusFromCode(status.code()), ErrorBody(status, request_id));
  if (status.code() == absl::StatusCode::kUnauthenticated) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  if (status.code() == absl::StatusCode::kResourceExhausted) {
    r.headers.emplace_back("Retry-After", std::to_string(RetryAfterSeconds(status)));
  }
  return r;
}

// ---------------------------------------------------------------------------------------------------

struct Connection;
class SseImpl;

struct ServerState {
  HttpServerOptions opts;
  HttpHandler handler;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  tcp::acceptor acceptor{ioc};
  asio::thread_pool pool;
  std::vector<std::thread> io_threads;
  std::unique_ptr<RateLimiter> limiter;
  int port = 0;
  std::atomic<bool> stopping{false};       // Stop() began: no new connections or keep-alive
  std::atomic<bool> hard_stopping{false};  // grace expired: no new handlers
  bool stopped = false;                    // guarded by stop_mu
  absl::Mutex stop_mu;

  absl::Mutex conns_mu;
  absl::flat_hash_map<Connection*, std::shared_ptr<Connection>> conns ABSL_GUARDED_BY(conns_mu);

  explicit ServerState(HttpServerOptions o, HttpHandler h)
      : opts(std::move(o)), handler(std::move(h)), pool(static_cast<size_t>(std::max(opts.worker_threads, 1))) {}

  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Session(std::shared_ptr<Connection> c);
  void ForEachConnection(const std::function<void(const std::shared_ptr<Connection>&)>& fn);
  std::vector<std::pair<std::string, std::string>> CorsHeaders(std::optional<std::string_view> origin) const;
  bool OriginAllowed(std::string_view origin) const;
};

struct HttpServer::Impl : ServerState {
  using ServerState::ServerState;
};

struct Connection {
  explicit Connection(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  std::string remote_ip;
  // Strand-only state.
  bool in_request = false;
  std::weak_ptr<SseImpl> sse;

  void CloseSocket() {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream.socket().close(ec);
  }
};

// The SSE stream of one connection. All socket work happens on the connection's strand.
class SseImpl final : public SseStream, public std::enable_shared_from_this<SseImpl> {
 public:
  SseImpl(std::shared_ptr<Connection> c, ServerState* server, std::string last_event_id)
      : c_(std::move(c)),
        server_(server),
        last_event_id_(std::move(last_event_id)),
        heartbeat_(c_->stream.get_executor()),
        write_timer_(c_->stream.get_executor()) {}

  bool Send(std::string_view id, std::string_view event, std::string_view data) override {
    if (!IsOpen()) return false;
    std::string frame;
    if (!id.empty()) absl::StrAppend(&frame, "id: ", AsAbsl(SingleLine(id)), "\n");
    if (!event.empty()) absl::StrAppend(&frame, "event: ", AsAbsl(SingleLine(event)), "\n");
    std::string_view rest = data;
    do {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      absl::StrAppend(&frame, "data: ", AsAbsl(line), "\n");
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      if (nl == std::string_view::npos) break;
    } while (true);
    frame += '\n';
    return WriteAndWait(std::move(frame));
  }

  bool IsOpen() const override {
    absl::MutexLock lock(&mu_);
    return open_;
  }

  bool WaitClosed(absl::Duration timeout) const override {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](const bool* open) { return !*open; }, &open_),
                         timeout);
    return open_;
  }

  std::string LastEventId() const override { return last_event_id_; }

  // Worker thread: sends the response head and starts heartbeats and disconnect detection.
  bool Begin(std::string head) {
    auto self = shared_from_this();
    asio::post(c_->stream.get_executor(), [self] {
      self->c_->sse = self;
      self->c_->stream.expires_never();
      if (self->server_->stopping.load()) {
        self->Close();
        return;
      }
      self->ReadLoop();
      self->ScheduleHeartbeat();
    });
    return WriteAndWait(std::move(head));
  }

  // Strand: closes the stream and its socket; idempotent.
  void Close() {
    {
      absl::MutexLock lock(&mu_);
      if (!open_) return;
      open_ = false;
    }
    heartbeat_.cancel();
    write_timer_.cancel();
    c_->CloseSocket();
    // The in-flight write (if any) completes with an error and reports itself.
    size_t keep = writing_ ? 1 : 0;
    while (queue_.size() > keep) {
      auto item = std::move(queue_.back());
      queue_.pop_back();
      if (item.done) item.done(false);
    }
  }

  size_t bytes_written() const { return bytes_written_.load(); }

 private:
  struct Item {
    std::string data;
    std::function<void(bool)> done;
  };

  static std::string SingleLine(std::string_view s) {
    std::string out(s);
    for (char& ch : out) {
      if (ch == '\n' || ch == '\r') ch = ' ';
    }
    return out;
  }

  bool WriteAndWait(std::string data) {
    auto promise = std::make_shared<std::promise<bool>>();
    std::future<bool> done = promise->get_future();
    auto self = shared_from_this();
    asio::post(c_->stream.get_executor(), [self, data = std::move(data), promise]() mutable {
      self->Enqueue(std::move(data), [promise](bool ok) { promise->set_value(ok); });
    });
    try {
      return done.get();
    } catch (const std::future_error&) {  // the io_context went away with the write queued
      return false;
    }
  }

  // Strand.
  void Enqueue(std::string data, std::function<void(bool)> done) {
    if (!IsOpen()) {
      if (done) done(false);
      return;
    }
    queue_.push_back(Item{std::move(data), std::move(done)});
    if (!writing_) WriteNext();
  }

  // Strand.
  void WriteNext() {
    writing_ = true;
    auto self = shared_from_this();
    write_timer_.expires_after(ToChrono(server_->opts.request_timeout));
    write_timer_.async_wait([self](beast::error_code ec) {
      if (!ec) self->Close();  // the client stopped reading
    });
    asio::async_write(c_->stream.socket(), asio::buffer(queue_.front().data),
                      [self](beast::error_code ec, size_t n) {
                        self->write_timer_.cancel();
                        self->bytes_written_ += n;
                        self->last_write_ = std::chrono::steady_clock::now();
                        Item item = std::move(self->queue_.front());
                        self->queue_.pop_front();
                        self->writing_ = false;
                        if (ec) self->Close();
                        if (item.done) item.done(!ec);
                        if (!self->queue_.empty() && self->IsOpen()) self->WriteNext();
                      });
  }

  // Strand: a read completes only when the client sends more (ignored) or goes away.
  void ReadLoop() {
    auto self = shared_from_this();
    c_->stream.socket().async_read_some(asio::buffer(read_buf_), [self](beast::error_code ec, size_t) {
      if (ec) {
        self->Close();
      } else {
        self->ReadLoop();
      }
    });
  }

  // Strand.
  // Strand: a heartbeat goes out only after `sse_heartbeat` without any write.
  void ScheduleHeartbeat() {
    auto self = shared_from_this();
    heartbeat_.expires_at(last_write_ + ToChrono(server_->opts.sse_heartbeat));
    heartbeat_.async_wait([self](beast::error_code ec) {
      if (ec || !self->IsOpen()) return;
      const auto interval = ToChrono(self->server_->opts.sse_heartbeat);
      if (self->queue_.empty() && std::chrono::steady_clock::now() - self->last_write_ >= interval) {
        self->last_write_ = std::chrono::steady_clock::now();  // the next one comes an interval later
        self->Enqueue(": heartbeat\n\n", nullptr);
      }
      self->ScheduleHeartbeat();
    });
  }

  std::shared_ptr<Connection> c_;
  ServerState* server_;
  const std::string last_event_id_;
  mutable absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  std::atomic<size_t> bytes_written_{0};
  // Strand-only.
  asio::steady_timer heartbeat_;
  asio::steady_timer write_timer_;
  std::deque<Item> queue_;
  bool writing_ = false;
  std::chrono::steady_clock::time_point last_write_ = std::chrono::steady_clock::now();
  std::array<char, 256> read_buf_;
};

namespace {

class CallImpl final : public HttpCall {
 public:
  CallImpl(HttpRequest req, std::shared_ptr<Connection> c, ServerState* server,
           std::vector<std::pair<std::string, std::string>> cors, absl::Time deadline)
      : req_(std::move(req)), c_(std::move(c)), server_(server), cors_(std::move(cors)), deadline_(deadline) {}

  const HttpRequest& request() const override { return req_; }
  void SetRoute(std::string_view route) override { route_ = std::string(route); }
  absl::Time deadline() const override { return deadline_; }

  SseStream& StartSse() override {
    if (sse_) return *sse_;
    sse_ = std::make_shared<SseImpl>(c_, server_, std::string(req_.Header("Last-Event-ID").value_or("")));
    std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
        "Pragma: no-cache\r\nConnection: close\r\nX-Accel-Buffering: no\r\n";
    for (const auto& [k, v] : kSecurityHeaders) absl::StrAppend(&head, AsAbsl(k), ": ", AsAbsl(v), "\r\n");
    absl::StrAppend(&head, "X-Request-Id: ", AsAbsl(req_.request_id), "\r\n");
    for (const auto& [k, v] : cors_) absl::StrAppend(&head, AsAbsl(k), ": ", AsAbsl(v), "\r\n");
    head += "\r\n";
    sse_->Begin(std::move(head));
    return *sse_;
  }

  HttpRequest& mutable_request() { return req_; }
  const std::string& route() const { return route_; }
  const std::shared_ptr<SseImpl>& sse() const { return sse_; }

 private:
  HttpRequest req_;
  std::shared_ptr<Connection> c_;
  ServerState* server_;
  std::vector<std::pair<std::string, std::string>> cors_;
  absl::Time deadline_;
  std::string route_ = "unmatched";
  std::shared_ptr<SseImpl> sse_;
};

// Runs the handler on a worker thread (the coroutine is spawned on the pool); exceptions become 500.
asio::awaitable<HttpResponse> RunHandler(std::shared_ptr<CallImpl> call, HttpHandler* handler) {
  HttpResponse response;
  {
    log::ScopedRequestId scoped(call->request().request_id);
    try {
      response = (*handler)(*call);
    } catch (const std::exception& e) {
      log::Error("http handler threw", {{"what", e.what()}});
      response = HttpResponse::FromStatus(absl::InternalError("internal error"), call->request().request_id);
    } catch (...) {
      log::Error("http handler threw", {{"what", "unknown exception"}});
      response = HttpResponse::FromStatus(absl::InternalError("internal error"), call->request().request_id);
    }
  }
  co_return response;
}

// What the session writes and logs for one request.
struct Outcome {
  HttpResponse response;
  std::string route;
  bool sse = false;
  size_t sse_bytes = 0;
};

}  // namespace

bool ServerState::OriginAllowed(std::string_view origin) const {
  for (const auto& o : opts.cors.allowed_origins) {
    if (o == "*" || o == origin) return true;
  }
  return false;
}

std::vector<std::pair<std::string, std::string>> ServerState::CorsHeaders(
    std::optional<std::string_view> origin) const {
  std::vector<std::pair<std::string, std::string>> h;
  if (!origin || opts.cors.allowed_origins.empty() || !OriginAllowed(*origin)) return h;
  bool any = std::find(opts.cors.allowed_origins.begin(), opts.cors.allowed_origins.end(), "*") !=
             opts.cors.allowed_origins.end();
  if (any && !opts.cors.allow_credentials) {
    h.emplace_back("Access-Control-Allow-Origin", "*");
  } else {
    h.emplace_back("Access-Control-Allow-Origin", std::string(*origin));
    h.emplace_back("Vary", "Origin");
  }
  if (opts.cors.allow_credentials) h.emplace_back("Access-Control-Allow-Credentials", "true");
  if (!opts.cors.exposed_headers.empty()) {
    h.emplace_back("Access-Control-Expose-Headers", absl::StrJoin(opts.cors.exposed_headers, ", "));
  }
  return h;
}

void ServerState::ForEachConnection(const std::function<void(const std::shared_ptr<Connection>&)>& fn) {
  std::vector<std::shared_ptr<Connection>> all;
  {
    absl::MutexLock lock(&conns_mu);
    for (auto& [k, v] : conns) all.push_back(v);
  }
  for (auto& c : all) fn(c);
}

asio::awaitable<void> ServerState::AcceptLoop() {
  for (;;) {
    beast::error_code ec;
    tcp::socket sock =
        co_await acceptor.async_accept(asio::make_strand(ioc), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopping.load() || ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      log::Warn("http accept failed", {{"error", ec.message()}});
      asio::steady_timer backoff(ioc, std::chrono::milliseconds(50));  // e.g. out of file descriptors
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (stopping.load()) {
      sock.close(ec);
      co_return;
    }
    auto c = std::make_shared<Connection>(std::move(sock));
    auto ep = c->stream.socket().remote_endpoint(ec);
    if (!ec) {
      auto a = ep.address();
      if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
      c->remote_ip = a.to_string();
    }
    {
      absl::MutexLock lock(&conns_mu);
      conns.emplace(c.get(), c);
    }
    asio::co_spawn(c->stream.get_executor(), Session(c), [this, c](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::Error("http connection failed", {{"what", ex.what()}, {"remote_ip", c->remote_ip}});
        } catch (...) {
          log::Error("http connection failed", {{"remote_ip", c->remote_ip}});
        }
      }
      c->CloseSocket();
      absl::MutexLock lock(&conns_mu);
      conns.erase(c.get());
    });
  }
}

asio::awaitable<void> ServerState::Session(std::shared_ptr<Connection> c) {
  beast::flat_buffer buf;
  for (;;) {
    c->in_request = false;
    if (stopping.load()) break;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(std::min<size_t>(opts.max_header_bytes, UINT32_MAX)));
    parser.body_limit(opts.max_body_bytes);
    beast::error_code ec;
    c->stream.expires_after(ToChrono(opts.idle_timeout));
    co_await http::async_read_header(c->stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
    const absl::Time start = absl::Now();
    c->in_request = true;
    std::optional<Refusal> refusal;
    if (!ec) refusal = RefuseHead(parser);
    if (!ec && !refusal) {
      c->stream.expires_after(ToChrono(opts.request_timeout));
      if (absl::EqualsIgnoreCase(AsAbsl(std::string_view(parser.get()[http::field::expect])), "100-continue") &&
          !parser.is_done()) {
        // The client waits for this before sending its body (curl does for large bodies).
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        co_await asio::async_write(c->stream, asio::buffer(kContinue.data(), kContinue.size()),
                                   asio::redirect_error(asio::use_awaitable, ec));
      }
    }
    if (!ec && !refusal) {
      co_await http::async_read(c->stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
    }

    Outcome out;
    out.route = "edge";
    HttpRequest req;
    bool keep_alive = false;
    bool framing_error = false;
    if (ec || refusal) {
      if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
          ec == asio::error::eof || ec == asio::error::bad_descriptor) {
        break;  // the peer left, timed out, or we closed: nothing to answer
      }
      framing_error = true;
      req.request_id = NewUuidV7();
      {
        // Whatever fields were parsed before the error (Beast checks Content-Length against the body
        // limit while reading the fields).
        std::string_view rid(parser.get()["X-Request-Id"]);
        if (ValidRequestId(rid)) req.request_id = std::string(rid);
      }
      req.remote_ip = c->remote_ip;
      absl::Status st;
      int http_status;
      if (refusal) {
        http_status = refusal->http_status;
        st = refusal->status;
      } else if (ec == http::error::header_limit) {
        http_status = 431;
        st = absl::InvalidArgumentError(absl::StrCat("request headers exceed ", opts.max_header_bytes, " bytes"));
      } else if (ec == http::error::body_limit) {
        http_status = 413;
        st = absl::InvalidArgumentError(absl::StrCat("request body exceeds ", opts.max_body_bytes, " bytes"));
      } else {
        http_status = 400;
        st = absl::InvalidArgumentError(absl::StrCat("malformed HTTP request: ", ec.message()));
      }
      out.response = HttpResponse::Json(http_status, ErrorBody(st, req.request_id, http_status));
      {
        req.method = std::string(parser.get().method_string());
        std::string_view target(parser.get().target().data(), parser.get().target().size());
        req.path = std::string(target.substr(0, target.find('?')));
      }
    } else {
      auto& msg = parser.get();
      keep_alive = msg.keep_alive();
      req.method = std::string(msg.method_string());
      std::string_view target(msg.target().data(), msg.target().size());
      size_t q = target.find('?');
      req.path = std::string(target.substr(0, q));
      if (q != std::string_view::npos) {
        req.raw_query = std::string(target.substr(q + 1));
        req.query = ParseQuery(req.raw_query);
      }
      for (const auto& f : msg) {
        req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      }
      req.body = std::move(msg.body());
      req.remote_ip = ClientIp(c->remote_ip, req, opts.trusted_proxy_hops);
      auto rid = req.Header("X-Request-Id");
      req.request_id = rid && ValidRequestId(*rid) ? std::string(*rid) : NewUuidV7();

      auto origin = req.Header("Origin");
      std::vector<std::pair<std::string, std::string>> cors = CorsHeaders(origin);
      const bool is_get = req.method == "GET" || req.method == "HEAD";
      if (is_get && (req.path == "/healthz" || req.path == "/readyz")) {
        absl::Status st = absl::OkStatus();
        if (stopping.load()) {
          st = absl::UnavailableError("server is stopping");
        } else if (req.path == "/readyz" && opts.ready) {
          st = opts.ready();
          if (!st.ok()) st = absl::UnavailableError(absl::StrCat("not ready: ", st.message()));
        }
        out.route = req.path.substr(1);
        out.response = st.ok() ? HttpResponse::Json(200, R"({"status":"ok"})")
                               : HttpResponse::FromStatus(st, req.request_id);
      } else if (req.method == "OPTIONS" && origin && req.Header("Access-Control-Request-Method") &&
                 !opts.cors.allowed_origins.empty()) {
        out.route = "cors_preflight";
        if (!OriginAllowed(*origin)) {
          out.response = HttpResponse::FromStatus(
              absl::PermissionDeniedError(absl::StrCat("origin ", QuoteForError(*origin), " is not allowed")),
              req.request_id);
        } else {
          out.response.status = 204;
          out.response.headers = cors;
          out.response.headers.emplace_back("Access-Control-Allow-Methods",
                                            absl::StrJoin(opts.cors.allowed_methods, ", "));
          out.response.headers.emplace_back("Access-Control-Allow-Headers",
                                            absl::StrJoin(opts.cors.allowed_headers, ", "));
          out.response.headers.emplace_back("Access-Control-Max-Age",
                                            std::to_string(absl::ToInt64Seconds(opts.cors.max_age)));
          cors.clear();  // already in the response
        }
      } else {
        RateLimiter::Decision d{true, absl::ZeroDuration()};
        if (limiter) d = limiter->Take(req.remote_ip);
        if (!d.allowed) {
          out.response = HttpResponse::FromStatus(
              WithRetryDelay(absl::ResourceExhaustedError("too many requests from this address"), d.retry_after),
              req.request_id);
        } else if (hard_stopping.load()) {
          out.response =
              HttpResponse::FromStatus(absl::UnavailableError("server is stopping"), req.request_id);
        } else {
          auto call = std::make_shared<CallImpl>(std::move(req), c, this, cors,
                                                  start + opts.request_timeout);
          // Named locals, not temporaries inside the co_await: GCC 12 mishandles lambda temporaries there.
          auto op = asio::co_spawn(pool, RunHandler(call, &handler), asio::use_awaitable);
          out.response = co_await std::move(op);
          out.route = call->route();
          req = std::move(call->mutable_request());  // the handler is done with it; for the access log
          if (call->sse()) {
            out.sse = true;
            call->sse()->Close();  // we are on the connection's strand
            out.sse_bytes = call->sse()->bytes_written();
            out.response.status = 200;
          }
        }
      }
      if (!out.sse) {
        for (auto& h : cors) out.response.headers.push_back(std::move(h));
      }
    }

    size_t bytes = out.response.body.size();
    if (out.sse) {
      bytes = out.sse_bytes;
    } else {
      keep_alive = keep_alive && !framing_error && !stopping.load();
      if (out.response.status < 100 || out.response.status > 599) {
        log::Error("http handler returned an invalid status", {{"status", out.response.status}});
        out.response = HttpResponse::FromStatus(absl::InternalError("internal error"), req.request_id);
      }
      http::response<http::string_body> res;
      res.version(11);
      res.result(static_cast<unsigned>(out.response.status));
      if (const char* reason = ReasonFor(out.response.status)) res.reason(reason);
      bool has_type = false, has_cache_control = false, has_retry_after = false;
      for (auto& [k, v] : out.response.headers) {
        if (absl::EqualsIgnoreCase(AsAbsl(k), "Content-Type")) has_type = true;
        if (absl::EqualsIgnoreCase(AsAbsl(k), "Cache-Control")) has_cache_control = true;
        if (absl::EqualsIgnoreCase(AsAbsl(k), "Retry-After")) has_retry_after = true;
        if (absl::EqualsIgnoreCase(AsAbsl(k), "Content-Length") || absl::EqualsIgnoreCase(AsAbsl(k), "Connection") ||
            absl::EqualsIgnoreCase(AsAbsl(k), "Transfer-Encoding")) {
          continue;
        }
        res.insert(k, v);
      }
      if (!has_type && !out.response.body.empty()) res.set(http::field::content_type, "application/json");
      // Nothing the API answers (tokens, personal data, errors naming them) may be stored by a browser or
      // an intermediary, unless the handler says otherwise (the public /openapi.json does).
      if (!has_cache_control) {
        res.set(http::field::cache_control, "no-store");
        res.set(http::field::pragma, "no-cache");
      }
      for (const auto& [k, v] : kSecurityHeaders) res.set(k, v);
      if (out.response.status == 429 && !has_retry_after) {
        res.set(http::field::retry_after, std::to_string(RetryAfterSeconds(absl::OkStatus())));
      }
      res.set("X-Request-Id", req.request_id);
      res.body() = std::move(out.response.body);
      res.keep_alive(keep_alive);
      res.prepare_payload();
      if (req.method == "HEAD") res.body().clear();
      c->stream.expires_after(ToChrono(opts.request_timeout));
      co_await http::async_write(c->stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) keep_alive = false;
    }

    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    HttpMetrics::Get().Observe(MethodLabel(req.method), out.route, out.response.status, seconds);
    {
      log::ScopedRequestId scoped(req.request_id);
      log::Info("http request", {{"method", req.method},
                                 {"path", req.path},
                                 {"status", out.response.status},
                                 {"bytes", bytes},
                                 {"duration_s", seconds},
                                 {"remote_ip", req.remote_ip},
                                 {"route", out.route}});
    }

    if (framing_error && !ec) {
      // Lingering close: stop sending, drain what the client still sends (bounded) so it reads our answer
      // instead of a reset.
      c->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      c->stream.expires_after(std::chrono::seconds(1));
      size_t drained = 0;
      while (drained < (4u << 20)) {
        std::array<char, 4096> scratch;
        size_t n = co_await c->stream.async_read_some(asio::buffer(scratch),
                                                      asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        drained += n;
      }
    }
    if (out.sse || !keep_alive) break;
  }
}

// ---------------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options, HttpHandler handler) {
  if (!handler) return absl::InvalidArgumentError("HttpServer needs a handler");
  const std::string address = options.address;
  std::string_view addr = address;
  size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("address ", QuoteForError(addr), " has no port"));
  }
  std::string_view host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  if (!absl::SimpleAtoi(AsAbsl(addr.substr(colon + 1)), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("address ", QuoteForError(addr), " has a bad port"));
  }
  beast::error_code ec;
  auto ip = asio::ip::make_address(std::string(host.empty() ? "0.0.0.0" : host), ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("address ", QuoteForError(addr), " has a bad host"));
  if (options.io_threads < 1) options.io_threads = 1;

  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
  if (impl->opts.per_ip_rate > 0) {
    double burst = std::max(impl->opts.per_ip_burst, 1.0);
    impl->limiter = std::make_unique<RateLimiter>(
        impl->opts.per_ip_rate, burst, impl->opts.clock != nullptr ? *impl->opts.clock : SystemClock(),
        impl->opts.per_ip_max_keys);
  }
  tcp::endpoint ep(ip, static_cast<unsigned short>(port));
  auto fail = [&](const char* what) {
    return absl::UnavailableError(
        absl::StrCat("cannot ", what, " HTTP address ", QuoteForError(addr), ": ", ec.message()));
  };
  impl->acceptor.open(ep.protocol(), ec);
  if (ec) return fail("open");
  impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  impl->acceptor.bind(ep, ec);
  if (ec) return fail("bind");
  impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  impl->port = impl->acceptor.local_endpoint(ec).port();

  Impl* raw = impl.get();
  asio::co_spawn(raw->ioc, raw->AcceptLoop(), asio::detached);
  for (int i = 0; i < raw->opts.io_threads; ++i) {
    raw->io_threads.emplace_back([raw] { raw->ioc.run(); });
  }
  log::Info("http server listening", {{"address", raw->opts.address}, {"port", raw->port}});
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(absl::Seconds(5)); }

int HttpServer::port() const { return impl_->port; }

void HttpServer::Stop(absl::Duration grace) {
  absl::MutexLock stop_lock(&impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  Impl* s = impl_.get();
  s->stopping.store(true);
  asio::post(s->ioc, [s] {
    beast::error_code ec;
    s->acceptor.close(ec);
  });
  // Idle keep-alive connections and SSE streams close now; requests in flight may finish.
  s->ForEachConnection([](const std::shared_ptr<Connection>& c) {
    asio::post(c->stream.get_executor(), [c] {
      if (auto sse = c->sse.lock()) sse->Close();
      if (!c->in_request) c->CloseSocket();
    });
  });
  auto no_conns = [s]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->conns_mu) { return s->conns.empty(); };
  {
    absl::MutexLock lock(&s->conns_mu);
    s->conns_mu.AwaitWithTimeout(absl::Condition(&no_conns), grace);
  }
  // Grace is over: refuse new handlers, close everything left, wait for running handlers to return.
  s->hard_stopping.store(true);
  s->ForEachConnection([](const std::shared_ptr<Connection>& c) {
    asio::post(c->stream.get_executor(), [c] {
      if (auto sse = c->sse.lock()) sse->Close();
      c->CloseSocket();
    });
  });
  s->pool.join();
  {
    absl::MutexLock lock(&s->conns_mu);
    s->conns_mu.AwaitWithTimeout(absl::Condition(&no_conns), absl::Seconds(2));
  }
  s->work.reset();
  s->ioc.stop();
  for (auto& t : s->io_threads) t.join();
  s->io_threads.clear();
  log::Info("http server stopped", {{"port", s->port}});
}

}  // namespace crm::gateway
