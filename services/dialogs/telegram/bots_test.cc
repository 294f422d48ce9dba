// Bots (bots.h) on PostgreSQL against the fake Bot API: the username from getMe, the token sealed and
// never returned, the webhook registered with the random hook and the secret, idempotent create, every
// violation at once, dialogs.admin required, version checks, the page rule, switching intake modes.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "services/dialogs/telegram/bot_api.h"
#include "services/dialogs/telegram/bots.h"
#include "services/dialogs/telegram/secrets.h"
#include "services/dialogs/telegram/telegram_testing.h"

namespace crm::dialogs::telegram {
namespace {

namespace v1 = crm::dialogs::v1;
using testing::Admin;
using testing::Db;
using testing::FakeBotApi;

class BotsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = FakeBotApi::Start();
    ASSERT_NE(fake_, nullptr);
    d_ = Db::Make(4);
    ASSERT_NE(d_.pool, nullptr);
    api_ = std::make_unique<BotApi>(BotApiOptions{.base_url = fake_->url()});
    bots_ = std::make_unique<BotStore>(*d_.pool, *api_, box_, clock_,
                                       BotStoreOptions{.public_url = "https://crm.example.ru"});
  }
  v1::CreateBotRequest Request(std::string token, std::string name = "Бот ЖК Северный") {
    v1::CreateBotRequest req;
    req.mutable_bot()->set_name(name);
    req.mutable_bot()->set_out_of_hours_text("Мы ответим в рабочее время");
    auto* h = req.mutable_bot()->add_working_hours();
    h->set_weekday(1), h->set_start_minute(540), h->set_end_minute(1080);
    req.set_token(std::move(token));
    return req;
  }

  std::unique_ptr<FakeBotApi> fake_;
  Db d_;
  crm::ManualClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  SecretBox box_{"test key"};
  std::unique_ptr<BotApi> api_;
  std::unique_ptr<BotStore> bots_;
};

TEST_F(BotsTest, CreateChecksTheTokenSealsItAndRegistersTheWebhook) {
  const std::string token = "777001:AAbotsTOKENbotsTOKEN";
  auto bot = bots_->Create(Admin(), Request(token), "key-1");
  ASSERT_TRUE(bot.ok()) << bot.status();
  EXPECT_EQ(bot->username(), "fake777001_bot");
  EXPECT_EQ(bot->intake_mode(), v1::INTAKE_MODE_WEBHOOK);  // unspecified = webhook
  EXPECT_EQ(bot->intake_error(), "");
  EXPECT_EQ(bot->version(), 1);
  ASSERT_EQ(bot->working_hours_size(), 1);
  EXPECT_EQ(bot->DebugString().find("AAbotsTOKEN"), std::string::npos);
  // The URL is PUBLIC_URL + the random hook (43 base64url characters), never the token.
  ASSERT_TRUE(absl::StartsWith(bot->webhook_url(), "https://crm.example.ru/v1/telegram/hooks/"));
  const std::string hook = bot->webhook_url().substr(std::string("https://crm.example.ru/v1/telegram/hooks/").size());
  EXPECT_EQ(hook.size(), 43u);
  EXPECT_EQ(fake_->Get(token, "state")["webhook_url"], bot->webhook_url());
  // Nothing in the table gives the token or the secret away.
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_bots WHERE token_sealed LIKE '%AAbotsTOKEN%' "
                         "OR row_to_json(tg_bots)::text LIKE '%777001:%'"), 0);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM idempotency WHERE position(convert_to('AAbotsTOKEN', 'UTF8') IN response) > 0"), 0);
  // Idempotent: the same key gives the same bot; the key with another token is refused.
  auto repeat = bots_->Create(Admin(), Request(token), "key-1");
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_EQ(repeat->id(), bot->id());
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_bots"), 1);
  auto other = bots_->Create(Admin(), Request("777001:AAanotherTOKEN"), "key-1");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("idempotency-key"), std::string::npos);
}

TEST_F(BotsTest, EveryViolationAtOnceAndAdminOnly) {
  v1::CreateBotRequest req = Request("not a token", "");
  req.mutable_bot()->mutable_working_hours(0)->set_weekday(9);
  auto bad = bots_->Create(Admin(), req, "");
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(bad.status().message(), "bot.name: ")) << bad.status();
  EXPECT_NE(bad.status().message().find("(and 2 more)"), std::string::npos) << bad.status();
  crm::common::v1::Principal manager;
  manager.set_kind(crm::common::v1::Principal::KIND_USER);
  manager.set_id("01930000-0000-7000-8000-0000000000b2");
  manager.add_permissions("dialogs.read.own");
  EXPECT_EQ(bots_->Create(manager, Request("777002:AAx"), "").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(bots_->List(manager, {}).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(d_.db->Count("SELECT count(*) FROM tg_bots"), 0);
}

TEST_F(BotsTest, UpdateSwitchesTheIntakeModeAndChecksTheVersion) {
  const std::string token = "777003:AAupdateTOKEN";
  auto bot = bots_->Create(Admin(), Request(token), "");
  ASSERT_TRUE(bot.ok()) << bot.status();
  ASSERT_NE(fake_->Get(token, "state")["webhook_url"], "");
  v1::UpdateBotRequest up;
  up.mutable_bot()->set_id(bot->id());
  up.mutable_bot()->set_version(bot->version());
  up.mutable_bot()->set_intake_mode(v1::INTAKE_MODE_POLLING);
  up.mutable_update_mask()->add_paths("intake_mode");
  auto polled = bots_->Update(Admin(), up);
  ASSERT_TRUE(polled.ok()) << polled.status();
  EXPECT_EQ(polled->intake_mode(), v1::INTAKE_MODE_POLLING);
  EXPECT_EQ(polled->version(), 2);
  EXPECT_EQ(polled->name(), "Бот ЖК Северный");  // not in the mask: kept
  EXPECT_EQ(fake_->Get(token, "state")["webhook_url"], "");  // deleteWebhook
  // A stale version is ABORTED; version 0 means any.
  EXPECT_EQ(bots_->Update(Admin(), up).status().code(), absl::StatusCode::kAborted);
  up.mutable_bot()->set_version(0);
  up.mutable_bot()->set_intake_mode(v1::INTAKE_MODE_WEBHOOK);
  auto hooked = bots_->Update(Admin(), up);
  ASSERT_TRUE(hooked.ok()) << hooked.status();
  EXPECT_EQ(fake_->Get(token, "state")["webhook_url"], bot->webhook_url());  // the same hook again
  up.mutable_update_mask()->add_paths("color");
  auto bad = bots_->Update(Admin(), up);
  EXPECT_NE(bad.status().message().find("update_mask.paths[1]"), std::string::npos) << bad.status();
}

TEST_F(BotsTest, ListPages) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(bots_->Create(Admin(), Request(absl::StrCat("77701", i, ":AAlistTOKEN"), absl::StrCat("Бот ", i)), "").ok());
    clock_.Advance(absl::Seconds(1));
  }
  v1::ListBotsRequest req;
  req.set_page_size(2);
  auto page = bots_->List(Admin(), req);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->bots_size(), 2);
  EXPECT_EQ(page->bots(0).name(), "Бот 0");
  ASSERT_FALSE(page->next_page_token().empty());
  req.set_page_token(page->next_page_token());
  auto rest = bots_->List(Admin(), req);
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_EQ(rest->bots_size(), 1);
  EXPECT_EQ(rest->bots(0).name(), "Бот 2");
  EXPECT_TRUE(rest->next_page_token().empty());
  req.set_page_size(-1);
  req.set_page_token("garbage!");
  auto bad = bots_->List(Admin(), req);
  EXPECT_TRUE(absl::StartsWith(bad.status().message(), "page_size")) << bad.status();
  EXPECT_NE(bad.status().message().find("(and 1 more)"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace crm::dialogs::telegram
