// File: services/deals/idempotent.h
// -----------------------------------------------------------------------------
// Every POST of deals honours an Idempotency-Key (issue 16, G1; system.md "Every creating POST accepts an
// idempotency key, committed in the same transaction as what it made"): the HTTP header arrives as gRPC
// metadata `idempotency-key` (crm::rpc::IdempotencyKey), the Actor of a call carries it
// (deals.h ActorOf), and the store runs its transaction through InIdempotentTransaction, which records
// the reply with the change (libs/pg/idempotency.h). A repeat by the same caller within 24 hours gets the
// first reply and changes nothing; the same key with another request is INVALID_ARGUMENT naming
// `idempotency-key`; without a key the call simply runs.
//
// Example:
//   v1::AddPaymentRequest fingerprint;  // what the key is bound to
//   CRM_RETURN_IF_ERROR(InIdempotentTransaction(pool_, clock_.Now(), actor.principal, actor.idempotency_key,
//                                               kAddPaymentMethod, fingerprint, out, [&](pqxx::transaction_base& tx) {
//                                                 ...; out = panel; return absl::OkStatus(); }));
#ifndef CRM_SERVICES_DEALS_IDEMPOTENT_H_
#define CRM_SERVICES_DEALS_IDEMPOTENT_H_

#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "crm/common/v1/common.pb.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf
namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::deals {

// The gRPC methods of deals whose replies are recorded under a key ("package.Service/Method").
inline constexpr char kCreatePipelineMethod[] = "crm.deals.v1.PipelineService/CreatePipeline";
inline constexpr char kCreateFieldDefinitionMethod[] = "crm.deals.v1.PipelineService/CreateFieldDefinition";
inline constexpr char kMoveDealMethod[] = "crm.deals.v1.DealService/MoveDeal";
inline constexpr char kBatchCopyDealsMethod[] = "crm.deals.v1.DealService/BatchCopyDeals";
inline constexpr char kCreateClientMethod[] = "crm.deals.v1.ClientService/CreateClient";
inline constexpr char kCreateContactMethod[] = "crm.deals.v1.ClientService/CreateContact";
inline constexpr char kAddDealContactMethod[] = "crm.deals.v1.ClientService/AddDealContact";
inline constexpr char kRemoveDealContactMethod[] = "crm.deals.v1.ClientService/RemoveDealContact";
inline constexpr char kCompleteTaskMethod[] = "crm.deals.v1.TaskService/CompleteTask";
inline constexpr char kCancelTaskMethod[] = "crm.deals.v1.TaskService/CancelTask";
inline constexpr char kUploadAttachmentMethod[] = "crm.deals.v1.TimelineService/UploadAttachment";
inline constexpr char kAddDealProductMethod[] = "crm.deals.v1.DealProductService/AddDealProduct";
inline constexpr char kAddPaymentMethod[] = "crm.deals.v1.PaymentService/AddPayment";
inline constexpr char kMarkPaymentReceivedMethod[] = "crm.deals.v1.PaymentService/MarkPaymentReceived";
inline constexpr char kApplyPaymentScheduleMethod[] = "crm.deals.v1.PaymentService/ApplyPaymentSchedule";
inline constexpr char kCreateOrderMethod[] = "crm.deals.v1.OrderService/CreateOrder";
inline constexpr char kSetOrderStatusMethod[] = "crm.deals.v1.OrderService/SetOrderStatus";

// Runs `fn` in one transaction on `pool` (pg::InTransaction, so it may run more than once: it must set
// every part of `reply` it returns) and, with a non-empty `key`, records `reply` under (the caller,
// `method`, `key`) for `request` in that same transaction; a repeat returns the recorded reply without
// running `fn` (pg::RunIdempotent).
absl::Status InIdempotentTransaction(pg::Pool& pool, absl::Time now, const crm::common::v1::Principal& caller,
                                     std::string_view key, std::string_view method,
                                     const google::protobuf::Message& request, google::protobuf::Message& reply,
                                     absl::FunctionRef<absl::Status(pqxx::transaction_base&)> fn);

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_IDEMPOTENT_H_
