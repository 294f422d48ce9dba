// File: services/dialogs/inbox/store.cc
#include "services/dialogs/inbox/store.h"

#include <pqxx/pqxx>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "proto/crm/dialogs/v1/event_types.h"
#include "crm/dialogs/v1/events.pb.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/events/outbox.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
#include "services/dialogs/inbox/sql.h"
#include "services/dialogs/telegram/outgoing.h"

namespace crm::dialogs::inbox {
namespace {

using nlohmann::json;

std::vector<std::string> SplitIds(std::string_view s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  for (absl::string_view part : absl::StrSplit(absl::string_view(s.data(), s.size()), ',')) {
    out.emplace_back(part);
  }
  return out;
}

void SetTime(const pqxx::field& f, google::protobuf::Timestamp* out) {
  if (f.is_null()) return;
  *out = ToProtoTimestamp(absl::FromUnixMicros(f.as<int64_t>()));
}

v1::ClientLinkState LinkStateOf(std::string_view s) {
  if (s == "pending") return v1::CLIENT_LINK_STATE_PENDING;
  if (s == "linked") return v1::CLIENT_LINK_STATE_LINKED;
  if (s == "candidates") return v1::CLIENT_LINK_STATE_CANDIDATES;
  if (s == "none") return v1::CLIENT_LINK_STATE_NONE;
  return v1::CLIENT_LINK_STATE_UNSPECIFIED;
}

}  // namespace

StoredDialog DialogOf(const pqxx::row& r) {
  StoredDialog out;
  v1::Dialog& d = out.dialog;
  d.set_id(r[0].c_str());
  d.set_number(FormatNumber(r[1].as<int64_t>()));
  d.set_bot_id(r[2].c_str());
  d.set_bot_name(r[3].c_str());
  d.set_status(StatusOf(r[4].c_str()));
  d.set_status_name(StatusName(d.status()));
  d.set_closed(r[5].as<bool>());
  d.set_client_id(r[6].c_str());
  for (std::string& id : SplitIds(r[7].c_str())) d.add_candidate_client_ids(std::move(id));
  d.set_phone(r[8].c_str());
  d.set_client_link_state(LinkStateOf(r[9].c_str()));
  d.set_client_display_name(r[10].c_str());
  d.set_project(r[11].c_str());
  d.set_topic(r[12].c_str());
  d.set_subject(r[13].c_str());
  d.set_responsible_id(r[14].c_str());
  d.set_chat_id(r[15].as<int64_t>());
  d.set_telegram_user_id(r[16].as<int64_t>());
  d.set_unread_count(r[17].as<int>());
  SetTime(r[18], d.mutable_last_message_time());
  SetTime(r[19], d.mutable_queued_time());
  SetTime(r[20], d.mutable_taken_time());
  SetTime(r[21], d.mutable_create_time());
  SetTime(r[22], d.mutable_update_time());
  d.set_version(r[23].as<int64_t>());
  d.set_private_chat(r[24].as<bool>());
  out.team_ids = SplitIds(r[25].c_str());
  d.set_responsible_name(r[26].c_str());
  out.responsible_supervisor_id = r[27].c_str();
  return out;
}

namespace {

const char* DirectionCode(v1::MessageDirection d) { return d == v1::MESSAGE_DIRECTION_OUT ? "OUT" : "IN"; }
const char* AuthorCode(v1::MessageAuthor a) {
  switch (a) {
    case v1::MESSAGE_AUTHOR_BOT:
      return "BOT";
    case v1::MESSAGE_AUTHOR_OPERATOR:
      return "OPERATOR";
    default:
      return "CLIENT";
  }
}

std::string FilesJson(const std::vector<v1::MessageFile>& files) {
  json a = json::array();
  for (const v1::MessageFile& f : files) {
    a.push_back({{"kind", f.kind()}, {"file_id", f.file_id()}, {"file_unique_id", f.file_unique_id()},
                 {"name", f.name()}, {"mime_type", f.mime_type()}, {"size", f.size()}, {"url", f.url()}});
  }
  return a.dump();
}

}  // namespace

std::string FormatNumber(int64_t number) { return absl::StrFormat("%09d", number); }

const char* StatusCode(v1::DialogStatus status) {
  switch (status) {
    case v1::DIALOG_STATUS_QUEUED:
      return "QUEUED";
    case v1::DIALOG_STATUS_IN_WORK:
      return "IN_WORK";
    case v1::DIALOG_STATUS_PROCESSED:
      return "PROCESSED";
    case v1::DIALOG_STATUS_CLOSED:
      return "CLOSED";
    default:
      return "BOT";
  }
}

v1::DialogStatus StatusOf(std::string_view code) {
  if (code == "QUEUED") return v1::DIALOG_STATUS_QUEUED;
  if (code == "IN_WORK") return v1::DIALOG_STATUS_IN_WORK;
  if (code == "PROCESSED") return v1::DIALOG_STATUS_PROCESSED;
  if (code == "CLOSED") return v1::DIALOG_STATUS_CLOSED;
  return v1::DIALOG_STATUS_BOT;
}

const char* StatusName(v1::DialogStatus status) {
  switch (status) {
    case v1::DIALOG_STATUS_QUEUED:
      return "В очереди";
    case v1::DIALOG_STATUS_IN_WORK:
      return "В работе";
    case v1::DIALOG_STATUS_PROCESSED:
      return "Обработано";
    case v1::DIALOG_STATUS_CLOSED:
      return "Закрыт";
    default:
      return "Чат-бот";
  }
}

absl::StatusOr<std::optional<StoredDialog>> LoadDialog(pqxx::transaction_base& tx, std::string_view id,
                                                       bool for_update) {
  if (!IsUuid(id)) return std::optional<StoredDialog>();
  pqxx::result r = crm::pg::ExecPrepared(tx, for_update ? sql::kDialogByIdForUpdate : sql::kDialogById,
                                         std::string(id));
  if (r.empty()) return std::optional<StoredDialog>();
  return std::optional<StoredDialog>(DialogOf(r[0]));
}

absl::StatusOr<std::optional<StoredDialog>> OpenDialogOfChat(pqxx::transaction_base& tx, std::string_view bot_id,
                                                             int64_t chat_id) {
  pqxx::result r = crm::pg::ExecPrepared(tx, sql::kOpenDialogOfChat, std::string(bot_id), chat_id);
  if (r.empty()) return std::optional<StoredDialog>();
  return std::optional<StoredDialog>(DialogOf(r[0]));
}

absl::StatusOr<StoredDialog> OpenDialog(pqxx::transaction_base& tx, const NewDialog& d, absl::Time now,
                                        bool* opened) {
  *opened = false;
  CRM_ASSIGN_OR_RETURN(std::optional<StoredDialog> open, OpenDialogOfChat(tx, d.bot_id, d.chat_id));
  if (open) return *std::move(open);
  // The link of the client's previous dialog on the bot carries over (T2: linked once, until /stop).
  std::string phone, client, candidates = "{}", link_state;
  pqxx::result prev = crm::pg::ExecPrepared(tx, sql::kPreviousLink, d.bot_id, d.tg_user_id);
  if (!prev.empty()) {
    phone = prev[0][0].c_str();
    client = prev[0][1].c_str();
    candidates = crm::pg::ArrayLiteral(SplitIds(prev[0][2].c_str()));
    link_state = prev[0][3].c_str();
    if (link_state == "pending") link_state = phone.empty() ? "" : "pending";
  }
  const std::string id = NewUuidV7();
  pqxx::result ins = crm::pg::ExecPrepared(tx, sql::kInsertDialog, id, d.bot_id, d.chat_id, d.private_chat,
                                           d.tg_user_id, d.client_display, phone, client, candidates, link_state,
                                           FormatRfc3339Utc(now));
  *opened = ins.affected_rows() == 1;
  if (*opened && link_state == "pending") CRM_RETURN_IF_ERROR(EnqueueLink(tx, id, phone, now));
  CRM_ASSIGN_OR_RETURN(open, OpenDialogOfChat(tx, d.bot_id, d.chat_id));
  if (!open) return absl::AbortedError("the chat's open dialog was closed meanwhile; try again");
  return *std::move(open);
}

absl::StatusOr<v1::Message> RecordMessage(pqxx::transaction_base& tx, const crm::events::OutboxWriter& outbox,
                                          const v1::Dialog& dialog, const NewMessage& m,
                                          const crm::common::v1::Principal& actor, absl::Time now) {
  v1::Message out;
  out.set_id(NewUuidV7());
  out.set_dialog_id(dialog.id());
  out.set_direction(m.direction);
  out.set_author(m.author);
  out.set_author_user_id(m.author_user_id);
  out.set_text(m.text);
  for (const v1::MessageFile& f : m.files) *out.add_files() = f;
  out.set_contact_phone(m.contact_phone);
  out.set_callback_data(m.callback_data);
  out.set_telegram_message_id(m.telegram_message_id);
  out.set_outgoing_id(m.outgoing_id);
  if (!m.outgoing_id.empty()) out.set_outgoing_state("queued");
  *out.mutable_create_time() = ToProtoTimestamp(now);
  const std::string at = FormatRfc3339Utc(now);
  crm::pg::ExecPrepared(tx, sql::kInsertMessage, out.id(), dialog.id(), DirectionCode(m.direction),
                        AuthorCode(m.author), m.author_user_id, m.text, FilesJson(m.files), m.contact_phone,
                        m.contact_user_id, m.callback_data, m.update_id, m.telegram_message_id, m.outgoing_id,
                        out.outgoing_state(), at);
  const bool from_client = m.author == v1::MESSAGE_AUTHOR_CLIENT;
  crm::pg::ExecPrepared(tx, sql::kTouchDialog, dialog.id(), at, from_client ? 1 : 0);

  // Pipeline step 4: MessageExchanged (robots: a touch, R4) and the D16 interaction of a client's or an
  // operator's message (the bot's texts are automatic: not interactions; README "Inbox").
  v1::MessageExchanged e;
  e.set_dialog_id(dialog.id());
  e.set_message_id(out.id());
  e.set_client_id(dialog.client_id());
  e.set_user_id(m.author == v1::MESSAGE_AUTHOR_OPERATOR ? m.author_user_id : "");
  e.set_text(m.text);
  *e.mutable_time() = out.create_time();
  crm::events::NewEvent ev{.aggregate_type = v1::kDialogAggregate,
                           .aggregate_id = dialog.id(),
                           .type = from_client ? v1::kMessageReceivedType : v1::kMessageSentType,
                           .payload = &e,
                           .actor = actor};
  if (!dialog.responsible_id().empty()) ev.visible_to_user_ids.push_back(dialog.responsible_id());
  CRM_RETURN_IF_ERROR(outbox.Append(tx, ev).status());
  if (m.author != v1::MESSAGE_AUTHOR_BOT) {
    const bool ready = !dialog.client_id().empty() && !dialog.responsible_id().empty();
    crm::pg::ExecPrepared(tx, sql::kEnqueueSync, std::string("interaction"), dialog.id(), out.id(), std::string(),
                          ready ? at : std::string(), at);
  }
  return out;
}

absl::Status EnqueueLink(pqxx::transaction_base& tx, std::string_view dialog_id, std::string_view phone,
                         absl::Time now) {
  const std::string at = FormatRfc3339Utc(now);
  crm::pg::ExecPrepared(tx, sql::kEnqueueSync, std::string("link"), std::string(dialog_id), std::string(),
                        std::string(phone), at, at);
  return absl::OkStatus();
}

absl::Status UnparkIfReady(pqxx::transaction_base& tx, const v1::Dialog& dialog, absl::Time now) {
  if (dialog.client_id().empty() || dialog.responsible_id().empty()) return absl::OkStatus();
  crm::pg::ExecPrepared(tx, sql::kUnparkSync, dialog.id(), FormatRfc3339Utc(now));
  return absl::OkStatus();
}

absl::Status ApplyOutgoingChange(pqxx::transaction_base& tx, const telegram::OutgoingChange& c) {
  crm::pg::ExecPrepared(tx, sql::kOutgoingState, c.id, c.state, c.error, c.telegram_message_id);
  return absl::OkStatus();
}

v1::Message MessageOf(const pqxx::row& r) {
  v1::Message m;
  m.set_id(r[0].c_str());
  m.set_dialog_id(r[1].c_str());
  m.set_direction(std::string_view(r[2].c_str()) == "OUT" ? v1::MESSAGE_DIRECTION_OUT : v1::MESSAGE_DIRECTION_IN);
  const std::string_view author = r[3].c_str();
  m.set_author(author == "BOT"        ? v1::MESSAGE_AUTHOR_BOT
               : author == "OPERATOR" ? v1::MESSAGE_AUTHOR_OPERATOR
                                      : v1::MESSAGE_AUTHOR_CLIENT);
  m.set_author_user_id(r[4].c_str());
  m.set_text(r[5].c_str());
  const json files = json::parse(r[6].c_str(), nullptr, /*allow_exceptions=*/false);
  if (files.is_array()) {
    for (const json& f : files) {
      v1::MessageFile* out = m.add_files();
      out->set_kind(f.value("kind", ""));
      out->set_file_id(f.value("file_id", ""));
      out->set_file_unique_id(f.value("file_unique_id", ""));
      out->set_name(f.value("name", ""));
      out->set_mime_type(f.value("mime_type", ""));
      out->set_size(f.value("size", int64_t{0}));
      out->set_url(f.value("url", ""));
    }
  }
  m.set_contact_phone(r[7].c_str());
  m.set_callback_data(r[8].c_str());
  m.set_telegram_message_id(r[9].as<int64_t>());
  m.set_outgoing_id(r[10].c_str());
  m.set_outgoing_state(r[11].c_str());
  m.set_outgoing_error(r[12].c_str());
  SetTime(r[13], m.mutable_create_time());
  m.set_author_name(r[14].c_str());
  return m;
}

}  // namespace crm::dialogs::inbox
