// File: services/dialogs/scenarios/spam.h
// -----------------------------------------------------------------------------
// The spam list (T4; seed 004 «Стоп-действия»: "the client goes to the spam list in the CRM; a
// conversation with a client from the spam list is not started again"): per bot, keyed by the client's
// Telegram user id. MARK_SPAM adds to it in the runner's transaction (runner.h); the inbox asks Contains
// before it opens a dialog; supervisors list it and the administrator takes a client off it (ScenarioService).
#ifndef CRM_SERVICES_DIALOGS_SCENARIOS_SPAM_H_
#define CRM_SERVICES_DIALOGS_SCENARIOS_SPAM_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/dialogs/v1/scenarios.pb.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::dialogs::scenarios {

class SpamList {
 public:
  explicit SpamList(crm::pg::Pool& pool) : pool_(pool) {}

  // A bot's entries, newest first; the page rule and keyset tokens.
  absl::StatusOr<crm::dialogs::v1::ListSpamResponse> List(const crm::dialogs::v1::ListSpamRequest& req);
  // Takes a client off a bot's list; NOT_FOUND when they are not on it.
  absl::Status Remove(const crm::dialogs::v1::RemoveSpamRequest& req);

  // In the caller's transaction: puts (bot, client) on the list (a second time changes nothing).
  static absl::Status Add(pqxx::transaction_base& tx, std::string_view bot_id, std::string_view client_key,
                          std::string_view dialog_id, absl::Time now);
  static absl::StatusOr<bool> Contains(pqxx::transaction_base& tx, std::string_view bot_id,
                                       std::string_view client_key);

 private:
  crm::pg::Pool& pool_;
};

}  // namespace crm::dialogs::scenarios

#endif  // CRM_SERVICES_DIALOGS_SCENARIOS_SPAM_H_
