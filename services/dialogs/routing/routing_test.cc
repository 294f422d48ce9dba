// File: services/dialogs/routing/routing_test.cc
// -----------------------------------------------------------------------------
// Routing (T6, T8; issue 18) on real PostgreSQL: dialogs' database migrated as crm-dialogs migrates it,
// the Router set as the inbox's seam, the inbox's operator API (take, reply, status) and RoutingService's
// Routing over it, a ManualClock. Dialogs are made in the state the chat-bot hands them over (BOT, with
// project and topic) and go through inbox::Distribute exactly as the processor sends them.
#include <pqxx/pqxx>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/calendar/calendar.h"
#include "libs/events/outbox.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/rpc/testing/principals.h"
#include "libs/timers/timers.h"
#include "proto/crm/dialogs/v1/event_types.h"
#include "services/dialogs/inbox/processor.h"
#include "services/dialogs/inbox/routing.h"
#include "services/dialogs/inbox/service.h"
#include "services/dialogs/inbox/store.h"
#include "services/dialogs/inbox/wire.h"
#include "services/dialogs/migrations.h"
#include "services/dialogs/routing/router.h"
#include "services/dialogs/routing/service.h"
#include "services/dialogs/routing/wire.h"
#include "services/dialogs/scenarios/demo.h"
#include "services/dialogs/scenarios/runner.h"
#include "services/dialogs/scenarios/store.h"
#include "services/dialogs/scenarios/wire.h"
#include "services/dialogs/telegram/outgoing.h"
#include "services/dialogs/telegram/wire.h"
#include "services/dialogs/telegram/test_bot.h"

namespace crm::dialogs::routing {
namespace {

using crm::rpc::testing::UserPrincipal;

constexpr char kBot[] = "01930000-0000-7000-8000-0000000000b1";
constexpr char kOtherBot[] = "01930000-0000-7000-8000-0000000000b2";
constexpr char kA[] = "01930000-0000-7000-8000-0000000000a1";
constexpr char kB[] = "01930000-0000-7000-8000-0000000000a2";
constexpr char kC[] = "01930000-0000-7000-8000-0000000000a3";
constexpr char kOutsider[] = "01930000-0000-7000-8000-0000000000a9";  // no rights on kBot
constexpr char kSupervisorId[] = "01930000-0000-7000-8000-0000000000a5";
constexpr char kTeam[] = "01930000-0000-7000-8000-00000000a0a1";

Principal Op(const char* id) { return UserPrincipal(id, {"dialogs.read.own", "dialogs.operate"}, {kTeam}); }
Principal Supervisor() {
  return UserPrincipal(kSupervisorId, {"dialogs.read.team", "dialogs.operate", "dialogs.supervise"}, {kTeam});
}
Principal Admin() { return UserPrincipal(kSupervisorId, {"dialogs.admin", "dialogs.read.all"}); }

v1::GetDialogTimelineRequest TimelineOf(const std::string& id, int page_size = 0, const std::string& token = "") {
  v1::GetDialogTimelineRequest req;
  req.set_id(id);
  req.set_page_size(page_size);
  req.set_page_token(token);
  return req;
}

// Mon–Fri 09:00–18:00 in the calendar's zone (UTC here).
WeekHours Weekdays() {
  WeekHours week;
  for (int d = 1; d <= 5; ++d) {
    auto* h = week.Add();
    h->set_weekday(d), h->set_start_minute(9 * 60), h->set_end_minute(18 * 60);
  }
  return week;
}

class RoutingTest : public ::testing::Test {
 protected:
  // Monday 2026-11-02 10:00 UTC.
  RoutingTest() : clock_(absl::FromCivil(absl::CivilSecond(2026, 11, 2, 10, 0, 0), absl::UTCTimeZone())) {}

  void SetUp() override {
    auto db = crm::pg::testing::TempDatabase::Create("droute");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto migrated = crm::pg::Migrate(db_->dsn(), crm::dialogs::AllMigrations());
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    auto pool = crm::pg::Pool::Create({.dsn = db_->dsn(), .size = 6});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
    for (const char* bot : {kBot, kOtherBot}) {
      db_->Exec(telegram::InsertTestBotSql(bot, absl::StrCat("Бот ", bot), absl::StrCat("h", bot)));
    }
    for (const char* u : {kA, kB, kC}) {
      db_->Exec(absl::StrCat("INSERT INTO bot_operators (bot_id, user_id) VALUES ('", kBot, "', '", u, "')"));
    }
    db_->Exec(absl::StrCat("INSERT INTO bot_operators (bot_id, user_id) VALUES ('", kOtherBot, "', '", kOutsider, "')"));
    calendar_ = std::make_unique<crm::calendar::WorkingCalendar>(
        crm::calendar::WorkingCalendar::FiveDay(absl::UTCTimeZone()));
    outbox_ = std::make_unique<crm::events::OutboxWriter>("dialogs", clock_);
    outgoing_ = std::make_unique<telegram::Outgoing>(*outbox_, clock_);
    router_ = std::make_unique<Router>(
        *calendar_,
        [this](pqxx::transaction_base&, std::string_view) -> absl::StatusOr<BotHours> {
          BotHours h;
          h.working_hours = hours_;
          return h;
        },
        *outbox_);
    inbox::SetRouter(router_.get());
    inbox_ = std::make_unique<inbox::Inbox>(*pool_, clock_, *outbox_, *outgoing_);
    routing_ = std::make_unique<Routing>(*pool_, clock_, *router_);
  }
  void TearDown() override { inbox::SetRouter(nullptr); }

  // A dialog as the chat-bot hands it over, distributed through the inbox's seam.
  std::string NewDialog(const std::string& project = "", const std::string& topic = "", bool distribute = true) {
    const std::string id = NewUuidV7();
    db_->Exec(absl::StrCat("INSERT INTO dialogs (id, bot_id, chat_id, status, project, topic, create_time, "
                           "update_time) VALUES ('", id, "', '", kBot, "', ", ++chat_, ", 'BOT', '", project, "', '",
                           topic, "', '", FormatRfc3339Utc(clock_.Now()), "', '", FormatRfc3339Utc(clock_.Now()),
                           "')"));
    if (distribute) {
      EXPECT_TRUE(Distribute(id).ok());
    }
    return id;
  }
  absl::Status Distribute(const std::string& id) {
    return crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
      CRM_ASSIGN_OR_RETURN(std::optional<inbox::StoredDialog> d, inbox::LoadDialog(tx, id, true));
      return inbox::Distribute(tx, d->dialog, clock_.Now(), clock_.Now());
    });
  }
  void Online(const char* user, v1::Presence p = v1::PRESENCE_ONLINE) {
    v1::SetPresenceRequest req;
    req.set_presence(p);
    auto r = routing_->SetPresence(Op(user), req);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  void Capacity(const char* user, int capacity) {
    db_->Exec(absl::StrCat("INSERT INTO routing_operators (user_id, capacity, update_time) VALUES ('", user, "', ",
                           capacity, ", now()) ON CONFLICT (user_id) DO UPDATE SET capacity = ", capacity));
  }
  std::string Responsible(const std::string& id) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    return tx.exec1("SELECT COALESCE(responsible_id::text, '') || '/' || status FROM dialogs WHERE id = '" + id + "'")[0]
        .c_str();
  }
  std::vector<std::string> History(const std::string& id) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    std::vector<std::string> out;
    for (const auto& r : tx.exec("SELECT kind || ':' || COALESCE(from_user_id::text, '-') || '>' || "
                                 "COALESCE(to_user_id::text, '-') FROM dialog_assignments WHERE dialog_id = '" +
                                 id + "' ORDER BY id")) {
      out.emplace_back(r[0].c_str());
    }
    return out;
  }
  static std::string H(const char* kind, const std::string& from, const std::string& to) {
    return absl::StrCat(kind, ":", from.empty() ? "-" : from, ">", to.empty() ? "-" : to);
  }
  int64_t Open(const char* user) {
    return db_->Count(absl::StrCat("SELECT count(*) FROM dialogs WHERE responsible_id = '", user,
                                   "' AND status = 'IN_WORK'"));
  }
  absl::StatusOr<crm::timers::FireResult> Sweep(crm::timers::TimerStore& store) {
    return store.FireDue([this](pqxx::transaction_base& tx, const crm::timers::Timer& t) -> absl::Status {
      if (t.kind == kReplyTimeoutKind) return router_->OnReplyTimeout(tx, t, clock_.Now());
      if (t.kind == kOfferKind) return router_->OnOffer(tx, t, clock_.Now());
      return absl::InternalError("unknown kind");
    });
  }

  ManualClock clock_;
  std::unique_ptr<crm::pg::testing::TempDatabase> db_;
  std::unique_ptr<crm::pg::Pool> pool_;
  std::unique_ptr<crm::calendar::WorkingCalendar> calendar_;
  std::unique_ptr<crm::events::OutboxWriter> outbox_;
  std::unique_ptr<telegram::Outgoing> outgoing_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<inbox::Inbox> inbox_;
  std::unique_ptr<Routing> routing_;
  WeekHours hours_;  // empty: always working
  int64_t chat_ = 1000;
};

TEST_F(RoutingTest, DistributesToTheLeastLoadedOnlineOperatorWithHistoryAndEvent) {
  // A's name and teams as identity publishes them (inbox/users.h): the team another supervisor leads.
  const std::string other_team = "01930000-0000-7000-8000-00000000a0a2";
  db_->Exec(absl::StrCat("INSERT INTO user_directory (user_id, full_name, team_ids) VALUES ('", kA,
                         "', 'Анна Операторова', '{", other_team, "}')"));
  Online(kA), Online(kB);  // C stays offline
  const std::string first = NewDialog();
  // The dialog carries its operator's teams: their team's supervisor sees it.
  EXPECT_TRUE(inbox_->GetDialog(UserPrincipal(kSupervisorId, {"dialogs.read.team"}, {other_team}), first).ok());
  // Nobody has any: the idlest (never assigned) with the smallest id.
  EXPECT_EQ(Responsible(first), absl::StrCat(kA, "/IN_WORK"));
  EXPECT_EQ(History(first), std::vector<std::string>{H("DISTRIBUTED", "", kA)});
  const std::string second = NewDialog();
  EXPECT_EQ(Responsible(second), absl::StrCat(kB, "/IN_WORK"));  // A has one open
  clock_.Advance(absl::Minutes(1));
  const std::string third = NewDialog();
  EXPECT_EQ(Responsible(third), absl::StrCat(kA, "/IN_WORK"));  // equal load: A was idle longer
  // DialogAssigned on the dialog's topic, one per assignment.
  EXPECT_EQ(db_->Count(absl::StrCat("SELECT count(*) FROM outbox WHERE type = '", v1::kDialogAssignedType,
                                    "' AND topic = '", v1::kDialogTopic, "'")),
            3);
  // The operators' list shows the load.
  v1::ListOperatorsRequest list;
  list.set_bot_id(kBot);
  auto ops = routing_->ListOperators(Supervisor(), list);
  ASSERT_TRUE(ops.ok()) << ops.status();
  ASSERT_EQ(ops->operators_size(), 3);
  EXPECT_EQ(ops->next_page_token(), "");
  // The page rule: two, then the rest by the token; a negative size refused naming it (with the bad token).
  list.set_page_size(2);
  auto page1 = routing_->ListOperators(Supervisor(), list);
  ASSERT_TRUE(page1.ok()) << page1.status();
  ASSERT_EQ(page1->operators_size(), 2);
  EXPECT_EQ(page1->next_page_token(), kB);
  list.set_page_token(page1->next_page_token());
  auto page2 = routing_->ListOperators(Supervisor(), list);
  ASSERT_TRUE(page2.ok()) << page2.status();
  ASSERT_EQ(page2->operators_size(), 1);
  EXPECT_EQ(page2->operators(0).user_id(), kC);
  EXPECT_EQ(page2->next_page_token(), "");
  list.set_page_size(-1);
  list.set_page_token("x");
  auto refused = routing_->ListOperators(Supervisor(), list);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("page_size"), std::string::npos);
  EXPECT_NE(refused.status().message().find("and 1 more"), std::string::npos);
  EXPECT_EQ(ops->operators(0).open_dialogs(), 2);
  EXPECT_EQ(ops->operators(0).user_name(), "Анна Операторова");
  EXPECT_EQ(ops->operators(1).open_dialogs(), 1);
  EXPECT_EQ(ops->operators(2).presence(), v1::PRESENCE_OFFLINE);
}

// A client who came by an operator's QR code (outreach's PreferredOperator) goes to that operator when
// they are available — even against fairness — and by the rules when they are not.
TEST_F(RoutingTest, ADialogGoesToItsPreferredOperatorFirstWhenAvailable) {
  std::map<std::string, std::string> preferred;  // dialog id → operator
  router_->SetPreferredOperator([&](pqxx::transaction_base&, std::string_view dialog) -> absl::StatusOr<std::string> {
    auto it = preferred.find(std::string(dialog));
    return it == preferred.end() ? std::string() : it->second;
  });
  Online(kA), Online(kB);
  const std::string first = NewDialog();  // by fairness: A
  EXPECT_EQ(Responsible(first), absl::StrCat(kA, "/IN_WORK"));
  // B would be next by fairness; the client came by A's code: A, although A has more open.
  const std::string referred = NewDialog("", "", /*distribute=*/false);
  preferred[referred] = kA;
  ASSERT_TRUE(Distribute(referred).ok());
  EXPECT_EQ(Responsible(referred), absl::StrCat(kA, "/IN_WORK"));
  EXPECT_EQ(History(referred), std::vector<std::string>{H("DISTRIBUTED", "", kA)});
  // The preferred operator offline (C) or full: the rules decide.
  const std::string to_offline = NewDialog("", "", false);
  preferred[to_offline] = kC;
  ASSERT_TRUE(Distribute(to_offline).ok());
  EXPECT_EQ(Responsible(to_offline), absl::StrCat(kB, "/IN_WORK"));
  Capacity(kA, 2);
  const std::string to_full = NewDialog("", "", false);
  preferred[to_full] = kA;
  ASSERT_TRUE(Distribute(to_full).ok());
  EXPECT_EQ(Responsible(to_full), absl::StrCat(kB, "/IN_WORK"));
}

TEST_F(RoutingTest, NobodyOnlineQueuesThenComingOnlineOrFreeingCapacityOffersTheOldest) {
  const std::string d1 = NewDialog();
  clock_.Advance(absl::Seconds(1));
  const std::string d2 = NewDialog();
  EXPECT_EQ(Responsible(d1), "/QUEUED");
  EXPECT_EQ(History(d1), std::vector<std::string>{H("QUEUED", "", "")});
  Online(kC, v1::PRESENCE_AWAY);  // away takes nothing
  EXPECT_EQ(Responsible(d1), "/QUEUED");
  Capacity(kB, 1);
  Online(kB);  // B comes online with room for one: the oldest
  EXPECT_EQ(Responsible(d1), absl::StrCat(kB, "/IN_WORK"));
  EXPECT_EQ(Responsible(d2), "/QUEUED");
  // B closes d1: their capacity is free again, the queue is offered.
  v1::SetDialogStatusRequest done;
  done.set_id(d1);
  done.set_status(v1::DIALOG_STATUS_PROCESSED);
  ASSERT_TRUE(inbox_->SetDialogStatus(Op(kB), done).ok());
  EXPECT_EQ(Responsible(d2), absl::StrCat(kB, "/IN_WORK"));
}

TEST_F(RoutingTest, RulesByProjectTopicAndPriorityGroupsExpanded) {
  Online(kA), Online(kB), Online(kC);
  v1::CreateRoutingRuleRequest r;
  r.mutable_rule()->set_bot_id(kBot);
  r.mutable_rule()->set_user_id(kA);
  r.mutable_rule()->set_project("Северный");
  ASSERT_TRUE(routing_->CreateRule(Admin(), r, "").ok());
  v1::CreateOperatorGroupRequest g;
  g.mutable_group()->set_bot_id(kBot);
  g.mutable_group()->set_name("Ипотека");
  g.mutable_group()->add_user_ids(kB);
  g.mutable_group()->add_user_ids(kC);
  auto group = routing_->CreateGroup(Admin(), g, "");
  ASSERT_TRUE(group.ok()) << group.status();
  r.mutable_rule()->clear_user_id();
  r.mutable_rule()->set_group_id(group->id());
  r.mutable_rule()->set_project("");
  r.mutable_rule()->set_topic("Ипотека");
  r.mutable_rule()->set_priority(5);
  ASSERT_TRUE(routing_->CreateRule(Admin(), r, "").ok());

  EXPECT_EQ(Responsible(NewDialog("Северный", "Рассрочка")), absl::StrCat(kA, "/IN_WORK"));
  // Both rules match; the group's priority wins although A is free too.
  EXPECT_EQ(Responsible(NewDialog("Северный", "Ипотека")), absl::StrCat(kB, "/IN_WORK"));
  EXPECT_EQ(Responsible(NewDialog("Южный", "Ипотека")), absl::StrCat(kC, "/IN_WORK"));
  // No rule matches: queued although everyone is online.
  EXPECT_EQ(Responsible(NewDialog("Южный", "Рассрочка")), "/QUEUED");
  v1::ListRoutingRulesRequest rules;
  rules.set_bot_id(kBot);
  rules.set_page_size(1);
  auto first_rule = routing_->ListRules(Supervisor(), rules);
  ASSERT_TRUE(first_rule.ok()) << first_rule.status();
  ASSERT_EQ(first_rule->rules_size(), 1);
  EXPECT_EQ(first_rule->rules(0).user_id(), kA);  // creation order
  rules.set_page_token(first_rule->next_page_token());
  auto second_rule = routing_->ListRules(Supervisor(), rules);
  ASSERT_TRUE(second_rule.ok()) << second_rule.status();
  ASSERT_EQ(second_rule->rules_size(), 1);
  EXPECT_EQ(second_rule->rules(0).group_name(), "Ипотека");
  EXPECT_EQ(second_rule->next_page_token(), "");
  v1::ListOperatorGroupsRequest groups;
  auto all_groups = routing_->ListGroups(Supervisor(), groups);
  ASSERT_TRUE(all_groups.ok()) << all_groups.status();
  ASSERT_EQ(all_groups->groups_size(), 1);
  EXPECT_EQ(all_groups->groups(0).user_ids_size(), 2);

  // A rule for a user without rights on the bot is refused naming the field; every bad field at once.
  r.mutable_rule()->clear_group_id();
  r.mutable_rule()->set_user_id(kOutsider);
  auto refused = routing_->CreateRule(Admin(), r, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("rule.user_id"), std::string::npos);
  v1::CreateRoutingRuleRequest bad;
  bad.mutable_rule()->set_user_id("x");
  auto invalid = routing_->CreateRule(Admin(), bad, "");
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(invalid.status().message().find("rule.bot_id"), std::string::npos);
  EXPECT_NE(invalid.status().message().find("and 1 more"), std::string::npos) << invalid.status();
  // Editing takes dialogs.admin.
  EXPECT_EQ(routing_->CreateRule(Supervisor(), r, "").status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(RoutingTest, CapacityIsNeverExceededByTwoThreadsDistributing200Dialogs) {
  Capacity(kA, 3), Capacity(kB, 4);
  Online(kA), Online(kB);
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(NewDialog("", "", /*distribute=*/false));
  std::atomic<int> failures{0};
  auto work = [&](int from) {
    for (int i = from; i < 200; i += 2) {
      if (!Distribute(ids[i]).ok()) ++failures;
    }
  };
  std::thread t1(work, 0), t2(work, 1);
  t1.join(), t2.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Open(kA), 3);
  EXPECT_EQ(Open(kB), 4);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM dialogs WHERE status = 'QUEUED'"), 193);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM dialog_assignments WHERE kind = 'DISTRIBUTED'"), 7);
}

TEST_F(RoutingTest, TakeIsOneUpdateWithHistoryAndTheSupervisorKeepsSeeingIt) {
  const std::string d = NewDialog();  // nobody online: queued
  auto won = inbox_->TakeDialog(Op(kA), d);
  ASSERT_TRUE(won.ok()) << won.status();
  auto lost = inbox_->TakeDialog(Op(kB), d);
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(History(d), (std::vector<std::string>{H("QUEUED", "", ""), H("TAKEN", "", kA)}));
  // The supervisor of A's team keeps it; B (same team, read.own) does not.
  EXPECT_TRUE(inbox_->GetDialog(Supervisor(), d).ok());
  EXPECT_EQ(inbox_->GetDialog(Op(kB), d).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RoutingTest, RedirectWithinTheBotAndRelease) {
  Online(kA);
  const std::string d = NewDialog();
  ASSERT_EQ(Responsible(d), absl::StrCat(kA, "/IN_WORK"));
  v1::RedirectDialogRequest req;
  req.set_id(d);
  req.set_user_id(kOutsider);
  auto refused = routing_->Redirect(Op(kA), req);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StartsWith(refused.status().message(), "user_id")) << refused.status();
  EXPECT_EQ(Responsible(d), absl::StrCat(kA, "/IN_WORK"));
  // B did not take it: not theirs to redirect.
  req.set_user_id(kC);
  EXPECT_FALSE(routing_->Redirect(Op(kB), req).ok());
  // To C (offline: an explicit handover needs no presence).
  auto moved = routing_->Redirect(Op(kA), req);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->responsible_id(), kC);
  // To a group: its available member.
  v1::CreateOperatorGroupRequest g;
  g.mutable_group()->set_bot_id(kBot);
  g.mutable_group()->set_name("Старшие");
  g.mutable_group()->add_user_ids(kA);
  g.mutable_group()->add_user_ids(kB);
  auto group = routing_->CreateGroup(Admin(), g, "");
  ASSERT_TRUE(group.ok()) << group.status();
  req.clear_user_id();
  req.set_group_id(group->id());
  Online(kB, v1::PRESENCE_AWAY);
  Online(kA, v1::PRESENCE_OFFLINE);
  auto nobody = routing_->Redirect(Op(kC), req);
  EXPECT_EQ(nobody.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StartsWith(nobody.status().message(), "group_id")) << nobody.status();
  Online(kB);
  auto to_group = routing_->Redirect(Op(kC), req);
  ASSERT_TRUE(to_group.ok()) << to_group.status();
  EXPECT_EQ(to_group->responsible_id(), kB);
  // B releases it: back to the queue, offered at once to the others — nobody else is online.
  v1::ReleaseDialogRequest rel;
  rel.set_id(d);
  auto released = routing_->Release(Op(kB), rel);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(released->status(), v1::DIALOG_STATUS_QUEUED);
  EXPECT_EQ(History(d), (std::vector<std::string>{H("DISTRIBUTED", "", kA), H("REDIRECTED", kA, kC),
                                                  H("REDIRECTED", kC, kB), H("RELEASED", kB, "")}));
}

TEST_F(RoutingTest, AnswerTimeoutInWorkingTimeRedistributesOnceWithTwoSweepers) {
  hours_ = Weekdays();
  db_->Exec(absl::StrCat("INSERT INTO routing_bots (bot_id, answer_timeout_minutes, update_time) VALUES ('", kBot,
                         "', 10, now())"));
  // Friday 17:55: five working minutes today, five on Monday.
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 11, 6, 17, 55, 0), absl::UTCTimeZone()));
  Online(kA), Online(kB);
  const std::string d = NewDialog();
  ASSERT_EQ(Responsible(d), absl::StrCat(kA, "/IN_WORK"));
  crm::timers::TimerStore one(*pool_, clock_, {.export_metrics = false});
  crm::timers::TimerStore two(*pool_, clock_, {.export_metrics = false});
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 11, 9, 9, 4, 59), absl::UTCTimeZone()));
  auto early = Sweep(one);
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->fired, 0);  // the weekend does not count
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 11, 9, 9, 5, 0), absl::UTCTimeZone()));
  absl::StatusOr<crm::timers::FireResult> r1, r2;
  std::thread s1([&] { r1 = Sweep(one); }), s2([&] { r2 = Sweep(two); });
  s1.join(), s2.join();
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(r1->fired + r2->fired, 1);
  EXPECT_EQ(Responsible(d), absl::StrCat(kB, "/IN_WORK"));  // the next operator, A excluded
  EXPECT_EQ(History(d), (std::vector<std::string>{H("DISTRIBUTED", "", kA), H("TIMED_OUT", kA, kB)}));
  auto again = Sweep(one);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->fired, 0);

  // B answers within two minutes: the first reply is measured and B's timer is cancelled.
  clock_.Advance(absl::Minutes(2));
  v1::SendMessageRequest m;
  m.set_dialog_id(d);
  m.set_text("Здравствуйте!");
  auto sent = inbox_->SendMessage(Op(kB), m, "");
  ASSERT_TRUE(sent.ok()) << sent.status();
  clock_.Advance(absl::Hours(1));
  auto after = Sweep(two);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->fired, 0);
  EXPECT_EQ(Responsible(d), absl::StrCat(kB, "/IN_WORK"));

  // B with a timed-out dialog and nobody else: back to the queue.
  const std::string e = NewDialog();
  ASSERT_EQ(Responsible(e), absl::StrCat(kA, "/IN_WORK"));  // A has 0 open, B has 1
  Online(kB, v1::PRESENCE_OFFLINE);
  clock_.Advance(absl::Minutes(10));
  auto fired = Sweep(one);
  ASSERT_TRUE(fired.ok());
  EXPECT_EQ(fired->fired, 1);
  EXPECT_EQ(Responsible(e), "/QUEUED");
  EXPECT_EQ(History(e), (std::vector<std::string>{H("DISTRIBUTED", "", kA), H("TIMED_OUT", kA, "")}));

  // T8: the timeline of d — created Friday 17:55, assigned at once, the reply 2 working minutes after the
  // timeout's reassignment; from creation to the first assignment nothing, to the first reply 7 minutes
  // (5 on Friday, 2 on Monday) counted from A's assignment.
  auto t = routing_->Timeline(Op(kB), TimelineOf(d));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->entries_size(), 2);  // (no scenario ran: no bot transitions)
  EXPECT_EQ(t->entries(0).assignment().kind(), v1::ASSIGNMENT_KIND_DISTRIBUTED);
  EXPECT_EQ(t->entries(1).assignment().kind(), v1::ASSIGNMENT_KIND_TIMED_OUT);
  EXPECT_EQ(t->next_page_token(), "");
  EXPECT_EQ(t->wait_queue_working_seconds(), 0);
  EXPECT_EQ(t->wait_take_working_seconds(), 0);
  EXPECT_EQ(t->first_reply_working_seconds(), (5 + 5 + 2) * 60);
  // The report: B answered one in 2 working minutes; A took two, answered none.
  v1::GetResponseReportRequest rep;
  *rep.mutable_from_time() = ToProtoTimestamp(absl::FromCivil(absl::CivilSecond(2026, 11, 1, 0, 0, 0), absl::UTCTimeZone()));
  *rep.mutable_to_time() = ToProtoTimestamp(absl::FromCivil(absl::CivilSecond(2026, 11, 30, 0, 0, 0), absl::UTCTimeZone()));
  auto report = routing_->Report(Supervisor(), rep);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->rows_size(), 2);
  EXPECT_EQ(report->rows(0).user_id(), kA);
  EXPECT_EQ(report->rows(0).dialogs_taken(), 2);
  EXPECT_EQ(report->rows(0).dialogs_answered(), 0);
  EXPECT_EQ(report->rows(1).user_id(), kB);
  EXPECT_EQ(report->rows(1).dialogs_taken(), 1);
  EXPECT_EQ(report->rows(1).dialogs_answered(), 1);
  EXPECT_EQ(report->rows(1).median_first_reply_working_seconds(), 120);
  EXPECT_EQ(report->rows(1).p90_first_reply_working_seconds(), 120);
  EXPECT_EQ(routing_->Report(Op(kA), rep).status().code(), absl::StatusCode::kPermissionDenied);
}

// T9 (issue 18): a client walks the demo chat-bot — /start, the phone, the topic menu, a wrong key twice,
// silence until the waiting timeout — and is routed. The runner steps each input as the processor does (its
// actions applied by the processor's ActionSink in the same transaction, the timeout through the durable
// timer); the timeline merges the bot's transitions, each with its cause, with routing's assignment in time
// order, page by page.
TEST_F(RoutingTest, T9TheTimelineShowsTheBotsTransitionsWithTheirCausesThenTheRouting) {
  // The demo bot's scenario (seed 004) on this bot, with three attempts at the topic menu.
  v1::Scenario scenario = scenarios::DemoScenario();
  ASSERT_EQ(scenario.stages(1).code(), scenarios::kStageTopic);
  scenario.mutable_stages(1)->mutable_unrecognized()->set_attempts(3);
  scenario.set_bot_id(kBot);
  scenario.set_active(true);
  scenarios::ScenarioStore store(*pool_, clock_, *outbox_);
  ASSERT_TRUE(store.Create(Admin(), scenario, "").ok());
  scenarios::ScenarioRunner runner(clock_, *calendar_);
  inbox::Processor processor(*pool_, clock_, *outbox_, *outgoing_, runner, {.workers = 0});
  runner.SetSink([&](pqxx::transaction_base& tx, const scenarios::DialogRef& d, const std::vector<v1::Action>& a) {
    return processor.ApplyTimerActions(tx, d, a);
  });
  Online(kA);
  const std::string id = NewDialog("", "", false);
  const scenarios::DialogRef ref{.dialog_id = id, .bot_id = kBot, .client_key = "7001", .private_chat = true};
  // One client input in one transaction, as the processor steps it.
  auto input = [&](v1::InputKind kind, const std::string& text) {
    v1::Input in;
    in.set_kind(kind);
    in.set_text(text);
    ASSERT_TRUE(crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
                  CRM_ASSIGN_OR_RETURN(std::vector<v1::Action> actions, runner.OnInput(tx, ref, in));
                  return processor.ApplyTimerActions(tx, ref, actions);
                }).ok());
    clock_.Advance(absl::Minutes(1));
  };
  const absl::Time t0 = clock_.Now();
  input(v1::INPUT_KIND_START, "");
  input(v1::INPUT_KIND_CONTACT, "");
  input(v1::INPUT_KIND_TEXT, "не знаю");
  input(v1::INPUT_KIND_TEXT, "машиноместо");
  EXPECT_EQ(Responsible(id), "/BOT");  // still the bot's
  crm::timers::TimerStore timers(*pool_, clock_, {.export_metrics = false});
  clock_.Set(t0 + absl::Minutes(3 + 30));  // 30 minutes after the last input: the wait runs out
  auto fired = timers.FireDue([&](pqxx::transaction_base& tx, const crm::timers::Timer& t) -> absl::Status {
    return runner.OnTimer(tx, t);
  });
  ASSERT_TRUE(fired.ok()) << fired.status();
  EXPECT_EQ(fired->fired, 1);
  EXPECT_EQ(Responsible(id), absl::StrCat(kA, "/IN_WORK"));

  // The timeline, three entries a page: every entry once, in order, then no token.
  std::vector<std::string> got;
  std::string token;
  int pages = 0;
  do {
    auto t = routing_->Timeline(Op(kA), TimelineOf(id, 3, token));
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_LE(t->entries_size(), 3);
    for (const v1::TimelineEntry& e : t->entries()) {
      const int64_t minute = absl::ToInt64Minutes(FromProtoTimestamp(e.time()) - t0);
      if (e.has_assignment()) {
        got.push_back(absl::StrCat(minute, " ", v1::AssignmentKind_Name(e.assignment().kind()), " ",
                                   e.assignment().to_user_id()));
        continue;
      }
      const v1::BotTransition& b = e.bot_transition();
      got.push_back(absl::StrCat(minute, " ", v1::BotTransitionCause_Name(b.cause()), " ", b.from_stage(), ">",
                                 b.to_stage(), " ", b.to_stage_name(), b.failed_attempts() ? " #" : "",
                                 b.failed_attempts() ? absl::StrCat(b.failed_attempts()) : ""));
    }
    token = t->next_page_token();
    ASSERT_LE(++pages, 5);
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(got, ::testing::ElementsAre(
                       "0 BOT_TRANSITION_CAUSE_START >000000001 Приветствие и запрос телефона",
                       "1 BOT_TRANSITION_CAUSE_KEY 000000001>000000008 Выбор темы обращения",
                       "2 BOT_TRANSITION_CAUSE_UNRECOGNIZED 000000008>000000008 Выбор темы обращения #1",
                       "3 BOT_TRANSITION_CAUSE_UNRECOGNIZED 000000008>000000008 Выбор темы обращения #2",
                       "33 BOT_TRANSITION_CAUSE_REPLY_TIMEOUT 000000008>000000009 Сообщение ожидания ответа",
                       "33 BOT_TRANSITION_CAUSE_FINISH 000000009> ", absl::StrCat("33 ASSIGNMENT_KIND_DISTRIBUTED ", kA)));
  // A token the timeline did not give is refused naming it.
  EXPECT_EQ(routing_->Timeline(Op(kA), TimelineOf(id, 3, "t1.x.2")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(routing_->Timeline(Op(kA), TimelineOf(id, -1)).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RoutingTest, OutOfHoursQueuesUntilTheWorkingPeriodThenOffers) {
  Online(kA);
  const std::string id = NewDialog("", "", false);
  const absl::Time monday9 = absl::FromCivil(absl::CivilSecond(2026, 11, 9, 9, 0, 0), absl::UTCTimeZone());
  ASSERT_TRUE(crm::pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
                CRM_ASSIGN_OR_RETURN(std::optional<inbox::StoredDialog> d, inbox::LoadDialog(tx, id, true));
                return inbox::Distribute(tx, d->dialog, monday9, clock_.Now());
              }).ok());
  EXPECT_EQ(Responsible(id), "/QUEUED");
  crm::timers::TimerStore timers(*pool_, clock_, {.export_metrics = false});
  clock_.Set(monday9);
  auto r = Sweep(timers);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->fired, 1);
  EXPECT_EQ(Responsible(id), absl::StrCat(kA, "/IN_WORK"));
}

}  // namespace
}  // namespace crm::dialogs::routing
