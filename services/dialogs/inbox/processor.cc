// File: services/dialogs/inbox/processor.cc
#include "services/dialogs/inbox/processor.h"

#include <pqxx/pqxx>

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/log/log.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/client.h"
#include "services/dialogs/inbox/phone.h"
#include "services/dialogs/inbox/routing.h"
#include "services/dialogs/outreach/start_hook.h"
#include "services/dialogs/inbox/sql.h"
#include "services/dialogs/inbox/texts.h"
#include "services/dialogs/telegram/outgoing.h"
#include "services/dialogs/telegram/updates.h"

namespace crm::dialogs::inbox {
namespace {

using crm::common::v1::Principal;
namespace tg = crm::dialogs::telegram;

const Principal& Dialogs() {
  static const Principal* p = new Principal(crm::rpc::ServicePrincipal("dialogs"));
  return *p;
}

// "/start", "/start payload", "/start@bot payload" → the payload (or "" for a bare one); nullopt when
// `text` is not the command `command`.
std::optional<std::string> Command(std::string_view text, std::string_view command) {
  absl::string_view t = absl::StripAsciiWhitespace(AsAbsl(text));
  if (!absl::ConsumePrefix(&t, AsAbsl(command))) return std::nullopt;
  if (!t.empty() && t[0] == '@') {  // /start@my_bot
    const size_t space = t.find(' ');
    t = space == absl::string_view::npos ? absl::string_view() : t.substr(space);
  } else if (!t.empty() && t[0] != ' ') {
    return std::nullopt;  // "/starting"
  }
  return std::string(absl::StripAsciiWhitespace(t));
}

std::string DisplayName(const tg::User& u) {
  std::string name = u.first_name;
  if (!u.last_name.empty()) name = name.empty() ? u.last_name : absl::StrCat(name, " ", u.last_name);
  if (name.empty() && !u.username.empty()) name = absl::StrCat("@", u.username);
  return name;
}

std::vector<v1::MessageFile> FilesOf(const tg::Message& m) {
  std::vector<v1::MessageFile> out;
  for (const tg::File& f : m.files) {
    v1::MessageFile& x = out.emplace_back();
    x.set_kind(f.kind);
    x.set_file_id(f.file_id);
    x.set_file_unique_id(f.file_unique_id);
    x.set_name(f.file_name);
    x.set_mime_type(f.mime_type);
    x.set_size(f.file_size);
  }
  return out;
}

// Worth processing the chat again later (the database or a lock, not the update): everything else about
// an update is permanent.
bool Retryable(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kCancelled:
      return true;
    default:
      return false;
  }
}

v1::Action TextAction(std::string text) {
  v1::Action a;
  a.set_kind(v1::ACTION_KIND_SEND_TEXT);
  a.set_text(std::move(text));
  return a;
}

}  // namespace

Processor::Processor(crm::pg::Pool& pool, const Clock& clock, const crm::events::OutboxWriter& outbox,
                     telegram::Outgoing& outgoing, scenarios::ScenarioRunner& runner, ProcessorOptions options)
    : pool_(pool), clock_(clock), outbox_(outbox), outgoing_(outgoing), runner_(runner), options_(options) {}

Processor::~Processor() { Stop(); }

absl::StatusOr<bool> Processor::ProcessOnce(pqxx::transaction_base& tx) {
  // Intake first (the file comment): during a burst, only chats with an update old enough.
  std::optional<absl::Time> received_by;
  if (last_delivery_ && options_.intake_first > absl::ZeroDuration()) {
    const absl::Time now = clock_.Now();
    if (now - last_delivery_() < kBurstGap) received_by = now - options_.intake_first;
  }
  CRM_ASSIGN_OR_RETURN(std::optional<tg::ClaimedChat> chat, tg::ClaimChat(tx, options_.batch, received_by));
  if (!chat) return false;
  for (const tg::Update& u : chat->updates) {
    // Each update under a savepoint: one that fails for good (a bug, data nothing can process) is rolled
    // back alone, logged and marked processed (its raw JSON stays in tg_updates), so it cannot block the
    // chat's later updates forever; a transient failure rolls the whole chat back for the next claim.
    tx.exec0("SAVEPOINT inbox_update");
    absl::Status handled;
    try {
      handled = HandleUpdate(tx, *chat, u);
    } catch (const std::exception& e) {
      handled = crm::pg::StatusFromException(e);
    }
    if (!handled.ok()) {
      if (Retryable(handled)) return Annotate(handled, absl::StrCat("update ", u.update_id));
      tx.exec0("ROLLBACK TO SAVEPOINT inbox_update");
      crm::log::Error(absl::StrCat("inbox: update ", u.update_id, " of bot ", chat->bot_id, " chat ", chat->chat_id,
                                   " cannot be processed and is skipped: ", handled.ToString()));
    }
    tx.exec0("RELEASE SAVEPOINT inbox_update");
    CRM_RETURN_IF_ERROR(tg::MarkProcessed(tx, chat->bot_id, u.update_id, clock_.Now()));
  }
  return true;
}

absl::StatusOr<int> Processor::DrainOnce() {
  int handled = 0;
  for (;;) {
    bool claimed = false;
    CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
      CRM_ASSIGN_OR_RETURN(claimed, ProcessOnce(tx));
      return absl::OkStatus();
    }));
    if (!claimed) return handled;
    ++handled;
  }
}

absl::Status Processor::HandleUpdate(pqxx::transaction_base& tx, const tg::ClaimedChat& chat, const tg::Update& u) {
  // What the inbox handles: new messages and callback queries from a person. Edits, member changes and
  // channel posts are marked processed and otherwise left (the raw update stays in tg_updates).
  const tg::Message* msg = u.kind == "message" && u.message ? &*u.message : nullptr;
  const tg::CallbackQuery* cb = u.kind == "callback_query" && u.callback_query ? &*u.callback_query : nullptr;
  const tg::User* from = msg != nullptr ? (msg->from ? &*msg->from : nullptr) : cb != nullptr ? &cb->from : nullptr;
  if (from == nullptr || from->is_bot || (msg != nullptr && msg->migrate_to_chat_id != 0)) return absl::OkStatus();
  const std::string client_key = absl::StrCat(from->id);
  CRM_ASSIGN_OR_RETURN(bool spam, scenarios::ScenarioRunner::IsSpam(tx, chat.bot_id, client_key));
  if (spam) return absl::OkStatus();  // T4: never reopened, never answered
  const absl::Time now = clock_.Now();

  const tg::Chat* tchat = msg != nullptr ? &msg->chat : (cb->message ? &cb->message->chat : nullptr);
  const bool private_chat = tchat == nullptr || tchat->type.empty() || tchat->type == "private";
  bool opened = false;
  CRM_ASSIGN_OR_RETURN(StoredDialog dialog,
                       OpenDialog(tx,
                                  {.bot_id = chat.bot_id,
                                   .chat_id = chat.chat_id,
                                   .private_chat = private_chat,
                                   .tg_user_id = from->id,
                                   .client_display = DisplayName(*from)},
                                  now, &opened));
  (void)opened;

  NewMessage m{.update_id = u.update_id};
  v1::Input input;
  std::optional<std::string> reply;  // the inbox's own answer instead of the scenario's step
  bool revoke = false;
  if (cb != nullptr) {
    // Every callback query is answered, or the client's button spins (Bot API; sent before messages).
    tg::OutgoingMessage answer{.bot_id = chat.bot_id, .chat_id = chat.chat_id,
                               .kind = tg::OutgoingMessage::Kind::kAnswerCallback};
    answer.callback_query_id = cb->id;
    CRM_RETURN_IF_ERROR(outgoing_.Enqueue(tx, answer).status());
    m.callback_data = cb->data;
    m.text = cb->data;
    input.set_kind(v1::INPUT_KIND_CALLBACK);
    input.set_text(cb->data);
  } else {
    m.text = msg->text;
    m.telegram_message_id = msg->message_id;
    m.files = FilesOf(*msg);
    if (msg->contact) {
      m.contact_phone = msg->contact->phone_number;
      m.contact_user_id = msg->contact->user_id;
      if (msg->contact->user_id != from->id) {
        reply = texts::kForeignContact;  // T2: only the sender's own contact links a phone
      } else if (absl::StatusOr<std::string> phone = NormalizePhone("contact.phone_number", msg->contact->phone_number);
                 !phone.ok()) {
        reply = texts::kBadPhone;
      } else {
        input.set_kind(v1::INPUT_KIND_CONTACT);
        input.set_phone(*phone);
        if (*phone != dialog.dialog.phone() || dialog.dialog.client_link_state() == v1::CLIENT_LINK_STATE_UNSPECIFIED) {
          crm::pg::ExecPrepared(tx, sql::kSetPhone, dialog.dialog.id(), *phone, FormatRfc3339Utc(now));
          CRM_RETURN_IF_ERROR(EnqueueLink(tx, dialog.dialog.id(), *phone, now));
        }
      }
    } else if (std::optional<std::string> payload = Command(msg->text, "/start")) {
      input.set_kind(v1::INPUT_KIND_START);
      input.set_text(*payload);
    } else if (Command(msg->text, "/stop")) {
      revoke = true;
      reply = texts::kRevoked;
    } else if (!msg->text.empty()) {
      input.set_kind(v1::INPUT_KIND_TEXT);
      input.set_text(msg->text);
    } else {
      input.set_kind(v1::INPUT_KIND_OTHER);
    }
  }
  CRM_RETURN_IF_ERROR(outreach::OnClientInput(tx, dialog.dialog, input, now));  // T7: a QR payload or typed code
  CRM_RETURN_IF_ERROR(RecordMessage(tx, outbox_, dialog.dialog, m, Dialogs(), now).status());
  if (revoke) crm::pg::ExecPrepared(tx, sql::kRevoke, dialog.dialog.id(), FormatRfc3339Utc(now));
  // A client writing to a PROCESSED dialog reopens it: for its responsible, else into the queue.
  if (dialog.dialog.status() == v1::DIALOG_STATUS_PROCESSED) {
    if (crm::pg::ExecPrepared(tx, sql::kBackInWork, dialog.dialog.id(), FormatRfc3339Utc(now)).affected_rows() == 0) {
      CRM_RETURN_IF_ERROR(Distribute(tx, dialog.dialog, now, now));
    }
  }
  CRM_RETURN_IF_ERROR(Reload(tx, dialog));
  if (reply) return Apply(tx, dialog, {TextAction(*reply)});

  CRM_ASSIGN_OR_RETURN(std::vector<v1::Action> actions,
                       runner_.OnInput(tx,
                                       {.dialog_id = dialog.dialog.id(),
                                        .bot_id = chat.bot_id,
                                        .client_key = client_key,
                                        .private_chat = private_chat},
                                       input));
  CRM_RETURN_IF_ERROR(Apply(tx, dialog, actions));
  if (dialog.dialog.status() == v1::DIALOG_STATUS_BOT) {
    // A bot without an active scenario: the dialog is the operators' at once (runner.h).
    CRM_ASSIGN_OR_RETURN(std::optional<v1::ScenarioState> state,
                         scenarios::ScenarioRunner::State(tx, dialog.dialog.id()));
    if (!state) CRM_RETURN_IF_ERROR(Distribute(tx, dialog.dialog, now, now));
  }
  return absl::OkStatus();
}

absl::Status Processor::ApplyTimerActions(pqxx::transaction_base& tx, const scenarios::DialogRef& ref,
                                          const std::vector<v1::Action>& actions) {
  CRM_ASSIGN_OR_RETURN(std::optional<StoredDialog> dialog, LoadDialog(tx, ref.dialog_id, /*for_update=*/true));
  if (!dialog || dialog->dialog.closed()) return absl::OkStatus();  // nothing to say to a closed dialog
  return Apply(tx, *dialog, actions);
}

absl::Status Processor::Reload(pqxx::transaction_base& tx, StoredDialog& dialog) {
  CRM_ASSIGN_OR_RETURN(std::optional<StoredDialog> fresh, LoadDialog(tx, dialog.dialog.id(), false));
  if (!fresh) return absl::InternalError(absl::StrCat("dialog ", dialog.dialog.id(), " vanished"));
  dialog = *std::move(fresh);
  return absl::OkStatus();
}

absl::Status Processor::Apply(pqxx::transaction_base& tx, StoredDialog& dialog,
                              const std::vector<v1::Action>& actions) {
  const absl::Time now = clock_.Now();
  const std::string at = FormatRfc3339Utc(now);
  for (const v1::Action& a : actions) {
    if (dialog.dialog.closed()) break;
    switch (a.kind()) {
      case v1::ACTION_KIND_SEND_TEXT:
      case v1::ACTION_KIND_SEND_MENU:
      case v1::ACTION_KIND_REQUEST_PHONE:
        CRM_RETURN_IF_ERROR(SendBot(tx, dialog, a));
        break;
      case v1::ACTION_KIND_SET_TOPIC:
        crm::pg::ExecPrepared(tx, sql::kSetTopic, dialog.dialog.id(), a.topic(), at);
        break;
      case v1::ACTION_KIND_SET_PROJECT:
        crm::pg::ExecPrepared(tx, sql::kSetProject, dialog.dialog.id(), a.project(), at);
        break;
      case v1::ACTION_KIND_DISTRIBUTE:
        if (!a.topic().empty()) crm::pg::ExecPrepared(tx, sql::kSetTopic, dialog.dialog.id(), a.topic(), at);
        if (!a.project().empty()) crm::pg::ExecPrepared(tx, sql::kSetProject, dialog.dialog.id(), a.project(), at);
        CRM_RETURN_IF_ERROR(Distribute(tx, dialog.dialog,
                                       a.has_not_before() ? FromProtoTimestamp(a.not_before()) : now, now));
        break;
      case v1::ACTION_KIND_FINISH:
        // The bot's part is over: the operators' now («В очереди») unless keep_status.
        if (!a.keep_status() && dialog.dialog.status() == v1::DIALOG_STATUS_BOT) {
          CRM_RETURN_IF_ERROR(Distribute(tx, dialog.dialog, now, now));
        }
        break;
      case v1::ACTION_KIND_CLOSE:
      case v1::ACTION_KIND_MARK_SPAM:  // the runner put the client on the spam list in this transaction
        crm::pg::ExecPrepared(tx, sql::kClose, dialog.dialog.id(), at);
        break;
      default:  // GO_TO_STAGE: the runner's own
        break;
    }
    CRM_RETURN_IF_ERROR(Reload(tx, dialog));
  }
  return absl::OkStatus();
}

absl::Status Processor::SendBot(pqxx::transaction_base& tx, StoredDialog& dialog, const v1::Action& a) {
  tg::OutgoingMessage out{.bot_id = dialog.dialog.bot_id(), .chat_id = dialog.dialog.chat_id()};
  if (a.kind() == v1::ACTION_KIND_SEND_MENU) {
    out.text = a.menu().text();
    if (a.menu().keyboard() == v1::KEYBOARD_KIND_INLINE) {
      for (const v1::ButtonRow& row : a.menu().rows()) {
        auto& r = out.inline_keyboard.emplace_back();
        for (const v1::Button& b : row.buttons()) r.push_back({.text = b.text(), .callback_data = b.callback_data()});
      }
    } else {
      for (const v1::ButtonRow& row : a.menu().rows()) {
        auto& r = out.reply_keyboard.emplace_back();
        for (const v1::Button& b : row.buttons()) r.push_back({.text = b.text(), .request_contact = b.request_contact()});
      }
      out.one_time_keyboard = a.menu().one_time();
    }
  } else if (a.kind() == v1::ACTION_KIND_REQUEST_PHONE) {
    out.text = a.text();
    out.reply_keyboard.push_back(
        {{.text = a.button_text().empty() ? texts::kSharePhoneButton : a.button_text(), .request_contact = true}});
    out.one_time_keyboard = true;
  } else {
    out.text = a.text();
  }
  if (out.text.empty()) return absl::OkStatus();  // nothing a client could read (validation warns)
  CRM_ASSIGN_OR_RETURN(std::string outgoing_id, outgoing_.Enqueue(tx, out));
  return RecordMessage(tx, outbox_, dialog.dialog,
                       {.direction = v1::MESSAGE_DIRECTION_OUT,
                        .author = v1::MESSAGE_AUTHOR_BOT,
                        .text = out.text,
                        .outgoing_id = outgoing_id},
                       Dialogs(), clock_.Now())
      .status();
}

void Processor::Start() {
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { Loop(); });
}

void Processor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void Processor::Wake() {
  absl::MutexLock lock(&mu_);
  ++wakes_;
}

void Processor::Loop() {
  for (;;) {
    int seen = 0;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      seen = wakes_;
    }
    absl::StatusOr<int> handled = DrainOnce();
    if (!handled.ok()) crm::log::Warn(absl::StrCat("inbox: processing updates failed: ", handled.status().ToString()));
    absl::MutexLock lock(&mu_);
    auto woken = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || wakes_ != seen; };
    mu_.AwaitWithTimeout(absl::Condition(&woken), options_.poll);
  }
}

}  // namespace crm::dialogs::inbox
