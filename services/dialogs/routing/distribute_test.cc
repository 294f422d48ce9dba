// T6's pure decision (distribute.h), as a table: rules, rights, presence, capacity, fairness, exclusion.
#include "services/dialogs/routing/distribute.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace crm::dialogs::routing {
namespace {

constexpr Presence kOn = Presence::kOnline;
constexpr Presence kAway = Presence::kAway;
constexpr Presence kOff = Presence::kOffline;

absl::Time At(int minute) { return absl::FromUnixSeconds(1'800'000'000 + minute * 60); }

TEST(ChooseTest, Table) {
  struct Case {
    const char* name;
    std::vector<Rule> rules;
    std::vector<OperatorState> ops;
    const char* project;
    const char* topic;
    std::vector<std::string> exclude;
    std::optional<std::string> want;
  } cases[] = {
      {"no rules: every operator of the bot, the fewest open wins",
       {},
       {{"a", kOn, 5, 3}, {"b", kOn, 5, 1}, {"c", kOn, 5, 2}},
       "", "", {}, "b"},
      {"nobody online: queued",
       {},
       {{"a", kOff, 5, 0}, {"b", kAway, 5, 0}},
       "", "", {}, std::nullopt},
      {"away and offline never get one",
       {},
       {{"a", kAway, 5, 0}, {"b", kOff, 5, 0}, {"c", kOn, 5, 4}},
       "", "", {}, "c"},
      {"capacity full: skipped",
       {},
       {{"a", kOn, 2, 2}, {"b", kOn, 3, 2}},
       "", "", {}, "b"},
      {"everyone full: queued",
       {},
       {{"a", kOn, 2, 2}, {"b", kOn, 0, 0}},
       "", "", {}, std::nullopt},
      {"equal load: the longest idle",
       {},
       {{"a", kOn, 5, 1, At(10)}, {"b", kOn, 5, 1, At(5)}, {"c", kOn, 5, 1, At(7)}},
       "", "", {}, "b"},
      {"never assigned is the idlest",
       {},
       {{"a", kOn, 5, 1, At(1)}, {"b", kOn, 5, 1}},
       "", "", {}, "b"},
      {"all equal: the smallest user id",
       {},
       {{"c", kOn, 5, 0}, {"a", kOn, 5, 0}, {"b", kOn, 5, 0}},
       "", "", {}, "a"},
      {"a rule's project and topic must match",
       {{"a", "Северный", "Ипотека", 0}, {"b", "Южный", "", 0}},
       {{"a", kOn, 5, 3}, {"b", kOn, 5, 0}},
       "Северный", "Ипотека", {}, "a"},
      {"empty project or topic matches any",
       {{"a", "", "Ипотека", 0}, {"b", "Южный", "", 0}},
       {{"a", kOn, 5, 3}, {"b", kOn, 5, 0}},
       "Южный", "Рассрочка", {}, "b"},
      {"no rule matches: queued",
       {{"a", "Северный", "", 0}},
       {{"a", kOn, 5, 0}, {"b", kOn, 5, 0}},
       "Южный", "", {}, std::nullopt},
      {"higher priority first, even more loaded",
       {{"a", "", "", 10}, {"b", "", "", 0}},
       {{"a", kOn, 5, 4}, {"b", kOn, 5, 0}},
       "", "", {}, "a"},
      {"the higher priority is full: the next priority",
       {{"a", "", "", 10}, {"b", "", "", 0}},
       {{"a", kOn, 4, 4}, {"b", kOn, 5, 3}},
       "", "", {}, "b"},
      {"an operator's best matching priority counts",
       {{"a", "", "", 1}, {"a", "", "Ипотека", 9}, {"b", "", "", 5}},
       {{"a", kOn, 5, 2}, {"b", kOn, 5, 0}},
       "", "Ипотека", {}, "a"},
      {"a rule naming someone without rights on the bot is ignored",
       {{"x", "", "", 99}, {"b", "", "", 0}},
       {{"b", kOn, 5, 1}},
       "", "", {}, "b"},
      {"who timed out is excluded",
       {},
       {{"a", kOn, 5, 0}, {"b", kOn, 5, 3}},
       "", "", {"a"}, "b"},
      {"excluded and nobody else: queued",
       {},
       {{"a", kOn, 5, 0}},
       "", "", {"a"}, std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Choose(c.rules, c.ops, c.project, c.topic, c.exclude), c.want) << c.name;
  }
}

TEST(PresenceTest, Codes) {
  for (Presence p : {kOn, kAway, kOff}) EXPECT_EQ(PresenceOf(PresenceCode(p)), p);
  EXPECT_EQ(PresenceOf("whatever"), kOff);
}

}  // namespace
}  // namespace crm::dialogs::routing
