// File: services/robots/digest_test.cc
// Issue 14: DigestGate lets the first notification of a window through and holds the rest for one
// digest, per person and channel, exactly once, on real PostgreSQL with explicit times.
#include "services/robots/digest.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "libs/pg/migrations.h"
#include "libs/pg/testing.h"
#include "libs/pg/pool.h"

namespace crm {
const std::vector<crm::pg::Migration>& RobotsMigrations();
}  // namespace crm

namespace crm::robots {
namespace {

constexpr int kInApp = 1;
constexpr int kEmail = 2;
const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

class DigestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pg::testing::TempDatabase::Create("digest");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    ASSERT_TRUE(pg::Migrate(db_->dsn(), RobotsMigrations()).ok());
    conn_ = std::make_unique<pqxx::connection>(db_->dsn());
  }

  DigestItem Item(const std::string& who, int channel, const std::string& deal) {
    return {.recipient = who, .channel = channel, .recipient_name = "Роман", .email = "rop@crm.local",
            .deal_id = deal, .rule_id = "r", .execution_id = "e-" + deal,
            .subject = "Нет первого контакта: " + deal, .text = "…"};
  }
  bool Admit(const DigestGate& gate, const DigestItem& item, absl::Time at) {
    pqxx::work tx(*conn_);
    auto r = gate.Admit(tx, {item}, at);
    EXPECT_TRUE(r.ok()) << r.status();
    tx.commit();
    return r.ok() && r->size() == 1 && (*r)[0];
  }
  std::vector<DigestItem> Flush(const DigestGate& gate, const std::string& payload, absl::Time at) {
    pqxx::work tx(*conn_);
    auto r = gate.Flush(tx, payload, at);
    EXPECT_TRUE(r.ok()) << r.status();
    tx.commit();
    return r.value_or(std::vector<DigestItem>{});
  }
  // The pending digest timers: key -> (due, payload).
  std::map<std::string, std::pair<absl::Time, std::string>> Timers() {
    pqxx::work tx(*conn_);
    std::map<std::string, std::pair<absl::Time, std::string>> out;
    for (const auto& r : tx.exec("SELECT key, extract(epoch FROM due_time)::bigint, convert_from(payload, 'UTF8') "
                                 "FROM timers WHERE kind = 'robots.digest' AND state = 'pending'")) {
      out[r[0].c_str()] = {absl::FromUnixSeconds(r[1].as<int64_t>()), r[2].c_str()};
    }
    return out;
  }

  std::unique_ptr<pg::testing::TempDatabase> db_;
  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(DigestTest, WithoutAWindowEverythingGoesAtOnce) {  // and nothing is written
  DigestGate gate(absl::ZeroDuration());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Admit(gate, Item("u1", kInApp, absl::StrCat(i)), kT0));
  EXPECT_TRUE(Timers().empty());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM notify_pending"), 0);
}

TEST_F(DigestTest, TheFirstGoesAtOnceTheRestWaitForOneDigestPerPersonAndChannel) {
  DigestGate gate(absl::Minutes(5));
  EXPECT_TRUE(Admit(gate, Item("u1", kInApp, "d1"), kT0));
  EXPECT_FALSE(Admit(gate, Item("u1", kInApp, "d2"), kT0 + absl::Seconds(1)));
  EXPECT_FALSE(Admit(gate, Item("u1", kInApp, "d3"), kT0 + absl::Seconds(2)));
  // Another person, and another channel of the same person, have windows of their own.
  EXPECT_TRUE(Admit(gate, Item("u2", kInApp, "d2"), kT0 + absl::Seconds(1)));
  EXPECT_TRUE(Admit(gate, Item("u1", kEmail, "d2"), kT0 + absl::Seconds(1)));

  // A timer for each window opened (u1 in-app and e-mail, u2 in-app), due when it ends.
  auto timers = Timers();
  ASSERT_EQ(timers.size(), 3u);
  ASSERT_TRUE(timers.contains(absl::StrCat("digest:u1:1:", absl::ToUnixMicros(kT0))));
  const std::string key = absl::StrCat("digest:u1:1:", absl::ToUnixMicros(kT0));
  const auto timer = timers[key];
  EXPECT_EQ(timer.first, kT0 + absl::Minutes(5));

  // The digest takes both, oldest first, once.
  std::vector<DigestItem> items = Flush(gate, timer.second, kT0 + absl::Minutes(5));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].deal_id, "d2");
  EXPECT_EQ(items[1].deal_id, "d3");
  EXPECT_EQ(items[0].email, "rop@crm.local");
  EXPECT_TRUE(Flush(gate, timer.second, kT0 + absl::Minutes(5)).empty());

  // Sending the digest opened the next window: the next one within it waits for the next digest.
  EXPECT_FALSE(Admit(gate, Item("u1", kInApp, "d4"), kT0 + absl::Minutes(6)));
  EXPECT_TRUE(Timers().contains(absl::StrCat("digest:u1:1:", absl::ToUnixMicros(kT0 + absl::Minutes(5)))));
  ASSERT_EQ(Flush(gate, timer.second, kT0 + absl::Minutes(10)).size(), 1u);
  // A window with nothing held lapses: after it the next notification goes at once.
  EXPECT_TRUE(Flush(gate, timer.second, kT0 + absl::Minutes(15)).empty());
  EXPECT_TRUE(Admit(gate, Item("u1", kInApp, "d5"), kT0 + absl::Minutes(16)));
}

TEST_F(DigestTest, TenThousandInTwoAndAHalfMinutesAreTwoMessages) {
  DigestGate gate(absl::Minutes(5));
  int now = 0;
  for (int i = 0; i < 10'000; ++i) {
    now += Admit(gate, Item("rop", kEmail, absl::StrCat(i)), kT0 + absl::Milliseconds(15 * i)) ? 1 : 0;
  }
  EXPECT_EQ(now, 1);
  auto timers = Timers();
  ASSERT_EQ(timers.size(), 1u);  // the one window the first e-mail opened
  std::vector<DigestItem> items = Flush(gate, timers.begin()->second.second, kT0 + absl::Minutes(5));
  ASSERT_EQ(items.size(), 9'999u);
  EXPECT_EQ(DigestSubject(items), "Сводка уведомлений: 9999");
  const std::string text = DigestText(items, "http://crm/deals/", 50);
  EXPECT_EQ(text.find("— Нет первого контакта: 1 http://crm/deals/1\n"), 0u) << text.substr(0, 200);
  EXPECT_NE(text.find("… и ещё 9949\n"), std::string::npos);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 51);
}

TEST_F(DigestTest, OneNotificationToManyPeopleIsOneStatementAndEachHasTheirOwnWindow) {
  DigestGate gate(absl::Minutes(5));
  EXPECT_TRUE(Admit(gate, Item("m3", kInApp, "d0"), kT0));  // m3 already had one
  std::vector<DigestItem> team;
  for (const char* who : {"m1", "m2", "m3", "m4"}) team.push_back(Item(who, kInApp, "d1"));
  pqxx::work tx(*conn_);
  auto now = gate.Admit(tx, team, kT0 + absl::Seconds(10));
  ASSERT_TRUE(now.ok()) << now.status();
  tx.commit();
  EXPECT_EQ(*now, (std::vector<bool>{true, true, false, true}));
  EXPECT_EQ(db_->Count("SELECT count(*) FROM notify_pending WHERE recipient = 'm3' AND deal_id = 'd1'"), 1);
  // A window timer for each window opened: m3's at kT0, the others' ten seconds later.
  auto timers = Timers();
  EXPECT_EQ(timers.size(), 4u);
  EXPECT_TRUE(timers.contains(absl::StrCat("digest:m1:1:", absl::ToUnixMicros(kT0 + absl::Seconds(10)))));
}

TEST_F(DigestTest, APayloadThatIsNotADigestTimersIsRefused) {
  DigestGate gate(absl::Minutes(5));
  pqxx::work tx(*conn_);
  EXPECT_EQ(gate.Flush(tx, "nonsense", kT0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crm::robots
