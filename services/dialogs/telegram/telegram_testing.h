// File: services/dialogs/telegram/telegram_testing.h
// -----------------------------------------------------------------------------
// Test support for the Telegram part (tests only): a migrated throwaway database, the fake Bot API
// (tests/fakes/telegram_bot_api.py) as a child process with its /_fake/ control API, and a bot made
// through BotStore against it.
#ifndef CRM_SERVICES_DIALOGS_TELEGRAM_TELEGRAM_TESTING_H_
#define CRM_SERVICES_DIALOGS_TELEGRAM_TELEGRAM_TESTING_H_

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crm/common/v1/common.pb.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/timers/timers.h"
#include "services/dialogs/telegram/wire.h"
#include "tests/support/process.h"

namespace crm::dialogs::telegram::testing {

inline std::vector<crm::pg::Migration> Migrations() {
  std::vector<crm::pg::Migration> all = crm::EventsMigrations();
  all.insert(all.end(), crm::TimersMigrations().begin(), crm::TimersMigrations().end());
  all.insert(all.end(), crm::TelegramMigrations().begin(), crm::TelegramMigrations().end());
  return all;
}

inline size_t CurlWrite(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// A plain HTTP call; the body (or "" and a test failure on a transport error).
inline std::string Http(const std::string& method, const std::string& url, const std::string& body = "") {
  CURL* c = curl_easy_init();
  std::string out;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (!body.empty()) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &CurlWrite);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) ADD_FAILURE() << method << " " << url << ": " << curl_easy_strerror(rc);
  return out;
}

// The fake Bot API, killed at destruction.
class FakeBotApi {
 public:
  static std::unique_ptr<FakeBotApi> Start() {
    auto p = crm::testing::Process::Spawn({CRM_PYTHON, CRM_TELEGRAM_FAKE, "--port", "0"});
    if (!p.ok()) {
      ADD_FAILURE() << p.status();
      return nullptr;
    }
    auto line = (*p)->ReadLineStartingWith("telegram_bot_api listening on 127.0.0.1:", absl::Seconds(20));
    if (!line.ok()) {
      ADD_FAILURE() << "the fake Bot API did not start: " << line.status();
      return nullptr;
    }
    auto fake = std::unique_ptr<FakeBotApi>(new FakeBotApi());
    fake->process_ = std::move(*p);
    fake->url_ = "http://127.0.0.1:" + line->substr(line->rfind(':') + 1);
    return fake;
  }
  ~FakeBotApi() {
    if (process_ != nullptr) {
      process_->Kill(SIGKILL);
      (void)process_->Wait(absl::Seconds(10));
    }
  }
  const std::string& url() const { return url_; }
  // POST /_fake/bot<token>/<action> with `body`; the JSON reply.
  nlohmann::json Control(const std::string& token, const std::string& action, const nlohmann::json& body) const {
    return nlohmann::json::parse(Http("POST", absl::StrCat(url_, "/_fake/bot", token, "/", action), body.dump()));
  }
  nlohmann::json Get(const std::string& token, const std::string& action) const {
    return nlohmann::json::parse(Http("GET", absl::StrCat(url_, "/_fake/bot", token, "/", action)));
  }

 private:
  FakeBotApi() = default;
  std::unique_ptr<crm::testing::Process> process_;
  std::string url_;
};

// A migrated database and a pool on it.
struct Db {
  std::unique_ptr<crm::pg::testing::TempDatabase> db;
  std::unique_ptr<crm::pg::Pool> pool;

  static Db Make(int pool_size = 4) {
    Db d;
    auto db = crm::pg::testing::TempDatabase::Create("dialogs_tg");
    if (!db.ok()) {
      ADD_FAILURE() << db.status();
      return d;
    }
    d.db = std::move(*db);
    auto m = crm::pg::Migrate(d.db->dsn(), Migrations());
    if (!m.ok()) ADD_FAILURE() << m.status();
    auto pool = crm::pg::Pool::Create({.dsn = d.db->dsn(), .size = pool_size});
    if (!pool.ok()) {
      ADD_FAILURE() << pool.status();
      return d;
    }
    d.pool = std::move(*pool);
    return d;
  }
};

inline crm::common::v1::Principal Admin() {
  crm::common::v1::Principal p;
  p.set_kind(crm::common::v1::Principal::KIND_USER);
  p.set_id("01930000-0000-7000-8000-0000000000a1");
  p.add_permissions("dialogs.admin");
  return p;
}

}  // namespace crm::dialogs::telegram::testing

#endif  // CRM_SERVICES_DIALOGS_TELEGRAM_TELEGRAM_TESTING_H_
