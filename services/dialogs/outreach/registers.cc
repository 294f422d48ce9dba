// File: services/dialogs/outreach/registers.cc
#include "services/dialogs/outreach/registers.h"

#include <pqxx/pqxx>

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/statement_recorder.h"
#include "libs/rpc/call.h"
#include "services/dialogs/inbox/access.h"
#include "services/dialogs/inbox/store.h"
#include "services/dialogs/outreach/sql.h"

namespace crm::dialogs::outreach {
namespace {

// The smallest UUIDv7 of the millisecond `t`: ids at or after it were made at or after t.
std::string UuidV7Floor(absl::Time t) {
  const int64_t ms = std::max<int64_t>(0, absl::ToUnixMillis(t));
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08llx-%04llx-7000-8000-000000000000",
                static_cast<unsigned long long>((ms >> 16) & 0xffffffffLL), static_cast<unsigned long long>(ms & 0xffff));
  return buf;
}

}  // namespace

absl::StatusOr<v1::ListMessageHistoryResponse> Registers::History(const Principal& caller,
                                                                  const v1::ListMessageHistoryRequest& req) {
  std::vector<FieldViolation> bad;
  if (!req.client_id().empty() && !IsUuid(req.client_id())) bad.push_back({"client_id", "must be a client id"});
  if (!req.bot_id().empty() && !IsUuid(req.bot_id())) bad.push_back({"bot_id", "must be a bot id"});
  if (req.has_from() && req.has_to() && FromProtoTimestamp(req.to()) <= FromProtoTimestamp(req.from())) {
    bad.push_back({"to", "must be after from"});
  }
  bool bad_size = false;
  const int size = PageSizeOr(req.page_size(), &bad_size);
  if (bad_size) bad.push_back({"page_size", "must not be negative"});
  if (!req.page_token().empty() && !IsUuid(req.page_token())) bad.push_back({"page_token", "not a token this list gave"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, inbox::kReadAll));
  inbox::SqlParams p;
  std::string where = "true";
  if (!req.client_id().empty()) absl::StrAppend(&where, " AND d.client_id = ", p.Add(req.client_id()), "::uuid");
  if (!req.bot_id().empty()) absl::StrAppend(&where, " AND d.bot_id = ", p.Add(req.bot_id()), "::uuid");
  if (req.has_from()) {
    absl::StrAppend(&where, " AND m.id >= ", p.Add(UuidV7Floor(FromProtoTimestamp(req.from()))), "::uuid");
  }
  if (req.has_to()) absl::StrAppend(&where, " AND m.id < ", p.Add(UuidV7Floor(FromProtoTimestamp(req.to()))), "::uuid");
  if (!req.page_token().empty()) absl::StrAppend(&where, " AND m.id < ", p.Add(req.page_token()), "::uuid");
  const std::string statement =
      absl::StrCat("SELECT " CRM_OUTREACH_HISTORY_COLUMNS " FROM dialog_messages m JOIN dialogs d ON d.id = "
                   "m.dialog_id WHERE ", where, " ORDER BY m.id DESC LIMIT ", p.Add(absl::StrCat(size + 1)), "::int");
  v1::ListMessageHistoryResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    out.Clear();
    crm::pg::RecordStatement(statement, p.values());
    pqxx::result rows = tx.exec_params(statement, pqxx::prepare::make_dynamic_params(p.values()));
    for (const auto& r : rows) {
      if (out.messages_size() == size) {
        out.set_next_page_token(out.messages(size - 1).message().id());
        break;
      }
      v1::HistoryMessage* h = out.add_messages();
      v1::Message* m = h->mutable_message();
      m->set_id(r[0].c_str());
      m->set_dialog_id(r[1].c_str());
      m->set_direction(std::string_view(r[2].c_str()) == "OUT" ? v1::MESSAGE_DIRECTION_OUT : v1::MESSAGE_DIRECTION_IN);
      const std::string_view author = r[3].c_str();
      m->set_author(author == "BOT" ? v1::MESSAGE_AUTHOR_BOT
                    : author == "OPERATOR" ? v1::MESSAGE_AUTHOR_OPERATOR : v1::MESSAGE_AUTHOR_CLIENT);
      m->set_author_user_id(r[4].c_str());
      m->set_text(r[5].c_str());
      m->set_contact_phone(r[7].c_str());
      m->set_callback_data(r[8].c_str());
      m->set_telegram_message_id(r[9].as<int64_t>());
      m->set_outgoing_id(r[10].c_str());
      m->set_outgoing_state(r[11].c_str());
      m->set_outgoing_error(r[12].c_str());
      *m->mutable_create_time() = FromMicros(r[13].as<int64_t>());
      h->set_bot_id(r[14].c_str());
      h->set_chat_id(r[15].as<int64_t>());
      h->set_client_id(r[16].c_str());
      h->set_dialog_number(inbox::FormatNumber(r[17].as<int64_t>()));
    }
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ListBotChatsResponse> Registers::BotChats(const Principal& caller,
                                                            const v1::ListBotChatsRequest& req) {
  std::vector<FieldViolation> bad;
  if (!IsUuid(req.bot_id())) bad.push_back({"bot_id", "must be a bot id"});
  bool bad_size = false;
  const int size = PageSizeOr(req.page_size(), &bad_size);
  if (bad_size) bad.push_back({"page_size", "must not be negative"});
  int64_t after = std::numeric_limits<int64_t>::min();
  if (!req.page_token().empty() && !absl::SimpleAtoi(req.page_token(), &after)) {
    bad.push_back({"page_token", "not a token this list gave"});
  }
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, inbox::kReadAll));
  v1::ListBotChatsResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    out.Clear();
    const std::vector<std::string> values = {req.bot_id(), absl::StrCat(after), absl::StrCat(size + 1)};
    crm::pg::RecordStatement(sql::kListBotChats, values);
    pqxx::result rows = crm::pg::ExecPrepared(tx, sql::kListBotChats, values[0], after, size + 1);
    for (const auto& r : rows) {
      if (out.chats_size() == size) {
        out.set_next_page_token(absl::StrCat(out.chats(size - 1).chat_id()));
        break;
      }
      v1::BotChat* c = out.add_chats();
      c->set_bot_id(req.bot_id());
      c->set_chat_id(r[0].as<int64_t>());
      c->set_client_id(r[1].c_str());
      c->set_last_dialog_id(r[2].c_str());
      if (r[3].as<int64_t>() != 0) *c->mutable_last_message_time() = FromMicros(r[3].as<int64_t>());
    }
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

}  // namespace crm::dialogs::outreach
