// File: services/deals/realty/rules.cc
#include "services/deals/realty/rules.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/numeric/int128.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/base/money.h"
#include "libs/base/strings.h"
#include "libs/base/uuid.h"

namespace crm::deals::realty {

void Violations::Add(std::string field, std::string description) {
  list_.push_back({std::move(field), std::move(description)});
}

absl::Status Violations::ToStatus() const {
  if (list_.empty()) return absl::OkStatus();
  return InvalidFieldsError(list_);
}

std::string StatusName(v1::Unit::Status s) { return v1::Unit::Status_Name(s); }

std::optional<std::string> RefuseTransition(v1::Unit::Status from, v1::Unit::Status to, TransitionBy by,
                                            int64_t price_minor, bool has_reason) {
  using S = v1::Unit;
  if (from == to) return std::nullopt;
  const std::string move = absl::StrCat(StatusName(from), " → ", StatusName(to));
  if (to == S::BOOKED || (from == S::BOOKED && to == S::AVAILABLE)) {
    if (by == TransitionBy::kBooking) return std::nullopt;
    return to == S::BOOKED
               ? "a unit is booked only by a booking (BookingService.CreateBooking)"
               : "a booked unit is freed by releasing its booking (BookingService.ReleaseBooking)";
  }
  if (by == TransitionBy::kBooking) return absl::StrCat(move, " is not a booking's move");
  if (from == S::BOOKED) {
    if (to == S::SOLD && by == TransitionBy::kPerson) return std::nullopt;  // converts the booking
    if (to == S::SOLD) return "a booked unit is sold through ChangeUnitStatus, which converts its booking";
    return absl::StrCat(move, ": release the unit's booking first");
  }
  if (to == S::AVAILABLE && price_minor <= 0)
    return absl::StrCat(move, ": a unit goes on sale only with a price");
  switch (from) {
    case S::NOT_RELEASED:
      if (to == S::AVAILABLE || to == S::WITHDRAWN) return std::nullopt;
      break;
    case S::AVAILABLE:
      if (to == S::NOT_RELEASED || to == S::WITHDRAWN || to == S::SOLD) return std::nullopt;
      break;
    case S::WITHDRAWN:
      if (to == S::AVAILABLE || to == S::NOT_RELEASED) return std::nullopt;
      break;
    case S::SOLD:
      if (to == S::AVAILABLE) {
        if (!has_reason) return absl::StrCat(move, " (a termination) needs a reason");
        return std::nullopt;
      }
      break;
    default:
      break;
  }
  return absl::StrCat(move, " is not allowed");
}

std::optional<std::string> RefuseInitialStatus(v1::Unit::Status status, int64_t price_minor) {
  if (status == v1::Unit::BOOKED) return "a unit is booked only by a booking (BookingService.CreateBooking)";
  if (status == v1::Unit::AVAILABLE && price_minor <= 0) return "a unit goes on sale only with a price";
  return std::nullopt;
}

int FirstFloor(const v1::Section& s) { return s.first_floor() == 0 ? 1 : s.first_floor(); }

int64_t MulDivRound(int64_t a, int64_t b, int64_t c) {
  const absl::uint128 n = absl::uint128(static_cast<uint64_t>(a)) * static_cast<uint64_t>(b);
  const absl::uint128 d = static_cast<uint64_t>(c);
  const absl::uint128 q = (n + d / 2) / d;
  if (q > absl::uint128(static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
    return std::numeric_limits<int64_t>::max();
  }
  return static_cast<int64_t>(absl::Uint128Low64(q));
}

int64_t PricePerM2(int64_t price_minor, int64_t area_centi) {
  if (area_centi <= 0 || price_minor <= 0) return 0;
  return MulDivRound(price_minor, 100, area_centi);
}

int64_t PriceFromPerM2(int64_t per_m2_minor, int64_t area_centi) {
  if (area_centi <= 0 || per_m2_minor <= 0) return 0;
  return MulDivRound(per_m2_minor, area_centi, 100);
}

int64_t DiscountValue(int64_t price_minor, const v1::Discount& d) {
  if (price_minor <= 0) return 0;
  if (d.percent_bp() > 0) return MulDivRound(price_minor, d.percent_bp(), 10000);
  return std::max<int64_t>(0, d.amount().amount_minor());
}

int64_t FinalPrice(int64_t price_minor, const std::vector<v1::Discount>& discounts) {
  int64_t off = 0;
  for (const v1::Discount& d : discounts) off += DiscountValue(price_minor, d);  // ≤ 10 × 10^15: no overflow
  return std::max<int64_t>(0, price_minor - off);
}

Prices ComputePrices(const v1::Unit& unit) {
  Prices p;
  p.currency = !unit.price().currency().empty()          ? unit.price().currency()
               : !unit.price_per_m2().currency().empty() ? unit.price_per_m2().currency()
                                                         : kDefaultCurrency;
  const int64_t area = unit.area_centi_m2();
  if (unit.price().amount_minor() > 0) {
    p.price_minor = unit.price().amount_minor();
    p.per_m2_minor = PricePerM2(p.price_minor, area);
  } else if (unit.price_per_m2().amount_minor() > 0) {
    p.per_m2_minor = unit.price_per_m2().amount_minor();
    p.price_minor = std::min(PriceFromPerM2(p.per_m2_minor, area), kMaxAmountMinor);
  }
  for (const v1::Discount& in : unit.discounts()) {
    v1::Discount d;
    d.set_code(in.code());
    d.set_name(in.name());
    if (in.percent_bp() > 0) {
      d.set_percent_bp(in.percent_bp());
    } else {
      d.mutable_amount()->set_amount_minor(in.amount().amount_minor());
      d.mutable_amount()->set_currency(p.currency);
    }
    d.mutable_value()->set_amount_minor(DiscountValue(p.price_minor, d));
    d.mutable_value()->set_currency(p.currency);
    p.discounts.push_back(std::move(d));
  }
  p.final_minor = FinalPrice(p.price_minor, p.discounts);
  return p;
}

std::string DiscountsJson(const std::vector<v1::Discount>& discounts) {
  nlohmann::json a = nlohmann::json::array();
  for (const v1::Discount& d : discounts) {
    a.push_back({{"code", d.code()},
                 {"name", d.name()},
                 {"percent_bp", d.percent_bp()},
                 {"amount_minor", d.amount().amount_minor()}});
  }
  return a.dump();
}

std::vector<v1::Discount> DiscountsFromJson(const std::string& json, int64_t price_minor,
                                            const std::string& currency) {
  std::vector<v1::Discount> out;
  nlohmann::json a = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!a.is_array()) return out;
  for (const auto& e : a) {
    if (!e.is_object()) continue;
    v1::Discount d;
    d.set_code(e.value("code", ""));
    d.set_name(e.value("name", ""));
    d.set_percent_bp(e.value("percent_bp", 0));
    if (d.percent_bp() == 0) {
      d.mutable_amount()->set_amount_minor(e.value("amount_minor", int64_t{0}));
      d.mutable_amount()->set_currency(currency);
    }
    d.mutable_value()->set_amount_minor(DiscountValue(price_minor, d));
    d.mutable_value()->set_currency(currency);
    out.push_back(std::move(d));
  }
  return out;
}

void CheckText(const std::string& text, std::string_view field, size_t max_chars, bool required,
               Violations& out) {
  if (required && text.empty()) {
    out.Add(std::string(field), "required");
  } else if (CodePoints(text) > max_chars) {
    out.Add(std::string(field), absl::StrCat("longer than ", max_chars, " characters"));
  } else if (HasForbiddenControl(text)) {
    out.Add(std::string(field), "contains a control character");
  }
}

v1::Unit::Purpose DefaultPurpose(v1::Unit::Kind kind) {
  return kind == v1::Unit::APARTMENT ? v1::Unit::RESIDENTIAL : v1::Unit::NON_RESIDENTIAL;
}

namespace {

std::string F(std::string_view prefix, std::string_view field) {
  return prefix.empty() ? std::string(field) : absl::StrCat(AsAbsl(prefix), ".", AsAbsl(field));
}

void CheckMoney(const crm::common::v1::Money& m, const std::string& field, Violations& out) {
  if (m.amount_minor() < 0) out.Add(field + ".amount_minor", "must not be negative");
  if (m.amount_minor() > kMaxAmountMinor) out.Add(field + ".amount_minor", "too large");
  if (!m.currency().empty() && !ValidateCurrency(m.currency()).ok()) {
    out.Add(field + ".currency", "not an ISO 4217 code (\"RUB\")");
  }
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (HexDigitValue(c) < 0) return false;
  }
  return true;
}

}  // namespace

void ValidateUnit(const v1::Unit& u, std::string_view prefix, UnitCheck check,
                  const std::vector<std::string>& paths, Violations& out) {
  const bool update = check == UnitCheck::kUpdate;
  auto has = [&](std::string_view path) {
    return !update || std::find(paths.begin(), paths.end(), path) != paths.end();
  };
  if (check == UnitCheck::kImport) {
    CheckText(u.external_id(), F(prefix, "external_id"), kMaxShortChars, true, out);
    if (u.building_id().empty() && u.building_external_id().empty()) {
      out.Add(F(prefix, "building_external_id"), "required (or building_id)");
    } else if (!u.building_id().empty() && !IsUuid(u.building_id())) {
      out.Add(F(prefix, "building_id"), "not a UUID");
    }
  } else if (has("external_id")) {
    CheckText(u.external_id(), F(prefix, "external_id"), kMaxShortChars, false, out);
  }
  if (has("number")) CheckText(u.number(), F(prefix, "number"), kMaxNumberChars, true, out);
  if (has("plan_number")) CheckText(u.plan_number(), F(prefix, "plan_number"), kMaxNumberChars, false, out);
  if (has("section_number") && (u.section_number() < 1 || u.section_number() > kMaxSectionNumber)) {
    out.Add(F(prefix, "section_number"), "required: a section of the building, 1..100");
  }
  if (has("floor") && (u.floor() < kMinFloor || u.floor() > kMaxFloor || u.floor() == 0)) {
    out.Add(F(prefix, "floor"), "required: -10..-1 or 1..200");
  }
  if (has("position") && (u.position() < 1 || u.position() > kMaxPosition)) {
    out.Add(F(prefix, "position"), "required: the place on the floor, 1..200");
  }
  if (has("kind") && (u.kind() == v1::Unit::KIND_UNSPECIFIED || !v1::Unit::Kind_IsValid(u.kind()))) {
    out.Add(F(prefix, "kind"), "required: APARTMENT, APARTMENTS, STORAGE, PARKING or COMMERCIAL");
  }
  if (has("purpose") && !v1::Unit::Purpose_IsValid(u.purpose())) {
    out.Add(F(prefix, "purpose"), "RESIDENTIAL or NON_RESIDENTIAL");
  }
  if (has("purpose") && update && u.purpose() == v1::Unit::PURPOSE_UNSPECIFIED) {
    out.Add(F(prefix, "purpose"), "required: RESIDENTIAL or NON_RESIDENTIAL");
  }
  if (has("rooms") && (u.rooms() < 0 || u.rooms() > kMaxRooms)) out.Add(F(prefix, "rooms"), "must be 0..20");
  if (has("area_centi_m2") && (u.area_centi_m2() < 1 || u.area_centi_m2() > kMaxAreaCenti)) {
    out.Add(F(prefix, "area_centi_m2"), "required: hundredths of m², 1..10000000 (5234 = 52.34 m²)");
  }
  if (!update && u.status() != v1::Unit::STATUS_UNSPECIFIED && !v1::Unit::Status_IsValid(u.status())) {
    out.Add(F(prefix, "status"), "unknown status");
  }
  const bool price = has("price"), per_m2 = has("price_per_m2");
  if (price) CheckMoney(u.price(), F(prefix, "price"), out);
  if (per_m2) CheckMoney(u.price_per_m2(), F(prefix, "price_per_m2"), out);
  if (price && per_m2 && !u.price().currency().empty() && !u.price_per_m2().currency().empty() &&
      u.price().currency() != u.price_per_m2().currency()) {
    out.Add(F(prefix, "price_per_m2.currency"), "must be the price's currency");
  }
  if (update && price && per_m2) out.Add("update_mask", "price or price_per_m2, not both");
  if (has("discounts")) {
    if (u.discounts_size() > kMaxDiscounts) {
      out.Add(F(prefix, "discounts"), absl::StrCat("at most ", kMaxDiscounts));
    }
    std::set<std::string> codes;
    for (int i = 0; i < u.discounts_size() && i < kMaxDiscounts; ++i) {
      const v1::Discount& d = u.discounts(i);
      const std::string f = absl::StrCat(F(prefix, "discounts"), "[", i, "]");
      CheckText(d.code(), f + ".code", 50, true, out);
      CheckText(d.name(), f + ".name", kMaxNameChars, false, out);
      if (!d.code().empty() && !codes.insert(d.code()).second) out.Add(f + ".code", "repeated");
      const bool pct = d.percent_bp() != 0, amount = d.has_amount() && d.amount().amount_minor() != 0;
      if (pct == amount) {
        out.Add(f + ".percent_bp", "give a percent (hundredths: 250 = 2.50 %) or an amount, one of them");
      }
      if (d.percent_bp() < 0 || d.percent_bp() > 10000) out.Add(f + ".percent_bp", "must be 0..10000");
      if (amount) CheckMoney(d.amount(), f + ".amount", out);
    }
  }
  if (has("special_offer_name")) {
    CheckText(u.special_offer_name(), F(prefix, "special_offer_name"), kMaxNameChars, false, out);
  }
  if (has("right_holder")) CheckText(u.right_holder(), F(prefix, "right_holder"), kMaxNameChars, false, out);
  if (has("plan_image") && !u.plan_image().empty()) {
    const std::string& p = u.plan_image();
    const bool url = (absl::StartsWith(p, "https://") || absl::StartsWith(p, "http://")) && p.size() > 10 &&
                     p.size() <= kMaxPlanImageBytes && p.find_first_of(" \t\r\n\"<>") == std::string::npos;
    const bool blob = absl::StartsWith(p, "blob:") && IsHex64(std::string_view(p).substr(5));
    if (!url && !blob) {
      out.Add(F(prefix, "plan_image"), "an http(s):// URL (≤ 2000 bytes) or blob:<hex SHA-256>");
    }
  }
}

void ValidateProject(const v1::Project& p, std::string_view prefix, bool require_external_id,
                     const std::vector<std::string>* paths, Violations& out) {
  auto has = [&](std::string_view path) {
    return paths == nullptr || std::find(paths->begin(), paths->end(), path) != paths->end();
  };
  if (has("external_id"))
    CheckText(p.external_id(), F(prefix, "external_id"), kMaxShortChars, require_external_id, out);
  if (has("name")) CheckText(p.name(), F(prefix, "name"), kMaxNameChars, true, out);
  if (has("city")) CheckText(p.city(), F(prefix, "city"), kMaxNameChars, false, out);
  if (has("address")) CheckText(p.address(), F(prefix, "address"), kMaxTextChars, false, out);
}

void ValidateBuilding(const v1::Building& b, std::string_view prefix, bool require_external_id,
                      Violations& out) {
  CheckText(b.external_id(), F(prefix, "external_id"), kMaxShortChars, require_external_id, out);
  CheckText(b.name(), F(prefix, "name"), kMaxNameChars, true, out);
  CheckText(b.phase(), F(prefix, "phase"), kMaxNameChars, false, out);
  CheckText(b.house_type(), F(prefix, "house_type"), kMaxNameChars, false, out);
  CheckText(b.address(), F(prefix, "address"), kMaxTextChars, false, out);
  if (b.sections().empty()) {
    out.Add(F(prefix, "sections"), "required: at least one section with its floors");
  } else if (b.sections_size() > kMaxSections) {
    out.Add(F(prefix, "sections"), absl::StrCat("at most ", kMaxSections));
  }
  std::set<int> numbers;
  for (int i = 0; i < b.sections_size() && i < kMaxSections; ++i) {
    const v1::Section& s = b.sections(i);
    const std::string f = absl::StrCat(F(prefix, "sections"), "[", i, "]");
    if (s.number() < 1 || s.number() > kMaxSectionNumber) {
      out.Add(f + ".number", "required: 1..100");
    } else if (!numbers.insert(s.number()).second) {
      out.Add(f + ".number", "repeated");
    }
    CheckText(s.name(), f + ".name", kMaxNameChars, false, out);
    const int first = FirstFloor(s);
    if (first < kMinFloor || first > kMaxFloor) out.Add(f + ".first_floor", "must be -10..-1 or 1..200");
    if (s.last_floor() == 0) {
      out.Add(f + ".last_floor", "required: the top floor, 1..200");
    } else if (s.last_floor() < kMinFloor || s.last_floor() > kMaxFloor) {
      out.Add(f + ".last_floor", "must be -10..-1 or 1..200");
    } else if (s.last_floor() < first) {
      out.Add(f + ".last_floor", "below first_floor");
    }
  }
}

}  // namespace crm::deals::realty
