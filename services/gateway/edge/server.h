// File: services/gateway/edge/server.h
// -----------------------------------------------------------------------------
// The gateway's HTTP/1.1 server: the edge that the REST→gRPC transcoder sits behind. It owns everything
// that is the same for every route, so the handler only maps a request to a response:
//
//   * HTTP/1.1 with keep-alive; limits: body over max_body_bytes → 413, request line + headers over
//     max_header_bytes → 431, malformed HTTP → 400 (the connection is closed after an error of framing);
//     idle keep-alive connections are closed after idle_timeout, slow request reads/writes after
//     request_timeout (without an answer). `Expect: 100-continue` is honoured.
//   * Request ids: a client `X-Request-Id` of 1..128 printable ASCII characters is kept, otherwise a new
//     UUIDv7 is made; it is in HttpRequest::request_id, echoed in the `X-Request-Id` response header and
//     in every error body, and set as the log request id of the worker thread while the handler runs.
//   * CORS per CorsOptions: preflights (OPTIONS with Origin and Access-Control-Request-Method) are
//     answered by the server without calling the handler; other responses to allowed origins get the
//     Access-Control-Allow-Origin / Expose-Headers headers. Preflights are not rate limited.
//   * Per client IP token-bucket rate limit (per_ip_rate > 0): refused requests get 429, `Retry-After` in
//     whole seconds (rounded up) and the error body (with "retryDelay"). /healthz and /readyz are not limited.
//   * Built-ins: GET /healthz → 200 while serving (liveness only); GET /readyz → 200 when
//     HttpServerOptions::ready says so (always, if unset), else 503 with "not ready: <reason>" in the
//     error body; both 503 once Stop() began.
//   * Request heads that could be read two ways are refused before the body is read, and the connection
//     is closed (issue 15, request smuggling): Transfer-Encoding other than exactly `chunked` → 501;
//     Transfer-Encoding together with Content-Length, Content-Lengths that differ, HTTP/1.1 without Host,
//     more than one Host, Authorization or X-Api-Key → 400.
//   * Response headers (issue 15) on every answer, SSE included: X-Content-Type-Options: nosniff,
//     X-Frame-Options: DENY, Referrer-Policy: no-referrer, Content-Security-Policy: default-src 'none';
//     frame-ancestors 'none'; and `Cache-Control: no-store` + `Pragma: no-cache` unless the handler set
//     its own Cache-Control (tokens and personal data must not be cached by anyone). The server speaks
//     plain HTTP: Strict-Transport-Security is the TLS terminator's to add. Every 429 carries
//     Retry-After (from the status' retry hint, errors.h; kDefaultRetryAfter when there is none).
//   * Every error response of the edge (and HttpResponse::FromStatus) uses ErrorBody() (errors.h).
//   * One access log line per request through crm::log ("http request": method, path, status, bytes,
//     duration_s, request_id, remote_ip, route) and Prometheus metrics in crm::metrics::Registry():
//     http_requests_total{method,route,status} and http_request_duration_seconds{route}. `route` is the
//     bounded label the handler reports with HttpCall::SetRoute() (e.g. the HttpRule template), never the
//     raw path; unset it is "unmatched", and the edge's own answers use "edge", "healthz", "readyz".
//   * Handlers run on a pool of worker_threads threads (they may block on gRPC calls), never on the
//     io_threads that run the sockets.
//   * Server-Sent Events: a handler may call HttpCall::StartSse() and then Send() events until the
//     client leaves or the server stops; the server writes a heartbeat comment (": heartbeat") after
//     every sse_heartbeat without another write, so proxies keep the stream open.
//   * Graceful Stop(): stop accepting, answer 503 on health checks, close idle connections and SSE
//     streams, let in-flight requests finish (their responses carry `Connection: close`) within the grace
//     period, then close whatever is left.
//
// Example:
//   crm::gateway::HttpServerOptions opts;
//   opts.address = "0.0.0.0:8080";
//   opts.cors.allowed_origins = {"https://app.example.com"};
//   opts.per_ip_rate = 50;
//   opts.per_ip_burst = 100;
//   CRM_ASSIGN_OR_RETURN(auto server, crm::gateway::HttpServer::Start(opts,
//       [&](crm::gateway::HttpCall& call) -> crm::gateway::HttpResponse {
//         const crm::gateway::HttpRequest& req = call.request();
//         if (req.path == "/v1/events") {
//           call.SetRoute("/v1/events");
//           crm::gateway::SseStream& sse = call.StartSse();
//           std::string last = sse.LastEventId();            // resume after this id
//           while (sse.Send(next.id, "deal.moved", next.json)) { ... }
//           return {};                                        // ignored for SSE
//         }
//         call.SetRoute("/v1/deals/{id}");
//         return crm::gateway::HttpResponse::Json(200, R"({"id":"..."})");
//       }));
//   ...
//   server->Stop(absl::Seconds(10));
#ifndef CRM_SERVICES_GATEWAY_EDGE_SERVER_H_
#define CRM_SERVICES_GATEWAY_EDGE_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"

namespace crm::gateway {

// Cross-origin resource sharing policy. With no allowed origins the server adds no CORS headers and
// answers preflights like any other OPTIONS request (to the handler).
struct CorsOptions {
  // Exact origins ("https://app.example.com") allowed to call the API; "*" allows any origin.
  std::vector<std::string> allowed_origins;
  // Methods and request headers a preflight may ask for (sent back as Allow-Methods / Allow-Headers).
  std::vector<std::string> allowed_methods = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  std::vector<std::string> allowed_headers = {"Authorization", "Content-Type", "X-Request-Id",
                                              "Last-Event-ID", "Idempotency-Key"};
  // Response headers scripts may read.
  std::vector<std::string> exposed_headers = {"X-Request-Id", "Retry-After"};
  // How long browsers may cache a preflight answer.
  absl::Duration max_age = absl::Minutes(10);
  // Sends Access-Control-Allow-Credentials: true (the origin is then echoed even when "*" is allowed).
  bool allow_credentials = false;
};

// Everything configurable about the server. The defaults suit production except `address`.
struct HttpServerOptions {
  // host:port to listen on; port 0 picks a free port (see HttpServer::port()). "[::]:8080" for IPv6.
  std::string address = "0.0.0.0:8080";
  int io_threads = 2;        // threads running sockets (>= 1)
  int worker_threads = 8;    // threads running handlers (>= 1)
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  absl::Duration idle_timeout = absl::Seconds(60);     // keep-alive connection waiting for a request
  absl::Duration request_timeout = absl::Seconds(30);  // reading one request / writing one response
  CorsOptions cors;
  // Per client IP token bucket: `per_ip_rate` requests per second, bursts of `per_ip_burst`. 0 disables.
  double per_ip_rate = 0;
  double per_ip_burst = 0;
  size_t per_ip_max_keys = 100'000;  // IPs remembered by the limiter (least recently used forgotten)
  // Number of reverse proxies in front of the server that append to X-Forwarded-For (0: trust none).
  // With N > 0 the client address is the N-th entry from the right of X-Forwarded-For (the leftmost
  // if there are fewer); it is what HttpRequest::remote_ip, the rate limit and the access log use.
  int trusted_proxy_hops = 0;
  // Time source for the rate limiter; nullptr means crm::SystemClock(). Must outlive the server.
  const Clock* clock = nullptr;
  // Quiet time after which an SSE stream gets a heartbeat comment (": heartbeat").
  absl::Duration sse_heartbeat = absl::Seconds(15);
  // Readiness for /readyz: OK when ready, else an error whose message says why (it is sent in the 503
  // body). Called on an io thread, so it must be quick (read cached state). Unset means always ready.
  std::function<absl::Status()> ready;
};

// One HTTP request as the handler sees it. All strings are owned copies.
struct HttpRequest {
  std::string method;     // "GET", as sent (upper case for standard methods)
  std::string path;       // the target up to '?', still percent-encoded ("/v1/deals/a%2Fb")
  std::string raw_query;  // after '?' (without it), undecoded; "" when absent
  // raw_query split on '&' into name/value pairs, '+' → space and %XX decoded, in order, repeats kept.
  std::vector<std::pair<std::string, std::string>> query;
  // Header fields in arrival order, names as sent.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_ip;   // the client's address ("127.0.0.1", "::1"); see trusted_proxy_hops
  std::string request_id;  // never empty (see the file comment)

  // Returns the value of the first header named `name`, compared case-insensitively; nullopt if absent.
  // The view is valid while the request lives.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// The handler's answer. A JSON error answer is best built with FromStatus().
struct HttpResponse {
  int status = 200;
  // Extra header fields. Content-Type defaults to application/json when absent and the body is not
  // empty; the server owns Content-Length, Connection, X-Request-Id and the CORS headers.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Returns a response with `status`, `body` and Content-Type: application/json.
  static HttpResponse Json(int status, std::string body);
  // Returns the error response for `status`: HttpStatusFromCode(), ErrorBody(status, request_id),
  // WWW-Authenticate: Bearer for UNAUTHENTICATED, and Retry-After: RetryAfterSeconds(status) for
  // RESOURCE_EXHAUSTED.
  static HttpResponse FromStatus(const absl::Status& status, std::string_view request_id);
};

// An open Server-Sent Events response (text/event-stream). Methods may be called from the handler's
// thread; the object lives until the handler returns.
class SseStream {
 public:
  virtual ~SseStream() = default;
  // Writes one event (`id:` / `event:` lines omitted when empty; `data` split on newlines into `data:`
  // lines) and blocks until it is handed to the socket. Returns false, without writing, once the client
  // has disconnected, a write failed or timed out, or the server is stopping; never true again after.
  virtual bool Send(std::string_view id, std::string_view event, std::string_view data) = 0;
  // Returns true until Send() would return false.
  virtual bool IsOpen() const = 0;
  // Blocks until the stream closes or `timeout` passes; returns IsOpen(). Lets a handler with nothing
  // to send notice a disconnect (or a Stop()) without polling.
  virtual bool WaitClosed(absl::Duration timeout) const = 0;
  // Returns the client's `Last-Event-ID` request header (the id of the last event it saw before
  // reconnecting), or "" when it sent none.
  virtual std::string LastEventId() const = 0;
};

// One request in progress, passed to the handler. Not thread-safe: use it from the handler's thread.
class HttpCall {
 public:
  virtual ~HttpCall() = default;
  // The request being handled.
  virtual const HttpRequest& request() const = 0;
  // Sets the bounded `route` label used for metrics and the access log (e.g. "/v1/deals/{deal_id}").
  virtual void SetRoute(std::string_view route) = 0;
  // When the edge gives up writing the answer (request start + request_timeout): a deadline for the
  // handler's own backend calls.
  virtual absl::Time deadline() const = 0;
  // Turns the response into an SSE stream: sends 200 with text/event-stream headers (plus X-Request-Id
  // and CORS) now, and returns the stream, valid until the handler returns; the HttpResponse returned
  // by the handler is then ignored and the connection is closed when the handler returns. Calling it
  // again returns the same stream.
  virtual SseStream& StartSse() = 0;
};

// Maps a request to a response. Runs on a worker thread; may block. An exception escaping it becomes
// a 500 INTERNAL error response.
using HttpHandler = std::function<HttpResponse(HttpCall& call)>;

// A running HTTP/1.1 server. Thread-safe.
class HttpServer {
 public:
  // Binds options.address and starts serving with `handler`. InvalidArgument for a malformed address
  // or options; Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions options,
                                                           HttpHandler handler);
  // Stop(absl::Seconds(5)) unless already stopped.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The TCP port bound (the chosen one when the address had port 0).
  int port() const;

  // Stops gracefully: no new connections, idle connections and SSE streams closed at once, in-flight
  // requests given up to `grace` to complete and be answered; then every connection is closed and the
  // threads are joined. Returns when all threads are joined, which also waits for handlers still running
  // (they should honour HttpCall::deadline()). Idempotent. Must not be called from a handler (it
  // joins the worker threads).
  void Stop(absl::Duration grace);

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crm::gateway

#endif  // CRM_SERVICES_GATEWAY_EDGE_SERVER_H_
