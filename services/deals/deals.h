// File: services/deals/deals.h
// -----------------------------------------------------------------------------
// Deals (D2–D4, D13): the DealStore keeps deals in PostgreSQL and writes their events to the outbox in
// the same transaction; DealServiceImpl serves crm.deals.v1.DealService with thin handlers over it.
//
// What the store promises:
//   - every change is checked against the caller's access (access.h) and the deal's version;
//   - a move lists every unmet gate of the target stage in one FAILED_PRECONDITION;
//   - events (crm.deals.deal.*.v1, aggregate "deal") are committed with the change or not at all,
//     visible to the responsible (and the previous one after a reassignment) and the deal's teams;
//   - lists and board columns are newest first, keyset-paginated on (create_time, id) with opaque tokens.
//
// Example:
//   crm::deals::DealStore store(*pool, crm::SystemClock());
//   crm::deals::DealServiceImpl service(store);
//   server.AddService(&service);
#ifndef CRM_SERVICES_DEALS_DEALS_H_
#define CRM_SERVICES_DEALS_DEALS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "libs/events/outbox.h"

namespace crm {
class Clock;
namespace pg {
class Pool;
}  // namespace pg
}  // namespace crm

namespace crm::deals {

// Who makes a change: the caller and the request it came with (both go into events).
struct Actor {
  crm::common::v1::Principal principal;
  std::string request_id;
};

// Event types written to the outbox.
inline constexpr char kDealCreatedType[] = "crm.deals.deal.created.v1";
inline constexpr char kDealUpdatedType[] = "crm.deals.deal.updated.v1";
inline constexpr char kDealStageChangedType[] = "crm.deals.deal.stage_changed.v1";
inline constexpr char kDealResponsibleChangedType[] = "crm.deals.deal.responsible_changed.v1";
inline constexpr char kDealWonType[] = "crm.deals.deal.won.v1";
inline constexpr char kDealLostType[] = "crm.deals.deal.lost.v1";

// Deals in PostgreSQL (tables of services/deals/migrations plus the events outbox). Thread-safe; the
// pool and clock must outlive it. Every method returns the errors of deals.proto: INVALID_ARGUMENT
// naming the field, NOT_FOUND for unknown or invisible deals/pipelines, PERMISSION_DENIED naming the
// missing permission, FAILED_PRECONDITION listing unmet gates, ABORTED "version mismatch".
class DealStore {
 public:
  DealStore(pg::Pool& pool, const Clock& clock);

  // Creates `deal` (id, status, version, times and creator are set here; responsible defaults to the
  // caller, the stage to the pipeline's first open stage) and writes DealCreated.
  absl::StatusOr<crm::deals::v1::Deal> Create(const Actor& actor, const crm::deals::v1::Deal& deal);

  // The deal `id` if the caller may see it.
  absl::StatusOr<crm::deals::v1::Deal> Get(const crm::common::v1::Principal& caller, std::string_view id);

  // Applies the paths of `update_mask` from `deal` when deal.version matches; bumps the version and
  // writes DealUpdated (and DealResponsibleChanged when the responsible changed). Nothing is written
  // when nothing changed.
  absl::StatusOr<crm::deals::v1::Deal> Update(const Actor& actor, const crm::deals::v1::Deal& deal,
                                              const google::protobuf::FieldMask& update_mask);

  // Moves a deal to another stage after checking the target stage's gates; writes DealStageChanged and,
  // for won / lost stages, DealWon / DealLost.
  absl::StatusOr<crm::deals::v1::Deal> Move(const Actor& actor, const crm::deals::v1::MoveDealRequest& req);

  // The list view: visible deals matching the filter, newest first.
  absl::StatusOr<crm::deals::v1::ListDealsResponse> List(const crm::common::v1::Principal& caller,
                                                         const crm::deals::v1::ListDealsRequest& req);

  // The board of a pipeline: every stage in order with count, sum (pipeline currency) and first cards.
  absl::StatusOr<crm::deals::v1::Board> GetBoard(const crm::common::v1::Principal& caller,
                                                 const crm::deals::v1::GetBoardRequest& req);

  // More cards of one board column.
  absl::StatusOr<crm::deals::v1::ListStageDealsResponse> ListStageDeals(
      const crm::common::v1::Principal& caller, const crm::deals::v1::ListStageDealsRequest& req);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  crm::events::OutboxWriter outbox_;
};

// crm.deals.v1.DealService over a DealStore (which must outlive it).
class DealServiceImpl final : public crm::deals::v1::DealService::Service {
 public:
  explicit DealServiceImpl(DealStore& store) : store_(store) {}

  grpc::Status CreateDeal(grpc::ServerContext* ctx, const crm::deals::v1::CreateDealRequest* req,
                          crm::deals::v1::Deal* out) override;
  grpc::Status GetDeal(grpc::ServerContext* ctx, const crm::deals::v1::GetDealRequest* req,
                       crm::deals::v1::Deal* out) override;
  grpc::Status UpdateDeal(grpc::ServerContext* ctx, const crm::deals::v1::UpdateDealRequest* req,
                          crm::deals::v1::Deal* out) override;
  grpc::Status MoveDeal(grpc::ServerContext* ctx, const crm::deals::v1::MoveDealRequest* req,
                        crm::deals::v1::Deal* out) override;
  grpc::Status ListDeals(grpc::ServerContext* ctx, const crm::deals::v1::ListDealsRequest* req,
                         crm::deals::v1::ListDealsResponse* out) override;
  grpc::Status GetBoard(grpc::ServerContext* ctx, const crm::deals::v1::GetBoardRequest* req,
                        crm::deals::v1::Board* out) override;
  grpc::Status ListStageDeals(grpc::ServerContext* ctx, const crm::deals::v1::ListStageDealsRequest* req,
                              crm::deals::v1::ListStageDealsResponse* out) override;

 private:
  DealStore& store_;
};

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_DEALS_H_
