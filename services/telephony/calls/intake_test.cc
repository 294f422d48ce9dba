// File: services/telephony/calls/intake_test.cc
// -----------------------------------------------------------------------------
// The intake on PostgreSQL (P1; calls_testing.h): a fact twice has one effect, an answered call's state and
// events, open legs for resynchronisation, 2 threads × 500 facts of 50 calls, a reversed replay.
#include <pqxx/pqxx>

#include <algorithm>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/telephony/calls/calls_testing.h"

namespace crm::telephony::calls {
namespace {

using namespace calls_testing;  // NOLINT: the fixture and its constants
TEST_F(CallsTest, AFactTwiceHasOneEffect) {
  const CallEvent e = Fact("c1", "c1:r1", K::kRinging, "c1-out", 0);
  Record(e);
  Record(e, /*fresh=*/false);
  EXPECT_EQ(TCount("SELECT count(*) FROM calls"), 1);
  EXPECT_EQ(TCount("SELECT count(*) FROM call_legs"), 1);
  EXPECT_EQ(TCount("SELECT count(*) FROM call_facts"), 1);
  EXPECT_EQ(Events(v1::kCallStartedType), 1);
  const v1::Call c = Get(CallId("c1"));
  EXPECT_EQ(c.state(), v1::CALL_STATE_RINGING);
  EXPECT_EQ(c.direction(), v1::CALL_DIRECTION_INBOUND);
  EXPECT_EQ(c.from_number(), "+79161234567");  // "8 (916) 123-45-67" normalised to E.164
  EXPECT_EQ(c.outside_number(), "+79161234567");
  EXPECT_EQ(c.to_number(), "101");             // an extension stays as it is
  EXPECT_EQ(c.line(), "+74951234567");
  EXPECT_EQ(c.identification(), v1::IDENTIFICATION_PENDING);
  // A bad fact names its fields; nothing stored.
  CallEvent bad;
  bad.kind = K::kRecording;
  auto r = intake_->Record(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> fields;
  for (const FieldViolation& v : FieldViolations(r.status())) fields.push_back(v.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"provider", "event_key", "call_key", "recording_url"}));
}

TEST_F(CallsTest, AnsweredCallEndsWithItsDurationEmployeeAndEvents) {
  const std::string id = InboundCall("c2", "+79161234567", true, 125);
  const v1::Call c = Get(id);
  EXPECT_EQ(c.state(), v1::CALL_STATE_ENDED);
  EXPECT_TRUE(c.answered());
  EXPECT_FALSE(c.missed());
  EXPECT_EQ(c.duration_seconds(), 125);
  EXPECT_EQ(c.user_id(), kOperator);  // extension 101
  ASSERT_EQ(c.legs_size(), 2);
  EXPECT_EQ(Events(v1::kCallStartedType, id), 1);
  EXPECT_EQ(Events(v1::kCallAnsweredType, id), 1);
  EXPECT_EQ(Events(v1::kCallFinishedType, id), 1);
  EXPECT_EQ(std::string(v1::kCallFinishedType), "crm.telephony.call.finished.v1");  // robots' trigger
  const auto f = LastEvent<v1::CallFinished>(v1::kCallFinishedType, id);
  EXPECT_EQ(f.call_id(), id);
  EXPECT_TRUE(f.answered());
  EXPECT_EQ(f.duration_seconds(), 125);
  EXPECT_EQ(f.user_id(), kOperator);
  EXPECT_EQ(f.direction(), v1::CallFinished::INBOUND);
  EXPECT_EQ(TCount("SELECT count(*) FROM outbox WHERE topic <> 'crm.telephony.call.v1'"), 0);
  // Recording: once per URL.
  CallEvent rec = Fact("c2", "c2:rec", K::kRecording, "", 200);
  rec.recording_url = "https://pbx.example/rec/c2.wav";
  Record(rec);
  rec.event_key = "c2:rec-again";
  Record(rec);
  EXPECT_EQ(Events(v1::kCallRecordingType, id), 1);
  EXPECT_EQ(Get(id).recording_url(), "https://pbx.example/rec/c2.wav");
  // A late fact of the ended call changes no event count.
  Record(Fact("c2", "c2:late", K::kEnded, "c2-out", 300));
  EXPECT_EQ(Events(v1::kCallFinishedType, id), 1);
  auto open = intake_->OpenLegs("asterisk");
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open->empty());
}

TEST_F(CallsTest, OpenLegsListWhatHasNotEnded) {
  InboundCall("c3", "+79161234567", true, 10, /*end=*/false);
  auto open = intake_->OpenLegs("asterisk");
  ASSERT_TRUE(open.ok()) << open.status();
  ASSERT_EQ(open->size(), 2u);
  EXPECT_EQ((*open)[0].call_key, "c3");
  EXPECT_EQ((*open)[0].leg_key, "c3-out");
  EXPECT_EQ((*open)[0].channel, "PJSIP/c3-out");
  auto none = intake_->OpenLegs("mango");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// 50 calls of 10 facts each (an answered call with a transfer to a third leg and a recording; every 5th
// missed on three extensions): two threads record all 500 facts, each in its own shuffled interleaving
// of the calls (a call's facts in their order): every fact stored once, the calls exact, each event once.
TEST_F(CallsTest, TwoThreadsOfShuffledFactsGiveExactCalls) {
  constexpr int kCalls = 50;
  std::vector<std::vector<CallEvent>> per_call(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    const std::string key = absl::StrCat("p", i);
    auto f = [&](int n, K kind, const std::string& leg, int at, const std::string& ext = "") {
      per_call[i].push_back(Fact(key, absl::StrCat(key, ":", n), kind, absl::StrCat(key, "-", leg), i * 1000 + at, ext));
    };
    if (i % 5 == 0) {
      f(1, K::kRinging, "out", 0);
      f(2, K::kRinging, "a", 1, "101");
      f(3, K::kRinging, "b", 1, "102");
      f(4, K::kEnded, "a", 20, "101");
      f(5, K::kEnded, "b", 20, "102");
      f(6, K::kRinging, "c", 21, "103");
      f(7, K::kEnded, "c", 40, "103");
      f(8, K::kEnded, "out", 41);
      f(9, K::kEnded, "out", 42);  // a second hangup report of the same leg
      f(10, K::kEnded, "c", 43, "103");
    } else {
      f(1, K::kRinging, "out", 0);
      f(2, K::kRinging, "a", 1, "101");
      f(3, K::kAnswered, "a", 5, "101");
      f(4, K::kAnswered, "out", 5);
      f(5, K::kRinging, "b", 30, "102");  // transfer to 102
      f(6, K::kEnded, "a", 31, "101");
      f(7, K::kAnswered, "b", 35, "102");
      f(8, K::kEnded, "b", 40 + 10 * i, "102");
      f(9, K::kEnded, "out", 41 + 10 * i);
      per_call[i].push_back(Fact(key, absl::StrCat(key, ":10"), K::kRecording, "", i * 1000 + 999));
      per_call[i].back().recording_url = absl::StrCat("https://pbx.example/", key, ".wav");
    }
  }
  // One interleaving per thread: a random call's next fact at each step.
  auto interleave = [&](unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<size_t> next(kCalls, 0);
    std::vector<CallEvent> out;
    std::vector<int> open;
    for (int i = 0; i < kCalls; ++i) open.push_back(i);
    while (!open.empty()) {
      const size_t pick = std::uniform_int_distribution<size_t>(0, open.size() - 1)(rng);
      const int c = open[pick];
      out.push_back(per_call[c][next[c]++]);
      if (next[c] == per_call[c].size()) open.erase(open.begin() + static_cast<long>(pick));
    }
    return out;
  };
  std::atomic<int> fresh{0}, errors{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (const CallEvent& e : interleave(7 + t)) {
        auto r = intake_->Record(e);
        if (!r.ok()) {
          ++errors;
          ADD_FAILURE() << r.status();
        } else if (*r) {
          ++fresh;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(fresh.load(), kCalls * 10);
  EXPECT_EQ(TCount("SELECT count(*) FROM call_facts"), kCalls * 10);
  EXPECT_EQ(TCount("SELECT count(*) FROM calls"), kCalls);
  EXPECT_EQ(TCount("SELECT count(*) FROM call_legs"), 40 * 3 + 10 * 4);
  for (int i = 0; i < kCalls; ++i) {
    SCOPED_TRACE(i);
    const std::string id = CallId(absl::StrCat("p", i));
    const v1::Call c = Get(id);
    EXPECT_EQ(c.state(), v1::CALL_STATE_ENDED);
    EXPECT_EQ(c.answered(), i % 5 != 0);
    EXPECT_EQ(c.missed(), i % 5 == 0);
    EXPECT_EQ(c.duration_seconds(), i % 5 == 0 ? 0 : 36 + 10 * i);  // answered at 5, ended at 41 + 10 i
    EXPECT_EQ(c.user_id(), kOperator);  // 101 rang first / answered first
    EXPECT_EQ(c.recording_url(), i % 5 == 0 ? "" : absl::StrCat("https://pbx.example/p", i, ".wav"));
    EXPECT_EQ(Events(v1::kCallStartedType, id), 1);
    EXPECT_EQ(Events(v1::kCallAnsweredType, id), i % 5 == 0 ? 0 : 1);
    EXPECT_EQ(Events(v1::kCallFinishedType, id), 1);
    EXPECT_EQ(Events(v1::kCallRecordingType, id), i % 5 == 0 ? 0 : 1);
  }
  EXPECT_EQ(TCount("SELECT count(*) FROM call_deals_sync WHERE kind = 'identify'"), kCalls);
  EXPECT_EQ(TCount("SELECT count(*) FROM call_deals_sync WHERE kind = 'interaction'"), kCalls);
}

// Facts of one call in any order (a replay after a dropped link): the same call, finished once.
TEST_F(CallsTest, OutOfOrderFactsGiveTheSameCall) {
  std::vector<CallEvent> facts = {
      Fact("o1", "o1:1", K::kRinging, "o1-out", 0), Fact("o1", "o1:2", K::kRinging, "o1-op", 1, "101"),
      Fact("o1", "o1:3", K::kAnswered, "o1-op", 5, "101"), Fact("o1", "o1:4", K::kAnswered, "o1-out", 5),
      Fact("o1", "o1:5", K::kEnded, "o1-op", 65, "101"), Fact("o1", "o1:6", K::kEnded, "o1-out", 66)};
  std::reverse(facts.begin(), facts.end());  // the ends first
  for (const CallEvent& e : facts) Record(e);
  const std::string id = CallId("o1");
  const v1::Call c = Get(id);
  EXPECT_EQ(c.state(), v1::CALL_STATE_ENDED);
  EXPECT_TRUE(c.answered());
  EXPECT_EQ(c.duration_seconds(), 61);
  EXPECT_EQ(c.user_id(), kOperator);
  EXPECT_EQ(Events(v1::kCallFinishedType, id), 1);
  // The late answer re-queued the interaction so deals gets the corrected call.
  EXPECT_EQ(TCount("SELECT count(*) FROM call_deals_sync WHERE kind = 'interaction' AND due_time IS NOT NULL"), 1);
}

}  // namespace
}  // namespace crm::telephony::calls
