// File: services/dialogs/scenarios/validate.cc
#include "services/dialogs/scenarios/validate.h"

#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "services/dialogs/scenarios/engine.h"

namespace crm::dialogs::scenarios {
namespace {

using v1::Problem;

class Checker {
 public:
  Checker(const v1::Scenario& s, std::string_view prefix) : s_(s), prefix_(prefix) {}

  std::vector<Problem> Run() {
    if (s_.bot_id().empty()) Error(P("bot_id"), "is required");
    if (s_.bot_id().size() > 100) Error(P("bot_id"), "longer than 100 bytes");
    if (s_.name().empty()) Error(P("name"), "is required");
    if (s_.name().size() > 200) Error(P("name"), "longer than 200 bytes");
    if (s_.stages_size() > kMaxStages) Error(P("stages"), absl::StrCat("more than ", kMaxStages, " stages"));
    std::map<std::string, int> codes;
    int first = -1;
    for (int i = 0; i < s_.stages_size(); ++i) {
      const v1::Stage& st = s_.stages(i);
      const std::string at = P(absl::StrCat("stages[", i, "]"));
      if (st.code().empty()) {
        Error(at + ".code", "is required");
      } else if (st.code().size() > 64) {
        Error(at + ".code", "longer than 64 bytes");
      } else if (!codes.emplace(st.code(), i).second) {
        Error(at + ".code", absl::StrCat("repeats stages[", codes[st.code()], "].code \"", st.code(), "\""));
      }
      if (st.name().empty()) Error(at + ".name", "is required");
      if (st.first()) {
        if (first >= 0) Error(at + ".first", absl::StrCat("stages[", first, "] is already the first stage"));
        else first = i;
      }
    }
    if (first < 0) Error(P("stages"), "no stage is the first (\"first\": true)");
    for (int i = 0; i < s_.stages_size(); ++i) CheckStage(s_.stages(i), P(absl::StrCat("stages[", i, "]")), codes);
    if (first >= 0) CheckReachable(first, codes);
    CheckCycles(codes);
    return std::move(problems_);
  }

 private:
  std::string P(std::string_view rest) const { return absl::StrCat(prefix_, ".", AsAbsl(rest)); }

  void Error(std::string field, std::string_view description) {
    Problem& p = problems_.emplace_back();
    p.set_field(std::move(field));
    p.set_description(std::string(description));
    p.set_severity(v1::SEVERITY_ERROR);
  }
  void Warning(std::string field, std::string_view description) {
    Problem& p = problems_.emplace_back();
    p.set_field(std::move(field));
    p.set_description(std::string(description));
    p.set_severity(v1::SEVERITY_WARNING);
  }

  void CheckStage(const v1::Stage& st, const std::string& at, const std::map<std::string, int>& codes) {
    CheckActions(st.entry_actions(), at + ".entry_actions", codes);
    std::map<std::string, int> values;  // normalized text → key index
    bool contact = false;
    bool start = false;
    for (int k = 0; k < st.keys_size(); ++k) {
      const v1::KeyHandler& key = st.keys(k);
      const std::string kat = absl::StrCat(at, ".keys[", k, "]");
      switch (key.kind()) {
        case v1::KEY_KIND_TEXT:
          if (key.values().empty()) Error(kat + ".values", "a text key needs at least one value");
          for (int j = 0; j < key.values_size(); ++j) {
            const std::string n = NormalizeKey(key.values(j));
            const std::string vat = absl::StrCat(kat, ".values[", j, "]");
            if (n.empty()) {
              Error(vat, "is empty");
            } else if (auto [it, fresh] = values.emplace(n, k); !fresh && it->second != k) {
              Error(vat, absl::StrCat("\"", key.values(j), "\" is also a value of keys[", it->second, "]"));
            }
          }
          break;
        case v1::KEY_KIND_CONTACT:
        case v1::KEY_KIND_START: {
          bool& seen = key.kind() == v1::KEY_KIND_CONTACT ? contact : start;
          if (seen) Error(kat + ".kind", "a stage has one key of this kind");
          seen = true;
          if (!key.values().empty()) Error(kat + ".values", "only text keys have values");
          break;
        }
        default:
          Error(kat + ".kind", "must be TEXT, CONTACT or START");
      }
      CheckActions(key.actions(), kat + ".actions", codes);
    }
    const v1::Unrecognized& u = st.unrecognized();
    if (u.attempts() < 0 || u.attempts() > 100) Error(at + ".unrecognized.attempts", "must be 0..100");
    CheckActions(u.actions(), at + ".unrecognized.actions", codes);
    CheckActions(u.exhausted_actions(), at + ".unrecognized.exhausted_actions", codes);
    if (u.attempts() == 0 && (!u.exhausted_actions().empty() || u.close())) {
      Error(at + ".unrecognized.attempts", "exhausted_actions and close need a number of attempts");
    }
    const v1::ReplyTimeout& t = st.reply_timeout();
    if (t.period_seconds() < 0 || t.period_seconds() > kMaxPeriodSeconds) {
      Error(at + ".reply_timeout.period_seconds", absl::StrCat("must be 0..", kMaxPeriodSeconds));
    }
    if (t.period_seconds() > 0 && !st.wait_for_reply()) {
      Error(at + ".reply_timeout.period_seconds", "a stage that does not wait for a reply has no waiting period");
    }
    if (t.period_seconds() == 0 && !t.actions().empty()) {
      Warning(at + ".reply_timeout.actions", "never run: period_seconds is 0");
    }
    CheckActions(t.actions(), at + ".reply_timeout.actions", codes);
  }

  void CheckActions(const google::protobuf::RepeatedPtrField<v1::Action>& list, const std::string& at,
                    const std::map<std::string, int>& codes) {
    int ended = -1;
    for (int i = 0; i < list.size(); ++i) {
      const v1::Action& a = list[i];
      const std::string aat = absl::StrCat(at, "[", i, "]");
      if (ended >= 0) Error(aat, absl::StrCat("never runs: ", at, "[", ended, "] ends the list"));
      if (a.pause_seconds() < 0 || a.pause_seconds() > kMaxPauseSeconds) {
        Error(aat + ".pause_seconds", absl::StrCat("must be 0..", kMaxPauseSeconds));
      }
      if (a.has_not_before()) Error(aat + ".not_before", "is output only");
      if (a.keep_status() && !a.finish() && a.kind() != v1::ACTION_KIND_FINISH) {
        Error(aat + ".keep_status", "only an action that finishes the bot's part keeps the status");
      }
      switch (a.kind()) {
        case v1::ACTION_KIND_SEND_TEXT:
          Text(aat + ".text", a.text());
          break;
        case v1::ACTION_KIND_REQUEST_PHONE:
          Text(aat + ".text", a.text());
          if (a.button_text().size() > 256) Error(aat + ".button_text", "longer than 256 bytes");
          break;
        case v1::ACTION_KIND_SEND_MENU:
          CheckMenu(a.menu(), aat + ".menu");
          break;
        case v1::ACTION_KIND_SET_TOPIC:
          if (a.topic().empty()) Error(aat + ".topic", "is required");
          break;
        case v1::ACTION_KIND_SET_PROJECT:
          if (a.project().empty()) Error(aat + ".project", "is required");
          break;
        case v1::ACTION_KIND_GO_TO_STAGE:
          if (a.stage().empty()) Error(aat + ".stage", "is required");
          else if (!codes.count(a.stage())) Error(aat + ".stage", absl::StrCat("unknown stage \"", a.stage(), "\""));
          break;
        case v1::ACTION_KIND_DISTRIBUTE:
        case v1::ACTION_KIND_CLOSE:
        case v1::ACTION_KIND_MARK_SPAM:
        case v1::ACTION_KIND_FINISH:
          break;
        default:
          Error(aat + ".kind", "must be a known action kind");
      }
      const bool ends = a.finish() || a.kind() == v1::ACTION_KIND_GO_TO_STAGE ||
                        a.kind() == v1::ACTION_KIND_CLOSE || a.kind() == v1::ACTION_KIND_MARK_SPAM ||
                        a.kind() == v1::ACTION_KIND_FINISH;
      if (ends && ended < 0) ended = i;
    }
  }

  void Text(const std::string& field, const std::string& text) {
    if (text.empty()) Error(field, "is required");
    else if (text.size() > kMaxTextBytes) Error(field, absl::StrCat("longer than ", kMaxTextBytes, " bytes"));
  }

  void CheckMenu(const v1::Menu& m, const std::string& at) {
    Text(at + ".text", m.text());
    const bool inline_kb = m.keyboard() == v1::KEYBOARD_KIND_INLINE;
    if (m.keyboard() != v1::KEYBOARD_KIND_INLINE && m.keyboard() != v1::KEYBOARD_KIND_REPLY) {
      Error(at + ".keyboard", "must be REPLY or INLINE");
    }
    if (m.rows().empty()) Error(at + ".rows", "a menu needs at least one row of buttons");
    for (int r = 0; r < m.rows_size(); ++r) {
      const std::string rat = absl::StrCat(at, ".rows[", r, "]");
      if (m.rows(r).buttons().empty()) Error(rat + ".buttons", "a row needs at least one button");
      for (int b = 0; b < m.rows(r).buttons_size(); ++b) {
        const v1::Button& btn = m.rows(r).buttons(b);
        const std::string bat = absl::StrCat(rat, ".buttons[", b, "]");
        if (btn.text().empty()) Error(bat + ".text", "is required");
        else if (btn.text().size() > 256) Error(bat + ".text", "longer than 256 bytes");
        if (inline_kb) {
          if (btn.callback_data().empty()) {
            Error(bat + ".callback_data", "an inline button needs callback data (1..64 bytes)");
          } else if (btn.callback_data().size() > kMaxCallbackDataBytes) {
            Error(bat + ".callback_data", absl::StrCat("longer than ", kMaxCallbackDataBytes, " bytes (",
                                                       btn.callback_data().size(), ")"));
          }
          if (btn.request_contact()) {
            Error(bat + ".request_contact", "only reply keyboards can request the contact");
          }
        } else if (!btn.callback_data().empty()) {
          Error(bat + ".callback_data", "only inline keyboards carry callback data");
        }
      }
    }
  }

  // GO_TO_STAGE targets of every list of stage i; `entry_only`: those of its entry actions.
  std::vector<int> Targets(int i, bool entry_only, const std::map<std::string, int>& codes) const {
    std::vector<int> out;
    auto add = [&](const google::protobuf::RepeatedPtrField<v1::Action>& list) {
      for (const v1::Action& a : list) {
        if (a.kind() != v1::ACTION_KIND_GO_TO_STAGE) continue;
        auto it = codes.find(a.stage());
        if (it != codes.end()) out.push_back(it->second);
      }
    };
    const v1::Stage& st = s_.stages(i);
    add(st.entry_actions());
    if (entry_only) return out;
    for (const v1::KeyHandler& k : st.keys()) add(k.actions());
    add(st.unrecognized().actions());
    add(st.unrecognized().exhausted_actions());
    add(st.reply_timeout().actions());
    return out;
  }

  void CheckReachable(int first, const std::map<std::string, int>& codes) {
    std::vector<bool> seen(s_.stages_size(), false);
    std::vector<int> todo = {first};
    seen[first] = true;
    while (!todo.empty()) {
      const int i = todo.back();
      todo.pop_back();
      for (int t : Targets(i, false, codes)) {
        if (!seen[t]) {
          seen[t] = true;
          todo.push_back(t);
        }
      }
    }
    for (int i = 0; i < s_.stages_size(); ++i) {
      if (!seen[i] && !s_.stages(i).code().empty()) {
        Warning(P(absl::StrCat("stages[", i, "]")), "unreachable: no go-to leads here from the first stage");
      }
    }
  }

  // A cycle of go-to edges through entry actions: stages entered one after another with no input.
  void CheckCycles(const std::map<std::string, int>& codes) {
    const int n = s_.stages_size();
    std::vector<int> color(n, 0);  // 0 new, 1 on the path, 2 done
    std::vector<int> path;
    std::set<int> reported;
    std::function<void(int)> dfs = [&](int i) {
      color[i] = 1;
      path.push_back(i);
      const auto& entry = s_.stages(i).entry_actions();
      for (int k = 0; k < entry.size(); ++k) {
        if (entry[k].kind() != v1::ACTION_KIND_GO_TO_STAGE) continue;
        auto it = codes.find(entry[k].stage());
        if (it == codes.end()) continue;
        const int t = it->second;
        if (color[t] == 1) {
          if (reported.insert(i).second) {
            std::vector<std::string> names;
            bool on = false;
            for (int p : path) {
              if (p == t) on = true;
              if (on) names.push_back(s_.stages(p).code());
            }
            names.push_back(s_.stages(t).code());
            Error(P(absl::StrCat("stages[", i, "].entry_actions[", k, "].stage")),
                  absl::StrCat("a cycle without input: ", absl::StrJoin(names, " → ")));
          }
        } else if (color[t] == 0) {
          dfs(t);
        }
      }
      path.pop_back();
      color[i] = 2;
    };
    for (int i = 0; i < n; ++i) {
      if (color[i] == 0) dfs(i);
    }
  }

  const v1::Scenario& s_;
  const std::string prefix_;
  std::vector<Problem> problems_;
};

}  // namespace

std::vector<v1::Problem> Validate(const v1::Scenario& scenario, std::string_view prefix) {
  return Checker(scenario, prefix).Run();
}

absl::Status ErrorsAsStatus(const std::vector<v1::Problem>& problems) {
  std::vector<FieldViolation> v;
  for (const v1::Problem& p : problems) {
    if (p.severity() == v1::SEVERITY_ERROR) v.push_back({p.field(), p.description()});
  }
  if (v.empty()) return absl::OkStatus();
  return InvalidFieldsError(v);
}

}  // namespace crm::dialogs::scenarios
