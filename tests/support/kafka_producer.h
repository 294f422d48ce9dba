// File: tests/support/kafka_producer.h
// -----------------------------------------------------------------------------
// Test support: a plain librdkafka producer for tests that publish as a service's relay would (an
// Envelope keyed by its subject) and look at the broker (topic creation, watermarks).
#ifndef CRM_TESTS_SUPPORT_KAFKA_PRODUCER_H_
#define CRM_TESTS_SUPPORT_KAFKA_PRODUCER_H_

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <string>

namespace crm::events::v1 {
class Envelope;
}  // namespace crm::events::v1

namespace crm::testing {

class KafkaTestProducer {
 public:
  explicit KafkaTestProducer(const std::string& brokers);
  ~KafkaTestProducer();
  KafkaTestProducer(const KafkaTestProducer&) = delete;
  KafkaTestProducer& operator=(const KafkaTestProducer&) = delete;

  // Makes the dev broker auto-create `topic` and waits until its metadata shows it; its partition
  // count, or 0 when the broker never showed it.
  int CreateTopic(const std::string& topic);
  // Produces `e` (key = its subject) to `partition`, or partitioned by key when RD_KAFKA_PARTITION_UA.
  // False when the producer refuses it.
  bool Produce(const std::string& topic, const crm::events::v1::Envelope& e,
               int32_t partition = RD_KAFKA_PARTITION_UA);
  // Waits until everything produced is acknowledged; false on timeout.
  bool Flush();
  // The first offset the broker still holds, or -1.
  int64_t LowWatermark(const std::string& topic, int partition);

 private:
  rd_kafka_t* rk_ = nullptr;
};

}  // namespace crm::testing

#endif  // CRM_TESTS_SUPPORT_KAFKA_PRODUCER_H_
