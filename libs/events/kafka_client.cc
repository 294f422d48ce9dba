#include "libs/events/kafka_client.h"

#include "absl/strings/str_cat.h"
#include "libs/events/kafka_internal.h"

namespace crm::events {

void KafkaConsumerDeleter::operator()(rd_kafka_t* rk) const {
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

absl::StatusOr<KafkaHandle> NewKafkaConsumer(std::string_view what, const std::map<std::string, std::string>& ours,
                                             const std::map<std::string, std::string>& overrides) {
  const absl::string_view name(what.data(), what.size());
  absl::StatusOr<rd_kafka_conf_t*> conf = internal::MakeConf(ours, overrides);
  if (!conf.ok()) return absl::InvalidArgumentError(absl::StrCat(name, ": ", conf.status().message()));
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(*conf);
    return absl::InvalidArgumentError(absl::StrCat(name, ": cannot create the Kafka consumer: ", err));
  }
  rd_kafka_poll_set_consumer(rk);
  return KafkaHandle(rk);
}

}  // namespace crm::events
