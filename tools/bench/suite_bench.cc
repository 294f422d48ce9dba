// crm-suite-bench: the suite as `tools/crm up` runs it — every service, the relay, robots and the
// gateway's stream consuming, PostgreSQL with up's durability — at 1 000 000 deals (issue 14).
//
//   tools/crm bench suite [--deals N] [--requests N] [--seconds S] [--only reads|creates|robots|realty|dialogs]
//
// tools/crm starts the suite (`up`), restarts its services with the gateway's per-user rate limit lifted
// (CRM_GATEWAY_PER_USER_RATE=0: the bench's 16 clients are one person) and makes the bench's staff
// (suite_users.py: 10 sales teams, 100 managers) before this runs. It then prints, in one run:
//   1. idle RSS of every service right after its start;
//   2. the load: deals COPYed until there are --deals, spread over the demo pipelines (a funnel over
//      their stages), every team's managers and two years; then VACUUM ANALYZE;
//   3. the default list (GET /v1/deals?pageSize=60) and the board of «Продажа» as the head of sales
//      (deals.read.all), the demo manager (deals.read.team: ten colleagues) and a call-centre operator
//      (deals.read.own): p50 / p95 / p99 through the gateway, one client, next to the bare SQL of the same
//      call — the very statements deals sent for it (recorded from DealStore in this process), replayed
//      on one connection — then each list at 16 keep-alive clients, req/s;
//   4. POST /v1/deals into «Продажа» at 1 and 16 keep-alive clients next to a raw durable transaction
//      inserting the same deal row and outbox row (tables LIKE deals / outbox INCLUDING ALL; no NOTIFY:
//      the writers wake the relay after their commit, libs/pg/notify.h) at the same concurrency, with
//      robots' consumer lag sampled through the run;
//   5. CPU ms per request of every process (from /proc) for each gateway run and the raw one;
//   6. robots through a burst of creates into seed 001's pipeline: seed 001 §1.1 installed as two bench
//      rules with delays of --sla-seconds and twice that (so the timers come due during the run, at the
//      rate the leads came), --burst leads at 16 clients, then each step's lag from its due time to its
//      actions done (p50 / p99), and the notifications each person was sent;
//   7. real estate and interactions (issue 17; alone with --only realty, without the deals' load): 100 000
//      units imported through the gateway (POST /v1/realty/inventory:import, 10 calls of 10 000) next to a
//      raw durable transaction of the same rows; the chessboard of a 30 × 8 building and «Подбор ОН» over
//      those 100 000 units, and «Задачи на сегодня», through the gateway next to the statements the stores
//      sent for them (recorded in this process) — p50 / p95 / p99 at one client, req/s at 16; recording an
//      interaction (POST /v1/interactions) at 1 and 16 clients next to a raw durable transaction of its row
//      and outbox row.
//   8. Telegram's webhook deliveries into dialogs (issue 18; alone with --only dialogs): text updates
//      POSTed to the bot's hook through the gateway with the secret, at 1 client and at the concurrency
//      Telegram uses (the webhook's max_connections), next to a raw durable insert of the same update
//      row (suite_dialogs.cc).
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/auth/totp.h"
#include "libs/base/clock.h"
#include "libs/pg/pool.h"
#include "crm/deals/v1/interactions.pb.h"
#include "crm/deals/v1/realty.pb.h"
#include "libs/base/uuid.h"
#include "libs/pg/sql_array.h"
#include "libs/pg/statement_recorder.h"
#include "services/deals/deals.h"
#include "services/deals/interactions/interaction_store.h"
#include "services/deals/realty/board.h"
#include "services/deals/sql.h"
#include "tools/bench/suite.h"

namespace crm::bench {
namespace {

constexpr int kImportCalls = 10;      // the realty import: 100 000 units
constexpr int kImportUnits = 10'000;  // a call, the most ImportInventory takes

// --- the load --------------------------------------------------------------------------------------

std::string Uuid(std::mt19937_64& rng, int64_t unix_ms) {
  const uint64_t hi = (static_cast<uint64_t>(unix_ms) << 16) | 0x7000 | (rng() & 0x0fff);
  const uint64_t lo = (rng() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48,
                         lo & 0xffffffffffffULL);
}

// COPYs deals until the table holds `target`.
void Load(const Options& o, pqxx::connection& c) {
  int64_t have = pqxx::work(c).exec1("SELECT count(*) FROM deals")[0].as<int64_t>();
  std::printf("load: %lld deals there", static_cast<long long>(have));
  if (have >= o.deals) {
    std::printf(", none added\n");
    return;
  }
  struct Stage {
    std::string pipeline, id, currency;
    int kind;
  };
  std::vector<Stage> stages;
  std::vector<std::pair<std::string, std::string>> people;  // id, team_ids literal
  {
    pqxx::work tx(c);
    for (const pqxx::row& r : tx.exec("SELECT p.id, s.id, p.currency, s.kind FROM pipelines p JOIN stages s ON "
                                      "s.pipeline_id = p.id ORDER BY p.sort, p.id, s.position")) {
      stages.push_back({r[0].c_str(), r[1].c_str(), r[2].c_str(), r[3].as<int>()});
    }
    for (const pqxx::row& r : tx.exec("SELECT user_id, team_ids::text FROM user_directory WHERE team_ids <> '{}'")) {
      people.emplace_back(r[0].c_str(), r[1].c_str());
    }
  }
  if (stages.empty() || people.empty()) Die("no pipelines or no staff with teams: run `tools/crm up` first");
  std::mt19937_64 rng(42);
  // A funnel: each stage of a pipeline half as likely as the one before (won and lost as the last).
  std::vector<double> weight;
  for (size_t i = 0; i < stages.size(); ++i) {
    const bool first = i == 0 || stages[i - 1].pipeline != stages[i].pipeline;
    weight.push_back(first ? 1.0 : weight.back() * 0.6);
  }
  std::discrete_distribution<size_t> pick_stage(weight.begin(), weight.end());
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  const int64_t span_ms = int64_t{730} * 24 * 3600 * 1000;
  const char* tags[] = {"vip", "повторный", "сайт", "реклама", "партнёр"};
  const auto start = Clock::now();
  pqxx::work tx(c);
  pqxx::stream_to copy(tx, "deals",
                       std::vector<std::string>{"id", "name", "pipeline_id", "stage_id", "status", "responsible_id",
                                                "creator_id", "team_ids", "amount_minor", "currency", "source",
                                                "priority", "tags", "create_time", "update_time",
                                                "stage_enter_time"});
  const int64_t add = o.deals - have;
  for (int64_t i = 0; i < add; ++i) {
    const Stage& s = stages[pick_stage(rng)];
    const auto& [who, teams] = people[rng() % people.size()];
    const int64_t at_ms = now_ms - static_cast<int64_t>(rng() % static_cast<uint64_t>(span_ms));
    const std::string at = absl::FormatTime("%Y-%m-%d %H:%M:%E3S+00", absl::FromUnixMillis(at_ms), absl::UTCTimeZone());
    const std::string tag = rng() % 10 == 0 ? absl::StrCat("{", tags[rng() % 5], "}") : "{}";
    copy << std::make_tuple(Uuid(rng, at_ms), absl::StrCat("Сделка ", have + i + 1), s.pipeline, s.id,
                            std::to_string(s.kind), who, who, teams,
                            std::to_string((rng() % 20'000) * 100'000), s.currency, "bench",
                            std::to_string(rng() % 4), tag, at, at, at);
  }
  copy.complete();
  tx.commit();
  std::printf(", %lld added by COPY in %.1f s", static_cast<long long>(add),
              std::chrono::duration<double>(Clock::now() - start).count());
  const auto vac = Clock::now();
  pqxx::nontransaction(c).exec0("VACUUM (ANALYZE) deals");
  std::printf(", VACUUM ANALYZE %.1f s\n", std::chrono::duration<double>(Clock::now() - vac).count());
}

// --- reads -----------------------------------------------------------------------------------------

// The statements DealStore sends for one call, recorded in this process on the live database.
template <typename Call>
std::vector<crm::deals::StatementRecorder::Statement> Record(Call call) {
  crm::deals::StatementRecorder recorder;
  call();
  return recorder.Take();
}

// Replays `statements` in one read-only transaction: the bare SQL of the call.
void Replay(pqxx::connection& c, const std::vector<crm::deals::StatementRecorder::Statement>& statements) {
  pqxx::read_transaction tx(c);
  for (const auto& st : statements) tx.exec_params(st.sql, pqxx::prepare::make_dynamic_params(st.params));
  tx.commit();
}

void Reads(const Options& o, const std::vector<Person>& people, const std::string& pipeline,
           const std::vector<Process>& procs) {
  auto pool = crm::pg::Pool::Create({.dsn = ServiceDsn(o, "deals"), .size = 2, .application_name = "suite-bench"});
  if (!pool.ok()) Die(pool.status().ToString());
  crm::ManualClock clock(absl::Now());
  crm::deals::DealStore store(**pool, clock);
  pqxx::connection bare(ServiceDsn(o, "deals"));

  std::printf("\nreads, one client, %d requests each        p50     p95     p99 ms\n", o.requests);
  for (const Person& p : people) {
    struct View {
      std::string name, path;
      std::vector<crm::deals::StatementRecorder::Statement> statements;
    };
    std::vector<View> views;
    {
      crm::deals::v1::ListDealsRequest req;
      req.set_page_size(60);
      views.push_back({"list", "/v1/deals?pageSize=60", Record([&] {
                         if (!store.List(p.principal, req).ok()) Die("in-process list failed");
                       })});
    }
    {
      crm::deals::v1::GetBoardRequest req;
      req.set_pipeline_id(pipeline);
      views.push_back({"board", absl::StrCat("/v1/pipelines/", pipeline, "/board"), Record([&] {
                         if (!store.GetBoard(p.principal, req).ok()) Die("in-process board failed");
                       })});
    }
    for (const View& v : views) {
      HttpClient http(o.gateway_port, Get(v.path, p.token));
      for (int i = 0; i < 20; ++i) http.Send();  // warm
      const Latency gw = Percentiles(Time(o.requests, [&] { http.Send(); }));
      for (int i = 0; i < 20; ++i) Replay(bare, v.statements);
      const Latency raw = Percentiles(Time(o.requests, [&] { Replay(bare, v.statements); }));
      std::printf("  %-6s %-26s gateway %s\n  %-6s %-26s bare    %s   (%zu statements)  p95 ratio %.2f\n",
                  v.name.c_str(), p.role.c_str(), Ms(gw).c_str(), "", "", Ms(raw).c_str(), v.statements.size(),
                  gw.p95 / raw.p95);
    }
  }
  std::printf("\nreads, 16 keep-alive clients, %.0f s each\n", o.seconds);
  for (const Person& p : people) {
    for (const auto& [name, path] : std::vector<std::pair<std::string, std::string>>{
             {"list", "/v1/deals?pageSize=60"}, {"board", absl::StrCat("/v1/pipelines/", pipeline, "/board")}}) {
      const auto before = CpuTicks(procs);
      auto [rps, lat] = RunFor(
          16, o.seconds, [&](int) { return std::make_unique<HttpClient>(o.gateway_port, Get(path, p.token)); },
          [](auto& c) { c->Send(); });
      const auto after = CpuTicks(procs);
      std::printf("  %-6s %-26s %8.0f req/s  p50 %.2f p95 %.2f p99 %.2f ms\n         %s\n", name.c_str(),
                  p.role.c_str(), rps, lat.p50, lat.p95, lat.p99,
                  CpuPerRequest(before, after, rps * o.seconds).c_str());
    }
  }
}

// --- creates ---------------------------------------------------------------------------------------

// Robots' consumer lag as its /metrics says now: events behind (crm_events_consumer_lag, summed) and
// seconds behind (crm_events_consumer_lag_seconds, the largest); nullopt when it does not answer.
struct Lag {
  double events = 0, seconds = 0;
};
std::optional<Lag> RobotsLag(int port) {
  HttpClient http(port, "");
  std::string body;
  if (http.Exchange("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &body) != 200) return std::nullopt;
  Lag lag;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    double v = 0;
    if (!absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) continue;
    if (absl::StartsWith(line, "crm_events_consumer_lag_seconds")) {
      lag.seconds = std::max(lag.seconds, v);
    } else if (absl::StartsWith(line, "crm_events_consumer_lag{")) {
      lag.events += v;
    }
  }
  return lag;
}

// Robots' consumer lag sampled every 250 ms until stopped: the most events and seconds behind.
class LagSampler {
 public:
  explicit LagSampler(int port) : port_(port), thread_([this] { Loop(); }) {}
  ~LagSampler() {
    stop_ = true;
    thread_.join();
  }
  double max_events() const { return max_events_.load(); }
  double max_seconds() const { return max_seconds_.load(); }

 private:
  static void Raise(std::atomic<double>& m, double v) {
    double cur = m.load();
    while (v > cur && !m.compare_exchange_weak(cur, v)) {
    }
  }
  void Loop() {
    while (!stop_.load()) {
      if (std::optional<Lag> lag = RobotsLag(port_)) {
        Raise(max_events_, lag->events);
        Raise(max_seconds_, lag->seconds);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  int port_;
  std::atomic<bool> stop_{false};
  std::atomic<double> max_events_{0}, max_seconds_{0};
  std::thread thread_;
};

// Waits (at most two minutes) until robots has consumed everything, so one run's backlog does not load
// the next one's figures; returns the seconds waited.
double WaitForRobots(const Options& o) {
  const auto start = Clock::now();
  int quiet = 0;
  while (Clock::now() - start < std::chrono::minutes(2)) {
    // Caught up: nothing behind by count (a gauge refreshed every 5 s) and the consumer's last poll came
    // back empty (the seconds gauge, refreshed at every poll, is then 0), twice half a second apart.
    const std::optional<Lag> lag = RobotsLag(o.robots_metrics_port);
    quiet = lag && lag->events == 0 && lag->seconds == 0 ? quiet + 1 : 0;
    if (quiet >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void Creates(const Options& o, const Person& p, const std::string& pipeline, const std::vector<Process>& procs) {
  std::printf("\ncreates into «Продажа» as %s, %.0f s each\n", p.role.c_str(), o.seconds);
  // The raw baseline's tables: the same columns, defaults, constraints and indexes as deals and outbox.
  pqxx::connection admin(ServiceDsn(o, "deals"));
  int64_t payload_bytes = 0;
  {
    pqxx::work tx(admin);
    tx.exec0("DROP SCHEMA IF EXISTS bench CASCADE; CREATE SCHEMA bench;"
             "CREATE TABLE bench.deals (LIKE public.deals INCLUDING ALL);"
             "CREATE TABLE bench.outbox (LIKE public.outbox INCLUDING ALL)");
    payload_bytes = tx.exec1("SELECT coalesce(avg(length(payload))::bigint, 700) FROM outbox WHERE type = "
                             "'crm.deals.deal.created.v1'")[0]
                        .as<int64_t>();
    tx.commit();
  }
  const std::string stage =
      pqxx::work(admin).exec1("SELECT id FROM stages WHERE pipeline_id = '" + pipeline + "' ORDER BY position LIMIT 1")[0]
          .c_str();

  for (int clients : {1, 16}) {
    // Through the gateway.
    WaitForRobots(o);
    std::atomic<int64_t> n{0};
    double lag = 0, lag_seconds = 0;
    auto before = CpuTicks(procs);
    std::pair<double, Latency> gw;
    {
      LagSampler sampler(o.robots_metrics_port);
      gw = RunFor(
          clients, o.seconds, [&](int) { return std::make_unique<HttpClient>(o.gateway_port, ""); },
          [&](auto& c) {
            const std::string body = absl::StrCat(R"({"name":"Бенч сделка )", n.fetch_add(1),
                                                  R"(","pipelineId":")", pipeline, R"("})");
            std::string reply;
            const int status = c->Exchange(Post("/v1/deals", p.token, body), &reply);
            if (status != 200) Die(absl::StrCat("POST /v1/deals: ", status, " ", reply));
          });
      lag = sampler.max_events();
      lag_seconds = sampler.max_seconds();
    }
    // CPU per create counts what robots did about the run after it ended too: until it caught up.
    const double drained = WaitForRobots(o);
    auto after = CpuTicks(procs);
    const std::string gw_cpu = CpuPerRequest(before, after, gw.first * o.seconds);

    // The raw durable transaction.
    const std::string payload(static_cast<size_t>(payload_bytes), 'x');
    before = CpuTicks(procs);
    auto raw = RunFor(
        clients, o.seconds,
        [&](int t) {
          auto c = std::make_unique<pqxx::connection>(ServiceDsn(o, "deals"));
          c->prepare("deal",
                     "INSERT INTO bench.deals (id, name, pipeline_id, stage_id, status, responsible_id, creator_id, "
                     "team_ids, amount_minor, currency, source, priority, tags, fields, version, create_time, "
                     "update_time, stage_enter_time) VALUES ($1::uuid, $2, $3::uuid, $4::uuid, 1, $5::uuid, $5::uuid, "
                     "$6::uuid[], 0, 'RUB', '', 0, '{}', '{}', 1, now(), now(), now())");
          c->prepare("event",
                     "INSERT INTO bench.outbox (id, aggregatetype, aggregateid, type, payload, topic, source, "
                     "occurred_at) VALUES ($1::uuid, 'deal', $2, 'crm.deals.deal.created.v1', $3, "
                     "'crm.deals.deal.v1', 'deals', now())");
          return std::make_pair(std::move(c), std::mt19937_64(static_cast<uint64_t>(t) * 7919 + 1));
        },
        [&](auto& s) {
          auto& [c, rng] = s;
          const int64_t ms = absl::ToUnixMillis(absl::Now());
          const std::string id = Uuid(rng, ms);
          pqxx::work tx(*c);
          tx.exec_prepared("deal", id, absl::StrCat("Бенч сделка ", id), pipeline, stage, p.principal.id(),
                           absl::StrCat("{", absl::StrJoin(p.principal.team_ids(), ","), "}"));
          tx.exec_prepared("event", Uuid(rng, ms), id, pqxx::binarystring(payload));
          tx.commit();
        });
    after = CpuTicks(procs);
    std::printf("  %2d clients  gateway %7.0f deals/s  p50 %.2f p99 %.2f ms   robots' consumer lag max %.0f events, %.1f s\n"
                "              %s\n"
                "              (robots caught up %.1f s after the run; CPU above counts until then)\n"
                "              raw     %7.0f tx/s     p50 %.2f p99 %.2f ms\n              %s\n"
                "              ratio gateway/raw %.2f\n",
                clients, gw.first, gw.second.p50, gw.second.p99, lag, lag_seconds, gw_cpu.c_str(), drained, raw.first, raw.second.p50,
                raw.second.p99, CpuPerRequest(before, after, raw.first * o.seconds).c_str(), gw.first / raw.first);
  }
  pqxx::work tx(admin);
  tx.exec0("DROP SCHEMA bench CASCADE");
  tx.commit();
}

// --- real estate and interactions (issue 17) ---------------------------------------------------------

// One ImportInventory call of `n` units (JSON as the external system sends it): a building `b` of
// `sections` sections × `floors` floors × `places` places in project `project`, the project itself when
// `with_project`.
std::string ImportJson(const std::string& tag, const std::string& project, bool with_project, const std::string& b,
                       int sections, int floors, int places, int n) {
  std::string out = "{";
  if (with_project) {
    absl::StrAppend(&out, R"("projects":[{"externalId":")", project, R"(","name":"ЖК Бенч )", tag, R"("}],)");
  }
  absl::StrAppend(&out, R"("buildings":[{"externalId":")", b, R"(","projectExternalId":")", project,
                  R"(","name":"Корпус )", b, R"(","sections":[)");
  for (int s = 1; s <= sections; ++s) {
    absl::StrAppend(&out, s == 1 ? "" : ",", R"({"number":)", s, R"(,"firstFloor":1,"lastFloor":)", floors, "}");
  }
  absl::StrAppend(&out, R"(]}],"units":[)");
  const int per_section = floors * places;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", R"({"externalId":")", b, "-", i, R"(","buildingExternalId":")", b,
                    R"(","sectionNumber":)", 1 + i / per_section, R"(,"floor":)", 1 + (i % per_section) / places,
                    R"(,"position":)", 1 + i % places, R"(,"number":")", i + 1,
                    R"(","kind":"APARTMENT","rooms":)", i % 4, R"(,"areaCentiM2":)", 3000 + 100 * (i % 50),
                    R"(,"pricePerM2":{"amountMinor":")", 25'000'000 + 1000 * (i % 7),
                    R"(","currency":"RUB"},"status":"AVAILABLE","rightHolder":"ООО «СЗ Бенч»")",
                    i % 10 == 0 ? R"(,"discounts":[{"code":"full","name":"Скидка при 100% оплате","percentBp":300}])" : "",
                    i % 20 == 3 ? R"(,"specialOffer":true,"specialOfferName":"Спецпредложение")" : "", "}");
  }
  out += "]}";
  return out;
}

// The floor of one import call: the same rows' SQL without the service, in one durable transaction (as
// crm-realty-bench's raw): unit rows from arrays into a table LIKE realty_units INCLUDING ALL, their price
// rows, and an outbox row of an event's size each.
double RawImport(pqxx::connection& c, const std::string& tag, int n) {
  std::vector<std::string> ids, ext, numbers;
  for (int i = 0; i < n; ++i) {
    ids.push_back(crm::NewUuidV7());
    ext.push_back(absl::StrCat("raw-", tag, "-", i));
    numbers.push_back(absl::StrCat(i + 1));
  }
  const std::string payload(420, 'x');
  const auto start = Clock::now();
  pqxx::work tx(c);
  tx.exec_params(
      "INSERT INTO bench.units (id, external_id, project_id, building_id, section_number, floor, position, number, "
      "plan_number, kind, purpose, status, rooms, area_centi, currency, price_minor, price_per_m2_minor, "
      "final_price_minor, discounts, special_offer, special_offer_name, right_holder, no_ownership, plan_image, "
      "version, create_time, update_time) SELECT t.id, t.ext, gen_random_uuid(), gen_random_uuid(), "
      "1 + (t.o - 1) / 250, 1 + ((t.o - 1) % 250) / 10, 1 + (t.o - 1) % 10, t.num, '', 1, 1, 2, t.o % 4, 4000, "
      "'RUB', 100000000, 2500000, 100000000, '[]'::jsonb, false, '', 'ООО', false, '', 1, now(), now() "
      "FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS t(id, ext, num, o)",
      crm::pg::ArrayLiteral(ids), crm::pg::ArrayLiteral(ext), crm::pg::ArrayLiteral(numbers));
  tx.exec_params(
      "INSERT INTO bench.prices (unit_id, price_minor, price_per_m2_minor, final_price_minor, currency, discounts, "
      "special_offer, area_centi, change_time, source) SELECT id, price_minor, price_per_m2_minor, "
      "final_price_minor, currency, discounts, special_offer, area_centi, now(), 2 FROM bench.units "
      "WHERE id = ANY($1::uuid[])",
      crm::pg::ArrayLiteral(ids));
  tx.exec_params(
      "INSERT INTO bench.outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at) "
      "SELECT gen_random_uuid(), 'unit', id::text, 'crm.deals.unit.created.v1', $1::bytea, 'crm.deals.unit.v1', "
      "'/crm/deals', now() FROM unnest($2::uuid[]) id",
      pqxx::binarystring(payload.data(), payload.size()), crm::pg::ArrayLiteral(ids));
  tx.commit();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A read through the gateway next to the bare SQL of the same call: p50 / p95 / p99 at one client over
// --requests calls (targets in turn), then req/s at 16 keep-alive clients.
void ReadNextToBare(const Options& o, const char* name, const std::string& token, const std::vector<std::string>& paths,
                    const std::vector<std::vector<crm::pg::StatementRecorder::Statement>>& bare_sql,
                    pqxx::connection& bare, const std::vector<Process>& procs) {
  std::vector<std::unique_ptr<HttpClient>> http;
  for (const std::string& p : paths) http.push_back(std::make_unique<HttpClient>(o.gateway_port, Get(p, token)));
  for (int i = 0; i < 20; ++i) http[i % http.size()]->Send();
  int k = 0;
  const Latency gw = Percentiles(Time(o.requests, [&] { http[k++ % http.size()]->Send(); }));
  auto replay = [&](const std::vector<crm::pg::StatementRecorder::Statement>& statements) {
    pqxx::read_transaction tx(bare);
    for (const auto& st : statements) tx.exec_params(st.sql, pqxx::prepare::make_dynamic_params(st.params));
    tx.commit();
  };
  for (int i = 0; i < 20; ++i) replay(bare_sql[i % bare_sql.size()]);
  k = 0;
  const Latency raw = Percentiles(Time(o.requests, [&] { replay(bare_sql[k++ % bare_sql.size()]); }));
  const auto before = CpuTicks(procs);
  auto [rps, lat] = RunFor(
      16, o.seconds,
      [&](int t) { return std::make_unique<HttpClient>(o.gateway_port, Get(paths[t % paths.size()], token)); },
      [](auto& c) { c->Send(); });
  const auto after = CpuTicks(procs);
  std::printf("  %-22s gateway %s   bare %s   p95 ratio %.2f\n  %-22s 16 clients %6.0f req/s  p50 %.2f p95 %.2f p99 %.2f ms\n"
              "  %-22s %s\n",
              name, Ms(gw).c_str(), Ms(raw).c_str(), gw.p95 / raw.p95, "", rps, lat.p50, lat.p95, lat.p99, "",
              CpuPerRequest(before, after, rps * o.seconds).c_str());
}

// Real estate (D14) and interactions (D16) through the gateway, as the head of sales (realty.manage,
// interactions.write.all): the bulk import of 100 000 units in calls of 10 000 next to a raw durable
// transaction of the same rows; the chessboard of a 30 × 8 building and «Подбор ОН» over the 100 000 next
// to the statements BoardReader sent for them (recorded in this process); recording an interaction next to
// a raw durable transaction of its row and outbox row, and «Задачи на сегодня» next to its statements.
void Realty(const Options& o, const Person& p, const std::vector<Process>& procs) {
  auto pool = crm::pg::Pool::Create({.dsn = ServiceDsn(o, "deals"), .size = 2, .application_name = "suite-bench"});
  if (!pool.ok()) Die(pool.status().ToString());
  pqxx::connection admin(ServiceDsn(o, "deals"));
  {
    pqxx::work tx(admin);
    tx.exec0("DROP SCHEMA IF EXISTS bench CASCADE; CREATE SCHEMA bench;"
             "CREATE TABLE bench.units (LIKE public.realty_units INCLUDING ALL);"
             "CREATE TABLE bench.prices (LIKE public.realty_unit_prices INCLUDING ALL);"
             "CREATE TABLE bench.outbox (LIKE public.outbox INCLUDING ALL);"
             "CREATE TABLE bench.interactions (LIKE public.interactions INCLUDING ALL)");
    tx.commit();
  }
  // Every run imports new units (its own tag): `tools/crm reset` drops them with the rest.
  const std::string tag = absl::StrCat("sb", absl::ToUnixSeconds(absl::Now()));
  const std::string project = tag + "-p";
  HttpClient http(o.gateway_port, "");
  std::string reply;
  auto import = [&](const std::string& body) {
    const int status = http.Exchange(Post("/v1/realty/inventory:import", p.token, body), &reply);
    if (status != 200) Die(absl::StrCat("POST /v1/realty/inventory:import: ", status, " ", reply.substr(0, 500)));
  };
  // The chessboard's building: 8 sections × 30 floors × 6 places (1 440 units), in the same project.
  import(ImportJson(tag, project, true, tag + "-chess", 8, 30, 6, 1440));

  std::printf("\nrealty import, %d calls of %d units (POST /v1/realty/inventory:import) as %s\n", kImportCalls,
              kImportUnits, p.role.c_str());
  double gw_seconds = 0, raw_seconds = 0;
  size_t bytes = 0;
  const auto before = CpuTicks(procs);
  for (int call = 0; call < kImportCalls; ++call) {
    const std::string body = ImportJson(tag, project, false, absl::StrCat(tag, "-b", call), 40, 25, 10, kImportUnits);
    bytes = body.size();
    const auto start = Clock::now();
    import(body);
    gw_seconds += std::chrono::duration<double>(Clock::now() - start).count();
  }
  const auto after = CpuTicks(procs);
  for (int call = 0; call < kImportCalls; ++call) raw_seconds += RawImport(admin, absl::StrCat(tag, "-", call), kImportUnits);
  const double units = static_cast<double>(kImportCalls) * kImportUnits;
  std::printf("  gateway %8.0f units/s  (%zu bytes of JSON a call; %.0f ms a call)\n  %s\n"
              "  raw     %8.0f units/s  (unit rows + price rows + outbox rows, one durable transaction a call)\n"
              "  ratio gateway/raw %.2f   (target >= 20 000 units/s)\n",
              units / gw_seconds, bytes, gw_seconds * 1000 / kImportCalls,
              CpuPerRequest(before, after, kImportCalls).c_str(), units / raw_seconds, gw_seconds > 0 ? raw_seconds / gw_seconds : 0);
  pqxx::nontransaction(admin).exec("ANALYZE realty_units; ANALYZE realty_unit_prices");

  // Reads: the statements BoardReader sends, recorded in this process on the live database.
  crm::deals::realty::BoardReader board(**pool);
  const std::string project_id =
      pqxx::work(admin).exec_params1("SELECT id::text FROM realty_projects WHERE external_id = $1", project)[0].c_str();
  const std::string chess_id =
      pqxx::work(admin).exec_params1("SELECT id::text FROM realty_buildings WHERE external_id = $1", tag + "-chess")[0]
          .c_str();
  std::vector<std::vector<crm::pg::StatementRecorder::Statement>> chess_sql(1), match_sql;
  {
    crm::deals::v1::GetChessboardRequest req;
    req.set_building_id(chess_id);
    crm::pg::StatementRecorder recorder;
    auto grid = board.Chessboard(p.principal, req);
    if (!grid.ok()) Die("in-process chessboard: " + grid.status().ToString());
    chess_sql[0] = recorder.Take();
  }
  // «Подбор ОН» in the project of 101 440 units, four request shapes in turn (as crm-realty-bench).
  const std::vector<std::string> match_queries = {
      "kinds=APARTMENT&rooms=1&rooms=2&budgetMax.amountMinor=1500000000&areaMinCentiM2=3000&areaMaxCentiM2=7000",
      "specialOfferOnly=true", "rooms=3", ""};
  std::vector<std::string> match_paths;
  for (const std::string& q : match_queries) {
    crm::deals::v1::MatchUnitsRequest req;
    req.set_project_id(project_id);
    req.set_page_size(50);
    if (q.rfind("kinds", 0) == 0) {
      req.add_kinds(crm::deals::v1::Unit::APARTMENT);
      req.add_rooms(1);
      req.add_rooms(2);
      req.mutable_budget_max()->set_amount_minor(1'500'000'000);
      req.set_area_min_centi_m2(3000);
      req.set_area_max_centi_m2(7000);
    } else if (q == "specialOfferOnly=true") {
      req.set_special_offer_only(true);
    } else if (q == "rooms=3") {
      req.add_rooms(3);
    }
    crm::pg::StatementRecorder recorder;
    auto m = board.Match(p.principal, req);
    if (!m.ok()) Die("in-process match: " + m.status().ToString());
    match_sql.push_back(recorder.Take());
    match_paths.push_back(absl::StrCat("/v1/realty/units:match?projectId=", project_id, "&pageSize=50",
                                       q.empty() ? "" : "&", q));
  }
  pqxx::connection bare(ServiceDsn(o, "deals"));
  pqxx::nontransaction(bare).exec("SET max_parallel_workers_per_gather = 0");  // as BoardReader::Match runs
  std::printf("\nrealty reads as %s, one client %d requests; then 16 clients %.0f s   p50 / p95 / p99 ms\n",
              p.role.c_str(), o.requests, o.seconds);
  ReadNextToBare(o, "chessboard 30 x 8", p.token, {absl::StrCat("/v1/realty/buildings/", chess_id, "/chessboard")},
                 chess_sql, bare, procs);
  ReadNextToBare(o, "«Подбор ОН» 100 000", p.token, match_paths, match_sql, bare, procs);
  const char* shape_names[] = {"flats 1-2 rooms, budget, area", "special offers", "3 rooms", "all on sale"};
  for (size_t i = 0; i < match_sql.size(); ++i) {
    const Latency l = Percentiles(Time(std::max(20, o.requests / 4), [&] {
      pqxx::read_transaction tx(bare);
      for (const auto& st : match_sql[i]) tx.exec_params(st.sql, pqxx::prepare::make_dynamic_params(st.params));
      tx.commit();
    }));
    std::printf("  %-22s bare %s   (%s alone)\n", "", Ms(l).c_str(), shape_names[i]);
  }

  // Interactions: «Задачи на сегодня» (the agenda) and recording a planned call.
  absl::TimeZone zone;
  if (!absl::LoadTimeZone("Europe/Moscow", &zone)) Die("no Europe/Moscow");
  crm::deals::interactions::InteractionStore store(**pool, crm::SystemClock(), zone);
  std::vector<std::vector<crm::pg::StatementRecorder::Statement>> today_sql(1);
  {
    crm::pg::StatementRecorder recorder;
    auto got = store.Today(p.principal, crm::deals::v1::GetTodayTasksRequest());
    if (!got.ok()) Die("in-process agenda: " + got.status().ToString());
    today_sql[0] = recorder.Take();
  }
  std::printf("\ninteractions as %s\n", p.role.c_str());
  ReadNextToBare(o, "«Задачи на сегодня»", p.token, {"/v1/interactions:today"}, today_sql, bare, procs);
  // Recording a planned call, each client thread on its own client request (the demo's requests, in turn):
  // creates of one client serialize on its primacy lock, as they should.
  struct Request {
    std::string client, id, project;
  };
  std::vector<Request> requests;
  for (const auto& row : pqxx::work(admin).exec(
           "SELECT client_id::text, id::text, coalesce(project_id::text, '') FROM client_requests "
           "ORDER BY create_time LIMIT 64")) {
    requests.push_back({row[0].c_str(), row[1].c_str(), row[2].c_str()});
  }
  if (requests.empty()) Die("no client request in the demo data");
  std::printf("  (recording: %zu client requests of the demo data, one a client thread)\n", requests.size());
  std::atomic<int64_t> n{0};
  for (int clients : {1, 16}) {
    auto gw = RunFor(
        clients, o.seconds,
        [&](int t) {
          return std::make_pair(std::make_unique<HttpClient>(o.gateway_port, ""), requests[t % requests.size()]);
        },
        [&](auto& s) {
          const Request& r = s.second;
          const std::string body = absl::StrCat(
              R"({"kind":"CALL","clientId":")", r.client, R"(","requestId":")", r.id,
              R"(","subject":"Перезвонить по запросу )", n.fetch_add(1), R"(","plannedTime":")",
              absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now() + absl::Hours(24), absl::UTCTimeZone()), R"("})");
          std::string out;
          const int status = s.first->Exchange(Post("/v1/interactions", p.token, body), &out);
          if (status != 200) Die(absl::StrCat("POST /v1/interactions: ", status, " ", out));
        });
    const std::string payload(600, 'x');
    auto raw = RunFor(
        clients, o.seconds,
        [&](int t) {
          return std::make_pair(std::make_unique<pqxx::connection>(ServiceDsn(o, "deals")), requests[t % requests.size()]);
        },
        [&](auto& s) {
          const Request& r = s.second;
          const std::string id = crm::NewUuidV7();
          pqxx::work tx(*s.first);
          tx.exec_params0(
              "INSERT INTO bench.interactions (id, kind, status, client_id, request_id, project_id, responsible_id, "
              "subject, planned_time, occur_time, create_time, update_time) VALUES ($1::uuid, 1, 1, $2::uuid, "
              "$3::uuid, NULLIF($4, '')::uuid, $5::uuid, 'Перезвонить по запросу', now() + interval '1 day', "
              "now() + interval '1 day', now(), now())",
              id, r.client, r.id, r.project, p.principal.id());
          tx.exec_params0(
              "INSERT INTO bench.outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at) "
              "VALUES (gen_random_uuid(), 'interaction', $1, 'crm.deals.interaction.created.v1', $2, "
              "'crm.deals.interaction.v1', 'deals', now())",
              id, pqxx::binarystring(payload));
          tx.commit();
        });
    std::printf("  POST /v1/interactions  %2d client(s) gateway %6.0f/s  p50 %.2f p99 %.2f ms   raw row + outbox row "
                "%6.0f tx/s  p50 %.2f p99 %.2f ms   ratio %.2f\n",
                clients, gw.first, gw.second.p50, gw.second.p99, raw.first, raw.second.p50, raw.second.p99,
                gw.first / raw.first);
  }
  pqxx::work tx(admin);
  tx.exec0("DROP SCHEMA bench CASCADE");
  tx.commit();
}

// --- robots through a burst -------------------------------------------------------------------------

// Seed 001 §1.1 (first contact: a tag at 15 minutes, then a task and the head of sales told at 30) as two
// bench rules on «Первичная обработка» with delays of --sla-seconds and twice that, so their timers come
// due during the run at the rate the leads were created; a burst of --burst leads at 16 clients; then
// each step's lag from its due time to its actions done, and what each person was sent.
void Robots(const Options& o, const Person& manager, const Person& head, const std::vector<Process>& procs) {
  pqxx::connection deals(ServiceDsn(o, "deals"));
  std::string pipeline, stage;
  {
    pqxx::work tx(deals);
    const pqxx::row r = tx.exec1("SELECT p.id, s.id FROM pipelines p JOIN stages s ON s.pipeline_id = p.id "
                                 "WHERE p.name = 'Первичная обработка' ORDER BY s.position LIMIT 1");
    pipeline = r[0].c_str();
    stage = r[1].c_str();
  }
  std::printf("\nrobots: seed 001 §1.1 as bench rules (%d s and %d s) on «Первичная обработка», a burst of %d leads "
              "at 16 clients\n",
              o.sla_seconds, 2 * o.sla_seconds, o.burst);
  const std::string tag = absl::StrCat("Бенч ", absl::ToUnixSeconds(absl::Now()));
  auto rule = [&](const std::string& name, int delay, const nlohmann::json& actions) {
    nlohmann::json body{{"name", name},
                        {"enabled", true},
                        {"trigger", {{"kind", "STAGE_ENTERED"}, {"pipelineId", pipeline}, {"stageId", stage}}},
                        {"delay", {{"duration", absl::StrCat(delay, "s")}}},
                        {"actions", actions}};
    HttpClient http(o.gateway_port, "");
    std::string reply;
    const int status = http.Exchange(Post("/v1/robots/rules", head.token, body.dump()), &reply);
    if (status != 200) Die(absl::StrCat("creating a bench rule: ", status, " ", reply));
    return nlohmann::json::parse(reply);
  };
  const nlohmann::json yellow = rule(absl::StrCat(tag, ": жёлтое предупреждение"), o.sla_seconds,
                                     nlohmann::json::array({{{"addTag", {{"tag", "Бенч: жёлтое предупреждение"}}}}}));
  const nlohmann::json red = rule(
      absl::StrCat(tag, ": срочно связаться"), 2 * o.sla_seconds,
      nlohmann::json::array(
          {{{"createTask", {{"title", "Бенч: срочно связаться"}, {"kind", "call"}, {"dueIn", "900s"}}}},
           {{"notify",
             {{"channels", {"IN_APP", "EMAIL"}},
              {"recipients", {"role:head_of_sales"}},
              {"subject", "Нет первого контакта: {deal.name}"},
              {"text", "Сделка «{deal.name}» без первого контакта. Ответственный: {responsible.name}. {deal.url}"}}}}}));
  const std::vector<std::string> rules = {yellow["id"].get<std::string>(), red["id"].get<std::string>()};

  WaitForRobots(o);
  pqxx::connection robots(ServiceDsn(o, "robots"));
  const std::string since = pqxx::work(robots).exec1("SELECT now()::text")[0].c_str();
  const auto mail_before = std::filesystem::exists(o.state + "/mail")
                               ? std::distance(std::filesystem::directory_iterator(o.state + "/mail"),
                                               std::filesystem::directory_iterator{})
                               : 0;
  std::atomic<int> made{0};
  double lag = 0, lag_seconds = 0;
  double burst_seconds = 0;
  {
    LagSampler sampler(o.robots_metrics_port);
    const auto began = Clock::now();
    const double seconds_cap = 600;
    std::atomic<bool> done{false};
    RunFor(
        16, seconds_cap, [&](int) { return std::make_unique<HttpClient>(o.gateway_port, ""); },
        [&](auto& c) {
          const int n = made.fetch_add(1);
          if (n >= o.burst) {
            done = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            return;
          }
          const std::string body = absl::StrCat(R"({"name":"Бенч лид )", n, R"(","pipelineId":")", pipeline, R"("})");
          std::string reply;
          const int status = c->Exchange(Post("/v1/deals", manager.token, body), &reply);
          if (status != 200) Die(absl::StrCat("POST /v1/deals: ", status, " ", reply));
        },
        [&] { return done.load(); });
    burst_seconds = std::chrono::duration<double>(Clock::now() - began).count();
    lag = sampler.max_events();
    lag_seconds = sampler.max_seconds();
  }
  std::printf("  burst: %d leads in %.1f s (%.0f/s), robots' consumer lag max %.0f events, %.1f s\n", o.burst,
              burst_seconds, o.burst / burst_seconds, lag, lag_seconds);
  // The steps' own cost: CPU from when robots has consumed the burst (before the first step is due,
  // when the burst is shorter than --sla-seconds) until the last step finished.
  WaitForRobots(o);
  const int64_t fired_early =
      pqxx::work(robots)
          .exec1(absl::StrCat("SELECT count(*) FROM executions WHERE rule_id = ANY('{", absl::StrJoin(rules, ","),
                              "}'::uuid[]) AND finish_time IS NOT NULL"))[0]
          .as<int64_t>();
  const auto steps_before = CpuTicks(procs);

  // Wait until every step of both rules has finished (or a generous limit passes).
  const std::string rule_list = absl::StrCat("'{", absl::StrJoin(rules, ","), "}'::uuid[]");
  const auto deadline = Clock::now() + std::chrono::seconds(120 + 2 * o.sla_seconds);
  int64_t finished = 0;
  while (Clock::now() < deadline) {
    finished = pqxx::work(robots)
                   .exec1(absl::StrCat("SELECT count(*) FROM executions WHERE rule_id = ANY(", rule_list,
                                       ") AND finish_time IS NOT NULL"))[0]
                   .as<int64_t>();
    if (finished >= 2 * o.burst) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const auto steps_after = CpuTicks(procs);
  pqxx::work tx(robots);
  const pqxx::row l = tx.exec1(absl::StrCat(
      "SELECT count(*), count(*) FILTER (WHERE state = 'DONE'), "
      "coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finish_time - due_time)), 0), "
      "coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM finish_time - due_time)), 0), "
      "coalesce(max(extract(epoch FROM finish_time - due_time)), 0) "
      "FROM executions WHERE rule_id = ANY(", rule_list, ") AND finish_time IS NOT NULL"));
  std::printf("  SLA steps finished %lld of %d (%lld done); due → actions done: p50 %.3f s, p99 %.3f s, max %.3f s\n",
              static_cast<long long>(l[0].as<int64_t>()), 2 * o.burst, static_cast<long long>(l[1].as<int64_t>()),
              l[2].as<double>(), l[3].as<double>(), l[4].as<double>());
  if (finished > fired_early) {
    std::printf("  CPU ms a step (%lld steps, with what they cause: deals' updates and tasks, their events, robots "
                "consuming them):\n    %s\n",
                static_cast<long long>(finished - fired_early),
                CpuPerRequest(steps_before, steps_after, static_cast<double>(finished - fired_early)).c_str());
  }
  std::printf("  notifications sent since the burst began, per person and channel:\n");
  for (const pqxx::row& r : tx.exec(absl::StrCat(
           "SELECT aggregateid, type, count(*) FROM outbox WHERE aggregatetype = 'notification' AND occurred_at >= '",
           since, "' GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10"))) {
    std::printf("    %s %-40s %lld\n", r[0].c_str(), r[1].c_str(), static_cast<long long>(r[2].as<int64_t>()));
  }
  tx.commit();
  const auto mail_after = std::filesystem::exists(o.state + "/mail")
                              ? std::distance(std::filesystem::directory_iterator(o.state + "/mail"),
                                              std::filesystem::directory_iterator{})
                              : 0;
  std::printf("    e-mails delivered to the mail catcher: %lld\n", static_cast<long long>(mail_after - mail_before));
  // The bench rules stop here (disabled, kept in the log).
  for (const nlohmann::json& r : {yellow, red}) {
    nlohmann::json body{{"id", r["id"]}, {"version", r["version"]}, {"enabled", false}};
    HttpClient http(o.gateway_port, "");
    std::string reply;
    const std::string path = absl::StrCat("/v1/robots/rules/", r["id"].get<std::string>(), "?updateMask=enabled");
    const std::string req =
        absl::StrCat("PATCH ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ", head.token,
                     "\r\nContent-Type: application/json\r\nContent-Length: ", body.dump().size(), "\r\n\r\n",
                     body.dump());
    if (const int status = http.Exchange(req, &reply); status != 200) {
      std::printf("  (could not disable bench rule %s: %d %s)\n", r["id"].get<std::string>().c_str(), status,
                  reply.c_str());
    }
  }
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const std::string v = argv[i + 1];
    if (a == "--state") o.state = v;
    else if (a == "--pg-port") o.pg_port = std::stoi(v);
    else if (a == "--gateway-port") o.gateway_port = std::stoi(v);
    else if (a == "--robots-metrics-port") o.robots_metrics_port = std::stoi(v);
    else if (a == "--deals") o.deals = std::stoi(v);
    else if (a == "--requests") o.requests = std::stoi(v);
    else if (a == "--seconds") o.seconds = std::stod(v);
    else if (a == "--telegram-port") o.telegram_port = std::stoi(v);
    else if (a == "--only") o.only = v;
    else if (a == "--burst") o.burst = std::stoi(v);
    else if (a == "--sla-seconds") o.sla_seconds = std::stoi(v);
    else Die("unknown argument " + a);
  }
  const std::vector<Process> procs = SuiteProcesses(o);
  std::printf("crm-suite-bench: the suite as `tools/crm up` runs it (%s)\n\n"
              "idle memory after start, MB  (RSS / PSS / private; RSS counts every shared-library page the "
              "process touched, PSS splits shared pages among the processes mapping them)\n",
              absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::Now(), absl::UTCTimeZone()).c_str());
  for (const Process& p : procs) {
    if (p.name != "postgres" && p.name != "devbroker") {
      const Memory m = MemoryOf(p.pid);
      std::printf("  %-9s %5.1f / %4.1f / %4.1f\n", p.name.c_str(), m.rss / 1024.0, m.pss / 1024.0,
                  m.private_kb / 1024.0);
    }
  }

  const std::vector<Person> realty_people = {SignIn(o, "head of sales (all)", "rop")};
  if (o.only == "realty") {
    Realty(o, realty_people[0], procs);
    return 0;
  }
  if (o.only == "dialogs") {
    Dialogs(o, procs);
    return 0;
  }
  pqxx::connection c(ServiceDsn(o, "deals"));
  Load(o, c);
  const std::string pipeline =
      pqxx::work(c).exec1("SELECT id FROM pipelines WHERE name = 'Продажа'")[0].c_str();

  const std::vector<Person> people = {SignIn(o, "head of sales (all)", "rop"),
                                      SignIn(o, "manager (team)", "manager"),
                                      SignIn(o, "cc operator (own)", "cc.operator")};
  if (o.only.empty() || o.only == "reads") Reads(o, people, pipeline, procs);
  if (o.only.empty() || o.only == "creates") Creates(o, people[1], pipeline, procs);
  if (o.only.empty() || o.only == "robots") Robots(o, people[1], people[0], procs);
  if (o.only.empty()) Realty(o, people[0], procs);
  if (o.only.empty()) Dialogs(o, procs);
  return 0;
}

}  // namespace
}  // namespace crm::bench

int main(int argc, char** argv) { return crm::bench::Main(argc, argv); }
