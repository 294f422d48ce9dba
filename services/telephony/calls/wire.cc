// File: services/telephony/calls/wire.cc
#include "services/telephony/calls/wire.h"

#include <memory>

#include "libs/rpc/server.h"

namespace crm::telephony::calls {

absl::StatusOr<CallsPart*> WireCalls(Context& ctx) {
  auto* pbx = ctx.server.Own(std::make_unique<PbxRegistry>());
  CallIntakeApi intake{
      .record = [](const CallEvent&) -> absl::StatusOr<bool> {
        return absl::UnimplementedError("the calls part's intake is not built yet");
      },
      .open_legs = [](std::string_view) -> absl::StatusOr<std::vector<LegRef>> { return std::vector<LegRef>{}; }};
  return ctx.server.Own(std::make_unique<CallsPart>(CallsPart{.intake = std::move(intake), .pbx = pbx}));
}

}  // namespace crm::telephony::calls
