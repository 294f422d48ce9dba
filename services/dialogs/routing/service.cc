// File: services/dialogs/routing/service.cc
#include "services/dialogs/routing/service.h"

#include <pqxx/pqxx>

#include <algorithm>
#include <optional>
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
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
#include "libs/pg/statement_recorder.h"
#include "libs/rpc/call.h"
#include "services/dialogs/inbox/access.h"
#include "services/dialogs/inbox/store.h"
#include "services/dialogs/routing/distribute.h"
#include "services/dialogs/routing/router.h"
#include "services/dialogs/routing/sql.h"
#include "services/dialogs/scenarios/runner.h"

namespace crm::dialogs::routing {
namespace {

namespace inbox = crm::dialogs::inbox;

std::vector<std::string> Split(const char* s) {
  std::vector<std::string> out;
  if (*s == '\0') return out;
  for (absl::string_view p : absl::StrSplit(s, ',')) out.emplace_back(p);
  return out;
}

void SetTime(int64_t us, google::protobuf::Timestamp* out) {
  if (us != 0) *out = ToProtoTimestamp(absl::FromUnixMicros(us));
}

constexpr int kDefaultPage = 50;
constexpr int kMaxPage = 200;

// The page rule: page_size < 0 refused, 0 = 50, above 200 clamped; the token is the last item's id.
void CheckPage(int32_t size, std::string_view token, std::vector<FieldViolation>& bad) {
  if (size < 0) bad.push_back({"page_size", "must not be negative"});
  if (!token.empty() && !IsUuid(token)) bad.push_back({"page_token", "not a token this list gave"});
}
int PageOf(int32_t size) { return size == 0 ? kDefaultPage : std::min(size, kMaxPage); }

// T8, T9: where a timeline page stopped in each history — the last assignment id and bot transition seq.
struct TimelineCursor {
  int64_t assignment = 0;
  int64_t transition = 0;
};
std::string TimelineToken(const TimelineCursor& c) { return absl::StrCat("t1.", c.assignment, ".", c.transition); }
// False for a token the timeline did not give ("" = the start).
bool ParseTimelineToken(std::string_view token, TimelineCursor* c) {
  if (token.empty()) return true;
  std::vector<absl::string_view> parts = absl::StrSplit(AsAbsl(token), '.');
  return parts.size() == 3 && parts[0] == "t1" && absl::SimpleAtoi(parts[1], &c->assignment) &&
         absl::SimpleAtoi(parts[2], &c->transition) && c->assignment >= 0 && c->transition >= 0;
}

absl::Status RequireReader(const Principal& caller) {
  if (crm::rpc::HasPermission(caller, kAdmin)) return absl::OkStatus();
  return crm::rpc::RequirePermission(caller, inbox::kSupervise);
}

void CheckUuid(std::string_view field, std::string_view v, bool required, std::vector<FieldViolation>& bad) {
  if (v.empty()) {
    if (required) bad.push_back({std::string(field), "required"});
  } else if (!IsUuid(v)) {
    bad.push_back({std::string(field), "must be a UUID"});
  }
}

bool Exists(pqxx::transaction_base& tx, const char* sql, const std::string& a) {
  return !crm::pg::ExecPrepared(tx, sql, a).empty();
}
bool Operates(pqxx::transaction_base& tx, const std::string& bot, const std::string& user) {
  return IsUuid(user) && !crm::pg::ExecPrepared(tx, sql::kIsOperator, bot, user).empty();
}

v1::RoutingRule RuleOf(const pqxx::row& r) {
  v1::RoutingRule out;
  out.set_id(r[0].c_str());
  out.set_bot_id(r[1].c_str());
  out.set_bot_name(r[2].c_str());
  out.set_user_id(r[3].c_str());
  out.set_group_id(r[4].c_str());
  out.set_group_name(r[5].c_str());
  out.set_project(r[6].c_str());
  out.set_topic(r[7].c_str());
  out.set_priority(r[8].as<int>());
  SetTime(r[9].as<int64_t>(), out.mutable_create_time());
  out.set_user_name(r[10].c_str());
  return out;
}

v1::OperatorGroup GroupOf(const pqxx::row& r) {
  v1::OperatorGroup out;
  out.set_id(r[0].c_str());
  out.set_bot_id(r[1].c_str());
  out.set_name(r[2].c_str());
  for (std::string& u : Split(r[3].c_str())) out.add_user_ids(std::move(u));
  SetTime(r[4].as<int64_t>(), out.mutable_create_time());
  return out;
}

// A bot's list request checked (bot_id, the page rule; every violation at once) and its caller may read:
// the page's size.
template <typename Request>
absl::StatusOr<int> CheckBotPage(const Principal& caller, const Request& req) {
  std::vector<FieldViolation> bad;
  CheckUuid("bot_id", req.bot_id(), false, bad);
  CheckPage(req.page_size(), req.page_token(), bad);
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(RequireReader(caller));
  return PageOf(req.page_size());
}

// One page of a bot's rules or groups (the page rule; keyset by id): the request checked, then `sql`
// ($1 bot, $2 after this id, $3 limit) read by `read` into `items`; the next token is the page's last id.
template <typename Request, typename Item>
absl::Status ReadBotPage(crm::pg::Pool& pool, const Principal& caller, const Request& req, const char* sql,
                         Item (*read)(const pqxx::row&), google::protobuf::RepeatedPtrField<Item>* items,
                         std::string* next_page_token) {
  CRM_ASSIGN_OR_RETURN(const int size, CheckBotPage(caller, req));
  return crm::pg::ReadOnce(pool, [&](pqxx::transaction_base& tx) -> absl::Status {
    items->Clear();
    next_page_token->clear();
    pqxx::result rows = crm::pg::ExecPrepared(tx, sql, req.bot_id(), req.page_token(), size + 1);
    for (int i = 0; i < std::min<int>(size, rows.size()); ++i) *items->Add() = read(rows[i]);
    if (static_cast<int>(rows.size()) > size) *next_page_token = items->Get(size - 1).id();
    return absl::OkStatus();
  });
}

v1::Presence PresenceProto(Presence p) {
  switch (p) {
    case Presence::kOnline: return v1::PRESENCE_ONLINE;
    case Presence::kAway: return v1::PRESENCE_AWAY;
    case Presence::kOffline: break;
  }
  return v1::PRESENCE_OFFLINE;
}

v1::Operator OperatorOf(const pqxx::row& r) {
  v1::Operator out;
  out.set_user_id(r[0].c_str());
  for (std::string& b : Split(r[1].c_str())) out.add_bot_ids(std::move(b));
  out.set_capacity(r[2].as<int>());
  out.set_presence(PresenceProto(PresenceOf(r[3].c_str())));
  SetTime(r[4].as<int64_t>(), out.mutable_presence_time());
  out.set_open_dialogs(r[5].as<int>());
  SetTime(r[6].as<int64_t>(), out.mutable_last_assigned_time());
  out.set_version(r[7].as<int64_t>());
  out.set_user_name(r[8].c_str());
  return out;
}

absl::StatusOr<v1::Operator> LoadOperator(pqxx::transaction_base& tx, const std::string& user) {
  pqxx::result r = crm::pg::ExecPrepared(tx, sql::kOperators, std::string(), user, std::string(), 1);
  if (r.empty()) {
    v1::Operator out;  // nobody has set anything for them yet: the defaults
    out.set_user_id(user);
    out.set_capacity(kDefaultCapacity);
    out.set_presence(v1::PRESENCE_OFFLINE);
    return out;
  }
  return OperatorOf(r[0]);
}

v1::AssignmentKind KindOf(std::string_view k) {
  if (k == kQueued) return v1::ASSIGNMENT_KIND_QUEUED;
  if (k == kDistributed) return v1::ASSIGNMENT_KIND_DISTRIBUTED;
  if (k == kTaken) return v1::ASSIGNMENT_KIND_TAKEN;
  if (k == kRedirected) return v1::ASSIGNMENT_KIND_REDIRECTED;
  if (k == kTimedOut) return v1::ASSIGNMENT_KIND_TIMED_OUT;
  if (k == kReleased) return v1::ASSIGNMENT_KIND_RELEASED;
  return v1::ASSIGNMENT_KIND_UNSPECIFIED;
}

// A row of sql::kHistoryPage (after its id) as the API's Assignment.
v1::Assignment AssignmentOf(const pqxx::row& r) {
  v1::Assignment a;
  a.set_kind(KindOf(r[1].c_str()));
  a.set_from_user_id(r[2].c_str());
  a.set_to_user_id(r[3].c_str());
  a.set_by_user_id(r[4].c_str());
  *a.mutable_time() = ToProtoTimestamp(absl::FromUnixMicros(r[5].as<int64_t>()));
  return a;
}

absl::Status NotFound(std::string_view what, std::string_view id) {
  return absl::NotFoundError(absl::StrCat(AsAbsl(what), " ", AsAbsl(id), " not found"));
}

// The dialog as the caller sees it (inbox/access.h), locked when `for_update`; NOT_FOUND when not visible.
absl::StatusOr<inbox::StoredDialog> Visible(pqxx::transaction_base& tx, const Principal& caller, std::string_view id,
                                            bool for_update) {
  CRM_ASSIGN_OR_RETURN(std::optional<inbox::StoredDialog> d, inbox::LoadDialog(tx, id, for_update));
  if (!d) return NotFound("dialog", id);
  const std::string me = inbox::CallerUserId(caller);
  if (!inbox::CanSee(caller, *d, Operates(tx, d->dialog.bot_id(), me))) return NotFound("dialog", id);
  return *std::move(d);
}

// Redirecting or releasing: an IN_WORK dialog, the caller's unless they supervise; the version if given.
absl::Status RequireHandler(const Principal& caller, const inbox::StoredDialog& d, int64_t version) {
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, inbox::kOperate));
  if (d.dialog.responsible_id() != inbox::CallerUserId(caller) &&
      !crm::rpc::HasPermission(caller, inbox::kSupervise)) {
    return absl::FailedPreconditionError(absl::StrCat("dialog ", d.dialog.number(), " is not yours"));
  }
  if (version != 0 && version != d.dialog.version()) {
    return absl::AbortedError(absl::StrCat("version mismatch: dialog ", d.dialog.number(), " is at version ",
                                           d.dialog.version(), ", not ", version));
  }
  if (d.dialog.status() != v1::DIALOG_STATUS_IN_WORK) {
    return absl::FailedPreconditionError(
        absl::StrCat("dialog ", d.dialog.number(), " is not in work (", d.dialog.status_name(), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

Routing::Routing(crm::pg::Pool& pool, const Clock& clock, const Router& router)
    : pool_(pool), clock_(clock), router_(router) {}

absl::StatusOr<v1::ListRoutingRulesResponse> Routing::ListRules(const Principal& caller,
                                                                const v1::ListRoutingRulesRequest& req) {
  v1::ListRoutingRulesResponse out;
  CRM_RETURN_IF_ERROR(ReadBotPage(pool_, caller, req, sql::kListRules, &RuleOf, out.mutable_rules(),
                                  out.mutable_next_page_token()));
  return out;
}

absl::StatusOr<v1::RoutingRule> Routing::CreateRule(const Principal& caller, const v1::CreateRoutingRuleRequest& req,
                                                    std::string_view idempotency_key) {
  const v1::RoutingRule& rule = req.rule();
  std::vector<FieldViolation> bad;
  CheckUuid("rule.bot_id", rule.bot_id(), true, bad);
  CheckUuid("rule.user_id", rule.user_id(), false, bad);
  CheckUuid("rule.group_id", rule.group_id(), false, bad);
  if (rule.user_id().empty() == rule.group_id().empty()) {
    bad.push_back({"rule.user_id", "give exactly one of user_id and group_id"});
  }
  if (CodePoints(rule.project()) > 200) bad.push_back({"rule.project", "at most 200 characters"});
  if (CodePoints(rule.topic()) > 200) bad.push_back({"rule.topic", "at most 200 characters"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kAdmin));
  const crm::pg::IdempotencyScope scope{.caller = crm::rpc::IdempotencyCaller(caller),
                                        .method = "crm.dialogs.v1.RoutingService/CreateRoutingRule",
                                        .key = std::string(idempotency_key)};
  v1::RoutingRule out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return crm::pg::RunIdempotent(tx, scope, clock_.Now(), req, out, [&]() -> absl::Status {
      if (!Exists(tx, sql::kBotExists, rule.bot_id())) return InvalidFieldError("rule.bot_id", "no such bot");
      if (!rule.user_id().empty() && !Operates(tx, rule.bot_id(), rule.user_id())) {
        return absl::FailedPreconditionError(
            absl::StrCat("rule.user_id: user ", rule.user_id(), " has no rights on bot ", rule.bot_id()));
      }
      if (!rule.group_id().empty()) {
        pqxx::result g = crm::pg::ExecPrepared(tx, sql::kGroup, rule.group_id());
        if (g.empty()) return InvalidFieldError("rule.group_id", "no such group");
        if (std::string(g[0][0].c_str()) != rule.bot_id()) {
          return absl::FailedPreconditionError("rule.group_id: the group is of another bot");
        }
      }
      const std::string id = NewUuidV7();
      crm::pg::ExecPrepared(tx, sql::kInsertRule, id, rule.bot_id(), rule.user_id(), rule.group_id(), rule.project(),
                            rule.topic(), rule.priority(), FormatRfc3339Utc(clock_.Now()));
      out = RuleOf(crm::pg::ExecPrepared1(tx, sql::kRuleById, id));
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::Status Routing::DeleteRule(const Principal& caller, std::string_view id) {
  if (id.empty() || !IsUuid(id)) return InvalidFieldError("id", "must be a rule id");
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kAdmin));
  return crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    if (crm::pg::ExecPrepared(tx, sql::kDeleteRule, std::string(id)).empty()) return NotFound("rule", id);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::ListOperatorGroupsResponse> Routing::ListGroups(const Principal& caller,
                                                                   const v1::ListOperatorGroupsRequest& req) {
  v1::ListOperatorGroupsResponse out;
  CRM_RETURN_IF_ERROR(ReadBotPage(pool_, caller, req, sql::kListGroups, &GroupOf, out.mutable_groups(),
                                  out.mutable_next_page_token()));
  return out;
}

absl::StatusOr<v1::OperatorGroup> Routing::CreateGroup(const Principal& caller,
                                                       const v1::CreateOperatorGroupRequest& req,
                                                       std::string_view idempotency_key) {
  const v1::OperatorGroup& g = req.group();
  std::vector<FieldViolation> bad;
  CheckUuid("group.bot_id", g.bot_id(), true, bad);
  if (g.name().empty()) bad.push_back({"group.name", "required"});
  if (CodePoints(g.name()) > 200) bad.push_back({"group.name", "at most 200 characters"});
  if (g.user_ids().empty()) bad.push_back({"group.user_ids", "at least one user"});
  for (int i = 0; i < g.user_ids_size(); ++i) {
    CheckUuid(absl::StrCat("group.user_ids[", i, "]"), g.user_ids(i), true, bad);
  }
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kAdmin));
  const crm::pg::IdempotencyScope scope{.caller = crm::rpc::IdempotencyCaller(caller),
                                        .method = "crm.dialogs.v1.RoutingService/CreateOperatorGroup",
                                        .key = std::string(idempotency_key)};
  v1::OperatorGroup out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return crm::pg::RunIdempotent(tx, scope, clock_.Now(), req, out, [&]() -> absl::Status {
      if (!Exists(tx, sql::kBotExists, g.bot_id())) return InvalidFieldError("group.bot_id", "no such bot");
      std::vector<FieldViolation> no_rights;
      for (int i = 0; i < g.user_ids_size(); ++i) {
        if (!Operates(tx, g.bot_id(), g.user_ids(i))) {
          no_rights.push_back({absl::StrCat("group.user_ids[", i, "]"), "has no rights on the bot"});
        }
      }
      if (!no_rights.empty()) {
        return absl::FailedPreconditionError(absl::StrCat(no_rights[0].field, ": ", no_rights[0].description));
      }
      const std::string id = NewUuidV7();
      std::vector<std::string> users(g.user_ids().begin(), g.user_ids().end());
      if (crm::pg::ExecPrepared(tx, sql::kInsertGroup, id, g.bot_id(), g.name(), crm::pg::ArrayLiteral(users),
                                FormatRfc3339Utc(clock_.Now()))
              .empty()) {
        return absl::AlreadyExistsError(absl::StrCat("group.name: the bot has a group «", g.name(), "» already"));
      }
      out = GroupOf(crm::pg::ExecPrepared1(tx, sql::kGroupById, id));
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<v1::ListOperatorsResponse> Routing::ListOperators(const Principal& caller,
                                                                 const v1::ListOperatorsRequest& req) {
  CRM_ASSIGN_OR_RETURN(const int size, CheckBotPage(caller, req));
  v1::ListOperatorsResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.Clear();
    pqxx::result rows =
        crm::pg::ExecPrepared(tx, sql::kOperators, req.bot_id(), std::string(), req.page_token(), size + 1);
    for (int i = 0; i < std::min<int>(size, rows.size()); ++i) *out.add_operators() = OperatorOf(rows[i]);
    if (static_cast<int>(rows.size()) > size) out.set_next_page_token(out.operators(size - 1).user_id());
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Operator> Routing::UpdateOperator(const Principal& caller, const v1::UpdateOperatorRequest& req) {
  const v1::Operator& op = req.operator_();
  std::vector<FieldViolation> bad;
  CheckUuid("operator.user_id", op.user_id(), true, bad);
  if (op.capacity() < 0 || op.capacity() > kMaxCapacity) {
    bad.push_back({"operator.capacity", absl::StrCat("0..", kMaxCapacity)});
  }
  for (int i = 0; i < op.bot_ids_size(); ++i) CheckUuid(absl::StrCat("operator.bot_ids[", i, "]"), op.bot_ids(i), true, bad);
  if (op.version() < 0) bad.push_back({"operator.version", "must not be negative"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kAdmin));
  v1::Operator out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    const absl::Time now = clock_.Now();
    const std::vector<std::string> bots(op.bot_ids().begin(), op.bot_ids().end());
    pqxx::result missing = crm::pg::ExecPrepared(tx, sql::kMissingBots, crm::pg::ArrayLiteral(bots));
    if (!missing.empty()) {
      for (int i = 0; i < op.bot_ids_size(); ++i) {
        if (op.bot_ids(i) == missing[0][0].c_str()) {
          return InvalidFieldError(absl::StrCat("operator.bot_ids[", i, "]"), "no such bot");
        }
      }
    }
    pqxx::result v = crm::pg::ExecPrepared(tx, sql::kOperatorVersion, op.user_id());
    const int64_t current = v.empty() ? 0 : v[0][0].as<int64_t>();
    if (op.version() != 0 && op.version() != current) {
      return absl::AbortedError(absl::StrCat("version mismatch: operator ", op.user_id(), " is at version ", current,
                                             ", not ", op.version()));
    }
    crm::pg::ExecPrepared(tx, sql::kSetCapacity, op.user_id(), op.capacity(), FormatRfc3339Utc(now));
    crm::pg::ExecPrepared(tx, sql::kDropBots, op.user_id(), crm::pg::ArrayLiteral(bots));
    crm::pg::ExecPrepared(tx, sql::kAddBots, op.user_id(), crm::pg::ArrayLiteral(bots));
    // More capacity or a new bot: the queues may have dialogs for them.
    CRM_RETURN_IF_ERROR(router_.OfferOperator(tx, op.user_id(), now).status());
    CRM_ASSIGN_OR_RETURN(out, LoadOperator(tx, op.user_id()));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Operator> Routing::SetPresence(const Principal& caller, const v1::SetPresenceRequest& req) {
  if (req.presence() == v1::PRESENCE_UNSPECIFIED || !v1::Presence_IsValid(req.presence())) {
    return InvalidFieldError("presence", "PRESENCE_ONLINE, PRESENCE_AWAY or PRESENCE_OFFLINE");
  }
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, inbox::kOperate));
  const std::string me = inbox::CallerUserId(caller);
  if (!IsUuid(me)) return absl::PermissionDeniedError("only a user has a presence");
  const Presence p = req.presence() == v1::PRESENCE_ONLINE ? Presence::kOnline
                     : req.presence() == v1::PRESENCE_AWAY ? Presence::kAway
                                                           : Presence::kOffline;
  v1::Operator out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    const absl::Time now = clock_.Now();
    crm::pg::ExecPrepared(tx, sql::kSetPresence, me, std::string(PresenceCode(p)), FormatRfc3339Utc(now),
                          crm::pg::ArrayLiteral(inbox::CallerTeams(caller)));
    if (p == Presence::kOnline) CRM_RETURN_IF_ERROR(router_.OfferOperator(tx, me, now).status());
    CRM_ASSIGN_OR_RETURN(out, LoadOperator(tx, me));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::BotRouting> Routing::GetBotRouting(const Principal& caller, std::string_view bot_id) {
  if (bot_id.empty() || !IsUuid(bot_id)) return InvalidFieldError("bot_id", "must be a bot id");
  CRM_RETURN_IF_ERROR(RequireReader(caller));
  v1::BotRouting out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    if (!Exists(tx, sql::kBotExists, std::string(bot_id))) return NotFound("bot", bot_id);
    out.Clear();
    out.set_bot_id(std::string(bot_id));
    pqxx::result r = crm::pg::ExecPrepared(tx, sql::kBotRouting, std::string(bot_id));
    if (!r.empty()) out.set_answer_timeout_minutes(r[0][0].as<int>()), out.set_version(r[0][1].as<int64_t>());
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::BotRouting> Routing::UpdateBotRouting(const Principal& caller,
                                                         const v1::UpdateBotRoutingRequest& req) {
  const v1::BotRouting& r = req.routing();
  std::vector<FieldViolation> bad;
  CheckUuid("routing.bot_id", r.bot_id(), true, bad);
  if (r.answer_timeout_minutes() < 0 || r.answer_timeout_minutes() > kMaxAnswerTimeoutMinutes) {
    bad.push_back({"routing.answer_timeout_minutes", absl::StrCat("0..", kMaxAnswerTimeoutMinutes)});
  }
  if (r.version() < 0) bad.push_back({"routing.version", "must not be negative"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kAdmin));
  v1::BotRouting out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    if (!Exists(tx, sql::kBotExists, r.bot_id())) return NotFound("bot", r.bot_id());
    pqxx::result cur = crm::pg::ExecPrepared(tx, sql::kBotRouting, r.bot_id());
    const int64_t current = cur.empty() ? 0 : cur[0][1].as<int64_t>();
    if (r.version() != 0 && r.version() != current) {
      return absl::AbortedError(absl::StrCat("version mismatch: bot ", r.bot_id(), "'s routing is at version ",
                                             current, ", not ", r.version()));
    }
    crm::pg::ExecPrepared(tx, sql::kSetBotRouting, r.bot_id(), r.answer_timeout_minutes(),
                          FormatRfc3339Utc(clock_.Now()));
    pqxx::row now = crm::pg::ExecPrepared1(tx, sql::kBotRouting, r.bot_id());
    out.set_bot_id(r.bot_id());
    out.set_answer_timeout_minutes(now[0].as<int>());
    out.set_version(now[1].as<int64_t>());
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Dialog> Routing::Redirect(const Principal& caller, const v1::RedirectDialogRequest& req) {
  std::vector<FieldViolation> bad;
  CheckUuid("id", req.id(), true, bad);
  CheckUuid("user_id", req.user_id(), false, bad);
  CheckUuid("group_id", req.group_id(), false, bad);
  if (req.user_id().empty() == req.group_id().empty()) bad.push_back({"user_id", "give exactly one of user_id and group_id"});
  if (req.version() < 0) bad.push_back({"version", "must not be negative"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  const std::string me = inbox::CallerUserId(caller);
  v1::Dialog out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    const absl::Time now = clock_.Now();
    CRM_ASSIGN_OR_RETURN(inbox::StoredDialog d, Visible(tx, caller, req.id(), true));
    CRM_RETURN_IF_ERROR(RequireHandler(caller, d, req.version()));
    const std::string& bot = d.dialog.bot_id();
    if (!req.user_id().empty()) {
      // T6: within the same bot — the user must have rights on it.
      if (!Operates(tx, bot, req.user_id())) {
        return absl::FailedPreconditionError(absl::StrCat("user_id: user ", req.user_id(),
                                                          " has no rights on the dialog's bot ", d.dialog.bot_name()));
      }
      if (req.user_id() == d.dialog.responsible_id()) {
        return absl::FailedPreconditionError(absl::StrCat("user_id: dialog ", d.dialog.number(), " is theirs already"));
      }
      CRM_RETURN_IF_ERROR(router_.AssignTo(tx, req.id(), req.user_id(), kRedirected, me, now));
    } else {
      pqxx::result g = crm::pg::ExecPrepared(tx, sql::kGroup, req.group_id());
      if (g.empty()) return InvalidFieldError("group_id", "no such group");
      if (std::string(g[0][0].c_str()) != bot) {
        return absl::FailedPreconditionError("group_id: the group is of another bot than the dialog's");
      }
      Router::Target target{.exclude = {d.dialog.responsible_id()}, .by_user_id = me, .kind = kRedirected,
                            .queue_when_nobody = false, .only_users = Split(g[0][1].c_str())};
      CRM_ASSIGN_OR_RETURN(std::string to, router_.Distribute(tx, req.id(), now, now, target));
      if (to.empty()) {
        return absl::FailedPreconditionError(
            "group_id: nobody of the group is online with spare capacity and rights on the bot");
      }
    }
    CRM_ASSIGN_OR_RETURN(std::optional<inbox::StoredDialog> fresh, inbox::LoadDialog(tx, req.id(), false));
    out = fresh->dialog;
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Dialog> Routing::Release(const Principal& caller, const v1::ReleaseDialogRequest& req) {
  std::vector<FieldViolation> bad;
  CheckUuid("id", req.id(), true, bad);
  if (req.version() < 0) bad.push_back({"version", "must not be negative"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  v1::Dialog out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(inbox::StoredDialog d, Visible(tx, caller, req.id(), true));
    CRM_RETURN_IF_ERROR(RequireHandler(caller, d, req.version()));
    CRM_RETURN_IF_ERROR(router_.Release(tx, req.id(), inbox::CallerUserId(caller), clock_.Now()));
    CRM_ASSIGN_OR_RETURN(std::optional<inbox::StoredDialog> fresh, inbox::LoadDialog(tx, req.id(), false));
    out = fresh->dialog;
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::DialogTimeline> Routing::Timeline(const Principal& caller, const v1::GetDialogTimelineRequest& req) {
  std::vector<FieldViolation> bad;
  CheckUuid("id", req.id(), true, bad);
  if (req.page_size() < 0) bad.push_back({"page_size", "must not be negative"});
  TimelineCursor after;
  if (!ParseTimelineToken(req.page_token(), &after)) bad.push_back({"page_token", "not a token this list gave"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  const int size = PageOf(req.page_size());
  if (inbox::ReadScopeOf(caller) == inbox::ReadScope::kNone) {
    CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, inbox::kReadOwn));
  }
  v1::DialogTimeline out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    out.Clear();
    CRM_ASSIGN_OR_RETURN(inbox::StoredDialog d, Visible(tx, caller, req.id(), false));
    const std::string& id = d.dialog.id();
    out.set_dialog_id(id);
    *out.mutable_create_time() = d.dialog.create_time();
    // The summary: the whole dialog's, on every page.
    crm::pg::RecordStatement(sql::kTimelineFirsts, {id});  // the plan test's (routing_plan_test.cc)
    const pqxx::row firsts = crm::pg::ExecPrepared1(tx, sql::kTimelineFirsts, id);
    auto time_of = [](const pqxx::field& f) {
      const int64_t us = f.as<int64_t>();
      return us == 0 ? absl::InfinitePast() : absl::FromUnixMicros(us);
    };
    const absl::Time taken = time_of(firsts[1]), reply = time_of(firsts[2]);
    absl::Time queued = time_of(firsts[0]);
    // A dialog distributed at once was never queued: its queueing is its assignment.
    if (queued == absl::InfinitePast()) queued = taken;
    const absl::Time created = FromProtoTimestamp(d.dialog.create_time());
    auto span = [&](absl::Time a, absl::Time b) -> absl::StatusOr<int64_t> {
      if (a == absl::InfinitePast() || b == absl::InfinitePast()) return -1;
      return router_.WorkingSecondsOf(tx, d.dialog.bot_id(), a, b);
    };
    if (queued != absl::InfinitePast()) *out.mutable_first_queued_time() = ToProtoTimestamp(queued);
    if (taken != absl::InfinitePast()) *out.mutable_first_taken_time() = ToProtoTimestamp(taken);
    if (reply != absl::InfinitePast()) *out.mutable_first_reply_time() = ToProtoTimestamp(reply);
    CRM_ASSIGN_OR_RETURN(int64_t w1, span(created, queued));
    CRM_ASSIGN_OR_RETURN(int64_t w2, span(queued, taken));
    CRM_ASSIGN_OR_RETURN(int64_t w3, span(taken, reply));
    out.set_wait_queue_working_seconds(w1);
    out.set_wait_take_working_seconds(w2);
    out.set_first_reply_working_seconds(w3);
    // The page: up to size + 1 of each history after the cursor, merged by time (the bot's first at a tie).
    std::vector<std::pair<int64_t, v1::Assignment>> routed;
    crm::pg::RecordStatement(sql::kHistoryPage, {id, absl::StrCat(after.assignment), absl::StrCat(size + 1)});
    for (const auto& r : crm::pg::ExecPrepared(tx, sql::kHistoryPage, id, after.assignment, size + 1)) {
      routed.emplace_back(r[0].as<int64_t>(), AssignmentOf(r));
    }
    CRM_ASSIGN_OR_RETURN(std::vector<v1::BotTransition> bot,
                         scenarios::ScenarioRunner::Transitions(tx, id, after.transition, size + 1));
    size_t i = 0, j = 0;
    TimelineCursor at = after;
    while (out.entries_size() < size && (i < routed.size() || j < bot.size())) {
      v1::TimelineEntry* e = out.add_entries();
      if (j < bot.size() && (i == routed.size() || FromProtoTimestamp(bot[j].time()) <=
                                                         FromProtoTimestamp(routed[i].second.time()))) {
        at.transition = bot[j].seq();
        *e->mutable_time() = bot[j].time();
        *e->mutable_bot_transition() = std::move(bot[j++]);
      } else {
        at.assignment = routed[i].first;
        *e->mutable_time() = routed[i].second.time();
        *e->mutable_assignment() = std::move(routed[i++].second);
      }
    }
    if (i < routed.size() || j < bot.size()) out.set_next_page_token(TimelineToken(at));
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ResponseReport> Routing::Report(const Principal& caller, const v1::GetResponseReportRequest& req) {
  std::vector<FieldViolation> bad;
  if (!req.has_from_time()) bad.push_back({"from_time", "required"});
  if (!req.has_to_time()) bad.push_back({"to_time", "required"});
  const absl::Time from = FromProtoTimestamp(req.from_time());
  const absl::Time to = FromProtoTimestamp(req.to_time());
  if (req.has_from_time() && req.has_to_time()) {
    if (to <= from) bad.push_back({"to_time", "must be after from_time"});
    if (to - from > absl::Hours(24 * kMaxReportDays)) {
      bad.push_back({"to_time", absl::StrCat("a period of at most ", kMaxReportDays, " days")});
    }
  }
  CheckUuid("bot_id", req.bot_id(), false, bad);
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(RequireReader(caller));
  v1::ResponseReport out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.Clear();
    const std::vector<std::string> params = {FormatRfc3339Utc(from), FormatRfc3339Utc(to), req.bot_id()};
    crm::pg::RecordStatement(sql::kReport, params);  // the plan test's (routing_plan_test.cc)
    for (const auto& r : crm::pg::ExecPrepared(tx, sql::kReport, params[0], params[1], params[2])) {
      v1::ResponseReportRow* row = out.add_rows();
      row->set_user_id(r[0].c_str());
      row->set_bot_id(r[1].c_str());
      row->set_bot_name(r[2].c_str());
      row->set_dialogs_taken(r[3].as<int>());
      row->set_dialogs_answered(r[4].as<int>());
      row->set_median_first_reply_working_seconds(r[5].as<int64_t>());
      row->set_p90_first_reply_working_seconds(r[6].as<int64_t>());
      row->set_user_name(r[7].c_str());
    }
    return absl::OkStatus();
  }));
  return out;
}

grpc::Status RoutingServiceImpl::ListRoutingRules(grpc::ServerContext* ctx, const v1::ListRoutingRulesRequest* req,
                                                  v1::ListRoutingRulesResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return routing_.ListRules(c, *req); });
}
grpc::Status RoutingServiceImpl::CreateRoutingRule(grpc::ServerContext* ctx, const v1::CreateRoutingRuleRequest* req,
                                                   v1::RoutingRule* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) {
    return routing_.CreateRule(c, *req, crm::rpc::IdempotencyKey(*ctx));
  });
}
grpc::Status RoutingServiceImpl::DeleteRoutingRule(grpc::ServerContext* ctx, const v1::DeleteRoutingRuleRequest* req,
                                                   v1::DeleteRoutingRuleResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) -> absl::StatusOr<v1::DeleteRoutingRuleResponse> {
    CRM_RETURN_IF_ERROR(routing_.DeleteRule(c, req->id()));
    return v1::DeleteRoutingRuleResponse();
  });
}
grpc::Status RoutingServiceImpl::ListOperatorGroups(grpc::ServerContext* ctx, const v1::ListOperatorGroupsRequest* req,
                                                    v1::ListOperatorGroupsResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return routing_.ListGroups(c, *req); });
}
grpc::Status RoutingServiceImpl::CreateOperatorGroup(grpc::ServerContext* ctx,
                                                     const v1::CreateOperatorGroupRequest* req, v1::OperatorGroup* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) {
    return routing_.CreateGroup(c, *req, crm::rpc::IdempotencyKey(*ctx));
  });
}
grpc::Status RoutingServiceImpl::ListOperators(grpc::ServerContext* ctx, const v1::ListOperatorsRequest* req,
                                               v1::ListOperatorsResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return routing_.ListOperators(c, *req); });
}
grpc::Status RoutingServiceImpl::UpdateOperator(grpc::ServerContext* ctx, const v1::UpdateOperatorRequest* req,
                                                v1::Operator* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return routing_.UpdateOperator(c, *req); });
}
grpc::Status RoutingServiceImpl::SetPresence(grpc::ServerContext* ctx, const v1::SetPresenceRequest* req,
                                             v1::Operator* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return routing_.SetPresence(c, *req); });
}
grpc::Status RoutingServiceImpl::GetBotRouting(grpc::ServerContext* ctx, const v1::GetBotRoutingRequest* req,
                                               v1::BotRouting* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return routing_.GetBotRouting(c, req->bot_id()); });
}
grpc::Status RoutingServiceImpl::UpdateBotRouting(grpc::ServerContext* ctx, const v1::UpdateBotRoutingRequest* req,
                                                  v1::BotRouting* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return routing_.UpdateBotRouting(c, *req); });
}
grpc::Status RoutingServiceImpl::RedirectDialog(grpc::ServerContext* ctx, const v1::RedirectDialogRequest* req,
                                                v1::Dialog* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return routing_.Redirect(c, *req); });
}
grpc::Status RoutingServiceImpl::ReleaseDialog(grpc::ServerContext* ctx, const v1::ReleaseDialogRequest* req,
                                               v1::Dialog* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return routing_.Release(c, *req); });
}
grpc::Status RoutingServiceImpl::GetDialogTimeline(grpc::ServerContext* ctx, const v1::GetDialogTimelineRequest* req,
                                                   v1::DialogTimeline* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return routing_.Timeline(c, *req); });
}
grpc::Status RoutingServiceImpl::GetResponseReport(grpc::ServerContext* ctx, const v1::GetResponseReportRequest* req,
                                                   v1::ResponseReport* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& c) { return routing_.Report(c, *req); });
}

}  // namespace crm::dialogs::routing
