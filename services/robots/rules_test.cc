// Tests of services/robots/rules.h: rule validation (every violation named, all at once) and condition
// evaluation with its explanation, on the seed 001 §1.1 and seed 002 document-threshold conditions.
#include "services/robots/rules.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "crm/deals/v1/deals.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "libs/base/status.h"
#include "libs/base/time.h"

namespace crm::robots {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using v1::Condition;
using v1::Rule;

constexpr char kUnsorted[] = "01930000-0000-7000-8000-000000000001";   // «Неразобранное»
constexpr char kQualified[] = "01930000-0000-7000-8000-000000000002";  // «Квалифицирован»
constexpr char kPipeline[] = "01930000-0000-7000-8000-0000000000aa";

// Parses a text proto in which $UNSORTED, $QUALIFIED and $PIPELINE stand for the ids above.
template <typename M>
M Parse(const std::string& text) {
  const std::string expanded = absl::StrReplaceAll(
      text, {{"$UNSORTED", kUnsorted}, {"$QUALIFIED", kQualified}, {"$PIPELINE", kPipeline}});
  M m;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(expanded, &m)) << expanded;
  return m;
}

std::vector<std::string> Fields(const absl::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& v : FieldViolations(s)) out.push_back(v.field);
  return out;
}
std::vector<std::string> Descriptions(const absl::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& v : FieldViolations(s)) out.push_back(v.description);
  return out;
}

// The seed 001 §1.1 rule at 15 minutes: tag «Жёлтое предупреждение» unless contacted.
Rule ValidRule() {
  return Parse<Rule>(R"pb(
    name: "Первый контакт: жёлтое предупреждение"
    enabled: true
    trigger { kind: STAGE_ENTERED stage_id: "$UNSORTED" }
    condition { predicate { field: "has_open_task" op: EQ values: "false" } }
    delay {
      duration { seconds: 900 }
      cancel_when { predicate { field: "counter.touches" op: GE values: "1" } }
    }
    actions { add_tag { tag: "Жёлтое предупреждение" } }
    actions {
      create_task {
        title: "Срочно связаться"
        kind: "call"
        due_in { seconds: 3600 }
        responsible: "role:head_of_sales"
      }
    }
    actions {
      notify { channels: IN_APP channels: EMAIL recipients: "role:head_of_sales" text: "{deal.name}" }
    }
    max_depth: 2
  )pb");
}

// ----------------------------------------------------------------------------------------------------
// ValidateRule

TEST(ValidateRule, AcceptsAValidRule) {
  EXPECT_TRUE(ValidateRule(ValidRule()).ok()) << ValidateRule(ValidRule());
}

TEST(ValidateRule, EmptyRuleNamesEveryMissingPartAtOnce) {
  absl::Status s = ValidateRule(Rule());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(s), ElementsAre("rule.name", "rule.trigger.kind", "rule.actions"));
  // The suite's one shape (InvalidFieldsError): the first named, every one in the details.
  EXPECT_EQ(s.message(), "rule.name: required (and 2 more)");
  EXPECT_THAT(Descriptions(s), ElementsAre("required", "required", "at least one action"));
}

TEST(ValidateRule, ReportsAllViolationsWithTheirPaths) {
  Rule rule = Parse<Rule>(R"pb(
    trigger { kind: STAGE_ENTERED }
    condition {
      all {
        items { predicate { field: "amount" op: GT values: "lots" } }
        items { predicate { field: "stage_id" } }
        items { not { predicate { field: "nonsense" op: IS_SET } } }
      }
    }
    delay { duration { seconds: -1 } }
    actions { add_tag { tag: "x" } }
    actions { move_stage { stage_id: "not-a-uuid" } }
    actions { create_task { title: "" } }
    actions {}
    max_depth: 6
  )pb");
  rule.set_name(std::string(201, 'a'));
  absl::Status s = ValidateRule(rule);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(s), ElementsAre("rule.name",                                        //
                                     "rule.trigger.stage_id",                            //
                                     "rule.condition.all.items[0].predicate.values[0]",  //
                                     "rule.condition.all.items[1].predicate.op",         //
                                     "rule.condition.all.items[2].not.predicate.field",  //
                                     "rule.delay.duration",                              //
                                     "rule.actions[1].move_stage.stage_id",              //
                                     "rule.actions[2].create_task.title",                //
                                     "rule.actions[3]",                                  //
                                     "rule.max_depth"));
  EXPECT_EQ(s.message(), "rule.name: at most 200 characters (and 9 more)");
  EXPECT_EQ(Descriptions(s).back(), "must be 0 to 5");
}

TEST(ValidateRule, NameCountsCharactersNotBytes) {
  Rule rule = ValidRule();
  std::string name;
  for (int i = 0; i < 200; ++i) name += "я";  // 400 bytes, 200 characters
  rule.set_name(name);
  EXPECT_TRUE(ValidateRule(rule).ok());
  rule.set_name(name + "я");
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.name"));
}

TEST(ValidateRule, StageTriggersNeedAUuidStageOrPipeline) {
  Rule rule = ValidRule();
  rule.mutable_trigger()->clear_stage_id();
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.trigger.stage_id"));
  rule.mutable_trigger()->set_pipeline_id(kPipeline);
  EXPECT_TRUE(ValidateRule(rule).ok());
  rule.mutable_trigger()->set_kind(v1::Trigger::STAGE_LEFT);
  rule.mutable_trigger()->set_stage_id("Неразобранное");
  rule.mutable_trigger()->add_to_stage_ids(kQualified);
  rule.mutable_trigger()->add_to_stage_ids("x");
  EXPECT_THAT(Fields(ValidateRule(rule)),
              ElementsAre("rule.trigger.stage_id", "rule.trigger.to_stage_ids[1]"));
}

TEST(ValidateRule, FieldTriggersNeedAField) {
  Rule rule = ValidRule();
  rule.mutable_trigger()->Clear();
  rule.mutable_trigger()->set_kind(v1::Trigger::FIELD_CHANGED);
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.trigger.field"));
  rule.mutable_trigger()->set_field("amount");
  EXPECT_TRUE(ValidateRule(rule).ok());
  rule.mutable_trigger()->set_field("minutes_in_stage");
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.trigger.field"));

  rule.mutable_trigger()->set_kind(v1::Trigger::DATE_FIELD_REACHED);
  rule.mutable_trigger()->set_field("");
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.trigger.field"));
  rule.mutable_trigger()->set_field("amount");
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.trigger.field"));
  rule.mutable_trigger()->set_field("custom.visit_time");
  rule.mutable_trigger()->mutable_offset()->set_seconds(-24 * 3600);  // a day before
  EXPECT_TRUE(ValidateRule(rule).ok());
  rule.mutable_trigger()->mutable_offset()->set_seconds(-367LL * 24 * 3600);
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.trigger.offset"));
}

TEST(ValidateRule, ScheduleSpecIsParsedBySchedulesParser) {
  Rule rule = ValidRule();
  rule.mutable_trigger()->Clear();
  rule.mutable_trigger()->set_kind(v1::Trigger::SCHEDULE);
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.trigger.schedule.spec"));
  rule.mutable_trigger()->mutable_schedule()->set_spec("every working day at 19:00");
  EXPECT_TRUE(ValidateRule(rule).ok());
  rule.mutable_trigger()->mutable_schedule()->set_spec("weekly on monday at 09:00");
  rule.mutable_trigger()->mutable_schedule()->set_time_zone("Europe/Moscow");
  EXPECT_TRUE(ValidateRule(rule).ok());
  rule.mutable_trigger()->mutable_schedule()->set_spec("every day at 25:00");
  rule.mutable_trigger()->mutable_schedule()->set_time_zone("Mars/Olympus");
  absl::Status s = ValidateRule(rule);
  EXPECT_THAT(Fields(s), ElementsAre("rule.trigger.schedule.spec", "rule.trigger.schedule.time_zone"));
  EXPECT_THAT(s.message(), HasSubstr("25:00"));
}

TEST(ValidateRule, TriggerKindMustBeKnown) {
  Rule rule = ValidRule();
  rule.mutable_trigger()->set_kind(static_cast<v1::Trigger::Kind>(99));
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.trigger.kind"));
}

Condition Nest(int depth) {  // depth levels: depth-1 NOTs around one predicate
  Condition c = Parse<Condition>(R"pb(predicate { field: "amount" op: IS_SET })pb");
  for (int i = 1; i < depth; ++i) {
    Condition outer;
    *outer.mutable_not_() = c;
    c = outer;
  }
  return c;
}

TEST(ValidateRule, ConditionDepthAndSizeAreBounded) {
  Rule rule = ValidRule();
  *rule.mutable_condition() = Nest(kMaxConditionDepth);
  EXPECT_TRUE(ValidateRule(rule).ok());
  *rule.mutable_condition() = Nest(kMaxConditionDepth + 1);
  EXPECT_THAT(Fields(ValidateRule(rule)),
              ElementsAre("rule.condition.not.not.not.not.not.not.not.not"));  // the 9th level

  rule.clear_condition();
  Condition::List* any = rule.mutable_condition()->mutable_any();
  for (int i = 0; i < kMaxConditionPredicates; ++i) *any->add_items() = Nest(1);
  EXPECT_TRUE(ValidateRule(rule).ok());
  *any->add_items() = Nest(1);
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.condition"));

  rule.mutable_condition()->mutable_all();  // an empty list
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.condition.all.items"));
  rule.mutable_condition()->mutable_all()->add_items();  // an empty node inside a tree
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.condition.all.items[0]"));
}

TEST(ValidateRule, PredicatesNeedAKnownFieldAnOpAndFittingValues) {
  Rule rule = ValidRule();
  *rule.mutable_condition() = Parse<Condition>(R"pb(
    all {
      items { predicate { field: "amount" op: GT values: "1" values: "2" } }
      items { predicate { field: "custom.x" op: IS_SET values: "1" } }
      items { predicate { field: "tags" op: IN } }
      items { predicate { field: "stage_id" op: GT values: "$UNSORTED" } }
      items { predicate { field: "amount" op: CONTAINS values: "1" } }
      items { predicate { field: "has_open_task" op: EQ values: "yes" } }
      items { predicate { field: "stage_id" op: EQ values: "Неразобранное" } }
      items { predicate { field: "priority" op: EQ values: "Z" } }
      items { predicate { field: "custom.Bad" op: IS_SET } }
      items { predicate { field: "counter." op: IS_SET } }
      items { predicate { field: "custom.visit_date" op: LT values: "soon" } }
      items { predicate { field: "amount" op: 42 values: "1" } }
      items { predicate { field: "" op: IS_SET } }
    }
  )pb");
  EXPECT_THAT(
      Fields(ValidateRule(rule)),
      ElementsAre(
          "rule.condition.all.items[0].predicate.values", "rule.condition.all.items[1].predicate.values",
          "rule.condition.all.items[2].predicate.values", "rule.condition.all.items[3].predicate.op",
          "rule.condition.all.items[4].predicate.op", "rule.condition.all.items[5].predicate.values[0]",
          "rule.condition.all.items[6].predicate.values[0]",
          "rule.condition.all.items[7].predicate.values[0]", "rule.condition.all.items[8].predicate.field",
          "rule.condition.all.items[9].predicate.field", "rule.condition.all.items[10].predicate.values[0]",
          "rule.condition.all.items[11].predicate.op", "rule.condition.all.items[12].predicate.field"));

  // Every documented field form, with fitting ops.
  *rule.mutable_condition() = Parse<Condition>(R"pb(
    all {
      items { predicate { field: "pipeline_id" op: EQ values: "$PIPELINE" } }
      items { predicate { field: "stage_id" op: IN values: "$UNSORTED" values: "$QUALIFIED" } }
      items { predicate { field: "amount" op: GE values: "15000000" } }
      items { predicate { field: "tags" op: CONTAINS values: "vip" } }
      items { predicate { field: "source" op: NE values: "site" } }
      items { predicate { field: "priority" op: IN values: "A" values: "PRIORITY_B" } }
      items { predicate { field: "responsible_id" op: IS_SET } }
      items { predicate { field: "client_id" op: IS_EMPTY } }
      items { predicate { field: "has_open_task" op: EQ values: "true" } }
      items { predicate { field: "custom.visit_date" op: LT values: "2026-12-01" } }
      items { predicate { field: "custom.visit_time" op: GE values: "2026-12-01T10:00:00+03:00" } }
      items { predicate { field: "counter.touches" op: LT values: "3" } }
      items { predicate { field: "minutes_in_stage" op: GT values: "30" } }
      items { predicate { field: "minutes_since_created" op: LE values: "15" } }
    }
  )pb");
  EXPECT_TRUE(ValidateRule(rule).ok()) << ValidateRule(rule);
}

TEST(ValidateRule, ActionsNeedTheirRequiredFields) {
  Rule rule = ValidRule();
  rule.clear_actions();
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.actions"));
  for (int i = 0; i <= kMaxActions; ++i) rule.add_actions()->mutable_add_tag()->set_tag("t");
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.actions"));

  rule.clear_actions();
  for (const char* text : {
           R"pb(create_task {
                  title: "Позвонить"
                  kind: "visit"
                  due_in { seconds: -5 }
                  responsible: "Иван"
                })pb",
           R"pb(add_tag { tag: "" })pb",
           R"pb(add_comment {})pb",
           R"pb(set_field { field: "stage_id" value: "x" })pb",
           R"pb(set_field { field: "priority" value: "Z" })pb",
           R"pb(change_responsible {})pb",
           R"pb(copy_deal { pipeline_id: "p" options_json: "{\"client\": true, \"bogus\": 1}" })pb",
           R"pb(notify { channels: CHANNEL_UNSPECIFIED recipients: "boss" })pb",
           R"pb(start_report { recipients: "user:1" })pb",
       }) {
    *rule.add_actions() = Parse<v1::Action>(text);
  }
  EXPECT_THAT(Fields(ValidateRule(rule)),
              ElementsAre("rule.actions[0].create_task.kind", "rule.actions[0].create_task.due_in",
                          "rule.actions[0].create_task.responsible", "rule.actions[1].add_tag.tag",
                          "rule.actions[2].add_comment.text", "rule.actions[3].set_field.field",
                          "rule.actions[4].set_field.value", "rule.actions[5].change_responsible.user_id",
                          "rule.actions[6].copy_deal.pipeline_id", "rule.actions[6].copy_deal.options_json",
                          "rule.actions[7].notify.channels[0]", "rule.actions[7].notify.recipients[0]",
                          "rule.actions[7].notify.text", "rule.actions[8].start_report.report",
                          "rule.actions[8].start_report.recipients[0]"));
  // In our words: JSON that is not JSON names the field, never the parser's text (hostile_requests_fuzz).
  rule.clear_actions();
  *rule.add_actions() = Parse<v1::Action>(R"pb(copy_deal { options_json: "{not json" })pb");
  const absl::Status not_json = ValidateRule(rule);
  EXPECT_THAT(Fields(not_json), ElementsAre("rule.actions[0].copy_deal.options_json"));
  EXPECT_THAT(std::string(not_json.message()), ::testing::HasSubstr("not crm.deals.v1.CopyOptions JSON"));
  EXPECT_THAT(absl::AsciiStrToLower(not_json.message()), ::testing::Not(::testing::HasSubstr("expected")));

  rule.clear_actions();
  for (const char* text : {
           R"pb(set_field { field: "custom.returned" value: "true" })pb",
           R"pb(copy_deal {
                  options_json: "{\"client\": true, \"contacts\": true, \"customFields\": [\"a\"]}"
                  redacted: true
                })pb",
           R"pb(start_report {
                  report: "end_of_day"
                  recipients: "role:head_of_sales"
                  recipients: "responsible"
                })pb",
       }) {
    *rule.add_actions() = Parse<v1::Action>(text);
  }
  EXPECT_TRUE(ValidateRule(rule).ok()) << ValidateRule(rule);
}

// Issue 16, seed 002: a task's creator (Постановщик) is a person spec; complete_tasks needs a title.
TEST(ValidateRule, TaskCreatorAndCompleteTasks) {
  Rule rule = ValidRule();
  rule.clear_actions();
  for (const char* text : {
           R"pb(create_task { title: "Проверить товарные позиции" creator: "РОП" })pb",
           R"pb(complete_tasks { result: "КП не согласовано" })pb",
       }) {
    *rule.add_actions() = Parse<v1::Action>(text);
  }
  EXPECT_THAT(Fields(ValidateRule(rule)),
              ElementsAre("rule.actions[0].create_task.creator", "rule.actions[1].complete_tasks.title"));
  rule.clear_actions();
  for (const char* text : {
           R"pb(create_task { title: "Проверить товарные позиции" creator: "role:head_of_sales" skip_if_open: true })pb",
           R"pb(create_task { title: "Отгрузить товар клиенту" creator: "responsible" })pb",
           R"pb(complete_tasks { title: "Связаться с клиентом, получить обратную связь по КП" })pb",
       }) {
    *rule.add_actions() = Parse<v1::Action>(text);
  }
  EXPECT_TRUE(ValidateRule(rule).ok()) << ValidateRule(rule);
}

// Seed 001 §4: a measure's revenue is money in the plan's currency, a known ISO 4217 code.
TEST(ValidateRule, MeasureCurrencyIsAKnownCode) {
  Rule rule = Parse<Rule>(R"pb(
    name: "План"
    trigger {
      kind: SCHEDULE
      pipeline_id: "$PIPELINE"
      schedule { spec: "weekly on monday at 09:05" }
      measure { to_stage_id: "$QUALIFIED" period { seconds: 2592000 } per_responsible: true currency: "SUM" }
    }
    actions { notify { channels: IN_APP recipients: "responsible" text: "{measure.revenue_amount}" } }
  )pb");
  EXPECT_THAT(Fields(ValidateRule(rule)), ElementsAre("rule.trigger.measure.currency"));
  rule.mutable_trigger()->mutable_measure()->set_currency("UZS");
  EXPECT_TRUE(ValidateRule(rule).ok()) << ValidateRule(rule);
}

TEST(ValidateRule, DelayMaxDepthAndCancelConditionAreChecked) {
  Rule rule = ValidRule();
  rule.mutable_delay()->mutable_duration()->set_seconds(366LL * 24 * 3600);
  rule.set_max_depth(0);
  EXPECT_TRUE(ValidateRule(rule).ok());
  rule.mutable_delay()->mutable_duration()->set_seconds(366LL * 24 * 3600 + 1);
  rule.set_max_depth(-1);
  rule.mutable_delay()->mutable_cancel_when()->mutable_predicate()->set_field("touches");
  EXPECT_THAT(Fields(ValidateRule(rule)),
              ElementsAre("rule.delay.duration", "rule.delay.cancel_when.predicate.field", "rule.max_depth"));
  rule.mutable_delay()->mutable_duration()->set_seconds(1);
  rule.mutable_delay()->mutable_duration()->set_nanos(-5);  // mixed signs
  EXPECT_THAT(Fields(ValidateRule(rule)),
              ElementsAre("rule.delay.duration", "rule.delay.cancel_when.predicate.field", "rule.max_depth"));
}

// ----------------------------------------------------------------------------------------------------
// Evaluate

const absl::Time kCreated = absl::FromCivil(absl::CivilSecond(2026, 11, 24, 10, 0, 0), absl::UTCTimeZone());

crm::deals::v1::Deal NewDeal() {
  crm::deals::v1::Deal d;
  d.set_id("01930000-0000-7000-8000-0000000000d1");
  d.set_pipeline_id(kPipeline);
  d.set_stage_id(kUnsorted);
  d.set_source("site");
  *d.mutable_create_time() = ToProtoTimestamp(kCreated);
  *d.mutable_stage_enter_time() = ToProtoTimestamp(kCreated);
  return d;
}

struct Explained {
  std::string predicate;
  bool result;
  std::string actual;
  friend bool operator==(const Explained&, const Explained&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Explained& e) {
    return os << "{" << e.predicate << " -> " << e.result << ", actual " << e.actual << "}";
  }
};

std::vector<Explained> Explain(const Evaluation& ev) {
  std::vector<Explained> out;
  for (const auto& p : ev.predicates) out.push_back({p.predicate(), p.result(), p.actual()});
  return out;
}

bool Holds(const std::string& condition, const Facts& facts) {
  return Evaluate(Parse<Condition>(condition), facts).result;
}

TEST(Evaluate, AbsentConditionIsTrueAndExplainsNothing) {
  auto deal = NewDeal();
  Evaluation ev = Evaluate(Condition(), Facts{.deal = &deal});
  EXPECT_TRUE(ev.result);
  EXPECT_TRUE(ev.predicates.empty());
}

// Seed 001 §1.1: «Неразобранное», more than 15 minutes since creation, nobody took it (no open task).
TEST(Evaluate, Seed001FirstContactCondition) {
  const Condition c = Parse<Condition>(R"pb(
    all {
      items { predicate { field: "stage_id" op: EQ values: "$UNSORTED" } }
      items { predicate { field: "minutes_since_created" op: GT values: "15" } }
      items { not { predicate { field: "has_open_task" op: EQ values: "true" } } }
    }
  )pb");
  const std::string stage_text = absl::StrCat("stage_id EQ \"", kUnsorted, "\"");
  const std::string stage_actual = absl::StrCat("\"", kUnsorted, "\"");
  auto deal = NewDeal();

  // 10 minutes: the second predicate fails, the third is not looked at.
  Evaluation early = Evaluate(c, Facts{.deal = &deal, .now = kCreated + absl::Minutes(10)});
  EXPECT_FALSE(early.result);
  EXPECT_THAT(Explain(early), ElementsAre(Explained{stage_text, true, stage_actual},
                                          Explained{"minutes_since_created GT 15", false, "10"}));

  // 15 minutes 59 seconds is still 15 whole minutes.
  EXPECT_FALSE(Evaluate(c, Facts{.deal = &deal, .now = kCreated + absl::Seconds(15 * 60 + 59)}).result);

  Evaluation late = Evaluate(c, Facts{.deal = &deal, .now = kCreated + absl::Minutes(16)});
  EXPECT_TRUE(late.result);
  EXPECT_THAT(Explain(late), ElementsAre(Explained{stage_text, true, stage_actual},
                                         Explained{"minutes_since_created GT 15", true, "16"},
                                         Explained{"has_open_task EQ true", false, "false"}));

  // A manager set a task: the predicate under NOT is recorded with its own result.
  Evaluation taken =
      Evaluate(c, Facts{.deal = &deal, .has_open_task = true, .now = kCreated + absl::Minutes(16)});
  EXPECT_FALSE(taken.result);
  EXPECT_THAT(Explain(taken).back(), (Explained{"has_open_task EQ true", true, "true"}));

  // Moved on to «Квалифицирован»: fails at once.
  deal.set_stage_id(kQualified);
  Evaluation moved = Evaluate(c, Facts{.deal = &deal, .now = kCreated + absl::Minutes(16)});
  EXPECT_FALSE(moved.result);
  EXPECT_EQ(moved.predicates.size(), 1u);
}

// Seed 002: > 500 000 ₽ contract + invoice; > 150 000 ₽ invoice-contract; else invoice (amounts in
// kopecks).
TEST(Evaluate, Seed002DocumentThresholds) {
  const Condition contract_and_invoice =
      Parse<Condition>(R"pb(predicate { field: "amount" op: GT values: "50000000" })pb");
  const Condition invoice_contract = Parse<Condition>(R"pb(
    all {
      items { predicate { field: "amount" op: GT values: "15000000" } }
      items { predicate { field: "amount" op: LE values: "50000000" } }
    }
  )pb");
  const Condition invoice_only =
      Parse<Condition>(R"pb(predicate { field: "amount" op: LE values: "15000000" })pb");

  struct Case {
    int64_t kopecks;
    const char* expected;
  };
  for (Case tc : {Case{60'000'000, "contract+invoice"}, Case{50'000'001, "contract+invoice"},
                  Case{50'000'000, "invoice-contract"}, Case{15'000'001, "invoice-contract"},
                  Case{15'000'000, "invoice"}, Case{0, "invoice"}}) {
    auto deal = NewDeal();
    deal.mutable_amount()->set_amount_minor(tc.kopecks);
    deal.mutable_amount()->set_currency("RUB");
    Facts facts{.deal = &deal};
    std::vector<std::string> matched;
    if (Evaluate(contract_and_invoice, facts).result) matched.push_back("contract+invoice");
    if (Evaluate(invoice_contract, facts).result) matched.push_back("invoice-contract");
    if (Evaluate(invoice_only, facts).result) matched.push_back("invoice");
    EXPECT_THAT(matched, ElementsAre(tc.expected)) << tc.kopecks;
  }

  auto deal = NewDeal();
  deal.mutable_amount()->set_amount_minor(60'000'000);
  EXPECT_THAT(Explain(Evaluate(contract_and_invoice, Facts{.deal = &deal})),
              ElementsAre(Explained{"amount GT 50000000", true, "60000000"}));

  // No amount at all: empty, so none of the three holds.
  deal.clear_amount();
  EXPECT_FALSE(Evaluate(contract_and_invoice, Facts{.deal = &deal}).result);
  EXPECT_FALSE(Evaluate(invoice_contract, Facts{.deal = &deal}).result);
  EXPECT_THAT(Explain(Evaluate(invoice_only, Facts{.deal = &deal})),
              ElementsAre(Explained{"amount LE 15000000", false, "(empty)"}));
}

TEST(Evaluate, AnyStopsAtTheFirstTrueItem) {
  auto deal = NewDeal();
  deal.add_tags("vip");
  const Condition c = Parse<Condition>(R"pb(
    any {
      items { predicate { field: "source" op: EQ values: "telegram" } }
      items { predicate { field: "tags" op: CONTAINS values: "vip" } }
      items { predicate { field: "amount" op: GT values: "1" } }
    }
  )pb");
  Evaluation ev = Evaluate(c, Facts{.deal = &deal});
  EXPECT_TRUE(ev.result);
  EXPECT_THAT(Explain(ev), ElementsAre(Explained{"source EQ \"telegram\"", false, "\"site\""},
                                       Explained{"tags CONTAINS \"vip\"", true, "[\"vip\"]"}));

  deal.clear_tags();
  ev = Evaluate(c, Facts{.deal = &deal});
  EXPECT_FALSE(ev.result);
  EXPECT_THAT(Explain(ev), ElementsAre(Explained{"source EQ \"telegram\"", false, "\"site\""},
                                       Explained{"tags CONTAINS \"vip\"", false, "(empty)"},
                                       Explained{"amount GT 1", false, "(empty)"}));

  EXPECT_FALSE(Holds("any {}", Facts{.deal = &deal}));
  EXPECT_TRUE(Holds("all {}", Facts{.deal = &deal}));
}

TEST(Evaluate, NotAndNesting) {
  auto deal = NewDeal();
  deal.mutable_amount()->set_amount_minor(20'000'000);
  deal.add_tags("b2b");
  Facts facts{.deal = &deal, .counters = {{"touches", 2}}, .now = kCreated + absl::Hours(25)};
  // (source = site OR tags has partner) AND NOT (touches >= 3) AND NOT NOT amount > 150 000 ₽
  const std::string c = R"pb(
    all {
      items {
        any {
          items { predicate { field: "source" op: EQ values: "site" } }
          items { predicate { field: "tags" op: CONTAINS values: "partner" } }
        }
      }
      items { not { predicate { field: "counter.touches" op: GE values: "3" } } }
      items { not { not { predicate { field: "amount" op: GT values: "15000000" } } } }
    }
  )pb";
  Evaluation ev = Evaluate(Parse<Condition>(c), facts);
  EXPECT_TRUE(ev.result);
  EXPECT_THAT(Explain(ev), ElementsAre(Explained{"source EQ \"site\"", true, "\"site\""},
                                       Explained{"counter.touches GE 3", false, "2"},
                                       Explained{"amount GT 15000000", true, "20000000"}));
  facts.counters["touches"] = 3;
  EXPECT_FALSE(Holds(c, facts));
  facts.counters["touches"] = 0;
  deal.set_source("call");
  EXPECT_FALSE(Holds(c, facts));
  deal.add_tags("partner");
  EXPECT_TRUE(Holds(c, facts));
  EXPECT_FALSE(Holds(R"pb(not { all {} })pb", facts));
}

TEST(Evaluate, ExplanationTextOfEachKind) {
  auto deal = NewDeal();
  deal.add_tags("vip");
  deal.add_tags("b2b");
  deal.set_priority(crm::deals::v1::Deal::PRIORITY_B);
  const Condition c = Parse<Condition>(R"pb(
    all {
      items { predicate { field: "tags" op: IN values: "partner" values: "b2b" } }
      items { predicate { field: "priority" op: IN values: "A" values: "PRIORITY_B" } }
      items { predicate { field: "custom.visit_date" op: IS_EMPTY } }
      items { predicate { field: "client_id" op: IS_SET } }
    }
  )pb");
  EXPECT_THAT(Explain(Evaluate(c, Facts{.deal = &deal})),
              ElementsAre(Explained{"tags IN [\"partner\", \"b2b\"]", true, "[\"vip\", \"b2b\"]"},
                          Explained{"priority IN [\"A\", \"PRIORITY_B\"]", true, "\"B\""},
                          Explained{"custom.visit_date IS_EMPTY", true, "(empty)"},
                          Explained{"client_id IS_SET", false, "(empty)"}));
  v1::Predicate p;
  p.set_field("source");
  p.set_op(v1::Predicate::EQ);
  p.add_values("say \"hi\"");
  EXPECT_EQ(PredicateText(p), R"(source EQ "say \"hi\"")");
}

TEST(Evaluate, MissingCustomFieldIsEmpty) {
  auto deal = NewDeal();
  auto* other = deal.add_fields();
  other->set_code("other");
  other->set_text("x");
  deal.add_fields()->set_code("unset");  // present with no value: empty too
  Facts facts{.deal = &deal};
  for (const char* code : {"custom.returned", "custom.unset"}) {
    SCOPED_TRACE(code);
    auto pred = [&](const char* op, const char* value) {
      std::string values = value ? absl::StrCat(" values: \"", value, "\"") : "";
      return absl::StrCat("predicate { field: \"", code, "\" op: ", op, values, " }");
    };
    EXPECT_TRUE(Holds(pred("IS_EMPTY", nullptr), facts));
    EXPECT_FALSE(Holds(pred("IS_SET", nullptr), facts));
    EXPECT_FALSE(Holds(pred("EQ", "Да"), facts));
    EXPECT_FALSE(Holds(pred("NE", "Да"), facts));
    EXPECT_FALSE(Holds(pred("GT", "0"), facts));
    EXPECT_FALSE(Holds(pred("LT", "0"), facts));
    EXPECT_FALSE(Holds(pred("IN", "Да"), facts));
    EXPECT_FALSE(Holds(pred("CONTAINS", "Да"), facts));
    // NOT over a comparison of an empty field is true: «not (returned = Да)».
    EXPECT_TRUE(Holds(absl::StrCat("not { ", pred("EQ", "Да"), " }"), facts));
    EXPECT_THAT(Explain(Evaluate(Parse<Condition>(pred("EQ", "Да")), facts)),
                ElementsAre(Explained{absl::StrCat(code, " EQ \"Да\""), false, "(empty)"}));
  }
}

TEST(Evaluate, CustomFieldsCompareByTheirType) {
  auto deal = NewDeal();
  auto add = [&](const char* code) {
    auto* f = deal.add_fields();
    f->set_code(code);
    return f;
  };
  add("area")->set_number("12.5");
  add("budget")->mutable_money()->set_amount_minor(15'000'000);
  add("visit_date")->set_text("2026-11-30");
  // 22:00 UTC on the 24th is already the 25th in Moscow.
  *add("visit_time")->mutable_time() =
      ToProtoTimestamp(absl::FromCivil(absl::CivilSecond(2026, 11, 24, 22, 0, 0), absl::UTCTimeZone()));
  add("returned")->set_flag(true);
  auto* channels = add("channels")->mutable_options();
  channels->add_values("whatsapp");
  channels->add_values("telegram");
  add("object_type")->set_text("Квартира");
  Facts facts{.deal = &deal};

  EXPECT_TRUE(Holds(R"pb(predicate { field: "custom.area" op: GT values: "12.40" })pb", facts));
  EXPECT_TRUE(Holds(R"pb(predicate { field: "custom.area" op: EQ values: "12.500" })pb", facts));
  EXPECT_FALSE(Holds(R"pb(predicate { field: "custom.area" op: GT values: "12.5" })pb", facts));
  EXPECT_FALSE(Holds(R"pb(predicate { field: "custom.area" op: GT values: "abc" })pb", facts));
  EXPECT_TRUE(Holds(R"pb(predicate { field: "custom.budget" op: GE values: "15000000" })pb", facts));
  EXPECT_TRUE(Holds(R"pb(predicate { field: "custom.visit_date" op: LT values: "2026-12-01" })pb", facts));
  EXPECT_FALSE(Holds(R"pb(predicate { field: "custom.visit_date" op: GT values: "2026-12-01" })pb", facts));
  EXPECT_TRUE(Holds(R"pb(predicate { field: "custom.visit_date" op: EQ values: "2026-11-30" })pb", facts));
  EXPECT_TRUE(Holds(
      R"pb(predicate { field: "custom.visit_time" op: GE values: "2026-11-25T00:30:00+03:00" })pb", facts));
  EXPECT_FALSE(
      Holds(R"pb(predicate { field: "custom.visit_time" op: GT values: "2026-11-24T22:00:00Z" })pb", facts));
  EXPECT_TRUE(Holds(R"pb(predicate { field: "custom.visit_time" op: EQ values: "2026-11-24" })pb", facts));
  facts.zone = *LoadTimeZone("Europe/Moscow");
  EXPECT_TRUE(Holds(R"pb(predicate { field: "custom.visit_time" op: EQ values: "2026-11-25" })pb", facts));
  EXPECT_TRUE(Holds(R"pb(predicate { field: "custom.visit_time" op: GT values: "2026-11-24" })pb", facts));
  EXPECT_TRUE(Holds(R"pb(predicate { field: "custom.returned" op: EQ values: "true" })pb", facts));
  EXPECT_TRUE(Holds(R"pb(predicate { field: "custom.returned" op: NE values: "false" })pb", facts));
  EXPECT_TRUE(Holds(R"pb(predicate { field: "custom.channels" op: CONTAINS values: "telegram" })pb", facts));
  EXPECT_FALSE(Holds(
      R"pb(predicate { field: "custom.channels" op: CONTAINS values: "telegram" values: "sms" })pb", facts));
  EXPECT_TRUE(
      Holds(R"pb(predicate { field: "custom.channels" op: IN values: "sms" values: "whatsapp" })pb", facts));
  EXPECT_TRUE(Holds(
      R"pb(predicate { field: "custom.object_type" op: IN values: "Дом" values: "Квартира" })pb", facts));
  EXPECT_FALSE(Holds(R"pb(predicate { field: "custom.object_type" op: GT values: "А" })pb", facts));

  Evaluation ev =
      Evaluate(Parse<Condition>(R"pb(all {
                                       items { predicate { field: "custom.visit_time" op: IS_SET } }
                                       items { predicate { field: "custom.channels" op: IS_SET } }
                                       items { predicate { field: "custom.area" op: IS_SET } }
                                     })pb"),
               facts);
  EXPECT_THAT(Explain(ev),
              ElementsAre(Explained{"custom.visit_time IS_SET", true, "2026-11-24T22:00:00Z"},
                          Explained{"custom.channels IS_SET", true, "[\"whatsapp\", \"telegram\"]"},
                          Explained{"custom.area IS_SET", true, "12.5"}));
}

TEST(Evaluate, CountersMinutesAndNoDeal) {
  auto deal = NewDeal();
  *deal.mutable_stage_enter_time() = ToProtoTimestamp(kCreated + absl::Hours(1));
  Facts facts{
      .deal = &deal, .counters = {{"touches", 2}}, .now = kCreated + absl::Minutes(90) + absl::Seconds(59)};
  EXPECT_TRUE(Holds(R"pb(predicate { field: "counter.touches" op: LT values: "3" })pb", facts));
  EXPECT_TRUE(
      Holds(R"pb(predicate { field: "counter.returns" op: EQ values: "0" })pb", facts));  // absent = 0
  EXPECT_THAT(
      Explain(Evaluate(
          Parse<Condition>(R"pb(all {
                                  items { predicate { field: "minutes_in_stage" op: EQ values: "30" } }
                                  items { predicate { field: "minutes_since_created" op: EQ values: "90" } }
                                })pb"),
          facts)),
      ElementsAre(Explained{"minutes_in_stage EQ 30", true, "30"},
                  Explained{"minutes_since_created EQ 90", true, "90"}));

  Facts none{.counters = {{"touches", 5}}};
  EXPECT_TRUE(Holds(R"pb(predicate { field: "stage_id" op: IS_EMPTY })pb", none));
  EXPECT_TRUE(Holds(R"pb(predicate { field: "minutes_in_stage" op: IS_EMPTY })pb", none));
  EXPECT_TRUE(Holds(R"pb(predicate { field: "counter.touches" op: GE values: "5" })pb", none));
}

TEST(Evaluate, NumbersCompareExactlyAndUnknownFieldsAreFalse) {
  auto deal = NewDeal();
  deal.mutable_amount()->set_amount_minor(9'007'199'254'740'993);  // 2^53 + 1: a double would round it
  Facts facts{.deal = &deal};
  EXPECT_TRUE(Holds(R"pb(predicate { field: "amount" op: GT values: "9007199254740992" })pb", facts));
  EXPECT_FALSE(Holds(R"pb(predicate { field: "amount" op: EQ values: "9007199254740992" })pb", facts));
  deal.mutable_amount()->set_amount_minor(-500);
  EXPECT_TRUE(Holds(R"pb(predicate { field: "amount" op: LT values: "-4.99" })pb", facts));
  EXPECT_TRUE(Holds(R"pb(predicate { field: "amount" op: GT values: "-501" })pb", facts));
  EXPECT_TRUE(Holds(R"pb(predicate { field: "amount" op: IN values: "1" values: "-500.0" })pb", facts));

  EXPECT_THAT(Explain(Evaluate(Parse<Condition>(R"pb(predicate { field: "mood" op: IS_EMPTY })pb"), facts)),
              ElementsAre(Explained{"mood IS_EMPTY", true, "(unknown field)"}));
  EXPECT_FALSE(Holds(R"pb(predicate { field: "mood" op: EQ values: "x" })pb", facts));
}

}  // namespace
}  // namespace crm::robots
