#include "services/dialogs/telegram/intake.h"

#include <pqxx/pqxx>

#include <string>

#include "absl/strings/str_cat.h"
#include "crm/dialogs/v1/intake.pb.h"
#include "proto/crm/dialogs/v1/telegram_event_types.h"
#include "libs/base/clock.h"
#include "libs/base/strings.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/events/outbox.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "services/dialogs/telegram/secrets.h"

namespace crm::dialogs::telegram {
namespace {

constexpr char kInsertUpdate[] =
    "INSERT INTO tg_updates (bot_id, update_id, chat_id, payload, received_at) "
    "VALUES ($1::uuid, $2, $3, $4::jsonb, to_timestamp(0) + $5 * interval '1 microsecond') "
    "ON CONFLICT (bot_id, update_id) DO NOTHING";
constexpr char kMarkPending[] =
    "INSERT INTO tg_chats (bot_id, chat_id, pending, pending_since) "
    "VALUES ($1::uuid, $2, true, to_timestamp(0) + $3 * interval '1 microsecond') "
    "ON CONFLICT (bot_id, chat_id) DO UPDATE SET pending = true, "
    "pending_since = CASE WHEN tg_chats.pending THEN tg_chats.pending_since ELSE EXCLUDED.pending_since END";
constexpr char kBotByHook[] = "SELECT id::text, secret_sealed FROM tg_bots WHERE hook = $1";

}  // namespace

absl::StatusOr<bool> StoreUpdate(pqxx::transaction_base& tx, crm::events::OutboxWriter& outbox,
                                 std::string_view bot_id, const Update& update, absl::Time now) {
  const int64_t micros = absl::ToUnixMicros(now);
  pqxx::result ins = crm::pg::ExecPrepared(tx, kInsertUpdate, std::string(bot_id), update.update_id,
                                           update.chat_id, update.raw, micros);
  if (ins.affected_rows() == 0) return false;  // a redelivery: stored before, no second effect
  crm::pg::ExecPrepared(tx, kMarkPending, std::string(bot_id), update.chat_id, micros);
  crm::dialogs::v1::UpdateReceived event;
  event.set_bot_id(std::string(bot_id));
  event.set_update_id(update.update_id);
  event.set_chat_id(update.chat_id);
  *event.mutable_receive_time() = crm::ToProtoTimestamp(now);
  crm::common::v1::Principal actor;
  actor.set_kind(crm::common::v1::Principal::KIND_SERVICE);
  actor.set_service("dialogs");
  CRM_RETURN_IF_ERROR(outbox
                          .Append(tx, {.aggregate_type = crm::dialogs::v1::kUpdateAggregate,
                                       .aggregate_id = absl::StrCat(crm::AsAbsl(bot_id), ":", update.chat_id),
                                       .type = crm::dialogs::v1::kUpdateReceivedType,
                                       .payload = &event,
                                       .actor = actor})
                          .status());
  return true;
}

WebhookIntake::WebhookIntake(crm::pg::Pool& pool, crm::events::OutboxWriter& outbox, const SecretBox& box,
                             const crm::Clock& clock)
    : pool_(pool), outbox_(outbox), box_(box), clock_(clock) {}

absl::StatusOr<bool> WebhookIntake::Receive(std::string_view hook, std::string_view secret, std::string_view body) {
  // One refusal for an unknown hook and a wrong secret: a prober learns nothing from the difference.
  const absl::Status refused = absl::PermissionDeniedError("webhook: unknown hook or wrong secret token");
  if (hook.empty() || hook.size() > 64 || secret.empty()) return refused;
  bool inserted = false;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    pqxx::result bot = crm::pg::ExecPrepared(tx, kBotByHook, std::string(hook));
    if (bot.empty()) return refused;
    const std::string bot_id = bot[0][0].as<std::string>();
    CRM_ASSIGN_OR_RETURN(std::string expected,
                         box_.Open(absl::StrCat("tg_bots.secret/", bot_id), bot[0][1].as<std::string>()));
    if (!ConstantTimeEquals(secret, expected)) return refused;
    if (body.size() > kMaxUpdateBytes) {
      return crm::InvalidFieldError("body", absl::StrCat("at most ", kMaxUpdateBytes, " bytes"));
    }
    CRM_ASSIGN_OR_RETURN(Update update, ParseUpdate(body));
    CRM_ASSIGN_OR_RETURN(inserted, StoreUpdate(tx, outbox_, bot_id, update, clock_.Now()));
    return absl::OkStatus();
  }));
  return inserted;
}

}  // namespace crm::dialogs::telegram
