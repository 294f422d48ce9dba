// File: services/deals/demo.cc
#include "services/deals/demo.h"

#include <pqxx/pqxx>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "services/deals/pipelines.h"

namespace crm::deals {

namespace {

using Kind = v1::Stage::Kind;

constexpr char kPaymentTermsNotTechnicalSql[] =
    "UPDATE field_definitions SET technical = false WHERE code = 'payment_terms' AND technical "
    "AND name = 'Оплата' AND options = ARRAY['Предоплата', 'Постоплата']";
// Issue 16: seed 001's «телефон» is the client's phone. Builds before it loaded «Квалифицирован» and
// «Назначено» requiring only the client; a stage still exactly as they loaded it gets "client.phone"
// too, and its pipeline's version moves on (the create cache trusts it, pipelines.h).
constexpr char kClientPhoneGatesSql[] =
    "WITH s AS (UPDATE stages SET gates = jsonb_set(gates, '{requiredFields}', "
    "  CASE id WHEN '01930000-0001-7000-8000-000000000003' THEN '[\"client_id\", \"client.phone\", \"source\"]' "
    "  ELSE '[\"client_id\", \"client.phone\", \"custom.visit_time\"]' END::jsonb) "
    "  WHERE (id = '01930000-0001-7000-8000-000000000003' AND gates->'requiredFields' = '[\"client_id\", \"source\"]') "
    "     OR (id = '01930000-0001-7000-8000-000000000004' "
    "         AND gates->'requiredFields' = '[\"client_id\", \"custom.visit_time\"]') "
    "  RETURNING pipeline_id) "
    "UPDATE pipelines SET version = version + 1 WHERE id IN (SELECT pipeline_id FROM s)";
using Type = v1::FieldDefinition::Type;

struct StageSpec {
  const char* name;
  Kind kind;
  const char* color;
  std::vector<std::string> required_fields;
  bool requires_open_task = false;
  bool requires_comment = false;
  // The NN of its id; 0 = its place on the board. (A stage added later keeps the ids of those before.)
  int number = 0;
};

v1::Pipeline MakePipeline(int number, const char* name, int sort, const std::vector<StageSpec>& stages) {
  v1::Pipeline p;
  p.set_id(absl::StrFormat("01930000-%04d-7000-8000-000000000000", number));
  p.set_name(name);
  p.set_sort(sort);
  int n = 0;
  for (const StageSpec& spec : stages) {
    v1::Stage* s = p.add_stages();
    ++n;
    s->set_id(absl::StrFormat("01930000-%04d-7000-8000-0000000000%02d", number, spec.number > 0 ? spec.number : n));
    s->set_name(spec.name);
    s->set_kind(spec.kind);
    s->set_color(spec.color);
    for (const std::string& f : spec.required_fields) s->mutable_gates()->add_required_fields(f);
    s->mutable_gates()->set_requires_open_task(spec.requires_open_task);
    s->mutable_gates()->set_requires_comment(spec.requires_comment);
  }
  return p;
}

v1::FieldDefinition MakeField(const char* code, const char* name, Type type, std::vector<std::string> options,
                              bool technical, int sort) {
  v1::FieldDefinition f;
  f.set_code(code);
  f.set_name(name);
  f.set_type(type);
  for (std::string& o : options) f.add_options(std::move(o));
  f.set_technical(technical);
  f.set_sort(sort);
  return f;
}

}  // namespace

std::vector<v1::FieldDefinition> DemoFields() {
  return {
      // Seed 001.
      MakeField("visit_time", "Дата визита", v1::FieldDefinition::TYPE_DATETIME, {}, true, 10),
      MakeField("returned", "Возврат", v1::FieldDefinition::TYPE_BOOL, {}, true, 20),
      MakeField("confirmation_comment", "Комментарий о подтверждении", v1::FieldDefinition::TYPE_STRING, {},
                false, 30),
      // Seed 002.
      MakeField("kp_status", "Статус КП", v1::FieldDefinition::TYPE_ENUM, {"Согласовано", "Не согласовано"},
                true, 40),
      MakeField("kp_approval_date", "Дата согласования КП", v1::FieldDefinition::TYPE_DATE, {}, true, 50),
      MakeField("delivery_date", "Срок поставки", v1::FieldDefinition::TYPE_DATE, {}, true, 60),
      // D12: «Оплата» is the client's payment terms, a commercial condition, not a technical or project
      // field: a partner copy (seed 000 §5.6) never carries it.
      MakeField("payment_terms", "Оплата", v1::FieldDefinition::TYPE_ENUM, {"Предоплата", "Постоплата"}, false,
                70),
      MakeField("payment_date", "Дата оплаты", v1::FieldDefinition::TYPE_DATE, {}, true, 80),
      // Seed 000 §5.7 (the post-sale copies carry them) and §5.8 (the renewal copy carries the package).
      MakeField("requisites", "Реквизиты", v1::FieldDefinition::TYPE_STRING, {}, false, 90),
      MakeField("delivery_address", "Адрес доставки", v1::FieldDefinition::TYPE_STRING, {}, false, 100),
      MakeField("service_package", "Пакет услуг", v1::FieldDefinition::TYPE_STRING, {}, true, 110),
  };
}

std::vector<v1::Pipeline> DemoPipelines() {
  const Kind kOpen = v1::Stage::KIND_OPEN, kWon = v1::Stage::KIND_WON, kLost = v1::Stage::KIND_LOST;
  return {
      MakePipeline(1, "Первичная обработка", 10,
                   {
                       {"Неразобранное", kOpen, "#99ccff", {}},
                       {"Квалификация", kOpen, "#ffcc66", {}},
                       {"Квалифицирован", kOpen, "#ffff99", {"client_id", kGateClientPhone, "source"}, true, true},
                       {"Назначено",
                        kOpen,
                        "#ccff99",
                        {"client_id", kGateClientPhone, "custom.visit_time"},
                        true,
                        true},
                       {"Срыв визита", kOpen, "#ff9999", {}},
                       {"Успешно", kWon, "#66cc66", {}},
                       {"Отказ", kLost, "#cccccc", {}},
                   }),
      MakePipeline(2, "Продажа", 20,
                   {
                       {"Новая заявка", kOpen, "#99ccff", {}},
                       {"Взят в работу", kOpen, "#ffcc66", {}},
                       {"КП", kOpen, "#ffff99", {"priority", "client_id", "custom.delivery_date"}},
                       {"Договор",
                        kOpen,
                        "#ffe0b3",
                        {"amount", "custom.kp_status", "custom.kp_approval_date", "custom.payment_terms"}},
                       {"Счет", kOpen, "#e0ccff", {}},
                       {"Запуск реализации сделки", kOpen, "#ccffff", {"custom.payment_date"}},
                       {"Принят", kOpen, "#ccff99", {}},
                       {"К отгрузке", kOpen, "#b3e6b3", {}},
                       {"Отгружен/Доставлен", kOpen, "#99e699", {}},
                       {"Сделка успешна", kWon, "#66cc66", {}},
                       {"Сделка провалена", kLost, "#cccccc", {}},
                   }),
      // Seed 002: a successful sale is converted into the engineers' pipeline («Конвертация в воронку
      // инженеры»; robots' demo rule makes the copy).
      MakePipeline(3, "Инженеры", 30,
                   {
                       {"Новая задача", kOpen, "#99ccff", {}},
                       {"В работе", kOpen, "#ffcc66", {}},
                       // Seed 000 §5.8: the service is activated — the renewal / upsell copy follows.
                       {"Активация услуги", kOpen, "#ccffcc", {}, false, false, 5},
                       {"Выполнено", kWon, "#66cc66", {}, false, false, 3},
                       {"Отменено", kLost, "#cccccc", {}, false, false, 4},
                   }),
      // Seed 000 §5.7: after a sale, the finance (invoices, purchasing) and logistics copies.
      MakePipeline(4, "Счета/закупки", 40,
                   {
                       {"Новая заявка", kOpen, "#99ccff", {}},
                       {"Счёт выставлен", kOpen, "#ffcc66", {}},
                       {"Закупка", kOpen, "#ffff99", {}},
                       {"Оплачено", kWon, "#66cc66", {}},
                       {"Отменено", kLost, "#cccccc", {}},
                   }),
      MakePipeline(5, "Логистика", 50,
                   {
                       {"Новая заявка", kOpen, "#99ccff", {}},
                       {"Сборка", kOpen, "#ffcc66", {}},
                       {"В пути", kOpen, "#ffff99", {}},
                       {"Доставлено", kWon, "#66cc66", {}},
                       {"Отменено", kLost, "#cccccc", {}},
                   }),
      // Seed 000 §5.8: renewals and upsells, for the current account manager.
      MakePipeline(6, "Повторные продажи", 60,
                   {
                       {"Новый запрос", kOpen, "#99ccff", {}},
                       {"Предложение", kOpen, "#ffcc66", {}},
                       {"Счёт", kOpen, "#ffff99", {}},
                       {"Продлено", kWon, "#66cc66", {}},
                       {"Отказ", kLost, "#cccccc", {}},
                   }),
  };
}

absl::Status LoadDemoPipelines(pg::Pool& pool) {
  PipelineStore store(pool, SystemClock());
  for (const v1::FieldDefinition& f : DemoFields()) {
    CRM_RETURN_IF_ERROR(Annotate(store.EnsureField(f).status(), f.code()));
  }
  // D12: builds before issue 16 loaded «Оплата» as technical; a definition still exactly as they loaded it
  // is corrected, so a partner copy stops carrying the client's payment terms.
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool, [](pqxx::work& tx) -> absl::Status {
    pg::ExecPrepared(tx, kPaymentTermsNotTechnicalSql);
    pg::ExecPrepared(tx, kClientPhoneGatesSql);
    return absl::OkStatus();
  }));
  for (const v1::Pipeline& p : DemoPipelines()) {
    CRM_RETURN_IF_ERROR(Annotate(store.EnsurePipeline(p).status(), p.name()));
  }
  return absl::OkStatus();
}

}  // namespace crm::deals
