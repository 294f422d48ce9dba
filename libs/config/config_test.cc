#include "libs/config/config.h"

#include <cstdlib>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::config {

void PrintTo(const Env::Setting& s, std::ostream* os) {
  *os << "{" << s.var << ", \"" << s.value << "\", " << (s.from_env ? "env" : "default") << "}";
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// An Env reading from a fixed map.
Env FakeEnv(std::string_view service, std::map<std::string, std::string> vars) {
  return Env(service, [vars = std::move(vars)](const std::string& var) -> std::optional<std::string> {
    auto it = vars.find(var);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

TEST(EnvTest, VarNameNormalisesServiceAndName) {
  EXPECT_EQ(FakeEnv("deals", {}).VarName("GRPC_PORT"), "CRM_DEALS_GRPC_PORT");
  EXPECT_EQ(FakeEnv("online-booking", {}).VarName("grpc_port"), "CRM_ONLINE_BOOKING_GRPC_PORT");
  EXPECT_EQ(FakeEnv("", {}).VarName("LOG_LEVEL"), "CRM_LOG_LEVEL");
}

TEST(EnvTest, ServiceVariableOverridesSuiteWide) {
  Env deals = FakeEnv("deals", {{"CRM_KAFKA_BROKERS", "a:9092"}, {"CRM_DEALS_KAFKA_BROKERS", "b:9092"}});
  EXPECT_EQ(deals.String("KAFKA_BROKERS", "x"), "b:9092");
  Env robots = FakeEnv("robots", {{"CRM_KAFKA_BROKERS", "a:9092"}, {"CRM_DEALS_KAFKA_BROKERS", "b:9092"}});
  EXPECT_EQ(robots.String("KAFKA_BROKERS", "x"), "a:9092");
  Env none = FakeEnv("robots", {});
  EXPECT_EQ(none.String("KAFKA_BROKERS", "x"), "x");
  EXPECT_TRUE(deals.status().ok());
}

TEST(EnvTest, EmptyCountsAsUnset) {
  Env env = FakeEnv("deals", {{"CRM_DEALS_REGION", ""}, {"CRM_REGION", "ru"}, {"CRM_DEALS_ZONE", ""}});
  EXPECT_EQ(env.String("REGION", "eu"), "ru");
  EXPECT_EQ(env.String("ZONE", "z"), "z");
}

TEST(EnvTest, Required) {
  Env env = FakeEnv("deals", {{"CRM_DEALS_PG_DSN", "host=/tmp dbname=deals"}, {"CRM_DEALS_EMPTY", ""}});
  EXPECT_EQ(env.Required("PG_DSN"), "host=/tmp dbname=deals");
  EXPECT_TRUE(env.status().ok());
  EXPECT_EQ(env.Required("EMPTY"), "");
  EXPECT_EQ(env.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(env.status().message(), "CRM_DEALS_EMPTY (or CRM_EMPTY): required but not set");
}

TEST(EnvTest, Int) {
  Env env = FakeEnv("deals", {{"CRM_DEALS_GRPC_PORT", "50052"}, {"CRM_POOL", " 8 "}, {"CRM_NEG", "-3"}});
  EXPECT_EQ(env.Int("GRPC_PORT", 50051, 1, 65535), 50052);
  EXPECT_EQ(env.Int("POOL", 4, 1, 64), 8);
  EXPECT_EQ(env.Int("NEG", 0, -10, 10), -3);
  EXPECT_EQ(env.Int("MISSING", 7, 1, 10), 7);
  EXPECT_TRUE(env.status().ok());
}

TEST(EnvTest, IntErrors) {
  Env env = FakeEnv("deals", {{"CRM_DEALS_GRPC_PORT", "abc"}, {"CRM_DEALS_POOL", "100"}, {"CRM_BIG", "1e3"}});
  EXPECT_EQ(env.Int("GRPC_PORT", 50051, 1, 65535), 50051);
  EXPECT_EQ(env.status().message(), "CRM_DEALS_GRPC_PORT=\"abc\": not an integer");
  EXPECT_EQ(env.Int("POOL", 4, 1, 64), 4);
  EXPECT_THAT(env.status().message(), HasSubstr("CRM_DEALS_POOL=\"100\": must be between 1 and 64"));
  EXPECT_EQ(env.Int("BIG", 5, 0, 10000), 5);
  EXPECT_THAT(env.status().message(), HasSubstr("CRM_BIG=\"1e3\": not an integer"));  // names the suite var
}

TEST(EnvTest, Bool) {
  Env env = FakeEnv("x", {{"CRM_X_A", "true"},
                          {"CRM_X_B", "0"},
                          {"CRM_X_C", "YES"},
                          {"CRM_X_D", "off"},
                          {"CRM_X_E", "On"},
                          {"CRM_X_F", "No"},
                          {"CRM_X_G", "maybe"}});
  EXPECT_TRUE(env.Bool("A", false));
  EXPECT_FALSE(env.Bool("B", true));
  EXPECT_TRUE(env.Bool("C", false));
  EXPECT_FALSE(env.Bool("D", true));
  EXPECT_TRUE(env.Bool("E", false));
  EXPECT_FALSE(env.Bool("F", true));
  EXPECT_TRUE(env.Bool("UNSET", true));
  EXPECT_TRUE(env.status().ok());
  EXPECT_TRUE(env.Bool("G", true));
  EXPECT_THAT(env.status().message(), HasSubstr("CRM_X_G=\"maybe\": not a boolean"));
}

TEST(EnvTest, Duration) {
  Env env = FakeEnv("x", {{"CRM_X_A", "250ms"},
                          {"CRM_X_B", "5s"},
                          {"CRM_X_C", "1h30m"},
                          {"CRM_X_D", "-1s"},
                          {"CRM_X_E", "5 sec"},
                          {"CRM_X_F", "0"}});
  EXPECT_EQ(env.Duration("A", absl::Seconds(1)), absl::Milliseconds(250));
  EXPECT_EQ(env.Duration("B", absl::Seconds(1)), absl::Seconds(5));
  EXPECT_EQ(env.Duration("C", absl::Seconds(1)), absl::Minutes(90));
  EXPECT_EQ(env.Duration("F", absl::Seconds(1)), absl::ZeroDuration());
  EXPECT_EQ(env.Duration("UNSET", absl::Seconds(3)), absl::Seconds(3));
  EXPECT_TRUE(env.status().ok());
  EXPECT_EQ(env.Duration("D", absl::Seconds(1)), absl::Seconds(1));
  EXPECT_EQ(env.Duration("E", absl::Seconds(2)), absl::Seconds(2));
  EXPECT_EQ(
      env.status().message(),
      "CRM_X_D=\"-1s\": must not be negative; CRM_X_E=\"5 sec\": not a duration (like 250ms, 5s, 1h30m)");
}

TEST(EnvTest, List) {
  Env env = FakeEnv("x", {{"CRM_X_BROKERS", " a:9092, b:9092 ,,c:9092 "}, {"CRM_X_COMMAS", " , ,"}});
  EXPECT_THAT(env.List("BROKERS", {"d"}), ElementsAre("a:9092", "b:9092", "c:9092"));
  EXPECT_THAT(env.List("UNSET", {"d", "e"}), ElementsAre("d", "e"));
  EXPECT_THAT(env.List("COMMAS", {"d"}), IsEmpty());
}

TEST(EnvTest, TimeZone) {
  Env env = FakeEnv("robots", {{"CRM_ROBOTS_TZ", "Asia/Yekaterinburg"}, {"CRM_BAD_TZ", "Mars/Olympus"}});
  EXPECT_EQ(env.TimeZone("TZ", "Europe/Moscow").name(), "Asia/Yekaterinburg");
  EXPECT_EQ(env.TimeZone("UNSET_TZ", "Europe/Moscow").name(), "Europe/Moscow");
  EXPECT_TRUE(env.status().ok());
  EXPECT_EQ(env.TimeZone("BAD_TZ", "Europe/Moscow").name(), "Europe/Moscow");
  EXPECT_THAT(env.status().message(), HasSubstr("CRM_BAD_TZ=\"Mars/Olympus\": unknown time zone"));
  EXPECT_EQ(env.TimeZone("OTHER_TZ", "Nowhere/Land").name(), "UTC");
  EXPECT_THAT(env.status().message(), HasSubstr("CRM_ROBOTS_OTHER_TZ: default time zone \"Nowhere/Land\""));
}

TEST(EnvTest, ReportsEveryErrorTogether) {
  Env env = FakeEnv(
      "deals", {{"CRM_DEALS_GRPC_PORT", "abc"}, {"CRM_DEALS_DEBUG", "perhaps"}, {"CRM_TIMEOUT", "soon"}});
  env.Int("GRPC_PORT", 50051, 1, 65535);
  env.Bool("DEBUG", false);
  env.Duration("TIMEOUT", absl::Seconds(1));
  env.Required("PG_DSN");
  env.String("FINE", "ok");
  EXPECT_EQ(env.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(env.status().message(),
            "CRM_DEALS_GRPC_PORT=\"abc\": not an integer; "
            "CRM_DEALS_DEBUG=\"perhaps\": not a boolean (true/false/1/0/yes/no/on/off); "
            "CRM_TIMEOUT=\"soon\": not a duration (like 250ms, 5s, 1h30m); "
            "CRM_DEALS_PG_DSN (or CRM_PG_DSN): required but not set");
}

TEST(EnvTest, SettingsListWhatWasReadInOrder) {
  Env env = FakeEnv(
      "deals",
      {{"CRM_DEALS_GRPC_PORT", "50052"}, {"CRM_KAFKA_BROKERS", "a:1,b:2"}, {"CRM_DEALS_DEBUG", "nope"}});
  env.Int("GRPC_PORT", 50051, 1, 65535);
  env.List("KAFKA_BROKERS", {});
  env.Bool("DEBUG", false);
  env.Duration("RPC_TIMEOUT", absl::Seconds(5));
  env.Int("GRPC_PORT", 50051, 1, 65535);  // a re-read does not duplicate
  EXPECT_THAT(env.settings(), ElementsAre(Env::Setting{"CRM_DEALS_GRPC_PORT", "50052", true},
                                          Env::Setting{"CRM_KAFKA_BROKERS", "a:1,b:2", true},
                                          Env::Setting{"CRM_DEALS_DEBUG", "false", false},
                                          Env::Setting{"CRM_DEALS_RPC_TIMEOUT", "5s", false}));
}

TEST(EnvTest, MasksSecrets) {
  Env env = FakeEnv("deals", {
                                 {"CRM_DEALS_PG_PASSWORD", "hunter2"},
                                 {"CRM_TELEGRAM_TOKEN", "123:abc"},
                                 {"CRM_DEALS_JWT_SECRET", "s"},
                                 {"CRM_DEALS_API_KEY", "k"},
                                 {"CRM_DEALS_PG_DSN", "host=db user=deals password=hunter2"},
                                 {"CRM_DEALS_RO_DSN", "host=db user=deals"},
                                 {"CRM_DEALS_URL_DSN", "postgresql://deals:hunter2@db/deals"},
                                 {"CRM_DEALS_PLAIN_URL_DSN", "postgresql://db/deals"},
                                 {"CRM_DEALS_SMTP_PASSWORD", "x"},
                             });
  env.String("PG_PASSWORD", "");
  env.String("TELEGRAM_TOKEN", "");
  env.String("JWT_SECRET", "");
  env.String("API_KEY", "");
  env.Required("PG_DSN");
  env.Required("RO_DSN");
  env.String("URL_DSN", "");
  env.String("PLAIN_URL_DSN", "");
  env.Int("SMTP_PASSWORD", 0, 0, 1);  // a bad secret is masked in the error too
  EXPECT_THAT(env.settings(),
              ElementsAre(Env::Setting{"CRM_DEALS_PG_PASSWORD", "***", true},
                          Env::Setting{"CRM_TELEGRAM_TOKEN", "***", true},
                          Env::Setting{"CRM_DEALS_JWT_SECRET", "***", true},
                          Env::Setting{"CRM_DEALS_API_KEY", "***", true},
                          Env::Setting{"CRM_DEALS_PG_DSN", "***", true},
                          Env::Setting{"CRM_DEALS_RO_DSN", "host=db user=deals", true},
                          Env::Setting{"CRM_DEALS_URL_DSN", "***", true},
                          Env::Setting{"CRM_DEALS_PLAIN_URL_DSN", "postgresql://db/deals", true},
                          Env::Setting{"CRM_DEALS_SMTP_PASSWORD", "***", false}));
  EXPECT_EQ(env.status().message(), "CRM_DEALS_SMTP_PASSWORD=***: not an integer");
}

TEST(EnvTest, ProcessEnvironment) {
  ASSERT_EQ(setenv("CRM_CFGTEST_SVC_ANSWER", "42", 1), 0);
  ASSERT_EQ(setenv("CRM_ANSWER_FALLBACK", "7", 1), 0);
  Env env("cfgtest-svc");
  EXPECT_EQ(env.Int("ANSWER", 0, 0, 100), 42);
  EXPECT_EQ(env.Int("ANSWER_FALLBACK", 0, 0, 100), 7);
  unsetenv("CRM_CFGTEST_SVC_ANSWER");
  unsetenv("CRM_ANSWER_FALLBACK");
}

}  // namespace
}  // namespace crm::config

namespace crm::config {
namespace {

TEST(EnvTest, RejectNamesTheVariableTheValueCameFrom) {
  Env env = FakeEnv("online-booking", {{"CRM_GRPC_ADDRESS", "host:port"}});
  EXPECT_EQ(env.service(), "online-booking");
  const std::string address = env.String("GRPC_ADDRESS", "0.0.0.0:1");
  ASSERT_TRUE(env.status().ok());
  env.Reject("GRPC_ADDRESS", "port is not a number");
  EXPECT_EQ(env.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(env.status().message(), "CRM_GRPC_ADDRESS=\"host:port\": port is not a number");
  EXPECT_EQ(address, "host:port");
}

}  // namespace
}  // namespace crm::config
