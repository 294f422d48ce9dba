// File: services/gateway/transcode/json_check_test.cc
// ExplainJson: every violation of a refused body, in body order, named as the proto names it (issues 15, 16).
#include "services/gateway/transcode/json_check.h"

#include <string>
#include <vector>

#include "crm/testing/v1/transcode.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/gateway/transcode/json_policy.h"

namespace crm::gateway {
namespace {

using ::crm::testing::v1::Shapes;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

MATCHER_P2(Violation, field, description_part, "") {
  return arg.field == field && arg.description.find(description_part) != std::string::npos;
}

std::vector<FieldViolation> Explain(std::string_view json, std::string_view prefix = "") {
  return ExplainJson(json, Shapes::descriptor(), prefix);
}

// The explainer is only asked after protobuf refused; it must agree with protobuf on what is valid.
bool ProtobufAccepts(std::string_view json) {
  Shapes m;
  return google::protobuf::util::JsonStringToMessage(std::string(json), &m, JsonInputOptions()).ok();
}

TEST(ExplainJson, ValidBodiesHaveNoViolations) {
  const std::vector<std::string> valid = {
      R"({})",
      R"({"email":"a@b.c","counts":{"a":1,"b":-2},"namesById":{"12":"x","-9223372036854775808":"y"}})",
      R"({"at":"2026-12-07T09:30:00Z","wait":"1.5s","blob":"aGk=","small":4294967295,"ratio":1.5})",
      R"({"owners":[{"name":"ann"}],"limit":"9223372036854775807","extra":{"k":[1,{"x":null}]}})",
      R"({"state":"THING_STATE_ACTIVE","sizes":["1",2,3.0],"thing":{"displayName":"x","size_bytes":"7"}})",
      R"({"email":"a","phone":null,"small":"12","ratio":"NaN","state":2})",
  };
  for (const std::string& json : valid) {
    EXPECT_TRUE(ProtobufAccepts(json)) << json;
    EXPECT_THAT(Explain(json), IsEmpty()) << json;
  }
}

TEST(ExplainJson, EveryViolationNamedAsTheProtoSpellsIt) {
  const std::string json =
      R"({"email":"a","phone":"b","counts":{"a":"x"},"namesById":{"k":"v"},"at":"yesterday",)"
      R"("wait":"5 minutes","blob":"***","small":-1,"ratio":1e39,"owners":[{"nickname":"x"},null],)"
      R"("limit":1.5,"extra":[1],"state":"thing_state_active","sizes":[9223372036854775808],)"
      R"("thing":{"sizeBytes":"x","tags":"a"},"colour":"red"})";
  EXPECT_FALSE(ProtobufAccepts(json));
  EXPECT_THAT(
      Explain(json, "shapes"),
      ElementsAre(Violation("shapes.phone", "only one of email, phone may be set (oneof contact; email is set)"),
                  Violation("shapes.counts[\"a\"]", "integer from -2147483648 to 2147483647"),
                  Violation("shapes.names_by_id[\"k\"]", "key must be an integer"),
                  Violation("shapes.at", "RFC 3339"), Violation("shapes.wait", "duration in seconds"),
                  Violation("shapes.blob", "base64"), Violation("shapes.small", "from 0 to 4294967295"),
                  Violation("shapes.ratio", "-3.4028235e38 to 3.4028235e38"),
                  Violation("shapes.owners[0].nickname", "unknown field"),
                  Violation("shapes.owners[1]", "cannot be null"),
                  Violation("shapes.limit", "integer from -9223372036854775808"),
                  Violation("shapes.extra", "JSON object"),
                  Violation("shapes.state",
                            "must be one of THING_STATE_UNSPECIFIED, THING_STATE_ACTIVE, THING_STATE_ARCHIVED"),
                  Violation("shapes.sizes[0]", "to 9223372036854775807"),
                  Violation("shapes.thing.size_bytes", "integer"), Violation("shapes.thing.tags", "JSON array"),
                  Violation("shapes.colour", "unknown field")));
}

TEST(ExplainJson, TheRootAndMalformedTextAreNamedToo) {
  EXPECT_THAT(Explain("[1,2]"), ElementsAre(Violation("body", "must be a JSON object")));
  EXPECT_THAT(Explain("[1,2]", "thing"), ElementsAre(Violation("thing", "must be a JSON object")));
  EXPECT_THAT(Explain(R"({"email": )"), ElementsAre(Violation("body", "is not valid JSON (at byte 11)")));
  EXPECT_THAT(Explain("{\"email\":\"\xff\xfe\"}"), ElementsAre(Violation("body", "is not valid JSON")));
  EXPECT_THAT(Explain(R"({"ratio":1e400})"), ElementsAre(Violation("body", "is not valid JSON")));
}

TEST(ExplainJson, ListsAtMostTheCapAndCountsTheRest) {
  std::string json = R"({"sizes":[)";
  for (int i = 0; i < 40; ++i) json += std::string(i == 0 ? "" : ",") + "\"x\"";
  json += "]}";
  std::vector<FieldViolation> v = Explain(json);
  ASSERT_EQ(v.size(), kMaxExplainedViolations + 1);
  EXPECT_EQ(v.back().field, "body");
  EXPECT_EQ(v.back().description, "8 more invalid values");
}

TEST(DescribeExpected, SaysWhatAValueMustBe) {
  const auto* d = Shapes::descriptor();
  EXPECT_EQ(DescribeExpected(d->FindFieldByName("small")), "must be an integer from 0 to 4294967295");
  EXPECT_EQ(DescribeExpected(d->FindFieldByName("limit")),
            "must be an integer from -9223372036854775808 to 9223372036854775807");
  EXPECT_EQ(DescribeExpected(d->FindFieldByName("state")),
            "must be one of THING_STATE_UNSPECIFIED, THING_STATE_ACTIVE, THING_STATE_ARCHIVED");
  EXPECT_THAT(DescribeExpected(d->FindFieldByName("at")), ::testing::HasSubstr("RFC 3339"));
}

}  // namespace
}  // namespace crm::gateway
