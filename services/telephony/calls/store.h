// File: services/telephony/calls/store.h
// -----------------------------------------------------------------------------
// The stored call as calls.proto's Call (P1, P2): reading calls and legs in a caller's transaction, the
// spellings the database uses for directions, states and the rest, numbers normalised to E.164, and the
// call's events (events.proto) written to the outbox — shared by the intake, the deals queue and the
// service.
#ifndef CRM_SERVICES_TELEPHONY_CALLS_STORE_H_
#define CRM_SERVICES_TELEPHONY_CALLS_STORE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crm/telephony/v1/calls.pb.h"
#include "crm/telephony/v1/events.pb.h"
#include "services/telephony/calls/event.h"

namespace pqxx {
class row;
class transaction_base;
}  // namespace pqxx
namespace google::protobuf {
class Message;
}  // namespace google::protobuf
namespace crm::events {
class OutboxWriter;
}  // namespace crm::events

namespace crm::telephony::calls {

namespace v1 = ::crm::telephony::v1;

// "unknown", "inbound", "outbound", "internal" and the proto's enum.
const char* DirectionName(CallEvent::Direction d);
v1::CallDirection DirectionOf(std::string_view name);
const char* DirectionName(v1::CallDirection d);
v1::CallState CallStateOf(std::string_view name);
v1::Identification IdentificationOf(std::string_view name);
v1::Primacy PrimacyOf(std::string_view name);

// A phone number in E.164 ("+79161234567", region RU) when `raw` is one; else `raw` trimmed (an
// extension, "anonymous").
std::string NormalizeNumber(std::string_view raw);

// The client's side of a call: from for inbound, to for outbound, "" otherwise.
std::string OutsideNumber(std::string_view direction, const std::string& from, const std::string& to);

// A row of CRM_TEL_CALL_COLUMNS / CRM_TEL_LEG_COLUMNS (sql.h).
v1::Call CallOf(const pqxx::row& r);
v1::CallLeg LegOf(const pqxx::row& r);
// Whether the stored call's finished event was sent (the last column of CRM_TEL_CALL_COLUMNS).
bool FinishedSentOf(const pqxx::row& r);

std::optional<v1::Call> LoadCall(pqxx::transaction_base& tx, std::string_view id, bool for_update);
std::vector<v1::CallLeg> LoadLegs(pqxx::transaction_base& tx, std::string_view call_id);

// What the call's live events carry.
v1::CallSummary SummaryOf(const v1::Call& c);
v1::CallFinished FinishedOf(const v1::Call& c);

// Appends one event of the call (topic crm.telephony.call.v1, key = the call id) visible to the employee
// on it (and `also_visible`) besides telephony.read.all holders.
absl::Status EmitCallEvent(pqxx::transaction_base& tx, const crm::events::OutboxWriter& outbox, const v1::Call& c,
                           const char* type, const google::protobuf::Message& payload,
                           const std::vector<std::string>& also_visible = {});

}  // namespace crm::telephony::calls

#endif  // CRM_SERVICES_TELEPHONY_CALLS_STORE_H_
