// File: services/telephony/ami/wire.cc
#include "services/telephony/ami/wire.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "libs/base/status.h"
#include "libs/config/config.h"
#include "libs/log/log.h"
#include "libs/rpc/server.h"
#include "services/telephony/ami/client.h"
#include "services/telephony/ami/commands.h"
#include "services/telephony/ami/mapping.h"

namespace crm::telephony::ami {
namespace {

bool HasLineBreak(const std::string& v) { return v.find_first_of("\r\n") != std::string::npos; }

}  // namespace

absl::Status WireAmi(Context& ctx, calls::CallsPart& calls) {
  crm::config::Env& env = ctx.env;
  // Every setting is read (and checked) even when AMI is off, so a bad one is named at start.
  const std::string address = env.String("AMI_ADDRESS", "");
  const std::string username = env.String("AMI_USERNAME", "");
  const std::string secret = env.String("AMI_SECRET", "");
  const absl::Duration reconnect_max = env.Duration("AMI_RECONNECT_MAX", absl::Seconds(30));
  const absl::Duration action_timeout = env.Duration("AMI_ACTION_TIMEOUT", absl::Seconds(5));
  const absl::Duration ping_interval = env.Duration("AMI_PING_INTERVAL", absl::Seconds(20));
  MappingConfig mapping{.extension_pattern = env.String("AMI_EXTENSION_PATTERN", "^[0-9]{2,5}$"),
                        .recording_url_template = env.String("AMI_RECORDING_URL_TEMPLATE", "")};
  CommandOptions commands{.originate_channel = env.String("AMI_ORIGINATE_CHANNEL", "PJSIP/{extension}"),
                          .context = env.String("AMI_ORIGINATE_CONTEXT", "from-internal"),
                          .timeout = action_timeout};
  ClientOptions options{
      .username = username, .secret = secret, .reconnect_max = reconnect_max, .ping_interval = ping_interval};
  if (!address.empty()) {
    const std::size_t colon = address.rfind(':');
    int port = 0;
    if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
        port < 1 || port > 65535) {
      env.Reject("AMI_ADDRESS", "not host:port (Asterisk's manager port, 5038 by default)");
    } else {
      options.host = address.substr(0, colon);
      if (absl::StartsWith(options.host, "[") && absl::EndsWith(options.host, "]")) {
        options.host = options.host.substr(1, options.host.size() - 2);
      }
      options.port = address.substr(colon + 1);
    }
    if (username.empty()) env.Reject("AMI_USERNAME", "required with AMI_ADDRESS");
    if (secret.empty()) env.Reject("AMI_SECRET", "required with AMI_ADDRESS");
  }
  if (HasLineBreak(username)) env.Reject("AMI_USERNAME", "holds a line break");
  if (HasLineBreak(secret)) env.Reject("AMI_SECRET", "holds a line break");
  if (reconnect_max < absl::Milliseconds(200)) env.Reject("AMI_RECONNECT_MAX", "must be at least 200ms");
  if (action_timeout <= absl::ZeroDuration()) env.Reject("AMI_ACTION_TIMEOUT", "must be positive");
  if (ping_interval < absl::Milliseconds(100)) env.Reject("AMI_PING_INTERVAL", "must be at least 100ms");
  if (!absl::StrContains(commands.originate_channel, "{extension}") || HasLineBreak(commands.originate_channel)) {
    env.Reject("AMI_ORIGINATE_CHANNEL", "must hold {extension} (e.g. PJSIP/{extension})");
  }
  if (commands.context.empty() || HasLineBreak(commands.context)) {
    env.Reject("AMI_ORIGINATE_CONTEXT", "must be a dialplan context");
  }
  absl::StatusOr<Mapper> mapper = Mapper::Create(mapping);
  if (!mapper.ok()) {
    const std::string message(mapper.status().message());
    const std::size_t colon = message.find(':');
    env.Reject(absl::StrCat("AMI_", message.substr(0, colon)), message.substr(colon + 2));
  }
  if (!env.status().ok() || address.empty()) {
    if (address.empty() && env.status().ok()) crm::log::Info("AMI is off (CRM_TELEPHONY_AMI_ADDRESS unset)");
    return absl::OkStatus();
  }

  auto* client = ctx.server.Own(std::make_unique<Client>(std::move(options), *std::move(mapper), calls.intake,
                                                          ctx.clock));
  calls.pbx->Add(std::make_unique<Commands>(*client, std::move(commands)));
  client->Start();
  return absl::OkStatus();
}

}  // namespace crm::telephony::ami
