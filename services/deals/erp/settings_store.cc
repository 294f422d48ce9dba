// File: services/deals/erp/settings_store.cc
#include "services/deals/erp/settings_store.h"

#include <pqxx/pqxx>
#include <set>

#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/mail/mail.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
#include "libs/rpc/call.h"
#include "services/deals/erp/common.h"
#include "services/deals/sql.h"

namespace crm::deals::erp {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;

namespace {

constexpr char kSelectSettings[] =
    "SELECT array_to_json(accountant_emails)::text, mail_from, version, "
    "(extract(epoch FROM update_time) * 1000000)::bigint FROM erp_settings WHERE id = 1";
constexpr char kSelectDirections[] =
    "SELECT e.pipeline_id::text, p.name, e.proposals_from_erp, e.tasks_mirrored FROM erp_directions e "
    "JOIN pipelines p ON p.id = e.pipeline_id ORDER BY p.sort, p.name, e.pipeline_id";
constexpr char kLockSettings[] = "SELECT version FROM erp_settings WHERE id = 1 FOR UPDATE";
constexpr char kUpdateSettings[] =
    "UPDATE erp_settings SET accountant_emails = $1::text[], mail_from = $2, version = version + 1, "
    "update_time = $3::timestamptz WHERE id = 1";
constexpr char kDeleteDirections[] = "DELETE FROM erp_directions";
constexpr char kInsertDirection[] =
    "INSERT INTO erp_directions (pipeline_id, proposals_from_erp, tasks_mirrored) VALUES ($1::uuid, $2, $3)";
constexpr char kPipelinesExist[] = "SELECT id::text FROM pipelines WHERE id = ANY($1::uuid[])";

// Whether `address` is one mailbox libs/mail accepts ("a@b" or "Name <a@b>").
bool ValidAddress(const std::string& address) {
  return mail::ValidateMessage({.from = address, .to = {address}, .subject = "-", .text = "-",
                                .message_id = "check@deals.crm"})
      .ok();
}

bool CanRead(const Principal& caller) {
  return ReadScope(caller) != Scope::kNone || rpc::HasPermission(caller, kErpManagePermission) ||
         rpc::HasPermission(caller, kErpSyncPermission);
}

}  // namespace

v1::ErpSettings LoadSettings(pqxx::transaction_base& tx) {
  v1::ErpSettings s;
  pqxx::row r = pg::ExecPrepared1(tx, kSelectSettings);
  for (const std::string& e : JsonStrings(r[0].c_str())) s.add_accountant_emails(e);
  s.set_mail_from(r[1].c_str());
  s.set_version(r[2].as<int64_t>());
  *s.mutable_update_time() = TsFromMicros(r[3].as<int64_t>());
  for (const pqxx::row& d : pg::ExecPrepared(tx, kSelectDirections)) {
    v1::ErpSettings::Direction* out = s.add_directions();
    out->set_pipeline_id(d[0].c_str());
    out->set_pipeline_name(d[1].c_str());
    out->set_proposals_from_erp(d[2].as<bool>());
    out->set_tasks_mirrored(d[3].as<bool>());
  }
  return s;
}

absl::StatusOr<v1::ErpSettings> SettingsStore::Get(const Principal& caller) {
  if (!CanRead(caller)) return absl::PermissionDeniedError("missing permission deals.read.own");
  v1::ErpSettings out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    out = LoadSettings(tx);
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ErpSettings> SettingsStore::Update(const Actor& actor, const v1::ErpSettings& in) {
  CRM_RETURN_IF_ERROR(rpc::RequirePermission(actor.principal, kErpManagePermission));
  Violations v;
  std::set<std::string> seen;
  std::vector<std::string> pipelines;
  for (int i = 0; i < in.directions_size(); ++i) {
    const std::string& id = in.directions(i).pipeline_id();
    const std::string field = absl::StrCat("settings.directions[", i, "].pipeline_id");
    if (!IsUuid(id)) {
      v.Add(field, id.empty() ? "required" : "not a UUID");
    } else if (!seen.insert(id).second) {
      v.Add(field, "repeated");
    } else {
      pipelines.push_back(id);
    }
  }
  if (in.accountant_emails_size() > kMaxAccountantEmails) {
    v.Add("settings.accountant_emails", absl::StrCat("at most ", kMaxAccountantEmails, " addresses"));
  }
  for (int i = 0; i < in.accountant_emails_size(); ++i) {
    if (!ValidAddress(in.accountant_emails(i))) {
      v.Add(absl::StrCat("settings.accountant_emails[", i, "]"), "not an e-mail address");
    }
  }
  if (!in.mail_from().empty() && !ValidAddress(in.mail_from())) v.Add("settings.mail_from", "not an e-mail address");
  v1::ErpSettings out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    Violations all = v;
    std::set<std::string> found;
    for (const pqxx::row& r : pg::ExecPrepared(tx, kPipelinesExist, pg::ArrayLiteral(pipelines))) {
      found.insert(r[0].c_str());
    }
    for (int i = 0; i < in.directions_size(); ++i) {
      const std::string& id = in.directions(i).pipeline_id();
      if (IsUuid(id) && !found.contains(id)) {
        all.Add(absl::StrCat("settings.directions[", i, "].pipeline_id"), "no such pipeline");
      }
    }
    CRM_RETURN_IF_ERROR(all.Status());
    const int64_t stored = pg::ExecPrepared1(tx, kLockSettings)[0].as<int64_t>();
    if (in.version() != 0 && in.version() != stored) {
      return absl::AbortedError(absl::StrCat("version mismatch: the settings are at version ", stored));
    }
    std::vector<std::string> emails(in.accountant_emails().begin(), in.accountant_emails().end());
    pg::ExecPrepared(tx, kUpdateSettings, pg::ArrayLiteral(emails), in.mail_from(),
                     FormatRfc3339Utc(clock_.Now()));
    pg::ExecPrepared(tx, kDeleteDirections);
    for (const v1::ErpSettings::Direction& d : in.directions()) {
      pg::ExecPrepared(tx, kInsertDirection, d.pipeline_id(), d.proposals_from_erp(), d.tasks_mirrored());
    }
    out = LoadSettings(tx);
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace crm::deals::erp
