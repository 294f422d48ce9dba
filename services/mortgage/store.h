// File: services/mortgage/store.h
// -----------------------------------------------------------------------------
// The reference data of M1 and M2 in PostgreSQL: banks, programs with their schemes, and the dated
// documents that set and cancel rates, stop factors and payment-to-income coefficients
// (migrations/0001_reference.sql). Catalogue entries are versioned (ABORTED on a stale version);
// documents are append-only, so the conditions on any past date stay answerable and any saved offer can
// be reproduced.
//
// Calculations read a Snapshot: the whole catalogue in memory, reloaded when another write (on any
// replica) bumped reference_state.version, checked at most every `refresh`; a replica's own writes are
// visible to its next calculation at once. A Snapshot resolves "the conditions as of a day" once per day
// and keeps the answer.
//
// Example:
//   crm::mortgage::ReferenceStore store(pool, crm::SystemClock(), {});
//   CRM_ASSIGN_OR_RETURN(v1::Bank bank, store.CreateBank(caller, request.bank(), idempotency_key));
//   CRM_ASSIGN_OR_RETURN(auto snapshot, store.Current());
//   CRM_ASSIGN_OR_RETURN(auto reference, snapshot->At(absl::CivilDay(2026, 11, 25)));
#ifndef CRM_SERVICES_MORTGAGE_STORE_H_
#define CRM_SERVICES_MORTGAGE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "proto/crm/mortgage/v1/mortgage.pb.h"
#include "services/mortgage/convert.h"
#include "services/mortgage/reference.h"

namespace crm {
class Clock;
}  // namespace crm
namespace crm::common::v1 {
class Principal;
}  // namespace crm::common::v1
namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::mortgage {

// The catalogue at one reference_state.version, with the conditions of each day asked for so far.
class Snapshot {
 public:
  Snapshot(int64_t version, Catalog catalog) : version_(version), catalog_(std::move(catalog)) {}

  int64_t version() const { return version_; }
  const Catalog& catalog() const { return catalog_; }

  // The reference in force on `day`; computed once per day for the life of the snapshot.
  absl::StatusOr<std::shared_ptr<const Reference>> At(absl::CivilDay day) const;

 private:
  const int64_t version_;
  const Catalog catalog_;
  mutable absl::Mutex mu_;
  mutable std::map<absl::CivilDay, std::shared_ptr<const Reference>> by_day_ ABSL_GUARDED_BY(mu_);
};

struct ReferenceStoreOptions {
  // How often a replica checks whether another one changed the catalogue.
  absl::Duration refresh = absl::Seconds(1);
};

class ReferenceStore {
 public:
  using Principal = crm::common::v1::Principal;

  // `pool` and `clock` must outlive the store.
  ReferenceStore(pg::Pool& pool, const Clock& clock, ReferenceStoreOptions options);

  // Creates a bank at version 1 (id made here). InvalidArgument naming "bank.code", "bank.name",
  // "bank.decision_days", "bank.calculation_step", "bank.application_emails[i]"; AlreadyExists for a
  // code in use. A repeated idempotency key returns the first reply.
  absl::StatusOr<v1::Bank> CreateBank(const Principal& caller, const v1::Bank& bank, std::string_view idempotency_key);
  // Changes the fields request.update_mask names (masks.h) when request.bank.version is 0 or the stored
  // one (ABORTED otherwise); returns version + 1. INVALID_ARGUMENT naming update_mask for an unknown path,
  // or every field the result breaks.
  absl::StatusOr<v1::Bank> UpdateBank(const Principal& caller, const v1::UpdateBankRequest& request);
  // By name, a page at a time (the suite's page rule: default 50, at most 200).
  absl::StatusOr<v1::ListBanksResponse> ListBanks(const v1::ListBanksRequest& request);

  // Creates a program of an existing bank (NOT_FOUND naming the bank otherwise). InvalidArgument naming
  // "program.code", "program.name", "program.kind", "program.schemes[i].valid_from", ... .
  absl::StatusOr<v1::Program> CreateProgram(const Principal& caller, const v1::Program& program,
                                            std::string_view idempotency_key);
  // As UpdateBank; a program stays with its bank (bank_id is ignored).
  absl::StatusOr<v1::Program> UpdateProgram(const Principal& caller, const v1::UpdateProgramRequest& request);
  // By bank, then code, a page at a time (the suite's page rule: default 50, at most 200).
  absl::StatusOr<v1::ListProgramsResponse> ListPrograms(const v1::ListProgramsRequest& request);

  // Registers a document (its number made here when empty). InvalidArgument naming "document.date",
  // "document.operation", "document.scheme_code" (not a scheme of the program), "document.cells[i].rate",
  // "document.cells[i].when[j].parameter", ... ; NOT_FOUND for an unknown bank or program.
  absl::StatusOr<v1::RateDocument> PostRateDocument(const Principal& caller, const v1::RateDocument& document,
                                                    std::string_view idempotency_key);
  // Newest registered first; page_size default 50, at most 500.
  absl::StatusOr<v1::ListRateDocumentsResponse> ListRateDocuments(const v1::ListRateDocumentsRequest& request);
  absl::StatusOr<v1::StopFactorDocument> PostStopFactorDocument(const Principal& caller,
                                                                const v1::StopFactorDocument& document,
                                                                std::string_view idempotency_key);
  absl::StatusOr<v1::PtiDocument> PostPtiDocument(const Principal& caller, const v1::PtiDocument& document,
                                                  std::string_view idempotency_key);

  // The catalogue as of the last change any replica committed (at most `refresh` old, and never older
  // than this replica's own last write).
  absl::StatusOr<std::shared_ptr<const Snapshot>> Current();

  // Writes `catalog` (ids and numbers kept) unless a bank with the first bank's id exists; returns
  // whether it wrote. For the demo data (demo.h).
  absl::StatusOr<bool> Install(const Catalog& catalog);

 private:
  // Makes the next Current() look for changes (after this replica's own write).
  void Invalidate();

  pg::Pool& pool_;
  const Clock& clock_;
  const ReferenceStoreOptions options_;
  absl::Mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  absl::Time checked_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace crm::mortgage

#endif  // CRM_SERVICES_MORTGAGE_STORE_H_
