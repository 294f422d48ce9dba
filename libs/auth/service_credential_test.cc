#include "libs/auth/service_credential.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crm/common/v1/common.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/auth/encoding.h"
#include "libs/auth/jwt.h"

namespace crm::auth {
namespace {

using ::crm::common::v1::Principal;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
const absl::Duration kMaxAge = absl::Minutes(5);

Principal User() {
  Principal p;
  p.set_kind(Principal::KIND_USER);
  p.set_id("0190b2a4-7a1c-7000-8000-000000000001");
  p.add_roles("manager");
  p.add_team_ids("team-a");
  return p;
}

struct Fixture {
  SigningKey key = *SigningKey::Generate("gateway-2026-11");
  KeySet keys;
  Fixture() { keys.Add(key.public_key()); }
};

void ExpectRefused(const absl::Status& s, const std::string& reason) {
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(reason));
}

TEST(ServiceCredentialTest, RoundTrip) {
  Fixture f;
  Principal p = User();
  auto sig = SignPrincipal(p, f.key, kNow);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_THAT(*sig, StartsWith("v1.1800000000."));
  EXPECT_TRUE(absl::EndsWith(*sig, ".gateway-2026-11"));
  EXPECT_TRUE(VerifyPrincipal(p.SerializeAsString(), *sig, f.keys, kNow, kMaxAge).ok());
  // The signature is exactly the documented construction.
  std::vector<std::string> parts = absl::StrSplit(*sig, '.');
  ASSERT_EQ(parts.size(), 4u);
  std::string input = absl::StrCat("v1.", Base64UrlEncode(p.SerializeAsString()), ".1800000000");
  EXPECT_TRUE(f.key.public_key().Verify(input, *Base64UrlDecode(parts[2])));
}

TEST(ServiceCredentialTest, ServicePrincipalOnBehalfOfUser) {
  Fixture f;
  Principal p;
  p.set_kind(Principal::KIND_SERVICE);
  p.set_service("robots");
  p.set_on_behalf_of_user_id("0190b2a4-7a1c-7000-8000-000000000001");
  auto sig = SignPrincipal(p, f.key, kNow);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(VerifyPrincipal(p.SerializeAsString(), *sig, f.keys, kNow + absl::Seconds(1), kMaxAge).ok());
}

TEST(ServiceCredentialTest, AlteredPrincipalFails) {
  Fixture f;
  Principal p = User();
  auto sig = SignPrincipal(p, f.key, kNow);
  ASSERT_TRUE(sig.ok());
  Principal escalated = p;
  escalated.add_roles("head_of_sales");
  ExpectRefused(VerifyPrincipal(escalated.SerializeAsString(), *sig, f.keys, kNow, kMaxAge),
                "bad principal signature");
  Principal other = p;
  other.set_id("0190b2a4-7a1c-7000-8000-000000000002");
  ExpectRefused(VerifyPrincipal(other.SerializeAsString(), *sig, f.keys, kNow, kMaxAge),
                "bad principal signature");
  ExpectRefused(VerifyPrincipal("", *sig, f.keys, kNow, kMaxAge), "bad principal signature");
}

TEST(ServiceCredentialTest, AlteredTimestampFails) {
  Fixture f;
  Principal p = User();
  auto sig = SignPrincipal(p, f.key, kNow - absl::Hours(1));
  ASSERT_TRUE(sig.ok());
  // Refreshing the timestamp of an old signature must not make it fresh.
  std::string refreshed = *sig;
  refreshed.replace(3, 10, "1800000000");
  ExpectRefused(VerifyPrincipal(p.SerializeAsString(), refreshed, f.keys, kNow, kMaxAge),
                "bad principal signature");
}

TEST(ServiceCredentialTest, StaleAndFutureDated) {
  Fixture f;
  const std::string bytes = User().SerializeAsString();
  auto sig = SignPrincipalBytes(bytes, f.key, kNow);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(VerifyPrincipal(bytes, *sig, f.keys, kNow + kMaxAge, kMaxAge).ok());
  ExpectRefused(VerifyPrincipal(bytes, *sig, f.keys, kNow + kMaxAge + absl::Seconds(1), kMaxAge),
                "stale principal signature");
  EXPECT_TRUE(VerifyPrincipal(bytes, *sig, f.keys, kNow - kPrincipalSigMaxSkew, kMaxAge).ok());
  ExpectRefused(VerifyPrincipal(bytes, *sig, f.keys, kNow - absl::Minutes(1), kMaxAge),
                "future-dated principal signature");
}

TEST(ServiceCredentialTest, UnknownKidAndWrongKey) {
  Fixture f;
  const std::string bytes = User().SerializeAsString();
  auto sig = SignPrincipalBytes(bytes, f.key, kNow);
  ASSERT_TRUE(sig.ok());
  KeySet empty;
  ExpectRefused(VerifyPrincipal(bytes, *sig, empty, kNow, kMaxAge), "unknown kid");
  // A client minting its own key under a trusted kid gets a bad signature.
  SigningKey impostor = *SigningKey::Generate("gateway-2026-11");
  auto forged = SignPrincipalBytes(bytes, impostor, kNow);
  ASSERT_TRUE(forged.ok());
  ExpectRefused(VerifyPrincipal(bytes, *forged, f.keys, kNow, kMaxAge), "bad principal signature");
  // Swapping in another trusted kid does not help either.
  SigningKey robots = *SigningKey::Generate("robots-1");
  f.keys.Add(robots.public_key());
  std::string swapped = *sig;
  swapped.replace(swapped.rfind('.') + 1, std::string::npos, "robots-1");
  ExpectRefused(VerifyPrincipal(bytes, swapped, f.keys, kNow, kMaxAge), "bad principal signature");
}

TEST(ServiceCredentialTest, MalformedHeaders) {
  Fixture f;
  const std::string bytes = User().SerializeAsString();
  const std::string good = *SignPrincipalBytes(bytes, f.key, kNow);
  const std::string kBad[] = {
      "",
      "v1",
      "v2" + good.substr(2),
      "v1..x.gateway-2026-11",
      "v1.-5." + good.substr(14),
      "v1.01800000000." + good.substr(14),
      good.substr(0, 40),
      good.substr(0, good.rfind('.') + 1),           // empty kid
      good + " ",                                    // kid with a space
      std::string(600, 'v'),
  };
  for (const std::string& h : kBad) {
    ExpectRefused(VerifyPrincipal(bytes, h, f.keys, kNow, kMaxAge), "malformed principal signature");
  }
}

}  // namespace
}  // namespace crm::auth
