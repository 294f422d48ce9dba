// File: libs/mail/mail.h
// -----------------------------------------------------------------------------
// E-mail the suite sends (robots' notifications, channel EMAIL; deals' notices to the accountant, D17):
// a plain-text UTF-8 message rendered as RFC 5322 + MIME 1.0 and sent over SMTP (RFC 5321) with libcurl,
// plain, STARTTLS or implicit TLS (smtps://). Moved here from services/robots (issue 17) so every service
// sends mail through one client.
//
// Delivery is AT LEAST ONCE: when the connection drops after the server stored the message but before
// its final reply arrived, Send reports UNAVAILABLE and the caller's retry sends it again. The caller
// therefore gives every message a stable Message-ID (e.g. from the execution and action it belongs to),
// so a retried send carries the same Message-ID and receivers (mail clients, archives) can deduplicate.
//
// Send's results:
//   OK                   the server accepted the message for every recipient.
//   UNAVAILABLE          transient: cannot connect, timeout, connection lost, or a 4xx reply (retry later).
//   FAILED_PRECONDITION  permanent: a 5xx reply (unknown mailbox, relaying denied, auth refused); the
//                        message carries the server's reply text. Retrying the same message will not help.
//   INVALID_ARGUMENT     the message itself is bad; the message names the field (from, to[i], subject,
//                        text, message_id). Nothing was sent.
//   INTERNAL             libcurl failed in an unexpected way (out of memory, ...); retryable.
// A message goes to all of its recipients or to none: one refused recipient fails the whole send.
//
// Example:
//   CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::mail::SmtpMailer> mailer,
//                        crm::mail::SmtpMailer::Create({.url = "smtp://mail.local:587",
//                                                         .username = "robots", .password = secret,
//                                                         .starttls = true}));
//   absl::Status s = mailer->Send({.from = "CRM <robots@crm.local>",
//                                  .to = {"Иванов Иван <ivanov@crm.local>"},
//                                  .subject = "Сделка «Квартира 42»: нет контакта 30 минут",
//                                  .text = "Свяжитесь с клиентом.\nhttps://crm.local/deals/…",
//                                  .message_id = "exec-0193…-action-2@robots.crm.local"});
//   if (absl::IsUnavailable(s)) { /* retry later with the same message */ }
#ifndef CRM_LIBS_MAIL_MAIL_H_
#define CRM_LIBS_MAIL_MAIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crm::mail {

// Bounds Send and ValidateMessage enforce.
inline constexpr size_t kMaxSubjectBytes = 998;        // RFC 5322's line limit
inline constexpr size_t kMaxTextBytes = 1024 * 1024;   // 1 MiB of body text before encoding
inline constexpr size_t kMaxRecipients = 100;          // RFC 5321's minimum recipient buffer
inline constexpr size_t kMaxAddressBytes = 254;        // one mailbox (addr-spec), RFC 5321 path limit

// One plain-text message.
//   from, to[i]: "user@example.com" or "Display Name <user@example.com>" (the name may be any UTF-8;
//                the address is ASCII). `to` holds 1..kMaxRecipients entries.
//   subject:     UTF-8, at most kMaxSubjectBytes, no CR / LF.
//   text:        UTF-8, at most kMaxTextBytes; line breaks (LF or CRLF) are sent as CRLF.
//   message_id:  "left@right" (or "<left@right>"), printable ASCII without spaces; the caller keeps it
//                stable across retries of the same notification.
struct MailMessage {
  std::string from;
  std::vector<std::string> to;
  std::string subject;
  std::string text;
  std::string message_id;
};

struct SmtpOptions {
  // "smtp://host[:port][/ehlo-domain]" or "smtps://host[:port]" (implicit TLS). Required.
  std::string url;
  // SMTP AUTH credentials; both empty for none. A password needs a username.
  std::string username, password;
  // Upgrade a smtp:// connection with STARTTLS and refuse to send if the server cannot.
  bool starttls = false;
  // Bound on one whole Send (connect, dialogue, upload); 0 < timeout <= 10 minutes.
  absl::Duration timeout = absl::Seconds(20);
};

// Sends mail; implementations are safe to call from several threads at once.
class Mailer {
 public:
  virtual ~Mailer() = default;
  // Sends `message` once; see the file comment for what each result means.
  virtual absl::Status Send(const MailMessage& message) = 0;
};

// A Mailer over libcurl's SMTP client. Each Send opens its own connection (no shared state between
// calls), so Send is thread-safe and a broken connection never affects another message.
class SmtpMailer : public Mailer {
 public:
  // Validates `options`; InvalidArgument naming the bad option (url, username, password, starttls,
  // timeout). Does not connect: a server that is down shows as UNAVAILABLE from Send.
  static absl::StatusOr<std::unique_ptr<SmtpMailer>> Create(SmtpOptions options);

  absl::Status Send(const MailMessage& message) override;

 private:
  explicit SmtpMailer(SmtpOptions options) : options_(std::move(options)) {}
  const SmtpOptions options_;
};

// OK if `message` may be sent (see MailMessage for the rules); otherwise InvalidArgument naming the first
// bad field ("from", "to", "to[2]", "subject", "text", "message_id"). CR or LF in a header value is
// refused here (no header injection).
absl::Status ValidateMessage(const MailMessage& message);

// Renders `message` as the RFC 5322 / MIME 1.0 text sent after DATA (before SMTP dot-stuffing): headers
// From, To, Subject, Date (`date`, as UTC), Message-ID, MIME-Version, Content-Type: text/plain;
// charset=utf-8 and Content-Transfer-Encoding: base64; a blank line; the text with CRLF line breaks,
// base64 in lines of at most 76 characters. Non-ASCII display names and subjects are RFC 2047 encoded
// words ("=?UTF-8?B?...?="), each holding whole characters, folded so no header line exceeds 78
// characters. Every line ends with CRLF; there is no bare CR or LF. Meant for a message that passed
// ValidateMessage; for any other, CR / LF in header values are still replaced by spaces, so the output
// never holds a header the caller did not intend.
std::string RenderMime(const MailMessage& message, absl::Time date);

}  // namespace crm::mail

#endif  // CRM_LIBS_MAIL_MAIL_H_
