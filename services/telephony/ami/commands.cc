// File: services/telephony/ami/commands.cc
#include "services/telephony/ami/commands.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "libs/base/status.h"
#include "services/telephony/ami/client.h"
#include "services/telephony/ami/mapping.h"

namespace crm::telephony::ami {
namespace {

bool Bad(absl::string_view v) { return v.empty() || v.find_first_of("\r\n") != absl::string_view::npos; }

absl::Status CheckLeg(const calls::LegRef& leg, absl::string_view field) {
  if (Bad(leg.channel)) {
    return crm::InvalidFieldError(absl::StrCat(field, ".channel"),
                                  "Asterisk addresses a leg by its channel; this leg has none");
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view Commands::provider() const { return kProvider; }

absl::Status Commands::Send(absl::string_view action, const std::vector<std::pair<std::string, std::string>>& fields,
                            std::string action_id) {
  absl::StatusOr<Reply> reply = client_.Call(action, fields, options_.timeout, std::move(action_id));
  if (!reply.ok()) return reply.status();
  if (absl::EqualsIgnoreCase(reply->response.response(), "Success")) return absl::OkStatus();
  absl::string_view message = reply->response.Get("Message");
  return absl::FailedPreconditionError(
      absl::StrCat("Asterisk refused ", action, message.empty() ? "" : ": ", message));
}

absl::StatusOr<std::string> Commands::Originate(const calls::OriginateRequest& request) {
  std::vector<crm::FieldViolation> bad;
  if (Bad(request.extension)) bad.push_back({"extension", "the employee's extension is required"});
  if (Bad(request.number)) bad.push_back({"number", "the number to dial is required"});
  if (request.line.find_first_of("\r\n") != std::string::npos) bad.push_back({"line", "holds a line break"});
  if (request.reference.find_first_of("\r\n") != std::string::npos) {
    bad.push_back({"reference", "holds a line break"});
  }
  if (!bad.empty()) return crm::InvalidFieldsError(bad);
  std::vector<std::pair<std::string, std::string>> fields = {
      {"Channel", absl::StrReplaceAll(options_.originate_channel, {{"{extension}", request.extension}})},
      {"Context", options_.context},
      {"Exten", request.number},
      {"Priority", "1"},
      {"Async", "true"},
  };
  if (!request.line.empty()) fields.emplace_back("CallerID", request.line);
  CRM_RETURN_IF_ERROR(Send("Originate", fields, request.reference));
  return std::string();  // the call's Uniqueid comes with its events (and OriginateResponse)
}

absl::Status Commands::Transfer(const calls::LegRef& leg, const std::string& target) {
  CRM_RETURN_IF_ERROR(CheckLeg(leg, "leg"));
  if (Bad(target)) return crm::InvalidFieldError("target", "an extension or a number is required");
  return Send("Redirect", {{"Channel", leg.channel}, {"Context", options_.context}, {"Exten", target},
                           {"Priority", "1"}});
}

absl::Status Commands::Hold(const calls::LegRef& leg, bool on) {
  (void)leg;
  (void)on;
  return absl::UnimplementedError(
      "Asterisk's AMI has no hold action: hold from the phone (Park or MuteAudio would change the call)");
}

absl::Status Commands::Merge(const calls::LegRef& a, const calls::LegRef& b) {
  CRM_RETURN_IF_ERROR(CheckLeg(a, "a"));
  CRM_RETURN_IF_ERROR(CheckLeg(b, "b"));
  return Send("Bridge", {{"Channel1", a.channel}, {"Channel2", b.channel}, {"Tone", "no"}});
}

absl::Status Commands::Hangup(const calls::LegRef& leg) {
  CRM_RETURN_IF_ERROR(CheckLeg(leg, "leg"));
  return Send("Hangup", {{"Channel", leg.channel}});
}

}  // namespace crm::telephony::ami
