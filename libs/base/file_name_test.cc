#include "libs/base/file_name.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/status.h"

namespace crm {
namespace {

TEST(FileNameTest, AcceptsNamesPeopleGiveFiles) {
  for (const char* ok : {"Договор №15 (подписан).pdf", "plan 2-к.png", ".bashrc", "a", "отчёт.v2.xlsx"}) {
    EXPECT_TRUE(CheckFileName("file_name", ok).ok()) << ok;
  }
  EXPECT_TRUE(CheckFileName("file_name", std::string(255, 'x')).ok());
}

TEST(FileNameTest, RefusesPathsControlsAndEdgesNamingTheField) {
  for (const std::string& bad : {std::string(""), std::string("../etc/passwd"), std::string("a/b.pdf"),
                                std::string("..\\win.ini"), std::string(".."), std::string("."),
                                std::string("evil\r\nSet-Cookie: x.pdf"), std::string("tab\there"),
                                std::string("nul\0.pdf", 8), std::string(" leading"), std::string("trailing "),
                                std::string(256, 'x'), std::string("c1\xc2\x85")}) {
    const absl::Status s = CheckFileName("file_name", bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(FieldViolations(s), ::testing::ElementsAre(::testing::Field(&FieldViolation::field, "file_name")))
        << bad;
  }
}

TEST(FileNameTest, MediaTypesHaveTheRfc6838Shape) {
  for (const char* ok : {"application/pdf", "image/png", "text/plain; charset=utf-8",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}) {
    EXPECT_TRUE(CheckMediaType("content_type", ok).ok()) << ok;
  }
  for (const char* bad : {"pdf", "text/html\r\nX-Injected: 1", "image/", "/png", "text/plain; charset=\"utf-8\"",
                          "text/plain;", "a b/c", "text/plain; x"}) {
    EXPECT_EQ(CheckMediaType("content_type", bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace crm
