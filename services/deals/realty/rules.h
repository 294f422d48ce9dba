// File: services/deals/realty/rules.h
// -----------------------------------------------------------------------------
// The pure rules of the real-estate inventory (D14), without a database: the unit status state machine,
// the price arithmetic (per m², discounts, the final price — exact integers, rounded half up), and the
// validation of what a request or an import row says about a project, a building or a unit, every
// violation named as the request spells it ("units[17].area_centi_m2"). The stores (inventory.h,
// bookings.h) apply these; rules_test.cc tests them alone.
//
// The state machine (Unit.Status; realty.proto):
//
//   from \ to     NOT_RELEASED  AVAILABLE        BOOKED      SOLD              WITHDRAWN
//   NOT_RELEASED  —             priced           —           —                 yes
//   AVAILABLE     yes           —                booking     yes               yes
//   BOOKED        —             booking ends     —           converts booking  —
//   SOLD          —             priced + reason  —           —                 —
//   WITHDRAWN     yes           priced           —           —                 —
//
// "booking" cells are taken only by the bookings (a booking made; its end with an empty queue);
// people and imports ask for the others. SOLD from BOOKED converts the booking (ChangeUnitStatus only).
//
// Example:
//   Violations v;
//   ValidateUnit(request.unit(), "unit", UnitCheck::kCreate, v);
//   CRM_RETURN_IF_ERROR(v.ToStatus());
//   if (auto why = RefuseTransition(from, to, TransitionBy::kPerson, price, reason)) return
//   FailedPrecondition(*why);
#ifndef CRM_SERVICES_DEALS_REALTY_RULES_H_
#define CRM_SERVICES_DEALS_REALTY_RULES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "crm/deals/v1/realty.pb.h"
#include "libs/base/status.h"

namespace crm::deals::realty {

namespace v1 = crm::deals::v1;

// Collects field violations to refuse a request with all of them at once (crm::InvalidFieldsError).
class Violations {
 public:
  void Add(std::string field, std::string description);
  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
  const std::vector<FieldViolation>& list() const { return list_; }
  // OK when empty, else INVALID_ARGUMENT carrying every violation.
  absl::Status ToStatus() const;
  // The value of `r`, or nullopt after recording the field violations its INVALID_ARGUMENT carries (any
  // other failure is recorded under `field`), so a check that returns a status joins the others.
  template <typename T>
  std::optional<T> Value(absl::StatusOr<T> r, std::string_view field) {
    if (r.ok()) return *std::move(r);
    std::vector<FieldViolation> found = FieldViolations(r.status());
    if (found.empty()) found.push_back({std::string(field), std::string(r.status().message())});
    list_.insert(list_.end(), found.begin(), found.end());
    return std::nullopt;
  }

 private:
  std::vector<FieldViolation> list_;
};

// A section's first floor: first_floor, 0 read as 1. Floors count as in Russia: 1 is the ground floor,
// -1 and below are underground, there is no floor 0.
int FirstFloor(const v1::Section& s);

// Bounds.
inline constexpr int kMaxDiscounts = 10;
inline constexpr int kMaxSections = 50;
inline constexpr size_t kMaxNameChars = 200;
inline constexpr size_t kMaxShortChars = 100;
inline constexpr size_t kMaxNumberChars = 20;
inline constexpr size_t kMaxTextChars = 1000;
inline constexpr size_t kMaxPlanImageBytes = 2000;
inline constexpr int64_t kMaxAreaCenti = 10'000'000;
inline constexpr int kMaxRooms = 20;
inline constexpr int kMinFloor = -10;
inline constexpr int kMaxFloor = 200;
inline constexpr int kMaxPosition = 200;
inline constexpr int kMaxSectionNumber = 100;
inline constexpr char kDefaultCurrency[] = "RUB";

// Who asks for a status change.
enum class TransitionBy { kPerson, kImport, kBooking };

// Why `from` → `to` is refused for `by` (see the table above), or nullopt when allowed. `price_minor` is
// the unit's price (AVAILABLE needs one), `has_reason` whether a reason was given (SOLD → AVAILABLE
// needs one). from == to is allowed (nothing to do).
std::optional<std::string> RefuseTransition(v1::Unit::Status from, v1::Unit::Status to, TransitionBy by,
                                            int64_t price_minor, bool has_reason);

// Why a new unit may not start in `status`, or nullopt: any status but BOOKED (only a booking books), and
// AVAILABLE only with a price. A unit's first status is not a move: the external system may load one that
// is sold already.
std::optional<std::string> RefuseInitialStatus(v1::Unit::Status status, int64_t price_minor);

// The name of a status as the API spells it ("AVAILABLE").
std::string StatusName(v1::Unit::Status s);

// round_half_up(a × b / c) for non-negative a, b and positive c, exactly (128-bit); values beyond int64
// saturate at INT64_MAX.
int64_t MulDivRound(int64_t a, int64_t b, int64_t c);

// The price per m² of a unit of `price_minor` and `area_centi` hundredths of m² (rounded half up).
int64_t PricePerM2(int64_t price_minor, int64_t area_centi);
// The price of `area_centi` at `per_m2_minor` a square metre (rounded half up).
int64_t PriceFromPerM2(int64_t per_m2_minor, int64_t area_centi);
// What `d` takes off `price_minor`: its percent (rounded half up) or its amount.
int64_t DiscountValue(int64_t price_minor, const v1::Discount& d);
// The price less every discount's value, never below 0.
int64_t FinalPrice(int64_t price_minor, const std::vector<v1::Discount>& discounts);

// A unit's prices as stored: what a request gave (price or price per m²) made whole.
struct Prices {
  int64_t price_minor = 0;
  int64_t per_m2_minor = 0;
  int64_t final_minor = 0;
  std::string currency;
  // The discounts with their values filled (value.amount_minor, currency).
  std::vector<v1::Discount> discounts;
};

// Computes Prices from `unit` (price or price_per_m2, area_centi_m2, discounts) after ValidateUnit
// accepted it: price wins when both are given.
Prices ComputePrices(const v1::Unit& unit);

// The discounts as stored (a JSON array of {code, name, percent_bp, amount_minor}) and back.
std::string DiscountsJson(const std::vector<v1::Discount>& discounts);
std::vector<v1::Discount> DiscountsFromJson(const std::string& json, int64_t price_minor,
                                            const std::string& currency);

// What ValidateUnit checks.
enum class UnitCheck {
  kCreate,  // CreateUnit: building, place, number, kind, area required
  kImport,  // an import row: as kCreate, and external_id required
  kUpdate,  // UpdateUnit: only the paths in `paths`
};

// Adds a violation to `out`, under `prefix` ("unit", "units[3]"), for every bad field of `unit`: for
// kUpdate only those named in `paths` (update_mask paths; ignored otherwise). Checks text lengths and
// control characters, kind, purpose, rooms, area, money (non-negative, currency), discounts (at most 10,
// distinct codes, a percent or an amount), the plan image and the place's numbers. Status is checked by
// the store against the state machine.
void ValidateUnit(const v1::Unit& unit, std::string_view prefix, UnitCheck check,
                  const std::vector<std::string>& paths, Violations& out);

// The purpose a unit of `kind` has when none is given: residential for an apartment, non-residential
// otherwise (апартаменты, кладовые, машиноместа, коммерция are not dwellings).
v1::Unit::Purpose DefaultPurpose(v1::Unit::Kind kind);

// Adds violations for a project (name required for kCreate; external_id for an import row).
void ValidateProject(const v1::Project& project, std::string_view prefix, bool require_external_id,
                     const std::vector<std::string>* paths, Violations& out);

// Adds violations for a building (name, 1..50 sections with distinct numbers and sane floors).
void ValidateBuilding(const v1::Building& building, std::string_view prefix, bool require_external_id,
                      Violations& out);

// Text checks shared by the validators: `text` at most `max_chars` characters without control
// characters; `required` also refuses "".
void CheckText(const std::string& text, std::string_view field, size_t max_chars, bool required,
               Violations& out);

}  // namespace crm::deals::realty

#endif  // CRM_SERVICES_DEALS_REALTY_RULES_H_
