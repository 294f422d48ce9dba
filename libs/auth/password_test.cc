#include "libs/auth/password.h"

#include <iostream>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Cheap parameters so the suite stays fast; the default cost is measured once below.
constexpr PasswordParams kFast{.t_cost = 1, .m_cost_kib = 64, .parallelism = 1};

// Reference produced once with Debian's independent `argon2` CLI (package argon2 0~20171227):
//   echo -n "correct horse battery staple" | argon2 saltsaltsaltsalt -id -t 2 -m 10 -p 1 -l 32
// (-m 10 means 2^10 KiB = 1024 KiB). Hash (hex): 442e4963fd348572a59d767ff8f09570983ce27b824306e3210dc35424e898e4
constexpr char kCliReference[] =
    "$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ";
// And: echo -n "password" | argon2 somesaltsomesalt -id -t 3 -m 12 -p 2 -l 32 -e
constexpr char kCliReference2[] =
    "$argon2id$v=19$m=4096,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$GIDb0bjZv/zL6K6d9YzKPOpfCjQnH6oS30MB6t9rDtk";

TEST(PasswordTest, MatchesArgon2CliKnownAnswer) {
  auto phc = internal::HashPasswordWithSalt("correct horse battery staple", "saltsaltsaltsalt",
                                            {.t_cost = 2, .m_cost_kib = 1024, .parallelism = 1});
  ASSERT_TRUE(phc.ok()) << phc.status();
  EXPECT_EQ(*phc, kCliReference);

  auto phc2 = internal::HashPasswordWithSalt("password", "somesaltsomesalt",
                                             {.t_cost = 3, .m_cost_kib = 4096, .parallelism = 2});
  ASSERT_TRUE(phc2.ok()) << phc2.status();
  EXPECT_EQ(*phc2, kCliReference2);
}

TEST(PasswordTest, VerifiesCliReference) {
  EXPECT_EQ(VerifyPassword("correct horse battery staple", kCliReference).value(), true);
  EXPECT_EQ(VerifyPassword("correct horse battery stapler", kCliReference).value(), false);
  EXPECT_EQ(VerifyPassword("password", kCliReference2).value(), true);
  EXPECT_EQ(VerifyPassword("Password", kCliReference2).value(), false);
}

TEST(PasswordTest, RoundTripWithRandomSalt) {
  auto a = HashPassword("s3cret", kFast);
  auto b = HashPassword("s3cret", kFast);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_THAT(*a, StartsWith("$argon2id$v=19$m=64,t=1,p=1$"));
  EXPECT_NE(*a, *b);  // fresh salt each time
  EXPECT_TRUE(VerifyPassword("s3cret", *a).value());
  EXPECT_TRUE(VerifyPassword("s3cret", *b).value());
  EXPECT_FALSE(VerifyPassword("s3cres", *a).value());
  EXPECT_FALSE(VerifyPassword("", *a).value());
}

TEST(PasswordTest, EmptyAndMaxLengthPasswords) {
  auto empty = HashPassword("", kFast);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(VerifyPassword("", *empty).value());
  std::string max(kMaxPasswordBytes, 'x');
  auto h = HashPassword(max, kFast);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(VerifyPassword(max, *h).value());
  EXPECT_FALSE(VerifyPassword(max + "x", *h).value());
}

TEST(PasswordTest, RejectsTooLongPassword) {
  auto h = HashPassword(std::string(kMaxPasswordBytes + 1, 'x'), kFast);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(h.status().message()), HasSubstr("password"));
}

TEST(PasswordTest, RejectsBadParams) {
  EXPECT_EQ(HashPassword("x", {.t_cost = 0}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HashPassword("x", {.t_cost = 1, .m_cost_kib = 4}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HashPassword("x", {.t_cost = 1, .m_cost_kib = 64, .parallelism = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PasswordTest, MalformedPhcIsInvalidArgument) {
  const std::string good = kCliReference;
  const char* kBad[] = {
      "",
      "plaintext",
      "$argon2i$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ",
      "$argon2id$v=16$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ",
      "$argon2id$v=19$t=2,m=1024,p=1$c2FsdHNhbHRzYWx0c2FsdA$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ",
      "$argon2id$v=19$m=1024,t=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ",
      "$argon2id$v=19$m=99999999999,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ",
      "$argon2id$v=19$m=1024,t=2,p=1$c2FsdA$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ",  // 4-byte salt
      "$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$RC5JY",                        // short hash
      "$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA==$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ",
      "$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ$",
  };
  for (const char* phc : kBad) {
    EXPECT_EQ(VerifyPassword("x", phc).status().code(), absl::StatusCode::kInvalidArgument) << phc;
    EXPECT_TRUE(NeedsRehash(phc, {})) << phc;
  }
}

TEST(PasswordTest, NeedsRehash) {
  auto h = HashPassword("pw", kFast);
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(NeedsRehash(*h, kFast));
  EXPECT_TRUE(NeedsRehash(*h, {.t_cost = 2, .m_cost_kib = 64, .parallelism = 1}));
  EXPECT_TRUE(NeedsRehash(*h, {}));
  EXPECT_TRUE(NeedsRehash(kCliReference, {.t_cost = 2, .m_cost_kib = 1024, .parallelism = 1}) == false);
}

// Measures the production default cost on this machine; logs, does not assert a duration.
TEST(PasswordTest, DefaultCostTiming) {
  absl::Time start = absl::Now();
  auto h = HashPassword("correct horse battery staple");
  absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_THAT(*h, StartsWith("$argon2id$v=19$m=65536,t=3,p=1$"));
  std::cout << "HashPassword default cost took " << absl::FormatDuration(took) << "\n";
  start = absl::Now();
  EXPECT_TRUE(VerifyPassword("correct horse battery staple", *h).value());
  std::cout << "VerifyPassword default cost took " << absl::FormatDuration(absl::Now() - start) << "\n";
}

}  // namespace
}  // namespace crm::auth
