// File: services/dialogs/routing/metrics.cc
#include "services/dialogs/routing/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include <string>
#include <vector>

#include "libs/metrics/metrics.h"

namespace crm::dialogs::routing {
namespace {

// Seconds: a minute to a working day and beyond.
const std::vector<double>& ReplyBuckets() {
  static const auto* b = new std::vector<double>{15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800};
  return *b;
}

struct Families {
  prometheus::Family<prometheus::Histogram>& first_reply;
  prometheus::Family<prometheus::Histogram>& queue_wait;
  prometheus::Family<prometheus::Counter>& assignments;
};

Families& Get() {
  static auto* f = new Families{
      prometheus::BuildHistogram()
          .Name("crm_dialogs_first_reply_seconds")
          .Help("From a dialog's assignment to the operator's first reply, in the bot's working seconds.")
          .Register(crm::metrics::Registry()),
      prometheus::BuildHistogram()
          .Name("crm_dialogs_queue_wait_seconds")
          .Help("From a dialog's queueing to its assignment to an operator, in seconds.")
          .Register(crm::metrics::Registry()),
      prometheus::BuildCounter()
          .Name("crm_dialogs_assignments_total")
          .Help("Rows of the dialogs' assignment history, by kind.")
          .Register(crm::metrics::Registry()),
  };
  return *f;
}

}  // namespace

void ObserveFirstReply(std::string_view bot_id, double working_seconds) {
  Get().first_reply.Add({{"bot", std::string(bot_id)}}, ReplyBuckets()).Observe(working_seconds);
}

void ObserveQueueWait(std::string_view bot_id, double seconds) {
  Get().queue_wait.Add({{"bot", std::string(bot_id)}}, ReplyBuckets()).Observe(seconds);
}

void CountAssignment(std::string_view kind) { Get().assignments.Add({{"kind", std::string(kind)}}).Increment(); }

}  // namespace crm::dialogs::routing
