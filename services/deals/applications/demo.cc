// File: services/deals/applications/demo.cc
#include "services/deals/applications/demo.h"

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/pg/pool.h"
#include "services/deals/applications/store.h"
#include "services/deals/sql.h"

namespace crm::deals::applications {

namespace {

struct DemoCampaign {
  const char* id;
  const char* name;
};

constexpr DemoCampaign kCampaigns[] = {
    {kDemoCampaignId, "Новогодние скидки"},
    {"01930000-0015-7000-8000-0000000000c2", "Семейная ипотека"},
    {"01930000-0015-7000-8000-0000000000c3", "Trade-in: зачёт квартиры"},
};

}  // namespace

absl::Status LoadDemoApplications(pg::Pool& pool, absl::TimeZone zone, const Clock& clock) {
  // The campaigns, and the first two demo requests without an application, each with a free unit.
  struct Pick {
    std::string request_id;
    std::string unit_id;
    int64_t price = 0;
  };
  std::vector<Pick> picks;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
    picks.clear();
    for (const DemoCampaign& c : kCampaigns) {
      SqlParams p;
      Exec(tx,
           absl::StrCat("INSERT INTO marketing_campaigns (id, name, start_date, create_time) VALUES (", p.Add(c.id),
                        "::uuid, ", p.Add(c.name), ", DATE '2026-01-01', now()) ON CONFLICT (id) DO NOTHING"),
           p);
    }
    SqlParams p;
    pqxx::result requests = Exec(
        tx,
        "SELECT r.id::text, r.project_id::text FROM client_requests r "
        "ORDER BY r.create_time, r.id LIMIT 2",
        p);
    SqlParams q;
    if (!Exec(tx, "SELECT 1 FROM deal_applications LIMIT 1", q).empty()) return absl::OkStatus();  // loaded before
    for (const pqxx::row& r : requests) {
      SqlParams u;
      pqxx::result unit = Exec(tx,
                               absl::StrCat("SELECT id::text, final_price_minor FROM realty_units WHERE project_id = ",
                                            u.Add(r[1].as<std::string>()),
                                            "::uuid AND status = 2 AND final_price_minor > 0 ORDER BY "
                                            "final_price_minor, id OFFSET ",
                                            picks.size(), " LIMIT 1"),
                               u);
      Pick pick{r[0].as<std::string>(), "", 0};
      if (!unit.empty()) {
        pick.unit_id = unit[0][0].as<std::string>();
        pick.price = unit[0][1].as<int64_t>();
      }
      picks.push_back(pick);
    }
    return absl::OkStatus();
  }));
  ApplicationStore store(pool, clock, zone);
  Actor actor;
  actor.principal.set_kind(crm::common::v1::Principal::KIND_SERVICE);
  actor.principal.set_service("deals");
  actor.principal.add_permissions("applications.write.all");
  actor.principal.add_permissions("interactions.read.all");
  const absl::CivilDay today = absl::ToCivilDay(clock.Now(), zone);
  for (size_t i = 0; i < picks.size(); ++i) {
    v1::DealApplication a;
    a.set_request_id(picks[i].request_id);
    a.set_campaign_id(kDemoCampaignId);
    a.set_payment_kind(i == 0 ? v1::FULL_PAYMENT : v1::MORTGAGE);
    if (i != 0) a.set_bank_id(kDemoBankId);
    if (!picks[i].unit_id.empty()) {
      a.set_unit_id(picks[i].unit_id);
      auto add = [&](int days, int64_t minor, v1::PaymentScheduleItem::Kind kind) {
        v1::PaymentScheduleItem* item = a.add_payment_schedule();
        item->set_date(absl::FormatCivilTime(today + days));
        item->mutable_amount()->set_amount_minor(minor);
        item->set_kind(kind);
      };
      if (i == 0) {
        a.mutable_own_funds()->set_amount_minor(picks[i].price);
        add(10, picks[i].price, v1::PaymentScheduleItem::OWN_FUNDS);
      } else {
        const int64_t own = picks[i].price / 5;
        a.mutable_own_funds()->set_amount_minor(own);
        add(7, own, v1::PaymentScheduleItem::OWN_FUNDS);
        add(30, picks[i].price - own, v1::PaymentScheduleItem::MORTGAGE_LOAN);
      }
    }
    CRM_RETURN_IF_ERROR(store.Create(actor, a).status());
  }
  return absl::OkStatus();
}

}  // namespace crm::deals::applications
