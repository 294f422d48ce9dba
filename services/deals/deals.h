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

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "libs/events/outbox.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm {
class Clock;
namespace pg {
class Pool;
}  // namespace pg
}  // namespace crm

namespace crm::deals {

// Who makes a change: the caller, the request it came with and its automation causation (all go into
// events: Envelope.actor, request_id, automation_depth, skip_automation).
struct Actor {
  crm::common::v1::Principal principal;
  std::string request_id;
  // How deep in a chain of robot actions the change is (0..100; 0 for a person's or an import's).
  int automation_depth = 0;
  // The change was made with automation skipped (a bulk import).
  bool skip_automation = false;
  // The call's Idempotency-Key ("" = none): every POST of deals records its reply under it
  // (idempotent.h).
  std::string idempotency_key;
};

// The actor of the call `ctx` made by `caller`: its request id (crm::rpc::RequestId), automation
// causation (crm::rpc::AutomationDepth, crm::rpc::SkipAutomation) and idempotency key
// (crm::rpc::IdempotencyKey). Every handler builds its Actor so.
Actor ActorOf(const crm::common::v1::Principal& caller, const grpc::ServerContextBase& ctx);

// Event types written to the outbox.
inline constexpr char kDealCreatedType[] = "crm.deals.deal.created.v1";
inline constexpr char kDealUpdatedType[] = "crm.deals.deal.updated.v1";
inline constexpr char kDealStageChangedType[] = "crm.deals.deal.stage_changed.v1";
inline constexpr char kDealResponsibleChangedType[] = "crm.deals.deal.responsible_changed.v1";
inline constexpr char kDealWonType[] = "crm.deals.deal.won.v1";
inline constexpr char kDealLostType[] = "crm.deals.deal.lost.v1";

// What a create carries beyond the deal itself (a deal copy, D11, sets these).
struct CreateOptions {
  // The new deal's id (a UUIDv7 the caller made, so it can name the deal after it); "" = a new one.
  std::string id;
  // The deal this one copies ("" = none): stored as copied_from_id, never changed afterwards.
  std::string copied_from_id;
  // Seed 003: a new deal takes its client's contacts. A copy that leaves the contacts out says false.
  bool take_client_contacts = true;
  // The deal's first comment (a timeline COMMENT by the creator); it meets a "requires a comment" gate.
  std::string comment;
};

// Deals in PostgreSQL (tables of services/deals/migrations plus the events outbox). Thread-safe; the
// pool and clock must outlive it. Every method returns the errors of deals.proto: INVALID_ARGUMENT
// naming the field, NOT_FOUND for unknown or invisible deals/pipelines, PERMISSION_DENIED naming the
// missing permission, FAILED_PRECONDITION listing unmet gates, ABORTED "version mismatch".
class TargetCache;
class DirectorySeeder;

class DealStore {
 public:
  DealStore(pg::Pool& pool, const Clock& clock);
  ~DealStore();

  // Creates `deal` (id, status, version, times and creator are set here; responsible defaults to the
  // caller, the stage to the pipeline's first open stage) and writes DealCreated. With a non-empty
  // `idempotency_key` a repeat by the same caller within 24 hours returns the first deal unchanged
  // (libs/pg/idempotency.h).
  absl::StatusOr<crm::deals::v1::Deal> Create(const Actor& actor, const crm::deals::v1::Deal& deal,
                                              std::string_view idempotency_key = "");

  // Create's work inside the caller's transaction `tx` (for writes that must commit with it: a copy).
  absl::StatusOr<crm::deals::v1::Deal> CreateInTx(pqxx::transaction_base& tx, const Actor& actor,
                                                  const crm::deals::v1::Deal& deal, const CreateOptions& options);

  // The deal `id` if the caller may see it.
  absl::StatusOr<crm::deals::v1::Deal> Get(const crm::common::v1::Principal& caller, std::string_view id);

  // Get inside `tx`; `for_update` also locks the row until tx ends.
  absl::StatusOr<crm::deals::v1::Deal> GetInTx(pqxx::transaction_base& tx, const crm::common::v1::Principal& caller,
                                               std::string_view id, bool for_update);

  // Applies the paths of `update_mask` from `deal` when deal.version matches; bumps the version and
  // writes DealUpdated (and DealResponsibleChanged when the responsible changed). Nothing is written
  // when nothing changed.
  absl::StatusOr<crm::deals::v1::Deal> Update(const Actor& actor, const crm::deals::v1::Deal& deal,
                                              const google::protobuf::FieldMask& update_mask);

  // Update inside `tx`. With `check_version` false the deal's current version is taken as is (for a
  // change derived inside the same transaction, like the budget recomputed from payments).
  absl::StatusOr<crm::deals::v1::Deal> UpdateInTx(pqxx::transaction_base& tx, const Actor& actor,
                                                  const crm::deals::v1::Deal& deal,
                                                  const google::protobuf::FieldMask& update_mask, bool check_version);

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

  // What the store works with (other stores of the service share them).
  pg::Pool& pool() const { return pool_; }
  const Clock& clock() const { return clock_; }

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  crm::events::OutboxWriter outbox_;
  // Where new deals of a pipeline land, as read before (checked against the pipeline's version).
  std::unique_ptr<TargetCache> targets_;
  // Puts a responsible acting for themselves in the user directory until identity's events do (users.h).
  std::unique_ptr<DirectorySeeder> directory_;
};


class DealCopier;

// crm.deals.v1.DealService over a DealStore, which must outlive it (CopyDeal and BatchCopyDeals are
// served in copy.cc through a DealCopier over the same store).
class DealServiceImpl final : public crm::deals::v1::DealService::Service {
 public:
  explicit DealServiceImpl(DealStore& store);
  ~DealServiceImpl() override;

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
  grpc::Status CopyDeal(grpc::ServerContext* ctx, const crm::deals::v1::CopyDealRequest* req,
                        crm::deals::v1::Deal* out) override;
  grpc::Status BatchCopyDeals(grpc::ServerContext* ctx, const crm::deals::v1::BatchCopyDealsRequest* req,
                              crm::deals::v1::BatchCopyDealsResponse* out) override;

 private:
  DealStore& store_;
  std::unique_ptr<DealCopier> copier_;
};

}  // namespace crm::deals

#endif  // CRM_SERVICES_DEALS_DEALS_H_
