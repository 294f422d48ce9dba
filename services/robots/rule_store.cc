#include "services/robots/rule_store.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/call.h"
#include "proto/crm/common/v1/common.pb.h"
#include "services/robots/lists.h"
#include "services/robots/rules.h"
#include "libs/timers/schedules.h"

namespace crm::robots {
namespace {

using crm::common::v1::Principal;
using v1::Rule;
using v1::Trigger;

std::string IndexKey(int kind, std::string_view scope) { return absl::StrCat(kind, "/", std::string(scope)); }

std::string Bytes(const pqxx::field& f) {
  pqxx::binarystring b(f);
  return b.str();
}

absl::StatusOr<Rule> ParseRule(const pqxx::field& f) {
  Rule rule;
  if (!rule.ParseFromString(Bytes(f))) return absl::DataLossError("a stored rule does not parse");
  return rule;
}


std::string CallerName(const Principal& p) {
  if (!p.id().empty()) return p.id();
  if (!p.on_behalf_of_user_id().empty()) return p.on_behalf_of_user_id();
  return p.service();
}

}  // namespace

RuleIndex::RuleIndex(std::vector<Rule> rules, int64_t revision) : rules_(std::move(rules)), revision_(revision) {
  for (const Rule& r : rules_) {
    const Trigger& t = r.trigger();
    const std::string& scope = !t.stage_id().empty() ? t.stage_id() : t.pipeline_id();
    by_key_[IndexKey(t.kind(), scope)].push_back(&r);
    by_kind_[t.kind()].push_back(&r);
  }
}

std::vector<const Rule*> RuleIndex::Candidates(Trigger::Kind kind, std::string_view pipeline_id,
                                               std::string_view stage_id) const {
  std::vector<const Rule*> out;
  auto add = [&](std::string_view scope) {
    auto it = by_key_.find(IndexKey(kind, scope));
    if (it == by_key_.end()) return;
    for (const Rule* r : it->second) {
      // A rule naming a stage of another pipeline cannot be here (stage ids are unique); one naming a
      // pipeline and a stage was filed under the stage.
      out.push_back(r);
    }
  };
  if (!stage_id.empty()) add(stage_id);
  if (!pipeline_id.empty()) add(pipeline_id);
  add("");
  return out;
}

const std::vector<const Rule*>& RuleIndex::OfKind(Trigger::Kind kind) const {
  static const std::vector<const Rule*> kNone;
  auto it = by_kind_.find(kind);
  return it == by_kind_.end() ? kNone : it->second;
}

RuleStore::RuleStore(pg::Pool& pool, const Clock& clock, timers::ScheduleStore* schedules, RuleStoreOptions options)
    : pool_(pool), clock_(clock), schedules_(schedules), options_(std::move(options)) {}

absl::Status RuleStore::SyncSchedule(pqxx::transaction_base& tx, const Rule& rule) {
  const bool scheduled = rule.trigger().kind() == Trigger::SCHEDULE;
  if (schedules_ == nullptr) {
    if (scheduled) return InvalidFieldError("rule.trigger.kind", "schedules are not configured here");
    return absl::OkStatus();
  }
  // A rule that is (or was) a SCHEDULE rule has one schedule, disabled when the rule is not scheduled.
  pqxx::result had = pg::ExecPrepared(tx, "SELECT 1 FROM schedules WHERE key = $1", absl::StrCat("rule:", rule.id()));
  if (!scheduled && had.empty()) return absl::OkStatus();
  const std::string& zone =
      rule.trigger().schedule().time_zone().empty() ? options_.time_zone : rule.trigger().schedule().time_zone();
  return schedules_
      ->Put(tx, timers::ScheduleDef{.key = absl::StrCat("rule:", rule.id()),
                            .spec = scheduled ? rule.trigger().schedule().spec() : "every day at 00:00",
                            .time_zone = zone,
                            .calendar = options_.calendar,
                            .kind = kScheduleTimerKind,
                            .payload = rule.id(),
                            .enabled = scheduled && rule.enabled()})
      .status();
}

absl::StatusOr<Rule> RuleStore::Store(pqxx::transaction_base& tx, const Principal& caller, Rule rule, bool create) {
  const absl::Time now = clock_.Now();
  *rule.mutable_update_time() = ToProtoTimestamp(now);
  rule.set_updated_by(CallerName(caller));
  if (create) {
    if (rule.id().empty()) rule.set_id(NewUuidV7());
    rule.set_version(1);
    *rule.mutable_create_time() = ToProtoTimestamp(now);
  }
  const std::string body = rule.SerializeAsString();
  const pqxx::binarystring bytes(body.data(), body.size());
  const int64_t now_us = absl::ToUnixMicros(now);
  if (create) {
    pg::ExecPrepared(tx,
        "INSERT INTO rules (id, version, enabled, trigger_kind, pipeline_id, body, create_time, update_time, "
        "updated_by) VALUES ($1::uuid, 1, $2, $3, $4, $5, timestamptz 'epoch' + $6::bigint * interval '1 "
        "microsecond', timestamptz 'epoch' + $6::bigint * interval '1 microsecond', $7)",
        rule.id(), rule.enabled(), static_cast<int>(rule.trigger().kind()), rule.trigger().pipeline_id(), bytes,
        now_us, rule.updated_by());
  } else {
    pg::ExecPrepared(tx,
        "UPDATE rules SET version = $2, enabled = $3, trigger_kind = $4, pipeline_id = $5, body = $6, "
        "update_time = timestamptz 'epoch' + $7::bigint * interval '1 microsecond', updated_by = $8 "
        "WHERE id = $1::uuid",
        rule.id(), rule.version(), rule.enabled(), static_cast<int>(rule.trigger().kind()),
        rule.trigger().pipeline_id(), bytes, now_us, rule.updated_by());
  }
  pg::ExecPrepared(tx,
      "INSERT INTO rule_versions (rule_id, version, body, create_time) VALUES ($1::uuid, $2, $3, "
      "timestamptz 'epoch' + $4::bigint * interval '1 microsecond')",
      rule.id(), rule.version(), bytes, now_us);
  tx.exec0("UPDATE rules_revision SET revision = revision + 1");
  CRM_RETURN_IF_ERROR(SyncSchedule(tx, rule));
  return rule;
}

absl::StatusOr<Rule> RuleStore::Create(const Principal& caller, const Rule& in, std::string_view idempotency_key) {
  const pg::IdempotencyScope scope{.caller = rpc::IdempotencyCaller(caller),
                                   .method = "crm.robots.v1.RuleService/CreateRule",
                                   .key = std::string(idempotency_key)};
  Rule out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    // Validated inside: a key used before with another request is named as such, whatever this one is.
    return pg::RunIdempotent(tx, scope, clock_.Now(), in, out, [&]() -> absl::Status {
      CRM_RETURN_IF_ERROR(ValidateRule(in));
      CRM_ASSIGN_OR_RETURN(out, Store(tx, caller, in, /*create=*/true));
      return absl::OkStatus();
    });
  }));
  absl::MutexLock lock(&mu_);
  checked_ = absl::InfinitePast();  // the next Current() sees it
  return out;
}

absl::StatusOr<bool> RuleStore::Install(const Principal& caller, const Rule& in) {
  if (!IsUuid(in.id())) return InvalidFieldError("rule.id", "not a UUID");
  CRM_RETURN_IF_ERROR(ValidateRule(in));
  bool changed = false;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    changed = false;
    pg::ExecPrepared(tx, "SELECT pg_advisory_xact_lock(hashtext($1))", in.id());
    pqxx::result had = pg::ExecPrepared(tx, "SELECT body FROM rules WHERE id = $1::uuid FOR UPDATE", in.id());
    if (had.empty()) {
      CRM_RETURN_IF_ERROR(Store(tx, caller, in, /*create=*/true).status());
      changed = true;
      return absl::OkStatus();
    }
    CRM_ASSIGN_OR_RETURN(Rule stored, ParseRule(had[0][0]));
    // Someone edited it since (the last version is theirs): their rule now, left as it is.
    if (stored.updated_by() != CallerName(caller)) return absl::OkStatus();
    Rule next = in;
    next.set_id(stored.id());
    next.set_version(stored.version());
    *next.mutable_create_time() = stored.create_time();
    *next.mutable_update_time() = stored.update_time();
    next.set_updated_by(stored.updated_by());
    if (next.SerializeAsString() == stored.SerializeAsString()) return absl::OkStatus();  // as defined
    // The definition changed (a newer build): the next version; running steps keep theirs.
    next.set_version(stored.version() + 1);
    CRM_RETURN_IF_ERROR(Store(tx, caller, std::move(next), /*create=*/false).status());
    changed = true;
    return absl::OkStatus();
  }));
  absl::MutexLock lock(&mu_);
  checked_ = absl::InfinitePast();
  return changed;
}

absl::StatusOr<Rule> RuleStore::GetVersion(pqxx::transaction_base& tx, std::string_view id, int64_t version) {
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  pqxx::result r =
      version > 0
          ? pg::ExecPrepared(tx, "SELECT body FROM rule_versions WHERE rule_id = $1::uuid AND version = $2", std::string(id),
                           version)
          : pg::ExecPrepared(tx, "SELECT body FROM rules WHERE id = $1::uuid", std::string(id));
  if (r.empty()) {
    return absl::NotFoundError(version > 0 ? absl::StrCat("rule ", std::string(id), " version ", version)
                                           : absl::StrCat("rule ", std::string(id)));
  }
  return ParseRule(r[0][0]);
}

absl::StatusOr<Rule> RuleStore::Get(std::string_view id, int64_t version) {
  Rule out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(out, GetVersion(tx, id, version));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::ListRulesResponse> RuleStore::List(const v1::ListRulesRequest& req) {
  std::vector<FieldViolation> violations = ListRulesViolations(req);
  if (!violations.empty()) return InvalidFieldsError(violations);
  const int size = PageSize(req.page_size(), violations);
  v1::ListRulesResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    out.Clear();
    pqxx::result r = Run(tx, RulesPageStatement(req, size + 1));
    for (int i = 0; i < std::min<int>(size, r.size()); ++i) {
      CRM_ASSIGN_OR_RETURN(*out.add_rules(), ParseRule(r[i][0]));
    }
    if (static_cast<int>(r.size()) > size) out.set_next_page_token(out.rules(size - 1).id());
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<Rule> RuleStore::Update(const Principal& caller, const Rule& in, const std::vector<std::string>& mask) {
  static const std::vector<std::string> kAll = {"name",    "description",     "enabled",  "trigger", "condition",
                                                "delay",   "actions",         "coalesce_window", "max_depth"};
  const std::vector<std::string>& paths = mask.empty() ? kAll : mask;
  std::vector<FieldViolation> violations;  // every one at once
  if (!IsUuid(in.id())) violations.push_back({"rule.id", "not a UUID"});
  for (size_t i = 0; i < paths.size(); ++i) {
    if (std::find(kAll.begin(), kAll.end(), paths[i]) == kAll.end()) {
      violations.push_back({absl::StrCat("update_mask.paths[", i, "]"), absl::StrCat("cannot update ", paths[i])});
    }
  }
  if (!violations.empty()) return InvalidFieldsError(violations);
  Rule out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    pqxx::result r = pg::ExecPrepared(tx, "SELECT body FROM rules WHERE id = $1::uuid FOR UPDATE", in.id());
    if (r.empty()) return absl::NotFoundError(absl::StrCat("rule ", in.id()));
    CRM_ASSIGN_OR_RETURN(Rule next, ParseRule(r[0][0]));
    if (in.version() != next.version()) {
      return absl::AbortedError(absl::StrCat("version mismatch: rule ", in.id(), " is at version ", next.version()));
    }
    for (const std::string& p : paths) {
      if (p == "name") next.set_name(in.name());
      if (p == "description") next.set_description(in.description());
      if (p == "enabled") next.set_enabled(in.enabled());
      if (p == "trigger") *next.mutable_trigger() = in.trigger();
      if (p == "condition") {
        if (in.has_condition()) *next.mutable_condition() = in.condition(); else next.clear_condition();
      }
      if (p == "delay") {
        if (in.has_delay()) *next.mutable_delay() = in.delay(); else next.clear_delay();
      }
      if (p == "actions") *next.mutable_actions() = in.actions();
      if (p == "coalesce_window") *next.mutable_coalesce_window() = in.coalesce_window();
      if (p == "max_depth") {
        if (in.has_max_depth()) next.set_max_depth(in.max_depth()); else next.clear_max_depth();
      }
    }
    CRM_RETURN_IF_ERROR(ValidateRule(next));
    next.set_version(next.version() + 1);
    CRM_ASSIGN_OR_RETURN(out, Store(tx, caller, std::move(next), /*create=*/false));
    return absl::OkStatus();
  }));
  absl::MutexLock lock(&mu_);
  checked_ = absl::InfinitePast();
  return out;
}

absl::StatusOr<std::shared_ptr<const RuleIndex>> RuleStore::Current() {
  const absl::Time now = absl::Now();  // refresh pacing is real time, whatever the injected clock says
  std::shared_ptr<const RuleIndex> current;
  {
    absl::MutexLock lock(&mu_);
    if (index_ != nullptr && now - checked_ < options_.refresh) return index_;
    current = index_;
  }
  std::shared_ptr<const RuleIndex> fresh;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    const int64_t revision = tx.exec1("SELECT revision FROM rules_revision")[0].as<int64_t>();
    if (current != nullptr && current->revision() == revision) {
      fresh = current;
      return absl::OkStatus();
    }
    std::vector<Rule> rules;
    for (const auto& row : tx.exec("SELECT body FROM rules WHERE enabled ORDER BY id")) {
      CRM_ASSIGN_OR_RETURN(rules.emplace_back(), ParseRule(row[0]));
    }
    fresh = std::make_shared<const RuleIndex>(std::move(rules), revision);
    return absl::OkStatus();
  }));
  absl::MutexLock lock(&mu_);
  if (index_ == nullptr || fresh->revision() >= index_->revision()) index_ = fresh;
  checked_ = now;
  return index_;
}

}  // namespace crm::robots
