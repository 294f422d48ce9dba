// File: services/deals/products.h
// -----------------------------------------------------------------------------
// Products (D6, seed 002): the nomenclature catalogue that an external system (1C) upserts into by its
// own key, and the line items (товары) of a deal. CatalogStore / CatalogServiceImpl serve
// crm.deals.v1.CatalogService, DealProductStore / DealProductServiceImpl crm.deals.v1.DealProductService
// (commerce.proto).
//
// What the stores promise:
//   - UpsertProduct is one INSERT ... ON CONFLICT (external_id): the same external_id always names one row,
//     whatever the concurrency; a change bumps the version and writes crm.deals.product.created.v1 /
//     updated.v1 (topic crm.deals.product.v1, key = product id); an identical upsert writes nothing;
//   - quantities are decimals with at most 3 fractional digits, kept as thousandths ("1.5" = 1500);
//     a line's total is round_half_up(quantity × unit price) − discount, the percent discount itself
//     rounded half up, never below zero; all amounts in the deal's currency;
//   - a line taken from the catalogue copies the product's name, SKU, unit, VAT and price at that moment;
//   - reading lines needs read access to the deal, changing them write access (access.h), an invisible
//     deal being NOT_FOUND; every change writes crm.deals.deal.products_changed.v1 (key = deal id,
//     visible to the deal's responsible and teams) in the same transaction;
//   - every validation error is INVALID_ARGUMENT naming the field, with nothing written;
//   - ListProducts' query is matched on trigram indexes of the name, SKU and external id, and a deal's
//     lines are read on (deal_id, pos) (issue 14; lists_plan_test.cc).
//
// Example:
//   crm::deals::CatalogStore catalog(*pool, crm::SystemClock());
//   crm::deals::DealProductStore lines(*pool, crm::SystemClock());
//   server.AddService(new crm::deals::CatalogServiceImpl(catalog));
//   server.AddService(new crm::deals::DealProductServiceImpl(lines));
//   // Inside a deal copy's transaction:
//   CRM_RETURN_IF_ERROR(crm::deals::CopyDealProducts(tx, source_id, copy_id));
#ifndef CRM_SERVICES_DEALS_PRODUCTS_H_
#define CRM_SERVICES_DEALS_PRODUCTS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crm/deals/v1/commerce.grpc.pb.h"
#include "libs/events/outbox.h"
#include "services/deals/access.h"
#include "services/deals/deals.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::deals {

// Event types (deal ones on crm.deals.deal.v1, product ones on crm.deals.product.v1).
inline constexpr char kProductsChangedType[] = "crm.deals.deal.products_changed.v1";
inline constexpr char kProductCreatedType[] = "crm.deals.product.created.v1";
inline constexpr char kProductUpdatedType[] = "crm.deals.product.updated.v1";

// Permission to upsert the catalogue (identity migration 0002).
inline constexpr char kCatalogManage[] = "catalog.manage";

// Returns the thousandths of decimal `text` ("2" → 2000, "0.125" → 125); InvalidArgument naming `field`
// unless it is a positive decimal with at most 3 fractional digits and at most 1 000 000 000.
absl::StatusOr<int64_t> ParseQuantity(std::string_view field, std::string_view text);

// Returns `milli` thousandths as the shortest decimal ("1500" → "1.5", 2000 → "2").
std::string FormatQuantity(int64_t milli);

// Returns the total of a line in minor units: round_half_up(quantity_milli × unit_price / 1000) less the
// discount (basis points of that amount, rounded half up, or discount_minor). InvalidArgument naming
// "<prefix>.discount" when the discount exceeds the amount, "<prefix>.quantity" when it overflows.
absl::StatusOr<int64_t> LineTotal(std::string_view prefix, int64_t quantity_milli, int64_t unit_price_minor,
                                  int32_t discount_basis_points, int64_t discount_minor);

// Copies every line item of deal `from_deal_id` to deal `to_deal_id` (new ids, version 1, same order)
// inside the caller's transaction `tx`. Checks no access and writes no event (the copy emits its own).
absl::Status CopyDealProducts(pqxx::transaction_base& tx, std::string_view from_deal_id,
                              std::string_view to_deal_id);

// What the commerce stores (products, payments, orders) need of a deal: who may see it and its money.
struct DealHead {
  std::string id;
  DealOwnership ownership;
  std::string currency;
  int64_t amount_minor = 0;
  int64_t version = 0;
};

// The deal `deal_id` (locked until `tx` ends with `for_update`), checked against `caller`: NOT_FOUND if
// missing or invisible, PERMISSION_DENIED when `write` and the caller may see but not change it.
// InvalidArgument naming "deal_id" when it is not a UUID.
absl::StatusOr<DealHead> LoadDealHead(pqxx::transaction_base& tx, const crm::common::v1::Principal& caller,
                                      std::string_view deal_id, bool write, bool for_update);

// Appends an event of aggregate "deal" (key = deal id) visible to the deal's responsible and teams.
absl::Status EmitDealEvent(pqxx::transaction_base& tx, const crm::events::OutboxWriter& outbox,
                           const Actor& actor, const DealHead& deal, const char* type,
                           const google::protobuf::Message& payload);

// The deal's line items in the order added.
std::vector<crm::deals::v1::DealProduct> LoadDealProducts(pqxx::transaction_base& tx,
                                                          std::string_view deal_id);

// The nomenclature catalogue. Thread-safe; pool and clock must outlive it.
class CatalogStore {
 public:
  CatalogStore(pg::Pool& pool, const Clock& clock);

  // Creates or updates the product named by product.external_id (see the header comment). Needs
  // catalog.manage.
  absl::StatusOr<crm::deals::v1::UpsertProductResponse> Upsert(const Actor& actor,
                                                               const crm::deals::v1::Product& product);
  // The product `id`; needs any deals permission or catalog.manage.
  absl::StatusOr<crm::deals::v1::Product> Get(const crm::common::v1::Principal& caller, std::string_view id);
  // Products matching the request, by lower-cased name then id, keyset-paged.
  absl::StatusOr<crm::deals::v1::ListProductsResponse> List(const crm::common::v1::Principal& caller,
                                                            const crm::deals::v1::ListProductsRequest& req);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  crm::events::OutboxWriter outbox_;
};

// A deal's line items. Thread-safe; pool and clock must outlive it.
class DealProductStore {
 public:
  DealProductStore(pg::Pool& pool, const Clock& clock);

  // The lines of a deal the caller may see, and their total.
  absl::StatusOr<crm::deals::v1::ListDealProductsResponse> List(const crm::common::v1::Principal& caller,
                                                                std::string_view deal_id);
  // A page of them (page_size / page_token, README "Lists"), with the total of all of them.
  absl::StatusOr<crm::deals::v1::ListDealProductsResponse> List(const crm::common::v1::Principal& caller,
                                                                const crm::deals::v1::ListDealProductsRequest& req);
  // Adds a line (from the catalogue when product_id is set).
  absl::StatusOr<crm::deals::v1::DealProduct> Add(const Actor& actor, std::string_view deal_id,
                                                  const crm::deals::v1::DealProduct& line);
  // Applies the paths of `mask` when line.version matches (0 = do not check).
  absl::StatusOr<crm::deals::v1::DealProduct> Update(const Actor& actor, std::string_view deal_id,
                                                     const crm::deals::v1::DealProduct& line,
                                                     const google::protobuf::FieldMask& mask);
  // Removes a line; returns the lines left.
  absl::StatusOr<crm::deals::v1::ListDealProductsResponse> Remove(const Actor& actor,
                                                                  std::string_view deal_id,
                                                                  std::string_view id);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  crm::events::OutboxWriter outbox_;
};

// crm.deals.v1.CatalogService over a CatalogStore (which must outlive it).
class CatalogServiceImpl final : public crm::deals::v1::CatalogService::Service {
 public:
  explicit CatalogServiceImpl(CatalogStore& store) : store_(store) {}

  grpc::Status UpsertProduct(grpc::ServerContext* ctx, const crm::deals::v1::UpsertProductRequest* req,
                             crm::deals::v1::UpsertProductResponse* out) override;
  grpc::Status GetProduct(grpc::ServerContext* ctx, const crm::deals::v1::GetProductRequest* req,
                          crm::deals::v1::Product* out) override;
  grpc::Status ListProducts(grpc::ServerContext* ctx, const crm::deals::v1::ListProductsRequest* req,
                            crm::deals::v1::ListProductsResponse* out) override;

 private:
  CatalogStore& store_;
};

// crm.deals.v1.DealProductService over a DealProductStore (which must outlive it).
class DealProductServiceImpl final : public crm::deals::v1::DealProductService::Service {
 public:
  explicit DealProductServiceImpl(DealProductStore& store) : store_(store) {}

  grpc::Status ListDealProducts(grpc::ServerContext* ctx, const crm::deals::v1::ListDealProductsRequest* req,
                                crm::deals::v1::ListDealProductsResponse* out) override;
  grpc::Status AddDealProduct(grpc::ServerContext* ctx, const crm::deals::v1::AddDealProductRequest* req,
                              crm::deals::v1::DealProduct* out) override;
  grpc::Status UpdateDealProduct(grpc::ServerContext* ctx,
                                 const crm::deals::v1::UpdateDealProductRequest* req,
                                 crm::deals::v1::DealProduct* out) override;
  grpc::Status RemoveDealProduct(grpc::ServerContext* ctx,
                                 const crm::deals::v1::RemoveDealProductRequest* req,
                                 crm::deals::v1::ListDealProductsResponse* out) override;

 private:
  DealProductStore& store_;
};

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_PRODUCTS_H_
