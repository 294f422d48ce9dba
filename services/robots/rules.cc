#include "services/robots/rules.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "crm/deals/v1/deals.pb.h"
#include "google/protobuf/util/json_util.h"
#include "libs/base/money.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/timers/schedules.h"

namespace crm::robots {
namespace {

namespace dv1 = ::crm::deals::v1;
using PredicateResult = v1::Execution::PredicateResult;

// ---------------------------------------------------------------------------------------------------
// Fields.

enum class FieldKind { kUnknown, kNumber, kText, kId, kPriority, kList, kBool, kCustom };

constexpr std::string_view kCustomPrefix = "custom.";
constexpr std::string_view kCounterPrefix = "counter.";

// [a-z][a-z0-9_]{0,63}: custom field codes and counter names.
bool IsCode(std::string_view s) {
  if (s.empty() || s.size() > 64 || s[0] < 'a' || s[0] > 'z') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

FieldKind ClassifyField(std::string_view f) {
  if (f == "amount" || f == "minutes_in_stage" || f == "minutes_since_created") return FieldKind::kNumber;
  if (f == "source") return FieldKind::kText;
  if (f == "pipeline_id" || f == "stage_id" || f == "responsible_id" || f == "client_id") {
    return FieldKind::kId;
  }
  if (f == "priority") return FieldKind::kPriority;
  if (f == "tags") return FieldKind::kList;
  if (f == "has_open_task" || f == "has_comment_since_stage") return FieldKind::kBool;
  if (f.substr(0, kCounterPrefix.size()) == kCounterPrefix && IsCode(f.substr(kCounterPrefix.size()))) {
    return FieldKind::kNumber;
  }
  if (f.substr(0, kCustomPrefix.size()) == kCustomPrefix && IsCode(f.substr(kCustomPrefix.size()))) {
    return FieldKind::kCustom;
  }
  return FieldKind::kUnknown;
}

std::string_view KindName(FieldKind k) {
  switch (k) {
    case FieldKind::kNumber:
      return "a number";
    case FieldKind::kText:
      return "a text";
    case FieldKind::kId:
      return "an id";
    case FieldKind::kPriority:
      return "an enum";
    case FieldKind::kList:
      return "a list";
    case FieldKind::kBool:
      return "a flag";
    case FieldKind::kCustom:
      return "a custom field";
    case FieldKind::kUnknown:
      break;
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------------
// Value syntax.

struct Decimal {
  bool negative = false;
  std::string_view int_part;   // no leading zeros ("" for zero)
  std::string_view frac_part;  // no trailing zeros
};

// -?[0-9]+(\.[0-9]+)?
std::optional<Decimal> ParseDecimal(std::string_view s) {
  Decimal d;
  if (!s.empty() && s[0] == '-') {
    d.negative = true;
    s.remove_prefix(1);
  }
  size_t dot = s.find('.');
  std::string_view ip = s.substr(0, dot);
  std::string_view fp = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  auto digits = [](std::string_view x) {
    return !x.empty() && std::all_of(x.begin(), x.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(ip) || (dot != std::string_view::npos && !digits(fp))) return std::nullopt;
  while (!ip.empty() && ip[0] == '0') ip.remove_prefix(1);
  while (!fp.empty() && fp.back() == '0') fp.remove_suffix(1);
  d.int_part = ip;
  d.frac_part = fp;
  if (ip.empty() && fp.empty()) d.negative = false;  // -0 == 0
  return d;
}

bool IsDecimal(std::string_view s) { return ParseDecimal(s).has_value(); }

// Exact comparison of two decimal texts; nullopt if either does not parse.
std::optional<int> CompareDecimal(std::string_view a, std::string_view b) {
  auto x = ParseDecimal(a), y = ParseDecimal(b);
  if (!x || !y) return std::nullopt;
  if (x->negative != y->negative) return x->negative ? -1 : 1;
  int mag = 0;
  if (x->int_part.size() != y->int_part.size()) {
    mag = x->int_part.size() < y->int_part.size() ? -1 : 1;
  } else if (int c = x->int_part.compare(y->int_part); c != 0) {
    mag = c < 0 ? -1 : 1;
  } else if (int c2 = x->frac_part.compare(y->frac_part); c2 != 0) {
    mag = c2 < 0 ? -1 : 1;  // no trailing zeros: lexicographic order is numeric order
  }
  return x->negative ? -mag : mag;
}

// Exactly "YYYY-MM-DD", a real day.
std::optional<absl::CivilDay> ParseDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  auto num = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  int y = num(0, 4), m = num(5, 2), d = num(8, 2);
  absl::CivilDay day(y, m, d);
  if (day.year() != y || day.month() != m || day.day() != d) return std::nullopt;
  return day;
}

std::optional<absl::Time> ParseTime(std::string_view s) {
  auto t = ParseRfc3339(s);
  if (!t.ok()) return std::nullopt;
  return *t;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// A predicate value in text: numbers and true/false bare, everything else quoted.
std::string ValueLiteral(std::string_view v) {
  if (IsDecimal(v) || v == "true" || v == "false") return std::string(v);
  return Quote(v);
}

std::string OpName(int op) {
  const std::string& name = v1::Predicate::Op_Name(static_cast<v1::Predicate::Op>(op));
  return name.empty() ? absl::StrCat("OP_", op) : name;
}

size_t CodePoints(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string Path(std::string_view base, std::string_view member) {
  return absl::StrCat(AsAbsl(base), ".", AsAbsl(member));
}
std::string Index(std::string_view base, int i) { return absl::StrCat(AsAbsl(base), "[", i, "]"); }

// ---------------------------------------------------------------------------------------------------
// Validation.

class Violations {
 public:
  void Add(std::string field, std::string description) {
    list_.push_back({std::move(field), std::move(description)});
  }

  // Every violation at once, the suite's one shape: "<first field>: <description> (and N more)", all of
  // them in the details.
  absl::Status ToStatus() const {
    if (list_.empty()) return absl::OkStatus();
    return InvalidFieldsError(list_);
  }

 private:
  std::vector<FieldViolation> list_;
};

std::optional<absl::Duration> FromProtoDuration(const google::protobuf::Duration& d) {
  if (d.nanos() <= -1'000'000'000 || d.nanos() >= 1'000'000'000) return std::nullopt;
  if ((d.seconds() > 0 && d.nanos() < 0) || (d.seconds() < 0 && d.nanos() > 0)) return std::nullopt;
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

void CheckDuration(const google::protobuf::Duration& d, const std::string& path, absl::Duration min,
                   absl::Duration max, Violations& out) {
  auto v = FromProtoDuration(d);
  if (!v) {
    out.Add(path, "not a valid duration");
  } else if (*v < min || *v > max) {
    out.Add(path, absl::StrCat("must be ", absl::FormatDuration(min), " to ", absl::FormatDuration(max)));
  }
}

void CheckText(std::string_view value, const std::string& path, size_t max, bool required, Violations& out) {
  if (value.empty()) {
    if (required) out.Add(path, "required");
  } else if (CodePoints(value) > max) {
    out.Add(path, absl::StrCat("at most ", max, " characters"));
  }
}

void CheckUuid(std::string_view value, const std::string& path, bool required, Violations& out) {
  if (value.empty()) {
    if (required) out.Add(path, "required");
  } else if (!IsUuid(value)) {
    out.Add(path, "not a UUID");
  }
}

// "responsible", "role:<code>", "user:<uuid>" (`allow_empty`: "" = the deal's responsible).
void CheckPerson(std::string_view v, const std::string& path, bool allow_empty, Violations& out) {
  if (v.empty() && allow_empty) return;
  if (v == "responsible" || v == "supervisor") return;
  if (v.substr(0, 5) == "role:" && IsCode(v.substr(5))) return;
  if (v.substr(0, 5) == "user:" && IsUuid(v.substr(5))) return;
  out.Add(path, absl::StrCat("must be \"responsible\", \"supervisor\", \"role:<code>\" or \"user:<uuid>\", not ",
                             QuoteForError(v)));
}

bool IsPriorityValue(std::string_view v) {
  if (v.substr(0, 9) == "PRIORITY_") v.remove_prefix(9);
  return v == "A" || v == "B" || v == "C";
}

void CheckPredicate(const v1::Predicate& p, const std::string& path, Violations& out) {
  using P = v1::Predicate;
  const std::string& field = p.field();
  FieldKind kind = ClassifyField(field);
  if (field.empty()) {
    out.Add(Path(path, "field"), "required");
  } else if (kind == FieldKind::kUnknown) {
    out.Add(Path(path, "field"),
            absl::StrCat("unknown field ", QuoteForError(field),
                         "; known: pipeline_id, stage_id, amount, tags, source, priority, responsible_id, "
                         "client_id, has_open_task, has_comment_since_stage, minutes_in_stage, "
                         "minutes_since_created, counter.<name>, custom.<code>"));
  }
  const int op = p.op();
  const std::string op_path = Path(path, "op");
  if (op == P::OP_UNSPECIFIED) {
    out.Add(op_path, "required");
    return;
  }
  if (!P::Op_IsValid(op)) {
    out.Add(op_path, absl::StrCat("unknown op ", op));
    return;
  }
  const bool ordering = op == P::LT || op == P::LE || op == P::GT || op == P::GE;
  bool applies = true;
  switch (kind) {
    case FieldKind::kNumber:
      applies = op != P::CONTAINS;
      break;
    case FieldKind::kText:
    case FieldKind::kId:
    case FieldKind::kPriority:
    case FieldKind::kBool:
      applies = !ordering && op != P::CONTAINS && !(kind == FieldKind::kBool && op == P::IN);
      break;
    case FieldKind::kList:
      applies = op == P::CONTAINS || op == P::IN || op == P::IS_SET || op == P::IS_EMPTY;
      break;
    case FieldKind::kCustom:
    case FieldKind::kUnknown:
      break;
  }
  if (!applies) {
    out.Add(op_path,
            absl::StrCat(OpName(op), " does not apply to ", field, " (", AsAbsl(KindName(kind)), ")"));
  }
  const std::string values_path = Path(path, "values");
  const int n = p.values_size();
  if (op == P::IS_SET || op == P::IS_EMPTY) {
    if (n != 0) out.Add(values_path, absl::StrCat("no values with ", OpName(op)));
    return;
  }
  if (op == P::IN || op == P::CONTAINS) {
    if (n == 0) out.Add(values_path, absl::StrCat("at least one value with ", OpName(op)));
    if (n > kMaxPredicateValues) {
      out.Add(values_path, absl::StrCat("at most ", kMaxPredicateValues, " values"));
    }
  } else if (n != 1) {
    out.Add(values_path, absl::StrCat("exactly one value with ", OpName(op)));
  }
  for (int i = 0; i < n && i < kMaxPredicateValues; ++i) {
    const std::string& v = p.values(i);
    const std::string vp = Index(values_path, i);
    switch (kind) {
      case FieldKind::kNumber:
        if (!IsDecimal(v)) out.Add(vp, absl::StrCat("not a number: ", QuoteForError(v)));
        break;
      case FieldKind::kId:
        if (!IsUuid(v)) out.Add(vp, absl::StrCat("not a UUID: ", QuoteForError(v)));
        break;
      case FieldKind::kPriority:
        if (!IsPriorityValue(v)) out.Add(vp, absl::StrCat("must be A, B or C, not ", QuoteForError(v)));
        break;
      case FieldKind::kBool:
        if (v != "true" && v != "false") {
          out.Add(vp, absl::StrCat("must be true or false, not ", QuoteForError(v)));
        }
        break;
      case FieldKind::kCustom:
        if (ordering && !IsDecimal(v) && !ParseDate(v) && !ParseTime(v)) {
          out.Add(vp,
                  absl::StrCat("not a number, a date (YYYY-MM-DD) or an RFC 3339 time: ", QuoteForError(v)));
        }
        break;
      case FieldKind::kText:
      case FieldKind::kList:
      case FieldKind::kUnknown:
        break;
    }
  }
}

struct TreeCheck {
  std::string root;
  int predicates = 0;
  bool depth_reported = false;
};

void CheckCondition(const v1::Condition& c, const std::string& path, int depth, TreeCheck& tc,
                    Violations& out);

void CheckList(const v1::Condition::List& list, const std::string& path, int depth, TreeCheck& tc,
               Violations& out) {
  const std::string items = Path(path, "items");
  if (list.items_size() == 0) out.Add(items, "at least one item");
  for (int i = 0; i < list.items_size(); ++i)
    CheckCondition(list.items(i), Index(items, i), depth + 1, tc, out);
}

void CheckCondition(const v1::Condition& c, const std::string& path, int depth, TreeCheck& tc,
                    Violations& out) {
  if (depth > kMaxConditionDepth) {
    if (!tc.depth_reported) out.Add(path, absl::StrCat("nested deeper than ", kMaxConditionDepth, " levels"));
    tc.depth_reported = true;
    return;
  }
  switch (c.node_case()) {
    case v1::Condition::kAll:
      CheckList(c.all(), Path(path, "all"), depth, tc, out);
      break;
    case v1::Condition::kAny:
      CheckList(c.any(), Path(path, "any"), depth, tc, out);
      break;
    case v1::Condition::kNot:
      CheckCondition(c.not_(), Path(path, "not"), depth + 1, tc, out);
      break;
    case v1::Condition::kPredicate:
      if (++tc.predicates == kMaxConditionPredicates + 1) {
        out.Add(tc.root, absl::StrCat("more than ", kMaxConditionPredicates, " predicates"));
      }
      CheckPredicate(c.predicate(), Path(path, "predicate"), out);
      break;
    case v1::Condition::NODE_NOT_SET:
      out.Add(path, "empty: set all, any, not or predicate");
      break;
  }
}

// A condition that may be absent (then valid).
void CheckTree(const v1::Condition& c, const std::string& path, Violations& out) {
  if (c.node_case() == v1::Condition::NODE_NOT_SET) return;
  TreeCheck tc{.root = path};
  CheckCondition(c, path, 1, tc, out);
}

void CheckTrigger(const v1::Trigger& t, Violations& out) {
  using T = v1::Trigger;
  const int kind = t.kind();
  if (kind == T::KIND_UNSPECIFIED) {
    out.Add("rule.trigger.kind", "required");
  } else if (!T::Kind_IsValid(kind)) {
    out.Add("rule.trigger.kind", absl::StrCat("unknown kind ", kind));
  }
  CheckUuid(t.pipeline_id(), "rule.trigger.pipeline_id", false, out);
  CheckUuid(t.stage_id(), "rule.trigger.stage_id", false, out);
  for (int i = 0; i < t.to_stage_ids_size(); ++i) {
    CheckUuid(t.to_stage_ids(i), Index("rule.trigger.to_stage_ids", i), true, out);
  }
  if ((kind == T::STAGE_ENTERED || kind == T::STAGE_LEFT) && t.stage_id().empty() &&
      t.pipeline_id().empty()) {
    out.Add("rule.trigger.stage_id", absl::StrCat("required for ", T::Kind_Name(static_cast<T::Kind>(kind)),
                                                  ": a stage_id or a pipeline_id"));
  }
  if (kind == T::FIELD_CHANGED) {
    FieldKind fk = ClassifyField(t.field());
    const bool deal_field = fk == FieldKind::kText || fk == FieldKind::kId || fk == FieldKind::kPriority ||
                            fk == FieldKind::kList || fk == FieldKind::kCustom || t.field() == "amount";
    if (t.field().empty()) {
      out.Add("rule.trigger.field", "required for FIELD_CHANGED");
    } else if (!deal_field) {
      out.Add("rule.trigger.field", absl::StrCat("not a deal field: ", QuoteForError(t.field())));
    }
  }
  if (kind == T::DATE_FIELD_REACHED) {
    if (t.field().empty()) {
      out.Add("rule.trigger.field", "required for DATE_FIELD_REACHED");
    } else if (ClassifyField(t.field()) != FieldKind::kCustom) {
      out.Add("rule.trigger.field", absl::StrCat("must be custom.<code> (a date or datetime field), not ",
                                                 QuoteForError(t.field())));
    }
  }
  CheckDuration(t.offset(), "rule.trigger.offset", -kMaxDelay, kMaxDelay, out);
  if (kind == T::SCHEDULE) {
    if (t.schedule().spec().empty()) {
      out.Add("rule.trigger.schedule.spec", "required for SCHEDULE");
    } else if (auto spec = timers::ParseScheduleSpec(t.schedule().spec()); !spec.ok()) {
      out.Add("rule.trigger.schedule.spec", std::string(spec.status().message()));
    }
  }
  if (t.has_measure()) {
    const auto& m = t.measure();
    if (kind != T::SCHEDULE) out.Add("rule.trigger.measure", "only a SCHEDULE trigger measures");
    if (t.pipeline_id().empty()) out.Add("rule.trigger.pipeline_id", "required for a measure");
    if (m.from_stage_id().empty() && m.to_stage_id().empty()) {
      out.Add("rule.trigger.measure.to_stage_id", "a measure needs from_stage_id and / or to_stage_id");
    }
    CheckUuid(m.from_stage_id(), "rule.trigger.measure.from_stage_id", false, out);
    CheckUuid(m.to_stage_id(), "rule.trigger.measure.to_stage_id", false, out);
    CheckDuration(m.period(), "rule.trigger.measure.period", absl::Minutes(1), kMaxDelay, out);
    if (!m.currency().empty()) {
      if (absl::Status c = ValidateCurrency(m.currency()); !c.ok()) {
        out.Add("rule.trigger.measure.currency", std::string(c.message()));
      }
    }
  }
  if (!t.schedule().time_zone().empty()) {
    if (auto zone = LoadTimeZone(t.schedule().time_zone()); !zone.ok()) {
      out.Add("rule.trigger.schedule.time_zone", std::string(zone.status().message()));
    }
  }
}

void CheckAction(const v1::Action& a, const std::string& path, Violations& out) {
  switch (a.action_case()) {
    case v1::Action::kCreateTask: {
      const auto& x = a.create_task();
      const std::string p = Path(path, "create_task");
      CheckText(x.title(), Path(p, "title"), 500, true, out);
      static constexpr std::string_view kKinds[] = {"call", "meeting", "email", "follow_up", "custom"};
      const std::string k = absl::AsciiStrToLower(x.kind());
      if (!x.kind().empty() && std::find(std::begin(kKinds), std::end(kKinds), k) == std::end(kKinds)) {
        out.Add(Path(p, "kind"), absl::StrCat("must be call, meeting, email, follow_up or custom, not ",
                                              QuoteForError(x.kind())));
      }
      CheckDuration(x.due_in(), Path(p, "due_in"), absl::ZeroDuration(), kMaxDelay, out);
      CheckPerson(x.responsible(), Path(p, "responsible"), true, out);
      CheckPerson(x.creator(), Path(p, "creator"), true, out);
      break;
    }
    case v1::Action::kCompleteTasks:
      CheckText(a.complete_tasks().title(), Path(path, "complete_tasks.title"), 500, true, out);
      CheckText(a.complete_tasks().result(), Path(path, "complete_tasks.result"), 5000, false, out);
      break;
    case v1::Action::kAddTag:
      CheckText(a.add_tag().tag(), Path(path, "add_tag.tag"), 64, true, out);
      break;
    case v1::Action::kAddComment:
      CheckText(a.add_comment().text(), Path(path, "add_comment.text"), 10000, true, out);
      break;
    case v1::Action::kSetField: {
      const auto& x = a.set_field();
      const std::string p = Path(path, "set_field");
      FieldKind fk = ClassifyField(x.field());
      const bool settable = x.field() == "amount" || fk == FieldKind::kText || fk == FieldKind::kId ||
                            fk == FieldKind::kPriority || fk == FieldKind::kCustom;
      if (x.field().empty()) {
        out.Add(Path(p, "field"), "required");
      } else if (!settable || x.field() == "pipeline_id" || x.field() == "stage_id") {
        out.Add(Path(p, "field"), absl::StrCat("not a field a robot can set: ", QuoteForError(x.field()),
                                               " (stages move with move_stage)"));
      } else if (x.field() == "amount" && !x.value().empty() && !IsDecimal(x.value())) {
        out.Add(Path(p, "value"), "not a number (minor units)");
      } else if (fk == FieldKind::kPriority && !x.value().empty() && !IsPriorityValue(x.value())) {
        out.Add(Path(p, "value"), "must be A, B, C or empty");
      } else if (fk == FieldKind::kId && !x.value().empty() && !IsUuid(x.value())) {
        out.Add(Path(p, "value"), "not a UUID");
      }
      CheckText(x.value(), Path(p, "value"), 10000, false, out);
      break;
    }
    case v1::Action::kMoveStage:
      CheckUuid(a.move_stage().stage_id(), Path(path, "move_stage.stage_id"), true, out);
      break;
    case v1::Action::kChangeResponsible:
      CheckUuid(a.change_responsible().user_id(), Path(path, "change_responsible.user_id"), true, out);
      break;
    case v1::Action::kCopyDeal: {
      const auto& x = a.copy_deal();
      const std::string p = Path(path, "copy_deal");
      CheckUuid(x.pipeline_id(), Path(p, "pipeline_id"), false, out);
      CheckUuid(x.stage_id(), Path(p, "stage_id"), false, out);
      CheckUuid(x.responsible_id(), Path(p, "responsible_id"), false, out);
      if (!x.options_json().empty()) {
        dv1::CopyOptions options;
        // Our words, not the JSON parser's (its messages name its internals).
        if (!google::protobuf::util::JsonStringToMessage(x.options_json(), &options).ok()) {
          out.Add(Path(p, "options_json"),
                  "not crm.deals.v1.CopyOptions JSON: an object of its flags, e.g. {\"name\": true, \"products\": true}");
        }
      }
      break;
    }
    case v1::Action::kNotify: {
      const auto& x = a.notify();
      const std::string p = Path(path, "notify");
      if (x.channels_size() == 0) out.Add(Path(p, "channels"), "at least one channel");
      for (int i = 0; i < x.channels_size(); ++i) {
        int c = x.channels(i);
        if (c == v1::Notify::CHANNEL_UNSPECIFIED || !v1::Notify::Channel_IsValid(c)) {
          out.Add(Index(Path(p, "channels"), i), "must be IN_APP, EMAIL or TELEGRAM");
        }
      }
      if (x.recipients_size() == 0) out.Add(Path(p, "recipients"), "at least one recipient");
      for (int i = 0; i < x.recipients_size(); ++i) {
        if (x.recipients(i) == "client") {  // the deal's client: only through the company's Telegram bot
          if (std::find(x.channels().begin(), x.channels().end(), v1::Notify::TELEGRAM) == x.channels().end()) {
            out.Add(Index(Path(p, "recipients"), i), "\"client\" is reached by TELEGRAM only");
          }
          continue;
        }
        CheckPerson(x.recipients(i), Index(Path(p, "recipients"), i), false, out);
      }
      CheckText(x.subject(), Path(p, "subject"), 500, false, out);
      CheckText(x.text(), Path(p, "text"), 10000, true, out);
      break;
    }
    case v1::Action::kStartReport: {
      const auto& x = a.start_report();
      const std::string p = Path(path, "start_report");
      if (x.report().empty()) {
        out.Add(Path(p, "report"), "required");
      } else if (!IsCode(x.report())) {
        out.Add(Path(p, "report"), absl::StrCat("not a report code: ", QuoteForError(x.report())));
      }
      for (int i = 0; i < x.recipients_size(); ++i) {
        CheckPerson(x.recipients(i), Index(Path(p, "recipients"), i), false, out);
      }
      break;
    }
    case v1::Action::kIncrementCounter: {
      const auto& x = a.increment_counter();
      const std::string p = Path(path, "increment_counter");
      if (!IsCode(x.name())) out.Add(Path(p, "name"), "required: [a-z][a-z0-9_]{0,63}");
      if (x.scope() != "responsible" && x.scope() != "deal") {
        out.Add(Path(p, "scope"), "\"responsible\" or \"deal\"");
      }
      break;
    }
    case v1::Action::ACTION_NOT_SET:
      out.Add(path,
              "no action set: one of create_task, add_tag, add_comment, set_field, move_stage, "
              "change_responsible, copy_deal, notify, start_report, increment_counter, complete_tasks");
      break;
  }
}

// ---------------------------------------------------------------------------------------------------
// Evaluation.

struct Value {
  enum class Kind { kEmpty, kNumber, kText, kList, kBool, kTime };
  Kind kind = Kind::kEmpty;
  std::string text;  // kNumber (decimal), kText, kBool ("true" / "false")
  std::vector<std::string> list;
  absl::Time time;
  bool unknown_field = false;

  static Value Number(int64_t n) { return {.kind = Kind::kNumber, .text = absl::StrCat(n)}; }
  static Value Text(std::string s) {
    if (s.empty()) return {};
    return {.kind = Kind::kText, .text = std::move(s)};
  }
  static Value Bool(bool b) { return {.kind = Kind::kBool, .text = b ? "true" : "false"}; }
};

std::string ValueText(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kEmpty:
      return v.unknown_field ? "(unknown field)" : "(empty)";
    case Value::Kind::kNumber:
    case Value::Kind::kBool:
      return v.text;
    case Value::Kind::kText:
      return Quote(v.text);
    case Value::Kind::kTime:
      return FormatRfc3339Utc(v.time);
    case Value::Kind::kList: {
      std::string out = "[";
      for (size_t i = 0; i < v.list.size(); ++i) absl::StrAppend(&out, i ? ", " : "", Quote(v.list[i]));
      return out + "]";
    }
  }
  return "";
}

Value Minutes(const google::protobuf::Timestamp& since, bool has, absl::Time now) {
  if (!has) return {};
  absl::Duration d = now - FromProtoTimestamp(since);
  int64_t m = absl::ToInt64Minutes(d);
  if (d < absl::Minutes(m)) --m;  // floor for negative durations
  return Value::Number(m);
}

Value CustomValue(const dv1::Deal& deal, std::string_view code) {
  for (const dv1::FieldValue& f : deal.fields()) {
    if (f.code() != code) continue;
    switch (f.value_case()) {
      case dv1::FieldValue::kText:
        return Value::Text(f.text());
      case dv1::FieldValue::kNumber:
        if (f.number().empty()) return {};
        return {.kind = Value::Kind::kNumber, .text = f.number()};
      case dv1::FieldValue::kMoney:
        return Value::Number(f.money().amount_minor());
      case dv1::FieldValue::kTime:
        return {.kind = Value::Kind::kTime, .time = FromProtoTimestamp(f.time())};
      case dv1::FieldValue::kFlag:
        return Value::Bool(f.flag());
      case dv1::FieldValue::kOptions:
        if (f.options().values_size() == 0) return {};
        return {.kind = Value::Kind::kList,
                .list = {f.options().values().begin(), f.options().values().end()}};
      case dv1::FieldValue::VALUE_NOT_SET:
        return {};
    }
  }
  return {};
}

Value Lookup(std::string_view field, const Facts& facts) {
  if (field == "has_open_task") return Value::Bool(facts.has_open_task);
  if (field == "has_comment_since_stage") return Value::Bool(facts.has_comment_since_stage);
  FieldKind kind = ClassifyField(field);
  if (kind == FieldKind::kUnknown) return {.unknown_field = true};
  if (field.substr(0, kCounterPrefix.size()) == kCounterPrefix) {
    auto it = facts.counters.find(field.substr(kCounterPrefix.size()));
    return Value::Number(it == facts.counters.end() ? 0 : it->second);
  }
  if (facts.deal == nullptr) return {};
  const dv1::Deal& d = *facts.deal;
  if (field == "amount") return d.has_amount() ? Value::Number(d.amount().amount_minor()) : Value{};
  if (field == "minutes_in_stage") return Minutes(d.stage_enter_time(), d.has_stage_enter_time(), facts.now);
  if (field == "minutes_since_created") return Minutes(d.create_time(), d.has_create_time(), facts.now);
  if (field == "pipeline_id") return Value::Text(d.pipeline_id());
  if (field == "stage_id") return Value::Text(d.stage_id());
  if (field == "source") return Value::Text(d.source());
  if (field == "responsible_id") return Value::Text(d.responsible_id());
  if (field == "client_id") return Value::Text(d.client_id());
  if (field == "priority") {
    switch (d.priority()) {
      case dv1::Deal::PRIORITY_A:
        return Value::Text("A");
      case dv1::Deal::PRIORITY_B:
        return Value::Text("B");
      case dv1::Deal::PRIORITY_C:
        return Value::Text("C");
      default:
        return {};
    }
  }
  if (field == "tags") {
    if (d.tags_size() == 0) return {};
    return {.kind = Value::Kind::kList, .list = {d.tags().begin(), d.tags().end()}};
  }
  return CustomValue(d, field.substr(kCustomPrefix.size()));
}

// Equality of a (non-empty, non-list) value with one predicate value; nullopt = not comparable.
std::optional<bool> Equals(const Value& a, std::string_view v, std::string_view field, const Facts& facts) {
  switch (a.kind) {
    case Value::Kind::kNumber: {
      auto c = CompareDecimal(a.text, v);
      if (!c) return std::nullopt;
      return *c == 0;
    }
    case Value::Kind::kText:
      if (field == "priority" && v.substr(0, 9) == "PRIORITY_") v.remove_prefix(9);
      return a.text == v;
    case Value::Kind::kBool:
      if (v != "true" && v != "false") return std::nullopt;
      return a.text == v;
    case Value::Kind::kTime:
      if (auto t = ParseTime(v)) return a.time == *t;
      if (auto day = ParseDate(v)) return absl::ToCivilDay(a.time, facts.zone) == *day;
      return std::nullopt;
    case Value::Kind::kList:
    case Value::Kind::kEmpty:
      break;
  }
  return std::nullopt;
}

// Order of a (non-empty) value against one predicate value; nullopt = not ordered.
std::optional<int> Compare(const Value& a, std::string_view v, const Facts& facts) {
  auto sign = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  switch (a.kind) {
    case Value::Kind::kNumber:
      return CompareDecimal(a.text, v);
    case Value::Kind::kText: {
      auto x = ParseDate(a.text), y = ParseDate(v);
      if (!x || !y) return std::nullopt;
      return sign(*x, *y);
    }
    case Value::Kind::kTime:
      if (auto t = ParseTime(v)) return sign(a.time, *t);
      if (auto day = ParseDate(v)) return sign(absl::ToCivilDay(a.time, facts.zone), *day);
      return std::nullopt;
    case Value::Kind::kBool:
    case Value::Kind::kList:
    case Value::Kind::kEmpty:
      break;
  }
  return std::nullopt;
}

bool Apply(const v1::Predicate& p, const Value& a, const Facts& facts) {
  using P = v1::Predicate;
  const bool empty = a.kind == Value::Kind::kEmpty;
  if (p.op() == P::IS_SET) return !empty;
  if (p.op() == P::IS_EMPTY) return empty;
  if (empty) return false;
  const auto& values = p.values();
  auto in_list = [&](const std::string& v) {
    return std::find(a.list.begin(), a.list.end(), v) != a.list.end();
  };
  switch (p.op()) {
    case P::EQ:
    case P::NE: {
      if (values.size() != 1) return false;
      auto eq = Equals(a, values[0], p.field(), facts);
      return eq.has_value() && *eq == (p.op() == P::EQ);
    }
    case P::IN:
      if (a.kind == Value::Kind::kList) return std::any_of(values.begin(), values.end(), in_list);
      return std::any_of(values.begin(), values.end(), [&](const std::string& v) {
        return Equals(a, v, p.field(), facts).value_or(false);
      });
    case P::CONTAINS:
      if (a.kind != Value::Kind::kList || values.empty()) return false;
      return std::all_of(values.begin(), values.end(), in_list);
    case P::LT:
    case P::LE:
    case P::GT:
    case P::GE: {
      if (values.size() != 1) return false;
      auto c = Compare(a, values[0], facts);
      if (!c) return false;
      switch (p.op()) {
        case P::LT:
          return *c < 0;
        case P::LE:
          return *c <= 0;
        case P::GT:
          return *c > 0;
        default:
          return *c >= 0;
      }
    }
    default:
      return false;
  }
}

bool Eval(const v1::Condition& c, const Facts& facts, std::vector<PredicateResult>& out) {
  switch (c.node_case()) {
    case v1::Condition::kAll:
      for (const v1::Condition& item : c.all().items()) {
        if (!Eval(item, facts, out)) return false;
      }
      return true;
    case v1::Condition::kAny:
      for (const v1::Condition& item : c.any().items()) {
        if (Eval(item, facts, out)) return true;
      }
      return false;
    case v1::Condition::kNot:
      return !Eval(c.not_(), facts, out);
    case v1::Condition::kPredicate: {
      const v1::Predicate& p = c.predicate();
      Value actual = Lookup(p.field(), facts);
      PredicateResult& r = out.emplace_back();
      r.set_predicate(PredicateText(p));
      r.set_result(Apply(p, actual, facts));
      r.set_actual(ValueText(actual));
      return r.result();
    }
    case v1::Condition::NODE_NOT_SET:
      break;
  }
  return true;
}

}  // namespace

absl::Status ValidateRule(const v1::Rule& rule) {
  Violations out;
  if (rule.name().empty()) {
    out.Add("rule.name", "required");
  } else if (CodePoints(rule.name()) > static_cast<size_t>(kMaxRuleNameChars)) {
    out.Add("rule.name", absl::StrCat("at most ", kMaxRuleNameChars, " characters"));
  }
  CheckText(rule.description(), "rule.description", 4000, false, out);
  CheckTrigger(rule.trigger(), out);
  CheckTree(rule.condition(), "rule.condition", out);
  if (rule.has_delay()) {
    CheckDuration(rule.delay().duration(), "rule.delay.duration", absl::ZeroDuration(), kMaxDelay, out);
    CheckTree(rule.delay().cancel_when(), "rule.delay.cancel_when", out);
  }
  if (rule.actions_size() == 0) out.Add("rule.actions", "at least one action");
  if (rule.actions_size() > kMaxActions) {
    out.Add("rule.actions", absl::StrCat("at most ", kMaxActions, " actions"));
  }
  for (int i = 0; i < rule.actions_size(); ++i) CheckAction(rule.actions(i), Index("rule.actions", i), out);
  CheckDuration(rule.coalesce_window(), "rule.coalesce_window", absl::ZeroDuration(), absl::Hours(24), out);
  if (rule.max_depth() < 0 || rule.max_depth() > kMaxRuleDepth) {
    out.Add("rule.max_depth", absl::StrCat("must be 0 to ", kMaxRuleDepth));
  }
  return out.ToStatus();
}

std::string PredicateText(const v1::Predicate& p) {
  std::string out = absl::StrCat(p.field(), " ", OpName(p.op()));
  const auto& values = p.values();
  if (values.empty()) return out;
  if (values.size() == 1 && p.op() != v1::Predicate::IN) {
    return absl::StrCat(out, " ", ValueLiteral(values[0]));
  }
  absl::StrAppend(&out, " [");
  for (int i = 0; i < values.size(); ++i) absl::StrAppend(&out, i ? ", " : "", ValueLiteral(values[i]));
  return out + "]";
}

Evaluation Evaluate(const v1::Condition& condition, const Facts& facts) {
  Evaluation ev;
  ev.result = Eval(condition, facts, ev.predicates);
  return ev;
}

}  // namespace crm::robots
