// File: services/telephony/ami/codec.cc
#include "services/telephony/ami/codec.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace crm::telephony::ami {
namespace {

constexpr absl::string_view kGreetingPrefix = "Asterisk Call Manager/";

}  // namespace

absl::string_view Message::Get(absl::string_view key) const {
  for (const auto& [k, v] : fields) {
    if (absl::EqualsIgnoreCase(k, key)) return v;
  }
  return {};
}

bool Message::Has(absl::string_view key) const {
  for (const auto& [k, v] : fields) {
    if (absl::EqualsIgnoreCase(k, key)) return true;
  }
  return false;
}

std::vector<absl::string_view> Message::GetAll(absl::string_view key) const {
  std::vector<absl::string_view> out;
  for (const auto& [k, v] : fields) {
    if (absl::EqualsIgnoreCase(k, key)) out.push_back(v);
  }
  return out;
}

absl::Status Decoder::Feed(absl::string_view bytes) {
  if (!failed_.ok()) return failed_;
  while (!bytes.empty()) {
    const std::size_t nl = bytes.find('\n');
    if (nl == absl::string_view::npos) {
      if (partial_.size() + bytes.size() > limits_.max_line) {
        failed_ = absl::ResourceExhaustedError(
            absl::StrCat("an AMI line longer than ", limits_.max_line, " bytes"));
        return failed_;
      }
      partial_.append(bytes.data(), bytes.size());
      break;
    }
    absl::string_view piece = bytes.substr(0, nl);
    bytes.remove_prefix(nl + 1);
    if (partial_.size() + piece.size() > limits_.max_line + 1) {  // +1: the CR
      failed_ = absl::ResourceExhaustedError(absl::StrCat("an AMI line longer than ", limits_.max_line, " bytes"));
      return failed_;
    }
    std::string line;
    if (!partial_.empty()) {
      line = std::move(partial_);
      partial_.clear();
      line.append(piece.data(), piece.size());
      piece = line;
    }
    if (!piece.empty() && piece.back() == '\r') piece.remove_suffix(1);
    if (absl::Status s = Line(piece); !s.ok()) {
      failed_ = s;
      return failed_;
    }
  }
  return absl::OkStatus();
}

absl::Status Decoder::Line(absl::string_view line) {
  if (!greeted_) {
    if (!absl::StartsWith(line, kGreetingPrefix)) {
      return absl::InvalidArgumentError("the server's first line is not an AMI greeting");
    }
    greeting_ = std::string(line);
    greeted_ = true;
    return absl::OkStatus();
  }
  if (line.empty()) {
    if (!current_.fields.empty()) {
      ready_.push_back(std::move(current_));
      current_ = Message();
      current_bytes_ = 0;
    }
    return absl::OkStatus();
  }
  if (current_.fields.size() >= limits_.max_fields) {
    return absl::ResourceExhaustedError(absl::StrCat("an AMI message of more than ", limits_.max_fields, " lines"));
  }
  current_bytes_ += line.size() + 2;
  if (current_bytes_ > limits_.max_message) {
    return absl::ResourceExhaustedError(absl::StrCat("an AMI message larger than ", limits_.max_message, " bytes"));
  }
  const std::size_t colon = line.find(':');
  if (colon == absl::string_view::npos) {
    // Not a Key: Value line (a command's raw output): kept whole under an empty key.
    current_.fields.emplace_back(std::string(), std::string(line));
    return absl::OkStatus();
  }
  absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, colon));
  absl::string_view value = absl::StripLeadingAsciiWhitespace(line.substr(colon + 1));
  current_.fields.emplace_back(std::string(key), std::string(value));
  return absl::OkStatus();
}

std::optional<Message> Decoder::Next() {
  if (ready_.empty()) return std::nullopt;
  Message m = std::move(ready_.front());
  ready_.pop_front();
  return m;
}

absl::StatusOr<std::string> EncodeAction(absl::string_view action, absl::string_view action_id,
                                         const std::vector<std::pair<std::string, std::string>>& fields) {
  auto bad = [](absl::string_view s) { return s.find_first_of("\r\n") != absl::string_view::npos; };
  if (action.empty() || bad(action)) return absl::InvalidArgumentError("Action: empty or holds a line break");
  if (bad(action_id)) return absl::InvalidArgumentError("ActionID: holds a line break");
  std::string out = absl::StrCat("Action: ", action, "\r\n");
  if (!action_id.empty()) absl::StrAppend(&out, "ActionID: ", action_id, "\r\n");
  for (const auto& [k, v] : fields) {
    if (k.empty() || bad(k) || k.find(':') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("an AMI key is empty or holds ':' or a line break: ", k));
    }
    if (bad(v)) return absl::InvalidArgumentError(absl::StrCat(k, ": holds a line break"));
    absl::StrAppend(&out, k, ": ", v, "\r\n");
  }
  out.append("\r\n");
  return out;
}

void Correlator::Expect(std::string action_id) { pending_[std::move(action_id)] = Pending(); }

void Correlator::Forget(absl::string_view action_id) {
  auto it = pending_.find(action_id);
  if (it != pending_.end()) pending_.erase(it);
}

Correlator::Outcome Correlator::Offer(Message& message, std::string* id, Reply* reply) {
  const absl::string_view action_id = message.action_id();
  if (action_id.empty()) return Outcome::kEvent;
  auto it = pending_.find(action_id);
  if (it == pending_.end()) return Outcome::kEvent;
  Pending& p = it->second;
  const bool is_response = message.Has("Response");
  if (!p.listing) {
    if (!is_response) return Outcome::kEvent;  // an event carrying the id before its response: not ours
    if (absl::EqualsIgnoreCase(message.Get("EventList"), "start") &&
        absl::EqualsIgnoreCase(message.response(), "Success")) {
      p.listing = true;
      p.reply.response = std::move(message);
      return Outcome::kAbsorbed;
    }
    *id = it->first;
    *reply = Reply{.response = std::move(message)};
    pending_.erase(it);
    return Outcome::kReply;
  }
  if (is_response) return Outcome::kEvent;
  if (absl::EqualsIgnoreCase(message.Get("EventList"), "Complete")) {
    *id = it->first;
    *reply = std::move(p.reply);
    pending_.erase(it);
    return Outcome::kReply;
  }
  if (p.reply.list.size() < max_list_items_) {
    p.reply.list.push_back(std::move(message));
  } else {
    p.reply.truncated = true;
  }
  return Outcome::kAbsorbed;
}

}  // namespace crm::telephony::ami
