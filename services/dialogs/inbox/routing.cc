// File: services/dialogs/inbox/routing.cc
#include "services/dialogs/inbox/routing.h"

#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>

#include "libs/base/time.h"
#include "libs/pg/prepared.h"
#include "services/dialogs/inbox/sql.h"
#include "services/dialogs/routing/router.h"

namespace crm::dialogs::inbox {
namespace {

std::atomic<const routing::Router*> g_router{nullptr};

}  // namespace

void SetRouter(const routing::Router* router) { g_router.store(router); }

absl::Status Distribute(pqxx::transaction_base& tx, const crm::dialogs::v1::Dialog& dialog, absl::Time not_before,
                        absl::Time now) {
  if (dialog.closed()) return absl::OkStatus();
  if (const routing::Router* router = g_router.load()) {
    return router->Distribute(tx, dialog.id(), not_before, now).status();
  }
  crm::pg::ExecPrepared(tx, sql::kQueue, dialog.id(), FormatRfc3339Utc(std::max(now, not_before)),
                        FormatRfc3339Utc(now));
  return absl::OkStatus();
}

absl::Status OnTaken(pqxx::transaction_base& tx, const crm::dialogs::v1::Dialog& dialog, std::string_view user_id,
                     absl::Time now) {
  const routing::Router* router = g_router.load();
  if (router == nullptr) return absl::OkStatus();
  return router->Assigned(tx, dialog.id(), dialog.bot_id(), routing::kTaken, "", user_id, user_id, now);
}

absl::Status OnOperatorReply(pqxx::transaction_base& tx, std::string_view dialog_id, std::string_view user_id,
                             absl::Time now) {
  const routing::Router* router = g_router.load();
  if (router == nullptr || user_id.empty()) return absl::OkStatus();
  return router->OnOperatorReply(tx, dialog_id, user_id, now);
}

absl::Status OnDone(pqxx::transaction_base& tx, const crm::dialogs::v1::Dialog& dialog, absl::Time now) {
  const routing::Router* router = g_router.load();
  if (router == nullptr) return absl::OkStatus();
  return router->OfferBot(tx, dialog.bot_id(), now).status();
}

}  // namespace crm::dialogs::inbox
