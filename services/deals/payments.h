// File: services/deals/payments.h
// -----------------------------------------------------------------------------
// The payments panel of a deal (D7, seed 003 «Платежи», seed 002 «График оплаты»): planned payments with
// a due day, an amount and a received mark; percentage schedules (100 / 50+50 / 30+70 / 50+30+10+10).
// PaymentStore keeps them in PostgreSQL; PaymentServiceImpl serves crm.deals.v1.PaymentService
// (commerce.proto).
//
// What the store promises:
//   - whenever a deal has payments, its budget (Deal.amount) is their sum (received or not), recomputed
//     in the same transaction as every payment change through DealStore::UpdateInTx, which bumps the
//     deal's version, records the change in the deal's history and writes DealUpdated; a deal without
//     payments keeps the budget it had;
//   - a payment is overdue when it is not received and its due day is before today in the company's time
//     zone (Europe/Moscow unless configured), "today" taken from the injected clock;
//   - a schedule's percents are whole, 1..100 each, and sum to exactly 100 (else INVALID_ARGUMENT naming
//     "parts" or "parts[i].percent"); its amounts sum exactly to the total: each part is
//     floor(total × percent / 100) and the last part takes the remainder; it replaces every planned
//     payment and never touches a received one;
//   - reading needs read access to the deal, every change write access (access.h) and payments.write;
//     an invisible deal is NOT_FOUND;
//   - events on crm.deals.deal.v1 (key = deal id, visible to the responsible and the deal's teams):
//     payment_added / payment_updated / payment_received / payment_unreceived / payment_removed
//     (DealPaymentChanged) and payment_schedule_applied (DealPaymentScheduleApplied), committed with
//     the change; every validation error is INVALID_ARGUMENT naming the field, with nothing written.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(absl::TimeZone zone, crm::LoadTimeZone("Europe/Moscow"));
//   crm::deals::PaymentStore payments(*pool, crm::SystemClock(), deal_store, zone);
//   server.AddService(new crm::deals::PaymentServiceImpl(payments));
#ifndef CRM_SERVICES_DEALS_PAYMENTS_H_
#define CRM_SERVICES_DEALS_PAYMENTS_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/deals/v1/commerce.grpc.pb.h"
#include "libs/events/outbox.h"
#include "services/deals/deals.h"

namespace crm::deals {

// Event types (topic crm.deals.deal.v1).
inline constexpr char kPaymentAddedType[] = "crm.deals.deal.payment_added.v1";
inline constexpr char kPaymentUpdatedType[] = "crm.deals.deal.payment_updated.v1";
inline constexpr char kPaymentReceivedType[] = "crm.deals.deal.payment_received.v1";
inline constexpr char kPaymentUnreceivedType[] = "crm.deals.deal.payment_unreceived.v1";
inline constexpr char kPaymentRemovedType[] = "crm.deals.deal.payment_removed.v1";
inline constexpr char kPaymentScheduleAppliedType[] = "crm.deals.deal.payment_schedule_applied.v1";

// Permission to change payments (besides write access to the deal).
inline constexpr char kPaymentsWrite[] = "payments.write";

// The company's default time zone for due days.
inline constexpr char kDefaultPaymentTimeZone[] = "Europe/Moscow";

// Payments of deals. Thread-safe; pool, clock and deals must outlive it.
class PaymentStore {
 public:
  PaymentStore(pg::Pool& pool, const Clock& clock, DealStore& deals, absl::TimeZone zone);

  // The panel of a deal the caller may see.
  absl::StatusOr<crm::deals::v1::PaymentPanel> GetPanel(const crm::common::v1::Principal& caller,
                                                        std::string_view deal_id);
  // Adds a planned payment (due_date, amount, comment).
  absl::StatusOr<crm::deals::v1::PaymentPanel> Add(const Actor& actor, std::string_view deal_id,
                                                   const crm::deals::v1::Payment& payment);
  // Applies the paths of `mask` (due_date, amount, comment) when payment.version matches (0 = any).
  absl::StatusOr<crm::deals::v1::PaymentPanel> Update(const Actor& actor, std::string_view deal_id,
                                                      const crm::deals::v1::Payment& payment,
                                                      const google::protobuf::FieldMask& mask);
  // Marks the payment received now by the caller (or takes the mark back with `undo`); a repeat is a no-op.
  absl::StatusOr<crm::deals::v1::PaymentPanel> MarkReceived(
      const Actor& actor, const crm::deals::v1::MarkPaymentReceivedRequest& req);
  // Removes a planned payment; FAILED_PRECONDITION for a received one.
  absl::StatusOr<crm::deals::v1::PaymentPanel> Remove(const Actor& actor, std::string_view deal_id,
                                                      std::string_view id);
  // Replaces the planned payments with a percentage schedule (see the header comment).
  absl::StatusOr<crm::deals::v1::PaymentPanel> ApplySchedule(
      const Actor& actor, const crm::deals::v1::ApplyPaymentScheduleRequest& req);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  DealStore& deals_;
  absl::TimeZone zone_;
  crm::events::OutboxWriter outbox_;
};

// crm.deals.v1.PaymentService over a PaymentStore (which must outlive it).
class PaymentServiceImpl final : public crm::deals::v1::PaymentService::Service {
 public:
  explicit PaymentServiceImpl(PaymentStore& store) : store_(store) {}

  grpc::Status GetPaymentPanel(grpc::ServerContext* ctx, const crm::deals::v1::GetPaymentPanelRequest* req,
                               crm::deals::v1::PaymentPanel* out) override;
  grpc::Status AddPayment(grpc::ServerContext* ctx, const crm::deals::v1::AddPaymentRequest* req,
                          crm::deals::v1::PaymentPanel* out) override;
  grpc::Status UpdatePayment(grpc::ServerContext* ctx, const crm::deals::v1::UpdatePaymentRequest* req,
                             crm::deals::v1::PaymentPanel* out) override;
  grpc::Status MarkPaymentReceived(grpc::ServerContext* ctx,
                                   const crm::deals::v1::MarkPaymentReceivedRequest* req,
                                   crm::deals::v1::PaymentPanel* out) override;
  grpc::Status RemovePayment(grpc::ServerContext* ctx, const crm::deals::v1::RemovePaymentRequest* req,
                             crm::deals::v1::PaymentPanel* out) override;
  grpc::Status ApplyPaymentSchedule(grpc::ServerContext* ctx,
                                    const crm::deals::v1::ApplyPaymentScheduleRequest* req,
                                    crm::deals::v1::PaymentPanel* out) override;

 private:
  PaymentStore& store_;
};

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_PAYMENTS_H_
