// File: services/deals/interactions/rules_test.cc
// The pure rules of D15/D16 (no database): the request stage derived from finished interactions (a
// table of cases, seed 004 §6.2.1), what a decode plans next (§6.5.3), and the slot calendar's grid
// and text (§6.5.3: "09:00 - (0/2)", "14:00 - (1/2)(Онлайн ПЗ:Юлия)").
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/deals/interactions/slots.h"
#include "services/deals/interactions/stage.h"

namespace crm::deals::interactions {
namespace {

namespace v1 = crm::deals::v1;
using I = v1::Interaction;
using R = v1::ClientRequest;

struct StageCase {
  const char* name;
  std::vector<Finished> finished;
  R::Stage want;
};

TEST(StageOfTest, TheStageFollowsTheFinishedInteractions) {
  const StageCase cases[] = {
      {"nothing finished", {}, R::NEW},
      {"a call without a decode", {{I::CALL, I::OUTCOME_UNSPECIFIED}}, R::PRIMARY_CONTACT},
      {"a letter", {{I::LETTER, I::OUTCOME_UNSPECIFIED}}, R::PRIMARY_CONTACT},
      {"a dialog with «Анализ рынка»", {{I::DIALOG, I::MARKET_ANALYSIS}}, R::PRIMARY_CONTACT},
      {"a call with «Принятие решения»", {{I::CALL, I::DECISION_MAKING}}, R::PRIMARY_CONTACT},
      {"a call with «Назначена встреча»", {{I::CALL, I::MEETING_SCHEDULED}}, R::MEETING_SCHEDULED},
      {"a call with «Отказ»", {{I::CALL, I::REFUSAL}}, R::REFUSED},
      {"the meeting held", {{I::CALL, I::MEETING_SCHEDULED}, {I::MEETING, I::DECISION_MAKING}}, R::MEETING_HELD},
      {"a meeting held without a decode", {{I::MEETING, I::OUTCOME_UNSPECIFIED}}, R::MEETING_HELD},
      {"a call after the meeting does not go back",
       {{I::MEETING, I::DECISION_MAKING}, {I::CALL, I::MARKET_ANALYSIS}},
       R::MEETING_HELD},
      {"a meeting ending with the next meeting booked keeps «held»",
       {{I::MEETING, I::MEETING_SCHEDULED}},
       R::MEETING_HELD},
      {"a call after «Назначена встреча» without one keeps «scheduled»",
       {{I::CALL, I::MEETING_SCHEDULED}, {I::CALL, I::DECISION_MAKING}},
       R::MEETING_SCHEDULED},
      {"refused at the meeting", {{I::CALL, I::MEETING_SCHEDULED}, {I::MEETING, I::REFUSAL}}, R::REFUSED},
      {"a refusal then a new call reopens where the client was",
       {{I::CALL, I::MEETING_SCHEDULED}, {I::CALL, I::REFUSAL}, {I::CALL, I::MARKET_ANALYSIS}},
       R::MEETING_SCHEDULED},
      {"a refusal then a meeting", {{I::CALL, I::REFUSAL}, {I::MEETING, I::DECISION_MAKING}}, R::MEETING_HELD},
      {"the latest decode refused after a meeting",
       {{I::MEETING, I::DECISION_MAKING}, {I::CALL, I::DECISION_MAKING}, {I::CALL, I::REFUSAL}},
       R::REFUSED},
      {"a letter without a decode after a refusal reopens it", {{I::CALL, I::REFUSAL}, {I::LETTER, I::OUTCOME_UNSPECIFIED}},
       R::PRIMARY_CONTACT},
  };
  for (const StageCase& c : cases) EXPECT_EQ(StageOf(c.finished), c.want) << c.name;
}

TEST(StageOfTest, StagesAndDecodesReadAsStaffReadThem) {
  EXPECT_EQ(StageName(R::NEW), "Новый");
  EXPECT_EQ(StageName(R::PRIMARY_CONTACT), "Первичный контакт");
  EXPECT_EQ(StageName(R::MEETING_SCHEDULED), "Назначена встреча");
  EXPECT_EQ(StageName(R::MEETING_HELD), "Встреча проведена");
  EXPECT_EQ(StageName(R::REFUSED), "Отказ");
  EXPECT_EQ(OutcomeName(I::DECISION_MAKING), "Принятие решения");
  EXPECT_EQ(OutcomeName(I::MARKET_ANALYSIS), "Анализ рынка");
  EXPECT_EQ(OutcomeName(I::MEETING_SCHEDULED), "Назначена встреча");
  EXPECT_EQ(OutcomeName(I::REFUSAL), "Отказ");
}

TEST(NextKindTest, EachDecodePlansWhatTheSeedSays) {
  // §6.5.3: «Принятие решения» / «Анализ рынка» → a planned call; «Назначена встреча» → a planned
  // meeting; «Отказ» → nothing.
  EXPECT_EQ(NextKindFor(I::DECISION_MAKING), I::CALL);
  EXPECT_EQ(NextKindFor(I::MARKET_ANALYSIS), I::CALL);
  EXPECT_EQ(NextKindFor(I::MEETING_SCHEDULED), I::MEETING);
  EXPECT_FALSE(NextKindFor(I::REFUSAL).has_value());
  EXPECT_FALSE(NextKindFor(I::OUTCOME_UNSPECIFIED).has_value());
  EXPECT_TRUE(OutcomeRequired(I::CALL));
  EXPECT_TRUE(OutcomeRequired(I::MEETING));
  EXPECT_FALSE(OutcomeRequired(I::LETTER));
  EXPECT_FALSE(OutcomeRequired(I::DIALOG));
}

v1::SlotCalendar Office() {
  v1::SlotCalendar c;
  c.set_id("01930000-0016-7000-8000-000000000001");
  c.set_name("Офис продаж");
  c.set_open_time("09:00");
  c.set_close_time("21:00");
  c.set_slot_minutes(60);
  c.set_capacity(2);
  return c;
}

TEST(SlotsTest, TheSeedsCalendarDay) {
  absl::TimeZone msk;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Moscow", &msk));
  ASSERT_TRUE(ValidateCalendar(Office(), "calendar").empty());
  const SlotGrid grid = GridOf(Office(), msk);
  // Seed 004 §6.5.3: Monday 20.12.2021, 09:00 … 20:00, twelve slots of two.
  const std::vector<absl::Time> slots = SlotStarts(grid, absl::CivilDay(2021, 12, 20));
  ASSERT_EQ(slots.size(), 12u);
  EXPECT_EQ(slots.front(), absl::FromCivil(absl::CivilMinute(2021, 12, 20, 9, 0), msk));
  EXPECT_EQ(SlotLabel(grid, slots.front()), "09:00");
  EXPECT_EQ(SlotLabel(grid, slots.back()), "20:00");
  EXPECT_EQ(SlotText("09:00", 0, 2, {}), "09:00 - (0/2)");
  EXPECT_EQ(SlotText("14:00", 1, 2, {BookingLabel(true, "Юлия")}), "14:00 - (1/2)(Онлайн ПЗ:Юлия)");
  EXPECT_EQ(SlotText("14:00", 2, 2, {BookingLabel(true, "Юлия"), BookingLabel(false, "Зита")}),
            "14:00 - (2/2)(Онлайн ПЗ:Юлия)(ПЗ:Зита)");
  EXPECT_TRUE(IsSlotStart(grid, slots[5]));
  EXPECT_FALSE(IsSlotStart(grid, slots[5] + absl::Minutes(30)));
  EXPECT_FALSE(IsSlotStart(grid, absl::FromCivil(absl::CivilMinute(2021, 12, 20, 21, 0), msk)));  // closes at 21:00
}

TEST(SlotsTest, WeekdaysAndClosedDaysCloseTheCalendar) {
  absl::TimeZone msk;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Moscow", &msk));
  v1::SlotCalendar c = Office();
  for (int d = 1; d <= 5; ++d) c.add_weekdays(d);
  c.add_closed_days("2021-12-21");
  const SlotGrid grid = GridOf(c, msk);
  EXPECT_TRUE(IsOpen(grid, absl::CivilDay(2021, 12, 20)));    // Monday
  EXPECT_FALSE(IsOpen(grid, absl::CivilDay(2021, 12, 21)));   // closed
  EXPECT_FALSE(IsOpen(grid, absl::CivilDay(2021, 12, 25)));   // Saturday
  EXPECT_TRUE(SlotStarts(grid, absl::CivilDay(2021, 12, 25)).empty());
}

TEST(SlotsTest, EveryBadFieldIsNamed) {
  v1::SlotCalendar c;
  c.set_id("x");
  c.set_open_time("9:00");
  c.set_close_time("25:00");
  c.set_slot_minutes(7);
  c.set_capacity(0);
  c.add_weekdays(8);
  c.add_weekdays(1);
  c.add_weekdays(1);
  c.add_closed_days("2021-02-30");
  std::vector<std::string> fields;
  for (const FieldViolation& v : ValidateCalendar(c, "calendar")) fields.push_back(v.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"calendar.id", "calendar.name", "calendar.open_time",
                                              "calendar.close_time", "calendar.slot_minutes", "calendar.capacity",
                                              "calendar.weekdays[0]", "calendar.weekdays[2]",
                                              "calendar.closed_days[0]"}));
  v1::SlotCalendar uneven = Office();
  uneven.set_slot_minutes(50);  // 12 hours are not whole 50-minute slots
  ASSERT_EQ(ValidateCalendar(uneven, "calendar").size(), 1u);
  EXPECT_EQ(ValidateCalendar(uneven, "calendar")[0].field, "calendar.slot_minutes");
}

}  // namespace
}  // namespace crm::deals::interactions
