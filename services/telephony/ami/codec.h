// File: services/telephony/ami/codec.h
// -----------------------------------------------------------------------------
// The Asterisk Manager Interface's wire format (P1), pure: no sockets, no clock.
//
// AMI is a line protocol over TCP. On connect the server sends one greeting line
//   Asterisk Call Manager/5.0.2\r\n
// then messages both ways, each a block of `Key: Value\r\n` lines ended by an empty line. A message is an
// action (client → server, `Action: <name>` and an `ActionID` the server echoes), a response (`Response:
// Success|Error|Goodbye|Follows`, answering an action by its ActionID) or an event (`Event: <name>`). Keys
// may repeat (Originate's `Variable:`), values may hold colons (`Channel: PJSIP/101-00000001`, times).
// Some actions answer with a list: `Response: Success` + `EventList: start`, then events carrying the
// action's ActionID, then a closing event with `EventList: Complete` (CoreShowChannels → CoreShowChannel…
// CoreShowChannelsComplete).
//
// Decoder: bytes in (any split across reads), messages out; every size is bounded (Limits), so a hostile
// or broken server makes Feed() fail — the caller drops the link — instead of growing memory.
// EncodeAction: an action's bytes; values holding CR or LF are refused (they would inject lines).
// Correlator: ties responses and list events to the pending actions by ActionID; the rest are events.
#ifndef CRM_SERVICES_TELEPHONY_AMI_CODEC_H_
#define CRM_SERVICES_TELEPHONY_AMI_CODEC_H_

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::telephony::ami {

// One AMI message: its lines' keys and values in wire order (repeated keys kept).
struct Message {
  std::vector<std::pair<std::string, std::string>> fields;

  // The first value of `key` (AMI keys compare case-insensitively: Asterisk writes `UniqueID` in Cdr and
  // `Uniqueid` elsewhere), or "" when absent.
  absl::string_view Get(absl::string_view key) const;
  bool Has(absl::string_view key) const;
  // Every value of `key`, in order.
  std::vector<absl::string_view> GetAll(absl::string_view key) const;
  // The event's name ("" for a response), the response's status ("" for an event).
  absl::string_view event() const { return Get("Event"); }
  absl::string_view response() const { return Get("Response"); }
  absl::string_view action_id() const { return Get("ActionID"); }
};

struct Limits {
  std::size_t max_line = 8192;       // bytes of one line (a greeting or a Key: Value)
  std::size_t max_fields = 512;      // lines of one message
  std::size_t max_message = 65536;   // bytes of one message
};

class Decoder {
 public:
  explicit Decoder(Limits limits = {}) : limits_(limits) {}

  // Takes the next bytes read from the link. Complete messages become available through Next().
  // Errors (the link must then be dropped, the decoder is spent): InvalidArgument when the first line is
  // not an AMI greeting; ResourceExhausted when a line, a message or its number of lines passes Limits.
  absl::Status Feed(absl::string_view bytes);
  // The next complete message, oldest first; nullopt when none is complete yet.
  std::optional<Message> Next();
  // The greeting line ("Asterisk Call Manager/5.0.2"), "" until it has arrived.
  const std::string& greeting() const { return greeting_; }

 private:
  absl::Status Line(absl::string_view line);

  Limits limits_;
  std::string partial_;          // bytes of an unfinished line
  std::string greeting_;
  bool greeted_ = false;
  Message current_;
  std::size_t current_bytes_ = 0;
  std::deque<Message> ready_;
  absl::Status failed_;
};

// The bytes of action `action` with `action_id` and `fields` (in order, repeated keys allowed), ended by the
// empty line. InvalidArgument naming the key when a key or value holds CR or LF, or a key is empty or holds
// ':'.
absl::StatusOr<std::string> EncodeAction(absl::string_view action, absl::string_view action_id,
                                         const std::vector<std::pair<std::string, std::string>>& fields);

// A pending action's answer: its response and, for list actions, the list's events (the closing event
// excluded; `truncated` when more than the Correlator's bound arrived and the rest were dropped).
struct Reply {
  Message response;
  std::vector<Message> list;
  bool truncated = false;
};

class Correlator {
 public:
  explicit Correlator(std::size_t max_list_items = 100000) : max_list_items_(max_list_items) {}

  // Expects the answer to the action sent with `action_id`.
  void Expect(std::string action_id);
  // Stops expecting `action_id` (its deadline passed): what still arrives for it counts as events.
  void Forget(absl::string_view action_id);
  // Forgets every pending action (the link dropped).
  void Clear() { pending_.clear(); }
  bool pending(absl::string_view action_id) const { return pending_.contains(action_id); }

  enum class Outcome {
    kEvent,     // not an answer to a pending action: the caller handles it as an event
    kAbsorbed,  // part of a pending list: kept until the list completes
    kReply,     // the pending action `*id` is answered with `*reply`
  };
  // Offers one decoded message. On kReply fills `id` and `reply` and stops expecting the action; on
  // kAbsorbed and kReply takes the message (moves from it); on kEvent leaves it as it was.
  Outcome Offer(Message& message, std::string* id, Reply* reply);

 private:
  struct Pending {
    bool listing = false;  // a response with "EventList: start" came; events follow
    Reply reply;
  };
  std::size_t max_list_items_;
  absl::flat_hash_map<std::string, Pending> pending_;
};

}  // namespace crm::telephony::ami

#endif  // CRM_SERVICES_TELEPHONY_AMI_CODEC_H_
