// File: services/dialogs/outreach/start_hook.h
// -----------------------------------------------------------------------------
// THE hook of the inbox's processor into the outreach (T7: personal QR codes), header only so the inbox
// links nothing of the outreach: inbox/processor.cc calls OnClientInput once per client message (in the
// chat's transaction, before the message is recorded) with the scenario input it made of it — a /start
// with its payload (INPUT_KIND_START, text = payload) or a text. The outreach registers its handler at
// wiring (qr.h QrCodes::OnClientInput): a valid signed payload, or a typed fallback code, gives the
// dialog its project and the operator routing offers it to first. Without a handler: nothing.
#ifndef CRM_SERVICES_DIALOGS_OUTREACH_START_HOOK_H_
#define CRM_SERVICES_DIALOGS_OUTREACH_START_HOOK_H_

#include <atomic>
#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "crm/dialogs/v1/inbox.pb.h"
#include "crm/dialogs/v1/scenarios.pb.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::dialogs::outreach {

using ClientInputHook = std::function<absl::Status(pqxx::transaction_base&, const crm::dialogs::v1::Dialog&,
                                                   const crm::dialogs::v1::Input&, absl::Time)>;

inline std::atomic<const ClientInputHook*>& ClientInputHookSlot() {
  static std::atomic<const ClientInputHook*> slot{nullptr};
  return slot;
}

// Registers the handler (once, at wiring; `hook` must outlive the processor).
inline void SetClientInputHook(const ClientInputHook* hook) { ClientInputHookSlot().store(hook); }

inline absl::Status OnClientInput(pqxx::transaction_base& tx, const crm::dialogs::v1::Dialog& dialog,
                                  const crm::dialogs::v1::Input& input, absl::Time now) {
  const ClientInputHook* hook = ClientInputHookSlot().load();
  return hook == nullptr ? absl::OkStatus() : (*hook)(tx, dialog, input, now);
}

}  // namespace crm::dialogs::outreach

#endif  // CRM_SERVICES_DIALOGS_OUTREACH_START_HOOK_H_
