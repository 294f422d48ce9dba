#include "services/dialogs/telegram/sender.h"

#include <pqxx/pqxx>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/log/log.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
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

// The last sends (at most the limit's N) of a bot or a chat, oldest first.
struct Window {
  std::deque<absl::Time> sent;
  bool changed = false;
  // When the next send may go under "at most n in any `window`".
  absl::Time ReadyAt(int n, absl::Duration window, absl::Duration margin) const {
    return static_cast<int>(sent.size()) < n ? absl::InfinitePast() : sent.front() + window + margin;
  }
  void Take(absl::Time now, int n) {
    sent.push_back(now);
    while (static_cast<int>(sent.size()) > n) sent.pop_front();
    changed = true;
  }
};

// The pace key of the bot itself in tg_send_paces.
constexpr int64_t kBotPace = 0;

// tg_send_paces' rows of the bot and of `chats` (sql::kPaces), by chat (kBotPace: the bot). Every key is
// present (empty when never sent), so references into the map stay valid while a pass uses it.
absl::flat_hash_map<int64_t, Window> LoadPaces(pqxx::transaction_base& tx, const std::string& bot_id,
                                               const std::vector<int64_t>& chats) {
  std::vector<std::string> keys = {absl::StrCat(kBotPace)};
  absl::flat_hash_map<int64_t, Window> paces;
  paces[kBotPace];
  for (int64_t c : chats) {
    keys.push_back(absl::StrCat(c));
    paces[c];
  }
  for (const pqxx::row& r : crm::pg::ExecPrepared(tx, sql::kPaces, bot_id, crm::pg::ArrayLiteral(keys))) {
    Window& w = paces[r[0].as<int64_t>()];
    for (absl::string_view micros : absl::StrSplit(r[1].as<std::string>(), ',', absl::SkipEmpty())) {
      int64_t v = 0;
      if (absl::SimpleAtoi(micros, &v)) w.sent.push_back(absl::FromUnixMicros(v));
    }
  }
  return paces;
}

// Writes back the paces a pass changed (sql::kSavePaces).
void SavePaces(pqxx::transaction_base& tx, const std::string& bot_id,
               const absl::flat_hash_map<int64_t, Window>& paces) {
  std::vector<std::string> chats, sent;
  for (const auto& [chat, w] : paces) {
    if (!w.changed) continue;
    chats.push_back(absl::StrCat(chat));
    sent.push_back(absl::StrJoin(w.sent, ",", [](std::string* out, absl::Time t) {
      absl::StrAppend(out, absl::ToUnixMicros(t));
    }));
  }
  if (chats.empty()) return;
  crm::pg::ExecPrepared(tx, sql::kSavePaces, bot_id, crm::pg::ArrayLiteral(chats), crm::pg::ArrayLiteral(sent));
}

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
    std::vector<int64_t> head_chats;
    head_chats.reserve(heads.size());
    for (const Row& row : heads) head_chats.push_back(row.chat_id);
    // Every replica's sends so far (read under the bot's lock), and this pass's written back with its rows.
    absl::flat_hash_map<int64_t, Window> paces = LoadPaces(tx, bot_id, head_chats);
    Window& bot = paces.at(kBotPace);
    auto bot_ready = [&] { return bot.ReadyAt(limits_.per_bot, limits_.bot_window, limits_.margin); };
    for (const Row& row : heads) {
      const bool group = row.chat_id < 0;
      const int n = group ? limits_.per_group : limits_.per_chat;
      const absl::Duration window = group ? limits_.group_window : limits_.chat_window;
      Window& chat = paces.at(row.chat_id);
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
    SavePaces(tx, bot_id, paces);
    return absl::OkStatus();
  }, {.max_attempts = 1}));  // never again: the pass talked to Telegram
  return next;
}

}  // namespace crm::dialogs::telegram
