#include "services/robots/demo.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/util/json_util.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "proto/crm/common/v1/common.pb.h"
#include "services/robots/rule_store.h"

namespace crm::robots {
namespace {

// The rules as crm.robots.v1.Rule JSON. $LEAD / $SALES / $ENG are the demo pipelines' id prefixes
// (services/deals/demo.h): pipeline "<prefix>00", stage NN "<prefix>NN".
constexpr char kDemoRulesJson[] = R"json([
{"id": "01930000-0100-7000-8000-000000000001", "name": "Первый контакт: жёлтое предупреждение (15 минут)",
 "description": "Seed 001 §1.1: новый лид 15 минут в «Неразобранном» без касания.", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$LEAD00", "stageId": "$LEAD01"},
 "delay": {"duration": "900s", "cancelWhen": {"any": {"items": [
    {"predicate": {"field": "stage_id", "op": "NE", "values": ["$LEAD01"]}},
    {"predicate": {"field": "counter.touches", "op": "GE", "values": ["1"]}}]}}},
 "actions": [{"addTag": {"tag": "Жёлтое предупреждение"}},
             {"addComment": {"text": "Жёлтое предупреждение: нет первого контакта 15 минут."}}]},
{"id": "01930000-0100-7000-8000-000000000002", "name": "Первый контакт: срочно связаться (30 минут)",
 "description": "Seed 001 §1.1: 30 минут без касания — задача и уведомление РОПу.", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$LEAD00", "stageId": "$LEAD01"},
 "delay": {"duration": "1800s", "cancelWhen": {"any": {"items": [
    {"predicate": {"field": "stage_id", "op": "NE", "values": ["$LEAD01"]}},
    {"predicate": {"field": "counter.touches", "op": "GE", "values": ["1"]}}]}}},
 "actions": [{"createTask": {"title": "Срочно связаться", "kind": "call", "dueIn": "900s"}},
             {"notify": {"channels": ["IN_APP", "EMAIL", "TELEGRAM"], "recipients": ["role:head_of_sales"],
                         "subject": "Нет первого контакта: {deal.name}",
                         "text": "Сделка «{deal.name}» 30 минут без первого контакта. Ответственный: {responsible.name}. {deal.url}"}}]},
{"id": "01930000-0100-7000-8000-000000000003", "name": "Недостаточно касаний (24 часа)",
 "description": "Seed 001 §1.2: через 24 часа после создания меньше 3 касаний (звонки + сообщения).", "enabled": true,
 "trigger": {"kind": "DEAL_CREATED", "pipelineId": "$LEAD00"},
 "delay": {"duration": "86400s"},
 "condition": {"predicate": {"field": "counter.touches", "op": "LT", "values": ["3"]}},
 "actions": [{"notify": {"channels": ["IN_APP"], "recipients": ["responsible"],
                         "subject": "Недостаточно касаний: {deal.name}",
                         "text": "По сделке «{deal.name}» меньше трёх касаний за сутки. {deal.url}"}},
             {"addComment": {"text": "Недостаточно касаний"}}]},
{"id": "01930000-0100-7000-8000-000000000004", "name": "Конец дня: отчёт РОПу о нарушениях (19:00)",
 "description": "Seed 001 §1.4, §2.5: сделки без задачи, без комментария или в «Неразобранном».", "enabled": true,
 "trigger": {"kind": "SCHEDULE", "pipelineId": "$LEAD00", "schedule": {"spec": "every working day at 19:00"}},
 "condition": {"any": {"items": [
    {"predicate": {"field": "has_open_task", "op": "EQ", "values": ["false"]}},
    {"predicate": {"field": "has_comment_since_stage", "op": "EQ", "values": ["false"]}},
    {"predicate": {"field": "stage_id", "op": "EQ", "values": ["$LEAD01"]}}]}},
 "actions": [{"notify": {"channels": ["EMAIL", "IN_APP"], "recipients": ["role:head_of_sales"],
                         "subject": "Нарушения за день: {deals.count}",
                         "text": "Сделки без задачи, без комментария или в «Неразобранном»:\n{deals.list}"}}]},
{"id": "01930000-0100-7000-8000-000000000005", "name": "Квалификация: жёлтое предупреждение (30 минут)",
 "description": "Seed 001 §2.1.", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$LEAD00", "stageId": "$LEAD02"},
 "delay": {"duration": "1800s", "cancelWhen": {"any": {"items": [
    {"predicate": {"field": "stage_id", "op": "NE", "values": ["$LEAD02"]}},
    {"predicate": {"field": "counter.touches", "op": "GE", "values": ["1"]}}]}}},
 "actions": [{"addTag": {"tag": "Жёлтое предупреждение"}}]},
{"id": "01930000-0100-7000-8000-000000000006", "name": "Квалификация: уведомление РОПу (2 часа)",
 "description": "Seed 001 §2.1.", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$LEAD00", "stageId": "$LEAD02"},
 "delay": {"duration": "7200s", "cancelWhen": {"any": {"items": [
    {"predicate": {"field": "stage_id", "op": "NE", "values": ["$LEAD02"]}},
    {"predicate": {"field": "counter.touches", "op": "GE", "values": ["1"]}}]}}},
 "actions": [{"notify": {"channels": ["IN_APP", "TELEGRAM"], "recipients": ["role:head_of_sales"],
                         "subject": "Квалификация 2 часа без контакта: {deal.name}",
                         "text": "Сделка «{deal.name}» 2 часа в «Квалификации» без контакта. {deal.url}"}}]},
{"id": "01930000-0100-7000-8000-000000000007", "name": "Квалификация: нарушение 36 часов",
 "description": "Seed 001 §2.2: не переведена в «Назначено» или «Отказ» за 36 часов.", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$LEAD00", "stageId": "$LEAD02"},
 "delay": {"duration": "129600s", "cancelWhen": {"predicate": {"field": "stage_id", "op": "NE", "values": ["$LEAD02"]}}},
 "actions": [{"addTag": {"tag": "Нарушение 36 часов"}},
             {"notify": {"channels": ["IN_APP"], "recipients": ["role:head_of_sales"],
                         "subject": "Нарушение: 36 часов в «Квалификации»",
                         "text": "Сделка «{deal.name}» 36 часов без перевода в «Назначено» или «Отказ». {deal.url}"}}]},
{"id": "01930000-0100-7000-8000-000000000008", "name": "Подтвердить визит (за 24 часа)",
 "description": "Seed 001 §3.1.", "enabled": true,
 "trigger": {"kind": "DATE_FIELD_REACHED", "pipelineId": "$LEAD00", "field": "custom.visit_time", "offset": "-86400s"},
 "condition": {"predicate": {"field": "stage_id", "op": "EQ", "values": ["$LEAD04"]}},
 "actions": [{"createTask": {"title": "Подтвердить визит", "kind": "call", "dueIn": "14400s"}}]},
{"id": "01930000-0100-7000-8000-000000000009", "name": "Возврат срыва визита",
 "description": "Seed 001 §3.2: «Срыв визита» → «Назначено» или «Успешно».", "enabled": true,
 "trigger": {"kind": "STAGE_LEFT", "pipelineId": "$LEAD00", "stageId": "$LEAD05", "toStageIds": ["$LEAD04", "$LEAD06"]},
 "actions": [{"setField": {"field": "custom.returned", "value": "true"}},
             {"incrementCounter": {"name": "returns", "scope": "responsible"}}]},
{"id": "01930000-0100-7000-8000-000000000010", "name": "Новая заявка: уведомить менеджеров",
 "description": "Seed 002, «Новая заявка».", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$SALES00", "stageId": "$SALES01"},
 "actions": [{"notify": {"channels": ["IN_APP"], "recipients": ["role:manager"],
                         "subject": "Новая заявка: {deal.name}", "text": "Взять заявку в работу: {deal.url}"}}]},
{"id": "01930000-0100-7000-8000-000000000011", "name": "Взят в работу: проверить товарные позиции",
 "description": "Seed 002, «Взят в работу».", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$SALES00", "stageId": "$SALES02"},
 "actions": [{"createTask": {"title": "Проверить товарные позиции", "kind": "custom", "dueIn": "3600s", "workingTime": true,
                             "creator": "role:head_of_sales"}}]},
{"id": "01930000-0100-7000-8000-000000000012", "name": "КП: отправить КП клиенту",
 "description": "Seed 002, «КП».", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$SALES00", "stageId": "$SALES03"},
 "actions": [{"createTask": {"title": "Отправить КП клиенту", "kind": "email", "dueIn": "3600s", "workingTime": true,
                             "creator": "role:head_of_sales"}}]},
{"id": "01930000-0100-7000-8000-000000000013", "name": "КП: получить обратную связь",
 "description": "Seed 002: КП отправлено — связаться с клиентом (одна открытая задача за раз).", "enabled": true,
 "trigger": {"kind": "TASK_COMPLETED", "taskTitle": "Отправить КП клиенту"},
 "actions": [{"createTask": {"title": "Связаться с клиентом, получить обратную связь по КП", "kind": "call",
                             "dueIn": "32400s", "workingTime": true, "skipIfOpen": true, "creator": "role:head_of_sales"}}]},
{"id": "01930000-0100-7000-8000-000000000014", "name": "КП не согласовано: отработать возражение",
 "description": "Seed 002: цикл, пока КП не будет согласовано; обратная связь получена — её задача закрыта.", "enabled": true,
 "trigger": {"kind": "FIELD_CHANGED", "pipelineId": "$SALES00", "field": "custom.kp_status"},
 "condition": {"predicate": {"field": "custom.kp_status", "op": "EQ", "values": ["Не согласовано"]}},
 "actions": [{"completeTasks": {"title": "Связаться с клиентом, получить обратную связь по КП", "result": "КП не согласовано"}},
             {"createTask": {"title": "Отработать возражение, переформировать КП", "kind": "follow_up",
                             "dueIn": "32400s", "workingTime": true, "skipIfOpen": true, "creator": "role:head_of_sales"}}]},
{"id": "01930000-0100-7000-8000-000000000015", "name": "КП переформировано: снова обратная связь",
 "description": "Seed 002: возврат на задачу «Связаться с клиентом…» (одна открытая за раз).", "enabled": true,
 "trigger": {"kind": "TASK_COMPLETED", "taskTitle": "Отработать возражение, переформировать КП"},
 "actions": [{"createTask": {"title": "Связаться с клиентом, получить обратную связь по КП", "kind": "call",
                             "dueIn": "32400s", "workingTime": true, "skipIfOpen": true, "creator": "role:head_of_sales"}}]},
{"id": "01930000-0100-7000-8000-000000000016", "name": "Документы: договор и счёт (> 500 000 ₽)",
 "description": "Seed 002: порог документов.", "enabled": true,
 "trigger": {"kind": "FIELD_CHANGED", "pipelineId": "$SALES00", "field": "custom.kp_status"},
 "condition": {"all": {"items": [
    {"predicate": {"field": "custom.kp_status", "op": "EQ", "values": ["Согласовано"]}},
    {"predicate": {"field": "amount", "op": "GT", "values": ["50000000"]}}]}},
 "actions": [{"createTask": {"title": "Подготовить договор и счёт", "kind": "custom", "dueIn": "172800s", "workingTime": true,
                             "creator": "role:head_of_sales"}}]},
{"id": "01930000-0100-7000-8000-000000000017", "name": "Документы: счёт-договор (> 150 000 ₽)",
 "description": "Seed 002: порог документов.", "enabled": true,
 "trigger": {"kind": "FIELD_CHANGED", "pipelineId": "$SALES00", "field": "custom.kp_status"},
 "condition": {"all": {"items": [
    {"predicate": {"field": "custom.kp_status", "op": "EQ", "values": ["Согласовано"]}},
    {"predicate": {"field": "amount", "op": "GT", "values": ["15000000"]}},
    {"predicate": {"field": "amount", "op": "LE", "values": ["50000000"]}}]}},
 "actions": [{"createTask": {"title": "Подготовить счёт-договор", "kind": "custom", "dueIn": "172800s", "workingTime": true,
                             "creator": "role:head_of_sales"}}]},
{"id": "01930000-0100-7000-8000-000000000018", "name": "Документы: счёт (до 150 000 ₽)",
 "description": "Seed 002: порог документов.", "enabled": true,
 "trigger": {"kind": "FIELD_CHANGED", "pipelineId": "$SALES00", "field": "custom.kp_status"},
 "condition": {"all": {"items": [
    {"predicate": {"field": "custom.kp_status", "op": "EQ", "values": ["Согласовано"]}},
    {"not": {"predicate": {"field": "amount", "op": "GT", "values": ["15000000"]}}}]}},
 "actions": [{"createTask": {"title": "Подготовить счёт", "kind": "custom", "dueIn": "172800s", "workingTime": true,
                             "creator": "role:head_of_sales"}}]},
{"id": "01930000-0100-7000-8000-000000000019", "name": "Конверсия «Квалификация → Встреча» за неделю",
 "description": "Seed 001 §2.4: меньше 40 % за неделю — уведомление РОПу.", "enabled": true,
 "trigger": {"kind": "SCHEDULE", "pipelineId": "$LEAD00", "schedule": {"spec": "weekly on monday at 09:00"},
             "measure": {"fromStageId": "$LEAD02", "toStageId": "$LEAD04", "period": "604800s"}},
 "condition": {"all": {"items": [
    {"predicate": {"field": "counter.base", "op": "GT", "values": ["0"]}},
    {"predicate": {"field": "counter.conversion_percent", "op": "LT", "values": ["40"]}}]}},
 "actions": [{"notify": {"channels": ["EMAIL", "IN_APP"], "recipients": ["role:head_of_sales"],
                         "subject": "Конверсия «Квалификация → Встреча» {measure.conversion_percent} %",
                         "text": "За неделю в «Квалификацию» вошло {measure.base}, из них назначено {measure.converted} ({measure.conversion_percent} %, цель — 40 %)."}}]},
{"id": "01930000-0100-7000-8000-000000000020", "name": "План записей и выручки по менеджерам (40 млн сум)",
 "description": "Seed 001 §4: не меньше 40 записей в месяц и выручка не меньше 40 000 000 сум (UZS; в условии — в тийинах, 4 000 000 000) — отчёт по каждому менеджеру.", "enabled": true,
 "trigger": {"kind": "SCHEDULE", "pipelineId": "$LEAD00", "schedule": {"spec": "weekly on monday at 09:05"},
             "measure": {"toStageId": "$LEAD04", "period": "2592000s", "perResponsible": true, "currency": "UZS"}},
 "condition": {"any": {"items": [
    {"predicate": {"field": "counter.entered", "op": "LT", "values": ["40"]}},
    {"predicate": {"field": "counter.revenue", "op": "LT", "values": ["4000000000"]}}]}},
 "actions": [{"notify": {"channels": ["EMAIL", "IN_APP"], "recipients": ["responsible", "role:head_of_sales"],
                         "subject": "План за 30 дней: {responsible.name}",
                         "text": "{responsible.name}: записей {measure.entered} из 40, выигранных сделок {measure.won}, выручка {measure.revenue_amount} из 40 000 000 сум."}}]},
{"id": "01930000-0100-7000-8000-000000000021", "name": "Передача в продажи после успешного визита",
 "description": "Seed 000 §5.5: копия сделки в воронку «Продажа» с клиентом, контактами, бюджетом и тегами; исходная остаётся.", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$LEAD00", "stageId": "$LEAD06"},
 "actions": [{"copyDeal": {"pipelineId": "$SALES00", "stageId": "$SALES01",
                           "optionsJson": "{\"name\": true, \"amount\": true, \"client\": true, \"contacts\": true, \"tags\": true}"}}]},
{"id": "01930000-0100-7000-8000-000000000022", "name": "Взят в работу: сообщение клиенту",
 "description": "Seed 002, «Взят в работу»: клиенту — кто его персональный менеджер.", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$SALES00", "stageId": "$SALES02"},
 "actions": [{"notify": {"channels": ["TELEGRAM"], "recipients": ["client"], "subject": "Заявка взята в работу",
                         "text": "Уважаемый клиент! Ваша заявка взята в обработку. Ваш персональный менеджер {responsible.name}, телефон {responsible.phone}, почта {responsible.email}."}}]},
{"id": "01930000-0100-7000-8000-000000000023", "name": "Запуск реализации: проконтролировать выполнение работ",
 "description": "Seed 002, «Запуск реализации сделки».", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$SALES00", "stageId": "$SALES06"},
 "actions": [{"createTask": {"title": "Проконтролировать выполнение работ", "kind": "custom", "dueIn": "86400s", "workingTime": true,
                             "creator": "role:head_of_sales"}}]},
{"id": "01930000-0100-7000-8000-000000000024", "name": "Принят: упаковка, оплата по графику, отгрузка",
 "description": "Seed 002, «Принят»: контроль графика оплаты и отгрузки.", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$SALES00", "stageId": "$SALES07"},
 "actions": [{"createTask": {"title": "Проконтролировать упаковку", "kind": "custom", "dueIn": "86400s", "workingTime": true,
                             "creator": "role:head_of_sales"}},
             {"createTask": {"title": "Проверить оплату по клиенту", "kind": "follow_up", "dueIn": "86400s", "workingTime": true,
                             "creator": "role:head_of_sales"}},
             {"createTask": {"title": "Отгрузить товар клиенту", "kind": "custom", "dueIn": "172800s", "workingTime": true,
                             "creator": "responsible"}}]},
{"id": "01930000-0100-7000-8000-000000000025", "name": "К отгрузке: проконтролировать отгрузку-доставку",
 "description": "Seed 002, «К отгрузке».", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$SALES00", "stageId": "$SALES08"},
 "actions": [{"createTask": {"title": "Проконтролировать отгрузку-доставку", "kind": "custom", "dueIn": "86400s", "workingTime": true,
                             "creator": "role:head_of_sales"}}]},
{"id": "01930000-0100-7000-8000-000000000026", "name": "Сделка успешна: запрос отзыва и передача инженерам",
 "description": "Seed 002, «Сделка успешна»: отзыв клиента; конвертация в воронку «Инженеры».", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$SALES00", "stageId": "$SALES10"},
 "actions": [{"notify": {"channels": ["TELEGRAM"], "recipients": ["client"], "subject": "Спасибо за сотрудничество",
                         "text": "Уважаемый клиент! Мы рады сотрудничать с вами и будем признательны, если вы оставите отзыв о нашей работе."}},
             {"copyDeal": {"pipelineId": "$ENG00", "stageId": "$ENG01",
                           "optionsJson": "{\"name\": true, \"client\": true, \"contacts\": true, \"products\": true, \"notes\": true}"}}]},
{"id": "01930000-0100-7000-8000-000000000027", "name": "Визит не подтверждён",
 "description": "Seed 001 §3.1: за 3 часа до визита нет комментария о подтверждении — уведомление менеджеру.", "enabled": true,
 "trigger": {"kind": "DATE_FIELD_REACHED", "pipelineId": "$LEAD00", "field": "custom.visit_time", "offset": "-10800s"},
 "condition": {"all": {"items": [
    {"predicate": {"field": "stage_id", "op": "EQ", "values": ["$LEAD04"]}},
    {"predicate": {"field": "custom.confirmation_comment", "op": "IS_EMPTY"}}]}},
 "actions": [{"notify": {"channels": ["IN_APP", "TELEGRAM"], "recipients": ["responsible"],
                         "subject": "Визит не подтверждён: {deal.name}",
                         "text": "Визит по сделке «{deal.name}» через 3 часа, подтверждения нет. {deal.url}"}}]},
{"id": "01930000-0100-7000-8000-000000000028", "name": "КП согласовано: обратная связь получена",
 "description": "Seed 002: КП согласовано — задача «Связаться с клиентом…» закрыта.", "enabled": true,
 "trigger": {"kind": "FIELD_CHANGED", "pipelineId": "$SALES00", "field": "custom.kp_status"},
 "condition": {"predicate": {"field": "custom.kp_status", "op": "EQ", "values": ["Согласовано"]}},
 "actions": [{"completeTasks": {"title": "Связаться с клиентом, получить обратную связь по КП", "result": "КП согласовано"}}]},
{"id": "01930000-0100-7000-8000-000000000029", "name": "Счёт: согласовать внутри компании и получить оплату",
 "description": "Seed 002, «Счет».", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$SALES00", "stageId": "$SALES05"},
 "actions": [{"createTask": {"title": "Отправить Счет, Договор на согласование внутри компании", "kind": "custom",
                             "dueIn": "86400s", "workingTime": true, "creator": "role:head_of_sales"}},
             {"createTask": {"title": "Получить оплату от клиента", "kind": "follow_up", "dueIn": "172800s",
                             "workingTime": true, "skipIfOpen": true, "creator": "role:head_of_sales"}}]},
{"id": "01930000-0100-7000-8000-000000000030", "name": "Счёт не оплачен: отработать возражение",
 "description": "Seed 002, «Счет»: оплаты нет к сроку — переформировать счёт, затем снова получить оплату.", "enabled": true,
 "trigger": {"kind": "TASK_OVERDUE", "taskTitle": "Получить оплату от клиента"},
 "actions": [{"completeTasks": {"title": "Получить оплату от клиента", "result": "Счёт не оплачен в срок"}},
             {"createTask": {"title": "Отработать возражение, переформировать Счет", "kind": "follow_up",
                             "dueIn": "86400s", "workingTime": true, "skipIfOpen": true, "creator": "role:head_of_sales"}}]},
{"id": "01930000-0100-7000-8000-000000000031", "name": "Счёт переформирован: снова получить оплату",
 "description": "Seed 002, «Счет»: возврат на задачу «Получить оплату от клиента».", "enabled": true,
 "trigger": {"kind": "TASK_COMPLETED", "taskTitle": "Отработать возражение, переформировать Счет"},
 "actions": [{"createTask": {"title": "Получить оплату от клиента", "kind": "follow_up", "dueIn": "172800s",
                             "workingTime": true, "skipIfOpen": true, "creator": "role:head_of_sales"}}]},
{"id": "01930000-0100-7000-8000-000000000032", "name": "Отгружен/Доставлен: акты и УПД",
 "description": "Seed 002, «Отгружен/Доставлен»: акты выполненных работ и УПД, подписанные клиентом (1 день).", "enabled": true,
 "trigger": {"kind": "STAGE_ENTERED", "pipelineId": "$SALES00", "stageId": "$SALES09"},
 "actions": [{"createTask": {"title": "Отправить Акты выполненных работ, получить подписанный документ", "kind": "email",
                             "dueIn": "86400s", "workingTime": true, "creator": "role:head_of_sales"}},
             {"createTask": {"title": "Отправить УПД, получить подписанный документ", "kind": "email",
                             "dueIn": "86400s", "workingTime": true, "creator": "role:head_of_sales"}}]}
])json";

}  // namespace

std::vector<v1::Rule> DemoRules() {
  std::string json = absl::StrReplaceAll(kDemoRulesJson, {{"$LEAD", "01930000-0001-7000-8000-0000000000"},
                                                          {"$SALES", "01930000-0002-7000-8000-0000000000"},
                                                          {"$ENG", "01930000-0003-7000-8000-0000000000"}});
  // One array of rules: wrap it so that JsonStringToMessage can read it.
  v1::ListRulesResponse list;
  auto status = google::protobuf::util::JsonStringToMessage(absl::StrCat("{\"rules\": ", json, "}"), &list);
  if (!status.ok()) return {};  // kept valid by robots_demo_test
  return {list.rules().begin(), list.rules().end()};
}

absl::Status InstallDemoRules(RuleStore& rules) {
  crm::common::v1::Principal demo;
  demo.set_kind(crm::common::v1::Principal::KIND_SERVICE);
  demo.set_service("robots-demo");
  std::vector<v1::Rule> all = DemoRules();
  if (all.empty()) return absl::InternalError("the demo rules do not parse");
  for (const v1::Rule& r : all) {
    absl::Status s = rules.Install(demo, r).status();
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat("demo rule «", r.name(), "»: ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace crm::robots
