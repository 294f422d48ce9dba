// File: services/deals/realty/board.h
// -----------------------------------------------------------------------------
// The reads screens render the inventory with (D14): the chessboard («Шахматка», seed 004 §5.2.3 and
// §6.2.2), unit matching («Подбор ОН», §6.2.2) and the unit list («Список объектов недвижимости»,
// квартирограмма, §6.9). Each is index-backed whatever the inventory holds (plan_test.cc checks them on
// 100 000 units):
//
//   read          statement                                                   index
//   chessboard    a building's units with their ACTIVE booking and client,    realty_units_place,
//                 by section, floor (top first), place — ONE statement        realty_bookings_one_active
//   matching      one ordered range per (status, kind[, rooms]) of the        realty_units_match_rooms /
//                 project, cheapest first (final price), merged: O(branches    _match / _match_offer
//                 × page) index entries
//   unit list     a building's units by section, floor, place                 realty_units_place
//
// Every read needs realty.read (access.h); a booking's client is shown only to who may see the booking.
//
// Example:
//   BoardReader board(*pool);
//   CRM_ASSIGN_OR_RETURN(v1::Chessboard grid, board.Chessboard(caller, request));
#ifndef CRM_SERVICES_DEALS_REALTY_BOARD_H_
#define CRM_SERVICES_DEALS_REALTY_BOARD_H_

#include "absl/status/statusor.h"
#include "crm/deals/v1/realty.pb.h"

namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::deals::realty {

namespace v1 = crm::deals::v1;

// At most this many values in a matching request's rooms and kinds lists.
inline constexpr int kMaxMatchRooms = 10;

class BoardReader {
 public:
  explicit BoardReader(pg::Pool& pool) : pool_(pool) {}

  absl::StatusOr<v1::Chessboard> Chessboard(const crm::common::v1::Principal& caller,
                                            const v1::GetChessboardRequest& req);
  absl::StatusOr<v1::MatchUnitsResponse> Match(const crm::common::v1::Principal& caller,
                                               const v1::MatchUnitsRequest& req);
  absl::StatusOr<v1::ListUnitsResponse> ListUnits(const crm::common::v1::Principal& caller,
                                                  const v1::ListUnitsRequest& req);

 private:
  pg::Pool& pool_;
};

}  // namespace crm::deals::realty

#endif  // CRM_SERVICES_DEALS_REALTY_BOARD_H_
