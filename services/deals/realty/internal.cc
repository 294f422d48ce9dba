// File: services/deals/realty/internal.cc
#include "services/deals/realty/internal.h"

#include <pqxx/pqxx>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/pg/prepared.h"
#include "services/deals/realty/rules.h"

namespace crm::deals::realty {

using crm::common::v1::Principal;

std::string EncodeToken(std::string_view tag, const std::vector<std::string>& parts) {
  return absl::WebSafeBase64Escape(absl::StrCat(AsAbsl(tag), "\n", absl::StrJoin(parts, "\n")));
}

absl::StatusOr<std::optional<std::vector<std::string>>> DecodeToken(std::string_view tag,
                                                                    std::string_view token, size_t n) {
  if (token.empty()) return std::optional<std::vector<std::string>>();
  std::string raw;
  if (token.size() > 1000 || !absl::WebSafeBase64Unescape(AsAbsl(token), &raw)) {
    return InvalidFieldError("page_token", "malformed page token");
  }
  std::vector<std::string> parts = absl::StrSplit(raw, '\n');
  if (parts.size() != n + 1 || parts[0] != tag)
    return InvalidFieldError("page_token", "not a token of this list");
  parts.erase(parts.begin());
  return std::optional<std::vector<std::string>>(std::move(parts));
}

int PageSizeOf(int64_t requested, Violations& v) {
  return v.Value(PageSize("page_size", requested, kDefaultPage, kMaxPage), "page_size").value_or(kDefaultPage);
}

absl::StatusOr<int64_t> TokenInt(const std::string& part) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(part, &v)) return InvalidFieldError("page_token", "malformed page token");
  return v;
}

crm::common::v1::Money MakeMoney(int64_t minor, const std::string& currency) {
  crm::common::v1::Money m;
  m.set_amount_minor(minor);
  m.set_currency(currency);
  return m;
}

const std::string& UnitColumns() {
  static const std::string* columns = new std::string(absl::StrCat(
      "u.id::text, coalesce(u.external_id, ''), u.project_id::text, p.name, u.building_id::text, "
      "coalesce(bl.external_id, ''), bl.name, u.section_number, u.floor, u.position, u.number, "
      "u.plan_number, "
      "u.kind, u.purpose, u.status, u.rooms, u.area_centi, u.currency, u.price_minor, u.price_per_m2_minor, "
      "u.final_price_minor, u.discounts::text, u.special_offer, u.special_offer_name, u.right_holder, "
      "u.no_ownership, u.plan_image, u.version, ",
      MicrosOf("u.create_time"), ", ", MicrosOf("u.update_time"),
      ", b.id::text, b.responsible_id::text, array_to_string(b.team_ids, ','), b.client_id::text, c.name, ",
      MicrosOf("b.expire_time"),
      ", (SELECT count(*) FROM realty_bookings q WHERE q.unit_id = u.id AND q.status = 1)"));
  return *columns;
}

#define CRM_REALTY_UNIT_JOINS                                         \
  " JOIN realty_projects p ON p.id = u.project_id "                   \
  "JOIN realty_buildings bl ON bl.id = u.building_id "                \
  "LEFT JOIN realty_bookings b ON b.unit_id = u.id AND b.status = 2 " \
  "LEFT JOIN clients c ON c.id = b.client_id"
const char kUnitJoins[] = CRM_REALTY_UNIT_JOINS;
const char kUnitFrom[] = " FROM realty_units u" CRM_REALTY_UNIT_JOINS;
#undef CRM_REALTY_UNIT_JOINS

std::optional<v1::UnitBooking> ReadUnitBooking(const pqxx::row& r, int at, const Principal& caller) {
  if (r[at].is_null()) return std::nullopt;
  v1::UnitBooking b;
  b.set_booking_id(r[at].as<std::string>());
  b.set_responsible_id(r[at + 1].as<std::string>());
  BookingOwnership own{b.responsible_id(), {}};
  for (absl::string_view t : absl::StrSplit(r[at + 2].as<std::string>(), ',', absl::SkipEmpty())) {
    own.team_ids.emplace_back(t);
  }
  *b.mutable_expire_time() = TsFromMicros(r[at + 5].as<int64_t>());
  if (CanReadBooking(caller, own)) {
    b.set_visible(true);
    b.set_client_id(r[at + 3].as<std::string>());
    b.set_client_name(r[at + 4].as<std::string>());
  }
  return b;
}

v1::Unit ReadUnit(const pqxx::row& r, int at, const Principal& caller) {
  v1::Unit u;
  int i = at;
  u.set_id(r[i++].as<std::string>());
  u.set_external_id(r[i++].as<std::string>());
  u.set_project_id(r[i++].as<std::string>());
  u.set_project_name(r[i++].as<std::string>());
  u.set_building_id(r[i++].as<std::string>());
  u.set_building_external_id(r[i++].as<std::string>());
  u.set_building_name(r[i++].as<std::string>());
  u.set_section_number(r[i++].as<int>());
  u.set_floor(r[i++].as<int>());
  u.set_position(r[i++].as<int>());
  u.set_number(r[i++].as<std::string>());
  u.set_plan_number(r[i++].as<std::string>());
  u.set_kind(static_cast<v1::Unit::Kind>(r[i++].as<int>()));
  u.set_purpose(static_cast<v1::Unit::Purpose>(r[i++].as<int>()));
  u.set_status(static_cast<v1::Unit::Status>(r[i++].as<int>()));
  u.set_rooms(r[i++].as<int>());
  u.set_area_centi_m2(r[i++].as<int64_t>());
  const std::string currency = r[i++].as<std::string>();
  const int64_t price = r[i++].as<int64_t>();
  *u.mutable_price() = MakeMoney(price, currency);
  *u.mutable_price_per_m2() = MakeMoney(r[i++].as<int64_t>(), currency);
  *u.mutable_final_price() = MakeMoney(r[i++].as<int64_t>(), currency);
  for (v1::Discount& d : DiscountsFromJson(r[i++].as<std::string>(), price, currency)) {
    *u.add_discounts() = std::move(d);
  }
  u.set_special_offer(r[i++].as<bool>());
  u.set_special_offer_name(r[i++].as<std::string>());
  u.set_right_holder(r[i++].as<std::string>());
  u.set_no_ownership(r[i++].as<bool>());
  u.set_plan_image(r[i++].as<std::string>());
  u.set_version(r[i++].as<int64_t>());
  *u.mutable_create_time() = TsFromMicros(r[i++].as<int64_t>());
  *u.mutable_update_time() = TsFromMicros(r[i++].as<int64_t>());
  if (std::optional<v1::UnitBooking> b = ReadUnitBooking(r, i, caller)) *u.mutable_booking() = *std::move(b);
  i += 6;
  u.set_queue_length(r[i].as<int>());
  return u;
}

namespace {

constexpr char kAppendPrice[] =
    "INSERT INTO realty_unit_prices (unit_id, price_minor, price_per_m2_minor, final_price_minor, currency, "
    "discounts, special_offer, area_centi, change_time, actor_id, source) "
    "SELECT id, price_minor, price_per_m2_minor, final_price_minor, currency, discounts, special_offer, "
    "area_centi, "
    "('epoch'::timestamptz + $2::bigint * interval '1 microsecond'), $3, $4::smallint "
    "FROM realty_units WHERE id = $1::uuid RETURNING id";

constexpr char kLatestPrice[] =
    "SELECT id FROM realty_unit_prices WHERE unit_id = $1::uuid ORDER BY id DESC LIMIT 1";

}  // namespace

int64_t AppendPriceRow(pqxx::transaction_base& tx, const std::string& unit_id, absl::Time now,
                       const std::string& actor_id, v1::UnitPrice::Source source) {
  SqlParams p;
  p.Add(unit_id);
  p.Add(absl::StrCat(absl::ToUnixMicros(now)));
  p.Add(actor_id);
  p.Add(absl::StrCat(static_cast<int>(source)));
  return ExecPrepared(tx, kAppendPrice, p)[0][0].as<int64_t>();
}

int64_t LatestPriceId(pqxx::transaction_base& tx, const std::string& unit_id) {
  SqlParams p;
  p.Add(unit_id);
  pqxx::result r = ExecPrepared(tx, kLatestPrice, p);
  return r.empty() ? 0 : r[0][0].as<int64_t>();
}

events::NewEvent RealtyEvent(const Actor& actor, const char* aggregate, std::string id, const char* type,
                             const google::protobuf::Message& payload) {
  return {.aggregate_type = aggregate,
          .aggregate_id = std::move(id),
          .type = type,
          .payload = &payload,
          .actor = actor.principal,
          .request_id = actor.request_id,
          .automation_depth = actor.automation_depth,
          .skip_automation = actor.skip_automation};
}

absl::Status EmitUnitChanged(pqxx::transaction_base& tx, const events::OutboxWriter& outbox,
                             const Actor& actor, const char* type, const v1::UnitChanged& ev) {
  return outbox.Append(tx, RealtyEvent(actor, v1::kUnitAggregate, ev.unit().id(), type, ev)).status();
}

absl::Status EmitUnitStatusChanged(pqxx::transaction_base& tx, const events::OutboxWriter& outbox,
                                   const Actor& actor, const v1::UnitStatusChanged& ev) {
  return outbox
      .Append(tx, RealtyEvent(actor, v1::kUnitAggregate, ev.unit_id(), v1::kUnitStatusChangedType, ev))
      .status();
}

absl::Status EmitProjectChanged(pqxx::transaction_base& tx, const events::OutboxWriter& outbox,
                                const Actor& actor, const char* type, const v1::ProjectChanged& ev) {
  return outbox.Append(tx, RealtyEvent(actor, v1::kProjectAggregate, ev.project().id(), type, ev)).status();
}

Actor SystemActor() {
  Actor a;
  a.principal.set_kind(Principal::KIND_SERVICE);
  a.principal.set_service("deals");
  return a;
}

}  // namespace crm::deals::realty
