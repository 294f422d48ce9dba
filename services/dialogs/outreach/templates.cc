// File: services/dialogs/outreach/templates.cc
#include "services/dialogs/outreach/templates.h"

#include <pqxx/pqxx>

#include <optional>

#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
#include "libs/pg/statement_recorder.h"
#include "libs/rpc/call.h"
#include "services/dialogs/inbox/access.h"
#include "services/dialogs/outreach/render.h"
#include "services/dialogs/outreach/sql.h"

namespace crm::dialogs::outreach {
namespace {

// A template's stored body: what the row's columns do not hold.
std::string BodyOf(const v1::Template& t) {
  v1::Template body;
  body.set_text(t.text());
  *body.mutable_parameters() = t.parameters();
  *body.mutable_inline_keyboard() = t.inline_keyboard();
  *body.mutable_reply_keyboard() = t.reply_keyboard();
  return body.SerializeAsString();
}

v1::Template TemplateOf(const pqxx::row& r) {
  v1::Template t;
  const pqxx::binarystring body(r[3]);
  (void)t.ParseFromArray(body.data(), static_cast<int>(body.size()));
  t.set_id(r[0].c_str());
  t.set_bot_id(r[1].c_str());
  t.set_name(r[2].c_str());
  t.set_version(r[4].as<int64_t>());
  *t.mutable_create_time() = FromMicros(r[5].as<int64_t>());
  *t.mutable_update_time() = FromMicros(r[6].as<int64_t>());
  return t;
}

// Reading templates: whoever reads or operates dialogs, or administers them.
absl::Status RequireReader(const Principal& caller) {
  if (inbox::ReadScopeOf(caller) != inbox::ReadScope::kNone || crm::rpc::HasPermission(caller, inbox::kOperate) ||
      crm::rpc::HasPermission(caller, kAdmin)) {
    return absl::OkStatus();
  }
  return crm::rpc::RequirePermission(caller, inbox::kReadOwn);
}

// Editing templates: the administrator, and the Telegram supervisor (seed 004 §2.1: «Редактирование
// Шаблонов ответов Telegram»).
absl::Status RequireEditor(const Principal& caller) {
  if (crm::rpc::HasPermission(caller, inbox::kSupervise)) return absl::OkStatus();
  return crm::rpc::RequirePermission(caller, kAdmin);
}

std::vector<std::string> Params(const google::protobuf::RepeatedPtrField<std::string>& p) {
  return {p.begin(), p.end()};
}

absl::Status NameTaken(std::string_view bot, std::string_view name) {
  return WithFieldViolations(
      absl::AlreadyExistsError(absl::StrCat("bot ", AsAbsl(bot), " already has a template named ", AsAbsl(name))),
      {{"template.name", "taken on this bot"}});
}

}  // namespace

absl::StatusOr<v1::Template> LoadTemplate(pqxx::transaction_base& tx, std::string_view id) {
  pqxx::result r = crm::pg::ExecPrepared(tx, sql::kTemplateById, std::string(id));
  if (r.empty()) return absl::NotFoundError(absl::StrCat("template ", AsAbsl(id), " not found"));
  return TemplateOf(r[0]);
}

Templates::Templates(crm::pg::Pool& pool, const Clock& clock, const crm::events::OutboxWriter& outbox,
                     telegram::Outgoing& outgoing)
    : pool_(pool), clock_(clock), outbox_(outbox), outgoing_(outgoing) {}

absl::StatusOr<v1::Template> Templates::Create(const Principal& caller, const v1::CreateTemplateRequest& req,
                                               std::string_view idempotency_key) {
  std::vector<FieldViolation> bad = ValidateTemplate(req.template_(), "template.");
  if (!IsUuid(req.template_().bot_id())) bad.insert(bad.begin(), {"template.bot_id", "must be a bot id"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(RequireEditor(caller));
  const crm::pg::IdempotencyScope scope{.caller = crm::rpc::IdempotencyCaller(caller),
                                        .method = "crm.dialogs.v1.TemplateService/CreateTemplate",
                                        .key = std::string(idempotency_key)};
  v1::Template out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return crm::pg::RunIdempotent(tx, scope, clock_.Now(), req, out, [&]() -> absl::Status {
      const v1::Template& t = req.template_();
      if (crm::pg::ExecPrepared(tx, sql::kBotExists, t.bot_id()).empty()) {
        return InvalidFieldError("template.bot_id", "no such bot");
      }
      const std::string id = NewUuidV7();
      if (crm::pg::ExecPrepared(tx, sql::kInsertTemplate, id, t.bot_id(), t.name(), pqxx::binarystring(BodyOf(t)),
                                FormatRfc3339Utc(clock_.Now()))
              .empty()) {
        return NameTaken(t.bot_id(), t.name());
      }
      CRM_ASSIGN_OR_RETURN(out, LoadTemplate(tx, id));
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<v1::Template> Templates::Get(const Principal& caller, std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "must be a template id");
  CRM_RETURN_IF_ERROR(RequireReader(caller));
  v1::Template out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(out, LoadTemplate(tx, id));
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ListTemplatesResponse> Templates::List(const Principal& caller,
                                                         const v1::ListTemplatesRequest& req) {
  std::vector<FieldViolation> bad;
  if (!IsUuid(req.bot_id())) bad.push_back({"bot_id", "required: a bot id"});
  bool bad_size = false;
  const int size = PageSizeOr(req.page_size(), &bad_size);
  if (bad_size) bad.push_back({"page_size", "must not be negative"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(RequireReader(caller));
  v1::ListTemplatesResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    out.Clear();
    const std::vector<std::string> values = {req.bot_id(), req.page_token(), absl::StrCat(size + 1)};
    crm::pg::RecordStatement(sql::kListTemplates, values);
    pqxx::result rows = crm::pg::ExecPrepared(tx, sql::kListTemplates, values[0], values[1], size + 1);
    for (const auto& r : rows) {
      if (out.templates_size() == size) {
        out.set_next_page_token(out.templates(size - 1).name());
        break;
      }
      *out.add_templates() = TemplateOf(r);
    }
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

absl::StatusOr<v1::Template> Templates::Update(const Principal& caller, const v1::UpdateTemplateRequest& req) {
  std::vector<FieldViolation> bad = ValidateTemplate(req.template_(), "template.");
  if (!IsUuid(req.template_().id())) bad.insert(bad.begin(), {"template.id", "must be a template id"});
  if (req.template_().version() < 0) bad.push_back({"template.version", "must not be negative"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(RequireEditor(caller));
  v1::Template out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    const v1::Template& t = req.template_();
    CRM_ASSIGN_OR_RETURN(v1::Template current, LoadTemplate(tx, t.id()));
    if (!t.bot_id().empty() && t.bot_id() != current.bot_id()) {
      return InvalidFieldError("template.bot_id", "a template stays with its bot");
    }
    if (!crm::pg::ExecPrepared(tx, sql::kTemplateNameTaken, current.bot_id(), t.name(), t.id()).empty()) {
      return NameTaken(current.bot_id(), t.name());
    }
    if (crm::pg::ExecPrepared(tx, sql::kUpdateTemplate, t.id(), t.name(), pqxx::binarystring(BodyOf(t)),
                              FormatRfc3339Utc(clock_.Now()), t.version())
            .empty()) {
      return absl::AbortedError(absl::StrCat("version mismatch: template ", t.id(), " is at version ",
                                             current.version(), ", not ", t.version()));
    }
    CRM_ASSIGN_OR_RETURN(out, LoadTemplate(tx, t.id()));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status Templates::Delete(const Principal& caller, const v1::DeleteTemplateRequest& req) {
  std::vector<FieldViolation> bad;
  if (!IsUuid(req.id())) bad.push_back({"id", "must be a template id"});
  if (req.version() < 0) bad.push_back({"version", "must not be negative"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(RequireEditor(caller));
  return crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(v1::Template current, LoadTemplate(tx, req.id()));
    if (crm::pg::ExecPrepared(tx, sql::kDeleteTemplate, req.id(), req.version(), FormatRfc3339Utc(clock_.Now()))
            .empty()) {
      return absl::AbortedError(absl::StrCat("version mismatch: template ", req.id(), " is at version ",
                                             current.version(), ", not ", req.version()));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::RenderedTemplate> Templates::RenderFor(const Principal& caller,
                                                         const v1::RenderTemplateRequest& req) {
  if (!IsUuid(req.id())) return InvalidFieldError("id", "must be a template id");
  CRM_RETURN_IF_ERROR(RequireReader(caller));
  v1::Template t;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(t, LoadTemplate(tx, req.id()));
    return absl::OkStatus();
  }, {.read_only = true}));
  return Render(t, req.project(), Params(req.parameters()));
}

absl::StatusOr<v1::Message> Templates::SendTemplate(const Principal& caller, const v1::SendTemplateRequest& req,
                                                    std::string_view idempotency_key) {
  std::vector<FieldViolation> bad;
  if (!IsUuid(req.dialog_id())) bad.push_back({"dialog_id", "must be a dialog id"});
  if (!IsUuid(req.template_id())) bad.push_back({"template_id", "must be a template id"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, inbox::kOperate));
  const crm::pg::IdempotencyScope scope{.caller = crm::rpc::IdempotencyCaller(caller),
                                        .method = "crm.dialogs.v1.TemplateService/SendTemplate",
                                        .key = std::string(idempotency_key)};
  v1::Message out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return crm::pg::RunIdempotent(tx, scope, clock_.Now(), req, out, [&]() -> absl::Status {
      CRM_ASSIGN_OR_RETURN(inbox::StoredDialog d, AnswerableDialog(tx, caller, req.dialog_id()));
      absl::StatusOr<v1::Template> t = LoadTemplate(tx, req.template_id());
      if (!t.ok() || t->bot_id() != d.dialog.bot_id()) {
        return InvalidFieldError("template_id", absl::StrCat("not a template of the dialog's bot ", d.dialog.bot_id()));
      }
      CRM_ASSIGN_OR_RETURN(v1::RenderedTemplate r, Render(*t, d.dialog.project(), Params(req.parameters())));
      inbox::NewMessage stored{.direction = v1::MESSAGE_DIRECTION_OUT,
                               .author = v1::MESSAGE_AUTHOR_OPERATOR,
                               .author_user_id = inbox::CallerUserId(caller),
                               .text = r.text()};
      CRM_ASSIGN_OR_RETURN(stored.outgoing_id, outgoing_.Enqueue(tx, ToOutgoing(d.dialog.bot_id(), d.dialog.chat_id(), r)));
      CRM_ASSIGN_OR_RETURN(out, inbox::RecordMessage(tx, outbox_, d.dialog, stored, caller, clock_.Now()));
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<v1::StartDialogResponse> Templates::StartDialog(const Principal& caller,
                                                              const v1::StartDialogRequest& req,
                                                              std::string_view idempotency_key) {
  std::vector<FieldViolation> bad;
  if (!IsUuid(req.bot_id())) bad.push_back({"bot_id", "must be a bot id"});
  if (!IsUuid(req.client_id())) bad.push_back({"client_id", "must be a client id of deals"});
  if (!IsUuid(req.template_id())) bad.push_back({"template_id", "must be a template id"});
  if (CodePoints(req.project()) > 200) bad.push_back({"project", "at most 200 characters"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, inbox::kOperate));
  const std::string me = inbox::CallerUserId(caller);
  if (!IsUuid(me)) return absl::PermissionDeniedError("only a user starts a dialog");
  const bool supervises = crm::rpc::HasPermission(caller, inbox::kSupervise);
  const crm::pg::IdempotencyScope scope{.caller = crm::rpc::IdempotencyCaller(caller),
                                        .method = "crm.dialogs.v1.TemplateService/StartDialog",
                                        .key = std::string(idempotency_key)};
  v1::StartDialogResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return crm::pg::RunIdempotent(tx, scope, clock_.Now(), req, out, [&]() -> absl::Status {
      const absl::Time now = clock_.Now();
      absl::StatusOr<v1::Template> t = LoadTemplate(tx, req.template_id());
      if (!t.ok() || t->bot_id() != req.bot_id()) {
        return InvalidFieldError("template_id", absl::StrCat("not a template of bot ", req.bot_id()));
      }
      if (!supervises && !Operates(tx, req.bot_id(), me)) {
        return absl::PermissionDeniedError(absl::StrCat("you do not operate bot ", req.bot_id()));
      }
      pqxx::result chat = crm::pg::ExecPrepared(tx, sql::kClientChatOnBot, req.client_id(), req.bot_id());
      if (chat.empty()) {
        return WithFieldViolations(
            absl::FailedPreconditionError(absl::StrCat("client_id: client ", req.client_id(),
                                                       " has no Telegram chat with bot ", req.bot_id(),
                                                       " (a client writes to the bot first)")),
            {{"client_id", "no Telegram chat with this bot"}});
      }
      bool opened = false;
      CRM_ASSIGN_OR_RETURN(inbox::StoredDialog d,
                           inbox::OpenDialog(tx,
                                             {.bot_id = req.bot_id(),
                                              .chat_id = chat[0][0].as<int64_t>(),
                                              .private_chat = chat[0][1].as<bool>(),
                                              .tg_user_id = chat[0][2].as<int64_t>(),
                                              .client_display = chat[0][4].c_str()},
                                             now, &opened));
      const std::string project = !req.project().empty() ? req.project() : std::string(chat[0][3].c_str());
      if (crm::pg::ExecPrepared(tx, sql::kStartOutbound, d.dialog.id(), me,
                                crm::pg::ArrayLiteral(inbox::CallerTeams(caller)), FormatRfc3339Utc(now),
                                req.client_id(), project, supervises)
              .empty()) {
        return absl::FailedPreconditionError(absl::StrCat("dialog ", d.dialog.number(),
                                                          " of this chat is in work with another operator"));
      }
      CRM_ASSIGN_OR_RETURN(std::optional<inbox::StoredDialog> fresh, inbox::LoadDialog(tx, d.dialog.id(), true));
      CRM_RETURN_IF_ERROR(inbox::UnparkIfReady(tx, fresh->dialog, now));
      CRM_ASSIGN_OR_RETURN(v1::RenderedTemplate r, Render(*t, fresh->dialog.project(), Params(req.parameters())));
      inbox::NewMessage stored{.direction = v1::MESSAGE_DIRECTION_OUT,
                               .author = v1::MESSAGE_AUTHOR_OPERATOR,
                               .author_user_id = me,
                               .text = r.text()};
      CRM_ASSIGN_OR_RETURN(stored.outgoing_id,
                           outgoing_.Enqueue(tx, ToOutgoing(req.bot_id(), fresh->dialog.chat_id(), r)));
      CRM_ASSIGN_OR_RETURN(*out.mutable_message(),
                           inbox::RecordMessage(tx, outbox_, fresh->dialog, stored, caller, now));
      CRM_ASSIGN_OR_RETURN(std::optional<inbox::StoredDialog> sent, inbox::LoadDialog(tx, d.dialog.id(), false));
      *out.mutable_dialog() = sent->dialog;
      return absl::OkStatus();
    });
  }));
  return out;
}

}  // namespace crm::dialogs::outreach
