#include "tests/support/kafka_producer.h"

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crm/events/v1/envelope.pb.h"

namespace crm::testing {

KafkaTestProducer::KafkaTestProducer(const std::string& brokers) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
}

KafkaTestProducer::~KafkaTestProducer() { rd_kafka_destroy(rk_); }

int KafkaTestProducer::CreateTopic(const std::string& topic) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    int partitions = 0;
    if (rd_kafka_metadata(rk_, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        partitions = md->topics[0].partition_cnt;
      }
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    if (partitions > 0) return partitions;
    absl::SleepFor(absl::Milliseconds(100));  // waiting for the broker, not for time to pass
  }
  return 0;
}

bool KafkaTestProducer::Produce(const std::string& topic, const crm::events::v1::Envelope& e, int32_t partition) {
  const std::string value = e.SerializeAsString();
  return rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                           RD_KAFKA_V_KEY(e.subject().data(), e.subject().size()),
                           RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

bool KafkaTestProducer::Flush() { return rd_kafka_flush(rk_, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR; }

int64_t KafkaTestProducer::LowWatermark(const std::string& topic, int partition) {
  int64_t low = -1, high = -1;
  if (rd_kafka_query_watermark_offsets(rk_, topic.c_str(), partition, &low, &high, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -1;
  }
  return low;
}

}  // namespace crm::testing
