#include "services/dialogs/telegram/workers.h"

#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/log/log.h"
#include "services/dialogs/telegram/bots.h"
#include "services/dialogs/telegram/poller.h"
#include "services/dialogs/telegram/sender.h"

namespace crm::dialogs::telegram {
namespace {

// pg_try_advisory_lock(kPollLockClass, hashtext(bot id)): one poller per bot.
constexpr int kPollLockClass = 0x7467'5002;

}  // namespace

struct Workers::PollThread {
  std::string bot_id;
  std::string token;
  std::atomic<bool> stop{false};
  std::thread thread;
};

Workers::Workers(BotStore& bots, Poller& poller, Sender& sender, WorkerOptions options)
    : bots_(bots), poller_(poller), sender_(sender), options_(std::move(options)) {
  supervisor_ = std::thread([this] { Supervise(); });
  sender_thread_ = std::thread([this] { SendLoop(); });
}

Workers::~Workers() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  supervisor_.join();
  sender_thread_.join();
  for (auto& [id, t] : polls_) t->stop = true;
  for (auto& [id, t] : polls_) t->thread.join();
}

bool Workers::Wait(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
  return !stopping_;
}

void Workers::Supervise() {
  do {
    absl::StatusOr<std::vector<BotRuntime>> bots = bots_.Runtimes();
    if (!bots.ok()) {
      crm::log::Warn("telegram bots not read", {{"error", std::string(bots.status().message())}});
      continue;
    }
    std::vector<std::string> ids;
    absl::flat_hash_map<std::string, bool> polling;
    for (const BotRuntime& b : *bots) {
      ids.push_back(b.id);
      if (absl::Status s = bots_.Register(b.id); !s.ok()) {
        crm::log::Warn("telegram intake not registered", {{"bot_id", b.id}, {"error", std::string(s.message())}});
      }
      if (b.mode != crm::dialogs::v1::INTAKE_MODE_POLLING) continue;
      polling[b.id] = true;
      auto it = polls_.find(b.id);
      if (it != polls_.end() && it->second->token == b.token) continue;
      if (it != polls_.end()) {  // a new token: a new poller
        it->second->stop = true;
        it->second->thread.join();
        polls_.erase(it);
      }
      auto t = std::make_unique<PollThread>();
      t->bot_id = b.id;
      t->token = b.token;
      PollThread* raw = t.get();
      t->thread = std::thread([this, raw] { PollLoop(raw); });
      polls_.emplace(b.id, std::move(t));
    }
    for (auto it = polls_.begin(); it != polls_.end();) {
      if (polling.contains(it->first)) {
        ++it;
        continue;
      }
      it->second->stop = true;
      it->second->thread.join();
      polls_.erase(it++);
    }
    absl::MutexLock lock(&mu_);
    bot_ids_ = std::move(ids);
  } while (Wait(options_.refresh));
}

void Workers::PollLoop(PollThread* t) {
  while (!t->stop && Wait(absl::ZeroDuration())) {
    try {
      pqxx::connection conn(options_.dsn);
      bool leader = false;
      {
        pqxx::nontransaction q(conn);
        leader = q.exec_params1("SELECT pg_try_advisory_lock($1, hashtext($2))", kPollLockClass, t->bot_id)[0]
                     .as<bool>();
      }
      if (!leader) {
        (void)Wait(options_.refresh);  // another replica polls this bot
        continue;
      }
      while (!t->stop && Wait(absl::ZeroDuration()) && conn.is_open()) {
        absl::StatusOr<PollResult> r = poller_.PollOnce(t->bot_id, t->token, options_.poll_timeout);
        if (!r.ok()) {
          crm::log::Warn("telegram getUpdates failed", {{"bot_id", t->bot_id}, {"error", std::string(r.status().message())}});
          (void)Wait(absl::Seconds(1));
        }
      }
    } catch (const std::exception& e) {
      crm::log::Warn("telegram poller's connection failed", {{"bot_id", t->bot_id}, {"error", e.what()}});
      (void)Wait(absl::Seconds(1));
    }
  }
}

void Workers::SendLoop() {
  do {
    std::vector<std::string> ids;
    {
      absl::MutexLock lock(&mu_);
      ids = bot_ids_;
    }
    absl::Time next = absl::Now() + options_.send_poll;
    for (const std::string& id : ids) {
      absl::StatusOr<absl::Time> due = sender_.SendDue(id);
      if (!due.ok()) {
        crm::log::Warn("telegram sender pass failed", {{"bot_id", id}, {"error", std::string(due.status().message())}});
        continue;
      }
      next = std::min(next, *due);
    }
    const absl::Duration wait = next - absl::Now();
    if (wait <= absl::ZeroDuration()) continue;
    if (!Wait(wait)) break;
  } while (Wait(absl::ZeroDuration()));
}

}  // namespace crm::dialogs::telegram
