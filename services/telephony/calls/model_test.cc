// File: services/telephony/calls/model_test.cc
// -----------------------------------------------------------------------------
// The call's state logic (model.h) as tables: each case applies its facts in order to the legs (as the
// intake does under the call's lock) and states the derived call and the events the last fact emits.
#include "services/telephony/calls/model.h"

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace crm::telephony::calls {
namespace {

using K = CallEvent::Kind;

absl::Time T(int s) { return absl::FromUnixSeconds(1796000000 + s); }

struct Fact {
  K kind;
  std::string leg;
  int at;
  std::string extension = "";
  bool answered = false;  // kEnded: the PBX says the leg was answered
};

struct Outcome {
  CallState call;
  Emits last;            // what the last fact emitted
  int started = 0, answered = 0, finished = 0;  // over all facts
};

// Applies `facts` one by one; leg users: extension "101" → "u101", "102" → "u102".
Outcome Apply(const std::vector<Fact>& facts, CallEvent::Direction direction = CallEvent::Direction::kInbound) {
  std::map<std::string, Leg> legs;
  CallState call;
  Outcome run;
  bool created = true;
  for (const Fact& f : facts) {
    CallEvent e;
    e.kind = f.kind;
    e.leg_key = f.leg;
    e.extension = f.extension;
    e.time = T(f.at);
    e.answered = f.answered;
    Leg leg = ApplyFact(legs[f.leg], e);
    if (!leg.extension.empty()) leg.user_id = "u" + leg.extension;
    legs[f.leg] = leg;
    std::vector<Leg> all;
    for (const auto& [k, l] : legs) all.push_back(l);
    const CallState after = DeriveCall(all, call, direction);
    run.last = EmitsOf(created, call, after);
    run.started += run.last.started;
    run.answered += run.last.answered;
    run.finished += run.last.finished;
    call = after;
    created = false;
  }
  run.call = call;
  return run;
}

struct Case {
  const char* name;
  std::vector<Fact> facts;
  State state;
  bool answered;
  int duration;
  std::string user;
  int started, answered_events, finished;
  CallEvent::Direction direction = CallEvent::Direction::kInbound;
};

TEST(ModelTest, Table) {
  const std::vector<Case> cases = {
      {"inbound answered then both hang up",
       {{K::kRinging, "out", 0}, {K::kRinging, "op", 1, "101"}, {K::kAnswered, "op", 5, "101"},
        {K::kAnswered, "out", 5}, {K::kEnded, "op", 65, "101"}, {K::kEnded, "out", 66}},
       State::kEnded, true, 61, "u101", 1, 1, 1},
      {"missed: rang, nobody answered",
       {{K::kRinging, "out", 0}, {K::kRinging, "op", 1, "101"}, {K::kEnded, "op", 20, "101"}, {K::kEnded, "out", 20}},
       State::kEnded, false, 0, "u101", 1, 0, 1},
      {"still ringing while one leg is up",
       {{K::kRinging, "out", 0}, {K::kRinging, "op", 1, "101"}, {K::kEnded, "op", 20, "101"}},
       State::kRinging, false, 0, "u101", 1, 0, 0},
      {"ended before answered arrives (out of order): the late answer still counts",
       {{K::kRinging, "out", 0}, {K::kAnswered, "op", 5, "101"}, {K::kEnded, "out", 65}, {K::kEnded, "op", 65, "101"},
        {K::kAnswered, "out", 5}},
       State::kEnded, true, 60, "u101", 1, 0, 1},
      {"ended says answered though no answer came",
       {{K::kRinging, "out", 0}, {K::kEnded, "out", 40, "", true}},
       State::kEnded, true, 0, "", 1, 1, 1},
      {"a fact for an ended call: stays ended, finished once",
       {{K::kRinging, "out", 0}, {K::kEnded, "out", 10}, {K::kRinging, "late", 11, "102"}},
       State::kEnded, false, 0, "u102", 1, 0, 1},
      {"first fact is the end (resynchronised)",
       {{K::kEnded, "out", 30}},
       State::kEnded, false, 0, "", 0, 0, 1},
      {"transfer: a third leg, the first answerer stays the employee",
       {{K::kRinging, "out", 0}, {K::kRinging, "op", 1, "101"}, {K::kAnswered, "op", 3, "101"},
        {K::kAnswered, "out", 3}, {K::kRinging, "mgr", 30, "102"}, {K::kEnded, "op", 31, "101"},
        {K::kAnswered, "mgr", 35, "102"}, {K::kEnded, "mgr", 100, "102"}, {K::kEnded, "out", 100}},
       State::kEnded, true, 97, "u101", 1, 1, 1},
      {"internal call: extensions only, answered by a leg",
       {{K::kRinging, "a", 0, "101"}, {K::kRinging, "b", 0, "102"}, {K::kAnswered, "b", 4, "102"},
        {K::kEnded, "a", 14, "101"}, {K::kEnded, "b", 14, "102"}},
       State::kEnded, true, 10, "u102", 1, 1, 1, CallEvent::Direction::kInternal},
      {"unknown direction, extensions only: answered once it ended",
       {{K::kRinging, "a", 0, "101"}, {K::kRinging, "b", 0, "102"}, {K::kAnswered, "b", 4, "102"},
        {K::kEnded, "a", 14, "101"}, {K::kEnded, "b", 14, "102"}},
       State::kEnded, true, 10, "u102", 1, 1, 1, CallEvent::Direction::kUnknown},
      {"outbound click-to-call: the extension answers first, the client never",
       {{K::kRinging, "op", 0, "101"}, {K::kAnswered, "op", 2, "101"}, {K::kRinging, "out", 3},
        {K::kEnded, "out", 33}, {K::kEnded, "op", 33, "101"}},
       State::kEnded, false, 0, "u101", 1, 0, 1, CallEvent::Direction::kOutbound},
      {"a leg's second ended keeps its first end",
       {{K::kRinging, "out", 0}, {K::kAnswered, "out", 2}, {K::kEnded, "out", 12}, {K::kEnded, "out", 50}},
       State::kEnded, true, 10, "", 1, 1, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Outcome r = Apply(c.facts, c.direction);
    EXPECT_EQ(r.call.state, c.state);
    EXPECT_EQ(r.call.answered, c.answered);
    EXPECT_EQ(r.call.duration_seconds, c.duration);
    EXPECT_EQ(r.call.user_id, c.user);
    EXPECT_EQ(r.started, c.started);
    EXPECT_EQ(r.answered, c.answered_events);
    EXPECT_EQ(r.finished, c.finished);
  }
}

TEST(ModelTest, LegMovesOnlyForward) {
  CallEvent ended{.kind = K::kEnded, .time = T(10), .end_reason = "NORMAL_CLEARING"};
  CallEvent ringing{.kind = K::kRinging, .time = T(0)};
  Leg l = ApplyFact(ApplyFact(Leg{}, ended), ringing);
  EXPECT_EQ(l.state, State::kEnded);
  EXPECT_EQ(l.started_at, T(0));  // the earliest time seen
  EXPECT_EQ(*l.ended_at, T(10));
  EXPECT_EQ(l.end_reason, "NORMAL_CLEARING");
  CallEvent answered{.kind = K::kAnswered, .time = T(4)};
  l = ApplyFact(l, answered);
  EXPECT_EQ(l.state, State::kEnded);
  EXPECT_TRUE(l.answered);
  EXPECT_EQ(*l.answered_at, T(4));
}

TEST(ModelTest, PermutationsOfOneCallAgree) {
  // Every order of one answered inbound call's facts ends in the same call.
  std::vector<Fact> facts = {{K::kRinging, "out", 0}, {K::kRinging, "op", 1, "101"}, {K::kAnswered, "op", 5, "101"},
                             {K::kAnswered, "out", 5}, {K::kEnded, "op", 65, "101"}, {K::kEnded, "out", 66}};
  std::vector<int> order = {0, 1, 2, 3, 4, 5};
  int n = 0;
  do {
    std::vector<Fact> f;
    for (int i : order) f.push_back(facts[i]);
    const Outcome r = Apply(f);
    SCOPED_TRACE(n);
    EXPECT_EQ(r.call.state, State::kEnded);
    EXPECT_TRUE(r.call.answered);
    EXPECT_EQ(r.call.duration_seconds, 61);
    EXPECT_EQ(r.call.user_id, "u101");
    EXPECT_EQ(r.finished, 1);
    ++n;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(n, 720);
}

}  // namespace
}  // namespace crm::telephony::calls
