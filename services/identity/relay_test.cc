// File: services/identity/relay_test.cc
// identity's user events reach Kafka: a user created through the store is published by the outbox
// relay (as crm-identity runs it) to crm.identity.user.v1 on the broker named by
// CRM_TEST_KAFKA_BROKERS.
#include "libs/events/relay.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <pqxx/pqxx>

#include "absl/time/clock.h"
#include "libs/base/clock.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "services/identity/store.h"

namespace crm {
const std::vector<crm::pg::Migration>& IdentityMigrations();
}  // namespace crm

namespace crm::identity {
namespace {

TEST(IdentityRelayTest, UserCreatedIsPublished) {
  const char* brokers = std::getenv("CRM_TEST_KAFKA_BROKERS");
  ASSERT_TRUE(brokers != nullptr && *brokers != '\0') << "CRM_TEST_KAFKA_BROKERS is not set";
  auto db = pg::testing::TempDatabase::Create("identity_relay");
  ASSERT_TRUE(db.ok()) << db.status();
  std::vector<pg::Migration> all = EventsMigrations();
  all.insert(all.end(), IdentityMigrations().begin(), IdentityMigrations().end());
  ASSERT_TRUE(pg::Migrate((*db)->dsn(), all).ok());
  auto pool = pg::Pool::Create({.dsn = (*db)->dsn(), .size = 2});
  ASSERT_TRUE(pool.ok());
  Store store(**pool, SystemClock(), auth::PasswordParams{.t_cost = 1, .m_cost_kib = 64});
  crm::identity::v1::User u;
  u.set_login("relayed");
  u.set_full_name("R");
  auto made = store.CreateUser(Actor{}, u, "a long enough password");
  ASSERT_TRUE(made.ok()) << made.status();

  auto relay = events::Relay::Create(
      {.dsn = (*db)->dsn(), .brokers = brokers, .poll_interval = absl::Milliseconds(100)});
  ASSERT_TRUE(relay.ok()) << relay.status();
  (*relay)->Start();
  int published = 0;
  const absl::Time until = absl::Now() + absl::Seconds(60);
  while (absl::Now() < until) {
    pqxx::connection c((*db)->dsn());
    pqxx::work tx(c);
    published = tx.exec1("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")[0].as<int>();
    if (published == 1) break;
    absl::SleepFor(absl::Milliseconds(100));  // bounded poll for the relay's acknowledgement
  }
  (*relay)->Stop();
  EXPECT_EQ(published, 1);
}

}  // namespace
}  // namespace crm::identity
