// File: services/deals/interactions/demo.cc
#include "services/deals/interactions/demo.h"

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/client.h"
#include "services/deals/interactions/calendar_store.h"
#include "services/deals/interactions/interaction_store.h"
#include "services/deals/interactions/request_store.h"
#include "services/deals/realty/demo.h"

namespace crm::deals::interactions {

namespace v1 = crm::deals::v1;

namespace {

struct DemoClient {
  const char* id;
  const char* name;
  const char* phone;
  bool online;  // books an online meeting
};

constexpr DemoClient kClients[] = {
    {"01930000-0016-7000-8000-000000000c01", "Юлия", "+79160000101", true},
    {"01930000-0016-7000-8000-000000000c02", "Зита", "+79160000102", false},
    {"01930000-0016-7000-8000-000000000c03", "Кристина", "+79160000103", true},
    {"01930000-0016-7000-8000-000000000c04", "Заира", "+79160000104", true},
    {"01930000-0016-7000-8000-000000000c05", "Иван Петров", "+79160000105", false},
    {"01930000-0016-7000-8000-000000000c06", "Олег Сидоров", "+79160000106", false},
};

constexpr char kInsertClient[] =
    "INSERT INTO clients (id, kind, name, phones) VALUES ($1::uuid, 2, $2, ARRAY[$3]) ON CONFLICT (id) DO NOTHING";
constexpr char kDemoResponsible[] =
    "SELECT user_id::text FROM user_directory WHERE active ORDER BY cardinality(team_ids) = 0, user_id LIMIT 1";
// The demo project's id: realty's «ЖК Северный парк» (loaded before, services/deals/realty/demo.h), else
// kDemoProjectId.
constexpr char kRealtyProject[] = "SELECT id::text FROM realty_projects WHERE external_id = $1";
constexpr char kRequestOf[] =
    "SELECT id::text FROM client_requests WHERE client_id = $1::uuid AND project_id = $2::uuid LIMIT 1";

}  // namespace

absl::Status LoadDemoInteractions(pg::Pool& pool, absl::TimeZone zone, const Clock& clock) {
  std::string responsible = kDemoResponsibleId;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
    for (const DemoClient& c : kClients) pg::ExecPrepared(tx, kInsertClient, c.id, c.name, c.phone);
    pqxx::result r = pg::ExecPrepared(tx, kDemoResponsible);
    if (!r.empty()) responsible = r[0][0].c_str();
    return absl::OkStatus();
  }));
  crm::common::v1::Principal demo = rpc::ServicePrincipal("deals-demo");
  for (const char* p : {"interactions.read.all", "interactions.write.all", "interactions.slots.manage"}) {
    demo.add_permissions(p);
  }
  const Actor actor{.principal = demo};
  std::string project_id = kDemoProjectId;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
    pqxx::result r = pg::ExecPrepared(tx, kRealtyProject, std::string(realty::kDemoProjectExternalId));
    if (!r.empty()) project_id = r[0][0].c_str();
    return absl::OkStatus();
  }));
  CalendarStore calendars(pool, clock, zone);
  v1::SlotCalendar office;
  office.set_id(kDemoCalendarId);
  office.set_name("Офис продаж");
  office.set_project_id(project_id);
  office.set_open_time("09:00");
  office.set_close_time("21:00");
  office.set_slot_minutes(60);
  office.set_capacity(2);
  CRM_RETURN_IF_ERROR(calendars.Upsert(demo, office).status());

  RequestStore requests(pool, clock);
  InteractionStore interactions(pool, clock, zone);
  const absl::CivilDay today = absl::ToCivilDay(clock.Now(), zone);
  const auto at = [&](absl::CivilDay day, int hour) { return ToProtoTimestamp(absl::FromCivil(absl::CivilHour(day) + hour, zone)); };
  const std::vector<std::string> factors[] = {{"Цена", "Расположение"}, {"Инфраструктура"}, {"Планировка", "Цена"},
                                              {"Сроки сдачи"}, {"Паркинг"}, {"Вид из окна"}};
  int n = 0;
  for (const DemoClient& c : kClients) {
    const std::string key = absl::StrCat("demo-", n + 1);
    std::string request_id;
    CRM_RETURN_IF_ERROR(pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
      pqxx::result r = pg::ExecPrepared(tx, kRequestOf, c.id, project_id);
      if (!r.empty()) request_id = r[0][0].c_str();
      return absl::OkStatus();
    }));
    if (request_id.empty()) {
      v1::ClientRequest q;
      q.set_client_id(c.id);
      q.set_project_id(project_id);
      q.set_unit_kind(n % 3 == 2 ? v1::ClientRequest::APARTMENTS : v1::ClientRequest::APARTMENT);
      q.set_source(n % 2 == 0 ? "Сайт" : "Звонок");
      for (const std::string& f : factors[n]) q.add_choice_factors(f);
      q.mutable_budget_max()->set_amount_minor((8'000'000 + 1'500'000 * n) * int64_t{100});
      q.mutable_budget_max()->set_currency("RUB");
      q.set_area_from_centi_m2(3500 + 1000 * n);
      q.set_area_to_centi_m2(6500 + 1500 * n);
      q.set_responsible_id(responsible);
      CRM_ASSIGN_OR_RETURN(v1::ClientRequest made, requests.Create(actor, q));
      request_id = made.id();
    }
    const auto record = [&](const std::string& suffix, v1::Interaction x) -> absl::Status {
      x.set_source("demo");
      x.set_external_id(absl::StrCat(key, "-", suffix));
      x.set_client_id(c.id);
      x.set_request_id(request_id);
      x.set_responsible_id(responsible);
      return interactions.Upsert(actor, x).status();
    };
    // Yesterday's first call (primary): the decode that got the client where they are.
    v1::Interaction first;
    first.set_kind(v1::Interaction::CALL);
    first.set_direction(v1::Interaction::INBOUND);
    first.set_status(v1::Interaction::DONE);
    first.set_subject("Входящий звонок с сайта");
    *first.mutable_start_time() = at(today - 1, 10 + n);
    first.set_result("Клиент интересуется квартирой, бюджет согласован");
    first.set_outcome(n == 5 ? v1::Interaction::REFUSAL
                             : (n < 4 ? v1::Interaction::MEETING_SCHEDULED : v1::Interaction::DECISION_MAKING));
    CRM_RETURN_IF_ERROR(record("call", first));
    if (n < 4) {
      // Today's meetings in the office's slots: two at 14:00, one at 10:00, one at 16:00.
      v1::Interaction meeting;
      meeting.set_kind(v1::Interaction::MEETING);
      meeting.set_status(v1::Interaction::PLANNED);
      meeting.set_subject("Встреча в офисе продаж");
      *meeting.mutable_planned_time() = at(today, n < 2 ? 14 : (n == 2 ? 10 : 16));
      meeting.set_calendar_id(kDemoCalendarId);
      meeting.set_online(c.online);
      CRM_RETURN_IF_ERROR(record("meeting", meeting));
    } else if (n == 4) {
      // A call planned for today and one forgotten yesterday (overdue).
      v1::Interaction call;
      call.set_kind(v1::Interaction::CALL);
      call.set_direction(v1::Interaction::OUTBOUND);
      call.set_status(v1::Interaction::PLANNED);
      call.set_subject("Принятие решения");
      *call.mutable_planned_time() = at(today, 17);
      CRM_RETURN_IF_ERROR(record("call-today", call));
      *call.mutable_planned_time() = at(today - 1, 18);
      call.set_subject("Перезвонить");
      CRM_RETURN_IF_ERROR(record("call-overdue", call));
    }
    ++n;
  }
  return absl::OkStatus();
}

}  // namespace crm::deals::interactions
