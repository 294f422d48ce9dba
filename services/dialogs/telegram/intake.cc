#include "services/dialogs/telegram/intake.h"

#include <pqxx/pqxx>

#include <iterator>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
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
#include "libs/pg/sql_array.h"
#include "services/dialogs/telegram/secrets.h"

namespace crm::dialogs::telegram {
namespace {

// One round trip: the update inserted once and, only when it is new, its outbox row (OutboxWriter::Row).
// One outbox row iff the update is new.
static_assert(std::size(crm::events::kOutboxColumnTypes) == 8, "StoreUpdate binds the outbox row's 8 values");

const std::string& StoreSql() {
  static const std::string* sql = [] {
    std::string values;
    for (size_t i = 0; i < std::size(crm::events::kOutboxColumnTypes); ++i) {
      absl::StrAppend(&values, i == 0 ? "" : ", ", "$", 6 + i, "::", crm::events::kOutboxColumnTypes[i]);
    }
    return new std::string(absl::StrCat(
        "WITH ins AS (INSERT INTO tg_updates (bot_id, update_id, chat_id, payload, received_at) "
        "  VALUES ($1::uuid, $2, $3, $4::jsonb, to_timestamp(0) + $5 * interval '1 microsecond') "
        "  ON CONFLICT (bot_id, update_id) DO NOTHING RETURNING 1) "
        "INSERT INTO outbox (", crm::events::kOutboxColumns, ") SELECT ", values, " FROM ins"));
  }();
  return *sql;
}
// StoreSql for many updates in one statement (group_commit.h): the same writes over arrays, a redelivery
// within the batch once (DISTINCT ON keeps its first). RETURNING gives the event ids of the new updates.
const std::string& StoreManySql() {
  static const std::string* sql = [] {
    std::string arrays, names, outbox_names;
    for (size_t i = 0; i < std::size(crm::events::kOutboxColumnTypes); ++i) {
      absl::StrAppend(&arrays, ", $", 6 + i, "::", crm::events::kOutboxColumnTypes[i], "[]");
      absl::StrAppend(&names, ", o", i);
      absl::StrAppend(&outbox_names, i == 0 ? "" : ", ", "o", i);
    }
    return new std::string(absl::StrCat(
        "WITH input AS (SELECT DISTINCT ON (bot_id, update_id) * FROM unnest($1::uuid[], $2::bigint[], "
        "  $3::bigint[], $4::text[], $5::bigint[]", arrays, ") WITH ORDINALITY AS t(bot_id, update_id, chat_id, "
        "  payload, micros", names, ", n) ORDER BY bot_id, update_id, n), "
        "ins AS (INSERT INTO tg_updates (bot_id, update_id, chat_id, payload, received_at) "
        "  SELECT bot_id, update_id, chat_id, payload::jsonb, to_timestamp(0) + micros * interval '1 microsecond' "
        "  FROM input ORDER BY n "
        "  ON CONFLICT (bot_id, update_id) DO NOTHING RETURNING bot_id, update_id) "
        "INSERT INTO outbox (", crm::events::kOutboxColumns, ") SELECT ", outbox_names,
        " FROM input JOIN ins USING (bot_id, update_id) ORDER BY input.n RETURNING id::text"));
  }();
  return *sql;
}

constexpr char kBotByHook[] = "SELECT id::text, secret_sealed FROM tg_bots WHERE hook = $1";

}  // namespace

absl::StatusOr<bool> StoreUpdate(pqxx::transaction_base& tx, crm::events::OutboxWriter& outbox,
                                 std::string_view bot_id, const Update& update, absl::Time now) {
  const int64_t micros = absl::ToUnixMicros(now);
  crm::dialogs::v1::UpdateReceived event;
  event.set_bot_id(std::string(bot_id));
  event.set_update_id(update.update_id);
  event.set_chat_id(update.chat_id);
  *event.mutable_receive_time() = crm::ToProtoTimestamp(now);
  crm::common::v1::Principal actor;
  actor.set_kind(crm::common::v1::Principal::KIND_SERVICE);
  actor.set_service("dialogs");
  CRM_ASSIGN_OR_RETURN(std::vector<std::string> row,
                       outbox.Row({.aggregate_type = crm::dialogs::v1::kUpdateAggregate,
                                   .aggregate_id = absl::StrCat(crm::AsAbsl(bot_id), ":", update.chat_id),
                                   .type = crm::dialogs::v1::kUpdateReceivedType,
                                   .payload = &event,
                                   .actor = actor}));
  pqxx::result stored = crm::pg::ExecPrepared(tx, StoreSql(), std::string(bot_id), update.update_id, update.chat_id,
                                              update.raw, micros, row[0], row[1], row[2], row[3], row[4], row[5],
                                              row[6], row[7]);
  if (stored.affected_rows() == 0) return false;  // a redelivery: stored before, no second effect
  crm::events::WakeRelayAtCommit(tx);
  return true;
}

absl::StatusOr<std::vector<bool>> StoreUpdates(pqxx::transaction_base& tx, crm::events::OutboxWriter& outbox,
                                                const std::vector<BotUpdate>& updates, absl::Time now) {
  const int64_t micros = absl::ToUnixMicros(now);
  crm::common::v1::Principal actor;
  actor.set_kind(crm::common::v1::Principal::KIND_SERVICE);
  actor.set_service("dialogs");
  std::vector<std::string> bots, ids, chats, payloads, times;
  std::vector<std::vector<std::string>> columns(std::size(crm::events::kOutboxColumnTypes));
  for (const BotUpdate& u : updates) {
    crm::dialogs::v1::UpdateReceived event;
    event.set_bot_id(std::string(u.bot_id));
    event.set_update_id(u.update->update_id);
    event.set_chat_id(u.update->chat_id);
    *event.mutable_receive_time() = crm::ToProtoTimestamp(now);
    CRM_ASSIGN_OR_RETURN(std::vector<std::string> row,
                         outbox.Row({.aggregate_type = crm::dialogs::v1::kUpdateAggregate,
                                     .aggregate_id = absl::StrCat(crm::AsAbsl(u.bot_id), ":", u.update->chat_id),
                                     .type = crm::dialogs::v1::kUpdateReceivedType,
                                     .payload = &event,
                                     .actor = actor}));
    bots.emplace_back(u.bot_id);
    ids.push_back(absl::StrCat(u.update->update_id));
    chats.push_back(absl::StrCat(u.update->chat_id));
    payloads.push_back(u.update->raw);
    times.push_back(absl::StrCat(micros));
    for (size_t c = 0; c < columns.size(); ++c) columns[c].push_back(std::move(row[c]));
  }
  using crm::pg::ArrayLiteral;
  pqxx::result r = crm::pg::ExecPrepared(
      tx, StoreManySql(), ArrayLiteral(bots), ArrayLiteral(ids), ArrayLiteral(chats), ArrayLiteral(payloads),
      ArrayLiteral(times), ArrayLiteral(columns[0]), ArrayLiteral(columns[1]), ArrayLiteral(columns[2]),
      ArrayLiteral(columns[3]), ArrayLiteral(columns[4]), ArrayLiteral(columns[5]), ArrayLiteral(columns[6]),
      ArrayLiteral(columns[7]));
  if (!r.empty()) crm::events::WakeRelayAtCommit(tx);
  absl::flat_hash_set<std::string> fresh;
  for (const pqxx::row& row : r) fresh.insert(row[0].as<std::string>());
  std::vector<bool> out;
  for (const std::string& id : columns[0]) out.push_back(fresh.contains(id));
  return out;
}

WebhookIntake::WebhookIntake(crm::pg::Pool& pool, crm::events::OutboxWriter& outbox, const SecretBox& box,
                             const crm::Clock& clock, GroupCommitOptions group_commit)
    : pool_(pool), outbox_(outbox), box_(box), clock_(clock), group_(pool, outbox, clock, group_commit) {}

absl::StatusOr<WebhookIntake::Bot> WebhookIntake::Find(std::string_view hook) {
  {
    absl::MutexLock lock(&mu_);
    if (auto it = bots_.find(std::string(hook)); it != bots_.end()) return it->second;
  }
  Bot bot;
  bool found = false;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    pqxx::result r = crm::pg::ExecPrepared(tx, kBotByHook, std::string(hook));
    if (r.empty()) return absl::OkStatus();
    found = true;
    bot.id = r[0][0].as<std::string>();
    CRM_ASSIGN_OR_RETURN(bot.secret, box_.Open(absl::StrCat("tg_bots.secret/", bot.id), r[0][1].as<std::string>()));
    return absl::OkStatus();
  }));
  if (!found) return absl::NotFoundError("no such hook");
  absl::MutexLock lock(&mu_);
  bots_.emplace(std::string(hook), bot);  // a hook and its secret never change; unknown hooks are not kept
  return bot;
}

absl::StatusOr<bool> WebhookIntake::Receive(std::string_view hook, std::string_view secret, std::string_view body) {
  GroupCommit::Arrival arrival = group_.Enter();  // a batch being gathered waits for this delivery
  // One refusal for an unknown hook and a wrong secret: a prober learns nothing from the difference.
  const absl::Status refused = absl::PermissionDeniedError("webhook: unknown hook or wrong secret token");
  if (hook.empty() || hook.size() > 64 || secret.empty()) return refused;
  absl::StatusOr<Bot> bot = Find(hook);
  if (absl::IsNotFound(bot.status())) return refused;
  if (!bot.ok()) return bot.status();
  if (!ConstantTimeEquals(secret, bot->secret)) return refused;
  last_delivery_micros_.store(absl::ToUnixMicros(clock_.Now()), std::memory_order_relaxed);
  if (body.size() > kMaxUpdateBytes) {
    return crm::InvalidFieldError("body", absl::StrCat("at most ", kMaxUpdateBytes, " bytes"));
  }
  CRM_ASSIGN_OR_RETURN(Update update, ParseUpdate(body));
  return arrival.Store(bot->id, update);  // answered once the batch holding it committed
}

}  // namespace crm::dialogs::telegram
