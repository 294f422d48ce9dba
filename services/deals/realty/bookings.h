// File: services/deals/realty/bookings.h
// -----------------------------------------------------------------------------
// Paid bookings of units and their queues (D14, seed 004 §6.8, the report «Очереди бронирования» §6.9):
// BookingStore keeps them in PostgreSQL (realty_bookings) beside the inventory, BookingSweeper expires
// them on time.
//
// What the store promises:
//   - NO UNIT IS EVER BOOKED TWICE, whatever runs concurrently: the database allows one ACTIVE booking
//     per unit (a partial unique index), and a deferred constraint trigger keeps the unit BOOKED exactly
//     while it has one; every booking change also locks its unit row first, so changes of one unit's
//     bookings run one after the other;
//   - a booking holds its unit for 15 working days of the company's calendar (libs/calendar: zone and
//     holidays), stored as an absolute expire_time at the start; its price is fixed — the unit's latest
//     price history row then (price_id) and its amounts — whatever the unit's price does afterwards;
//   - a second client joins the unit's queue (join_queue; at most 20 waiting); when the ACTIVE booking
//     ends (released or expired) the first of the queue gets the unit in the same transaction, with its
//     own 15 working days and the price of that moment, and the event crm.deals.booking.promoted.v1
//     tells the manager who queued them (visible to them); with nobody waiting the unit is AVAILABLE;
//   - selling a BOOKED unit (InventoryStore::ChangeStatus SOLD) converts its booking and cancels its queue;
//   - ExpireDue() ends every ACTIVE booking whose expire_time has passed on the injected clock, batch by
//     batch, taking the units with FOR UPDATE SKIP LOCKED, so replicas sweeping at once never expire one
//     twice nor wait on each other;
//   - access as deals (access.h: bookings.read.* / bookings.write.*); a booking is all or nothing; every
//     bad field named at once; events on crm.deals.booking.v1 (key = booking id, visible to the
//     responsible and the booking's teams) and the unit's status changes on crm.deals.unit.v1.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(auto cal, crm::calendar::WorkingCalendar::FiveDay("Europe/Moscow", holidays));
//   BookingStore bookings(*pool, crm::SystemClock(), cal);
//   BookingSweeper sweeper(bookings, absl::Seconds(30));
#ifndef CRM_SERVICES_DEALS_REALTY_BOOKINGS_H_
#define CRM_SERVICES_DEALS_REALTY_BOOKINGS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/deals/v1/realty.pb.h"
#include "libs/base/periodic.h"
#include "libs/calendar/calendar.h"
#include "libs/events/outbox.h"
#include "services/deals/deals.h"

namespace crm::deals::realty {

namespace v1 = crm::deals::v1;

// How long a paid booking holds its unit (§6.8), in working days.
inline constexpr int kBookingWorkingDays = 15;
// How many may wait in one unit's queue.
inline constexpr int kMaxQueue = 20;

class BookingStore {
 public:
  BookingStore(pg::Pool& pool, const Clock& clock, crm::calendar::WorkingCalendar calendar);

  absl::StatusOr<v1::Booking> Create(const Actor& actor, const v1::CreateBookingRequest& req,
                                     std::string_view idempotency_key = "");
  absl::StatusOr<v1::Booking> Get(const crm::common::v1::Principal& caller, std::string_view id);
  absl::StatusOr<v1::Booking> Release(const Actor& actor, const v1::ReleaseBookingRequest& req);
  absl::StatusOr<v1::ListBookingsResponse> List(const crm::common::v1::Principal& caller,
                                                const v1::ListBookingsRequest& req);
  absl::StatusOr<v1::ListUnitBookingsResponse> ListForUnit(const crm::common::v1::Principal& caller,
                                                           const v1::ListUnitBookingsRequest& req);

  // Expires the due ACTIVE bookings (see the file comment) in transactions of at most `batch_size`
  // units; returns how many this call expired. Batches committed before an error stay.
  absl::StatusOr<int> ExpireDue(int batch_size = 100);

  // When a booking started at `start` lets go: 15 working days later (calendar.h AddWorkingDays).
  absl::Time ExpiryOf(absl::Time start) const;

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  crm::calendar::WorkingCalendar calendar_;
  crm::events::OutboxWriter outbox_;
};

// Runs store.ExpireDue() at once and then every `interval` on a thread of its own until destroyed;
// errors are logged and the next sweep tries again. The store must outlive it.
class BookingSweeper {
 public:
  BookingSweeper(BookingStore& store, absl::Duration interval);

 private:
  BookingStore& store_;
  Periodic periodic_;  // last: starts after the members it uses exist
};

// Inside `tx`, with unit `unit_id` locked by the caller: ends the unit's ACTIVE booking as `end`
// (CONVERTED when the unit is sold) with `reason` and cancels everyone in its queue, writing their
// events. Returns the id of the booking that ended ("" when there was none). The unit's own status is
// the caller's to set.
absl::StatusOr<std::string> EndUnitBookingsInTx(pqxx::transaction_base& tx,
                                                const crm::events::OutboxWriter& outbox, const Actor& actor,
                                                const std::string& unit_id, absl::Time now,
                                                v1::Booking::Status end, const std::string& reason);

}  // namespace crm::deals::realty

#endif  // CRM_SERVICES_DEALS_REALTY_BOOKINGS_H_
