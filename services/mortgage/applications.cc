#include "services/mortgage/deal_applications.h"
#include "services/mortgage/applications.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <pqxx/binarystring>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "crm/mortgage/v1/events.pb.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/pg/sql_time.h"
#include "libs/rpc/call.h"
#include "services/mortgage/masks.h"
#include "services/mortgage/paging.h"
#include "services/mortgage/sql.h"
#include "services/mortgage/violations.h"

namespace crm::mortgage {
namespace {

using crm::common::v1::Principal;

constexpr char kRead[] = "mortgage.read.all";
constexpr char kManage[] = "mortgage.manage";
constexpr char kCalculate[] = "mortgage.calculate";

constexpr char kCalculationSaved[] = "crm.mortgage.calculation.saved.v1";
constexpr char kApplicationCreated[] = "crm.mortgage.application.created.v1";
constexpr char kApplicationStatusChanged[] = "crm.mortgage.application.status_changed.v1";

// The methods whose idempotency keys the store records (libs/pg/idempotency.h IdempotencyScope::method).
constexpr char kSaveCalculationMethod[] = "crm.mortgage.v1.ApplicationService/SaveCalculation";
constexpr char kCreateQuestionnaireMethod[] = "crm.mortgage.v1.ApplicationService/CreateQuestionnaire";
constexpr char kCreateApplicationMethod[] = "crm.mortgage.v1.ApplicationService/CreateApplication";
constexpr char kChangeStatusMethod[] = "crm.mortgage.v1.ApplicationService/ChangeApplicationStatus";
constexpr char kRecordBankReplyMethod[] = "crm.mortgage.v1.ApplicationService/RecordBankReply";

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 200;
constexpr size_t kMaxShortText = 300;
constexpr size_t kMaxLongText = 20000;
constexpr int kMaxListItems = 50;

// ----- SQL helpers (and Params, Run: sql.h) ---------------------------------------------------------

// The microseconds since the epoch of timestamptz `column` (0 when NULL).
std::string Micros(std::string_view column) { return absl::StrCat("coalesce(", pg::MicrosOf(column), ", 0)"); }

std::string Blob(const pqxx::field& f) { return pqxx::binarystring(f).str(); }

absl::Time FromMicros(int64_t micros) { return absl::FromUnixMicros(micros); }
absl::Time TruncMicros(absl::Time t) { return absl::FromUnixMicros(absl::ToUnixMicros(t)); }

// ----- Small rules ----------------------------------------------------------------------------------

bool SeesAll(const Principal& p) { return rpc::HasPermission(p, kRead); }

// The specialist a principal acts as: a user themself, or the user a service or API key acts for.
std::string SpecialistOf(const Principal& p) {
  if (p.kind() == Principal::KIND_USER || p.on_behalf_of_user_id().empty()) {
    return p.id().empty() ? absl::StrCat("service:", p.service()) : p.id();
  }
  return p.on_behalf_of_user_id();
}

absl::Status CheckOwner(const Actor& actor, const std::string& specialist_id, std::string_view what) {
  if (specialist_id == SpecialistOf(actor.principal) || SeesAll(actor.principal)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("the ", AsAbsl(what), " is another specialist's; missing permission ", kRead));
}

absl::Status CheckUuid(std::string_view field, const std::string& value, bool required) {
  if (value.empty()) {
    return required ? InvalidFieldError(field, "is required") : absl::OkStatus();
  }
  if (!IsUuid(value)) return InvalidFieldError(field, "must be a UUID");
  return absl::OkStatus();
}

absl::Status CheckText(std::string_view field, const std::string& value, size_t max) {
  if (value.size() > max) return InvalidFieldError(field, absl::StrCat("must be at most ", max, " bytes"));
  return absl::OkStatus();
}

// A non-negative decimal ("0.0899", "12"); empty is allowed.
bool IsDecimal(const std::string& s) {
  if (s.empty()) return true;
  if (s.size() > 32) return false;
  bool dot = false;
  bool digit = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (dot || !digit || i + 1 == s.size()) return false;
      dot = true;
    } else if (s[i] >= '0' && s[i] <= '9') {
      digit = true;
    } else {
      return false;
    }
  }
  return digit;
}

// numerator / denominator with 4 decimal places, rounded half up: "0.6667"; "" when denominator is 0.
std::string Ratio4(int64_t numerator, int64_t denominator) {
  if (denominator <= 0) return "";
  const int64_t q = (numerator * 20000 + denominator) / (2 * denominator);
  return absl::StrFormat("%d.%04d", q / 10000, q % 10000);
}

// total_seconds / count in days with 1 decimal place, rounded half up: "2.5"; "" when count is 0.
std::string AvgDays(int64_t total_seconds, int64_t count) {
  if (count <= 0) return "";
  const int64_t den = count * 86400;
  const int64_t tenths = (total_seconds * 20 + den) / (2 * den);
  return absl::StrFormat("%d.%d", tenths / 10, tenths % 10);
}

struct Period {
  absl::Time from;
  absl::Time to;  // exclusive
};

// The period's days in `zone`; nullopt after keeping its violations in `v`.
std::optional<Period> ParsePeriod(Violations& v, const v1::ReportPeriod& p, absl::TimeZone zone) {
  std::optional<absl::CivilDay> from = v.Value(ParseCivilDay(p.from(), "period.from"));
  std::optional<absl::CivilDay> to = v.Value(ParseCivilDay(p.to(), "period.to"));
  if (!from || !to) return std::nullopt;
  if (*to < *from) return (v.Add("period.to", "must not be before period.from"), std::nullopt);
  if (*to - *from > 3 * 366) return (v.Add("period.to", "a period is at most 3 years"), std::nullopt);
  return Period{absl::FromCivil(*from, zone), absl::FromCivil(*to + 1, zone)};
}

absl::StatusOr<Period> ParsePeriod(const v1::ReportPeriod& p, absl::TimeZone zone) {
  Violations v;
  std::optional<Period> period = ParsePeriod(v, p, zone);
  CRM_RETURN_IF_ERROR(v.Status());
  return *period;
}

// Page tokens: the (created_at micros, id) of the last row of the page.
std::string PageToken(int64_t micros, const std::string& id) {
  return absl::WebSafeBase64Escape(absl::StrCat(micros, ":", id));
}

struct PageKey {
  int64_t micros = 0;
  std::string id;
};

absl::StatusOr<std::optional<PageKey>> DecodePageToken(const std::string& token) {
  if (token.empty()) return std::optional<PageKey>();
  std::string raw;
  PageKey k;
  const size_t colon = absl::WebSafeBase64Unescape(token, &raw) ? raw.find(':') : std::string::npos;
  if (colon == std::string::npos || !absl::SimpleAtoi(raw.substr(0, colon), &k.micros) ||
      !IsUuid(raw.substr(colon + 1))) {
    return InvalidFieldError("page_token", "malformed page token");
  }
  k.id = raw.substr(colon + 1);
  return std::optional<PageKey>(std::move(k));
}

absl::StatusOr<int> PageSize(int32_t requested) {
  return mortgage::PageSize(requested, kDefaultPageSize, kMaxPageSize);  // the suite's page rule (paging.h)
}

// "AND (created_at, id) < (token)" for newest-first keyset pages on `alias`.
std::string AfterToken(const std::optional<PageKey>& key, std::string_view alias, Params& p) {
  if (!key) return "";
  return absl::StrCat(" AND (", AsAbsl(alias), "created_at, ", AsAbsl(alias), "id) < (",
                      p.Ts(FromMicros(key->micros)), ", ", p.Add(key->id), "::uuid)");
}

// " AND (created_at, id) > (token)" for the reports' oldest-first keyset pages on `alias`.
std::string AfterReportToken(const std::optional<PageKey>& key, std::string_view alias, Params& p) {
  if (!key) return "";
  return absl::StrCat(" AND (", AsAbsl(alias), "created_at, ", AsAbsl(alias), "id) > (",
                      p.Ts(FromMicros(key->micros)), ", ", p.Add(key->id), "::uuid)");
}

events::NewEvent Event(const Actor& actor, std::string aggregate_type, std::string aggregate_id,
                       const char* type, const google::protobuf::Message& payload,
                       const std::string& specialist_id) {
  events::NewEvent e;
  e.aggregate_type = std::move(aggregate_type);
  e.aggregate_id = std::move(aggregate_id);
  e.type = type;
  e.payload = &payload;
  e.actor = actor.principal;
  e.request_id = actor.request_id;
  e.visible_to_user_ids = {specialist_id};
  e.automation_depth = actor.automation_depth;
  e.skip_automation = actor.skip_automation;
  return e;
}

// ----- Calculations ---------------------------------------------------------------------------------

constexpr char kCalculationColumns[] =
    "c.id, c.number, c.client_id, c.deal_id, c.project, c.specialist_id, c.request, c.response, "
    "coalesce((extract(epoch from c.created_at) * 1000000)::bigint, 0)";

v1::Calculation CalculationFromRow(const pqxx::row& r, bool with_response) {
  v1::Calculation c;
  c.set_id(r[0].as<std::string>());
  c.set_number(r[1].as<std::string>());
  c.set_client_id(r[2].as<std::string>());
  c.set_deal_id(r[3].as<std::string>());
  c.set_project(r[4].as<std::string>());
  c.set_specialist_id(r[5].as<std::string>());
  c.mutable_request()->ParseFromString(Blob(r[6]));
  if (with_response) c.mutable_response()->ParseFromString(Blob(r[7]));
  *c.mutable_create_time() = ToProtoTimestamp(FromMicros(r[8].as<int64_t>()));
  return c;
}

// Prefixes the field violations of the calculator's INVALID_ARGUMENT with "calculation.request.".
absl::Status FromCalculator(const absl::Status& s) {
  std::vector<FieldViolation> v = FieldViolations(s);
  if (v.empty()) return Annotate(s, "the multi-calculation failed");
  for (FieldViolation& f : v) f.field = absl::StrCat("calculation.request.", f.field);
  absl::Status out(s.code(), absl::StrCat("calculation.request: ", s.message()));
  return WithFieldViolations(out, v);
}

// ----- Questionnaires -------------------------------------------------------------------------------

constexpr char kQuestionnaireColumns[] =
    "q.id, q.version, q.status, q.specialist_id, q.body, "
    "coalesce((extract(epoch from q.updated_at) * 1000000)::bigint, 0), "
    "coalesce((extract(epoch from q.created_at) * 1000000)::bigint, 0)";

v1::Questionnaire QuestionnaireFromRow(const pqxx::row& r) {
  v1::Questionnaire q;
  q.ParseFromString(Blob(r[4]));
  q.set_id(r[0].as<std::string>());
  q.set_version(r[1].as<int64_t>());
  q.set_status(static_cast<v1::Questionnaire::Status>(r[2].as<int>()));
  q.set_specialist_id(r[3].as<std::string>());
  *q.mutable_update_time() = ToProtoTimestamp(FromMicros(r[5].as<int64_t>()));
  *q.mutable_create_time() = ToProtoTimestamp(FromMicros(r[6].as<int64_t>()));
  return q;
}

// Every violation of a questionnaire (issue 16: all at once).
absl::Status ValidateQuestionnaire(const v1::Questionnaire& q) {
  if (q.ByteSizeLong() > 64 * 1024) return InvalidFieldError("questionnaire", "is larger than 64 KiB");
  Violations v;
  v.Check(CheckUuid("questionnaire.client_id", q.client_id(), true));
  v.Check(CheckUuid("questionnaire.deal_id", q.deal_id(), false));
  if (!v1::Questionnaire::Status_IsValid(q.status())) v.Add("questionnaire.status", "unknown status");
  v.Check(CheckText("questionnaire.full_name", q.full_name(), kMaxShortText));
  v.Check(CheckText("questionnaire.phone", q.phone(), 64));
  v.Check(CheckText("questionnaire.email", q.email(), kMaxShortText));
  v.Check(CheckText("questionnaire.employer", q.employer(), kMaxShortText));
  v.Check(CheckText("questionnaire.position", q.position(), kMaxShortText));
  if (q.co_borrower_names_size() > 10) v.Add("questionnaire.co_borrower_names", "at most 10 co-borrowers");
  for (int i = 0; i < q.co_borrower_names_size() && i < 10; ++i) {
    v.Check(CheckText(absl::StrCat("questionnaire.co_borrower_names[", i, "]"), q.co_borrower_names(i),
                      kMaxShortText));
  }
  if (q.profile().age() < 0 || q.profile().age() > 150) v.Add("questionnaire.profile.age", "must be 0..150");
  if (q.profile().monthly_income() < 0) v.Add("questionnaire.profile.monthly_income", "must not be negative");
  if (q.property().price() < 0) v.Add("questionnaire.property.price", "must not be negative");
  return v.Status();
}

// FAILED_PRECONDITION listing every required field a COMPLETE questionnaire lacks; OK for a draft.
absl::Status CheckComplete(const v1::Questionnaire& q) {
  if (q.status() != v1::Questionnaire::STATUS_COMPLETE) return absl::OkStatus();
  std::vector<FieldViolation> missing;
  auto need = [&](bool present, const char* field) {
    if (!present) missing.push_back({field, "is required for a complete questionnaire"});
  };
  need(!q.full_name().empty(), "questionnaire.full_name");
  need(!q.phone().empty(), "questionnaire.phone");
  need(q.profile().age() > 0, "questionnaire.profile.age");
  need(q.profile().monthly_income() > 0, "questionnaire.profile.monthly_income");
  need(q.property().price() > 0, "questionnaire.property.price");
  if (missing.empty()) return absl::OkStatus();
  std::vector<std::string> names;
  for (const FieldViolation& f : missing) names.push_back(f.field);
  return WithFieldViolations(absl::FailedPreconditionError(absl::StrCat(
                                 "the questionnaire is not complete; missing: ", absl::StrJoin(names, ", "))),
                             missing);
}

// ----- Applications ---------------------------------------------------------------------------------

// The refusal of a 6th bank for a client within kManyBanksWindow, in google.rpc.PreconditionFailure's
// terms — the violation's type, its subject and what to do — with confirm_many_banks named as the field
// that lifts it.
absl::Status ManyBanksRefusal(const std::string& client_id, int banks) {
  return WithFieldViolations(
      absl::FailedPreconditionError(absl::StrCat(
          "precondition ", kManyBanksViolation, " failed for client ", client_id, ": the client already has ",
          "applications to ", banks, " banks within 24 hours and the limit is ", kMaxBanksPerClient,
          " (each application is a credit-bureau inquiry); set confirm_many_banks to go on")),
      {{"confirm_many_banks", absl::StrCat("required beyond ", kMaxBanksPerClient, " banks in 24 hours")}});
}

using Status = v1::ApplicationStatus;

std::string StatusName(Status s) {
  constexpr std::string_view kPrefix = "APPLICATION_STATUS_";
  std::string name = v1::ApplicationStatus_Name(s);
  return name.rfind(kPrefix, 0) == 0 ? name.substr(kPrefix.size()) : name;
}

// The statuses an application of `kind` may move to from `from`.
std::vector<Status> AllowedNext(Status from, v1::ApplicationKind kind) {
  switch (from) {
    case v1::APPLICATION_STATUS_DRAFT:
      return {v1::APPLICATION_STATUS_SENT, v1::APPLICATION_STATUS_WITHDRAWN};
    case v1::APPLICATION_STATUS_SENT:
      return {v1::APPLICATION_STATUS_UNDER_REVIEW, v1::APPLICATION_STATUS_DOCUMENTS_REQUESTED,
              v1::APPLICATION_STATUS_APPROVED, v1::APPLICATION_STATUS_DECLINED,
              v1::APPLICATION_STATUS_WITHDRAWN};
    case v1::APPLICATION_STATUS_UNDER_REVIEW:
      return {v1::APPLICATION_STATUS_DOCUMENTS_REQUESTED, v1::APPLICATION_STATUS_APPROVED,
              v1::APPLICATION_STATUS_DECLINED, v1::APPLICATION_STATUS_WITHDRAWN};
    case v1::APPLICATION_STATUS_DOCUMENTS_REQUESTED:
      return {v1::APPLICATION_STATUS_UNDER_REVIEW, v1::APPLICATION_STATUS_APPROVED,
              v1::APPLICATION_STATUS_DECLINED, v1::APPLICATION_STATUS_WITHDRAWN};
    case v1::APPLICATION_STATUS_APPROVED:
      if (kind == v1::APPLICATION_KIND_OBJECT_APPROVAL) return {v1::APPLICATION_STATUS_WITHDRAWN};
      return {v1::APPLICATION_STATUS_ISSUED, v1::APPLICATION_STATUS_WITHDRAWN};
    default:
      return {};
  }
}

absl::Status CheckMove(const std::string& number, Status from, Status to, v1::ApplicationKind kind) {
  const std::vector<Status> next = AllowedNext(from, kind);
  if (std::find(next.begin(), next.end(), to) != next.end()) return absl::OkStatus();
  std::vector<std::string> names;
  for (Status s : next) names.push_back(StatusName(s));
  return absl::FailedPreconditionError(
      absl::StrCat("application ", number, " cannot move from ", StatusName(from), " to ", StatusName(to),
                   "; allowed next statuses: ",
                   names.empty() ? std::string("none (the status is final)") : absl::StrJoin(names, ", ")));
}

constexpr char kApplicationColumns[] =
    "a.id, a.version, a.number, a.status, a.specialist_id, a.body, "
    "coalesce((extract(epoch from a.created_at) * 1000000)::bigint, 0), "
    "coalesce((extract(epoch from a.updated_at) * 1000000)::bigint, 0), "
    "coalesce((extract(epoch from a.sent_at) * 1000000)::bigint, 0)";

v1::Application ApplicationFromRow(const pqxx::row& r) {
  v1::Application a;
  a.ParseFromString(Blob(r[5]));
  a.set_id(r[0].as<std::string>());
  a.set_version(r[1].as<int64_t>());
  a.set_number(r[2].as<std::string>());
  a.set_status(static_cast<Status>(r[3].as<int>()));
  a.set_specialist_id(r[4].as<std::string>());
  *a.mutable_create_time() = ToProtoTimestamp(FromMicros(r[6].as<int64_t>()));
  *a.mutable_update_time() = ToProtoTimestamp(FromMicros(r[7].as<int64_t>()));
  const int64_t sent = r[8].as<int64_t>();
  if (sent != 0) *a.mutable_send_time() = ToProtoTimestamp(FromMicros(sent));
  return a;
}

std::vector<v1::Application> ApplicationsFromResult(const pqxx::result& res) {
  std::vector<v1::Application> out;
  out.reserve(res.size());
  for (const pqxx::row& r : res) out.push_back(ApplicationFromRow(r));
  return out;
}

std::string UuidArray(const std::vector<std::string>& ids) {
  return absl::StrCat("{", absl::StrJoin(ids, ","), "}");
}

// Fills the replies (and the history when `with_history`) of `apps`.
void LoadDetails(pqxx::transaction_base& tx, std::vector<v1::Application*> apps, bool with_history) {
  if (apps.empty()) return;
  absl::flat_hash_map<std::string, v1::Application*> by_id;
  std::vector<std::string> ids;
  for (v1::Application* a : apps) {
    by_id[a->id()] = a;
    ids.push_back(a->id());
  }
  {
    Params p;
    const std::string sql =
        absl::StrCat("SELECT application_id, body FROM bank_replies WHERE application_id = ANY(",
                     p.Add(UuidArray(ids)), "::uuid[]) ORDER BY received_at, id");
    for (const pqxx::row& r : Run(tx, sql, p)) {
      by_id[r[0].as<std::string>()]->add_replies()->ParseFromString(Blob(r[1]));
    }
  }
  if (!with_history) return;
  Params p;
  const std::string sql =
      absl::StrCat("SELECT application_id, from_status, to_status, ", Micros("at"),
                   ", by_id, comment FROM application_history WHERE application_id = ANY(",
                   p.Add(UuidArray(ids)), "::uuid[]) ORDER BY application_id, seq");
  for (const pqxx::row& r : Run(tx, sql, p)) {
    v1::StatusChange* c = by_id[r[0].as<std::string>()]->add_history();
    c->set_from(static_cast<Status>(r[1].as<int>()));
    c->set_to(static_cast<Status>(r[2].as<int>()));
    *c->mutable_change_time() = ToProtoTimestamp(FromMicros(r[3].as<int64_t>()));
    c->set_by(r[4].as<std::string>());
    c->set_comment(r[5].as<std::string>());
  }
}

absl::StatusOr<v1::Application> LockApplication(pqxx::transaction_base& tx, const std::string& id) {
  Params p;
  const pqxx::result res =
      Run(tx,
          absl::StrCat("SELECT ", kApplicationColumns, " FROM applications a WHERE a.id = ", p.Add(id),
                       "::uuid FOR UPDATE"),
          p);
  if (res.empty()) return absl::NotFoundError(absl::StrCat("application ", id, " not found"));
  return ApplicationFromRow(res[0]);
}

// Every violation of a new application (issue 16: all at once).
absl::Status ValidateApplication(const v1::Application& a) {
  Violations v;
  v.Check(CheckUuid("application.bank_id", a.bank_id(), true));
  v.Check(CheckUuid("application.client_id", a.client_id(), true));
  v.Check(CheckUuid("application.deal_id", a.deal_id(), false));
  v.Check(CheckUuid("application.program_id", a.program_id(), false));
  v.Check(CheckUuid("application.questionnaire_id", a.questionnaire_id(), false));
  v.Check(CheckUuid("application.calculation_id", a.calculation_id(), false));
  v.Check(CheckText("application.project", a.project(), kMaxShortText));
  if (!v1::ApplicationKind_IsValid(a.kind())) v.Add("application.kind", "unknown kind");
  if (a.loan() < 0) v.Add("application.loan", "must not be negative");
  if (!IsDecimal(a.rate())) v.Add("application.rate", "must be a decimal such as \"0.0899\"");
  if (a.status() != v1::APPLICATION_STATUS_UNSPECIFIED && a.status() != v1::APPLICATION_STATUS_DRAFT) {
    v.Add("application.status", "a new application is a DRAFT");
  }
  if (a.documents_size() > kMaxListItems) {
    v.Add("application.documents", absl::StrCat("at most ", kMaxListItems, " documents"));
  } else {
    for (int i = 0; i < a.documents_size(); ++i) {
      v.Check(CheckText(absl::StrCat("application.documents[", i, "]"), a.documents(i), 2000));
    }
  }
  v.Check(CheckText("application.object_description", a.object_description(), 4000));
  if (a.kind() == v1::APPLICATION_KIND_OBJECT_APPROVAL && a.object_description().empty()) {
    v.Add("application.object_description", "is required for an object approval request");
  }
  return v.Status();
}

// Every violation of a bank's reply (issue 16: all at once).
void ValidateReply(Violations& v, const v1::BankReply& r) {
  switch (r.decision()) {
    case v1::APPLICATION_STATUS_UNDER_REVIEW:
    case v1::APPLICATION_STATUS_DOCUMENTS_REQUESTED:
    case v1::APPLICATION_STATUS_APPROVED:
    case v1::APPLICATION_STATUS_DECLINED:
      break;
    default:
      v.Add("reply.decision", "must be UNDER_REVIEW, DOCUMENTS_REQUESTED, APPROVED or DECLINED");
  }
  if (r.approved_amount() < 0) v.Add("reply.approved_amount", "must not be negative");
  if (!IsDecimal(r.approved_rate())) v.Add("reply.approved_rate", "must be a decimal such as \"0.0799\"");
  if (!r.valid_until().empty()) v.Check(ParseCivilDay(r.valid_until(), "reply.valid_until").status());
  v.Check(CheckText("reply.text", r.text(), kMaxLongText));
}

// Moves the locked `app` to `to` within `tx`: the row, a history row, and the status_changed event.
absl::Status ApplyMove(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                       absl::Time now, v1::Application& app, Status to, const std::string& comment,
                       const v1::BankReply* reply) {
  const Status from = app.status();
  Params p;
  std::string set = absl::StrCat("version = version + 1, updated_at = ", p.Ts(now));
  if (to != from) {
    absl::StrAppend(&set, ", status = ", p.Add(absl::StrCat(static_cast<int>(to))), "::smallint");
    if (to == v1::APPLICATION_STATUS_SENT)
      absl::StrAppend(&set, ", sent_at = coalesce(sent_at, ", p.Ts(now), ")");
    if (to == v1::APPLICATION_STATUS_APPROVED || to == v1::APPLICATION_STATUS_DECLINED) {
      const std::string d = p.Add(absl::StrCat(static_cast<int>(to)));
      absl::StrAppend(&set, ", decision = coalesce(decision, ", d,
                      "::smallint), decided_at = coalesce(decided_at, ", p.Ts(now), ")");
    }
    if (to == v1::APPLICATION_STATUS_ISSUED) absl::StrAppend(&set, ", issued_at = ", p.Ts(now));
  }
  if (reply != nullptr && reply->decision() == v1::APPLICATION_STATUS_APPROVED &&
      !reply->valid_until().empty()) {
    absl::StrAppend(&set, ", valid_until = ", p.Add(reply->valid_until()), "::date");
  }
  const std::string id = p.Add(app.id());
  Run(tx, absl::StrCat("UPDATE applications SET ", set, " WHERE id = ", id, "::uuid"), p);
  const std::string specialist = SpecialistOf(actor.principal);
  if (to != from) {
    Params h;
    Run(tx,
        absl::StrCat(
            "INSERT INTO application_history (application_id, from_status, to_status, at, by_id, comment) "
            "VALUES (",
            h.Add(app.id()), "::uuid, ", h.Add(absl::StrCat(static_cast<int>(from))), "::smallint, ",
            h.Add(absl::StrCat(static_cast<int>(to))), "::smallint, ", h.Ts(now), ", ", h.Add(specialist),
            ", ", h.Add(comment), ")"),
        h);
  }
  app.set_version(app.version() + 1);
  app.set_status(to);
  *app.mutable_update_time() = ToProtoTimestamp(now);
  if (to == v1::APPLICATION_STATUS_SENT && !app.has_send_time())
    *app.mutable_send_time() = ToProtoTimestamp(now);

  v1::ApplicationEvent event;
  *event.mutable_application() = app;
  event.mutable_application()->clear_history();
  event.set_previous_status(from);
  if (reply != nullptr) *event.mutable_reply() = *reply;
  return outbox
      .Append(tx,
              Event(actor, "application", app.id(), kApplicationStatusChanged, event, app.specialist_id()))
      .status();
}

}  // namespace

absl::TimeZone DefaultCompanyZone() {
  absl::StatusOr<absl::TimeZone> z = LoadTimeZone("Europe/Moscow");
  return z.ok() ? *z : absl::FixedTimeZone(3 * 3600);
}

// ----- ApplicationStore -----------------------------------------------------------------------------

ApplicationStore::ApplicationStore(pg::Pool& pool, const Clock& clock)
    : pool_(pool), clock_(clock), outbox_("mortgage", clock) {}

absl::Status ApplicationStore::InIdempotentTransaction(
    const Actor& actor, std::string_view method, std::string_view idempotency_key,
    const google::protobuf::Message& request, google::protobuf::Message& out,
    absl::FunctionRef<absl::Status(pqxx::transaction_base&)> fn) {
  const pg::IdempotencyScope scope{.caller = rpc::IdempotencyCaller(actor.principal),
                                   .method = std::string(method),
                                   .key = std::string(idempotency_key)};
  return pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return pg::RunIdempotent(tx, scope, clock_.Now(), request, out, [&]() { return fn(tx); });
  });
}

absl::StatusOr<v1::Calculation> ApplicationStore::SaveCalculation(const Actor& actor,
                                                                  const v1::SaveCalculationRequest& req,
                                                                  std::string_view idempotency_key,
                                                                  const MultiCalculator& calculate) {
  const v1::Calculation& in = req.calculation();
  Violations v;
  v.Check(CheckUuid("calculation.client_id", in.client_id(), true));
  v.Check(CheckUuid("calculation.deal_id", in.deal_id(), false));
  v.Check(CheckText("calculation.project", in.project(), kMaxShortText));
  if (!in.has_request()) v.Add("calculation.request", "is required");
  if (in.request().ByteSizeLong() > 64 * 1024) v.Add("calculation.request", "is larger than 64 KiB");
  CRM_RETURN_IF_ERROR(v.Status());
  if (!calculate) return absl::FailedPreconditionError("no multi-calculator is configured");

  // Pure and in-process: run before the transaction, which may be retried.
  v1::MultiCalculateRequest calc_req = in.request();
  calc_req.clear_schedules_for();
  absl::StatusOr<v1::MultiCalculateResponse> response = calculate(calc_req);
  if (!response.ok()) return FromCalculator(response.status());
  for (v1::Offer& o : *response->mutable_offers()) o.clear_schedule();

  const std::string specialist = SpecialistOf(actor.principal);
  v1::Calculation out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(
      actor, kSaveCalculationMethod, idempotency_key, req, out,
      [&](pqxx::transaction_base& tx) -> absl::Status {
        const absl::Time now = TruncMicros(clock_.Now());
        {
          out.Clear();
          out.set_id(NewUuidV7());
          out.set_client_id(in.client_id());
          out.set_deal_id(in.deal_id());
          out.set_project(in.project());
          *out.mutable_request() = in.request();
          *out.mutable_response() = *response;
          out.set_specialist_id(specialist);
          *out.mutable_create_time() = ToProtoTimestamp(now);
          Params p;
          const pqxx::row r =
              Run(tx,
                  absl::StrCat(
                      "INSERT INTO calculations (id, number, client_id, deal_id, project, "
                      "specialist_id, request, response, created_at) VALUES (",
                      p.Add(out.id()), "::uuid, lpad(nextval('calculation_numbers')::text, 7, '0'), ",
                      p.Add(out.client_id()), ", ", p.Add(out.deal_id()), ", ", p.Add(out.project()), ", ",
                      p.Add(specialist), ", ", p.Bytes(out.request().SerializeAsString()), ", ",
                      p.Bytes(out.response().SerializeAsString()), ", ", p.Ts(now), ") RETURNING number"),
                  p)[0];
          out.set_number(r[0].as<std::string>());
          v1::Calculation event = out;
          event.mutable_response()->clear_offers();
          return outbox_
              .Append(tx, Event(actor, "calculation", out.client_id(), kCalculationSaved, event, specialist))
              .status();
        }
      }));
  return out;
}

absl::StatusOr<v1::Calculation> ApplicationStore::GetCalculation(const Actor& actor, std::string_view id) {
  CRM_RETURN_IF_ERROR(CheckUuid("id", std::string(id), true));
  std::optional<v1::Calculation> out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        Params p;
        const pqxx::result res =
            Run(tx,
                absl::StrCat("SELECT ", kCalculationColumns,
                             " FROM calculations c WHERE c.id = ", p.Add(std::string(id)), "::uuid"),
                p);
        if (res.empty()) return absl::NotFoundError(absl::StrCat("calculation ", AsAbsl(id), " not found"));
        out = CalculationFromRow(res[0], true);
        return absl::OkStatus();
      },
      {.read_only = true}));
  CRM_RETURN_IF_ERROR(CheckOwner(actor, out->specialist_id(), "calculation"));
  return *out;
}

absl::StatusOr<v1::ListCalculationsResponse> ApplicationStore::ListCalculations(
    const Actor& actor, const v1::ListCalculationsRequest& req) {
  Violations v;
  const std::optional<int> size_or = v.Value(PageSize(req.page_size()));
  const std::optional<std::optional<PageKey>> after_or = v.Value(DecodePageToken(req.page_token()));
  v.Check(CheckUuid("client_id", req.client_id(), false));
  CRM_RETURN_IF_ERROR(v.Status());
  const int size = *size_or;
  const std::optional<PageKey> after = *after_or;
  std::string specialist = req.specialist_id();
  if (!SeesAll(actor.principal)) {
    const std::string me = SpecialistOf(actor.principal);
    if (!specialist.empty() && specialist != me) {
      return absl::PermissionDeniedError(absl::StrCat("another specialist's calculations need ", kRead));
    }
    specialist = me;
  }
  v1::ListCalculationsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        Params p;
        std::string sql = absl::StrCat("SELECT ", kCalculationColumns, " FROM calculations c WHERE TRUE");
        if (!req.client_id().empty()) absl::StrAppend(&sql, " AND c.client_id = ", p.Add(req.client_id()));
        if (!specialist.empty()) absl::StrAppend(&sql, " AND c.specialist_id = ", p.Add(specialist));
        absl::StrAppend(&sql, AfterToken(after, "c.", p), " ORDER BY c.created_at DESC, c.id DESC LIMIT ",
                        p.Add(absl::StrCat(size + 1)), "::int");
        const pqxx::result res = Run(tx, sql, p);
        for (size_t i = 0; i < res.size() && static_cast<int>(i) < size; ++i) {
          *out.add_calculations() = CalculationFromRow(res[i], false);
        }
        if (static_cast<int>(res.size()) > size) {
          const v1::Calculation& last = out.calculations(size - 1);
          out.set_next_page_token(
              PageToken(absl::ToUnixMicros(FromProtoTimestamp(last.create_time())), last.id()));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::Questionnaire> ApplicationStore::CreateQuestionnaire(
    const Actor& actor, const v1::CreateQuestionnaireRequest& req, std::string_view idempotency_key) {
  const v1::Questionnaire& in = req.questionnaire();
  CRM_RETURN_IF_ERROR(ValidateQuestionnaire(in));
  v1::Questionnaire q = in;
  if (q.status() == v1::Questionnaire::STATUS_UNSPECIFIED) q.set_status(v1::Questionnaire::STATUS_DRAFT);
  CRM_RETURN_IF_ERROR(CheckComplete(q));
  v1::Questionnaire out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(
      actor, kCreateQuestionnaireMethod, idempotency_key, req, out,
      [&](pqxx::transaction_base& tx) -> absl::Status {
        const absl::Time now = TruncMicros(clock_.Now());
        out = q;
        out.set_id(NewUuidV7());
        out.set_version(1);
        out.set_specialist_id(SpecialistOf(actor.principal));
        *out.mutable_update_time() = ToProtoTimestamp(now);
        *out.mutable_create_time() = ToProtoTimestamp(now);
        Params p;
        Run(tx,
            absl::StrCat(
                "INSERT INTO questionnaires (id, version, client_id, deal_id, status, specialist_id, body, "
                "created_at, updated_at) VALUES (",
                p.Add(out.id()), "::uuid, 1, ", p.Add(out.client_id()), ", ", p.Add(out.deal_id()), ", ",
                p.Add(absl::StrCat(static_cast<int>(out.status()))), "::smallint, ",
                p.Add(out.specialist_id()), ", ", p.Bytes(out.SerializeAsString()), ", ", p.Ts(now), ", ",
                p.Ts(now), ")"),
            p);
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<v1::Questionnaire> ApplicationStore::UpdateQuestionnaire(
    const Actor& actor, const v1::UpdateQuestionnaireRequest& req) {
  const v1::Questionnaire& in = req.questionnaire();
  Violations v;
  v.Check(CheckUuid("questionnaire.id", in.id(), true));
  if (in.version() < 0) v.Add("questionnaire.version", "must not be negative");
  const std::optional<google::protobuf::FieldMask> mask =
      v.Value(EffectiveMask(req.update_mask(), *v1::Questionnaire::descriptor(),
                            {"id", "version", "specialist_id", "update_time", "create_time"}));
  CRM_RETURN_IF_ERROR(v.Status());
  v1::Questionnaire q;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    Params p;
    const pqxx::result res =
        Run(tx,
            absl::StrCat("SELECT ", kQuestionnaireColumns,
                         " FROM questionnaires q WHERE q.id = ", p.Add(in.id()), "::uuid FOR UPDATE"),
            p);
    if (res.empty()) return absl::NotFoundError(absl::StrCat("questionnaire ", in.id(), " not found"));
    const v1::Questionnaire old = QuestionnaireFromRow(res[0]);
    CRM_RETURN_IF_ERROR(CheckOwner(actor, old.specialist_id(), "questionnaire"));
    // Issue 16: version 0 = whatever is stored (last writer wins); another than the stored one is ABORTED.
    if (in.version() != 0 && old.version() != in.version()) {
      return absl::AbortedError(absl::StrCat("questionnaire ", in.id(), " is at version ", old.version(),
                                             ", not ", in.version(), "; read it again"));
    }
    q = old;
    ApplyMask(*mask, in, q);  // issue 16: only the masked fields change
    if (q.status() == v1::Questionnaire::STATUS_UNSPECIFIED) q.set_status(v1::Questionnaire::STATUS_DRAFT);
    CRM_RETURN_IF_ERROR(ValidateQuestionnaire(q));
    CRM_RETURN_IF_ERROR(CheckComplete(q));
    const absl::Time now = TruncMicros(clock_.Now());
    q.set_version(old.version() + 1);
    *q.mutable_update_time() = ToProtoTimestamp(now);
    Params u;
    Run(tx,
        absl::StrCat("UPDATE questionnaires SET version = ", u.Add(absl::StrCat(q.version())),
                     "::bigint, client_id = ", u.Add(q.client_id()), ", deal_id = ", u.Add(q.deal_id()),
                     ", status = ", u.Add(absl::StrCat(static_cast<int>(q.status()))),
                     "::smallint, body = ", u.Bytes(q.SerializeAsString()), ", updated_at = ", u.Ts(now),
                     " WHERE id = ", u.Add(q.id()), "::uuid"),
        u);
    return absl::OkStatus();
  }));
  return q;
}

absl::StatusOr<v1::Questionnaire> ApplicationStore::GetQuestionnaire(const Actor& actor,
                                                                     std::string_view id) {
  CRM_RETURN_IF_ERROR(CheckUuid("id", std::string(id), true));
  std::optional<v1::Questionnaire> out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        Params p;
        const pqxx::result res =
            Run(tx,
                absl::StrCat("SELECT ", kQuestionnaireColumns,
                             " FROM questionnaires q WHERE q.id = ", p.Add(std::string(id)), "::uuid"),
                p);
        if (res.empty()) return absl::NotFoundError(absl::StrCat("questionnaire ", AsAbsl(id), " not found"));
        out = QuestionnaireFromRow(res[0]);
        return absl::OkStatus();
      },
      {.read_only = true}));
  CRM_RETURN_IF_ERROR(CheckOwner(actor, out->specialist_id(), "questionnaire"));
  return *out;
}

absl::StatusOr<v1::ListQuestionnairesResponse> ApplicationStore::ListQuestionnaires(
    const Actor& actor, const v1::ListQuestionnairesRequest& req) {
  Violations v;
  const std::optional<int> size_or = v.Value(PageSize(req.page_size()));
  const std::optional<std::optional<PageKey>> after_or = v.Value(DecodePageToken(req.page_token()));
  v.Check(CheckUuid("client_id", req.client_id(), false));
  CRM_RETURN_IF_ERROR(v.Status());
  const int size = *size_or;
  const std::optional<PageKey> after = *after_or;
  v1::ListQuestionnairesResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        Params p;
        std::string sql = absl::StrCat("SELECT ", kQuestionnaireColumns, " FROM questionnaires q WHERE TRUE");
        if (!req.client_id().empty()) absl::StrAppend(&sql, " AND q.client_id = ", p.Add(req.client_id()));
        if (!SeesAll(actor.principal)) {
          absl::StrAppend(&sql, " AND q.specialist_id = ", p.Add(SpecialistOf(actor.principal)));
        }
        absl::StrAppend(&sql, AfterToken(after, "q.", p), " ORDER BY q.created_at DESC, q.id DESC LIMIT ",
                        p.Add(absl::StrCat(size + 1)), "::int");
        const pqxx::result res = Run(tx, sql, p);
        for (size_t i = 0; i < res.size() && static_cast<int>(i) < size; ++i) {
          *out.add_questionnaires() = QuestionnaireFromRow(res[i]);
        }
        if (static_cast<int>(res.size()) > size) {
          out.set_next_page_token(
              PageToken(res[size - 1][6].as<int64_t>(), res[size - 1][0].as<std::string>()));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::Application> ApplicationStore::CreateApplication(const Actor& actor,
                                                                    const v1::CreateApplicationRequest& req,
                                                                    std::string_view idempotency_key,
                                                                    const PartiesCheck& check_parties) {
  const v1::Application& in = req.application();
  CRM_RETURN_IF_ERROR(ValidateApplication(in));
  const std::string specialist = SpecialistOf(actor.principal);
  const v1::ApplicationKind kind =
      in.kind() == v1::APPLICATION_KIND_UNSPECIFIED ? v1::APPLICATION_KIND_BORROWER : in.kind();
  v1::Application out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(
      actor, kCreateApplicationMethod, idempotency_key, req, out,
      [&](pqxx::transaction_base& tx) -> absl::Status {
        const absl::Time now = TruncMicros(clock_.Now());
        {
          {
            Params p;
            if (Run(tx,
                    absl::StrCat("SELECT 1 FROM banks WHERE id = ", p.Add(in.bank_id()),
                                 "::uuid AND NOT archived"),
                    p)
                    .empty()) {
              return InvalidFieldError("application.bank_id", "no such bank (or it is archived)");
            }
          }
          if (!in.program_id().empty()) {
            Params p;
            if (Run(tx,
                    absl::StrCat("SELECT 1 FROM programs WHERE id = ", p.Add(in.program_id()),
                                 "::uuid AND bank_id = ", p.Add(in.bank_id()), "::uuid"),
                    p)
                    .empty()) {
              return InvalidFieldError("application.program_id", "no such program of the bank");
            }
          }
          if (!in.questionnaire_id().empty()) {
            Params p;
            if (Run(tx,
                    absl::StrCat("SELECT 1 FROM questionnaires WHERE id = ", p.Add(in.questionnaire_id()),
                                 "::uuid"),
                    p)
                    .empty()) {
              return InvalidFieldError("application.questionnaire_id", "no such questionnaire");
            }
          }
          if (!in.calculation_id().empty()) {
            Params p;
            if (Run(tx,
                    absl::StrCat("SELECT 1 FROM calculations WHERE id = ", p.Add(in.calculation_id()),
                                 "::uuid"),
                    p)
                    .empty()) {
              return InvalidFieldError("application.calculation_id", "no such calculation");
            }
          }
          // M4: the client and the deal, as deals shows them to the caller.
          CRM_RETURN_IF_ERROR(check_parties(in));
          if (kind == v1::APPLICATION_KIND_BORROWER && !req.confirm_many_banks()) {
            // One client's creates queue here, so two concurrent ones cannot both pass the count.
            Params l;
            Run(tx,
                absl::StrCat("SELECT pg_advisory_xact_lock(hashtext(",
                             l.Add(absl::StrCat("mortgage-client:", in.client_id())), "))"),
                l);
            Params p;
            const pqxx::row r =
                Run(tx,
                    absl::StrCat(
                        "SELECT count(DISTINCT bank_id), coalesce(bool_or(bank_id = ", p.Add(in.bank_id()),
                        "::uuid), false) FROM applications WHERE client_id = ", p.Add(in.client_id()),
                        " AND kind = 1 AND created_at > ", p.Ts(now - kManyBanksWindow)),
                    p)[0];
            if (!r[1].as<bool>() && r[0].as<int>() >= kMaxBanksPerClient) {
              // A business limit, not a rate: FAILED_PRECONDITION (400), never RESOURCE_EXHAUSTED (429),
              // which client libraries retry as it is (issue 16).
              return ManyBanksRefusal(in.client_id(), r[0].as<int>());
            }
          }
          out = in;
          out.clear_history();
          out.clear_replies();
          out.set_id(NewUuidV7());
          out.set_version(1);
          out.set_kind(kind);
          out.set_status(v1::APPLICATION_STATUS_DRAFT);
          out.set_specialist_id(specialist);
          out.clear_send_time();
          *out.mutable_create_time() = ToProtoTimestamp(now);
          *out.mutable_update_time() = ToProtoTimestamp(now);
          Params p;
          const pqxx::row r = Run(
              tx,
              absl::StrCat(
                  "INSERT INTO applications (id, version, number, kind, client_id, deal_id, project, "
                  "bank_id, "
                  "status, specialist_id, body, created_at, updated_at) VALUES (",
                  p.Add(out.id()), "::uuid, 1, lpad(nextval('application_numbers')::text, 7, '0'), ",
                  p.Add(absl::StrCat(static_cast<int>(kind))), "::smallint, ", p.Add(out.client_id()), ", ",
                  p.Add(out.deal_id()), ", ", p.Add(out.project()), ", ", p.Add(out.bank_id()), "::uuid, ",
                  static_cast<int>(v1::APPLICATION_STATUS_DRAFT), ", ", p.Add(specialist), ", ",
                  p.Bytes(out.SerializeAsString()), ", ", p.Ts(now), ", ", p.Ts(now), ") RETURNING number"),
              p)[0];
          out.set_number(r[0].as<std::string>());
          LinkDealApplication(tx, out);  // issue 17: deal_applications.h
          Params h;
          Run(tx,
              absl::StrCat("INSERT INTO application_history (application_id, from_status, to_status, at, "
                           "by_id) VALUES (",
                           h.Add(out.id()), "::uuid, 0, ", static_cast<int>(v1::APPLICATION_STATUS_DRAFT),
                           ", ", h.Ts(now), ", ", h.Add(specialist), ")"),
              h);
          v1::StatusChange* c = out.add_history();
          c->set_to(v1::APPLICATION_STATUS_DRAFT);
          *c->mutable_change_time() = ToProtoTimestamp(now);
          c->set_by(specialist);
          v1::ApplicationEvent event;
          *event.mutable_application() = out;
          event.mutable_application()->clear_history();
          return outbox_
              .Append(tx, Event(actor, "application", out.id(), kApplicationCreated, event, specialist))
              .status();
        }
      }));
  return out;
}

absl::StatusOr<v1::Application> ApplicationStore::GetApplication(const Actor& actor, std::string_view id) {
  CRM_RETURN_IF_ERROR(CheckUuid("id", std::string(id), true));
  v1::Application out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        Params p;
        const pqxx::result res =
            Run(tx,
                absl::StrCat("SELECT ", kApplicationColumns,
                             " FROM applications a WHERE a.id = ", p.Add(std::string(id)), "::uuid"),
                p);
        if (res.empty()) return absl::NotFoundError(absl::StrCat("application ", AsAbsl(id), " not found"));
        out = ApplicationFromRow(res[0]);
        CRM_RETURN_IF_ERROR(CheckOwner(actor, out.specialist_id(), "application"));
        LoadDetails(tx, {&out}, true);
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ListApplicationsResponse> ApplicationStore::ListApplications(
    const Actor& actor, const v1::ListApplicationsRequest& req) {
  Violations v;
  const std::optional<int> size_or = v.Value(PageSize(req.page_size()));
  const std::optional<std::optional<PageKey>> after_or = v.Value(DecodePageToken(req.page_token()));
  v.Check(CheckUuid("client_id", req.client_id(), false));
  v.Check(CheckUuid("bank_id", req.bank_id(), false));
  v.Check(CheckUuid("deal_application_id", req.deal_application_id(), false));  // issue 17
  if (!v1::ApplicationStatus_IsValid(req.status())) v.Add("status", "unknown status");
  CRM_RETURN_IF_ERROR(v.Status());
  const int size = *size_or;
  const std::optional<PageKey> after = *after_or;
  std::string specialist = req.specialist_id();
  if (!SeesAll(actor.principal)) {
    const std::string me = SpecialistOf(actor.principal);
    if (!specialist.empty() && specialist != me) {
      return absl::PermissionDeniedError(absl::StrCat("another specialist's applications need ", kRead));
    }
    specialist = me;
  }
  v1::ListApplicationsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        Params p;
        std::string sql = absl::StrCat("SELECT ", kApplicationColumns, " FROM applications a WHERE TRUE");
        if (!req.client_id().empty()) absl::StrAppend(&sql, " AND a.client_id = ", p.Add(req.client_id()));
        if (!req.bank_id().empty())
          absl::StrAppend(&sql, " AND a.bank_id = ", p.Add(req.bank_id()), "::uuid");
        absl::StrAppend(&sql, DealApplicationFilter(req.deal_application_id(), p));  // issue 17
        if (req.status() != v1::APPLICATION_STATUS_UNSPECIFIED) {
          absl::StrAppend(&sql, " AND a.status = ", p.Add(absl::StrCat(static_cast<int>(req.status()))),
                          "::smallint");
        }
        if (!specialist.empty()) absl::StrAppend(&sql, " AND a.specialist_id = ", p.Add(specialist));
        absl::StrAppend(&sql, AfterToken(after, "a.", p), " ORDER BY a.created_at DESC, a.id DESC LIMIT ",
                        p.Add(absl::StrCat(size + 1)), "::int");
        const pqxx::result res = Run(tx, sql, p);
        std::vector<v1::Application*> page;
        for (size_t i = 0; i < res.size() && static_cast<int>(i) < size; ++i) {
          v1::Application* a = out.add_applications();
          *a = ApplicationFromRow(res[i]);
        }
        for (v1::Application& a : *out.mutable_applications()) page.push_back(&a);
        LoadDetails(tx, page, false);
        if (static_cast<int>(res.size()) > size) {
          const v1::Application& last = out.applications(size - 1);
          out.set_next_page_token(
              PageToken(absl::ToUnixMicros(FromProtoTimestamp(last.create_time())), last.id()));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::Application> ApplicationStore::ChangeStatus(const Actor& actor,
                                                               const v1::ChangeApplicationStatusRequest& req,
                                                               std::string_view idempotency_key) {
  Violations v;
  v.Check(CheckUuid("id", req.id(), true));
  if (req.version() < 0) v.Add("version", "must not be negative");
  if (!v1::ApplicationStatus_IsValid(req.status()) || req.status() == v1::APPLICATION_STATUS_UNSPECIFIED) {
    v.Add("status", "the status to move to is required");
  }
  v.Check(CheckText("comment", req.comment(), 2000));
  CRM_RETURN_IF_ERROR(v.Status());
  v1::Application out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(
      actor, kChangeStatusMethod, idempotency_key, req, out, [&](pqxx::transaction_base& tx) -> absl::Status {
        CRM_ASSIGN_OR_RETURN(out, LockApplication(tx, req.id()));
        CRM_RETURN_IF_ERROR(CheckOwner(actor, out.specialist_id(), "application"));
        if (req.version() != 0 && req.version() != out.version()) {
          return absl::AbortedError(absl::StrCat("application ", out.number(), " is at version ",
                                                 out.version(), ", not ", req.version(), "; read it again"));
        }
        CRM_RETURN_IF_ERROR(CheckMove(out.number(), out.status(), req.status(), out.kind()));
        CRM_RETURN_IF_ERROR(ApplyMove(tx, outbox_, actor, TruncMicros(clock_.Now()), out, req.status(),
                                      req.comment(), nullptr));
        LoadDetails(tx, {&out}, true);
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<v1::Application> ApplicationStore::RecordBankReply(const Actor& actor,
                                                                  const v1::RecordBankReplyRequest& req,
                                                                  std::string_view idempotency_key) {
  Violations v;
  v.Check(CheckUuid("id", req.id(), true));
  if (!req.has_reply()) {
    v.Add("reply", "is required");
  } else {
    ValidateReply(v, req.reply());
  }
  CRM_RETURN_IF_ERROR(v.Status());
  v1::Application out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(
      actor, kRecordBankReplyMethod, idempotency_key, req, out,
      [&](pqxx::transaction_base& tx) -> absl::Status {
        CRM_ASSIGN_OR_RETURN(out, LockApplication(tx, req.id()));
        CRM_RETURN_IF_ERROR(CheckOwner(actor, out.specialist_id(), "application"));
        const Status to = req.reply().decision();
        const bool repeat = to == out.status() && to != v1::APPLICATION_STATUS_DECLINED;
        if (!repeat) CRM_RETURN_IF_ERROR(CheckMove(out.number(), out.status(), to, out.kind()));
        const absl::Time now = TruncMicros(clock_.Now());
        v1::BankReply reply = req.reply();
        reply.set_id(NewUuidV7());
        if (!reply.has_receive_time()) *reply.mutable_receive_time() = ToProtoTimestamp(now);
        reply.set_recorded_by(SpecialistOf(actor.principal));
        Params p;
        Run(tx,
            absl::StrCat(
                "INSERT INTO bank_replies (id, application_id, decision, received_at, body) VALUES (",
                p.Add(reply.id()), "::uuid, ", p.Add(out.id()), "::uuid, ",
                p.Add(absl::StrCat(static_cast<int>(to))), "::smallint, ",
                p.Ts(TruncMicros(FromProtoTimestamp(reply.receive_time()))), ", ",
                p.Bytes(reply.SerializeAsString()), ")"),
            p);
        CRM_RETURN_IF_ERROR(ApplyMove(tx, outbox_, actor, now, out, to, "bank reply", &reply));
        LoadDetails(tx, {&out}, true);
        return absl::OkStatus();
      }));
  return out;
}

absl::StatusOr<v1::Desk> ApplicationStore::GetDesk(const Actor& actor, const v1::GetDeskRequest& req,
                                                   absl::Time now, absl::TimeZone zone) {
  const std::string me = SpecialistOf(actor.principal);
  const bool all = SeesAll(actor.principal);
  if (!req.specialist_id().empty() && req.specialist_id() != me && !all) {
    return absl::PermissionDeniedError(absl::StrCat("another specialist's desk needs ", kRead));
  }
  // Each list is paged by its own keyset; a token names its list (issue 16: every list paginated).
  Violations v;
  const std::optional<int> size_or =
      v.Value(mortgage::PageSize(req.page_size(), kDefaultPageSize, kMaxDeskRows));
  std::optional<std::vector<std::string>> token = v.Value(mortgage::DecodePageToken(req.page_token(), 3));
  int64_t after_micros = 0;
  if (token && !token->empty()) {
    const std::string& list = (*token)[0];
    const bool known = list == kDeskDrafts || list == kDeskDocumentsRequested || list == kDeskApproved ||
                       list == kDeskExpiring || list == kDeskQuestionnaires;
    const bool key_ok = list == kDeskExpiring ? ParseCivilDay((*token)[1], "page_token").ok()
                                              : absl::SimpleAtoi((*token)[1], &after_micros);
    if (!known || !key_ok || !IsUuid((*token)[2])) v.Add("page_token", "not a token the desk returned");
  }
  CRM_RETURN_IF_ERROR(v.Status());
  const int size = *size_or;
  const std::string only = token->empty() ? "" : (*token)[0];  // "" = every list, first pages
  // "" = every specialist.
  std::string who = req.specialist_id().empty() ? me : req.specialist_id();
  if (all && !req.only_mine() && req.specialist_id().empty()) who.clear();
  const absl::CivilDay today = absl::ToCivilDay(now, zone);
  const absl::Time day_start = absl::FromCivil(today, zone);
  const absl::Time day_end = absl::FromCivil(today + 1, zone);
  v1::Desk out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        // One list of applications in `status`: newest change first, or (expiring) soonest end first.
        auto apps = [&](const char* list, Status status, bool expiring,
                        google::protobuf::RepeatedPtrField<v1::Application>* into) {
          if (!only.empty() && only != list) return;
          Params p;
          std::string sql =
              absl::StrCat("SELECT ", kApplicationColumns, ", coalesce(a.valid_until::text, '')",
                           " FROM applications a WHERE a.status = ", static_cast<int>(status));
          if (!who.empty()) absl::StrAppend(&sql, " AND a.specialist_id = ", p.Add(who));
          if (expiring) {
            absl::StrAppend(&sql, " AND a.valid_until BETWEEN ", p.Add(absl::FormatCivilTime(today)),
                            "::date AND ", p.Add(absl::FormatCivilTime(today + kExpiringDays)), "::date");
          }
          if (only == list) {
            absl::StrAppend(&sql,
                            expiring ? " AND (a.valid_until, a.id) > (" : " AND (a.updated_at, a.id) < (",
                            expiring ? absl::StrCat(p.Add((*token)[1]), "::date")
                                     : p.Ts(absl::FromUnixMicros(after_micros)),
                            ", ", p.Add((*token)[2]), "::uuid)");
          }
          absl::StrAppend(&sql, " ORDER BY ",
                          expiring ? "a.valid_until, a.id" : "a.updated_at DESC, a.id DESC", " LIMIT ",
                          size + 1);
          const pqxx::result rows = Run(tx, sql, p);
          for (int i = 0; i < static_cast<int>(rows.size()) && i < size; ++i)
            *into->Add() = ApplicationFromRow(rows[i]);
          if (static_cast<int>(rows.size()) > size) {
            const v1::Application& last = into->Get(size - 1);
            const std::string key =
                expiring ? rows[size - 1][9].as<std::string>()
                         : absl::StrCat(absl::ToUnixMicros(FromProtoTimestamp(last.update_time())));
            (*out.mutable_next_page_tokens())[list] = mortgage::EncodePageToken({list, key, last.id()});
          }
          std::vector<v1::Application*> ptrs;
          for (v1::Application& a : *into) ptrs.push_back(&a);
          LoadDetails(tx, ptrs, false);
        };
        apps(kDeskDrafts, v1::APPLICATION_STATUS_DRAFT, false, out.mutable_drafts());
        apps(kDeskDocumentsRequested, v1::APPLICATION_STATUS_DOCUMENTS_REQUESTED, false,
             out.mutable_documents_requested());
        apps(kDeskApproved, v1::APPLICATION_STATUS_APPROVED, false, out.mutable_approved());
        apps(kDeskExpiring, v1::APPLICATION_STATUS_APPROVED, true, out.mutable_expiring());
        if (only.empty() || only == kDeskQuestionnaires) {
          Params p;
          std::string sql = absl::StrCat(
              "SELECT ", kQuestionnaireColumns,
              " FROM questionnaires q WHERE q.status = ", static_cast<int>(v1::Questionnaire::STATUS_DRAFT));
          if (!who.empty()) absl::StrAppend(&sql, " AND q.specialist_id = ", p.Add(who));
          if (only == kDeskQuestionnaires) {
            absl::StrAppend(&sql, " AND (q.updated_at, q.id) < (", p.Ts(absl::FromUnixMicros(after_micros)),
                            ", ", p.Add((*token)[2]), "::uuid)");
          }
          absl::StrAppend(&sql, " ORDER BY q.updated_at DESC, q.id DESC LIMIT ", size + 1);
          const pqxx::result rows = Run(tx, sql, p);
          for (int i = 0; i < static_cast<int>(rows.size()) && i < size; ++i) {
            *out.add_incomplete_questionnaires() = QuestionnaireFromRow(rows[i]);
          }
          if (static_cast<int>(rows.size()) > size) {
            const v1::Questionnaire& last = out.incomplete_questionnaires(size - 1);
            (*out.mutable_next_page_tokens())[kDeskQuestionnaires] = mortgage::EncodePageToken(
                {kDeskQuestionnaires,
                 absl::StrCat(absl::ToUnixMicros(FromProtoTimestamp(last.update_time()))), last.id()});
          }
        }
        {
          Params p;
          std::string sql =
              absl::StrCat("SELECT count(*) FROM calculations WHERE created_at >= ", p.Ts(day_start),
                           " AND created_at < ", p.Ts(day_end));
          if (!who.empty()) absl::StrAppend(&sql, " AND specialist_id = ", p.Add(who));
          out.set_calculations_today(Run(tx, sql, p)[0][0].as<int>());
        }
        {
          Params p;
          std::string sql = absl::StrCat(
              "SELECT count(*) FROM bank_replies r JOIN applications a ON a.id = r.application_id "
              "WHERE r.received_at >= ",
              p.Ts(day_start), " AND r.received_at < ", p.Ts(day_end));
          if (!who.empty()) absl::StrAppend(&sql, " AND a.specialist_id = ", p.Add(who));
          out.set_replies_today(Run(tx, sql, p)[0][0].as<int>());
        }
        return absl::OkStatus();
      },
      {.isolation = pg::TxOptions::Isolation::kRepeatableRead, .read_only = true}));
  return out;
}

absl::StatusOr<v1::ApplicationsReport> ApplicationStore::ApplicationsReport(
    const v1::ApplicationsReportRequest& req, absl::TimeZone zone) {
  Violations v;
  const std::optional<Period> parsed = ParsePeriod(v, req.period(), zone);
  v.Check(CheckUuid("bank_id", req.bank_id(), false));
  v.Check(CheckText("project", req.project(), kMaxShortText));
  const std::optional<int> size_or =
      v.Value(mortgage::PageSize(req.page_size(), kDefaultReportRows, kMaxReportRows));
  const std::optional<std::optional<PageKey>> after_or = v.Value(DecodePageToken(req.page_token()));
  CRM_RETURN_IF_ERROR(v.Status());
  const Period period = *parsed;
  const int size = *size_or;
  v1::ApplicationsReport out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        Params p;
        std::string where = absl::StrCat(" WHERE a.created_at >= ", p.Ts(period.from), " AND a.created_at < ",
                                         p.Ts(period.to));
        if (!req.bank_id().empty())
          absl::StrAppend(&where, " AND a.bank_id = ", p.Add(req.bank_id()), "::uuid");
        if (!req.project().empty()) absl::StrAppend(&where, " AND a.project = ", p.Add(req.project()));
        for (const pqxx::row& r :
             Run(tx,
                 absl::StrCat("SELECT a.status, count(*) FROM applications a", where, " GROUP BY a.status"),
                 p)) {
          (*out.mutable_by_status())[StatusName(static_cast<Status>(r[0].as<int>()))] = r[1].as<int>();
        }
        Params page = p;
        std::vector<v1::Application> rows = ApplicationsFromResult(
            Run(tx,
                absl::StrCat("SELECT ", kApplicationColumns, " FROM applications a", where,
                             AfterReportToken(*after_or, "a.", page), " ORDER BY a.created_at, a.id LIMIT ",
                             page.Add(absl::StrCat(size + 1)), "::int"),
                page));
        const bool more = static_cast<int>(rows.size()) > size;
        if (more) rows.resize(size);
        for (v1::Application& a : rows) *out.add_applications() = std::move(a);
        if (more) {
          const v1::Application& last = out.applications(size - 1);
          out.set_next_page_token(
              PageToken(absl::ToUnixMicros(FromProtoTimestamp(last.create_time())), last.id()));
        }
        return absl::OkStatus();
      },
      {.isolation = pg::TxOptions::Isolation::kRepeatableRead, .read_only = true}));
  return out;
}

absl::StatusOr<v1::CalculationsReport> ApplicationStore::CalculationsReport(
    const v1::CalculationsReportRequest& req, absl::TimeZone zone) {
  Violations v;
  const std::optional<Period> parsed = ParsePeriod(v, req.period(), zone);
  v.Check(CheckText("project", req.project(), kMaxShortText));
  const std::optional<int> size_or =
      v.Value(mortgage::PageSize(req.page_size(), kDefaultReportRows, kMaxReportRows));
  const std::optional<std::optional<PageKey>> after_or = v.Value(DecodePageToken(req.page_token()));
  CRM_RETURN_IF_ERROR(v.Status());
  const Period period = *parsed;
  const int size = *size_or;
  v1::CalculationsReport out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        Params p;
        std::string sql = absl::StrCat("SELECT ", kCalculationColumns,
                                       " FROM calculations c WHERE c.created_at >= ", p.Ts(period.from),
                                       " AND c.created_at < ", p.Ts(period.to));
        if (!req.project().empty()) absl::StrAppend(&sql, " AND c.project = ", p.Add(req.project()));
        absl::StrAppend(&sql, AfterReportToken(*after_or, "c.", p), " ORDER BY c.created_at, c.id LIMIT ",
                        p.Add(absl::StrCat(size + 1)), "::int");
        const pqxx::result res = Run(tx, sql, p);
        for (size_t i = 0; i < res.size() && static_cast<int>(i) < size; ++i) {
          *out.add_calculations() = CalculationFromRow(res[i], false);
        }
        if (static_cast<int>(res.size()) > size) {
          const v1::Calculation& last = out.calculations(size - 1);
          out.set_next_page_token(
              PageToken(absl::ToUnixMicros(FromProtoTimestamp(last.create_time())), last.id()));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::BankEfficiency> ApplicationStore::BankEfficiency(const v1::BankEfficiencyRequest& req,
                                                                    absl::TimeZone zone) {
  CRM_ASSIGN_OR_RETURN(const Period period, ParsePeriod(req.period(), zone));
  v1::BankEfficiency out;
  CRM_RETURN_IF_ERROR(
      pg::InTransaction(pool_,
                        [&](pqxx::work& tx) -> absl::Status {
                          out.Clear();
                          Params p;
                          const std::string sql = absl::StrCat(
                              "SELECT a.bank_id, b.name, count(*), count(*) FILTER (WHERE a.decision = 5), "
                              "count(*) FILTER (WHERE a.decision = 6), "
                              "count(*) FILTER (WHERE a.decision IS NULL AND a.status IN (2, 3, 4)), "
                              "coalesce(sum(extract(epoch from a.decided_at - a.sent_at)) FILTER (WHERE "
                              "a.decision IS NOT NULL), 0)"
                              "::bigint "
                              "FROM applications a JOIN banks b ON b.id = a.bank_id "
                              "WHERE a.kind = 1 AND a.sent_at >= ",
                              p.Ts(period.from), " AND a.sent_at < ", p.Ts(period.to),
                              " GROUP BY a.bank_id, b.name ORDER BY b.name, a.bank_id");
                          for (const pqxx::row& r : Run(tx, sql, p)) {
                            v1::BankEfficiency::Row* row = out.add_rows();
                            row->set_bank_id(r[0].as<std::string>());
                            row->set_bank_name(r[1].as<std::string>());
                            row->set_sent(r[2].as<int>());
                            row->set_approved(r[3].as<int>());
                            row->set_declined(r[4].as<int>());
                            row->set_pending(r[5].as<int>());
                            const int64_t decided = row->approved() + row->declined();
                            row->set_approval_rate(Ratio4(row->approved(), decided));
                            row->set_avg_decision_days(AvgDays(r[6].as<int64_t>(), decided));
                          }
                          return absl::OkStatus();
                        },
                        {.read_only = true}));
  return out;
}

absl::StatusOr<v1::SpecialistKpis> ApplicationStore::SpecialistKpis(const v1::SpecialistKpisRequest& req,
                                                                    absl::TimeZone zone) {
  CRM_ASSIGN_OR_RETURN(const Period period, ParsePeriod(req.period(), zone));
  v1::SpecialistKpis out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        Params p;
        const std::string from = p.Ts(period.from);
        const std::string to = p.Ts(period.to);
        auto in = [&](const char* column) {
          return absl::StrCat(column, " >= ", from, " AND ", column, " < ", to);
        };
        const std::string sql = absl::StrCat(
            "WITH c AS (SELECT specialist_id s, count(*) n FROM calculations WHERE ", in("created_at"),
            " GROUP BY 1), q AS (SELECT specialist_id s, count(*) n FROM questionnaires WHERE ",
            in("created_at"),
            " GROUP BY 1), a AS (SELECT specialist_id s, count(*) n FROM applications WHERE ",
            in("created_at"),
            " GROUP BY 1), d AS (SELECT specialist_id s, count(*) FILTER (WHERE decision = 5) ap, "
            "count(*) FILTER (WHERE decision = 6) dc FROM applications WHERE ",
            in("decided_at"),
            " GROUP BY 1), i AS (SELECT specialist_id s, count(*) n FROM applications WHERE ",
            in("issued_at"),
            " GROUP BY 1), ids AS (SELECT s FROM c UNION SELECT s FROM q UNION SELECT s FROM a UNION SELECT "
            "s FROM d "
            "UNION SELECT s FROM i) "
            "SELECT ids.s, coalesce(c.n, 0), coalesce(q.n, 0), coalesce(a.n, 0), coalesce(d.ap, 0), "
            "coalesce(d.dc, 0), "
            "coalesce(i.n, 0) FROM ids LEFT JOIN c USING (s) LEFT JOIN q USING (s) LEFT JOIN a USING (s) "
            "LEFT JOIN d USING (s) LEFT JOIN i USING (s) ORDER BY ids.s");
        for (const pqxx::row& r : Run(tx, sql, p)) {
          v1::SpecialistKpis::Row* row = out.add_rows();
          row->set_specialist_id(r[0].as<std::string>());
          row->set_calculations(r[1].as<int>());
          row->set_questionnaires(r[2].as<int>());
          row->set_applications(r[3].as<int>());
          row->set_approvals(r[4].as<int>());
          row->set_issued(r[6].as<int>());
          row->set_approval_rate(Ratio4(row->approvals(), row->approvals() + r[5].as<int64_t>()));
        }
        return absl::OkStatus();
      },
      {.isolation = pg::TxOptions::Isolation::kRepeatableRead, .read_only = true}));
  return out;
}

// ----- The gRPC services ----------------------------------------------------------------------------

namespace {

Actor ActorOf(const grpc::ServerContextBase& ctx, const Principal& caller) {
  return Actor{.principal = caller,
               .request_id = rpc::RequestId(ctx),
               .automation_depth = rpc::AutomationDepth(ctx),
               .skip_automation = rpc::SkipAutomation(ctx)};
}

absl::Status RequireAny(const Principal& p, std::initializer_list<const char*> codes) {
  for (const char* c : codes) {
    if (rpc::HasPermission(p, c)) return absl::OkStatus();
  }
  std::vector<std::string> names(codes.begin(), codes.end());
  return absl::PermissionDeniedError(absl::StrCat("missing permission ", absl::StrJoin(names, " or ")));
}

}  // namespace

ApplicationServiceImpl::ApplicationServiceImpl(ApplicationStore& store, MultiCalculator calculate,
                                               const DealsClient& deals)
    : store_(store), calculate_(std::move(calculate)), deals_(deals) {}

grpc::Status ApplicationServiceImpl::SaveCalculation(grpc::ServerContext* ctx,
                                                     const v1::SaveCalculationRequest* req,
                                                     v1::Calculation* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Calculation> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kCalculate));
    return store_.SaveCalculation(ActorOf(*ctx, caller), *req, rpc::IdempotencyKey(*ctx), calculate_);
  });
}

grpc::Status ApplicationServiceImpl::GetCalculation(grpc::ServerContext* ctx,
                                                    const v1::GetCalculationRequest* req,
                                                    v1::Calculation* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Calculation> {
    CRM_RETURN_IF_ERROR(RequireAny(caller, {kCalculate, kRead}));
    return store_.GetCalculation(ActorOf(*ctx, caller), req->id());
  });
}

grpc::Status ApplicationServiceImpl::ListCalculations(grpc::ServerContext* ctx,
                                                      const v1::ListCalculationsRequest* req,
                                                      v1::ListCalculationsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ListCalculationsResponse> {
    CRM_RETURN_IF_ERROR(RequireAny(caller, {kCalculate, kRead}));
    return store_.ListCalculations(ActorOf(*ctx, caller), *req);
  });
}

grpc::Status ApplicationServiceImpl::CreateQuestionnaire(grpc::ServerContext* ctx,
                                                         const v1::CreateQuestionnaireRequest* req,
                                                         v1::Questionnaire* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Questionnaire> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kManage));
    return store_.CreateQuestionnaire(ActorOf(*ctx, caller), *req, rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status ApplicationServiceImpl::UpdateQuestionnaire(grpc::ServerContext* ctx,
                                                         const v1::UpdateQuestionnaireRequest* req,
                                                         v1::Questionnaire* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Questionnaire> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kManage));
    return store_.UpdateQuestionnaire(ActorOf(*ctx, caller), *req);
  });
}

grpc::Status ApplicationServiceImpl::GetQuestionnaire(grpc::ServerContext* ctx,
                                                      const v1::GetQuestionnaireRequest* req,
                                                      v1::Questionnaire* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Questionnaire> {
    CRM_RETURN_IF_ERROR(RequireAny(caller, {kManage, kRead}));
    return store_.GetQuestionnaire(ActorOf(*ctx, caller), req->id());
  });
}

grpc::Status ApplicationServiceImpl::ListQuestionnaires(grpc::ServerContext* ctx,
                                                        const v1::ListQuestionnairesRequest* req,
                                                        v1::ListQuestionnairesResponse* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) -> absl::StatusOr<v1::ListQuestionnairesResponse> {
                      CRM_RETURN_IF_ERROR(RequireAny(caller, {kManage, kRead}));
                      return store_.ListQuestionnaires(ActorOf(*ctx, caller), *req);
                    });
}

grpc::Status ApplicationServiceImpl::CreateApplication(grpc::ServerContext* ctx,
                                                       const v1::CreateApplicationRequest* req,
                                                       v1::Application* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Application> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kManage));
    v1::CreateApplicationRequest filled = *req;  // issue 17: started from a deal application
    CRM_RETURN_IF_ERROR(FillFromDealApplication(deals_, *ctx, caller, filled));
    return store_.CreateApplication(ActorOf(*ctx, caller), filled, rpc::IdempotencyKey(*ctx),
                                    [&](const v1::Application& a) {
                                      return deals_.CheckParties(*ctx, caller, a.client_id(), a.deal_id());
                                    });
  });
}

grpc::Status ApplicationServiceImpl::GetApplication(grpc::ServerContext* ctx,
                                                    const v1::GetApplicationRequest* req,
                                                    v1::Application* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Application> {
    CRM_RETURN_IF_ERROR(RequireAny(caller, {kManage, kRead}));
    return store_.GetApplication(ActorOf(*ctx, caller), req->id());
  });
}

grpc::Status ApplicationServiceImpl::ListApplications(grpc::ServerContext* ctx,
                                                      const v1::ListApplicationsRequest* req,
                                                      v1::ListApplicationsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ListApplicationsResponse> {
    CRM_RETURN_IF_ERROR(RequireAny(caller, {kManage, kRead}));
    return store_.ListApplications(ActorOf(*ctx, caller), *req);
  });
}

grpc::Status ApplicationServiceImpl::ChangeApplicationStatus(grpc::ServerContext* ctx,
                                                             const v1::ChangeApplicationStatusRequest* req,
                                                             v1::Application* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Application> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kManage));
    return store_.ChangeStatus(ActorOf(*ctx, caller), *req, rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status ApplicationServiceImpl::RecordBankReply(grpc::ServerContext* ctx,
                                                     const v1::RecordBankReplyRequest* req,
                                                     v1::Application* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Application> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kManage));
    return store_.RecordBankReply(ActorOf(*ctx, caller), *req, rpc::IdempotencyKey(*ctx));
  });
}

DeskServiceImpl::DeskServiceImpl(ApplicationStore& store, const Clock& clock, absl::TimeZone zone)
    : store_(store), clock_(clock), zone_(zone) {}

grpc::Status DeskServiceImpl::GetDesk(grpc::ServerContext* ctx, const v1::GetDeskRequest* req,
                                      v1::Desk* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::Desk> {
    CRM_RETURN_IF_ERROR(RequireAny(caller, {kManage, kRead}));
    return store_.GetDesk(ActorOf(*ctx, caller), *req, clock_.Now(), zone_);
  });
}

grpc::Status DeskServiceImpl::GetApplicationsReport(grpc::ServerContext* ctx,
                                                    const v1::ApplicationsReportRequest* req,
                                                    v1::ApplicationsReport* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::ApplicationsReport> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kRead));
    return store_.ApplicationsReport(*req, zone_);
  });
}

grpc::Status DeskServiceImpl::GetCalculationsReport(grpc::ServerContext* ctx,
                                                    const v1::CalculationsReportRequest* req,
                                                    v1::CalculationsReport* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::CalculationsReport> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kRead));
    return store_.CalculationsReport(*req, zone_);
  });
}

grpc::Status DeskServiceImpl::GetBankEfficiency(grpc::ServerContext* ctx,
                                                const v1::BankEfficiencyRequest* req,
                                                v1::BankEfficiency* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::BankEfficiency> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kRead));
    return store_.BankEfficiency(*req, zone_);
  });
}

grpc::Status DeskServiceImpl::GetSpecialistKpis(grpc::ServerContext* ctx,
                                                const v1::SpecialistKpisRequest* req,
                                                v1::SpecialistKpis* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) -> absl::StatusOr<v1::SpecialistKpis> {
    CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kRead));
    return store_.SpecialistKpis(*req, zone_);
  });
}

}  // namespace crm::mortgage
