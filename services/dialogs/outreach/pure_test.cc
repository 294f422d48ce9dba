// The outreach's pure parts (T7): the template render table (values by project, defaults, the caller's
// parameters, every missing one named, Telegram's 4096 characters, buttons), template validation, the QR
// payload's signed round trip (a tampered, foreign or re-encoded one refused), the typed code, the PNG.
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "libs/base/status.h"
#include "services/dialogs/outreach/qr_png.h"
#include "services/dialogs/outreach/render.h"
#include "services/dialogs/outreach/token.h"

namespace crm::dialogs::outreach {
namespace {

constexpr char kBot[] = "01930000-0000-7000-8000-0000000000b1";
constexpr char kOtherBot[] = "01930000-0000-7000-8000-0000000000b2";
constexpr char kOperator[] = "01930000-0000-7000-8000-0000000000e1";

v1::Template Greeting() {
  v1::Template t;
  t.set_name("greeting");
  t.set_text("Здравствуйте, {{1}}! Ваш менеджер по проекту {{2}} — {{3}}.");
  v1::TemplateParameter* p2 = t.add_parameters();
  p2->set_index(2);
  p2->set_default_value("наш дом");
  (*p2->mutable_project_values())["north"] = "ЖК «Северный»";
  v1::TemplateParameter* p3 = t.add_parameters();
  p3->set_index(3);
  (*p3->mutable_project_values())["north"] = "Анна";
  v1::TemplateButton* b = t.add_inline_keyboard()->add_buttons();
  b->set_text("Записаться в {{2}}");
  b->set_callback_data("visit");
  return t;
}

TEST(RenderTest, Table) {
  struct Case {
    std::string name;
    std::string project;
    std::vector<std::string> params;
    std::string text;           // expected text, or
    std::vector<std::string> missing;  // expected violations' fields
  };
  const std::vector<Case> cases = {
      {"project values", "north", {"Иван"}, "Здравствуйте, Иван! Ваш менеджер по проекту ЖК «Северный» — Анна.", {}},
      {"the caller's value wins", "north", {"Иван", "ЖК «Южный»", "Борис"},
       "Здравствуйте, Иван! Ваш менеджер по проекту ЖК «Южный» — Борис.", {}},
      {"an empty parameter takes the table's", "north", {"Иван", "", ""},
       "Здравствуйте, Иван! Ваш менеджер по проекту ЖК «Северный» — Анна.", {}},
      {"default for another project, {{3}} has none", "south", {"Иван"}, "", {"parameters[2]"}},
      {"every missing one named", "south", {}, "", {"parameters[0]", "parameters[2]"}},
      {"no project", "", {"Иван", "", "Вера"}, "Здравствуйте, Иван! Ваш менеджер по проекту наш дом — Вера.", {}},
  };
  for (const Case& c : cases) {
    absl::StatusOr<v1::RenderedTemplate> r = Render(Greeting(), c.project, c.params);
    if (c.missing.empty()) {
      ASSERT_TRUE(r.ok()) << c.name << ": " << r.status();
      EXPECT_EQ(r->text(), c.text) << c.name;
    } else {
      ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
      std::vector<std::string> fields;
      for (const FieldViolation& v : FieldViolations(r.status())) fields.push_back(v.field);
      EXPECT_EQ(fields, c.missing) << c.name;
    }
  }
}

TEST(RenderTest, ButtonsAreRenderedToo) {
  auto r = Render(Greeting(), "north", {"Иван"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->inline_keyboard_size(), 1);
  EXPECT_EQ(r->inline_keyboard(0).buttons(0).text(), "Записаться в ЖК «Северный»");
  EXPECT_EQ(r->inline_keyboard(0).buttons(0).callback_data(), "visit");
}

TEST(RenderTest, TelegramsLimitIsCountedInCharacters) {
  v1::Template t;
  t.set_name("long");
  t.set_text("{{1}}");
  std::string ok;
  for (int i = 0; i < 4096; ++i) ok += "ж";  // 4096 characters, 8192 bytes
  EXPECT_TRUE(Render(t, "", {ok}).ok());
  absl::StatusOr<v1::RenderedTemplate> over = Render(t, "", {ok + "ж"});
  ASSERT_EQ(over.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldViolations(over.status()).at(0).field, "text");
}

TEST(RenderTest, PlaceholdersAndLiterals) {
  EXPECT_EQ(Placeholders("{{1}} {{12}} {{0}} {{x}} {{3} {{2}}"), (std::vector<int>{1, 12, 2}));
  v1::Template t;
  t.set_name("x");
  t.set_text("{{0}} и {{x}} остаются как есть");
  auto r = Render(t, "", {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text(), "{{0}} и {{x}} остаются как есть");
}

TEST(ValidateTemplateTest, EveryProblemNamed) {
  v1::Template t;
  t.add_parameters()->set_index(0);
  t.add_parameters()->set_index(2);
  t.add_parameters()->set_index(2);
  v1::TemplateButton* b = t.add_inline_keyboard()->add_buttons();
  b->set_callback_data(std::string(65, 'x'));
  t.add_reply_keyboard()->add_buttons()->set_text("Да");
  std::vector<std::string> fields;
  for (const FieldViolation& v : ValidateTemplate(t, "template.")) fields.push_back(v.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"template.name", "template.text", "template.parameters[0].index",
                                              "template.parameters[2].index", "template.reply_keyboard",
                                              "template.inline_keyboard[0].buttons[0].text",
                                              "template.inline_keyboard[0].buttons[0].callback_data"}));
  EXPECT_TRUE(ValidateTemplate(Greeting(), "").empty());
}

TEST(QrSignerTest, RoundTripAndRefusals) {
  const QrSigner signer("service key material");
  const std::string payload = signer.Sign(kBot, kOperator, 7);
  ASSERT_FALSE(payload.empty());
  EXPECT_LE(payload.size(), 64u);
  for (char c : payload) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') << payload;
  std::optional<PayloadClaims> claims = signer.Verify(kBot, payload);
  ASSERT_TRUE(claims.has_value());
  EXPECT_EQ(claims->operator_id, kOperator);
  EXPECT_EQ(claims->project_ref, 7u);

  // Every single character changed: refused (the tag covers operator and project).
  for (size_t i = 0; i < payload.size(); ++i) {
    std::string tampered = payload;
    tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(signer.Verify(kBot, tampered).has_value()) << i;
  }
  EXPECT_FALSE(signer.Verify(kOtherBot, payload).has_value());                     // another bot's
  EXPECT_FALSE(QrSigner("another key").Verify(kBot, payload).has_value());         // another key's
  EXPECT_FALSE(signer.Verify(kBot, payload.substr(0, 42)).has_value());            // cut
  EXPECT_FALSE(signer.Verify(kBot, "").has_value());
  EXPECT_NE(signer.Sign(kBot, kOperator, 8), payload);
}

TEST(CodeTest, ShapeAndAlphabet) {
  const std::string code = NewCode();
  ASSERT_EQ(code.size(), kCodeLength);
  EXPECT_EQ(AsCode(code), code);
  EXPECT_EQ(AsCode("  abc234 "), "ABC234");
  EXPECT_FALSE(AsCode("ABC10O").has_value());  // 0, 1, O, I are not in the alphabet
  EXPECT_FALSE(AsCode("ABCDE").has_value());
  EXPECT_FALSE(AsCode("Привет").has_value());
  EXPECT_NE(NewCode(), NewCode());  // 32^6 codes: equal by chance once in a billion
}

TEST(QrPngTest, AValidPng) {
  absl::StatusOr<std::string> png = QrPng("https://t.me/crm_demo_bot?start=abc", 4);
  ASSERT_TRUE(png.ok()) << png.status();
  ASSERT_GT(png->size(), 100u);
  EXPECT_EQ(png->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png->substr(12, 4), "IHDR");
  const auto* b = reinterpret_cast<const unsigned char*>(png->data());
  const uint32_t width = (uint32_t{b[16]} << 24) | (uint32_t{b[17]} << 16) | (uint32_t{b[18]} << 8) | b[19];
  EXPECT_EQ(width % 4, 0u);
  EXPECT_GE(width, (21u + 8u) * 4u);  // version 1 at least, quiet zone 4 modules each side
  // The IHDR's CRC is right.
  EXPECT_EQ(crc32(0, b + 12, 17), (uint32_t{b[29]} << 24) | (uint32_t{b[30]} << 16) | (uint32_t{b[31]} << 8) | b[32]);
}

}  // namespace
}  // namespace crm::dialogs::outreach
