// File: services/deals/wiring.cc
#include "services/deals/wiring.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>
#include <pqxx/pqxx>
#include <thread>
#include "libs/base/periodic.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/config/config.h"
#include "libs/events/consumer.h"
#include "libs/events/relay.h"
#include "libs/events/schema.h"
#include "libs/log/log.h"
#include "libs/pg/migrations.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/rpc/server.h"
#include "services/deals/clients.h"
#include "services/deals/deals.h"
#include "services/deals/listing.h"
#include "services/deals/demo.h"
#include "services/deals/erp/wiring.h"
#include "services/deals/interactions/wiring.h"
#include "services/deals/orders.h"
#include "services/deals/payments.h"
#include "services/deals/pipelines.h"
#include "services/deals/products.h"
#include "services/deals/tasks.h"
#include "services/deals/timeline.h"
#include "services/deals/users.h"
#include "services/deals/realty/wiring.h"
#include "services/deals/applications/wiring.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::deals {

std::vector<crm::pg::Migration> AllMigrations() {
  std::vector<crm::pg::Migration> all = crm::EventsMigrations();
  all.insert(all.end(), crm::DealsMigrations().begin(), crm::DealsMigrations().end());
  all.insert(all.end(), crm::RealtyMigrations().begin(), crm::RealtyMigrations().end());
  // Issue 17: client requests (D15) and interactions (D16), components of their own after deals'.
  const std::vector<crm::pg::Migration>& interactions = crm::deals::interactions::InteractionsMigrations();
  all.insert(all.end(), interactions.begin(), interactions.end());
  // Issue 17: the 1C side (D17), a component of its own after deals'.
  all.insert(all.end(), crm::deals::erp::ErpMigrations().begin(), crm::deals::erp::ErpMigrations().end());
  // Issue 17: deal applications (D15 second half), after realty's and requests' tables they point at.
  all.insert(all.end(), crm::ApplicationsMigrations().begin(), crm::ApplicationsMigrations().end());
  return all;
}

absl::Status Wire(crm::config::Env& env, crm::rpc::Server& server) {
  const std::string dsn = env.String("PG_DSN", kDefaultDsn);
  const int pool_size = static_cast<int>(env.Int("PG_POOL_SIZE", 16, 1, 256));
  const bool relay_enabled = env.Bool("OUTBOX_RELAY", true);
  const std::string brokers = env.String("KAFKA_BROKERS", "localhost:9092");
  // The Kafka consumer group of this deployment's replicas (one group per deployment).
  const std::string consumer_group = env.String("CONSUMER_GROUP", "deals");
  // Comment attachments (D10): content-addressed files under this directory.
  const std::string blob_dir = env.String("BLOB_DIR", "/var/lib/crm/deals/blobs");
  // Payments (D7): due days and "overdue" are in the company's time zone.
  const std::string time_zone = env.String("TIME_ZONE", crm::deals::kDefaultPaymentTimeZone);
  // Overdue task events (tasks.h): a scan every this many ms on a thread of its own; 0 = none here.
  const int64_t overdue_scan_ms = env.Int("OVERDUE_SCAN_INTERVAL_MS", 30000, 0, 86'400'000);
  crm::events::RelayOptions relay_options = crm::events::RelayOptionsFromEnv(env, dsn);
  if (!env.status().ok()) return absl::OkStatus();  // RunService reports env.status() and exits 2

  CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::pg::Pool> pool,
                       crm::pg::MigrateAndOpen(AllMigrations(),
                           {.dsn = dsn, .size = pool_size, .application_name = "deals"}));
  auto* p = server.Own(std::move(pool));
  auto* pipelines = server.Own(std::make_unique<crm::deals::PipelineStore>(*p, crm::SystemClock()));
  auto* deals = server.Own(std::make_unique<crm::deals::DealStore>(*p, crm::SystemClock()));
  server.AddService(server.Own(std::make_unique<crm::deals::PipelineServiceImpl>(pipelines)));
  server.AddService(server.Own(std::make_unique<crm::deals::DealServiceImpl>(*deals)));
  auto* clients = server.Own(std::make_unique<crm::deals::ClientStore>(*p, crm::SystemClock()));
  server.AddService(server.Own(std::make_unique<crm::deals::ClientServiceImpl>(*clients)));
  auto* tasks = server.Own(std::make_unique<crm::deals::TaskStore>(*p, crm::SystemClock()));
  server.AddService(server.Own(std::make_unique<crm::deals::TaskServiceImpl>(*tasks)));
  // Idempotency records past their 24 hours (libs/pg/idempotency.h), hourly on every replica.
  server.Own(crm::pg::HourlyIdempotencyPurge(*p, crm::SystemClock()));
  // The board totals' deltas into the totals (listing.h), every second on every replica.
  server.Own(std::make_unique<crm::Periodic>(absl::Seconds(1), [p] {
    if (absl::StatusOr<int64_t> moved = crm::deals::FoldStageTotals(*p); !moved.ok()) {
      crm::log::Warn("cannot fold the board totals", {{"error", moved.status()}});
    }
  }));
  if (overdue_scan_ms > 0) {
    server.Own(std::make_unique<crm::deals::OverdueReporter>(*tasks, absl::Milliseconds(overdue_scan_ms)));
  }
  auto* blobs = server.Own(
      std::make_unique<crm::deals::LocalDirBlobStore>(blob_dir, crm::deals::kMaxAttachmentBytes));
  auto* timeline = server.Own(std::make_unique<crm::deals::TimelineStore>(*p, crm::SystemClock(), *blobs));
  server.AddService(server.Own(std::make_unique<crm::deals::TimelineServiceImpl>(*timeline)));
  // Products and the catalogue (D6), payments (D7), orders (D8): commerce.proto.
  CRM_ASSIGN_OR_RETURN(absl::TimeZone payment_zone, crm::LoadTimeZone(time_zone));
  auto* catalog = server.Own(std::make_unique<crm::deals::CatalogStore>(*p, crm::SystemClock()));
  server.AddService(server.Own(std::make_unique<crm::deals::CatalogServiceImpl>(*catalog)));
  auto* deal_products = server.Own(std::make_unique<crm::deals::DealProductStore>(*p, crm::SystemClock()));
  server.AddService(server.Own(std::make_unique<crm::deals::DealProductServiceImpl>(*deal_products)));
  auto* payments =
      server.Own(std::make_unique<crm::deals::PaymentStore>(*p, crm::SystemClock(), *deals, payment_zone));
  server.AddService(server.Own(std::make_unique<crm::deals::PaymentServiceImpl>(*payments)));
  auto* orders = server.Own(std::make_unique<crm::deals::OrderStore>(*p, crm::SystemClock()));
  server.AddService(server.Own(std::make_unique<crm::deals::OrderServiceImpl>(*orders)));
  // Real estate (D14): inventory, chessboard, matching, bookings (services/deals/realty/wiring.h).
  CRM_RETURN_IF_ERROR(crm::deals::realty::WireRealty(env, server, *p));
  // Interactions (D16) and client requests (D15): services/deals/interactions.
  CRM_RETURN_IF_ERROR(crm::deals::interactions::WireInteractions(env, server, *p));
  // The 1C side (D17): services/deals/erp.
  CRM_RETURN_IF_ERROR(crm::deals::erp::WireErp(env, server, *p));
  // Deal applications (D15 second half): services/deals/applications.
  CRM_RETURN_IF_ERROR(crm::deals::applications::WireApplications(env, server, *p));
  // identity's users, for access by team (users.h).
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::events::Consumer> users,
                       crm::events::Consumer::Create(
                           {.brokers = brokers, .group_id = consumer_group, .topics = {crm::deals::kUserTopic}}, *p,
                           crm::deals::ApplyUserEvent));
  server.Own(std::make_unique<crm::events::ConsumerThread>(std::move(users)));
  if (relay_enabled) {
    CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::events::Relay> relay, crm::events::Relay::Create(relay_options));
    server.Own(std::move(relay))->Start();
  }
  return absl::OkStatus();
}

}  // namespace crm::deals
