// File: services/telephony/requests/queue.cc
#include "services/telephony/requests/queue.h"

#include <pqxx/pqxx>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/crm/telephony/v1/request_event_types.h"
#include "crm/telephony/v1/request_events.pb.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/events/outbox.h"
#include "libs/pg/prepared.h"
#include "libs/timers/timers.h"
#include "services/telephony/requests/sql.h"

namespace crm::telephony::requests {
namespace {

namespace v1 = ::crm::telephony::v1;

absl::Status Emit(pqxx::transaction_base& tx, const crm::events::OutboxWriter& outbox, std::string_view request_id,
                  const char* type, const google::protobuf::Message& payload, std::string_view operator_id) {
  crm::events::NewEvent e;
  e.aggregate_type = v1::kRequestAggregate;
  e.aggregate_id = std::string(request_id);
  e.type = type;
  e.payload = &payload;
  if (!operator_id.empty()) e.visible_to_user_ids.emplace_back(operator_id);
  return outbox.Append(tx, e).status();
}

struct LockedRequest {
  std::string state;
  std::string operator_id;
  int64_t attempt_id = 0;
};

absl::StatusOr<LockedRequest> LockRequest(pqxx::transaction_base& tx, std::string_view id) {
  pqxx::result r = crm::pg::ExecPrepared(tx, sql::kRequestForUpdate, std::string(id));
  if (r.empty()) return absl::NotFoundError(absl::StrCat("call request ", AsAbsl(id), " not found"));
  return LockedRequest{r[0][0].c_str(), r[0][1].c_str(), r[0][2].as<int64_t>()};
}

const char* ResultText(OfferEnd end) {
  switch (end) {
    case OfferEnd::kAccepted: return "ACCEPTED";
    case OfferEnd::kDeclined: return "DECLINED";
    case OfferEnd::kExpired: return "EXPIRED";
    case OfferEnd::kFinished: break;
  }
  return "";
}

std::string ExpiryKey(int64_t attempt_id) { return absl::StrCat("telephony.offer:", attempt_id); }

}  // namespace

const char* ReadinessText(Readiness r) {
  switch (r) {
    case Readiness::kReady: return "READY";
    case Readiness::kAutoReady: return "AUTO_READY";
    case Readiness::kNotReady: break;
  }
  return "NOT_READY";
}

Readiness ReadinessOf(std::string_view text) {
  if (text == "READY") return Readiness::kReady;
  if (text == "AUTO_READY") return Readiness::kAutoReady;
  return Readiness::kNotReady;
}

Queue::Queue(const crm::events::OutboxWriter& outbox, QueueOptions options) : outbox_(outbox), options_(options) {}

absl::StatusOr<int> Queue::Match(pqxx::transaction_base& tx, absl::Time now,
                                 const std::vector<std::pair<std::string, std::string>>& exclude) const {
  const int free = crm::pg::ExecPrepared1(tx, sql::kCountFree, options_.match_batch)[0].as<int>();
  if (free == 0) return 0;
  std::vector<QueuedRequest> due;
  // One more request than operators, so an excluded pair does not leave an operator idle.
  for (const pqxx::row& r : crm::pg::ExecPrepared(tx, sql::kDueRequests, FormatRfc3339Utc(now), free + 1)) {
    due.push_back({r[0].c_str(), r[1].as<int>(), absl::FromUnixMicros(r[2].as<int64_t>())});
  }
  if (due.empty()) return 0;
  std::vector<FreeOperator> operators;
  for (const pqxx::row& r : crm::pg::ExecPrepared(tx, sql::kFreeOperators, static_cast<int>(due.size()))) {
    operators.push_back({r[0].c_str(), absl::FromUnixMicros(r[1].as<int64_t>())});
  }
  if (operators.empty()) return 0;
  const absl::Time deadline = now + options_.offer_timeout;
  const std::string now_text = FormatRfc3339Utc(now), deadline_text = FormatRfc3339Utc(deadline);
  int made = 0;
  for (const auto& [request_id, user_id] : Pair(std::move(due), std::move(operators), exclude)) {
    pqxx::row r = crm::pg::ExecPrepared1(tx, sql::kOffer, request_id, user_id, now_text, deadline_text);
    const int64_t attempt_id = r[0].as<int64_t>();
    if (r[1].as<int>() != 1 || r[2].as<int>() != 1) {
      // Both rows are locked by this transaction: only a bug gets here. Roll back rather than half-offer.
      return absl::InternalError(absl::StrCat("offer of call request ", request_id, " to ", user_id, " not made"));
    }
    CRM_RETURN_IF_ERROR(crm::timers::TimerStore::Schedule(tx, ExpiryKey(attempt_id), kOfferExpiryKind, deadline,
                                                          absl::StrCat(attempt_id))
                            .status());
    v1::CallRequestOffered offered;
    offered.set_request_id(request_id);
    offered.set_operator_id(user_id);
    offered.set_attempt_id(attempt_id);
    *offered.mutable_offer_time() = ToProtoTimestamp(now);
    *offered.mutable_deadline() = ToProtoTimestamp(deadline);
    CRM_RETURN_IF_ERROR(Emit(tx, outbox_, request_id, v1::kRequestOfferedType, offered, user_id));
    ++made;
  }
  return made;
}

absl::Status Queue::Queued(pqxx::transaction_base& tx, std::string_view request_id, absl::Time due,
                           absl::Time now) const {
  if (due <= now) return absl::OkStatus();
  return crm::timers::TimerStore::Schedule(
             tx, absl::StrCat("telephony.request_due:", AsAbsl(request_id), ":", absl::ToUnixMicros(due)), kDueKind, due,
             request_id)
      .status();
}

absl::Status Queue::Accept(pqxx::transaction_base& tx, std::string_view request_id, std::string_view user_id,
                           absl::Time now) const {
  CRM_ASSIGN_OR_RETURN(LockedRequest req, LockRequest(tx, request_id));
  if (req.state != "OFFERED" || req.operator_id != user_id) {
    return absl::FailedPreconditionError(absl::StrCat("call request ", AsAbsl(request_id), " is not offered to you"));
  }
  return EndOffer(tx, request_id, user_id, req.attempt_id, OfferEnd::kAccepted, "", now);
}

absl::Status Queue::Decline(pqxx::transaction_base& tx, std::string_view request_id, std::string_view user_id,
                            std::string_view comment, absl::Time now) const {
  CRM_ASSIGN_OR_RETURN(LockedRequest req, LockRequest(tx, request_id));
  if (req.state != "OFFERED" || req.operator_id != user_id) {
    return absl::FailedPreconditionError(absl::StrCat("call request ", AsAbsl(request_id), " is not offered to you"));
  }
  return EndOffer(tx, request_id, user_id, req.attempt_id, OfferEnd::kDeclined, comment, now);
}

absl::Status Queue::EndOffer(pqxx::transaction_base& tx, std::string_view request_id, std::string_view user_id,
                             int64_t attempt_id, OfferEnd end, std::string_view comment, absl::Time now) const {
  const std::string id(request_id), user(user_id), now_text = FormatRfc3339Utc(now);
  if (crm::pg::ExecPrepared(tx, sql::kEndOffer, attempt_id, ResultText(end), now_text, std::string(comment))
          .affected_rows() != 1) {
    return absl::InternalError(absl::StrCat("attempt ", attempt_id, " of call request ", id, " is not pending"));
  }
  v1::CallRequestOfferEnded ended;
  ended.set_request_id(id);
  ended.set_operator_id(user);
  ended.set_attempt_id(attempt_id);
  *ended.mutable_time() = ToProtoTimestamp(now);
  if (end == OfferEnd::kAccepted) {
    crm::pg::ExecPrepared(tx, sql::kStartWork, id, now_text);
    ended.set_result(v1::ATTEMPT_RESULT_ACCEPTED);
    return Emit(tx, outbox_, id, v1::kRequestAcceptedType, ended, user);
  }
  crm::pg::ExecPrepared(tx, sql::kRequeue, id, now_text);
  pqxx::result op = crm::pg::ExecPrepared(tx, sql::kOperatorForUpdate, user);
  if (op.empty()) return absl::InternalError(absl::StrCat("operator ", user, " has no state"));
  const auto [readiness, reason] = ReadinessAfter(ReadinessOf(op[0][0].c_str()), op[0][1].c_str(), end);
  crm::pg::ExecPrepared(tx, sql::kReleaseOperator, user, std::string(ReadinessText(readiness)), reason, now_text);
  ended.set_result(end == OfferEnd::kExpired ? v1::ATTEMPT_RESULT_EXPIRED : v1::ATTEMPT_RESULT_DECLINED);
  CRM_RETURN_IF_ERROR(Emit(tx, outbox_, id, end == OfferEnd::kExpired ? v1::kRequestExpiredType
                                                                       : v1::kRequestDeclinedType,
                           ended, user));
  return Match(tx, now, {{id, user}}).status();
}

absl::Status Queue::Finish(pqxx::transaction_base& tx, std::string_view request_id, std::string_view user_id,
                           std::string_view outcome, std::optional<absl::Time> planned, std::string_view comment,
                           absl::Time now) const {
  CRM_ASSIGN_OR_RETURN(LockedRequest req, LockRequest(tx, request_id));
  if (req.state != "IN_WORK" || req.operator_id != user_id) {
    return absl::FailedPreconditionError(absl::StrCat("call request ", AsAbsl(request_id), " is not in work by you"));
  }
  const std::string id(request_id), user(user_id), now_text = FormatRfc3339Utc(now), out(outcome);
  if (crm::pg::ExecPrepared(tx, sql::kFinishAttempt, req.attempt_id, out, now_text, std::string(comment))
          .affected_rows() != 1) {
    return absl::InternalError(absl::StrCat("attempt ", req.attempt_id, " of call request ", id, " is not in work"));
  }
  if (planned) {
    crm::pg::ExecPrepared(tx, sql::kFinishRequeue, id, FormatRfc3339Utc(*planned), now_text);
    CRM_RETURN_IF_ERROR(Queued(tx, id, *planned, now));
  } else {
    crm::pg::ExecPrepared(tx, sql::kFinishDone, id, out, now_text);
  }
  pqxx::result op = crm::pg::ExecPrepared(tx, sql::kOperatorForUpdate, user);
  if (op.empty()) return absl::InternalError(absl::StrCat("operator ", user, " has no state"));
  const auto [readiness, reason] = ReadinessAfter(ReadinessOf(op[0][0].c_str()), op[0][1].c_str(), OfferEnd::kFinished);
  crm::pg::ExecPrepared(tx, sql::kReleaseOperator, user, std::string(ReadinessText(readiness)), reason, now_text);
  v1::CallRequestFinished finished;
  finished.set_request_id(id);
  finished.set_operator_id(user);
  finished.set_attempt_id(req.attempt_id);
  v1::RequestOutcome o = v1::REQUEST_OUTCOME_UNSPECIFIED;
  v1::RequestOutcome_Parse(absl::StrCat("REQUEST_OUTCOME_", out), &o);
  finished.set_outcome(o);
  if (planned) *finished.mutable_planned_time() = ToProtoTimestamp(*planned);
  *finished.mutable_time() = ToProtoTimestamp(now);
  CRM_RETURN_IF_ERROR(Emit(tx, outbox_, id, v1::kRequestFinishedType, finished, user));
  return Match(tx, now).status();
}

absl::Status Queue::OnOfferExpiry(pqxx::transaction_base& tx, const crm::timers::Timer& timer, absl::Time now) const {
  int64_t attempt_id = 0;
  try {
    attempt_id = std::stoll(timer.payload);
  } catch (const std::exception&) {
    return absl::InternalError(absl::StrCat("offer timer ", timer.key, " has no attempt id"));
  }
  pqxx::result a = crm::pg::ExecPrepared(tx, sql::kAttemptRequest, attempt_id);
  if (a.empty()) return absl::OkStatus();
  const std::string id = a[0][0].c_str();
  CRM_ASSIGN_OR_RETURN(LockedRequest req, LockRequest(tx, id));
  // Accepted, declined or expired already: nothing to do.
  if (req.state != "OFFERED" || req.attempt_id != attempt_id) return absl::OkStatus();
  return EndOffer(tx, id, req.operator_id, attempt_id, OfferEnd::kExpired, "", now);
}

absl::Status Queue::OnDue(pqxx::transaction_base& tx, const crm::timers::Timer&, absl::Time now) const {
  return Match(tx, now).status();
}

}  // namespace crm::telephony::requests
