// File: services/deals/erp/notices.cc
#include "services/deals/erp/notices.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "crm/deals/v1/erp_events.pb.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/log/log.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
#include "libs/rpc/client.h"
#include "proto/crm/deals/v1/erp_event_types.h"
#include "services/deals/erp/rules.h"
#include "services/deals/erp/settings_store.h"
#include "services/deals/sql.h"

namespace crm::deals::erp {

namespace v1 = crm::deals::v1;
using Notice = v1::Document::AccountantNotice;

namespace {

constexpr char kInsert[] =
    "INSERT INTO erp_mail_queue (document_id, recipients, mail_from, subject, body, message_id, state, "
    "next_attempt_time, create_time) SELECT u.id, $2::text[], $3, u.subject, u.body, u.message_id, $7::smallint, "
    "$8::timestamptz, $8::timestamptz FROM unnest($1::uuid[], $4::text[], $5::text[], $6::text[]) AS "
    "u(id, subject, body, message_id) ON CONFLICT (document_id) DO NOTHING";
// Claims due notices: their next attempt moves past the lease, their attempt is counted.
constexpr char kClaim[] =
    "UPDATE erp_mail_queue q SET attempts = q.attempts + 1, next_attempt_time = $2::timestamptz "
    "FROM (SELECT document_id FROM erp_mail_queue WHERE state = 1 AND next_attempt_time <= $1::timestamptz "
    "ORDER BY next_attempt_time LIMIT $3 FOR UPDATE SKIP LOCKED) c WHERE q.document_id = c.document_id "
    "RETURNING q.document_id::text, array_to_json(q.recipients)::text, q.mail_from, q.subject, q.body, "
    "q.message_id, q.attempts, (SELECT d.deal_id::text FROM documents d WHERE d.id = q.document_id)";
constexpr char kSent[] =
    "UPDATE erp_mail_queue SET state = 2, sent_time = $2::timestamptz, last_error = '' "
    "WHERE document_id = $1::uuid AND state = 1 RETURNING 1";
constexpr char kRetry[] =
    "UPDATE erp_mail_queue SET next_attempt_time = $2::timestamptz, last_error = $3 "
    "WHERE document_id = $1::uuid AND state = 1";
constexpr char kFailed[] =
    "UPDATE erp_mail_queue SET state = 3, last_error = $2 WHERE document_id = $1::uuid AND state = 1 RETURNING 1";

struct Claimed {
  std::string document_id;
  std::string deal_id;  // the document's deal (kClaim returns it: no second query per notice)
  mail::MailMessage message;
  int attempts = 0;
};

}  // namespace

absl::Status QueueNotices(pqxx::transaction_base& tx, const std::vector<const v1::Document*>& documents,
                          const std::vector<const DealInfo*>& deals, const std::vector<std::string>& signed_by_names,
                          absl::Time now, std::string_view deal_url_prefix) {
  if (documents.empty()) return absl::OkStatus();
  const v1::ErpSettings settings = LoadSettings(tx);
  std::vector<std::string> to(settings.accountant_emails().begin(), settings.accountant_emails().end());
  const std::string recipients = pg::ArrayLiteral(to);
  std::vector<std::string> ids, subjects, bodies, message_ids;
  for (size_t i = 0; i < documents.size(); ++i) {
    const v1::Document& document = *documents[i];
    const DealInfo& deal = *deals[i];
    const NoticeText text = RenderNotice({.document_id = document.id(),
                                          .kind = document.kind(),
                                          .number = document.number(),
                                          .date = document.date(),
                                          .amount_minor = document.amount().amount_minor(),
                                          .currency = document.amount().currency(),
                                          .deal_id = deal.id,
                                          .deal_name = deal.name,
                                          .client_name = deal.client_name,
                                          .deal_url = deal_url_prefix.empty()
                                                          ? ""
                                                          : absl::StrCat(AsAbsl(deal_url_prefix), deal.id),
                                          .signed_by_name = signed_by_names[i]});
    ids.push_back(document.id());
    subjects.push_back(text.subject);
    bodies.push_back(text.text);
    message_ids.push_back(text.message_id);
  }
  pg::ExecPrepared(tx, kInsert, pg::ArrayLiteral(ids), recipients, settings.mail_from(), pg::ArrayLiteral(subjects),
                   pg::ArrayLiteral(bodies), pg::ArrayLiteral(message_ids),
                   static_cast<int>(to.empty() ? Notice::NOT_CONFIGURED : Notice::PENDING), FormatRfc3339Utc(now));
  return absl::OkStatus();
}

absl::StatusOr<Notice> QueueNotice(pqxx::transaction_base& tx, const v1::Document& document, const DealInfo& deal,
                                   absl::Time now, std::string_view signed_by_name, std::string_view deal_url_prefix) {
  CRM_RETURN_IF_ERROR(
      QueueNotices(tx, {&document}, {&deal}, {std::string(signed_by_name)}, now, deal_url_prefix));
  const v1::ErpSettings settings = LoadSettings(tx);
  Notice notice;
  notice.set_state(settings.accountant_emails_size() == 0 ? Notice::NOT_CONFIGURED : Notice::PENDING);
  *notice.mutable_recipients() = settings.accountant_emails();
  return notice;
}

NoticeSender::NoticeSender(pg::Pool& pool, const Clock& clock, mail::Mailer& mailer, NoticeOptions options)
    : pool_(pool), clock_(clock), mailer_(mailer), options_(std::move(options)), outbox_("deals", clock) {}

absl::StatusOr<int> NoticeSender::RunOnce() {
  std::vector<Claimed> claimed;
  const absl::Time now = clock_.Now();
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    claimed.clear();
    SqlParams p;
    p.Add(FormatRfc3339Utc(now));
    p.Add(FormatRfc3339Utc(now + options_.lease));
    p.Add(absl::StrCat(options_.batch));
    for (const pqxx::row& r : ExecPrepared(tx, kClaim, p)) {
      Claimed c;
      c.document_id = r[0].c_str();
      c.message.to = JsonStrings(r[1].c_str());
      c.message.from = r[2].is_null() || std::string_view(r[2].c_str()).empty() ? options_.default_from : r[2].c_str();
      c.message.subject = r[3].c_str();
      c.message.text = r[4].c_str();
      c.message.message_id = r[5].c_str();
      c.attempts = r[6].as<int>();
      c.deal_id = r[7].c_str();
      claimed.push_back(std::move(c));
    }
    return absl::OkStatus();
  }));
  int sent = 0;
  for (const Claimed& c : claimed) {
    const absl::Status s = mailer_.Send(c.message);
    const absl::Time done = clock_.Now();
    const bool permanent = absl::IsFailedPrecondition(s) || absl::IsInvalidArgument(s);
    const bool give_up = !s.ok() && (permanent || c.attempts >= kMaxNoticeAttempts);
    CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
      Actor system{.principal = rpc::ServicePrincipal("deals")};
      auto deal_of = [&]() -> absl::StatusOr<DealInfo> { return LoadDealUnchecked(tx, c.deal_id, false); };
      if (s.ok()) {
        SqlParams p;
        p.Add(c.document_id);
        p.Add(FormatRfc3339Utc(done));
        if (ExecPrepared(tx, kSent, p).empty()) return absl::OkStatus();  // recorded by another worker
        CRM_ASSIGN_OR_RETURN(DealInfo deal, deal_of());
        v1::DocumentAccountantNotified ev;
        ev.set_document_id(c.document_id);
        ev.set_deal_id(deal.id);
        for (const std::string& to : c.message.to) ev.add_recipients(to);
        ev.set_message_id(c.message.message_id);
        ev.set_attempts(c.attempts);
        *ev.mutable_sent_time() = ToProtoTimestamp(done);
        return Emit(tx, outbox_, system, v1::kDocumentAggregate, c.document_id, v1::kDocumentAccountantNotifiedType,
                    ev, deal);
      }
      const std::string error(s.message().substr(0, 1000));
      if (!give_up) {
        SqlParams p;
        p.Add(c.document_id);
        p.Add(FormatRfc3339Utc(done + NoticeBackoff(c.attempts)));
        p.Add(error);
        ExecPrepared(tx, kRetry, p);
        return absl::OkStatus();
      }
      if (pg::ExecPrepared(tx, kFailed, c.document_id, error).empty()) return absl::OkStatus();
      CRM_ASSIGN_OR_RETURN(DealInfo deal, deal_of());
      v1::DocumentAccountantNoticeFailed ev;
      ev.set_document_id(c.document_id);
      ev.set_deal_id(deal.id);
      for (const std::string& to : c.message.to) ev.add_recipients(to);
      ev.set_error(error);
      ev.set_attempts(c.attempts);
      return Emit(tx, outbox_, system, v1::kDocumentAggregate, c.document_id,
                  v1::kDocumentAccountantNoticeFailedType, ev, deal);
    }));
    if (s.ok()) {
      ++sent;
    } else {
      crm::log::Warn("deals: the accountant's notice was not sent",
                     {{"document", c.document_id}, {"attempt", c.attempts}, {"error", s}, {"given_up", give_up}});
    }
  }
  return sent;
}

NoticeWorker::NoticeWorker(NoticeSender& sender, absl::Duration interval)
    : sender_(sender), periodic_(interval, [this] {
        if (absl::StatusOr<int> n = sender_.RunOnce(); !n.ok()) {
          crm::log::Warn("deals: the accountant's notices could not be processed", {{"error", n.status()}});
        }
      }) {}

}  // namespace crm::deals::erp
