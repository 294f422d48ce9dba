// File: services/dialogs/outreach/mailings.cc
#include "services/dialogs/outreach/mailings.h"

#include <pqxx/pqxx>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/events/outbox.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
#include "libs/pg/statement_recorder.h"
#include "libs/rpc/call.h"
#include "libs/rpc/client.h"
#include "proto/crm/dialogs/v1/mailing_event_types.h"
#include "services/dialogs/inbox/access.h"
#include "services/dialogs/outreach/render.h"
#include "services/dialogs/outreach/sql.h"
#include "services/dialogs/outreach/templates.h"

namespace crm::dialogs::outreach {
namespace {

v1::MailingState MailingStateOf(std::string_view s) {
  return s == "DONE" ? v1::MAILING_STATE_DONE : s == "CANCELLED" ? v1::MAILING_STATE_CANCELLED : v1::MAILING_STATE_RUNNING;
}

const char* RecipientCode(v1::RecipientState s) {
  switch (s) {
    case v1::RECIPIENT_STATE_PENDING: return "PENDING";
    case v1::RECIPIENT_STATE_QUEUED: return "QUEUED";
    case v1::RECIPIENT_STATE_SENT: return "SENT";
    case v1::RECIPIENT_STATE_FAILED: return "FAILED";
    case v1::RECIPIENT_STATE_NO_CHAT: return "NO_CHAT";
    case v1::RECIPIENT_STATE_CANCELLED: return "CANCELLED";
    default: return "";
  }
}

v1::RecipientState RecipientStateOf(std::string_view s) {
  for (v1::RecipientState st : {v1::RECIPIENT_STATE_PENDING, v1::RECIPIENT_STATE_QUEUED, v1::RECIPIENT_STATE_SENT,
                                v1::RECIPIENT_STATE_FAILED, v1::RECIPIENT_STATE_NO_CHAT,
                                v1::RECIPIENT_STATE_CANCELLED}) {
    if (s == RecipientCode(st)) return st;
  }
  return v1::RECIPIENT_STATE_UNSPECIFIED;
}

v1::Mailing MailingOf(const pqxx::row& r) {
  v1::Mailing m;
  m.set_id(r[0].c_str());
  m.set_bot_id(r[1].c_str());
  m.set_template_id(r[2].c_str());
  m.set_template_name(r[3].c_str());
  m.set_name(r[4].c_str());
  if (r[17].as<int64_t>() > 0) {
    for (absl::string_view p : absl::StrSplit(r[5].c_str(), '\x1f')) m.add_parameters(std::string(p));
  }
  m.set_state(MailingStateOf(r[6].c_str()));
  v1::MailingProgress* p = m.mutable_progress();
  p->set_total(r[7].as<int64_t>());
  p->set_pending(r[8].as<int64_t>());
  p->set_queued(r[9].as<int64_t>());
  p->set_sent(r[10].as<int64_t>());
  p->set_failed(r[11].as<int64_t>());
  p->set_no_chat(r[12].as<int64_t>());
  p->set_cancelled(r[13].as<int64_t>());
  m.set_created_by(r[14].c_str());
  *m.mutable_create_time() = FromMicros(r[15].as<int64_t>());
  *m.mutable_update_time() = FromMicros(r[16].as<int64_t>());
  return m;
}

absl::StatusOr<v1::Mailing> LoadMailing(pqxx::transaction_base& tx, std::string_view id, bool for_update) {
  pqxx::result r = crm::pg::ExecPrepared(tx, for_update ? sql::kMailingForUpdate : sql::kMailingById, std::string(id));
  if (r.empty()) return absl::NotFoundError(absl::StrCat("mailing ", AsAbsl(id), " not found"));
  return MailingOf(r[0]);
}

absl::Status RequireMailer(const Principal& caller) {
  return crm::rpc::RequirePermission(caller, inbox::kSupervise);
}

const Principal& Dialogs() {
  static const Principal* p = new Principal(crm::rpc::ServicePrincipal("dialogs"));
  return *p;
}

}  // namespace

Mailings::Mailings(crm::pg::Pool& pool, const Clock& clock, const crm::events::OutboxWriter& outbox,
                   telegram::Outgoing& outgoing, MailingOptions options)
    : pool_(pool), clock_(clock), outbox_(outbox), outgoing_(outgoing), options_(options) {}

absl::Status Mailings::Publish(pqxx::transaction_base& tx, const std::string& id, const char* type,
                               const Principal& actor) const {
  v1::MailingChanged e;
  CRM_ASSIGN_OR_RETURN(*e.mutable_mailing(), LoadMailing(tx, id, false));
  return outbox_
      .Append(tx, {.aggregate_type = v1::kMailingAggregate, .aggregate_id = id, .type = type, .payload = &e,
                   .actor = actor})
      .status();
}

absl::StatusOr<v1::Mailing> Mailings::Create(const Principal& caller, const v1::CreateMailingRequest& req,
                                             std::string_view idempotency_key) {
  std::vector<FieldViolation> bad;
  if (!IsUuid(req.bot_id())) bad.push_back({"bot_id", "must be a bot id"});
  if (!IsUuid(req.template_id())) bad.push_back({"template_id", "must be a template id"});
  if (CodePoints(req.name()) > 200) bad.push_back({"name", "at most 200 characters"});
  if (req.client_ids().empty()) bad.push_back({"client_ids", "at least one client"});
  if (req.client_ids_size() > kMaxRecipients) bad.push_back({"client_ids", "at most 10 000 clients a mailing"});
  std::vector<std::string> clients;
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < req.client_ids_size() && i <= kMaxRecipients; ++i) {
    if (!IsUuid(req.client_ids(i))) {
      bad.push_back({absl::StrCat("client_ids[", i, "]"), "must be a client id of deals"});
    } else if (seen.insert(req.client_ids(i)).second) {
      clients.push_back(req.client_ids(i));
    }
  }
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(RequireMailer(caller));
  const crm::pg::IdempotencyScope scope{.caller = crm::rpc::IdempotencyCaller(caller),
                                        .method = "crm.dialogs.v1.MailingService/CreateMailing",
                                        .key = std::string(idempotency_key)};
  v1::Mailing out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return crm::pg::RunIdempotent(tx, scope, clock_.Now(), req, out, [&]() -> absl::Status {
      absl::StatusOr<v1::Template> t = LoadTemplate(tx, req.template_id());
      if (!t.ok() || t->bot_id() != req.bot_id()) {
        return InvalidFieldError("template_id", absl::StrCat("not a template of bot ", req.bot_id()));
      }
      const std::string id = NewUuidV7();
      const std::string at = FormatRfc3339Utc(clock_.Now());
      std::vector<std::string> params(req.parameters().begin(), req.parameters().end());
      crm::pg::ExecPrepared(tx, sql::kInsertMailing, id, req.bot_id(), req.template_id(),
                            req.name().empty() ? t->name() : req.name(), crm::pg::ArrayLiteral(params),
                            static_cast<int64_t>(clients.size()), inbox::CallerUserId(caller), at);
      crm::pg::ExecPrepared(tx, sql::kInsertRecipients, id, crm::pg::ArrayLiteral(clients), at);
      CRM_RETURN_IF_ERROR(Publish(tx, id, v1::kMailingCreatedType, caller));
      CRM_ASSIGN_OR_RETURN(out, LoadMailing(tx, id, false));
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<v1::Mailing> Mailings::Get(const Principal& caller, std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "must be a mailing id");
  CRM_RETURN_IF_ERROR(RequireMailer(caller));
  v1::Mailing out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(out, LoadMailing(tx, id, false));
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ListRecipientsResponse> Mailings::ListRecipients(const Principal& caller,
                                                                   const v1::ListRecipientsRequest& req) {
  std::vector<FieldViolation> bad;
  if (!IsUuid(req.mailing_id())) bad.push_back({"mailing_id", "must be a mailing id"});
  bool bad_size = false;
  const int size = PageSizeOr(req.page_size(), &bad_size);
  if (bad_size) bad.push_back({"page_size", "must not be negative"});
  int64_t after = 0;
  if (!req.page_token().empty() && (!absl::SimpleAtoi(req.page_token(), &after) || after <= 0)) {
    bad.push_back({"page_token", "not a token this list gave"});
  }
  if (!bad.empty()) return InvalidFieldsError(bad);
  CRM_RETURN_IF_ERROR(RequireMailer(caller));
  v1::ListRecipientsResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    out.Clear();
    CRM_RETURN_IF_ERROR(LoadMailing(tx, req.mailing_id(), false).status());
    std::vector<std::string> values = {req.mailing_id(), absl::StrCat(after), absl::StrCat(size + 1)};
    const char* statement = sql::kListRecipients;
    if (req.state() != v1::RECIPIENT_STATE_UNSPECIFIED) {
      statement = sql::kListRecipientsByState;
      values.push_back(RecipientCode(req.state()));
    }
    crm::pg::RecordStatement(statement, values);
    pqxx::result rows = tx.exec_params(statement, pqxx::prepare::make_dynamic_params(values));
    for (const auto& r : rows) {
      if (out.recipients_size() == size) {
        out.set_next_page_token(absl::StrCat(out.recipients(size - 1).seq()));
        break;
      }
      v1::Recipient* x = out.add_recipients();
      x->set_seq(r[0].as<int64_t>());
      x->set_client_id(r[1].c_str());
      x->set_state(RecipientStateOf(r[2].c_str()));
      x->set_chat_id(r[3].as<int64_t>());
      x->set_outgoing_id(r[4].c_str());
      x->set_error(r[5].c_str());
      *x->mutable_update_time() = FromMicros(r[6].as<int64_t>());
    }
    return absl::OkStatus();
  }, {.read_only = true}));
  return out;
}

absl::StatusOr<v1::Mailing> Mailings::Cancel(const Principal& caller, std::string_view id) {
  if (!IsUuid(id)) return InvalidFieldError("id", "must be a mailing id");
  CRM_RETURN_IF_ERROR(RequireMailer(caller));
  v1::Mailing out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    CRM_ASSIGN_OR_RETURN(v1::Mailing m, LoadMailing(tx, id, true));
    if (m.state() == v1::MAILING_STATE_RUNNING) {
      const std::string at = FormatRfc3339Utc(clock_.Now());
      const int64_t n = crm::pg::ExecPrepared1(tx, sql::kCancelPending, std::string(id), at)[0].as<int64_t>();
      crm::pg::ExecPrepared(tx, sql::kMailingCancelled, std::string(id), n, at);
      CRM_RETURN_IF_ERROR(Publish(tx, std::string(id), v1::kMailingCancelledType, caller));
    }
    CRM_ASSIGN_OR_RETURN(out, LoadMailing(tx, id, false));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<int> Mailings::Pass(pqxx::transaction_base& tx, const std::string& mailing_id) {
  CRM_ASSIGN_OR_RETURN(v1::Mailing m, LoadMailing(tx, mailing_id, true));
  const absl::Time now = clock_.Now();
  const std::string at = FormatRfc3339Utc(now);
  const int64_t room = std::min<int64_t>(options_.window - m.progress().queued(), m.progress().pending());
  int handled = 0;
  if (room > 0) {
    absl::StatusOr<v1::Template> t = LoadTemplate(tx, m.template_id());
    const std::vector<std::string> params(m.parameters().begin(), m.parameters().end());
    int64_t queued = 0, failed = 0, no_chat = 0;
    for (const auto& r : crm::pg::ExecPrepared(tx, sql::kNextPending, mailing_id, room)) {
      const int64_t seq = r[0].as<int64_t>();
      const std::string client = r[1].c_str();
      ++handled;
      pqxx::result chat = crm::pg::ExecPrepared(tx, sql::kClientChatOnBot, client, m.bot_id());
      if (chat.empty()) {
        crm::pg::ExecPrepared(tx, sql::kRecipientFinal, mailing_id, seq, "NO_CHAT", int64_t{0},
                              "the client has no Telegram chat with the bot", at);
        ++no_chat;
        continue;
      }
      const int64_t chat_id = chat[0][0].as<int64_t>();
      absl::StatusOr<v1::RenderedTemplate> rendered =
          t.ok() ? Render(*t, chat[0][3].c_str(), params) : absl::StatusOr<v1::RenderedTemplate>(t.status());
      absl::StatusOr<std::string> outgoing_id =
          rendered.ok() ? outgoing_.Enqueue(tx, ToOutgoing(m.bot_id(), chat_id, *rendered))
                        : absl::StatusOr<std::string>(rendered.status());
      if (!outgoing_id.ok()) {
        crm::pg::ExecPrepared(tx, sql::kRecipientFinal, mailing_id, seq, "FAILED", chat_id,
                              std::string(outgoing_id.status().message()), at);
        ++failed;
        continue;
      }
      crm::pg::ExecPrepared(tx, sql::kRecipientQueued, mailing_id, seq, chat_id, *outgoing_id, at);
      ++queued;
    }
    crm::pg::ExecPrepared(tx, sql::kMailingPassed, mailing_id, static_cast<int64_t>(handled), queued, failed, no_chat,
                          at);
  }
  if (!crm::pg::ExecPrepared(tx, sql::kMailingDone, mailing_id, at).empty()) {
    CRM_RETURN_IF_ERROR(Publish(tx, mailing_id, v1::kMailingFinishedType, Dialogs()));
  }
  return handled;
}

absl::StatusOr<int> Mailings::DrainOnce() {
  int total = 0;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    total = 0;
    for (const auto& r : crm::pg::ExecPrepared(tx, sql::kClaimRunning, options_.mailings_per_pass)) {
      CRM_ASSIGN_OR_RETURN(int n, Pass(tx, r[0].c_str()));
      total += n;
    }
    return absl::OkStatus();
  }));
  return total;
}

absl::Status Mailings::ApplyOutgoingChange(pqxx::transaction_base& tx, const telegram::OutgoingChange& c) const {
  if (c.state != "sent" && c.state != "failed") return absl::OkStatus();
  const bool sent = c.state == "sent";
  const std::string at = FormatRfc3339Utc(c.time == absl::Time() ? clock_.Now() : c.time);
  const std::string error = sent ? "" : (c.error_code != 0 ? absl::StrCat(c.error_code, ": ", c.error) : c.error);
  pqxx::result r = crm::pg::ExecPrepared(tx, sql::kRecipientOutgoing, c.id, sent ? "SENT" : "FAILED", error, at);
  if (r.empty()) return absl::OkStatus();
  const std::string mailing_id = r[0][0].c_str();
  crm::pg::ExecPrepared(tx, sql::kMailingOutgoing, mailing_id, int64_t{sent ? 1 : 0}, int64_t{sent ? 0 : 1}, at);
  if (!crm::pg::ExecPrepared(tx, sql::kMailingDone, mailing_id, at).empty()) {
    CRM_RETURN_IF_ERROR(Publish(tx, mailing_id, v1::kMailingFinishedType, Dialogs()));
  }
  return absl::OkStatus();
}

}  // namespace crm::dialogs::outreach
