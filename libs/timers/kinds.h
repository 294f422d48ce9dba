// File: libs/timers/kinds.h
// -----------------------------------------------------------------------------
// Durable timers by kind, for a service built of parts (dialogs, telephony): each part registers the
// kinds it schedules ("dialogs.reply_timeout", "telephony.offer_expiry", ...) at wiring, before the
// service's one TimerLoop starts; the loop runs Dispatcher(), which hands each fired timer to its kind's
// handler inside the firing transaction (timers.h FireDue).
//
//   TimerKinds kinds;
//   CRM_RETURN_IF_ERROR(kinds.Register("telephony.offer_expiry", [&](pqxx::transaction_base& tx,
//                                                                    const Timer& t) { ... }));
//   TimerLoop loop(store, kinds.Dispatcher());
#ifndef CRM_LIBS_TIMERS_KINDS_H_
#define CRM_LIBS_TIMERS_KINDS_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "libs/timers/timers.h"

namespace crm::timers {

class TimerKinds {
 public:
  using Handler = std::function<absl::Status(pqxx::transaction_base&, const Timer&)>;

  // Registers `kind` once; a second registration of the same kind is a wiring bug (FailedPrecondition).
  absl::Status Register(std::string kind, Handler handler) {
    if (!handlers_.emplace(kind, std::move(handler)).second) {
      return absl::FailedPreconditionError(absl::StrCat("timer kind ", kind, " registered twice"));
    }
    return absl::OkStatus();
  }
  // The handler of `kind`, or nullptr.
  const Handler* Find(std::string_view kind) const {
    auto it = handlers_.find(std::string(kind));
    return it == handlers_.end() ? nullptr : &it->second;
  }
  // A TimerLoop's handler: each timer to its kind's handler; INTERNAL for a kind nobody registered.
  // Valid while this TimerKinds lives; registering after the loop started is a data race.
  TimerHandler Dispatcher() const {
    return [this](pqxx::transaction_base& tx, const Timer& t) -> absl::Status {
      const Handler* handler = Find(t.kind);
      if (handler == nullptr) return absl::InternalError(absl::StrCat("no handler for timer kind ", t.kind));
      return (*handler)(tx, t);
    };
  }

 private:
  absl::flat_hash_map<std::string, Handler> handlers_;
};

}  // namespace crm::timers

#endif  // CRM_LIBS_TIMERS_KINDS_H_
