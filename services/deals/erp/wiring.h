// File: services/deals/erp/wiring.h
// -----------------------------------------------------------------------------
// How the deals service hosts the 1C side (D17; services/deals/wiring.cc calls both): the migration
// component "erp" (after deals' own: it references deals, pipelines and tasks), ErpService and
// DocumentService on the deals server, the consumer of deals' task events that mirrors tasks to 1C, and
// the worker that mails signed documents to the accountant.
//
// Settings (CRM_DEALS_<NAME>, else CRM_<NAME>):
//   SMTP_URL              "smtp://host:25" or "smtps://host:465" for the accountant's e-mails; empty = none
//                         are sent (they wait in the queue, PENDING, until a server is configured)
//   SMTP_USERNAME / SMTP_PASSWORD / SMTP_STARTTLS   as robots' (libs/mail SmtpOptions)
//   MAIL_FROM             the sender when ErpSettings.mail_from is empty (default "CRM <crm@crm.local>")
//   PUBLIC_URL            where people reach the CRM: the e-mail links PUBLIC_URL/v1/deals/<id>
//   NOTICE_INTERVAL       how often the worker looks for due e-mails (default 1s)
//   KAFKA_BROKERS, CONSUMER_GROUP   the task mirror consumes crm.deals.task.v1 as group "<CONSUMER_GROUP>.erp"
//
// Example (services/deals/wiring.cc):
//   all.insert(all.end(), ErpMigrations().begin(), ErpMigrations().end());
//   CRM_RETURN_IF_ERROR(crm::deals::erp::WireErp(env, server, *pool));
#ifndef CRM_SERVICES_DEALS_ERP_WIRING_H_
#define CRM_SERVICES_DEALS_ERP_WIRING_H_

#include <vector>

#include "absl/status/status.h"
#include "libs/config/config.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/rpc/server.h"

namespace crm::deals::erp {

// The "erp" component.
const std::vector<crm::pg::Migration>& ErpMigrations();

// Adds ErpService and DocumentService over `pool` (which must outlive the server) to `server`, with the
// task mirror's consumer and the notice worker.
absl::Status WireErp(crm::config::Env& env, crm::rpc::Server& server, crm::pg::Pool& pool);

}  // namespace crm::deals::erp

#endif  // CRM_SERVICES_DEALS_ERP_WIRING_H_
