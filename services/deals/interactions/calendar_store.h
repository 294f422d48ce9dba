// File: services/deals/interactions/calendar_store.h
// -----------------------------------------------------------------------------
// Slot calendars of planned meetings (D16, seed 004 §6.5.3 «Календарь», §6.9 «Календарь за текущий
// день»): their configuration as data (slot_calendars; UpsertSlotCalendar needs
// interactions.slots.manage), each slot's occupancy as the seed shows it (ListSlots: "09:00 - (1/2)
// (Онлайн ПЗ:Юлия)"), and the booking of a meeting into a slot.
//
// What it promises:
//   - a meeting booked into a calendar starts exactly on one of its slots of an open day (else
//     INVALID_ARGUMENT naming the field), and no slot ever holds more meetings than the calendar's
//     capacity, whatever the concurrency: BookSlot raises slot_loads.booked by a conditional upsert
//     (booked < capacity) that row-locks the slot, so of two concurrent bookings of its last place one
//     gets FAILED_PRECONDITION "slot … is full"; cancelling or moving the meeting releases it;
//   - lowering a calendar's capacity keeps the meetings booked (new ones wait until a place is free);
//   - ListSlots shows every slot of the days asked with its bookings (cancelled meetings hold none) to
//     anyone who reads interactions (the calendar is the office's: who is booked is what it is for).
//
// Example:
//   CalendarStore calendars(*pool, crm::SystemClock(), zone);
//   CRM_ASSIGN_OR_RETURN(v1::ListSlotsResponse week, calendars.Slots(caller, req));
#ifndef CRM_SERVICES_DEALS_INTERACTIONS_CALENDAR_STORE_H_
#define CRM_SERVICES_DEALS_INTERACTIONS_CALENDAR_STORE_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/common/v1/common.pb.h"
#include "crm/deals/v1/interactions.pb.h"
#include "services/deals/interactions/slots.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx
namespace crm {
class Clock;
namespace pg {
class Pool;
}  // namespace pg
}  // namespace crm

namespace crm::deals::interactions {

// The calendar `id` as stored; nullopt when there is none.
std::optional<crm::deals::v1::SlotCalendar> LoadCalendar(pqxx::transaction_base& tx, const std::string& id);

// Books one place of the slot starting at `start` in calendar `calendar_id` (see the file comment);
// `field` names the calendar and `time_field` the start in a violation.
absl::Status BookSlot(pqxx::transaction_base& tx, const std::string& calendar_id, absl::Time start,
                      absl::TimeZone zone, std::string_view field, std::string_view time_field);
// Gives back the place BookSlot took.
void ReleaseSlot(pqxx::transaction_base& tx, const std::string& calendar_id, absl::Time start);

class CalendarStore {
 public:
  CalendarStore(pg::Pool& pool, const Clock& clock, absl::TimeZone zone);

  absl::StatusOr<crm::deals::v1::SlotCalendar> Upsert(const crm::common::v1::Principal& caller,
                                                      const crm::deals::v1::SlotCalendar& in);
  absl::StatusOr<crm::deals::v1::ListSlotCalendarsResponse> List(const crm::common::v1::Principal& caller,
                                                                 const crm::deals::v1::ListSlotCalendarsRequest& req);
  absl::StatusOr<crm::deals::v1::ListSlotsResponse> Slots(const crm::common::v1::Principal& caller,
                                                          const crm::deals::v1::ListSlotsRequest& req);

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  absl::TimeZone zone_;
};

}  // namespace crm::deals::interactions

#endif  // CRM_SERVICES_DEALS_INTERACTIONS_CALENDAR_STORE_H_
