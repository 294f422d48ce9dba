#include "services/dialogs/telegram/sender.h"

#include <pqxx/pqxx>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/log/log.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "services/dialogs/telegram/sql.h"
#include "services/dialogs/telegram/bot_api.h"
#include "services/dialogs/telegram/outgoing.h"
#include "services/dialogs/telegram/secrets.h"

namespace crm::dialogs::telegram {
namespace {

// pg_try_advisory_xact_lock(kSenderLockClass, hashtext(bot id)): one sender per bot.
constexpr int kSenderLockClass = 0x7467'5301;  // "tgS\1"

constexpr char kLock[] = "SELECT pg_try_advisory_xact_lock($1, hashtext($2))";
constexpr char kToken[] = "SELECT token_sealed FROM tg_bots WHERE id = $1::uuid";
// The head of each chat's queue of messages (callbacks apart).
constexpr char kSent[] =
    "UPDATE tg_outgoing SET state = 'sent', telegram_message_id = $2, attempts = attempts + 1, "
    "sent_time = to_timestamp(0) + $3 * interval '1 microsecond', "
    "update_time = to_timestamp(0) + $3 * interval '1 microsecond' WHERE id = $1::uuid";
constexpr char kFailed[] =
    "UPDATE tg_outgoing SET state = 'failed', error_code = $2, error = $3, attempts = attempts + 1, "
    "update_time = to_timestamp(0) + $4 * interval '1 microsecond' WHERE id = $1::uuid";
constexpr char kHold[] =
    "UPDATE tg_outgoing SET not_before = to_timestamp(0) + $2 * interval '1 microsecond', "
    "attempts = attempts + 1, error_code = $3, error = $4, "
    "update_time = to_timestamp(0) + $5 * interval '1 microsecond' WHERE id = $1::uuid";
constexpr char kMigrateQueue[] =
    "UPDATE tg_outgoing SET chat_id = $3 WHERE bot_id = $1::uuid AND chat_id = $2 AND state = 'queued'";
constexpr char kMigrateChat[] =
    "INSERT INTO tg_chats (bot_id, chat_id, migrated_to) VALUES ($1::uuid, $2, $3) "
    "ON CONFLICT (bot_id, chat_id) DO UPDATE SET migrated_to = EXCLUDED.migrated_to";

struct Row {
  std::string id;
  int64_t chat_id;
  std::string method;
  std::string payload;
  int attempts;
  absl::Time not_before;
};

std::vector<Row> Rows(const pqxx::result& r) {
  std::vector<Row> rows;
  rows.reserve(r.size());
  for (const pqxx::row& x : r) {
    rows.push_back({x[0].as<std::string>(), x[1].as<int64_t>(), x[2].as<std::string>(), x[3].as<std::string>(),
                    x[4].as<int>(), absl::FromUnixMicros(x[5].as<int64_t>())});
  }
  return rows;
}

}  // namespace

Sender::Sender(crm::pg::Pool& pool, const BotApi& api, const SecretBox& box, Outgoing& outgoing,
               SenderLimits limits)
    : pool_(pool), api_(api), box_(box), outgoing_(outgoing), limits_(limits) {}

absl::StatusOr<absl::Time> Sender::SendDue(const std::string& bot_id) {
  absl::MutexLock lock(&mu_);
  const crm::Clock& clock = outgoing_.clock();
  absl::Time next = absl::InfiniteFuture();
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    next = absl::InfiniteFuture();
    if (!crm::pg::ExecPrepared1(tx, kLock, kSenderLockClass, bot_id)[0].as<bool>()) {
      next = clock.Now() + absl::Seconds(1);  // another replica sends for this bot
      return absl::OkStatus();
    }
    pqxx::result token_row = crm::pg::ExecPrepared(tx, kToken, bot_id);
    if (token_row.empty()) return absl::NotFoundError(absl::StrCat("bot ", bot_id, " not found"));
    CRM_ASSIGN_OR_RETURN(std::string token,
                         box_.Open(absl::StrCat("tg_bots.token/", bot_id), token_row[0][0].as<std::string>()));
    const absl::Time now = clock.Now();

    // What Telegram answered, as the row's next state. Returns the chat's hold when there is one.
    auto settle = [&](const Row& row, const absl::StatusOr<ApiReply>& reply, absl::Time now) -> absl::Status {
      OutgoingChange c{.id = row.id, .bot_id = bot_id, .chat_id = row.chat_id, .method = row.method,
                       .not_before = now, .time = now};
      if (!reply.ok()) {
        if (row.attempts + 1 >= limits_.max_attempts) {
          crm::pg::ExecPrepared(tx, kFailed, row.id, 0, std::string(reply.status().message()),
                                absl::ToUnixMicros(now));
          c.state = "failed";
        } else {
          const absl::Duration backoff = std::min(absl::Seconds(60), absl::Seconds(int64_t{1} << std::min(row.attempts, 6)));
          c.not_before = now + backoff;
          crm::pg::ExecPrepared(tx, kHold, row.id, absl::ToUnixMicros(c.not_before), 0,
                                std::string(reply.status().message()), absl::ToUnixMicros(now));
          c.state = "retrying";
        }
        c.error = std::string(reply.status().message());
      } else if (reply->ok) {
        int64_t message_id = 0;
        if (reply->result.is_object() && reply->result.contains("message_id") &&
            reply->result["message_id"].is_number_integer()) {
          message_id = reply->result["message_id"].get<int64_t>();
        }
        crm::pg::ExecPrepared(tx, kSent, row.id, message_id, absl::ToUnixMicros(now));
        c.state = "sent";
        c.telegram_message_id = message_id;
      } else if (reply->error_code == 429 && reply->retry_after > 0) {
        // Wait exactly retry_after; the chat's later messages wait behind this one.
        c.not_before = now + absl::Seconds(reply->retry_after);
        crm::pg::ExecPrepared(tx, kHold, row.id, absl::ToUnixMicros(c.not_before), 429, reply->description,
                              absl::ToUnixMicros(now));
        c.state = "retrying";
        c.error_code = 429;
        c.error = reply->description;
      } else if (reply->migrate_to_chat_id != 0) {
        crm::pg::ExecPrepared(tx, kHold, row.id, absl::ToUnixMicros(now), reply->error_code, reply->description,
                              absl::ToUnixMicros(now));
        crm::pg::ExecPrepared(tx, kMigrateQueue, bot_id, row.chat_id, reply->migrate_to_chat_id);
        crm::pg::ExecPrepared(tx, kMigrateChat, bot_id, row.chat_id, reply->migrate_to_chat_id);
        c.state = "retrying";
        c.chat_id = reply->migrate_to_chat_id;
        c.error_code = reply->error_code;
        c.error = reply->description;
      } else {
        crm::pg::ExecPrepared(tx, kFailed, row.id, reply->error_code, reply->description, absl::ToUnixMicros(now));
        c.state = "failed";
        c.error_code = reply->error_code;
        c.error = reply->description;
      }
      return outgoing_.Changed(tx, c);
    };
    auto call = [&](const Row& row) -> absl::StatusOr<ApiReply> {
      nlohmann::json params = nlohmann::json::parse(row.payload);
      if (row.method != kAnswerCallbackQuery) params["chat_id"] = row.chat_id;
      return api_.Call(token, row.method, params);
    };

    // Callbacks first: every callback_query answered, whatever the chats' pace.
    for (const Row& row : Rows(crm::pg::ExecPrepared(tx, sql::kCallbacks, bot_id, absl::ToUnixMicros(now), limits_.batch))) {
      const absl::Time at = clock.Now();
      CRM_RETURN_IF_ERROR(settle(row, call(row), at));
    }
    if (!crm::pg::ExecPrepared(tx, sql::kCallbacks, bot_id, absl::ToUnixMicros(now), 1).empty()) next = now;

    std::vector<Row> heads = Rows(crm::pg::ExecPrepared(tx, sql::kHeads, bot_id));
    std::sort(heads.begin(), heads.end(), [](const Row& a, const Row& b) { return a.id < b.id; });
    Window& bot = bots_[bot_id];
    auto& chats = chats_[bot_id];
    auto bot_ready = [&] { return bot.ReadyAt(limits_.per_bot, limits_.bot_window, limits_.margin); };
    for (const Row& row : heads) {
      const bool group = row.chat_id < 0;
      const int n = group ? limits_.per_group : limits_.per_chat;
      const absl::Duration window = group ? limits_.group_window : limits_.chat_window;
      Window& chat = chats[row.chat_id];
      const absl::Time chat_ready = std::max(row.not_before, chat.ReadyAt(n, window, limits_.margin));
      // Each send is timed as it starts: a pass sending many takes a while, and the windows must hold
      // for the times Telegram sees.
      const absl::Time at = std::max(now, clock.Now());
      if (chat_ready > at || bot_ready() > at) {
        next = std::min(next, std::max(chat_ready, bot_ready()));
        continue;
      }
      chat.Take(at, n);
      bot.Take(at, limits_.per_bot);
      CRM_RETURN_IF_ERROR(settle(row, call(row), at));
      // The chat's next row (or this one again after a hold) is due no sooner than its window allows.
      next = std::min(next, std::max(chat.ReadyAt(n, window, limits_.margin), bot_ready()));
    }
    return absl::OkStatus();
  }, {.max_attempts = 1}));  // never again: the pass talked to Telegram
  // Paces of chats idle for long are forgotten (the map stays as big as the active chats).
  auto& chats = chats_[bot_id];
  if (chats.size() > 10000) {
    const absl::Time now = clock.Now();
    const absl::Duration longest = std::max(limits_.chat_window, limits_.group_window) + limits_.margin;
    absl::erase_if(chats, [&](const auto& kv) { return kv.second.sent.empty() || kv.second.sent.back() < now - longest; });
  }
  return next;
}

}  // namespace crm::dialogs::telegram
