// File: services/deals/demo.h
// -----------------------------------------------------------------------------
// Demo settings of sales from the seeds: the custom field definitions they name and three pipelines,
// «Первичная обработка» (seed 001: first-line lead handling with its required-field gates),
// «Продажа» (seed 002: the 1C-integrated sales pipeline) and «Инженеры» (seed 002: won sales go on there). Every demo pipeline and stage has a fixed
// UUID (the constants below and DemoPipelines()), so loading is idempotent: a pipeline or field
// definition that already exists is left as it is (including any edits made to it since), never
// duplicated.
//
// Seed 001's gates: entering «Квалифицирован» needs ФИО, телефон (the client: client_id), источник
// (source), a comment and an open task; entering «Назначено» needs the client, «Дата визита»
// (custom.visit_time), a comment and an open task. Seed 002's «Обязательные поля» gate the next
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

// «Инженеры» (seed 002: «Конвертация в воронку инженеры»); stages "01930000-0003-7000-8000-0000000000NN":
// 01 Новая задача, 02 В работе, 03 Выполнено (won), 04 Отменено (lost).
inline constexpr char kDemoEngineersPipelineId[] = "01930000-0003-7000-8000-000000000000";

// The demo custom field definitions (codes visit_time, returned, confirmation_comment, kp_status,
// kp_approval_date, delivery_date, payment_terms, payment_date), as LoadDemoPipelines creates them.
std::vector<crm::deals::v1::FieldDefinition> DemoFields();

// The demo pipelines with their fixed ids, stages and gates, as LoadDemoPipelines creates them.
std::vector<crm::deals::v1::Pipeline> DemoPipelines();

// Creates whatever of DemoFields() and DemoPipelines() is missing (see the file comment). Returns the
// first error; running it again, or concurrently, creates nothing twice.
absl::Status LoadDemoPipelines(crm::pg::Pool& pool);

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_DEMO_H_
