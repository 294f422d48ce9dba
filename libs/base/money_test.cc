#include "libs/base/money.h"

#include <cstdint>
#include <limits>
#include <numeric>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST(CurrencyTest, KnownCodesAndDigits) {
  for (const char* code :
       {"RUB", "USD", "EUR", "CNY", "KZT", "BYN", "UZS", "AMD", "GEL", "KGS", "AED", "TRY", "GBP", "CHF"}) {
    EXPECT_TRUE(ValidateCurrency(code).ok()) << code;
    EXPECT_EQ(MinorUnitDigits(code), 2) << code;
  }
  EXPECT_EQ(MinorUnitDigits("JPY"), 0);
  EXPECT_EQ(MinorUnitDigits("KRW"), 0);
  EXPECT_EQ(MinorUnitDigits("KWD"), 3);
  EXPECT_EQ(MinorUnitDigits("XYZ"), -1);
}

TEST(CurrencyTest, UnknownNamesTheCode) {
  const absl::Status s = ValidateCurrency("XYZ");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("\"XYZ\""));
  EXPECT_FALSE(ValidateCurrency("rub").ok());  // upper case only
  EXPECT_FALSE(ValidateCurrency("").ok());
  EXPECT_FALSE(ValidateCurrency("RUBX").ok());
}

Money M(int64_t minor, const char* currency) { return Money{minor, currency}; }

TEST(ParseMoneyTest, PlainAndSigned) {
  EXPECT_EQ(ParseMoney("1500.5", "RUB").value(), M(150050, "RUB"));
  EXPECT_EQ(ParseMoney("1500.50", "RUB").value(), M(150050, "RUB"));
  EXPECT_EQ(ParseMoney("-3", "RUB").value(), M(-300, "RUB"));
  EXPECT_EQ(ParseMoney("+3", "USD").value(), M(300, "USD"));
  EXPECT_EQ(ParseMoney("0", "EUR").value(), M(0, "EUR"));
  EXPECT_EQ(ParseMoney("-0.05", "EUR").value(), M(-5, "EUR"));
  EXPECT_EQ(ParseMoney("  42  ", "RUB").value(), M(4200, "RUB"));
  EXPECT_EQ(ParseMoney("007.1", "RUB").value(), M(710, "RUB"));
}

TEST(ParseMoneyTest, GroupedWithCommaDecimal) {
  EXPECT_EQ(ParseMoney("1 500,50", "RUB").value(), M(150050, "RUB"));
  EXPECT_EQ(ParseMoney("12 345 678,9", "RUB").value(), M(1234567890, "RUB"));
  EXPECT_EQ(ParseMoney("1\xC2\xA0"
                       "500,5",
                       "RUB")
                .value(),
            M(150050, "RUB"));  // NBSP
  EXPECT_EQ(ParseMoney("1\xE2\x80\xAF"
                       "500",
                       "RUB")
                .value(),
            M(150000, "RUB"));  // narrow NBSP
  EXPECT_EQ(ParseMoney("-1 000", "RUB").value(), M(-100000, "RUB"));
}

TEST(ParseMoneyTest, ZeroAndThreeDigitCurrencies) {
  EXPECT_EQ(ParseMoney("1500", "JPY").value(), M(1500, "JPY"));
  EXPECT_FALSE(ParseMoney("1500.0", "JPY").ok());
  EXPECT_EQ(ParseMoney("1.5", "KWD").value(), M(1500, "KWD"));
  EXPECT_EQ(ParseMoney("1.234", "KWD").value(), M(1234, "KWD"));
}

TEST(ParseMoneyTest, TooManyFractionDigits) {
  const auto r = ParseMoney("1.505", "RUB");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("RUB allows 2"));
  EXPECT_FALSE(ParseMoney("1.500", "RUB").ok());  // could mean 1500 in some locales: refuse
}

TEST(ParseMoneyTest, Malformed) {
  for (const char* bad :
       {"",       " ",    "-",    "abc",    "1.",       ".5",     "1..5",     "1.2.3", "1,500.50",
        "1e3",    "0x10", "1 50", "1  500", " 1 500 0", "1 5000", "1234 567", "--1",   "1-",
        "1.5RUB", "- 1",  "inf",  "NaN",    "1_000",    "1 500.", "1\xC2"}) {
    const auto r = ParseMoney(bad, "RUB");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << "\"" << bad << "\"";
  }
}

TEST(ParseMoneyTest, UnknownCurrency) {
  const auto r = ParseMoney("1", "ABC");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("ABC"));
}

TEST(ParseMoneyTest, Int64Limits) {
  EXPECT_EQ(ParseMoney("92233720368547758.07", "RUB").value().minor, kMax);
  EXPECT_EQ(ParseMoney("-92233720368547758.08", "RUB").value().minor, kMin);
  EXPECT_EQ(ParseMoney("92233720368547758.08", "RUB").status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ParseMoney("-92233720368547758.09", "RUB").status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ParseMoney("92233720368547758.1", "RUB").status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ParseMoney("9223372036854775807", "JPY").value().minor, kMax);
  EXPECT_EQ(ParseMoney("99999999999999999999999", "JPY").status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ParseMoney("100000000000000000", "RUB").status().code(), absl::StatusCode::kOutOfRange);
}

TEST(FormatDecimalTest, Formats) {
  EXPECT_EQ(FormatDecimal(M(150050, "RUB")), "1500.50");
  EXPECT_EQ(FormatDecimal(M(5, "RUB")), "0.05");
  EXPECT_EQ(FormatDecimal(M(-5, "RUB")), "-0.05");
  EXPECT_EQ(FormatDecimal(M(0, "RUB")), "0.00");
  EXPECT_EQ(FormatDecimal(M(1500, "JPY")), "1500");
  EXPECT_EQ(FormatDecimal(M(1, "KWD")), "0.001");
  EXPECT_EQ(FormatDecimal(M(kMax, "RUB")), "92233720368547758.07");
  EXPECT_EQ(FormatDecimal(M(kMin, "RUB")), "-92233720368547758.08");
  EXPECT_EQ(FormatDecimal(M(150050, "???")), "1500.50");
}

TEST(FormatDecimalTest, RoundTrips) {
  for (int64_t v :
       {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{99}, int64_t{100}, int64_t{-12345}, kMax, kMin}) {
    for (const char* c : {"RUB", "JPY", "KWD"}) {
      const Money m = M(v, c);
      EXPECT_EQ(ParseMoney(FormatDecimal(m), c).value(), m) << FormatDecimal(m);
    }
  }
}

TEST(AddTest, AddsSameCurrency) {
  EXPECT_EQ(Add(M(150050, "RUB"), M(-50, "RUB")).value(), M(150000, "RUB"));
  EXPECT_EQ(Add(M(kMax, "RUB"), M(kMin, "RUB")).value(), M(-1, "RUB"));
}

TEST(AddTest, MismatchAndOverflow) {
  const auto mismatch = Add(M(1, "RUB"), M(1, "USD"));
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatch.status().message(), HasSubstr("USD"));
  EXPECT_EQ(Add(M(kMax, "RUB"), M(1, "RUB")).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Add(M(kMin, "RUB"), M(-1, "RUB")).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(SplitTest, PaymentSchedules) {
  EXPECT_THAT(SplitByBasisPoints(150050, {10000}).value(), ElementsAre(150050));
  EXPECT_THAT(SplitByBasisPoints(150050, {5000, 5000}).value(), ElementsAre(75025, 75025));
  EXPECT_THAT(SplitByBasisPoints(150051, {5000, 5000}).value(), ElementsAre(75026, 75025));  // tie: earlier
  EXPECT_THAT(SplitByBasisPoints(100001, {3000, 7000}).value(), ElementsAre(30000, 70001));
  EXPECT_THAT(SplitByBasisPoints(100, {3333, 3333, 3334}).value(), ElementsAre(33, 33, 34));
  EXPECT_THAT(SplitByBasisPoints(100, {3334, 3333, 3333}).value(), ElementsAre(34, 33, 33));
  EXPECT_THAT(SplitByBasisPoints(2, {3333, 3333, 3334}).value(), ElementsAre(1, 0, 1));
  EXPECT_THAT(SplitByBasisPoints(0, {5000, 5000}).value(), ElementsAre(0, 0));
  EXPECT_THAT(SplitByBasisPoints(7, {0, 10000, 0}).value(), ElementsAre(0, 7, 0));
}

TEST(SplitTest, NegativeMirrorsPositive) {
  EXPECT_THAT(SplitByBasisPoints(-150051, {5000, 5000}).value(), ElementsAre(-75026, -75025));
  EXPECT_THAT(SplitByBasisPoints(-100001, {3000, 7000}).value(), ElementsAre(-30000, -70001));
}

TEST(SplitTest, ExtremesSumExactly) {
  for (int64_t total : {kMax, kMin, kMax - 1, int64_t{9999}, int64_t{-9999}, int64_t{1}}) {
    for (const std::vector<int>& bp : std::vector<std::vector<int>>{{10000},
                                                                    {5000, 5000},
                                                                    {1, 9999},
                                                                    {3333, 3333, 3334},
                                                                    {1, 1, 1, 1, 9996},
                                                                    {2500, 2500, 2500, 2500}}) {
      const std::vector<int64_t> parts = SplitByBasisPoints(total, bp).value();
      ASSERT_EQ(parts.size(), bp.size());
      // Sum in unsigned arithmetic: the parts share the total's sign, so this cannot overflow int64.
      uint64_t sum = 0;
      for (int64_t p : parts) {
        sum += static_cast<uint64_t>(p);
        EXPECT_TRUE(total >= 0 ? p >= 0 : p <= 0);
      }
      EXPECT_EQ(static_cast<int64_t>(sum), total);
    }
  }
}

TEST(SplitTest, RejectsBadBasisPoints) {
  EXPECT_EQ(SplitByBasisPoints(100, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(SplitByBasisPoints(100, {5000, 4999}).status().message(), HasSubstr("9999"));
  EXPECT_FALSE(SplitByBasisPoints(100, {5000, 5001}).ok());
  EXPECT_FALSE(SplitByBasisPoints(100, {-1, 10001}).ok());
  EXPECT_FALSE(SplitByBasisPoints(100, {20000, -10000}).ok());
}

}  // namespace
}  // namespace crm
