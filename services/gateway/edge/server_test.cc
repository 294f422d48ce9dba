// Tests of HttpServer through real HTTP on 127.0.0.1 with a small blocking socket client.
#include "services/gateway/edge/server.h"
#include "services/gateway/edge/errors.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics.h"
#include "libs/metrics/metrics_testing.h"
#include "nlohmann/json.hpp"

namespace crm::gateway {
namespace {

// --- A minimal HTTP/1.1 client over a blocking socket. ---

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class Client {
 public:
  explicit Client(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { Close(); }
  bool connected() const { return connected_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Reads more bytes into buf_; false on EOF, error or timeout.
  bool Fill() {
    char tmp[4096];
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  // Reads until `needle` is in the buffer; returns everything up to and including it (and consumes it).
  std::optional<std::string> ReadUntil(std::string_view needle) {
    for (;;) {
      size_t pos = buf_.find(needle);
      if (pos != std::string::npos) {
        std::string out = buf_.substr(0, pos + needle.size());
        buf_.erase(0, pos + needle.size());
        return out;
      }
      if (!Fill()) return std::nullopt;
    }
  }
  // Reads until the server closes the connection; returns what was left in the buffer plus the rest.
  std::string ReadToEof() {
    while (Fill()) {
    }
    std::string out = std::move(buf_);
    buf_.clear();
    return out;
  }
  std::optional<Response> ReadResponse() {
    auto head = ReadUntil("\r\n\r\n");
    if (!head) return std::nullopt;
    Response r;
    std::vector<std::string> lines = absl::StrSplit(AsAbsl(*head), "\r\n");
    if (lines.empty() || lines[0].size() < 12) return std::nullopt;
    if (!absl::SimpleAtoi(lines[0].substr(9, 3), &r.status)) return std::nullopt;
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
      std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
      r.headers[name] = value;
    }
    size_t len = 0;
    if (!absl::SimpleAtoi(r.Header("content-length"), &len)) len = 0;
    while (buf_.size() < len) {
      if (!Fill()) return std::nullopt;
    }
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

std::optional<Response> Fetch(int port, const std::string& request) {
  Client c(port);
  if (!c.connected() || !c.Send(request)) return std::nullopt;
  return c.ReadResponse();
}

std::string Get(std::string_view path, std::string_view extra_headers = "") {
  return absl::StrCat("GET ", AsAbsl(path), " HTTP/1.1\r\nHost: t\r\n", AsAbsl(extra_headers), "\r\n");
}

nlohmann::json ErrorOf(const Response& r) { return nlohmann::json::parse(r.body)["error"]; }

// Waits (bounded) for `cond`.
template <typename F>
bool Eventually(F cond, absl::Duration limit = absl::Seconds(10)) {
  absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (cond()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return cond();
}

HttpServerOptions TestOptions() {
  HttpServerOptions o;
  o.address = "127.0.0.1:0";
  o.io_threads = 2;
  o.worker_threads = 4;
  return o;
}

// Echoes the request as JSON.
HttpResponse Echo(HttpCall& call) {
  const HttpRequest& r = call.request();
  call.SetRoute("/echo/{x}");
  nlohmann::json q = nlohmann::json::array();
  for (const auto& [k, v] : r.query) q.push_back({k, v});
  nlohmann::json j = {{"method", r.method},         {"path", r.path},
                      {"raw_query", r.raw_query},   {"query", q},
                      {"body", r.body},             {"request_id", r.request_id},
                      {"remote_ip", r.remote_ip},   {"thing", std::string(r.Header("x-THING").value_or(""))}};
  return HttpResponse::Json(200, j.dump());
}

TEST(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  auto server = HttpServer::Start(TestOptions(), Echo);
  ASSERT_TRUE(server.ok()) << server.status();
  Client c((*server)->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send("POST /echo/1?a=1&b=x%20y+z&a=2 HTTP/1.1\r\nHost: t\r\nX-Thing: yes\r\n"
                     "Content-Length: 5\r\n\r\nhello"));
  auto r1 = c.ReadResponse();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->Header("content-type"), "application/json");
  auto j = nlohmann::json::parse(r1->body);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["path"], "/echo/1");
  EXPECT_EQ(j["raw_query"], "a=1&b=x%20y+z&a=2");
  EXPECT_EQ(j["query"], nlohmann::json::parse(R"([["a","1"],["b","x y z"],["a","2"]])"));
  EXPECT_EQ(j["body"], "hello");
  EXPECT_EQ(j["thing"], "yes");
  EXPECT_EQ(j["remote_ip"], "127.0.0.1");
  ASSERT_TRUE(c.Send(Get("/echo/2")));
  auto r2 = c.ReadResponse();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
  EXPECT_EQ(nlohmann::json::parse(r2->body)["path"], "/echo/2");
  EXPECT_NE(r2->Header("connection"), "close");
}

TEST(HttpServerTest, BodyOverLimitIs413) {
  auto opts = TestOptions();
  opts.max_body_bytes = 100;
  std::atomic<int> calls{0};
  auto server = HttpServer::Start(opts, [&](HttpCall& call) {
    calls++;
    return Echo(call);
  });
  ASSERT_TRUE(server.ok());
  auto r = Fetch((*server)->port(),
                 "POST /x HTTP/1.1\r\nHost: t\r\nX-Request-Id: big-1\r\nContent-Length: 1000\r\n\r\n" +
                     std::string(1000, 'a'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(ErrorOf(*r)["code"], 413);
  EXPECT_EQ(ErrorOf(*r)["status"], "PAYLOAD_TOO_LARGE");
  EXPECT_EQ(ErrorOf(*r)["requestId"], "big-1");
  EXPECT_EQ(r->Header("x-request-id"), "big-1");
  EXPECT_EQ(r->Header("connection"), "close");
  // Exactly at the limit is fine.
  auto ok = Fetch((*server)->port(), "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" +
                                         std::string(100, 'a'));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServerTest, ExpectContinueGetsInterimResponse) {
  auto server = HttpServer::Start(TestOptions(), Echo);
  ASSERT_TRUE(server.ok());
  Client c((*server)->port());
  ASSERT_TRUE(c.Send("POST /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
  auto interim = c.ReadUntil("\r\n\r\n");
  ASSERT_TRUE(interim);
  EXPECT_TRUE(absl::StartsWith(*interim, "HTTP/1.1 100")) << *interim;
  ASSERT_TRUE(c.Send("abc"));
  auto r = c.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(nlohmann::json::parse(r->body)["body"], "abc");
}

TEST(HttpServerTest, HandlersRunOnWorkersNotOnTheIoThread) {
  auto opts = TestOptions();
  opts.io_threads = 1;
  opts.worker_threads = 2;
  absl::Mutex mu;
  int inside = 0;
  absl::Notification release;
  auto server = HttpServer::Start(opts, [&](HttpCall&) {
    {
      absl::MutexLock lock(&mu);
      ++inside;
    }
    release.WaitForNotification();
    return HttpResponse::Json(200, "{}");
  });
  ASSERT_TRUE(server.ok());
  int port = (*server)->port();
  Client a(port), b(port);
  ASSERT_TRUE(a.Send(Get("/a")));
  ASSERT_TRUE(b.Send(Get("/b")));
  // Both handlers block at once, and the single io thread still answers the health check.
  {
    absl::MutexLock lock(&mu);
    auto both = [&] { return inside == 2; };
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&both), absl::Seconds(10)));
  }
  auto health = Fetch(port, Get("/healthz"));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  release.Notify();
  EXPECT_EQ(a.ReadResponse()->status, 200);
  EXPECT_EQ(b.ReadResponse()->status, 200);
}

TEST(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  auto opts = TestOptions();
  opts.idle_timeout = absl::Milliseconds(100);
  auto server = HttpServer::Start(opts, Echo);
  ASSERT_TRUE(server.ok());
  Client c((*server)->port());
  ASSERT_TRUE(c.Send(Get("/x")));
  ASSERT_TRUE(c.ReadResponse());
  absl::Time start = absl::Now();
  EXPECT_EQ(c.ReadToEof(), "");  // returns once the server closes (the client's own timeout is 10 s)
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(HttpServerTest, ChunkedBodyOverLimitIs413) {
  auto opts = TestOptions();
  opts.max_body_bytes = 10;
  auto server = HttpServer::Start(opts, Echo);
  ASSERT_TRUE(server.ok());
  auto r = Fetch((*server)->port(),
                 "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n"
                 "aaaaaaaaaaaaaaaaaaaa\r\n0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST(HttpServerTest, HeadersOverLimitAre431) {
  auto opts = TestOptions();
  opts.max_header_bytes = 1024;
  auto server = HttpServer::Start(opts, Echo);
  ASSERT_TRUE(server.ok());
  auto r = Fetch((*server)->port(), Get("/x", "X-Big: " + std::string(4000, 'b') + "\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(ErrorOf(*r)["code"], 431);
  EXPECT_EQ(ErrorOf(*r)["status"], "REQUEST_HEADER_FIELDS_TOO_LARGE");
}

TEST(HttpServerTest, MalformedRequestIs400) {
  auto server = HttpServer::Start(TestOptions(), Echo);
  ASSERT_TRUE(server.ok());
  auto r = Fetch((*server)->port(), "GET /x HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(ErrorOf(*r)["status"], "INVALID_ARGUMENT");
  EXPECT_EQ(ErrorOf(*r)["code"], 400);
  auto r2 = Fetch((*server)->port(), "GET /x HTTP/1.1\r\nContent-Length: zz\r\n\r\n");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 400);
}

TEST(HttpServerTest, RequestIdIsEchoedOrMade) {
  auto server = HttpServer::Start(TestOptions(), Echo);
  ASSERT_TRUE(server.ok());
  int port = (*server)->port();
  auto kept = Fetch(port, Get("/x", "X-Request-Id: client-id-42\r\n"));
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->Header("x-request-id"), "client-id-42");
  EXPECT_EQ(nlohmann::json::parse(kept->body)["request_id"], "client-id-42");

  auto made = Fetch(port, Get("/x"));
  ASSERT_TRUE(made);
  EXPECT_TRUE(IsUuid(made->Header("x-request-id"))) << made->Header("x-request-id");
  EXPECT_EQ(nlohmann::json::parse(made->body)["request_id"], made->Header("x-request-id"));

  // Too long or not printable ASCII: replaced.
  auto too_long = Fetch(port, Get("/x", "X-Request-Id: " + std::string(200, 'a') + "\r\n"));
  ASSERT_TRUE(too_long);
  EXPECT_TRUE(IsUuid(too_long->Header("x-request-id")));
  auto spaced = Fetch(port, Get("/x", "X-Request-Id: a b\r\n"));
  ASSERT_TRUE(spaced);
  EXPECT_TRUE(IsUuid(spaced->Header("x-request-id")));
}

TEST(HttpServerTest, CorsPreflightAndSimpleRequests) {
  auto opts = TestOptions();
  opts.cors.allowed_origins = {"https://app.example.com"};
  opts.cors.max_age = absl::Seconds(600);
  std::atomic<int> calls{0};
  auto server = HttpServer::Start(opts, [&](HttpCall& call) {
    calls++;
    return Echo(call);
  });
  ASSERT_TRUE(server.ok());
  int port = (*server)->port();
  auto pre = Fetch(port,
                   "OPTIONS /v1/deals HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example.com\r\n"
                   "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n");
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 204);
  EXPECT_EQ(pre->Header("access-control-allow-origin"), "https://app.example.com");
  EXPECT_TRUE(absl::StrContains(pre->Header("access-control-allow-methods"), "POST"));
  EXPECT_TRUE(absl::StrContains(pre->Header("access-control-allow-headers"), "Content-Type"));
  EXPECT_EQ(pre->Header("access-control-max-age"), "600");
  EXPECT_EQ(pre->Header("vary"), "Origin");

  auto bad = Fetch(port,
                   "OPTIONS /v1/deals HTTP/1.1\r\nHost: t\r\nOrigin: https://evil.example\r\n"
                   "Access-Control-Request-Method: POST\r\n\r\n");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 403);
  EXPECT_EQ(bad->Header("access-control-allow-origin"), "");
  EXPECT_EQ(ErrorOf(*bad)["status"], "PERMISSION_DENIED");
  EXPECT_EQ(calls.load(), 0);  // preflights never reach the handler

  auto simple = Fetch(port, Get("/x", "Origin: https://app.example.com\r\n"));
  ASSERT_TRUE(simple);
  EXPECT_EQ(simple->Header("access-control-allow-origin"), "https://app.example.com");
  EXPECT_TRUE(absl::StrContains(simple->Header("access-control-expose-headers"), "X-Request-Id"));
  auto other = Fetch(port, Get("/x", "Origin: https://evil.example\r\n"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
  EXPECT_EQ(other->Header("access-control-allow-origin"), "");
}

TEST(HttpServerTest, PerIpRateLimitAnswers429WithRetryAfter) {
  ManualClock clock(absl::FromUnixSeconds(1'800'000'000));
  auto opts = TestOptions();
  opts.per_ip_rate = 0.5;  // one token every 2 s
  opts.per_ip_burst = 2;
  opts.clock = &clock;
  auto server = HttpServer::Start(opts, Echo);
  ASSERT_TRUE(server.ok());
  int port = (*server)->port();
  EXPECT_EQ(Fetch(port, Get("/x"))->status, 200);
  EXPECT_EQ(Fetch(port, Get("/x"))->status, 200);
  auto limited = Fetch(port, Get("/x"));
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->Header("retry-after"), "2");
  EXPECT_EQ(ErrorOf(*limited)["status"], "RESOURCE_EXHAUSTED");
  EXPECT_EQ(ErrorOf(*limited)["code"], 429);
  EXPECT_EQ(ErrorOf(*limited)["requestId"], limited->Header("x-request-id"));
  EXPECT_EQ(Fetch(port, Get("/healthz"))->status, 200);  // probes are not limited
  clock.Advance(absl::Milliseconds(1500));
  auto still = Fetch(port, Get("/x"));
  EXPECT_EQ(still->status, 429);
  EXPECT_EQ(still->Header("retry-after"), "1");  // 0.5 s rounded up
  clock.Advance(absl::Milliseconds(500));
  EXPECT_EQ(Fetch(port, Get("/x"))->status, 200);
  EXPECT_EQ(Fetch(port, Get("/x"))->status, 429);
}

// Issue 15: every 429 says when to come back. A handler's RESOURCE_EXHAUSTED with a retry hint (identity's
// RetryInfo, read by the gateway) gives ceil(delay) and "retryDelay" in the body; without one, and for a
// hand-made 429, the default.
TEST(HttpServerTest, Every429CarriesRetryAfter) {
  auto server = HttpServer::Start(TestOptions(), [](HttpCall& call) -> HttpResponse {
    const std::string& p = call.request().path;
    if (p == "/hinted") {
      return HttpResponse::FromStatus(
          WithRetryDelay(absl::ResourceExhaustedError("too many sign-ins"), absl::Milliseconds(2200)),
          call.request().request_id);
    }
    if (p == "/tiny") {
      return HttpResponse::FromStatus(
          WithRetryDelay(absl::ResourceExhaustedError("slow down"), absl::Milliseconds(10)), "");
    }
    if (p == "/plain") return HttpResponse::FromStatus(absl::ResourceExhaustedError("slow down"), "");
    return HttpResponse::Json(429, "{}");
  });
  ASSERT_TRUE(server.ok());
  const int port = (*server)->port();
  auto hinted = Fetch(port, Get("/hinted"));
  ASSERT_TRUE(hinted);
  EXPECT_EQ(hinted->status, 429);
  EXPECT_EQ(hinted->Header("retry-after"), "3");
  EXPECT_EQ(ErrorOf(*hinted)["retryDelay"], "2.200s");
  EXPECT_EQ(Fetch(port, Get("/tiny"))->Header("retry-after"), "1");
  auto plain = Fetch(port, Get("/plain"));
  EXPECT_EQ(plain->Header("retry-after"), "5");
  EXPECT_FALSE(ErrorOf(*plain).contains("retryDelay"));
  EXPECT_EQ(Fetch(port, Get("/bare"))->Header("retry-after"), "5");
}

// Issue 15: no response of the API may be cached by a browser or proxy (tokens, personal data), unless
// the handler decides (the public OpenAPI document); every response, errors and probes included,
// carries the security headers of a JSON API.
TEST(HttpServerTest, SecurityAndCacheHeadersOnEveryResponse) {
  auto server = HttpServer::Start(TestOptions(), [](HttpCall& call) -> HttpResponse {
    if (call.request().path == "/public") {
      HttpResponse r = HttpResponse::Json(200, "{}");
      r.headers.emplace_back("Cache-Control", "public, max-age=300");
      return r;
    }
    if (call.request().path == "/v1/auth:signIn") {
      return HttpResponse::Json(200, R"({"accessToken":"x","refreshToken":"y"})");
    }
    return HttpResponse::FromStatus(absl::NotFoundError("no"), call.request().request_id);
  });
  ASSERT_TRUE(server.ok());
  const int port = (*server)->port();
  auto expect_security = [](const Response& r) {
    EXPECT_EQ(r.Header("x-content-type-options"), "nosniff");
    EXPECT_EQ(r.Header("x-frame-options"), "DENY");
    EXPECT_EQ(r.Header("referrer-policy"), "no-referrer");
    EXPECT_EQ(r.Header("content-security-policy"), "default-src 'none'; frame-ancestors 'none'");
    EXPECT_EQ(r.Header("strict-transport-security"), "");  // plain HTTP: the TLS terminator's job
  };
  const std::string sign_in = "POST /v1/auth:signIn HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}";
  for (const std::string& request : {sign_in, Get("/missing"), Get("/healthz"), Get("/readyz"),
                                     std::string("GET /x HTTP/1.1\r\nHost: t\r\nNo colon\r\n\r\n")}) {
    auto r = Fetch(port, request);
    ASSERT_TRUE(r) << request;
    EXPECT_EQ(r->Header("cache-control"), "no-store") << request;
    EXPECT_EQ(r->Header("pragma"), "no-cache") << request;
    expect_security(*r);
  }
  auto pub = Fetch(port, Get("/public"));
  ASSERT_TRUE(pub);
  EXPECT_EQ(pub->Header("cache-control"), "public, max-age=300");
  EXPECT_EQ(pub->Header("pragma"), "");
  expect_security(*pub);
}

// Issue 15, request smuggling: a head that a proxy in front could read differently is refused before
// its body is read, and the connection is closed (a smuggled request behind it is never served).
TEST(HttpServerTest, AmbiguousRequestHeadsAreRefusedAndTheConnectionClosed) {
  std::atomic<int> handled{0};
  auto server = HttpServer::Start(TestOptions(), [&](HttpCall& call) {
    ++handled;
    return Echo(call);
  });
  ASSERT_TRUE(server.ok());
  const int port = (*server)->port();
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
  struct Case {
    std::string head;
    std::string body;
    int status;
  };
  const Case cases[] = {
      // Read by Content-Length before: the proxy may have used the (unknown) coding.
      {"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\n", "hello", 400},
      {"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "hello", 400},
      {"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", 501},
      {"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "0\r\n\r\n", 501},
      {"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
       "0\r\n\r\n", 501},
      {"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "hello!", 400},
      {"GET /x HTTP/1.1\r\n\r\n", "", 400},
      {"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "", 400},
      // The first Authorization won before: a proxy that checked the second was bypassed.
      {"GET /x HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n", "", 400},
      {"GET /x HTTP/1.1\r\nHost: t\r\nX-Api-Key: a\r\nx-api-key: b\r\n\r\n", "", 400},
  };
  for (const Case& c : cases) {
    Client client(port);
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.Send(c.head + c.body + smuggled));
    auto r = client.ReadResponse();
    ASSERT_TRUE(r) << c.head;
    EXPECT_EQ(r->status, c.status) << c.head;
    EXPECT_EQ(ErrorOf(*r)["status"], c.status == 501 ? "UNIMPLEMENTED" : "INVALID_ARGUMENT") << c.head;
    EXPECT_EQ(r->Header("connection"), "close") << c.head;
    EXPECT_EQ(client.ReadToEof().find("HTTP/1.1"), std::string::npos) << c.head;  // nothing more served
  }
  EXPECT_EQ(handled.load(), 0);
  // What stays allowed: chunked alone, one Content-Length (repeated with the same value), HTTP/1.0
  // without Host.
  EXPECT_EQ(Fetch(port, "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n0\r\n\r\n")->status, 200);
  EXPECT_EQ(Fetch(port, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello")
                ->status, 200);
  EXPECT_EQ(Fetch(port, "GET /x HTTP/1.0\r\n\r\n")->status, 200);
  EXPECT_EQ(handled.load(), 3);
}

TEST(HttpServerTest, TrustedProxyHopsPickTheClientFromXForwardedFor) {
  ManualClock clock(absl::FromUnixSeconds(1'800'000'000));
  auto opts = TestOptions();
  opts.trusted_proxy_hops = 1;
  opts.per_ip_rate = 1;
  opts.per_ip_burst = 1;
  opts.clock = &clock;
  auto server = HttpServer::Start(opts, Echo);
  ASSERT_TRUE(server.ok());
  int port = (*server)->port();
  auto r = Fetch(port, Get("/x", "X-Forwarded-For: 6.6.6.6, 10.0.0.1\r\n"));  // first entry is spoofable
  ASSERT_TRUE(r);
  EXPECT_EQ(nlohmann::json::parse(r->body)["remote_ip"], "10.0.0.1");
  // The limit is per client: another forwarded client still gets through, the same one does not.
  EXPECT_EQ(Fetch(port, Get("/x", "X-Forwarded-For: 10.0.0.2\r\n"))->status, 200);
  EXPECT_EQ(Fetch(port, Get("/x", "X-Forwarded-For: 7.7.7.7, 10.0.0.1\r\n"))->status, 429);
  auto none = Fetch(port, Get("/x"));
  EXPECT_EQ(nlohmann::json::parse(none->body)["remote_ip"], "127.0.0.1");
}

TEST(HttpServerTest, AccessLogLineAndMetricsPerRequest) {
  absl::Mutex mu;
  std::vector<std::string> lines;
  log::SetSinkForTesting([&](std::string_view line) {
    absl::MutexLock lock(&mu);
    lines.emplace_back(line);
  });
  auto exposer = metrics::Exposer::Start("127.0.0.1:0");
  ASSERT_TRUE(exposer.ok());
  {
    auto server = HttpServer::Start(TestOptions(), Echo);
    ASSERT_TRUE(server.ok());
    auto r = Fetch((*server)->port(), Get("/echo/secret-id-1", "X-Request-Id: log-me\r\n"));
    ASSERT_TRUE(r);
    nlohmann::json found;
    ASSERT_TRUE(Eventually([&] {
      absl::MutexLock lock(&mu);
      for (const auto& l : lines) {
        auto j = nlohmann::json::parse(l, nullptr, false);
        if (j.is_object() && j.value("msg", "") == "http request" && j.value("request_id", "") == "log-me") {
          found = j;
          return true;
        }
      }
      return false;
    }));
    EXPECT_EQ(found["method"], "GET");
    EXPECT_EQ(found["path"], "/echo/secret-id-1");
    EXPECT_EQ(found["status"], 200);
    EXPECT_EQ(found["bytes"], r->body.size());
    EXPECT_TRUE(found["duration_s"].is_number());
    EXPECT_EQ(found["remote_ip"], "127.0.0.1");
    EXPECT_EQ(found["route"], "/echo/{x}");
  }
  log::SetSinkForTesting(nullptr);
  auto page = metrics::testing::Scrape((*exposer)->port());
  ASSERT_TRUE(page.ok()) << page.status();
  auto n = metrics::testing::SampleValue(*page, "http_requests_total",
                                         {{"method", "GET"}, {"route", "/echo/{x}"}, {"status", "200"}});
  ASSERT_TRUE(n);
  EXPECT_GE(*n, 1);
  EXPECT_TRUE(metrics::testing::SampleValue(*page, "http_request_duration_seconds_count", {{"route", "/echo/{x}"}}));
  EXPECT_FALSE(absl::StrContains(*page, "secret-id-1"));  // raw paths never become labels
}

TEST(HttpServerTest, HealthzAndReadyz) {
  std::atomic<bool> ready{false};
  auto opts = TestOptions();
  opts.ready = [&] {
    return ready.load() ? absl::OkStatus() : absl::UnavailableError("identity has not answered for 12s");
  };
  auto server = HttpServer::Start(opts, Echo);
  ASSERT_TRUE(server.ok());
  int port = (*server)->port();
  EXPECT_EQ(Fetch(port, Get("/healthz"))->status, 200);
  auto not_ready = Fetch(port, Get("/readyz"));
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_EQ(ErrorOf(*not_ready)["status"], "UNAVAILABLE");
  EXPECT_EQ(ErrorOf(*not_ready)["message"], "not ready: identity has not answered for 12s");
  ready = true;
  EXPECT_EQ(Fetch(port, Get("/readyz"))->status, 200);
}

TEST(HttpServerTest, HandlerExceptionIs500AndStatusHelper) {
  auto server = HttpServer::Start(TestOptions(), [](HttpCall& call) -> HttpResponse {
    if (call.request().path == "/throw") throw std::runtime_error("boom");
    if (call.request().path == "/bad-status") return HttpResponse::Json(1042, "{}");
    return HttpResponse::FromStatus(absl::UnauthenticatedError("no token"), call.request().request_id);
  });
  ASSERT_TRUE(server.ok());
  auto r = Fetch((*server)->port(), Get("/throw"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(ErrorOf(*r)["status"], "INTERNAL");
  auto bad = Fetch((*server)->port(), Get("/bad-status"));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 500);
  auto u = Fetch((*server)->port(), Get("/x"));
  EXPECT_EQ(u->status, 401);
  EXPECT_EQ(u->Header("www-authenticate"), "Bearer");
}

// Parses "id: N" values out of an SSE transcript, in order.
std::vector<std::string> EventIds(std::string_view text) {
  std::vector<std::string> ids;
  for (absl::string_view line : absl::StrSplit(AsAbsl(text), '\n')) {
    if (absl::StartsWith(line, "id: ")) ids.emplace_back(line.substr(4));
  }
  return ids;
}

// Sends three events numbered after the client's Last-Event-ID, then ends the stream.
HttpResponse Counter(HttpCall& call) {
  call.SetRoute("/events");
  SseStream& sse = call.StartSse();
  int last = 0;
  if (!sse.LastEventId().empty()) {
    EXPECT_TRUE(absl::SimpleAtoi(sse.LastEventId(), &last));
  }
  for (int i = last + 1; i <= last + 3; ++i) {
    EXPECT_TRUE(sse.Send(std::to_string(i), "tick", absl::StrCat("{\"n\":", i, "}\nline2")));
  }
  return {};
}

TEST(HttpServerSseTest, EventsArriveInOrderAndResumeFromLastEventId) {
  auto server = HttpServer::Start(TestOptions(), Counter);
  ASSERT_TRUE(server.ok());
  Client c((*server)->port());
  ASSERT_TRUE(c.Send(Get("/events", "X-Request-Id: sse-1\r\n")));
  std::string all = c.ReadToEof();
  EXPECT_TRUE(absl::StartsWith(all, "HTTP/1.1 200")) << all;
  EXPECT_TRUE(absl::StrContains(all, "Content-Type: text/event-stream"));
  EXPECT_TRUE(absl::StrContains(all, "X-Request-Id: sse-1"));
  // The stream carries personal data too: never stored, and the same security headers (issue 15).
  EXPECT_TRUE(absl::StrContains(all, "Cache-Control: no-store\r\n"));
  EXPECT_TRUE(absl::StrContains(all, "X-Content-Type-Options: nosniff\r\n"));
  EXPECT_TRUE(absl::StrContains(all, "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"));
  EXPECT_TRUE(absl::StrContains(all, "id: 1\nevent: tick\ndata: {\"n\":1}\ndata: line2\n\n")) << all;
  EXPECT_EQ(EventIds(all), (std::vector<std::string>{"1", "2", "3"}));

  Client again((*server)->port());
  ASSERT_TRUE(again.Send(Get("/events", "Last-Event-ID: 3\r\n")));
  EXPECT_EQ(EventIds(again.ReadToEof()), (std::vector<std::string>{"4", "5", "6"}));
}

TEST(HttpServerSseTest, HeartbeatsAndDisconnectMakesSendReturnFalse) {
  auto opts = TestOptions();
  opts.sse_heartbeat = absl::Milliseconds(20);
  absl::Notification done;
  std::atomic<bool> send_after_close{true};
  std::atomic<bool> open_after_close{true};
  auto server = HttpServer::Start(opts, [&](HttpCall& call) -> HttpResponse {
    SseStream& sse = call.StartSse();
    EXPECT_TRUE(sse.Send("1", "", "first"));
    open_after_close = sse.WaitClosed(absl::Seconds(30));  // returns when the client goes away
    send_after_close = sse.Send("2", "", "second");
    done.Notify();
    return {};
  });
  ASSERT_TRUE(server.ok());
  {
    Client c((*server)->port());
    ASSERT_TRUE(c.Send(Get("/events")));
    ASSERT_TRUE(c.ReadUntil("data: first\n\n"));
    ASSERT_TRUE(c.ReadUntil(": heartbeat\n\n"));  // the server keeps the idle stream alive
  }  // the client closes its socket
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_FALSE(open_after_close.load());
  EXPECT_FALSE(send_after_close.load());
}

TEST(HttpServerStopTest, GracefulStopFinishesInFlightAndClosesSse) {
  absl::Notification slow_entered, release_slow, sse_closed;
  std::atomic<bool> sse_send_after_stop{true};
  auto server = HttpServer::Start(TestOptions(), [&](HttpCall& call) -> HttpResponse {
    if (call.request().path == "/slow") {
      slow_entered.Notify();
      release_slow.WaitForNotification();
      return HttpResponse::Json(200, R"({"slow":true})");
    }
    SseStream& sse = call.StartSse();
    sse.WaitClosed(absl::Seconds(30));
    sse_send_after_stop = sse.Send("x", "", "late");
    sse_closed.Notify();
    return {};
  });
  ASSERT_TRUE(server.ok());
  int port = (*server)->port();

  Client sse_client(port);
  ASSERT_TRUE(sse_client.Send(Get("/events")));
  ASSERT_TRUE(sse_client.ReadUntil("\r\n\r\n"));  // stream open
  Client idle(port);                                 // an idle keep-alive connection
  ASSERT_TRUE(idle.Send(Get("/healthz")));
  ASSERT_TRUE(idle.ReadResponse());

  Client slow(port);
  ASSERT_TRUE(slow.Send(Get("/slow")));
  ASSERT_TRUE(slow_entered.WaitForNotificationWithTimeout(absl::Seconds(10)));

  std::thread stopper([&] { (*server)->Stop(absl::Seconds(20)); });
  ASSERT_TRUE(sse_closed.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(sse_send_after_stop.load());
  EXPECT_EQ(idle.ReadToEof(), "");  // closed without a response
  // New connections are refused once the acceptor is closed.
  EXPECT_TRUE(Eventually([&] {
    Client late(port);
    return !late.connected() || !late.Send(Get("/healthz")) || !late.ReadResponse();
  }));

  release_slow.Notify();
  auto r = slow.ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"slow":true})");
  EXPECT_EQ(r->Header("connection"), "close");
  stopper.join();
}

TEST(HttpServerStartTest, BadAddresses) {
  EXPECT_EQ(HttpServer::Start({.address = "nohost"}, Echo).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpServer::Start({.address = "127.0.0.1:99999"}, Echo).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto first = HttpServer::Start(TestOptions(), Echo);
  ASSERT_TRUE(first.ok());
  HttpServerOptions o = TestOptions();
  o.address = absl::StrCat("127.0.0.1:", (*first)->port());
  EXPECT_EQ(HttpServer::Start(o, Echo).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace crm::gateway
