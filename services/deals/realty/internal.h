// File: services/deals/realty/internal.h
// -----------------------------------------------------------------------------
// What the real-estate stores share (D14), not an API: the unit's SQL columns and their reader, the
// keyset tokens, the price history row, and the events of units (the page rule is deals' PageSize, sql.h).
// Each statement is a named constant or built from them; values always go through SqlParams.
#ifndef CRM_SERVICES_DEALS_REALTY_INTERNAL_H_
#define CRM_SERVICES_DEALS_REALTY_INTERNAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/deals/v1/realty.pb.h"
#include "crm/deals/v1/realty_events.pb.h"
#include "libs/events/outbox.h"
#include "proto/crm/deals/v1/realty_event_types.h"
#include "services/deals/deals.h"
#include "services/deals/realty/access.h"
#include "services/deals/realty/rules.h"
#include "services/deals/sql.h"

namespace pqxx {
class row;
}  // namespace pqxx

namespace crm::deals::realty {

namespace v1 = crm::deals::v1;

// Opaque keyset tokens: `parts` joined and base64url-encoded, with `tag` saying which list made it.
std::string EncodeToken(std::string_view tag, const std::vector<std::string>& parts);
// The parts of a token of `tag` with `n` parts; nullopt for ""; INVALID_ARGUMENT naming page_token for
// anything else.
absl::StatusOr<std::optional<std::vector<std::string>>> DecodeToken(std::string_view tag,
                                                                    std::string_view token, size_t n);
// The page sizes of realty's lists.
inline constexpr int kDefaultPage = 50;
inline constexpr int kMaxPage = 200;

// The page size by deals' one page rule (sql.h PageSize: below 0 refused naming page_size, 0 the
// default, above the maximum clamped); a negative one is recorded in `v` (and the default returned).
int PageSizeOf(int64_t requested, Violations& v);

// A decimal int64 of a token part (INVALID_ARGUMENT naming page_token when it is not one).
absl::StatusOr<int64_t> TokenInt(const std::string& part);

// crm.common.v1.Money of `minor` in `currency`.
crm::common::v1::Money MakeMoney(int64_t minor, const std::string& currency);

// The select list of a whole unit (UnitColumns(); kUnitFrom's aliases: u units, p projects, bl buildings, b
// the ACTIVE booking, c its client) and what follows FROM; ReadUnit reads a row of it, from column `at` on.
const std::string& UnitColumns();
extern const char kUnitFrom[];
// kUnitFrom after its first table: the joins of p, bl, b and c to a relation aliased u.
extern const char kUnitJoins[];
inline constexpr int kUnitColumnCount = 37;
// Fills a Unit; the booking's client only when `caller` may see the booking.
v1::Unit ReadUnit(const pqxx::row& r, int at, const crm::common::v1::Principal& caller);
// The booking part of a row (columns `at`..`at`+5: id, responsible, team ids, client id, client name,
// expire micros) as a UnitBooking, or nullopt when the unit has none.
std::optional<v1::UnitBooking> ReadUnitBooking(const pqxx::row& r, int at,
                                               const crm::common::v1::Principal& caller);

// Appends the price history row of unit `unit_id` as it is now in realty_units; returns its id.
int64_t AppendPriceRow(pqxx::transaction_base& tx, const std::string& unit_id, absl::Time now,
                       const std::string& actor_id, v1::UnitPrice::Source source);
// The latest price history row of the unit (its id); 0 when it has none.
int64_t LatestPriceId(pqxx::transaction_base& tx, const std::string& unit_id);

// The unit's and a project's events (topics crm.deals.unit.v1 / crm.deals.project.v1).
absl::Status EmitUnitChanged(pqxx::transaction_base& tx, const events::OutboxWriter& outbox,
                             const Actor& actor, const char* type, const v1::UnitChanged& ev);
absl::Status EmitUnitStatusChanged(pqxx::transaction_base& tx, const events::OutboxWriter& outbox,
                                   const Actor& actor, const v1::UnitStatusChanged& ev);
absl::Status EmitProjectChanged(pqxx::transaction_base& tx, const events::OutboxWriter& outbox,
                                const Actor& actor, const char* type, const v1::ProjectChanged& ev);

// The NewEvent every realty event is (the actor's request id and automation causation copied).
events::NewEvent RealtyEvent(const Actor& actor, const char* aggregate, std::string id, const char* type,
                             const google::protobuf::Message& payload);

// The system actor of timers (the expiry sweeper): the deals service itself.
Actor SystemActor();

}  // namespace crm::deals::realty

#endif  // CRM_SERVICES_DEALS_REALTY_INTERNAL_H_
