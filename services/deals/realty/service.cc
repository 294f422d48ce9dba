// File: services/deals/realty/service.cc
#include "services/deals/realty/service.h"

#include "libs/rpc/call.h"

namespace crm::deals::realty {

using crm::common::v1::Principal;

grpc::Status RealtyServiceImpl::CreateProject(grpc::ServerContext* ctx, const v1::CreateProjectRequest* req,
                                              v1::Project* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return inventory_.CreateProject(ActorOf(caller, *ctx), *req, rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status RealtyServiceImpl::GetProject(grpc::ServerContext* ctx, const v1::GetProjectRequest* req,
                                           v1::Project* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return inventory_.GetProject(caller, req->id()); });
}

grpc::Status RealtyServiceImpl::ListProjects(grpc::ServerContext* ctx, const v1::ListProjectsRequest* req,
                                             v1::ListProjectsResponse* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return inventory_.ListProjects(caller, *req); });
}

grpc::Status RealtyServiceImpl::UpdateProject(grpc::ServerContext* ctx, const v1::UpdateProjectRequest* req,
                                              v1::Project* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return inventory_.UpdateProject(ActorOf(caller, *ctx), *req);
  });
}

grpc::Status RealtyServiceImpl::CreateBuilding(grpc::ServerContext* ctx, const v1::CreateBuildingRequest* req,
                                               v1::Building* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return inventory_.CreateBuilding(ActorOf(caller, *ctx), *req, rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status RealtyServiceImpl::GetBuilding(grpc::ServerContext* ctx, const v1::GetBuildingRequest* req,
                                            v1::Building* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return inventory_.GetBuilding(caller, req->id()); });
}

grpc::Status RealtyServiceImpl::ListBuildings(grpc::ServerContext* ctx, const v1::ListBuildingsRequest* req,
                                              v1::ListBuildingsResponse* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return inventory_.ListBuildings(caller, *req); });
}

grpc::Status RealtyServiceImpl::CreateUnit(grpc::ServerContext* ctx, const v1::CreateUnitRequest* req,
                                           v1::Unit* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return inventory_.CreateUnit(ActorOf(caller, *ctx), *req, rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status RealtyServiceImpl::GetUnit(grpc::ServerContext* ctx, const v1::GetUnitRequest* req,
                                        v1::Unit* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return inventory_.GetUnit(caller, req->id()); });
}

grpc::Status RealtyServiceImpl::UpdateUnit(grpc::ServerContext* ctx, const v1::UpdateUnitRequest* req,
                                           v1::Unit* out) {
  return rpc::Serve(
      *ctx, out, [&](const Principal& caller) { return inventory_.UpdateUnit(ActorOf(caller, *ctx), *req); });
}

grpc::Status RealtyServiceImpl::ChangeUnitStatus(grpc::ServerContext* ctx,
                                                 const v1::ChangeUnitStatusRequest* req, v1::Unit* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return inventory_.ChangeStatus(ActorOf(caller, *ctx), *req);
  });
}

grpc::Status RealtyServiceImpl::ListUnitPrices(grpc::ServerContext* ctx, const v1::ListUnitPricesRequest* req,
                                               v1::ListUnitPricesResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return inventory_.ListPrices(caller, *req); });
}

grpc::Status RealtyServiceImpl::ImportInventory(grpc::ServerContext* ctx,
                                                const v1::ImportInventoryRequest* req,
                                                v1::ImportInventoryResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return inventory_.Import(ActorOf(caller, *ctx), *req, rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status RealtyServiceImpl::GetChessboard(grpc::ServerContext* ctx, const v1::GetChessboardRequest* req,
                                              v1::Chessboard* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return board_.Chessboard(caller, *req); });
}

grpc::Status RealtyServiceImpl::MatchUnits(grpc::ServerContext* ctx, const v1::MatchUnitsRequest* req,
                                           v1::MatchUnitsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return board_.Match(caller, *req); });
}

grpc::Status RealtyServiceImpl::ListUnits(grpc::ServerContext* ctx, const v1::ListUnitsRequest* req,
                                          v1::ListUnitsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return board_.ListUnits(caller, *req); });
}

grpc::Status BookingServiceImpl::CreateBooking(grpc::ServerContext* ctx, const v1::CreateBookingRequest* req,
                                               v1::Booking* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return store_.Create(ActorOf(caller, *ctx), *req, rpc::IdempotencyKey(*ctx));
  });
}

grpc::Status BookingServiceImpl::GetBooking(grpc::ServerContext* ctx, const v1::GetBookingRequest* req,
                                            v1::Booking* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.Get(caller, req->id()); });
}

grpc::Status BookingServiceImpl::ReleaseBooking(grpc::ServerContext* ctx,
                                                const v1::ReleaseBookingRequest* req, v1::Booking* out) {
  return rpc::Serve(*ctx, out,
                    [&](const Principal& caller) { return store_.Release(ActorOf(caller, *ctx), *req); });
}

grpc::Status BookingServiceImpl::ListBookings(grpc::ServerContext* ctx, const v1::ListBookingsRequest* req,
                                              v1::ListBookingsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.List(caller, *req); });
}

grpc::Status BookingServiceImpl::ListUnitBookings(grpc::ServerContext* ctx,
                                                  const v1::ListUnitBookingsRequest* req,
                                                  v1::ListUnitBookingsResponse* out) {
  return rpc::Serve(*ctx, out, [&](const Principal& caller) { return store_.ListForUnit(caller, *req); });
}

}  // namespace crm::deals::realty
