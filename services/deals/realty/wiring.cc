// File: services/deals/realty/wiring.cc
#include "services/deals/realty/wiring.h"

#include <memory>
#include <string>

#include "libs/base/clock.h"
#include "libs/base/strings.h"
#include "libs/calendar/calendar.h"
#include "services/deals/realty/board.h"
#include "services/deals/realty/bookings.h"
#include "services/deals/realty/inventory.h"
#include "services/deals/realty/service.h"

namespace crm::deals::realty {

absl::Status WireRealty(crm::config::Env& env, crm::rpc::Server& server, crm::pg::Pool& pool) {
  const std::string zone = env.String("TIME_ZONE", "Europe/Moscow");
  const std::string holidays = env.String("HOLIDAYS", "");
  const int64_t sweep_ms = env.Int("BOOKING_SWEEP_INTERVAL_MS", 30000, 0, 86'400'000);
  absl::StatusOr<crm::calendar::WorkingCalendar> calendar =
      crm::calendar::WorkingCalendar::FiveDay(zone, holidays);
  if (!calendar.ok()) {
    env.Reject("HOLIDAYS", AsStd(calendar.status().message()));
    return absl::OkStatus();
  }
  if (!env.status().ok()) return absl::OkStatus();
  auto* inventory = server.Own(std::make_unique<InventoryStore>(pool, crm::SystemClock()));
  auto* board = server.Own(std::make_unique<BoardReader>(pool));
  auto* bookings = server.Own(std::make_unique<BookingStore>(pool, crm::SystemClock(), *std::move(calendar)));
  server.AddService(server.Own(std::make_unique<RealtyServiceImpl>(*inventory, *board)));
  server.AddService(server.Own(std::make_unique<BookingServiceImpl>(*bookings)));
  if (sweep_ms > 0) server.Own(std::make_unique<BookingSweeper>(*bookings, absl::Milliseconds(sweep_ms)));
  return absl::OkStatus();
}

}  // namespace crm::deals::realty
