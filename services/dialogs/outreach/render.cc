// File: services/dialogs/outreach/render.cc
#include "services/dialogs/outreach/render.h"

#include <cctype>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "libs/base/strings.h"

namespace crm::dialogs::outreach {
namespace {

// Calls `f(n, begin, end)` for each {{n}} in `text` (begin/end: the placeholder's byte range).
template <typename F>
void ForEachPlaceholder(std::string_view text, F f) {
  size_t i = 0;
  while ((i = text.find("{{", i)) != std::string_view::npos) {
    size_t j = i + 2;
    int n = 0;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) && n < 100000) {
      n = n * 10 + (text[j] - '0');
      ++j;
    }
    if (j > i + 2 && n > 0 && text.substr(j, 2) == "}}") {
      f(n, i, j + 2);
      i = j + 2;
    } else {
      i += 2;
    }
  }
}

std::string Substitute(std::string_view text, const std::map<int, std::string>& values) {
  std::string out;
  size_t at = 0;
  ForEachPlaceholder(text, [&](int n, size_t b, size_t e) {
    out.append(text.substr(at, b - at));
    auto it = values.find(n);
    if (it != values.end()) out.append(it->second);
    at = e;
  });
  out.append(text.substr(at));
  return out;
}

void ValidateRows(const google::protobuf::RepeatedPtrField<v1::TemplateButtonRow>& rows, bool inline_kb,
                  const std::string& path, std::vector<FieldViolation>& bad) {
  for (int r = 0; r < rows.size(); ++r) {
    if (rows[r].buttons().empty()) bad.push_back({absl::StrCat(path, "[", r, "].buttons"), "a row needs a button"});
    for (int b = 0; b < rows[r].buttons_size(); ++b) {
      const v1::TemplateButton& btn = rows[r].buttons(b);
      const std::string at = absl::StrCat(path, "[", r, "].buttons[", b, "]");
      if (btn.text().empty()) bad.push_back({at + ".text", "required"});
      if (inline_kb) {
        if (btn.callback_data().empty() == btn.url().empty()) {
          bad.push_back({at + ".callback_data", "an inline button has callback_data or a url (one of them)"});
        } else if (btn.callback_data().size() > kMaxCallbackBytes) {
          bad.push_back({at + ".callback_data", "at most 64 bytes"});
        }
        if (btn.request_contact()) bad.push_back({at + ".request_contact", "only on a reply keyboard"});
      } else if (!btn.callback_data().empty() || !btn.url().empty()) {
        bad.push_back({at + ".callback_data", "a reply keyboard's button sends its text: no callback_data or url"});
      }
    }
  }
}

}  // namespace

std::vector<int> Placeholders(std::string_view text) {
  std::vector<int> out;
  ForEachPlaceholder(text, [&](int n, size_t, size_t) { out.push_back(n); });
  return out;
}

std::vector<FieldViolation> ValidateTemplate(const v1::Template& t, std::string_view prefix) {
  const std::string p(prefix);
  std::vector<FieldViolation> bad;
  if (t.name().empty()) bad.push_back({p + "name", "required"});
  if (CodePoints(t.name()) > 200) bad.push_back({p + "name", "at most 200 characters"});
  if (t.text().empty()) bad.push_back({p + "text", "required"});
  if (CodePoints(t.text()) > kMaxMessageChars) bad.push_back({p + "text", "at most 4096 characters"});
  std::set<int> seen;
  for (int i = 0; i < t.parameters_size(); ++i) {
    const int index = t.parameters(i).index();
    if (index < 1) {
      bad.push_back({absl::StrCat(p, "parameters[", i, "].index"), "1 for {{1}}, 2 for {{2}}…"});
    } else if (!seen.insert(index).second) {
      bad.push_back({absl::StrCat(p, "parameters[", i, "].index"), absl::StrCat("{{", index, "}} is described twice")});
    }
  }
  if (!t.inline_keyboard().empty() && !t.reply_keyboard().empty()) {
    bad.push_back({p + "reply_keyboard", "a message has an inline or a reply keyboard, not both"});
  }
  ValidateRows(t.inline_keyboard(), true, p + "inline_keyboard", bad);
  ValidateRows(t.reply_keyboard(), false, p + "reply_keyboard", bad);
  return bad;
}

absl::StatusOr<v1::RenderedTemplate> Render(const v1::Template& t, std::string_view project,
                                            const std::vector<std::string>& parameters) {
  std::set<int> used;
  for (int n : Placeholders(t.text())) used.insert(n);
  for (const auto* rows : {&t.inline_keyboard(), &t.reply_keyboard()}) {
    for (const v1::TemplateButtonRow& row : *rows) {
      for (const v1::TemplateButton& b : row.buttons()) {
        for (int n : Placeholders(b.text())) used.insert(n);
      }
    }
  }
  std::map<int, const v1::TemplateParameter*> described;
  for (const v1::TemplateParameter& p : t.parameters()) described[p.index()] = &p;
  std::map<int, std::string> values;
  std::vector<FieldViolation> bad;
  for (int n : used) {
    const size_t i = static_cast<size_t>(n - 1);
    if (i < parameters.size() && !parameters[i].empty()) {
      values[n] = parameters[i];
      continue;
    }
    auto d = described.find(n);
    if (d != described.end()) {
      auto by_project = d->second->project_values().find(std::string(project));
      if (by_project != d->second->project_values().end() && !by_project->second.empty()) {
        values[n] = by_project->second;
        continue;
      }
      if (!d->second->default_value().empty()) {
        values[n] = d->second->default_value();
        continue;
      }
    }
    bad.push_back({absl::StrCat("parameters[", n - 1, "]"),
                   absl::StrCat("{{", n, "}} has no value",
                                project.empty() ? std::string() : absl::StrCat(" for project ", AsAbsl(project)))});
  }
  if (!bad.empty()) return InvalidFieldsError(bad);
  v1::RenderedTemplate out;
  out.set_text(Substitute(t.text(), values));
  if (out.text().empty()) return InvalidFieldError("text", "the rendered message is empty");
  if (CodePoints(out.text()) > kMaxMessageChars) {
    return InvalidFieldError("text", absl::StrCat("the rendered message has ", CodePoints(out.text()),
                                                  " characters; Telegram takes at most 4096"));
  }
  *out.mutable_inline_keyboard() = t.inline_keyboard();
  *out.mutable_reply_keyboard() = t.reply_keyboard();
  for (auto* rows : {out.mutable_inline_keyboard(), out.mutable_reply_keyboard()}) {
    for (v1::TemplateButtonRow& row : *rows) {
      for (v1::TemplateButton& b : *row.mutable_buttons()) b.set_text(Substitute(b.text(), values));
    }
  }
  return out;
}

}  // namespace crm::dialogs::outreach
