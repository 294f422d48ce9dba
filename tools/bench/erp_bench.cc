// crm-erp-bench: the 1C side of deals (D17, issue 17) in bulk, next to the bare SQL of the same rows in the
// same run.
//
//   tools/crm bench erp [--items 10000] [--documents 1000] [--rounds 3]
//   (a throwaway PostgreSQL comes from tools/crm: CRM_TEST_PG_DSN)
//
// Measured, each --rounds times (the median and the best printed):
//   catalogue   CatalogSync::Upsert (BatchUpsertCatalogItems) of --items new items in one call (checks, one
//               INSERT ... ON CONFLICT over arrays, a product.created event each written by one statement,
//               the idempotency record), then the same items each changed (product.updated with its changed
//               fields), then sent again identical (nothing written); next to the bare SQL: the same upsert
//               statement over the same arrays alone, and with the same number of outbox rows of the same
//               size inserted by one statement — what the store does minus its checks and envelopes;
//   documents   DocumentStore::Upsert (BatchUpsertDocuments) of --documents new documents of 100 deals in one
//               call (each: checks, its deal, insert, read back with names, its event), then of --documents
//               signed ones (each also queues the accountant's e-mail); next to the bare SQL: one INSERT of
//               the same rows over arrays (and, for the signed, of their e-mail rows).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/base/uuid.h"
#include "libs/events/outbox.h"
#include "libs/events/schema.h"
#include "libs/log/log.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/sql_array.h"
#include "libs/pg/testing.h"
#include "services/deals/erp/catalog_sync.h"
#include "services/deals/erp/document_store.h"
#include "services/deals/erp/wiring.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "crm-erp-bench: %s\n", what.c_str());
  std::exit(1);
}

struct Options {
  int items = 10'000;
  int documents = 1'000;
  int rounds = 3;
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    int v = 0;
    if (!absl::SimpleAtoi(argv[i + 1], &v) || v <= 0) Die(absl::StrCat("bad value for ", flag));
    if (flag == "--items") {
      o.items = std::min(v, crm::deals::erp::kMaxCatalogItems);
    } else if (flag == "--documents") {
      o.documents = std::min(v, crm::deals::erp::kMaxDocuments);
    } else if (flag == "--rounds") {
      o.rounds = v;
    } else {
      Die("usage: crm-erp-bench [--items N] [--documents N] [--rounds N]");
    }
  }
  return o;
}

constexpr char kPipeline[] = "01900000-0000-7000-8000-00000000c001";
constexpr char kStage[] = "01900000-0000-7000-8000-00000000d001";
constexpr int kDeals = 100;

std::string DealId(int n) { return absl::StrCat("01900000-0000-7000-8100-", absl::StrFormat("%012x", n)); }

double Seconds(const std::function<void()>& fn) {
  const auto s = SteadyClock::now();
  fn();
  return std::chrono::duration<double>(SteadyClock::now() - s).count();
}

// "median / best" of rows per second.
std::string Rates(std::vector<double> seconds, int rows) {
  std::sort(seconds.begin(), seconds.end());
  return absl::StrFormat("%9.0f / %9.0f", rows / seconds[seconds.size() / 2], rows / seconds.front());
}
double Median(std::vector<double> seconds, int rows) {
  std::sort(seconds.begin(), seconds.end());
  return rows / seconds[seconds.size() / 2];
}

v1::BatchUpsertCatalogItemsRequest Items(const std::string& prefix, int n, int price_step) {
  v1::BatchUpsertCatalogItemsRequest r;
  for (int i = 0; i < n; ++i) {
    v1::Product* p = r.add_items();
    p->set_external_id(absl::StrCat(prefix, "-", i));
    p->set_sku(absl::StrCat("SKU-", i));
    p->set_name(absl::StrCat("Насос центробежный НС-", i));
    p->set_unit("шт");
    p->mutable_price()->set_amount_minor(100'00 * (i % 500 + 1) + price_step);
    p->mutable_price()->set_currency("RUB");
    p->set_vat_basis_points(2000);
    p->set_active(true);
  }
  return r;
}

// The catalogue upsert as bare SQL over the same arrays; with `events`, as many outbox rows of `event_bytes`.
void BareCatalog(pqxx::connection& c, const v1::BatchUpsertCatalogItemsRequest& r, bool events, size_t event_bytes) {
  std::vector<std::string> ids, keys, skus, names, units, prices, currencies, vats, actives;
  for (const v1::Product& p : r.items()) {
    ids.push_back(crm::NewUuidV7());
    keys.push_back(p.external_id());
    skus.push_back(p.sku());
    names.push_back(p.name());
    units.push_back(p.unit());
    prices.push_back(absl::StrCat(p.price().amount_minor()));
    currencies.push_back(p.price().currency());
    vats.push_back(absl::StrCat(p.vat_basis_points()));
    actives.push_back("t");
  }
  pqxx::work tx(c);
  tx.exec_params(
      "INSERT INTO products AS p (id, external_id, sku, name, unit, price_minor, currency, vat_basis_points, active) "
      "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], "
      "$8::int[], $9::bool[]) ON CONFLICT (external_id) DO UPDATE SET (sku, name, unit, price_minor, currency, "
      "vat_basis_points, active) = (EXCLUDED.sku, EXCLUDED.name, EXCLUDED.unit, EXCLUDED.price_minor, "
      "EXCLUDED.currency, EXCLUDED.vat_basis_points, EXCLUDED.active), version = p.version + 1",
      crm::pg::ArrayLiteral(ids), crm::pg::ArrayLiteral(keys), crm::pg::ArrayLiteral(skus),
      crm::pg::ArrayLiteral(names), crm::pg::ArrayLiteral(units), crm::pg::ArrayLiteral(prices),
      crm::pg::ArrayLiteral(currencies), crm::pg::ArrayLiteral(vats), crm::pg::ArrayLiteral(actives));
  if (events) {
    tx.exec_params(
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at) "
        "SELECT gen_random_uuid(), 'product', k, 'crm.deals.product.created.v1', "
        "decode(repeat('ab', $2), 'hex'), 'crm.deals.product.v1', '/crm/deals', now() FROM unnest($1::text[]) k",
        crm::pg::ArrayLiteral(keys), static_cast<int>(event_bytes));
  }
  tx.commit();
}

v1::BatchUpsertDocumentsRequest Documents(const std::string& prefix, int n, bool signed_) {
  v1::BatchUpsertDocumentsRequest r;
  for (int i = 0; i < n; ++i) {
    v1::Document* d = r.add_documents();
    d->set_external_id(absl::StrCat(prefix, "-", i));
    d->set_deal_id(DealId(1 + i % kDeals));
    d->set_kind(static_cast<v1::Document::Kind>(1 + i % 5));
    d->set_number(absl::StrCat(prefix, "/", i));
    d->set_date("2026-03-02");
    d->mutable_amount()->set_amount_minor(1'000'00 + i);
    d->set_status(signed_ ? v1::Document::SIGNED : v1::Document::DRAFT);
  }
  return r;
}

void BareDocuments(pqxx::connection& c, const v1::BatchUpsertDocumentsRequest& r, bool signed_) {
  std::vector<std::string> ids, deals, kinds, numbers, keys, amounts;
  for (const v1::Document& d : r.documents()) {
    ids.push_back(crm::NewUuidV7());
    deals.push_back(d.deal_id());
    kinds.push_back(absl::StrCat(static_cast<int>(d.kind())));
    numbers.push_back(d.number());
    keys.push_back(absl::StrCat("bare-", d.external_id()));
    amounts.push_back(absl::StrCat(d.amount().amount_minor()));
  }
  pqxx::work tx(c);
  tx.exec_params(
      "INSERT INTO documents (id, deal_id, kind, number, doc_date, amount_minor, currency, status, external_id, "
      "signed_time, create_time, update_time) SELECT u.id, u.deal, u.kind, u.number, date '2026-03-02', u.amount, "
      "'RUB', $7::smallint, u.key, CASE WHEN $7::smallint = 3 THEN now() END, now(), now() FROM unnest($1::uuid[], "
      "$2::uuid[], $3::smallint[], $4::text[], $5::text[], $6::bigint[]) AS u(id, deal, kind, number, key, amount)",
      crm::pg::ArrayLiteral(ids), crm::pg::ArrayLiteral(deals), crm::pg::ArrayLiteral(kinds),
      crm::pg::ArrayLiteral(numbers), crm::pg::ArrayLiteral(keys), crm::pg::ArrayLiteral(amounts), signed_ ? 3 : 1);
  if (signed_) {
    tx.exec_params(
        "INSERT INTO erp_mail_queue (document_id, recipients, mail_from, subject, body, message_id, state, "
        "next_attempt_time, create_time) SELECT id, ARRAY['buh@example.com'], '', 'Подписан документ', "
        "repeat('т', 200), '<d@deals.crm>', 1, now(), now() FROM unnest($1::uuid[]) id",
        crm::pg::ArrayLiteral(ids));
  }
  tx.commit();
}

}  // namespace

int main(int argc, char** argv) {
  crm::log::Init("erp-bench", crm::log::Level::kWarn);
  const Options o = Parse(argc, argv);
  auto db = crm::pg::testing::TempDatabase::Create("erp_bench");
  if (!db.ok()) Die(db.status().ToString());
  std::vector<crm::pg::Migration> all = crm::EventsMigrations();
  all.insert(all.end(), crm::DealsMigrations().begin(), crm::DealsMigrations().end());
  all.insert(all.end(), crm::deals::erp::ErpMigrations().begin(), crm::deals::erp::ErpMigrations().end());
  if (auto m = crm::pg::Migrate((*db)->dsn(), all); !m.ok()) Die(m.status().ToString());
  {
    pqxx::connection c((*db)->dsn());
    pqxx::work tx(c);
    tx.exec0(absl::StrCat("INSERT INTO pipelines (id, name) VALUES ('", kPipeline, "', 'Продажа')"));
    tx.exec0(absl::StrCat("INSERT INTO stages (id, pipeline_id, position, name, kind) VALUES ('", kStage, "', '",
                          kPipeline, "', 1, 'Новая', 1)"));
    tx.exec0(absl::StrCat("INSERT INTO erp_directions VALUES ('", kPipeline, "', true, true)"));
    tx.exec0("UPDATE erp_settings SET accountant_emails = ARRAY['Бухгалтерия <buh@example.com>']");
    tx.exec0(absl::StrCat("INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id, amount_minor) "
                          "SELECT ('01900000-0000-7000-8100-' || lpad(to_hex(d), 12, '0'))::uuid, 'Сделка ' || d, '",
                          kPipeline, "', '", kStage, "', 1, '01900000-0000-7000-8000-00000000a001', 100000 "
                          "FROM generate_series(1, ",
                          kDeals, ") d"));
    tx.commit();
  }
  auto pool = crm::pg::Pool::Create({.dsn = (*db)->dsn(), .size = 4, .application_name = "bench"});
  if (!pool.ok()) Die(pool.status().ToString());
  crm::ManualClock clock(absl::Now());
  crm::deals::erp::CatalogSync catalog(**pool, clock);
  crm::deals::erp::DocumentStore documents(**pool, clock);
  Principal one_c;
  one_c.set_kind(Principal::KIND_API_KEY);
  one_c.set_id("01900000-0000-7000-8000-0000000000c1");
  one_c.add_permissions("erp.sync");
  one_c.add_permissions("catalog.manage");
  pqxx::connection bare((*db)->dsn());
  // The size of one product.created outbox row as the store writes it (for the bare baseline).
  size_t event_bytes = 0;
  {
    v1::ProductUpserted ev;
    *ev.mutable_product() = Items("size", 1, 0).items(0);
    crm::events::OutboxWriter w("deals", clock);
    auto row = w.Row({.aggregate_type = "product", .aggregate_id = crm::NewUuidV7(), .type = "x", .payload = &ev,
                      .actor = one_c});
    if (!row.ok()) Die(row.status().ToString());
    event_bytes = ((*row)[4].size() - 2) / 2;
  }

  std::printf("catalogue: %d items a call, %d rounds                  items/s median / best\n", o.items, o.rounds);
  std::vector<double> created, updated, unchanged, bare_new, bare_events;
  for (int round = 0; round < o.rounds; ++round) {
    const std::string prefix = absl::StrCat("1c-", round);
    const auto fresh = Items(prefix, o.items, 0);
    const auto changed = Items(prefix, o.items, 1);
    created.push_back(Seconds([&] {
      auto r = catalog.Upsert({.principal = one_c, .idempotency_key = absl::StrCat("k-", round)}, fresh);
      if (!r.ok() || r->created() != o.items) Die(absl::StrCat("created: ", r.status().ToString()));
    }));
    updated.push_back(Seconds([&] {
      auto r = catalog.Upsert({.principal = one_c}, changed);
      if (!r.ok() || r->updated() != o.items) Die(absl::StrCat("updated: ", r.status().ToString()));
    }));
    unchanged.push_back(Seconds([&] {
      auto r = catalog.Upsert({.principal = one_c}, changed);
      if (!r.ok() || r->unchanged() != o.items) Die(absl::StrCat("unchanged: ", r.status().ToString()));
    }));
    bare_new.push_back(Seconds([&] { BareCatalog(bare, Items(prefix + "-bare", o.items, 0), false, 0); }));
    bare_events.push_back(Seconds([&] { BareCatalog(bare, Items(prefix + "-bare2", o.items, 0), true, event_bytes); }));
  }
  std::printf("  BatchUpsertCatalogItems, new (created + events)      %s\n", Rates(created, o.items).c_str());
  std::printf("  BatchUpsertCatalogItems, each changed (updated)      %s\n", Rates(updated, o.items).c_str());
  std::printf("  BatchUpsertCatalogItems, identical (nothing written) %s\n", Rates(unchanged, o.items).c_str());
  std::printf("  bare upsert statement, new                           %s\n", Rates(bare_new, o.items).c_str());
  std::printf("  bare upsert + %zu-byte outbox rows, new               %s\n", event_bytes,
              Rates(bare_events, o.items).c_str());
  std::printf("  ratio store / bare with events (new)                 %.2f\n",
              Median(created, o.items) / Median(bare_events, o.items));

  std::printf("\ndocuments: %d a call over %d deals, %d rounds           documents/s median / best\n", o.documents,
              kDeals, o.rounds);
  std::vector<double> drafts, signed_docs, bare_drafts, bare_signed;
  for (int round = 0; round < o.rounds; ++round) {
    drafts.push_back(Seconds([&] {
      auto r = documents.Upsert({.principal = one_c}, Documents(absl::StrCat("d", round), o.documents, false));
      if (!r.ok() || r->created() != o.documents) Die(absl::StrCat("drafts: ", r.status().ToString()));
    }));
    signed_docs.push_back(Seconds([&] {
      auto r = documents.Upsert({.principal = one_c}, Documents(absl::StrCat("s", round), o.documents, true));
      if (!r.ok() || r->newly_signed() != o.documents) Die(absl::StrCat("signed: ", r.status().ToString()));
    }));
    bare_drafts.push_back(Seconds([&] { BareDocuments(bare, Documents(absl::StrCat("d", round), o.documents, false), false); }));
    bare_signed.push_back(Seconds([&] { BareDocuments(bare, Documents(absl::StrCat("s", round), o.documents, true), true); }));
  }
  std::printf("  BatchUpsertDocuments, new drafts                     %s\n", Rates(drafts, o.documents).c_str());
  std::printf("  BatchUpsertDocuments, new signed (+ e-mail queued)   %s\n", Rates(signed_docs, o.documents).c_str());
  std::printf("  bare INSERT, drafts                                  %s\n", Rates(bare_drafts, o.documents).c_str());
  std::printf("  bare INSERT, signed + e-mail rows                    %s\n", Rates(bare_signed, o.documents).c_str());
  std::printf("  ratio store / bare (drafts, signed)                  %.2f, %.2f\n",
              Median(drafts, o.documents) / Median(bare_drafts, o.documents),
              Median(signed_docs, o.documents) / Median(bare_signed, o.documents));
  return 0;
}
