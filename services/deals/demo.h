// File: services/deals/demo.h
// -----------------------------------------------------------------------------
// Demo settings of sales from the seeds: the custom field definitions they name and six pipelines,
// «Первичная обработка» (seed 001: first-line lead handling with its required-field gates),
// «Продажа» (seed 002: the 1C-integrated sales pipeline), «Инженеры» (seed 002: won sales go on there;
// seed 000 §5.8: its «Активация услуги» starts the renewal), and the targets of seed 000's automatic
// copies: «Счета/закупки» and «Логистика» (§5.7, after a sale) and «Повторные продажи» (§5.8, renewals
// and upsells). Every demo pipeline and stage has a fixed UUID (the constants below and
// DemoPipelines()), so loading is idempotent: a pipeline or field definition that already exists is left
// as it is (including any edits made to it since), never duplicated.
//
// Technical fields (D12: what a redacted partner copy, seed 000 §5.6, may carry — links, specifications,
// document ids, the list of services, project dates) are marked `technical`; the others may hold
// personal or commercial data: «Оплата» (payment terms), «Реквизиты», «Адрес доставки» are not technical.
//
// Seed 001's gates: entering «Квалифицирован» needs ФИО (the client: client_id), телефон (the client's
// phone: client.phone), источник (source), a comment and an open task; entering «Назначено» needs the
// client and their phone, «Дата визита» (custom.visit_time), a comment and an open task. "A comment" is
// one written since the deal entered its stage or one sent with the move (issue 16). Seed 002's «Обязательные поля» gate the next
// stage: «КП» needs priority, client and «Срок поставки»; «Договор» the amount and the КП status,
// approval date and payment terms; «Запуск реализации сделки» the payment date.
//
// Example:
//   CRM_RETURN_IF_ERROR(crm::deals::LoadDemoPipelines(*pool));   // safe to run on every start
//   CRM_ASSIGN_OR_RETURN(auto p, store.Get(crm::deals::kDemoSalesPipelineId));
#ifndef CRM_SERVICES_DEALS_DEMO_H_
#define CRM_SERVICES_DEALS_DEMO_H_

#include <vector>

#include "absl/status/status.h"
#include "crm/deals/v1/deals.pb.h"

namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::deals {

// «Первичная обработка» (seed 001) and its stages, in board order.
inline constexpr char kDemoLeadPipelineId[] = "01930000-0001-7000-8000-000000000000";
inline constexpr char kDemoLeadUnsortedStageId[] = "01930000-0001-7000-8000-000000000001";  // Неразобранное
inline constexpr char kDemoLeadQualificationStageId[] =
    "01930000-0001-7000-8000-000000000002";  // Квалификация
inline constexpr char kDemoLeadQualifiedStageId[] = "01930000-0001-7000-8000-000000000003";  // Квалифицирован
inline constexpr char kDemoLeadAppointedStageId[] = "01930000-0001-7000-8000-000000000004";  // Назначено
inline constexpr char kDemoLeadNoShowStageId[] = "01930000-0001-7000-8000-000000000005";  // Срыв визита
inline constexpr char kDemoLeadWonStageId[] = "01930000-0001-7000-8000-000000000006";   // Успешно
inline constexpr char kDemoLeadLostStageId[] = "01930000-0001-7000-8000-000000000007";  // Отказ

// «Продажа» (seed 002); its stages are "01930000-0002-7000-8000-0000000000NN", NN = 01..11 in board order.
inline constexpr char kDemoSalesPipelineId[] = "01930000-0002-7000-8000-000000000000";
inline constexpr char kDemoSalesNewStageId[] = "01930000-0002-7000-8000-000000000001";  // Новая заявка
inline constexpr char kDemoSalesWonStageId[] = "01930000-0002-7000-8000-000000000010";  // Сделка успешна
inline constexpr char kDemoSalesLostStageId[] = "01930000-0002-7000-8000-000000000011";  // Сделка провалена

// «Инженеры» (seed 002: «Конвертация в воронку инженеры»); stages "01930000-0003-7000-8000-0000000000NN"
// in board order: 01 Новая задача, 02 В работе, 05 Активация услуги, 03 Выполнено (won), 04 Отменено (lost).
inline constexpr char kDemoEngineersPipelineId[] = "01930000-0003-7000-8000-000000000000";
inline constexpr char kDemoEngineersActivationStageId[] = "01930000-0003-7000-8000-000000000005";

// Seed 000 §5.7–5.8's targets; stages "01930000-000P-7000-8000-0000000000NN", NN = 01.. in board order.
// «Счета/закупки»: 01 Новая заявка, 02 Счёт выставлен, 03 Закупка, 04 Оплачено (won), 05 Отменено (lost).
inline constexpr char kDemoInvoicesPipelineId[] = "01930000-0004-7000-8000-000000000000";
// «Логистика»: 01 Новая заявка, 02 Сборка, 03 В пути, 04 Доставлено (won), 05 Отменено (lost).
inline constexpr char kDemoLogisticsPipelineId[] = "01930000-0005-7000-8000-000000000000";
// «Повторные продажи»: 01 Новый запрос, 02 Предложение, 03 Счёт, 04 Продлено (won), 05 Отказ (lost).
inline constexpr char kDemoRepeatSalesPipelineId[] = "01930000-0006-7000-8000-000000000000";
inline constexpr char kDemoRepeatSalesNewStageId[] = "01930000-0006-7000-8000-000000000001";

// The demo custom field definitions (codes visit_time, returned, confirmation_comment, kp_status,
// kp_approval_date, delivery_date, payment_terms, payment_date, requisites, delivery_address,
// service_package), as LoadDemoPipelines creates them.
std::vector<crm::deals::v1::FieldDefinition> DemoFields();

// The demo pipelines with their fixed ids, stages and gates, as LoadDemoPipelines creates them.
std::vector<crm::deals::v1::Pipeline> DemoPipelines();

// Creates whatever of DemoFields() and DemoPipelines() is missing (see the file comment). Returns the
// first error; running it again, or concurrently, creates nothing twice.
absl::Status LoadDemoPipelines(crm::pg::Pool& pool);

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_DEMO_H_
