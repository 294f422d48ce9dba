// File: services/deals/interactions/service.h
// -----------------------------------------------------------------------------
// The gRPC handlers of D15/D16 (thin: the caller, the idempotency key, the store): InteractionService
// (interactions.proto) over InteractionStore and CalendarStore, ClientRequestService (requests.proto)
// over RequestStore. The stores must outlive the services.
#ifndef CRM_SERVICES_DEALS_INTERACTIONS_SERVICE_H_
#define CRM_SERVICES_DEALS_INTERACTIONS_SERVICE_H_

#include "crm/deals/v1/interactions.grpc.pb.h"
#include "crm/deals/v1/requests.grpc.pb.h"
#include "services/deals/interactions/calendar_store.h"
#include "services/deals/interactions/interaction_store.h"
#include "services/deals/interactions/request_store.h"

namespace crm::deals::interactions {

class InteractionServiceImpl final : public crm::deals::v1::InteractionService::Service {
 public:
  InteractionServiceImpl(InteractionStore& store, CalendarStore& calendars) : store_(store), calendars_(calendars) {}
  grpc::Status CreateInteraction(grpc::ServerContext* ctx, const crm::deals::v1::CreateInteractionRequest* req,
                                 crm::deals::v1::Interaction* out) override;
  grpc::Status UpsertInteraction(grpc::ServerContext* ctx, const crm::deals::v1::UpsertInteractionRequest* req,
                                 crm::deals::v1::Interaction* out) override;
  grpc::Status GetInteraction(grpc::ServerContext* ctx, const crm::deals::v1::GetInteractionRequest* req,
                              crm::deals::v1::Interaction* out) override;
  grpc::Status ListInteractions(grpc::ServerContext* ctx, const crm::deals::v1::ListInteractionsRequest* req,
                                crm::deals::v1::ListInteractionsResponse* out) override;
  grpc::Status UpdateInteraction(grpc::ServerContext* ctx, const crm::deals::v1::UpdateInteractionRequest* req,
                                 crm::deals::v1::Interaction* out) override;
  grpc::Status CompleteInteraction(grpc::ServerContext* ctx, const crm::deals::v1::CompleteInteractionRequest* req,
                                   crm::deals::v1::CompleteInteractionResponse* out) override;
  grpc::Status CancelInteraction(grpc::ServerContext* ctx, const crm::deals::v1::CancelInteractionRequest* req,
                                 crm::deals::v1::Interaction* out) override;
  grpc::Status GetTodayTasks(grpc::ServerContext* ctx, const crm::deals::v1::GetTodayTasksRequest* req,
                             crm::deals::v1::TodayTasks* out) override;
  grpc::Status ListSlots(grpc::ServerContext* ctx, const crm::deals::v1::ListSlotsRequest* req,
                         crm::deals::v1::ListSlotsResponse* out) override;
  grpc::Status UpsertSlotCalendar(grpc::ServerContext* ctx, const crm::deals::v1::UpsertSlotCalendarRequest* req,
                                  crm::deals::v1::SlotCalendar* out) override;
  grpc::Status ListSlotCalendars(grpc::ServerContext* ctx, const crm::deals::v1::ListSlotCalendarsRequest* req,
                                 crm::deals::v1::ListSlotCalendarsResponse* out) override;

 private:
  InteractionStore& store_;
  CalendarStore& calendars_;
};

class ClientRequestServiceImpl final : public crm::deals::v1::ClientRequestService::Service {
 public:
  explicit ClientRequestServiceImpl(RequestStore& store) : store_(store) {}
  grpc::Status CreateClientRequest(grpc::ServerContext* ctx, const crm::deals::v1::CreateClientRequestRequest* req,
                                   crm::deals::v1::ClientRequest* out) override;
  grpc::Status GetClientRequest(grpc::ServerContext* ctx, const crm::deals::v1::GetClientRequestRequest* req,
                                crm::deals::v1::ClientRequest* out) override;
  grpc::Status UpdateClientRequest(grpc::ServerContext* ctx, const crm::deals::v1::UpdateClientRequestRequest* req,
                                   crm::deals::v1::ClientRequest* out) override;
  grpc::Status ListClientRequests(grpc::ServerContext* ctx, const crm::deals::v1::ListClientRequestsRequest* req,
                                  crm::deals::v1::ListClientRequestsResponse* out) override;

 private:
  RequestStore& store_;
};

}  // namespace crm::deals::interactions

#endif  // CRM_SERVICES_DEALS_INTERACTIONS_SERVICE_H_
