#include "services/mortgage/demo.h"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crm::mortgage {

const char kDemoRateChangeProgramId[] = "01910000-0000-7000-8000-000000000039";
const char kDemoCancelledProgramId[] = "01910000-0000-7000-8000-000000002706";

namespace {

constexpr int64_t kRub = 100;  // kopecks

struct DemoBank {
  const char* code;
  const char* name;
  const char* legal_name;
};

// Seed 004 §5.2.2, in the seed's order.
constexpr DemoBank kBanks[] = {
    {"00000026", "Уралсиб", "ПАО «БАНК УРАЛСИБ»"},
    {"00000018", "Транскапиталбанк", "ПАО «Транскапиталбанк»"},
    {"00000030", "Сургутнефтегазбанк", "АО БАНК «СНГБ»"},
    {"00000029", "Слово Банк", "АО «Банк «Слово»"},
    {"00000022", "СМП Банк", "АО «СМП Банк»"},
    {"00000052", "Связь-Банк", "АКБ «Связь-Банк» (АО)"},
    {"00000014", "Сбербанк", "ПАО Сбербанк"},
    {"00000048", "Россельхозбанк", "АО «Россельхозбанк»"},
    {"00000032", "РОСБАНК Дом", "ПАО РОСБАНК"},
    {"00000019", "Райффайзенбанк", "АО «Райффайзенбанк»"},
    {"00000182", "Промсвязьбанк", "ПАО «Промсвязьбанк»"},
    {"00000020", "Открытие", "ПАО Банк «ФК Открытие»"},
    {"00000177", "МНБ", "АО «Московский Народный Банк»"},
    {"00000017", "Магистраль Банк", "АО «Магистраль Банк»"},
    {"00000049", "Локо-Банк", "АО КБ «ЛОКО-Банк»"},  // the seed repeats 00000048; codes are unique
    {"00000023", "Глобэкс", "АО КБ «Глобэкс»"},
    {"00000139", "Газпромбанк", "Банк ГПБ (АО)"},
    {"00000015", "ВТБ", "Банк ВТБ (ПАО)"},
    {"00000016", "Возрождение", "ПАО Банк «Возрождение»"},
    {"00000187", "Банк «Санкт-Петербург»", "ПАО «Банк «Санкт-Петербург»"},
    {"00000060", "Банк «Россия»", "АО «АБ «РОССИЯ»"},
    {"00000153", "Банк Зенит", "ПАО Банк ЗЕНИТ"},
    {"00000072", "Банк ДОМ.РФ", "АО «Банк ДОМ.РФ»"},
    {"00000069", "Альфа-Банк", "АО «АЛЬФА-БАНК»"},
    {"00000055", "Абсолют Банк", "АКБ «Абсолют Банк» (ПАО)"},
};
constexpr int kSber = 6, kVtb = 17;

// The ten programs of every bank.
enum Kind { kClassicNew = 1, kClassicReady, kFamilyP, kItP, kMilitaryP, kSubsidisedP, kTwoDocs, kConsumerP,
            kFarEastP, kHouseP };

// Сбербанк's codes come from the seed (§5.2.2); the rest are numbered per bank.
std::string ProgramCode(int bank, int kind) {
  if (bank == kSber) {
    static constexpr const char* kSberCodes[] = {"", "000000039", "000000109", "000000123", "000000162",
                                                 "000000152", "000000193", "000000003", "000000202",
                                                 "000000201", "000000045"};
    return kSberCodes[kind];
  }
  if (bank == 14 && kind == kConsumerP) return "000000049";  // seed: ЛОКО-Банк's «Потребительский кредит»
  return absl::StrFormat("%09d", (bank + 10) * 100 + kind);
}

std::string ProgramId(const std::string& code) { return absl::StrCat("01910000-0000-7000-8000-000", code); }

v1::Predicate P(v1::Parameter param, std::optional<int64_t> min, std::optional<int64_t> max,
                std::initializer_list<int64_t> one_of = {}) {
  v1::Predicate p;
  p.set_parameter(param);
  if (min) p.set_min(*min);
  if (max) p.set_max(*max);
  for (int64_t v : one_of) p.add_one_of(v);
  return p;
}

std::string RateText(int64_t e8) { return FormatRate(Rate{e8}); }

constexpr int64_t Pct(double percent) { return static_cast<int64_t>(percent * 1'000'000 + 0.5); }  // -> e8

void AddCell(v1::RateDocument& d, int64_t rate_e8, std::initializer_list<v1::Predicate> when) {
  v1::RateCell* c = d.add_cells();
  for (const v1::Predicate& p : when) *c->add_when() = p;
  c->set_rate(RateText(rate_e8));
}

void AddAdjustment(v1::RateDocument& d, const char* code, const char* text, v1::Predicate when, const char* delta) {
  v1::RateAdjustment* a = d.add_adjustments();
  a->set_code(code);
  a->set_text(text);
  *a->add_when() = when;
  a->set_delta(delta);
}

void Require(v1::Program& p, const char* code, const char* text,
                 std::initializer_list<std::initializer_list<v1::Predicate>> any_of) {
  v1::Requirement* r = p.add_requirements();
  r->set_code(code);
  r->set_text(text);
  for (const auto& alt : any_of) {
    v1::Requirement::Alternative* a = r->add_any_of();
    for (const v1::Predicate& q : alt) *a->add_all_of() = q;
  }
}

void Stop(v1::StopFactorDocument& d, const char* code, const char* text, v1::Parameter param,
          std::optional<int64_t> min, std::optional<int64_t> max) {
  v1::StopFactor* f = d.add_factors();
  f->set_code(code);
  f->set_text(text);
  f->set_parameter(param);
  if (min) f->set_min(*min);
  if (max) f->set_max(*max);
}

void Registered(google::protobuf::Timestamp* ts, int64_t unix_seconds) { ts->set_seconds(unix_seconds); }

constexpr int64_t k20260101 = 1767225600;  // 2026-01-01T00:00:00Z

}  // namespace

std::string DemoBankId(const std::string& code) { return absl::StrCat("01900000-0000-7000-8000-0000", code); }

Catalog DemoCatalog() {
  Catalog c;
  int doc_number = 80004586;  // continues the seed's «Условия применения ставок» numbering
  auto rate_doc = [&](const v1::Program& p, const std::string& scheme_code, const char* date, int64_t registered,
                      v1::Operation op) -> v1::RateDocument& {
    v1::RateDocument& d = c.rate_documents.emplace_back();
    d.set_number(absl::StrCat(doc_number));
    d.set_id(absl::StrFormat("01920000-0000-7000-8000-%012d", doc_number));
    ++doc_number;
    d.set_date(date);
    d.set_operation(op);
    d.set_bank_id(p.bank_id());
    d.set_program_id(p.id());
    d.set_scheme_code(scheme_code);
    d.set_comment("ИП Банки");
    Registered(d.mutable_register_time(), registered);
    d.set_registered_by("demo");
    return d;
  };

  v1::PtiDocument pti;
  pti.set_id("01930000-0000-7000-8000-000000000001");
  pti.set_number("000000001");
  pti.set_date("2026-01-01");
  Registered(pti.mutable_register_time(), k20260101);
  pti.set_registered_by("demo");

  const int n_banks = static_cast<int>(sizeof(kBanks) / sizeof(kBanks[0]));
  for (int b = 0; b < n_banks; ++b) {
    const DemoBank& db = kBanks[b];
    v1::Bank& bank = c.banks.emplace_back();
    bank.set_id(DemoBankId(db.code));
    bank.set_version(1);
    bank.set_code(db.code);
    bank.set_name(db.name);
    bank.set_legal_name(db.legal_name);
    bank.set_decision_days(2 + b % 4);
    bank.set_accredited(true);
    // «Шаг расчётный»: 1 000 ₽ at Сбербанк, 10 000 ₽ at ВТБ and Газпромбанк, 100 ₽ at a few, else exact.
    bank.set_calculation_step(b == kSber ? 1'000 * kRub : (b == kVtb || b == 16) ? 10'000 * kRub
                                                         : b % 5 == 0 ? 100 * kRub : 0);
    v1::ConventionProfile* prof = bank.mutable_profile();
    prof->set_accrual(b == kVtb || b == 16 || b == 22 || b == 23 || b == 11 ? v1::ConventionProfile::ACCRUAL_ACTUAL_DAYS
                                                                             : v1::ConventionProfile::ACCRUAL_MONTHLY);
    prof->set_interest_only_first_period(b == kSber);
    const bool truncate = b == 9;  // Райффайзенбанк
    prof->set_interest_rounding(truncate ? v1::ConventionProfile::ROUNDING_TRUNCATE
                                         : v1::ConventionProfile::ROUNDING_HALF_UP);
    prof->set_payment_rounding(truncate ? v1::ConventionProfile::ROUNDING_TRUNCATE
                                        : v1::ConventionProfile::ROUNDING_HALF_UP);
    prof->set_shift_payment_dates(b == 10);  // Промсвязьбанк: off weekends and holidays
    bank.add_application_emails(absl::StrCat("ipoteka@bank", db.code, ".example"));

    // PTI: 0.8 for most (as the seed's document), 0.7 or 0.6 for a few; Слово Банк has none.
    if (b != 3) {
      v1::PtiDocument::Entry* e = pti.add_entries();
      e->set_bank_id(bank.id());
      e->set_coefficient(b % 7 == 1 ? "0.7" : b % 7 == 4 ? "0.6" : "0.8");
    }

    // Stop factors (seed §5.2.7), with a few bank-specific variations.
    v1::StopFactorDocument& sf = c.stop_factor_documents.emplace_back();
    sf.set_id(absl::StrFormat("01940000-0000-7000-8000-%012d", 25 + b));
    sf.set_number(absl::StrFormat("%09d", 25 + b));
    sf.set_date("2026-01-01");
    sf.set_operation(v1::OPERATION_SET);
    sf.set_bank_id(bank.id());
    Registered(sf.mutable_register_time(), k20260101);
    sf.set_registered_by("demo");
    if (b == 9) {
      Stop(sf, "AGE_BELOW_21", "Возраст <21", v1::PARAMETER_AGE, std::nullopt, 20);
    } else {
      Stop(sf, "AGE_BELOW_20", "Возраст <20", v1::PARAMETER_AGE, std::nullopt, 19);
    }
    if (b == kSber || b == kVtb || b == 22 || b == 23 || b == 16) {
      Stop(sf, "AGE_AT_MATURITY_ABOVE_75", "Возраст на момент погашения >75", v1::PARAMETER_AGE_AT_MATURITY, 76,
           std::nullopt);
    } else if (b % 3 == 0) {
      Stop(sf, "AGE_AT_MATURITY_ABOVE_70", "Возраст на момент погашения >70", v1::PARAMETER_AGE_AT_MATURITY, 71,
           std::nullopt);
    } else {
      Stop(sf, "AGE_ABOVE_70", "Возраст >70", v1::PARAMETER_AGE, 71, std::nullopt);
    }
    Stop(sf, "LOAN_BELOW_100000", "Сумма кредита <100000", v1::PARAMETER_LOAN_AMOUNT, std::nullopt,
         100'000 * kRub - 1);
    Stop(sf, "EXPERIENCE_BELOW_1Y", "Общий трудовой стаж менее 1 года", v1::PARAMETER_TOTAL_EXPERIENCE_MONTHS,
         std::nullopt, 11);
    Stop(sf, "TERM_BELOW_1Y", "Срок кредита <1", v1::PARAMETER_TERM_MONTHS, std::nullopt, 11);
    if (b == 14) {
      Stop(sf, "TERM_ABOVE_25Y", "Срок кредита >25", v1::PARAMETER_TERM_MONTHS, 301, std::nullopt);
    } else {
      Stop(sf, "TERM_ABOVE_30Y", "Срок кредита >30", v1::PARAMETER_TERM_MONTHS, 361, std::nullopt);
    }
    Stop(sf, "CURRENT_JOB_0_2", "Стаж на текущем месте раб. (мес.) 0-2", v1::PARAMETER_CURRENT_JOB_MONTHS, 0, 2);
    if (b == 2) Stop(sf, "NOT_CITIZEN", "Нет гражданства РФ", v1::PARAMETER_CITIZENSHIP_RU, 0, 0);

    // Programs. The bank's market level: 20.5 %..23.0 % (the key rate era of 2026).
    const int64_t base = Pct(20.5) + Pct(0.5) * (b % 6);
    const int64_t military_rate = Pct(16.5) + Pct(1.0) * (b % 4);
    for (int kind = 1; kind <= 10; ++kind) {
      v1::Program& p = c.programs.emplace_back();
      const std::string code = ProgramCode(b, kind);
      p.set_id(ProgramId(code));
      p.set_version(1);
      p.set_bank_id(bank.id());
      p.set_code(code);
      p.set_one_time_fees((10'000 + 1'000 * (b % 5)) * kRub);
      p.set_yearly_insurance_rate(kind == kConsumerP ? "" : b % 2 == 0 ? "0.004" : "0.0035");
      v1::ProgramLimits* l = p.mutable_limits();
      l->set_max_age_at_maturity(75);
      l->set_max_term_months(360);
      v1::Scheme* scheme = p.add_schemes();
      scheme->set_id(absl::StrFormat("01950000-0000-7000-8000-000%s", code));
      scheme->set_code(absl::StrFormat("%09d", 1381 + b * 10 + kind));
      scheme->set_name("Основная схема");
      scheme->set_valid_from("2026-01-01");
      scheme->set_early_repayment_allowed(true);
      v1::RateDocument& d = rate_doc(p, scheme->code(), "2026-01-01", k20260101 + kind, v1::OPERATION_SET);
      const v1::Predicate proof = P(v1::PARAMETER_INCOME_PROOF, std::nullopt, 2);  // 2-НДФЛ or bank form
      auto classic_grid = [&](v1::RateDocument& doc, int64_t level, int64_t min_bp) {
        AddCell(doc, level - Pct(1.0), {P(v1::PARAMETER_DOWN_PAYMENT_SHARE, 5000, std::nullopt), proof});
        AddCell(doc, level - Pct(0.5), {P(v1::PARAMETER_DOWN_PAYMENT_SHARE, 3000, std::nullopt), proof});
        AddCell(doc, level, {P(v1::PARAMETER_DOWN_PAYMENT_SHARE, min_bp, std::nullopt), proof});
        AddCell(doc, level - Pct(0.3),
                {P(v1::PARAMETER_DOWN_PAYMENT_SHARE, min_bp, std::nullopt), P(v1::PARAMETER_TERM_MONTHS, 12, 120),
                 proof});
      };
      auto insurance_adjustment = [&](v1::RateDocument& doc) {
        AddAdjustment(doc, "NO_INSURANCE", "Отказ от страхования жизни и титула: +1 п.п.",
                      P(v1::PARAMETER_INSURANCE, std::nullopt, 0), "0.01");
      };
      auto salary_adjustment = [&](v1::RateDocument& doc) {
        if (b % 3 == 0) {
          AddAdjustment(doc, "SALARY_CLIENT", "Зарплатный клиент банка: −0.3 п.п.",
                        P(v1::PARAMETER_SALARY_CLIENT, 1, std::nullopt), "-0.003");
        }
      };
      switch (kind) {
        case kClassicNew:
          p.set_name("Квартира в новостройке. Классическая ипотека");
          p.set_site_name("Строящееся жилье");
          p.set_kind(v1::PROGRAM_KIND_CLASSIC);
          p.add_object_types(v1::OBJECT_TYPE_NEW_BUILD);
          l->set_min_down_payment_bp(2000);
          l->set_max_loan(100'000'000 * kRub);
          classic_grid(d, base, 2000);
          insurance_adjustment(d);
          salary_adjustment(d);
          if (b == kSber) {  // 2026-06-01: the rate goes down by 1 p.p.
            v1::RateDocument& later = rate_doc(p, scheme->code(), "2026-06-01", k20260101 + 151 * 86400, v1::OPERATION_SET);
            later.set_comment("Снижение ставки с 01.06.2026");
            classic_grid(later, base - Pct(1.0), 2000);
            insurance_adjustment(later);
          }
          break;
        case kClassicReady:
          p.set_name("Готовая квартира. Классическая ипотека");
          p.set_site_name("Готовое жилье");
          p.set_kind(v1::PROGRAM_KIND_CLASSIC);
          p.add_object_types(v1::OBJECT_TYPE_SECONDARY);
          l->set_min_down_payment_bp(2000);
          l->set_max_loan(100'000'000 * kRub);
          classic_grid(d, base + Pct(0.2), 2000);
          insurance_adjustment(d);
          salary_adjustment(d);
          break;
        case kFamilyP: {
          p.set_name("Квартира в новостройке. Семейная ипотека");
          p.set_site_name("Строящееся жилье");
          p.set_kind(v1::PROGRAM_KIND_FAMILY);
          p.add_object_types(v1::OBJECT_TYPE_NEW_BUILD);
          p.add_object_types(v1::OBJECT_TYPE_HOUSE);
          Require(p, "FAMILY_CHILD", "Ребёнок до 6 лет или ребёнок-инвалид",
                      {{P(v1::PARAMETER_YOUNGEST_CHILD_AGE, std::nullopt, 6)}, {P(v1::PARAMETER_DISABLED_CHILD, 1, 1)}});
          l->set_min_down_payment_bp(2010);
          l->set_max_loan(30'000'000 * kRub);
          v1::FamilySplit* f = p.mutable_family();
          f->set_limit(6'000'000 * kRub);
          f->set_capital_regions_limit(12'000'000 * kRub);
          for (int r : {77, 50, 78, 47}) f->add_capital_regions(r);
          f->set_market_rate(RateText(base));
          AddCell(d, Pct(6.0), {P(v1::PARAMETER_DOWN_PAYMENT_SHARE, 2010, std::nullopt), proof});
          insurance_adjustment(d);
          if (b == kSber) {  // an expired 2025 scheme with its own document: applies only before 2026
            v1::Scheme* old = p.add_schemes();
            old->set_id(absl::StrFormat("01950000-0000-7000-8000-100%s", code));
            old->set_code("000001300");
            old->set_name("Схема 2025");
            old->set_valid_from("2024-01-01");
            old->set_valid_to("2025-12-31");
            old->set_early_repayment_allowed(true);
            v1::RateDocument& od = rate_doc(p, old->code(), "2024-01-01", k20260101 - 730 * 86400, v1::OPERATION_SET);
            AddCell(od, Pct(6.0), {P(v1::PARAMETER_DOWN_PAYMENT_SHARE, 2010, std::nullopt)});
          }
          break;
        }
        case kItP:
          p.set_name("Квартира в новостройке. IT-ипотека");
          p.set_site_name("Строящееся жилье");
          p.set_kind(v1::PROGRAM_KIND_IT);
          p.add_object_types(v1::OBJECT_TYPE_NEW_BUILD);
          p.add_object_types(v1::OBJECT_TYPE_HOUSE);
          Require(p, "IT_ACCREDITED", "Работа в аккредитованной IT-компании",
                      {{P(v1::PARAMETER_IT_ACCREDITED, 1, 1)}});
          Require(p, "IT_AGE", "Возраст не старше 50 лет", {{P(v1::PARAMETER_AGE, std::nullopt, 50)}});
          l->set_min_down_payment_bp(2000);
          l->set_max_loan(9'000'000 * kRub);
          AddCell(d, Pct(6.0), {P(v1::PARAMETER_DOWN_PAYMENT_SHARE, 2000, std::nullopt), proof});
          insurance_adjustment(d);
          break;
        case kMilitaryP:
          p.set_name("Квартира в новостройке. Военная ипотека");
          p.set_site_name("Строящееся жилье");
          p.set_kind(v1::PROGRAM_KIND_MILITARY);
          p.add_object_types(v1::OBJECT_TYPE_NEW_BUILD);
          p.add_object_types(v1::OBJECT_TYPE_SECONDARY);
          Require(p, "MILITARY_NIS", "Военнослужащий — участник НИС не менее 3 лет",
                      {{P(v1::PARAMETER_EMPLOYMENT, std::nullopt, std::nullopt, {5}),
                        P(v1::PARAMETER_NIS_YEARS, 3, std::nullopt)}});
          l->set_min_down_payment_bp(1500);
          l->set_max_loan(6'500'000 * kRub);
          AddCell(d, military_rate, {P(v1::PARAMETER_DOWN_PAYMENT_SHARE, 1500, std::nullopt)});
          break;
        case kSubsidisedP:
          p.set_name("Квартира в новостройке. Субсидированная ставка");
          p.set_site_name("Строящееся жилье");
          p.set_kind(v1::PROGRAM_KIND_SUBSIDISED);
          p.add_object_types(v1::OBJECT_TYPE_NEW_BUILD);
          l->set_min_down_payment_bp(2000);
          l->set_max_loan(50'000'000 * kRub);
          p.mutable_subsidy()->set_months(12 + 12 * (b % 3));
          p.mutable_subsidy()->set_rate_after(RateText(base));
          AddCell(d, Pct(5.0), {P(v1::PARAMETER_DOWN_PAYMENT_SHARE, 2000, std::nullopt), proof});
          insurance_adjustment(d);
          if (b == kVtb) {  // 2026-09-01: the developer's programme ends
            v1::RateDocument& cancel = rate_doc(p, scheme->code(), "2026-09-01", k20260101 + 243 * 86400,
                                                v1::OPERATION_CANCEL);
            cancel.set_comment("Отмена субсидированной ставки застройщика с 01.09.2026");
          }
          break;
        case kTwoDocs: {
          p.set_name("Квартира в новостройке. 2 документа");
          p.set_site_name("Строящееся жилье");
          p.set_kind(v1::PROGRAM_KIND_TWO_DOCUMENTS);
          p.add_object_types(v1::OBJECT_TYPE_NEW_BUILD);
          p.add_object_types(v1::OBJECT_TYPE_SECONDARY);
          l->set_max_loan(30'000'000 * kRub);
          const int64_t min_bp = 3000 + 1000 * (b % 3);  // 30..50 %
          AddCell(d, base + Pct(0.5), {P(v1::PARAMETER_DOWN_PAYMENT_SHARE, 5000, std::nullopt)});
          AddCell(d, base + Pct(1.0), {P(v1::PARAMETER_DOWN_PAYMENT_SHARE, min_bp, std::nullopt)});
          insurance_adjustment(d);
          break;
        }
        case kConsumerP:
          p.set_name("Потребительский кредит");
          p.set_site_name("Потребительский кредит");
          p.set_kind(v1::PROGRAM_KIND_CONSUMER);
          l->set_max_loan(5'000'000 * kRub);
          l->set_max_term_months(84);
          AddCell(d, base + Pct(5.0), {P(v1::PARAMETER_TERM_MONTHS, 12, 84), proof});
          break;
        case kFarEastP:
          p.set_name("Дальневосточная и арктическая ипотека");
          p.set_site_name("Строящееся жилье");
          p.set_kind(v1::PROGRAM_KIND_FAR_EAST);
          p.add_object_types(v1::OBJECT_TYPE_NEW_BUILD);
          p.add_object_types(v1::OBJECT_TYPE_SECONDARY);
          p.add_object_types(v1::OBJECT_TYPE_HOUSE);
          Require(p, "FAR_EAST_AGE", "Возраст до 36 лет или трое детей",
                      {{P(v1::PARAMETER_AGE, std::nullopt, 35)}, {P(v1::PARAMETER_CHILDREN_UNDER_18, 3, std::nullopt)}});
          Require(p, "FAR_EAST_REGION", "Объект в ДФО или Арктической зоне",
                      {{P(v1::PARAMETER_REGION, std::nullopt, std::nullopt,
                          {3, 14, 25, 27, 28, 29, 41, 49, 51, 65, 75, 79, 83, 87})}});
          l->set_min_down_payment_bp(2000);
          l->set_max_loan(6'000'000 * kRub);
          AddCell(d, Pct(2.0), {P(v1::PARAMETER_DOWN_PAYMENT_SHARE, 2000, std::nullopt), proof});
          insurance_adjustment(d);
          break;
        case kHouseP:
          p.set_name("Загородная недвижимость");
          p.set_site_name("Загородная недвижимость");
          p.set_kind(v1::PROGRAM_KIND_CLASSIC);
          p.add_object_types(v1::OBJECT_TYPE_HOUSE);
          l->set_min_down_payment_bp(3000);
          l->set_max_loan(60'000'000 * kRub);
          classic_grid(d, base + Pct(1.0), 3000);
          insurance_adjustment(d);
          break;
      }
    }
  }
  c.pti_documents.push_back(std::move(pti));
  return c;
}

Client DemoClient() {
  Client c;
  c.age = 34;
  c.citizen_ru = true;
  c.employment = Employment::kHired;
  c.total_experience_months = 120;
  c.current_job_months = 36;
  c.monthly_income = 250'000 * kRub;
  c.income_proof = IncomeProof::kNdfl2;
  c.children_ages = {4};
  c.married = true;
  c.insurance = true;
  return c;
}

Purchase DemoPurchase() {
  return Purchase{.type = ObjectType::kNewBuild,
                  .price = 12'000'000 * kRub,
                  .down_payment = 3'000'000 * kRub,
                  .term_months = 300,
                  .region = 77};
}

}  // namespace crm::mortgage
