#include "services/dialogs/telegram/updates.h"

#include <pqxx/pqxx>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/pg/prepared.h"
#include "services/dialogs/telegram/sql.h"
#include "libs/pg/sql_time.h"

namespace crm::dialogs::telegram {
namespace {

using nlohmann::json;

int64_t Int(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}
std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

User ParseUser(const json& j) {
  User u;
  u.id = Int(j, "id");
  auto b = j.find("is_bot");
  u.is_bot = b != j.end() && b->is_boolean() && b->get<bool>();
  u.first_name = Str(j, "first_name");
  u.last_name = Str(j, "last_name");
  u.username = Str(j, "username");
  u.language_code = Str(j, "language_code");
  return u;
}

File ParseFile(const json& j, std::string kind) {
  File f;
  f.kind = std::move(kind);
  f.file_id = Str(j, "file_id");
  f.file_unique_id = Str(j, "file_unique_id");
  f.file_name = Str(j, "file_name");
  f.mime_type = Str(j, "mime_type");
  f.file_size = Int(j, "file_size");
  return f;
}

absl::StatusOr<Message> ParseMessage(const json& j, std::string_view path) {
  if (!j.is_object()) return crm::InvalidFieldError(path, "must be a Message object");
  Message m;
  m.message_id = Int(j, "message_id");
  m.date = Int(j, "date");
  auto chat = j.find("chat");
  if (chat == j.end() || !chat->is_object() || !chat->contains("id") || !(*chat)["id"].is_number_integer()) {
    return crm::InvalidFieldError(absl::StrCat(crm::AsAbsl(path), ".chat.id"), "required (an integer)");
  }
  m.chat.id = Int(*chat, "id");
  m.chat.type = Str(*chat, "type");
  m.chat.title = Str(*chat, "title");
  m.chat.username = Str(*chat, "username");
  if (auto from = j.find("from"); from != j.end() && from->is_object()) m.from = ParseUser(*from);
  m.text = j.contains("text") ? Str(j, "text") : Str(j, "caption");
  for (const char* kind : {"document", "audio", "video", "voice", "video_note", "animation", "sticker"}) {
    if (auto f = j.find(kind); f != j.end() && f->is_object()) {
      // An animation also arrives as a document: keep one.
      if (std::string_view(kind) == "animation" && j.contains("document")) continue;
      m.files.push_back(ParseFile(*f, kind));
    }
  }
  if (auto photo = j.find("photo"); photo != j.end() && photo->is_array() && !photo->empty()) {
    // PhotoSize[] from smallest to largest: keep the largest.
    const json* best = &photo->back();
    for (const json& p : *photo) {
      if (Int(p, "width") * Int(p, "height") > Int(*best, "width") * Int(*best, "height")) best = &p;
    }
    m.files.push_back(ParseFile(*best, "photo"));
  }
  if (auto c = j.find("contact"); c != j.end() && c->is_object()) {
    Contact contact;
    contact.phone_number = Str(*c, "phone_number");
    contact.first_name = Str(*c, "first_name");
    contact.last_name = Str(*c, "last_name");
    contact.user_id = Int(*c, "user_id");
    m.contact = std::move(contact);
  }
  if (auto r = j.find("reply_to_message"); r != j.end() && r->is_object()) {
    m.reply_to_message_id = Int(*r, "message_id");
  }
  m.migrate_to_chat_id = Int(j, "migrate_to_chat_id");
  return m;
}

constexpr const char* kMessageKinds[] = {"message", "edited_message", "channel_post", "edited_channel_post",
                                         "business_message", "edited_business_message"};
constexpr const char* kChatKinds[] = {"my_chat_member", "chat_member", "chat_join_request",
                                      "message_reaction", "message_reaction_count", "chat_boost",
                                      "removed_chat_boost"};

}  // namespace

absl::StatusOr<Update> ParseUpdate(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return crm::InvalidFieldError("update", "must be a JSON object (a Telegram Update)");
  auto id = j.find("update_id");
  if (id == j.end() || !id->is_number_integer() || id->get<int64_t>() < 0) {
    return crm::InvalidFieldError("update_id", "required (a non-negative integer)");
  }
  Update u;
  u.update_id = id->get<int64_t>();
  u.raw = std::string(text);
  for (const char* kind : kMessageKinds) {
    if (auto m = j.find(kind); m != j.end()) {
      CRM_ASSIGN_OR_RETURN(Message message, ParseMessage(*m, kind));
      u.kind = kind;
      u.chat_id = message.chat.id;
      u.message = std::move(message);
      return u;
    }
  }
  if (auto q = j.find("callback_query"); q != j.end()) {
    if (!q->is_object() || !q->contains("id") || !q->contains("from")) {
      return crm::InvalidFieldError("callback_query", "must carry id and from");
    }
    CallbackQuery cq;
    cq.id = Str(*q, "id");
    cq.from = ParseUser((*q)["from"]);
    cq.data = Str(*q, "data");
    if (auto m = q->find("message"); m != q->end() && m->is_object() && m->contains("chat")) {
      CRM_ASSIGN_OR_RETURN(Message message, ParseMessage(*m, "callback_query.message"));
      cq.message = std::move(message);
    }
    u.kind = "callback_query";
    u.chat_id = cq.message ? cq.message->chat.id : cq.from.id;
    u.callback_query = std::move(cq);
    return u;
  }
  for (const char* kind : kChatKinds) {
    if (auto m = j.find(kind); m != j.end() && m->is_object()) {
      u.kind = kind;
      if (auto c = m->find("chat"); c != m->end() && c->is_object()) u.chat_id = Int(*c, "id");
      return u;
    }
  }
  // inline_query, chosen_inline_result, shipping_query, pre_checkout_query, poll_answer, ...: the
  // sender's private chat (its id is the user's id), or 0 when the update names nobody (poll).
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "update_id" || !it->is_object()) continue;
    u.kind = it.key();
    if (auto f = it->find("from"); f != it->end() && f->is_object()) u.chat_id = Int(*f, "id");
    if (auto f = it->find("user"); u.chat_id == 0 && f != it->end() && f->is_object()) u.chat_id = Int(*f, "id");
    break;
  }
  return u;
}

namespace {

// The waiting updates read per claim: the chats other claimers hold are skipped among them.
constexpr int kClaimCandidates = 64;

constexpr char kUpdateExists[] = "SELECT 1 FROM tg_updates WHERE bot_id = $1::uuid AND update_id = $2";

}  // namespace

absl::StatusOr<std::optional<ClaimedChat>> ClaimChat(pqxx::transaction_base& tx, int limit,
                                                     std::optional<absl::Time> received_by) {
  // The candidates are read first and tried one by one: a lock tried inside the reading statement would
  // be taken for every row the plan happens to evaluate, not only the one returned.
  pqxx::result waiting =
      received_by ? crm::pg::ExecPrepared(tx, sql::kWaitingChatsReceivedBy, kClaimCandidates,
                                          absl::ToUnixMicros(*received_by))
                  : crm::pg::ExecPrepared(tx, sql::kWaitingChats, kClaimCandidates);
  ClaimedChat chat;
  pqxx::result rows;
  absl::flat_hash_set<std::pair<std::string, int64_t>> tried;
  for (const pqxx::row& w : waiting) {
    chat.bot_id = w[0].as<std::string>();
    chat.chat_id = w[1].as<int64_t>();
    if (!tried.emplace(chat.bot_id, chat.chat_id).second) continue;
    if (!crm::pg::ExecPrepared(tx, sql::kHoldChat, chat.bot_id, chat.chat_id)[0][0].as<bool>()) continue;
    // Read after the lock: a claim of this chat that committed meanwhile left nothing for this one, and
    // the next candidate is tried.
    rows = crm::pg::ExecPrepared(tx, sql::kChatUpdates, chat.bot_id, chat.chat_id, limit);
    if (!rows.empty()) break;
  }
  if (rows.empty()) return std::optional<ClaimedChat>();  // none waiting, or every waiting chat held
  crm::pg::ExecPrepared(tx, sql::kKnowChat, chat.bot_id, chat.chat_id);
  chat.updates.reserve(rows.size());
  for (const pqxx::row& r : rows) {
    absl::StatusOr<Update> u = ParseUpdate(r[1].as<std::string>());
    if (!u.ok()) {
      // Stored only after it parsed: a failure here is a bug, not the client's input.
      return absl::InternalError(absl::StrCat("stored update ", r[0].as<int64_t>(), " does not parse: ",
                                              u.status().message()));
    }
    chat.updates.push_back(*std::move(u));
  }
  return std::optional<ClaimedChat>(std::move(chat));
}

absl::Status MarkProcessed(pqxx::transaction_base& tx, std::string_view bot_id, int64_t update_id, absl::Time now) {
  pqxx::result r = crm::pg::ExecPrepared(tx, sql::kMarkProcessed, std::string(bot_id), update_id, absl::ToUnixMicros(now));
  if (r.affected_rows() == 1) return absl::OkStatus();
  if (crm::pg::ExecPrepared(tx, kUpdateExists, std::string(bot_id), update_id).empty()) {
    return absl::NotFoundError(absl::StrCat("update ", update_id, " of bot ", crm::AsAbsl(bot_id), " is not stored"));
  }
  return absl::FailedPreconditionError(absl::StrCat("update ", update_id, " was already processed"));
}

}  // namespace crm::dialogs::telegram
