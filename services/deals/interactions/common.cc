// File: services/deals/interactions/common.cc
#include "services/deals/interactions/common.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "services/deals/sql.h"

namespace crm::deals::interactions {

int PageSizeOr(int requested, std::vector<FieldViolation>& bad, std::string_view field) {
  absl::StatusOr<int> size = PageSize(field, requested, kDefaultPageSize, kMaxPageSize);
  if (size.ok()) return *size;
  for (FieldViolation& v : FieldViolations(size.status())) bad.push_back(std::move(v));
  return kDefaultPageSize;
}

std::string ResponsibleFilter(const crm::common::v1::Principal& caller, const std::string& value, std::string_view field,
                              std::vector<FieldViolation>& bad) {
  if (value.empty()) return "";
  if (value == "me") {
    std::string me = ActingUserId(caller);
    if (me.empty()) bad.push_back({.field = std::string(field), .description = "\"me\" needs a user caller"});
    return me;
  }
  if (!IsUuid(value)) {
    bad.push_back({.field = std::string(field), .description = "not a UUID or \"me\""});
    return "";
  }
  return value;
}

void CheckUuid(std::string_view id, std::string_view field, bool required, std::vector<FieldViolation>& bad) {
  if (id.empty()) {
    if (required) bad.push_back({.field = std::string(field), .description = "required"});
    return;
  }
  if (!IsUuid(id)) bad.push_back({.field = std::string(field), .description = "not a UUID"});
}

bool ValidTime(const google::protobuf::Timestamp& ts) {
  return ts.seconds() >= 0 && ts.seconds() <= 253402300799 && ts.nanos() >= 0 && ts.nanos() < 1'000'000'000;
}

absl::Status CheckVersion(int64_t given, int64_t stored) {
  if (given != 0 && given != stored) return absl::AbortedError("version mismatch");
  return absl::OkStatus();
}

absl::Status Emit(pqxx::transaction_base& tx, const events::OutboxWriter& outbox, const Actor& actor,
                  std::string_view aggregate, const std::string& id, std::string_view type,
                  const google::protobuf::Message& payload, const Owner& owner, const Owner* previous) {
  std::vector<std::string> users{owner.responsible_id};
  std::set<std::string> teams(owner.team_ids.begin(), owner.team_ids.end());
  if (previous != nullptr && previous->responsible_id != owner.responsible_id) {
    users.push_back(previous->responsible_id);
    teams.insert(previous->team_ids.begin(), previous->team_ids.end());
  }
  return outbox
      .Append(tx, {.aggregate_type = std::string(aggregate),
                   .aggregate_id = id,
                   .type = std::string(type),
                   .payload = &payload,
                   .actor = actor.principal,
                   .request_id = actor.request_id,
                   .visible_to_user_ids = std::move(users),
                   .visible_to_team_ids = std::vector<std::string>(teams.begin(), teams.end()),
                   .automation_depth = actor.automation_depth,
                   .skip_automation = actor.skip_automation})
      .status();
}

}  // namespace crm::deals::interactions
