// File: services/deals/interactions/calendar_store.cc
#include "services/deals/interactions/calendar_store.h"

#include <map>
#include <pqxx/pqxx>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/call.h"
#include "services/deals/interactions/access.h"
#include "services/deals/sql.h"

namespace crm::deals::interactions {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;

namespace {

constexpr int kDefaultDays = 7;
constexpr int kMaxDays = 31;

const std::string& CalendarColumns() {
  static const std::string* columns = new std::string(absl::StrCat(
      "id::text, name, COALESCE(project_id::text, ''), open_minute, close_minute, slot_minutes, capacity, "
      "array_to_json(weekdays)::text, array_to_json(closed_days)::text, ",
      MicrosOf("update_time"), ", version"));
  return *columns;
}

constexpr char kUpsertCalendar[] =
    "INSERT INTO slot_calendars AS s (id, name, project_id, open_minute, close_minute, slot_minutes, capacity, "
    "weekdays, closed_days, version, update_time) VALUES ($1::uuid, $2, NULLIF($3, '')::uuid, $4::int, $5::int, "
    "$6::int, $7::int, $8::smallint[], $9::date[], 1, ('epoch'::timestamptz + $10::bigint * interval '1 microsecond')) "
    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, project_id = EXCLUDED.project_id, "
    "open_minute = EXCLUDED.open_minute, close_minute = EXCLUDED.close_minute, slot_minutes = EXCLUDED.slot_minutes, "
    "capacity = EXCLUDED.capacity, weekdays = EXCLUDED.weekdays, closed_days = EXCLUDED.closed_days, "
    "version = s.version + 1, update_time = EXCLUDED.update_time "
    "WHERE (s.name, s.project_id, s.open_minute, s.close_minute, s.slot_minutes, s.capacity, s.weekdays, "
    "s.closed_days) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.project_id, EXCLUDED.open_minute, "
    "EXCLUDED.close_minute, EXCLUDED.slot_minutes, EXCLUDED.capacity, EXCLUDED.weekdays, EXCLUDED.closed_days)";

// One place of a slot, taken only while fewer than the capacity are booked ($3): the row lock of the
// upsert orders concurrent bookings of a slot.
constexpr char kBookSlot[] =
    "INSERT INTO slot_loads AS l (calendar_id, slot_start, booked) VALUES ($1::uuid, "
    "('epoch'::timestamptz + $2::bigint * interval '1 microsecond'), 1) ON CONFLICT (calendar_id, slot_start) "
    "DO UPDATE SET booked = l.booked + 1 WHERE l.booked < $3::int RETURNING booked";
constexpr char kReleaseSlot[] =
    "UPDATE slot_loads SET booked = booked - 1 WHERE calendar_id = $1::uuid AND "
    "slot_start = ('epoch'::timestamptz + $2::bigint * interval '1 microsecond') AND booked > 0";

// A calendar's meetings holding a slot in [$2, $3), by time, with who they are.
constexpr char kBookings[] =
    "SELECT i.id::text, (extract(epoch FROM i.planned_time) * 1000000)::bigint, i.client_id::text, c.name, "
    "i.responsible_id::text, i.online FROM interactions i JOIN clients c ON c.id = i.client_id "
    "WHERE i.calendar_id = $1::uuid AND i.status <> 3 AND "
    "i.planned_time >= ('epoch'::timestamptz + $2::bigint * interval '1 microsecond') AND "
    "i.planned_time < ('epoch'::timestamptz + $3::bigint * interval '1 microsecond') "
    "ORDER BY i.planned_time, i.id";

v1::SlotCalendar ReadCalendar(const pqxx::row& r) {
  v1::SlotCalendar c;
  c.set_id(r[0].c_str());
  c.set_name(r[1].c_str());
  c.set_project_id(r[2].c_str());
  c.set_open_time(FormatHm(r[3].as<int>()));
  c.set_close_time(FormatHm(r[4].as<int>()));
  c.set_slot_minutes(r[5].as<int>());
  c.set_capacity(r[6].as<int>());
  // array_to_json of smallint[] is "[1,2]": read the numbers between the separators.
  std::string digits;
  for (char ch : std::string(r[7].c_str()) + ",") {
    if (ch >= '0' && ch <= '9') {
      digits += ch;
    } else if (!digits.empty()) {
      c.add_weekdays(std::stoi(digits));
      digits.clear();
    }
  }
  for (std::string& d : JsonStrings(r[8].c_str())) c.add_closed_days(std::move(d));
  *c.mutable_update_time() = TsFromMicros(r[9].as<int64_t>());
  c.set_version(r[10].as<int64_t>());
  return c;
}

}  // namespace

std::optional<v1::SlotCalendar> LoadCalendar(pqxx::transaction_base& tx, const std::string& id) {
  pqxx::result r = pg::ExecPrepared(tx, absl::StrCat("SELECT ", CalendarColumns(), " FROM slot_calendars WHERE id = $1::uuid"), id);
  if (r.empty()) return std::nullopt;
  return ReadCalendar(r[0]);
}

absl::Status BookSlot(pqxx::transaction_base& tx, const std::string& calendar_id, absl::Time start,
                      absl::TimeZone zone, std::string_view field, std::string_view time_field) {
  std::optional<v1::SlotCalendar> calendar = LoadCalendar(tx, calendar_id);
  if (!calendar.has_value()) return InvalidFieldError(field, "no such slot calendar");
  const SlotGrid grid = GridOf(*calendar, zone);
  if (!IsSlotStart(grid, start)) {
    return InvalidFieldError(time_field, absl::StrCat("not the start of a slot of «", calendar->name(), "» (",
                                                      calendar->open_time(), "–", calendar->close_time(), " by ",
                                                      calendar->slot_minutes(), " minutes, open days only)"));
  }
  if (pg::ExecPrepared(tx, kBookSlot, calendar_id, absl::ToUnixMicros(start), grid.capacity).empty()) {
    return absl::FailedPreconditionError(absl::StrCat("slot ", SlotLabel(grid, start), " of ",
                                                      absl::FormatCivilTime(absl::ToCivilDay(start, zone)), " in «",
                                                      calendar->name(), "» is full (", grid.capacity, " of ",
                                                      grid.capacity, ")"));
  }
  return absl::OkStatus();
}

void ReleaseSlot(pqxx::transaction_base& tx, const std::string& calendar_id, absl::Time start) {
  pg::ExecPrepared(tx, kReleaseSlot, calendar_id, absl::ToUnixMicros(start));
}

CalendarStore::CalendarStore(pg::Pool& pool, const Clock& clock, absl::TimeZone zone)
    : pool_(pool), clock_(clock), zone_(zone) {}

absl::StatusOr<v1::SlotCalendar> CalendarStore::Upsert(const Principal& caller, const v1::SlotCalendar& in) {
  std::vector<FieldViolation> bad = ValidateCalendar(in, "calendar");
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(rpc::RequirePermission(caller, kSlotsManagePermission));
  std::vector<std::string> weekdays;
  for (int d : in.weekdays()) weekdays.push_back(absl::StrCat(d));
  std::vector<std::string> closed(in.closed_days().begin(), in.closed_days().end());
  v1::SlotCalendar out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    pg::ExecPrepared(tx, kUpsertCalendar, in.id(), in.name(), in.project_id(), ParseHm(in.open_time()),
                     ParseHm(in.close_time()), in.slot_minutes(), in.capacity(), ArrayLiteral(weekdays),
                     ArrayLiteral(closed), absl::ToUnixMicros(clock_.Now()));
    out = *LoadCalendar(tx, in.id());
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::ListSlotCalendarsResponse> CalendarStore::List(const Principal& caller,
                                                                  const v1::ListSlotCalendarsRequest& req) {
  if (!req.project_id().empty() && !IsUuid(req.project_id())) return InvalidFieldError("project_id", "not a UUID");
  if (ReadScope(caller) == Scope::kNone && !rpc::HasPermission(caller, kSlotsManagePermission)) {
    return absl::PermissionDeniedError("missing permission interactions.read.own");
  }
  v1::ListSlotCalendarsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        // A handful of offices: the whole (small) table, or one project's.
        const pqxx::result r =
            req.project_id().empty()
                ? pg::ExecPrepared(tx, absl::StrCat("SELECT ", CalendarColumns(), " FROM slot_calendars ORDER BY name, id"))
                : pg::ExecPrepared(tx, absl::StrCat("SELECT ", CalendarColumns(),
                                                    " FROM slot_calendars WHERE project_id = $1::uuid ORDER BY name, id"),
                                   req.project_id());
        for (const pqxx::row& row : r) *out.add_calendars() = ReadCalendar(row);
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ListSlotsResponse> CalendarStore::Slots(const Principal& caller, const v1::ListSlotsRequest& req) {
  std::vector<FieldViolation> bad;
  if (!IsUuid(req.calendar_id())) bad.push_back({.field = "calendar_id", .description = "not a UUID"});
  absl::CivilDay first = absl::ToCivilDay(clock_.Now(), zone_);
  if (!req.from_day().empty() && !ParseDay(req.from_day(), &first)) {
    bad.push_back({.field = "from_day", .description = "expected YYYY-MM-DD"});
  }
  if (req.days() < 0 || req.days() > kMaxDays) bad.push_back({.field = "days", .description = "must be 0..31"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  if (ReadScope(caller) == Scope::kNone) return absl::PermissionDeniedError("missing permission interactions.read.own");
  const int days = req.days() == 0 ? kDefaultDays : req.days();
  v1::ListSlotsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        std::optional<v1::SlotCalendar> calendar = LoadCalendar(tx, req.calendar_id());
        if (!calendar.has_value()) return absl::NotFoundError("slot calendar not found");
        *out.mutable_calendar() = *calendar;
        const SlotGrid grid = GridOf(*calendar, zone_);
        const absl::Time from = absl::FromCivil(first, zone_);
        const absl::Time to = absl::FromCivil(first + days, zone_);
        std::map<absl::Time, std::vector<v1::SlotBooking>> booked;
        for (const pqxx::row& row :
             pg::ExecPrepared(tx, kBookings, req.calendar_id(), absl::ToUnixMicros(from), absl::ToUnixMicros(to))) {
          v1::SlotBooking b;
          b.set_interaction_id(row[0].c_str());
          b.set_client_id(row[2].c_str());
          b.set_client_name(row[3].c_str());
          b.set_responsible_id(row[4].c_str());
          b.set_online(row[5].as<bool>());
          b.set_label(BookingLabel(b.online(), b.client_name()));
          booked[absl::FromUnixMicros(row[1].as<int64_t>())].push_back(std::move(b));
        }
        for (absl::CivilDay day = first; day < first + days; ++day) {
          v1::SlotDay* d = out.add_days();
          d->set_day(absl::FormatCivilTime(day));
          for (absl::Time start : SlotStarts(grid, day)) {
            v1::Slot* s = d->add_slots();
            *s->mutable_start_time() = ToProtoTimestamp(start);
            s->set_label(SlotLabel(grid, start));
            s->set_capacity(grid.capacity);
            std::vector<std::string> labels;
            if (auto it = booked.find(start); it != booked.end()) {
              for (v1::SlotBooking& b : it->second) {
                labels.push_back(b.label());
                *s->add_bookings() = std::move(b);
              }
            }
            s->set_booked(s->bookings_size());
            s->set_text(SlotText(s->label(), s->booked(), s->capacity(), labels));
          }
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

}  // namespace crm::deals::interactions
