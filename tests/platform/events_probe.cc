// crm-events-probe: the outbox relay or an idempotent consumer of the outbox scenario
// (outbox_fixture.h) as a process of its own, so tests can SIGKILL it mid-stream.
//   crm-events-probe relay     publishes CRM_PROBE_PG_DSN's outbox to CRM_PROBE_KAFKA_BROKERS
//   crm-events-probe consume   applies crm.test.item.v1 events as `effects` rows (group CRM_PROBE_GROUP)
//   crm-events-probe emit N    migrates the scenario schema, writes N item changes, relays them, exits
// Prints READY once running; stops cleanly on SIGTERM. The relay prints
// "STATS leader=1 published=N in_flight=M" on SIGUSR1.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <thread>

#include "libs/config/config.h"
#include "libs/events/consumer.h"
#include "libs/events/relay.h"
#include "libs/log/log.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "tests/platform/outbox_fixture.h"

namespace {

int Fail(const absl::Status& s) {
  std::cerr << "crm-events-probe: " << s << "\n";
  return 2;
}

// Waits for SIGTERM/SIGINT; on SIGUSR1 calls `on_usr1` (the relay prints its stats) and goes on waiting.
void WaitForSigterm(const std::function<void()>& on_usr1 = nullptr) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig != SIGUSR1) return;
    if (on_usr1) on_usr1();
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool emit = argc == 3 && std::strcmp(argv[1], "emit") == 0;
  if (!emit && (argc != 2 || (std::strcmp(argv[1], "relay") != 0 && std::strcmp(argv[1], "consume") != 0))) {
    std::cerr << "usage: crm-events-probe relay|consume|emit N\n";
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts

  crm::log::Init("probe", crm::log::Level::kWarn);
  crm::config::Env env("probe");
  const std::string dsn = env.Required("PG_DSN");
  if (emit) {
    const int items = std::atoi(argv[2]);
    crm::events::RelayOptions options = crm::events::RelayOptionsFromEnv(env, dsn);
    if (!env.status().ok()) return Fail(env.status());
    if (auto s = crm::pg::Migrate(dsn, crm::testing::OutboxScenarioMigrations()); !s.ok())
      return Fail(s.status());
    if (auto s = crm::testing::WriteChanges(dsn, items, 1, 1); !s.ok()) return Fail(s);
    auto relay = crm::events::Relay::Create(options);
    if (!relay.ok()) return Fail(relay.status());
    (*relay)->Start();
    while ((*relay)->stats().published < items) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    (*relay)->Stop();
    std::cout << "EMITTED " << items << std::endl;
    return 0;
  }
  if (std::strcmp(argv[1], "relay") == 0) {
    crm::events::RelayOptions options = crm::events::RelayOptionsFromEnv(env, dsn);
    if (!env.status().ok()) return Fail(env.status());
    auto relay = crm::events::Relay::Create(options);
    if (!relay.ok()) return Fail(relay.status());
    (*relay)->Start();
    std::cout << "READY" << std::endl;
    WaitForSigterm([&] {
      const crm::events::RelayStats st = (*relay)->stats();
      std::cout << "STATS leader=" << st.leader << " published=" << st.published
                << " in_flight=" << st.in_flight << std::endl;
    });
    (*relay)->Stop();
    return 0;
  }
  const std::string brokers = env.String("KAFKA_BROKERS", "");
  const std::string group = env.String("GROUP", "probe");
  const absl::Duration session = env.Duration("SESSION_TIMEOUT", absl::Seconds(3));
  if (!env.status().ok()) return Fail(env.status());
  auto pool = crm::pg::Pool::Create({.dsn = dsn, .size = 2});
  if (!pool.ok()) return Fail(pool.status());
  auto consumer = crm::events::Consumer::Create({.brokers = brokers,
                                                 .group_id = group,
                                                 .topics = {crm::testing::kItemTopic},
                                                 .session_timeout = session},
                                                **pool, crm::testing::EffectHandler(group));
  if (!consumer.ok()) return Fail(consumer.status());
  std::thread stopper([&] {
    WaitForSigterm();
    (*consumer)->Stop();
  });
  std::cout << "READY" << std::endl;
  absl::Status s = (*consumer)->Run();
  stopper.join();
  return s.ok() ? 0 : Fail(s);
}
