// The revocation listener against the dev broker (CRM_TEST_KAFKA_BROKERS): SessionRevoked envelopes are
// published with librdkafka the way identity's outbox relay does (topic, key = session id, value = the
// serialized crm.events.v1.Envelope), and the gateway's Authenticator refuses the session's token.
// Each test uses a topic of its own (the dev broker creates it with 4 partitions on first use).
#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/kafka_producer.h"
#include "libs/auth/jwt.h"
#include "libs/base/uuid.h"
#include "proto/crm/events/v1/envelope.pb.h"
#include "proto/crm/identity/v1/event_types.h"
#include "proto/crm/identity/v1/events.pb.h"
#include "services/gateway/auth.h"
#include "services/gateway/auth_testing.h"
#include "services/gateway/revocations.h"
#include "services/gateway/revocations_testing.h"

namespace crm::gateway {
namespace {

// Publishes a SessionRevoked as identity's relay does: key = session id, partitioned by key.
void PublishRevoked(crm::testing::KafkaTestProducer& producer, const std::string& topic,
                    const std::string& session_id, absl::Time revoked, absl::Time tokens_expire) {
  ASSERT_TRUE(
      producer.Produce(topic, testing::RevokedSessionEnvelope(NewUuidV7(), session_id, revoked, tokens_expire)));
  ASSERT_TRUE(producer.Flush());
}

// Polls `cond` (bounded): waiting for the consumer, never for time to pass.
template <typename F>
bool Eventually(F cond, absl::Duration limit = absl::Seconds(20)) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (cond()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return cond();
}

class RevocationKafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* b = std::getenv("CRM_TEST_KAFKA_BROKERS");
    brokers_ = b == nullptr ? "" : b;
    ASSERT_FALSE(brokers_.empty()) << "CRM_TEST_KAFKA_BROKERS is not set: these tests need the dev broker "
                                      "(tools/crm test sets it)";
    topic_ = absl::StrCat("crm.identity.session.v1.test-", NewUuidV7());
    producer_ = std::make_unique<crm::testing::KafkaTestProducer>(brokers_);
    ASSERT_GT(producer_->CreateTopic(topic_), 0);
    key_ = *auth::SigningKey::Generate("k1");
  }

  std::unique_ptr<RevocationListener> StartListener() {
    RevocationOptions o;
    o.brokers = brokers_;
    o.topic = topic_;
    o.consumer_config["log_level"] = "3";
    absl::StatusOr<std::unique_ptr<RevocationListener>> l = RevocationListener::Start(o);
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? *std::move(l) : nullptr;
  }

  std::unique_ptr<Authenticator> AuthFor(const RevocationListener& listener) {
    auth::KeySet keys;
    keys.Add(key_->public_key());
    AuthOptions o;
    o.jwks = std::make_shared<testing::StaticKeys>(std::move(keys));
    o.revocations = listener.sessions();
    return *Authenticator::Create(std::move(o));
  }

  std::string Token(const std::string& sid) {
    auth::Claims c{.iss = "crm-identity", .sub = "user-1", .aud = "crm", .jti = NewUuidV7(), .sid = sid,
                   .kind = "user"};
    c.iat = absl::Now();
    c.exp = c.iat + absl::Minutes(10);
    return "Bearer " + *auth::SignJwt(c, *key_);
  }

  static absl::Status Check(const Authenticator& auth, const std::string& bearer) {
    return auth.Authenticate("crm.deals.v1.DealService.GetDeal",
                             {.authorization = bearer, .api_key = std::nullopt, .request_id = "r"})
        .status();
  }

  std::string brokers_, topic_;
  std::unique_ptr<crm::testing::KafkaTestProducer> producer_;
  std::optional<auth::SigningKey> key_;
};

TEST_F(RevocationKafkaTest, APublishedRevocationIsRefusedAtOnce) {
  std::unique_ptr<RevocationListener> listener = StartListener();
  ASSERT_NE(listener, nullptr);
  ASSERT_TRUE(Eventually([&] { return listener->Ready().ok(); })) << listener->Ready();
  std::unique_ptr<Authenticator> auth = AuthFor(*listener);
  const std::string token = Token("sess-a"), other = Token("sess-b");
  ASSERT_TRUE(Check(*auth, token).ok());
  ASSERT_TRUE(Check(*auth, token).ok());  // remembered as verified from here on
  ASSERT_TRUE(Check(*auth, other).ok());

  const absl::Time published = absl::Now();
  PublishRevoked(*producer_, topic_, "sess-a", published, published + absl::Minutes(10));
  ASSERT_TRUE(Eventually([&] { return !Check(*auth, token).ok(); }));
  const absl::Duration took = absl::Now() - published;
  std::printf("revocation effective %s after publishing\n", absl::FormatDuration(took).c_str());
  EXPECT_LT(took, absl::Seconds(5));
  absl::Status refused = Check(*auth, token);
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(refused.message(), "the session was revoked");
  EXPECT_TRUE(Check(*auth, other).ok());
  EXPECT_EQ(listener->stats().events, 1);
  EXPECT_EQ(listener->stats().sessions, 1);
}

// A replica that starts after the revocation reads the topic back (now - token TTL - leeway) and knows
// it before it reports ready; a revocation whose tokens are long expired is not kept.
TEST_F(RevocationKafkaTest, AFreshReplicaKnowsRecentRevocationsWhenReady) {
  const absl::Time now = absl::Now();
  PublishRevoked(*producer_, topic_, "sess-old", now - absl::Hours(2), now - absl::Hours(1) - absl::Minutes(50));
  PublishRevoked(*producer_, topic_, "sess-recent", now - absl::Minutes(1), now + absl::Minutes(9));
  std::unique_ptr<RevocationListener> listener = StartListener();
  ASSERT_NE(listener, nullptr);
  ASSERT_TRUE(Eventually([&] { return listener->Ready().ok(); })) << listener->Ready();
  // Ready means caught up: no polling here.
  EXPECT_TRUE(listener->sessions()->IsRevoked("sess-recent"));
  EXPECT_FALSE(listener->sessions()->IsRevoked("sess-old"));
  EXPECT_EQ(listener->stats().sessions, 1);
  std::unique_ptr<Authenticator> auth = AuthFor(*listener);
  EXPECT_EQ(Check(*auth, Token("sess-recent")).message(), "the session was revoked");
  EXPECT_TRUE(Check(*auth, Token("sess-new")).ok());
}

TEST_F(RevocationKafkaTest, UnreachableKafkaIsNotReadyWithAReason) {
  RevocationOptions o;
  o.brokers = "127.0.0.1:1";  // nothing listens there
  o.topic = topic_;
  o.consumer_config["log_level"] = "0";
  absl::StatusOr<std::unique_ptr<RevocationListener>> l = RevocationListener::Start(o);
  ASSERT_TRUE(l.ok()) << l.status();
  absl::Status ready = (*l)->Ready();
  EXPECT_EQ(ready.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(ready.message()).find("has not caught up"), std::string::npos) << ready;
}

}  // namespace
}  // namespace crm::gateway
