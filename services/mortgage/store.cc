#include "services/mortgage/store.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_time.h"
#include "libs/rpc/call.h"
#include "proto/crm/common/v1/common.pb.h"
#include "services/mortgage/masks.h"
#include "services/mortgage/paging.h"
#include "services/mortgage/schedule.h"
#include "services/mortgage/violations.h"

namespace crm::mortgage {
namespace {

using Principal = crm::common::v1::Principal;

constexpr size_t kMaxText = 500;
constexpr int kMaxItems = 500;
// The lists of banks and programs (the suite's page rule: paging.h).
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 200;

constexpr char kLockBank[] = "SELECT body FROM banks WHERE id = $1::uuid FOR UPDATE";
constexpr char kUpdateBank[] =
    "UPDATE banks SET code = $2, name = $3, version = $4, archived = $5, body = $6, updated_at = now() "
    "WHERE id = $1::uuid";
constexpr char kLockProgram[] = "SELECT body FROM programs WHERE id = $1::uuid FOR UPDATE";
constexpr char kUpdateProgram[] =
    "UPDATE programs SET code = $2, name = $3, version = $4, archived = $5, body = $6, updated_at = now() "
    "WHERE id = $1::uuid";

// The version rule of every update (issue 16): 0 = whatever is stored (last writer wins), else the
// stored one, or ABORTED (the gateway's 412 when the client sent If-Match).
absl::Status CheckVersion(std::string_view what, const std::string& id, int64_t asked, int64_t stored) {
  if (asked == 0 || asked == stored) return absl::OkStatus();
  return absl::AbortedError(absl::StrCat("version mismatch: ", AsAbsl(what), " ", id, " is at version ",
                                         stored, ", not ", asked,
                                         "; read it again (or send version 0 to overwrite)"));
}

// Banks by name (then id) after the keyset ($2 name, $3 id; "" = from the start), archived ones when $1.
constexpr char kListBanks[] =
    "SELECT body FROM banks WHERE ($1 OR NOT archived) AND ($3 = '' OR (name, id) > ($2, NULLIF($3, "
    "'')::uuid)) "
    "ORDER BY name, id LIMIT $4";
// Programs of one bank ($1; "" = every bank) by bank, then code, after the keyset ($3 bank id, $4 code).
constexpr char kListPrograms[] =
    "SELECT body FROM programs WHERE ($1 = '' OR bank_id = NULLIF($1, '')::uuid) AND ($2 OR NOT archived) "
    "AND ($3 = '' OR (bank_id, code) > (NULLIF($3, '')::uuid, $4)) ORDER BY bank_id, code LIMIT $5";

std::string Bytes(const pqxx::field& f) {
  pqxx::binarystring b(f);
  return std::string(b.str());
}

template <typename M>
absl::StatusOr<M> ParseBody(const pqxx::field& f, std::string_view what) {
  M m;
  if (!m.ParseFromString(Bytes(f))) return absl::DataLossError(absl::StrCat("a stored ", AsAbsl(what), " does not parse"));
  return m;
}

template <typename M>
pqxx::binarystring Body(const M& m, std::string& holder) {
  holder = m.SerializeAsString();
  return pqxx::binarystring(holder.data(), holder.size());
}

std::string Actor(const Principal& p) {
  if (!p.id().empty()) return p.id();
  if (!p.on_behalf_of_user_id().empty()) return p.on_behalf_of_user_id();
  return p.service();
}

absl::Status Text(std::string_view field, const std::string& value, bool required) {
  if (required && value.empty()) return InvalidFieldError(field, "is required");
  if (value.size() > kMaxText) return InvalidFieldError(field, absl::StrCat("longer than ", kMaxText, " bytes"));
  // UTF-8 is checked by protobuf's parser: a proto3 string with invalid UTF-8 never reaches here.
  return absl::OkStatus();
}

void CheckPredicates(Violations& v, std::string_view field,
                     const google::protobuf::RepeatedPtrField<v1::Predicate>& ps) {
  if (ps.size() > 50) return v.Add(field, "more than 50 predicates");
  for (int i = 0; i < ps.size(); ++i) {
    const v1::Predicate& p = ps[i];
    const std::string at = absl::StrCat(AsAbsl(field), "[", i, "]");
    if (p.parameter() == v1::PARAMETER_UNSPECIFIED || !v1::Parameter_IsValid(p.parameter())) {
      v.Add(absl::StrCat(at, ".parameter"), "must be a known parameter");
    }
    if (!p.has_min() && !p.has_max() && p.one_of().empty()) v.Add(at, "needs min, max or one_of");
    if (p.has_min() && p.has_max() && p.min() > p.max()) v.Add(absl::StrCat(at, ".max"), "is below min");
  }
}

// Every violation of a bank (issue 16: all at once).
void ValidateBank(Violations& v, const v1::Bank& b) {
  v.Check(Text("bank.code", b.code(), true));
  v.Check(Text("bank.name", b.name(), true));
  v.Check(Text("bank.legal_name", b.legal_name(), false));
  if (b.decision_days() < 0 || b.decision_days() > 365) v.Add("bank.decision_days", "must be 0..365");
  if (b.calculation_step() < 0 || b.calculation_step() > 100'000'000) {
    v.Add("bank.calculation_step", "must be 0..100000000 kopecks");
  }
  if (!v1::ConventionProfile::Accrual_IsValid(b.profile().accrual())) {
    v.Add("bank.profile.accrual", "must be MONTHLY or ACTUAL_DAYS");
  }
  if (!v1::ConventionProfile::Rounding_IsValid(b.profile().interest_rounding())) {
    v.Add("bank.profile.interest_rounding", "must be HALF_UP or TRUNCATE");
  }
  if (!v1::ConventionProfile::Rounding_IsValid(b.profile().payment_rounding())) {
    v.Add("bank.profile.payment_rounding", "must be HALF_UP or TRUNCATE");
  }
  if (b.application_emails_size() > 20) return v.Add("bank.application_emails", "more than 20");
  for (int i = 0; i < b.application_emails_size(); ++i) {
    const std::string& e = b.application_emails(i);
    if (e.find('@') == std::string::npos || e.size() > 254) {
      v.Add(absl::StrCat("bank.application_emails[", i, "]"), "not an e-mail address");
    }
  }
}

absl::Status ValidateBank(const v1::Bank& b) {
  Violations v;
  ValidateBank(v, b);
  return v.Status();
}

// Every violation of a program (its bank_id is checked by the caller: it is fixed after creation).
void ValidateProgram(Violations& v, const v1::Program& p) {
  v.Check(Text("program.code", p.code(), true));
  v.Check(Text("program.name", p.name(), true));
  v.Check(Text("program.site_name", p.site_name(), false));
  if (p.kind() == v1::PROGRAM_KIND_UNSPECIFIED || !v1::ProgramKind_IsValid(p.kind())) {
    v.Add("program.kind", "must be a known program kind");
  }
  for (int i = 0; i < p.object_types_size(); ++i) {
    if (p.object_types(i) == v1::OBJECT_TYPE_UNSPECIFIED || !v1::ObjectType_IsValid(p.object_types(i))) {
      v.Add(absl::StrCat("program.object_types[", i, "]"), "must be a known object type");
    }
  }
  const v1::ProgramLimits& l = p.limits();
  if (l.min_loan() < 0) v.Add("program.limits.min_loan", "must not be negative");
  if (l.max_loan() < 0 || (l.max_loan() > 0 && l.max_loan() < l.min_loan())) {
    v.Add("program.limits.max_loan", "must be 0 or at least min_loan");
  }
  if (l.min_down_payment_bp() < 0 || l.min_down_payment_bp() > 10000) {
    v.Add("program.limits.min_down_payment_bp", "must be 0..10000");
  }
  if (l.max_down_payment_bp() < 0 || l.max_down_payment_bp() > 10000) {
    v.Add("program.limits.max_down_payment_bp", "must be 0..10000");
  }
  if (l.min_term_months() < 0 || l.min_term_months() > 600)
    v.Add("program.limits.min_term_months", "must be 0..600");
  if (l.max_term_months() < 0 || l.max_term_months() > 600)
    v.Add("program.limits.max_term_months", "must be 0..600");
  if (p.requirements_size() > 50) {
    v.Add("program.requirements", "more than 50");
  } else {
    for (int i = 0; i < p.requirements_size(); ++i) {
      const v1::Requirement& r = p.requirements(i);
      const std::string at = absl::StrCat("program.requirements[", i, "]");
      v.Check(Text(absl::StrCat(at, ".code"), r.code(), true));
      v.Check(Text(absl::StrCat(at, ".text"), r.text(), true));
      if (r.any_of().empty()) v.Add(absl::StrCat(at, ".any_of"), "needs an alternative");
      for (int j = 0; j < r.any_of_size(); ++j) {
        CheckPredicates(v, absl::StrCat(at, ".any_of[", j, "].all_of"), r.any_of(j).all_of());
      }
    }
  }
  if (p.schemes().empty()) v.Add("program.schemes", "needs a scheme");
  if (p.schemes_size() > 100) {
    v.Add("program.schemes", "more than 100");
  } else {
    std::set<std::string> codes;
    for (int i = 0; i < p.schemes_size(); ++i) {
      const v1::Scheme& s = p.schemes(i);
      const std::string at = absl::StrCat("program.schemes[", i, "]");
      v.Check(Text(absl::StrCat(at, ".code"), s.code(), true));
      if (!codes.insert(s.code()).second) v.Add(absl::StrCat(at, ".code"), "used twice");
      v.Check(Text(absl::StrCat(at, ".name"), s.name(), false));
      std::optional<absl::CivilDay> from =
          v.Value(ParseCivilDay(s.valid_from(), absl::StrCat(at, ".valid_from")));
      if (!s.valid_to().empty()) {
        std::optional<absl::CivilDay> to =
            v.Value(ParseCivilDay(s.valid_to(), absl::StrCat(at, ".valid_to")));
        if (from && to && *to < *from) v.Add(absl::StrCat(at, ".valid_to"), "is before valid_from");
      }
    }
  }
  if (p.one_time_fees() < 0) v.Add("program.one_time_fees", "must not be negative");
  if (!p.yearly_insurance_rate().empty()) {
    v.Check(ParseRate(p.yearly_insurance_rate(), "program.yearly_insurance_rate").status());
  }
  if (p.kind() == v1::PROGRAM_KIND_FAMILY) {
    if (p.family().limit() <= 0) v.Add("program.family.limit", "a family program needs its limit");
    v.Check(ParseRate(p.family().market_rate(), "program.family.market_rate").status());
  }
  if (p.kind() == v1::PROGRAM_KIND_SUBSIDISED) {
    if (p.subsidy().months() <= 0 || p.subsidy().months() > 600) {
      v.Add("program.subsidy.months", "a subsidised program needs 1..600 months");
    }
    v.Check(ParseRate(p.subsidy().rate_after(), "program.subsidy.rate_after").status());
  }
}

absl::Status ValidateProgram(const v1::Program& p) {
  Violations v;
  ValidateProgram(v, p);
  return v.Status();
}

void CheckOperation(Violations& v, v1::Operation op) {
  if (op != v1::OPERATION_SET && op != v1::OPERATION_CANCEL)
    v.Add("document.operation", "must be SET or CANCEL");
}

absl::Status ValidateRateDocument(const v1::RateDocument& d) {
  Violations v;
  v.Check(ParseCivilDay(d.date(), "document.date").status());
  CheckOperation(v, d.operation());
  if (!IsUuid(d.bank_id())) v.Add("document.bank_id", "must be a UUID");
  if (!IsUuid(d.program_id())) v.Add("document.program_id", "must be a UUID");
  v.Check(Text("document.scheme_code", d.scheme_code(), true));
  v.Check(Text("document.number", d.number(), false));
  v.Check(Text("document.comment", d.comment(), false));
  if (d.operation() == v1::OPERATION_SET && d.cells().empty()) {
    v.Add("document.cells", "a SET document needs at least one rate");
  }
  if (d.operation() == v1::OPERATION_CANCEL && (!d.cells().empty() || !d.adjustments().empty())) {
    v.Add("document.cells", "a CANCEL document carries no rates");
  }
  if (d.cells_size() > kMaxItems) {
    v.Add("document.cells", "more than 500");
  } else {
    for (int i = 0; i < d.cells_size(); ++i) {
      const std::string at = absl::StrCat("document.cells[", i, "]");
      v.Check(ParseRate(d.cells(i).rate(), absl::StrCat(at, ".rate")).status());
      CheckPredicates(v, absl::StrCat(at, ".when"), d.cells(i).when());
    }
  }
  if (d.adjustments_size() > 50) {
    v.Add("document.adjustments", "more than 50");
  } else {
    for (int i = 0; i < d.adjustments_size(); ++i) {
      const v1::RateAdjustment& a = d.adjustments(i);
      const std::string at = absl::StrCat("document.adjustments[", i, "]");
      v.Check(Text(absl::StrCat(at, ".code"), a.code(), true));
      v.Check(Text(absl::StrCat(at, ".text"), a.text(), false));
      std::string_view delta = a.delta();
      if (!delta.empty() && delta.front() == '-') delta.remove_prefix(1);
      v.Check(ParseRate(delta, absl::StrCat(at, ".delta")).status());
      CheckPredicates(v, absl::StrCat(at, ".when"), a.when());
    }
  }
  return v.Status();
}

absl::Status ValidateStopFactors(const v1::StopFactorDocument& d) {
  Violations v;
  v.Check(ParseCivilDay(d.date(), "document.date").status());
  CheckOperation(v, d.operation());
  if (!IsUuid(d.bank_id())) v.Add("document.bank_id", "must be a UUID");
  v.Check(Text("document.number", d.number(), false));
  if (d.factors_size() > 100) return (v.Add("document.factors", "more than 100"), v.Status());
  for (int i = 0; i < d.factors_size(); ++i) {
    const v1::StopFactor& f = d.factors(i);
    const std::string at = absl::StrCat("document.factors[", i, "]");
    v.Check(Text(absl::StrCat(at, ".code"), f.code(), true));
    v.Check(Text(absl::StrCat(at, ".text"), f.text(), true));
    if (f.parameter() == v1::PARAMETER_UNSPECIFIED || !v1::Parameter_IsValid(f.parameter())) {
      v.Add(absl::StrCat(at, ".parameter"), "must be a known parameter");
    }
    if (!f.has_min() && !f.has_max()) v.Add(at, "needs min or max");
    if (f.has_min() && f.has_max() && f.min() > f.max()) v.Add(absl::StrCat(at, ".max"), "is below min");
  }
  return v.Status();
}

absl::Status ValidatePti(const v1::PtiDocument& d) {
  Violations v;
  v.Check(ParseCivilDay(d.date(), "document.date").status());
  v.Check(Text("document.number", d.number(), false));
  if (d.entries().empty()) v.Add("document.entries", "needs at least one bank");
  if (d.entries_size() > kMaxItems) return (v.Add("document.entries", "more than 500"), v.Status());
  std::set<std::string> banks;
  for (int i = 0; i < d.entries_size(); ++i) {
    const std::string at = absl::StrCat("document.entries[", i, "]");
    if (!IsUuid(d.entries(i).bank_id())) {
      v.Add(absl::StrCat(at, ".bank_id"), "must be a UUID");
    } else if (!banks.insert(d.entries(i).bank_id()).second) {
      v.Add(absl::StrCat(at, ".bank_id"), "listed twice");
    }
    std::optional<Rate> r = v.Value(ParseRate(d.entries(i).coefficient(), absl::StrCat(at, ".coefficient")));
    if (r && r->e8 <= 0) v.Add(absl::StrCat(at, ".coefficient"), "must be above 0");
  }
  return v.Status();
}

void Bump(pqxx::work& tx) { tx.exec0("UPDATE reference_state SET version = version + 1"); }

// The next free number of `table` from `sequence`, `width` digits: numbers given explicitly (the demo's
// «80004586», a document entered with its paper number) are skipped, never refused as "in use" to a
// client who gave none.
std::string NextNumber(pqxx::work& tx, const char* sequence, const char* table, int width) {
  const std::string next = absl::StrCat("SELECT nextval('", sequence, "')");
  const std::string used = absl::StrCat("SELECT 1 FROM ", table, " WHERE number = $1");
  while (true) {
    const std::string number = absl::StrFormat("%0*d", width, tx.exec1(next)[0].as<int64_t>());
    if (pg::ExecPrepared(tx, used, number).empty()) return number;
  }
}

absl::Status CheckBank(pqxx::work& tx, const std::string& id, std::string_view field) {
  if (tx.exec_params("SELECT 1 FROM banks WHERE id = $1::uuid", id).empty()) {
    return absl::NotFoundError(absl::StrCat(AsAbsl(field), ": bank ", id));
  }
  return absl::OkStatus();
}

void InsertBank(pqxx::work& tx, const v1::Bank& b) {
  std::string holder;
  tx.exec_params("INSERT INTO banks (id, code, name, version, archived, body) VALUES ($1::uuid, $2, $3, $4, $5, $6)",
                 b.id(), b.code(), b.name(), b.version(), b.archived(), Body(b, holder));
}

void InsertProgram(pqxx::work& tx, const v1::Program& p) {
  std::string holder;
  tx.exec_params(
      "INSERT INTO programs (id, bank_id, code, name, version, archived, body) "
      "VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7)",
      p.id(), p.bank_id(), p.code(), p.name(), p.version(), p.archived(), Body(p, holder));
}

absl::Status InsertRateDocument(pqxx::work& tx, v1::RateDocument& d, absl::Time now) {
  pqxx::result prog = tx.exec_params("SELECT bank_id::text, body FROM programs WHERE id = $1::uuid", d.program_id());
  if (prog.empty()) return absl::NotFoundError(absl::StrCat("document.program_id: program ", d.program_id()));
  if (prog[0][0].as<std::string>() != d.bank_id()) {
    return InvalidFieldError("document.program_id", "is not a program of document.bank_id");
  }
  CRM_ASSIGN_OR_RETURN(v1::Program program, ParseBody<v1::Program>(prog[0][1], "program"));
  if (std::none_of(program.schemes().begin(), program.schemes().end(),
                   [&](const v1::Scheme& s) { return s.code() == d.scheme_code(); })) {
    return InvalidFieldError("document.scheme_code", absl::StrCat("not a scheme of program ", program.code()));
  }
  if (d.id().empty()) d.set_id(NewUuidV7());
  if (d.number().empty()) d.set_number(NextNumber(tx, "rate_document_numbers", "rate_documents", 8));
  *d.mutable_register_time() = ToProtoTimestamp(now);
  std::string holder;
  tx.exec_params(
      "INSERT INTO rate_documents (id, number, date, operation, bank_id, program_id, scheme_code, body, "
      "registered_at, registered_by) VALUES ($1::uuid, $2, $3::date, $4, $5::uuid, $6::uuid, $7, $8, "
      "$9::timestamptz, $10)",
      d.id(), d.number(), d.date(), static_cast<int>(d.operation()), d.bank_id(), d.program_id(), d.scheme_code(),
      Body(d, holder), FormatRfc3339Utc(now), d.registered_by());
  return absl::OkStatus();
}

absl::Status InsertStopFactors(pqxx::work& tx, v1::StopFactorDocument& d, absl::Time now) {
  CRM_RETURN_IF_ERROR(CheckBank(tx, d.bank_id(), "document.bank_id"));
  if (d.id().empty()) d.set_id(NewUuidV7());
  if (d.number().empty())
    d.set_number(NextNumber(tx, "stop_factor_document_numbers", "stop_factor_documents", 9));
  *d.mutable_register_time() = ToProtoTimestamp(now);
  std::string holder;
  tx.exec_params(
      "INSERT INTO stop_factor_documents (id, number, date, operation, bank_id, body, registered_at, registered_by) "
      "VALUES ($1::uuid, $2, $3::date, $4, $5::uuid, $6, $7::timestamptz, $8)",
      d.id(), d.number(), d.date(), static_cast<int>(d.operation()), d.bank_id(), Body(d, holder),
      FormatRfc3339Utc(now), d.registered_by());
  return absl::OkStatus();
}

absl::Status InsertPti(pqxx::work& tx, v1::PtiDocument& d, absl::Time now) {
  for (int i = 0; i < d.entries_size(); ++i) {
    CRM_RETURN_IF_ERROR(CheckBank(tx, d.entries(i).bank_id(), absl::StrCat("document.entries[", i, "].bank_id")));
  }
  if (d.id().empty()) d.set_id(NewUuidV7());
  if (d.number().empty()) d.set_number(NextNumber(tx, "pti_document_numbers", "pti_documents", 9));
  *d.mutable_register_time() = ToProtoTimestamp(now);
  std::string holder;
  const std::string at = FormatRfc3339Utc(now);
  tx.exec_params(
      "INSERT INTO pti_documents (id, number, date, body, registered_at, registered_by) "
      "VALUES ($1::uuid, $2, $3::date, $4, $5::timestamptz, $6)",
      d.id(), d.number(), d.date(), Body(d, holder), at, d.registered_by());
  for (const auto& e : d.entries()) {
    tx.exec_params(
        "INSERT INTO pti_entries (document_id, bank_id, date, registered_at, coefficient) "
        "VALUES ($1::uuid, $2::uuid, $3::date, $4::timestamptz, $5)",
        d.id(), e.bank_id(), d.date(), at, e.coefficient());
  }
  return absl::OkStatus();
}

// Runs `fn` in a transaction that also bumps the catalogue's version, honouring the idempotency key.
template <typename Reply>
absl::StatusOr<Reply> Write(pg::Pool& pool, const Clock& clock, const Principal& caller, std::string_view method,
                            std::string_view key, const google::protobuf::Message& request,
                            absl::FunctionRef<absl::Status(pqxx::work&, Reply&)> fn) {
  const pg::IdempotencyScope scope{.caller = rpc::IdempotencyCaller(caller),
                                   .method = std::string(method),
                                   .key = std::string(key)};
  Reply out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
    return pg::RunIdempotent(tx, scope, clock.Now(), request, out, [&]() -> absl::Status {
      CRM_RETURN_IF_ERROR(fn(tx, out));
      Bump(tx);
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::Status UniqueViolationAs(absl::Status s, std::string_view field, std::string_view what) {
  if (pg::SqlState(s) == "23505") return absl::AlreadyExistsError(absl::StrCat(AsAbsl(field), ": ", AsAbsl(what)));
  return s;
}

// Registers a document: validates, then inserts it with the caller as its author, honouring the
// idempotency key. `Request` is the RPC's request type (what the key's fingerprint is taken of).
template <typename Request, typename Doc>
absl::StatusOr<Doc> PostDocument(pg::Pool& pool, const Clock& clock, const Principal& caller, std::string_view method,
                                 std::string_view key, const Doc& in, absl::Status valid,
                                 absl::Status (*insert)(pqxx::work&, Doc&, absl::Time)) {
  CRM_RETURN_IF_ERROR(valid);
  Request request;
  *request.mutable_document() = in;
  absl::StatusOr<Doc> out =
      Write<Doc>(pool, clock, caller, method, key, request, [&](pqxx::work& tx, Doc& doc) -> absl::Status {
        doc = in;
        doc.clear_id();
        doc.set_registered_by(Actor(caller));
        return insert(tx, doc, clock.Now());
      });
  if (!out.ok()) return UniqueViolationAs(out.status(), "document.number", "the number is in use");
  return out;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Reference>> Snapshot::At(absl::CivilDay day) const {
  {
    absl::MutexLock lock(&mu_);
    auto it = by_day_.find(day);
    if (it != by_day_.end()) return it->second;
  }
  CRM_ASSIGN_OR_RETURN(Reference resolved, ResolveReference(day, catalog_));
  auto shared = std::make_shared<const Reference>(std::move(resolved));
  absl::MutexLock lock(&mu_);
  if (by_day_.size() > 64) by_day_.clear();  // a bound: callers ask for a handful of days
  return by_day_.emplace(day, std::move(shared)).first->second;
}

ReferenceStore::ReferenceStore(pg::Pool& pool, const Clock& clock, ReferenceStoreOptions options)
    : pool_(pool), clock_(clock), options_(options) {}

absl::StatusOr<v1::Bank> ReferenceStore::CreateBank(const Principal& caller, const v1::Bank& in,
                                                    std::string_view key) {
  CRM_RETURN_IF_ERROR(ValidateBank(in));
  v1::CreateBankRequest request;
  *request.mutable_bank() = in;
  absl::StatusOr<v1::Bank> out = Write<v1::Bank>(
      pool_, clock_, caller, "crm.mortgage.v1.ReferenceService/CreateBank", key, request,
      [&](pqxx::work& tx, v1::Bank& bank) -> absl::Status {
        bank = in;
        bank.set_id(NewUuidV7());
        bank.set_version(1);
        InsertBank(tx, bank);
        return absl::OkStatus();
      });
  if (!out.ok()) return UniqueViolationAs(out.status(), "bank.code", absl::StrCat("a bank with code ", in.code(), " exists"));
  Invalidate();
  return out;
}

absl::StatusOr<v1::Bank> ReferenceStore::UpdateBank(const Principal& caller,
                                                    const v1::UpdateBankRequest& req) {
  const v1::Bank& in = req.bank();
  Violations v;
  if (!IsUuid(in.id())) v.Add("bank.id", "must be a UUID");
  const std::optional<google::protobuf::FieldMask> mask =
      v.Value(EffectiveMask(req.update_mask(), *v1::Bank::descriptor(), {"id", "version"}));
  CRM_RETURN_IF_ERROR(v.Status());
  absl::StatusOr<v1::Bank> out =
      Write<v1::Bank>(pool_, clock_, caller, "crm.mortgage.v1.ReferenceService/UpdateBank", "", req,
                      [&](pqxx::work& tx, v1::Bank& bank) -> absl::Status {
                        pqxx::result r = pg::ExecPrepared(tx, kLockBank, in.id());
                        if (r.empty()) return absl::NotFoundError(absl::StrCat("bank ", in.id()));
                        CRM_ASSIGN_OR_RETURN(bank, ParseBody<v1::Bank>(r[0][0], "bank"));
                        CRM_RETURN_IF_ERROR(CheckVersion("bank", in.id(), in.version(), bank.version()));
                        ApplyMask(*mask, in, bank);  // issue 16: only the masked fields change
                        CRM_RETURN_IF_ERROR(ValidateBank(bank));
                        bank.set_version(bank.version() + 1);
                        std::string holder;
                        pg::ExecPrepared(tx, kUpdateBank, bank.id(), bank.code(), bank.name(), bank.version(),
                                         bank.archived(), Body(bank, holder));
                        return absl::OkStatus();
                      });
  if (!out.ok()) return UniqueViolationAs(out.status(), "bank.code", absl::StrCat("a bank with code ", in.code(), " exists"));
  Invalidate();
  return out;
}

absl::StatusOr<v1::ListBanksResponse> ReferenceStore::ListBanks(const v1::ListBanksRequest& req) {
  Violations v;
  const std::optional<int> size = v.Value(PageSize(req.page_size(), kDefaultPageSize, kMaxPageSize));
  std::optional<std::vector<std::string>> after = v.Value(DecodePageToken(req.page_token(), 2));
  if (after && !after->empty() && !IsUuid((*after)[1])) v.Add("page_token", "not a token this list returned");
  CRM_RETURN_IF_ERROR(v.Status());
  if (after->empty()) after = std::vector<std::string>{"", ""};
  v1::ListBanksResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        const pqxx::result rows =
            pg::ExecPrepared(tx, kListBanks, req.include_archived(), (*after)[0], (*after)[1], *size + 1);
        for (int i = 0; i < static_cast<int>(rows.size()) && i < *size; ++i) {
          CRM_ASSIGN_OR_RETURN(*out.add_banks(), ParseBody<v1::Bank>(rows[i][0], "bank"));
        }
        if (static_cast<int>(rows.size()) > *size) {
          const v1::Bank& last = out.banks(*size - 1);
          out.set_next_page_token(EncodePageToken({last.name(), last.id()}));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::Program> ReferenceStore::CreateProgram(const Principal& caller, const v1::Program& in,
                                                          std::string_view key) {
  Violations v;
  if (!IsUuid(in.bank_id())) v.Add("program.bank_id", "must be a UUID");
  ValidateProgram(v, in);
  CRM_RETURN_IF_ERROR(v.Status());
  v1::CreateProgramRequest request;
  *request.mutable_program() = in;
  absl::StatusOr<v1::Program> out = Write<v1::Program>(
      pool_, clock_, caller, "crm.mortgage.v1.ReferenceService/CreateProgram", key, request,
      [&](pqxx::work& tx, v1::Program& program) -> absl::Status {
        CRM_RETURN_IF_ERROR(CheckBank(tx, in.bank_id(), "program.bank_id"));
        program = in;
        program.set_id(NewUuidV7());
        program.set_version(1);
        for (auto& s : *program.mutable_schemes()) s.set_id(NewUuidV7());
        InsertProgram(tx, program);
        return absl::OkStatus();
      });
  if (!out.ok()) {
    return UniqueViolationAs(out.status(), "program.code", absl::StrCat("the bank has a program with code ", in.code()));
  }
  Invalidate();
  return out;
}

absl::StatusOr<v1::Program> ReferenceStore::UpdateProgram(const Principal& caller,
                                                          const v1::UpdateProgramRequest& req) {
  const v1::Program& in = req.program();
  Violations v;
  if (!IsUuid(in.id())) v.Add("program.id", "must be a UUID");
  // A program stays with its bank: bank_id is ignored like the output-only fields.
  const std::optional<google::protobuf::FieldMask> mask =
      v.Value(EffectiveMask(req.update_mask(), *v1::Program::descriptor(), {"id", "version", "bank_id"}));
  CRM_RETURN_IF_ERROR(v.Status());
  absl::StatusOr<v1::Program> out = Write<v1::Program>(
      pool_, clock_, caller, "crm.mortgage.v1.ReferenceService/UpdateProgram", "", req,
      [&](pqxx::work& tx, v1::Program& program) -> absl::Status {
        pqxx::result r = pg::ExecPrepared(tx, kLockProgram, in.id());
        if (r.empty()) return absl::NotFoundError(absl::StrCat("program ", in.id()));
        CRM_ASSIGN_OR_RETURN(program, ParseBody<v1::Program>(r[0][0], "program"));
        CRM_RETURN_IF_ERROR(CheckVersion("program", in.id(), in.version(), program.version()));
        ApplyMask(*mask, in, program);  // issue 16: only the masked fields change
        CRM_RETURN_IF_ERROR(ValidateProgram(program));
        program.set_version(program.version() + 1);
        for (auto& s : *program.mutable_schemes()) {
          if (s.id().empty()) s.set_id(NewUuidV7());
        }
        std::string holder;
        pg::ExecPrepared(tx, kUpdateProgram, program.id(), program.code(), program.name(), program.version(),
                         program.archived(), Body(program, holder));
        return absl::OkStatus();
      });
  if (!out.ok()) {
    return UniqueViolationAs(out.status(), "program.code", absl::StrCat("the bank has a program with code ", in.code()));
  }
  Invalidate();
  return out;
}

absl::StatusOr<v1::ListProgramsResponse> ReferenceStore::ListPrograms(const v1::ListProgramsRequest& req) {
  Violations v;
  if (!req.bank_id().empty() && !IsUuid(req.bank_id())) v.Add("bank_id", "must be a UUID");
  const std::optional<int> size = v.Value(PageSize(req.page_size(), kDefaultPageSize, kMaxPageSize));
  std::optional<std::vector<std::string>> after = v.Value(DecodePageToken(req.page_token(), 2));
  if (after && !after->empty() && !IsUuid((*after)[0])) v.Add("page_token", "not a token this list returned");
  CRM_RETURN_IF_ERROR(v.Status());
  if (after->empty()) after = std::vector<std::string>{"", ""};
  v1::ListProgramsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        const pqxx::result rows = pg::ExecPrepared(tx, kListPrograms, req.bank_id(), req.include_archived(),
                                                   (*after)[0], (*after)[1], *size + 1);
        for (int i = 0; i < static_cast<int>(rows.size()) && i < *size; ++i) {
          CRM_ASSIGN_OR_RETURN(*out.add_programs(), ParseBody<v1::Program>(rows[i][0], "program"));
        }
        if (static_cast<int>(rows.size()) > *size) {
          const v1::Program& last = out.programs(*size - 1);
          out.set_next_page_token(EncodePageToken({last.bank_id(), last.code()}));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::RateDocument> ReferenceStore::PostRateDocument(const Principal& caller, const v1::RateDocument& in,
                                                                  std::string_view key) {
  absl::StatusOr<v1::RateDocument> out = PostDocument<v1::PostRateDocumentRequest>(
      pool_, clock_, caller, "crm.mortgage.v1.ReferenceService/PostRateDocument", key, in,
      ValidateRateDocument(in), &InsertRateDocument);
  if (out.ok()) Invalidate();
  return out;
}

absl::StatusOr<v1::ListRateDocumentsResponse> ReferenceStore::ListRateDocuments(
    const v1::ListRateDocumentsRequest& req) {
  Violations v;
  if (!req.bank_id().empty() && !IsUuid(req.bank_id())) v.Add("bank_id", "must be a UUID");
  if (!req.program_id().empty() && !IsUuid(req.program_id())) v.Add("program_id", "must be a UUID");
  if (req.page_size() < 0) v.Add("page_size", "must not be negative");
  const int size = req.page_size() == 0 ? 50 : std::min(req.page_size(), 500);
  // The token is the last row's (registered_at in microseconds, id): the keyset of rate_documents_bank.
  int64_t after_us = 0;
  std::string after_id;  // "" = the first page
  if (!req.page_token().empty()) {
    std::vector<std::string> parts = absl::StrSplit(req.page_token(), '/');
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &after_us) || !IsUuid(parts[1])) {
      v.Add("page_token", "not a token this list returned");
    } else {
      after_id = parts[1];
    }
  }
  CRM_RETURN_IF_ERROR(v.Status());
  v1::ListRateDocumentsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    out.Clear();
    pqxx::result rows = tx.exec_params(
        "SELECT body, " + pg::MicrosOf("registered_at") + ", id::text FROM rate_documents "
        "WHERE ($1 = '' OR bank_id = NULLIF($1, '')::uuid) AND ($2 = '' OR program_id = NULLIF($2, '')::uuid) "
        "AND ($4 = '' OR (registered_at, id) < (" + pg::TimeOfMicros(3) + ", NULLIF($4, '')::uuid)) "
        "ORDER BY registered_at DESC, id DESC LIMIT $5",
        req.bank_id(), req.program_id(), after_us, after_id, size + 1);
    for (int i = 0; i < static_cast<int>(rows.size()) && i < size; ++i) {
      CRM_ASSIGN_OR_RETURN(*out.add_rate_documents(),
                           ParseBody<v1::RateDocument>(rows[i][0], "rate document"));
    }
    if (static_cast<int>(rows.size()) > size) {
      out.set_next_page_token(absl::StrCat(rows[size - 1][1].as<int64_t>(), "/", rows[size - 1][2].as<std::string>()));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::StopFactorDocument> ReferenceStore::PostStopFactorDocument(const Principal& caller,
                                                                              const v1::StopFactorDocument& in,
                                                                              std::string_view key) {
  absl::StatusOr<v1::StopFactorDocument> out = PostDocument<v1::PostStopFactorDocumentRequest>(
      pool_, clock_, caller, "crm.mortgage.v1.ReferenceService/PostStopFactorDocument", key, in,
      ValidateStopFactors(in), &InsertStopFactors);
  if (out.ok()) Invalidate();
  return out;
}

absl::StatusOr<v1::PtiDocument> ReferenceStore::PostPtiDocument(const Principal& caller, const v1::PtiDocument& in,
                                                                std::string_view key) {
  absl::StatusOr<v1::PtiDocument> out = PostDocument<v1::PostPtiDocumentRequest>(
      pool_, clock_, caller, "crm.mortgage.v1.ReferenceService/PostPtiDocument", key, in, ValidatePti(in),
      &InsertPti);
  if (out.ok()) Invalidate();
  return out;
}

void ReferenceStore::Invalidate() {
  absl::MutexLock lock(&mu_);
  checked_ = absl::InfinitePast();
}

absl::StatusOr<std::shared_ptr<const Snapshot>> ReferenceStore::Current() {
  const absl::Time now = absl::Now();  // refresh pacing is real time, whatever the injected clock says
  std::shared_ptr<const Snapshot> current;
  {
    absl::MutexLock lock(&mu_);
    if (snapshot_ != nullptr && now - checked_ < options_.refresh) return snapshot_;
    current = snapshot_;
  }
  std::shared_ptr<const Snapshot> fresh;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    // One consistent read (REPEATABLE READ): the version and the rows it counts.
    const int64_t version = tx.exec1("SELECT version FROM reference_state")[0].as<int64_t>();
    if (current != nullptr && current->version() == version) {
      fresh = current;
      return absl::OkStatus();
    }
    Catalog catalog;
    for (const auto& row : tx.exec("SELECT body FROM banks ORDER BY name, id")) {
      CRM_ASSIGN_OR_RETURN(catalog.banks.emplace_back(), ParseBody<v1::Bank>(row[0], "bank"));
    }
    for (const auto& row : tx.exec("SELECT body FROM programs ORDER BY bank_id, code")) {
      CRM_ASSIGN_OR_RETURN(catalog.programs.emplace_back(), ParseBody<v1::Program>(row[0], "program"));
    }
    for (const auto& row : tx.exec("SELECT body FROM rate_documents ORDER BY date, registered_at, number")) {
      CRM_ASSIGN_OR_RETURN(catalog.rate_documents.emplace_back(), ParseBody<v1::RateDocument>(row[0], "rate document"));
    }
    for (const auto& row : tx.exec("SELECT body FROM stop_factor_documents ORDER BY date, registered_at, number")) {
      CRM_ASSIGN_OR_RETURN(catalog.stop_factor_documents.emplace_back(),
                           ParseBody<v1::StopFactorDocument>(row[0], "stop factor document"));
    }
    for (const auto& row : tx.exec("SELECT body FROM pti_documents ORDER BY date, registered_at, number")) {
      CRM_ASSIGN_OR_RETURN(catalog.pti_documents.emplace_back(), ParseBody<v1::PtiDocument>(row[0], "PTI document"));
    }
    fresh = std::make_shared<const Snapshot>(version, std::move(catalog));
    return absl::OkStatus();
  }, pg::TxOptions{.isolation = pg::TxOptions::Isolation::kRepeatableRead}));
  absl::MutexLock lock(&mu_);
  if (snapshot_ == nullptr || fresh->version() >= snapshot_->version()) snapshot_ = fresh;
  checked_ = now;
  return snapshot_;
}

absl::StatusOr<bool> ReferenceStore::Install(const Catalog& catalog) {
  if (catalog.banks.empty()) return false;
  for (const auto& b : catalog.banks) CRM_RETURN_IF_ERROR(ValidateBank(b));
  for (const auto& p : catalog.programs) CRM_RETURN_IF_ERROR(ValidateProgram(p));
  for (const auto& d : catalog.rate_documents) CRM_RETURN_IF_ERROR(ValidateRateDocument(d));
  for (const auto& d : catalog.stop_factor_documents) CRM_RETURN_IF_ERROR(ValidateStopFactors(d));
  for (const auto& d : catalog.pti_documents) CRM_RETURN_IF_ERROR(ValidatePti(d));
  bool wrote = false;
  const absl::Time now = clock_.Now();
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    tx.exec("SELECT pg_advisory_xact_lock(hashtext('mortgage-demo'))");
    if (!tx.exec_params("SELECT 1 FROM banks WHERE id = $1::uuid", catalog.banks.front().id()).empty()) {
      return absl::OkStatus();
    }
    for (const auto& b : catalog.banks) InsertBank(tx, b);
    for (const auto& p : catalog.programs) InsertProgram(tx, p);
    for (v1::RateDocument d : catalog.rate_documents) CRM_RETURN_IF_ERROR(InsertRateDocument(tx, d, now));
    for (v1::StopFactorDocument d : catalog.stop_factor_documents) CRM_RETURN_IF_ERROR(InsertStopFactors(tx, d, now));
    for (v1::PtiDocument d : catalog.pti_documents) CRM_RETURN_IF_ERROR(InsertPti(tx, d, now));
    Bump(tx);
    wrote = true;
    return absl::OkStatus();
  }));
  Invalidate();
  return wrote;
}

}  // namespace crm::mortgage
