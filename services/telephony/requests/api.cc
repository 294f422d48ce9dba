// File: services/telephony/requests/api.cc
// The writing calls of CallRequests (api.h); the reads are in reads.cc.
#include "services/telephony/requests/api.h"

#include <pqxx/pqxx>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/crm/telephony/v1/request_event_types.h"
#include "crm/telephony/v1/request_events.pb.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/events/outbox.h"
#include "libs/log/log.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/call.h"
#include "services/telephony/requests/convert.h"
#include "services/telephony/requests/phone.h"
#include "services/telephony/requests/queue.h"
#include "services/telephony/requests/sql.h"

namespace crm::telephony::requests {
namespace {

void CheckText(std::string_view field, std::string_view v, int max, std::vector<FieldViolation>& bad) {
  if (CodePoints(v) > static_cast<size_t>(max)) bad.push_back({std::string(field), absl::StrCat("at most ", max, " characters")});
  if (HasForbiddenControl(v)) bad.push_back({std::string(field), "must not contain control characters"});
}

// An action on one's own offer or request: a request id and calls.operate with a user.
absl::StatusOr<std::string> Operator(const Principal& caller, std::string_view id, std::vector<FieldViolation>& bad) {
  if (!IsUuid(id)) bad.push_back({"id", "must be a call request id"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kOperate));
  std::string me = CallerUserId(caller);
  if (!IsUuid(me)) return absl::PermissionDeniedError("only a user has an operator's queue");
  return me;
}

}  // namespace

std::string CallerUserId(const Principal& caller) {
  if (caller.kind() == Principal::KIND_USER) return caller.id();
  return caller.on_behalf_of_user_id();
}

CallRequests::CallRequests(crm::pg::Pool& pool, const Clock& clock, const Queue& queue, absl::TimeZone zone)
    : pool_(pool), clock_(clock), queue_(queue), zone_(zone) {}

absl::StatusOr<int> CallRequests::MatchNow() {
  int made = 0;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(made, queue_.Match(tx, clock_.Now()));
    return absl::OkStatus();
  }));
  return made;
}

absl::StatusOr<v1::CallRequest> CallRequests::Create(const Principal& caller, const v1::CallRequest& req,
                                                     std::string_view idempotency_key) {
  std::vector<FieldViolation> bad;
  if (req.source() == v1::REQUEST_SOURCE_UNSPECIFIED || SourceText(req.source()).empty()) {
    bad.push_back({"request.source", "required: SITE, MISSED_CALL, TELEGRAM or MANUAL"});
  }
  if (req.type() == v1::REQUEST_TYPE_UNSPECIFIED || TypeText(req.type()).empty()) {
    bad.push_back({"request.type", "required"});
  }
  if (req.priority() < 0 || req.priority() > kLowestPriority) bad.push_back({"request.priority", "must be 0 (by the rule) or 1..3"});
  absl::StatusOr<std::string> phone = NormalizePhone("request.phone", req.phone());
  if (!phone.ok()) {
    std::vector<FieldViolation> v = FieldViolations(phone.status());
    bad.insert(bad.end(), v.begin(), v.end());
  }
  if (!req.client_id().empty() && !IsUuid(req.client_id())) bad.push_back({"request.client_id", "must be a client id"});
  CheckText("request.comment", req.comment(), kMaxComment, bad);
  const absl::Time now = clock_.Now();
  std::optional<absl::Time> planned;
  if (req.has_planned_time()) {
    planned = FromProtoTimestamp(req.planned_time());
    if (*planned < now - absl::Hours(24 * 366) || *planned > now + absl::Hours(24 * 366)) {
      bad.push_back({"request.planned_time", "must be within a year"});
    }
  }
  for (std::string_view out_only : {req.id(), req.operator_id(), req.related_to_id(), req.created_by()}) {
    if (!out_only.empty()) {
      bad.push_back({"request", "id, operator_id, related_to_id and created_by are output only"});
      break;
    }
  }
  if (!bad.empty()) return InvalidFieldsError(bad);
  if (!crm::rpc::HasPermission(caller, kManage)) CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kOperate));
  const crm::pg::IdempotencyScope scope{.caller = crm::rpc::IdempotencyCaller(caller),
                                        .method = "crm.telephony.v1.CallRequestService/CreateCallRequest",
                                        .key = std::string(idempotency_key)};
  v1::CallRequest out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return crm::pg::RunIdempotent(tx, scope, now, req, out, [&]() -> absl::Status {
      crm::pg::ExecPrepared(tx, sql::kLockPhone, *phone);
      pqxx::result related = crm::pg::ExecPrepared(tx, sql::kOpenRelated, *phone, req.client_id());
      const std::string related_to = related.empty() ? "" : related[0][0].c_str();
      const std::string id = NewUuidV7();
      const int priority = PriorityOf(req.priority(), planned.has_value());
      const absl::Time due = DueOf(planned, now);
      crm::pg::ExecPrepared(tx, sql::kInsertRequest, id, SourceText(req.source()), TypeText(req.type()), priority,
                            *phone, req.client_id(), req.comment(), planned ? FormatRfc3339Utc(*planned) : "",
                            FormatRfc3339Utc(due), related_to, CallerUserId(caller), FormatRfc3339Utc(now));
      v1::CallRequestCreated created;
      created.set_request_id(id);
      created.set_source(req.source());
      created.set_type(req.type());
      created.set_priority(priority);
      created.set_phone(*phone);
      created.set_client_id(req.client_id());
      if (planned) *created.mutable_planned_time() = ToProtoTimestamp(*planned);
      created.set_related_to_id(related_to);
      crm::events::NewEvent e{.aggregate_type = v1::kRequestAggregate, .aggregate_id = id,
                              .type = v1::kRequestCreatedType, .payload = &created, .actor = caller};
      e.actor.clear_permissions();
      CRM_RETURN_IF_ERROR(queue_.outbox().Append(tx, e).status());
      CRM_RETURN_IF_ERROR(queue_.Queued(tx, id, due, now));
      CRM_RETURN_IF_ERROR(queue_.Match(tx, now).status());
      out = RequestOf(crm::pg::ExecPrepared1(tx, sql::kRequestById, id));
      return absl::OkStatus();
    });
  }));
  // Offered in its own transaction: nothing a concurrent change could have hidden from it.
  if (out.state() != v1::REQUEST_STATE_OFFERED) (void)MatchNow();
  return out;
}

absl::StatusOr<v1::CallRequest> CallRequests::Accept(const Principal& caller, std::string_view id) {
  std::vector<FieldViolation> bad;
  CRM_ASSIGN_OR_RETURN(const std::string me, Operator(caller, id, bad));
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return queue_.Accept(tx, id, me, clock_.Now());
  }));
  return Read(caller, id, false, /*acted=*/true);
}

absl::StatusOr<v1::CallRequest> CallRequests::Decline(const Principal& caller,
                                                      const v1::DeclineCallRequestRequest& req) {
  std::vector<FieldViolation> bad;
  CheckText("comment", req.comment(), kMaxComment, bad);
  CRM_ASSIGN_OR_RETURN(const std::string me, Operator(caller, req.id(), bad));
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return queue_.Decline(tx, req.id(), me, req.comment(), clock_.Now());
  }));
  (void)MatchNow();
  return Read(caller, req.id(), false, /*acted=*/true);
}

absl::StatusOr<v1::CallRequest> CallRequests::Finish(const Principal& caller, const v1::FinishCallRequestRequest& req) {
  std::vector<FieldViolation> bad;
  CheckText("comment", req.comment(), kMaxComment, bad);
  const absl::Time now = clock_.Now();
  std::optional<absl::Time> planned;
  const std::string outcome = OutcomeText(req.outcome());
  if (outcome.empty()) {
    bad.push_back({"outcome", "required: PROCESSED, BACK_TO_QUEUE, ANSWERING_MACHINE, SPAM, EMAIL_REPLY or "
                              "PROCESSED_EARLIER"});
  } else if (req.outcome() == v1::REQUEST_OUTCOME_BACK_TO_QUEUE) {
    if (!req.has_planned_time()) {
      bad.push_back({"planned_time", "required to return the request to the queue"});
    } else {
      planned = FromProtoTimestamp(req.planned_time());
      if (*planned <= now) bad.push_back({"planned_time", "must be in the future"});
      if (*planned > now + absl::Hours(24 * 366)) bad.push_back({"planned_time", "must be within a year"});
    }
  } else if (req.has_planned_time()) {
    bad.push_back({"planned_time", "only with BACK_TO_QUEUE"});
  }
  CRM_ASSIGN_OR_RETURN(const std::string me, Operator(caller, req.id(), bad));
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return queue_.Finish(tx, req.id(), me, outcome, planned, req.comment(), clock_.Now());
  }));
  (void)MatchNow();
  return Read(caller, req.id(), false, /*acted=*/true);
}

absl::StatusOr<v1::OperatorState> CallRequests::SetReadiness(const Principal& caller,
                                                             const v1::SetReadinessRequest& req) {
  std::vector<FieldViolation> bad;
  Readiness readiness = Readiness::kNotReady;
  switch (req.readiness()) {
    case v1::READINESS_READY: readiness = Readiness::kReady; break;
    case v1::READINESS_AUTO_READY: readiness = Readiness::kAutoReady; break;
    case v1::READINESS_NOT_READY: break;
    default: bad.push_back({"readiness", "required: READY, AUTO_READY or NOT_READY"});
  }
  if (req.readiness() == v1::READINESS_NOT_READY && req.reason().empty()) {
    bad.push_back({"reason", "required with NOT_READY"});
  }
  if (req.readiness() != v1::READINESS_NOT_READY && !req.reason().empty()) {
    bad.push_back({"reason", "only with NOT_READY"});
  }
  CheckText("reason", req.reason(), kMaxReason, bad);
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kOperate));
  const std::string me = CallerUserId(caller);
  if (!IsUuid(me)) return absl::PermissionDeniedError("only a user has an operator's queue");
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    const absl::Time now = clock_.Now();
    crm::pg::ExecPrepared(tx, sql::kSetReadiness, me, std::string(ReadinessText(readiness)), req.reason(),
                          FormatRfc3339Utc(now));
    return queue_.Match(tx, now).status();
  }));
  CRM_ASSIGN_OR_RETURN(v1::OperatorState state, LoadState(me));
  // Ready and still without an offer: a request queued by a concurrent transaction is seen now.
  if (readiness != Readiness::kNotReady && state.request_id().empty() && MatchNow().value_or(0) > 0) {
    return LoadState(me);
  }
  return state;
}

}  // namespace crm::telephony::requests
