// File: services/deals/erp/wiring.cc
#include "services/deals/erp/wiring.h"

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/events/consumer.h"
#include "libs/log/log.h"
#include "libs/mail/mail.h"
#include "services/deals/erp/catalog_sync.h"
#include "services/deals/erp/document_store.h"
#include "services/deals/erp/notices.h"
#include "services/deals/erp/proposal_store.h"
#include "services/deals/erp/service.h"
#include "services/deals/erp/settings_store.h"
#include "services/deals/erp/task_mirror.h"

namespace crm {
const std::vector<crm::pg::Migration>& ErpComponentMigrations();
}  // namespace crm

namespace crm::deals::erp {

const std::vector<crm::pg::Migration>& ErpMigrations() { return crm::ErpComponentMigrations(); }

absl::Status WireErp(crm::config::Env& env, crm::rpc::Server& server, crm::pg::Pool& pool) {
  const std::string smtp_url = env.String("SMTP_URL", "");
  const std::string smtp_user = env.String("SMTP_USERNAME", "");
  const std::string smtp_password = env.String("SMTP_PASSWORD", "");
  const bool smtp_starttls = env.Bool("SMTP_STARTTLS", false);
  const std::string mail_from = env.String("MAIL_FROM", "CRM <crm@crm.local>");
  std::string public_url = env.String("PUBLIC_URL", "http://127.0.0.1:8080");
  const absl::Duration notice_interval = env.Duration("NOTICE_INTERVAL", absl::Seconds(1));
  const std::string brokers = env.String("KAFKA_BROKERS", "localhost:9092");
  const std::string consumer_group = env.String("CONSUMER_GROUP", "deals");
  if (!env.status().ok()) return absl::OkStatus();  // RunService reports env.status()
  while (!public_url.empty() && public_url.back() == '/') public_url.pop_back();

  const Clock& clock = crm::SystemClock();
  auto* settings = server.Own(std::make_unique<SettingsStore>(pool, clock));
  auto* catalog = server.Own(std::make_unique<CatalogSync>(pool, clock));
  auto* proposals = server.Own(std::make_unique<ProposalStore>(pool, clock));
  auto* tasks = server.Own(std::make_unique<TaskMirror>(pool, clock));
  auto* documents = server.Own(
      std::make_unique<DocumentStore>(pool, clock, DocumentOptions{.deal_url_prefix = public_url + "/v1/deals/"}));
  server.AddService(server.Own(std::make_unique<ErpServiceImpl>(*settings, *catalog, *proposals, *tasks)));
  server.AddService(server.Own(std::make_unique<DocumentServiceImpl>(*documents)));

  // Tasks of the directions 1C manages, published for it (task_mirror.h).
  CRM_ASSIGN_OR_RETURN(
      std::unique_ptr<crm::events::Consumer> mirror,
      crm::events::Consumer::Create(
          {.brokers = brokers, .group_id = absl::StrCat(consumer_group, ".erp"), .topics = {kTaskTopic}}, pool,
          [tasks](pqxx::transaction_base& tx, const crm::events::ConsumedEvent& e) {
            return tasks->ApplyTaskEvent(tx, e);
          }));
  server.Own(std::make_unique<crm::events::ConsumerThread>(std::move(mirror)));

  // The accountant's e-mails (notices.h).
  if (smtp_url.empty()) {
    crm::log::Warn("deals: no SMTP_URL: signed documents' e-mails to the accountant wait in the queue");
    return absl::OkStatus();
  }
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::mail::SmtpMailer> mailer,
                       crm::mail::SmtpMailer::Create({.url = smtp_url,
                                                      .username = smtp_user,
                                                      .password = smtp_password,
                                                      .starttls = smtp_starttls}));
  auto* m = server.Own(std::move(mailer));
  auto* sender = server.Own(std::make_unique<NoticeSender>(pool, clock, *m, NoticeOptions{.default_from = mail_from}));
  server.Own(std::make_unique<NoticeWorker>(*sender, notice_interval));
  return absl::OkStatus();
}

}  // namespace crm::deals::erp
