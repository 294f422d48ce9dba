#include "services/dialogs/telegram/outgoing.h"

#include <pqxx/pqxx>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crm/dialogs/v1/intake.pb.h"
#include "proto/crm/dialogs/v1/telegram_event_types.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/events/outbox.h"
#include "libs/pg/prepared.h"

namespace crm::dialogs::telegram {
namespace {

using nlohmann::json;

constexpr size_t kMaxTextChars = 4096;      // a message
constexpr size_t kMaxCaptionChars = 1024;   // a document's caption
constexpr size_t kMaxCallbackTextChars = 200;
constexpr size_t kMaxCallbackDataBytes = 64;

size_t Utf8Chars(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

constexpr char kInsert[] =
    "INSERT INTO tg_outgoing (id, bot_id, chat_id, method, payload, state, not_before, create_time, update_time) "
    "VALUES ($1::uuid, $2::uuid, $3, $4, $5::jsonb, 'queued', to_timestamp(0) + $6 * interval '1 microsecond', "
    "to_timestamp(0) + $6 * interval '1 microsecond', to_timestamp(0) + $6 * interval '1 microsecond')";

}  // namespace

std::string EscapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

Outgoing::Outgoing(crm::events::OutboxWriter& outbox, const crm::Clock& clock) : outbox_(outbox), clock_(clock) {}

void Outgoing::SetHook(OutgoingHook hook) {
  absl::MutexLock lock(&mu_);
  hook_ = std::move(hook);
}

absl::StatusOr<std::string> Outgoing::Enqueue(pqxx::transaction_base& tx, const OutgoingMessage& m) {
  std::vector<crm::FieldViolation> bad;
  if (!crm::IsUuid(m.bot_id)) bad.push_back({"bot_id", "must be a bot's id"});
  if (m.chat_id == 0) bad.push_back({"chat_id", "required"});
  json p = json::object();
  std::string method;
  switch (m.kind) {
    case OutgoingMessage::Kind::kText:
      method = kSendMessage;
      if (m.text.empty() || Utf8Chars(m.text) > kMaxTextChars) {
        bad.push_back({"text", absl::StrCat("1..", kMaxTextChars, " characters")});
      }
      p["text"] = EscapeHtml(m.text);
      p["parse_mode"] = "HTML";
      break;
    case OutgoingMessage::Kind::kDocument:
      method = kSendDocument;
      if (m.document.empty()) bad.push_back({"document", "a file_id or an http(s) URL is required"});
      if (Utf8Chars(m.text) > kMaxCaptionChars) {
        bad.push_back({"text", absl::StrCat("a caption has at most ", kMaxCaptionChars, " characters")});
      }
      p["document"] = m.document;
      if (!m.text.empty()) {
        p["caption"] = EscapeHtml(m.text);
        p["parse_mode"] = "HTML";
      }
      break;
    case OutgoingMessage::Kind::kAnswerCallback:
      method = kAnswerCallbackQuery;
      if (m.callback_query_id.empty()) bad.push_back({"callback_query_id", "required"});
      if (Utf8Chars(m.text) > kMaxCallbackTextChars) {
        bad.push_back({"text", absl::StrCat("a callback's notification has at most ", kMaxCallbackTextChars,
                                            " characters")});
      }
      p["callback_query_id"] = m.callback_query_id;
      if (!m.text.empty()) p["text"] = m.text;
      if (m.show_alert) p["show_alert"] = true;
      break;
  }
  if (m.kind != OutgoingMessage::Kind::kAnswerCallback) {
    const bool has_reply = !m.reply_keyboard.empty();
    const bool has_inline = !m.inline_keyboard.empty();
    if (static_cast<int>(has_reply) + static_cast<int>(has_inline) + static_cast<int>(m.remove_keyboard) > 1) {
      bad.push_back({"inline_keyboard", "one of reply_keyboard, inline_keyboard, remove_keyboard"});
    }
    if (has_reply) {
      json rows = json::array();
      for (size_t i = 0; i < m.reply_keyboard.size(); ++i) {
        json row = json::array();
        for (size_t j = 0; j < m.reply_keyboard[i].size(); ++j) {
          const KeyboardButton& b = m.reply_keyboard[i][j];
          if (b.text.empty()) bad.push_back({absl::StrCat("reply_keyboard[", i, "][", j, "].text"), "required"});
          json jb = {{"text", b.text}};
          if (b.request_contact) {
            if (m.chat_id < 0) {
              bad.push_back({absl::StrCat("reply_keyboard[", i, "][", j, "].request_contact"),
                             "works in private chats only"});
            }
            jb["request_contact"] = true;
          }
          row.push_back(std::move(jb));
        }
        rows.push_back(std::move(row));
      }
      p["reply_markup"] = {{"keyboard", std::move(rows)}, {"resize_keyboard", true}};
      if (m.one_time_keyboard) p["reply_markup"]["one_time_keyboard"] = true;
    } else if (has_inline) {
      json rows = json::array();
      for (size_t i = 0; i < m.inline_keyboard.size(); ++i) {
        json row = json::array();
        for (size_t j = 0; j < m.inline_keyboard[i].size(); ++j) {
          const InlineButton& b = m.inline_keyboard[i][j];
          const std::string at = absl::StrCat("inline_keyboard[", i, "][", j, "]");
          if (b.text.empty()) bad.push_back({at + ".text", "required"});
          json jb = {{"text", b.text}};
          if (!b.url.empty()) {
            if (!absl::StartsWith(b.url, "https://") && !absl::StartsWith(b.url, "http://") &&
                !absl::StartsWith(b.url, "tg://")) {
              bad.push_back({at + ".url", "must be an http(s) or tg:// URL"});
            }
            jb["url"] = b.url;
          } else if (b.callback_data.empty() || b.callback_data.size() > kMaxCallbackDataBytes) {
            bad.push_back({at + ".callback_data", "1..64 bytes (or a url)"});
          } else {
            jb["callback_data"] = b.callback_data;
          }
          row.push_back(std::move(jb));
        }
        rows.push_back(std::move(row));
      }
      p["reply_markup"] = {{"inline_keyboard", std::move(rows)}};
    } else if (m.remove_keyboard) {
      p["reply_markup"] = {{"remove_keyboard", true}};
    }
    if (m.reply_to_message_id != 0) p["reply_to_message_id"] = m.reply_to_message_id;
  }
  if (!bad.empty()) return crm::InvalidFieldsError(bad);
  const absl::Time now = clock_.Now();
  const std::string id = crm::NewUuidV7();
  crm::pg::ExecPrepared(tx, kInsert, id, m.bot_id, m.chat_id, method, p.dump(), absl::ToUnixMicros(now));
  CRM_RETURN_IF_ERROR(Changed(tx, {.id = id, .bot_id = m.bot_id, .chat_id = m.chat_id, .method = method,
                                   .state = "queued", .not_before = now, .time = now}));
  return id;
}

absl::Status Outgoing::Changed(pqxx::transaction_base& tx, const OutgoingChange& c) {
  crm::dialogs::v1::OutgoingStateChanged event;
  event.set_outgoing_id(c.id);
  event.set_bot_id(c.bot_id);
  event.set_chat_id(c.chat_id);
  event.set_state(c.state);
  event.set_method(c.method);
  event.set_telegram_message_id(c.telegram_message_id);
  event.set_error_code(c.error_code);
  event.set_error(c.error);
  *event.mutable_not_before() = crm::ToProtoTimestamp(c.not_before);
  *event.mutable_time() = crm::ToProtoTimestamp(c.time);
  crm::common::v1::Principal actor;
  actor.set_kind(crm::common::v1::Principal::KIND_SERVICE);
  actor.set_service("dialogs");
  CRM_RETURN_IF_ERROR(outbox_
                          .Append(tx, {.aggregate_type = crm::dialogs::v1::kOutgoingAggregate,
                                       .aggregate_id = c.id,
                                       .type = crm::dialogs::v1::kOutgoingStateChangedType,
                                       .payload = &event,
                                       .actor = actor})
                          .status());
  OutgoingHook hook;
  {
    absl::MutexLock lock(&mu_);
    hook = hook_;
  }
  return hook ? hook(tx, c) : absl::OkStatus();
}

}  // namespace crm::dialogs::telegram
