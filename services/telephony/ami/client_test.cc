// File: services/telephony/ami/client_test.cc
// The AMI client and commands against the fake Asterisk (tests/fakes/ami_server.py, a child process that
// speaks AMI over TCP as Asterisk does). Why the Python fake and not an in-test Asio server: it is the one
// fake the e2e tests and `tools/crm up` use too, so the client is proven against the same wire behaviour
// everywhere, and its control API scripts calls, drops and outages without a second protocol
// implementation here. The intake is an in-memory CallIntakeApi with the real contract (idempotent by
// event_key, open legs = legs without an ended fact) so the test needs no database.
#include <curl/curl.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics.h"
#include "libs/metrics/metrics_testing.h"
#include "nlohmann/json.hpp"
#include "services/telephony/ami/client.h"
#include "services/telephony/ami/commands.h"
#include "services/telephony/ami/mapping.h"
#include "tests/support/process.h"

namespace crm::telephony::ami {
namespace {

using calls::CallEvent;
using ::testing::ElementsAre;

constexpr absl::Duration kWait = absl::Seconds(20);

// An in-memory intake with the calls part's contract.
class MemoryIntake {
 public:
  calls::CallIntakeApi Api() {
    return {.record = [this](const CallEvent& e) -> absl::StatusOr<bool> {
              absl::MutexLock l(&mu_);
              ++record_calls_;
              if (fail_next_ > 0) {
                --fail_next_;
                return absl::UnavailableError("the database is down");
              }
              if (!keys_.insert(e.event_key).second) return false;
              stored_.push_back(e);
              return true;
            },
            .open_legs = [this](std::string_view provider) -> absl::StatusOr<std::vector<calls::LegRef>> {
              absl::MutexLock l(&mu_);
              std::vector<calls::LegRef> open;
              absl::flat_hash_set<std::string> seen;
              for (const CallEvent& e : stored_) {
                if (e.provider != provider || e.leg_key.empty() || !seen.insert(e.leg_key).second) continue;
                if (keys_.contains(e.leg_key + ":ended")) continue;
                open.push_back({.call_key = e.call_key, .leg_key = e.leg_key, .channel = e.channel});
              }
              return open;
            }};
  }
  void FailNext(int n) {
    absl::MutexLock l(&mu_);
    fail_next_ = n;
  }
  bool Has(const std::string& key) {
    absl::MutexLock l(&mu_);
    return keys_.contains(key);
  }
  std::vector<CallEvent> Stored() {
    absl::MutexLock l(&mu_);
    return stored_;
  }
  // The stored keys of `legs`' facts, in the order they were stored.
  std::vector<std::string> KeysOf(const std::vector<std::string>& legs) {
    std::vector<std::string> out;
    for (const CallEvent& e : Stored()) {
      if (std::find(legs.begin(), legs.end(), e.leg_key) != legs.end()) out.push_back(e.event_key);
    }
    return out;
  }
  const CallEvent* Find(const std::string& key, CallEvent* out) {
    absl::MutexLock l(&mu_);
    for (const CallEvent& e : stored_) {
      if (e.event_key == key) {
        *out = e;
        return out;
      }
    }
    return nullptr;
  }
  int record_calls() {
    absl::MutexLock l(&mu_);
    return record_calls_;
  }

 private:
  absl::Mutex mu_;
  std::vector<CallEvent> stored_;
  absl::flat_hash_set<std::string> keys_;
  int fail_next_ = 0;
  int record_calls_ = 0;
};

size_t Collect(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

// The fake Asterisk, killed at destruction.
class FakeAsterisk {
 public:
  static std::unique_ptr<FakeAsterisk> Start() {
    auto p = crm::testing::Process::Spawn({CRM_PYTHON, CRM_AMI_FAKE});
    if (!p.ok()) {
      ADD_FAILURE() << p.status();
      return nullptr;
    }
    auto line = (*p)->ReadLineStartingWith("ami_server listening on", absl::Seconds(20));
    if (!line.ok()) {
      ADD_FAILURE() << "the fake AMI server did not start: " << line.status();
      return nullptr;
    }
    // "ami_server listening on 127.0.0.1:<ami> http 127.0.0.1:<http>"
    std::vector<std::string> words = absl::StrSplit(*line, ' ');
    auto fake = std::unique_ptr<FakeAsterisk>(new FakeAsterisk());
    fake->process_ = std::move(*p);
    fake->ami_port_ = words[3].substr(words[3].rfind(':') + 1);
    fake->http_ = "http://" + words[5];
    return fake;
  }
  ~FakeAsterisk() {
    if (process_ != nullptr) {
      process_->Kill(SIGKILL);
      (void)process_->Wait(absl::Seconds(10));
    }
  }
  const std::string& ami_port() const { return ami_port_; }

  nlohmann::json Control(const std::string& method, const std::string& action,
                         const nlohmann::json& body = nlohmann::json::object()) const {
    CURL* c = curl_easy_init();
    std::string out;
    const std::string url = absl::StrCat(http_, "/_fake/", action);
    const std::string data = body.dump();
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (method == "POST") curl_easy_setopt(c, CURLOPT_POSTFIELDS, data.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
      ADD_FAILURE() << method << " " << url << ": " << curl_easy_strerror(rc);
      return nlohmann::json();
    }
    return nlohmann::json::parse(out);
  }
  // The actions the fake received named `name`.
  std::vector<nlohmann::json> Actions(const std::string& name) const {
    std::vector<nlohmann::json> out;
    for (const auto& a : Control("GET", "actions")) {
      if (a["action"] == name) out.push_back(a);
    }
    return out;
  }

 private:
  FakeAsterisk() = default;
  std::unique_ptr<crm::testing::Process> process_;
  std::string ami_port_;
  std::string http_;
};

class AmiClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = FakeAsterisk::Start();
    ASSERT_NE(fake_, nullptr);
  }

  std::unique_ptr<Client> MakeClient(MemoryIntake& intake, std::string secret = "crm-secret") {
    auto mapper = Mapper::Create({.recording_url_template = "https://pbx.example.com/rec/{file}"});
    EXPECT_TRUE(mapper.ok());
    ClientOptions options{.host = "127.0.0.1",
                          .port = fake_->ami_port(),
                          .username = "crm",
                          .secret = std::move(secret),
                          .reconnect_min = absl::Milliseconds(20),
                          .reconnect_max = absl::Milliseconds(200),
                          .login_timeout = absl::Seconds(5),
                          .ping_interval = absl::Milliseconds(200)};
    return std::make_unique<Client>(std::move(options), *std::move(mapper), intake.Api(), crm::SystemClock());
  }

  std::unique_ptr<FakeAsterisk> fake_;
};

// Login, then every fact of a call recorded once, in the order Asterisk sent them, although the intake
// failed the first records (retried, not skipped).
TEST_F(AmiClientTest, LogsInAndRecordsInOrderRetryingFailures) {
  MemoryIntake intake;
  auto client = MakeClient(intake);
  client->Start();
  ASSERT_TRUE(crm::testing::WaitFor([&] { return client->link_up() && client->resyncs() >= 1; }, kWait));
  EXPECT_EQ(fake_->Control("GET", "state")["logins_ok"], 1);
  intake.FailNext(3);
  nlohmann::json call = fake_->Control("POST", "call", {{"from", "79991234567"}, {"extension", "101"},
                                                        {"did", "74951234567"}, {"answer_after", 0.05},
                                                        {"talk", 0.1}, {"record", true}});
  const std::string a = call["legs"][0], b = call["legs"][1];
  ASSERT_TRUE(crm::testing::WaitFor([&] { return intake.Has(a + ":ended") && intake.Has(b + ":ended"); }, kWait));
  EXPECT_THAT(intake.KeysOf({a, b}),
              ElementsAre(a + ":ringing", b + ":ringing", b + ":answered", a + ":answered", a + ":recording",
                          b + ":ended", a + ":ended"));
  CallEvent first;
  ASSERT_NE(intake.Find(a + ":ringing", &first), nullptr);
  EXPECT_EQ(first.direction, CallEvent::Direction::kInbound);
  EXPECT_EQ(first.from, "79991234567");
  EXPECT_EQ(first.line, "74951234567");
  EXPECT_EQ(first.call_key, a);
  CallEvent employee;
  ASSERT_NE(intake.Find(b + ":ringing", &employee), nullptr);
  EXPECT_EQ(employee.extension, "101");
  EXPECT_EQ(employee.call_key, a);
  CallEvent rec;
  ASSERT_NE(intake.Find(a + ":recording", &rec), nullptr);
  EXPECT_EQ(rec.recording_url, absl::StrCat("https://pbx.example.com/rec/", a, ".wav"));
  CallEvent ended;
  ASSERT_NE(intake.Find(a + ":ended", &ended), nullptr);
  EXPECT_EQ(ended.end_reason, "Normal Clearing");
  EXPECT_TRUE(ended.answered);
  // The login sent Events: on and never shows the secret in the fake's record.
  auto logins = fake_->Actions("Login");
  ASSERT_EQ(logins.size(), 1u);
  EXPECT_EQ(logins[0]["fields"]["events"], "on");
}

// A refused login is retried with backoff and never logs the secret.
TEST_F(AmiClientTest, RefusedLoginRetriedWithoutLoggingTheSecret) {
  absl::Mutex mu;
  std::vector<std::string> lines;
  crm::log::SetSinkForTesting([&](std::string_view line) {
    absl::MutexLock l(&mu);
    lines.emplace_back(line);
  });
  MemoryIntake intake;
  auto client = MakeClient(intake, "wrong-Secret-42");
  client->Start();
  ASSERT_TRUE(crm::testing::WaitFor([&] { return fake_->Control("GET", "state")["logins_failed"] >= 3; }, kWait));
  EXPECT_FALSE(client->link_up());
  Commands commands(*client, {});
  EXPECT_EQ(commands.Hangup({.channel = "PJSIP/101-00000001"}).code(), absl::StatusCode::kUnavailable);
  client->Stop();
  crm::log::SetSinkForTesting(nullptr);
  absl::MutexLock l(&mu);
  bool refused_logged = false;
  for (const std::string& line : lines) {
    EXPECT_FALSE(absl::StrContains(line, "wrong-Secret-42")) << line;
    refused_logged |= absl::StrContains(line, "AMI login refused");
  }
  EXPECT_TRUE(refused_logged);
}

// The link drops mid-call; while it is down the call is hung up (its Hangup is lost) and another call
// starts. Commands answer UNAVAILABLE meanwhile. Back up, the client resynchronises: the first call's legs
// are ended (the Hangup's keys, reason LINK_LOST) and the second call's legs are known.
TEST_F(AmiClientTest, ReconnectsAndResynchronises) {
  auto exposer = crm::metrics::Exposer::Start("127.0.0.1:0");
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  auto metric = [&](const char* name) {
    auto page = crm::metrics::testing::Scrape((*exposer)->port());
    return page.ok() ? crm::metrics::testing::SampleValue(*page, name).value_or(-1) : -1;
  };
  MemoryIntake intake;
  auto client = MakeClient(intake);
  Commands commands(*client, {.timeout = absl::Seconds(5)});
  client->Start();
  ASSERT_TRUE(crm::testing::WaitFor([&] { return client->resyncs() >= 1; }, kWait));
  EXPECT_EQ(metric("crm_telephony_ami_link_up"), 1);
  const double reconnects = metric("crm_telephony_ami_reconnects_total");
  const double ended_by_resync = metric("crm_telephony_ami_resync_ended_total");
  const double events_read = metric("crm_telephony_ami_events_read_total");
  nlohmann::json call = fake_->Control("POST", "call", {{"from", "79990000001"}, {"extension", "101"},
                                                        {"answer_after", 0.05}, {"talk", nullptr}});
  const std::string a = call["legs"][0], b = call["legs"][1];
  ASSERT_TRUE(crm::testing::WaitFor([&] { return intake.Has(a + ":answered") && intake.Has(b + ":answered"); },
                                    kWait));

  EXPECT_GT(metric("crm_telephony_ami_events_read_total"), events_read);
  fake_->Control("POST", "drop", {{"refuse", true}});
  ASSERT_TRUE(crm::testing::WaitFor([&] { return !client->link_up(); }, kWait));
  ASSERT_TRUE(crm::testing::WaitFor([&] { return metric("crm_telephony_ami_link_up") == 0; }, kWait));
  EXPECT_GT(metric("crm_telephony_ami_reconnects_total"), reconnects);
  CallEvent leg_b;
  ASSERT_NE(intake.Find(b + ":ringing", &leg_b), nullptr);
  EXPECT_EQ(commands.Hangup({.call_key = a, .leg_key = b, .channel = leg_b.channel}).code(),
            absl::StatusCode::kUnavailable);
  fake_->Control("POST", "hangup", {{"linkedid", a}});
  nlohmann::json second = fake_->Control("POST", "call", {{"from", "79990000002"}, {"extension", "102"},
                                                          {"answer_after", 0.0}, {"talk", nullptr}});
  const std::string c = second["legs"][0], d = second["legs"][1];
  ASSERT_TRUE(crm::testing::WaitFor(
      [&] { return fake_->Control("GET", "channels").size() == 2 && fake_->Control("GET", "channels")[0]["bridge"] != ""; },
      kWait));
  EXPECT_FALSE(intake.Has(a + ":ended"));
  const int64_t resyncs_before = client->resyncs();

  fake_->Control("POST", "accept");
  ASSERT_TRUE(crm::testing::WaitFor([&] { return client->resyncs() > resyncs_before; }, kWait));
  EXPECT_GE(client->logins(), 2);
  for (const std::string& leg : {a, b}) {
    CallEvent ended;
    ASSERT_NE(intake.Find(leg + ":ended", &ended), nullptr) << leg;
    EXPECT_EQ(ended.end_reason, "LINK_LOST");
    EXPECT_EQ(ended.call_key, a);
  }
  EXPECT_EQ(metric("crm_telephony_ami_resync_ended_total"), ended_by_resync + 2);
  EXPECT_EQ(metric("crm_telephony_ami_link_up"), 1);
  for (const std::string& leg : {c, d}) {
    EXPECT_TRUE(intake.Has(leg + ":ringing")) << leg;
    EXPECT_TRUE(intake.Has(leg + ":answered")) << leg;
    EXPECT_FALSE(intake.Has(leg + ":ended")) << leg;
  }
  // Events flow again after the resync.
  fake_->Control("POST", "hangup", {{"linkedid", c}});
  ASSERT_TRUE(crm::testing::WaitFor([&] { return intake.Has(c + ":ended") && intake.Has(d + ":ended"); }, kWait));
  CallEvent ended;
  ASSERT_NE(intake.Find(c + ":ended", &ended), nullptr);
  EXPECT_EQ(ended.end_reason, "Normal Clearing");
}

// A link that goes silent (a hung Asterisk, a half-open connection) is noticed by its unanswered Ping and
// replaced: a new login, a new resynchronisation.
TEST_F(AmiClientTest, SilentLinkReplaced) {
  MemoryIntake intake;
  auto client = MakeClient(intake);
  client->Start();
  ASSERT_TRUE(crm::testing::WaitFor([&] { return client->resyncs() >= 1; }, kWait));
  EXPECT_EQ(client->logins(), 1);
  ASSERT_TRUE(crm::testing::WaitFor([&] { return !fake_->Actions("Ping").empty(); }, kWait));
  EXPECT_EQ(client->logins(), 1);  // answered Pings keep the link
  fake_->Control("POST", "mute");
  ASSERT_TRUE(crm::testing::WaitFor([&] { return client->logins() >= 2 && client->resyncs() >= 2; }, kWait));
  EXPECT_TRUE(client->link_up());
}

// Originate, Redirect, Bridge and Hangup as Asterisk receives them, their answers, and the errors.
TEST_F(AmiClientTest, Commands) {
  MemoryIntake intake;
  auto client = MakeClient(intake);
  Commands commands(*client, {.originate_channel = "PJSIP/{extension}", .context = "from-internal"});
  EXPECT_EQ(commands.provider(), "asterisk");
  client->Start();
  ASSERT_TRUE(crm::testing::WaitFor([&] { return client->resyncs() >= 1; }, kWait));

  auto reference = commands.Originate({.extension = "101", .number = "79995556677", .reference = "attempt-1"});
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto originates = fake_->Actions("Originate");
  ASSERT_EQ(originates.size(), 1u);
  const auto& f = originates[0]["fields"];
  EXPECT_EQ(f["channel"], "PJSIP/101");
  EXPECT_EQ(f["context"], "from-internal");
  EXPECT_EQ(f["exten"], "79995556677");
  EXPECT_EQ(f["priority"], "1");
  EXPECT_EQ(f["async"], "true");
  EXPECT_EQ(f["actionid"], "attempt-1");
  // The originated call arrives as events: the employee's leg first (outbound), then the number's.
  std::vector<CallEvent> legs;
  ASSERT_TRUE(crm::testing::WaitFor(
      [&] {
        legs.clear();
        for (const CallEvent& e : intake.Stored()) {
          if (e.kind == CallEvent::Kind::kAnswered) legs.push_back(e);
        }
        return legs.size() == 2;
      },
      kWait));
  // The employee's leg is the call's first (its Uniqueid is the Linkedid).
  if (legs[1].leg_key == legs[1].call_key) std::swap(legs[0], legs[1]);
  ASSERT_EQ(legs[0].leg_key, legs[0].call_key);
  CallEvent first;
  ASSERT_NE(intake.Find(legs[0].leg_key + ":ringing", &first), nullptr);
  EXPECT_EQ(first.direction, CallEvent::Direction::kOutbound);
  EXPECT_EQ(first.extension, "101");
  EXPECT_EQ(first.to, "79995556677");
  EXPECT_EQ(legs[1].extension, "");  // the number's leg: an outside party

  EXPECT_EQ(commands.Originate({.extension = "", .number = ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(commands.Originate({.extension = "101", .number = "1\r\nAction: Logoff"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(commands.Hangup({.leg_key = "x"}).code(), absl::StatusCode::kInvalidArgument);  // no channel
  EXPECT_EQ(commands.Hold({.channel = legs[0].channel}, true).code(), absl::StatusCode::kUnimplemented);
  absl::Status gone = commands.Hangup({.channel = "PJSIP/999-000000ff"});
  EXPECT_EQ(gone.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(gone.message()), ::testing::HasSubstr("No such channel"));

  const calls::LegRef leg0{.call_key = legs[0].call_key, .leg_key = legs[0].leg_key, .channel = legs[0].channel};
  const calls::LegRef leg1{.call_key = legs[1].call_key, .leg_key = legs[1].leg_key, .channel = legs[1].channel};
  EXPECT_TRUE(commands.Merge(leg0, leg1).ok());
  auto bridges = fake_->Actions("Bridge");
  ASSERT_EQ(bridges.size(), 1u);
  EXPECT_EQ(bridges[0]["fields"]["channel1"], leg0.channel);
  EXPECT_EQ(bridges[0]["fields"]["channel2"], leg1.channel);
  EXPECT_TRUE(commands.Transfer(leg1, "102").ok());
  auto redirects = fake_->Actions("Redirect");
  ASSERT_EQ(redirects.size(), 1u);
  EXPECT_EQ(redirects[0]["fields"]["channel"], leg1.channel);
  EXPECT_EQ(redirects[0]["fields"]["exten"], "102");
  EXPECT_EQ(redirects[0]["fields"]["context"], "from-internal");
  // The transfer (of the outside party) hung up the employee's leg and rang 102.
  ASSERT_TRUE(crm::testing::WaitFor([&] { return intake.Has(leg0.leg_key + ":ended"); }, kWait));
  EXPECT_TRUE(commands.Hangup(leg1).ok());
  ASSERT_TRUE(crm::testing::WaitFor([&] { return intake.Has(leg1.leg_key + ":ended"); }, kWait));
  EXPECT_EQ(fake_->Actions("Hangup").size(), 2u);
}

// Two links (two replicas) to one Asterisk feeding one idempotent intake: each fact is stored once.
TEST_F(AmiClientTest, TwoLinksStoreEachFactOnce) {
  MemoryIntake intake;
  auto one = MakeClient(intake);
  auto two = MakeClient(intake);
  one->Start();
  two->Start();
  ASSERT_TRUE(crm::testing::WaitFor([&] { return one->resyncs() >= 1 && two->resyncs() >= 1; }, kWait));
  nlohmann::json call = fake_->Control("POST", "call", {{"from", "79990000003"}, {"extension", "103"},
                                                        {"answer_after", 0.0}, {"talk", 0.0}});
  const std::string a = call["legs"][0], b = call["legs"][1];
  ASSERT_TRUE(crm::testing::WaitFor([&] { return intake.Has(a + ":ended") && intake.Has(b + ":ended"); }, kWait));
  // Both links have recorded every fact (the last one too) before the count is read.
  ASSERT_TRUE(crm::testing::WaitFor([&] { return intake.record_calls() >= 2 * 6; }, kWait));
  EXPECT_EQ(intake.KeysOf({a, b}).size(), 6u);
}

}  // namespace
}  // namespace crm::telephony::ami
