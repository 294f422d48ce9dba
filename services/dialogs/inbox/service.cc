// File: services/dialogs/inbox/service.cc
#include "services/dialogs/inbox/service.h"

#include <pqxx/pqxx>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
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
#include "services/dialogs/inbox/routing.h"
#include "services/dialogs/inbox/sql.h"
#include "services/dialogs/inbox/store.h"
#include "services/dialogs/telegram/outgoing.h"

namespace crm::dialogs::inbox {
namespace {

namespace tg = crm::dialogs::telegram;

constexpr size_t kMaxText = 4096;

// A list's statement, recorded for the plan test (libs/pg/statement_recorder.h).
pqxx::result Exec(pqxx::transaction_base& tx, const std::string& sql, const std::vector<std::string>& values) {
  crm::pg::RecordStatement(sql, values);
  return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(values));
}

absl::StatusOr<int> PageSize(int32_t size) {
  if (size < 0) return InvalidFieldError("page_size", "must not be negative");
  if (size == 0) return kDefaultPage;
  return std::min<int>(size, kMaxPage);
}

bool IsMe(std::string_view s) {
  return absl::EqualsIgnoreCase(AsAbsl(s), "me") || absl::EqualsIgnoreCase(AsAbsl(s), "mine");
}

std::vector<std::string> BotsOf(pqxx::transaction_base& tx, const std::string& user) {
  std::vector<std::string> out;
  if (!IsUuid(user)) return out;
  for (const auto& r : crm::pg::ExecPrepared(tx, sql::kBotsOfOperator, user)) out.emplace_back(r[0].c_str());
  return out;
}

bool Operates(pqxx::transaction_base& tx, const std::string& bot, const std::string& user) {
  return IsUuid(user) && !crm::pg::ExecPrepared(tx, sql::kIsBotOperator, bot, user).empty();
}

absl::Status NotFound(std::string_view id) {
  return absl::NotFoundError(absl::StrCat("dialog ", AsAbsl(id), " not found"));
}

// The dialog `id` as `caller` sees it, row-locked when `for_update`; NOT_FOUND when they may not see it.
absl::StatusOr<StoredDialog> Visible(pqxx::transaction_base& tx, const Principal& caller, std::string_view id,
                                     bool for_update) {
  CRM_ASSIGN_OR_RETURN(std::optional<StoredDialog> d, LoadDialog(tx, id, for_update));
  if (!d) return NotFound(id);
  if (!CanSee(caller, *d, Operates(tx, d->dialog.bot_id(), CallerUserId(caller)))) return NotFound(id);
  return *std::move(d);
}

// Answering or changing a dialog: dialogs.operate, and the dialog is the caller's unless they supervise.
absl::Status RequireHandler(const Principal& caller, const StoredDialog& d) {
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kOperate));
  if (d.dialog.responsible_id() == CallerUserId(caller) || crm::rpc::HasPermission(caller, kSupervise)) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("dialog ", d.dialog.number(), " is not yours: take it in work first (or ask a supervisor)"));
}

absl::Status CheckId(std::string_view field, std::string_view id) {
  if (id.empty()) return InvalidFieldError(field, "required");
  if (!IsUuid(id)) return InvalidFieldError(field, "must be a UUID");
  return absl::OkStatus();
}

absl::Status StaleOrGone(pqxx::transaction_base& tx, std::string_view id, int64_t version) {
  CRM_ASSIGN_OR_RETURN(std::optional<StoredDialog> d, LoadDialog(tx, id, false));
  if (!d) return NotFound(id);
  if (d->dialog.closed()) {
    return absl::FailedPreconditionError(absl::StrCat("dialog ", d->dialog.number(), " is closed"));
  }
  if (version != 0 && d->dialog.version() != version) {
    return absl::AbortedError(absl::StrCat("version mismatch: dialog ", d->dialog.number(), " is at version ",
                                           d->dialog.version(), ", not ", version));
  }
  return absl::FailedPreconditionError(absl::StrCat("dialog ", d->dialog.number(), " cannot change so"));
}

}  // namespace

Inbox::Inbox(crm::pg::Pool& pool, const Clock& clock, const crm::events::OutboxWriter& outbox,
             telegram::Outgoing& outgoing)
    : pool_(pool), clock_(clock), outbox_(outbox), outgoing_(outgoing) {}

absl::StatusOr<v1::ListDialogsResponse> Inbox::ListDialogs(const Principal& caller,
                                                          const v1::ListDialogsRequest& req) {
  std::vector<FieldViolation> bad;
  absl::StatusOr<int> size = PageSize(req.page_size());
  if (!size.ok()) bad.push_back({"page_size", "must not be negative"});
  int64_t after = 0;
  if (!req.page_token().empty() && (!absl::SimpleAtoi(req.page_token(), &after) || after <= 0)) {
    bad.push_back({"page_token", "not a token this list gave"});
  }
  if (!req.bot_id().empty() && !IsUuid(req.bot_id())) bad.push_back({"bot_id", "must be a UUID"});
  if (!req.client_id().empty() && !IsUuid(req.client_id())) bad.push_back({"client_id", "must be a UUID"});
  std::string responsible = req.responsible();
  if (IsMe(responsible)) responsible = CallerUserId(caller);
  if (!responsible.empty() && !IsUuid(responsible)) bad.push_back({"responsible", "must be a user id or \"me\""});
  if (!bad.empty()) return InvalidFieldsError(bad);
  if (ReadScopeOf(caller) == ReadScope::kNone) CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kReadOwn));

  v1::ListDialogsResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.Clear();
    const std::string me = CallerUserId(caller);
    SqlParams p;
    const std::vector<Branch> branches = VisibleBranches(caller, BotsOf(tx, me), p);
    // The filters name only columns dialog_teams shares with dialogs (access.h: BranchPage).
    std::string filters;
    if (req.open_only()) absl::StrAppend(&filters, " AND NOT d.closed");
    if (req.status() != v1::DIALOG_STATUS_UNSPECIFIED) {
      absl::StrAppend(&filters, " AND d.status = ", p.Add(StatusCode(req.status())));
    }
    if (!req.bot_id().empty()) absl::StrAppend(&filters, " AND d.bot_id = ", p.Add(req.bot_id()), "::uuid");
    if (!req.project().empty()) absl::StrAppend(&filters, " AND d.project = ", p.Add(req.project()));
    if (!req.topic().empty()) absl::StrAppend(&filters, " AND d.topic = ", p.Add(req.topic()));
    if (!responsible.empty()) absl::StrAppend(&filters, " AND d.responsible_id = ", p.Add(responsible), "::uuid");
    if (!req.client_id().empty()) absl::StrAppend(&filters, " AND d.client_id = ", p.Add(req.client_id()), "::uuid");
    if (after > 0) absl::StrAppend(&filters, " AND d.number < ", p.Add(absl::StrCat(after)), "::bigint");
    const std::string limit = p.Add(absl::StrCat(*size + 1));
    std::string sql;
    if (branches.empty()) {
      sql = absl::StrCat("SELECT " CRM_INBOX_DIALOG_COLUMNS CRM_INBOX_DIALOG_FROM "WHERE FALSE");
    } else if (branches[0].kind == Branch::Kind::kAll) {
      sql = absl::StrCat("SELECT " CRM_INBOX_DIALOG_COLUMNS CRM_INBOX_DIALOG_FROM "WHERE TRUE", filters,
                         " ORDER BY d.number DESC LIMIT ", limit, "::int");
    } else {
      // Each branch of the caller's scope in number order on its own index, a page each; their union's
      // newest page is the page (exact: a page of the union is within the branches' pages).
      std::string pages;
      for (const Branch& b : branches) {
        absl::StrAppend(&pages, pages.empty() ? "" : " UNION ", "(", BranchPage(b, filters, limit), ")");
      }
      sql = absl::StrCat("SELECT " CRM_INBOX_DIALOG_COLUMNS CRM_INBOX_DIALOG_FROM "WHERE d.number IN (", pages,
                         ") ORDER BY d.number DESC LIMIT ", limit, "::int");
    }
    pqxx::result rows = Exec(tx, sql, p.values());
    int n = 0;
    for (const auto& r : rows) {
      if (n++ == *size) break;
      *out.add_dialogs() = DialogOf(r).dialog;
    }
    if (static_cast<int>(rows.size()) > *size) {
      int64_t last = 0;
      (void)absl::SimpleAtoi(out.dialogs(out.dialogs_size() - 1).number(), &last);
      out.set_next_page_token(absl::StrCat(last));
    }
    if (IsUuid(me)) {
      out.set_unread_count(static_cast<int32_t>(crm::pg::ExecPrepared1(tx, sql::kUnreadOfUser, me)[0].as<int64_t>()));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Dialog> Inbox::GetDialog(const Principal& caller, std::string_view id) {
  CRM_RETURN_IF_ERROR(CheckId("id", id));
  if (ReadScopeOf(caller) == ReadScope::kNone) CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kReadOwn));
  v1::Dialog out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(StoredDialog d, Visible(tx, caller, id, false));
    out = d.dialog;
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ListMessagesResponse> Inbox::ListMessages(const Principal& caller,
                                                            const v1::ListMessagesRequest& req) {
  std::vector<FieldViolation> bad;
  if (req.dialog_id().empty() || !IsUuid(req.dialog_id())) bad.push_back({"dialog_id", "must be a dialog id"});
  absl::StatusOr<int> size = PageSize(req.page_size());
  if (!size.ok()) bad.push_back({"page_size", "must not be negative"});
  if (!req.page_token().empty() && !IsUuid(req.page_token())) {
    bad.push_back({"page_token", "not a token this list gave"});
  }
  if (!bad.empty()) return InvalidFieldsError(bad);
  if (ReadScopeOf(caller) == ReadScope::kNone) CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kReadOwn));
  v1::ListMessagesResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    out.Clear();
    CRM_RETURN_IF_ERROR(Visible(tx, caller, req.dialog_id(), false).status());
    pqxx::result rows = Exec(tx, sql::kListMessages, {req.dialog_id(), req.page_token(), absl::StrCat(*size + 1)});
    int n = 0;
    for (const auto& r : rows) {
      if (n++ == *size) break;
      *out.add_messages() = MessageOf(r);
    }
    if (static_cast<int>(rows.size()) > *size) out.set_next_page_token(out.messages(*size - 1).id());
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

absl::StatusOr<v1::Message> Inbox::SendMessage(const Principal& caller, const v1::SendMessageRequest& req,
                                               std::string_view idempotency_key) {
  std::vector<FieldViolation> bad;
  if (req.dialog_id().empty() || !IsUuid(req.dialog_id())) bad.push_back({"dialog_id", "must be a dialog id"});
  const bool file = !req.file_url().empty() || !req.file_id().empty();
  if (!req.file_url().empty() && !req.file_id().empty()) {
    bad.push_back({"file_id", "give a file by file_url or by file_id, not both"});
  }
  if (!req.file_url().empty() && !absl::StartsWith(req.file_url(), "https://") &&
      !absl::StartsWith(req.file_url(), "http://")) {
    bad.push_back({"file_url", "must be an http(s) URL"});
  }
  if (!file && req.text().empty()) bad.push_back({"text", "required (or a file)"});
  if (CodePoints(req.text()) > (file ? 1024 : kMaxText)) {
    bad.push_back({"text", file ? "a caption is at most 1024 characters" : "at most 4096 characters"});
  }
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kOperate));
  const crm::pg::IdempotencyScope scope{.caller = crm::rpc::IdempotencyCaller(caller),
                                        .method = "crm.dialogs.v1.DialogService/SendMessage",
                                        .key = std::string(idempotency_key)};
  v1::Message out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return crm::pg::RunIdempotent(tx, scope, clock_.Now(), req, out, [&]() -> absl::Status {
      CRM_ASSIGN_OR_RETURN(StoredDialog d, Visible(tx, caller, req.dialog_id(), true));
      CRM_RETURN_IF_ERROR(RequireHandler(caller, d));
      if (d.dialog.closed()) {
        return absl::FailedPreconditionError(absl::StrCat("dialog ", d.dialog.number(), " is closed"));
      }
      tg::OutgoingMessage m{.bot_id = d.dialog.bot_id(), .chat_id = d.dialog.chat_id()};
      m.text = req.text();
      NewMessage stored{.direction = v1::MESSAGE_DIRECTION_OUT,
                        .author = v1::MESSAGE_AUTHOR_OPERATOR,
                        .author_user_id = CallerUserId(caller),
                        .text = req.text()};
      if (file) {
        m.kind = tg::OutgoingMessage::Kind::kDocument;
        m.document = req.file_url().empty() ? req.file_id() : req.file_url();
        v1::MessageFile& f = stored.files.emplace_back();
        f.set_kind("document");
        f.set_file_id(req.file_id());
        f.set_url(req.file_url());
      }
      CRM_ASSIGN_OR_RETURN(stored.outgoing_id, outgoing_.Enqueue(tx, m));
      CRM_ASSIGN_OR_RETURN(out, RecordMessage(tx, outbox_, d.dialog, stored, caller, clock_.Now()));
      // T6/T8: the first reply after an assignment stops its answer timer and is measured.
      return OnOperatorReply(tx, d.dialog.id(), CallerUserId(caller), clock_.Now());
    });
  }));
  return out;
}

absl::StatusOr<v1::Dialog> Inbox::TakeDialog(const Principal& caller, std::string_view id) {
  CRM_RETURN_IF_ERROR(CheckId("id", id));
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kOperate));
  const std::string me = CallerUserId(caller);
  if (!IsUuid(me)) return absl::PermissionDeniedError("only a user takes a dialog in work");
  v1::Dialog out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    const absl::Time now = clock_.Now();
    // «Взять в работу»: the one conditional update — of two operators exactly one wins.
    pqxx::result won = crm::pg::ExecPrepared(tx, sql::kTake, std::string(id), me,
                                             crm::pg::ArrayLiteral(CallerTeams(caller)), FormatRfc3339Utc(now),
                                             crm::rpc::HasPermission(caller, kSupervise));
    CRM_ASSIGN_OR_RETURN(std::optional<StoredDialog> found, LoadDialog(tx, id, false));
    if (!found) return NotFound(id);
    const StoredDialog& d = *found;
    if (!won.empty()) {
      CRM_RETURN_IF_ERROR(UnparkIfReady(tx, d.dialog, now));
      CRM_RETURN_IF_ERROR(OnTaken(tx, d.dialog, me, now));  // T6: the TAKEN history row, the answer timer
      out = d.dialog;
      return absl::OkStatus();
    }
    if (d.dialog.responsible_id() == me && d.dialog.status() == v1::DIALOG_STATUS_IN_WORK) {
      out = d.dialog;  // the winner's repeat
      return absl::OkStatus();
    }
    // The loser of a race saw it in their queue: it is gone from there, and they are told so.
    const bool operates = Operates(tx, d.dialog.bot_id(), me);
    if ((operates || crm::rpc::HasPermission(caller, kSupervise)) && d.dialog.status() != v1::DIALOG_STATUS_QUEUED) {
      return absl::FailedPreconditionError(absl::StrCat("dialog ", d.dialog.number(), " is not in the queue (",
                                                        d.dialog.status_name(), "): someone took it"));
    }
    if (!CanSee(caller, d, operates)) return NotFound(id);
    return absl::FailedPreconditionError(
        absl::StrCat("dialog ", d.dialog.number(), " is in the queue of a bot you do not operate"));
  }));
  return out;
}

absl::StatusOr<v1::Dialog> Inbox::PickClient(const Principal& caller, const v1::PickClientRequest& req) {
  std::vector<FieldViolation> bad;
  if (req.id().empty() || !IsUuid(req.id())) bad.push_back({"id", "must be a dialog id"});
  if (req.client_id().empty() || !IsUuid(req.client_id())) bad.push_back({"client_id", "must be a client id"});
  if (req.version() < 0) bad.push_back({"version", "must not be negative"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  v1::Dialog out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    const absl::Time now = clock_.Now();
    CRM_ASSIGN_OR_RETURN(StoredDialog d, Visible(tx, caller, req.id(), true));
    CRM_RETURN_IF_ERROR(RequireHandler(caller, d));
    if (req.version() != 0 && req.version() != d.dialog.version()) return StaleOrGone(tx, req.id(), req.version());
    if (crm::pg::ExecPrepared(tx, sql::kPick, req.id(), req.client_id(), req.version(), FormatRfc3339Utc(now))
            .empty()) {
      return InvalidFieldError("client_id", absl::StrCat("not one of dialog ", d.dialog.number(), "'s candidates"));
    }
    CRM_ASSIGN_OR_RETURN(d, Visible(tx, caller, req.id(), false));
    CRM_RETURN_IF_ERROR(UnparkIfReady(tx, d.dialog, now));
    out = d.dialog;
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Dialog> Inbox::SetDialogStatus(const Principal& caller, const v1::SetDialogStatusRequest& req) {
  std::vector<FieldViolation> bad;
  if (req.id().empty() || !IsUuid(req.id())) bad.push_back({"id", "must be a dialog id"});
  if (req.status() != v1::DIALOG_STATUS_PROCESSED && req.status() != v1::DIALOG_STATUS_CLOSED) {
    bad.push_back({"status", "must be PROCESSED or CLOSED"});
  }
  if (req.version() < 0) bad.push_back({"version", "must not be negative"});
  if (!bad.empty()) return InvalidFieldsError(bad);
  v1::Dialog out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(StoredDialog d, Visible(tx, caller, req.id(), true));
    CRM_RETURN_IF_ERROR(RequireHandler(caller, d));
    if (crm::pg::ExecPrepared(tx, sql::kSetStatus, req.id(), StatusCode(req.status()), req.version(),
                              FormatRfc3339Utc(clock_.Now()))
            .empty()) {
      return StaleOrGone(tx, req.id(), req.version());
    }
    CRM_ASSIGN_OR_RETURN(std::optional<StoredDialog> fresh, LoadDialog(tx, req.id(), false));
    // T6: its operator has capacity again — the bot's queue is offered.
    if (d.dialog.status() == v1::DIALOG_STATUS_IN_WORK) CRM_RETURN_IF_ERROR(OnDone(tx, d.dialog, clock_.Now()));
    out = fresh->dialog;
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Dialog> Inbox::MarkRead(const Principal& caller, std::string_view id) {
  CRM_RETURN_IF_ERROR(CheckId("id", id));
  v1::Dialog out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(StoredDialog d, Visible(tx, caller, id, false));
    // Only the responsible's reading counts: the unread count is theirs.
    if (!d.dialog.responsible_id().empty() && d.dialog.responsible_id() == CallerUserId(caller)) {
      crm::pg::ExecPrepared(tx, sql::kMarkRead, std::string(id));
      d.dialog.set_unread_count(0);
    }
    out = d.dialog;
    return absl::OkStatus();
  }));
  return out;
}

grpc::Status DialogServiceImpl::ListDialogs(grpc::ServerContext* ctx, const v1::ListDialogsRequest* req,
                                            v1::ListDialogsResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return inbox_.ListDialogs(caller, *req); });
}
grpc::Status DialogServiceImpl::GetDialog(grpc::ServerContext* ctx, const v1::GetDialogRequest* req,
                                          v1::Dialog* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return inbox_.GetDialog(caller, req->id()); });
}
grpc::Status DialogServiceImpl::ListMessages(grpc::ServerContext* ctx, const v1::ListMessagesRequest* req,
                                             v1::ListMessagesResponse* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return inbox_.ListMessages(caller, *req); });
}
grpc::Status DialogServiceImpl::SendMessage(grpc::ServerContext* ctx, const v1::SendMessageRequest* req,
                                            v1::Message* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) {
    return inbox_.SendMessage(caller, *req, crm::rpc::IdempotencyKey(*ctx));
  });
}
grpc::Status DialogServiceImpl::TakeDialog(grpc::ServerContext* ctx, const v1::TakeDialogRequest* req,
                                           v1::Dialog* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return inbox_.TakeDialog(caller, req->id()); });
}
grpc::Status DialogServiceImpl::PickClient(grpc::ServerContext* ctx, const v1::PickClientRequest* req,
                                           v1::Dialog* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return inbox_.PickClient(caller, *req); });
}
grpc::Status DialogServiceImpl::SetDialogStatus(grpc::ServerContext* ctx, const v1::SetDialogStatusRequest* req,
                                                v1::Dialog* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return inbox_.SetDialogStatus(caller, *req); });
}
grpc::Status DialogServiceImpl::MarkRead(grpc::ServerContext* ctx, const v1::MarkReadRequest* req,
                                         v1::Dialog* out) {
  return crm::rpc::Serve(*ctx, out, [&](const Principal& caller) { return inbox_.MarkRead(caller, req->id()); });
}

}  // namespace crm::dialogs::inbox
