// File: services/telephony/requests/wire.cc
#include "services/telephony/requests/wire.h"

namespace crm::telephony::requests {

absl::Status WireRequests(Context&, calls::CallsPart&) { return absl::OkStatus(); }

}  // namespace crm::telephony::requests
