// File: services/deals/erp/catalog_sync.cc
#include "services/deals/erp/catalog_sync.h"

#include <map>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "crm/deals/v1/commerce.pb.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
#include "libs/rpc/call.h"
#include "services/deals/erp/common.h"
#include "services/deals/idempotent.h"
#include "services/deals/products.h"
#include "services/deals/sql.h"

namespace crm::deals::erp {

namespace v1 = crm::deals::v1;

namespace {

// The products' upsert over arrays, one element per item ($1..$9), at $10 (now). The WHERE keeps an
// identical item from bumping the version; RETURNING gives only the rows made or changed.
constexpr char kUpsert[] =
    "INSERT INTO products AS p (id, external_id, sku, name, unit, price_minor, currency, vat_basis_points, active, "
    "version, create_time, update_time) "
    "SELECT u.id, u.external_id, u.sku, u.name, u.unit, u.price_minor, u.currency, u.vat, u.active, 1, $10::timestamptz, "
    "$10::timestamptz FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], "
    "$7::text[], $8::int[], $9::bool[]) AS u(id, external_id, sku, name, unit, price_minor, currency, vat, active) "
    "ON CONFLICT (external_id) DO UPDATE SET (sku, name, unit, price_minor, currency, vat_basis_points, active) = "
    "(EXCLUDED.sku, EXCLUDED.name, EXCLUDED.unit, EXCLUDED.price_minor, EXCLUDED.currency, EXCLUDED.vat_basis_points, "
    "EXCLUDED.active), version = p.version + 1, update_time = EXCLUDED.update_time "
    "WHERE (p.sku, p.name, p.unit, p.price_minor, p.currency, p.vat_basis_points, p.active) IS DISTINCT FROM "
    "(EXCLUDED.sku, EXCLUDED.name, EXCLUDED.unit, EXCLUDED.price_minor, EXCLUDED.currency, EXCLUDED.vat_basis_points, "
    "EXCLUDED.active) "
    "RETURNING p.id::text, p.external_id, p.version, (xmax = 0) AS inserted, "
    "(extract(epoch FROM p.create_time) * 1000000)::bigint, (extract(epoch FROM p.update_time) * 1000000)::bigint";
// What the changed products were before (for changed_fields), read before the upsert.
constexpr char kBefore[] =
    "SELECT external_id, sku, name, unit, price_minor, currency, vat_basis_points, active FROM products "
    "WHERE external_id = ANY($1::text[])";

constexpr size_t kMaxExternalId = 255;
constexpr size_t kMaxName = 500;
constexpr size_t kMaxShort = 100;

// Normalises `p` as UpsertProduct does (trimmed key and name, RUB by default) and records its violations
// under `prefix` ("items[3]").
void CheckItem(v1::Product& p, const std::string& prefix, Violations& v) {
  *p.mutable_external_id() = std::string(absl::StripAsciiWhitespace(p.external_id()));
  *p.mutable_name() = std::string(absl::StripAsciiWhitespace(p.name()));
  CheckText(p.external_id(), absl::StrCat(prefix, ".external_id"), kMaxExternalId, true, v);
  CheckText(p.name(), absl::StrCat(prefix, ".name"), kMaxName, true, v);
  CheckText(p.sku(), absl::StrCat(prefix, ".sku"), kMaxShort, false, v);
  CheckText(p.unit(), absl::StrCat(prefix, ".unit"), kMaxShort, false, v);
  if (p.price().currency().empty()) p.mutable_price()->set_currency("RUB");
  CheckMoney(p.price(), absl::StrCat(prefix, ".price"), /*positive=*/false, /*currency_optional=*/false, v);
  if (p.vat_basis_points() < 0 || p.vat_basis_points() > 10000) {
    v.Add(absl::StrCat(prefix, ".vat_basis_points"), "must be in 0..10000");
  }
}

}  // namespace

CatalogSync::CatalogSync(pg::Pool& pool, const Clock& clock) : pool_(pool), clock_(clock), outbox_("deals", clock) {}

absl::StatusOr<v1::BatchUpsertCatalogItemsResponse> CatalogSync::Upsert(
    const Actor& actor, const v1::BatchUpsertCatalogItemsRequest& request) {
  CRM_RETURN_IF_ERROR(rpc::RequirePermission(actor.principal, kCatalogManage));
  std::vector<v1::Product> items(request.items().begin(), request.items().end());
  {
    Violations v;  // every bad item at once
    if (items.empty()) v.Add("items", "required");
    if (items.size() > static_cast<size_t>(kMaxCatalogItems)) {
      v.Add("items", absl::StrCat("at most ", kMaxCatalogItems, " items a call"));
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < items.size() && i <= static_cast<size_t>(kMaxCatalogItems); ++i) {
      const std::string prefix = absl::StrCat("items[", i, "]");
      CheckItem(items[i], prefix, v);
      if (!items[i].external_id().empty() && !seen.insert(items[i].external_id()).second) {
        v.Add(absl::StrCat(prefix, ".external_id"), "repeated in this batch");
      }
    }
    CRM_RETURN_IF_ERROR(v.Status());
  }
  const absl::Time now = clock_.Now();
  std::vector<std::string> ids, keys, skus, names, units, prices, currencies, vats, actives;
  std::map<std::string, size_t> index;  // external_id -> item
  for (size_t i = 0; i < items.size(); ++i) {
    const v1::Product& p = items[i];
    index[p.external_id()] = i;
    ids.push_back(NewUuidV7());
    keys.push_back(p.external_id());
    skus.push_back(p.sku());
    names.push_back(p.name());
    units.push_back(p.unit());
    prices.push_back(absl::StrCat(p.price().amount_minor()));
    currencies.push_back(p.price().currency());
    vats.push_back(absl::StrCat(p.vat_basis_points()));
    actives.push_back(p.active() ? "t" : "f");
  }
  v1::BatchUpsertCatalogItemsResponse out;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(
      pool_, now, actor.principal, actor.idempotency_key, kBatchUpsertCatalogItemsMethod, request, out,
      [&](pqxx::transaction_base& tx) -> absl::Status {
        out.Clear();
        std::map<std::string, v1::Product> before;
        for (const pqxx::row& r : pg::ExecPrepared(tx, kBefore, pg::ArrayLiteral(keys))) {
          v1::Product& b = before[r[0].c_str()];
          b.set_sku(r[1].c_str());
          b.set_name(r[2].c_str());
          b.set_unit(r[3].c_str());
          b.mutable_price()->set_amount_minor(r[4].as<int64_t>());
          b.mutable_price()->set_currency(r[5].c_str());
          b.set_vat_basis_points(r[6].as<int>());
          b.set_active(r[7].as<bool>());
        }
        SqlParams p;
        for (const auto* column : {&ids, &keys, &skus, &names, &units, &prices, &currencies, &vats, &actives}) {
          p.Add(pg::ArrayLiteral(*column));
        }
        p.Add(FormatRfc3339Utc(now));
        pqxx::result r = ExecPrepared(tx, kUpsert, p);
        events::OutboxBatch events(outbox_);
        for (const pqxx::row& row : r) {
          const v1::Product& item = items[index.at(row[1].c_str())];
          v1::ProductUpserted ev;
          v1::Product* product = ev.mutable_product();
          *product = item;
          product->set_id(row[0].c_str());
          product->set_version(row[2].as<int64_t>());
          *product->mutable_create_time() = TsFromMicros(row[4].as<int64_t>());
          *product->mutable_update_time() = TsFromMicros(row[5].as<int64_t>());
          const bool created = row[3].as<bool>();
          if (created) {
            out.set_created(out.created() + 1);
          } else {
            out.set_updated(out.updated() + 1);
            if (auto b = before.find(item.external_id()); b != before.end()) {
              const v1::Product& a = b->second;
              if (a.sku() != item.sku()) ev.add_changed_fields("sku");
              if (a.name() != item.name()) ev.add_changed_fields("name");
              if (a.unit() != item.unit()) ev.add_changed_fields("unit");
              if (a.price().SerializeAsString() != item.price().SerializeAsString()) ev.add_changed_fields("price");
              if (a.vat_basis_points() != item.vat_basis_points()) ev.add_changed_fields("vat_basis_points");
              if (a.active() != item.active()) ev.add_changed_fields("active");
            }
          }
          CRM_RETURN_IF_ERROR(events
                                  .Add({.aggregate_type = "product",
                                        .aggregate_id = product->id(),
                                        .type = created ? kProductCreatedType : kProductUpdatedType,
                                        .payload = &ev,
                                        .actor = actor.principal,
                                        .request_id = actor.request_id,
                                        .automation_depth = actor.automation_depth,
                                        .skip_automation = actor.skip_automation})
                                  .status());
        }
        out.set_unchanged(static_cast<int32_t>(items.size()) - out.created() - out.updated());
        return events.Flush(tx);
      }));
  return out;
}

}  // namespace crm::deals::erp
