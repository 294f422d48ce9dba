// StatusFromException() on the exception types libpqxx 6 throws, built by hand (no server needed).
// The same mapping against real server errors is covered in transaction_test.cc.
#include <pqxx/except>
#include <stdexcept>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/pg/pool.h"

namespace crm::pg {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(StatusFromExceptionTest, UniqueViolationIsAlreadyExistsWithConstraintAndSqlState) {
  const pqxx::unique_violation e(
      "ERROR:  duplicate key value violates unique constraint \"users_email_key\"\n"
      "DETAIL:  Key (email)=(a@b.c) already exists.\n",
      "INSERT INTO users(email) VALUES ('a@b.c')", "23505");
  const absl::Status s = StatusFromException(e);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Message(s),
            "duplicate key value violates unique constraint \"users_email_key\"; DETAIL: Key (email)=(a@b.c) "
            "already exists.");
  EXPECT_THAT(Message(s), Not(HasSubstr("INSERT")));  // The query text stays out of the message.
  EXPECT_EQ(SqlState(s), "23505");
  EXPECT_EQ(s.GetPayload(kSqlStatePayload).value_or(absl::Cord("none")), absl::Cord("23505"));
}

TEST(StatusFromExceptionTest, IntegrityClassIsFailedPrecondition) {
  EXPECT_EQ(StatusFromException(pqxx::foreign_key_violation("fk", "", "23503")).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusFromException(pqxx::check_violation("check", "", "23514")).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusFromException(pqxx::not_null_violation("nn", "", "23502")).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusFromException(pqxx::integrity_constraint_violation("excl", "", "23P01")).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(StatusFromExceptionTest, ByClass) {
  EXPECT_EQ(StatusFromException(pqxx::data_exception("bad", "", "22P02")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusFromException(pqxx::data_exception("div", "", "22012")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusFromException(pqxx::sql_error("canceled", "", "57014")).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(StatusFromException(pqxx::sql_error("shutdown", "", "57P01")).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromException(pqxx::out_of_memory("oom", "", "53200")).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(StatusFromException(pqxx::sql_error("lock", "", "55P03")).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(StatusFromException(pqxx::syntax_error("syntax", "", "42601")).code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(StatusFromException(pqxx::sql_error("no state")).code(), absl::StatusCode::kInternal);
}

TEST(StatusFromExceptionTest, TypesThatLoseTheirSqlStateInLibpqxx6) {
  const absl::Status serialization = StatusFromException(pqxx::serialization_failure("could not serialize"));
  EXPECT_EQ(serialization.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(SqlState(serialization), "40001");

  const absl::Status deadlock = StatusFromException(pqxx::deadlock_detected("deadlock detected"));
  EXPECT_EQ(deadlock.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(SqlState(deadlock), "40P01");

  const absl::Status broken = StatusFromException(pqxx::broken_connection("server closed the connection"));
  EXPECT_EQ(broken.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(SqlState(broken), "");

  const absl::Status too_many = StatusFromException(pqxx::too_many_connections("sorry, too many clients"));
  EXPECT_EQ(too_many.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(SqlState(too_many), "53300");

  const absl::Status in_doubt = StatusFromException(pqxx::in_doubt_error("lost while committing"));
  EXPECT_EQ(in_doubt.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Message(in_doubt), HasSubstr("outcome is unknown"));
}

TEST(StatusFromExceptionTest, OtherExceptionsAreInternal) {
  const absl::Status s = StatusFromException(std::runtime_error("boom"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(Message(s), "boom");
  EXPECT_EQ(StatusFromException(pqxx::conversion_error("not an int")).code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace crm::pg
