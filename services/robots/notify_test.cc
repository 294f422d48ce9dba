// Tests of notifications' data side (services/robots/notify.h) on a real PostgreSQL (CRM_TEST_PG_DSN):
// the robot_users read model fed by identity's events, recipient resolution, and templates.
#include "services/robots/notify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "crm/identity/v1/events.pb.h"
#include "libs/pg/migrations.h"
#include "libs/pg/testing.h"

namespace crm {
const std::vector<crm::pg::Migration>& RobotsMigrations();
}  // namespace crm

namespace crm::robots {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Fixed ids: teams, and users named for what they are.
constexpr char kSalesTeam[] = "01930000-0000-7000-8000-00000000a001";
constexpr char kCallTeam[] = "01930000-0000-7000-8000-00000000a002";
constexpr char kOtherTeam[] = "01930000-0000-7000-8000-00000000a003";
constexpr char kManager[] = "01930000-0000-7000-8000-000000000001";     // responsible, in sales
constexpr char kSupervisor[] = "01930000-0000-7000-8000-000000000002";  // the manager's supervisor
constexpr char kRopSales[] = "01930000-0000-7000-8000-000000000003";    // head_of_sales in sales
constexpr char kRopCall[] = "01930000-0000-7000-8000-000000000004";     // head_of_sales in the call centre
constexpr char kRopGone[] = "01930000-0000-7000-8000-000000000005";     // head_of_sales, inactive, sales
constexpr char kLoner[] = "01930000-0000-7000-8000-000000000006";       // manager in no team
constexpr char kUnknown[] = "01930000-0000-7000-8000-0000000000ff";     // never heard of

struct UserSpec {
  std::string id;
  std::string full_name;
  std::vector<std::string> roles;
  std::vector<std::string> teams;
  std::string supervisor;
  bool active = true;
  int64_t version = 1;
};

identity::v1::User ToProto(const UserSpec& u) {
  identity::v1::User p;
  p.set_id(u.id);
  p.set_login("u" + u.id.substr(u.id.size() - 4));
  p.set_full_name(u.full_name);
  p.set_email("u" + u.id.substr(u.id.size() - 4) + "@crm.local");
  p.set_phone("+7916123" + u.id.substr(u.id.size() - 4));
  p.set_active(u.active);
  for (const std::string& r : u.roles) p.add_role_codes(r);
  for (const std::string& t : u.teams) p.add_team_ids(t);
  p.set_supervisor_id(u.supervisor);
  p.set_version(u.version);
  return p;
}

class NotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pg::testing::TempDatabase::Create("robots_notify");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto applied = pg::Migrate(db_->dsn(), RobotsMigrations());
    ASSERT_TRUE(applied.ok()) << applied.status();
    conn_ = std::make_unique<pqxx::connection>(db_->dsn());
  }

  absl::Status ApplyEnvelope(const events::v1::Envelope& e) {
    const std::string topic = kUserTopic;
    pqxx::work tx(*conn_);
    absl::Status s = ApplyUserEvent(tx, {.envelope = e, .topic = topic, .partition = 0, .offset = 0});
    if (s.ok()) tx.commit();
    return s;
  }

  absl::Status Apply(const UserSpec& u, bool created = false) {
    events::v1::Envelope e;
    e.set_id("ev-" + u.id + "-" + std::to_string(u.version));
    if (created) {
      identity::v1::UserCreated c;
      *c.mutable_user() = ToProto(u);
      e.set_type("crm.identity.user.created.v1");
      e.mutable_payload()->PackFrom(c);
    } else {
      identity::v1::UserUpdated c;
      *c.mutable_user() = ToProto(u);
      c.add_changed_fields("full_name");
      e.set_type("crm.identity.user.updated.v1");
      e.mutable_payload()->PackFrom(c);
    }
    return ApplyEnvelope(e);
  }

  // The org chart most tests use.
  void Seed() {
    ASSERT_TRUE(Apply({.id = kManager, .full_name = "Иванов Иван", .roles = {"manager"}, .teams = {kSalesTeam},
                       .supervisor = kSupervisor}, true).ok());
    ASSERT_TRUE(Apply({.id = kSupervisor, .full_name = "Петров Пётр", .roles = {"manager", "team_lead"},
                       .teams = {kSalesTeam}}, true).ok());
    ASSERT_TRUE(Apply({.id = kRopSales, .full_name = "Сидорова Анна", .roles = {"head_of_sales"},
                       .teams = {kSalesTeam, kOtherTeam}}, true).ok());
    ASSERT_TRUE(Apply({.id = kRopCall, .full_name = "Алексеев Борис", .roles = {"head_of_sales"},
                       .teams = {kCallTeam}}, true).ok());
    ASSERT_TRUE(Apply({.id = kRopGone, .full_name = "Уволенный РОП", .roles = {"head_of_sales"},
                       .teams = {kSalesTeam}, .active = false}, true).ok());
    ASSERT_TRUE(Apply({.id = kLoner, .full_name = "Одиночка", .roles = {"manager"}}, true).ok());
  }

  absl::StatusOr<std::vector<Recipient>> Resolve(const std::vector<std::string>& specs,
                                                 std::string_view responsible) {
    pqxx::work tx(*conn_);
    return ResolveRecipients(tx, specs, responsible);
  }

  // The ids ResolveRecipients returns (test fails on error).
  std::vector<std::string> Ids(const std::vector<std::string>& specs, std::string_view responsible = kManager) {
    auto r = Resolve(specs, responsible);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> ids;
    if (r.ok()) {
      for (const Recipient& x : *r) ids.push_back(x.user_id);
    }
    return ids;
  }

  std::string Text(const std::string& sql) {
    pqxx::work tx(*conn_);
    pqxx::row r = tx.exec1(sql);
    return r[0].is_null() ? "NULL" : r[0].as<std::string>();
  }

  std::unique_ptr<pg::testing::TempDatabase> db_;
  std::unique_ptr<pqxx::connection> conn_;
};

// ---- ApplyUserEvent ---------------------------------------------------------------------------------------

TEST_F(NotifyTest, CreatedEventStoresTheUser) {
  ASSERT_TRUE(Apply({.id = kManager, .full_name = "Иванов Иван", .roles = {"manager", "head_of_sales"},
                     .teams = {kSalesTeam, "not-a-uuid", kCallTeam}, .supervisor = kSupervisor, .version = 3},
                    true).ok());
  const std::string where = std::string(" FROM robot_users WHERE id = '") + kManager + "'";
  EXPECT_EQ(Text("SELECT full_name" + where), "Иванов Иван");
  EXPECT_EQ(Text("SELECT email" + where), "u0001@crm.local");
  EXPECT_EQ(Text("SELECT phone" + where), "+79161230001");
  EXPECT_EQ(Text("SELECT active::text" + where), "true");
  EXPECT_EQ(Text("SELECT role_codes::text" + where), "{manager,head_of_sales}");
  EXPECT_EQ(Text("SELECT team_ids::text" + where), std::string("{") + kSalesTeam + "," + kCallTeam + "}");
  EXPECT_EQ(Text("SELECT supervisor_id::text" + where), kSupervisor);
  EXPECT_EQ(Text("SELECT version::text" + where), "3");
}

TEST_F(NotifyTest, UpdatedEventReplacesAndStaleOrRepeatedOnesAreIgnored) {
  ASSERT_TRUE(Apply({.id = kManager, .full_name = "Иванов Иван", .roles = {"manager"}, .teams = {kSalesTeam},
                     .supervisor = kSupervisor, .version = 1}, true).ok());
  ASSERT_TRUE(Apply({.id = kManager, .full_name = "Иванов Иван Петрович", .roles = {"head_of_sales"},
                     .teams = {kCallTeam}, .active = false, .version = 5}).ok());
  const std::string where = std::string(" FROM robot_users WHERE id = '") + kManager + "'";
  EXPECT_EQ(Text("SELECT full_name" + where), "Иванов Иван Петрович");
  EXPECT_EQ(Text("SELECT role_codes::text" + where), "{head_of_sales}");
  EXPECT_EQ(Text("SELECT team_ids::text" + where), std::string("{") + kCallTeam + "}");
  EXPECT_EQ(Text("SELECT supervisor_id::text" + where), "NULL");
  EXPECT_EQ(Text("SELECT active::text" + where), "false");

  // An older event arriving late (and a repeat of the current one) changes nothing.
  ASSERT_TRUE(Apply({.id = kManager, .full_name = "Старое имя", .version = 4}).ok());
  ASSERT_TRUE(Apply({.id = kManager, .full_name = "Повтор", .version = 5}).ok());
  EXPECT_EQ(Text("SELECT full_name" + where), "Иванов Иван Петрович");
  EXPECT_EQ(Text("SELECT version::text" + where), "5");
  // An update of a user robots never saw created is stored as well.
  ASSERT_TRUE(Apply({.id = kLoner, .full_name = "Новый", .version = 2}).ok());
  EXPECT_EQ(Text(std::string("SELECT full_name FROM robot_users WHERE id = '") + kLoner + "'"), "Новый");
}

TEST_F(NotifyTest, GarbagePayloadIsInvalidArgumentAndOtherTypesAreIgnored) {
  events::v1::Envelope e;
  e.set_type("crm.identity.user.created.v1");
  e.mutable_payload()->set_type_url("type.googleapis.com/crm.identity.v1.UserCreated");
  e.mutable_payload()->set_value("\xff\xff\xff garbage");
  EXPECT_EQ(ApplyEnvelope(e).code(), absl::StatusCode::kInvalidArgument);

  // The right type name with another message inside.
  identity::v1::UserCreated created;
  *created.mutable_user() = ToProto({.id = kManager, .full_name = "x"});
  e.set_type("crm.identity.user.updated.v1");
  e.mutable_payload()->PackFrom(created);
  EXPECT_EQ(ApplyEnvelope(e).code(), absl::StatusCode::kInvalidArgument);

  // A user without a UUID.
  e.set_type("crm.identity.user.created.v1");
  created.mutable_user()->set_id("42");
  e.mutable_payload()->PackFrom(created);
  absl::Status s = ApplyEnvelope(e);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("42"));

  // Another event type on the topic: ignored.
  e.set_type("crm.identity.user.signed_in.v1");
  e.mutable_payload()->set_value("\xff");
  EXPECT_TRUE(ApplyEnvelope(e).ok());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM robot_users"), 0);
}

// ---- ResolveRecipients ------------------------------------------------------------------------------------

TEST_F(NotifyTest, ResolvesEachSpecKind) {
  Seed();
  EXPECT_THAT(Ids({"responsible"}), ElementsAre(kManager));
  EXPECT_THAT(Ids({"supervisor"}), ElementsAre(kSupervisor));
  EXPECT_THAT(Ids({std::string("user:") + kRopCall}), ElementsAre(kRopCall));
  // Upper-case UUIDs are the same user.
  std::string upper = std::string("user:") + kRopCall;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  upper.replace(0, 5, "user:");
  EXPECT_THAT(Ids({upper}), ElementsAre(kRopCall));
  // The РОП of the responsible's team (the inactive one in the same team is dropped).
  EXPECT_THAT(Ids({"role:head_of_sales"}), ElementsAre(kRopSales));

  auto r = Resolve({"responsible"}, kManager);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].full_name, "Иванов Иван");
  EXPECT_EQ((*r)[0].email, "u0001@crm.local");
  EXPECT_EQ((*r)[0].phone, "+79161230001");
}

TEST_F(NotifyTest, RoleFallsBackToEveryActiveHolderWhenNoneSharesATeam) {
  Seed();
  // The loner shares no team with anyone: every active head of sales, by full name.
  EXPECT_THAT(Ids({"role:head_of_sales"}, kLoner), ElementsAre(kRopCall, kRopSales));
  // No responsible at all (a schedule's notification): the same.
  EXPECT_THAT(Ids({"role:head_of_sales"}, ""), ElementsAre(kRopCall, kRopSales));
  // An unknown responsible: the same, and no "responsible" / "supervisor".
  EXPECT_THAT(Ids({"responsible", "supervisor", "role:head_of_sales"}, kUnknown),
              ElementsAre(kRopCall, kRopSales));
  // A role nobody active has: nobody.
  EXPECT_THAT(Ids({"role:quality_controller"}), IsEmpty());
  // When the team's РОП leaves, the fallback applies.
  ASSERT_TRUE(Apply({.id = kRopSales, .full_name = "Сидорова Анна", .roles = {"head_of_sales"},
                     .teams = {kSalesTeam}, .active = false, .version = 2}).ok());
  EXPECT_THAT(Ids({"role:head_of_sales"}), ElementsAre(kRopCall));
}

TEST_F(NotifyTest, DeduplicatesInSpecOrderAndDropsInactiveAndUnknownUsers) {
  Seed();
  EXPECT_THAT(Ids({"responsible", "role:manager", std::string("user:") + kManager, "supervisor",
                   std::string("user:") + kRopGone, std::string("user:") + kUnknown, "role:head_of_sales"}),
              ElementsAre(kManager, kSupervisor, kRopSales));
  // The responsible left: "responsible" gives nobody, the supervisor still gets it.
  ASSERT_TRUE(Apply({.id = kManager, .full_name = "Иванов Иван", .roles = {"manager"}, .teams = {kSalesTeam},
                     .supervisor = kSupervisor, .active = false, .version = 2}).ok());
  EXPECT_THAT(Ids({"responsible", "supervisor"}), ElementsAre(kSupervisor));
  // An inactive supervisor is dropped.
  ASSERT_TRUE(Apply({.id = kSupervisor, .full_name = "Петров Пётр", .active = false, .version = 2}).ok());
  EXPECT_THAT(Ids({"supervisor"}), IsEmpty());
  // No supervisor at all.
  EXPECT_THAT(Ids({"supervisor"}, kLoner), IsEmpty());
  EXPECT_THAT(Ids({}), IsEmpty());
}

TEST_F(NotifyTest, MalformedSpecIsInvalidArgumentNamingIt) {
  Seed();
  for (const std::string& bad : std::vector<std::string>{"", "manager", "Responsible", "user:", "user:42", "role:", "role:Head",
                                "role:head of sales", "team:x", " responsible"}) {
    auto r = Resolve({"responsible", bad}, kManager);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"" + bad + "\"")) << r.status();
    EXPECT_EQ(ValidateRecipientSpec(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  for (const std::string& good : std::vector<std::string>{"responsible", "supervisor", "role:head_of_sales", "role:x1",
                                 std::string("user:") + kManager}) {
    EXPECT_TRUE(ValidateRecipientSpec(good).ok()) << good;
  }
  auto r = Resolve({"responsible"}, "not-a-uuid");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("responsible_id"));
}

// ---- DealUrlPrefix (issue 16: links point to a page that exists) -----------------------------------------

TEST(DealUrlPrefixTest, PublicUrlAndTheDealsPath) {
  EXPECT_EQ(*DealUrlPrefix(kDefaultPublicUrl, kDefaultDealPath), "http://127.0.0.1:8080/v1/deals/");
  EXPECT_EQ(*DealUrlPrefix("https://crm.example/", "/v1/deals/"), "https://crm.example/v1/deals/");
  EXPECT_EQ(*DealUrlPrefix("https://crm.example/app", "/deals"), "https://crm.example/app/deals/");
  for (const char* bad : {"", "crm.example", "ftp://crm.example", "https://", "https://crm.example/?x=1"}) {
    absl::StatusOr<std::string> r = DealUrlPrefix(bad, "/v1/deals/");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("public URL")) << bad;
  }
  EXPECT_THAT(std::string(DealUrlPrefix("https://crm.example", "deals").status().message()), HasSubstr("deal path"));
}

// ---- MoneyText (issue 16: seed 001 §4's plan is 40 000 000 сум) -------------------------------------------

TEST(MoneyTextTest, GroupsWholeUnitsAndNamesTheCurrency) {
  EXPECT_EQ(MoneyText(4'000'000'000, "UZS"), "40 000 000 сум");
  EXPECT_EQ(MoneyText(150'050, "RUB"), "1 500,50 ₽");
  EXPECT_EQ(MoneyText(-5, "RUB"), "-0,05 ₽");
  EXPECT_EQ(MoneyText(123, "JPY"), "123 JPY");
  EXPECT_EQ(MoneyText(100'000, "USD"), "1 000 USD");
}

// ---- RenderTemplate ---------------------------------------------------------------------------------------

TEST(RenderTemplateTest, ReplacesKnownPlaceholders) {
  const std::map<std::string, std::string, std::less<>> vars = {
      {"deal.name", "Квартира 42"},
      {"deal.url", "https://crm.local/deals/1"},
      {"responsible.name", "Иванов Иван"},
      {"rule.name", "Нет контакта 30 минут"},
      {"empty", ""},
  };
  EXPECT_EQ(RenderTemplate("Сделка «{deal.name}» ({deal.url}): {responsible.name}, правило «{rule.name}»", vars),
            "Сделка «Квартира 42» (https://crm.local/deals/1): Иванов Иван, правило «Нет контакта 30 минут»");
  EXPECT_EQ(RenderTemplate("{deal.name}{deal.name}", vars), "Квартира 42Квартира 42");
  EXPECT_EQ(RenderTemplate("[{empty}]", vars), "[]");
  EXPECT_EQ(RenderTemplate("", vars), "");
  EXPECT_EQ(RenderTemplate("без подстановок", vars), "без подстановок");
}

TEST(RenderTemplateTest, UnknownPlaceholdersAndBracesStayAsWritten) {
  const std::map<std::string, std::string, std::less<>> vars = {{"deal.name", "Сделка {x}"}, {"x", "НЕТ"}};
  EXPECT_EQ(RenderTemplate("Привет, {client.name}!", vars), "Привет, {client.name}!");
  EXPECT_EQ(RenderTemplate("{{deal.name}} = {deal.name}", vars), "{deal.name} = Сделка {x}");  // not re-scanned
  EXPECT_EQ(RenderTemplate("{{}}", vars), "{}");
  EXPECT_EQ(RenderTemplate("открыта { и не закрыта", vars), "открыта { и не закрыта");
  EXPECT_EQ(RenderTemplate("хвост {", vars), "хвост {");
  EXPECT_EQ(RenderTemplate("одна } скобка", vars), "одна } скобка");
  EXPECT_EQ(RenderTemplate("{a {deal.name}", vars), "{a Сделка {x}");
  EXPECT_EQ(RenderTemplate("{}", vars), "{}");
  EXPECT_EQ(RenderTemplate("{Deal.Name}", vars), "{Deal.Name}");  // names are exact
}

TEST(RenderTemplateTest, Utf8InNamesAndTextPassesThrough) {
  const std::map<std::string, std::string, std::less<>> vars = {{"сделка", "№ 42 😀"}};
  EXPECT_EQ(RenderTemplate("«{сделка}» — ✓", vars), "«№ 42 😀» — ✓");
}

}  // namespace
}  // namespace crm::robots
