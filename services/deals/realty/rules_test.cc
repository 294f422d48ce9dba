// File: services/deals/realty/rules_test.cc
// The pure rules of the inventory (D14): the state machine, exact price arithmetic, validation naming
// every field.
#include "services/deals/realty/rules.h"

#include <gtest/gtest.h>

#include <random>

#include "absl/numeric/int128.h"

namespace crm::deals::realty {
namespace {

using S = v1::Unit;

std::vector<std::string> Fields(const Violations& v) {
  std::vector<std::string> out;
  for (const FieldViolation& f : v.list()) out.push_back(f.field);
  return out;
}

TEST(StateMachineTest, PeopleAndImportsMoveAlongTheTableOnly) {
  const int64_t priced = 100;
  // Allowed.
  EXPECT_FALSE(RefuseTransition(S::NOT_RELEASED, S::AVAILABLE, TransitionBy::kPerson, priced, false));
  EXPECT_FALSE(RefuseTransition(S::AVAILABLE, S::WITHDRAWN, TransitionBy::kImport, priced, false));
  EXPECT_FALSE(RefuseTransition(S::WITHDRAWN, S::AVAILABLE, TransitionBy::kPerson, priced, false));
  EXPECT_FALSE(RefuseTransition(S::AVAILABLE, S::SOLD, TransitionBy::kImport, priced, false));
  EXPECT_FALSE(RefuseTransition(S::SOLD, S::AVAILABLE, TransitionBy::kPerson, priced, true));
  EXPECT_FALSE(RefuseTransition(S::BOOKED, S::SOLD, TransitionBy::kPerson, priced, false));
  EXPECT_FALSE(RefuseTransition(S::SOLD, S::SOLD, TransitionBy::kPerson, 0, false));  // nothing to do
  // Guards.
  EXPECT_TRUE(RefuseTransition(S::NOT_RELEASED, S::AVAILABLE, TransitionBy::kPerson, 0, false));
  EXPECT_TRUE(RefuseTransition(S::SOLD, S::AVAILABLE, TransitionBy::kPerson, priced, false));
  EXPECT_TRUE(RefuseTransition(S::SOLD, S::WITHDRAWN, TransitionBy::kPerson, priced, true));
  EXPECT_TRUE(RefuseTransition(S::NOT_RELEASED, S::SOLD, TransitionBy::kPerson, priced, false));
  // BOOKED belongs to the bookings.
  EXPECT_TRUE(RefuseTransition(S::AVAILABLE, S::BOOKED, TransitionBy::kPerson, priced, false));
  EXPECT_TRUE(RefuseTransition(S::AVAILABLE, S::BOOKED, TransitionBy::kImport, priced, false));
  EXPECT_TRUE(RefuseTransition(S::BOOKED, S::AVAILABLE, TransitionBy::kPerson, priced, false));
  EXPECT_TRUE(RefuseTransition(S::BOOKED, S::WITHDRAWN, TransitionBy::kPerson, priced, false));
  EXPECT_TRUE(RefuseTransition(S::BOOKED, S::SOLD, TransitionBy::kImport, priced, false));
  EXPECT_FALSE(RefuseTransition(S::AVAILABLE, S::BOOKED, TransitionBy::kBooking, priced, false));
  EXPECT_FALSE(RefuseTransition(S::BOOKED, S::AVAILABLE, TransitionBy::kBooking, priced, false));
  EXPECT_TRUE(RefuseTransition(S::AVAILABLE, S::SOLD, TransitionBy::kBooking, priced, false));
  // Every pair is decided, none crashes.
  for (int a = 1; a <= 5; ++a) {
    for (int b = 1; b <= 5; ++b) {
      for (TransitionBy by : {TransitionBy::kPerson, TransitionBy::kImport, TransitionBy::kBooking}) {
        (void)RefuseTransition(static_cast<S::Status>(a), static_cast<S::Status>(b), by, priced, true);
      }
    }
  }
}

TEST(PricesTest, PerSquareMetreAndBackAreExactAndRoundHalfUp) {
  // 10 000 000,00 ₽ for 52.34 m²: 19 105 846.38… kopecks a m² → 19 105 846; 9 kopecks for 0.02 m²:
  // 450.
  EXPECT_EQ(PricePerM2(1'000'000'000, 5234), 19'105'846);
  EXPECT_EQ(PricePerM2(9, 2), 450);
  EXPECT_EQ(PricePerM2(1, 200000), 0);  // 0.0005 → 0
  EXPECT_EQ(PricePerM2(1, 199999), 0);
  EXPECT_EQ(PricePerM2(1, 200), 1);  // 0.5 → 1
  EXPECT_EQ(PriceFromPerM2(25'000'000, 5234), 1'308'500'000);
  EXPECT_EQ(PriceFromPerM2(1, 50), 1);  // 0.5 kopeck rounds up
  EXPECT_EQ(PriceFromPerM2(1, 49), 0);
  EXPECT_EQ(PricePerM2(0, 5234), 0);
  EXPECT_EQ(PricePerM2(100, 0), 0);
  // Large values stay exact (128-bit intermediate).
  EXPECT_EQ(MulDivRound(1'000'000'000'000'000, 10'000'000, 100), INT64_MAX);
  EXPECT_EQ(MulDivRound(999'999'999'999'999, 9'999, 10'000), 999'899'999'999'999);
}

TEST(PricesTest, RandomPricesMatchA128BitReference) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> price(1, 1'000'000'000'000), area(1, 10'000'000), bp(0, 10000);
  for (int i = 0; i < 100000; ++i) {
    const int64_t p = price(rng), a = area(rng), b = bp(rng);
    const absl::int128 want = (absl::int128(p) * 100 * 2 + a) / (2 * absl::int128(a));
    EXPECT_EQ(PricePerM2(p, a), static_cast<int64_t>(want));
    v1::Discount d;
    d.set_percent_bp(static_cast<int32_t>(b));
    EXPECT_EQ(DiscountValue(p, d), static_cast<int64_t>((absl::int128(p) * b * 2 + 10000) / 20000));
  }
}

TEST(PricesTest, FinalPriceTakesEveryDiscountNeverBelowZero) {
  v1::Unit u;
  u.set_area_centi_m2(5000);
  u.mutable_price_per_m2()->set_amount_minor(20'000'000);  // 200 000 ₽/m² × 50 m² = 10 000 000 ₽
  v1::Discount* pct = u.add_discounts();
  pct->set_code("full");
  pct->set_percent_bp(250);  // 2.50 %
  v1::Discount* amount = u.add_discounts();
  amount->set_code("tradein");
  amount->mutable_amount()->set_amount_minor(10'000'000);
  const Prices p = ComputePrices(u);
  EXPECT_EQ(p.price_minor, 1'000'000'000);
  EXPECT_EQ(p.per_m2_minor, 20'000'000);
  EXPECT_EQ(p.discounts[0].value().amount_minor(), 25'000'000);
  EXPECT_EQ(p.final_minor, 1'000'000'000 - 25'000'000 - 10'000'000);
  EXPECT_EQ(p.currency, "RUB");
  amount->mutable_amount()->set_amount_minor(2'000'000'000);
  EXPECT_EQ(ComputePrices(u).final_minor, 0);
  // The stored form reads back to the same values.
  const std::string json = DiscountsJson(p.discounts);
  std::vector<v1::Discount> back = DiscountsFromJson(json, p.price_minor, "RUB");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].value().amount_minor(), 25'000'000);
  EXPECT_EQ(DiscountsJson(back), json);
}

TEST(ValidationTest, AnImportRowNamesEveryBadFieldAtOnce) {
  v1::Unit u;
  u.set_kind(static_cast<S::Kind>(9));
  u.set_rooms(25);
  u.set_area_centi_m2(0);
  u.mutable_price()->set_amount_minor(-1);
  u.mutable_price()->set_currency("rub");
  u.set_plan_image("ftp://x");
  v1::Discount* d = u.add_discounts();
  d->set_code("x");
  d->set_percent_bp(100);
  d->mutable_amount()->set_amount_minor(5);
  u.add_discounts()->set_code("x");
  Violations v;
  ValidateUnit(u, "units[17]", UnitCheck::kImport, {}, v);
  const std::vector<std::string> f = Fields(v);
  for (const char* want :
       {"units[17].external_id", "units[17].building_external_id", "units[17].number",
        "units[17].section_number", "units[17].floor", "units[17].position", "units[17].kind",
        "units[17].rooms", "units[17].area_centi_m2", "units[17].price.amount_minor",
        "units[17].price.currency", "units[17].discounts[0].percent_bp", "units[17].discounts[1].code",
        "units[17].discounts[1].percent_bp", "units[17].plan_image"}) {
    EXPECT_NE(std::find(f.begin(), f.end(), want), f.end()) << want;
  }
  EXPECT_FALSE(v.ToStatus().ok());
  EXPECT_EQ(v.ToStatus().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolations(v.ToStatus()).size(), v.size());
}

TEST(ValidationTest, AnUpdateChecksOnlyItsPaths) {
  v1::Unit u;  // everything empty
  u.set_rooms(3);
  Violations v;
  ValidateUnit(u, "unit", UnitCheck::kUpdate, {"rooms"}, v);
  EXPECT_TRUE(v.empty());
  ValidateUnit(u, "unit", UnitCheck::kUpdate, {"price", "price_per_m2"}, v);
  EXPECT_EQ(Fields(v), std::vector<std::string>{"update_mask"});
  Violations plan;
  u.set_plan_image("blob:" + std::string(64, 'a'));
  ValidateUnit(u, "unit", UnitCheck::kUpdate, {"plan_image"}, plan);
  EXPECT_TRUE(plan.empty());
}

TEST(ValidationTest, BuildingSectionsAndFloors) {
  v1::Building b;
  b.set_name("Корпус 1");
  v1::Section* s1 = b.add_sections();
  s1->set_number(1);
  s1->set_last_floor(25);
  v1::Section* s2 = b.add_sections();
  s2->set_number(1);
  s2->set_first_floor(5);
  s2->set_last_floor(3);
  v1::Section* s3 = b.add_sections();
  s3->set_number(2);
  Violations v;
  ValidateBuilding(b, "buildings[2]", true, v);
  EXPECT_EQ(Fields(v), (std::vector<std::string>{
                           "buildings[2].external_id", "buildings[2].sections[1].number",
                           "buildings[2].sections[1].last_floor", "buildings[2].sections[2].last_floor"}));
  EXPECT_EQ(FirstFloor(*s1), 1);  // 0 reads as 1: there is no floor 0
  EXPECT_EQ(DefaultPurpose(S::APARTMENT), S::RESIDENTIAL);
  EXPECT_EQ(DefaultPurpose(S::APARTMENTS), S::NON_RESIDENTIAL);
}

}  // namespace
}  // namespace crm::deals::realty
