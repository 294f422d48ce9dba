// File: services/dialogs/routing/metrics.h
// -----------------------------------------------------------------------------
// Prometheus metrics of routing (T8), in crm::metrics::Registry():
//   crm_dialogs_first_reply_seconds{bot}    histogram: an assignment's first operator reply, working seconds
//   crm_dialogs_queue_wait_seconds{bot}     histogram: queued → assigned, wall seconds
//   crm_dialogs_assignments_total{kind}     counter: history rows by kind (DISTRIBUTED, TAKEN, TIMED_OUT...)
// Observed in the transaction of the change: a transaction retried after a conflict may count twice.
#ifndef CRM_SERVICES_DIALOGS_ROUTING_METRICS_H_
#define CRM_SERVICES_DIALOGS_ROUTING_METRICS_H_

#include <string_view>

namespace crm::dialogs::routing {

void ObserveFirstReply(std::string_view bot_id, double working_seconds);
void ObserveQueueWait(std::string_view bot_id, double seconds);
void CountAssignment(std::string_view kind);

}  // namespace crm::dialogs::routing

#endif  // CRM_SERVICES_DIALOGS_ROUTING_METRICS_H_
