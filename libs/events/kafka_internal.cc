#include "libs/events/kafka_internal.h"

#include "absl/strings/str_cat.h"
#include "libs/log/log.h"

namespace crm::events::internal {
namespace {

void LogLine(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  // syslog levels: 0..3 error, 4 warning, 5..6 info, 7 debug.
  crm::log::Level l = level <= 3   ? crm::log::Level::kError
                      : level == 4 ? crm::log::Level::kWarn
                      : level <= 6 ? crm::log::Level::kInfo
                                   : crm::log::Level::kDebug;
  crm::log::Log(l, "kafka", {{"client", rd_kafka_name(rk)}, {"facility", facility}, {"detail", message}});
}

}  // namespace

absl::StatusOr<rd_kafka_conf_t*> MakeConf(const std::map<std::string, std::string>& ours,
                                          const std::map<std::string, std::string>& overrides) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto* props : {&ours, &overrides}) {
    for (const auto& [key, value] : *props) {
      if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return absl::InvalidArgumentError(absl::StrCat("kafka property ", key, "=\"", value, "\": ", err));
      }
    }
  }
  rd_kafka_conf_set_log_cb(conf, &LogLine);
  return conf;
}

}  // namespace crm::events::internal
