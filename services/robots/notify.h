// File: services/robots/notify.h
// -----------------------------------------------------------------------------
// The data side of robots' notifications (action Notify in proto/crm/robots/v1/robots.proto):
//   * robots' read model of identity's users (table robot_users, migration 0003_users.sql), fed by the
//     UserCreated / UserUpdated events on crm.identity.user.v1 — robots never call identity per action;
//   * who a notification goes to: recipient specs ("responsible", "supervisor", "user:<uuid>",
//     "role:<code>") resolved against that read model for one deal's responsible;
//   * the Russian texts: {placeholder} templates filled from the deal, the responsible and the rule.
// Sending (e-mail) is in libs/mail/mail.h; in-app and Telegram are events the executor publishes.
//
// Example:
//   // wiring: an idempotent consumer keeps robot_users up to date
//   crm::events::Consumer::Create({.brokers = b, .group_id = "robots-users",
//                                  .topics = {crm::robots::kUserTopic}},
//                                 pool, crm::robots::ApplyUserEvent);
//   // executing a Notify action for a deal, in a transaction
//   CRM_ASSIGN_OR_RETURN(std::vector<crm::robots::Recipient> to,
//                        crm::robots::ResolveRecipients(tx, {"responsible", "role:head_of_sales"},
//                                                       deal.responsible_id()));
//   std::string subject = crm::robots::RenderTemplate(
//       "Сделка «{deal.name}»: нет контакта 30 минут",
//       {{"deal.name", deal.name()}, {"deal.url", url}, {"responsible.name", responsible_name}});
#ifndef CRM_SERVICES_ROBOTS_NOTIFY_H_
#define CRM_SERVICES_ROBOTS_NOTIFY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/events/consumer.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::robots {

// The topic identity publishes its user events on (key = user id).
inline constexpr char kUserTopic[] = "crm.identity.user.v1";

// Applies one crm.identity.user.v1 event in `tx`: for "crm.identity.user.created.v1" /
// "crm.identity.user.updated.v1" it stores the user's full name, e-mail, phone, active flag, role codes,
// teams, supervisor and version in robot_users, unless the stored row's version is newer or equal (an
// older or repeated event changes nothing). Team and supervisor ids that are not UUIDs are dropped.
// Other event types are ignored (OK). A payload that does not parse as the type's message, or a user
// without a UUID id, is InvalidArgument (the consumer parks the event).
absl::Status ApplyUserEvent(pqxx::transaction_base& tx, const events::ConsumedEvent& event);

// A person a notification goes to, as robots last heard of them from identity.
struct Recipient {
  std::string user_id;  // UUID, lower case
  std::string full_name;
  std::string email;  // may be empty (then the EMAIL channel skips them)
  std::string phone;  // E.164 or empty
};

// OK if `spec` is a recipient spec ResolveRecipients understands; otherwise InvalidArgument naming it:
//   "responsible"   the deal's responsible
//   "supervisor"    the responsible's supervisor (руководитель)
//   "user:<uuid>"   that user
//   "role:<code>"   the active users with that role ([a-z][a-z0-9_]{0,63}) who share a team with the
//                   responsible; when none does, every active user with the role ("role:head_of_sales":
//                   the РОП of the responsible's department, else all of them)
absl::Status ValidateRecipientSpec(std::string_view spec);

// Resolves `specs` for a deal whose responsible is `responsible_id` (a UUID, or empty when there is no
// responsible: then "responsible" and "supervisor" give nobody and "role:" is not narrowed by team).
// Returns the recipients in the order of `specs` (users of one role ordered by full name, then id), each
// user once, active users only. Users robots have not heard of are skipped, not an error.
// InvalidArgument naming the spec for a malformed one (nothing is resolved), or naming responsible_id
// when it is neither empty nor a UUID. Reads robot_users only.
absl::StatusOr<std::vector<Recipient>> ResolveRecipients(pqxx::transaction_base& tx,
                                                         const std::vector<std::string>& specs,
                                                         std::string_view responsible_id);

// Fills a notification template: each "{name}" whose name is a key of `vars` becomes its value (values
// are inserted as they are and not scanned again); a placeholder not in `vars`, or a "{" without a
// closing "}", stays as written; "{{" and "}}" are a literal "{" and "}". Names are the text between the
// braces, byte for byte ("deal.name", "deal.url", "responsible.name", "rule.name", ...). Works on UTF-8
// text: only the ASCII braces are special, so multi-byte characters pass through unchanged.
std::string RenderTemplate(std::string_view text, const std::map<std::string, std::string, std::less<>>& vars);

// Links in notifications ({deal.url}, the digest's and {deals.list}'s links; issue 16): the suite's public
// URL — where people reach the CRM (CRM_PUBLIC_URL, the setting the gateway's OpenAPI document names as
// its server too; tools/crm up's gateway by default) — followed by the deal's path on it: the deal as the
// gateway serves it, GET /v1/deals/{id}, until a console serves its own page (DEAL_PATH).
inline constexpr char kDefaultPublicUrl[] = "http://127.0.0.1:8080";
inline constexpr char kDefaultDealPath[] = "/v1/deals/";

// The prefix a deal id is appended to: `public_url` (http:// or https://, a host, no query or fragment;
// a trailing "/" dropped) + `deal_path` (starting with "/"; a "/" added at its end when missing).
// InvalidArgument saying which of the two is wrong.
absl::StatusOr<std::string> DealUrlPrefix(std::string_view public_url, std::string_view deal_path);

// An amount as staff read it in the Russian texts: whole units grouped in threes by spaces, the fraction
// after a comma when it is not zero, then the currency as people name it — «40 000 000 сум» (UZS),
// «1 500,50 ₽» (RUB), «12 USD» (other codes as they are; "" = no label).
std::string MoneyText(int64_t minor, std::string_view currency);

}  // namespace crm::robots

#endif  // CRM_SERVICES_ROBOTS_NOTIFY_H_
