// File: tests/fuzz/hostile_requests.cc
// Issue 15: a fuzz target of schema-valid but hostile requests (README.md in this folder).
//
// One process hosts identity, deals, robots and mortgage (their own wiring, services/*/wiring.h), each on a
// crm::rpc::Server on 127.0.0.1:0 over a TempDatabase of its own, and the gateway over the API
// descriptor set routing to them. Each input is a choice stream: it picks one HttpRule of a hosted
// service, fills its path variables and a JSON body (or query) shaped by the request message's
// descriptor with hostile values, and sends it through Gateway::Handle as a user holding every
// permission. Per request:
//   * the HTTP status is below 500;
//   * an error body carries no database or library text ("violates", "constraint", "SQLSTATE", ...);
//   * a refused (4xx) request left the row count of every table of every service database (outbox
//     included) as it was.
// A broken rule prints the request and calls abort(); the driver (main() below, the g++ build) saves
// the input first.
//
// Two builds:
//   * g++ (CMake target crm-hostile-fuzz, ctest hostile_requests_fuzz): main() runs the seed corpus, then
//     inputs from a seeded PRNG for --seconds; `crm-hostile-fuzz FILE...` replays inputs.
//   * clang -fsanitize=fuzzer (CRM_HOSTILE_LIBFUZZER defined; tests/fuzz/build.sh): libFuzzer's main drives
//     LLVMFuzzerTestOneInput.
// Both need CRM_TEST_PG_DSN (tools/crm test sets it).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "libs/auth/jwt.h"
#include "libs/config/config.h"
#include "libs/log/log.h"
#include "libs/pg/testing.h"
#include "libs/rpc/server.h"
#include "services/deals/wiring.h"
#include "services/gateway/auth.h"
#include "services/gateway/auth_testing.h"
#include "services/gateway/edge/server.h"
#include "services/gateway/gateway.h"
#include "services/gateway/transcode/descriptor_set.h"
#include "services/gateway/transcode/router.h"
#include "services/identity/wiring.h"
#include "services/mortgage/wiring.h"
#include "services/robots/wiring.h"

#ifndef CRM_API_PB
#error "CRM_API_PB (the API descriptor set) must be defined"
#endif

namespace {

namespace pb = ::google::protobuf;
using json = nlohmann::json;

// --- The input, as a stream of choices. Past its end every choice is 0 (the first option). ---

class Choices {
 public:
  Choices(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  // A number in [0, n); 0 when n <= 1 or the input is used up.
  size_t Pick(size_t n) {
    if (n <= 1) return 0;
    uint32_t v = 0;
    const int bytes = n <= 256 ? 1 : n <= 65536 ? 2 : 4;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | Next();
    return v % n;
  }
  bool Bool() { return Pick(2) == 1; }
  // True about once in `n`.
  bool OneIn(size_t n) { return Pick(n) == 0 && !done(); }
  bool done() const { return pos_ >= size_; }

 private:
  uint8_t Next() { return pos_ < size_ ? data_[pos_++] : 0; }
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// --- Hostile values. ---

// How wild this request is: every value hostile (1), or about one value in g_wildness hostile and the
// rest plain, so that requests get past validation into the services and the database.
size_t g_wildness = 1;
bool Wild(Choices& in) { return g_wildness <= 1 || in.Pick(g_wildness) == 0; }

// Ids the services returned in 200 answers (bounded), so later requests name rows that exist.
std::vector<std::string> g_ids;

void HarvestIds(const json& j, const std::string& key) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) HarvestIds(it.value(), it.key());
  } else if (j.is_array()) {
    for (const json& e : j) HarvestIds(e, key);
  } else if (j.is_string() && (key == "id" || absl::EndsWith(key, "Id")) && !j.get<std::string>().empty()) {
    const std::string id = j.get<std::string>();
    if (std::find(g_ids.begin(), g_ids.end(), id) != g_ids.end()) return;
    if (g_ids.size() < 256) {
      g_ids.push_back(id);
    } else {
      g_ids[std::hash<std::string>()(id) % g_ids.size()] = id;
    }
  }
}

std::string Utf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// Strings: plain ones (to get past validation to the database) and hostile ones. None contains the
// words the error check looks for.
std::string HostileString(Choices& in) {
  static const std::vector<std::string> kPlain = {
      "a", "Иван Петров", "test", "1", "0", "2026-01-01", "+79991234567", "a@example.com",
      "0190f0a0-0000-7000-8000-000000000001", "01234567-89ab-cdef-0123-456789abcdef",
      "00000000-0000-0000-0000-000000000000", "RUB", "Europe/Moscow", "https://example.com/x"};
  static const std::vector<std::string> kHostile = {
      "",
      std::string("a\0b", 3),
      std::string(1, '\0'),
      "\x1b[31mred\x1b[0m",
      "line\r\nInjected: header",
      "\n",
      "\t",
      Utf8(0x85) + "next line",
      Utf8(0x202E) + "txt.exe",
      Utf8(0x2028) + Utf8(0x2029),
      Utf8(0xFEFF),
      Utf8(0x1F600),
      "../../../../etc/passwd",
      "..",
      "/",
      "%00",
      "%2e%2e%2f",
      "'; DROP TABLE deals; --",
      "' OR '1'='1",
      "\\",
      "\"",
      "$1",
      "%s%n%x",
      "not-a-uuid",
      "0190f0a0-0000-7000-8000-00000000000g",
      "{0190f0a0-0000-7000-8000-000000000001}",
      "NaN",
      "-1",
      "99999999999999999999999999",
      "1e309",
      "9999-12-31",
      "0000-00-00",
      "2026-02-30T25:61:61Z",
      "+0000000000000000000000",
      "a@",
      " ",
      "  padded  ",
  };
  if (!g_ids.empty() && in.Pick(3) == 0) return g_ids[in.Pick(g_ids.size())];
  if (!Wild(in)) return kPlain[in.Pick(kPlain.size())];
  switch (in.Pick(8)) {
    case 0:
    case 1:
    case 2:
      return kPlain[in.Pick(kPlain.size())];
    case 3:
    case 4:
    case 5:
      return kHostile[in.Pick(kHostile.size())];
    case 6: {  // long
      static const std::vector<size_t> kLengths = {256, 257, 1000, 1025, 4097, 65536, 100000};
      const size_t n = kLengths[in.Pick(kLengths.size())];
      static const std::vector<std::string> kUnits = {"a", "я", Utf8(0x1F600), "\x1b", "'"};
      const std::string& unit = kUnits[in.Pick(kUnits.size())];
      std::string out;
      out.reserve(n * unit.size());
      for (size_t i = 0; i < n; ++i) out += unit;
      return out;
    }
    default: {  // a few code points from the input
      std::string out;
      const size_t n = 1 + in.Pick(12);
      for (size_t i = 0; i < n; ++i) {
        uint32_t cp = static_cast<uint32_t>(in.Pick(0x2100));
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        out += Utf8(cp);
      }
      return out;
    }
  }
}

json HostileInt(Choices& in, bool is_64, bool is_unsigned) {
  const int64_t i64max = std::numeric_limits<int64_t>::max();
  const int64_t i64min = std::numeric_limits<int64_t>::min();
  const int64_t i32max = std::numeric_limits<int32_t>::max();
  const int64_t i32min = std::numeric_limits<int32_t>::min();
  // validation.proto's bounds are around these; ±1 around common ones.
  static const std::vector<int64_t> kValues = {
      0,          1,          -1,         2,          100,          1000,          1'000'000,   999'999'999,
      1'000'000'000, 1'000'000'000'000'000LL + 1, -1'000'000'000'000'000LL - 1, 1'000'000'000'000'000LL,
      100'000'000'000'000LL, 100'000'000'000'000LL + 1, 10'000'000'000LL, 1000LL * 12, 601, 600, 361,
      360,        121,        120,        99,         101,          -100,          32768,       65536};
  int64_t v;
  if (!Wild(in)) return json(1 + static_cast<int64_t>(in.Pick(100)));
  switch (in.Pick(4)) {
    case 0: {
      static const std::vector<int64_t> kEdges = {i64max, i64min, i32max, i32min, i64max - 1, i64min + 1,
                                                  i32max + 1, i32min - 1};
      v = kEdges[in.Pick(kEdges.size())];
      break;
    }
    default:
      v = kValues[in.Pick(kValues.size())];
  }
  if (!is_64) v = std::clamp<int64_t>(v, i32min, is_unsigned ? int64_t{std::numeric_limits<uint32_t>::max()} : i32max);
  if (is_unsigned && v < 0) {
    if (in.Bool()) v = v == i64min ? i64max : -v;
    else return is_64 ? json(std::to_string(std::numeric_limits<uint64_t>::max()))
                      : json(std::numeric_limits<uint32_t>::max());
  }
  // proto3 JSON: 64-bit integers as strings or numbers.
  if (is_64 && in.Bool()) return json(std::to_string(v));
  return json(v);
}

json HostileDouble(Choices& in) {
  static const std::vector<double> kValues = {0,      -0.0,  1,     -1,     0.5,   1e15 + 1, -1e15,
                                              1e308,  -1e308, 5e-324, 1e-9,  99.999, 100.0001,
                                              1e18,   36.6,   12.5,   1e9};
  if (!Wild(in)) return json(1 + static_cast<double>(in.Pick(1000)) / 10);
  switch (in.Pick(6)) {
    case 0: {
      static const std::vector<std::string> kSpecial = {"NaN", "Infinity", "-Infinity"};
      return json(kSpecial[in.Pick(kSpecial.size())]);
    }
    default:
      return json(kValues[in.Pick(kValues.size())]);
  }
}

// Deep nesting for google.protobuf.Value / Struct / ListValue.
json DeepValue(Choices& in, int depth) {
  if (depth <= 0) return json(HostileString(in));
  if (in.Bool()) return json::array({DeepValue(in, depth - 1)});
  json o = json::object();
  o[in.Bool() ? "k" : HostileString(in)] = DeepValue(in, depth - 1);
  return o;
}

json AnyValue(Choices& in) {
  static const std::vector<int> kDepths = {1, 2, 8, 31, 32, 33, 64, 65, 100, 200, 1000};
  switch (in.Pick(5)) {
    case 0:
      return json(HostileString(in));
    case 1:
      return HostileDouble(in);
    case 2:
      return json(nullptr);
    default:
      return DeepValue(in, kDepths[in.Pick(kDepths.size())]);
  }
}

json MessageJson(Choices& in, const pb::Descriptor* d, int depth);

json SingleValue(Choices& in, const pb::FieldDescriptor* f, int depth) {
  using FD = pb::FieldDescriptor;
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32:
      return HostileInt(in, false, false);
    case FD::CPPTYPE_UINT32:
      return HostileInt(in, false, true);
    case FD::CPPTYPE_INT64:
      return HostileInt(in, true, false);
    case FD::CPPTYPE_UINT64:
      return HostileInt(in, true, true);
    case FD::CPPTYPE_DOUBLE:
    case FD::CPPTYPE_FLOAT:
      return HostileDouble(in);
    case FD::CPPTYPE_BOOL:
      return json(in.Bool());
    case FD::CPPTYPE_ENUM: {
      const pb::EnumDescriptor* e = f->enum_type();
      if (!Wild(in)) return json(std::string(e->value(std::min(e->value_count() - 1, 1 + static_cast<int>(in.Pick(3))))->name()));
      switch (in.Pick(6)) {
        case 0:
          return json("NOT_A_VALUE_OF_" + std::string(e->name()));
        case 1:
          return json(in.Bool() ? 999 : -1);
        default:
          return json(std::string(e->value(static_cast<int>(in.Pick(e->value_count())))->name()));
      }
    }
    case FD::CPPTYPE_STRING:
      if (f->type() == FD::TYPE_BYTES) {
        static const std::vector<std::string> kBytes = {"", "AA==", "!!!not base64", "////", "aGVsbG8="};
        return json(kBytes[in.Pick(kBytes.size())]);
      }
      return json(HostileString(in));
    case FD::CPPTYPE_MESSAGE:
      return MessageJson(in, f->message_type(), depth + 1);
  }
  return json(nullptr);
}

json FieldValue(Choices& in, const pb::FieldDescriptor* f, int depth) {
  if (f->is_map()) {
    json o = json::object();
    const size_t n = Wild(in) && in.OneIn(8) ? 500 : in.Pick(4);
    for (size_t i = 0; i < n; ++i) {
      const pb::FieldDescriptor* key = f->message_type()->map_key();
      std::string k = key->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING ? HostileString(in)
                                                                               : std::to_string(in.Pick(1000) - 1);
      if (n > 4) k += std::to_string(i);
      o[k] = SingleValue(in, f->message_type()->map_value(), depth);
    }
    return o;
  }
  if (f->is_repeated()) {
    json a = json::array();
    size_t n = in.Pick(4);
    if (Wild(in) && in.OneIn(16)) n = 1000;
    for (size_t i = 0; i < n; ++i) a.push_back(SingleValue(in, f, depth));
    return a;
  }
  return SingleValue(in, f, depth);
}

json MessageJson(Choices& in, const pb::Descriptor* d, int depth) {
  const std::string& name = d->full_name();
  if (name == "google.protobuf.Timestamp") {
    static const std::vector<std::string> kTimes = {"2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z",
                                                    "9999-12-31T23:59:59.999999999Z", "1970-01-01T00:00:00Z",
                                                    "2026-12-07T03:00:00+03:00", "1900-01-01T00:00:00Z"};
    return json(kTimes[in.Pick(kTimes.size())]);
  }
  if (name == "google.protobuf.Duration") {
    static const std::vector<std::string> kDurations = {"0s", "1s", "-1s", "315576000000s", "-315576000000s",
                                                        "0.000000001s", "86400s"};
    return json(kDurations[in.Pick(kDurations.size())]);
  }
  if (name == "google.protobuf.FieldMask") {
    static const std::vector<std::string> kMasks = {"", "name", "name,amount", "noSuchField", "a.b.c", "*"};
    return json(kMasks[in.Pick(kMasks.size())]);
  }
  if (name == "google.protobuf.Value") return AnyValue(in);
  if (name == "google.protobuf.Struct") {
    json o = json::object();
    o["k"] = AnyValue(in);
    return o;
  }
  if (name == "google.protobuf.ListValue") return json::array({AnyValue(in)});
  if (name == "google.protobuf.Empty") return json::object();
  if (name == "google.protobuf.Any") return json::object();
  if (absl::StartsWith(name, "google.protobuf.") && absl::EndsWith(name, "Value")) {
    return SingleValue(in, d->FindFieldByName("value"), depth);  // wrappers
  }
  json o = json::object();
  if (depth > 6) return o;
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    // Fill most fields: the more a request carries, the deeper it gets before a refusal.
    if (in.Pick(4) == 0) continue;
    // One member of a oneof (usually; both now and then, which the transcoder must refuse).
    if (const pb::OneofDescriptor* oneof = f->containing_oneof(); oneof != nullptr && !oneof->is_synthetic()) {
      bool taken = false;
      for (int k = 0; k < oneof->field_count(); ++k) taken = taken || o.contains(oneof->field(k)->json_name());
      if (taken && !in.OneIn(32)) continue;
    }
    o[f->json_name()] = FieldValue(in, f, depth);
  }
  return o;
}

// --- The hosted suite. ---

const std::vector<std::string>& Permissions() {
  // Every permission identity's migrations define (services/identity/migrations).
  static const std::vector<std::string> kAll = {
      "api_keys.manage", "api_keys.manage.all", "approvals.decide", "bots.manage", "calls.operate",
      "bookings.read.all", "bookings.read.own", "bookings.read.team", "bookings.write.all", "bookings.write.own",
      "bookings.write.team", "realty.manage", "realty.read",
      "catalog.manage", "checklists.fill", "checklists.review", "clients.read", "clients.write", "deals.copy",
      "deals.delete", "deals.read.all", "deals.read.own", "deals.read.team", "deals.write.all",
      "deals.write.own", "deals.write.team", "dialogs.operate", "erp.manage", "erp.sync", "dialogs.read.all", "dialogs.supervise",
      "identity.read.all", "interactions.read.all", "interactions.read.own", "interactions.read.team",
      "interactions.slots.manage", "interactions.write.all", "interactions.write.own", "interactions.write.team",
      "mortgage.calculate", "mortgage.manage", "mortgage.read.all", "notifications.read",
      "orders.serve", "parking.operate", "payments.write", "pipelines.manage", "quality.review",
      "queue.operate", "queue.read.all", "reporting.read.all", "reports.manage", "reports.read",
      "robots.manage", "robots.read", "robots.read.all", "roles.manage", "tasks.operate", "teams.manage",
      "telephony.manage", "telephony.read.all", "trips.drive", "users.manage", "users.read", "visits.manage"};
  return kAll;
}

// One in-process call of Gateway::Handle.
class LocalCall final : public crm::gateway::HttpCall {
 public:
  explicit LocalCall(crm::gateway::HttpRequest request) : request_(std::move(request)) {}
  const crm::gateway::HttpRequest& request() const override { return request_; }
  void SetRoute(std::string_view) override {}
  absl::Time deadline() const override { return deadline_; }
  crm::gateway::SseStream& StartSse() override {
    std::fprintf(stderr, "hostile-fuzz: a route started an SSE stream\n");
    std::abort();
  }

 private:
  crm::gateway::HttpRequest request_;
  absl::Time deadline_ = absl::Now() + absl::Seconds(30);
};

// A hosted service: its database and server.
struct Hosted {
  std::string name;
  std::unique_ptr<crm::pg::testing::TempDatabase> db;
  std::unique_ptr<crm::rpc::Server> server;
  std::unique_ptr<pqxx::connection> conn;  // for the row counts
  std::string count_sql;                   // one row per table: name, count
};

// Tables whose rows change without a request, or on a refused one by design.
bool Ignored(const std::string& service, const std::string& table) {
  return absl::StrContains(table, "migration") ||
         table == "inbox" ||  // events a service's consumer applies from Kafka, in the background
         (service == "identity" && table == "signin_failures") ||  // a refused sign-in is counted (401)
         (service == "deals" && (absl::StrContains(table, "total") ||  // board totals and their deltas,
                                 table == "deal_stage_deltas")) ||      // folded every second
         (service == "deals" && table == "user_directory") ||  // identity's users, from Kafka
         // robots' timer loops fire steps in the background (executions, their events, counters,
         // notifications, materialized schedule occurrences); rules, versions and schedules are checked.
         (service == "robots" && table != "rules" && table != "rule_versions" && table != "rules_revision" &&
          table != "schedules" && table != "idempotency");
}

class Suite {
 public:
  static Suite& Get() {
    static Suite* suite = [] {
      auto* s = new Suite();
      s->Start();
#ifdef CRM_HOSTILE_LIBFUZZER
      // libFuzzer ends with exit(), whose static destructors (libpqxx's among them) would race the hosted
      // services' threads. Registered after their start, this runs first: stop them, then leave as the g++
      // driver does.
      on_exit([](int status, void* suite) {
        static_cast<Suite*>(suite)->Stop();
        std::_Exit(status);
      }, s);
#endif
      return s;
    }();
    return *suite;
  }

  const std::vector<crm::gateway::Route>& routes() const { return routes_; }

  std::string Token() {
    const absl::Time now = absl::Now();
    if (token_.empty() || now - token_issued_ > absl::Minutes(5)) {
      crm::auth::Claims c;
      c.iss = "crm-identity";
      c.aud = "crm";
      c.sub = "0190f0a0-0000-7000-8000-00000000a0a0";
      c.jti = absl::StrCat("hostile-", absl::ToUnixNanos(now));
      c.kind = "user";
      c.roles = {"administrator"};
      c.teams = {"0190f0a0-0000-7000-8000-00000000b0b0"};
      c.scopes = Permissions();
      c.mfa = true;
      c.iat = now;
      c.exp = now + absl::Minutes(10);
      absl::StatusOr<std::string> t = crm::auth::SignJwt(c, *user_key_);
      if (!t.ok()) Die(absl::StrCat("cannot sign a token: ", t.status().ToString()));
      token_ = *t;
      token_issued_ = now;
    }
    return token_;
  }

  crm::gateway::HttpResponse Send(crm::gateway::HttpRequest request) {
    LocalCall call(std::move(request));
    return gateway_->Handle(call);
  }

  // Row counts of every table of every hosted database ("deals.deals" → n).
  std::map<std::string, int64_t> Counts() {
    std::map<std::string, int64_t> out;
    for (Hosted& h : hosted_) {
      try {
        pqxx::nontransaction tx(*h.conn);
        for (const auto& row : tx.exec(h.count_sql)) {
          out[absl::StrCat(h.name, ".", row[0].c_str())] = row[1].as<int64_t>();
        }
      } catch (const std::exception& e) {
        Die(absl::StrCat("cannot count the rows of ", h.name, ": ", e.what()));
      }
    }
    return out;
  }

  // Stops the servers and drops the databases.
  void Stop() {
    gateway_.reset();
    for (Hosted& h : hosted_) {
      h.conn.reset();
      h.server->Shutdown();
      h.server->Wait();
      h.server.reset();
      h.db.reset();
    }
  }

  [[noreturn]] static void Die(const std::string& why) {
    std::fprintf(stderr, "hostile-fuzz: %s\n", why.c_str());
    std::exit(2);
  }

 private:
  void Start() {
    crm::log::Init("hostile-fuzz", crm::log::Level::kError);
    if (std::getenv("CRM_TEST_PG_DSN") == nullptr) Die("CRM_TEST_PG_DSN is not set (run it with tools/crm test)");
    const std::string blob_dir = absl::StrCat(std::filesystem::temp_directory_path().string(), "/hostile-fuzz-blobs-", getpid());
    std::filesystem::create_directories(blob_dir);
    Host("identity", crm::identity::Wire, {});
    // deals consumes identity's users from Kafka (the test broker, a group of its own; the table it
    // fills is left out of the row counts).
    const char* brokers = std::getenv("CRM_TEST_KAFKA_BROKERS");
    Host("deals", crm::deals::Wire,
         {{"KAFKA_BROKERS", brokers != nullptr ? brokers : "127.0.0.1:1"},
          {"CONSUMER_GROUP", absl::StrCat("hostile-fuzz-", getpid())},
          {"BLOB_DIR", blob_dir},
          {"OVERDUE_SCAN_INTERVAL_MS", "0"}});
    // robots consumes the suite's events and identity's users the same way and calls the hosted deals.
    Host("robots", crm::robots::Wire,
         {{"KAFKA_BROKERS", brokers != nullptr ? brokers : "127.0.0.1:1"},
          {"CONSUMER_GROUP", absl::StrCat("hostile-fuzz-robots-", getpid())},
          {"DEALS_ADDRESS", absl::StrCat("127.0.0.1:", hosted_[1].server->grpc_port())},
          {"TIMER_WORKERS", "1"}});
    // mortgage asks the hosted deals whether an application's client and deal exist (M4).
    Host("mortgage", crm::mortgage::Wire, {{"DEALS_ADDRESS", absl::StrCat("127.0.0.1:", hosted_[1].server->grpc_port())}});

    // The gateway over the API descriptor set, routing the hosted services' routes.
    std::map<std::string, std::string> backends;
    for (const Hosted& h : hosted_) backends[h.name] = absl::StrCat("127.0.0.1:", h.server->grpc_port());
    crm::gateway::GatewayOptions o;
    o.descriptor_sets = {CRM_API_PB};
    o.backend_for = [backends](std::string_view service) {
      for (const auto& [name, address] : backends) {
        if (service.starts_with(absl::StrCat("crm.", name, "."))) return address;
      }
      return std::string();
    };
    absl::StatusOr<crm::auth::SigningKey> user_key = crm::auth::SigningKey::Generate("hostile-identity");
    absl::StatusOr<crm::auth::SigningKey> gateway_key = crm::auth::SigningKey::Generate("hostile-gateway");
    if (!user_key.ok() || !gateway_key.ok()) Die("cannot generate keys");
    user_key_ = *user_key;
    crm::auth::KeySet keys;
    keys.Add(user_key_->public_key());
    o.auth.jwks = std::make_shared<crm::gateway::testing::StaticKeys>(std::move(keys));
    o.service_key = *gateway_key;
    o.per_user_rate = 0;
    absl::StatusOr<std::unique_ptr<crm::gateway::Gateway>> gw = crm::gateway::Gateway::Create(std::move(o));
    if (!gw.ok()) Die(absl::StrCat("cannot create the gateway: ", gw.status().ToString()));
    gateway_ = *std::move(gw);

    // The routes of the hosted services.
    absl::StatusOr<std::vector<std::string>> services = crm::gateway::LoadDescriptorSetFiles({CRM_API_PB}, &pool_);
    if (!services.ok()) Die(services.status().ToString());
    std::vector<std::string> hosted_services;
    for (const std::string& s : *services) {
      for (const auto& [name, address] : backends) {
        if (absl::StartsWith(s, absl::StrCat("crm.", name, "."))) {
          hosted_services.push_back(s);
          break;
        }
      }
    }
    absl::StatusOr<crm::gateway::Router> router = crm::gateway::Router::Build(pool_, hosted_services);
    if (!router.ok()) Die(router.status().ToString());
    routes_ = router->routes();
    router_.emplace(*std::move(router));
    std::fprintf(stderr, "hostile-fuzz: %zu routes of %zu services (identity, deals, robots, mortgage)\n", routes_.size(),
                 hosted_services.size());
  }

  void Host(const std::string& name, absl::Status (*wire)(crm::config::Env&, crm::rpc::Server&),
            std::map<std::string, std::string> settings) {
    Hosted h;
    h.name = name;
    absl::StatusOr<std::unique_ptr<crm::pg::testing::TempDatabase>> db = crm::pg::testing::TempDatabase::Create("fz" + name);
    if (!db.ok()) Die(absl::StrCat("cannot create the database of ", name, ": ", db.status().ToString()));
    h.db = *std::move(db);
    settings["PG_DSN"] = h.db->dsn();
    settings["OUTBOX_RELAY"] = "false";
    settings["PG_POOL_SIZE"] = "4";
    const std::string prefix = absl::AsciiStrToUpper(name);
    crm::config::Env env(name, [settings, prefix](const std::string& var) -> std::optional<std::string> {
      for (const auto& [k, v] : settings) {
        if (var == absl::StrCat("CRM_", prefix, "_", k) || var == absl::StrCat("CRM_", k)) return v;
      }
      return std::nullopt;
    });
    crm::rpc::ServerOptions so;
    so.service = name;
    so.grpc_address = "127.0.0.1:0";
    so.metrics_address = "127.0.0.1:0";
    so.log_level = "error";
    h.server = std::make_unique<crm::rpc::Server>(so);
    absl::Status wired = wire(env, *h.server);
    if (!wired.ok()) Die(absl::StrCat("cannot wire ", name, ": ", wired.ToString()));
    if (!env.status().ok()) Die(absl::StrCat("bad settings for ", name, ": ", env.status().ToString()));
    if (absl::Status s = h.server->Start(); !s.ok()) Die(absl::StrCat("cannot start ", name, ": ", s.ToString()));
    h.conn = std::make_unique<pqxx::connection>(h.db->dsn());
    std::vector<std::string> parts;
    {
      pqxx::nontransaction tx(*h.conn);
      for (const auto& row : tx.exec("SELECT table_schema, table_name FROM information_schema.tables "
                                     "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN "
                                     "('pg_catalog', 'information_schema') ORDER BY 1, 2")) {
        const std::string schema = row[0].c_str(), table = row[1].c_str();
        if (Ignored(name, table)) continue;
        const std::string qualified = tx.quote_name(schema) + "." + tx.quote_name(table);
        parts.push_back(absl::StrCat("SELECT ", tx.quote(schema + "." + table), ", count(*) FROM ", qualified));
      }
    }
    if (parts.empty()) Die(absl::StrCat("no tables in the database of ", name));
    h.count_sql = absl::StrJoin(parts, " UNION ALL ");
    hosted_.push_back(std::move(h));
  }

  std::vector<Hosted> hosted_;
  pb::DescriptorPool pool_;
  std::optional<crm::gateway::Router> router_;
  std::vector<crm::gateway::Route> routes_;
  std::unique_ptr<crm::gateway::Gateway> gateway_;
  std::optional<crm::auth::SigningKey> user_key_;
  std::string token_;
  absl::Time token_issued_;
};

// --- One request. ---

std::string PercentEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string PathValue(Choices& in) {
  std::string v = HostileString(in);
  if (v.size() > 2000) v.resize(2000);  // paths are bounded by the edge long before this
  if (v.empty()) v = "x";
  return v;
}

struct Request {
  crm::gateway::HttpRequest http;
  std::string description;  // for the failure report
};

Request MakeRequest(Choices& in, Suite& suite) {
  const std::vector<crm::gateway::Route>& routes = suite.routes();
  const crm::gateway::Route& route = routes[in.Pick(routes.size())];
  const crm::gateway::PathTemplate& t = route.path;
  std::string path;
  std::vector<std::string> path_fields;
  for (const crm::gateway::PathVariable& v : t.variables) path_fields.push_back(v.field_path.front());
  for (size_t i = 0; i < t.segments.size(); ++i) {
    const crm::gateway::PathSegment& s = t.segments[i];
    path += '/';
    if (s.kind == crm::gateway::PathSegment::Kind::kLiteral) {
      path += s.literal;
    } else {
      path += PercentEncode(PathValue(in));
    }
  }
  if (!t.verb.empty()) absl::StrAppend(&path, ":", t.verb);

  const pb::Descriptor* input = route.method->input_type();
  const std::string& body_field = route.binding.body();
  std::string body;
  std::vector<std::pair<std::string, std::string>> query;
  if (body_field == "*") {
    json j = MessageJson(in, input, 0);
    for (const std::string& f : path_fields) {
      if (const pb::FieldDescriptor* fd = input->FindFieldByName(f); fd != nullptr) j.erase(fd->json_name());
    }
    body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  } else {
    if (!body_field.empty()) {
      if (const pb::FieldDescriptor* fd = input->FindFieldByName(body_field); fd != nullptr) {
        body = FieldValue(in, fd, 0).dump(-1, ' ', false, json::error_handler_t::replace);
      }
    }
    // Query parameters: top-level scalar fields not bound elsewhere.
    for (int i = 0; i < input->field_count(); ++i) {
      const pb::FieldDescriptor* f = input->field(i);
      if (f->name() == body_field || f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE ||
          std::find(path_fields.begin(), path_fields.end(), f->name()) != path_fields.end() || in.Pick(3) != 0) {
        continue;
      }
      json v = SingleValue(in, f, 0);
      std::string text = v.is_string() ? v.get<std::string>() : v.dump();
      if (text.size() > 4000) text.resize(4000);
      query.emplace_back(f->json_name(), text);
    }
  }

  Request r;
  r.http.method = route.http_method;
  r.http.path = path;
  std::vector<std::string> raw;
  for (const auto& [k, v] : query) raw.push_back(absl::StrCat(k, "=", PercentEncode(v)));
  r.http.raw_query = absl::StrJoin(raw, "&");
  r.http.query = query;
  r.http.body = body;
  r.http.remote_ip = "127.0.0.1";
  r.http.request_id = "hostile-fuzz";
  r.http.headers = {{"Host", "crm"}, {"Authorization", "Bearer " + suite.Token()}};
  if (!body.empty()) r.http.headers.emplace_back("Content-Type", "application/json");
  std::string shown_body = body.size() > 600 ? absl::StrCat(body.substr(0, 600), "... (", body.size(), " bytes)") : body;
  r.description = absl::StrCat(route.method->full_name(), "\n  ", route.http_method, " ", path.substr(0, 600),
                               r.http.raw_query.empty() ? "" : "?", r.http.raw_query.substr(0, 600),
                               "\n  body: ", shown_body);
  return r;
}

// Text that must never reach a client: the database's and libraries' own.
const std::vector<std::string>& InternalMarkers() {
  static const std::vector<std::string> kMarkers = {
      "violates", "constraint", "sqlstate", "error:  ", "pqxx", "syntax error", "duplicate key",
      "relation \"", "on table \"", "column \"", "invalid input syntax", "out of range for type",
      "numeric field overflow", "value too long for type", "postgres", "libpq", "std::", "terminate called",
      "what():", "deadlock detected", "current transaction is aborted", "could not serialize",
      "null value in column", "unterminated", "invalid byte sequence", "character with byte sequence",
      "metadata size", "exceeds limit", "grpc", "rpc error",
      // protobuf's JSON parser (the transcoder answers with json_check.h's words instead)
      "root element", "cannot find field", "for type type_", "type.googleapis.com", "expected a value",
      "non utf-8 code points", "invalid value \""};
  return kMarkers;
}

[[noreturn]] void Fail(const std::string& what, const Request& r, const crm::gateway::HttpResponse& resp);

// Answers by status and by status and method, for the summary.
std::map<int, size_t> g_statuses;
std::map<std::string, size_t> g_answers;
// The longest error body and its request's method, for the summary.
size_t g_longest_error = 0;
std::string g_longest_error_method;

void CheckOne(const uint8_t* data, size_t size) {
  Suite& suite = Suite::Get();
  Choices in(data, size);
  static const size_t kWildness[] = {1, 4, 16, 64};
  g_wildness = kWildness[in.Pick(4)];
  Request r = MakeRequest(in, suite);
  const bool writes = r.http.method != "GET";
  std::map<std::string, int64_t> before;
  if (writes) before = suite.Counts();
  crm::gateway::HttpResponse resp = suite.Send(r.http);
  ++g_statuses[resp.status];
  if (resp.status >= 400 && resp.body.size() > g_longest_error) {
    g_longest_error = resp.body.size();
    g_longest_error_method = r.description.substr(0, r.description.find('\n'));
  }
  {
    std::string message;
    if (resp.status >= 400) {
      json j = json::parse(resp.body, nullptr, false);
      if (j.is_object() && j.contains("error") && j["error"].is_object()) {
        message = j["error"].value("message", "");
        if (j["error"].contains("details")) message += " " + j["error"]["details"].dump().substr(0, 150);
      }
    }
    ++g_answers[absl::StrCat(resp.status, " ", r.description.substr(0, r.description.find('\n')), " ",
                             message.substr(0, 200))];
  }
  if (resp.status >= 500) Fail(absl::StrCat("status ", resp.status), r, resp);
  // CRM_HOSTILE_SHOW=<text>: print every request whose answer contains the text (investigations).
  static const char* show = std::getenv("CRM_HOSTILE_SHOW");
  if (show != nullptr && absl::StrContains(resp.body, show)) {
    std::fprintf(stderr, "hostile-fuzz: %s\n  -> %d %s\n", r.description.c_str(), resp.status, resp.body.substr(0, 600).c_str());
  }
  if (resp.status == 200) HarvestIds(json::parse(resp.body, nullptr, false), "");
  if (resp.status >= 400) {
    const std::string lower = absl::AsciiStrToLower(resp.body);
    for (const std::string& m : InternalMarkers()) {
      if (absl::StrContains(lower, m)) Fail(absl::StrCat("internal text \"", m, "\" in the error"), r, resp);
    }
    if (writes) {
      std::map<std::string, int64_t> after = suite.Counts();
      if (after != before) {
        std::string diff;
        for (const auto& [table, n] : after) {
          auto it = before.find(table);
          const int64_t was = it == before.end() ? 0 : it->second;
          if (was != n) absl::StrAppend(&diff, " ", table, ": ", was, " -> ", n, ";");
        }
        Fail(absl::StrCat("refused with ", resp.status, " but rows changed:", diff), r, resp);
      }
    }
  }
}

// The input being run, for the failure report.
const uint8_t* g_data = nullptr;
size_t g_size = 0;
std::string g_failure_dir = ".";

#ifndef CRM_HOSTILE_LIBFUZZER  // libFuzzer saves the input itself (crash-<sha1>)
void SaveInput() {
  if (g_data == nullptr) return;
  const std::string path = absl::StrCat(g_failure_dir, "/hostile-failure-", getpid(), ".bin");
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(g_data), static_cast<std::streamsize>(g_size));
  std::fprintf(stderr, "hostile-fuzz: input saved to %s; replay: crm-hostile-fuzz %s (with CRM_TEST_PG_DSN)\n",
               path.c_str(), path.c_str());
}
#endif

void Fail(const std::string& what, const Request& r, const crm::gateway::HttpResponse& resp) {
  std::string body = resp.body.size() > 2000 ? resp.body.substr(0, 2000) + "..." : resp.body;
  std::fprintf(stderr, "hostile-fuzz: FAILED: %s\n  %s\n  -> %d %s\n", what.c_str(), r.description.c_str(),
               resp.status, body.c_str());
#ifndef CRM_HOSTILE_LIBFUZZER
  SaveInput();
#endif
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  g_data = data;
  g_size = size;
  CheckOne(data, size);
  g_data = nullptr;
  return 0;
}

#ifndef CRM_HOSTILE_LIBFUZZER
// --- The driver of the g++ build. ---
namespace {

void OnCrash(int sig) {
  SaveInput();
  signal(sig, SIG_DFL);
  raise(sig);
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

int Usage() {
  std::fprintf(stderr,
               "usage: crm-hostile-fuzz [--seconds N] [--seed S] [--corpus DIR] [--failure-dir DIR] [FILE...]\n"
               "  with FILEs: runs each input once (replay); else the corpus, then random inputs for N s\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 60;
  uint64_t seed = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  std::string corpus;
#ifdef CRM_HOSTILE_CORPUS
  corpus = CRM_HOSTILE_CORPUS;
#endif
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) std::exit(Usage());
      return argv[++i];
    };
    if (a == "--seconds") {
      seconds = std::atof(value().c_str());
    } else if (a == "--seed") {
      seed = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--corpus") {
      corpus = value();
    } else if (a == "--failure-dir") {
      g_failure_dir = value();
    } else if (a.starts_with("-")) {
      return Usage();
    } else {
      files.emplace_back(a);
    }
  }
  // CRM_HOSTILE_SECONDS overrides --seconds (a longer run through tools/crm test).
  if (const char* s = std::getenv("CRM_HOSTILE_SECONDS"); s != nullptr && std::atof(s) > 0) seconds = std::atof(s);
  signal(SIGSEGV, OnCrash);
  signal(SIGBUS, OnCrash);
  signal(SIGFPE, OnCrash);
  signal(SIGILL, OnCrash);
  Suite::Get();
  if (!files.empty()) {
    for (const std::string& f : files) {
      std::vector<uint8_t> input = ReadFile(f);
      std::fprintf(stderr, "hostile-fuzz: replaying %s (%zu bytes)\n", f.c_str(), input.size());
      LLVMFuzzerTestOneInput(input.data(), input.size());
    }
    std::fprintf(stderr, "hostile-fuzz: %zu inputs passed\n", files.size());
    Suite::Get().Stop();
    std::_Exit(0);
  }
  size_t runs = 0;
  if (!corpus.empty() && std::filesystem::is_directory(corpus)) {
    std::vector<std::string> paths;
    for (const auto& e : std::filesystem::directory_iterator(corpus)) {
      if (e.is_regular_file()) paths.push_back(e.path().string());
    }
    std::sort(paths.begin(), paths.end());
    for (const std::string& p : paths) {
      std::vector<uint8_t> input = ReadFile(p);
      LLVMFuzzerTestOneInput(input.data(), input.size());
      ++runs;
    }
    std::fprintf(stderr, "hostile-fuzz: %zu corpus inputs passed\n", runs);
  }
  std::fprintf(stderr, "hostile-fuzz: random inputs for %.0f s, --seed %llu\n", seconds,
               static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  const absl::Time end = absl::Now() + absl::Seconds(seconds);
  size_t random_runs = 0;
  while (absl::Now() < end) {
    std::vector<uint8_t> input(16 + rng() % 240);
    for (uint8_t& b : input) b = static_cast<uint8_t>(rng());
    LLVMFuzzerTestOneInput(input.data(), input.size());
    ++random_runs;
  }
  std::fprintf(stderr, "hostile-fuzz: %zu random inputs passed (--seed %llu)\n", random_runs,
               static_cast<unsigned long long>(seed));
  std::string statuses;
  for (const auto& [status, n] : g_statuses) absl::StrAppend(&statuses, " ", status, ":", n);
  std::fprintf(stderr, "hostile-fuzz: answers by status:%s\n", statuses.c_str());
  std::fprintf(stderr, "hostile-fuzz: longest error body: %zu bytes (%s)\n", g_longest_error,
               g_longest_error_method.c_str());
  if (std::getenv("CRM_HOSTILE_VERBOSE") != nullptr) {
    for (const auto& [answer, n] : g_answers) std::fprintf(stderr, "  %6zu  %s\n", n, answer.c_str());
  }
  Suite::Get().Stop();
  std::_Exit(0);
}
#endif
