// Tests of durable timers and schedules (libs/timers/timers.h, schedules.h) on a real PostgreSQL
// (CRM_TEST_PG_DSN) with a ManualClock: nothing here sleeps for time to pass.
#include "libs/timers/timers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <latch>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/base/clock.h"
#include "libs/base/time.h"
#include "libs/calendar/calendar.h"
#include "libs/metrics/metrics.h"
#include "libs/metrics/metrics_testing.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/timers/kinds.h"
#include "libs/timers/schedules.h"

namespace crm::timers {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

class TimersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = pg::testing::TempDatabase::Create("timers");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    auto applied = pg::Migrate(db_->dsn(), TimersMigrations());
    ASSERT_TRUE(applied.ok()) << applied.status();
    auto pool = pg::Pool::Create({.dsn = db_->dsn(), .size = 6, .application_name = "timers_test"});
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
    Exec("CREATE TABLE effects (timer_id uuid NOT NULL UNIQUE, note text NOT NULL DEFAULT '')");
    store_ = std::make_unique<TimerStore>(*pool_, clock_, TimerStoreOptions{.export_metrics = false});
  }

  void Exec(const std::string& sql) { db_->Exec(sql); }
  int64_t Count(const std::string& sql) { return db_->Count(sql); }
  std::string Text(const std::string& sql) {
    pqxx::connection c(db_->dsn());
    pqxx::work tx(c);
    pqxx::row r = tx.exec1(sql);
    return r[0].is_null() ? "NULL" : r[0].as<std::string>();
  }

  absl::StatusOr<ScheduleOutcome> Schedule(const std::string& key, absl::Time due,
                                           const std::string& payload = "p",
                                           const std::string& kind = "test") {
    absl::StatusOr<ScheduleOutcome> out = absl::InternalError("not run");
    absl::Status s = pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
      out = TimerStore::Schedule(tx, key, kind, due, payload);
      return out.status();
    });
    if (!s.ok()) return s;
    return out;
  }

  // A handler that records the timer in `effects` (the UNIQUE id catches a double effect).
  TimerHandler Recorder(std::vector<std::string>* keys = nullptr, absl::Mutex* mu = nullptr) {
    return [keys, mu](pqxx::transaction_base& tx, const Timer& t) -> absl::Status {
      tx.exec_params("INSERT INTO effects (timer_id, note) VALUES ($1::uuid, $2)", t.id, t.key);
      if (keys != nullptr) {
        if (mu != nullptr) mu->Lock();
        keys->push_back(t.key);
        if (mu != nullptr) mu->Unlock();
      }
      return absl::OkStatus();
    };
  }

  FireResult Fire(const TimerHandler& h, int batch = 100) {
    absl::StatusOr<FireResult> r = store_->FireDue(h, batch);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : FireResult{};
  }

  ManualClock clock_{kStart};
  std::unique_ptr<pg::testing::TempDatabase> db_;
  std::unique_ptr<pg::Pool> pool_;
  std::unique_ptr<TimerStore> store_;
};

TEST_F(TimersTest, FiresOnceAtDueAndNotBefore) {
  ASSERT_EQ(*Schedule("k1", kStart + absl::Minutes(10), std::string("a\0b", 3)), ScheduleOutcome::kCreated);
  std::vector<std::string> payloads;
  TimerHandler h = [&](pqxx::transaction_base& tx, const Timer& t) -> absl::Status {
    payloads.push_back(t.payload);
    return Recorder()(tx, t);
  };
  EXPECT_EQ(Fire(h).fired, 0);
  clock_.Advance(absl::Minutes(10) - absl::Microseconds(1));
  EXPECT_EQ(Fire(h).claimed, 0);
  clock_.Advance(absl::Seconds(5));
  FireResult r = Fire(h);
  EXPECT_EQ(r.fired, 1);
  EXPECT_EQ(r.retried, 0);
  ASSERT_EQ(r.lags.size(), 1u);
  EXPECT_EQ(r.lags[0], absl::Seconds(5) - absl::Microseconds(1));
  ASSERT_EQ(payloads.size(), 1u);
  EXPECT_EQ(payloads[0], std::string("a\0b", 3));  // bytea survives NULs
  EXPECT_EQ(Fire(h).claimed, 0);
  clock_.Advance(absl::Hours(24));
  EXPECT_EQ(Fire(h).claimed, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM effects"), 1);
  EXPECT_EQ(Text("SELECT state FROM timers WHERE key = 'k1'"), "fired");
  EXPECT_EQ(
      Text("SELECT fired_time = timestamptz 'epoch' + interval '1800000600 seconds' + interval '4999999 "
           "microseconds' FROM timers"),
      "t");
}

TEST_F(TimersTest, ScheduleIsIdempotentByKeyAndRearmsPending) {
  ASSERT_EQ(*Schedule("k", kStart + absl::Minutes(5)), ScheduleOutcome::kCreated);
  ASSERT_EQ(*Schedule("k", kStart + absl::Minutes(5)), ScheduleOutcome::kUnchanged);
  EXPECT_EQ(Count("SELECT count(*) FROM timers"), 1);
  // The anchor date moved: the pending timer follows it.
  ASSERT_EQ(*Schedule("k", kStart + absl::Minutes(20), "p2"), ScheduleOutcome::kRearmed);
  EXPECT_EQ(Count("SELECT count(*) FROM timers"), 1);
  clock_.Advance(absl::Minutes(10));
  EXPECT_EQ(Fire(Recorder()).claimed, 0);  // the old due no longer fires
  clock_.Advance(absl::Minutes(10));
  std::string payload;
  EXPECT_EQ(Fire([&](pqxx::transaction_base&, const Timer& t) {
              payload = t.payload;
              return absl::OkStatus();
            }).fired,
            1);
  EXPECT_EQ(payload, "p2");
  // Fired: a later Schedule with the key (another due) changes nothing and fires nothing.
  ASSERT_EQ(*Schedule("k", clock_.Now() + absl::Minutes(1)), ScheduleOutcome::kUnchanged);
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(Fire(Recorder()).claimed, 0);
  // Another kind with a used key is a caller bug.
  EXPECT_EQ(Schedule("k", kStart, "p", "other").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Schedule("", kStart).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TimersTest, CancelIsIdempotentAndFinal) {
  ASSERT_TRUE(Schedule("moot", kStart + absl::Minutes(15)).ok());
  ASSERT_TRUE(Schedule("kept", kStart + absl::Minutes(15)).ok());
  std::vector<bool> cancelled;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
                  absl::StatusOr<bool> c = TimerStore::Cancel(tx, "moot");
                  if (!c.ok()) return c.status();
                  cancelled.push_back(*c);
                  return absl::OkStatus();
                }).ok());
  }
  EXPECT_EQ(cancelled, (std::vector<bool>{true, false}));
  EXPECT_EQ(*Schedule("moot", kStart + absl::Minutes(30)), ScheduleOutcome::kUnchanged);
  clock_.Advance(absl::Hours(1));
  std::vector<std::string> keys;
  EXPECT_EQ(Fire(Recorder(&keys)).fired, 1);
  EXPECT_EQ(keys, std::vector<std::string>{"kept"});
  EXPECT_EQ(Text("SELECT state FROM timers WHERE key = 'moot'"), "cancelled");
}

TEST_F(TimersTest, FailedHandlerRetriesWithBackoffAndSiblingsCommit) {
  store_ = std::make_unique<TimerStore>(
      *pool_, clock_,
      TimerStoreOptions{
          .initial_backoff = absl::Seconds(10), .max_backoff = absl::Seconds(30), .export_metrics = false});
  ASSERT_TRUE(Schedule("a", kStart + absl::Seconds(1)).ok());
  ASSERT_TRUE(Schedule("bad", kStart + absl::Seconds(2)).ok());
  ASSERT_TRUE(Schedule("throws", kStart + absl::Seconds(3)).ok());
  ASSERT_TRUE(Schedule("c", kStart + absl::Seconds(4)).ok());
  bool heal = false;
  TimerHandler h = [&](pqxx::transaction_base& tx, const Timer& t) -> absl::Status {
    // Every run writes first, so a failure must roll back its own write only.
    tx.exec_params("INSERT INTO effects (timer_id, note) VALUES ($1::uuid, $2)", t.id, t.key);
    if (!heal && t.key == "bad") return absl::UnavailableError("crm down");
    if (!heal && t.key == "throws") tx.exec("SELECT 1/0");  // leaves the transaction failed
    return absl::OkStatus();
  };
  clock_.Advance(absl::Seconds(5));
  FireResult r = Fire(h);
  EXPECT_EQ(r.fired, 2);
  EXPECT_EQ(r.retried, 2);
  EXPECT_EQ(Text("SELECT string_agg(note, ',' ORDER BY note) FROM effects"), "a,c");
  EXPECT_EQ(Text("SELECT attempts || ' ' || last_error FROM timers WHERE key = 'bad'"),
            "1 UNAVAILABLE: crm down");
  EXPECT_NE(Text("SELECT last_error FROM timers WHERE key = 'throws'").find("division by zero"),
            std::string::npos);
  // Backoff 10 s, then 20 s, then capped at 30 s (not 40), each from the failing run's time.
  EXPECT_EQ(Count("SELECT extract(epoch FROM due_time)::bigint FROM timers WHERE key = 'bad'"),
            1'800'000'015);
  clock_.Advance(absl::Seconds(9));
  EXPECT_EQ(Fire(h).claimed, 0);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Fire(h).retried, 2);
  EXPECT_EQ(Count("SELECT extract(epoch FROM due_time)::bigint FROM timers WHERE key = 'bad'"),
            1'800'000'035);
  clock_.Advance(absl::Seconds(20));
  EXPECT_EQ(Fire(h).retried, 2);
  EXPECT_EQ(Count("SELECT extract(epoch FROM due_time)::bigint FROM timers WHERE key = 'bad'"),
            1'800'000'065);
  heal = true;
  clock_.Advance(absl::Seconds(30));
  r = Fire(h);
  EXPECT_EQ(r.fired, 2);
  EXPECT_EQ(Text("SELECT string_agg(note, ',' ORDER BY note) FROM effects"), "a,bad,c,throws");
  EXPECT_EQ(Count("SELECT count(*) FROM timers WHERE state = 'fired'"), 4);
  EXPECT_EQ(Fire(h).claimed, 0);
}

TEST_F(TimersTest, KilledMidActionLeavesNothingAndFiresOnceLater) {
  store_ = std::make_unique<TimerStore>(*pool_, clock_,
                                        TimerStoreOptions{.tx_attempts = 1, .export_metrics = false});
  ASSERT_TRUE(Schedule("k", kStart).ok());
  int runs = 0;
  TimerHandler killer = [&](pqxx::transaction_base& tx, const Timer& t) -> absl::Status {
    ++runs;
    tx.exec_params("INSERT INTO effects (timer_id, note) VALUES ($1::uuid, 'killed')", t.id);
    const int pid = tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
    pqxx::connection admin(db_->dsn());
    pqxx::nontransaction(admin).exec_params("SELECT pg_terminate_backend($1)", pid);
    tx.exec("SELECT 1");  // the backend is gone: the process "dies" here
    return absl::OkStatus();
  };
  absl::StatusOr<FireResult> r = store_->FireDue(killer);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(Count("SELECT count(*) FROM effects"), 0);
  EXPECT_EQ(Text("SELECT state || ' ' || attempts FROM timers"), "pending 0");
  // A thrown exception inside the handler rolls back its write too (a retry, not a loss).
  FireResult thrown = Fire([&](pqxx::transaction_base& tx, const Timer& t) -> absl::Status {
    tx.exec_params("INSERT INTO effects (timer_id, note) VALUES ($1::uuid, 'threw')", t.id);
    throw std::runtime_error("boom");
  });
  EXPECT_EQ(thrown.retried, 1);
  EXPECT_EQ(Count("SELECT count(*) FROM effects"), 0);
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Fire(Recorder()).fired, 1);
  EXPECT_EQ(Fire(Recorder()).claimed, 0);
  EXPECT_EQ(Text("SELECT string_agg(note, ',') FROM effects"), "k");
}

TEST_F(TimersTest, TwoConcurrentFirersFireEachTimerExactlyOnce) {
  constexpr int kTimers = 500;
  Exec(
      absl::StrCat("INSERT INTO timers (id, key, kind, due_time) SELECT gen_random_uuid(), 'c' || i, 'test', "
                   "timestamptz 'epoch' + interval '1800000000 seconds' + i * interval '1 millisecond' "
                   "FROM generate_series(1, ",
                   kTimers, ") i"));
  clock_.Advance(absl::Hours(1));
  TimerStore a(*pool_, clock_, {.export_metrics = false});
  TimerStore b(*pool_, clock_, {.export_metrics = false});
  std::atomic<int> fired{0}, retried{0}, errors{0}, runs{0};
  std::latch start(2);
  // Counts every run, committed or not: a timer claimed twice would run twice (the UNIQUE effect would
  // then fail and be retried, so the effects table alone could hide it).
  TimerHandler h = [&](pqxx::transaction_base& tx, const Timer& t) -> absl::Status {
    ++runs;
    return Recorder()(tx, t);
  };
  auto worker = [&](TimerStore& store) {
    start.arrive_and_wait();
    for (;;) {
      absl::StatusOr<FireResult> r = store.FireDue(h, 20);
      if (!r.ok()) {
        ++errors;
        return;
      }
      fired += r->fired;
      retried += r->retried;
      if (r->claimed == 0) return;
    }
  };
  std::thread ta([&] { worker(a); });
  std::thread tb([&] { worker(b); });
  ta.join();
  tb.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(fired.load(), kTimers);
  EXPECT_EQ(retried.load(), 0);
  EXPECT_EQ(runs.load(), kTimers);
  EXPECT_EQ(Count("SELECT count(*) FROM effects"), kTimers);
  EXPECT_EQ(Count("SELECT count(*) FROM timers WHERE attempts <> 0"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM timers WHERE state = 'fired'"), kTimers);
}

TEST_F(TimersTest, LoopFiresWhenDueAndStopsCleanly) {
  ASSERT_TRUE(Schedule("loop", kStart + absl::Minutes(1)).ok());
  auto loop = std::make_unique<TimerLoop>(*store_, Recorder(),
                                          TimerLoopOptions{.poll_interval = absl::Milliseconds(20)});
  auto wait_for = [](const std::function<bool()>& cond) {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!cond() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));  // bounded poll
    return cond();
  };
  ASSERT_TRUE(wait_for([&] { return loop->passes() >= 3; }));
  EXPECT_EQ(loop->fired(), 0);
  clock_.Advance(absl::Minutes(1));
  loop->Wake();
  ASSERT_TRUE(wait_for([&] { return loop->fired() == 1; }));
  loop.reset();
  EXPECT_EQ(Count("SELECT count(*) FROM effects"), 1);
}

TEST_F(TimersTest, ExportsFiredRetriedAndLagMetrics) {
  TimerStore store(*pool_, clock_, {});  // export_metrics on: the only test that records into the registry
  auto exposer = metrics::Exposer::Start("127.0.0.1:0");
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  ASSERT_TRUE(Schedule("m1", kStart).ok());
  ASSERT_TRUE(Schedule("m2", kStart + absl::Seconds(1)).ok());
  clock_.Advance(absl::Seconds(5));
  absl::StatusOr<FireResult> r = store.FireDue([](pqxx::transaction_base&, const Timer& t) {
    return t.key == "m1" ? absl::OkStatus() : absl::UnavailableError("later");
  });
  ASSERT_TRUE(r.ok()) << r.status();
  auto page = metrics::testing::Scrape((*exposer)->port());
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(metrics::testing::SampleValue(*page, "crm_timers_fired_total"), 1.0);
  EXPECT_EQ(metrics::testing::SampleValue(*page, "crm_timers_retried_total"), 1.0);
  EXPECT_EQ(metrics::testing::SampleValue(*page, "crm_timer_lag_seconds_count"), 1.0);
  EXPECT_EQ(metrics::testing::SampleValue(*page, "crm_timer_lag_seconds_sum"), 5.0);
  EXPECT_EQ(metrics::testing::SampleValue(*page, "crm_timer_lag_seconds_bucket", {{"le", "2.5"}}),
            0.0);
  EXPECT_EQ(metrics::testing::SampleValue(*page, "crm_timer_lag_seconds_bucket", {{"le", "5"}}), 1.0);
}

TEST(ScheduleSpecTest, ParsesAndNamesProblems) {
  auto s = ParseScheduleSpec("Every Working Day at 19:00");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->days, ScheduleSpec::Days::kWorkingDays);
  EXPECT_EQ(s->hour, 19);
  s = ParseScheduleSpec("weekly on fri at 09:05");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->weekday, absl::Weekday::friday);
  EXPECT_EQ(s->minute, 5);
  auto bad = ParseScheduleSpec("every fortnight at 10:00");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("expected \"every day at HH:MM\""), absl::string_view::npos);
  bad = ParseScheduleSpec("weekly on funday at 10:00");
  EXPECT_NE(bad.status().message().find("unknown weekday \"funday\""), absl::string_view::npos)
      << bad.status();
  bad = ParseScheduleSpec("every day at 24:00");
  EXPECT_NE(bad.status().message().find("time \"24:00\" is not HH:MM"), absl::string_view::npos)
      << bad.status();

  absl::TimeZone msk = *LoadTimeZone("Europe/Moscow");
  // Tuesday 2026-11-24 12:00 MSK -> the next Monday 10:00 MSK.
  absl::Time next = NextOccurrence(*ParseScheduleSpec("weekly on monday at 10:00"),
                                   *ParseRfc3339("2026-11-24T12:00:00+03:00"), msk, nullptr);
  EXPECT_EQ(FormatRfc3339Local(next, msk), "2026-11-30T10:00:00+03:00");
  // A wall time a clock change skips maps to the change: New York springs forward at 02:00 on 2026-03-08.
  absl::TimeZone ny = *LoadTimeZone("America/New_York");
  next = NextOccurrence(*ParseScheduleSpec("every day at 02:30"), *ParseRfc3339("2026-03-07T12:00:00-05:00"),
                        ny, nullptr);
  EXPECT_EQ(FormatRfc3339Local(next, ny), "2026-03-08T03:00:00-04:00");
  next = NextOccurrence(*ParseScheduleSpec("every day at 02:30"), next, ny, nullptr);
  EXPECT_EQ(FormatRfc3339Local(next, ny), "2026-03-09T02:30:00-04:00");
  // A repeated one (fall back at 02:00 on 2026-11-01) to its first occurrence.
  next = NextOccurrence(*ParseScheduleSpec("every day at 01:30"), *ParseRfc3339("2026-10-31T12:00:00-04:00"),
                        ny, nullptr);
  EXPECT_EQ(FormatRfc3339Local(next, ny), "2026-11-01T01:30:00-04:00");
  // Strictly after: at the occurrence itself, the next day's.
  next = NextOccurrence(*ParseScheduleSpec("every day at 12:00"), *ParseRfc3339("2026-11-24T12:00:00+03:00"),
                        msk, nullptr);
  EXPECT_EQ(FormatRfc3339Local(next, msk), "2026-11-25T12:00:00+03:00");
}

class SchedulesTest : public TimersTest {
 protected:
  void SetUp() override {
    TimersTest::SetUp();
    msk_ = *LoadTimeZone("Europe/Moscow");
    calendar::CalendarSpec spec = calendar::WorkingCalendar::FiveDay(msk_).spec();
    spec.holidays.insert(absl::CivilDay(2026, 11, 25));  // a Wednesday off
    auto cal = calendar::WorkingCalendar::Create(spec);
    ASSERT_TRUE(cal.ok()) << cal.status();
    calendar_ = std::make_unique<calendar::WorkingCalendar>(*cal);
    schedules_ = std::make_unique<ScheduleStore>(
        *pool_, clock_, [this](std::string_view name) -> absl::StatusOr<calendar::WorkingCalendar> {
          if (name != "ru") return absl::NotFoundError(absl::StrCat("no calendar ", std::string(name)));
          return *calendar_;
        });
  }

  absl::StatusOr<std::string> Put(const ScheduleDef& def) {
    absl::StatusOr<std::string> id = absl::InternalError("not run");
    absl::Status s = pg::InTransaction(*pool_, [&](pqxx::work& tx) -> absl::Status {
      id = schedules_->Put(tx, def);
      return id.status();
    });
    if (!s.ok()) return s;
    return id;
  }

  absl::TimeZone msk_;
  std::unique_ptr<calendar::WorkingCalendar> calendar_;
  std::unique_ptr<ScheduleStore> schedules_;
};

TEST_F(SchedulesTest, EveryWorkingDayAt19FiresOnWorkingDaysOnly) {
  clock_.Set(*ParseRfc3339("2026-11-23T10:00:00+03:00"));  // Monday
  auto id = Put({.key = "eod",
                 .spec = "every working day at 19:00",
                 .time_zone = "Europe/Moscow",
                 .calendar = "ru",
                 .kind = "robots.end_of_day",
                 .payload = "report"});
  ASSERT_TRUE(id.ok()) << id.status();
  std::vector<std::string> fired_at;  // local wall time of the clock when each occurrence fired
  TimerHandler h = schedules_->Wrap([&](pqxx::transaction_base&, const Timer& t) -> absl::Status {
    EXPECT_EQ(t.kind, "robots.end_of_day");
    EXPECT_EQ(t.payload, "report");
    fired_at.push_back(FormatRfc3339Local(clock_.Now(), msk_));
    return absl::OkStatus();
  });
  // Eight days in 15-minute steps, materializing before each pass as the loop does.
  for (int step = 0; step < 8 * 24 * 4; ++step) {
    clock_.Advance(absl::Minutes(15));
    auto created = schedules_->Materialize();
    ASSERT_TRUE(created.ok()) << created.status();
    EXPECT_EQ(*created, 0);  // Put and each firing already made the next timer
    Fire(h);
  }
  EXPECT_EQ(fired_at, (std::vector<std::string>{"2026-11-23T19:00:00+03:00", "2026-11-24T19:00:00+03:00",
                                                "2026-11-26T19:00:00+03:00", "2026-11-27T19:00:00+03:00",
                                                "2026-11-30T19:00:00+03:00"}));
  EXPECT_EQ(Count("SELECT count(*) FROM timers WHERE state = 'pending'"), 1);  // Tuesday 2026-12-01
  EXPECT_EQ(
      Text("SELECT to_char(next_time AT TIME ZONE 'Europe/Moscow', 'YYYY-MM-DD HH24:MI') FROM schedules"),
      "2026-12-01 19:00");
  // Disabling cancels the pending occurrence.
  ASSERT_TRUE(Put({.key = "eod",
                   .spec = "every working day at 19:00",
                   .time_zone = "Europe/Moscow",
                   .calendar = "ru",
                   .kind = "robots.end_of_day",
                   .payload = "report",
                   .enabled = false})
                  .ok());
  clock_.Advance(absl::Hours(48));
  EXPECT_EQ(Fire(h).claimed, 0);
  EXPECT_EQ(fired_at.size(), 5u);

  EXPECT_EQ(Put({.key = "x", .spec = "every working day at 19:00", .time_zone = "Europe/Moscow", .kind = "k"})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Put({.key = "x", .spec = "every day at 19:00", .time_zone = "Mars/Base", .kind = "k"}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      Put({.key = "x", .spec = "every day at 19:00", .time_zone = "UTC", .calendar = "nope", .kind = "k"})
          .status()
          .code(),
      absl::StatusCode::kNotFound);
}

TEST_F(SchedulesTest, ChangedSpecMovesTheOccurrence) {
  clock_.Set(*ParseRfc3339("2026-11-23T10:00:00+03:00"));
  ScheduleDef def{.key = "s", .spec = "every day at 12:00", .time_zone = "Europe/Moscow", .kind = "k"};
  ASSERT_TRUE(Put(def).ok());
  auto same = Put(def);  // unchanged: the same id, no new version, no new timer
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(Count("SELECT version FROM schedules"), 1);
  def.payload = "v2";  // the same occurrence: its pending timer takes the new payload
  ASSERT_TRUE(Put(def).ok());
  EXPECT_EQ(Text("SELECT convert_from(payload, 'UTF8') FROM timers WHERE state = 'pending'"), "v2");
  def.spec = "every day at 11:00";  // the 12:00 occurrence is cancelled, 11:00 scheduled
  auto id = Put(def);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, *same);
  EXPECT_EQ(Count("SELECT version FROM schedules"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM timers WHERE state = 'pending'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM timers WHERE state = 'cancelled'"), 1);
  int runs = 0;
  TimerHandler h = schedules_->Wrap([&](pqxx::transaction_base&, const Timer&) {
    ++runs;
    return absl::OkStatus();
  });
  clock_.Set(*ParseRfc3339("2026-11-23T12:30:00+03:00"));
  EXPECT_EQ(Fire(h).fired, 1);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(
      Text("SELECT to_char(next_time AT TIME ZONE 'Europe/Moscow', 'YYYY-MM-DD HH24:MI') FROM schedules"),
      "2026-11-24 11:00");
}

TEST_F(SchedulesTest, ConcurrentMaterializersMakeOneTimerPerOccurrence) {
  constexpr int kSchedules = 50;
  // Schedules written without timers (as by a seed script): Materialize must create them.
  Exec(absl::StrCat(
      "INSERT INTO schedules (id, key, spec, time_zone, kind, next_time) SELECT gen_random_uuid(), "
      "'s' || i, 'every day at 10:00', 'UTC', 'k', timestamptz '2027-01-15 10:00:00+00' "
      "FROM generate_series(1, ",
      kSchedules, ") i"));
  for (int round = 0; round < 3; ++round) {
    std::atomic<int> created{0}, errors{0};
    std::latch start(2);
    auto work = [&] {
      start.arrive_and_wait();
      auto n = schedules_->Materialize();
      if (!n.ok()) {
        ++errors;
        ADD_FAILURE() << n.status();
        return;
      }
      created += *n;
    };
    std::thread a(work), b(work);
    a.join();
    b.join();
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(created.load(), round == 0 ? kSchedules : 0);
    EXPECT_EQ(Count("SELECT count(*) FROM timers"), kSchedules);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM timers WHERE key LIKE 'schedule:%:' || extract(epoch FROM "
                  "timestamptz '2027-01-15 10:00:00+00')::bigint"),
            kSchedules);
}

TEST_F(TimersTest, KindsDispatchEachTimerToItsKindsHandlerAndRefuseAKindTwice) {
  TimerKinds kinds;
  std::vector<std::string> a, b;
  ASSERT_TRUE(kinds.Register("part.a", Recorder(&a)).ok());
  ASSERT_TRUE(kinds.Register("part.b", Recorder(&b)).ok());
  EXPECT_EQ(kinds.Register("part.a", Recorder()).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Schedule("one", kStart, "p", "part.a").ok());
  ASSERT_TRUE(Schedule("two", kStart, "p", "part.b").ok());
  ASSERT_TRUE(Schedule("three", kStart, "p", "part.unknown").ok());
  Fire(kinds.Dispatcher());
  EXPECT_EQ(a, std::vector<std::string>{"one"});
  EXPECT_EQ(b, std::vector<std::string>{"two"});
  // A kind nobody registered fails (and is retried later), it is not dropped.
  EXPECT_EQ(Count("SELECT count(*) FROM timers WHERE key = 'three' AND state = 'pending' AND attempts = 1"), 1);
}

}  // namespace
}  // namespace crm::timers
