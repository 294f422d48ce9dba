// File: services/gateway/revocations_testing.h
// -----------------------------------------------------------------------------
// Test support for revocations.h: the envelope identity's relay publishes when a session is revoked.
#ifndef CRM_SERVICES_GATEWAY_REVOCATIONS_TESTING_H_
#define CRM_SERVICES_GATEWAY_REVOCATIONS_TESTING_H_

#include <string>

#include "absl/time/time.h"
#include "libs/base/time.h"
#include "proto/crm/events/v1/envelope.pb.h"
#include "proto/crm/identity/v1/event_types.h"
#include "proto/crm/identity/v1/events.pb.h"

namespace crm::gateway::testing {

// A crm.identity.session.revoked.v1 envelope with id `envelope_id` for `session_id` (of "user-1",
// signed out), revoked at `revoked`, whose last token expires at `tokens_expire`.
inline crm::events::v1::Envelope RevokedSessionEnvelope(const std::string& envelope_id,
                                                        const std::string& session_id, absl::Time revoked,
                                                        absl::Time tokens_expire) {
  crm::identity::v1::SessionRevoked p;
  p.set_session_id(session_id);
  p.set_user_id("user-1");
  p.set_reason("sign_out");
  *p.mutable_revoke_time() = ToProtoTimestamp(revoked);
  *p.mutable_tokens_expire_time() = ToProtoTimestamp(tokens_expire);
  crm::events::v1::Envelope e;
  e.set_id(envelope_id);
  e.set_type(crm::identity::v1::kSessionRevokedType);
  e.set_source("/crm/identity");
  e.set_subject(session_id);
  e.set_aggregate_type("session");
  *e.mutable_time() = ToProtoTimestamp(revoked);
  e.mutable_payload()->PackFrom(p);
  return e;
}

}  // namespace crm::gateway::testing

#endif  // CRM_SERVICES_GATEWAY_REVOCATIONS_TESTING_H_
