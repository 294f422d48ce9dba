#include "services/mortgage/multicalc.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status.h"
#include "services/mortgage/calculators.h"
#include "services/mortgage/convert.h"
#include "services/mortgage/demo.h"
#include "services/mortgage/schedule.h"

namespace crm::mortgage {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kRub = 100;

Reference Demo(absl::CivilDay as_of) {
  auto ref = ResolveReference(as_of, DemoCatalog());
  EXPECT_TRUE(ref.ok()) << ref.status();
  return *std::move(ref);
}

const Offer* Find(const MultiCalcResult& r, const std::string& program_id) {
  for (const Offer& o : r.offers) {
    if (o.program->id == program_id) return &o;
  }
  return nullptr;
}

const Reason* FindReason(const Offer& o, const std::string& code) {
  for (const Reason& r : o.reasons) {
    if (r.code == code) return &r;
  }
  return nullptr;
}

std::set<std::string> Codes(const Offer& o) {
  std::set<std::string> s;
  for (const Reason& r : o.reasons) s.insert(std::string(r.code));
  return s;
}

double PskValue(const std::string& s) { return std::stod(s); }

MultiCalcResult Calc(const Reference& ref, const Client& c, const Purchase& p, MultiCalcOptions options = {}) {
  auto r = MultiCalculate(ref, c, p, options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : MultiCalcResult{};
}

// --- a small hand-made reference ----------------------------------------------------------------

Predicate Pred(Param p, std::optional<int64_t> min, std::optional<int64_t> max) {
  Predicate q;
  q.param = p;
  q.min = min;
  q.max = max;
  return q;
}

Reference Small() {
  Reference ref;
  ref.as_of = absl::CivilDay(2026, 3, 1);
  BankTerms& b = ref.banks.emplace_back();
  b.id = "bank-a";
  b.name = "Банк А";
  b.pti_coefficient = Rate{50'000'000};  // 0.5
  b.stop_factors.push_back(StopFactor{.code = "AGE_AT_MATURITY_ABOVE_70",
                                      .text = "Возраст на момент погашения >70",
                                      .param = Param::kAgeAtMaturity,
                                      .min = 71});
  b.stop_factors.push_back(StopFactor{.code = "TERM_ABOVE_30Y", .text = "Срок кредита >30",
                                      .param = Param::kTermMonths, .min = 361});
  ProgramTerms& p = b.programs.emplace_back();
  p.id = "prog-a";
  p.name = "Классика";
  p.kind = ProgramKind::kClassic;
  p.limits.min_down_payment_bp = 2000;
  p.limits.max_loan = 10'000'000 * kRub;
  p.limits.max_term_months = 300;
  p.limits.max_age_at_maturity = 70;
  p.object_types = {ObjectType::kNewBuild};
  p.cells.push_back(RateCell{{Pred(Param::kDownPaymentShare, 1000, std::nullopt)}, Rate{21'000'000}});
  p.adjustments.push_back(RateAdjustment{.code = "NO_INSURANCE", .text = "+1 п.п.",
                                         .when = {Pred(Param::kInsurance, std::nullopt, 0)}, .delta_e8 = 1'000'000});
  // A second program whose grid needs 30 % down: NO_RATE with the fix.
  ProgramTerms& q = b.programs.emplace_back();
  q.id = "prog-b";
  q.name = "Два документа";
  q.kind = ProgramKind::kTwoDocuments;
  q.cells.push_back(RateCell{{Pred(Param::kDownPaymentShare, 3000, std::nullopt)}, Rate{23'000'000}});
  q.cells.push_back(RateCell{{Pred(Param::kDownPaymentShare, 5000, std::nullopt)}, Rate{22'000'000}});
  return ref;
}

Client Older() {
  Client c = DemoClient();
  c.age = 60;
  c.monthly_income = 100'000 * kRub;
  c.insurance = false;
  return c;
}

TEST(MultiCalculateTest, IneligibleOfferListsEveryReasonWithFixes) {
  const Reference ref = Small();
  const Purchase p{.type = ObjectType::kSecondary, .price = 15'000'000 * kRub, .down_payment = 2'000'000 * kRub,
                   .term_months = 420, .region = 66};
  const MultiCalcResult r = Calc(ref, Older(), p);
  ASSERT_EQ(r.offers.size(), 2u);
  const Offer* o = Find(r, "prog-a");
  ASSERT_NE(o, nullptr);
  EXPECT_FALSE(o->eligible);
  EXPECT_EQ(o->rank, 0);
  EXPECT_EQ(Codes(*o), (std::set<std::string>{"AGE_AT_MATURITY_ABOVE_70", "TERM_ABOVE_30Y", "OBJECT_TYPE",
                                               "DOWN_PAYMENT_TOO_LOW", "LOAN_TOO_LARGE", "TERM_TOO_LONG",
                                               "AGE_AT_MATURITY", "INCOME_TOO_LOW"}));
  // 20 % of 15 M = 3 M; 2 M down: add 1 000 000 ₽.
  const Reason* dp = FindReason(*o, "DOWN_PAYMENT_TOO_LOW");
  EXPECT_EQ(dp->fix, "Добавьте 1 000 000 ₽ к первоначальному взносу");
  EXPECT_EQ(dp->fix_down_payment_add, 1'000'000 * kRub);
  EXPECT_EQ(dp->source, "limit");
  // The loan 13 M > 10 M: add 3 000 000 ₽.
  EXPECT_EQ(FindReason(*o, "LOAN_TOO_LARGE")->fix, "Добавьте 3 000 000 ₽ к первоначальному взносу");
  // 60 + 35 = 95 > 70: at most 10 years.
  const Reason* age = FindReason(*o, "AGE_AT_MATURITY");
  EXPECT_EQ(age->text, "Возраст на момент погашения 95 > 70");
  EXPECT_EQ(age->fix, "Срок не более 10 лет");
  EXPECT_EQ(age->fix_term_months, 120);
  EXPECT_EQ(FindReason(*o, "TERM_TOO_LONG")->fix, "Срок не более 25 лет");
  EXPECT_EQ(FindReason(*o, "TERM_ABOVE_30Y")->fix, "Срок не более 30 лет");
  EXPECT_EQ(FindReason(*o, "TERM_ABOVE_30Y")->source, "stop_factor");
  const Reason* income = FindReason(*o, "INCOME_TOO_LOW");
  EXPECT_EQ(income->source, "income");
  EXPECT_THAT(income->fix, HasSubstr("Доход не ниже "));
  EXPECT_THAT(income->fix, HasSubstr(" или созаёмщик с доходом "));
  EXPECT_GT(income->fix_income, Older().monthly_income);
  // The rate is still computed (with the no-insurance adjustment) and so are the figures.
  ASSERT_TRUE(o->rate.has_value());
  EXPECT_EQ(o->rate->e8, 22'000'000);
  EXPECT_THAT(o->applied_adjustments, ::testing::ElementsAre("NO_INSURANCE"));
  EXPECT_GT(o->payment, 0);
  EXPECT_FALSE(o->psk.empty());
  EXPECT_EQ(income->fix_income, (o->required_income + 99) / 100 * 100);
  // The grid that needs 30 % down: NO_RATE with the down payment to add (30 % of 15 M = 4.5 M).
  const Offer* b = Find(r, "prog-b");
  const Reason* no_rate = FindReason(*b, "NO_RATE");
  ASSERT_NE(no_rate, nullptr);
  EXPECT_EQ(no_rate->source, "rate");
  EXPECT_EQ(no_rate->fix_down_payment_add, 2'500'000 * kRub);
  EXPECT_THAT(no_rate->fix, HasSubstr("Первоначальный взнос от 30 %"));
  EXPECT_FALSE(b->rate.has_value());
  EXPECT_TRUE(b->psk.empty());
}

TEST(MultiCalculateTest, TextsStayValidWhenTheResultMoves) {
  const Reference ref = Small();
  Purchase p{.type = ObjectType::kNewBuild, .price = 15'000'000 * kRub, .down_payment = 2'000'000 * kRub,
             .term_months = 420, .region = 66};
  auto calculated = MultiCalculate(ref, Older(), p, {});
  ASSERT_TRUE(calculated.ok()) << calculated.status();
  // Every text as a copy, and where each view pointed, before the moves.
  std::vector<std::string> texts;
  std::vector<const char*> addresses;
  for (const Offer& o : calculated->offers) {
    for (const Reason& r : o.reasons) {
      texts.emplace_back(r.text);
      texts.emplace_back(r.fix);
      addresses.push_back(r.text.data());
    }
    texts.emplace_back(o.pti_risk_text);
  }
  ASSERT_FALSE(addresses.empty());
  MultiCalcResult moved = *std::move(calculated);
  MultiCalcResult assigned;
  assigned = std::move(moved);
  // Allocations after the moves must not reuse the arena's memory while it is alive.
  std::vector<std::string> noise(64, std::string(200, 'x'));
  size_t k = 0, a = 0;
  for (const Offer& o : assigned.offers) {
    for (const Reason& r : o.reasons) {
      EXPECT_EQ(r.text.data(), addresses[a++]);
      EXPECT_EQ(r.text, texts[k++]);
      EXPECT_EQ(r.fix, texts[k++]);
    }
    EXPECT_EQ(o.pti_risk_text, texts[k++]);
  }
  EXPECT_EQ(k, texts.size());
  const Reason* dp = FindReason(*Find(assigned, "prog-a"), "DOWN_PAYMENT_TOO_LOW");
  ASSERT_NE(dp, nullptr);
  EXPECT_THAT(dp->text, HasSubstr("Первоначальный взнос"));
  // The proto gets copies.
  v1::Offer proto;
  OfferToProto(*Find(assigned, "prog-a"), &proto);
  bool found = false;
  for (const v1::Reason& r : proto.reasons()) {
    if (r.code() == "DOWN_PAYMENT_TOO_LOW") {
      found = true;
      EXPECT_EQ(r.text(), std::string(dp->text));
      EXPECT_EQ(r.fix(), std::string(dp->fix));
      EXPECT_EQ(r.source(), "limit");
    }
  }
  EXPECT_TRUE(found);
}

TEST(MultiCalculateTest, ABanksStopFactorReasonIsSharedByItsPrograms) {
  // The demo's banks have several programs each; an old client trips the age stop factors.
  const Reference ref = Demo(absl::CivilDay(2026, 7, 1));
  Client c = DemoClient();
  c.age = 64;
  Purchase p = DemoPurchase();
  p.term_months = 360;
  const MultiCalcResult r = Calc(ref, c, p);
  std::map<std::pair<const BankTerms*, std::string>, std::vector<const Reason*>> by_bank_code;
  for (const Offer& o : r.offers) {
    for (const Reason& reason : o.reasons) {
      if (reason.source == "stop_factor") by_bank_code[{o.bank, std::string(reason.code)}].push_back(&reason);
    }
  }
  int shared = 0;
  for (const auto& [key, reasons] : by_bank_code) {
    for (const Reason* reason : reasons) {
      EXPECT_EQ(reason->text, reasons.front()->text) << key.second;
      EXPECT_EQ(reason->text.data(), reasons.front()->text.data()) << key.second;  // one copy per bank
      EXPECT_EQ(reason->fix, reasons.front()->fix) << key.second;
    }
    if (reasons.size() >= 2) ++shared;
  }
  EXPECT_GT(shared, 0) << "no bank with a stop factor on two programs";
}

TEST(MultiCalculateTest, ApplyingTheFixesMakesTheReasonsGo) {
  const Reference ref = Small();
  Client c = Older();
  Purchase p{.type = ObjectType::kNewBuild, .price = 15'000'000 * kRub, .down_payment = 2'000'000 * kRub,
             .term_months = 420, .region = 66};
  // The offers are copied out of results that stay alive (their texts are views into the result).
  const MultiCalcResult before_result = Calc(ref, c, p);
  const Offer before = *Find(before_result, "prog-a");
  p.down_payment += FindReason(before, "DOWN_PAYMENT_TOO_LOW")->fix_down_payment_add;
  p.down_payment = std::max(p.down_payment, 2'000'000 * kRub + FindReason(before, "LOAN_TOO_LARGE")->fix_down_payment_add);
  p.term_months = FindReason(before, "AGE_AT_MATURITY")->fix_term_months;
  const MultiCalcResult after_result = Calc(ref, c, p);
  const Offer* after = Find(after_result, "prog-a");
  c.monthly_income = FindReason(*after, "INCOME_TOO_LOW") ? FindReason(*after, "INCOME_TOO_LOW")->fix_income
                                                           : c.monthly_income;
  const MultiCalcResult fixed_result = Calc(ref, c, p);
  after = Find(fixed_result, "prog-a");
  EXPECT_TRUE(after->eligible) << ::testing::PrintToString(Codes(*after));
  EXPECT_EQ(after->rank, 1);
}

// Property: over many random profiles and purchases, each fix with a number removes its reason.
TEST(MultiCalculateTest, FixesRemoveTheirReasonsOverRandomProfiles) {
  const Reference ref = Demo(absl::CivilDay(2026, 7, 1));
  std::mt19937_64 rng(20260701);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int checked = 0;
  for (int trial = 0; trial < 60; ++trial) {
    Client c = DemoClient();
    c.age = static_cast<int>(pick(20, 69));
    c.monthly_income = pick(30'000, 600'000) * kRub;
    c.other_debt_payments = pick(0, 30'000) * kRub;
    c.insurance = pick(0, 1) == 1;
    c.children_ages = pick(0, 1) ? std::vector<int>{static_cast<int>(pick(0, 17))} : std::vector<int>{};
    c.employment = pick(0, 4) == 0 ? Employment::kMilitary : Employment::kHired;
    c.nis_years = static_cast<int>(pick(0, 10));
    c.it_accredited = pick(0, 3) == 0;
    Purchase p;
    p.type = static_cast<ObjectType>(pick(1, 3));
    p.price = pick(2'000, 30'000) * 1'000 * kRub;
    p.down_payment = p.price * pick(5, 60) / 100;
    p.term_months = static_cast<int>(pick(6, 40) * 12);
    p.region = pick(0, 1) ? 77 : 27;
    const MultiCalcResult base = Calc(ref, c, p);
    // Group the fixes by what they change, re-run once per distinct change.
    std::map<int64_t, std::vector<std::pair<std::string, std::string>>> by_dp;    // add -> (program, code)
    std::map<int, std::vector<std::pair<std::string, std::string>>> by_term;
    std::map<int64_t, std::vector<std::pair<std::string, std::string>>> by_income;
    for (const Offer& o : base.offers) {
      for (const Reason& r : o.reasons) {
        if (r.fix_down_payment_add != 0) {
          EXPECT_FALSE(r.fix.empty()) << r.code;
          if (p.down_payment + r.fix_down_payment_add < p.price && p.down_payment + r.fix_down_payment_add >= 0) {
            by_dp[r.fix_down_payment_add].emplace_back(o.program->id, std::string(r.code));
          }
        }
        if (r.fix_term_months != 0) by_term[r.fix_term_months].emplace_back(o.program->id, std::string(r.code));
        if (r.fix_income != 0) by_income[r.fix_income].emplace_back(o.program->id, std::string(r.code));
      }
    }
    auto check = [&](const MultiCalcResult& fixed, const std::vector<std::pair<std::string, std::string>>& items,
                     const char* what) {
      for (const auto& [program, code] : items) {
        const Offer* o = Find(fixed, program);
        ASSERT_NE(o, nullptr);
        EXPECT_EQ(FindReason(*o, code), nullptr)
            << what << " did not remove " << code << " of " << o->bank->name << " / " << o->program->name
            << " (trial " << trial << ")";
        ++checked;
      }
    };
    for (const auto& [add, items] : by_dp) {
      Purchase q = p;
      q.down_payment += add;
      check(Calc(ref, c, q), items, "down payment");
    }
    for (const auto& [term, items] : by_term) {
      Purchase q = p;
      q.term_months = term;
      check(Calc(ref, c, q), items, "term");
    }
    for (const auto& [income, items] : by_income) {
      Client d = c;
      d.monthly_income = income;
      check(Calc(ref, d, p), items, "income");
    }
  }
  EXPECT_GT(checked, 500);
}

TEST(MultiCalculateTest, EveryDemoProgramIsEvaluatedAndRanked) {
  const Reference ref = Demo(absl::CivilDay(2026, 7, 1));
  ASSERT_EQ(ref.banks.size(), 25u);
  for (const BankTerms& b : ref.banks) EXPECT_EQ(b.programs.size(), 10u) << b.name;
  const MultiCalcResult r = Calc(ref, DemoClient(), DemoPurchase());
  ASSERT_EQ(r.offers.size(), 250u);
  std::set<std::string> ids;
  for (const Offer& o : r.offers) ids.insert(o.program->id);
  EXPECT_EQ(ids.size(), 250u);
  ASSERT_GT(r.eligible_count, 0);
  // Eligible first, ranks 1..k, by ПСК then payment; the rest rank 0 with a reason each.
  for (int k = 0; k < static_cast<int>(r.offers.size()); ++k) {
    const Offer& o = r.offers[k];
    if (k < r.eligible_count) {
      EXPECT_TRUE(o.eligible);
      EXPECT_EQ(o.rank, k + 1);
      EXPECT_TRUE(o.reasons.empty());
      if (k > 0) {
        const Offer& prev = r.offers[k - 1];
        EXPECT_TRUE(PskValue(prev.psk) < PskValue(o.psk) ||
                    (prev.psk == o.psk && prev.payment <= o.payment));
      }
    } else {
      EXPECT_FALSE(o.eligible);
      EXPECT_EQ(o.rank, 0);
      EXPECT_FALSE(o.reasons.empty());
      for (const Reason& reason : o.reasons) {
        EXPECT_FALSE(reason.text.empty());
        EXPECT_THAT(std::vector<std::string>({"stop_factor", "requirement", "limit", "rate", "income"}),
                    ::testing::Contains(reason.source));
      }
    }
    if (o.rate) {
      EXPECT_GT(o.payment, 0);
      EXPECT_GT(o.overpayment, 0);
      EXPECT_FALSE(o.psk.empty());
    }
  }
  // The family mortgage at 6 % with a child of 4 is the best: 6 % beats everything but Far East (region).
  EXPECT_EQ(r.offers[0].program->kind, ProgramKind::kFamily);
  // eligible_only drops the rest.
  MultiCalcOptions only;
  only.eligible_only = true;
  const MultiCalcResult e = Calc(ref, DemoClient(), DemoPurchase(), only);
  EXPECT_EQ(static_cast<int>(e.offers.size()), r.eligible_count);
  EXPECT_EQ(e.eligible_count, r.eligible_count);
}

TEST(MultiCalculateTest, ConditionsAsOfFollowTheDatedDocuments) {
  const Catalog catalog = DemoCatalog();
  auto rate_of = [&](absl::CivilDay day, const std::string& id) -> std::optional<Rate> {
    const Reference ref = Demo(day);
    const MultiCalcResult r = Calc(ref, DemoClient(), DemoPurchase());
    const Offer* o = Find(r, id);
    EXPECT_NE(o, nullptr);
    return o != nullptr ? o->rate : std::nullopt;
  };
  // The 2026-06-01 SET lowers the rate by 1 p.p.
  const auto before = rate_of(absl::CivilDay(2026, 5, 31), kDemoRateChangeProgramId);
  const auto after = rate_of(absl::CivilDay(2026, 6, 1), kDemoRateChangeProgramId);
  ASSERT_TRUE(before && after);
  EXPECT_EQ(before->e8 - after->e8, 1'000'000);
  // The 2026-09-01 CANCEL removes the rate.
  EXPECT_TRUE(rate_of(absl::CivilDay(2026, 8, 31), kDemoCancelledProgramId).has_value());
  {
    const Reference ref = Demo(absl::CivilDay(2026, 9, 1));
    const MultiCalcResult r = Calc(ref, DemoClient(), DemoPurchase());
    const Offer* o = Find(r, kDemoCancelledProgramId);
    EXPECT_FALSE(o->rate.has_value());
    EXPECT_FALSE(o->eligible);
    ASSERT_NE(FindReason(*o, "NO_RATE"), nullptr);
    EXPECT_EQ(FindReason(*o, "NO_RATE")->text, "Ставка по программе на дату расчёта не установлена");
  }
  // Before 2026 only Сбербанк's family program has a rate (its 2025 scheme); other programs have none.
  {
    const Reference ref = Demo(absl::CivilDay(2025, 6, 1));
    int with_cells = 0;
    for (const BankTerms& b : ref.banks) {
      for (const ProgramTerms& p : b.programs) {
        if (!p.cells.empty()) {
          ++with_cells;
          EXPECT_EQ(p.scheme_code, "000001300");
          EXPECT_EQ(p.kind, ProgramKind::kFamily);
        }
      }
      EXPECT_TRUE(b.stop_factors.empty());  // the stop factors start in 2026
      EXPECT_FALSE(b.pti_coefficient.has_value());
    }
    EXPECT_EQ(with_cells, 1);
  }
  // GetConditions: only the valid schemes, the deciding document; the cancelled program has none.
  const auto conditions = ConditionsAsOf(absl::CivilDay(2026, 9, 1), catalog);
  ASSERT_EQ(conditions.size(), 25u);
  int seen = 0;
  for (const v1::BankConditions& bc : conditions) {
    EXPECT_FALSE(bc.stop_factor_document_id().empty());
    EXPECT_EQ(bc.programs_size(), 10);
    for (const v1::ProgramConditions& pc : bc.programs()) {
      for (const v1::Scheme& s : pc.program().schemes()) EXPECT_TRUE(s.valid_to().empty()) << s.code();
      if (pc.program().id() == kDemoCancelledProgramId) {
        EXPECT_EQ(pc.cells_size(), 0);
        EXPECT_TRUE(pc.rate_document_id().empty());
        ++seen;
      } else if (pc.program().id() == kDemoRateChangeProgramId) {
        EXPECT_GT(pc.cells_size(), 0);
        // The deciding document is the 2026-06-01 one.
        for (const v1::RateDocument& d : catalog.rate_documents) {
          if (d.id() == pc.rate_document_id()) {
            EXPECT_EQ(d.date(), "2026-06-01");
          }
        }
        ++seen;
      } else {
        EXPECT_GT(pc.cells_size(), 0) << pc.program().name();
      }
    }
  }
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(ConditionsAsOf(absl::CivilDay(2026, 9, 1), catalog)[6].pti_coefficient(), "0.8");  // Сбербанк
  EXPECT_EQ(ConditionsAsOf(absl::CivilDay(2026, 9, 1), catalog)[3].pti_coefficient(), "");     // Слово Банк
}

TEST(ResolveReferenceTest, LatestDocumentWinsAndArchivedAreSkipped) {
  Catalog c;
  v1::Bank& b = c.banks.emplace_back();
  b.set_id("b1");
  b.set_name("Банк");
  v1::Bank& archived = c.banks.emplace_back();
  archived.set_id("b2");
  archived.set_archived(true);
  v1::Program& p = c.programs.emplace_back();
  p.set_id("p1");
  p.set_bank_id("b1");
  p.set_kind(v1::PROGRAM_KIND_CLASSIC);
  for (const char* code : {"S1", "S2"}) {
    v1::Scheme* s = p.add_schemes();
    s->set_code(code);
    s->set_valid_from("2026-01-01");
  }
  v1::Program& gone = c.programs.emplace_back();  // (p is not used past this point: the vector grew)
  gone.set_id("p2");
  gone.set_bank_id("b2");
  gone.set_kind(v1::PROGRAM_KIND_CLASSIC);
  auto doc = [&](const char* number, const char* date, const char* scheme, const char* rate, int64_t reg,
                 v1::Operation op = v1::OPERATION_SET) {
    v1::RateDocument& d = c.rate_documents.emplace_back();
    d.set_id(absl::StrCat("d", number));
    d.set_number(number);
    d.set_date(date);
    d.set_operation(op);
    d.set_program_id("p1");
    d.set_scheme_code(scheme);
    d.mutable_register_time()->set_seconds(reg);
    if (op == v1::OPERATION_SET) d.add_cells()->set_rate(rate);
  };
  doc("1", "2026-01-01", "S1", "0.2", 100);
  doc("2", "2026-02-01", "S1", "0.19", 100);
  doc("3", "2026-02-01", "S1", "0.18", 50);   // same day, registered earlier: loses to number 2
  doc("4", "2026-03-01", "S2", "0.17", 100);  // another scheme, later document: wins from March
  doc("5", "2026-04-01", "S2", "", 100, v1::OPERATION_CANCEL);  // S2 cancelled: S1 again
  auto rate_on = [&](absl::CivilDay d) -> std::string {
    auto ref = ResolveReference(d, c);
    if (!ref.ok()) return std::string(ref.status().message());
    EXPECT_EQ(ref->banks.size(), 1u);
    const ProgramTerms& t = ref->banks[0].programs.at(0);
    return t.cells.empty() ? "none" : absl::StrCat(FormatRate(t.cells[0].rate), "/", t.scheme_code, "/",
                                                   t.rate_document_id);
  };
  EXPECT_EQ(rate_on(absl::CivilDay(2025, 12, 31)), "none");
  EXPECT_EQ(rate_on(absl::CivilDay(2026, 1, 15)), "0.2/S1/d1");
  EXPECT_EQ(rate_on(absl::CivilDay(2026, 2, 1)), "0.19/S1/d2");
  EXPECT_EQ(rate_on(absl::CivilDay(2026, 3, 1)), "0.17/S2/d4");
  EXPECT_EQ(rate_on(absl::CivilDay(2026, 4, 2)), "0.19/S1/d2");
  // A cancelled scheme applies to no date.
  c.programs[0].mutable_schemes(0)->set_cancelled(true);
  EXPECT_EQ(rate_on(absl::CivilDay(2026, 4, 2)), "none");
  // A bad rate in force names the document and cell.
  c.programs[0].mutable_schemes(0)->set_cancelled(false);
  c.rate_documents[1].mutable_cells(0)->set_rate("19%");
  auto bad = ResolveReference(absl::CivilDay(2026, 2, 15), c);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("rate_documents[1].cells[0].rate"));
}

// The summary's payment is BuildSchedule's regular payment, and its ПСК within 0.05 p.p. of the
// schedule's; with a schedule asked for, the offer's figures are the schedule's.
TEST(MultiCalculateTest, SummaryMatchesTheFullSchedule) {
  const Reference ref = Demo(absl::CivilDay(2026, 7, 1));
  Purchase p = DemoPurchase();
  p.down_payment = 6'000'000 * kRub;  // every grid but the consumer loans has a rate
  for (int term : {120, 300, 360}) {
    p.term_months = term;
    const MultiCalcResult summary = Calc(ref, DemoClient(), p);
    MultiCalcOptions all;
    all.schedules_for = {"*"};
    const MultiCalcResult full = Calc(ref, DemoClient(), p, all);
    int compared = 0;
    for (const Offer& s : summary.offers) {
      const Offer* f = Find(full, s.program->id);
      ASSERT_NE(f, nullptr);
      if (!s.rate) {
        EXPECT_FALSE(f->schedule.has_value());
        continue;
      }
      ASSERT_TRUE(f->schedule.has_value()) << s.program->name;
      const Schedule& sch = *f->schedule;
      EXPECT_EQ(sch.rows.back().balance_after, 0);
      EXPECT_EQ(f->payment, sch.regular_payment);
      EXPECT_EQ(f->psk, sch.psk_percent);
      EXPECT_EQ(f->overpayment, sch.overpayment);
      EXPECT_EQ(s.payment, sch.regular_payment) << s.bank->name << " / " << s.program->name << " term " << term;
      // 1/12 accrual: within 0.05 p.p.; actual days: see multicalc.cc (long months' interest above the
      // annuity closes the loan early in the schedule).
      const bool monthly = s.bank->profile.accrual == ConventionProfile::Accrual::kMonthly;
      EXPECT_NEAR(PskValue(s.psk), PskValue(sch.psk_percent), monthly ? 0.05 : 0.3)
          << s.bank->name << " / " << s.program->name;
      // Overpayment: the last payment's residual and per-month interest rounding only (1/12 accrual).
      if (s.bank->profile.accrual == ConventionProfile::Accrual::kMonthly) {
        EXPECT_NEAR(static_cast<double>(s.overpayment), static_cast<double>(sch.overpayment), 100.0 * term)
            << s.bank->name << " / " << s.program->name;
      }
      ++compared;
    }
    EXPECT_GT(compared, 200);
    EXPECT_EQ(full.eligible_count, summary.eligible_count);
  }
  // Schedules only for the programs asked for.
  MultiCalcOptions one;
  one.schedules_for = {kDemoRateChangeProgramId};
  const MultiCalcResult r = Calc(ref, DemoClient(), p, one);
  for (const Offer& o : r.offers) {
    EXPECT_EQ(o.schedule.has_value(), o.program->id == kDemoRateChangeProgramId);
  }
}

TEST(MultiCalculateTest, DifferentiatedSummaryMatchesTheSchedule) {
  const Reference ref = Demo(absl::CivilDay(2026, 7, 1));
  Purchase p = DemoPurchase();
  p.down_payment = 6'000'000 * kRub;
  p.term_months = 240;
  MultiCalcOptions diff;
  diff.kind = LoanRequest::Kind::kDifferentiated;
  const MultiCalcResult summary = Calc(ref, DemoClient(), p, diff);
  diff.schedules_for = {"*"};
  const MultiCalcResult full = Calc(ref, DemoClient(), p, diff);
  int compared = 0;
  for (const Offer& s : summary.offers) {
    if (!s.rate) continue;
    const Offer* f = Find(full, s.program->id);
    ASSERT_TRUE(f->schedule.has_value());
    EXPECT_EQ(s.payment, f->schedule->regular_payment) << s.bank->name << " / " << s.program->name;
    EXPECT_EQ(s.payment_after, 0);
    const bool monthly = s.bank->profile.accrual == ConventionProfile::Accrual::kMonthly;
    EXPECT_NEAR(PskValue(s.psk), PskValue(f->psk), monthly ? 0.05 : 0.3) << s.bank->name << " / " << s.program->name;
    // The first payment of a differentiated loan is its largest.
    EXPECT_GE(f->schedule->rows[1].payment, f->schedule->rows.back().payment);
    ++compared;
  }
  EXPECT_GT(compared, 200);
}

TEST(MultiCalculateTest, SummaryPaymentEqualsBuildScheduleUnderMonthlyProfiles) {
  // Direct: the same loan through BuildSchedule with the bank's profile.
  const Reference ref = Demo(absl::CivilDay(2026, 7, 1));
  const MultiCalcResult r = Calc(ref, DemoClient(), DemoPurchase());
  int compared = 0;
  for (const Offer& o : r.offers) {
    if (!o.rate || o.program->kind == ProgramKind::kSubsidised || o.program->kind == ProgramKind::kFamily) continue;
    LoanRequest req;
    req.principal_kopecks = o.loan;
    req.annual_rate = *o.rate;
    req.term_months = DemoPurchase().term_months;
    req.issue_date = ref.as_of;
    req.profile = o.bank->profile;
    req.profile.shift_payment_dates = false;
    auto s = BuildSchedule(req, nullptr);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(o.payment, s->regular_payment) << o.bank->name << " / " << o.program->name;
    ++compared;
  }
  EXPECT_GT(compared, 100);
}

TEST(MultiCalculateTest, PtiRiskFlag) {
  const Reference ref = Demo(absl::CivilDay(2026, 7, 1));
  const std::string classic = kDemoRateChangeProgramId;
  Client c = DemoClient();
  Purchase p = DemoPurchase();
  const int64_t payment = Find(Calc(ref, c, p), classic)->payment;
  // Down payment 25 %, PTI 60 %: no flag; PTI 85 %: flag.
  c.monthly_income = payment * 100 / 60;
  EXPECT_FALSE(Find(Calc(ref, c, p), classic)->pti_risk);
  c.monthly_income = payment * 100 / 85;
  const MultiCalcResult high_result = Calc(ref, c, p);
  const Offer* high = Find(high_result, classic);
  EXPECT_TRUE(high->pti_risk);
  EXPECT_THAT(high->pti_risk_text, HasSubstr("МПЛ"));
  EXPECT_THAT(high->pti_risk_text, HasSubstr("> 80 %"));
  // Military: never flagged, whatever the PTI.
  for (const Offer& o : Calc(ref, c, p).offers) {
    if (o.program->kind == ProgramKind::kMilitary) {
      EXPECT_FALSE(o.pti_risk);
    }
  }
  // Down payment under 20 %: PTI 60 % is flagged, 45 % is not (the small reference's grid takes 10 %).
  const Reference small = Small();
  Purchase low{.type = ObjectType::kNewBuild, .price = 5'000'000 * kRub, .down_payment = 750'000 * kRub,
               .term_months = 240, .region = 66};
  Client d = DemoClient();
  const int64_t pay = Find(Calc(small, d, low), "prog-a")->payment;
  d.monthly_income = pay * 100 / 60;
  const MultiCalcResult flagged_result = Calc(small, d, low);
  const Offer* flagged = Find(flagged_result, "prog-a");
  EXPECT_TRUE(flagged->pti_risk);
  EXPECT_THAT(flagged->pti_risk_text, HasSubstr("при взносе менее 20 %"));
  d.monthly_income = pay * 100 / 45;
  EXPECT_FALSE(Find(Calc(small, d, low), "prog-a")->pti_risk);
  // The same PTI 60 % with 20 % down: not flagged.
  low.down_payment = 1'000'000 * kRub;
  d.monthly_income = Find(Calc(small, d, low), "prog-a")->payment * 100 / 60;
  EXPECT_FALSE(Find(Calc(small, d, low), "prog-a")->pti_risk);
}

TEST(MultiCalculateTest, FamilySplitTrancheByRegion) {
  const Reference ref = Demo(absl::CivilDay(2026, 7, 1));
  Client c = DemoClient();
  c.monthly_income = 1'000'000 * kRub;
  for (const auto& [region, limit] : std::vector<std::pair<int, int64_t>>{{50, 12'000'000 * kRub}, {66, 6'000'000 * kRub}}) {
    Purchase p{.type = ObjectType::kNewBuild, .price = 20'000'000 * kRub, .down_payment = 5'000'000 * kRub,
               .term_months = 300, .region = region};
    MultiCalcOptions all;
    all.schedules_for = {"*"};
    const MultiCalcResult summary = Calc(ref, c, p);
    const MultiCalcResult full = Calc(ref, c, p, all);
    int families = 0;
    for (const Offer& o : summary.offers) {
      if (o.program->kind != ProgramKind::kFamily) continue;
      ASSERT_TRUE(o.rate.has_value());
      EXPECT_EQ(o.rate->e8, 6'000'000);
      const int64_t loan = o.loan;
      const int amort = p.term_months - (o.bank->profile.interest_only_first_period ? 1 : 0);
      const int64_t expected = AnnuityPayment(limit, *o.rate, amort, o.bank->profile.payment_rounding) +
                               AnnuityPayment(loan - limit, o.program->family.market_rate, amort,
                                              o.bank->profile.payment_rounding);
      EXPECT_EQ(o.payment, expected) << o.bank->name;
      if (o.bank->profile.payment_rounding == ConventionProfile::Rounding::kHalfUp &&
          !o.bank->profile.interest_only_first_period) {
        auto split = FamilySplit(loan, *o.rate, o.program->family.market_rate, limit, p.term_months);
        ASSERT_TRUE(split.ok());
        EXPECT_EQ(o.payment, split->payment);
      }
      const Offer* f = Find(full, o.program->id);
      ASSERT_TRUE(f->schedule.has_value());
      EXPECT_EQ(f->schedule->regular_payment, o.payment);
      EXPECT_EQ(f->schedule->rows.back().balance_after, 0);
      EXPECT_EQ(f->schedule->total_principal, loan);
      const bool monthly = o.bank->profile.accrual == ConventionProfile::Accrual::kMonthly;
      EXPECT_NEAR(PskValue(o.psk), PskValue(f->psk), monthly ? 0.05 : 0.3) << o.bank->name;
      // Blended: above 6 %, below the market rate.
      EXPECT_GT(PskValue(o.psk), 6.0);
      ++families;
    }
    EXPECT_EQ(families, 25);
  }
}

TEST(MultiCalculateTest, SubsidisedPaymentsAndDeveloperCost) {
  const Reference ref = Demo(absl::CivilDay(2026, 7, 1));
  MultiCalcOptions all;
  all.schedules_for = {"*"};
  const MultiCalcResult r = Calc(ref, DemoClient(), DemoPurchase(), all);
  int seen = 0;
  for (const Offer& o : r.offers) {
    if (o.program->kind != ProgramKind::kSubsidised) continue;
    ASSERT_TRUE(o.rate.has_value());
    EXPECT_EQ(o.rate->e8, 5'000'000);
    EXPECT_LT(o.payment, o.payment_after);
    EXPECT_GT(o.subsidy_cost, 0);
    const int m = o.program->subsidy.months;
    ASSERT_TRUE(o.schedule.has_value());
    const Schedule& s = *o.schedule;
    EXPECT_EQ(s.rows[m - 1].payment, o.payment) << o.bank->name;
    // From month m + 1 the rate after applies (with actual days a long month may charge more than it).
    if (o.bank->profile.accrual == ConventionProfile::Accrual::kMonthly) {
      EXPECT_EQ(s.rows[m].payment, o.payment_after) << o.bank->name;
    } else {
      EXPECT_GE(s.rows[m].payment, o.payment_after) << o.bank->name;
    }
    EXPECT_EQ(s.rows.back().balance_after, 0);
    EXPECT_EQ(s.total_principal, o.loan);
    ++seen;
  }
  EXPECT_EQ(seen, 25);
}

TEST(MultiCalculateTest, MilitaryMortgage) {
  const Reference ref = Demo(absl::CivilDay(2026, 7, 1));
  Client c = DemoClient();
  c.employment = Employment::kMilitary;
  c.nis_years = 5;
  c.age = 30;
  c.monthly_income = 20'000 * kRub;  // the state pays: income is not checked
  Purchase p = DemoPurchase();
  p.region = 66;
  const MultiCalcResult r = Calc(ref, c, p);
  int seen = 0;
  for (const Offer& o : r.offers) {
    if (o.program->kind != ProgramKind::kMilitary) continue;
    EXPECT_EQ(FindReason(o, "MILITARY_NIS"), nullptr);
    EXPECT_EQ(FindReason(o, "INCOME_TOO_LOW"), nullptr);
    EXPECT_EQ(o.required_income, 0);
    EXPECT_FALSE(o.pti_risk);
    const Reason* limit = FindReason(o, "MILITARY_LOAN_LIMIT");
    ASSERT_NE(limit, nullptr) << o.bank->name;  // 9 M is more than 15 years of contributions carry
    MilitaryRequest mr;
    mr.rate = *o.rate;
    mr.age = 30;
    mr.issue_date = ref.as_of;
    auto m = Military(mr);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(limit->fix_down_payment_add, (p.price - p.down_payment - m->max_loan + 99) / 100 * 100);
    ++seen;
  }
  EXPECT_EQ(seen, 25);
  // A hired client fails the requirement.
  const Offer* hired = nullptr;
  const MultiCalcResult h = Calc(ref, DemoClient(), p);
  for (const Offer& o : h.offers) {
    if (o.program->kind == ProgramKind::kMilitary) hired = &o;
  }
  ASSERT_NE(hired, nullptr);
  EXPECT_NE(FindReason(*hired, "MILITARY_NIS"), nullptr);
}

TEST(MultiCalculateTest, BadInputNamesTheField) {
  const Reference ref = Demo(absl::CivilDay(2026, 7, 1));
  auto field_of = [&](Client c, Purchase p) {
    auto r = MultiCalculate(ref, c, p, {});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(r.status().message());
  };
  Client c = DemoClient();
  Purchase p = DemoPurchase();
  c.age = 17;
  EXPECT_THAT(field_of(c, p), HasSubstr("profile.age"));
  c = DemoClient();
  c.monthly_income = -1;
  EXPECT_THAT(field_of(c, p), HasSubstr("profile.monthly_income"));
  c = DemoClient();
  c.children_ages = {3, -1};
  EXPECT_THAT(field_of(c, p), HasSubstr("profile.children_ages[1]"));
  c = DemoClient();
  p.price = 0;
  EXPECT_THAT(field_of(c, p), HasSubstr("property.price"));
  p = DemoPurchase();
  p.down_payment = p.price;
  EXPECT_THAT(field_of(c, p), HasSubstr("property.down_payment"));
  p = DemoPurchase();
  p.term_months = 601;
  EXPECT_THAT(field_of(c, p), HasSubstr("property.term_months"));
  p = DemoPurchase();
  p.type = static_cast<ObjectType>(0);
  EXPECT_THAT(field_of(c, p), HasSubstr("property.type"));

  v1::ClientProfile profile;
  profile.set_age(95);
  EXPECT_THAT(std::string(ClientFromProto(profile).status().message()), HasSubstr("profile.age"));
  profile.set_age(30);
  profile.set_employment(static_cast<v1::Employment>(42));
  EXPECT_THAT(std::string(ClientFromProto(profile).status().message()), HasSubstr("profile.employment"));
  profile.set_employment(v1::EMPLOYMENT_UNSPECIFIED);
  auto ok = ClientFromProto(profile);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->employment, Employment::kHired);
  v1::Property prop;
  prop.set_type(v1::OBJECT_TYPE_SECONDARY);
  prop.set_price(1000);
  prop.set_down_payment(-5);
  prop.set_term_months(12);
  EXPECT_THAT(std::string(PurchaseFromProto(prop).status().message()), HasSubstr("property.down_payment"));
  prop.set_down_payment(0);
  prop.set_type(v1::OBJECT_TYPE_UNSPECIFIED);
  EXPECT_THAT(std::string(PurchaseFromProto(prop).status().message()), HasSubstr("property.type"));
  prop.set_type(v1::OBJECT_TYPE_SECONDARY);
  prop.set_term_months(0);
  EXPECT_THAT(std::string(PurchaseFromProto(prop).status().message()), HasSubstr("property.term_months"));
  prop.set_term_months(12);
  EXPECT_TRUE(PurchaseFromProto(prop).ok());
}

TEST(ConvertTest, OfferAndScheduleToProto) {
  const Reference ref = Demo(absl::CivilDay(2026, 7, 1));
  MultiCalcOptions one;
  one.schedules_for = {kDemoRateChangeProgramId};
  const MultiCalcResult r = Calc(ref, DemoClient(), DemoPurchase(), one);
  const Offer* o = Find(r, kDemoRateChangeProgramId);
  v1::Offer out;
  OfferToProto(*o, &out);
  EXPECT_EQ(out.bank_name(), "Сбербанк");
  EXPECT_EQ(out.program_id(), kDemoRateChangeProgramId);
  EXPECT_EQ(out.kind(), v1::PROGRAM_KIND_CLASSIC);
  EXPECT_EQ(out.rate(), FormatRate(*o->rate));
  EXPECT_EQ(out.payment(), o->payment);
  EXPECT_EQ(out.psk(), o->psk);
  EXPECT_FALSE(out.rate_document_id().empty());
  EXPECT_EQ(out.schedule().rows_size(), static_cast<int>(o->schedule->rows.size()));
  EXPECT_EQ(out.schedule().rows(0).date(), "2026-08-01");
  EXPECT_EQ(out.schedule().last_payment(), o->schedule->rows.back().payment);
  EXPECT_EQ(out.schedule().months(), 300);
  // Сбербанк's profile: interest-only first period, 1 000 ₽ step.
  EXPECT_TRUE(o->bank->profile.interest_only_first_period);
  EXPECT_EQ(o->schedule->rows[0].principal, 0);
  EXPECT_EQ(o->loan % 100'000, 0);
}

TEST(DemoTest, IdsAreValidAndStable) {
  const Catalog a = DemoCatalog();
  const Catalog b = DemoCatalog();
  ASSERT_EQ(a.banks.size(), 25u);
  ASSERT_EQ(a.programs.size(), 250u);
  std::set<std::string> codes, ids;
  auto uuid = [](const std::string& s) {
    if (s.size() != 36) return false;
    for (size_t k = 0; k < s.size(); ++k) {
      const bool dash = k == 8 || k == 13 || k == 18 || k == 23;
      if (dash != (s[k] == '-')) return false;
      if (!dash && !std::isxdigit(static_cast<unsigned char>(s[k]))) return false;
    }
    return true;
  };
  for (size_t k = 0; k < a.banks.size(); ++k) {
    EXPECT_EQ(a.banks[k].id(), b.banks[k].id());
    EXPECT_TRUE(uuid(a.banks[k].id())) << a.banks[k].id();
    codes.insert(a.banks[k].code());
    ids.insert(a.banks[k].id());
  }
  for (const v1::Program& p : a.programs) {
    EXPECT_TRUE(uuid(p.id())) << p.id();
    ids.insert(p.id());
  }
  for (const v1::RateDocument& d : a.rate_documents) EXPECT_TRUE(uuid(d.id())) << d.id();
  EXPECT_EQ(codes.size(), 25u);
  EXPECT_EQ(ids.size(), 275u);
  EXPECT_EQ(a.banks[6].code(), "00000014");
  EXPECT_EQ(a.banks[6].id(), DemoBankId("00000014"));
  EXPECT_EQ(a.pti_documents.size(), 1u);
}

}  // namespace
}  // namespace crm::mortgage

namespace crm::mortgage {
namespace {

std::vector<std::string> FieldsOf(const absl::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& f : FieldViolations(s)) out.push_back(f.field);
  return out;
}

// Issue 16: a profile and a property with several bad fields are refused with every one named at once.
TEST(ValidateInputTest, EveryBadFieldIsNamedAtOnce) {
  v1::ClientProfile profile;
  profile.set_age(12);
  profile.set_employment(static_cast<v1::Employment>(42));
  profile.add_children_ages(70);
  const absl::Status client = ClientFromProto(profile).status();
  EXPECT_EQ(client.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldsOf(client),
            (std::vector<std::string>{"profile.employment", "profile.age", "profile.children_ages[0]"}));
  EXPECT_THAT(std::string(client.message()), ::testing::HasSubstr("(and 2 more)"));

  v1::Property property;
  property.set_price(0);
  property.set_down_payment(-5);
  property.set_term_months(601);
  property.set_region(1000);
  EXPECT_EQ(FieldsOf(PurchaseFromProto(property).status()),
            (std::vector<std::string>{"property.type", "property.price", "property.down_payment",
                                      "property.term_months", "property.region"}));
}

}  // namespace
}  // namespace crm::mortgage
