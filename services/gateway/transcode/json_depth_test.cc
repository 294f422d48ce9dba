#include "services/gateway/transcode/json_depth.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status.h"

namespace crm::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Nested(int levels, std::string_view inner = "") {
  return std::string(static_cast<size_t>(levels), '[') + std::string(inner) +
         std::string(static_cast<size_t>(levels), ']');
}

TEST(CheckJsonDepthTest, AcceptsUpToTheBound) {
  EXPECT_TRUE(CheckJsonDepth("", 64).ok());
  EXPECT_TRUE(CheckJsonDepth("7", 64).ok());
  EXPECT_TRUE(CheckJsonDepth(Nested(64, "1"), 64).ok());
  EXPECT_TRUE(CheckJsonDepth(R"({"a":{"b":[1,{"c":[]}]}})", 5).ok());
  EXPECT_FALSE(CheckJsonDepth(R"({"a":{"b":[1,{"c":[]}]}})", 4).ok());
  // Siblings do not add up: depth is nesting, not count.
  std::string wide = "[";
  for (int i = 0; i < 1000; ++i) wide += "[],";
  wide += "[]]";
  EXPECT_TRUE(CheckJsonDepth(wide, 2).ok());
}

TEST(CheckJsonDepthTest, RefusesOneLevelMoreNamingThePath) {
  absl::Status s = CheckJsonDepth(Nested(65), 64);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("nested deeper than 64 levels"));
  s = CheckJsonDepth(R"({"a":1,"tags":["x",[[[1]]]]})", 4, "thing");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "request body: nested deeper than 4 levels at thing.tags[1][0][0]");
  EXPECT_THAT(FieldViolations(s), ElementsAre(FieldViolation{"thing.tags", "nested deeper than 4 levels"}));
}

TEST(CheckJsonDepthTest, BracketsInStringsDoNotCount) {
  EXPECT_TRUE(CheckJsonDepth(R"({"k[{":"[[[[[[\"[[[[{{{{"})", 1).ok());
  EXPECT_FALSE(CheckJsonDepth(R"({"k":"\\","x":[]})", 1).ok());  // the escape ends at \\, not at \"
}

TEST(CheckJsonDepthTest, LongChainsAreShortened) {
  absl::Status s = CheckJsonDepth(R"({"v":)" + Nested(100) + "}", 64, "");
  EXPECT_EQ(s.message(),
            "request body: nested deeper than 64 levels at v[0][0][0][0][0][0][0][0][...]");
  EXPECT_THAT(FieldViolations(s), ElementsAre(FieldViolation{"v", "nested deeper than 64 levels"}));
}

// A million levels (the issue 15 report: 1.5 s of gateway CPU in the JSON parser) is refused after
// reading only the first levels' worth of work: one pass, constant memory.
TEST(CheckJsonDepthTest, AMillionLevelsIsRefusedCheaply) {
  const std::string body = R"({"tags":)" + Nested(1'000'000) + "}";
  absl::Status s = CheckJsonDepth(body, kMaxJsonDepth, "thing");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldViolations(s), ElementsAre(FieldViolation{"thing.tags", "nested deeper than 64 levels"}));
}

}  // namespace
}  // namespace crm::gateway
