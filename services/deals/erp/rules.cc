// File: services/deals/erp/rules.cc
#include "services/deals/erp/rules.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/base/money.h"
#include "libs/base/time.h"

namespace crm::deals::erp {

namespace v1 = crm::deals::v1;
using v1::Document;
using v1::ErpTask;
using v1::ErpTaskConflict;
using v1::Task;

std::vector<Document::Kind> RequiredDocumentKinds(int64_t amount_minor) {
  if (amount_minor > kContractThresholdMinor) return {Document::CONTRACT, Document::INVOICE};
  if (amount_minor > kInvoiceContractThresholdMinor) return {Document::INVOICE_CONTRACT};
  return {Document::INVOICE};
}

std::vector<Document::Kind> MissingDocumentKinds(const std::vector<Document::Kind>& required,
                                                 const std::vector<Document::Kind>& present) {
  std::vector<Document::Kind> out;
  for (Document::Kind k : required) {
    if (std::find(present.begin(), present.end(), k) == present.end()) out.push_back(k);
  }
  return out;
}

std::string DocumentKindName(Document::Kind kind) {
  switch (kind) {
    case Document::INVOICE:
      return "Счёт";
    case Document::CONTRACT:
      return "Договор";
    case Document::INVOICE_CONTRACT:
      return "Счёт-договор";
    case Document::ACT:
      return "Акт выполненных работ";
    case Document::UPD:
      return "УПД";
    default:
      return "Документ";
  }
}

std::string FormatMoney(int64_t amount_minor, std::string_view currency) {
  const bool negative = amount_minor < 0;
  const uint64_t abs = negative ? 0 - static_cast<uint64_t>(amount_minor) : static_cast<uint64_t>(amount_minor);
  const int known = MinorUnitDigits(currency);
  const int digits = known < 0 ? 2 : known;  // an unknown code is shown with 2, as FormatDecimal does
  uint64_t scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  std::string units = absl::StrCat(abs / scale);
  std::string grouped;
  for (size_t i = 0; i < units.size(); ++i) {
    if (i > 0 && (units.size() - i) % 3 == 0) grouped += ' ';
    grouped += units[i];
  }
  std::string fraction;
  if (digits > 0) {
    fraction = absl::StrCat(abs % scale);
    fraction = absl::StrCat(",", std::string(digits - fraction.size(), '0'), fraction);
  }
  return absl::StrCat(negative ? "-" : "", grouped, fraction, " ", currency == "RUB" ? "₽" : std::string(currency));
}

NoticeText RenderNotice(const NoticeInput& in) {
  NoticeText out;
  std::string date = in.date;  // YYYY-MM-DD → DD.MM.YYYY
  if (date.size() == 10) date = absl::StrCat(in.date.substr(8, 2), ".", in.date.substr(5, 2), ".", in.date.substr(0, 4));
  const std::string doc = absl::StrCat(DocumentKindName(in.kind), " № ", in.number, " от ", date);
  out.subject = absl::StrCat("Подписан документ: ", doc, " — «", in.deal_name, "»");
  out.text = absl::StrCat("Подписан документ: ", doc, ".\n", "Сумма: ", FormatMoney(in.amount_minor, in.currency),
                          ".\n", "Сделка: «", in.deal_name, "»", in.client_name.empty() ? "" : absl::StrCat(", клиент ", in.client_name),
                          ".\n");
  if (!in.signed_by_name.empty()) absl::StrAppend(&out.text, "Отметил подписание: ", in.signed_by_name, ".\n");
  if (!in.deal_url.empty()) absl::StrAppend(&out.text, "\n", in.deal_url, "\n");
  absl::StrAppend(&out.text, "\nПисьмо отправлено CRM автоматически после подписания документа.\n");
  out.message_id = absl::StrCat("<document.", in.document_id, "@deals.crm>");
  return out;
}

absl::Duration NoticeBackoff(int attempts) {
  absl::Duration d = absl::Seconds(30);
  for (int i = 1; i < attempts && d < absl::Hours(1); ++i) d *= 2;
  return std::min(d, absl::Hours(1));
}

Task::Status TaskStatusOf(ErpTask::ErpStatus s) {
  switch (s) {
    case ErpTask::DONE:
      return Task::DONE;
    case ErpTask::CANCELLED:
      return Task::CANCELLED;
    default:
      return Task::OPEN;
  }
}

absl::Time CrmStatusTime(const Task& task, std::optional<absl::Time> reopen_time) {
  switch (task.status()) {
    case Task::DONE:
      return FromProtoTimestamp(task.completed_time());
    case Task::CANCELLED:
      return FromProtoTimestamp(task.update_time());
    default: {
      const absl::Time created = FromProtoTimestamp(task.create_time());
      return reopen_time.has_value() ? std::max(created, *reopen_time) : created;
    }
  }
}

ReportDecision DecideReport(const ReportInput& in) {
  ReportDecision d;
  const Task::Status target = TaskStatusOf(in.reported);
  if (in.last_change_time.has_value() && in.change_time <= *in.last_change_time) {
    if (in.change_time == *in.last_change_time && in.last_status == in.reported) {
      d.outcome = ErpTask::UNCHANGED;  // the same report again
      return d;
    }
    d.outcome = ErpTask::STALE;
    d.conflict = ErpTaskConflict::ERP_STALE;
    return d;
  }
  d.record_report = true;
  if (in.crm_changed && in.crm_change_time >= in.change_time) {
    if (target == in.crm_status) {
      d.outcome = ErpTask::UNCHANGED;
      return d;
    }
    d.outcome = ErpTask::CRM_NEWER;
    d.conflict = ErpTaskConflict::CRM_WON;
    return d;
  }
  if (target == in.crm_status) {
    d.outcome = ErpTask::UNCHANGED;
    return d;
  }
  d.outcome = ErpTask::APPLIED;
  d.target = target;
  if (in.crm_changed) d.conflict = ErpTaskConflict::ERP_WON;
  return d;
}

}  // namespace crm::deals::erp
