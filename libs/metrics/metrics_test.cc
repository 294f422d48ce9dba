#include "libs/metrics/metrics.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/metrics/metrics_testing.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace crm::metrics {
namespace {

using ::testing::HasSubstr;

TEST(RegistryTest, IsOneObjectForTheProcess) {
  EXPECT_EQ(&Registry(), &Registry());
  EXPECT_EQ(SharedRegistry().get(), &Registry());
}

TEST(LatencyBucketsTest, AreIncreasingFromHalfAMillisecondToTenSeconds) {
  const std::vector<double>& b = LatencyBuckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 0.0005);
  EXPECT_DOUBLE_EQ(b.back(), 10);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  EXPECT_EQ(std::adjacent_find(b.begin(), b.end()), b.end());
}

TEST(ExposerTest, ServesTheRegistryOnAFreePort) {
  auto& counter = prometheus::BuildCounter()
                      .Name("crm_metrics_test_events_total")
                      .Help("Test counter.")
                      .Register(Registry())
                      .Add({{"kind", "a"}});
  counter.Increment(3);
  auto& histogram = prometheus::BuildHistogram()
                        .Name("crm_metrics_test_seconds")
                        .Help("Test histogram.")
                        .Register(Registry())
                        .Add({}, LatencyBuckets());
  histogram.Observe(0.003);

  auto exposer = Exposer::Start("127.0.0.1:0");
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  EXPECT_GT((*exposer)->port(), 0);

  auto page = testing::Scrape((*exposer)->port());
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(*page, HasSubstr("# TYPE crm_metrics_test_events_total counter"));
  EXPECT_EQ(testing::SampleValue(*page, "crm_metrics_test_events_total", {{"kind", "a"}}), 3);
  EXPECT_EQ(testing::SampleValue(*page, "crm_metrics_test_seconds_count"), 1);
  EXPECT_EQ(testing::SampleValue(*page, "crm_metrics_test_seconds_bucket", {{"le", "0.0025"}}), 0);
  EXPECT_EQ(testing::SampleValue(*page, "crm_metrics_test_seconds_bucket", {{"le", "0.005"}}), 1);
  EXPECT_EQ(testing::SampleValue(*page, "crm_metrics_test_missing"), std::nullopt);
}

TEST(ExposerTest, BusyPortIsUnavailable) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string bind = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  auto exposer = Exposer::Start(bind);
  EXPECT_EQ(exposer.status().code(), absl::StatusCode::kUnavailable) << exposer.status();
  EXPECT_THAT(exposer.status().message(), HasSubstr(bind));
  ::close(fd);
}

TEST(ExposerTest, UnparsableAddressIsUnavailable) {
  auto exposer = Exposer::Start("127.0.0.1:notaport");
  EXPECT_EQ(exposer.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace crm::metrics
