// The live stream against the dev broker (CRM_TEST_KAFKA_BROKERS) and the real HTTP edge, read by a
// plain-socket SSE client: visibility, resume from the ring, resume through Kafka (tiny ring and another
// replica), slow clients, bad ids.
#include "services/gateway/stream/stream.h"

#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "tests/support/kafka_producer.h"
#include "nlohmann/json.hpp"
#include "proto/crm/common/v1/common.pb.h"
#include "proto/crm/events/v1/envelope.pb.h"
#include "proto/crm/identity/v1/events.pb.h"
#include "services/gateway/edge/server.h"
#include "services/gateway/stream/position.h"
#include "services/gateway/transcode/descriptor_set.h"

namespace crm::gateway {
namespace {

using ::crm::common::v1::Principal;
using ::crm::events::v1::Envelope;
using stream_internal::PositionLayout;

// ---------------------------------------------------------------------------------------------------
// Position ids (no broker needed).

TEST(PositionTest, RoundTripsAndIgnoresTopicOrder) {
  PositionLayout a({{"crm.b.x.v1", 2}, {"crm.a.y.v1", 3}});
  PositionLayout b({{"crm.a.y.v1", 3}, {"crm.b.x.v1", 2}});
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a.topic(0), "crm.a.y.v1");
  EXPECT_EQ(a.partition(4), 1);
  EXPECT_EQ(a.Slot("crm.b.x.v1", 1), 4);
  EXPECT_EQ(a.Slot("crm.b.x.v1", 2), -1);
  EXPECT_EQ(a.Slot("crm.c.x.v1", 0), -1);
  const std::vector<int64_t> pos = {0, 127, 128, 1'234'567'890'123, INT64_MAX};
  const std::string id = a.Encode(pos);
  EXPECT_EQ(id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_EQ(a.Decode(id), pos);
  EXPECT_EQ(b.Decode(id), pos);  // another replica listing the topics in another order
  EXPECT_LE(a.Encode({0, 0, 0, 0, 0}).size(), 12u);
}

TEST(PositionTest, RejectsForeignAndMalformedIds) {
  PositionLayout a({{"crm.a.y.v1", 3}});
  const std::string id = a.Encode({1, 2, 3});
  EXPECT_FALSE(PositionLayout({{"crm.a.y.v1", 4}}).Decode(id));  // partition count changed
  EXPECT_FALSE(PositionLayout({{"crm.a.z.v1", 3}}).Decode(id));  // other topic
  EXPECT_FALSE(a.Decode(""));
  EXPECT_FALSE(a.Decode("not an id!"));
  EXPECT_FALSE(a.Decode(id + "="));
  EXPECT_FALSE(a.Decode(id.substr(0, id.size() - 1)));        // truncated
  EXPECT_FALSE(a.Decode(a.Encode({1, 2, 3, 4})));              // trailing varint
  EXPECT_FALSE(a.Decode(a.Encode({1, 2})));                    // missing varint
  EXPECT_TRUE(a.Decode(id));
}

// ---------------------------------------------------------------------------------------------------
// Kafka helpers.

std::string Brokers() {
  const char* b = std::getenv("CRM_TEST_KAFKA_BROKERS");
  return b == nullptr ? "" : b;
}

std::string RandomHex() {
  std::random_device rd;
  return absl::StrCat(absl::Hex(rd(), absl::kZeroPad8), absl::Hex(rd(), absl::kZeroPad8));
}

using Producer = crm::testing::KafkaTestProducer;

// ---------------------------------------------------------------------------------------------------
// A blocking SSE client over a plain socket.

struct SseEvent {
  std::string id;
  std::string event;
  std::string data;
};

class SseClient {
 public:
  // Connects and sends GET `target`; reads the response head. `rcvbuf` > 0 shrinks the receive buffer
  // (a slow client).
  static std::unique_ptr<SseClient> Connect(int port, const std::string& target,
                                            const std::vector<std::pair<std::string, std::string>>& headers,
                                            int rcvbuf = 0) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return nullptr;
    }
    auto c = std::unique_ptr<SseClient>(new SseClient(fd));
    std::string req = absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n");
    for (const auto& [k, v] : headers) absl::StrAppend(&req, k, ": ", v, "\r\n");
    req += "\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return nullptr;
    return c;
  }
  ~SseClient() { ::close(fd_); }

  // Reads the response head; returns the status line.
  std::string ReadHead(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      if (size_t end = buf_.find("\r\n\r\n"); end != std::string::npos) {
        std::string head = buf_.substr(0, end);
        buf_.erase(0, end + 4);
        return head.substr(0, head.find("\r\n"));
      }
      if (!Fill(deadline)) return "";
    }
  }

  // The next dispatched message (including id-only ones: event and data empty); nullopt on EOF or
  // timeout (eof() tells which). Comments are skipped. Tracks the last id like a browser does.
  std::optional<SseEvent> Next(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    SseEvent ev;
    bool any = false;
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl == std::string::npos) {
        if (!Fill(deadline)) return std::nullopt;
        continue;
      }
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      if (line.empty()) {
        if (!any) continue;
        if (!ev.id.empty()) last_id_ = ev.id;
        return ev;
      }
      if (line[0] == ':') continue;
      size_t colon = line.find(':');
      std::string field = line.substr(0, colon);
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      any = true;
      if (field == "id") ev.id = value;
      if (field == "event") ev.event = value;
      if (field == "data") ev.data += value;
    }
  }

  // The next message with an event type (skipping id-only ones).
  std::optional<SseEvent> NextEvent(absl::Duration timeout) {
    for (;;) {
      auto ev = Next(timeout);
      if (!ev || !ev->event.empty()) return ev;
    }
  }

  bool eof() const { return eof_; }
  const std::string& last_id() const { return last_id_; }

 private:
  explicit SseClient(int fd) : fd_(fd) {}

  bool Fill(absl::Time deadline) {
    if (eof_) return false;
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(ms)) <= 0) return false;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  std::string buf_;
  bool eof_ = false;
  std::string last_id_;
};

// ---------------------------------------------------------------------------------------------------
// The fixture: two fresh topics, a hub, an HTTP server routing GET /v1/stream to it.

struct Produced {
  std::string event_id;
  std::string topic;
  int partition;
  std::vector<std::string> users, teams;
};

Principal User(const std::string& id, std::vector<std::string> teams, std::vector<std::string> permissions = {}) {
  Principal p;
  p.set_kind(Principal::KIND_USER);
  p.set_id(id);
  for (auto& t : teams) p.add_team_ids(t);
  for (auto& perm : permissions) p.add_permissions(perm);
  p.add_roles("manager");
  return p;
}

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    brokers_ = Brokers();
    ASSERT_FALSE(brokers_.empty()) << "CRM_TEST_KAFKA_BROKERS is not set: these tests need the dev broker "
                                      "(tools/crm test sets it; or export CRM_TEST_KAFKA_BROKERS=host:port)";
    ASSERT_TRUE(LoadDescriptorSetFiles({CRM_API_PB}, &pool_).ok());
    const std::string tag = RandomHex();
    topic_a_ = absl::StrCat("crm.sttest.a", tag, ".v1");
    topic_b_ = absl::StrCat("crm.sttwo.b", tag, ".v1");
    producer_ = std::make_unique<Producer>(brokers_);
    partitions_ = producer_->CreateTopic(topic_a_);
    ASSERT_GE(partitions_, 2);
    ASSERT_EQ(producer_->CreateTopic(topic_b_), partitions_);

    principals_["alice"] = User("u-alice", {"t-red"});
    principals_["bob"] = User("u-bob", {"t-blue"});
    principals_["boss"] = User("u-boss", {}, {"sttest.read.all", "deals.read.all"});
    principals_["root"] = User("u-root", {}, {"sttest.read.all", "sttwo.read.all"});
  }

  void TearDown() override {
    for (auto& s : servers_) s->Stop(absl::Seconds(2));  // ends the handlers' Serve() calls
    for (auto& h : hubs_) h->Stop();
  }

  StreamOptions Options() {
    StreamOptions o;
    o.brokers = brokers_;
    o.topics = {topic_a_, topic_b_};
    o.pool = &pool_;
    o.checkpoint_interval = absl::Hours(1);
    return o;
  }

  // Starts a hub (a gateway replica) and its HTTP server; returns the server's port.
  int StartReplica(StreamOptions o) {
    auto hub = StreamHub::Start(std::move(o));
    EXPECT_TRUE(hub.ok()) << hub.status();
    if (!hub.ok()) return 0;
    StreamHub* h = hub->get();
    hubs_.push_back(std::move(*hub));
    HttpServerOptions so;
    so.address = "127.0.0.1:0";
    so.worker_threads = 8;
    auto server = HttpServer::Start(so, [this, h](HttpCall& call) -> HttpResponse {
      const HttpRequest& req = call.request();
      auto who = req.Header("X-Test-User");
      if (req.path != "/v1/stream" || !who || !principals_.contains(std::string(*who))) {
        return HttpResponse::Json(404, "{}");
      }
      call.SetRoute("/v1/stream");
      SseStream& sse = call.StartSse();
      h->Serve(sse, principals_.at(std::string(*who)), sse.LastEventId(), ParseTypePrefixes(req));
      return {};
    });
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return 0;
    const int port = (*server)->port();
    servers_.push_back(std::move(*server));
    EXPECT_TRUE(WaitFor([h] { return h->Ready(); })) << "the hub never assigned its partitions";
    return port;
  }

  static bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (cond()) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return cond();
  }

  std::unique_ptr<SseClient> Open(int port, const std::string& user, const std::string& last_id = "",
                                  const std::string& query = "", int rcvbuf = 0) {
    std::vector<std::pair<std::string, std::string>> headers = {{"X-Test-User", user}};
    if (!last_id.empty()) headers.emplace_back("Last-Event-ID", last_id);
    auto c = SseClient::Connect(port, "/v1/stream" + query, headers, rcvbuf);
    EXPECT_NE(c, nullptr);
    if (c != nullptr) {
      EXPECT_EQ(c->ReadHead(absl::Seconds(10)), "HTTP/1.1 200 OK");
    }
    return c;
  }

  // Produces one event (not flushed). `pad` bytes of payload make it big.
  void Add(const std::string& topic, int partition, std::vector<std::string> users, std::vector<std::string> teams,
           size_t pad = 0, bool unknown_payload = false) {
    Envelope e;
    const std::string id = absl::StrCat("ev-", ++counter_, "-", RandomHex());
    e.set_id(id);
    e.set_type(topic == topic_a_ ? "crm.sttest.item.updated.v1" : "crm.sttwo.item.updated.v1");
    e.set_source("/crm/sttest");
    e.set_subject(absl::StrCat("agg-", partition));
    e.mutable_time()->set_seconds(1'800'000'000);
    e.mutable_actor()->set_kind(Principal::KIND_USER);
    e.mutable_actor()->set_id("u-actor");
    e.mutable_actor()->add_permissions("secret.permission");
    e.set_request_id("req-" + id);
    e.set_aggregate_type("item");
    if (unknown_payload) {
      e.mutable_payload()->set_type_url("type.googleapis.com/crm.nowhere.v1.Unknown");
      e.mutable_payload()->set_value("\x08\x01");
    } else {
      crm::identity::v1::UserUpdated u;
      u.mutable_user()->set_id(id);
      u.mutable_user()->set_full_name(std::string(pad, 'x'));
      u.add_changed_fields("full_name");
      e.mutable_payload()->PackFrom(u);
    }
    for (auto& u : users) e.add_visible_to_user_ids(u);
    for (auto& t : teams) e.add_visible_to_team_ids(t);
    ASSERT_TRUE(producer_->Produce(topic, e, partition));
    produced_.push_back({id, topic, partition, users, teams});
  }

  // Produces `n` events spread over both topics and all partitions, with mixed visibility.
  void AddMixed(int n, size_t pad = 0) {
    for (int i = 0; i < n; ++i) {
      const std::string& topic = (i % 3 == 2) ? topic_b_ : topic_a_;
      const int partition = (i * 7 + i / 5) % partitions_;
      switch (i % 4) {
        case 0: Add(topic, partition, {"u-alice"}, {}, pad); break;
        case 1: Add(topic, partition, {"u-bob"}, {"t-red"}, pad); break;
        case 2: Add(topic, partition, {"u-bob"}, {"t-blue"}, pad); break;
        default: Add(topic, partition, {}, {}, pad); break;
      }
    }
  }

  // One event per partition of both topics, visible to everyone: seeing all of them means a client
  // has seen everything produced before them.
  void AddMarkers() {
    markers_.clear();
    for (const auto* topic : {&topic_a_, &topic_b_}) {
      for (int p = 0; p < partitions_; ++p) {
        Add(*topic, p, {"u-alice", "u-bob", "u-boss", "u-root"}, {});
        markers_.insert(produced_.back().event_id);
      }
    }
  }

  bool VisibleTo(const Produced& e, const std::string& who) const {
    const Principal& p = principals_.at(who);
    const std::string service = e.topic == topic_a_ ? "sttest" : "sttwo";
    for (const auto& perm : p.permissions())
      if (perm == service + ".read.all") return true;
    for (const auto& u : e.users)
      if (u == p.id()) return true;
    for (const auto& t : e.teams)
      for (const auto& mine : p.team_ids())
        if (t == mine) return true;
    return false;
  }

  // The non-marker event ids produced at [from, to) that `who` may see, in production order.
  std::vector<std::string> Expected(const std::string& who, size_t from = 0, size_t to = SIZE_MAX) const {
    std::vector<std::string> out;
    for (size_t i = from; i < std::min(to, produced_.size()); ++i) {
      if (!markers_.contains(produced_[i].event_id) && VisibleTo(produced_[i], who))
        out.push_back(produced_[i].event_id);
    }
    return out;
  }

  // Reads until every current marker arrived; returns the event ids (markers excluded) in arrival order.
  // Fails on resets and on events that do not parse.
  // `only_topic` limits the markers waited for to one topic (for a client filtering by type).
  std::vector<std::string> ReadUntilMarkers(SseClient& c, std::vector<SseEvent>* raw = nullptr,
                                            const std::string& only_topic = "") {
    std::vector<std::string> ids;
    std::set<std::string> seen_markers;
    size_t want_markers = 0;
    for (const auto& m : markers_) want_markers += only_topic.empty() || ById(m).topic == only_topic;
    while (seen_markers.size() < want_markers) {
      auto ev = c.NextEvent(absl::Seconds(20));
      if (!ev) {
        ADD_FAILURE() << "stream ended or stalled after " << ids.size() << " events, " << seen_markers.size()
                      << "/" << want_markers << " markers";
        break;
      }
      EXPECT_NE(ev->event, "reset") << ev->data;
      auto j = nlohmann::json::parse(ev->data, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << ev->data;
      if (j.is_discarded()) continue;
      const std::string id = j.value("id", "");
      if (markers_.contains(id)) {
        seen_markers.insert(id);
      } else {
        ids.push_back(id);
      }
      if (raw != nullptr) raw->push_back(*ev);
    }
    return ids;
  }

  const Produced& ById(const std::string& id) const {
    for (const auto& p : produced_)
      if (p.event_id == id) return p;
    static const Produced none{};
    return none;
  }

  // Checks `got` holds exactly the ids of `want`, once each, and in production order within every
  // partition.
  void ExpectSameEventsPerPartitionOrder(const std::vector<std::string>& got, const std::vector<std::string>& want) {
    EXPECT_EQ(std::multiset<std::string>(got.begin(), got.end()), std::multiset<std::string>(want.begin(), want.end()));
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), got.size()) << "duplicates";
    std::map<std::pair<std::string, int>, std::vector<std::string>> got_by, want_by;
    for (const auto& id : got) got_by[{ById(id).topic, ById(id).partition}].push_back(id);
    for (const auto& id : want) want_by[{ById(id).topic, ById(id).partition}].push_back(id);
    EXPECT_EQ(got_by, want_by);
  }

  std::string brokers_;
  google::protobuf::DescriptorPool pool_;
  std::string topic_a_, topic_b_;
  int partitions_ = 0;
  std::unique_ptr<Producer> producer_;
  std::map<std::string, Principal> principals_;
  std::vector<Produced> produced_;
  std::set<std::string> markers_;
  int counter_ = 0;
  std::vector<std::unique_ptr<StreamHub>> hubs_;
  std::vector<std::unique_ptr<HttpServer>> servers_;
};

// (1) Live delivery: each principal gets exactly what it may see; JSON shape and payload rendering.
TEST_F(StreamTest, LiveDeliveryHonoursVisibility) {
  const int port = StartReplica(Options());
  auto alice = Open(port, "alice");
  auto bob = Open(port, "bob");
  auto boss = Open(port, "boss");
  auto root = Open(port, "root");
  auto root_b = Open(port, "root", "", "?types=crm.sttwo.");
  ASSERT_TRUE(WaitFor([&] { return hubs_[0]->stats().subscribers == 5; }));

  AddMixed(40);
  Add(topic_a_, 0, {"u-alice"}, {}, 0, /*unknown_payload=*/true);
  const std::string unknown_id = produced_.back().event_id;
  AddMarkers();
  ASSERT_TRUE(producer_->Flush());

  std::vector<SseEvent> alice_raw;
  const std::vector<std::string> got_alice = ReadUntilMarkers(*alice, &alice_raw);
  ExpectSameEventsPerPartitionOrder(got_alice, Expected("alice"));
  ExpectSameEventsPerPartitionOrder(ReadUntilMarkers(*bob), Expected("bob"));
  ExpectSameEventsPerPartitionOrder(ReadUntilMarkers(*boss), Expected("boss"));
  ExpectSameEventsPerPartitionOrder(ReadUntilMarkers(*root), Expected("root"));
  std::vector<std::string> only_b;
  for (const auto& id : Expected("root"))
    if (ById(id).topic == topic_b_) only_b.push_back(id);
  ExpectSameEventsPerPartitionOrder(ReadUntilMarkers(*root_b, nullptr, topic_b_), only_b);
  // Sanity of the scenario: the principals see different, non-empty subsets.
  EXPECT_LT(Expected("alice").size(), Expected("root").size());
  EXPECT_LT(Expected("boss").size(), Expected("root").size());
  EXPECT_FALSE(Expected("bob").empty());

  // The JSON of one event.
  bool checked_known = false, checked_unknown = false;
  for (const auto& ev : alice_raw) {
    auto j = nlohmann::json::parse(ev.data);
    EXPECT_EQ(ev.event, j["type"]);
    EXPECT_FALSE(ev.id.empty());
    EXPECT_FALSE(j.contains("visibleToUserIds"));
    EXPECT_FALSE(j["actor"].contains("permissions"));
    if (j["id"] == unknown_id) {
      EXPECT_EQ(j["payload"], nlohmann::json({{"@type", "type.googleapis.com/crm.nowhere.v1.Unknown"}}));
      checked_unknown = true;
    } else if (!checked_known) {
      EXPECT_EQ(j["payload"]["@type"], "type.googleapis.com/crm.identity.v1.UserUpdated");
      EXPECT_EQ(j["payload"]["user"]["id"], j["id"]);
      EXPECT_EQ(j["payload"]["changedFields"], nlohmann::json::array({"full_name"}));
      EXPECT_EQ(j["requestId"], "req-" + j["id"].get<std::string>());
      EXPECT_EQ(j["time"], "2027-01-15T08:00:00Z");
      EXPECT_EQ(j["actor"]["id"], "u-actor");
      EXPECT_EQ(j["actor"]["kind"], "KIND_USER");
      EXPECT_EQ(j["source"], "/crm/sttest");
      checked_known = true;
    }
  }
  EXPECT_TRUE(checked_known);
  EXPECT_TRUE(checked_unknown);
  EXPECT_EQ(hubs_[0]->stats().catchups, 0);
}

// (2) Resume from the ring.
TEST_F(StreamTest, ResumeFromRingHasNoGapNoDuplicate) {
  const int port = StartReplica(Options());
  auto alice = Open(port, "alice");
  ASSERT_TRUE(WaitFor([&] { return hubs_[0]->stats().subscribers == 1; }));
  AddMixed(60);
  ASSERT_TRUE(producer_->Flush());
  const std::vector<std::string> all_before = Expected("alice");
  ASSERT_GT(all_before.size(), 10u);
  std::vector<std::string> first;
  for (int i = 0; i < 7; ++i) {
    auto ev = alice->NextEvent(absl::Seconds(20));
    ASSERT_TRUE(ev);
    first.push_back(nlohmann::json::parse(ev->data)["id"]);
  }
  const std::string last_id = alice->last_id();
  alice.reset();
  const size_t mark = produced_.size();
  AddMixed(60);
  AddMarkers();
  ASSERT_TRUE(producer_->Flush());
  ASSERT_TRUE(WaitFor([&] { return hubs_[0]->stats().consumed >= static_cast<int64_t>(produced_.size()); }));

  auto again = Open(port, "alice", last_id);
  const std::vector<std::string> rest = ReadUntilMarkers(*again);
  std::vector<std::string> want;
  for (const auto& id : Expected("alice"))
    if (std::find(first.begin(), first.end(), id) == first.end()) want.push_back(id);
  ExpectSameEventsPerPartitionOrder(rest, want);
  EXPECT_GT(Expected("alice", mark).size(), 0u);
  EXPECT_EQ(hubs_[0]->stats().catchups, 0) << "the ring holds everything: no read-back expected";
}

// (3) Resume where the ring no longer holds the gap: read back from Kafka, on this replica (tiny ring)
// and on another replica started after the client left (its ring starts at the end).
TEST_F(StreamTest, ResumeThroughKafkaWhenTheRingIsExhausted) {
  StreamOptions o = Options();
  o.ring_events_per_partition = 2;
  const int port = StartReplica(o);
  auto alice = Open(port, "alice");
  ASSERT_TRUE(WaitFor([&] { return hubs_[0]->stats().subscribers == 1; }));
  AddMixed(60);
  ASSERT_TRUE(producer_->Flush());
  std::vector<std::string> first;
  for (int i = 0; i < 5; ++i) {
    auto ev = alice->NextEvent(absl::Seconds(20));
    ASSERT_TRUE(ev);
    first.push_back(nlohmann::json::parse(ev->data)["id"]);
  }
  const std::string last_id = alice->last_id();
  alice.reset();
  AddMixed(80);
  AddMarkers();
  ASSERT_TRUE(producer_->Flush());
  ASSERT_TRUE(WaitFor([&] { return hubs_[0]->stats().consumed >= static_cast<int64_t>(produced_.size()); }));

  std::vector<std::string> want;
  for (const auto& id : Expected("alice"))
    if (std::find(first.begin(), first.end(), id) == first.end()) want.push_back(id);

  auto again = Open(port, "alice", last_id);
  ExpectSameEventsPerPartitionOrder(ReadUntilMarkers(*again), want);
  EXPECT_GE(hubs_[0]->stats().catchups, 1) << "the gap should have been read back from Kafka";

  // Another replica, started now (at the end): everything comes back from Kafka, then live events.
  const int port2 = StartReplica(Options());
  auto other = Open(port2, "alice", last_id);
  std::vector<std::string> got = ReadUntilMarkers(*other);
  EXPECT_GE(hubs_[1]->stats().catchups, 1);
  ASSERT_TRUE(WaitFor([&] { return hubs_[1]->stats().subscribers == 1; }));
  const size_t mark = produced_.size();
  Add(topic_b_, 1, {"u-alice"}, {});
  AddMarkers();
  ASSERT_TRUE(producer_->Flush());
  for (const auto& id : ReadUntilMarkers(*other)) got.push_back(id);
  for (const auto& id : Expected("alice", mark)) want.push_back(id);
  ExpectSameEventsPerPartitionOrder(got, want);
}

// (4) A client that stops reading overflows its queue, is disconnected, and resumes without a gap.
TEST_F(StreamTest, SlowClientIsDisconnectedAndResumesWithoutGap) {
  StreamOptions o = Options();
  o.subscriber_queue = 16;
  const int port = StartReplica(o);
  auto slow = Open(port, "alice", "", "", /*rcvbuf=*/4096);
  auto other = Open(port, "bob");
  ASSERT_TRUE(WaitFor([&] { return hubs_[0]->stats().subscribers == 2; }));
  // ~12 MB for alice, far beyond what the sockets buffer; small events for bob in between.
  for (int i = 0; i < 240; ++i) {
    Add(i % 2 ? topic_a_ : topic_b_, i % partitions_, {"u-alice"}, {}, 50'000);
    if (i % 40 == 0) Add(topic_a_, i % partitions_, {"u-bob"}, {});  // fewer than the queue holds
  }
  AddMarkers();
  ASSERT_TRUE(producer_->Flush());
  ASSERT_TRUE(WaitFor([&] { return hubs_[0]->stats().overflows >= 1; }, absl::Seconds(60)))
      << "the slow client was never cut off";
  // The other client is unaffected.
  ExpectSameEventsPerPartitionOrder(ReadUntilMarkers(*other), Expected("bob"));
  EXPECT_EQ(hubs_[0]->stats().overflows, 1);
  ASSERT_TRUE(WaitFor([&] { return hubs_[0]->stats().consumed >= static_cast<int64_t>(produced_.size()); }));

  // The slow client reads what reached it, then sees the connection end.
  std::vector<std::string> first;
  while (auto ev = slow->NextEvent(absl::Seconds(20))) first.push_back(nlohmann::json::parse(ev->data)["id"]);
  ASSERT_TRUE(slow->eof()) << "the server did not close the overflowing stream";
  ASSERT_LT(first.size(), Expected("alice").size());
  const std::string last_id = slow->last_id();
  ASSERT_FALSE(last_id.empty());

  auto again = Open(port, "alice", last_id);
  std::vector<std::string> got = first;
  for (const auto& id : ReadUntilMarkers(*again)) got.push_back(id);
  ExpectSameEventsPerPartitionOrder(got, Expected("alice"));
  EXPECT_EQ(hubs_[0]->stats().overflows, 1);
}

// (5) A malformed or foreign Last-Event-ID gets `event: reset`, then live events; the reset's id resumes.
TEST_F(StreamTest, MalformedLastEventIdGetsReset) {
  const int port = StartReplica(Options());
  PositionLayout foreign({{"crm.deals.deal.v1", 6}});
  for (const std::string& bad : {std::string("garbage!!"), foreign.Encode({1, 2, 3, 4, 5, 6})}) {
    auto c = Open(port, "alice", bad);
    auto ev = c->Next(absl::Seconds(20));
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->event, "reset");
    EXPECT_FALSE(ev->id.empty());
  }
  EXPECT_EQ(hubs_[0]->stats().resets, 2);

  auto c = Open(port, "alice", "%%%");
  auto reset = c->Next(absl::Seconds(20));
  ASSERT_TRUE(reset);
  ASSERT_EQ(reset->event, "reset");
  ASSERT_TRUE(WaitFor([&] { return hubs_[0]->stats().subscribers == 1; }));
  AddMixed(12);
  AddMarkers();
  ASSERT_TRUE(producer_->Flush());
  ExpectSameEventsPerPartitionOrder(ReadUntilMarkers(*c), Expected("alice"));
  c.reset();

  // The reset's id is a valid position: resuming from it replays the same events, without a reset.
  auto from_reset = Open(port, "alice", reset->id);
  ExpectSameEventsPerPartitionOrder(ReadUntilMarkers(*from_reset), Expected("alice"));
  EXPECT_EQ(hubs_[0]->stats().resets, 3);
}

// (6) A position Kafka no longer holds (the dev broker keeps 5 MiB per partition) gets `event: reset`
// with reason "expired", then live events.
TEST_F(StreamTest, ExpiredPositionGetsReset) {
  StreamOptions o = Options();
  o.ring_events_per_partition = 2;
  const int port = StartReplica(o);
  auto first = Open(port, "alice");
  auto start = first->Next(absl::Seconds(20));  // the id-only start position
  ASSERT_TRUE(start);
  ASSERT_TRUE(start->event.empty());
  ASSERT_FALSE(start->id.empty());
  first.reset();
  auto watcher = Open(port, "alice");  // connected while it happens
  ASSERT_TRUE(WaitFor([&] { return hubs_[0]->stats().subscribers == 1; }));
  for (int i = 0; i < 80; ++i) Add(topic_a_, 0, {"u-alice"}, {}, 100'000);  // ~8 MB into one partition
  ASSERT_TRUE(producer_->Flush());
  ASSERT_GT(producer_->LowWatermark(topic_a_, 0), 0) << "the broker kept everything; the scenario needs eviction";
  // The hub read up to the end (what Kafka deleted before it could read it counts as `lost`).
  ASSERT_TRUE(WaitFor([&] {
    const StreamStats st = hubs_[0]->stats();
    return st.consumed + st.lost >= static_cast<int64_t>(produced_.size());
  })) << "consumed " << hubs_[0]->stats().consumed << " lost " << hubs_[0]->stats().lost << " of "
      << produced_.size() << " low " << producer_->LowWatermark(topic_a_, 0);

  if (hubs_[0]->stats().lost > 0) {
    // Kafka deleted events before the hub read them: the connected client, which would miss them, is
    // disconnected, and its resume resets.
    while (watcher->Next(absl::Seconds(20))) {
    }
    ASSERT_TRUE(watcher->eof()) << "a client behind deleted events was left connected";
    auto resumed = Open(port, "alice", watcher->last_id());
    auto r = resumed->Next(absl::Seconds(20));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->event, "reset");
  } else {
    // The hub read everything in time: the connected client gets it all.
    std::vector<std::string> got;
    while (got.size() < Expected("alice").size()) {
      auto ev = watcher->NextEvent(absl::Seconds(20));
      ASSERT_TRUE(ev);
      got.push_back(nlohmann::json::parse(ev->data)["id"]);
    }
    ExpectSameEventsPerPartitionOrder(got, Expected("alice"));
  }
  watcher.reset();
  const int64_t resets_before = hubs_[0]->stats().resets;

  auto again = Open(port, "alice", start->id);
  auto reset = again->Next(absl::Seconds(20));
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->event, "reset");
  EXPECT_EQ(nlohmann::json::parse(reset->data)["reason"], "expired");
  EXPECT_EQ(hubs_[0]->stats().resets, resets_before + 1);
  ASSERT_TRUE(WaitFor([&] { return hubs_[0]->stats().subscribers == 1; }));
  const size_t mark = produced_.size();
  AddMixed(8);
  AddMarkers();
  ASSERT_TRUE(producer_->Flush());
  ExpectSameEventsPerPartitionOrder(ReadUntilMarkers(*again), Expected("alice", mark));
}

}  // namespace
}  // namespace crm::gateway
