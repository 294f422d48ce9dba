#include "libs/auth/encoding.h"

#include "gtest/gtest.h"

namespace crm::auth {
namespace {

// RFC 4648 section 10 vectors, unpadded.
TEST(EncodingTest, Rfc4648Base64Vectors) {
  const std::pair<std::string, std::string> kVectors[] = {
      {"", ""},         {"f", "Zg"},         {"fo", "Zm8"},     {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [raw, text] : kVectors) {
    EXPECT_EQ(Base64NoPadEncode(raw), text);
    EXPECT_EQ(Base64UrlEncode(raw), text);
    EXPECT_EQ(Base64NoPadDecode(text), raw);
    EXPECT_EQ(Base64UrlDecode(text), raw);
  }
}

TEST(EncodingTest, UrlAndStandardAlphabetsDiffer) {
  const std::string raw("\xfb\xff\xbf", 3);
  EXPECT_EQ(Base64UrlEncode(raw), "-_-_");
  EXPECT_EQ(Base64NoPadEncode(raw), "+/+/");
  EXPECT_EQ(Base64UrlDecode("-_-_"), raw);
  EXPECT_FALSE(Base64UrlDecode("+/+/"));
  EXPECT_FALSE(Base64NoPadDecode("-_-_"));
}

TEST(EncodingTest, DecodersAreStrict) {
  EXPECT_FALSE(Base64UrlDecode("Zg=="));     // padding
  EXPECT_FALSE(Base64UrlDecode("Zm9v Yg"));  // whitespace
  EXPECT_FALSE(Base64UrlDecode("Z"));        // impossible length
  EXPECT_FALSE(Base64UrlDecode("Zh"));       // non-zero trailing bits ("Zg" is canonical for "f")
  EXPECT_FALSE(Base64NoPadDecode("Zm9="));
}

TEST(EncodingTest, HexIsLowercase) {
  EXPECT_EQ(HexEncode(std::string("\x00\xab\xff", 3)), "00abff");
  EXPECT_EQ(HexEncode(""), "");
}

}  // namespace
}  // namespace crm::auth
