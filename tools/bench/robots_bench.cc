// crm-robots-bench: rule evaluation throughput of the robots engine (services/robots/engine.h, issue 6)
// with 10 000 rules loaded, next to a raw baseline measured in the same run.
//
//   tools/crm bench robots [--rules N] [--events N] [--deals N] [--pipelines N] [--workers N]
//                          (a throwaway PostgreSQL comes from tools/crm: CRM_TEST_PG_DSN)
//
// Load: N enabled rules (default 10 000) stored through RuleStore::Install (validated, versioned, exactly
// as the service stores them) into a fresh database with the events and robots migrations. The rules
// are spread evenly over --pipelines pipelines (default 100) of 8 stages each; with 100 rules per
// pipeline every pipeline gets the same mix of 100 trigger slots: 40 STAGE_ENTERED on a stage, 5
// STAGE_ENTERED on the pipeline, 10 STAGE_LEFT from a stage (a third of them narrowed to the next
// stage), 25 FIELD_CHANGED (amount, tags, priority, custom.budget, custom.channel), 8 DEAL_CREATED, 11
// TASK_COMPLETED with a task title and 1 DATE_FIELD_REACHED (custom.visit_date, a day before). Every
// rule has a condition of 1–6 predicates under all / any / not over amount, tags, stage_id, priority,
// source, custom.budget, custom.channel and counter.touches; a fifth have a delay (1 h, or 2 working
// days; half of those with cancel_when); the actions are add_tag and / or create_task.
//
// Events: --events (default 20 000) over --deals deals (default events / 4) in random pipelines: a deal's
// first event is DealCreated (first stage); then, at random, DealStageChanged to the next stage (45%),
// TaskCompleted with one of the rules' task titles (10%) or DealUpdated changing 1–2 of amount, tags,
// priority, custom.budget, custom.channel, custom.visit_date (the rest). Each carries the deal snapshot
// as deals publishes it (the task event carries the task only).
//
// Measured:
//   match   in memory, one thread, no database: for every event, what Engine::OnEvent does between
//           reading the facts and writing: RuleIndex::Candidates for each trigger kind the event maps
//           to, the trigger check (triggers.h MatchRules, after DecodeEvent) and rules.h Evaluate of the
//           condition of every triggered rule without delay (delayed rules are evaluated when their
//           step runs). Passes over the stream are repeated for at least a second.
//   engine  Engine::OnEvent (rules from RuleStore::Current()), each event in its own transaction that
//           first inserts the inbox row, as libs/events/consumer.cc runs it; --workers threads (default
//           2), each on its own connection, each taking the events of its share of the deals in order (a
//           Kafka partition keyed by deal). Immediate rules only write (executions, step timers); deals
//           is never called (its channel points where nothing listens). No timer loop runs (the steps'
//           actions would call deals), so immediate executions stay WAITING (the cancel_when pass
//           reads only those marked cancellable, so they cost nothing later).
//   raw     The floor of a consumer: per event one transaction with the inbox row and one executions-
//           like row (same columns and indexes, a serialized Execution of the usual size), prepared
//           INSERTs, same workers and partitioning. No matching. Run before and after the engine (the
//           machine is shared; the two show how much it drifted).
// For engine and raw, "client CPU" is this process's CPU time (user + system, every thread) per event;
// the system part is mostly the socket round trips to PostgreSQL.
// The figure to watch is engine / raw events/s, raw being the mean of its two runs.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "crm/common/v1/common.pb.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "crm/deals/v1/events.pb.h"
#include "crm/deals/v1/tasks.pb.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/robots/v1/robots.pb.h"
#include "libs/base/clock.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/calendar/calendar.h"
#include "libs/events/consumer.h"
#include "libs/events/outbox.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/rpc/client.h"
#include "services/robots/actions.h"
#include "services/robots/engine.h"
#include "services/robots/rule_store.h"
#include "services/robots/rules.h"
#include "services/robots/triggers.h"

namespace crm {
const std::vector<crm::pg::Migration>& RobotsMigrations();
}  // namespace crm

namespace {

namespace dv1 = ::crm::deals::v1;
namespace rv1 = ::crm::robots::v1;
using rv1::Predicate;
using rv1::Rule;
using rv1::Trigger;
using SteadyClock = std::chrono::steady_clock;

constexpr int kStages = 8;
constexpr char kDealTopic[] = "crm.deals.deal.v1";
constexpr char kTaskTopic[] = "crm.deals.task.v1";
const char* const kTags[] = {"vip", "b2b", "hot", "repeat", "partner", "tender"};
const char* const kChannels[] = {"site", "call", "telegram", "referral", "exhibition"};
const char* const kSources[] = {"site", "call", "telegram", "referral"};
const char* const kPriorities[] = {"A", "B", "C"};
const char* const kTaskTitles[] = {"Отправить КП клиенту", "Позвонить клиенту", "Назначить встречу",
                                   "Подготовить договор", "Выставить счёт"};
// The deal fields a DealUpdated names as changed (FIELD_CHANGED rules watch all but the date).
const char* const kChangeable[] = {"amount", "tags", "priority", "custom.budget", "custom.channel",
                                   "custom.visit_date"};

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "crm-robots-bench: %s\n", msg.c_str());
  std::exit(1);
}

double Since(SteadyClock::time_point t) { return std::chrono::duration<double>(SteadyClock::now() - t).count(); }

template <typename T, size_t N>
const T& Pick(std::mt19937_64& rng, const T (&a)[N]) {
  return a[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

int Uniform(std::mt19937_64& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
bool Chance(std::mt19937_64& rng, double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

// Pipelines, their stages and the users deals belong to.
struct World {
  std::vector<std::string> pipelines;
  std::vector<std::vector<std::string>> stages;  // [pipeline][0..kStages)
  std::vector<std::string> users;
};

// --- rules ----------------------------------------------------------------------------------------------

rv1::Condition Pred(std::string field, Predicate::Op op, std::vector<std::string> values = {}) {
  rv1::Condition c;
  Predicate* p = c.mutable_predicate();
  p->set_field(std::move(field));
  p->set_op(op);
  for (auto& v : values) p->add_values(std::move(v));
  return c;
}

rv1::Condition RandomPredicate(std::mt19937_64& rng, const World& w, int pipeline) {
  const auto& stages = w.stages[static_cast<size_t>(pipeline)];
  switch (Uniform(rng, 0, 11)) {
    case 0:
    case 1:  // amounts are 0..10 000 000 RUB, in minor units
      return Pred("amount", Chance(rng, 0.5) ? Predicate::GT : (Chance(rng, 0.5) ? Predicate::GE : Predicate::LT),
                  {absl::StrCat(int64_t{Uniform(rng, 0, 1000)} * 1'000'000)});
    case 2:
      return Pred("tags", Predicate::CONTAINS, {Pick(rng, kTags)});
    case 3:
      return Chance(rng, 0.8) ? Pred("tags", Predicate::IN, {Pick(rng, kTags), Pick(rng, kTags)})
                              : Pred("tags", Predicate::IS_EMPTY);
    case 4:
      return Pred("stage_id", Predicate::EQ, {stages[static_cast<size_t>(Uniform(rng, 0, kStages - 1))]});
    case 5:
      return Pred("stage_id", Predicate::IN,
                  {stages[static_cast<size_t>(Uniform(rng, 0, kStages - 1))],
                   stages[static_cast<size_t>(Uniform(rng, 0, kStages - 1))]});
    case 6:
      return Chance(rng, 0.8) ? Pred("custom.budget", Predicate::GT, {absl::StrCat(Uniform(rng, 0, 100) * 10'000)})
                              : Pred("custom.budget", Predicate::IS_SET);
    case 7:
      return Chance(rng, 0.5) ? Pred("custom.channel", Predicate::EQ, {Pick(rng, kChannels)})
                              : Pred("custom.channel", Predicate::IN, {Pick(rng, kChannels), Pick(rng, kChannels)});
    case 8:
      return Pred("counter.touches", Chance(rng, 0.5) ? Predicate::GE : Predicate::LT,
                  {absl::StrCat(Uniform(rng, 0, 3))});
    case 9:
      return Pred("priority", Predicate::IN, {Pick(rng, kPriorities), Pick(rng, kPriorities)});
    case 10:
      return Pred("source", Predicate::EQ, {Pick(rng, kSources)});
    default:
      return Pred("amount", Predicate::IS_SET);
  }
}

// 1..6 predicates: a lone predicate (maybe negated), or all / any over predicates, some grouped in a
// nested any or negated.
rv1::Condition RandomCondition(std::mt19937_64& rng, const World& w, int pipeline) {
  const int n = Uniform(rng, 1, 6);
  if (n == 1) {
    rv1::Condition p = RandomPredicate(rng, w, pipeline);
    if (!Chance(rng, 0.15)) return p;
    rv1::Condition c;
    *c.mutable_not_() = std::move(p);
    return c;
  }
  rv1::Condition root;
  rv1::Condition::List* top = Chance(rng, 0.75) ? root.mutable_all() : root.mutable_any();
  int left = n;
  while (left > 0) {
    if (left >= 2 && Chance(rng, 0.3)) {  // a nested any of 2..3
      const int k = std::min(left, Uniform(rng, 2, 3));
      rv1::Condition::List* any = top->add_items()->mutable_any();
      for (int i = 0; i < k; ++i) *any->add_items() = RandomPredicate(rng, w, pipeline);
      left -= k;
    } else if (Chance(rng, 0.15)) {
      *top->add_items()->mutable_not_() = RandomPredicate(rng, w, pipeline);
      --left;
    } else {
      *top->add_items() = RandomPredicate(rng, w, pipeline);
      --left;
    }
  }
  return root;
}

// Rule `i`: trigger slot i % 100 (see the file comment) in pipeline (i / 100 + i % 100) mod pipelines, so
// that every pipeline gets every slot once per 100 x pipelines rules and a share of them for fewer.
Rule MakeRule(std::mt19937_64& rng, const World& w, int i) {
  const int pipeline = (i / 100 + i % 100) % static_cast<int>(w.pipelines.size());
  const auto& stages = w.stages[static_cast<size_t>(pipeline)];
  const std::string& stage = stages[static_cast<size_t>(Uniform(rng, 0, kStages - 1))];
  const int slot = i % 100;
  Rule r;
  r.set_id(crm::NewUuidV7());
  r.set_enabled(true);
  Trigger* t = r.mutable_trigger();
  t->set_pipeline_id(w.pipelines[static_cast<size_t>(pipeline)]);
  if (slot < 40) {
    t->set_kind(Trigger::STAGE_ENTERED);
    t->set_stage_id(stage);
  } else if (slot < 45) {
    t->set_kind(Trigger::STAGE_ENTERED);
  } else if (slot < 55) {
    t->set_kind(Trigger::STAGE_LEFT);
    const int from = Uniform(rng, 0, kStages - 2);
    t->set_stage_id(stages[static_cast<size_t>(from)]);
    if (slot < 48) t->add_to_stage_ids(stages[static_cast<size_t>(from + 1)]);
  } else if (slot < 80) {
    t->set_kind(Trigger::FIELD_CHANGED);
    t->set_field(kChangeable[Uniform(rng, 0, 4)]);
  } else if (slot < 88) {
    t->set_kind(Trigger::DEAL_CREATED);
  } else if (slot < 99) {
    t->set_kind(Trigger::TASK_COMPLETED);
    t->set_task_title(Pick(rng, kTaskTitles));
  } else {
    t->set_kind(Trigger::DATE_FIELD_REACHED);
    t->set_field("custom.visit_date");
    t->mutable_offset()->set_seconds(-24 * 3600);
  }
  r.set_name(absl::StrCat("Бенчмарк: правило ", i, " (", Trigger::Kind_Name(t->kind()), ")"));
  *r.mutable_condition() = RandomCondition(rng, w, pipeline);
  if (t->kind() != Trigger::DATE_FIELD_REACHED && Chance(rng, 0.2)) {
    rv1::Delay* d = r.mutable_delay();
    if (Chance(rng, 0.5)) {
      d->mutable_duration()->set_seconds(3600);
    } else {
      d->mutable_duration()->set_seconds(2 * 24 * 3600);
      d->set_working_time(true);
    }
    if (Chance(rng, 0.5)) *d->mutable_cancel_when() = Pred("counter.touches", Predicate::GE, {"1"});
  }
  const int actions = Uniform(rng, 0, 2);  // 0: add_tag, 1: create_task, 2: both
  if (actions != 1) r.add_actions()->mutable_add_tag()->set_tag(absl::StrCat("robot-", Uniform(rng, 1, 20)));
  if (actions != 0) {
    rv1::CreateTask* task = r.add_actions()->mutable_create_task();
    task->set_title(Pick(rng, kTaskTitles));
    task->set_kind("call");
    task->mutable_due_in()->set_seconds(3600);
    task->set_working_time(true);
  }
  return r;
}

// --- events ---------------------------------------------------------------------------------------------

// One event of the stream: the envelope Engine::OnEvent gets and, for the in-memory pass, what engine.cc
// Decode() makes of it.
struct BenchEvent {
  crm::events::v1::Envelope envelope;
  std::string topic;
  size_t deal = 0;  // index of the deal (its partition is deal % workers)
  dv1::Deal snapshot;  // the deal after the event (for a task event: as the last deal event left it)
  std::vector<Trigger::Kind> kinds;
  std::string from_stage_id;
  std::vector<std::string> changed_fields;
  std::string task_title;
};

struct DealState {
  dv1::Deal deal;
  int stage = -1;  // -1: not created yet
  int pipeline = 0;
};

void SetCustom(dv1::Deal& d, const std::string& code, const std::function<void(dv1::FieldValue&)>& set) {
  for (auto& f : *d.mutable_fields()) {
    if (f.code() == code) {
      set(f);
      return;
    }
  }
  dv1::FieldValue* f = d.add_fields();
  f->set_code(code);
  set(*f);
}

void RandomTags(std::mt19937_64& rng, dv1::Deal& d) {
  d.clear_tags();
  for (const char* tag : kTags) {
    if (Chance(rng, 0.25)) d.add_tags(tag);
  }
}

void Change(std::mt19937_64& rng, dv1::Deal& d, const std::string& field, absl::Time now) {
  if (field == "amount") {
    d.mutable_amount()->set_amount_minor(int64_t{Uniform(rng, 0, 10'000'000)} * 100);
  } else if (field == "tags") {
    RandomTags(rng, d);
  } else if (field == "priority") {
    d.set_priority(static_cast<dv1::Deal::Priority>(Uniform(rng, 1, 3)));
  } else if (field == "custom.budget") {
    SetCustom(d, "budget", [&](dv1::FieldValue& f) { f.set_number(absl::StrCat(Uniform(rng, 0, 1'000'000))); });
  } else if (field == "custom.channel") {
    SetCustom(d, "channel", [&](dv1::FieldValue& f) { f.set_text(Pick(rng, kChannels)); });
  } else if (field == "custom.visit_date") {
    const absl::CivilDay day = absl::ToCivilDay(now, absl::UTCTimeZone()) + Uniform(rng, 2, 30);
    SetCustom(d, "visit_date", [&](dv1::FieldValue& f) { f.set_text(absl::FormatCivilTime(day)); });
  }
}

std::vector<BenchEvent> MakeEvents(std::mt19937_64& rng, const World& w, int n_events, int n_deals) {
  const absl::Time now = absl::Now();
  std::vector<DealState> deals(static_cast<size_t>(n_deals));
  std::vector<BenchEvent> out;
  out.reserve(static_cast<size_t>(n_events));
  for (int i = 0; i < n_events; ++i) {
    const size_t di = static_cast<size_t>(Uniform(rng, 0, n_deals - 1));
    DealState& s = deals[di];
    BenchEvent e;
    e.deal = di;
    e.topic = kDealTopic;
    crm::events::v1::Envelope& env = e.envelope;
    env.set_id(crm::NewUuidV7());
    env.set_source("/crm/deals");
    *env.mutable_time() = crm::ToProtoTimestamp(now);
    dv1::Deal& d = s.deal;
    const double roll = std::uniform_real_distribution<double>(0, 1)(rng);
    if (s.stage < 0) {
      s.pipeline = Uniform(rng, 0, static_cast<int>(w.pipelines.size()) - 1);
      s.stage = 0;
      d.set_id(crm::NewUuidV7());
      d.set_name(absl::StrCat("Сделка ", di));
      d.set_pipeline_id(w.pipelines[static_cast<size_t>(s.pipeline)]);
      d.set_stage_id(w.stages[static_cast<size_t>(s.pipeline)][0]);
      d.set_status(dv1::Deal::STATUS_OPEN);
      d.set_responsible_id(w.users[static_cast<size_t>(Uniform(rng, 0, static_cast<int>(w.users.size()) - 1))]);
      d.set_creator_id(d.responsible_id());
      d.mutable_amount()->set_currency("RUB");
      d.set_source(Pick(rng, kSources));
      for (const char* f : kChangeable) {
        if (std::string(f) == "amount" || Chance(rng, 0.7)) Change(rng, d, f, now);
      }
      d.set_version(1);
      *d.mutable_create_time() = crm::ToProtoTimestamp(now);
      *d.mutable_update_time() = crm::ToProtoTimestamp(now);
      *d.mutable_stage_enter_time() = crm::ToProtoTimestamp(now);
      env.set_type("crm.deals.deal.created.v1");
      dv1::DealCreated m;
      *m.mutable_deal() = d;
      env.mutable_payload()->PackFrom(m);
      e.kinds = {Trigger::DEAL_CREATED, Trigger::STAGE_ENTERED};
    } else if (roll < 0.10) {
      dv1::TaskCompleted m;
      dv1::Task* task = m.mutable_task();
      task->set_id(crm::NewUuidV7());
      task->set_deal_id(d.id());
      task->set_kind(dv1::Task::CALL);
      task->set_title(Pick(rng, kTaskTitles));
      task->set_responsible_id(d.responsible_id());
      task->set_status(dv1::Task::DONE);
      e.topic = kTaskTopic;
      env.set_type("crm.deals.task.completed.v1");
      env.mutable_payload()->PackFrom(m);
      e.kinds = {Trigger::TASK_COMPLETED};
      e.task_title = task->title();
    } else if (roll < 0.55 && s.stage < kStages - 1) {
      e.from_stage_id = d.stage_id();
      ++s.stage;
      d.set_stage_id(w.stages[static_cast<size_t>(s.pipeline)][static_cast<size_t>(s.stage)]);
      d.set_version(d.version() + 1);
      *d.mutable_stage_enter_time() = crm::ToProtoTimestamp(now);
      *d.mutable_update_time() = crm::ToProtoTimestamp(now);
      env.set_type("crm.deals.deal.stage_changed.v1");
      dv1::DealStageChanged m;
      *m.mutable_deal() = d;
      m.set_from_pipeline_id(d.pipeline_id());
      m.set_from_stage_id(e.from_stage_id);
      env.mutable_payload()->PackFrom(m);
      e.kinds = {Trigger::STAGE_ENTERED, Trigger::STAGE_LEFT};
    } else {
      dv1::DealUpdated m;
      const int k = Uniform(rng, 1, 2);
      for (int j = 0; j < k; ++j) {
        const std::string f = Pick(rng, kChangeable);
        if (std::find(e.changed_fields.begin(), e.changed_fields.end(), f) != e.changed_fields.end()) continue;
        Change(rng, d, f, now);
        e.changed_fields.push_back(f);
        m.add_changed_fields(f);
      }
      d.set_version(d.version() + 1);
      *d.mutable_update_time() = crm::ToProtoTimestamp(now);
      env.set_type("crm.deals.deal.updated.v1");
      *m.mutable_deal() = d;
      env.mutable_payload()->PackFrom(m);
      e.kinds = {Trigger::FIELD_CHANGED};
    }
    env.set_subject(d.id());
    e.snapshot = d;
    out.push_back(std::move(e));
  }
  return out;
}

// --- matching in memory ---------------------------------------------------------------------------------

bool Immediate(const Rule& r) {
  const bool delayed = r.has_delay() && (r.delay().duration().seconds() > 0 || r.delay().duration().nanos() > 0);
  const bool coalescing = r.coalesce_window().seconds() > 0 || r.coalesce_window().nanos() > 0;
  return !delayed && !coalescing;
}

struct MatchCounts {
  int64_t candidates = 0;  // rules Candidates() returned
  int64_t triggered = 0;   // of those, whose trigger matched: one execution each
  int64_t evaluated = 0;   // of those, immediate: condition evaluated now
  int64_t matched = 0;     // of those, condition true: actions planned
  int64_t predicates = 0;  // predicates evaluated
};

// What OnEvent does in memory for one event (see the file comment); the facts are those the engine has
// for these events (no calls or messages: touches 0; no comments).
void MatchOne(const crm::robots::RuleIndex& index, const BenchEvent& e, absl::Time now, const absl::TimeZone& zone,
              MatchCounts& c) {
  // As OnEvent: the event decoded from its envelope, its rules matched (triggers.h), conditions evaluated.
  absl::StatusOr<std::optional<crm::robots::DealEvent>> decoded = crm::robots::DecodeEvent(e.envelope);
  if (!decoded.ok() || !decoded->has_value()) return;
  const dv1::Deal* deal = &e.snapshot;
  crm::robots::Facts facts;
  facts.deal = deal;
  facts.now = now;
  facts.zone = zone;
  facts.has_open_task = deal->has_next_task_time();
  facts.counters["touches"] = 0;
  for (Trigger::Kind kind : (*decoded)->kinds) {
    const std::string& stage = kind == Trigger::STAGE_LEFT ? (*decoded)->from_stage_id : deal->stage_id();
    c.candidates += static_cast<int64_t>(index.Candidates(kind, deal->pipeline_id(), stage).size());
  }
  for (const Rule* rule : crm::robots::MatchRules(index, **decoded, deal)) {
    ++c.triggered;
    if (!Immediate(*rule)) continue;
    ++c.evaluated;
    crm::robots::Evaluation ev = crm::robots::Evaluate(rule->condition(), facts);
    c.predicates += static_cast<int64_t>(ev.predicates.size());
    if (ev.result) ++c.matched;
  }
}

// --- the transactional runs -----------------------------------------------------------------------------

struct RunResult {
  double seconds = 0;
  double cpu_seconds = 0;  // this process's CPU (user + system, every thread) during the run
  std::vector<double> latencies_ms;
};

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Runs `one(connection, event)` for every event as its own step, on `workers` threads with a connection
// each; worker w takes the events of deals d with d % workers == w, in stream order.
RunResult RunWorkers(const std::string& dsn, const std::vector<BenchEvent>& events, int workers,
                     const std::function<void(pqxx::connection&)>& prepare,
                     const std::function<void(pqxx::connection&, const BenchEvent&)>& one) {
  std::vector<std::vector<double>> lat(static_cast<size_t>(workers));
  std::vector<std::unique_ptr<pqxx::connection>> conns;
  for (int w = 0; w < workers; ++w) {
    conns.push_back(std::make_unique<pqxx::connection>(dsn));
    if (prepare) prepare(*conns.back());
  }
  const auto start = SteadyClock::now();
  const double cpu0 = CpuSeconds();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      auto& mine = lat[static_cast<size_t>(w)];
      for (const BenchEvent& e : events) {
        if (static_cast<int>(e.deal % static_cast<size_t>(workers)) != w) continue;
        const auto t = SteadyClock::now();
        one(*conns[static_cast<size_t>(w)], e);
        mine.push_back(Since(t) * 1000);
      }
    });
  }
  for (auto& t : threads) t.join();
  RunResult r;
  r.seconds = Since(start);
  r.cpu_seconds = CpuSeconds() - cpu0;
  for (auto& v : lat) r.latencies_ms.insert(r.latencies_ms.end(), v.begin(), v.end());
  return r;
}

void Report(const char* name, RunResult& r, const std::string& extra) {
  const double n = static_cast<double>(r.latencies_ms.size());
  std::printf(
      "  %-7s %7.0f events in %7.2f s = %8.0f events/s   p50 %6.2f ms   p99 %6.2f ms   client CPU %5.0f us/event%s\n",
      name, n, r.seconds, n / r.seconds, Percentile(r.latencies_ms, 0.50), Percentile(r.latencies_ms, 0.99),
      r.cpu_seconds / n * 1e6, extra.c_str());
}

int64_t Count(const std::string& dsn, const std::string& sql) {
  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  return tx.exec1(sql)[0].as<int64_t>();
}

}  // namespace

int main(int argc, char** argv) {
  int n_rules = 10'000;
  int n_events = 20'000;
  int n_deals = 0;  // events / 4
  int n_pipelines = 100;
  int workers = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> int {
      if (i + 1 >= argc) Die(absl::StrCat(a, " needs a value"));
      return std::atoi(argv[++i]);
    };
    if (a == "--rules")
      n_rules = next();
    else if (a == "--events")
      n_events = next();
    else if (a == "--deals")
      n_deals = next();
    else if (a == "--pipelines")
      n_pipelines = next();
    else if (a == "--workers")
      workers = next();
    else
      Die(absl::StrCat("unknown argument ", a, " (--rules N --events N --deals N --pipelines N --workers N)"));
  }
  if (n_deals == 0) n_deals = std::max(1, n_events / 4);
  if (n_rules < 1 || n_events < 1 || n_deals < 1 || n_pipelines < 1 || workers < 1) {
    Die("--rules, --events, --deals, --pipelines and --workers must be >= 1");
  }
  if (std::getenv("CRM_TEST_PG_DSN") == nullptr) Die("CRM_TEST_PG_DSN is not set: run through `tools/crm bench`");

  auto db = crm::pg::testing::TempDatabase::Create("robots_bench");
  if (!db.ok()) Die(db.status().ToString());
  const std::string dsn = (*db)->dsn();
  {
    std::vector<crm::pg::Migration> all = crm::EventsMigrations();
    all.insert(all.end(), crm::RobotsMigrations().begin(), crm::RobotsMigrations().end());
    if (auto m = crm::pg::Migrate(dsn, all); !m.ok()) Die(m.status().ToString());
  }
  auto pool = crm::pg::Pool::Create({.dsn = dsn, .size = 4, .application_name = "robots_bench"});
  if (!pool.ok()) Die(pool.status().ToString());

  std::mt19937_64 rng(42);
  World world;
  for (int p = 0; p < n_pipelines; ++p) {
    world.pipelines.push_back(crm::NewUuidV7());
    world.stages.emplace_back();
    for (int s = 0; s < kStages; ++s) world.stages.back().push_back(crm::NewUuidV7());
  }
  for (int u = 0; u < 50; ++u) world.users.push_back(crm::NewUuidV7());

  // --- load the rules through the store -------------------------------------------------------------------
  const absl::TimeZone zone = [] {
    auto z = crm::LoadTimeZone("Europe/Moscow");
    if (!z.ok()) Die(z.status().ToString());
    return *z;
  }();
  const crm::calendar::WorkingCalendar calendar = crm::calendar::WorkingCalendar::FiveDay(zone);
  crm::robots::RuleStore rules(**pool, crm::SystemClock(), /*schedules=*/nullptr,
                               {.time_zone = "Europe/Moscow"});
  std::map<std::string, int> kinds;
  int delayed = 0;
  {
    crm::common::v1::Principal author;
    author.set_kind(crm::common::v1::Principal::KIND_USER);
    author.set_id(world.users[0]);
    const auto start = SteadyClock::now();
    for (int i = 0; i < n_rules; ++i) {
      Rule r = MakeRule(rng, world, i);
      ++kinds[Trigger::Kind_Name(r.trigger().kind())];
      if (!Immediate(r)) ++delayed;
      absl::StatusOr<bool> created = rules.Install(author, r);
      if (!created.ok()) Die(absl::StrCat("rule ", i, ": ", created.status().ToString()));
    }
    std::printf("crm-robots-bench: %d rules over %d pipelines x %d stages stored with RuleStore::Install in %.1f s\n",
                n_rules, n_pipelines, kStages, Since(start));
    std::string mix;
    for (const auto& [k, n] : kinds) absl::StrAppend(&mix, mix.empty() ? "" : ", ", n, " ", k);
    std::printf("  %s; %d delayed\n", mix.c_str(), delayed);
    pqxx::connection c(dsn);
    pqxx::nontransaction(c).exec("ANALYZE");
  }
  std::shared_ptr<const crm::robots::RuleIndex> index;
  {
    const auto start = SteadyClock::now();
    auto current = rules.Current();
    if (!current.ok()) Die(current.status().ToString());
    index = *current;
    std::printf("  RuleStore::Current() loaded %zu rules into the index in %.0f ms\n", index->size(),
                Since(start) * 1000);
    if (static_cast<int>(index->size()) != n_rules) Die("the index does not hold every rule");
  }

  const std::vector<BenchEvent> events = MakeEvents(rng, world, n_events, n_deals);
  {
    std::map<std::string, int> types;
    for (const auto& e : events) ++types[e.envelope.type()];
    std::string mix;
    for (const auto& [t, n] : types) absl::StrAppend(&mix, mix.empty() ? "" : ", ", n, " ", t);
    std::printf("  %d events over %d deals: %s\n", n_events, n_deals, mix.c_str());
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) == 3) {
      std::printf("  load average before measuring: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
    }
  }

  // --- (a) matching in memory -----------------------------------------------------------------------------
  {
    MatchCounts c;
    const absl::Time now = absl::Now();
    int passes = 0;
    const auto start = SteadyClock::now();
    do {
      MatchCounts pass;
      for (const BenchEvent& e : events) MatchOne(*index, e, now, zone, pass);
      if (passes == 0) c = pass;
      ++passes;
    } while (passes < 3 || Since(start) < 1.0);
    const double s = Since(start);
    const double total = static_cast<double>(n_events) * passes;
    const double ne = n_events;
    std::printf("match in memory (Candidates + trigger check + Evaluate), 1 thread, no database:\n");
    std::printf("  match   %7.0f events in %7.2f s = %8.0f events/s   %.2f us/event\n", total, s, total / s,
                s / total * 1e6);
    std::printf("  per event: %.2f candidates, %.2f triggered (executions), %.2f evaluated now (%.2f predicates), "
                "%.2f condition true\n",
                static_cast<double>(c.candidates) / ne, static_cast<double>(c.triggered) / ne,
                static_cast<double>(c.evaluated) / ne, static_cast<double>(c.predicates) / ne,
                static_cast<double>(c.matched) / ne);
  }

  // --- (c) raw: inbox row + executions-like row, before and after the engine -------------------------------
  std::printf("per event one transaction, %d workers, each on its own connection (events partitioned by deal):\n",
              workers);
  {
    pqxx::connection c(dsn);
    pqxx::nontransaction(c).exec("CREATE TABLE raw_executions (LIKE executions INCLUDING ALL)");
  }
  // A typical execution body: an immediate rule's, with its predicates and planned actions.
  rv1::Execution body;
  body.set_id(crm::NewUuidV7());
  body.set_rule_id(crm::NewUuidV7());
  body.set_rule_version(1);
  body.set_deal_id(crm::NewUuidV7());
  body.set_event_id(crm::NewUuidV7());
  body.set_event_type("crm.deals.deal.stage_changed.v1");
  body.set_state(rv1::Execution::WAITING);
  for (int i = 0; i < 3; ++i) {
    auto* p = body.add_predicates();
    p->set_predicate(absl::StrCat("stage_id IN [\"", crm::NewUuidV7(), "\", \"", crm::NewUuidV7(), "\"]"));
    p->set_result(true);
  }
  body.add_actions()->set_action("add_tag");
  *body.mutable_create_time() = crm::ToProtoTimestamp(absl::Now());
  const std::string bytes = body.SerializeAsString();
  // `consumer` names the run: its inbox rows and (as the rule id's stand-in) its execution rows.
  auto run_raw = [&](const char* label, const std::string& consumer) -> double {
    const std::string rule_id = crm::NewUuidV7();
    std::atomic<int64_t> written{0};
    RunResult r = RunWorkers(
        dsn, events, workers,
        [](pqxx::connection& conn) {
          conn.prepare("inbox",
                       "INSERT INTO inbox (consumer, event_id, event_type, topic, kafka_partition, kafka_offset) "
                       "VALUES ($1, $2::uuid, $3, $4, $5, $6) ON CONFLICT DO NOTHING");
          conn.prepare("execution",
                       "INSERT INTO raw_executions (id, rule_id, rule_version, deal_id, trigger_key, event_type, "
                       "state, depth, coalescing, timer_key, body, create_time, due_time) VALUES ($1::uuid, "
                       "$2::uuid, 1, $3, $4, $5, 'WAITING', 0, false, $6, $7, now(), now()) "
                       "ON CONFLICT (rule_id, deal_id, trigger_key) DO NOTHING");
        },
        [&](pqxx::connection& conn, const BenchEvent& e) {
          pqxx::work tx(conn);
          tx.exec_prepared("inbox", consumer, e.envelope.id(), e.envelope.type(), e.topic, 0,
                           static_cast<int64_t>(e.deal));
          const std::string id = crm::NewUuidV7();
          const pqxx::binarystring b(bytes.data(), bytes.size());
          pqxx::result res = tx.exec_prepared("execution", id, rule_id, e.snapshot.id(), e.envelope.id(),
                                              e.envelope.type(), absl::StrCat("step:", id), b);
          tx.commit();
          written += static_cast<int64_t>(res.affected_rows());
        });
    Report(label, r, "   (inbox row + executions-like row)");
    if (written.load() != n_events) Die(absl::StrCat(label, ": not every row was written"));
    return static_cast<double>(n_events) / r.seconds;
  };
  const double raw_before = run_raw("raw", "raw-before");

  // --- (b) the engine -------------------------------------------------------------------------------------
  double engine_rate = 0;
  {
    const auto* deals_service = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
        crm::deals::v1::DealService::service_full_name());
    // Nothing listens there: OnEvent of immediate rules never calls deals.
    auto channel = crm::rpc::MakeChannel({.target = "127.0.0.1:1"}, *deals_service);
    crm::robots::DealsClient deals(channel, /*key=*/nullptr, &calendar, zone);
    crm::events::OutboxWriter outbox("robots");
    crm::robots::Engine engine(**pool, crm::SystemClock(), rules, deals, /*mailer=*/nullptr, outbox,
                               crm::robots::EngineOptions{.calendar = &calendar});
    engine.SetWake([] {});
    std::atomic<int64_t> failed{0};
    RunResult r = RunWorkers(dsn, events, workers, nullptr, [&](pqxx::connection& conn, const BenchEvent& e) {
      const crm::events::ConsumedEvent consumed{
          .envelope = e.envelope, .topic = e.topic, .partition = 0, .offset = static_cast<int64_t>(e.deal)};
      absl::Status s = crm::pg::InTransaction(conn, [&](pqxx::work& tx) -> absl::Status {
        tx.exec_params(
            "INSERT INTO inbox (consumer, event_id, event_type, topic, kafka_partition, kafka_offset) "
            "VALUES ($1, $2::uuid, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            "robots", e.envelope.id(), e.envelope.type(), e.topic, 0, static_cast<int64_t>(e.deal));
        return engine.OnEvent(tx, consumed);
      });
      if (!s.ok()) {
        if (failed++ == 0) std::fprintf(stderr, "crm-robots-bench: OnEvent: %s\n", s.ToString().c_str());
      }
      engine.AfterCommit();
    });
    if (failed.load() > 0) Die(absl::StrCat(failed.load(), " events failed"));
    const double ne = n_events;
    const int64_t execs = Count(dsn, "SELECT count(*) FROM executions");
    const int64_t waiting = Count(dsn, "SELECT count(*) FROM executions WHERE state = 'WAITING'");
    const int64_t timers = Count(dsn, "SELECT count(*) FROM timers");
    Report("engine", r,
           absl::StrFormat("   %.2f executions/event (%.2f WAITING), %.2f timers/event", execs / ne, waiting / ne,
                           timers / ne));
    engine_rate = ne / r.seconds;
  }
  const double raw_after = run_raw("raw", "raw-after");
  const double raw_rate = (raw_before + raw_after) / 2;
  std::printf("  engine / raw events/s: %.3f   (raw = the mean of the runs before and after: %.0f events/s)\n",
              engine_rate / raw_rate, raw_rate);
  return 0;
}
