// File: services/dialogs/outreach/qr.cc
#include "services/dialogs/outreach/qr.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/call.h"
#include "services/dialogs/inbox/access.h"
#include "services/dialogs/inbox/sql.h"
#include "services/dialogs/outreach/qr_png.h"
#include "services/dialogs/outreach/sql.h"
#include "services/dialogs/outreach/templates.h"

namespace crm::dialogs::outreach {
namespace {

v1::QrCode QrOf(const pqxx::row& r) {
  v1::QrCode q;
  q.set_id(r[0].c_str());
  q.set_bot_id(r[1].c_str());
  q.set_bot_username(r[2].c_str());
  q.set_operator_id(r[3].c_str());
  q.set_project(r[4].c_str());
  q.set_payload(r[5].c_str());
  q.set_code(r[6].c_str());
  q.set_deep_link(absl::StrCat("https://t.me/", q.bot_username(), "?start=", q.payload()));
  *q.mutable_create_time() = FromMicros(r[7].as<int64_t>());
  return q;
}

absl::Status MaySee(const Principal& caller, const v1::QrCode& q) {
  if (q.operator_id() == inbox::CallerUserId(caller) || crm::rpc::HasPermission(caller, inbox::kSupervise) ||
      crm::rpc::HasPermission(caller, kAdmin)) {
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("QR code ", q.id(), " not found"));
}

}  // namespace

QrCodes::QrCodes(crm::pg::Pool& pool, const Clock& clock, std::string_view key_material)
    : pool_(pool), clock_(clock), signer_(key_material) {}

absl::StatusOr<v1::QrCode> QrCodes::Create(const Principal& caller, const v1::CreateQrCodeRequest& req,
                                           std::string_view idempotency_key) {
  const std::string me = inbox::CallerUserId(caller);
  const std::string op = req.operator_id().empty() ? me : req.operator_id();
  std::vector<FieldViolation> bad;
  if (!IsUuid(req.bot_id())) bad.push_back({"bot_id", "must be a bot id"});
  if (req.project().empty()) bad.push_back({"project", "required"});
  if (CodePoints(req.project()) > 200) bad.push_back({"project", "at most 200 characters"});
  if (!IsUuid(op)) bad.push_back({"operator_id", "must be a user id (default: the caller)"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, inbox::kOperate));
  if (op != me) CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, inbox::kSupervise));
  const crm::pg::IdempotencyScope scope{.caller = crm::rpc::IdempotencyCaller(caller),
                                        .method = "crm.dialogs.v1.QrCodeService/CreateQrCode",
                                        .key = std::string(idempotency_key)};
  v1::QrCode out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return crm::pg::RunIdempotent(tx, scope, clock_.Now(), req, out, [&]() -> absl::Status {
      pqxx::result bot = crm::pg::ExecPrepared(tx, sql::kBotExists, req.bot_id());
      if (bot.empty()) return InvalidFieldError("bot_id", "no such bot");
      if (std::string_view(bot[0][0].c_str()).empty()) {
        return absl::FailedPreconditionError(absl::StrCat("bot ", req.bot_id(), " has no username yet: no deep link"));
      }
      pqxx::result found = crm::pg::ExecPrepared(tx, sql::kQrOf, req.bot_id(), op, req.project());
      if (found.empty()) {
        const uint32_t ref = crm::pg::ExecPrepared1(tx, sql::kProjectRef, req.project())[0].as<uint32_t>();
        const std::string payload = signer_.Sign(req.bot_id(), op, ref);
        // A typed code unique on the bot: a collision (1 in 32^6 per code) draws again.
        for (int attempt = 0; attempt < 8; ++attempt) {
          if (!crm::pg::ExecPrepared(tx, sql::kInsertQr, NewUuidV7(), req.bot_id(), op, req.project(), payload,
                                     NewCode(), FormatRfc3339Utc(clock_.Now()))
                   .empty()) {
            break;
          }
        }
        found = crm::pg::ExecPrepared(tx, sql::kQrOf, req.bot_id(), op, req.project());
        if (found.empty()) return absl::AbortedError("the QR code could not be stored: try again");
      }
      out = QrOf(found[0]);
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<v1::QrCode> QrCodes::Get(const Principal& caller, std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "must be a QR code id");
  v1::QrCode out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    pqxx::result r = crm::pg::ExecPrepared(tx, sql::kQrById, std::string(id));
    if (r.empty()) return absl::NotFoundError(absl::StrCat("QR code ", AsAbsl(id), " not found"));
    out = QrOf(r[0]);
    return absl::OkStatus();
  }, {.read_only = true}));
  CRM_RETURN_IF_ERROR(MaySee(caller, out));
  return out;
}

absl::StatusOr<google::api::HttpBody> QrCodes::Image(const Principal& caller, std::string_view id) {
  CRM_ASSIGN_OR_RETURN(v1::QrCode q, Get(caller, id));
  CRM_ASSIGN_OR_RETURN(std::string png, QrPng(q.deep_link()));
  google::api::HttpBody out;
  out.set_content_type("image/png");
  out.set_data(std::move(png));
  return out;
}

absl::Status QrCodes::OnClientInput(pqxx::transaction_base& tx, const v1::Dialog& dialog, const v1::Input& input,
                                    absl::Time now) const {
  const bool start = input.kind() == v1::INPUT_KIND_START;
  if ((!start && input.kind() != v1::INPUT_KIND_TEXT) || input.text().empty()) return absl::OkStatus();
  pqxx::result code;
  std::string via;
  if (start && signer_.Verify(dialog.bot_id(), input.text())) {
    code = crm::pg::ExecPrepared(tx, sql::kQrByPayload, input.text(), dialog.bot_id());
    via = "payload";
  } else if (std::optional<std::string> typed = AsCode(input.text())) {
    code = crm::pg::ExecPrepared(tx, sql::kQrByCode, dialog.bot_id(), *typed);
    via = "code";
  }
  if (code.empty()) return absl::OkStatus();
  if (!crm::pg::ExecPrepared(tx, sql::kHasReferral, dialog.id()).empty()) return absl::OkStatus();  // once
  const v1::QrCode q = QrOf(code[0]);
  const std::string at = FormatRfc3339Utc(now);
  crm::pg::ExecPrepared(tx, sql::kInsertReferral, dialog.id(), q.id(), q.operator_id(), q.project(), via, at);
  crm::pg::ExecPrepared(tx, inbox::sql::kSetProject, dialog.id(), q.project(), at);
  return absl::OkStatus();
}

absl::StatusOr<std::string> PreferredOperator(pqxx::transaction_base& tx, std::string_view dialog_id) {
  pqxx::result r = crm::pg::ExecPrepared(tx, sql::kReferralOperator, std::string(dialog_id));
  return r.empty() ? std::string() : std::string(r[0][0].c_str());
}

}  // namespace crm::dialogs::outreach
