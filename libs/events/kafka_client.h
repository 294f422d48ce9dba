// File: libs/events/kafka_client.h
// -----------------------------------------------------------------------------
// librdkafka clients made the suite's way, for code that talks to Kafka directly rather than through
// the relay (relay.h) or the idempotent consumer (consumer.h) — the gateway's live stream and its
// session-revocation listener: our properties overridden by the caller's, librdkafka's own log lines in
// our JSON log, and a handle that closes and destroys the client.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(crm::events::KafkaHandle rk,
//                        crm::events::NewKafkaConsumer("revocations", {{"bootstrap.servers", brokers},
//                                                                      {"group.id", "g"}}, extra));
//   rd_kafka_assign(rk.get(), partitions);
#ifndef CRM_LIBS_EVENTS_KAFKA_CLIENT_H_
#define CRM_LIBS_EVENTS_KAFKA_CLIENT_H_

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crm::events {

// Closes a consumer (rd_kafka_consumer_close) and destroys the client.
struct KafkaConsumerDeleter {
  void operator()(rd_kafka_t* rk) const;
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaConsumerDeleter>;

// A consumer with properties `ours` overridden by `overrides`, its messages polled from the consumer
// queue (rd_kafka_poll_set_consumer). InvalidArgument naming `what` and the property on a bad one.
absl::StatusOr<KafkaHandle> NewKafkaConsumer(std::string_view what, const std::map<std::string, std::string>& ours,
                                             const std::map<std::string, std::string>& overrides);

}  // namespace crm::events

#endif  // CRM_LIBS_EVENTS_KAFKA_CLIENT_H_
