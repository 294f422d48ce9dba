// File: services/dialogs/scenarios/validate.h
// -----------------------------------------------------------------------------
// Validation of a scenario definition (T3), naming EVERY problem at once with proto-spelled paths
// ("scenario.stages[2].keys[0].actions[1].stage"). Errors refuse a write; warnings are reported by
// ValidateScenario and written anyway.
//   errors: missing bot, name or first stage; more than one first stage; a stage code empty or repeated;
//     an unknown stage in GO_TO_STAGE; actions after one that ends its list; a go-to cycle through entry
//     actions (no input in between: "a cycle without input"); callback data empty or over 64 bytes; a
//     request_contact button in an inline keyboard; callback data on a reply keyboard; a key without
//     values, or a value two keys of a stage share; out-of-range pauses, attempts, periods (working hours are the bot's: hours.h).
//   warnings: a stage no go-to reaches from the first (unreachable); timeout actions without a period.
#ifndef CRM_SERVICES_DIALOGS_SCENARIOS_VALIDATE_H_
#define CRM_SERVICES_DIALOGS_SCENARIOS_VALIDATE_H_

#include <vector>

#include "absl/status/status.h"
#include "crm/dialogs/v1/scenarios.pb.h"

namespace crm::dialogs::scenarios {

inline constexpr int kMaxCallbackDataBytes = 64;   // Telegram's InlineKeyboardButton.callback_data
inline constexpr int kMaxPauseSeconds = 86400;
inline constexpr int kMaxPeriodSeconds = 7 * 86400;
inline constexpr int kMaxTextBytes = 4096;         // Telegram's message text
inline constexpr int kMaxStages = 500;

// Every problem of `scenario`, errors and warnings, in the order of the document; paths start with
// `prefix` ("scenario").
std::vector<crm::dialogs::v1::Problem> Validate(const crm::dialogs::v1::Scenario& scenario,
                                                std::string_view prefix = "scenario");

// INVALID_ARGUMENT with every error of `problems` (crm::InvalidFieldsError), OK when there is none.
absl::Status ErrorsAsStatus(const std::vector<crm::dialogs::v1::Problem>& problems);

}  // namespace crm::dialogs::scenarios

#endif  // CRM_SERVICES_DIALOGS_SCENARIOS_VALIDATE_H_
