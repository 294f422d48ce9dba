// Internal to libs/events: librdkafka configuration shared by the relay and the consumer.
#ifndef CRM_LIBS_EVENTS_KAFKA_INTERNAL_H_
#define CRM_LIBS_EVENTS_KAFKA_INTERNAL_H_

#include <librdkafka/rdkafka.h>

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace crm::events::internal {

// A librdkafka configuration from `ours` overridden by `overrides`; librdkafka's own log lines go to
// our JSON log. InvalidArgument naming the property on a bad one. The caller owns the result (it is
// consumed by rd_kafka_new on success).
absl::StatusOr<rd_kafka_conf_t*> MakeConf(const std::map<std::string, std::string>& ours,
                                          const std::map<std::string, std::string>& overrides);

}  // namespace crm::events::internal

#endif  // CRM_LIBS_EVENTS_KAFKA_INTERNAL_H_
