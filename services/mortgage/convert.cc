#include "services/mortgage/convert.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "services/mortgage/violations.h"

namespace crm::mortgage {
namespace {

absl::Status Invalid(std::string_view field, std::string_view what) {
  return InvalidFieldError(field, what);
}

// "YYYY-MM-DD" (anything after the 10th character, e.g. a time, is ignored).
std::optional<absl::CivilDay> ParseDay(std::string_view text) {
  if (text.size() < 10) return std::nullopt;
  absl::CivilDay d;
  if (!absl::ParseCivilTime(AsAbsl(text.substr(0, 10)), &d)) return std::nullopt;
  return d;
}

std::string FormatDay(absl::CivilDay d) { return absl::FormatCivilTime(d); }

// The order in which documents supersede each other: date, then registration, then number.
template <typename Doc>
bool Later(const Doc& a, absl::CivilDay a_day, const Doc& b, absl::CivilDay b_day) {
  auto key = [](const Doc& d, absl::CivilDay day) {
    return std::make_tuple(day, d.register_time().seconds(), d.register_time().nanos(), d.number().size(),
                           d.number());
  };
  return key(a, a_day) > key(b, b_day);
}

// A PTI coefficient in (0, 1]: "0.8", "1", "1.0".
absl::StatusOr<Rate> ParseCoefficient(std::string_view text, std::string_view field) {
  if (text == "1" || (text.size() > 2 && text.substr(0, 2) == "1." &&
                      text.find_first_not_of('0', 2) == std::string_view::npos)) {
    return Rate{100'000'000};
  }
  CRM_ASSIGN_OR_RETURN(Rate r, ParseRate(text, field));
  if (r.e8 <= 0) return Invalid(field, "must be in (0, 1]");
  return r;
}

// The selection of the documents in force, shared by ResolveReference and ConditionsAsOf (indexes into
// the catalogue; -1 = none).
struct ProgramSelection {
  int program = -1;
  std::vector<int> valid_schemes;
  int scheme = -1;         // the deciding scheme (with a SET document)
  int rate_document = -1;  // its SET document
};
struct BankSelection {
  int bank = -1;
  int stop_factor_document = -1;  // the latest, SET or CANCEL
  int pti_document = -1;
  int pti_entry = -1;
  std::vector<ProgramSelection> programs;
};

std::vector<BankSelection> Select(absl::CivilDay as_of, const Catalog& c) {
  std::vector<BankSelection> banks;
  std::map<std::string, size_t> bank_index;  // id -> position in `banks`
  for (size_t b = 0; b < c.banks.size(); ++b) {
    if (c.banks[b].archived()) continue;
    bank_index[c.banks[b].id()] = banks.size();
    banks.push_back(BankSelection{.bank = static_cast<int>(b)});
  }
  // Stop factors: the latest document per bank.
  std::vector<absl::CivilDay> sf_day(c.stop_factor_documents.size());
  for (size_t k = 0; k < c.stop_factor_documents.size(); ++k) {
    const v1::StopFactorDocument& d = c.stop_factor_documents[k];
    auto day = ParseDay(d.date());
    auto it = bank_index.find(d.bank_id());
    if (!day || *day > as_of || it == bank_index.end()) continue;
    sf_day[k] = *day;
    BankSelection& bs = banks[it->second];
    if (bs.stop_factor_document < 0 ||
        Later(d, *day, c.stop_factor_documents[bs.stop_factor_document], sf_day[bs.stop_factor_document])) {
      bs.stop_factor_document = static_cast<int>(k);
    }
  }
  // PTI: the latest document per bank that lists it.
  std::vector<absl::CivilDay> pti_day(c.pti_documents.size());
  for (size_t k = 0; k < c.pti_documents.size(); ++k) {
    const v1::PtiDocument& d = c.pti_documents[k];
    auto day = ParseDay(d.date());
    if (!day || *day > as_of) continue;
    pti_day[k] = *day;
    for (int e = 0; e < d.entries_size(); ++e) {
      auto it = bank_index.find(d.entries(e).bank_id());
      if (it == bank_index.end()) continue;
      BankSelection& bs = banks[it->second];
      if (bs.pti_document < 0 || Later(d, *day, c.pti_documents[bs.pti_document], pti_day[bs.pti_document]) ||
          bs.pti_document == static_cast<int>(k)) {
        bs.pti_document = static_cast<int>(k);
        bs.pti_entry = e;  // within one document the last entry for the bank wins
      }
    }
  }
  // Rate documents in force per (program, scheme code): the latest on or before as_of.
  std::map<std::pair<std::string, std::string>, int> latest_rate;
  std::vector<absl::CivilDay> rate_day(c.rate_documents.size());
  for (size_t k = 0; k < c.rate_documents.size(); ++k) {
    const v1::RateDocument& d = c.rate_documents[k];
    auto day = ParseDay(d.date());
    if (!day || *day > as_of) continue;
    rate_day[k] = *day;
    auto [it, inserted] = latest_rate.try_emplace({d.program_id(), d.scheme_code()}, static_cast<int>(k));
    if (!inserted && Later(d, *day, c.rate_documents[it->second], rate_day[it->second])) {
      it->second = static_cast<int>(k);
    }
  }
  for (size_t p = 0; p < c.programs.size(); ++p) {
    const v1::Program& prog = c.programs[p];
    auto it = bank_index.find(prog.bank_id());
    if (prog.archived() || it == bank_index.end()) continue;
    ProgramSelection ps{.program = static_cast<int>(p)};
    for (int s = 0; s < prog.schemes_size(); ++s) {
      const v1::Scheme& sc = prog.schemes(s);
      auto from = ParseDay(sc.valid_from());
      if (sc.cancelled() || !from || *from > as_of) continue;
      if (!sc.valid_to().empty()) {
        auto to = ParseDay(sc.valid_to());
        if (!to || *to < as_of) continue;
      }
      ps.valid_schemes.push_back(s);
      auto doc = latest_rate.find({prog.id(), sc.code()});
      if (doc == latest_rate.end()) continue;
      const v1::RateDocument& d = c.rate_documents[doc->second];
      if (d.operation() != v1::OPERATION_SET) continue;
      if (ps.rate_document < 0 ||
          Later(d, rate_day[doc->second], c.rate_documents[ps.rate_document], rate_day[ps.rate_document])) {
        ps.scheme = s;
        ps.rate_document = doc->second;
      }
    }
    banks[it->second].programs.push_back(std::move(ps));
  }
  return banks;
}

absl::StatusOr<Predicate> PredicateFromProto(const v1::Predicate& p, const std::string& field) {
  if (p.parameter() <= 0 || p.parameter() >= static_cast<int>(Param::kCount)) {
    return Invalid(field + ".parameter", "unknown parameter");
  }
  Predicate out;
  out.param = static_cast<Param>(p.parameter());
  if (p.has_min()) out.min = p.min();
  if (p.has_max()) out.max = p.max();
  out.one_of.assign(p.one_of().begin(), p.one_of().end());
  return out;
}

absl::StatusOr<std::vector<Predicate>> PredicatesFromProto(
    const google::protobuf::RepeatedPtrField<v1::Predicate>& ps, const std::string& field) {
  std::vector<Predicate> out;
  out.reserve(ps.size());
  for (int k = 0; k < ps.size(); ++k) {
    CRM_ASSIGN_OR_RETURN(Predicate p, PredicateFromProto(ps[k], absl::StrCat(field, "[", k, "]")));
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<Rate> ParseOptionalRate(std::string_view text, const std::string& field) {
  if (text.empty()) return Rate{};
  return ParseRate(text, field);
}

// A signed decimal ("-0.003") in e8.
absl::StatusOr<int64_t> ParseDelta(std::string_view text, const std::string& field) {
  bool negative = !text.empty() && text.front() == '-';
  if (negative || (!text.empty() && text.front() == '+')) text.remove_prefix(1);
  CRM_ASSIGN_OR_RETURN(Rate r, ParseRate(text, field));
  return negative ? -r.e8 : r.e8;
}

absl::StatusOr<ProgramTerms> ProgramFromProto(const Catalog& c, const ProgramSelection& ps) {
  const v1::Program& p = c.programs[ps.program];
  const std::string field = absl::StrCat("programs[", ps.program, "]");
  ProgramTerms t;
  t.id = p.id();
  t.code = p.code();
  t.name = p.name();
  if (p.kind() <= 0 || p.kind() > 9) return Invalid(field + ".kind", "unknown program kind");
  t.kind = static_cast<ProgramKind>(p.kind());
  for (int k = 0; k < p.object_types_size(); ++k) {
    int v = p.object_types(k);
    if (v < 1 || v > 5) return Invalid(absl::StrCat(field, ".object_types[", k, "]"), "unknown object type");
    t.object_types.push_back(static_cast<ObjectType>(v));
  }
  const v1::ProgramLimits& l = p.limits();
  t.limits = ProgramLimits{l.min_loan(), l.max_loan(), l.min_down_payment_bp(), l.max_down_payment_bp(),
                           l.min_term_months(), l.max_term_months(), l.max_age_at_maturity()};
  for (int k = 0; k < p.requirements_size(); ++k) {
    const v1::Requirement& r = p.requirements(k);
    Requirement req{.code = r.code(), .text = r.text()};
    for (int a = 0; a < r.any_of_size(); ++a) {
      CRM_ASSIGN_OR_RETURN(auto preds,
                           PredicatesFromProto(r.any_of(a).all_of(),
                                               absl::StrCat(field, ".requirements[", k, "].any_of[", a, "].all_of")));
      req.any_of.push_back(std::move(preds));
    }
    t.requirements.push_back(std::move(req));
  }
  if (t.kind == ProgramKind::kFamily) {
    t.family.limit = p.family().limit();
    t.family.capital_regions_limit = p.family().capital_regions_limit();
    t.family.capital_regions.assign(p.family().capital_regions().begin(), p.family().capital_regions().end());
    CRM_ASSIGN_OR_RETURN(t.family.market_rate, ParseOptionalRate(p.family().market_rate(), field + ".family.market_rate"));
  }
  if (t.kind == ProgramKind::kSubsidised) {
    t.subsidy.months = p.subsidy().months();
    CRM_ASSIGN_OR_RETURN(t.subsidy.rate_after, ParseOptionalRate(p.subsidy().rate_after(), field + ".subsidy.rate_after"));
  }
  t.one_time_fees = p.one_time_fees();
  CRM_ASSIGN_OR_RETURN(t.yearly_insurance_rate,
                       ParseOptionalRate(p.yearly_insurance_rate(), field + ".yearly_insurance_rate"));
  if (ps.scheme >= 0) {
    const v1::Scheme& sc = p.schemes(ps.scheme);
    t.scheme_code = sc.code();
    t.early_repayment_allowed = sc.early_repayment_allowed();
  } else if (!ps.valid_schemes.empty()) {
    t.early_repayment_allowed = p.schemes(ps.valid_schemes.front()).early_repayment_allowed();
  }
  if (ps.rate_document >= 0) {
    const v1::RateDocument& d = c.rate_documents[ps.rate_document];
    const std::string dfield = absl::StrCat("rate_documents[", ps.rate_document, "]");
    t.rate_document_id = d.id();
    for (int k = 0; k < d.cells_size(); ++k) {
      const std::string cfield = absl::StrCat(dfield, ".cells[", k, "]");
      RateCell cell;
      CRM_ASSIGN_OR_RETURN(cell.when, PredicatesFromProto(d.cells(k).when(), cfield + ".when"));
      CRM_ASSIGN_OR_RETURN(cell.rate, ParseRate(d.cells(k).rate(), cfield + ".rate"));
      t.cells.push_back(std::move(cell));
    }
    // Lowest rate first (ties in the document's order): the first matching cell is the one that wins.
    std::stable_sort(t.cells.begin(), t.cells.end(),
                     [](const RateCell& a, const RateCell& b) { return a.rate.e8 < b.rate.e8; });
    for (int k = 0; k < d.adjustments_size(); ++k) {
      const std::string afield = absl::StrCat(dfield, ".adjustments[", k, "]");
      const v1::RateAdjustment& a = d.adjustments(k);
      RateAdjustment adj{.code = a.code(), .text = a.text()};
      CRM_ASSIGN_OR_RETURN(adj.when, PredicatesFromProto(a.when(), afield + ".when"));
      CRM_ASSIGN_OR_RETURN(adj.delta_e8, ParseDelta(a.delta(), afield + ".delta"));
      t.adjustments.push_back(std::move(adj));
    }
  }
  return t;
}

}  // namespace

ConventionProfile ProfileFromProto(const v1::ConventionProfile& p) {
  ConventionProfile out;
  out.accrual = p.accrual() == v1::ConventionProfile::ACCRUAL_ACTUAL_DAYS ? ConventionProfile::Accrual::kActualDays
                                                                          : ConventionProfile::Accrual::kMonthly;
  out.interest_only_first_period = p.interest_only_first_period();
  out.interest_rounding = p.interest_rounding() == v1::ConventionProfile::ROUNDING_TRUNCATE
                              ? ConventionProfile::Rounding::kTruncate
                              : ConventionProfile::Rounding::kHalfUp;
  out.payment_rounding = p.payment_rounding() == v1::ConventionProfile::ROUNDING_TRUNCATE
                             ? ConventionProfile::Rounding::kTruncate
                             : ConventionProfile::Rounding::kHalfUp;
  out.shift_payment_dates = p.shift_payment_dates();
  return out;
}

void ProfileToProto(const ConventionProfile& p, v1::ConventionProfile* out) {
  out->set_accrual(p.accrual == ConventionProfile::Accrual::kActualDays ? v1::ConventionProfile::ACCRUAL_ACTUAL_DAYS
                                                                         : v1::ConventionProfile::ACCRUAL_MONTHLY);
  out->set_interest_only_first_period(p.interest_only_first_period);
  auto rounding = [](ConventionProfile::Rounding r) {
    return r == ConventionProfile::Rounding::kTruncate ? v1::ConventionProfile::ROUNDING_TRUNCATE
                                                       : v1::ConventionProfile::ROUNDING_HALF_UP;
  };
  out->set_interest_rounding(rounding(p.interest_rounding));
  out->set_payment_rounding(rounding(p.payment_rounding));
  out->set_shift_payment_dates(p.shift_payment_dates);
}

absl::StatusOr<Client> ClientFromProto(const v1::ClientProfile& p) {
  Violations v;  // issue 16: every bad field at once
  Client c;
  c.age = p.age();
  c.citizen_ru = p.citizen_ru();
  if (p.employment() < 0 || p.employment() > 6) v.Add("profile.employment", "unknown employment");
  c.employment = p.employment() == 0 || p.employment() > 6 ? Employment::kHired
                                                           : static_cast<Employment>(p.employment());
  c.total_experience_months = p.total_experience_months();
  c.current_job_months = p.current_job_months();
  c.monthly_income = p.monthly_income();
  c.other_debt_payments = p.other_debt_payments();
  if (p.income_proof() < 0 || p.income_proof() > 3) v.Add("profile.income_proof", "unknown income proof");
  c.income_proof = p.income_proof() == 0 || p.income_proof() > 3 ? IncomeProof::kNdfl2
                                                                 : static_cast<IncomeProof>(p.income_proof());
  c.children_ages.assign(p.children_ages().begin(), p.children_ages().end());
  c.disabled_child = p.disabled_child();
  c.maternity_capital = p.maternity_capital();
  c.married = p.married();
  c.insurance = p.insurance();
  c.it_accredited = p.it_accredited();
  c.nis_years = p.nis_years();
  c.salary_bank_ids.assign(p.salary_bank_ids().begin(), p.salary_bank_ids().end());
  // The purchase-independent checks of ValidateInput, with a purchase that passes its own.
  v.Check(ValidateInput(c, Purchase{.type = ObjectType::kNewBuild, .price = 1, .term_months = 1}));
  CRM_RETURN_IF_ERROR(v.Status());
  return c;
}

absl::StatusOr<Purchase> PurchaseFromProto(const v1::Property& p) {
  Purchase out{.type = static_cast<ObjectType>(p.type()),
               .price = p.price(),
               .down_payment = p.down_payment(),
               .term_months = p.term_months(),
               .region = p.region()};
  Client ok_client;
  ok_client.age = 30;
  CRM_RETURN_IF_ERROR(ValidateInput(ok_client, out));  // property.type included
  return out;
}

absl::StatusOr<Reference> ResolveReference(absl::CivilDay as_of, const Catalog& c) {
  Reference ref;
  ref.as_of = as_of;
  for (const BankSelection& bs : Select(as_of, c)) {
    const v1::Bank& b = c.banks[bs.bank];
    const std::string field = absl::StrCat("banks[", bs.bank, "]");
    BankTerms t;
    t.id = b.id();
    t.code = b.code();
    t.name = b.name();
    t.decision_days = b.decision_days();
    t.profile = ProfileFromProto(b.profile());
    if (b.calculation_step() < 0) return Invalid(field + ".calculation_step", "must not be negative");
    t.calculation_step = b.calculation_step();
    if (bs.pti_document >= 0) {
      const v1::PtiDocument& d = c.pti_documents[bs.pti_document];
      CRM_ASSIGN_OR_RETURN(t.pti_coefficient,
                           ParseCoefficient(d.entries(bs.pti_entry).coefficient(),
                                            absl::StrCat("pti_documents[", bs.pti_document, "].entries[",
                                                         bs.pti_entry, "].coefficient")));
    }
    if (bs.stop_factor_document >= 0) {
      const v1::StopFactorDocument& d = c.stop_factor_documents[bs.stop_factor_document];
      if (d.operation() == v1::OPERATION_SET) {
        t.stop_factor_document_id = d.id();
        for (int k = 0; k < d.factors_size(); ++k) {
          const v1::StopFactor& f = d.factors(k);
          if (f.parameter() <= 0 || f.parameter() >= static_cast<int>(Param::kCount)) {
            return Invalid(absl::StrCat("stop_factor_documents[", bs.stop_factor_document, "].factors[", k,
                                        "].parameter"),
                           "unknown parameter");
          }
          StopFactor sf{.code = f.code(), .text = f.text(), .param = static_cast<Param>(f.parameter())};
          if (f.has_min()) sf.min = f.min();
          if (f.has_max()) sf.max = f.max();
          t.stop_factors.push_back(std::move(sf));
        }
      }
    }
    for (const ProgramSelection& ps : bs.programs) {
      CRM_ASSIGN_OR_RETURN(ProgramTerms p, ProgramFromProto(c, ps));
      t.programs.push_back(std::move(p));
    }
    ref.banks.push_back(std::move(t));
  }
  return ref;
}

std::vector<v1::BankConditions> ConditionsAsOf(absl::CivilDay as_of, const Catalog& c) {
  std::vector<v1::BankConditions> out;
  for (const BankSelection& bs : Select(as_of, c)) {
    v1::BankConditions bc;
    *bc.mutable_bank() = c.banks[bs.bank];
    if (bs.pti_document >= 0) {
      bc.set_pti_coefficient(c.pti_documents[bs.pti_document].entries(bs.pti_entry).coefficient());
    }
    if (bs.stop_factor_document >= 0) {
      const v1::StopFactorDocument& d = c.stop_factor_documents[bs.stop_factor_document];
      if (d.operation() == v1::OPERATION_SET) {
        *bc.mutable_stop_factors() = d.factors();
        bc.set_stop_factor_document_id(d.id());
      }
    }
    for (const ProgramSelection& ps : bs.programs) {
      v1::ProgramConditions* pc = bc.add_programs();
      const v1::Program& p = c.programs[ps.program];
      *pc->mutable_program() = p;
      pc->mutable_program()->clear_schemes();
      for (int s : ps.valid_schemes) *pc->mutable_program()->add_schemes() = p.schemes(s);
      if (ps.rate_document >= 0) {
        const v1::RateDocument& d = c.rate_documents[ps.rate_document];
        pc->set_scheme_code(p.schemes(ps.scheme).code());
        *pc->mutable_cells() = d.cells();
        *pc->mutable_adjustments() = d.adjustments();
        pc->set_rate_document_id(d.id());
      }
    }
    out.push_back(std::move(bc));
  }
  return out;
}

void ScheduleToProto(const Schedule& s, v1::Schedule* out) {
  out->set_payment(s.regular_payment);
  out->set_total_interest(s.total_interest);
  out->set_total_paid(s.total_paid);
  out->set_total_fees(s.total_fees);
  out->set_overpayment(s.overpayment);
  out->set_psk(s.psk_percent);
  out->set_months(static_cast<int32_t>(s.rows.size()));
  out->mutable_rows()->Reserve(static_cast<int>(s.rows.size()));
  for (const Row& r : s.rows) {
    v1::ScheduleRow* row = out->add_rows();
    row->set_n(r.n);
    row->set_date(FormatDay(r.date));
    row->set_payment(r.payment);
    row->set_interest(r.interest);
    row->set_principal(r.principal);
    row->set_early(r.early);
    row->set_balance_after(r.balance_after);
  }
  out->set_last_payment(s.rows.empty() ? 0 : s.rows.back().payment);
}

void OfferToProto(const Offer& o, v1::Offer* out) {
  if (o.bank != nullptr) {
    out->set_bank_id(o.bank->id);
    out->set_bank_name(o.bank->name);
  }
  if (o.program != nullptr) {
    out->set_program_id(o.program->id);
    out->set_program_name(o.program->name);
    out->set_kind(static_cast<v1::ProgramKind>(o.program->kind));
    out->set_rate_document_id(o.program->rate_document_id);
  }
  out->set_eligible(o.eligible);
  for (const Reason& r : o.reasons) {
    v1::Reason* pr = out->add_reasons();
    pr->set_code(r.code.data(), r.code.size());
    pr->set_text(r.text.data(), r.text.size());
    pr->set_fix(r.fix.data(), r.fix.size());
    pr->set_source(r.source.data(), r.source.size());
  }
  if (o.rate) out->set_rate(FormatRate(*o.rate));
  out->set_loan(o.loan);
  out->set_payment(o.payment);
  out->set_payment_after(o.payment_after);
  out->set_overpayment(o.overpayment);
  out->set_psk(o.psk);
  out->set_required_income(o.required_income);
  out->set_pti_risk(o.pti_risk);
  out->set_pti_risk_text(o.pti_risk_text.data(), o.pti_risk_text.size());
  for (std::string_view a : o.applied_adjustments) out->add_applied_adjustments(a.data(), a.size());
  out->set_rank(o.rank);
  if (o.schedule) ScheduleToProto(*o.schedule, out->mutable_schedule());
  out->set_subsidy_cost(o.subsidy_cost);
}

}  // namespace crm::mortgage
