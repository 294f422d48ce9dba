// crm-dialogs-bench: the Telegram part of dialogs (issue 18, T1), next to baselines measured in the same run.
//
//   tools/crm bench dialogs [--updates N] [--chats N] [--workers N] [--rounds N] [--messages N] [--send-chats N]
//                           [--group-messages N] [--batches N] [--batch-rows N]
//                           (a throwaway PostgreSQL comes from tools/crm: CRM_TEST_PG_DSN)
//
// Measured:
//   intake   Webhook updates stored per second at two concurrencies (or --workers alone): 2 deliveries at
//            once, and 40 — Telegram's deliveries to a webhook at once (setWebhook's max_connections, which
//            dialogs registers as 40). Each thread calls WebhookIntake::Receive(hook, secret, body) for its share of --updates
//            updates (default 20 000) in --chats chats (default 200): the bot looked up by its hook, the secret
//            opened and compared in constant time, the body parsed, the update inserted ON CONFLICT DO
//            NOTHING and the outbox event written — concurrent deliveries in one
//            transaction (group commit: --batches batches at once, default 2, of at most --batch-rows, default
//            64; --batch-rows 1 --batches 8 is one transaction per update) — everything but gRPC and HTTP.
//   raw      The same rows by the same number of threads as a bare `INSERT INTO tg_updates` per transaction
//            (another bot, so nothing conflicts): the floor. Target intake / raw >= 0.5. The two run
//            interleaved in --rounds rounds (default 5) of a fifth of the rows each, so the load of the
//            machine's other work falls on both alike.
//   sender   The sender (sender.h) on the wall clock against the fake Bot API (tests/fakes/telegram_bot_api.py)
//            with Telegram's limits (30/s per bot, 1/s per chat, 20/min per group): a backlog of --messages
//            (default 600) in --send-chats private chats (default 100) plus --group-messages (default 12) to
//            one group, drained by a loop that sleeps until the next due time (as the service's worker).
//            Reported from the fake's own arrival times: the largest count in any 1 s window for the bot and
//            for a chat, in any 60 s window for the group, and the achieved rate against 30/s while the
//            private backlog lasts (the bot's limit is what binds: 100 chats could take 100/s): sends come a
//            window's worth at a time, so rate = (N - 30) / (time of the (N-30)th send - time of the first).
//            Targets: never above; >= 95 %.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/base/clock.h"
#include "libs/events/outbox.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/timers/timers.h"
#include "services/dialogs/telegram/bot_api.h"
#include "services/dialogs/telegram/bots.h"
#include "services/dialogs/telegram/intake.h"
#include "services/dialogs/telegram/outgoing.h"
#include "services/dialogs/telegram/secrets.h"
#include "services/dialogs/telegram/sender.h"
#include "services/dialogs/telegram/wire.h"

namespace {

namespace tg = crm::dialogs::telegram;
using SteadyClock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "crm-dialogs-bench: %s\n", msg.c_str());
  std::exit(1);
}

int Flag(int argc, char** argv, const char* name, int def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == name) return std::atoi(argv[i + 1]);
  }
  return def;
}

double Seconds(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string TextUpdate(int64_t update_id, int64_t chat_id) {
  return absl::StrCat(R"({"update_id":)", update_id, R"(,"message":{"message_id":)", update_id,
                      R"(,"date":1700000000,"from":{"id":)", chat_id, R"(,"is_bot":false,"first_name":"Клиент"},)",
                      R"("chat":{"id":)", chat_id, R"(,"type":"private"},"text":"Здравствуйте! Интересует квартира"}})");
}

size_t CurlWrite(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

std::string Get(const std::string& url) {
  CURL* c = curl_easy_init();
  std::string out;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &CurlWrite);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
  if (curl_easy_perform(c) != CURLE_OK) Die("GET " + url + " failed");
  curl_easy_cleanup(c);
  return out;
}

// The fake Bot API as a child process; its URL.
struct Fake {
  pid_t pid = 0;
  std::string url;
  ~Fake() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

void StartFake(Fake& fake) {
  int fds[2];
  if (pipe(fds) != 0) Die("pipe failed");
  fake.pid = fork();
  if (fake.pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    execl("/usr/bin/python3", "python3", CRM_TELEGRAM_FAKE, "--port", "0", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string line;
  char ch;
  while (read(fds[0], &ch, 1) == 1 && ch != '\n') line += ch;
  close(fds[0]);
  const size_t colon = line.rfind(':');
  if (colon == std::string::npos) Die("the fake Bot API did not start: " + line);
  fake.url = "http://127.0.0.1:" + line.substr(colon + 1);
}

int MaxInWindow(std::vector<double> times, double width) {
  std::sort(times.begin(), times.end());
  int best = 0;
  size_t j = 0;
  for (size_t i = 0; i < times.size(); ++i) {
    while (times[j] <= times[i] - width) ++j;
    best = std::max(best, static_cast<int>(i - j + 1));
  }
  return best;
}

// Telegram's deliveries to a webhook at once: setWebhook's max_connections, 40 by default, as dialogs
// registers it (TELEGRAM_MAX_CONNECTIONS).
constexpr int kTelegramConnections = 40;

}  // namespace

int main(int argc, char** argv) {
  // As every service does (libs/rpc/server.cc): the deadlock detector's bookkeeping on every lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const int updates = Flag(argc, argv, "--updates", 20000);
  const int chats = Flag(argc, argv, "--chats", 200);
  const int messages = Flag(argc, argv, "--messages", 600);
  const int send_chats = Flag(argc, argv, "--send-chats", 100);
  const int group_messages = Flag(argc, argv, "--group-messages", 12);

  auto db = crm::pg::testing::TempDatabase::Create("dialogs_bench");
  if (!db.ok()) Die(std::string(db.status().message()));
  std::vector<crm::pg::Migration> all = crm::EventsMigrations();
  all.insert(all.end(), crm::TimersMigrations().begin(), crm::TimersMigrations().end());
  all.insert(all.end(), crm::TelegramMigrations().begin(), crm::TelegramMigrations().end());
  if (auto m = crm::pg::Migrate((*db)->dsn(), all); !m.ok()) Die(std::string(m.status().message()));
  auto pool = crm::pg::Pool::Create({.dsn = (*db)->dsn(), .size = kTelegramConnections + 2});
  if (!pool.ok()) Die(std::string(pool.status().message()));

  Fake fake;
  StartFake(fake);
  const crm::Clock& clock = crm::SystemClock();
  tg::SecretBox box("bench key");
  tg::BotApi api({.base_url = fake.url});
  tg::BotStore bots(**pool, api, box, clock, {.public_url = "https://crm.example.test"});
  crm::common::v1::Principal admin;
  admin.set_kind(crm::common::v1::Principal::KIND_USER);
  admin.add_permissions(tg::kAdminPermission);
  auto make_bot = [&](const std::string& token) {
    crm::dialogs::v1::CreateBotRequest req;
    req.mutable_bot()->set_name("Бот " + token.substr(0, 6));
    req.mutable_bot()->set_intake_mode(crm::dialogs::v1::INTAKE_MODE_POLLING);
    req.set_token(token);
    auto bot = bots.Create(admin, req, "");
    if (!bot.ok()) Die(std::string(bot.status().message()));
    return bot->id();
  };
  const std::string token = "6100001:AAbenchTOKENbench";
  const std::string bot_id = make_bot(token);
  const std::string raw_bot_id = make_bot("6100002:AArawTOKENraw");
  std::string hook, secret;
  {
    pqxx::connection c((*db)->dsn());
    pqxx::work tx(c);
    pqxx::row r = tx.exec_params1("SELECT hook, secret_sealed FROM tg_bots WHERE id = $1::uuid", bot_id);
    hook = r[0].as<std::string>();
    secret = *box.Open("tg_bots.secret/" + bot_id, r[1].as<std::string>());
  }
  // --- intake and raw, interleaved in rounds: the machine's other load falls on both alike --------------
  crm::events::OutboxWriter outbox("dialogs", clock);
  tg::GroupCommitOptions group_commit;
  group_commit.concurrent_batches = Flag(argc, argv, "--batches", group_commit.concurrent_batches);
  group_commit.max_rows = Flag(argc, argv, "--batch-rows", group_commit.max_rows);  // 1: no group commit
  const int rounds = std::max(1, Flag(argc, argv, "--rounds", 5));
  std::vector<int> concurrency = {2, kTelegramConnections};
  if (const int w = Flag(argc, argv, "--workers", 0); w > 0) concurrency = {w};
  int64_t first_id = 500000000;
  for (const int workers : concurrency) {
    std::vector<std::string> bodies;
    bodies.reserve(updates);
    for (int i = 0; i < updates; ++i) bodies.push_back(TextUpdate(first_id + i, 800000 + i % chats));
    tg::WebhookIntake intake(**pool, outbox, box, clock, group_commit);
    std::atomic<int> failures{0};
    std::vector<std::unique_ptr<pqxx::connection>> raw_conns;
    for (int w = 0; w < workers; ++w) {
      raw_conns.push_back(std::make_unique<pqxx::connection>((*db)->dsn()));
      raw_conns.back()->prepare("raw", "INSERT INTO tg_updates (bot_id, update_id, chat_id, payload, received_at) "
                                       "VALUES ($1::uuid, $2, $3, $4::jsonb, now())");
    }
    double intake_s = 0;
    double raw_s = 0;
    for (int round = 0; round < rounds; ++round) {
      const int from = updates * round / rounds;
      const int to = updates * (round + 1) / rounds;
      auto t0 = SteadyClock::now();
      {
        std::vector<std::thread> ts;
        for (int w = 0; w < workers; ++w) {
          ts.emplace_back([&, w] {
            for (int i = from + w; i < to; i += workers) {
              auto r = intake.Receive(hook, secret, bodies[i]);
              if (!r.ok() || !*r) failures++;
            }
          });
        }
        for (auto& t : ts) t.join();
      }
      intake_s += Seconds(t0, SteadyClock::now());
      t0 = SteadyClock::now();
      {
        std::vector<std::thread> ts;
        for (int w = 0; w < workers; ++w) {
          ts.emplace_back([&, w] {
            pqxx::connection& c = *raw_conns[w];
            for (int i = from + w; i < to; i += workers) {
              pqxx::work tx(c);
              tx.exec_prepared("raw", raw_bot_id, first_id + i, 800000 + i % chats, bodies[i]);
              tx.commit();
            }
          });
        }
        for (auto& t : ts) t.join();
      }
      raw_s += Seconds(t0, SteadyClock::now());
    }
    if (failures > 0) Die(absl::StrCat(failures.load(), " updates not stored"));
    first_id += updates;
    const double intake_rate = updates / intake_s;
    const double raw_rate = updates / raw_s;
    std::printf("intake  %d webhook updates in %d chats, %d deliveries at once: %.0f updates/s stored (%.3f s)\n",
                updates, chats, workers, intake_rate, intake_s);
    std::printf("raw     the same rows, bare INSERT per transaction: %.0f rows/s (%.3f s)\n", raw_rate, raw_s);
    std::printf("ratio   intake / raw = %.2f (target >= 0.5)\n", intake_rate / raw_rate);
    const tg::GroupCommit::Stats gc = intake.group_commit_stats();
    std::printf("group   %lld transactions for %lld updates: %.2f updates per commit\n",
                static_cast<long long>(gc.batches), static_cast<long long>(gc.rows),
                gc.batches > 0 ? static_cast<double>(gc.rows) / static_cast<double>(gc.batches) : 0.0);
  }

  // --- sender ---------------------------------------------------------------------------------------
  tg::Outgoing outgoing(outbox, clock);
  tg::Sender sender(**pool, api, box, outgoing, tg::SenderLimits{});
  constexpr int64_t kGroup = -1001000000077;
  {
    auto s = crm::pg::InTransaction(**pool, [&](pqxx::work& tx) -> absl::Status {
      for (int i = 0; i < messages; ++i) {
        auto id = outgoing.Enqueue(tx, {.bot_id = bot_id, .chat_id = 900000 + i % send_chats,
                                        .text = absl::StrCat("Ответ оператора №", i)});
        if (!id.ok()) return id.status();
      }
      for (int i = 0; i < group_messages; ++i) {
        auto id = outgoing.Enqueue(tx, {.bot_id = bot_id, .chat_id = kGroup, .text = absl::StrCat("В группу №", i)});
        if (!id.ok()) return id.status();
      }
      return absl::OkStatus();
    });
    if (!s.ok()) Die(std::string(s.message()));
  }
  auto t0 = SteadyClock::now();
  for (;;) {
    auto next = sender.SendDue(bot_id);
    if (!next.ok()) Die(std::string(next.status().message()));
    if (*next == absl::InfiniteFuture()) break;
    const absl::Duration wait = *next - absl::Now();
    if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
  }
  const double send_s = Seconds(t0, SteadyClock::now());
  nlohmann::json sent = nlohmann::json::parse(Get(absl::StrCat(fake.url, "/_fake/bot", token, "/sent")));
  std::vector<double> all_times;
  std::map<int64_t, std::vector<double>> by_chat;
  int refused = 0;
  for (const auto& s : sent) {
    if (!s["ok"].get<bool>()) {
      ++refused;
      continue;
    }
    all_times.push_back(s["time"].get<double>());
    by_chat[s["chat_id"].get<int64_t>()].push_back(s["time"].get<double>());
  }
  int max_chat = 0;
  double min_chat_gap = 1e9;
  for (auto& [chat, times] : by_chat) {
    if (chat < 0) continue;
    max_chat = std::max(max_chat, MaxInWindow(times, 1.0));
    std::sort(times.begin(), times.end());
    for (size_t i = 1; i < times.size(); ++i) min_chat_gap = std::min(min_chat_gap, times[i] - times[i - 1]);
  }
  const int max_group = by_chat.contains(kGroup) ? MaxInWindow(by_chat[kGroup], 60.0) : 0;
  const int max_bot = MaxInWindow(all_times, 1.0);
  // The bot's limit binds while the private backlog lasts (more than 30 chats have a message due): the
  // achieved rate is over the private messages, first to last; the group's, paced at 3 s, go on after.
  std::vector<double> private_times;
  for (const auto& [chat, times] : by_chat) {
    if (chat > 0) private_times.insert(private_times.end(), times.begin(), times.end());
  }
  std::sort(private_times.begin(), private_times.end());
  const int n = static_cast<int>(all_times.size());
  const int np = static_cast<int>(private_times.size());
  // Sends come in windows (30 at once, then the next 30 a window later): the rate is the sends of all but
  // the last window over the time from the first send to the last window's first.
  const double span = np > 30 ? private_times[np - 30] - private_times[0] : 0;
  const double achieved = span > 0 ? (np - 30) / span : 0;
  std::printf("sender  %d messages (%d chats + %d to a group) sent in %.2f s, %d refused\n", n, send_chats,
              group_messages, send_s, refused);
  std::printf("        per bot: max %d in any 1 s (limit 30); achieved %.2f msg/s = %.1f %% of 30/s (target >= 95 %%)\n",
              max_bot, achieved, 100.0 * achieved / 30.0);
  std::printf("        per chat: max %d in any 1 s (limit 1), smallest gap %.3f s; group: max %d in any 60 s (limit 20)\n",
              max_chat, min_chat_gap, max_group);
  return 0;
}
