// File: services/telephony/ami/client.cc
#include "services/telephony/ami/client.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <thread>

#include <boost/asio.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/log/log.h"
#include "libs/metrics/metrics.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"

namespace crm::telephony::ami {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using ReplyPromise = std::promise<absl::StatusOr<Reply>>;

struct Metrics {
  prometheus::Gauge& link_up = crm::metrics::NewGauge(
      "crm_telephony_ami_link_up", "1 while the AMI link to Asterisk is logged in, else 0.");
  prometheus::Counter& events_read = crm::metrics::NewCounter(
      "crm_telephony_ami_events_read_total", "AMI events read from Asterisk.");
  prometheus::Counter& reconnects = crm::metrics::NewCounter(
      "crm_telephony_ami_reconnects_total", "AMI links lost or refused and tried again.");
  prometheus::Counter& record_retries = crm::metrics::NewCounter(
      "crm_telephony_ami_record_retries_total", "Call facts whose recording failed and was retried.");
  prometheus::Counter& refused = crm::metrics::NewCounter(
      "crm_telephony_ami_facts_refused_total", "Call facts the intake refused as malformed (logged, not retried).");
  prometheus::Counter& resync_ended = crm::metrics::NewCounter(
      "crm_telephony_ami_resync_ended_total", "Legs ended by a resynchronisation (their Hangup was missed).");
};

Metrics& M() {
  static Metrics* m = new Metrics();
  return *m;
}

std::chrono::steady_clock::duration ToChrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

}  // namespace

struct Client::Impl {
  Impl(ClientOptions o, Mapper m, calls::CallIntakeApi i, const Clock& c)
      : options(std::move(o)), mapper(std::move(m)), intake(std::move(i)), clock(c) {}

  // --- any thread ---
  ClientOptions options;
  Mapper mapper;
  calls::CallIntakeApi intake;
  const Clock& clock;
  asio::io_context io;
  std::thread thread;
  absl::Notification stopping;
  std::atomic<bool> started{false};
  std::atomic<bool> up{false};
  std::atomic<int64_t> logins{0};
  std::atomic<int64_t> resyncs{0};
  std::atomic<uint64_t> next_id{0};

  // --- the link's thread only ---
  std::unique_ptr<tcp::socket> socket;
  std::unique_ptr<asio::steady_timer> backoff_timer;
  uint64_t generation = 0;
  Correlator correlator;
  absl::flat_hash_map<std::string, std::shared_ptr<ReplyPromise>> waiters;
  std::deque<std::shared_ptr<std::string>> outq;
  bool writing = false;
  bool logged_in = false;
  std::string login_id;
  std::string resync_id;
  std::string ping_id;  // the Ping sent last, "" once answered
  std::unique_ptr<asio::steady_timer> ping_timer;
  absl::flat_hash_set<std::string> seen_since_resync;  // legs named by events since CoreShowChannels went

  std::string NewId() { return absl::StrCat("crm-ami-", next_id.fetch_add(1) + 1); }

  asio::awaitable<void> Run();
  asio::awaitable<absl::Status> Session();
  absl::Status Handle(Message m);
  absl::Status OnLogin(const Reply& reply);
  absl::Status OnResync(const Reply& reply);
  absl::Status Record(const calls::CallEvent& ev);
  void Send(std::string bytes);
  void WriteNext(uint64_t gen);
  void EndSession();
  void SchedulePing(uint64_t gen);
};

asio::awaitable<void> Client::Impl::Run() {
  absl::Duration backoff = options.reconnect_min;
  while (!stopping.HasBeenNotified()) {
    const int64_t logins_before = logins.load();
    absl::Status s = co_await Session();
    EndSession();
    if (stopping.HasBeenNotified()) break;
    if (logins.load() > logins_before) backoff = options.reconnect_min;  // it had worked: start over small
    M().reconnects.Increment();
    crm::log::Warn("AMI link down; reconnecting",
                   {{"status", s}, {"host", options.host}, {"port", options.port}, {"retry_in", backoff}});
    backoff_timer = std::make_unique<asio::steady_timer>(io, ToChrono(backoff));
    boost::system::error_code ec;
    co_await backoff_timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    backoff = std::min(backoff * 2, options.reconnect_max);
  }
}

asio::awaitable<absl::Status> Client::Impl::Session() {
  const uint64_t gen = ++generation;
  socket = std::make_unique<tcp::socket>(io);
  // Connect, greeting and login within login_timeout, else the socket is closed (the read fails).
  asio::steady_timer watchdog(io, ToChrono(options.login_timeout));
  watchdog.async_wait([this, gen](boost::system::error_code ec) {
    if (!ec && gen == generation && !logged_in && socket != nullptr) socket->close(ec);
  });
  boost::system::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints =
      co_await resolver.async_resolve(options.host, options.port, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return absl::UnavailableError(absl::StrCat("cannot resolve the AMI host: ", ec.message()));
  co_await asio::async_connect(*socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return absl::UnavailableError(absl::StrCat("cannot connect to AMI: ", ec.message()));
  // Stop() may have come while connecting (its close found no socket open yet).
  if (stopping.HasBeenNotified()) co_return absl::CancelledError("stopping");
  socket->set_option(asio::socket_base::keep_alive(true), ec);
  socket->set_option(tcp::no_delay(true), ec);

  Decoder decoder(options.limits);
  correlator.Clear();
  login_id = NewId();
  correlator.Expect(login_id);
  absl::StatusOr<std::string> login = EncodeAction(
      "Login", login_id, {{"Username", options.username}, {"Secret", options.secret}, {"Events", "on"}});
  if (!login.ok()) co_return login.status();
  Send(*std::move(login));

  std::array<char, 16384> buf;
  for (;;) {
    const std::size_t n =
        co_await socket->async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      co_return absl::UnavailableError(logged_in ? absl::StrCat("the AMI link dropped: ", ec.message())
                                                 : "no AMI login in time (or the link dropped)");
    }
    if (absl::Status s = decoder.Feed(absl::string_view(buf.data(), n)); !s.ok()) co_return s;
    while (std::optional<Message> m = decoder.Next()) {
      if (absl::Status s = Handle(*std::move(m)); !s.ok()) co_return s;
    }
    if (stopping.HasBeenNotified()) co_return absl::CancelledError("stopping");
  }
}

void Client::Impl::EndSession() {
  ++generation;
  if (socket != nullptr) {
    boost::system::error_code ec;
    socket->close(ec);
  }
  if (logged_in) M().link_up.Set(0);
  logged_in = false;
  up = false;
  resync_id.clear();
  seen_since_resync.clear();
  ping_id.clear();
  if (ping_timer != nullptr) ping_timer->cancel();
  correlator.Clear();
  for (auto& [id, p] : waiters) p->set_value(absl::UnavailableError("the AMI link dropped before Asterisk answered"));
  waiters.clear();
  outq.clear();
  writing = false;
}

void Client::Impl::Send(std::string bytes) {
  outq.push_back(std::make_shared<std::string>(std::move(bytes)));
  if (!writing) WriteNext(generation);
}

void Client::Impl::WriteNext(uint64_t gen) {
  writing = true;
  std::shared_ptr<std::string> bytes = outq.front();
  asio::async_write(*socket, asio::buffer(*bytes), [this, gen, bytes](boost::system::error_code ec, std::size_t) {
    if (gen != generation) return;  // that link is gone; its queue was cleared
    outq.pop_front();
    if (ec) {
      writing = false;
      socket->close(ec);  // the read fails and ends the session
      return;
    }
    if (outq.empty()) {
      writing = false;
    } else {
      WriteNext(gen);
    }
  });
}

absl::Status Client::Impl::Handle(Message m) {
  std::string id;
  Reply reply;
  switch (correlator.Offer(m, &id, &reply)) {
    case Correlator::Outcome::kAbsorbed:
      return absl::OkStatus();
    case Correlator::Outcome::kReply:
      if (id == login_id) return OnLogin(reply);
      if (id == resync_id) return OnResync(reply);
      if (id == ping_id) {
        ping_id.clear();
        return absl::OkStatus();
      }
      if (auto it = waiters.find(id); it != waiters.end()) {
        it->second->set_value(std::move(reply));
        waiters.erase(it);
      }
      return absl::OkStatus();
    case Correlator::Outcome::kEvent:
      break;
  }
  if (m.event().empty()) return absl::OkStatus();  // a response nobody waits for any more
  M().events_read.Increment();
  if (!logged_in) return absl::OkStatus();
  if (!resync_id.empty()) {
    for (absl::string_view key : {"Uniqueid", "DestUniqueid"}) {
      if (absl::string_view leg = m.Get(key); !leg.empty()) seen_since_resync.insert(std::string(leg));
    }
  }
  for (const calls::CallEvent& ev : mapper.Map(m, clock.Now())) {
    if (absl::Status s = Record(ev); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Client::Impl::OnLogin(const Reply& reply) {
  if (!absl::EqualsIgnoreCase(reply.response.response(), "Success")) {
    // The secret is never logged; Asterisk's message is ("Authentication failed").
    crm::log::Warn("AMI login refused", {{"username", options.username},
                                         {"message", reply.response.Get("Message")}});
    return absl::PermissionDeniedError("Asterisk refused the AMI login");
  }
  logged_in = true;
  up = true;
  logins.fetch_add(1);
  M().link_up.Set(1);
  crm::log::Info("AMI link up", {{"host", options.host}, {"port", options.port}});
  SchedulePing(generation);
  // Resynchronise: what Asterisk has now against what the CRM holds open.
  resync_id = NewId();
  seen_since_resync.clear();
  correlator.Expect(resync_id);
  absl::StatusOr<std::string> bytes = EncodeAction("CoreShowChannels", resync_id, {});
  if (!bytes.ok()) return bytes.status();
  Send(*std::move(bytes));
  return absl::OkStatus();
}

void Client::Impl::SchedulePing(uint64_t gen) {
  ping_timer = std::make_unique<asio::steady_timer>(io, ToChrono(options.ping_interval));
  ping_timer->async_wait([this, gen](boost::system::error_code ec) {
    if (ec || gen != generation || !logged_in) return;
    if (!ping_id.empty()) {  // the last Ping is still unanswered: the link is dead
      crm::log::Warn("AMI link silent: no answer to Ping", {{"within", options.ping_interval}});
      socket->close(ec);  // the read fails and ends the session
      return;
    }
    ping_id = NewId();
    correlator.Expect(ping_id);
    absl::StatusOr<std::string> bytes = EncodeAction("Ping", ping_id, {});
    if (bytes.ok()) Send(*std::move(bytes));
    SchedulePing(gen);
  });
}

absl::Status Client::Impl::OnResync(const Reply& reply) {
  resync_id.clear();
  absl::flat_hash_set<std::string> seen = std::move(seen_since_resync);
  seen_since_resync.clear();
  if (!absl::EqualsIgnoreCase(reply.response.response(), "Success") || reply.truncated) {
    crm::log::Warn("AMI resynchronisation skipped: Asterisk's channel list is incomplete",
                   {{"message", reply.response.Get("Message")}, {"truncated", reply.truncated}});
    return absl::OkStatus();
  }
  absl::flat_hash_set<std::string> live;
  for (const Message& channel : reply.list) {
    const std::string leg(channel.Get("Uniqueid"));
    if (leg.empty()) continue;
    live.insert(leg);
    if (seen.contains(leg)) continue;  // events after the snapshot already told newer facts about it
    for (const calls::CallEvent& ev : mapper.Map(channel, clock.Now())) CRM_RETURN_IF_ERROR(Record(ev));
  }
  absl::StatusOr<std::vector<calls::LegRef>> open;
  absl::Duration wait = absl::Milliseconds(100);
  while (!(open = intake.open_legs(kProvider)).ok()) {
    crm::log::Warn("AMI resynchronisation: cannot list the open legs; retrying", {{"status", open.status()}});
    if (stopping.WaitForNotificationWithTimeout(wait)) return absl::CancelledError("stopping");
    wait = std::min(wait * 2, absl::Seconds(5));
  }
  int ended = 0;
  for (const calls::LegRef& leg : *open) {
    if (live.contains(leg.leg_key) || seen.contains(leg.leg_key)) continue;
    CRM_RETURN_IF_ERROR(Record(mapper.EndedByResync(leg, clock.Now())));
    M().resync_ended.Increment();
    ++ended;
  }
  resyncs.fetch_add(1);
  crm::log::Info("AMI resynchronised", {{"channels", static_cast<int64_t>(reply.list.size())},
                                        {"open_legs", static_cast<int64_t>(open->size())},
                                        {"ended", ended}});
  return absl::OkStatus();
}

absl::Status Client::Impl::Record(const calls::CallEvent& ev) {
  absl::Duration wait = absl::Milliseconds(100);
  for (;;) {
    absl::StatusOr<bool> r = intake.record(ev);
    if (r.ok()) return absl::OkStatus();
    if (r.status().code() == absl::StatusCode::kInvalidArgument) {
      // Malformed: retrying cannot help and would stop the link for good. Said loudly, then passed.
      M().refused.Increment();
      crm::log::Error("AMI: the intake refused a call fact",
                      {{"event_key", ev.event_key}, {"status", r.status()}});
      return absl::OkStatus();
    }
    M().record_retries.Increment();
    crm::log::Warn("AMI: recording a call fact failed; retrying",
                   {{"event_key", ev.event_key}, {"status", r.status()}, {"retry_in", wait}});
    if (stopping.WaitForNotificationWithTimeout(wait)) return absl::CancelledError("stopping");
    wait = std::min(wait * 2, absl::Seconds(5));
  }
}

Client::Client(ClientOptions options, Mapper mapper, calls::CallIntakeApi intake, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(mapper), std::move(intake), clock)) {}

Client::~Client() { Stop(); }

void Client::Start() {
  if (impl_->started.exchange(true)) return;
  asio::co_spawn(impl_->io, impl_->Run(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

void Client::Stop() {
  if (!impl_->started.load() || impl_->stopping.HasBeenNotified()) return;
  impl_->stopping.Notify();
  Impl* impl = impl_.get();
  asio::post(impl->io, [impl] {
    boost::system::error_code ec;
    if (impl->socket != nullptr) impl->socket->close(ec);
    if (impl->backoff_timer != nullptr) impl->backoff_timer->cancel();
  });
  if (impl->thread.joinable()) impl->thread.join();
  for (auto& [id, p] : impl->waiters) p->set_value(absl::UnavailableError("the AMI client stopped"));
  impl->waiters.clear();
}

absl::StatusOr<Reply> Client::Call(absl::string_view action,
                                   const std::vector<std::pair<std::string, std::string>>& fields,
                                   absl::Duration timeout, std::string action_id) {
  if (action_id.empty()) action_id = impl_->NewId();
  absl::StatusOr<std::string> bytes = EncodeAction(action, action_id, fields);
  if (!bytes.ok()) return bytes.status();
  if (!impl_->up.load() || impl_->stopping.HasBeenNotified()) {
    return absl::UnavailableError("the AMI link to Asterisk is down");
  }
  auto promise = std::make_shared<ReplyPromise>();
  std::future<absl::StatusOr<Reply>> future = promise->get_future();
  Impl* impl = impl_.get();
  asio::post(impl->io, [impl, action_id, promise, b = *std::move(bytes)]() mutable {
    if (!impl->logged_in) {
      promise->set_value(absl::UnavailableError("the AMI link to Asterisk is down"));
      return;
    }
    if (impl->waiters.contains(action_id) || impl->correlator.pending(action_id)) {
      promise->set_value(absl::AlreadyExistsError("an action with this ActionID is still pending"));
      return;
    }
    impl->correlator.Expect(action_id);
    impl->waiters[action_id] = promise;
    impl->Send(std::move(b));
  });
  if (future.wait_for(ToChrono(timeout)) != std::future_status::ready) {
    asio::post(impl->io, [impl, action_id] {
      impl->correlator.Forget(action_id);
      impl->waiters.erase(action_id);
    });
    return absl::UnavailableError(absl::StrCat("Asterisk did not answer ", action, " in time"));
  }
  try {
    return future.get();
  } catch (const std::future_error&) {
    return absl::UnavailableError("the AMI client stopped");
  }
}

bool Client::link_up() const { return impl_->up.load(); }
int64_t Client::logins() const { return impl_->logins.load(); }
int64_t Client::resyncs() const { return impl_->resyncs.load(); }

}  // namespace crm::telephony::ami
