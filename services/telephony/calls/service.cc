// File: services/telephony/calls/service.cc
// The call log (ListCalls, GetCall), the operator's client choice (SetCallClient) and the extensions admin;
// the commands are in commands.cc, the gRPC surface in grpc_service.cc.
#include "services/telephony/calls/service.h"

#include <pqxx/pqxx>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
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
#include "services/telephony/calls/access.h"
#include "services/telephony/calls/pbx.h"
#include "services/telephony/calls/sql.h"
#include "services/telephony/calls/store.h"

namespace crm::telephony::calls {
namespace {

// A list's statement, recorded for the plan test (libs/pg/statement_recorder.h).
pqxx::result Exec(pqxx::transaction_base& tx, const std::string& sql, const std::vector<std::string>& values) {
  crm::pg::RecordStatement(sql, values);
  return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(values));
}

class Params {
 public:
  std::string Add(std::string value) {
    values_.push_back(std::move(value));
    return absl::StrCat("$", values_.size());
  }
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
};

bool IsMe(std::string_view s) { return absl::EqualsIgnoreCase(AsAbsl(s), "me"); }

// The page token: the last call's start time (Unix µs) and id, base64url.
std::string PageToken(const v1::Call& last) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(absl::ToUnixMicros(FromProtoTimestamp(last.start_time())), "/", last.id()));
}
bool ParsePageToken(std::string_view token, int64_t& micros, std::string& id) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(AsAbsl(token), &raw)) return false;
  std::vector<std::string> parts = absl::StrSplit(raw, absl::MaxSplits('/', 1));
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &micros) || !IsUuid(parts[1])) return false;
  id = parts[1];
  return true;
}

bool ValidExtension(std::string_view s) {
  if (s.empty() || s.size() > 40) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}
bool ValidProvider(std::string_view s) {
  if (s.empty() || s.size() > 50) return false;
  for (char c : s) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

Calls::Calls(crm::pg::Pool& pool, const Clock& clock, const PbxRegistry& pbx, std::string provider)
    : pool_(pool), clock_(clock), pbx_(pbx), provider_(std::move(provider)) {}

absl::StatusOr<v1::ListCallsResponse> Calls::ListCalls(const Principal& caller, const v1::ListCallsRequest& req) {
  std::vector<FieldViolation> bad;
  if (req.page_size() < 0) bad.push_back({"page_size", "must not be negative"});
  const int size = req.page_size() == 0 ? kDefaultPage : std::min<int>(req.page_size(), kMaxPage);
  int64_t after_micros = 0;
  std::string after_id;
  if (!req.page_token().empty() && !ParsePageToken(req.page_token(), after_micros, after_id)) {
    bad.push_back({"page_token", "not a token this list gave"});
  }
  if (!req.client_id().empty() && !IsUuid(req.client_id())) bad.push_back({"client_id", "must be a UUID"});
  if (!req.deal_id().empty() && !IsUuid(req.deal_id())) bad.push_back({"deal_id", "must be a UUID"});
  const std::string me = CallerUserId(caller);
  std::string user = req.user();
  if (IsMe(user)) user = me;
  if (!user.empty() && !IsUuid(user)) bad.push_back({"user", "must be a user id or \"me\""});
  if (!v1::CallDirection_IsValid(req.direction())) bad.push_back({"direction", "unknown direction"});
  if (req.has_from_time() && req.has_to_time() &&
      FromProtoTimestamp(req.to_time()) <= FromProtoTimestamp(req.from_time())) {
    bad.push_back({"to_time", "must be after from_time"});
  }
  if (!bad.empty()) return InvalidFieldsError(bad);
  const Scope scope = ScopeOf(caller);
  if (scope == Scope::kNone) return crm::rpc::RequirePermission(caller, kOperate);

  v1::ListCallsResponse out;
  // Own scope: the caller's calls — asking for another's gives nothing.
  if (scope == Scope::kOwn && (!IsUuid(me) || (!user.empty() && user != me))) return out;
  if (scope == Scope::kOwn) user = me;
  Params p;
  std::string where = "TRUE";
  if (!user.empty()) absl::StrAppend(&where, " AND c.user_id = ", p.Add(user), "::uuid");
  if (!req.client_id().empty()) absl::StrAppend(&where, " AND c.client_id = ", p.Add(req.client_id()), "::uuid");
  if (!req.deal_id().empty()) absl::StrAppend(&where, " AND c.deal_id = ", p.Add(req.deal_id()), "::uuid");
  if (req.direction() != v1::CALL_DIRECTION_UNSPECIFIED) {
    absl::StrAppend(&where, " AND c.direction = ", p.Add(DirectionName(req.direction())));
  }
  // The predicate of calls_missed / calls_user_missed, as the migration spells it.
  if (req.missed_only()) absl::StrAppend(&where, " AND c.direction = 'inbound' AND c.state = 'ended' AND NOT c.answered");
  if (req.has_from_time()) {
    absl::StrAppend(&where, " AND c.started_at >= ", p.Add(FormatRfc3339Utc(FromProtoTimestamp(req.from_time()))),
                    "::timestamptz");
  }
  if (req.has_to_time()) {
    absl::StrAppend(&where, " AND c.started_at < ", p.Add(FormatRfc3339Utc(FromProtoTimestamp(req.to_time()))),
                    "::timestamptz");
  }
  if (!after_id.empty()) {
    absl::StrAppend(&where, " AND (c.started_at, c.id) < (",
                    p.Add(FormatRfc3339Utc(absl::FromUnixMicros(after_micros))), "::timestamptz, ", p.Add(after_id),
                    "::uuid)");
  }
  const std::string sql = absl::StrCat("SELECT " CRM_TEL_CALL_COLUMNS " FROM calls c WHERE ", where,
                                       " ORDER BY c.started_at DESC, c.id DESC LIMIT ",
                                       p.Add(absl::StrCat(size + 1)), "::int");
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.Clear();
    pqxx::result rows = Exec(tx, sql, p.values());
    int n = 0;
    for (const auto& r : rows) {
      if (n++ == size) break;
      *out.add_calls() = CallOf(r);
    }
    if (static_cast<int>(rows.size()) > size) out.set_next_page_token(PageToken(out.calls(size - 1)));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Call> Calls::GetCall(const Principal& caller, std::string_view id) {
  if (id.empty()) return InvalidFieldError("id", "required");
  if (!IsUuid(id)) return InvalidFieldError("id", "must be a call id");
  if (ScopeOf(caller) == Scope::kNone && !crm::rpc::HasPermission(caller, kManage)) {
    return crm::rpc::RequirePermission(caller, kOperate);
  }
  v1::Call out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    std::optional<v1::Call> c = LoadCall(tx, id, false);
    if (!c) return CallNotFound(id);
    CRM_RETURN_IF_ERROR(CheckCanSee(tx, caller, *c));
    out = *std::move(c);
    for (v1::CallLeg& l : LoadLegs(tx, id)) *out.add_legs() = std::move(l);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Call> Calls::SetCallClient(const Principal& caller, const v1::SetCallClientRequest& req) {
  std::vector<FieldViolation> bad;
  if (!IsUuid(req.id())) bad.push_back({"id", "must be a call id"});
  if (!req.client_id().empty() && !IsUuid(req.client_id())) bad.push_back({"client_id", "must be a client id"});
  if (!req.deal_id().empty() && !IsUuid(req.deal_id())) bad.push_back({"deal_id", "must be a deal id"});
  if (!req.project_id().empty() && !IsUuid(req.project_id())) bad.push_back({"project_id", "must be a project id"});
  if (req.client_id().empty() && req.deal_id().empty() && req.project_id().empty()) {
    bad.push_back({"client_id", "give a client, a deal or a project"});
  }
  if (!bad.empty()) return InvalidFieldsError(bad);
  v1::Call out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    const absl::Time now = clock_.Now();
    std::optional<v1::Call> c = LoadCall(tx, req.id(), true);
    if (!c) return CallNotFound(req.id());
    CRM_RETURN_IF_ERROR(CheckCanOperate(tx, caller, *c));
    std::string client = req.client_id().empty() ? c->client_id() : req.client_id();
    std::string name = req.client_id().empty() ? c->client_name() : "";
    if (!req.client_id().empty()) {
      bool candidate = false;
      for (const v1::ClientRef& x : c->client_candidates()) {
        if (x.id() == req.client_id()) {
          candidate = true;
          name = x.name();
        }
      }
      if (!candidate && c->client_candidates_size() > 0) {
        return InvalidFieldError("client_id", "not one of the call's candidates");
      }
    }
    if (!c->interaction_id().empty() && client != c->client_id()) {
      return absl::FailedPreconditionError(
          "the call is already in its client's timeline in deals: its client cannot change");
    }
    if (!c->interaction_id().empty() && !req.project_id().empty() && !c->project_id().empty() &&
        req.project_id() != c->project_id()) {
      return absl::FailedPreconditionError("the call's interaction has its project: it cannot change");
    }
    if (client.empty()) return InvalidFieldError("client_id", "the call has no client yet: give one");
    crm::pg::ExecPrepared(tx, sql::kSetClient, req.id(), client, name, req.deal_id(), req.project_id(),
                          FormatRfc3339Utc(now));
    if (c->state() == v1::CALL_STATE_ENDED) {
      crm::pg::ExecPrepared(tx, sql::kEnqueueInteraction, req.id(), FormatRfc3339Utc(now));
    }
    out = *LoadCall(tx, req.id(), false);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::ListExtensionsResponse> Calls::ListExtensions(const Principal& caller,
                                                                const v1::ListExtensionsRequest& req) {
  std::vector<FieldViolation> bad;
  if (!req.provider().empty() && !ValidProvider(req.provider())) bad.push_back({"provider", "not a provider name"});
  if (!req.user_id().empty() && !IsUuid(req.user_id())) bad.push_back({"user_id", "must be a user id"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kManage));
  v1::ListExtensionsResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.Clear();
    for (const auto& r : crm::pg::ExecPrepared(tx, sql::kListExtensions, req.provider(), req.user_id())) {
      v1::Extension* x = out.add_extensions();
      x->set_provider(r[0].c_str());
      x->set_extension(r[1].c_str());
      x->set_user_id(r[2].c_str());
      *x->mutable_update_time() = ToProtoTimestamp(absl::FromUnixMicros(r[3].as<int64_t>()));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Extension> Calls::PutExtension(const Principal& caller, const v1::PutExtensionRequest& req) {
  const v1::Extension& x = req.extension();
  std::vector<FieldViolation> bad;
  if (!ValidProvider(x.provider())) bad.push_back({"extension.provider", "required: [a-z0-9_-]{1,50}"});
  if (!ValidExtension(x.extension())) bad.push_back({"extension.extension", "required: [0-9A-Za-z_.-]{1,40}"});
  if (!IsUuid(x.user_id())) bad.push_back({"extension.user_id", "must be a user id"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kManage));
  v1::Extension out = x;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    const pqxx::row r = crm::pg::ExecPrepared1(tx, sql::kPutExtension, x.provider(), x.extension(), x.user_id(),
                                               FormatRfc3339Utc(clock_.Now()));
    *out.mutable_update_time() = ToProtoTimestamp(absl::FromUnixMicros(r[0].as<int64_t>()));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::DeleteExtensionResponse> Calls::DeleteExtension(const Principal& caller,
                                                                  const v1::DeleteExtensionRequest& req) {
  std::vector<FieldViolation> bad;
  if (!ValidProvider(req.provider())) bad.push_back({"provider", "required: [a-z0-9_-]{1,50}"});
  if (!ValidExtension(req.extension())) bad.push_back({"extension", "required: [0-9A-Za-z_.-]{1,40}"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kManage));
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    if (crm::pg::ExecPrepared(tx, sql::kDeleteExtension, req.provider(), req.extension()).empty()) {
      return absl::NotFoundError(absl::StrCat("extension ", req.extension(), " of ", req.provider(), " not found"));
    }
    return absl::OkStatus();
  }));
  return v1::DeleteExtensionResponse();
}

}  // namespace crm::telephony::calls
