// File: services/telephony/requests/convert.h
// -----------------------------------------------------------------------------
// The API's enums as the tables store them (the enum value's name without its prefix: "SITE",
// "BACK_TO_QUEUE") and the rows of sql.h's reads as messages.
#ifndef CRM_SERVICES_TELEPHONY_REQUESTS_CONVERT_H_
#define CRM_SERVICES_TELEPHONY_REQUESTS_CONVERT_H_

#include <string>
#include <string_view>

#include "crm/telephony/v1/requests.pb.h"

namespace pqxx {
class row;
}  // namespace pqxx

namespace crm::telephony::requests {

namespace v1 = ::crm::telephony::v1;

std::string SourceText(v1::RequestSource v);
std::string TypeText(v1::RequestType v);
std::string StateText(v1::RequestState v);
std::string OutcomeText(v1::RequestOutcome v);
v1::RequestSource SourceOf(std::string_view text);
v1::RequestType TypeOf(std::string_view text);
v1::RequestState StateOf(std::string_view text);
v1::RequestOutcome OutcomeOf(std::string_view text);
v1::AttemptResult ResultOf(std::string_view text);
v1::Readiness ReadinessProtoOf(std::string_view text);

// A row of CRM_REQ_COLUMNS (sql.h).
v1::CallRequest RequestOf(const pqxx::row& r);
// A row of sql::kAttemptsOf.
v1::Attempt AttemptOf(const pqxx::row& r);
// A row of sql::kOperatorStates.
v1::OperatorState OperatorStateOf(const pqxx::row& r);

}  // namespace crm::telephony::requests

#endif  // CRM_SERVICES_TELEPHONY_REQUESTS_CONVERT_H_
