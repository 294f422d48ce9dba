// File: libs/rpc/input_guard.h
// -----------------------------------------------------------------------------
// What every request satisfies before any handler sees it (issue 15). crm::rpc::Server's interceptor
// checks each request message on arrival, for every RPC of every service, whoever the client is (the
// gateway, a robot, an integrator on gRPC); a request that fails is turned away with INVALID_ARGUMENT
// and the handler does not run (see call.h).
//
//   * Text: no string field, at any depth (repeated elements, map keys and values included), holds a
//     control character other than TAB, LF and CR — no NUL (PostgreSQL would store the text cut there
//     while the reply and the event carried it whole), no ESC, no DEL, no C1 control (U+0080..U+009F).
//     The same rule for every text of the suite, so what is accepted is stored and shown exactly.
//     (Protobuf has already refused invalid UTF-8 when it parsed the request; bytes fields are binary
//     and not checked.)
//   * Numbers: an integer field whose options give bounds ((crm.common.v1.min) / (crm.common.v1.max),
//     proto/crm/common/v1/validation.proto) is within them, every element of a repeated one too.
//
// The status names every offending field (up to kMaxViolations), by its path as the proto spells it:
// "deal.name", "items[2].price.amount_minor", "labels[\"k\"]".
//
// Example:
//   CRM_RETURN_IF_ERROR(crm::rpc::CheckRequest(*request));
#ifndef CRM_LIBS_RPC_INPUT_GUARD_H_
#define CRM_LIBS_RPC_INPUT_GUARD_H_

#include <string_view>

#include "absl/status/status.h"
#include "libs/base/strings.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace crm::rpc {

// At most this many field violations are listed (the rest are not looked for).
inline constexpr int kMaxViolations = 20;

// OK, or INVALID_ARGUMENT naming each field of `request` that breaks the rules above.
absl::Status CheckRequest(const google::protobuf::Message& request);

// The text rule itself, for code that checks one value: libs/base/strings.h.
using ::crm::HasForbiddenControl;

}  // namespace crm::rpc

#endif  // CRM_LIBS_RPC_INPUT_GUARD_H_
