#include "libs/auth/secrets.h"

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/auth/encoding.h"

namespace crm::auth {
namespace {

using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::HasSubstr;

TEST(SecretsTest, Sha256KnownAnswers) {
  // FIPS 180-2 examples.
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(SecretsTest, RandomTokenShapeAndUniqueness) {
  std::string t = RandomToken();
  EXPECT_EQ(t.size(), 43u);
  EXPECT_EQ(Base64UrlDecode(t)->size(), 32u);
  EXPECT_EQ(RandomToken(16).size(), 22u);
  EXPECT_EQ(RandomToken(0), "");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(RandomToken());
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(SecretsTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(SecretsTest, ApiKeyRoundTrip) {
  NewApiKey k = MakeApiKey();
  EXPECT_THAT(k.id_prefix, MatchesRegex("[0-9a-f]{12}"));
  EXPECT_THAT(k.secret, MatchesRegex("[0-9a-f]{64}"));
  EXPECT_EQ(k.display, "crm_" + k.id_prefix + "_" + k.secret);
  EXPECT_EQ(k.hash, Sha256Hex(k.secret));
  EXPECT_THAT(k.hash, Not(HasSubstr(k.secret)));
  auto parsed = ParseApiKey(k.display);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->first, k.id_prefix);
  EXPECT_EQ(parsed->second, k.secret);
  EXPECT_TRUE(VerifyApiKeySecret(parsed->second, k.hash));
  EXPECT_FALSE(VerifyApiKeySecret(MakeApiKey().secret, k.hash));
  EXPECT_NE(MakeApiKey().display, k.display);
}

TEST(SecretsTest, ParseApiKeyRejectsMalformed) {
  const std::string good = MakeApiKey().display;
  std::string upper = good;
  upper[5] = 'A';
  upper[4] = 'A';
  const std::string kBad[] = {
      "",
      "crm_",
      good.substr(0, good.size() - 1),
      good + "0",
      "crx" + good.substr(3),
      good.substr(0, 16) + "-" + good.substr(17),
      upper,
      "Bearer " + good,
  };
  for (const std::string& s : kBad) {
    auto r = ParseApiKey(s);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << s;
    if (s.size() > 20) {
      EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr(s.substr(17))));
    }
  }
}

}  // namespace
}  // namespace crm::auth
