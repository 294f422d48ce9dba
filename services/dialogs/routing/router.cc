// File: services/dialogs/routing/router.cc
#include "services/dialogs/routing/router.h"

#include <pqxx/pqxx>

#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crm/dialogs/v1/events.pb.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/events/outbox.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/client.h"
#include "libs/timers/timers.h"
#include "proto/crm/dialogs/v1/event_types.h"
#include "services/dialogs/routing/distribute.h"
#include "services/dialogs/routing/metrics.h"
#include "services/dialogs/routing/sql.h"
#include "services/dialogs/routing/working_time.h"

namespace crm::dialogs::routing {
namespace {

struct DialogRow {
  std::string bot_id;
  std::string status;
  bool closed = false;
  std::string project;
  std::string topic;
  std::string responsible_id;
  std::string client_id;
  absl::Time queued_time = absl::InfinitePast();
};

std::optional<DialogRow> LoadLocked(pqxx::transaction_base& tx, std::string_view id) {
  pqxx::result r = crm::pg::ExecPrepared(tx, sql::kDialogForUpdate, std::string(id));
  if (r.empty()) return std::nullopt;
  DialogRow d{.bot_id = r[0][0].c_str(),
              .status = r[0][1].c_str(),
              .closed = r[0][2].as<bool>(),
              .project = r[0][3].c_str(),
              .topic = r[0][4].c_str(),
              .responsible_id = r[0][5].c_str(),
              .client_id = r[0][6].c_str()};
  if (const int64_t us = r[0][7].as<int64_t>(); us != 0) d.queued_time = absl::FromUnixMicros(us);
  return d;
}

std::vector<OperatorState> OperatorsOf(pqxx::transaction_base& tx, const std::string& bot_id) {
  std::vector<OperatorState> out;
  for (const auto& r : crm::pg::ExecPrepared(tx, sql::kOperatorsOfBot, bot_id)) {
    out.push_back({.user_id = r[0].c_str(),
                   .presence = PresenceOf(r[1].c_str()),
                   .capacity = r[2].as<int>(),
                   .open = r[5].as<int>(),
                   .last_assigned = r[4].as<bool>() ? absl::InfinitePast()
                                                    : absl::FromUnixMicros(r[3].as<int64_t>())});
  }
  return out;
}

std::vector<Rule> RulesOf(pqxx::transaction_base& tx, const std::string& bot_id) {
  std::vector<Rule> out;
  for (const auto& r : crm::pg::ExecPrepared(tx, sql::kRulesOfBot, bot_id)) {
    Rule rule{.project = r[2].c_str(), .topic = r[3].c_str(), .priority = r[4].as<int>()};
    if (const std::string user = r[0].c_str(); !user.empty()) {
      rule.user_id = user;
      out.push_back(rule);
    }
    const std::string members = r[1].c_str();
    if (members.empty()) continue;
    for (absl::string_view m : absl::StrSplit(members, ',')) {
      rule.user_id = std::string(m);
      out.push_back(rule);
    }
  }
  return out;
}

const crm::common::v1::Principal& System() {
  static const auto* p = new crm::common::v1::Principal(crm::rpc::ServicePrincipal("dialogs"));
  return *p;
}

std::string TimeoutKey(int64_t assignment_id) { return absl::StrCat(kReplyTimeoutKind, ":", assignment_id); }

}  // namespace

Router::Router(const crm::calendar::WorkingCalendar& calendar, BotHoursProvider hours,
               const crm::events::OutboxWriter& outbox)
    : calendar_(calendar), hours_(std::move(hours)), outbox_(outbox) {}

absl::StatusOr<std::string> Router::Distribute(pqxx::transaction_base& tx, std::string_view dialog_id,
                                               absl::Time not_before, absl::Time now, const Target& target) const {
  std::optional<DialogRow> d = LoadLocked(tx, dialog_id);
  if (!d || d->closed) return std::string();
  if (target.only_queued && d->status != "QUEUED") return std::string();
  const std::string id(dialog_id);
  if (not_before <= now) {
    std::vector<OperatorState> ops = OperatorsOf(tx, d->bot_id);
    // Choose, then lock the chosen operator and count again: a concurrent distribution may have filled
    // them meanwhile; then they are full here too and the choice is made again.
    const auto choose_and_lock = [&](const std::vector<Rule>& rules) -> std::optional<std::string> {
      for (size_t attempt = 0; attempt <= ops.size(); ++attempt) {
        std::optional<std::string> chosen = Choose(rules, ops, d->project, d->topic, target.exclude);
        if (!chosen) return std::nullopt;
        crm::pg::ExecPrepared(tx, sql::kLockOperator, *chosen);
        pqxx::row now_open = crm::pg::ExecPrepared1(tx, sql::kOpenOfOperator, *chosen);
        const int open = now_open[0].as<int>();
        const int capacity = now_open[1].as<int>();
        if (open < capacity) return chosen;
        for (OperatorState& o : ops) {
          if (o.user_id == *chosen) o.open = open, o.capacity = capacity;
        }
      }
      return std::nullopt;
    };
    std::optional<std::string> chosen;
    if (target.only_users.empty()) {
      // The operator whose QR code brought the client, if available; else the bot's rules.
      if (preferred_) {
        CRM_ASSIGN_OR_RETURN(std::string preferred, preferred_(tx, id));
        if (!preferred.empty()) chosen = choose_and_lock({{.user_id = preferred}});
      }
      if (!chosen) chosen = choose_and_lock(RulesOf(tx, d->bot_id));
    } else {
      std::vector<Rule> rules;
      for (const std::string& u : target.only_users) rules.push_back({.user_id = u});
      chosen = choose_and_lock(rules);
    }
    if (chosen) {
      CRM_RETURN_IF_ERROR(AssignTo(tx, id, *chosen, target.kind, target.by_user_id, now));
      return *std::move(chosen);
    }
  }
  if (!target.queue_when_nobody) return std::string();
  const absl::Time from = std::max(now, not_before);
  crm::pg::ExecPrepared(tx, sql::kQueue, id, FormatRfc3339Utc(from), FormatRfc3339Utc(now));
  if (target.kind == kTimedOut) {
    CRM_RETURN_IF_ERROR(Record(tx, id, d->bot_id, kTimedOut, target.from_user_id, target.by_user_id, now));
  } else {
    CRM_RETURN_IF_ERROR(Record(tx, id, d->bot_id, kQueued, d->responsible_id, target.by_user_id, now));
  }
  if (from > now) {
    // Out of hours: offered when the working period starts.
    CRM_RETURN_IF_ERROR(crm::timers::TimerStore::Schedule(
                            tx, absl::StrCat(kOfferKind, ":", id, ":", absl::ToUnixMicros(from)), kOfferKind, from, id)
                            .status());
  }
  return std::string();
}

absl::Status Router::AssignTo(pqxx::transaction_base& tx, std::string_view dialog_id, std::string_view to_user_id,
                              const char* kind, std::string_view by_user_id, absl::Time now) const {
  std::optional<DialogRow> d = LoadLocked(tx, dialog_id);
  if (!d || d->closed) return absl::FailedPreconditionError(absl::StrCat("dialog ", std::string(dialog_id), " is closed"));
  const std::string id(dialog_id);
  crm::pg::ExecPrepared(tx, sql::kAssign, id, std::string(to_user_id), FormatRfc3339Utc(now));
  if (!d->client_id.empty()) crm::pg::ExecPrepared(tx, sql::kUnparkSync, id, FormatRfc3339Utc(now));
  if (d->status == "QUEUED" && d->queued_time != absl::InfinitePast()) {
    ObserveQueueWait(d->bot_id, absl::ToDoubleSeconds(now - d->queued_time));
  }
  return Assigned(tx, id, d->bot_id, kind, d->responsible_id, to_user_id, by_user_id, now);
}

absl::Status Router::Assigned(pqxx::transaction_base& tx, std::string_view dialog_id, std::string_view bot_id,
                              const char* kind, std::string_view from_user_id, std::string_view to_user_id,
                              std::string_view by_user_id, absl::Time now) const {
  const std::string at = FormatRfc3339Utc(now);
  const int64_t assignment =
      crm::pg::ExecPrepared1(tx, sql::kInsertAssignment, std::string(dialog_id), std::string(bot_id),
                             std::string(kind), std::string(from_user_id), std::string(to_user_id),
                             std::string(by_user_id), at)[0]
          .as<int64_t>();
  CountAssignment(kind);
  crm::pg::ExecPrepared(tx, sql::kTouchOperator, std::string(to_user_id), at);
  CRM_RETURN_IF_ERROR(ScheduleTimeout(tx, bot_id, assignment, now));
  crm::dialogs::v1::DialogAssigned e;
  e.set_dialog_id(std::string(dialog_id));
  e.set_bot_id(std::string(bot_id));
  e.set_from_user_id(std::string(from_user_id));
  e.set_to_user_id(std::string(to_user_id));
  e.set_kind(kind);
  *e.mutable_time() = ToProtoTimestamp(now);
  crm::events::NewEvent ev{.aggregate_type = crm::dialogs::v1::kDialogAggregate,
                           .aggregate_id = std::string(dialog_id),
                           .type = crm::dialogs::v1::kDialogAssignedType,
                           .payload = &e,
                           .actor = System()};
  if (!by_user_id.empty()) ev.actor = crm::rpc::ServicePrincipal("dialogs", by_user_id);
  ev.visible_to_user_ids.push_back(std::string(to_user_id));
  return outbox_.Append(tx, ev).status();
}

absl::Status Router::Record(pqxx::transaction_base& tx, std::string_view dialog_id, std::string_view bot_id,
                            const char* kind, std::string_view from_user_id, std::string_view by_user_id,
                            absl::Time now) {
  crm::pg::ExecPrepared(tx, sql::kInsertAssignment, std::string(dialog_id), std::string(bot_id), std::string(kind),
                        std::string(from_user_id), std::string(), std::string(by_user_id), FormatRfc3339Utc(now));
  CountAssignment(kind);
  return absl::OkStatus();
}

absl::Status Router::Release(pqxx::transaction_base& tx, std::string_view dialog_id, std::string_view by_user_id,
                             absl::Time now) const {
  std::optional<DialogRow> d = LoadLocked(tx, dialog_id);
  if (!d || d->closed) return absl::OkStatus();
  crm::pg::ExecPrepared(tx, sql::kQueue, std::string(dialog_id), FormatRfc3339Utc(now), FormatRfc3339Utc(now));
  CRM_RETURN_IF_ERROR(Record(tx, dialog_id, d->bot_id, kReleased, d->responsible_id, by_user_id, now));
  // Offered to the others at once (the releaser is not excluded later: the queue is everyone's).
  return Distribute(tx, dialog_id, now, now,
                    {.exclude = {d->responsible_id}, .by_user_id = std::string(by_user_id),
                     .queue_when_nobody = false, .only_queued = true})
      .status();
}

absl::Status Router::ScheduleTimeout(pqxx::transaction_base& tx, std::string_view bot_id, int64_t assignment_id,
                                     absl::Time now) const {
  pqxx::result r = crm::pg::ExecPrepared(tx, sql::kTimeoutOfBot, std::string(bot_id));
  const int minutes = r.empty() ? 0 : r[0][0].as<int>();
  if (minutes <= 0) return absl::OkStatus();
  WeekHours week;
  if (hours_) {
    CRM_ASSIGN_OR_RETURN(BotHours h, hours_(tx, bot_id));
    week = std::move(h.working_hours);
  }
  const absl::Time due = AddWorkingTime(week, calendar_, now, absl::Minutes(minutes));
  if (due == absl::InfiniteFuture()) return absl::OkStatus();
  return crm::timers::TimerStore::Schedule(tx, TimeoutKey(assignment_id), kReplyTimeoutKind, due,
                                           absl::StrCat(assignment_id))
      .status();
}

absl::StatusOr<int64_t> Router::WorkingSecondsOf(pqxx::transaction_base& tx, std::string_view bot_id, absl::Time a,
                                                 absl::Time b) const {
  WeekHours week;
  if (hours_) {
    CRM_ASSIGN_OR_RETURN(BotHours h, hours_(tx, bot_id));
    week = std::move(h.working_hours);
  }
  return WorkingSeconds(week, calendar_, a, b);
}

absl::Status Router::OnOperatorReply(pqxx::transaction_base& tx, std::string_view dialog_id,
                                     std::string_view user_id, absl::Time now) const {
  pqxx::result r = crm::pg::ExecPrepared(tx, sql::kUnansweredAssignment, std::string(dialog_id), std::string(user_id));
  if (r.empty()) return absl::OkStatus();
  const int64_t id = r[0][0].as<int64_t>();
  const absl::Time assigned = absl::FromUnixMicros(r[0][1].as<int64_t>());
  const std::string bot = r[0][2].c_str();
  CRM_ASSIGN_OR_RETURN(int64_t working, WorkingSecondsOf(tx, bot, assigned, now));
  if (crm::pg::ExecPrepared(tx, sql::kAnswer, id, FormatRfc3339Utc(now), working).affected_rows() == 0) {
    return absl::OkStatus();  // not the first reply
  }
  ObserveFirstReply(bot, static_cast<double>(working));
  return crm::timers::TimerStore::Cancel(tx, TimeoutKey(id)).status();
}

absl::StatusOr<int> Router::OfferBot(pqxx::transaction_base& tx, std::string_view bot_id, absl::Time now) const {
  int assigned = 0;
  for (const auto& r : crm::pg::ExecPrepared(tx, sql::kQueuedOfBot, std::string(bot_id), FormatRfc3339Utc(now),
                                             kOfferBatch)) {
    CRM_ASSIGN_OR_RETURN(std::string to,
                         Distribute(tx, r[0].c_str(), now, now, {.queue_when_nobody = false, .only_queued = true}));
    if (!to.empty()) ++assigned;
  }
  return assigned;
}

absl::StatusOr<int> Router::OfferOperator(pqxx::transaction_base& tx, std::string_view user_id,
                                          absl::Time now) const {
  int assigned = 0;
  for (const auto& r : crm::pg::ExecPrepared(tx, sql::kBotsOfOperator, std::string(user_id))) {
    CRM_ASSIGN_OR_RETURN(int n, OfferBot(tx, r[0].c_str(), now));
    assigned += n;
  }
  return assigned;
}

absl::Status Router::OnReplyTimeout(pqxx::transaction_base& tx, const crm::timers::Timer& timer,
                                    absl::Time now) const {
  int64_t assignment = 0;
  if (!absl::SimpleAtoi(timer.payload, &assignment)) return absl::OkStatus();  // not ours: nothing to do
  pqxx::result a = crm::pg::ExecPrepared(tx, sql::kAssignment, assignment);
  if (a.empty() || a[0][2].as<bool>()) return absl::OkStatus();  // answered meanwhile
  const std::string dialog_id = a[0][0].c_str();
  const std::string user = a[0][1].c_str();
  std::optional<DialogRow> d = LoadLocked(tx, dialog_id);
  // Still theirs and unanswered: the next operator, or the queue.
  if (!d || d->closed || d->status != "IN_WORK" || d->responsible_id != user) return absl::OkStatus();
  return Distribute(tx, dialog_id, now, now, {.exclude = {user}, .from_user_id = user, .kind = kTimedOut}).status();
}

absl::Status Router::OnOffer(pqxx::transaction_base& tx, const crm::timers::Timer& timer, absl::Time now) const {
  return Distribute(tx, timer.payload, now, now, {.queue_when_nobody = false, .only_queued = true}).status();
}

}  // namespace crm::dialogs::routing
