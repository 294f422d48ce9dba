#include "services/gateway/transcode/path_template.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = PathSegment::Kind;

PathSegment Lit(std::string s) { return {Kind::kLiteral, std::move(s)}; }
PathSegment Star() { return {Kind::kSingle, ""}; }
PathSegment StarStar() { return {Kind::kMulti, ""}; }

TEST(ParsePathTemplateTest, LiteralsOnly) {
  auto t = ParsePathTemplate("/v1/things");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->segments, ElementsAre(Lit("v1"), Lit("things")));
  EXPECT_TRUE(t->variables.empty());
  EXPECT_EQ(t->verb, "");
  EXPECT_EQ(t->ToString(), "/v1/things");
}

TEST(ParsePathTemplateTest, ShortVariableMeansStar) {
  auto t = ParsePathTemplate("/v1/things/{id}");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->segments, ElementsAre(Lit("v1"), Lit("things"), Star()));
  EXPECT_THAT(t->variables, ElementsAre(PathVariable{{"id"}, 2, 3}));
  EXPECT_EQ(t->ToString(), "/v1/things/{id=*}");
  EXPECT_EQ(t->Shape(), "/v1/things/*");
}

TEST(ParsePathTemplateTest, NestedFieldPathAndVerb) {
  auto t = ParsePathTemplate("/v1/things/{thing.id}:archive");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->variables, ElementsAre(PathVariable{{"thing", "id"}, 2, 3}));
  EXPECT_EQ(t->variables[0].FieldPathString(), "thing.id");
  EXPECT_EQ(t->verb, "archive");
  EXPECT_EQ(t->Shape(), "/v1/things/*:archive");
}

TEST(ParsePathTemplateTest, MultiSegmentVariable) {
  auto t = ParsePathTemplate("/v1/{name=shelves/*/books/*}");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->segments, ElementsAre(Lit("v1"), Lit("shelves"), Star(), Lit("books"), Star()));
  EXPECT_THAT(t->variables, ElementsAre(PathVariable{{"name"}, 1, 5}));
  EXPECT_EQ(t->ToString(), "/v1/{name=shelves/*/books/*}");
}

TEST(ParsePathTemplateTest, DoubleStarLastWithVerb) {
  auto t = ParsePathTemplate("/v1/files/{path=**}:download");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->segments, ElementsAre(Lit("v1"), Lit("files"), StarStar()));
  EXPECT_THAT(t->variables, ElementsAre(PathVariable{{"path"}, 2, 3}));
  EXPECT_EQ(t->verb, "download");
}

TEST(ParsePathTemplateTest, BareWildcardsAndTwoVariables) {
  auto t = ParsePathTemplate("/v1/*/owners/{owner}/things/{id}");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->segments, ElementsAre(Lit("v1"), Star(), Lit("owners"), Star(), Lit("things"), Star()));
  EXPECT_THAT(t->variables, ElementsAre(PathVariable{{"owner"}, 3, 4}, PathVariable{{"id"}, 5, 6}));
  EXPECT_EQ(t->Shape(), "/v1/*/owners/*/things/*");
}

TEST(ParsePathTemplateTest, ShapeIgnoresVariableNames) {
  auto a = ParsePathTemplate("/v1/things/{id}");
  auto b = ParsePathTemplate("/v1/things/{thing.name=*}");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->Shape(), b->Shape());
}

TEST(PercentDecodeTest, DecodesAndOptionallyKeepsSlashes) {
  EXPECT_EQ(*PercentDecode("a%2Fb%20c%41"), "a/b cA");
  EXPECT_EQ(*PercentDecode("a%2Fb%2fc%20", /*keep_slash=*/true), "a%2Fb%2fc ");
  EXPECT_EQ(PercentDecode("%").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PercentDecode("%4").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PercentDecode("%4g").status().code(), absl::StatusCode::kInvalidArgument);
}

struct BadCase {
  const char* text;
  const char* message;  // a substring the error must contain
};

class BadTemplateTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadTemplateTest, IsInvalidArgumentNamingTemplateAndPosition) {
  auto t = ParsePathTemplate(GetParam().text);
  ASSERT_FALSE(t.ok()) << GetParam().text << " parsed as " << t->ToString();
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr(GetParam().text));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Grammar, BadTemplateTest,
    ::testing::Values(BadCase{"", "must start with '/'"}, BadCase{"v1/things", "position 0"},
                      BadCase{"/", "position 1: expected a segment"},
                      BadCase{"/v1//things", "position 4"}, BadCase{"/v1/things/", "position 11"},
                      BadCase{"/v1/{id", "position 7: expected '}'"},
                      BadCase{"/v1/{}", "position 5: expected a field name"},
                      BadCase{"/v1/{a.}", "expected a field name"},
                      BadCase{"/v1/{1a}", "expected a field name"},
                      BadCase{"/v1/{a={b}}", "variables cannot nest"},
                      BadCase{"/v1/**/x", "'**' must be the last segment"},
                      BadCase{"/v1/{p=**}/x", "'**' must be the last segment"},
                      BadCase{"/v1/things:", "empty verb"},
                      BadCase{"/v1/things:a/b", "position 12: unexpected"},
                      BadCase{"/v1/{id}/{id}", "variable id appears twice"},
                      BadCase{"/v1/th ings", "position 6"}, BadCase{"/v1/{id=}", "expected a segment"}));

}  // namespace
}  // namespace crm::gateway
