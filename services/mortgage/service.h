// File: services/mortgage/service.h
// -----------------------------------------------------------------------------
// The gRPC face of mortgage's reference data and calculator (proto/crm/mortgage/v1/mortgage.proto):
// ReferenceService (M1, M2) over the ReferenceStore, CalculatorService (M3) over the pure calculator
// (schedule.h, calculators.h, multicalc.h). Thin: each handler checks the caller's permission, converts
// and calls. `mortgage.calculate` reads reference data and calculates; `mortgage.manage` changes
// reference data. ApplicationService and DeskService (M4, M5) live in applications.h.
//
// Example:
//   crm::mortgage::CalculatorEnv calc{.clock = &clock, .calendar = &calendar};
//   server.AddService(server.Own(std::make_unique<crm::mortgage::ReferenceServiceImpl>(store, calc)));
//   server.AddService(server.Own(std::make_unique<crm::mortgage::CalculatorServiceImpl>(store, calc)));
#ifndef CRM_SERVICES_MORTGAGE_SERVICE_H_
#define CRM_SERVICES_MORTGAGE_SERVICE_H_

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "crm/mortgage/v1/mortgage.grpc.pb.h"

namespace crm {
class Clock;
}  // namespace crm
namespace crm::calendar {
class WorkingCalendar;
}  // namespace crm::calendar

namespace crm::mortgage {

class ReferenceStore;

// What calculations need besides the reference: "today" (the company's zone of the calendar) and the
// working calendar by which banks that shift payment dates shift them. Both must outlive the services.
struct CalculatorEnv {
  const Clock* clock = nullptr;
  const calendar::WorkingCalendar* calendar = nullptr;

  // Today in the calendar's zone.
  absl::CivilDay Today() const;
};

class ReferenceServiceImpl final : public v1::ReferenceService::Service {
 public:
  ReferenceServiceImpl(ReferenceStore& store, CalculatorEnv env) : store_(store), env_(env) {}

  grpc::Status CreateBank(grpc::ServerContext* ctx, const v1::CreateBankRequest* req, v1::Bank* out) override;
  grpc::Status UpdateBank(grpc::ServerContext* ctx, const v1::UpdateBankRequest* req, v1::Bank* out) override;
  grpc::Status ListBanks(grpc::ServerContext* ctx, const v1::ListBanksRequest* req,
                         v1::ListBanksResponse* out) override;
  grpc::Status CreateProgram(grpc::ServerContext* ctx, const v1::CreateProgramRequest* req,
                             v1::Program* out) override;
  grpc::Status UpdateProgram(grpc::ServerContext* ctx, const v1::UpdateProgramRequest* req,
                             v1::Program* out) override;
  grpc::Status ListPrograms(grpc::ServerContext* ctx, const v1::ListProgramsRequest* req,
                            v1::ListProgramsResponse* out) override;
  grpc::Status PostRateDocument(grpc::ServerContext* ctx, const v1::PostRateDocumentRequest* req,
                                v1::RateDocument* out) override;
  grpc::Status ListRateDocuments(grpc::ServerContext* ctx, const v1::ListRateDocumentsRequest* req,
                                 v1::ListRateDocumentsResponse* out) override;
  grpc::Status PostStopFactorDocument(grpc::ServerContext* ctx, const v1::PostStopFactorDocumentRequest* req,
                                      v1::StopFactorDocument* out) override;
  grpc::Status PostPtiDocument(grpc::ServerContext* ctx, const v1::PostPtiDocumentRequest* req,
                               v1::PtiDocument* out) override;
  grpc::Status GetConditions(grpc::ServerContext* ctx, const v1::GetConditionsRequest* req,
                             v1::GetConditionsResponse* out) override;

 private:
  ReferenceStore& store_;
  CalculatorEnv env_;
};

class CalculatorServiceImpl final : public v1::CalculatorService::Service {
 public:
  CalculatorServiceImpl(ReferenceStore& store, CalculatorEnv env) : store_(store), env_(env) {}

  grpc::Status CalculateSchedule(grpc::ServerContext* ctx, const v1::CalculateScheduleRequest* req,
                                 v1::Schedule* out) override;
  grpc::Status MultiCalculate(grpc::ServerContext* ctx, const v1::MultiCalculateRequest* req,
                              v1::MultiCalculateResponse* out) override;
  grpc::Status Solve(grpc::ServerContext* ctx, const v1::SolveRequest* req, v1::SolveResponse* out) override;
  grpc::Status CalculateMilitary(grpc::ServerContext* ctx, const v1::MilitaryRequest* req,
                                 v1::MilitaryResponse* out) override;
  grpc::Status CalculateFamily(grpc::ServerContext* ctx, const v1::FamilyRequest* req,
                               v1::FamilyResponse* out) override;
  grpc::Status CalculateSubsidy(grpc::ServerContext* ctx, const v1::SubsidyRequest* req,
                                v1::SubsidyResponse* out) override;

 private:
  ReferenceStore& store_;
  CalculatorEnv env_;
};

// The multi-calculation as the API answers it, with no permission check: what MultiCalculate serves
// and what ApplicationService.SaveCalculation stores. InvalidArgument naming the request's field.
absl::StatusOr<v1::MultiCalculateResponse> RunMultiCalculation(ReferenceStore& store, const CalculatorEnv& env,
                                                               const v1::MultiCalculateRequest& request);

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_SERVICE_H_
