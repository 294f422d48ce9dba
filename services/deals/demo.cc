// File: services/deals/demo.cc
#include "services/deals/demo.h"

#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "services/deals/pipelines.h"

namespace crm::deals {

namespace {

using Kind = v1::Stage::Kind;
using Type = v1::FieldDefinition::Type;

struct StageSpec {
  const char* name;
  Kind kind;
  const char* color;
  std::vector<std::string> required_fields;
  bool requires_open_task = false;
  bool requires_comment = false;
};

v1::Pipeline MakePipeline(int number, const char* name, int sort, const std::vector<StageSpec>& stages) {
  v1::Pipeline p;
  p.set_id(absl::StrFormat("01930000-%04d-7000-8000-000000000000", number));
  p.set_name(name);
  p.set_sort(sort);
  int n = 0;
  for (const StageSpec& spec : stages) {
    v1::Stage* s = p.add_stages();
    s->set_id(absl::StrFormat("01930000-%04d-7000-8000-0000000000%02d", number, ++n));
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
      MakeField("payment_terms", "Оплата", v1::FieldDefinition::TYPE_ENUM, {"Предоплата", "Постоплата"}, true,
                70),
      MakeField("payment_date", "Дата оплаты", v1::FieldDefinition::TYPE_DATE, {}, true, 80),
  };
}

std::vector<v1::Pipeline> DemoPipelines() {
  const Kind kOpen = v1::Stage::KIND_OPEN, kWon = v1::Stage::KIND_WON, kLost = v1::Stage::KIND_LOST;
  return {
      MakePipeline(1, "Первичная обработка", 10,
                   {
                       {"Неразобранное", kOpen, "#99ccff", {}},
                       {"Квалификация", kOpen, "#ffcc66", {}},
                       {"Квалифицирован", kOpen, "#ffff99", {"client_id", "source"}, true, true},
                       {"Назначено", kOpen, "#ccff99", {"client_id", "custom.visit_time"}, true, true},
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
                       {"Выполнено", kWon, "#66cc66", {}},
                       {"Отменено", kLost, "#cccccc", {}},
                   }),
  };
}

absl::Status LoadDemoPipelines(pg::Pool& pool) {
  PipelineStore store(pool, SystemClock());
  for (const v1::FieldDefinition& f : DemoFields()) {
    CRM_RETURN_IF_ERROR(Annotate(store.EnsureField(f).status(), f.code()));
  }
  for (const v1::Pipeline& p : DemoPipelines()) {
    CRM_RETURN_IF_ERROR(Annotate(store.EnsurePipeline(p).status(), p.name()));
  }
  return absl::OkStatus();
}

}  // namespace crm::deals
