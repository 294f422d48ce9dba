// File: services/telephony/calls/commands.cc
// The commands out to the PBX (P1; service.h): click-to-call from the caller's extension, and transfer,
// hold, merge and hang up of a stored leg, each through the adapter of the call's provider (pbx.h).
#include <pqxx/pqxx>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/call.h"
#include "services/telephony/calls/access.h"
#include "services/telephony/calls/pbx.h"
#include "services/telephony/calls/service.h"
#include "services/telephony/calls/sql.h"
#include "services/telephony/calls/store.h"

namespace crm::telephony::calls {
namespace {

absl::StatusOr<PbxCommands*> AdapterFor(const PbxRegistry& pbx, std::string_view provider) {
  PbxCommands* adapter = pbx.Find(provider);
  if (adapter == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("no PBX is configured for provider \"", AsAbsl(provider), "\": commands cannot reach it"));
  }
  return adapter;
}

// A dialable target: a phone number (E.164 after normalising) or an extension; '+', digits, '*', '#'.
bool Dialable(std::string_view s) {
  if (s.empty() || s.size() > 40) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(c) && c != '+' && c != '*' && c != '#') return false;
  }
  return true;
}

std::string Digits(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '-' && c != '(' && c != ')') out.push_back(c);
  }
  return out;
}

struct LegTarget {
  PbxCommands* adapter = nullptr;
  LegRef ref;
};

void CheckLegIds(std::string_view call_field, std::string_view call_id, std::string_view leg_field,
                 std::string_view leg_id, std::vector<FieldViolation>& bad) {
  if (!IsUuid(call_id)) bad.push_back({std::string(call_field), "must be a call id"});
  if (!IsUuid(leg_id)) bad.push_back({std::string(leg_field), "must be a leg id"});
}

// The leg `leg_id` of call `call_id` as the caller may command it, with its adapter.
absl::StatusOr<LegTarget> Resolve(crm::pg::Pool& pool, const PbxRegistry& pbx, const Principal& caller,
                                  std::string_view call_id, std::string_view leg_id, std::string_view leg_field) {
  LegTarget out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool, [&](pqxx::transaction_base& tx) -> absl::Status {
    std::optional<v1::Call> c = LoadCall(tx, call_id, false);
    if (!c) return CallNotFound(call_id);
    CRM_RETURN_IF_ERROR(CheckCanOperate(tx, caller, *c));
    pqxx::result r = crm::pg::ExecPrepared(tx, sql::kLegOfCall, std::string(call_id), std::string(leg_id));
    if (r.empty()) return absl::NotFoundError(absl::StrCat("leg ", AsAbsl(leg_id), " of call ", AsAbsl(call_id), " not found"));
    const v1::CallLeg leg = LegOf(r[0]);
    if (leg.state() == v1::CALL_STATE_ENDED) {
      return WithFieldViolations(absl::FailedPreconditionError(absl::StrCat("leg ", AsAbsl(leg_id), " has ended")),
                                 {{std::string(leg_field), "the leg has ended"}});
    }
    CRM_ASSIGN_OR_RETURN(out.adapter, AdapterFor(pbx, c->provider()));
    out.ref = LegRef{.call_key = c->call_key(), .leg_key = leg.leg_key(), .channel = leg.channel()};
    return absl::OkStatus();
  }));
  return out;
}

v1::CallCommandResponse Accepted() {
  v1::CallCommandResponse r;
  r.set_accepted(true);
  return r;
}

}  // namespace

absl::StatusOr<v1::OriginateResponse> Calls::Originate(const Principal& caller, const v1::OriginateRequest& req,
                                                       std::string_view idempotency_key) {
  std::vector<FieldViolation> bad;
  const std::string raw = Digits(req.number());
  if (!Dialable(raw)) bad.push_back({"number", "required: a phone number or an extension"});
  if (req.line().size() > 40) bad.push_back({"line", "at most 40 characters"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kOperate));
  const std::string me = CallerUserId(caller);
  if (!IsUuid(me)) return absl::PermissionDeniedError("only an employee calls from their extension");
  CRM_ASSIGN_OR_RETURN(PbxCommands * adapter, AdapterFor(pbx_, provider_));
  const crm::pg::IdempotencyScope scope{.caller = crm::rpc::IdempotencyCaller(caller),
                                        .method = "crm.telephony.v1.CallService/Originate",
                                        .key = std::string(idempotency_key)};
  v1::OriginateResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return crm::pg::RunIdempotent(tx, scope, clock_.Now(), req, out, [&]() -> absl::Status {
      pqxx::result ext = crm::pg::ExecPrepared(tx, sql::kExtensionOfUser, me, provider_);
      if (ext.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("you have no extension on ", provider_, ": an administrator assigns one"));
      }
      OriginateRequest o{.extension = ext[0][0].c_str(), .number = NormalizeNumber(raw), .line = req.line(),
                         .reference = NewUuidV7()};
      CRM_ASSIGN_OR_RETURN(std::string reference, adapter->Originate(o));
      out.set_provider(provider_);
      out.set_extension(o.extension);
      out.set_number(o.number);
      out.set_reference(reference.empty() ? o.reference : reference);
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<v1::CallCommandResponse> Calls::Transfer(const Principal& caller, const v1::TransferRequest& req) {
  std::vector<FieldViolation> bad;
  CheckLegIds("call_id", req.call_id(), "leg_id", req.leg_id(), bad);
  const std::string target = Digits(req.target());
  if (!Dialable(target)) bad.push_back({"target", "required: an extension or a phone number"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_ASSIGN_OR_RETURN(LegTarget t, Resolve(pool_, pbx_, caller, req.call_id(), req.leg_id(), "leg_id"));
  CRM_RETURN_IF_ERROR(t.adapter->Transfer(t.ref, NormalizeNumber(target)));
  return Accepted();
}

absl::StatusOr<v1::CallCommandResponse> Calls::Hold(const Principal& caller, const v1::HoldRequest& req) {
  std::vector<FieldViolation> bad;
  CheckLegIds("call_id", req.call_id(), "leg_id", req.leg_id(), bad);
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_ASSIGN_OR_RETURN(LegTarget t, Resolve(pool_, pbx_, caller, req.call_id(), req.leg_id(), "leg_id"));
  CRM_RETURN_IF_ERROR(t.adapter->Hold(t.ref, req.on()));
  return Accepted();
}

absl::StatusOr<v1::CallCommandResponse> Calls::Merge(const Principal& caller, const v1::MergeRequest& req) {
  std::vector<FieldViolation> bad;
  CheckLegIds("call_id", req.call_id(), "leg_id", req.leg_id(), bad);
  CheckLegIds("other_call_id", req.other_call_id(), "other_leg_id", req.other_leg_id(), bad);
  if (bad.empty() && req.leg_id() == req.other_leg_id()) bad.push_back({"other_leg_id", "must be another leg"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_ASSIGN_OR_RETURN(LegTarget a, Resolve(pool_, pbx_, caller, req.call_id(), req.leg_id(), "leg_id"));
  CRM_ASSIGN_OR_RETURN(LegTarget b,
                       Resolve(pool_, pbx_, caller, req.other_call_id(), req.other_leg_id(), "other_leg_id"));
  if (a.adapter != b.adapter) {
    return InvalidFieldError("other_leg_id", "a leg on another PBX cannot be merged");
  }
  CRM_RETURN_IF_ERROR(a.adapter->Merge(a.ref, b.ref));
  return Accepted();
}

absl::StatusOr<v1::CallCommandResponse> Calls::Hangup(const Principal& caller, const v1::HangupRequest& req) {
  std::vector<FieldViolation> bad;
  CheckLegIds("call_id", req.call_id(), "leg_id", req.leg_id(), bad);
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_ASSIGN_OR_RETURN(LegTarget t, Resolve(pool_, pbx_, caller, req.call_id(), req.leg_id(), "leg_id"));
  CRM_RETURN_IF_ERROR(t.adapter->Hangup(t.ref));
  return Accepted();
}

}  // namespace crm::telephony::calls
