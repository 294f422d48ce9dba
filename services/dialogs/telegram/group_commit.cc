// File: services/dialogs/telegram/group_commit.cc
#include "services/dialogs/telegram/group_commit.h"

#include <pqxx/pqxx>

#include <algorithm>
#include <tuple>
#include <vector>

#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/pg/pool.h"
#include "services/dialogs/telegram/intake.h"

namespace crm::dialogs::telegram {

GroupCommit::GroupCommit(crm::pg::Pool& pool, crm::events::OutboxWriter& outbox, const crm::Clock& clock,
                         GroupCommitOptions options)
    : pool_(pool), outbox_(outbox), clock_(clock), options_(options) {}

GroupCommit::Arrival GroupCommit::Enter() {
  absl::MutexLock lock(&mu_);
  ++coming_;
  return Arrival(this);
}

GroupCommit::Stats GroupCommit::stats() {
  absl::MutexLock lock(&mu_);
  return stats_;
}

GroupCommit::Arrival::~Arrival() {
  if (group_ == nullptr) return;
  absl::MutexLock lock(&group_->mu_);
  --group_->coming_;
}

absl::StatusOr<bool> GroupCommit::Arrival::Store(std::string_view bot_id, const Update& update) {
  if (group_ == nullptr) return absl::FailedPreconditionError("an arrival stores once");
  GroupCommit* group = group_;
  group_ = nullptr;
  return group->Store(bot_id, update);
}

absl::StatusOr<bool> GroupCommit::Store(std::string_view bot_id, const Update& update) {
  Item item{.bot_id = std::string(bot_id), .update = &update};
  const size_t max_rows = static_cast<size_t>(std::max(1, options_.max_rows));
  struct Turn {  // our update is committed, or no batch is gathered nor committing and ours waits: we lead
    const Item* item;
    const bool* collecting;
    const int* committing;
    int most;
  } turn{&item, &collecting_, &committing_, std::max(1, options_.concurrent_batches)};
  struct Full {  // the batch is full, or no announced caller is still on its way
    const std::deque<Item*>* queue;
    const int* coming;
    size_t max_rows;
  } full{&queue_, &coming_, max_rows};
  absl::MutexLock lock(&mu_);
  --coming_;
  queue_.push_back(&item);
  while (true) {
    mu_.Await(absl::Condition(
        +[](Turn* t) { return t->item->done || (!t->item->taken && !*t->collecting && *t->committing < t->most); },
        &turn));
    if (item.done) return item.result;
    collecting_ = true;
    mu_.AwaitWithTimeout(
        absl::Condition(+[](Full* f) { return f->queue->size() >= f->max_rows || *f->coming == 0; }, &full),
        options_.window);
    std::deque<Item*> batch;
    while (!queue_.empty() && batch.size() < max_rows) {
      batch.push_back(queue_.front());
      batch.back()->taken = true;
      queue_.pop_front();
    }
    collecting_ = false;
    ++committing_;  // deliveries arriving meanwhile queue up: they are the next batch
    mu_.Unlock();
    Commit(batch);
    mu_.Lock();
    --committing_;
    for (Item* i : batch) i->done = true;
    ++stats_.batches;
    stats_.rows += static_cast<int64_t>(batch.size());
  }
}

void GroupCommit::Commit(std::deque<Item*>& batch) {
  std::vector<Item*> order(batch.begin(), batch.end());
  std::sort(order.begin(), order.end(), [](const Item* a, const Item* b) {
    return std::tie(a->bot_id, a->update->chat_id, a->update->update_id) <
           std::tie(b->bot_id, b->update->chat_id, b->update->update_id);
  });
  const absl::Time now = clock_.Now();
  std::vector<BotUpdate> updates;
  for (const Item* i : order) updates.push_back({i->bot_id, i->update});
  std::vector<bool> inserted;
  absl::Status s = crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    if (order.size() == 1) {  // the common case of a quiet bot: the one-row statement
      CRM_ASSIGN_OR_RETURN(bool fresh, StoreUpdate(tx, outbox_, order[0]->bot_id, *order[0]->update, now));
      inserted = {fresh};
      return absl::OkStatus();
    }
    CRM_ASSIGN_OR_RETURN(inserted, StoreUpdates(tx, outbox_, updates, now));
    return absl::OkStatus();
  });
  if (s.ok()) {
    for (size_t i = 0; i < order.size(); ++i) order[i]->result = static_cast<bool>(inserted[i]);
    return;
  }
  if (order.size() == 1) {
    order[0]->result = s;
    return;
  }
  for (Item* item : order) {  // one bad update never fails another
    bool fresh = false;
    absl::Status one = crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
      CRM_ASSIGN_OR_RETURN(fresh, StoreUpdate(tx, outbox_, item->bot_id, *item->update, now));
      return absl::OkStatus();
    });
    item->result = one.ok() ? absl::StatusOr<bool>(fresh) : absl::StatusOr<bool>(one);
  }
}

}  // namespace crm::dialogs::telegram
