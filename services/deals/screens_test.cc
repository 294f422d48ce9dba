// File: services/deals/screens_test.cc
// Issue 16 ("screens in one call", seed 003): what a front end needs for a screen comes in one call —
//   - a kanban card / list row carries the responsible's and the client's names, the nearest open task
//     (the reminder; none = «Нет задач»), the amount and whether the reminder is overdue, in the list, the
//     board and a board column alike;
//   - BatchGetClients: the clients of many ids at once, the ids of none reported;
//   - the manager's default list is "mine" (seed 003), an explicit filter the screen can remove.
// On the DealsFixture (deals_testing.h: real PostgreSQL, an in-process server, a ManualClock).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crm/identity/v1/events.pb.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "proto/crm/events/v1/envelope.pb.h"
#include "services/deals/clients.h"
#include "services/deals/deals.h"
#include "services/deals/deals_testing.h"
#include "services/deals/tasks.h"
#include "services/deals/users.h"

namespace crm::deals {
namespace {

namespace v1 = crm::deals::v1;
using crm::common::v1::Principal;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

using namespace crm::deals::fixture;  // NOLINT: the fixture's users and ids

// The demo manager's rights (identity migration 0001, «Менеджер клиента»): sees the team's deals,
// changes only their own.
Principal TeamManager(const std::string& id) {
  return User(id, {"deals.read.team", "deals.write.own", "clients.read", "clients.write"}, {kTeam1});
}

class ScreensTest : public DealsFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DealsFixture::SetUp());
    clients_ = std::make_unique<ClientStore>(*pool_, clock_);
    tasks_ = std::make_unique<TaskStore>(*pool_, clock_);
  }

  Actor As(const Principal& p) { return Actor{.principal = p}; }

  // identity's UserUpdated for `id` named `name` in team 1, applied as deals' consumer would.
  void HearOfUser(const std::string& id, const std::string& name, int64_t version = 1) {
    identity::v1::UserUpdated u;
    u.mutable_user()->set_id(id);
    u.mutable_user()->set_full_name(name);
    u.mutable_user()->set_active(true);
    u.mutable_user()->set_version(version);
    u.mutable_user()->add_team_ids(kTeam1);
    events::v1::Envelope e;
    e.set_type("crm.identity.user.updated.v1");
    e.mutable_payload()->PackFrom(u);
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    const std::string topic = kUserTopic;
    ASSERT_TRUE(ApplyUserEvent(tx, {.envelope = e, .topic = topic, .partition = 0, .offset = 0}).ok());
    tx.commit();
  }

  v1::Client MustCreateClient(const std::string& name) {
    v1::Client c;
    c.set_kind(v1::Client::KIND_COMPANY);
    c.set_name(name);
    auto made = clients_->CreateClient(As(TeamManager(kHead)), c, true);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.value_or(v1::Client{});
  }

  v1::Task MustCreateTask(const std::string& deal_id, const std::string& title, absl::Duration due_in) {
    v1::Task t;
    t.set_deal_id(deal_id);
    t.set_kind(v1::Task::CALL);
    t.set_title(title);
    *t.mutable_due_time() = ToProtoTimestamp(clock_.Now() + due_in);
    auto made = tasks_->Create(As(Head()), t);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.value_or(v1::Task{});
  }

  std::unique_ptr<ClientStore> clients_;
  std::unique_ptr<TaskStore> tasks_;
};

// The cards of `deals`, by id.
std::map<std::string, v1::DealCard> ById(const google::protobuf::RepeatedPtrField<v1::DealCard>& cards) {
  std::map<std::string, v1::DealCard> out;
  for (const v1::DealCard& c : cards) out[c.id()] = c;
  return out;
}

TEST_F(ScreensTest, ACardCarriesNamesTheNearestTaskAndWhetherItIsOverdue) {
  HearOfUser(kAnna, "Анна Смирнова");
  const v1::Client client = MustCreateClient("ООО Ромашка");
  v1::Deal with = Named("С клиентом и задачами");
  with.set_responsible_id(kAnna);
  with.set_client_id(client.id());
  with.mutable_amount()->set_amount_minor(1'250'000);
  with.mutable_amount()->set_currency("RUB");
  with = MustCreate(Head(), with);
  const v1::Deal bare = MustCreate(Head(), Named("Без задач"));  // Head: not heard of, no client
  MustCreateTask(with.id(), "Отправить КП", absl::Hours(5));
  const v1::Task nearest = MustCreateTask(with.id(), "Позвонить", absl::Hours(2));
  const v1::Task done = MustCreateTask(with.id(), "Уже сделано", absl::Hours(1));
  v1::CompleteTaskRequest complete;
  complete.set_id(done.id());
  complete.set_result("Дозвонились");
  auto completed = tasks_->Complete(As(Head()), complete);
  ASSERT_TRUE(completed.ok()) << completed.status();

  auto check = [&](const std::map<std::string, v1::DealCard>& cards, bool overdue, const std::string& where) {
    SCOPED_TRACE(where);
    ASSERT_TRUE(cards.contains(with.id()));
    ASSERT_TRUE(cards.contains(bare.id()));
    const v1::DealCard& c = cards.at(with.id());
    EXPECT_EQ(c.responsible_name(), "Анна Смирнова");
    EXPECT_EQ(c.client_name(), "ООО Ромашка");
    EXPECT_EQ(c.client_id(), client.id());
    EXPECT_EQ(c.name(), "С клиентом и задачами");
    EXPECT_EQ(c.amount().amount_minor(), 1'250'000);
    EXPECT_EQ(c.next_task_id(), nearest.id());
    EXPECT_EQ(c.next_task_title(), "Позвонить");
    EXPECT_EQ(FromProtoTimestamp(c.next_task_time()), FromProtoTimestamp(nearest.due_time()));
    EXPECT_TRUE(c.has_open_tasks());
    EXPECT_EQ(c.overdue(), overdue);
    // «Нет задач»: no task, no client, a responsible deals has not heard of.
    const v1::DealCard& b = cards.at(bare.id());
    EXPECT_EQ(b.next_task_id(), "");
    EXPECT_EQ(b.next_task_title(), "");
    EXPECT_FALSE(b.has_next_task_time());
    EXPECT_FALSE(b.has_open_tasks());
    EXPECT_FALSE(b.overdue());
    EXPECT_EQ(b.client_name(), "");
    EXPECT_EQ(b.responsible_name(), "");
  };
  auto list = [&] {
    v1::ListDealsRequest req;
    v1::ListDealsResponse resp;
    EXPECT_TRUE(List(Head(), req, &resp).ok());
    return ById(resp.deals());
  };
  auto board = [&] {
    v1::GetBoardRequest req;
    req.set_pipeline_id(kPipeline);
    auto b = store_->GetBoard(Head(), req);
    EXPECT_TRUE(b.ok()) << b.status();
    return ById(b->columns(0).cards());
  };
  auto column = [&] {
    v1::ListStageDealsRequest req;
    req.set_pipeline_id(kPipeline);
    req.set_stage_id(kNew);
    auto c = store_->ListStageDeals(Head(), req);
    EXPECT_TRUE(c.ok()) << c.status();
    return ById(c->deals());
  };
  check(list(), false, "list");
  check(board(), false, "board");
  check(column(), false, "column");

  // Three hours on, «Позвонить» (due in two) is overdue.
  clock_.Advance(absl::Hours(3));
  check(list(), true, "list, later");
  check(board(), true, "board, later");
  check(column(), true, "column, later");

  // A renamed user and client: the cards follow.
  HearOfUser(kAnna, "Анна Петрова", 2);
  v1::Client renamed = client;
  renamed.set_name("ООО Василёк");
  google::protobuf::FieldMask mask;
  mask.add_paths("name");
  ASSERT_TRUE(clients_->UpdateClient(As(TeamManager(kHead)), renamed, mask).ok());
  const v1::DealCard c = list().at(with.id());
  EXPECT_EQ(c.responsible_name(), "Анна Петрова");
  EXPECT_EQ(c.client_name(), "ООО Василёк");
}

TEST_F(ScreensTest, BatchGetClientsAnswersInTheOrderAskedAndReportsTheMissing) {
  const v1::Client a = MustCreateClient("Альфа");
  const v1::Client b = MustCreateClient("Бета");
  const std::string nobody = "01900000-0000-7000-8000-0000000dead1";
  v1::BatchGetClientsRequest req;
  for (const std::string& id : {b.id(), nobody, a.id(), b.id()}) req.add_ids(id);
  auto got = clients_->BatchGetClients(TeamManager(kAnna), req);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->clients_size(), 2);
  EXPECT_EQ(got->clients(0).name(), "Бета");
  EXPECT_EQ(got->clients(1).name(), "Альфа");
  EXPECT_EQ(got->clients(1).version(), a.version());
  EXPECT_THAT(got->missing_ids(), ElementsAre(nobody));

  // Every malformed id named at once; none and too many refused; clients.read needed.
  v1::BatchGetClientsRequest bad;
  bad.add_ids(a.id());
  bad.add_ids("x");
  bad.add_ids("");
  const Principal reader = User(kHead, {"clients.read"});
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolations(clients_->BatchGetClients(reader, bad).status())) {
    fields.push_back(v.field);
  }
  EXPECT_THAT(fields, ElementsAre("ids[1]", "ids[2]"));
  EXPECT_EQ(clients_->BatchGetClients(reader, v1::BatchGetClientsRequest{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::BatchGetClientsRequest many;
  for (int i = 0; i < 201; ++i) many.add_ids(a.id());
  EXPECT_EQ(FieldViolations(clients_->BatchGetClients(reader, many).status()).at(0).field, "ids");
  EXPECT_EQ(clients_->BatchGetClients(Head(), req).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(ScreensTest, AManagersDefaultListIsMineAndTheScreenCanLiftIt) {
  const Principal anna = TeamManager(kAnna);
  const Principal lena = User(kLena, {"deals.read.team", "deals.write.own"}, {kTeam1});
  HearOfUser(kAnna, "Анна");
  HearOfUser(kLena, "Лена");
  v1::Deal a = MustCreate(anna, Named("Аннина"));
  v1::Deal l = MustCreate(lena, Named("Ленина"));

  // Without a responsible: only Anna's, and the reply says the default applied.
  v1::ListDealsRequest req;
  v1::ListDealsResponse resp;
  ASSERT_TRUE(List(anna, req, &resp).ok());
  EXPECT_TRUE(resp.mine_by_default());
  EXPECT_THAT(ById(resp.deals()), ElementsAre(testing::Key(a.id())));

  // all_responsibles lifts it: the team's deals.
  req.mutable_filter()->set_all_responsibles(true);
  ASSERT_TRUE(List(anna, req, &resp).ok());
  EXPECT_FALSE(resp.mine_by_default());
  std::vector<std::string> ids;
  for (const auto& c : resp.deals()) ids.push_back(c.id());
  EXPECT_THAT(ids, UnorderedElementsAre(a.id(), l.id()));

  // A responsible asked for is no default.
  v1::ListDealsRequest theirs;
  theirs.mutable_filter()->add_responsible_ids(kLena);
  ASSERT_TRUE(List(anna, theirs, &resp).ok());
  EXPECT_FALSE(resp.mine_by_default());
  ASSERT_EQ(resp.deals_size(), 1);
  EXPECT_EQ(resp.deals(0).id(), l.id());

  // The board and a column the same way.
  v1::GetBoardRequest board;
  board.set_pipeline_id(kPipeline);
  auto b = store_->GetBoard(anna, board);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(b->mine_by_default());
  EXPECT_EQ(b->columns(0).count(), 1);
  EXPECT_THAT(ById(b->columns(0).cards()), ElementsAre(testing::Key(a.id())));
  board.mutable_filter()->set_all_responsibles(true);
  b = store_->GetBoard(anna, board);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE(b->mine_by_default());
  EXPECT_EQ(b->columns(0).count(), 2);
  v1::ListStageDealsRequest column;
  column.set_pipeline_id(kPipeline);
  column.set_stage_id(kNew);
  auto c = store_->ListStageDeals(anna, column);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->mine_by_default());
  EXPECT_EQ(c->deals_size(), 1);

  // Who may change others' deals, or sees only their own anyway, gets no default.
  ASSERT_TRUE(List(Lena(), v1::ListDealsRequest{}, &resp).ok());
  EXPECT_FALSE(resp.mine_by_default());
  EXPECT_EQ(resp.deals_size(), 2);
  ASSERT_TRUE(List(Anna(), v1::ListDealsRequest{}, &resp).ok());
  EXPECT_FALSE(resp.mine_by_default());
  EXPECT_EQ(resp.deals_size(), 1);
}

}  // namespace
}  // namespace crm::deals
