// File: services/mortgage/applications.h
// -----------------------------------------------------------------------------
// M4, M5 of mortgage (proto/crm/mortgage/v1/applications.proto): the specialist's documents kept in
// PostgreSQL — saved calculations («Расчёты ипотеки»), questionnaires («Анкеты»), applications to banks
// («Ипотечные заявки», «Запросы на одобрение объекта») with their status history and the banks' replies —
// and, over them, the specialist's desk (seed 004 §5.1) and the mortgage reports.
//
// ApplicationStore owns the tables (migrations/0002_applications.sql). Every change writes its event to
// the outbox in the same transaction (events.proto): crm.mortgage.calculation.v1 keyed by client id,
// crm.mortgage.application.v1 keyed by application id. ApplicationServiceImpl and DeskServiceImpl are the
// thin gRPC faces; they check the caller's permissions:
//   mortgage.calculate  saves calculations and reads the caller's own;
//   mortgage.manage     creates and changes questionnaires and applications, reads the caller's own;
//   mortgage.read.all   reads everyone's documents, another specialist's desk, and the reports.
//
// The application's status machine («Ипотечная заявка»):
//   DRAFT → SENT | WITHDRAWN
//   SENT → UNDER_REVIEW | DOCUMENTS_REQUESTED | APPROVED | DECLINED | WITHDRAWN
//   UNDER_REVIEW ⇄ DOCUMENTS_REQUESTED; both → APPROVED | DECLINED | WITHDRAWN
//   APPROVED → ISSUED (BORROWER only) | WITHDRAWN
//   DECLINED, ISSUED, WITHDRAWN: final.
// (A bank may answer a SENT application with its decision at once, so SENT leads to every reply status.)
// The history starts with the creation (UNSPECIFIED → DRAFT); a bank reply's decision is the move.
//
// Reports: applications and calculations by their creation day in the company's zone; bank efficiency
// over the BORROWER applications first SENT in the period (approved / declined = the bank's first
// decision, pending = undecided and still open, so withdrawn-before-decision count only in `sent`);
// specialists' KPIs count calculations, questionnaires and applications created, and approvals and
// issues decided in the period.
//
// Example (the service's main):
//   crm::mortgage::ApplicationStore store(*pool, crm::SystemClock());
//   crm::mortgage::ApplicationServiceImpl apps(
//       store, [&](const crm::mortgage::v1::MultiCalculateRequest& r) { return calculator.MultiCalculate(r); });
//   crm::mortgage::DeskServiceImpl desk(store, crm::SystemClock());  // Europe/Moscow
//   server.AddService(&apps);
//   server.AddService(&desk);
#ifndef CRM_SERVICES_MORTGAGE_APPLICATIONS_H_
#define CRM_SERVICES_MORTGAGE_APPLICATIONS_H_

#include <functional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/mortgage/v1/applications.grpc.pb.h"
#include "libs/events/outbox.h"
#include "services/mortgage/deals_client.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf
namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm {
class Clock;
}  // namespace crm
namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::mortgage {

// Who makes a change and in which call: the events it causes carry it.
struct Actor {
  crm::common::v1::Principal principal;
  std::string request_id;
  int automation_depth = 0;
  bool skip_automation = false;
};

// The limit on banks per client: at most this many distinct banks with BORROWER applications created
// within kManyBanksWindow, unless the creating request sets confirm_many_banks. Beyond it CreateApplication
// is FAILED_PRECONDITION "precondition BANKS_PER_CLIENT failed for client <id>: ..." (a business limit:
// never RESOURCE_EXHAUSTED, which client libraries retry).
inline constexpr int kMaxBanksPerClient = 5;
inline constexpr absl::Duration kManyBanksWindow = absl::Hours(24);
inline constexpr char kManyBanksViolation[] = "BANKS_PER_CLIENT";
// The desk's "approvals expiring" horizon, in days from today (inclusive).
inline constexpr int kExpiringDays = 7;
// At most this many rows in one page of a list of the desk (50 by default), and in one report's row list.
inline constexpr int kMaxDeskRows = 200;
// The desk's lists, as Desk.next_page_tokens names them.
inline constexpr char kDeskDrafts[] = "drafts";
inline constexpr char kDeskDocumentsRequested[] = "documents_requested";
inline constexpr char kDeskApproved[] = "approved";
inline constexpr char kDeskExpiring[] = "expiring";
inline constexpr char kDeskQuestionnaires[] = "incomplete_questionnaires";
inline constexpr int kMaxReportRows = 5000;
// A report page's rows when page_size is 0.
inline constexpr int kDefaultReportRows = 500;

// The company's time zone by default: Europe/Moscow (UTC+3 fixed when the zone database is missing).
absl::TimeZone DefaultCompanyZone();

// Whether an application's client and deal may be named by the caller (M4; deals_client.h).
using PartiesCheck = std::function<absl::Status(const v1::Application&)>;

// Runs a multi-calculation (the real calculator in production).
using MultiCalculator = std::function<absl::StatusOr<crm::mortgage::v1::MultiCalculateResponse>(
    const crm::mortgage::v1::MultiCalculateRequest&)>;

// The PostgreSQL store of calculations, questionnaires and applications, with the desk's and reports'
// queries. Thread-safe. Errors: INVALID_ARGUMENT naming the field; NOT_FOUND; PERMISSION_DENIED for
// another specialist's document without mortgage.read.all; ABORTED on a stale version;
// FAILED_PRECONDITION for a forbidden status move or an incomplete questionnaire (naming what is
// missing or allowed, and for the banks-per-client limit); the database's errors as crm::pg maps them.
class ApplicationStore {
 public:
  // `pool` (migrated with EventsMigrations() and MortgageMigrations()) and `clock` must outlive the store.
  ApplicationStore(crm::pg::Pool& pool, const crm::Clock& clock);
  ApplicationStore(const ApplicationStore&) = delete;
  ApplicationStore& operator=(const ApplicationStore&) = delete;

  // Runs `calculate` on the request's calculation (without full schedules) and keeps it with a new
  // number and the response's summaries; the event crm.mortgage.calculation.saved.v1 is written with
  // it. A repeat of `idempotency_key` ("" = none) by the same caller returns the first result (the
  // pure calculation runs again first; its result is then discarded).
  absl::StatusOr<v1::Calculation> SaveCalculation(const Actor& actor, const v1::SaveCalculationRequest& req,
                                                  std::string_view idempotency_key,
                                                  const MultiCalculator& calculate);
  // The calculation with its response; the caller's own unless they hold mortgage.read.all.
  absl::StatusOr<v1::Calculation> GetCalculation(const Actor& actor, std::string_view id);
  // Newest first, without responses, filtered; only the caller's unless they hold mortgage.read.all.
  absl::StatusOr<v1::ListCalculationsResponse> ListCalculations(const Actor& actor,
                                                                const v1::ListCalculationsRequest& req);

  // A new questionnaire (version 1, DRAFT unless COMPLETE is asked and every required field is there).
  // Questionnaires write no events (events.proto defines none). A repeat of `idempotency_key` by the
  // same caller returns the first result.
  absl::StatusOr<v1::Questionnaire> CreateQuestionnaire(const Actor& actor,
                                                        const v1::CreateQuestionnaireRequest& req,
                                                        std::string_view idempotency_key);
  // Changes the fields req.update_mask names (masks.h) when questionnaire.version is 0 or the stored one
  // (ABORTED otherwise); the result is validated whole.
  absl::StatusOr<v1::Questionnaire> UpdateQuestionnaire(const Actor& actor,
                                                        const v1::UpdateQuestionnaireRequest& req);
  absl::StatusOr<v1::Questionnaire> GetQuestionnaire(const Actor& actor, std::string_view id);
  absl::StatusOr<v1::ListQuestionnairesResponse> ListQuestionnaires(const Actor& actor,
                                                                    const v1::ListQuestionnairesRequest& req);

  // A new DRAFT application to one bank; crm.mortgage.application.created.v1 is written with it. A
  // repeat of `idempotency_key` by the same caller returns the first result. M4: `check_parties` (the
  // service's DealsClient::CheckParties as the caller) decides whether the application's client and
  // deal exist and are visible; it runs after the field and reference checks, inside the transaction,
  // so its refusal (FAILED_PRECONDITION, UNAVAILABLE) leaves nothing written — and a repeat, answered
  // from the idempotency record, does not ask again.
  absl::StatusOr<v1::Application> CreateApplication(const Actor& actor,
                                                    const v1::CreateApplicationRequest& req,
                                                    std::string_view idempotency_key,
                                                    const PartiesCheck& check_parties);
  // The application with its history and replies.
  absl::StatusOr<v1::Application> GetApplication(const Actor& actor, std::string_view id);
  // Newest first, with replies but without history, filtered.
  absl::StatusOr<v1::ListApplicationsResponse> ListApplications(const Actor& actor,
                                                                const v1::ListApplicationsRequest& req);
  // Moves the application (see the status machine above); a history row and
  // crm.mortgage.application.status_changed.v1 are written with it. version 0 skips the version check.
  // A repeat of `idempotency_key` by the same caller returns the first result (and moves nothing).
  absl::StatusOr<v1::Application> ChangeStatus(const Actor& actor,
                                               const v1::ChangeApplicationStatusRequest& req,
                                               std::string_view idempotency_key);
  // Keeps the bank's reply; its decision becomes the status when it differs (a repeated decision, such
  // as a renewed approval, is kept without a move). Written with crm.mortgage.application.status_changed.v1.
  // A repeat of `idempotency_key` by the same caller returns the first result (and keeps no second reply).
  absl::StatusOr<v1::Application> RecordBankReply(const Actor& actor, const v1::RecordBankReplyRequest& req,
                                                  std::string_view idempotency_key);

  // The desk of `req.specialist_id()` (default: the caller) on the day `now` falls on in `zone`.
  absl::StatusOr<v1::Desk> GetDesk(const Actor& actor, const v1::GetDeskRequest& req, absl::Time now,
                                   absl::TimeZone zone);
  // The reports (mortgage.read.all is checked by the service); periods are days in `zone`.
  absl::StatusOr<v1::ApplicationsReport> ApplicationsReport(const v1::ApplicationsReportRequest& req,
                                                            absl::TimeZone zone);
  absl::StatusOr<v1::CalculationsReport> CalculationsReport(const v1::CalculationsReportRequest& req,
                                                            absl::TimeZone zone);
  absl::StatusOr<v1::BankEfficiency> BankEfficiency(const v1::BankEfficiencyRequest& req,
                                                    absl::TimeZone zone);
  absl::StatusOr<v1::SpecialistKpis> SpecialistKpis(const v1::SpecialistKpisRequest& req,
                                                    absl::TimeZone zone);

 private:
  // Runs `fn` in one transaction that also records the reply `out` under the caller's
  // `idempotency_key` for `method`, or, for a repeat, fills `out` with the recorded one without
  // running `fn` (libs/pg/idempotency.h; `request` is what the key's fingerprint is taken of).
  absl::Status InIdempotentTransaction(const Actor& actor, std::string_view method,
                                       std::string_view idempotency_key,
                                       const google::protobuf::Message& request,
                                       google::protobuf::Message& out,
                                       absl::FunctionRef<absl::Status(pqxx::transaction_base&)> fn);

  crm::pg::Pool& pool_;
  const crm::Clock& clock_;
  crm::events::OutboxWriter outbox_;
};

// ApplicationService: calculations, questionnaires and applications.
class ApplicationServiceImpl final : public crm::mortgage::v1::ApplicationService::Service {
 public:
  // `store` and `deals` must outlive the service; `calculate` runs SaveCalculation's multi-calculation;
  // `deals` checks a new application's client and deal as the caller (M4).
  ApplicationServiceImpl(ApplicationStore& store, MultiCalculator calculate, const DealsClient& deals);

  grpc::Status SaveCalculation(grpc::ServerContext* ctx, const v1::SaveCalculationRequest* req,
                               v1::Calculation* out) override;
  grpc::Status GetCalculation(grpc::ServerContext* ctx, const v1::GetCalculationRequest* req,
                              v1::Calculation* out) override;
  grpc::Status ListCalculations(grpc::ServerContext* ctx, const v1::ListCalculationsRequest* req,
                                v1::ListCalculationsResponse* out) override;
  grpc::Status CreateQuestionnaire(grpc::ServerContext* ctx, const v1::CreateQuestionnaireRequest* req,
                                   v1::Questionnaire* out) override;
  grpc::Status UpdateQuestionnaire(grpc::ServerContext* ctx, const v1::UpdateQuestionnaireRequest* req,
                                   v1::Questionnaire* out) override;
  grpc::Status GetQuestionnaire(grpc::ServerContext* ctx, const v1::GetQuestionnaireRequest* req,
                                v1::Questionnaire* out) override;
  grpc::Status ListQuestionnaires(grpc::ServerContext* ctx, const v1::ListQuestionnairesRequest* req,
                                  v1::ListQuestionnairesResponse* out) override;
  grpc::Status CreateApplication(grpc::ServerContext* ctx, const v1::CreateApplicationRequest* req,
                                 v1::Application* out) override;
  grpc::Status GetApplication(grpc::ServerContext* ctx, const v1::GetApplicationRequest* req,
                              v1::Application* out) override;
  grpc::Status ListApplications(grpc::ServerContext* ctx, const v1::ListApplicationsRequest* req,
                                v1::ListApplicationsResponse* out) override;
  grpc::Status ChangeApplicationStatus(grpc::ServerContext* ctx,
                                       const v1::ChangeApplicationStatusRequest* req,
                                       v1::Application* out) override;
  grpc::Status RecordBankReply(grpc::ServerContext* ctx, const v1::RecordBankReplyRequest* req,
                               v1::Application* out) override;

 private:
  ApplicationStore& store_;
  MultiCalculator calculate_;
  const DealsClient& deals_;
};

// DeskService: the specialist's desk and the reports; "today" and report periods in the company's zone.
class DeskServiceImpl final : public crm::mortgage::v1::DeskService::Service {
 public:
  // `store` and `clock` must outlive the service.
  DeskServiceImpl(ApplicationStore& store, const crm::Clock& clock,
                  absl::TimeZone zone = DefaultCompanyZone());

  grpc::Status GetDesk(grpc::ServerContext* ctx, const v1::GetDeskRequest* req, v1::Desk* out) override;
  grpc::Status GetApplicationsReport(grpc::ServerContext* ctx, const v1::ApplicationsReportRequest* req,
                                     v1::ApplicationsReport* out) override;
  grpc::Status GetCalculationsReport(grpc::ServerContext* ctx, const v1::CalculationsReportRequest* req,
                                     v1::CalculationsReport* out) override;
  grpc::Status GetBankEfficiency(grpc::ServerContext* ctx, const v1::BankEfficiencyRequest* req,
                                 v1::BankEfficiency* out) override;
  grpc::Status GetSpecialistKpis(grpc::ServerContext* ctx, const v1::SpecialistKpisRequest* req,
                                 v1::SpecialistKpis* out) override;

 private:
  ApplicationStore& store_;
  const crm::Clock& clock_;
  absl::TimeZone zone_;
};

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_APPLICATIONS_H_
