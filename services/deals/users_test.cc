// The users read model (users.h): identity's user events give deals each user's teams, and the deals a
// user is responsible for follow their teams.
#include "services/deals/users.h"

#include <pqxx/pqxx>

#include <memory>
#include <string>
#include <vector>

#include "crm/identity/v1/events.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/uuid.h"
#include "libs/events/schema.h"
#include "libs/pg/migrations.h"
#include "libs/pg/testing.h"
#include "proto/crm/events/v1/envelope.pb.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace crm::deals {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class UsersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pg::testing::TempDatabase::Create("deals_users");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    std::vector<pg::Migration> all = EventsMigrations();
    all.insert(all.end(), DealsMigrations().begin(), DealsMigrations().end());
    ASSERT_TRUE(pg::Migrate(db_->dsn(), all).ok());
    conn_ = std::make_unique<pqxx::connection>(db_->dsn());
  }

  // Applies a user event for `user` at `version` with `teams` in its own transaction.
  absl::Status Apply(const std::string& user, int64_t version, std::vector<std::string> teams,
                     bool created = false) {
    identity::v1::User u;
    u.set_id(user);
    u.set_version(version);
    u.set_active(true);
    for (const std::string& t : teams) u.add_team_ids(t);
    events::v1::Envelope e;
    if (created) {
      identity::v1::UserCreated c;
      *c.mutable_user() = u;
      e.set_type("crm.identity.user.created.v1");
      e.mutable_payload()->PackFrom(c);
    } else {
      identity::v1::UserUpdated c;
      *c.mutable_user() = u;
      e.set_type("crm.identity.user.updated.v1");
      e.mutable_payload()->PackFrom(c);
    }
    const std::string topic = kUserTopic;
    pqxx::work tx(*conn_);
    absl::Status s = ApplyUserEvent(tx, {.envelope = e, .topic = topic, .partition = 0, .offset = 0});
    if (s.ok()) tx.commit();
    return s;
  }

  std::vector<std::string> Teams(const std::string& user) {
    pqxx::work tx(*conn_);
    absl::StatusOr<std::vector<std::string>> t = TeamsOf(tx, user);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.value_or(std::vector<std::string>{});
  }

  std::unique_ptr<pg::testing::TempDatabase> db_;
  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(UsersTest, EventsGiveTeamsAndOlderOnesAreIgnored) {
  const std::string user = NewUuidV7(), t1 = NewUuidV7(), t2 = NewUuidV7();
  EXPECT_THAT(Teams(user), IsEmpty());
  ASSERT_TRUE(Apply(user, 1, {t1}, /*created=*/true).ok());
  EXPECT_THAT(Teams(user), ElementsAre(t1));
  ASSERT_TRUE(Apply(user, 3, {t2}).ok());
  EXPECT_THAT(Teams(user), ElementsAre(t2));
  // A late, older event (version 2) does not undo the newer one.
  ASSERT_TRUE(Apply(user, 2, {t1}).ok());
  EXPECT_THAT(Teams(user), ElementsAre(t2));
}

TEST_F(UsersTest, TheResponsiblesDealsFollowTheirTeams) {
  const std::string user = NewUuidV7(), other = NewUuidV7(), t1 = NewUuidV7(), t2 = NewUuidV7();
  const std::string pipeline = NewUuidV7(), stage = NewUuidV7();
  {
    pqxx::work tx(*conn_);
    tx.exec_params("INSERT INTO pipelines (id, name) VALUES ($1, 'П')", pipeline);
    tx.exec_params("INSERT INTO stages (id, pipeline_id, position, name, kind) VALUES ($1, $2, 0, 'С', 1)", stage,
                   pipeline);
    for (const std::string& responsible : {user, user, other}) {
      tx.exec_params("INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id) "
                     "VALUES ($1, 'Д', $2, $3, 1, $4)",
                     NewUuidV7(), pipeline, stage, responsible);
    }
    tx.commit();
  }
  ASSERT_TRUE(Apply(user, 1, {t1, t2}, /*created=*/true).ok());
  pqxx::work tx(*conn_);
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM deals WHERE responsible_id = $1 AND team_ids = $2::uuid[]",
                            user, "{" + t1 + "," + t2 + "}")[0]
                .as<int>(),
            2);
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM deals WHERE responsible_id = $1 AND team_ids = '{}'", other)[0]
                .as<int>(),
            1);
}

TEST_F(UsersTest, MalformedPayloadIsRefusedOtherTypesIgnored) {
  events::v1::Envelope e;
  e.set_type("crm.identity.user.created.v1");
  e.mutable_payload()->set_type_url("type.googleapis.com/crm.identity.v1.UserCreated");
  e.mutable_payload()->set_value("\xff\xff");
  const std::string topic = kUserTopic;
  pqxx::work tx(*conn_);
  EXPECT_EQ(ApplyUserEvent(tx, {.envelope = e, .topic = topic, .partition = 0, .offset = 0}).code(),
            absl::StatusCode::kInvalidArgument);
  e.set_type("crm.identity.team.created.v1");
  EXPECT_TRUE(ApplyUserEvent(tx, {.envelope = e, .topic = topic, .partition = 0, .offset = 0}).ok());
}

}  // namespace
}  // namespace crm::deals
