// File: services/telephony/requests/reads.cc
// The reading calls of CallRequests (api.h): a request, the list, the operators' states, the statistics.
#include <pqxx/pqxx>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/statement_recorder.h"
#include "libs/rpc/call.h"
#include "services/telephony/requests/api.h"
#include "services/telephony/requests/convert.h"
#include "services/telephony/requests/sql.h"

namespace crm::telephony::requests {
namespace {

constexpr int kDefaultPage = 50;
constexpr int kMaxPage = 200;

// Positional parameters of the list's statement built in pieces: Add() keeps the value, returns "$n".
class Params {
 public:
  std::string Add(std::string v) {
    values_.push_back(std::move(v));
    return absl::StrCat("$", values_.size());
  }
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
};

// The page token: "<create_time in µs>.<id>" of the page's last request.
bool ParseToken(std::string_view token, int64_t* us, std::string* id) {
  std::vector<absl::string_view> parts = absl::StrSplit(AsAbsl(token), absl::MaxSplits('.', 1));
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], us) || !IsUuid(AsStd(parts[1]))) return false;
  *id = std::string(parts[1]);
  return true;
}

}  // namespace

absl::StatusOr<v1::CallRequest> CallRequests::Read(const Principal& caller, std::string_view id, bool full,
                                                   bool acted) {
  v1::CallRequest out;
  const std::string me = CallerUserId(caller);
  const bool all = acted || crm::rpc::HasPermission(caller, kReadAll);
  if (!all) CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kOperate));
  const absl::Status not_found = absl::NotFoundError(absl::StrCat("call request ", AsAbsl(id), " not found"));
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        pqxx::result r = crm::pg::ExecPrepared(tx, sql::kRequestById, std::string(id));
        if (r.empty()) return not_found;
        out = RequestOf(r[0]);
        if (!all && out.operator_id() != me) return not_found;
        if (!full) return absl::OkStatus();
        for (const pqxx::row& a : crm::pg::ExecPrepared(tx, sql::kAttemptsOf, out.id())) *out.add_attempts() = AttemptOf(a);
        const std::string root = out.related_to_id().empty() ? out.id() : out.related_to_id();
        for (const pqxx::row& x : crm::pg::ExecPrepared(tx, sql::kRelatedOf, out.id(), root)) {
          v1::RelatedRequest* rel = out.add_related();
          rel->set_id(x[0].c_str());
          rel->set_state(StateOf(x[1].c_str()));
          rel->set_type(TypeOf(x[2].c_str()));
          rel->set_phone(x[3].c_str());
          *rel->mutable_create_time() = ToProtoTimestamp(absl::FromUnixMicros(x[4].as<int64_t>()));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::CallRequest> CallRequests::Get(const Principal& caller, std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "must be a call request id");
  return Read(caller, id, true);
}

absl::StatusOr<v1::ListCallRequestsResponse> CallRequests::List(const Principal& caller,
                                                                const v1::ListCallRequestsRequest& req) {
  std::vector<FieldViolation> bad;
  if (req.page_size() < 0) bad.push_back({"page_size", "must not be negative"});
  int64_t after_us = 0;
  std::string after_id;
  if (!req.page_token().empty() && !ParseToken(req.page_token(), &after_us, &after_id)) {
    bad.push_back({"page_token", "not a token this list gave"});
  }
  if (!req.operator_id().empty() && !IsUuid(req.operator_id())) bad.push_back({"operator_id", "must be a user id"});
  if (req.has_from_time() && req.has_to_time() &&
      FromProtoTimestamp(req.to_time()) <= FromProtoTimestamp(req.from_time())) {
    bad.push_back({"to_time", "must be after from_time"});
  }
  if (!v1::ListCallRequestsRequest::Scope_IsValid(req.scope())) bad.push_back({"scope", "unknown scope"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  v1::ListCallRequestsRequest::Scope scope = req.scope();
  const bool all = crm::rpc::HasPermission(caller, kReadAll);
  if (scope == v1::ListCallRequestsRequest::SCOPE_UNSPECIFIED) {
    scope = all ? v1::ListCallRequestsRequest::SCOPE_ALL : v1::ListCallRequestsRequest::SCOPE_OWN;
  }
  if (scope == v1::ListCallRequestsRequest::SCOPE_ALL) {
    CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kReadAll));
  } else {
    CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kOperate));
  }
  const std::string me = CallerUserId(caller);
  std::string operator_id = req.operator_id();
  if (scope == v1::ListCallRequestsRequest::SCOPE_OWN) {
    if (!IsUuid(me)) return absl::PermissionDeniedError("only a user has their own requests");
    if (!operator_id.empty() && operator_id != me) {
      return WithFieldViolations(absl::PermissionDeniedError("scope OWN lists only the caller's requests"),
                                 {{"operator_id", "another operator's requests need telephony.read.all"}});
    }
    operator_id = me;
  }
  const int size = req.page_size() == 0 ? kDefaultPage : std::min(req.page_size(), kMaxPage);
  // The statement: one text per set of filters given (a bounded number of prepared texts), each backed
  // by its index (migrations: call_requests_by_*, call_requests_created).
  Params p;
  std::string text = sql::kListHead;
  if (req.state() != v1::REQUEST_STATE_UNSPECIFIED) absl::StrAppend(&text, " AND state = ", p.Add(StateText(req.state())));
  if (req.source() != v1::REQUEST_SOURCE_UNSPECIFIED) absl::StrAppend(&text, " AND source = ", p.Add(SourceText(req.source())));
  if (req.type() != v1::REQUEST_TYPE_UNSPECIFIED) absl::StrAppend(&text, " AND type = ", p.Add(TypeText(req.type())));
  if (!operator_id.empty()) absl::StrAppend(&text, " AND operator_id = ", p.Add(operator_id), "::uuid");
  if (req.has_from_time()) {
    absl::StrAppend(&text, " AND create_time >= ", p.Add(FormatRfc3339Utc(FromProtoTimestamp(req.from_time()))),
                    "::timestamptz");
  }
  if (req.has_to_time()) {
    absl::StrAppend(&text, " AND create_time < ", p.Add(FormatRfc3339Utc(FromProtoTimestamp(req.to_time()))),
                    "::timestamptz");
  }
  if (!after_id.empty()) {
    absl::StrAppend(&text, " AND (create_time, id) < (", p.Add(FormatRfc3339Utc(absl::FromUnixMicros(after_us))),
                    "::timestamptz, ", p.Add(after_id), "::uuid)");
  }
  absl::StrAppend(&text, " ORDER BY create_time DESC, id DESC LIMIT ", p.Add(absl::StrCat(size + 1)), "::int");
  v1::ListCallRequestsResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.Clear();
    crm::pg::RecordStatement(text, p.values());  // the plan test EXPLAINs exactly this
    pqxx::result rows = crm::pg::ExecPrepared(tx, text, pqxx::prepare::make_dynamic_params(p.values()));
    for (int i = 0; i < std::min<int>(size, rows.size()); ++i) *out.add_requests() = RequestOf(rows[i]);
    if (static_cast<int>(rows.size()) > size) {
      const v1::CallRequest& last = out.requests(size - 1);
      out.set_next_page_token(absl::StrCat(absl::ToUnixMicros(FromProtoTimestamp(last.create_time())), ".", last.id()));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::OperatorState> CallRequests::LoadState(const std::string& user) {
  v1::OperatorState out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    pqxx::result r = crm::pg::ExecPrepared(tx, sql::kOperatorStates, user);
    if (r.empty()) {
      out.set_user_id(user);  // never set: not ready
      out.set_readiness(v1::READINESS_NOT_READY);
    } else {
      out = OperatorStateOf(r[0]);
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::OperatorState> CallRequests::MyState(const Principal& caller) {
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kOperate));
  const std::string me = CallerUserId(caller);
  if (!IsUuid(me)) return absl::PermissionDeniedError("only a user has an operator's queue");
  CRM_ASSIGN_OR_RETURN(v1::OperatorState out, LoadState(me));
  if (!out.request_id().empty()) {
    absl::StatusOr<v1::CallRequest> req = Read(caller, out.request_id(), true);
    if (req.ok()) *out.mutable_request() = *std::move(req);
  }
  return out;
}

absl::StatusOr<v1::ListOperatorStatesResponse> CallRequests::Operators(const Principal& caller) {
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kReadAll));
  v1::ListOperatorStatesResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.Clear();
    for (const pqxx::row& r : crm::pg::ExecPrepared(tx, sql::kOperatorStates, std::string())) {
      *out.add_operators() = OperatorStateOf(r);
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::CallRequestStatistics> CallRequests::Statistics(const Principal& caller,
                                                                   const v1::GetCallRequestStatisticsRequest& req) {
  const absl::Time now = clock_.Now();
  absl::CivilDay day = absl::ToCivilDay(now, zone_);
  if (!req.date().empty()) {
    CRM_ASSIGN_OR_RETURN(day, ParseCivilDay(req.date(), "date"));
  }
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kReadAll));
  const std::string from = FormatRfc3339Utc(absl::FromCivil(day, zone_));
  const std::string to = FormatRfc3339Utc(absl::FromCivil(day + 1, zone_));
  v1::CallRequestStatistics out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        out.set_date(absl::FormatCivilTime(day));
        out.set_created(crm::pg::ExecPrepared1(tx, sql::kCreatedIn, from, to)[0].as<int>());
        for (const pqxx::row& r : crm::pg::ExecPrepared(tx, sql::kFinishedIn, from, to)) {
          v1::OutcomeCount* c = out.add_by_outcome();
          c->set_outcome(OutcomeOf(r[0].c_str()));
          c->set_count(r[1].as<int>());
          if (c->outcome() == v1::REQUEST_OUTCOME_PROCESSED) out.set_processed(c->count());
        }
        pqxx::row open = crm::pg::ExecPrepared1(tx, sql::kOpenNow, FormatRfc3339Utc(now));
        out.set_queued_now(open[0].as<int>());
        out.set_due_now(open[1].as<int>());
        out.set_offered_now(open[2].as<int>());
        out.set_in_work_now(open[3].as<int>());
        for (const pqxx::row& r : crm::pg::ExecPrepared(tx, sql::kOperatorsIn, from, to)) {
          v1::OperatorStatistics* o = out.add_operators();
          o->set_operator_id(r[0].c_str());
          o->set_offered(r[1].as<int>());
          o->set_accepted(r[2].as<int>());
          o->set_declined(r[3].as<int>());
          o->set_expired(r[4].as<int>());
          o->set_finished(r[5].as<int>());
          o->set_processed(r[6].as<int>());
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

}  // namespace crm::telephony::requests
