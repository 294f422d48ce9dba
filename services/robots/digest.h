// File: services/robots/digest.h
// -----------------------------------------------------------------------------
// Notification digests (issue 14): a person gets at most one message per channel per window, listing
// what happened, never one per deal — the head of sales does not receive 15 000 e-mails for a burst of
// 15 000 leads.
//
// The first notification to a person on a channel goes out at once and opens a window, with a durable
// timer for its end (kDigestTimerKind, key "digest:<recipient>:<channel>:<window start>"); those that
// come for them on that channel inside the window are kept (table notify_pending) and go out together
// as ONE digest when that timer fires, which opens the next window (and arms its timer). A window in
// which nothing was held just ends. One notification for any number of people on one channel costs one
// statement (a burst of leads notifying eleven managers each does not cost eleven statements a lead). So over any
// stretch of time T a person receives at most 1 + T / window messages a channel, however many
// notifications were meant for them. Messages to a deal's client (Telegram) are not digested: each is
// about the client's own deal. A window of zero turns digests off (every notification goes at once).
//
// Everything is written in the caller's transaction: what was held is sent exactly once in effect with
// the timer that sends it (the e-mail channel at least once, like any e-mail).
//
// Example (in a Notify action):
//   CRM_ASSIGN_OR_RETURN(std::vector<bool> now, DigestGate(window).Admit(tx, items, clock.Now()));
//   for each item with now[i]: ... publish / send as before ...;   // the others wait for the digest
// and in the timer handler for kDigestTimerKind:
//   CRM_ASSIGN_OR_RETURN(std::vector<DigestItem> items, DigestGate(window).Flush(tx, timer.payload, now));
//   if (!items.empty()) ... one message: DigestSubject(items), DigestText(items, url_prefix) ...;
#ifndef CRM_SERVICES_ROBOTS_DIGEST_H_
#define CRM_SERVICES_ROBOTS_DIGEST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace crm::robots {

// The timer kind whose payload names a (recipient, channel) whose held notifications are due.
inline constexpr char kDigestTimerKind[] = "robots.digest";

// One notification meant for one person on one channel.
struct DigestItem {
  std::string recipient;  // the user id
  int channel = 0;        // crm.robots.v1.Notify.Channel
  std::string recipient_name;
  std::string email;
  std::string deal_id;
  std::string rule_id;
  std::string execution_id;
  std::string subject;
  std::string text;
};

class DigestGate {
 public:
  // `window`: how long after a message to a person the next ones are held; zero = never held.
  explicit DigestGate(absl::Duration window) : window_(window) {}

  // For one notification to several people on one channel (`items` share channel, deal, rule, execution,
  // subject and text; each recipient at most once): true for those it should reach now — no message to
  // them on the channel within the window before `now`; their window opens at `now`, with its timer —
  // and false for those it is kept for, until their window's digest.
  absl::StatusOr<std::vector<bool>> Admit(pqxx::transaction_base& tx, const std::vector<DigestItem>& items,
                                          absl::Time now) const;

  // For a digest timer's `payload`: takes (deletes) what was held for its recipient and channel, oldest
  // first, and when there was anything opens the next window at `now`, with its timer (the digest goes
  // out now).
  // InvalidArgument for a payload that is not a digest timer's.
  absl::StatusOr<std::vector<DigestItem>> Flush(pqxx::transaction_base& tx, const std::string& payload,
                                                absl::Time now) const;

 private:
  absl::Duration window_;
};

// The digest's texts (Russian, like every text staff read): the subject names how many notifications
// it holds; the text lists each one's subject and its deal's link (the first `max_lines`, then how many
// more there are).
std::string DigestSubject(const std::vector<DigestItem>& items);
std::string DigestText(const std::vector<DigestItem>& items, const std::string& deal_url_prefix, int max_lines = 50);

}  // namespace crm::robots

#endif  // CRM_SERVICES_ROBOTS_DIGEST_H_
