#include "services/mortgage/service.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/calendar/calendar.h"
#include "libs/rpc/call.h"
#include "proto/crm/common/v1/common.pb.h"
#include "services/mortgage/calculators.h"
#include "services/mortgage/convert.h"
#include "services/mortgage/multicalc.h"
#include "services/mortgage/schedule.h"
#include "services/mortgage/store.h"
#include "services/mortgage/violations.h"

namespace crm::mortgage {
namespace {

using crm::common::v1::Principal;

constexpr char kCalculate[] = "mortgage.calculate";
constexpr char kManage[] = "mortgage.manage";

absl::StatusOr<absl::CivilDay> DayOr(std::string_view field, const std::string& text, absl::CivilDay fallback) {
  if (text.empty()) return fallback;
  return ParseCivilDay(text, field);
}

absl::StatusOr<Rate> RateField(std::string_view field, const std::string& text) {
  if (text.empty()) return InvalidFieldError(field, "is required: a decimal such as \"0.0456\"");
  return ParseRate(text, field);
}

// The checks below keep their violation in `v` (issue 16: every bad field at once).
void Months(Violations& v, std::string_view field, int months) {
  if (months < 1 || months > 600) v.Add(field, "must be 1..600 months");
}

void Kopecks(Violations& v, std::string_view field, int64_t value, bool positive) {
  if (value < 0 || (positive && value == 0)) {
    v.Add(field, positive ? "must be above 0 (kopecks)" : "must not be negative (kopecks)");
  } else if (value > 10'000'000'000'000) {
    v.Add(field, "must not exceed 10^13 kopecks");
  }
}

std::optional<LoanRequest::Kind> KindOf(Violations& v, v1::LoanKind kind) {
  switch (kind) {
    case v1::LOAN_KIND_UNSPECIFIED:
    case v1::LOAN_KIND_ANNUITY:
      return LoanRequest::Kind::kAnnuity;
    case v1::LOAN_KIND_DIFFERENTIATED:
      return LoanRequest::Kind::kDifferentiated;
    default:
      return (v.Add("kind", "must be ANNUITY or DIFFERENTIATED"), std::nullopt);
  }
}

absl::StatusOr<LoanRequest> LoanFromProto(const v1::CalculateScheduleRequest& in, absl::CivilDay today) {
  Violations v;
  LoanRequest req;
  req.principal_kopecks = in.principal();
  if (auto rate = v.Value(RateField("annual_rate", in.annual_rate()))) req.annual_rate = *rate;
  req.term_months = in.term_months();
  if (auto kind = KindOf(v, in.kind())) req.kind = *kind;
  if (auto day = v.Value(DayOr("issue_date", in.issue_date(), today))) req.issue_date = *day;
  const v1::ConventionProfile& profile = in.profile();
  bool profile_ok = true;
  if (!v1::ConventionProfile::Accrual_IsValid(profile.accrual())) {
    v.Add("profile.accrual", "must be MONTHLY or ACTUAL_DAYS");
    profile_ok = false;
  }
  if (!v1::ConventionProfile::Rounding_IsValid(profile.interest_rounding())) {
    v.Add("profile.interest_rounding", "must be HALF_UP or TRUNCATE");
    profile_ok = false;
  }
  if (!v1::ConventionProfile::Rounding_IsValid(profile.payment_rounding())) {
    v.Add("profile.payment_rounding", "must be HALF_UP or TRUNCATE");
    profile_ok = false;
  }
  if (profile_ok) req.profile = ProfileFromProto(profile);
  if (in.early_repayments_size() > 600) {
    v.Add("early_repayments", "more than 600");
  } else {
    for (int i = 0; i < in.early_repayments_size(); ++i) {
      const v1::EarlyRepayment& e = in.early_repayments(i);
      const std::string at = absl::StrCat("early_repayments[", i, "]");
      EarlyRepayment er;
      if (e.date().empty()) {
        v.Add(absl::StrCat(at, ".date"), "is required");
      } else if (auto day = v.Value(ParseCivilDay(e.date(), absl::StrCat(at, ".date")))) {
        er.date = *day;
      }
      er.amount_kopecks = e.amount();
      switch (e.mode()) {
        case v1::EarlyRepayment::MODE_UNSPECIFIED:
        case v1::EarlyRepayment::MODE_REDUCE_TERM:
          er.mode = EarlyRepayment::Mode::kReduceTerm;
          break;
        case v1::EarlyRepayment::MODE_REDUCE_PAYMENT:
          er.mode = EarlyRepayment::Mode::kReducePayment;
          break;
        default:
          v.Add(absl::StrCat(at, ".mode"), "must be REDUCE_TERM or REDUCE_PAYMENT");
      }
      er.repeat_every_months = e.repeat_every_months();
      req.early_repayments.push_back(er);
    }
  }
  req.one_time_fees_kopecks = in.one_time_fees();
  req.yearly_insurance_kopecks = in.yearly_insurance();
  if (in.first_months() != 0 || !in.first_rate().empty()) {
    req.initial_rate_months = in.first_months();
    if (auto rate = v.Value(RateField("first_rate", in.first_rate()))) req.initial_rate = *rate;
    if (in.first_months() < 1) v.Add("first_months", "must be at least 1 with first_rate");
  }
  CRM_RETURN_IF_ERROR(v.Status());
  return req;
}

}  // namespace

absl::CivilDay CalculatorEnv::Today() const { return absl::ToCivilDay(clock->Now(), calendar->zone()); }

// --- ReferenceService ------------------------------------------------------------------------------

grpc::Status ReferenceServiceImpl::CreateBank(grpc::ServerContext* ctx, const v1::CreateBankRequest* req,
                                              v1::Bank* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Bank> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kManage));
    return store_.CreateBank(caller, req->bank(), rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status ReferenceServiceImpl::UpdateBank(grpc::ServerContext* ctx, const v1::UpdateBankRequest* req,
                                              v1::Bank* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Bank> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kManage));
    return store_.UpdateBank(caller, *req);
  });
}

grpc::Status ReferenceServiceImpl::ListBanks(grpc::ServerContext* ctx, const v1::ListBanksRequest* req,
                                             v1::ListBanksResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ListBanksResponse> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kCalculate));
    return store_.ListBanks(*req);
  });
}

grpc::Status ReferenceServiceImpl::CreateProgram(grpc::ServerContext* ctx, const v1::CreateProgramRequest* req,
                                                 v1::Program* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Program> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kManage));
    return store_.CreateProgram(caller, req->program(), rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status ReferenceServiceImpl::UpdateProgram(grpc::ServerContext* ctx, const v1::UpdateProgramRequest* req,
                                                 v1::Program* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Program> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kManage));
    return store_.UpdateProgram(caller, *req);
  });
}

grpc::Status ReferenceServiceImpl::ListPrograms(grpc::ServerContext* ctx, const v1::ListProgramsRequest* req,
                                                v1::ListProgramsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ListProgramsResponse> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kCalculate));
    return store_.ListPrograms(*req);
  });
}

grpc::Status ReferenceServiceImpl::PostRateDocument(grpc::ServerContext* ctx, const v1::PostRateDocumentRequest* req,
                                                    v1::RateDocument* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::RateDocument> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kManage));
    return store_.PostRateDocument(caller, req->document(), rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status ReferenceServiceImpl::ListRateDocuments(grpc::ServerContext* ctx,
                                                     const v1::ListRateDocumentsRequest* req,
                                                     v1::ListRateDocumentsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ListRateDocumentsResponse> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kCalculate));
    return store_.ListRateDocuments(*req);
  });
}

grpc::Status ReferenceServiceImpl::PostStopFactorDocument(grpc::ServerContext* ctx,
                                                          const v1::PostStopFactorDocumentRequest* req,
                                                          v1::StopFactorDocument* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::StopFactorDocument> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kManage));
    return store_.PostStopFactorDocument(caller, req->document(), rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status ReferenceServiceImpl::PostPtiDocument(grpc::ServerContext* ctx, const v1::PostPtiDocumentRequest* req,
                                                   v1::PtiDocument* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::PtiDocument> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kManage));
    return store_.PostPtiDocument(caller, req->document(), rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status ReferenceServiceImpl::GetConditions(grpc::ServerContext* ctx, const v1::GetConditionsRequest* req,
                                                 v1::GetConditionsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::GetConditionsResponse> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kCalculate));
    Violations v;
    const std::optional<absl::CivilDay> as_of = v.Value(DayOr("as_of", req->as_of(), env_.Today()));
    if (!req->bank_id().empty() && !IsUuid(req->bank_id())) v.Add("bank_id", "must be a UUID");
    CRM_RETURN_IF_ERROR(v.Status());
    const absl::CivilDay day = *as_of;
    CRM_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snapshot, store_.Current());
    v1::GetConditionsResponse resp;
    resp.set_as_of(absl::FormatCivilTime(day));
    for (v1::BankConditions& bank : ConditionsAsOf(day, snapshot->catalog())) {
      if (!req->bank_id().empty() && bank.bank().id() != req->bank_id()) continue;
      *resp.add_bank_conditions() = std::move(bank);
    }
    if (!req->bank_id().empty() && resp.bank_conditions().empty())
      return absl::NotFoundError(absl::StrCat("bank ", req->bank_id()));
    return resp;
  });
}

// --- CalculatorService -----------------------------------------------------------------------------

absl::StatusOr<v1::MultiCalculateResponse> RunMultiCalculation(ReferenceStore& store, const CalculatorEnv& env,
                                                               const v1::MultiCalculateRequest& req) {
  Violations v;  // issue 16: every bad field at once
  const std::optional<Client> client_or = v.Value(ClientFromProto(req.profile()));
  const std::optional<Purchase> purchase_or = v.Value(PurchaseFromProto(req.property()));
  MultiCalcOptions options;
  if (auto kind = KindOf(v, req.kind())) options.kind = *kind;
  const std::optional<absl::CivilDay> as_of_or = v.Value(DayOr("as_of", req.as_of(), env.Today()));
  if (req.schedules_for_size() > 300) v.Add("schedules_for", "more than 300 programs");
  CRM_RETURN_IF_ERROR(v.Status());
  const Client& client = *client_or;
  const Purchase& purchase = *purchase_or;
  const absl::CivilDay as_of = *as_of_or;
  options.schedules_for.assign(req.schedules_for().begin(), req.schedules_for().end());
  options.eligible_only = req.eligible_only();
  options.issue_date = as_of;
  options.calendar = env.calendar;
  CRM_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snapshot, store.Current());
  CRM_ASSIGN_OR_RETURN(std::shared_ptr<const Reference> reference, snapshot->At(as_of));
  CRM_ASSIGN_OR_RETURN(MultiCalcResult result, MultiCalculate(*reference, client, purchase, options));
  v1::MultiCalculateResponse resp;
  resp.set_as_of(absl::FormatCivilTime(as_of));
  resp.set_eligible_count(result.eligible_count);
  for (const Offer& offer : result.offers) OfferToProto(offer, resp.add_offers());
  return resp;
}

grpc::Status CalculatorServiceImpl::CalculateSchedule(grpc::ServerContext* ctx,
                                                      const v1::CalculateScheduleRequest* req, v1::Schedule* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Schedule> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kCalculate));
    CRM_ASSIGN_OR_RETURN(LoanRequest loan, LoanFromProto(*req, env_.Today()));
    CRM_ASSIGN_OR_RETURN(Schedule schedule, BuildSchedule(loan, env_.calendar));
    v1::Schedule resp;
    ScheduleToProto(schedule, &resp);
    return resp;
  });
}

grpc::Status CalculatorServiceImpl::MultiCalculate(grpc::ServerContext* ctx, const v1::MultiCalculateRequest* req,
                                                   v1::MultiCalculateResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::MultiCalculateResponse> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kCalculate));
    return RunMultiCalculation(store_, env_, *req);
  });
}

grpc::Status CalculatorServiceImpl::Solve(grpc::ServerContext* ctx, const v1::SolveRequest* req,
                                          v1::SolveResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::SolveResponse> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kCalculate));
    Violations v;  // issue 16: every bad field at once
    const std::optional<Rate> rate_or = v.Value(RateField("annual_rate", req->annual_rate()));
    const std::optional<Rate> pti_or =
        v.Value(req->pti().empty() ? ParseRate("0.5", "pti") : ParseRate(req->pti(), "pti"));
    switch (req->question()) {
      case v1::SolveRequest::QUESTION_MAX_LOAN_FOR_INCOME:
      case v1::SolveRequest::QUESTION_MAX_PRICE_FOR_INCOME:
        Months(v, "term_months", req->term_months());
        Kopecks(v, "monthly_income", req->monthly_income(), true);
        Kopecks(v, "other_debt_payments", req->other_debt_payments(), false);
        Kopecks(v, "down_payment", req->down_payment(), false);
        break;
      case v1::SolveRequest::QUESTION_MIN_DOWN_PAYMENT:
        Months(v, "term_months", req->term_months());
        Kopecks(v, "price", req->price(), true);
        Kopecks(v, "monthly_income", req->monthly_income(), true);
        Kopecks(v, "other_debt_payments", req->other_debt_payments(), false);
        break;
      case v1::SolveRequest::QUESTION_TERM_FOR_PAYMENT:
        Kopecks(v, "principal", req->principal(), true);
        Kopecks(v, "target_payment", req->target_payment(), true);
        Months(v, "max_term_months", req->max_term_months() == 0 ? 360 : req->max_term_months());
        break;
      default:
        v.Add("question", "must be one of the SolveRequest.Question values");
    }
    CRM_RETURN_IF_ERROR(v.Status());
    const Rate rate = *rate_or;
    const Rate pti = *pti_or;
    v1::SolveResponse resp;
    switch (req->question()) {
      case v1::SolveRequest::QUESTION_MAX_LOAN_FOR_INCOME:
      case v1::SolveRequest::QUESTION_MAX_PRICE_FOR_INCOME: {
        CRM_ASSIGN_OR_RETURN(int64_t payment, MaxPaymentForIncome(req->monthly_income(), req->other_debt_payments(), pti));
        CRM_ASSIGN_OR_RETURN(int64_t loan, MaxLoanForPayment(payment, rate, req->term_months()));
        resp.set_loan(loan);
        resp.set_payment(loan > 0 ? AnnuityPayment(loan, rate, req->term_months(), ConventionProfile::Rounding::kHalfUp) : 0);
        resp.set_term_months(req->term_months());
        resp.set_down_payment(req->down_payment());
        resp.set_price(loan + req->down_payment());
        return resp;
      }
      case v1::SolveRequest::QUESTION_MIN_DOWN_PAYMENT: {
        CRM_ASSIGN_OR_RETURN(int64_t payment, MaxPaymentForIncome(req->monthly_income(), req->other_debt_payments(), pti));
        CRM_ASSIGN_OR_RETURN(int64_t down, MinDownPayment(req->price(), payment, rate, req->term_months()));
        const int64_t loan = req->price() - down;
        resp.set_down_payment(down);
        resp.set_price(req->price());
        resp.set_loan(loan);
        resp.set_term_months(req->term_months());
        resp.set_payment(loan > 0 ? AnnuityPayment(loan, rate, req->term_months(), ConventionProfile::Rounding::kHalfUp) : 0);
        return resp;
      }
      case v1::SolveRequest::QUESTION_TERM_FOR_PAYMENT: {
        const int max_term = req->max_term_months() == 0 ? 360 : req->max_term_months();
        CRM_ASSIGN_OR_RETURN(int term, TermForPayment(req->principal(), req->target_payment(), rate, max_term));
        resp.set_term_months(term);
        resp.set_loan(req->principal());
        resp.set_payment(AnnuityPayment(req->principal(), rate, term, ConventionProfile::Rounding::kHalfUp));
        return resp;
      }
      default:
        return InvalidFieldError("question", "must be one of the SolveRequest.Question values");
    }
  });
}

grpc::Status CalculatorServiceImpl::CalculateMilitary(grpc::ServerContext* ctx, const v1::MilitaryRequest* req,
                                                      v1::MilitaryResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::MilitaryResponse> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kCalculate));
    Violations v;  // issue 16: every bad field at once
    MilitaryRequest m;
    if (auto rate = v.Value(RateField("annual_rate", req->annual_rate()))) m.rate = *rate;
    m.age = req->age();
    m.age_limit = req->age_limit() == 0 ? 45 : req->age_limit();
    m.savings = req->savings();
    m.own_funds = req->own_funds();
    m.price = req->price();
    Kopecks(v, "own_funds", m.own_funds, false);
    if (auto day = v.Value(DayOr("issue_date", req->issue_date(), env_.Today()))) m.issue_date = *day;
    if (req->contributions_size() > 100) {
      v.Add("contributions", "more than 100 years");
    } else {
      for (int i = 0; i < req->contributions_size(); ++i) {
        const auto& c = req->contributions(i);
        if (c.year() < 2005 || c.year() > 2100) {
          v.Add(absl::StrCat("contributions[", i, "].year"), "must be 2005..2100");
        }
        Kopecks(v, absl::StrCat("contributions[", i, "].amount"), c.amount(), true);
        m.contributions.push_back({.year = c.year(), .amount = c.amount()});
      }
    }
    CRM_RETURN_IF_ERROR(v.Status());
    CRM_ASSIGN_OR_RETURN(MilitaryResult r, Military(m));
    v1::MilitaryResponse resp;
    resp.set_max_loan(r.max_loan);
    resp.set_term_months(r.term_months);
    resp.set_monthly_contribution(r.monthly_contribution);
    resp.set_max_price(r.max_price);
    resp.set_gap(r.gap);
    resp.set_loan(r.loan);
    resp.set_payment(r.payment);
    return resp;
  });
}

grpc::Status CalculatorServiceImpl::CalculateFamily(grpc::ServerContext* ctx, const v1::FamilyRequest* req,
                                                    v1::FamilyResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::FamilyResponse> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kCalculate));
    Violations v;  // issue 16: every bad field at once
    Kopecks(v, "loan", req->loan(), true);
    Kopecks(v, "limit", req->limit(), true);
    Months(v, "term_months", req->term_months());
    const std::optional<Rate> subsidised_or = v.Value(RateField("subsidised_rate", req->subsidised_rate()));
    const std::optional<Rate> market_or = v.Value(RateField("market_rate", req->market_rate()));
    CRM_RETURN_IF_ERROR(v.Status());
    const Rate subsidised = *subsidised_or;
    const Rate market = *market_or;
    CRM_ASSIGN_OR_RETURN(FamilySplitResult r, FamilySplit(req->loan(), subsidised, market, req->limit(), req->term_months()));
    v1::FamilyResponse resp;
    resp.set_subsidised_tranche(r.subsidised_tranche);
    resp.set_market_tranche(r.market_tranche);
    resp.set_subsidised_payment(r.subsidised_payment);
    resp.set_market_payment(r.market_payment);
    resp.set_payment(r.payment);
    resp.set_blended_rate(FormatRate(r.blended_rate));
    resp.set_overpayment(r.overpayment);
    return resp;
  });
}

grpc::Status CalculatorServiceImpl::CalculateSubsidy(grpc::ServerContext* ctx, const v1::SubsidyRequest* req,
                                                     v1::SubsidyResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::SubsidyResponse> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kCalculate));
    Violations v;  // issue 16: every bad field at once
    Kopecks(v, "loan", req->loan(), true);
    Months(v, "term_months", req->term_months());
    const std::optional<Rate> subsidised_or = v.Value(RateField("subsidised_rate", req->subsidised_rate()));
    const std::optional<Rate> market_or = v.Value(RateField("market_rate", req->market_rate()));
    if (req->months() < 1 || req->months() >= req->term_months())
      v.Add("months", "must be 1 .. term_months - 1");
    CRM_RETURN_IF_ERROR(v.Status());
    const Rate subsidised = *subsidised_or;
    const Rate market = *market_or;
    CRM_ASSIGN_OR_RETURN(SubsidyResult r, Subsidy(req->loan(), subsidised, market, req->months(), req->term_months()));
    v1::SubsidyResponse resp;
    resp.set_payment_during(r.payment_during);
    resp.set_payment_after(r.payment_after);
    resp.set_developer_cost(r.developer_cost);
    resp.set_cost_share_of_loan(FormatRate(r.cost_share));
    return resp;
  });
}

}  // namespace crm::mortgage
