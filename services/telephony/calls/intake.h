// File: services/telephony/calls/intake.h
// -----------------------------------------------------------------------------
// The intake (P1): every PBX adapter's facts (event.h) stored, each in one transaction:
//   1. the fact (provider, event_key) inserted ON CONFLICT DO NOTHING — seen before: nothing else, false;
//   2. the call upserted by (provider, call_key) — its row lock orders one call's facts — and what is
//      still unknown of it filled (direction, numbers normalised to E.164, line);
//   3. the leg upserted by (provider, leg_key) with the fact applied (model.h), its employee found by the
//      extension (extensions table); a call-level fact without a leg key is the leg "call:<call_key>";
//   4. the call's state derived from all its legs (model.h) and written;
//   5. in the same transaction, on crm.telephony.call.v1 (key = call id): started (a new ringing call),
//      answered, finished (once per call, CallFinished as robots read it), recording; and the work for
//      deals (deals_sync.h): 'identify' once the outside number is known, 'interaction' when the call ended
//      (and again when a late fact changed it).
// Nothing here calls deals or the PBX.
#ifndef CRM_SERVICES_TELEPHONY_CALLS_INTAKE_H_
#define CRM_SERVICES_TELEPHONY_CALLS_INTAKE_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/telephony/calls/event.h"

namespace crm {
class Clock;
}  // namespace crm
namespace crm::events {
class OutboxWriter;
}  // namespace crm::events
namespace crm::pg {
class Pool;
}  // namespace crm::pg

namespace crm::telephony::calls {

class Intake {
 public:
  Intake(crm::pg::Pool& pool, const Clock& clock, const crm::events::OutboxWriter& outbox);

  // See the file comment. INVALID_ARGUMENT naming the field for a fact without provider, event_key or
  // call_key; a database error leaves nothing stored (retry).
  absl::StatusOr<bool> Record(const CallEvent& e);

  // The legs of `provider` not ended, oldest first (event.h CallIntakeApi::open_legs).
  absl::StatusOr<std::vector<LegRef>> OpenLegs(std::string_view provider);

  // Both as the adapters get them.
  CallIntakeApi Api();

 private:
  crm::pg::Pool& pool_;
  const Clock& clock_;
  const crm::events::OutboxWriter& outbox_;
};

}  // namespace crm::telephony::calls

#endif  // CRM_SERVICES_TELEPHONY_CALLS_INTAKE_H_
