// File: services/telephony/ami/client.h
// -----------------------------------------------------------------------------
// The AMI link (P1): one TCP connection to Asterisk, run by one thread (Boost.Asio).
//
// Promises:
//  * Login with the username and secret and `Events: on`; a refused login is logged (never the secret) and
//    retried like a dropped link.
//  * Every event is mapped (mapping.h) and its CallEvents are passed to intake.record IN ARRIVAL ORDER, one
//    at a time on the link's thread; a failing record is retried with backoff until it succeeds or the
//    client stops — never skipped (reading waits meanwhile; Asterisk may then drop a slow client, which is
//    one more dropped link). Only a fact the intake refuses as malformed (INVALID_ARGUMENT: retrying
//    cannot help) is passed, logged as an error and counted.
//  * A link whose Ping goes unanswered for a ping_interval counts as dropped.
//  * A dropped link (or a refused login, a greeting that is not AMI, a message past the codec's limits) is
//    reconnected after a backoff doubling from reconnect_min up to reconnect_max, reset by a login.
//  * After every login — the first one too, so a restarted service catches up — the client
//    RESYNCHRONISES: it sends CoreShowChannels; records ringing/answered facts for the channels Asterisk
//    has (deterministic keys: nothing is stored twice); and records an ended fact (the key a Hangup would
//    have had, reason LINK_LOST) for each leg intake.open_legs("asterisk") holds open that Asterisk no
//    longer has and no event named since the request was sent.
//  * Call() sends an action and waits for its answer until a deadline: UNAVAILABLE when the link is down or
//    no answer came in time.
// The intake is idempotent by (provider, event_key), so any number of clients (replicas) may hold a link
// to the same Asterisk at once: each fact is stored once.
// Metrics: crm_telephony_ami_link_up, crm_telephony_ami_events_read_total, crm_telephony_ami_reconnects_total,
// crm_telephony_ami_record_retries_total, crm_telephony_ami_facts_refused_total,
// crm_telephony_ami_resync_ended_total.
#ifndef CRM_SERVICES_TELEPHONY_AMI_CLIENT_H_
#define CRM_SERVICES_TELEPHONY_AMI_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/telephony/ami/codec.h"
#include "services/telephony/ami/mapping.h"
#include "services/telephony/calls/event.h"

namespace crm {
class Clock;
}  // namespace crm

namespace crm::telephony::ami {

struct ClientOptions {
  std::string host;  // AMI_ADDRESS's host
  std::string port;  // and port (Asterisk's default 5038)
  std::string username;
  std::string secret;
  absl::Duration reconnect_min = absl::Milliseconds(200);
  absl::Duration reconnect_max = absl::Seconds(30);  // RECONNECT_MAX
  absl::Duration login_timeout = absl::Seconds(10);  // connect + greeting + login
  // A Ping every ping_interval while logged in; a Ping still unanswered at the next one means a dead link
  // (a half-open TCP connection shows nothing else for hours): it is closed and reconnected.
  absl::Duration ping_interval = absl::Seconds(20);  // PING_INTERVAL
  Limits limits;
};

class Client {
 public:
  // `intake` and `clock` are used on the link's thread; `clock` must outlive the client.
  Client(ClientOptions options, Mapper mapper, calls::CallIntakeApi intake, const Clock& clock);
  ~Client();  // Stop()
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Starts the link's thread: connect, login, read, reconnect. Once.
  void Start();
  // Closes the link and joins the thread; a record being retried is abandoned. Idempotent.
  void Stop();

  // Sends `action` with `fields` (ActionID `action_id`, or a generated one when "") and returns its answer
  // (Reply::response, and the list for list actions). Thread-safe, blocking up to `timeout`.
  // UNAVAILABLE: the link is down, dropped before the answer, or no answer in time. INVALID_ARGUMENT: a
  // value would break the wire format (a line break).
  absl::StatusOr<Reply> Call(absl::string_view action, const std::vector<std::pair<std::string, std::string>>& fields,
                             absl::Duration timeout, std::string action_id = "");

  // Whether the link is logged in now.
  bool link_up() const;
  // Logins accepted and resynchronisations completed so far (tests wait on them).
  int64_t logins() const;
  int64_t resyncs() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crm::telephony::ami

#endif  // CRM_SERVICES_TELEPHONY_AMI_CLIENT_H_
