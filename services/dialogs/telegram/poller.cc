#include "services/dialogs/telegram/poller.h"

#include <pqxx/pqxx>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/log/log.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "services/dialogs/telegram/bot_api.h"
#include "services/dialogs/telegram/intake.h"

namespace crm::dialogs::telegram {
namespace {

constexpr char kOffset[] = "SELECT poll_offset FROM tg_bots WHERE id = $1::uuid";
constexpr char kSetOffset[] = "UPDATE tg_bots SET poll_offset = GREATEST(poll_offset, $2) WHERE id = $1::uuid";

}  // namespace

Poller::Poller(crm::pg::Pool& pool, const BotApi& api, crm::events::OutboxWriter& outbox, const crm::Clock& clock)
    : pool_(pool), api_(api), outbox_(outbox), clock_(clock) {}

absl::StatusOr<PollResult> Poller::PollOnce(const std::string& bot_id, const std::string& token,
                                            absl::Duration timeout) {
  int64_t offset = 0;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    pqxx::result r = crm::pg::ExecPrepared(tx, kOffset, bot_id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("bot ", bot_id, " not found"));
    offset = r[0][0].as<int64_t>();
    return absl::OkStatus();
  }));
  nlohmann::json params = {{"limit", 100}, {"timeout", absl::ToInt64Seconds(timeout)}};
  if (offset > 0) params["offset"] = offset;
  CRM_ASSIGN_OR_RETURN(ApiReply reply, api_.Call(token, "getUpdates", params, timeout));
  if (!reply.ok) {
    if (reply.error_code == 409) return absl::FailedPreconditionError("getUpdates: " + reply.description);
    return absl::UnavailableError(absl::StrCat("getUpdates: ", reply.error_code, " ", reply.description));
  }
  if (!reply.result.is_array()) return absl::UnavailableError("getUpdates: the result is not an array");
  PollResult out;
  out.received = static_cast<int>(reply.result.size());
  if (out.received == 0) return out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    out.stored = 0;
    int64_t next = offset;
    const absl::Time now = clock_.Now();
    for (const nlohmann::json& raw : reply.result) {
      absl::StatusOr<Update> u = ParseUpdate(raw.dump());
      if (!u.ok()) {
        // Confirmed all the same: an update that can never parse would stop the bot's intake forever.
        crm::log::Warn("telegram update skipped", {{"bot_id", bot_id}, {"error", std::string(u.status().message())}});
        if (raw.is_object() && raw.contains("update_id") && raw["update_id"].is_number_integer()) {
          next = std::max(next, raw["update_id"].get<int64_t>() + 1);
        }
        continue;
      }
      CRM_ASSIGN_OR_RETURN(bool inserted, StoreUpdate(tx, outbox_, bot_id, *u, now));
      out.stored += inserted ? 1 : 0;
      next = std::max(next, u->update_id + 1);
    }
    crm::pg::ExecPrepared(tx, kSetOffset, bot_id, next);
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace crm::dialogs::telegram
