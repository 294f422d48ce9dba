// File: services/deals/products.cc
#include "services/deals/products.h"

#include <algorithm>
#include <optional>
#include <pqxx/pqxx>
#include <set>

#include "absl/numeric/int128.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "crm/deals/v1/events.pb.h"
#include "libs/base/clock.h"
#include "libs/base/money.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/pg/sql_numeric.h"
#include "libs/rpc/call.h"
#include "services/deals/idempotent.h"
#include "services/deals/sql.h"
#include "services/deals/violations.h"

namespace crm::deals {

using crm::common::v1::Principal;

namespace {

constexpr size_t kMaxName = 500;
constexpr size_t kMaxShort = 100;
constexpr size_t kMaxExternalId = 255;
constexpr int64_t kMaxQuantityMilli = int64_t{1'000'000'000} * 1000;
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 200;

absl::Status CheckText(std::string_view field, const std::string& v, size_t max) {
  if (CodePoints(v) > max) return InvalidFieldError(field, absl::StrCat("longer than ", max, " characters"));
  return absl::OkStatus();
}

absl::Status CheckBasisPoints(std::string_view field, int32_t bp) {
  if (bp < 0 || bp > 10000) return InvalidFieldError(field, "must be between 0 and 10000 (0–100 %)");
  return absl::OkStatus();
}

// Money of `m` in `currency` (an empty currency means `currency`); InvalidArgument naming `field`.
absl::StatusOr<int64_t> AmountIn(std::string_view field, const crm::common::v1::Money& m,
                                 const std::string& currency, bool allow_zero) {
  if (!m.currency().empty() && m.currency() != currency) {
    return InvalidFieldError(absl::StrCat(AsAbsl(field), ".currency"),
                             absl::StrCat("must be the deal's currency ", currency));
  }
  if (m.amount_minor() < 0 || (!allow_zero && m.amount_minor() == 0)) {
    return InvalidFieldError(absl::StrCat(AsAbsl(field), ".amount_minor"),
                             allow_zero ? "must not be negative" : "must be positive");
  }
  if (m.amount_minor() > kMaxAmountMinor) {
    return InvalidFieldError(absl::StrCat(AsAbsl(field), ".amount_minor"), "too large");
  }
  return m.amount_minor();
}

crm::common::v1::Money MakeMoney(int64_t minor, const std::string& currency) {
  crm::common::v1::Money m;
  m.set_amount_minor(minor);
  m.set_currency(currency);
  return m;
}

// ---------------------------------------------------------------------------------------------------
// Catalogue rows

std::string ProductColumns() {
  return absl::StrCat(
      "p.id::text, p.external_id, p.sku, p.name, p.unit, p.price_minor, p.currency, p.vat_basis_points, "
      "p.active, p.version, ",
      MicrosOf("p.create_time"), ", ", MicrosOf("p.update_time"), ", lower(p.name)");
}

v1::Product ReadProduct(const pqxx::row& r) {
  v1::Product p;
  p.set_id(r[0].as<std::string>());
  p.set_external_id(r[1].as<std::string>());
  p.set_sku(r[2].as<std::string>());
  p.set_name(r[3].as<std::string>());
  p.set_unit(r[4].as<std::string>());
  *p.mutable_price() = MakeMoney(r[5].as<int64_t>(), r[6].as<std::string>());
  p.set_vat_basis_points(r[7].as<int>());
  p.set_active(r[8].as<bool>());
  p.set_version(r[9].as<int64_t>());
  *p.mutable_create_time() = TsFromMicros(r[10].as<int64_t>());
  *p.mutable_update_time() = TsFromMicros(r[11].as<int64_t>());
  return p;
}

std::optional<v1::Product> LoadProduct(pqxx::transaction_base& tx, std::string_view where_column,
                                       const std::string& value) {
  SqlParams p;
  pqxx::result r =
      Exec(tx,
           absl::StrCat("SELECT ", ProductColumns(), " FROM products p WHERE p.", AsAbsl(where_column), " = ",
                        p.Add(value), where_column == "id" ? "::uuid" : ""),
           p);
  if (r.empty()) return std::nullopt;
  return ReadProduct(r[0]);
}

// Every violation of a catalogue product at once (issue 16).
absl::Status ValidateProduct(v1::Product& p) {
  Violations v;
  absl::StripAsciiWhitespace(p.mutable_external_id());
  if (p.external_id().empty()) v.Add("product.external_id", "required");
  CRM_RETURN_IF_ERROR(v.Merge(CheckText("product.external_id", p.external_id(), kMaxExternalId)));
  absl::StripAsciiWhitespace(p.mutable_name());
  if (p.name().empty()) v.Add("product.name", "required");
  CRM_RETURN_IF_ERROR(v.Merge(CheckText("product.name", p.name(), kMaxName)));
  CRM_RETURN_IF_ERROR(v.Merge(CheckText("product.sku", p.sku(), kMaxShort)));
  CRM_RETURN_IF_ERROR(v.Merge(CheckText("product.unit", p.unit(), kMaxShort)));
  if (p.price().currency().empty()) p.mutable_price()->set_currency("RUB");
  if (!ValidateCurrency(p.price().currency()).ok()) {
    v.Add("product.price.currency", "not an ISO 4217 code");
  }
  CRM_RETURN_IF_ERROR(
      v.Merge(AmountIn("product.price", p.price(), p.price().currency(), /*allow_zero=*/true).status()));
  CRM_RETURN_IF_ERROR(v.Merge(CheckBasisPoints("product.vat_basis_points", p.vat_basis_points())));
  return v.Status();
}

bool CanReadCatalog(const Principal& caller) {
  return ReadScope(caller) != Scope::kNone || rpc::HasPermission(caller, kCatalogManage);
}

// ---------------------------------------------------------------------------------------------------
// Line rows

std::string LineColumns() {
  return absl::StrCat(
      "l.id::text, l.deal_id::text, coalesce(l.product_id::text, ''), l.name, l.sku, l.unit, "
      "l.quantity_milli, "
      "l.unit_price_minor, l.currency, l.discount_basis_points, l.discount_minor, l.vat_basis_points, "
      "l.total_minor, l.version, ",
      MicrosOf("l.create_time"), ", ", MicrosOf("l.update_time"));
}

v1::DealProduct ReadLine(const pqxx::row& r) {
  v1::DealProduct l;
  l.set_id(r[0].as<std::string>());
  l.set_deal_id(r[1].as<std::string>());
  l.set_product_id(r[2].as<std::string>());
  l.set_name(r[3].as<std::string>());
  l.set_sku(r[4].as<std::string>());
  l.set_unit(r[5].as<std::string>());
  l.set_quantity(FormatQuantity(r[6].as<int64_t>()));
  const std::string currency = r[8].as<std::string>();
  *l.mutable_unit_price() = MakeMoney(r[7].as<int64_t>(), currency);
  l.set_discount_basis_points(r[9].as<int>());
  if (r[10].as<int64_t>() != 0) *l.mutable_discount() = MakeMoney(r[10].as<int64_t>(), currency);
  l.set_vat_basis_points(r[11].as<int>());
  *l.mutable_total() = MakeMoney(r[12].as<int64_t>(), currency);
  l.set_version(r[13].as<int64_t>());
  *l.mutable_create_time() = TsFromMicros(r[14].as<int64_t>());
  *l.mutable_update_time() = TsFromMicros(r[15].as<int64_t>());
  return l;
}

// A line as stored: the validated numbers.
struct LineValues {
  int64_t quantity_milli = 0;
  int64_t unit_price_minor = 0;
  int64_t discount_minor = 0;
  int64_t total_minor = 0;
};

// Validates `l` (name, quantity, prices, discount, VAT) in `currency` and computes its total.
absl::StatusOr<LineValues> ValidateLine(v1::DealProduct& l, const std::string& currency) {
  LineValues v;
  {
    Violations bad;  // every violation at once (issue 16)
    absl::StripAsciiWhitespace(l.mutable_name());
    if (l.name().empty()) bad.Add("product.name", "required");
    CRM_RETURN_IF_ERROR(bad.Merge(CheckText("product.name", l.name(), kMaxName)));
    CRM_RETURN_IF_ERROR(bad.Merge(CheckText("product.sku", l.sku(), kMaxShort)));
    CRM_RETURN_IF_ERROR(bad.Merge(CheckText("product.unit", l.unit(), kMaxShort)));
    v.quantity_milli = bad.Value(ParseQuantity("product.quantity", l.quantity())).value_or(0);
    v.unit_price_minor = bad.Value(AmountIn("product.unit_price", l.unit_price(), currency, true)).value_or(0);
    CRM_RETURN_IF_ERROR(bad.Merge(CheckBasisPoints("product.discount_basis_points", l.discount_basis_points())));
    v.discount_minor = bad.Value(AmountIn("product.discount", l.discount(), currency, true)).value_or(0);
    if (v.discount_minor != 0 && l.discount_basis_points() != 0) {
      bad.Add("product.discount", "give a percent discount or an amount, not both");
    }
    CRM_RETURN_IF_ERROR(bad.Merge(CheckBasisPoints("product.vat_basis_points", l.vat_basis_points())));
    CRM_RETURN_IF_ERROR(bad.Status());
  }
  CRM_ASSIGN_OR_RETURN(v.total_minor, LineTotal("product", v.quantity_milli, v.unit_price_minor,
                                                l.discount_basis_points(), v.discount_minor));
  l.set_quantity(FormatQuantity(v.quantity_milli));
  *l.mutable_unit_price() = MakeMoney(v.unit_price_minor, currency);
  if (v.discount_minor != 0) {
    *l.mutable_discount() = MakeMoney(v.discount_minor, currency);
  } else {
    l.clear_discount();
  }
  *l.mutable_total() = MakeMoney(v.total_minor, currency);
  return v;
}

void WriteLine(pqxx::transaction_base& tx, const v1::DealProduct& l, const LineValues& v, bool insert) {
  SqlParams p;
  const std::string id = p.Add(l.id()) + "::uuid";
  const std::string deal = p.Add(l.deal_id()) + "::uuid";
  const std::string product = l.product_id().empty() ? "NULL" : p.Add(l.product_id()) + "::uuid";
  const std::string name = p.Add(l.name());
  const std::string sku = p.Add(l.sku());
  const std::string unit = p.Add(l.unit());
  const std::string qty = p.Add(absl::StrCat(v.quantity_milli)) + "::bigint";
  const std::string price = p.Add(absl::StrCat(v.unit_price_minor)) + "::bigint";
  const std::string currency = p.Add(l.unit_price().currency());
  const std::string dbp = p.Add(absl::StrCat(l.discount_basis_points())) + "::int";
  const std::string dminor = p.Add(absl::StrCat(v.discount_minor)) + "::bigint";
  const std::string vat = p.Add(absl::StrCat(l.vat_basis_points())) + "::int";
  const std::string total = p.Add(absl::StrCat(v.total_minor)) + "::bigint";
  const std::string version = p.Add(absl::StrCat(l.version())) + "::bigint";
  const std::string updated = TsParam(p, FromProtoTimestamp(l.update_time()));
  if (insert) {
    const std::string created = TsParam(p, FromProtoTimestamp(l.create_time()));
    Exec(tx,
         absl::StrCat("INSERT INTO deal_products (id, deal_id, product_id, name, sku, unit, quantity_milli, "
                      "unit_price_minor, currency, discount_basis_points, discount_minor, vat_basis_points, "
                      "total_minor, version, update_time, create_time) VALUES (",
                      absl::StrJoin({id, deal, product, name, sku, unit, qty, price, currency, dbp, dminor,
                                     vat, total, version, updated, created},
                                    ", "),
                      ")"),
         p);
  } else {
    Exec(tx,
         absl::StrCat("UPDATE deal_products SET name = ", name, ", sku = ", sku, ", unit = ", unit,
                      ", quantity_milli = ", qty, ", unit_price_minor = ", price, ", currency = ", currency,
                      ", discount_basis_points = ", dbp, ", discount_minor = ", dminor,
                      ", vat_basis_points = ", vat, ", total_minor = ", total, ", version = ", version,
                      ", update_time = ", updated, " WHERE id = ", id, " AND deal_id = ", deal),
         p);
  }
}

v1::ListDealProductsResponse LinesResponse(pqxx::transaction_base& tx, const DealHead& deal) {
  v1::ListDealProductsResponse out;
  int64_t total = 0;
  for (v1::DealProduct& l : LoadDealProducts(tx, deal.id)) {
    total += l.total().amount_minor();
    *out.add_products() = std::move(l);
  }
  *out.mutable_total() = MakeMoney(total, deal.currency);
  return out;
}

// One page of the deal's lines in the order they were added (after position `after`), with the total of
// all of them (README "Lists").
v1::ListDealProductsResponse LinesPage(pqxx::transaction_base& tx, const DealHead& deal, int size,
                                       std::optional<int64_t> after) {
  v1::ListDealProductsResponse out;
  SqlParams p;
  const std::string d = p.Add(deal.id);
  pqxx::result r = Exec(tx,
                        absl::StrCat("SELECT ", LineColumns(), ", l.pos FROM deal_products l WHERE l.deal_id = ", d,
                                     "::uuid", after ? absl::StrCat(" AND l.pos > ", p.Add(absl::StrCat(*after)), "::bigint") : "",
                                     " ORDER BY l.pos LIMIT ", size + 1),
                        p);
  for (int i = 0; i < static_cast<int>(r.size()) && i < size; ++i) *out.add_products() = ReadLine(r[i]);
  if (static_cast<int>(r.size()) > size) out.set_next_page_token(PosPageToken(r[size - 1][16].as<int64_t>()));
  SqlParams q;
  const int64_t total =
      Exec(tx,
           absl::StrCat("SELECT ", pg::SaturatingBigint("coalesce(sum(total_minor), 0)"),
                        " FROM deal_products WHERE deal_id = ", q.Add(deal.id), "::uuid"),
           q)[0][0]
          .as<int64_t>();
  *out.mutable_total() = MakeMoney(total, deal.currency);
  return out;
}

absl::Status EmitLines(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                       const DealHead& deal, std::string_view change, const v1::DealProduct& line) {
  v1::ListDealProductsResponse all = LinesResponse(tx, deal);
  v1::DealProductsChanged ev;
  ev.set_deal_id(deal.id);
  ev.set_change(std::string(change));
  *ev.mutable_product() = line;
  *ev.mutable_products() = all.products();
  *ev.mutable_total() = all.total();
  return EmitDealEvent(tx, outbox, actor, deal, kProductsChangedType, ev);
}

std::optional<v1::DealProduct> LoadLine(pqxx::transaction_base& tx, std::string_view deal_id,
                                        std::string_view id) {
  SqlParams p;
  pqxx::result r = Exec(
      tx,
      absl::StrCat("SELECT ", LineColumns(), " FROM deal_products l WHERE l.id = ", p.Add(std::string(id)),
                   "::uuid AND l.deal_id = ", p.Add(std::string(deal_id)), "::uuid FOR UPDATE"),
      p);
  if (r.empty()) return std::nullopt;
  return ReadLine(r[0]);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Numbers

absl::StatusOr<int64_t> ParseQuantity(std::string_view field, std::string_view text) {
  const std::string s(absl::StripAsciiWhitespace(AsAbsl(text)));
  if (s.empty()) return InvalidFieldError(field, "required");
  int64_t whole = 0, frac = 0;
  int frac_digits = 0;
  bool dot = false, digits = false;
  for (char c : s) {
    if (c == '.' || c == ',') {
      if (dot) return InvalidFieldError(field, "not a decimal number");
      dot = true;
    } else if (c >= '0' && c <= '9') {
      digits = true;
      if (dot) {
        if (++frac_digits > 3) return InvalidFieldError(field, "at most 3 fractional digits");
        frac = frac * 10 + (c - '0');
      } else {
        whole = whole * 10 + (c - '0');
        if (whole > kMaxQuantityMilli / 1000) return InvalidFieldError(field, "too large");
      }
    } else {
      return InvalidFieldError(field, "not a decimal number");
    }
  }
  if (!digits) return InvalidFieldError(field, "not a decimal number");
  for (int i = frac_digits; i < 3; ++i) frac *= 10;
  const int64_t milli = whole * 1000 + frac;
  if (milli <= 0) return InvalidFieldError(field, "must be positive");
  if (milli > kMaxQuantityMilli) return InvalidFieldError(field, "too large");
  return milli;
}

std::string FormatQuantity(int64_t milli) {
  std::string out = absl::StrCat(milli / 1000);
  int64_t frac = milli % 1000;
  if (frac == 0) return out;
  std::string f = absl::StrCat(1000 + frac).substr(1);
  while (!f.empty() && f.back() == '0') f.pop_back();
  return absl::StrCat(out, ".", f);
}

absl::StatusOr<int64_t> LineTotal(std::string_view prefix, int64_t quantity_milli, int64_t unit_price_minor,
                                  int32_t discount_basis_points, int64_t discount_minor) {
  const absl::int128 gross128 = (absl::int128(quantity_milli) * unit_price_minor + 500) / 1000;
  if (gross128 > kMaxAmountMinor)
    return InvalidFieldError(absl::StrCat(AsAbsl(prefix), ".quantity"), "line total too large");
  const int64_t gross = static_cast<int64_t>(gross128);
  int64_t discount = discount_minor;
  if (discount_basis_points != 0) {
    discount = static_cast<int64_t>((absl::int128(gross) * discount_basis_points + 5000) / 10000);
  }
  if (discount > gross) {
    return InvalidFieldError(absl::StrCat(AsAbsl(prefix), ".discount"), "larger than the line amount");
  }
  return gross - discount;
}

// ---------------------------------------------------------------------------------------------------
// Shared with payments and orders

absl::StatusOr<DealHead> LoadDealHead(pqxx::transaction_base& tx, const Principal& caller,
                                      std::string_view deal_id, bool write, bool for_update) {
  if (deal_id.empty()) return InvalidFieldError("deal_id", "required");
  if (!IsUuid(deal_id)) return InvalidFieldError("deal_id", "not a UUID");
  SqlParams p;
  pqxx::result r = Exec(tx,
                        absl::StrCat("SELECT responsible_id::text, array_to_json(team_ids)::text, currency, "
                                     "amount_minor, version FROM deals WHERE id = ",
                                     p.Add(std::string(deal_id)), "::uuid", for_update ? " FOR UPDATE" : ""),
                        p);
  if (r.empty()) return absl::NotFoundError("deal not found");
  DealHead d;
  d.id = std::string(deal_id);
  d.ownership.responsible_id = r[0][0].as<std::string>();
  d.ownership.team_ids = JsonStrings(r[0][1].as<std::string>());
  d.currency = r[0][2].as<std::string>();
  d.amount_minor = r[0][3].as<int64_t>();
  d.version = r[0][4].as<int64_t>();
  CRM_RETURN_IF_ERROR(write ? CheckCanWrite(caller, d.ownership) : CheckCanRead(caller, d.ownership));
  return d;
}

absl::Status EmitDealEvent(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                           const DealHead& deal, const char* type, const google::protobuf::Message& payload) {
  return outbox
      .Append(tx, {.aggregate_type = "deal",
                   .aggregate_id = deal.id,
                   .type = type,
                   .payload = &payload,
                   .actor = actor.principal,
                   .request_id = actor.request_id,
                   .visible_to_user_ids = {deal.ownership.responsible_id},
                   .visible_to_team_ids = deal.ownership.team_ids,
                   .automation_depth = actor.automation_depth,
                   .skip_automation = actor.skip_automation})
      .status();
}

std::vector<v1::DealProduct> LoadDealProducts(pqxx::transaction_base& tx, std::string_view deal_id) {
  SqlParams p;
  pqxx::result r = Exec(tx,
                        absl::StrCat("SELECT ", LineColumns(), " FROM deal_products l WHERE l.deal_id = ",
                                     p.Add(std::string(deal_id)), "::uuid ORDER BY l.pos"),
                        p);
  std::vector<v1::DealProduct> out;
  out.reserve(r.size());
  for (const pqxx::row& row : r) out.push_back(ReadLine(row));
  return out;
}

absl::Status CopyDealProducts(pqxx::transaction_base& tx, std::string_view from_deal_id,
                              std::string_view to_deal_id) {
  if (!IsUuid(from_deal_id)) return InvalidFieldError("from_deal_id", "not a UUID");
  if (!IsUuid(to_deal_id)) return InvalidFieldError("to_deal_id", "not a UUID");
  SqlParams p;
  pqxx::result ids = Exec(tx,
                          absl::StrCat("SELECT id::text FROM deal_products WHERE deal_id = ",
                                       p.Add(std::string(from_deal_id)), "::uuid ORDER BY pos"),
                          p);
  for (const pqxx::row& row : ids) {
    SqlParams q;
    Exec(tx,
         absl::StrCat("INSERT INTO deal_products (id, deal_id, product_id, name, sku, unit, quantity_milli, "
                      "unit_price_minor, currency, discount_basis_points, discount_minor, vat_basis_points, "
                      "total_minor, version, create_time, update_time) SELECT ",
                      q.Add(NewUuidV7()), "::uuid, ", q.Add(std::string(to_deal_id)),
                      "::uuid, product_id, name, sku, unit, quantity_milli, unit_price_minor, currency, "
                      "discount_basis_points, discount_minor, vat_basis_points, total_minor, 1, now(), now() "
                      "FROM deal_products WHERE id = ",
                      q.Add(row[0].as<std::string>()), "::uuid"),
         q);
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------------
// CatalogStore

CatalogStore::CatalogStore(pg::Pool& pool, const Clock& clock)
    : pool_(pool), clock_(clock), outbox_("deals", clock) {}

absl::StatusOr<v1::UpsertProductResponse> CatalogStore::Upsert(const Actor& actor, const v1::Product& in) {
  CRM_RETURN_IF_ERROR(rpc::RequirePermission(actor.principal, kCatalogManage));
  v1::Product p = in;
  CRM_RETURN_IF_ERROR(ValidateProduct(p));
  const absl::Time now = clock_.Now();
  v1::UpsertProductResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<v1::Product> before = LoadProduct(tx, "external_id", p.external_id());
    SqlParams q;
    const std::string cols = "(sku, name, unit, price_minor, currency, vat_basis_points, active)";
    // One statement: a racing upsert of the same external_id waits on the unique index and then
    // updates the row the other made. The WHERE keeps an identical upsert from bumping the version.
    pqxx::result r = Exec(
        tx,
        absl::StrCat(
            "INSERT INTO products AS p (id, external_id, sku, name, unit, price_minor, currency, "
            "vat_basis_points, active, version, create_time, update_time) VALUES (",
            q.Add(NewUuidV7()), "::uuid, ", q.Add(p.external_id()), ", ", q.Add(p.sku()), ", ",
            q.Add(p.name()), ", ", q.Add(p.unit()), ", ", q.Add(absl::StrCat(p.price().amount_minor())),
            "::bigint, ", q.Add(p.price().currency()), ", ", q.Add(absl::StrCat(p.vat_basis_points())),
            "::int, ", p.active() ? "true" : "false", ", 1, ", TsParam(q, now), ", ", TsParam(q, now),
            ") ON CONFLICT (external_id) DO UPDATE SET ", cols,
            " = (EXCLUDED.sku, EXCLUDED.name, EXCLUDED.unit, ",
            "EXCLUDED.price_minor, EXCLUDED.currency, EXCLUDED.vat_basis_points, EXCLUDED.active), ",
            "version = p.version + 1, update_time = EXCLUDED.update_time WHERE ", "(p.sku, p.name, p.unit, ",
            "p.price_minor, p.currency, p.vat_basis_points, p.active) IS DISTINCT FROM (EXCLUDED.sku, ",
            "EXCLUDED.name, EXCLUDED.unit, EXCLUDED.price_minor, EXCLUDED.currency, "
            "EXCLUDED.vat_basis_points, ",
            "EXCLUDED.active) RETURNING ", ProductColumns(), ", (xmax = 0) AS inserted"),
        q);
    if (r.empty()) {  // identical to the stored row: nothing changed
      std::optional<v1::Product> now_row = LoadProduct(tx, "external_id", p.external_id());
      if (!now_row.has_value()) return absl::InternalError("upserted product vanished");
      *out.mutable_product() = *now_row;
      return absl::OkStatus();
    }
    *out.mutable_product() = ReadProduct(r[0]);
    out.set_created(r[0]["inserted"].as<bool>());
    out.set_changed(true);
    v1::ProductUpserted ev;
    *ev.mutable_product() = out.product();
    if (!out.created() && before.has_value()) {
      const v1::Product& a = *before;
      const v1::Product& b = out.product();
      if (a.sku() != b.sku()) ev.add_changed_fields("sku");
      if (a.name() != b.name()) ev.add_changed_fields("name");
      if (a.unit() != b.unit()) ev.add_changed_fields("unit");
      if (a.price().SerializeAsString() != b.price().SerializeAsString()) ev.add_changed_fields("price");
      if (a.vat_basis_points() != b.vat_basis_points()) ev.add_changed_fields("vat_basis_points");
      if (a.active() != b.active()) ev.add_changed_fields("active");
    }
    return outbox_
        .Append(tx, {.aggregate_type = "product",
                     .aggregate_id = out.product().id(),
                     .type = out.created() ? kProductCreatedType : kProductUpdatedType,
                     .payload = &ev,
                     .actor = actor.principal,
                     .request_id = actor.request_id,
                     .automation_depth = actor.automation_depth,
                     .skip_automation = actor.skip_automation})
        .status();
  }));
  return out;
}

absl::StatusOr<v1::Product> CatalogStore::Get(const Principal& caller, std::string_view id) {
  if (!CanReadCatalog(caller)) return absl::PermissionDeniedError("missing permission deals.read.own");
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  std::optional<v1::Product> p;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_,
                                        [&](pqxx::work& tx) -> absl::Status {
                                          p = LoadProduct(tx, "id", std::string(id));
                                          return absl::OkStatus();
                                        },
                                        {.read_only = true}));
  if (!p.has_value()) return absl::NotFoundError("product not found");
  return *p;
}

absl::StatusOr<v1::ListProductsResponse> CatalogStore::List(const Principal& caller,
                                                            const v1::ListProductsRequest& req) {
  if (!CanReadCatalog(caller)) return absl::PermissionDeniedError("missing permission deals.read.own");
  CRM_ASSIGN_OR_RETURN(const int limit, PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize));
  SqlParams p;
  std::vector<std::string> conds{"TRUE"};
  const std::string query(absl::StripAsciiWhitespace(req.query()));
  if (!query.empty()) {
    // Each on its trigram index (products_*_trgm, migration 0010).
    const std::string like = p.Add(absl::StrCat("%", EscapeLike(query), "%"));
    conds.push_back(absl::StrCat("(p.name ILIKE ", like, " OR p.sku ILIKE ", like, " OR p.external_id ILIKE ",
                                 like, ")"));
  }
  if (req.active_only()) conds.push_back("p.active");
  if (!req.page_token().empty()) {
    CRM_ASSIGN_OR_RETURN(std::string after, AfterNamePageToken(req.page_token(), "p", p));
    conds.push_back(std::move(after));
  }
  // A search sorts its matches (top-N) instead of walking products_name in order: PostgreSQL cannot
  // estimate how many rows a trigram pattern matches (1 030 guessed for 10 found), and when it guesses
  // high it walks the whole name index hoping to fill a page early (100 000 rows removed by the
  // filter for a rare code). `lower(p.name) || ''` sorts the same but is not the index's expression.
  const char* order = query.empty() ? " ORDER BY lower(p.name), p.id LIMIT " : " ORDER BY lower(p.name) || '', p.id LIMIT ";
  v1::ListProductsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        pqxx::result r = Exec(
            tx,
            absl::StrCat("SELECT ", ProductColumns(), " FROM products p WHERE ",
                         absl::StrJoin(conds, " AND "), order, limit + 1),
            p);
        for (int i = 0; i < static_cast<int>(r.size()) && i < limit; ++i)
          *out.add_products() = ReadProduct(r[i]);
        if (static_cast<int>(r.size()) > limit) {
          out.set_next_page_token(
              NamePageToken(r[limit - 1][12].as<std::string>(), r[limit - 1][0].as<std::string>()));
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// DealProductStore

DealProductStore::DealProductStore(pg::Pool& pool, const Clock& clock)
    : pool_(pool), clock_(clock), outbox_("deals", clock) {}

absl::StatusOr<v1::ListDealProductsResponse> DealProductStore::List(const Principal& caller,
                                                                    std::string_view deal_id) {
  v1::ListDealProductsRequest req;
  req.set_deal_id(std::string(deal_id));
  return List(caller, req);
}

absl::StatusOr<v1::ListDealProductsResponse> DealProductStore::List(const Principal& caller,
                                                                    const v1::ListDealProductsRequest& req) {
  Violations v;
  const int size = v.Value(PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize)).value_or(0);
  const std::optional<int64_t> after = v.Value(DecodePosPageToken("page_token", req.page_token())).value_or(std::nullopt);
  if (req.deal_id().empty()) v.Add("deal_id", "required");
  if (!req.deal_id().empty() && !IsUuid(req.deal_id())) v.Add("deal_id", "not a UUID");
  CRM_RETURN_IF_ERROR(v.Status());
  v1::ListDealProductsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        CRM_ASSIGN_OR_RETURN(DealHead deal, LoadDealHead(tx, caller, req.deal_id(), /*write=*/false, false));
        out = LinesPage(tx, deal, size, after);
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::DealProduct> DealProductStore::Add(const Actor& actor, std::string_view deal_id,
                                                      const v1::DealProduct& in) {
  if (!in.product_id().empty() && !IsUuid(in.product_id())) {
    return InvalidFieldError("product.product_id", "not a UUID");
  }
  v1::DealProduct l;
  v1::AddDealProductRequest request;  // what an idempotency key is bound to
  request.set_deal_id(std::string(deal_id));
  *request.mutable_product() = in;
  CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, clock_.Now(), actor.principal, actor.idempotency_key,
                                              kAddDealProductMethod, request, l,
                                              [&](pqxx::transaction_base& tx) -> absl::Status {
    l = in;
    CRM_ASSIGN_OR_RETURN(DealHead deal, LoadDealHead(tx, actor.principal, deal_id, /*write=*/true, true));
    if (!l.product_id().empty()) {
      std::optional<v1::Product> p = LoadProduct(tx, "id", l.product_id());
      if (!p.has_value()) return InvalidFieldError("product.product_id", "no such product");
      if (!p->active()) return InvalidFieldError("product.product_id", "the product is not active");
      // The catalogue's values at this moment; a price given with the line overrides the catalogue's.
      if (l.name().empty()) l.set_name(p->name());
      l.set_sku(p->sku());
      l.set_unit(p->unit());
      l.set_vat_basis_points(p->vat_basis_points());
      if (!l.has_unit_price()) {
        if (p->price().currency() != deal.currency) {
          return InvalidFieldError("product.unit_price",
                                   absl::StrCat("the product is priced in ", p->price().currency(),
                                                ", the deal in ", deal.currency, ": give the price"));
        }
        *l.mutable_unit_price() = p->price();
      }
    }
    CRM_ASSIGN_OR_RETURN(LineValues v, ValidateLine(l, deal.currency));
    const absl::Time now = clock_.Now();
    l.set_id(NewUuidV7());
    l.set_deal_id(deal.id);
    l.set_version(1);
    *l.mutable_create_time() = ToProtoTimestamp(now);
    *l.mutable_update_time() = ToProtoTimestamp(now);
    WriteLine(tx, l, v, /*insert=*/true);
    return EmitLines(tx, outbox_, actor, deal, "added", l);
  }));
  return l;
}

absl::StatusOr<v1::DealProduct> DealProductStore::Update(const Actor& actor, std::string_view deal_id,
                                                         const v1::DealProduct& in,
                                                         const google::protobuf::FieldMask& mask) {
  static const std::set<std::string> kPaths = {
      "name", "quantity", "unit_price", "discount_basis_points", "discount", "vat_basis_points"};
  {
    Violations v;  // every violation at once (issue 16)
    if (!IsUuid(in.id())) v.Add("product.id", "not a UUID");
    if (mask.paths().empty()) v.Add("update_mask", "required");
    for (const std::string& path : mask.paths()) {
      if (!kPaths.contains(path)) v.Add("update_mask", absl::StrCat("cannot update ", QuoteForError(path)));
    }
    CRM_RETURN_IF_ERROR(v.Status());
  }
  v1::DealProduct result;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(DealHead deal, LoadDealHead(tx, actor.principal, deal_id, /*write=*/true, true));
    std::optional<v1::DealProduct> old = LoadLine(tx, deal.id, in.id());
    if (!old.has_value()) return absl::NotFoundError("line item not found");
    if (in.version() != 0 && in.version() != old->version()) {  // 0 = any version (README "Versions")
      return absl::AbortedError(
          absl::StrCat("version mismatch: the line is at version ", old->version(), ", not ", in.version()));
    }
    v1::DealProduct next = *old;
    for (const std::string& path : mask.paths()) {
      if (path == "name") next.set_name(in.name());
      if (path == "quantity") next.set_quantity(in.quantity());
      if (path == "unit_price") *next.mutable_unit_price() = in.unit_price();
      if (path == "discount_basis_points") next.set_discount_basis_points(in.discount_basis_points());
      if (path == "discount") *next.mutable_discount() = in.discount();
      if (path == "vat_basis_points") next.set_vat_basis_points(in.vat_basis_points());
    }
    CRM_ASSIGN_OR_RETURN(LineValues v, ValidateLine(next, deal.currency));
    v1::DealProduct probe = next;
    probe.clear_update_time();
    v1::DealProduct was = *old;
    was.clear_update_time();
    if (probe.SerializeAsString() == was.SerializeAsString()) {
      result = *old;
      return absl::OkStatus();
    }
    next.set_version(old->version() + 1);
    *next.mutable_update_time() = ToProtoTimestamp(clock_.Now());
    WriteLine(tx, next, v, /*insert=*/false);
    result = next;
    return EmitLines(tx, outbox_, actor, deal, "updated", next);
  }));
  return result;
}

absl::StatusOr<v1::ListDealProductsResponse> DealProductStore::Remove(const Actor& actor,
                                                                      std::string_view deal_id,
                                                                      std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "not a UUID");
  v1::ListDealProductsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(DealHead deal, LoadDealHead(tx, actor.principal, deal_id, /*write=*/true, true));
    std::optional<v1::DealProduct> old = LoadLine(tx, deal.id, id);
    if (!old.has_value()) return absl::NotFoundError("line item not found");
    SqlParams p;
    Exec(tx, absl::StrCat("DELETE FROM deal_products WHERE id = ", p.Add(old->id()), "::uuid"), p);
    CRM_RETURN_IF_ERROR(EmitLines(tx, outbox_, actor, deal, "removed", *old));
    out = LinesPage(tx, deal, kDefaultPageSize, std::nullopt);
    return absl::OkStatus();
  }));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Services

grpc::Status CatalogServiceImpl::UpsertProduct(grpc::ServerContext* ctx, const v1::UpsertProductRequest* req,
                                               v1::UpsertProductResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Upsert(ActorOf(caller, *ctx), req->product());
  });
}

grpc::Status CatalogServiceImpl::GetProduct(grpc::ServerContext* ctx, const v1::GetProductRequest* req,
                                            v1::Product* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Get(caller, req->id()); });
}

grpc::Status CatalogServiceImpl::ListProducts(grpc::ServerContext* ctx, const v1::ListProductsRequest* req,
                                              v1::ListProductsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.List(caller, *req); });
}

grpc::Status DealProductServiceImpl::ListDealProducts(grpc::ServerContext* ctx,
                                                      const v1::ListDealProductsRequest* req,
                                                      v1::ListDealProductsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.List(caller, *req); });
}

grpc::Status DealProductServiceImpl::AddDealProduct(grpc::ServerContext* ctx,
                                                    const v1::AddDealProductRequest* req,
                                                    v1::DealProduct* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Add(ActorOf(caller, *ctx), req->deal_id(), req->product());
  });
}

grpc::Status DealProductServiceImpl::UpdateDealProduct(grpc::ServerContext* ctx,
                                                       const v1::UpdateDealProductRequest* req,
                                                       v1::DealProduct* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Update(ActorOf(caller, *ctx), req->deal_id(), req->product(),
                         req->update_mask());
  });
}

grpc::Status DealProductServiceImpl::RemoveDealProduct(grpc::ServerContext* ctx,
                                                       const v1::RemoveDealProductRequest* req,
                                                       v1::ListDealProductsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Remove(ActorOf(caller, *ctx), req->deal_id(), req->id());
  });
}

}  // namespace crm::deals
