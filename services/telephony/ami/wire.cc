// File: services/telephony/ami/wire.cc
#include "services/telephony/ami/wire.h"

namespace crm::telephony::ami {

absl::Status WireAmi(Context&, calls::CallsPart&) { return absl::OkStatus(); }

}  // namespace crm::telephony::ami
