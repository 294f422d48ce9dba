// File: services/deals/orders.h
// -----------------------------------------------------------------------------
// Orders linked to a deal (D8, seed 003 «Заказы»): OrderStore keeps them in PostgreSQL, OrderServiceImpl
// serves crm.deals.v1.OrderService (commerce.proto).
//
// What the store promises:
//   - an order has a unique number (given, e.g. 1C's, or assigned "З-000042"), a status (NEW →
//     IN_PROGRESS → SHIPPED → DONE, or CANCELLED; DONE and CANCELLED are final), lines (a snapshot of line
//     items, its own or the deal's at creation) and an amount: the lines' total when there are lines;
//   - reading needs read access to the deal, creating and changing status write access (access.h), an
//     invisible deal being NOT_FOUND; every validation error is INVALID_ARGUMENT naming the field;
//   - crm.deals.deal.order_created.v1 / order_status_changed.v1 (key = deal id, visible to the deal's
//     responsible and teams) are committed with the change.
//
// Example:
//   crm::deals::OrderStore orders(*pool, crm::SystemClock());
//   server.AddService(new crm::deals::OrderServiceImpl(orders));
#ifndef CRM_SERVICES_DEALS_ORDERS_H_
#define CRM_SERVICES_DEALS_ORDERS_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "crm/deals/v1/commerce.grpc.pb.h"
#include "libs/events/outbox.h"
#include "services/deals/deals.h"

namespace crm::deals {

// Event types (topic crm.deals.deal.v1).
inline constexpr char kOrderCreatedType[] = "crm.deals.deal.order_created.v1";
inline constexpr char kOrderStatusChangedType[] = "crm.deals.deal.order_status_changed.v1";

// Orders of deals. Thread-safe; pool and clock must outlive it.
class OrderStore {
 public:
  OrderStore(pg::Pool& pool, const Clock& clock);

  // Creates an order of the deal (status NEW); with `from_deal_products` its lines are the deal's lines.
  // ALREADY_EXISTS when the given number is taken.
  absl::StatusOr<crm::deals::v1::Order> Create(const Actor& actor,
                                               const crm::deals::v1::CreateOrderRequest& req);
  // The deal's orders, newest first.
  absl::StatusOr<crm::deals::v1::ListOrdersResponse> List(const crm::common::v1::Principal& caller,
                                                          std::string_view deal_id);
  // A page of them, newest first (page_size / page_token, README "Lists").
  absl::StatusOr<crm::deals::v1::ListOrdersResponse> List(const crm::common::v1::Principal& caller,
                                                          const crm::deals::v1::ListOrdersRequest& req);
  // One order of the deal.
  absl::StatusOr<crm::deals::v1::Order> Get(const crm::common::v1::Principal& caller,
                                            std::string_view deal_id, std::string_view id);
  // Moves the order to `req.status` (a repeat of the current status is a no-op).
  absl::StatusOr<crm::deals::v1::Order> SetStatus(const Actor& actor,
                                                  const crm::deals::v1::SetOrderStatusRequest& req);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  crm::events::OutboxWriter outbox_;
};

// crm.deals.v1.OrderService over an OrderStore (which must outlive it).
class OrderServiceImpl final : public crm::deals::v1::OrderService::Service {
 public:
  explicit OrderServiceImpl(OrderStore& store) : store_(store) {}

  grpc::Status CreateOrder(grpc::ServerContext* ctx, const crm::deals::v1::CreateOrderRequest* req,
                           crm::deals::v1::Order* out) override;
  grpc::Status ListOrders(grpc::ServerContext* ctx, const crm::deals::v1::ListOrdersRequest* req,
                          crm::deals::v1::ListOrdersResponse* out) override;
  grpc::Status GetOrder(grpc::ServerContext* ctx, const crm::deals::v1::GetOrderRequest* req,
                        crm::deals::v1::Order* out) override;
  grpc::Status SetOrderStatus(grpc::ServerContext* ctx, const crm::deals::v1::SetOrderStatusRequest* req,
                              crm::deals::v1::Order* out) override;

 private:
  OrderStore& store_;
};

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_ORDERS_H_
