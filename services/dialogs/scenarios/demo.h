// File: services/dialogs/scenarios/demo.h
// -----------------------------------------------------------------------------
// The seed's flow for the demo bot (seed 004 «Операции чат-бота Telegram»; T3): /start → a greeting and
// a request for the phone (a request_contact button) → the topic menu («Покупка квартиры», «Ипотека»,
// «Обращение в сервисную службу», «Другой вопрос») → set the topic, distribute by project and topic, the
// «Сообщение ожидания ответа» stage (the bot's part ends). Unrecognised keys in the menu: one attempt, then
// «Обращения к ГПП»; no answer for 30 minutes: the same. Texts clients read are data, in Russian.
#ifndef CRM_SERVICES_DIALOGS_SCENARIOS_DEMO_H_
#define CRM_SERVICES_DIALOGS_SCENARIOS_DEMO_H_

#include "absl/status/status.h"
#include "crm/dialogs/v1/scenarios.pb.h"

namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::dialogs::scenarios {

// The demo bot's id: the telegram part's demo bot is installed under it.
inline constexpr char kDemoBotId[] = "00000000-0000-7000-8000-00000000b075";
// The demo scenario's id (fixed, so `crm-dialogs demo` is repeatable).
inline constexpr char kDemoScenarioId[] = "00000000-0000-7000-8000-0000000005c0";
// The stage codes of the demo.
inline constexpr char kStageGreeting[] = "000000001";
inline constexpr char kStageTopic[] = "000000008";
inline constexpr char kStageWaiting[] = "000000009";

// The demo scenario (definition only: no id, version or times).
crm::dialogs::v1::Scenario DemoScenario();

// Installs the demo scenario as the demo bot's active one, once (a second run changes nothing).
absl::Status InstallDemoScenario(crm::pg::Pool& pool);

}  // namespace crm::dialogs::scenarios

#endif  // CRM_SERVICES_DIALOGS_SCENARIOS_DEMO_H_
