// crm-suite-bench, part 8: Telegram's webhook deliveries through the gateway into dialogs (issue 18: T1,
// G3), against the suite as `tools/crm up` runs it (durable commits, the relay, the inbox's workers).
//
// A webhook bot of its own is created through the gateway (BotService.CreateBot, as the administrator);
// dialogs registers it at the fake Bot API (setWebhook with secret_token and max_connections), whose
// control API tells the bench the secret and the concurrency Telegram would use. Then, for 1 client and
// for max_connections clients (Telegram's concurrent deliveries, 40 by default), each a keep-alive
// connection: POST /v1/telegram/hooks/<hook> with X-Telegram-Bot-Api-Secret-Token and a text update in
// one of --chats private chats, for --seconds — next to a raw durable transaction inserting the same
// update row into a copy of tg_updates (LIKE … INCLUDING ALL) at the same concurrency. Between runs the
// bench waits until the inbox processed every update (none left unprocessed) and reports how long that
// took: intake and processing are separate figures, as Telegram only waits for the first.
#include <pqxx/pqxx>

#include <atomic>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tools/bench/suite.h"

namespace crm::bench {
namespace {

constexpr int kChats = 200;

std::string Update(int64_t update_id, int64_t chat_id) {
  return absl::StrCat(R"({"update_id":)", update_id, R"(,"message":{"message_id":)", update_id,
                      R"(,"date":1700000000,"from":{"id":)", chat_id, R"(,"is_bot":false,"first_name":"Клиент"},)",
                      R"("chat":{"id":)", chat_id, R"(,"type":"private"},"text":"Здравствуйте! Интересует квартира"}})");
}

nlohmann::json FakeState(const Options& o, const std::string& token) {
  HttpClient fake(o.telegram_port, "");
  std::string reply;
  const int status = fake.Exchange(
      absl::StrCat("GET /_fake/bot", token, "/state HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), &reply);
  if (status != 200) Die(absl::StrCat("the fake Bot API's state: ", status, " ", reply));
  return nlohmann::json::parse(reply);
}

// Seconds until no update of the bench's bot waits (the inbox handled every stored update).
double WaitForInbox(pqxx::connection& c, const std::string& bot_id) {
  const auto start = Clock::now();
  for (;;) {
    pqxx::work tx(c);
    const int64_t pending = tx.exec_params1("SELECT count(*) FROM tg_updates WHERE processed_at IS NULL "
                                            "AND bot_id = $1::uuid", bot_id)[0].as<int64_t>();
    tx.commit();
    const double waited = std::chrono::duration<double>(Clock::now() - start).count();
    if (pending == 0) return waited;
    if (waited > 600) Die(absl::StrCat(pending, " updates still waiting after 10 minutes"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

void Dialogs(const Options& o, const std::vector<Process>& procs) {
  // `up` signed the administrator in with the current TOTP code, which identity takes once: the next one.
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  absl::SleepFor(absl::Seconds(30 - now % 30 + 1));
  const Person admin = SignIn(o, "administrator", "admin");
  const std::string token = absl::StrCat(absl::ToUnixSeconds(absl::Now()), ":AAsuiteBenchWebhook");
  std::string bot_id, hook;
  {
    HttpClient http(o.gateway_port, "");
    nlohmann::json body{{"bot", {{"name", "Бенч: вебхук"}, {"intakeMode", "INTAKE_MODE_WEBHOOK"}}}, {"token", token}};
    std::string reply;
    const int status = http.Exchange(Post("/v1/dialogs/bots", admin.token, body.dump()), &reply);
    if (status != 200) Die(absl::StrCat("POST /v1/dialogs/bots: ", status, " ", reply));
    nlohmann::json bot = nlohmann::json::parse(reply);
    bot_id = bot["id"].get<std::string>();
    const std::string url = bot["webhookUrl"].get<std::string>();
    hook = url.substr(url.rfind('/') + 1);
  }
  // dialogs registers the hook at "Telegram" within its refresh (TELEGRAM_REFRESH, 5 s).
  nlohmann::json state;
  for (int i = 0;; ++i) {
    state = FakeState(o, token);
    if (!state["webhook_url"].get<std::string>().empty()) break;
    if (i > 300) Die("dialogs did not register the bench bot's webhook within 30 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::string secret = state["webhook_secret"].get<std::string>();
  const int max_connections = state["webhook_max_connections"].get<int>();
  std::printf("\nTelegram webhook deliveries into dialogs (T1, G3): bot %s, %d chats, %.0f s each\n", bot_id.c_str(),
              kChats, o.seconds);

  const std::string dsn = ServiceDsn(o, "dialogs");
  pqxx::connection admin_conn(dsn);
  {
    pqxx::work tx(admin_conn);
    tx.exec0("DROP SCHEMA IF EXISTS bench CASCADE; CREATE SCHEMA bench;"
             "CREATE TABLE bench.tg_updates (LIKE public.tg_updates INCLUDING ALL)");
    tx.commit();
  }
  std::atomic<int64_t> next_update{1}, raw_update{1};
  for (int clients : {1, max_connections}) {
    auto before = CpuTicks(procs);
    auto gw = RunFor(
        clients, o.seconds, [&](int) { return std::make_unique<HttpClient>(o.gateway_port, ""); },
        [&](auto& c) {
          const int64_t id = next_update.fetch_add(1);
          const std::string body = Update(id, 700000000 + id % kChats);
          const std::string request =
              absl::StrCat("POST /v1/telegram/hooks/", hook, " HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                           "X-Telegram-Bot-Api-Secret-Token: ", secret, "\r\n",
                           "Content-Type: application/json\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
          std::string reply;
          const int status = c->Exchange(request, &reply);
          if (status != 200) Die(absl::StrCat("POST /v1/telegram/hooks: ", status, " ", reply));
        });
    auto after = CpuTicks(procs);
    const std::string gw_cpu = CpuPerRequest(before, after, gw.first * o.seconds);
    const double drained = WaitForInbox(admin_conn, bot_id);

    // The raw clients' connections outlive the run: their backends' CPU is read from /proc after it.
    std::vector<std::unique_ptr<pqxx::connection>> raw_conns;
    for (int i = 0; i < clients; ++i) {
      raw_conns.push_back(std::make_unique<pqxx::connection>(dsn));
      raw_conns.back()->prepare("update", "INSERT INTO bench.tg_updates (bot_id, update_id, chat_id, payload, "
                                          "received_at) VALUES ($1::uuid, $2, $3, $4::jsonb, now())");
    }
    before = CpuTicks(procs);
    auto raw = RunFor(
        clients, o.seconds, [&](int t) { return raw_conns[t].get(); },
        [&](pqxx::connection* c) {
          const int64_t id = raw_update.fetch_add(1);
          pqxx::work tx(*c);
          tx.exec_prepared("update", bot_id, id, 700000000 + id % kChats, Update(id, 700000000 + id % kChats));
          tx.commit();
        });
    after = CpuTicks(procs);
    std::printf("  %2d clients  gateway %7.0f updates/s  p50 %.2f p99 %.2f ms\n              %s\n"
                "              (the inbox processed them all %.1f s after the run)\n"
                "              raw     %7.0f tx/s       p50 %.2f p99 %.2f ms\n              %s\n"
                "              ratio gateway/raw %.2f (target >= 0.5)\n",
                clients, gw.first, gw.second.p50, gw.second.p99, gw_cpu.c_str(), drained, raw.first, raw.second.p50,
                raw.second.p99, CpuPerRequest(before, after, raw.first * o.seconds).c_str(), gw.first / raw.first);
  }
  pqxx::work tx(admin_conn);
  tx.exec0("DROP SCHEMA bench CASCADE");
  tx.commit();
}

}  // namespace crm::bench
