// File: services/deals/erp/rules.h
// -----------------------------------------------------------------------------
// The pure rules of the 1C side of deals (D17, seed 002; no database):
//   - which documents a deal's amount calls for (seed 002: «если сумма свыше 500 тыс.руб обязательным
//     становится договор и счет, если сумма свыше 150 тыс руб счет-договор, если менее 150 тыс руб,
//     просто счет»);
//   - the accountant's e-mail about a signed document («После подписания, документы отправляются
//     автоматически на почту бухгалтеру»): its subject, text and Message-ID, and when to try again;
//   - last writer wins between 1C's report of a mirrored task and the CRM's own change of it, and what
//     goes into the conflict log.
//
// Example:
//   ReportDecision d = DecideReport({.reported = ErpTask::DONE, .change_time = t, .crm_status = Task::OPEN,
//                                    .crm_change_time = created});
//   // d.outcome == ErpTask::APPLIED, d.target == Task::DONE, no conflict
#ifndef CRM_SERVICES_DEALS_ERP_RULES_H_
#define CRM_SERVICES_DEALS_ERP_RULES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "crm/deals/v1/erp.pb.h"
#include "crm/deals/v1/tasks.pb.h"

namespace crm::deals::erp {

// Seed 002's thresholds, in minor units of the deal's currency (kopecks for RUB).
inline constexpr int64_t kContractThresholdMinor = 500'000'00;         // above: договор + счёт
inline constexpr int64_t kInvoiceContractThresholdMinor = 150'000'00;  // above: счёт-договор

// The kinds of document a deal of `amount_minor` calls for: above 500 000 a CONTRACT and an INVOICE,
// above 150 000 an INVOICE_CONTRACT, else an INVOICE (exactly 500 000 is an invoice-contract, exactly
// 150 000 an invoice: "свыше" is strict).
std::vector<crm::deals::v1::Document::Kind> RequiredDocumentKinds(int64_t amount_minor);

// Those of `required` that `present` (the kinds of the deal's documents that are not CANCELLED) lacks.
std::vector<crm::deals::v1::Document::Kind> MissingDocumentKinds(
    const std::vector<crm::deals::v1::Document::Kind>& required,
    const std::vector<crm::deals::v1::Document::Kind>& present);

// «Счёт», «Договор», «Счёт-договор», «Акт выполненных работ», «УПД».
std::string DocumentKindName(crm::deals::v1::Document::Kind kind);

// "1 234 567,89 ₽" for RUB, "1 234 567,89 USD" otherwise, with the currency's own minor unit digits
// (libs/base/money.h MinorUnitDigits: "1 234 567 JPY", "1 234,567 KWD"; 2 for an unknown code) (a narrow no-break space between thousands
// would be typographically right; a plain space reads in every mail client).
std::string FormatMoney(int64_t amount_minor, std::string_view currency);

// What the accountant's e-mail says about one signed document.
struct NoticeInput {
  std::string document_id;
  crm::deals::v1::Document::Kind kind = crm::deals::v1::Document::KIND_UNSPECIFIED;
  std::string number;
  std::string date;  // "YYYY-MM-DD"
  int64_t amount_minor = 0;
  std::string currency;
  std::string deal_id;
  std::string deal_name;
  std::string client_name;  // "" when the deal has no client
  // Where people open the deal: "<CRM_PUBLIC_URL>/deals/<id>"; "" for no link.
  std::string deal_url;
  std::string signed_by_name;  // "" for 1C / a service
};

struct NoticeText {
  std::string subject;
  std::string text;
  std::string message_id;  // "<document.<id>@deals.crm>": the same at every attempt
};

// Subject «Подписан документ: Счёт № 42 от 05.03.2026 — «Поставка»», the text with the document, its
// amount, the deal and client and the link, and the Message-ID.
NoticeText RenderNotice(const NoticeInput& in);

// The wait after the `attempts`-th failed attempt (1, 2, ...): 30 s doubling to at most 1 hour.
absl::Duration NoticeBackoff(int attempts);
// After this many transient failures a notice is given up as FAILED (about a day of trying).
inline constexpr int kMaxNoticeAttempts = 30;

// ---- The task mirror: last writer wins ----

// The deals task status 1C's status stands for: IN_PROGRESS → OPEN, DONE → DONE, CANCELLED → CANCELLED.
crm::deals::v1::Task::Status TaskStatusOf(crm::deals::v1::ErpTask::ErpStatus s);

// When the CRM last set the task's status as it is now: DONE at completed_time, CANCELLED at update_time
// (a closed task changes no more), OPEN at its creation or, later, its reopening by 1C (`reopen_time`).
absl::Time CrmStatusTime(const crm::deals::v1::Task& task, std::optional<absl::Time> reopen_time);

struct ReportInput {
  crm::deals::v1::ErpTask::ErpStatus reported = crm::deals::v1::ErpTask::ERP_STATUS_UNSPECIFIED;
  absl::Time change_time;  // 1C's time of the change
  // 1C's last report that was taken (status and change time), if any.
  std::optional<crm::deals::v1::ErpTask::ErpStatus> last_status;
  std::optional<absl::Time> last_change_time;
  crm::deals::v1::Task::Status crm_status = crm::deals::v1::Task::STATUS_UNSPECIFIED;
  // Whether the task changed in the CRM since the mirror last stood for it (its version moved on), and
  // when the CRM set its current status (CrmStatusTime).
  bool crm_changed = false;
  absl::Time crm_change_time;
};

struct ReportDecision {
  crm::deals::v1::ErpTask::Outcome outcome = crm::deals::v1::ErpTask::OUTCOME_UNSPECIFIED;
  // The status the task takes (APPLIED only).
  crm::deals::v1::Task::Status target = crm::deals::v1::Task::STATUS_UNSPECIFIED;
  // Whether 1C's report becomes the mirror's last taken report (APPLIED, UNCHANGED, CRM_NEWER).
  bool record_report = false;
  // The conflict to log, if any.
  std::optional<crm::deals::v1::ErpTaskConflict::Resolution> conflict;
};

// Last writer wins, by the time of each side's change:
//   - a report older than 1C's last taken one is STALE (logged ERP_STALE); one at the same time with the
//     same status is a repeat (UNCHANGED, not logged); at the same time with another status, STALE;
//   - when the CRM changed the task's status since the last sync at or after the report's change time,
//     the CRM's change is later: CRM_NEWER (logged CRM_WON), unless the statuses agree (UNCHANGED);
//   - otherwise the task takes 1C's status: APPLIED (logged ERP_WON when it overrides a CRM change made
//     since the last sync), or UNCHANGED when it already has it.
ReportDecision DecideReport(const ReportInput& in);

}  // namespace crm::deals::erp

#endif  // CRM_SERVICES_DEALS_ERP_RULES_H_
