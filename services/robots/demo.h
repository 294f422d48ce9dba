// File: services/robots/demo.h
// -----------------------------------------------------------------------------
// The demo rules: the automations of seeds 001 and 002 on deals' demo pipelines (services/deals/demo.h),
// so that `tools/crm up` shows robots working. Every rule has a fixed UUID; installing is idempotent,
// brings a demo rule nobody edited up to its definition here, and keeps any edits made since
// (RuleStore::Install).
//
// Seed 001 («Первичная обработка»):
//   §1.1 first contact: 15 min in «Неразобранное» with no touch → tag «Жёлтое предупреждение»; 30 min →
//        task «Срочно связаться» + notify the head of sales (РОП); cancelled by a touch or a stage move
//   §1.2 24 h after creation fewer than 3 touches → notify the manager + comment «Недостаточно касаний»
//   §1.4 every working day at 19:00: deals with no open task, no comment in their stage, or still in
//        «Неразобранное» → one report to the РОП
//   §2.1 30 min in «Квалификация» → tag «Жёлтое предупреждение»; 2 h → notify the РОП
//   §2.2 36 h in «Квалификация» without a move → notify the РОП (a violation for the report)
//   §3.1 24 h before «Дата визита» → task «Подтвердить визит»
//   §3.2 «Срыв визита» → «Назначено» / «Успешно»: «Возврат» = Да and the manager's returns counter + 1
//   §2.4 weekly (Monday 09:00) conversion «Квалификация» → «Назначено» below 40 % → notify the РОП
//   §4   weekly, per manager over 30 days: fewer than 40 records («Назначено») or revenue under the plan of
//        40 000 000 сум (the measure's currency UZS: wins in other currencies do not count) → the manager
//        and the РОП notified with the figures («выручка 12 500 000 сум из 40 000 000 сум»)
// Seed 000 §5.5: a deal won in «Первичная обработка» («Успешно») is handed over as a copy into «Продажа»
// («Новая заявка») with its client, contacts, amount and tags; the source stays.
// Seed 000 §5.7: a sale won («Сделка успешна») is copied into «Счета/закупки» and, when it has a delivery
// address, into «Логистика» — the company, its contacts (the main one marked), the products, «Реквизиты»,
// «Адрес доставки» (and «Срок поставки» for logistics), the manager kept.
// Seed 000 §5.8: «Активация услуги» in «Инженеры» copies the deal into «Повторные продажи» («Новый запрос»)
// for the current account manager (the deal's responsible at the time) with the company, contacts,
// products and «Пакет услуг» — at once (upsell) and again 330 days later (renewal), unless cancelled.
// Seed 002 («Продажа»): every robot's task has the seed's Постановщик — the head of sales (creator
// "role:head_of_sales"), or the manager for «Отгрузить товар клиенту» — and a working-time deadline:
//   «Новая заявка» notify managers; «Взят в работу» task «Проверить товарные позиции» (1 h); «КП» task
//   «Отправить КП клиенту» (1 h)
//   the КП loop, one open «…обратная связь по КП» task at a time: «Отправить КП клиенту» done →
//   «Связаться с клиентом, получить обратную связь по КП» (1 working day); «Статус КП» = «Не согласовано»
//   closes it (the feedback came) and sets «Отработать возражение, переформировать КП»; that done →
//   «Связаться …» again, until «Согласовано» closes it
//   document thresholds when «Статус КП» = «Согласовано»: > 500 000 ₽ task «Подготовить договор и счёт»,
//   > 150 000 ₽ «Подготовить счёт-договор», otherwise «Подготовить счёт» (2 working days)
//   «Взят в работу»: a Telegram message to the client naming their manager, phone and e-mail
//   «Счет»: «Отправить Счет, Договор на согласование внутри компании» (1 working day) and «Получить
//   оплату от клиента» (2 working days); that overdue (не оплачен) → closed, «Отработать возражение,
//   переформировать Счет»; that done → «Получить оплату от клиента» again
//   «Запуск реализации сделки», «Принят» (packing, the payment-schedule check, shipping), «К отгрузке»
//   («Проконтролировать отгрузку-доставку»), «Отгружен/Доставлен» (the acts of work done and the УПД,
//   signed, 1 working day each): their control tasks
//   «Сделка успешна»: the client's feedback request, and the conversion into «Инженеры» (a copy)
// Seed 001 §3.1 again: 3 h before the visit with no «Комментарий о подтверждении» → notify the manager
//
// Example:
//   CRM_RETURN_IF_ERROR(crm::robots::InstallDemoRules(rules));
#ifndef CRM_SERVICES_ROBOTS_DEMO_H_
#define CRM_SERVICES_ROBOTS_DEMO_H_

#include <vector>

#include "absl/status/status.h"
#include "crm/robots/v1/robots.pb.h"

namespace crm::robots {

class RuleStore;

// The demo rules with their fixed ids (see the file comment).
std::vector<crm::robots::v1::Rule> DemoRules();

// Installs whatever of DemoRules() is missing or, unedited, differs from its definition here.
absl::Status InstallDemoRules(RuleStore& rules);

}  // namespace crm::robots

#endif  // CRM_SERVICES_ROBOTS_DEMO_H_
