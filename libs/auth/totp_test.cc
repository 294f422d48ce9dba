#include "libs/auth/totp.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::auth {
namespace {

// RFC 6238 Appendix B / RFC 4226 Appendix D seed (ASCII "12345678901234567890").
constexpr char kRfcSeed[] = "12345678901234567890";

TEST(Base32Test, Rfc4648Vectors) {
  const std::pair<std::string, std::string> kVectors[] = {
      {"", ""},           {"f", "MY======"},     {"fo", "MZXQ===="},        {"foo", "MZXW6==="},
      {"foob", "MZXW6YQ="}, {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI======"}};
  for (const auto& [raw, text] : kVectors) {
    EXPECT_EQ(Base32Encode(raw), text);
    EXPECT_EQ(Base32Decode(text), raw) << text;
  }
  EXPECT_EQ(Base32Encode(kRfcSeed), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(Base32Test, DecodeIsLenientOnCaseSpacesPaddingButNotContent) {
  EXPECT_EQ(Base32Decode("mzxw6ytboi"), "foobar");
  EXPECT_EQ(Base32Decode("MZXW 6YTB OI"), "foobar");
  EXPECT_FALSE(Base32Decode("MZXW6YTB1"));   // '1' not in the alphabet
  EXPECT_FALSE(Base32Decode("M"));           // impossible length
  EXPECT_FALSE(Base32Decode("MZ=XW6=="));    // padding in the middle
  EXPECT_FALSE(Base32Decode("MZ======"));    // "MY" is canonical for "f": non-zero trailing bits
  EXPECT_FALSE(Base32Decode("MZXQ==="));     // padded but not to a multiple of 8
}

TEST(HotpTest, Rfc4226AppendixD) {
  const char* kCodes[] = {"755224", "287082", "359152", "969429", "338314",
                          "254676", "287922", "162583", "399871", "520489"};
  for (uint64_t i = 0; i < 10; ++i) EXPECT_EQ(HotpCode(kRfcSeed, i, 6), kCodes[i]) << i;
}

TEST(TotpTest, Rfc6238AppendixBSha1) {
  const std::string secret = Base32Encode(kRfcSeed);
  const TotpParams eight{.digits = 8};
  const std::pair<int64_t, const char*> kVectors[] = {
      {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
      {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}};
  for (const auto& [t, code] : kVectors) {
    auto got = TotpCode(secret, absl::FromUnixSeconds(t), eight);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, code) << t;
    auto step = VerifyTotp(secret, code, absl::FromUnixSeconds(t), 0, -1, eight);
    ASSERT_TRUE(step.has_value()) << t;
    EXPECT_EQ(*step, t / 30);
  }
}

TEST(TotpTest, WindowAcceptsNeighbouringStepsOnly) {
  const std::string secret = Base32Encode(kRfcSeed);
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);  // step boundary: 1.8e9 / 30
  const int64_t step0 = 1'800'000'000 / 30;
  const std::string code = *TotpCode(secret, t0);
  ASSERT_EQ(code.size(), 6u);
  EXPECT_EQ(VerifyTotp(secret, code, t0), step0);
  EXPECT_EQ(VerifyTotp(secret, code, t0 + absl::Seconds(30)), step0);   // one step late: ok
  EXPECT_EQ(VerifyTotp(secret, code, t0 - absl::Seconds(30)), step0);   // one step early: ok
  EXPECT_EQ(VerifyTotp(secret, code, t0 + absl::Seconds(60)), std::nullopt);
  EXPECT_EQ(VerifyTotp(secret, code, t0 + absl::Seconds(30), 0), std::nullopt);
  EXPECT_EQ(VerifyTotp(secret, code, t0 + absl::Seconds(60), 2), step0);
}

TEST(TotpTest, ReplayIsRefused) {
  const std::string secret = Base32Encode(kRfcSeed);
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'005);
  const std::string code = *TotpCode(secret, t0);
  auto step = VerifyTotp(secret, code, t0);
  ASSERT_TRUE(step.has_value());
  EXPECT_EQ(VerifyTotp(secret, code, t0, 1, *step), std::nullopt);          // same code again
  EXPECT_EQ(VerifyTotp(secret, code, t0, 1, *step + 5), std::nullopt);      // later step used
  // The previous step's code is refused after a newer one was used.
  const std::string older = *TotpCode(secret, t0 - absl::Seconds(30));
  EXPECT_EQ(VerifyTotp(secret, older, t0, 1, *step), std::nullopt);
  // The next step's code still works.
  const std::string next = *TotpCode(secret, t0 + absl::Seconds(30));
  EXPECT_EQ(VerifyTotp(secret, next, t0 + absl::Seconds(30), 1, *step), *step + 1);
}

TEST(TotpTest, RejectsMalformedInput) {
  const std::string secret = Base32Encode(kRfcSeed);
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  const std::string code = *TotpCode(secret, t0);
  EXPECT_EQ(VerifyTotp(secret, code.substr(0, 5), t0), std::nullopt);
  EXPECT_EQ(VerifyTotp(secret, code + "0", t0), std::nullopt);
  EXPECT_EQ(VerifyTotp(secret, "12345a", t0), std::nullopt);
  EXPECT_EQ(VerifyTotp("not base32!", code, t0), std::nullopt);
  EXPECT_EQ(VerifyTotp(secret, code, t0, 1, -1, {.digits = 9}), std::nullopt);
  EXPECT_EQ(TotpCode("!!", t0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TotpCode(secret, t0, {.digits = 5}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TotpTest, ConfigurableDigitsAndStep) {
  const std::string secret = Base32Encode(kRfcSeed);
  const TotpParams p{.digits = 7, .step = absl::Seconds(60)};
  const absl::Time t = absl::FromUnixSeconds(1'800'000'000);
  auto code = TotpCode(secret, t, p);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(code->size(), 7u);
  // A 60 s step is HOTP at counter floor(t / 60), truncated to 7 digits.
  EXPECT_EQ(*code, HotpCode(kRfcSeed, 1'800'000'000 / 60, 7));
  EXPECT_EQ(VerifyTotp(secret, *code, t + absl::Seconds(59), 0, -1, p), 1'800'000'000 / 60);
}

TEST(TotpTest, NewSecretAndUri) {
  auto a = NewTotpSecret();
  auto b = NewTotpSecret();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(Base32Decode(*a)->size(), 20u);
  EXPECT_EQ(OtpAuthUri("Acme CRM", "ana@acme.example", "JBSWY3DPEHPK3PXP"),
            "otpauth://totp/Acme%20CRM:ana%40acme.example?secret=JBSWY3DPEHPK3PXP&issuer=Acme%20CRM"
            "&algorithm=SHA1&digits=6&period=30");
}

}  // namespace
}  // namespace crm::auth
