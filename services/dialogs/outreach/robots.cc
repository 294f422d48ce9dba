// File: services/dialogs/outreach/robots.cc
#include "services/dialogs/outreach/robots.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "crm/robots/v1/events.pb.h"
#include "libs/base/clock.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/prepared.h"
#include "proto/crm/robots/v1/event_types.h"
#include "services/dialogs/outreach/sql.h"

namespace crm::dialogs::outreach {

absl::Status RobotMessages::Handle(pqxx::transaction_base& tx, const crm::events::v1::Envelope& event) const {
  if (event.type() != crm::robots::v1::kTelegramType) return absl::OkStatus();  // in-app ones are not ours
  crm::robots::v1::Notification n;
  if (!event.payload().UnpackTo(&n)) {
    return absl::InvalidArgumentError(absl::StrCat("event ", event.id(), ": the payload is not a Notification"));
  }
  const std::string at = FormatRfc3339Utc(clock_.Now());
  auto record = [&](const char* state, const std::string& bot, int64_t chat, const std::string& reason) {
    return !crm::pg::ExecPrepared(tx, sql::kInsertDelivery, event.id(), IsUuid(n.client_id()) ? n.client_id() : "",
                                  n.deal_id(), state, bot, chat, reason, at)
                .empty();
  };
  if (!IsUuid(n.client_id())) {
    record("UNDELIVERABLE", "", 0, "not a client's message: dialogs knows clients' Telegram chats only");
    return absl::OkStatus();
  }
  pqxx::result chat = crm::pg::ExecPrepared(tx, sql::kClientLastChat, n.client_id());
  if (chat.empty()) {
    record("UNDELIVERABLE", "", 0, "the client has no Telegram chat with the company's bots");
    return absl::OkStatus();
  }
  const std::string bot = chat[0][0].c_str();
  const int64_t chat_id = chat[0][1].as<int64_t>();
  std::string text = n.subject().empty() || n.text().empty() ? absl::StrCat(n.subject(), n.text())
                                                             : absl::StrCat(n.subject(), "\n\n", n.text());
  if (CodePoints(text) > 4096) {  // Telegram's limit: cut at a character boundary
    size_t chars = 0, i = 0;
    for (; i < text.size() && chars < 4095; ++i) {
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++chars;
    }
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
    text = absl::StrCat(text.substr(0, i), "…");
  }
  if (text.empty()) {
    record("UNDELIVERABLE", bot, chat_id, "the notification has no text");
    return absl::OkStatus();
  }
  if (!record("QUEUED", bot, chat_id, "")) return absl::OkStatus();  // this event was delivered before
  absl::StatusOr<std::string> id = outgoing_.Enqueue(tx, {.bot_id = bot, .chat_id = chat_id, .text = text});
  if (!id.ok()) {
    crm::pg::ExecPrepared(tx, sql::kDeliveryRefused, event.id(), std::string(id.status().message()));
    return absl::OkStatus();
  }
  crm::pg::ExecPrepared(tx, sql::kDeliveryOutgoing, event.id(), *id);
  return absl::OkStatus();
}

absl::Status RobotMessages::ApplyOutgoingChange(pqxx::transaction_base& tx, const telegram::OutgoingChange& c) {
  if (c.state != "sent" && c.state != "failed") return absl::OkStatus();
  const std::string error = c.state == "sent" ? "" : absl::StrCat(c.error_code, ": ", c.error);
  crm::pg::ExecPrepared(tx, sql::kDeliveryState, c.id, c.state == "sent" ? "SENT" : "FAILED", error,
                        FormatRfc3339Utc(c.time));
  return absl::OkStatus();
}

}  // namespace crm::dialogs::outreach
