// Tests of RevokedSessions (no Kafka): envelopes in, the set and its expiry checked with a ManualClock;
// and the Authenticator refusing a revoked session's tokens, remembered ones included.
#include "services/gateway/revocations.h"
#include "services/gateway/revocations_testing.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "libs/auth/jwt.h"
#include "libs/base/clock.h"
#include "proto/crm/events/v1/envelope.pb.h"
#include "proto/crm/identity/v1/event_types.h"
#include "proto/crm/identity/v1/events.pb.h"
#include "services/gateway/auth.h"
#include "services/gateway/auth_testing.h"

namespace crm::gateway {
namespace {

// The envelope identity's relay publishes for a revoked session, as bytes.
std::string RevokedEnvelope(const std::string& session_id, absl::Time revoked, absl::Time tokens_expire) {
  return testing::RevokedSessionEnvelope("0190-revoked-" + session_id, session_id, revoked, tokens_expire)
      .SerializeAsString();
}

class RevokedSessionsTest : public ::testing::Test {
 protected:
  ManualClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  RevokedSessions set_{clock_, absl::Seconds(30)};
};

TEST_F(RevokedSessionsTest, ARevokedSessionIsRefusedUntilItsTokensExpirePlusLeeway) {
  const absl::Time now = clock_.Now();
  ASSERT_TRUE(set_.Apply(RevokedEnvelope("s-1", now, now + absl::Minutes(10))).ok());
  EXPECT_TRUE(set_.IsRevoked("s-1"));
  EXPECT_FALSE(set_.IsRevoked("s-2"));
  EXPECT_FALSE(set_.IsRevoked(""));
  clock_.Advance(absl::Minutes(10) + absl::Seconds(29));
  EXPECT_TRUE(set_.IsRevoked("s-1"));  // the verifier still accepts its last token for the leeway
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(set_.IsRevoked("s-1"));
  EXPECT_EQ(set_.size(), 1u);
  EXPECT_EQ(set_.DropExpired(), 0u);  // bounded memory: nothing kept once it cannot matter
}

TEST_F(RevokedSessionsTest, ExpiredRevocationsAreNotEvenStored) {
  const absl::Time now = clock_.Now();
  // Read back at start: this session's tokens are long dead.
  ASSERT_TRUE(set_.Apply(RevokedEnvelope("old", now - absl::Hours(1), now - absl::Minutes(50))).ok());
  EXPECT_FALSE(set_.IsRevoked("old"));
  EXPECT_EQ(set_.size(), 0u);
}

TEST_F(RevokedSessionsTest, ALaterRevocationOfTheSameSessionNeverShortensIt) {
  const absl::Time now = clock_.Now();
  set_.Revoke("s", now + absl::Minutes(10));
  set_.Revoke("s", now + absl::Minutes(1));  // an older event redelivered
  clock_.Advance(absl::Minutes(5));
  EXPECT_TRUE(set_.IsRevoked("s"));
}

TEST_F(RevokedSessionsTest, OtherTypesAreIgnoredAndGarbageIsAnError) {
  events::v1::Envelope other;
  other.set_type("crm.identity.user.created.v1");
  EXPECT_TRUE(set_.Apply(other.SerializeAsString()).ok());
  EXPECT_EQ(set_.size(), 0u);
  EXPECT_EQ(set_.Apply("\xff\xff\xff").code(), absl::StatusCode::kInvalidArgument);
  events::v1::Envelope wrong_payload;
  wrong_payload.set_type(identity::v1::kSessionRevokedType);
  wrong_payload.mutable_payload()->PackFrom(identity::v1::UserCreated());
  EXPECT_EQ(set_.Apply(wrong_payload.SerializeAsString()).code(), absl::StatusCode::kInvalidArgument);
  events::v1::Envelope no_session;
  no_session.set_type(identity::v1::kSessionRevokedType);
  no_session.mutable_payload()->PackFrom(identity::v1::SessionRevoked());
  EXPECT_EQ(set_.Apply(no_session.SerializeAsString()).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RevokedSessionsTest, WithoutTokensExpireTimeTheFallbackTtlCountsFromTheRevocation) {
  identity::v1::SessionRevoked p;
  p.set_session_id("s");
  *p.mutable_revoke_time() = ToProtoTimestamp(clock_.Now());
  events::v1::Envelope e;
  e.set_type(identity::v1::kSessionRevokedType);
  e.mutable_payload()->PackFrom(p);
  ASSERT_TRUE(set_.Apply(e.SerializeAsString(), absl::Minutes(10)).ok());
  clock_.Advance(absl::Minutes(10) + absl::Seconds(29));
  EXPECT_TRUE(set_.IsRevoked("s"));
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(set_.IsRevoked("s"));
}

TEST(RevokedSessionsBoundTest, AFloodBeyondTheBoundDropsWhatExpiresFirst) {
  ManualClock clock(absl::FromUnixSeconds(1'800'000'000));
  RevokedSessions set(clock, absl::ZeroDuration(), 100);
  for (int i = 0; i < 150; ++i) set.Revoke("s" + std::to_string(i), clock.Now() + absl::Seconds(60 + i));
  EXPECT_LE(set.size(), 100u);
  EXPECT_TRUE(set.IsRevoked("s149"));  // the latest-expiring are kept
  EXPECT_FALSE(set.IsRevoked("s0"));
}

// --- The Authenticator with a revocation set. ---

class RevokedTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = *auth::SigningKey::Generate("k1");
    auth::KeySet keys;
    keys.Add(key_->public_key());
    revoked_ = std::make_shared<RevokedSessions>(clock_, absl::Seconds(30));
    AuthOptions o;
    o.jwks = std::make_shared<testing::StaticKeys>(std::move(keys));
    o.clock = &clock_;
    o.revocations = revoked_;
    o.public_methods = {"pub.Method"};
    auth_ = *Authenticator::Create(std::move(o));
  }
  std::string Token(const std::string& sid) {
    auth::Claims c{.iss = "crm-identity", .sub = "user-1", .aud = "crm", .jti = "j-" + sid, .sid = sid,
                   .kind = "user"};
    c.iat = clock_.Now();
    c.exp = c.iat + absl::Minutes(10);
    return "Bearer " + *auth::SignJwt(c, *key_);
  }
  absl::StatusOr<std::optional<common::v1::Principal>> Auth(const std::string& bearer,
                                                            std::string_view method = "priv.Method") {
    return auth_->Authenticate(method, {.authorization = bearer, .api_key = std::nullopt, .request_id = "r"});
  }

  ManualClock clock_{absl::Now()};
  std::optional<auth::SigningKey> key_;
  std::shared_ptr<RevokedSessions> revoked_;
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(RevokedTokenTest, ARememberedTokenOfARevokedSessionIsRefusedAtOnce) {
  const std::string token = Token("sess-1");
  const std::string other = Token("sess-2");
  ASSERT_TRUE(Auth(token).ok());
  ASSERT_TRUE(Auth(token).ok());  // now remembered as verified
  ASSERT_TRUE(Auth(other).ok());
  revoked_->Revoke("sess-1", clock_.Now() + absl::Minutes(10));
  absl::StatusOr<std::optional<common::v1::Principal>> r = Auth(token);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(r.status().message(), "the session was revoked");
  EXPECT_EQ(WwwAuthenticate(r.status()),
            "Bearer error=\"invalid_token\", error_description=\"the session was revoked\"");
  EXPECT_TRUE(Auth(other).ok());  // other sessions are untouched
  // A public method (signing in again) treats the dead token as none.
  r = Auth(token, "pub.Method");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  // A token never seen before, of the revoked session, is refused as well.
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Auth(Token("sess-1")).status().message(), "the session was revoked");
}

TEST_F(RevokedTokenTest, AnExpiredTokenSaysItExpired) {
  const std::string token = Token("sess-3");
  ASSERT_TRUE(Auth(token).ok());
  clock_.Advance(absl::Minutes(10) + absl::Seconds(31));
  absl::StatusOr<std::optional<common::v1::Principal>> r = Auth(token);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "the token expired");
  EXPECT_EQ(WwwAuthenticate(r.status()),
            "Bearer error=\"invalid_token\", error_description=\"the token expired\"");
  EXPECT_EQ(Auth("Bearer not-a-jwt").status().message(), "invalid token");
  EXPECT_EQ(WwwAuthenticate(absl::UnauthenticatedError(kMissingTokenMessage)), "Bearer");
}

}  // namespace
}  // namespace crm::gateway
