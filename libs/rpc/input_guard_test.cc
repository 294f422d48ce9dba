#include "libs/rpc/input_guard.h"

#include <string>

#include "crm/testing/v1/echo.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status.h"

namespace crm::rpc {
namespace {

using ::crm::testing::v1::EchoRequest;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

std::vector<std::string> Paths(const absl::Status& s) {
  std::vector<std::string> out;
  for (const FieldViolation& v : FieldViolations(s)) out.push_back(v.field);
  return out;
}

TEST(InputGuardTest, TextKeepsTabAndLineBreaksAndRefusesOtherControls) {
  EXPECT_FALSE(HasForbiddenControl("Сделка №1\t«ЖК Север»\r\nвторая строка"));
  size_t at = 0;
  EXPECT_TRUE(HasForbiddenControl(std::string("ab\0c", 4), &at));
  EXPECT_EQ(at, 2u);
  EXPECT_TRUE(HasForbiddenControl("esc\x1b[31m"));
  EXPECT_TRUE(HasForbiddenControl("del\x7f"));
  EXPECT_TRUE(HasForbiddenControl("c1 \xc2\x85 next line"));  // U+0085
  EXPECT_FALSE(HasForbiddenControl("\xc2\xa0nbsp and \xc2\xab quotes \xc2\xbb"));  // U+00A0, «»
}

TEST(InputGuardTest, NamesEveryOffendingFieldByItsPath) {
  EchoRequest r;
  r.set_text("fine");
  r.add_levels(3);
  r.add_levels(11);  // above its max
  EchoRequest* inner = r.add_nested();
  inner->set_key(std::string("k\0", 2));
  inner->mutable_amount()->set_amount_minor(-1'000'000'000'000'001);
  (*r.mutable_labels())["colour"] = "red\x01";
  (*r.mutable_labels())[std::string("bad\0key", 7)] = "x";
  r.set_blob(std::string("\0\1\2", 3));  // bytes are binary: not text
  const absl::Status s = CheckRequest(r);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Paths(s), ::testing::UnorderedElementsAre("levels[1]", "nested[0].key", "nested[0].amount.amount_minor",
                                                        "labels[\"colour\"]", "labels"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("more)"));
  EXPECT_THAT(FieldViolations(s), ::testing::Contains(Field(&FieldViolation::description,
                                                            HasSubstr("-1000000000000000..1000000000000000"))));
}

TEST(InputGuardTest, AValidRequestPassesAndTheListIsBounded) {
  EchoRequest r;
  r.set_text("Иванов Иван");
  r.mutable_amount()->set_amount_minor(1'000'000'000'000'000);
  r.add_levels(0);
  r.add_levels(10);
  EXPECT_TRUE(CheckRequest(r).ok());

  for (int i = 0; i < 50; ++i) r.add_levels(-1);
  EXPECT_EQ(FieldViolations(CheckRequest(r)).size(), static_cast<size_t>(kMaxViolations));
}

}  // namespace
}  // namespace crm::rpc
