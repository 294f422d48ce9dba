// File: services/deals/interactions/service.cc
#include "services/deals/interactions/service.h"

#include "libs/rpc/call.h"

namespace crm::deals::interactions {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;

grpc::Status InteractionServiceImpl::CreateInteraction(grpc::ServerContext* ctx, const v1::CreateInteractionRequest* req,
                                                       v1::Interaction* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Create(ActorOf(caller, *ctx), req->interaction(), rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status InteractionServiceImpl::UpsertInteraction(grpc::ServerContext* ctx, const v1::UpsertInteractionRequest* req,
                                                       v1::Interaction* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Upsert(ActorOf(caller, *ctx), req->interaction()); });
}

grpc::Status InteractionServiceImpl::GetInteraction(grpc::ServerContext* ctx, const v1::GetInteractionRequest* req,
                                                    v1::Interaction* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Get(caller, req->id()); });
}

grpc::Status InteractionServiceImpl::ListInteractions(grpc::ServerContext* ctx, const v1::ListInteractionsRequest* req,
                                                      v1::ListInteractionsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.List(caller, *req); });
}

grpc::Status InteractionServiceImpl::UpdateInteraction(grpc::ServerContext* ctx, const v1::UpdateInteractionRequest* req,
                                                       v1::Interaction* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Update(ActorOf(caller, *ctx), req->interaction(), req->update_mask());
  });
}

grpc::Status InteractionServiceImpl::CompleteInteraction(grpc::ServerContext* ctx,
                                                         const v1::CompleteInteractionRequest* req,
                                                         v1::CompleteInteractionResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Complete(ActorOf(caller, *ctx), *req); });
}

grpc::Status InteractionServiceImpl::CancelInteraction(grpc::ServerContext* ctx, const v1::CancelInteractionRequest* req,
                                                       v1::Interaction* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Cancel(ActorOf(caller, *ctx), *req); });
}

grpc::Status InteractionServiceImpl::GetTodayTasks(grpc::ServerContext* ctx, const v1::GetTodayTasksRequest* req,
                                                   v1::TodayTasks* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Today(caller, *req); });
}

grpc::Status InteractionServiceImpl::ListSlots(grpc::ServerContext* ctx, const v1::ListSlotsRequest* req,
                                               v1::ListSlotsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return calendars_.Slots(caller, *req); });
}

grpc::Status InteractionServiceImpl::UpsertSlotCalendar(grpc::ServerContext* ctx, const v1::UpsertSlotCalendarRequest* req,
                                                        v1::SlotCalendar* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return calendars_.Upsert(caller, req->calendar()); });
}

grpc::Status InteractionServiceImpl::ListSlotCalendars(grpc::ServerContext* ctx, const v1::ListSlotCalendarsRequest* req,
                                                       v1::ListSlotCalendarsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return calendars_.List(caller, *req); });
}

grpc::Status ClientRequestServiceImpl::CreateClientRequest(grpc::ServerContext* ctx,
                                                           const v1::CreateClientRequestRequest* req,
                                                           v1::ClientRequest* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Create(ActorOf(caller, *ctx), req->request(), rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status ClientRequestServiceImpl::GetClientRequest(grpc::ServerContext* ctx, const v1::GetClientRequestRequest* req,
                                                        v1::ClientRequest* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Get(caller, req->id()); });
}

grpc::Status ClientRequestServiceImpl::UpdateClientRequest(grpc::ServerContext* ctx,
                                                           const v1::UpdateClientRequestRequest* req,
                                                           v1::ClientRequest* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Update(ActorOf(caller, *ctx), req->request(), req->update_mask());
  });
}

grpc::Status ClientRequestServiceImpl::ListClientRequests(grpc::ServerContext* ctx,
                                                          const v1::ListClientRequestsRequest* req,
                                                          v1::ListClientRequestsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.List(caller, *req); });
}

}  // namespace crm::deals::interactions
