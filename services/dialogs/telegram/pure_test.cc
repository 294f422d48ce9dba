// The Telegram part's pure functions (T1): the update parser (updates.h),
// HTML escaping (outgoing.h), the Bot API envelope (bot_api.h) and sealing (secrets.h).
#include <gtest/gtest.h>

#include "libs/base/time.h"
#include "services/dialogs/telegram/bot_api.h"
#include "services/dialogs/telegram/outgoing.h"
#include "services/dialogs/telegram/secrets.h"
#include "services/dialogs/telegram/updates.h"

namespace crm::dialogs::telegram {
namespace {

TEST(ParseUpdateTest, TextMessageWithSixtyFourBitChat) {
  auto u = ParseUpdate(R"({"update_id": 900000001, "message": {"message_id": 7, "date": 1700000000,
      "from": {"id": 42, "is_bot": false, "first_name": "Иван", "username": "ivan"},
      "chat": {"id": -1001234567890123, "type": "supergroup", "title": "ЖК"}, "text": "привет"}})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->update_id, 900000001);
  EXPECT_EQ(u->kind, "message");
  EXPECT_EQ(u->chat_id, -1001234567890123);
  ASSERT_TRUE(u->message.has_value());
  EXPECT_EQ(u->message->text, "привет");
  EXPECT_EQ(u->message->from->id, 42);
  EXPECT_EQ(u->message->chat.type, "supergroup");
}

TEST(ParseUpdateTest, DocumentPhotoAndContact) {
  auto d = ParseUpdate(R"({"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": 5, "type": "private"},
      "caption": "договор", "document": {"file_id": "F1", "file_unique_id": "U1", "file_name": "Договор.pdf",
      "mime_type": "application/pdf", "file_size": 12345}}})");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->message->files.size(), 1u);
  EXPECT_EQ(d->message->files[0].kind, "document");
  EXPECT_EQ(d->message->files[0].file_name, "Договор.pdf");
  EXPECT_EQ(d->message->files[0].mime_type, "application/pdf");
  EXPECT_EQ(d->message->files[0].file_size, 12345);
  EXPECT_EQ(d->message->text, "договор");

  auto p = ParseUpdate(R"({"update_id": 2, "message": {"message_id": 2, "date": 1, "chat": {"id": 5, "type": "private"},
      "photo": [{"file_id": "S", "file_unique_id": "s", "width": 90, "height": 90},
                {"file_id": "L", "file_unique_id": "l", "width": 1280, "height": 960, "file_size": 99}]}})");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->message->files.size(), 1u);
  EXPECT_EQ(p->message->files[0].file_id, "L");  // the largest size

  auto c = ParseUpdate(R"({"update_id": 3, "message": {"message_id": 3, "date": 1, "from": {"id": 5, "first_name": "A"},
      "chat": {"id": 5, "type": "private"}, "contact": {"phone_number": "+79991234567", "first_name": "A", "user_id": 5}}})");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->message->contact.has_value());
  EXPECT_EQ(c->message->contact->phone_number, "+79991234567");
  EXPECT_EQ(c->message->contact->user_id, 5);
}

TEST(ParseUpdateTest, CallbackQueryBelongsToItsMessagesChat) {
  auto u = ParseUpdate(R"({"update_id": 4, "callback_query": {"id": "q1", "from": {"id": 77, "first_name": "B"},
      "data": "topic:sales", "message": {"message_id": 9, "date": 1, "chat": {"id": 77, "type": "private"}}}})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->kind, "callback_query");
  EXPECT_EQ(u->chat_id, 77);
  EXPECT_EQ(u->callback_query->id, "q1");
  EXPECT_EQ(u->callback_query->data, "topic:sales");
}

TEST(ParseUpdateTest, OtherKindsAndRefusals) {
  auto u = ParseUpdate(R"({"update_id": 5, "inline_query": {"id": "i", "from": {"id": 8, "first_name": "C"}, "query": ""}})");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->kind, "inline_query");
  EXPECT_EQ(u->chat_id, 8);
  EXPECT_EQ(ParseUpdate("not json").status().code(), absl::StatusCode::kInvalidArgument);
  auto no_id = ParseUpdate(R"({"message": {}})");
  EXPECT_EQ(no_id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(no_id.status().message().find("update_id"), std::string::npos);
  auto no_chat = ParseUpdate(R"({"update_id": 6, "message": {"message_id": 1}})");
  EXPECT_NE(no_chat.status().message().find("message.chat.id"), std::string::npos);
}

TEST(EscapeHtmlTest, EscapesTheThree) { EXPECT_EQ(EscapeHtml("a<b>&c"), "a&lt;b&gt;&amp;c"); }

TEST(ParseApiReplyTest, TooManyRequestsAndMigration) {
  auto r = ParseApiReply(R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->error_code, 429);
  EXPECT_EQ(r->retry_after, 7);
  auto m = ParseApiReply(R"({"ok":false,"error_code":400,"description":"x","parameters":{"migrate_to_chat_id":-1009876543210}})");
  EXPECT_EQ(m->migrate_to_chat_id, -1009876543210);
  EXPECT_FALSE(ParseApiReply("<html>").ok());
}

TEST(SecretBoxTest, OpensOnlyWithItsKeyAndContext) {
  SecretBox box("key one");
  const std::string sealed = box.Seal("tg_bots.token/a", "123:secret");
  EXPECT_EQ(sealed.find("secret"), std::string::npos);
  EXPECT_EQ(*box.Open("tg_bots.token/a", sealed), "123:secret");
  EXPECT_FALSE(box.Open("tg_bots.token/b", sealed).ok());
  EXPECT_FALSE(SecretBox("key two").Open("tg_bots.token/a", sealed).ok());
  EXPECT_NE(box.Seal("c", "x"), box.Seal("c", "x"));  // a fresh nonce each time
  EXPECT_EQ(RandomToken(32).size(), 43u);
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", ""));
}

}  // namespace
}  // namespace crm::dialogs::telegram
