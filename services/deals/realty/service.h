// File: services/deals/realty/service.h
// -----------------------------------------------------------------------------
// crm.deals.v1.RealtyService and crm.deals.v1.BookingService (realty.proto, D14): thin handlers over the
// stores (inventory.h, board.h, bookings.h). Creating calls pass the call's Idempotency-Key on.
#ifndef CRM_SERVICES_DEALS_REALTY_SERVICE_H_
#define CRM_SERVICES_DEALS_REALTY_SERVICE_H_

#include "crm/deals/v1/realty.grpc.pb.h"
#include "services/deals/realty/board.h"
#include "services/deals/realty/bookings.h"
#include "services/deals/realty/inventory.h"

namespace crm::deals::realty {

class RealtyServiceImpl final : public v1::RealtyService::Service {
 public:
  RealtyServiceImpl(InventoryStore& inventory, BoardReader& board) : inventory_(inventory), board_(board) {}

  grpc::Status CreateProject(grpc::ServerContext* ctx, const v1::CreateProjectRequest* req,
                             v1::Project* out) override;
  grpc::Status GetProject(grpc::ServerContext* ctx, const v1::GetProjectRequest* req,
                          v1::Project* out) override;
  grpc::Status ListProjects(grpc::ServerContext* ctx, const v1::ListProjectsRequest* req,
                            v1::ListProjectsResponse* out) override;
  grpc::Status UpdateProject(grpc::ServerContext* ctx, const v1::UpdateProjectRequest* req,
                             v1::Project* out) override;
  grpc::Status CreateBuilding(grpc::ServerContext* ctx, const v1::CreateBuildingRequest* req,
                              v1::Building* out) override;
  grpc::Status GetBuilding(grpc::ServerContext* ctx, const v1::GetBuildingRequest* req,
                           v1::Building* out) override;
  grpc::Status ListBuildings(grpc::ServerContext* ctx, const v1::ListBuildingsRequest* req,
                             v1::ListBuildingsResponse* out) override;
  grpc::Status CreateUnit(grpc::ServerContext* ctx, const v1::CreateUnitRequest* req, v1::Unit* out) override;
  grpc::Status GetUnit(grpc::ServerContext* ctx, const v1::GetUnitRequest* req, v1::Unit* out) override;
  grpc::Status UpdateUnit(grpc::ServerContext* ctx, const v1::UpdateUnitRequest* req, v1::Unit* out) override;
  grpc::Status ChangeUnitStatus(grpc::ServerContext* ctx, const v1::ChangeUnitStatusRequest* req,
                                v1::Unit* out) override;
  grpc::Status ListUnitPrices(grpc::ServerContext* ctx, const v1::ListUnitPricesRequest* req,
                              v1::ListUnitPricesResponse* out) override;
  grpc::Status ImportInventory(grpc::ServerContext* ctx, const v1::ImportInventoryRequest* req,
                               v1::ImportInventoryResponse* out) override;
  grpc::Status GetChessboard(grpc::ServerContext* ctx, const v1::GetChessboardRequest* req,
                             v1::Chessboard* out) override;
  grpc::Status MatchUnits(grpc::ServerContext* ctx, const v1::MatchUnitsRequest* req,
                          v1::MatchUnitsResponse* out) override;
  grpc::Status ListUnits(grpc::ServerContext* ctx, const v1::ListUnitsRequest* req,
                         v1::ListUnitsResponse* out) override;

 private:
  InventoryStore& inventory_;
  BoardReader& board_;
};

class BookingServiceImpl final : public v1::BookingService::Service {
 public:
  explicit BookingServiceImpl(BookingStore& store) : store_(store) {}

  grpc::Status CreateBooking(grpc::ServerContext* ctx, const v1::CreateBookingRequest* req,
                             v1::Booking* out) override;
  grpc::Status GetBooking(grpc::ServerContext* ctx, const v1::GetBookingRequest* req,
                          v1::Booking* out) override;
  grpc::Status ReleaseBooking(grpc::ServerContext* ctx, const v1::ReleaseBookingRequest* req,
                              v1::Booking* out) override;
  grpc::Status ListBookings(grpc::ServerContext* ctx, const v1::ListBookingsRequest* req,
                            v1::ListBookingsResponse* out) override;
  grpc::Status ListUnitBookings(grpc::ServerContext* ctx, const v1::ListUnitBookingsRequest* req,
                                v1::ListUnitBookingsResponse* out) override;

 private:
  BookingStore& store_;
};

}  // namespace crm::deals::realty

#endif  // CRM_SERVICES_DEALS_REALTY_SERVICE_H_
