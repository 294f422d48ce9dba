// File: services/deals/erp/demo.cc
#include "services/deals/erp/demo.h"

#include <pqxx/pqxx>
#include <string>

#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/client.h"
#include "services/deals/demo.h"
#include "services/deals/erp/catalog_sync.h"
#include "services/deals/erp/common.h"
#include "services/deals/erp/document_store.h"
#include "services/deals/erp/proposal_store.h"

namespace crm::deals::erp {

namespace v1 = crm::deals::v1;

namespace {

constexpr char kDemoResponsibleId[] = "01930000-0017-7000-8000-0000000000ff";

constexpr char kDirection[] =
    "INSERT INTO erp_directions (pipeline_id, proposals_from_erp, tasks_mirrored) VALUES ($1::uuid, true, true) "
    "ON CONFLICT (pipeline_id) DO NOTHING";
constexpr char kAccountant[] =
    "UPDATE erp_settings SET accountant_emails = ARRAY['Бухгалтерия <buh@crm.local>'] WHERE id = 1 AND version = 0 "
    "AND cardinality(accountant_emails) = 0";
constexpr char kInsertClient[] =
    "INSERT INTO clients (id, kind, name, inn) VALUES ($1::uuid, 1, $2, $3) ON CONFLICT (id) DO NOTHING";
constexpr char kDealExists[] = "SELECT 1 FROM deals WHERE id = $1::uuid";
constexpr char kDemoResponsible[] =
    "SELECT user_id::text FROM user_directory WHERE active ORDER BY cardinality(team_ids) = 0, user_id LIMIT 1";

struct DemoDeal {
  const char* id;
  const char* name;
  const char* client_id;
  const char* client_name;
  const char* inn;
  int64_t amount_minor;
};

constexpr DemoDeal kDeals[] = {
    {kDemoSupplyDealId, "Поставка оборудования", "01930000-0017-7000-8000-00000000c001", "ООО «Вектор»", "7701234567",
     620'000'00},
    {kDemoMetrologyDealId, "Поверка приборов", "01930000-0017-7000-8000-00000000c002", "АО «Спектр»", "7707654321",
     180'000'00},
};

v1::Product Item(const char* guid, const char* sku, const char* name, int64_t price_minor) {
  v1::Product p;
  p.set_external_id(guid);
  p.set_sku(sku);
  p.set_name(name);
  p.set_unit("шт");
  p.mutable_price()->set_amount_minor(price_minor);
  p.mutable_price()->set_currency("RUB");
  p.set_vat_basis_points(2000);
  p.set_active(true);
  return p;
}

v1::Document Doc(const char* guid, const char* deal, v1::Document::Kind kind, const char* number, const char* date,
                 int64_t amount, v1::Document::Status status) {
  v1::Document d;
  d.set_external_id(guid);
  d.set_deal_id(deal);
  d.set_kind(kind);
  d.set_number(number);
  d.set_date(date);
  d.mutable_amount()->set_amount_minor(amount);
  d.mutable_amount()->set_currency("RUB");
  d.set_status(status);
  return d;
}

}  // namespace

absl::Status LoadDemoErp(pg::Pool& pool, const Clock& clock) {
  std::string responsible = kDemoResponsibleId;
  std::vector<const DemoDeal*> missing;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
    missing.clear();
    pg::ExecPrepared(tx, kDirection, std::string(kDemoSalesPipelineId));
    pg::ExecPrepared(tx, kAccountant);
    pqxx::result r = pg::ExecPrepared(tx, kDemoResponsible);
    if (!r.empty()) responsible = r[0][0].c_str();
    for (const DemoDeal& d : kDeals) {
      pg::ExecPrepared(tx, kInsertClient, std::string(d.client_id), std::string(d.client_name), std::string(d.inn));
      if (pg::ExecPrepared(tx, kDealExists, std::string(d.id)).empty()) missing.push_back(&d);
    }
    return absl::OkStatus();
  }));
  crm::common::v1::Principal demo = rpc::ServicePrincipal("deals-demo");
  for (const char* p : {"deals.read.all", "deals.write.all", kErpSyncPermission, "catalog.manage"}) {
    demo.add_permissions(p);
  }
  const Actor actor{.principal = demo};
  DealStore deals(pool, clock);
  for (const DemoDeal* d : missing) {
    CRM_RETURN_IF_ERROR(pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
      v1::Deal deal;
      deal.set_name(d->name);
      deal.set_pipeline_id(kDemoSalesPipelineId);
      deal.set_client_id(d->client_id);
      deal.set_responsible_id(responsible);
      deal.mutable_amount()->set_amount_minor(d->amount_minor);
      deal.mutable_amount()->set_currency("RUB");
      return deals.CreateInTx(tx, actor, deal, {.id = d->id}).status();
    }));
  }
  // The nomenclature from «1С».
  CatalogSync catalog(pool, clock);
  v1::BatchUpsertCatalogItemsRequest items;
  *items.add_items() = Item("1c-demo-0001", "НС-100", "Насос НС-100", 250'000'00);
  *items.add_items() = Item("1c-demo-0002", "ШУ-7", "Шкаф управления ШУ-7", 95'000'00);
  *items.add_items() = Item("1c-demo-0003", "МН-3", "Монтаж и пусконаладка", 25'000'00);
  *items.add_items() = Item("1c-demo-0004", "ПВ-1", "Поверка прибора", 6'000'00);
  CRM_RETURN_IF_ERROR(catalog.Upsert(actor, items).status());
  // The agreed КП of the supply deal.
  ProposalStore proposals(pool, clock);
  v1::BatchUpsertProposalsRequest kp;
  v1::Proposal* p = kp.add_proposals();
  p->set_external_id("1c-demo-kp-0001");
  p->set_deal_id(kDemoSupplyDealId);
  p->set_number("КП-000101");
  p->set_date("2026-03-02");
  p->set_revision(2);
  p->set_status(v1::Proposal::AGREED);
  p->set_comment("Согласовано с клиентом");
  for (const auto& [guid, qty] : {std::pair{"1c-demo-0001", "2"}, std::pair{"1c-demo-0002", "1"},
                                  std::pair{"1c-demo-0003", "1"}}) {
    v1::Proposal::Line* l = p->add_lines();
    l->set_product_external_id(guid);
    l->set_quantity(qty);
  }
  CRM_RETURN_IF_ERROR(proposals.Upsert(actor, kp).status());
  // The documents seed 002's thresholds call for.
  DocumentStore documents(pool, clock);
  v1::BatchUpsertDocumentsRequest docs;
  *docs.add_documents() = Doc("1c-demo-doc-0001", kDemoSupplyDealId, v1::Document::CONTRACT, "Д-2026/101",
                              "2026-03-03", 620'000'00, v1::Document::SIGNED);
  *docs.add_documents() = Doc("1c-demo-doc-0002", kDemoSupplyDealId, v1::Document::INVOICE, "101", "2026-03-03",
                              620'000'00, v1::Document::SENT);
  *docs.add_documents() = Doc("1c-demo-doc-0003", kDemoMetrologyDealId, v1::Document::INVOICE_CONTRACT, "102",
                              "2026-03-04", 180'000'00, v1::Document::DRAFT);
  return documents.Upsert(actor, docs).status();
}

}  // namespace crm::deals::erp
