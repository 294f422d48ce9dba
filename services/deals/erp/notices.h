// File: services/deals/erp/notices.h
// -----------------------------------------------------------------------------
// The accountant's e-mail about a signed document (D17, seed 002: «После подписания, документы
// отправляются автоматически на почту бухгалтеру»), through an outbox-like durable queue:
//
//   - QueueNotice runs in the transaction that marks the document SIGNED: it writes the e-mail (to
//     ErpSettings.accountant_emails, its subject and text rendered then, rules.h) into erp_mail_queue,
//     keyed by the document — a document can have one notice, ever. With no accountant address the row
//     says NOT_CONFIGURED and nothing is sent.
//   - NoticeSender::RunOnce claims due notices (FOR UPDATE SKIP LOCKED, so replicas share the work) by
//     moving their next attempt past a lease and committing, sends each over SMTP (libs/mail), then
//     records the outcome: SENT (+ crm.deals.document.accountant_notified.v1), a transient failure
//     retried after NoticeBackoff (given up as FAILED after kMaxNoticeAttempts), or a permanent refusal
//     FAILED (+ crm.deals.document.accountant_notice_failed.v1).
//   - A worker that dies mid-send (its process killed) leaves the notice claimed until the lease ends;
//     the server stored nothing of an interrupted DATA, so the next attempt delivers it once. Every
//     attempt carries the same Message-ID («<document.<id>@deals.crm>»): the one window that can repeat
//     a message — the server's final 250 sent, the worker dead before recording it — gives a copy a mail
//     client or archive recognises as the same message (SMTP cannot do better: mail.h "at least once").
//
// Example:
//   CRM_RETURN_IF_ERROR(QueueNotice(tx, document, deal, now, signer_name, "https://crm.example/v1/deals/"));
//   NoticeSender sender(*pool, clock, *mailer, {.default_from = "CRM <crm@example.com>"});
//   CRM_ASSIGN_OR_RETURN(int sent, sender.RunOnce());
#ifndef CRM_SERVICES_DEALS_ERP_NOTICES_H_
#define CRM_SERVICES_DEALS_ERP_NOTICES_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crm/deals/v1/erp.pb.h"
#include "libs/base/periodic.h"
#include "libs/events/outbox.h"
#include "libs/mail/mail.h"
#include "services/deals/erp/common.h"

namespace crm::deals::erp {

// Queues the notice of `document` (just signed) of `deal` in `tx` (see the file comment); `deal_url_prefix`
// + deal id is the link in the text ("" for none). Returns the notice as the document shows it.
absl::StatusOr<crm::deals::v1::Document::AccountantNotice> QueueNotice(
    pqxx::transaction_base& tx, const crm::deals::v1::Document& document, const DealInfo& deal, absl::Time now,
    std::string_view signed_by_name, std::string_view deal_url_prefix);

// QueueNotice for many documents at once (one settings read, one INSERT): each `documents[i]` of
// `deals[i]`, signed by `signed_by_names[i]`.
absl::Status QueueNotices(pqxx::transaction_base& tx, const std::vector<const crm::deals::v1::Document*>& documents,
                          const std::vector<const DealInfo*>& deals, const std::vector<std::string>& signed_by_names,
                          absl::Time now, std::string_view deal_url_prefix);

struct NoticeOptions {
  // The sender when ErpSettings.mail_from is empty (the service's MAIL_FROM).
  std::string default_from = "CRM <crm@crm.local>";
  // How long a claimed notice is left to its worker before another may take it; longer than an SMTP send
  // (libs/mail's timeout, 20 s by default) can last.
  absl::Duration lease = absl::Minutes(5);
  // Notices claimed at once.
  int batch = 10;
};

// Sends due notices. Thread-safe; pool, clock and mailer must outlive it.
class NoticeSender {
 public:
  NoticeSender(pg::Pool& pool, const Clock& clock, mail::Mailer& mailer, NoticeOptions options = {});

  // One pass (see the file comment); returns how many notices it delivered.
  absl::StatusOr<int> RunOnce();

 private:
  pg::Pool& pool_;
  const Clock& clock_;
  mail::Mailer& mailer_;
  const NoticeOptions options_;
  crm::events::OutboxWriter outbox_;
};

// Runs sender.RunOnce() every `interval` on a thread of its own until destroyed; errors are logged.
class NoticeWorker {
 public:
  NoticeWorker(NoticeSender& sender, absl::Duration interval);

 private:
  NoticeSender& sender_;
  Periodic periodic_;  // last: starts after the members it uses
};

}  // namespace crm::deals::erp

#endif  // CRM_SERVICES_DEALS_ERP_NOTICES_H_
