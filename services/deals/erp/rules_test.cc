// File: services/deals/erp/rules_test.cc
// The pure rules of D17 (rules.h): seed 002's document thresholds, the accountant's e-mail text, the
// notice backoff, and last writer wins between 1C's reports and the CRM's own changes of a task.
#include "services/deals/erp/rules.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "libs/base/time.h"

namespace crm::deals::erp {
namespace {

namespace v1 = crm::deals::v1;
using v1::Document;
using v1::ErpTask;
using v1::ErpTaskConflict;
using v1::Task;

TEST(RequiredDocumentKinds, FollowSeed002Thresholds) {
  using K = std::vector<Document::Kind>;
  EXPECT_EQ(RequiredDocumentKinds(100'000'00), K{Document::INVOICE});
  EXPECT_EQ(RequiredDocumentKinds(150'000'00), K{Document::INVOICE});  // "свыше" is strict
  EXPECT_EQ(RequiredDocumentKinds(150'000'01), K{Document::INVOICE_CONTRACT});
  EXPECT_EQ(RequiredDocumentKinds(500'000'00), K{Document::INVOICE_CONTRACT});
  EXPECT_EQ(RequiredDocumentKinds(500'000'01), (K{Document::CONTRACT, Document::INVOICE}));
  EXPECT_EQ(MissingDocumentKinds({Document::CONTRACT, Document::INVOICE}, {Document::INVOICE, Document::ACT}),
            K{Document::CONTRACT});
  EXPECT_TRUE(MissingDocumentKinds({Document::INVOICE}, {Document::INVOICE}).empty());
}

TEST(FormatMoney, GroupsThousandsAndKeepsKopecks) {
  EXPECT_EQ(FormatMoney(123456789, "RUB"), "1 234 567,89 ₽");
  EXPECT_EQ(FormatMoney(5, "RUB"), "0,05 ₽");
  EXPECT_EQ(FormatMoney(100000, "USD"), "1 000,00 USD");
  EXPECT_EQ(FormatMoney(-150, "RUB"), "-1,50 ₽");
  // The currency's own minor unit digits (ISO 4217): none for yen, three for dinars.
  EXPECT_EQ(FormatMoney(1234567, "JPY"), "1 234 567 JPY");
  EXPECT_EQ(FormatMoney(1234567, "KWD"), "1 234,567 KWD");
  EXPECT_EQ(FormatMoney(-5, "KWD"), "-0,005 KWD");
}

TEST(RenderNotice, NamesTheDocumentTheDealAndTheLink) {
  const NoticeText t = RenderNotice({.document_id = "01930000-0000-7000-8000-000000000001",
                                     .kind = Document::UPD,
                                     .number = "17",
                                     .date = "2026-03-05",
                                     .amount_minor = 62000000,
                                     .currency = "RUB",
                                     .deal_id = "d1",
                                     .deal_name = "Поставка",
                                     .client_name = "ООО «Вектор»",
                                     .deal_url = "https://crm.example/v1/deals/d1",
                                     .signed_by_name = "Анна Петрова"});
  EXPECT_EQ(t.subject, "Подписан документ: УПД № 17 от 05.03.2026 — «Поставка»");
  EXPECT_TRUE(absl::StrContains(t.text, "Сумма: 620 000,00 ₽")) << t.text;
  EXPECT_TRUE(absl::StrContains(t.text, "клиент ООО «Вектор»")) << t.text;
  EXPECT_TRUE(absl::StrContains(t.text, "https://crm.example/v1/deals/d1")) << t.text;
  EXPECT_TRUE(absl::StrContains(t.text, "Отметил подписание: Анна Петрова")) << t.text;
  EXPECT_EQ(t.message_id, "<document.01930000-0000-7000-8000-000000000001@deals.crm>");
}

TEST(NoticeBackoff, DoublesFromThirtySecondsToAnHour) {
  EXPECT_EQ(NoticeBackoff(1), absl::Seconds(30));
  EXPECT_EQ(NoticeBackoff(2), absl::Seconds(60));
  EXPECT_EQ(NoticeBackoff(3), absl::Seconds(120));
  EXPECT_EQ(NoticeBackoff(8), absl::Hours(1));
  EXPECT_EQ(NoticeBackoff(30), absl::Hours(1));
}

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

Task TaskAt(Task::Status s, absl::Time created, absl::Time changed) {
  Task t;
  t.set_status(s);
  *t.mutable_create_time() = ToProtoTimestamp(created);
  *t.mutable_update_time() = ToProtoTimestamp(changed);
  if (s == Task::DONE) *t.mutable_completed_time() = ToProtoTimestamp(changed);
  return t;
}

TEST(CrmStatusTime, IsWhenTheCrmSetTheCurrentStatus) {
  EXPECT_EQ(CrmStatusTime(TaskAt(Task::DONE, kT0, kT0 + absl::Hours(1)), std::nullopt), kT0 + absl::Hours(1));
  EXPECT_EQ(CrmStatusTime(TaskAt(Task::CANCELLED, kT0, kT0 + absl::Hours(2)), std::nullopt), kT0 + absl::Hours(2));
  // An open task edited later (its title) still became open at its creation, or at its reopening.
  EXPECT_EQ(CrmStatusTime(TaskAt(Task::OPEN, kT0, kT0 + absl::Hours(3)), std::nullopt), kT0);
  EXPECT_EQ(CrmStatusTime(TaskAt(Task::OPEN, kT0, kT0 + absl::Hours(3)), kT0 + absl::Hours(1)), kT0 + absl::Hours(1));
}

TEST(DecideReport, TheFirstReportIsApplied) {
  const ReportDecision d = DecideReport({.reported = ErpTask::DONE, .change_time = kT0 + absl::Minutes(5),
                                         .crm_status = Task::OPEN, .crm_change_time = kT0});
  EXPECT_EQ(d.outcome, ErpTask::APPLIED);
  EXPECT_EQ(d.target, Task::DONE);
  EXPECT_TRUE(d.record_report);
  EXPECT_FALSE(d.conflict.has_value());
}

TEST(DecideReport, InProgressOfAnOpenTaskChangesNothing) {
  const ReportDecision d = DecideReport({.reported = ErpTask::IN_PROGRESS, .change_time = kT0 + absl::Minutes(5),
                                         .crm_status = Task::OPEN, .crm_change_time = kT0});
  EXPECT_EQ(d.outcome, ErpTask::UNCHANGED);
  EXPECT_TRUE(d.record_report);
  EXPECT_FALSE(d.conflict.has_value());
}

TEST(DecideReport, AnOlderReportThanTheLastTakenIsStale) {
  ReportInput in{.reported = ErpTask::IN_PROGRESS, .change_time = kT0 + absl::Minutes(1),
                 .last_status = ErpTask::DONE, .last_change_time = kT0 + absl::Minutes(2),
                 .crm_status = Task::DONE, .crm_change_time = kT0 + absl::Minutes(3)};
  ReportDecision d = DecideReport(in);
  EXPECT_EQ(d.outcome, ErpTask::STALE);
  EXPECT_EQ(d.conflict, ErpTaskConflict::ERP_STALE);
  EXPECT_FALSE(d.record_report);
  // The same report again is a repeat, not a conflict; the same time with another status is stale.
  in.reported = ErpTask::DONE;
  in.change_time = kT0 + absl::Minutes(2);
  d = DecideReport(in);
  EXPECT_EQ(d.outcome, ErpTask::UNCHANGED);
  EXPECT_FALSE(d.conflict.has_value());
  in.reported = ErpTask::CANCELLED;
  EXPECT_EQ(DecideReport(in).outcome, ErpTask::STALE);
}

TEST(DecideReport, TheCrmsLaterChangeWins) {
  // 1C says done at 10:05; a manager cancelled the task at 10:10 in the CRM.
  const ReportDecision d = DecideReport({.reported = ErpTask::DONE, .change_time = kT0 + absl::Minutes(5),
                                         .crm_status = Task::CANCELLED, .crm_changed = true,
                                         .crm_change_time = kT0 + absl::Minutes(10)});
  EXPECT_EQ(d.outcome, ErpTask::CRM_NEWER);
  EXPECT_EQ(d.conflict, ErpTaskConflict::CRM_WON);
  EXPECT_TRUE(d.record_report);  // 1C's state is known, even if not taken
  // At the very same time the CRM's stands (the first writer keeps it).
  EXPECT_EQ(DecideReport({.reported = ErpTask::DONE, .change_time = kT0, .crm_status = Task::CANCELLED,
                          .crm_changed = true, .crm_change_time = kT0})
                .outcome,
            ErpTask::CRM_NEWER);
}

TEST(DecideReport, OnesLaterChangeOverridesTheCrmsAndIsLogged) {
  // A manager completed it at 10:00; 1C's logist put it back in progress at 10:30: reopened.
  const ReportDecision d = DecideReport({.reported = ErpTask::IN_PROGRESS, .change_time = kT0 + absl::Minutes(30),
                                         .crm_status = Task::DONE, .crm_changed = true, .crm_change_time = kT0});
  EXPECT_EQ(d.outcome, ErpTask::APPLIED);
  EXPECT_EQ(d.target, Task::OPEN);
  EXPECT_EQ(d.conflict, ErpTaskConflict::ERP_WON);
}

TEST(DecideReport, AgreementIsNoConflict) {
  const ReportDecision d = DecideReport({.reported = ErpTask::DONE, .change_time = kT0, .crm_status = Task::DONE,
                                         .crm_changed = true, .crm_change_time = kT0 + absl::Minutes(1)});
  EXPECT_EQ(d.outcome, ErpTask::UNCHANGED);
  EXPECT_FALSE(d.conflict.has_value());
}

}  // namespace
}  // namespace crm::deals::erp
