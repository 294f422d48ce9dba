// File: services/robots/wiring.cc
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "libs/base/clock.h"
#include "libs/base/periodic.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/calendar/calendar.h"
#include "libs/config/config.h"
#include "libs/events/consumer.h"
#include "libs/events/outbox.h"
#include "libs/events/relay.h"
#include "libs/events/schema.h"
#include "libs/log/log.h"
#include "libs/mail/mail.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/rpc/client.h"
#include "libs/rpc/server.h"
#include "services/robots/actions.h"
#include "services/robots/engine.h"
#include "services/robots/notify.h"
#include "services/robots/rule_store.h"
#include "libs/timers/schedules.h"
#include "services/robots/service.h"
#include "libs/timers/timers.h"
#include "services/robots/wiring.h"

namespace crm {
const std::vector<crm::pg::Migration>& RobotsMigrations();
}  // namespace crm

namespace crm::robots {
namespace {

// Development and end-to-end tests only (CLOCK_OFFSET_FILE): the wall clock moved forward by the number
// of seconds written in a file, re-read when the file changes, so a test can "let 30 minutes pass"
// without waiting. Never set in production.
class FileOffsetClock final : public crm::Clock {
 public:
  explicit FileOffsetClock(std::string path) : path_(std::move(path)) {}
  absl::Time Now() const override {
    struct stat st {};
    absl::MutexLock lock(&mu_);
    if (::stat(path_.c_str(), &st) == 0 && (st.st_mtim.tv_sec != mtime_.tv_sec || st.st_mtim.tv_nsec != mtime_.tv_nsec ||
                                           st.st_size != size_)) {
      mtime_ = st.st_mtim;
      size_ = st.st_size;
      std::ifstream in(path_);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      int64_t seconds = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &seconds)) offset_ = absl::Seconds(seconds);
    }
    return absl::Now() + offset_;
  }

 private:
  std::string path_;
  mutable absl::Mutex mu_;
  mutable timespec mtime_ ABSL_GUARDED_BY(mu_) = {0, 0};
  mutable off_t size_ ABSL_GUARDED_BY(mu_) = -1;
  mutable absl::Duration offset_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
};

}  // namespace

std::vector<crm::pg::Migration> AllMigrations() {
  std::vector<crm::pg::Migration> all = crm::EventsMigrations();
  all.insert(all.end(), crm::RobotsMigrations().begin(), crm::RobotsMigrations().end());
  // After robots' own: its 0001 made the timers' tables before they moved to libs/timers.
  all.insert(all.end(), crm::TimersMigrations().begin(), crm::TimersMigrations().end());
  return all;
}

absl::Status Wire(crm::config::Env& env, crm::rpc::Server& server) {
  const std::string dsn = env.String("PG_DSN", kDefaultDsn);
  const int pool_size = static_cast<int>(env.Int("PG_POOL_SIZE", 12, 2, 256));
  const bool relay_enabled = env.Bool("OUTBOX_RELAY", true);
  const std::string brokers = env.String("KAFKA_BROKERS", "localhost:9092");
  // The Kafka consumer group of this deployment's replicas (one group per deployment).
  const std::string consumer_group = env.String("CONSUMER_GROUP", "robots");
  const std::string deals_address = env.String("DEALS_ADDRESS", "127.0.0.1:7102");
  // The company's working calendar: zone, five-day week 09:00-18:00, holidays (YYYY-MM-DD,...).
  const std::string time_zone = env.String("TIME_ZONE", "Europe/Moscow");
  const std::string holidays = env.String("HOLIDAYS", "");
  // E-mail notifications: "smtp://host:25" or "smtps://host:465"; empty = no e-mail.
  const std::string smtp_url = env.String("SMTP_URL", "");
  const std::string smtp_user = env.String("SMTP_USERNAME", "");
  const std::string smtp_password = env.String("SMTP_PASSWORD", "");
  const bool smtp_starttls = env.Bool("SMTP_STARTTLS", false);
  const std::string mail_from = env.String("MAIL_FROM", "robots@crm.local");
  // Links in notifications (issue 16): the suite's public URL (CRM_PUBLIC_URL, as the gateway's) + the
  // deal's path on it. DEAL_URL_PREFIX, the whole prefix as before issue 16, still wins when set.
  const std::string public_url = env.String("PUBLIC_URL", kDefaultPublicUrl);
  const std::string deal_path = env.String("DEAL_PATH", kDefaultDealPath);
  std::string deal_url = env.String("DEAL_URL_PREFIX", "");
  if (deal_url.empty()) {
    absl::StatusOr<std::string> prefix = DealUrlPrefix(public_url, deal_path);
    if (prefix.ok()) {
      deal_url = *std::move(prefix);
    } else {
      env.Reject(absl::StrContains(prefix.status().message(), "deal path") ? "DEAL_PATH" : "PUBLIC_URL",
                 std::string(prefix.status().message()));
    }
  }
  // Timers: the longest sleep between passes, the batch per transaction, and how many loops fire
  // them side by side (SKIP LOCKED): a step waits on deals' RPCs, so a few loops keep a burst's
  // steps on time (issue 14).
  const absl::Duration poll = env.Duration("TIMER_POLL_INTERVAL", absl::Seconds(1));
  const int batch = static_cast<int>(env.Int("TIMER_BATCH", 20, 1, 1000));
  const int workers = static_cast<int>(env.Int("TIMER_WORKERS", 4, 1, 64));
  // Notifications: at most one message a person and channel per window; the rest in its digest.
  const absl::Duration digest_window = env.Duration("NOTIFY_DIGEST_WINDOW", absl::Minutes(5));
  const absl::Duration retry_backoff = env.Duration("ACTION_RETRY_BACKOFF", absl::Seconds(10));
  const std::string clock_file = env.String("CLOCK_OFFSET_FILE", "");  // tests only
  crm::events::RelayOptions relay_options = crm::events::RelayOptionsFromEnv(env, dsn);
  if (!env.status().ok()) return absl::OkStatus();  // RunService reports env.status() and exits 2

  const crm::Clock* clock = &crm::SystemClock();
  if (!clock_file.empty()) {
    crm::log::Warn("CLOCK_OFFSET_FILE is set: robots' clock is moved by a file (tests only)",
                   {{"file", clock_file}});
    clock = server.Own(std::make_unique<FileOffsetClock>(clock_file));
  }
  CRM_ASSIGN_OR_RETURN(absl::TimeZone zone, crm::LoadTimeZone(time_zone));
  CRM_ASSIGN_OR_RETURN(crm::calendar::WorkingCalendar cal_value,
                       crm::calendar::WorkingCalendar::FiveDay(time_zone, holidays));
  auto* calendar = server.Own(std::make_unique<crm::calendar::WorkingCalendar>(std::move(cal_value)));

  CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::pg::Pool> pool,
                       crm::pg::MigrateAndOpen(AllMigrations(),
                           {.dsn = dsn, .size = pool_size, .application_name = "robots"}));
  auto* p = server.Own(std::move(pool));

  std::unique_ptr<Mailer> mailer;
  if (!smtp_url.empty()) {
    CRM_ASSIGN_OR_RETURN(mailer, crm::mail::SmtpMailer::Create({.url = smtp_url,
                                                                  .username = smtp_user,
                                                                  .password = smtp_password,
                                                                  .starttls = smtp_starttls}));
  }
  auto* mail = mailer == nullptr ? nullptr : server.Own(std::move(mailer));

  const auto* deals_service = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
      crm::deals::v1::DealService::service_full_name());
  auto channel = crm::rpc::MakeChannel({.target = deals_address}, *deals_service);
  if (server.service_key() == nullptr) {
    crm::log::Warn("no service key (CRM_ROBOTS_SERVICE_KEY_FILE): deals will trust robots' calls only "
                   "without trusted keys (development)");
  }
  auto* deals = server.Own(
      std::make_unique<DealsClient>(channel, server.service_key(), calendar, zone));

  auto* schedules = server.Own(std::make_unique<timers::ScheduleStore>(
      *p, *clock, [calendar](std::string_view) { return absl::StatusOr<crm::calendar::WorkingCalendar>(*calendar); }));
  auto* rules = server.Own(std::make_unique<RuleStore>(
      *p, *clock, schedules, RuleStoreOptions{.time_zone = time_zone}));
  auto* outbox = server.Own(std::make_unique<crm::events::OutboxWriter>("robots", *clock));
  auto* engine = server.Own(std::make_unique<Engine>(
      *p, *clock, *rules, *deals, mail, *outbox,
      EngineOptions{.calendar = calendar,
                                 .initial_backoff = retry_backoff,
                                 .deal_url_prefix = deal_url,
                                 .mail_from = mail_from,
                                 .digest_window = digest_window}));
  server.AddService(server.Own(std::make_unique<RuleServiceImpl>(*rules, *engine)));
  server.AddService(server.Own(std::make_unique<ExecutionServiceImpl>(*engine)));

  // Timers: delayed steps, date reminders and schedule occurrences, on every replica.
  auto* timers = server.Own(std::make_unique<timers::TimerStore>(*p, *clock));
  auto handler = schedules->Wrap([engine](pqxx::transaction_base& tx, const timers::Timer& t) {
    return engine->OnTimer(tx, t);
  });
  std::vector<timers::TimerLoop*> loops;
  for (int w = 0; w < workers; ++w) {
    timers::TimerLoopOptions o{.poll_interval = poll, .batch_size = batch};
    // One loop materializes the schedules' occurrences before its passes.
    if (w == 0) o.before_pass = [schedules] { return schedules->Materialize().status(); };
    loops.push_back(server.Own(std::make_unique<timers::TimerLoop>(*timers, handler, std::move(o))));
  }
  engine->SetWake([loops] {
    for (timers::TimerLoop* l : loops) l->Wake();
  });

  // The suite's events, and identity's users (for recipients).
  CRM_ASSIGN_OR_RETURN(
      std::unique_ptr<crm::events::Consumer> events,
      crm::events::Consumer::Create({.brokers = brokers,
                                     .group_id = consumer_group,
                                     .topics = Engine::Topics(),
                                     .after_commit = [engine] { engine->AfterCommit(); }},
                                    *p, [engine](pqxx::transaction_base& tx, const crm::events::ConsumedEvent& e) {
                                      return engine->OnEvent(tx, e);
                                    }));
  server.Own(std::make_unique<crm::events::ConsumerThread>(std::move(events)));
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::events::Consumer> users,
                       crm::events::Consumer::Create({.brokers = brokers,
                                                      .group_id = consumer_group + "-users",
                                                      .topics = {kUserTopic}},
                                                     *p, ApplyUserEvent));
  server.Own(std::make_unique<crm::events::ConsumerThread>(std::move(users)));

  // Idempotency records past their 24 hours, hourly on every replica.
  server.Own(crm::pg::HourlyIdempotencyPurge(*p, *clock));
  if (relay_enabled) {
    CRM_ASSIGN_OR_RETURN(std::unique_ptr<crm::events::Relay> relay, crm::events::Relay::Create(relay_options));
    server.Own(std::move(relay))->Start();
  }
  return absl::OkStatus();
}

}  // namespace crm::robots
