// crm-deals-bench: the deals queries at 1 000 000 deals, next to the bare SQL of the same query in the
// same run (issue 5).
//
//   tools/crm bench deals [--deals N] [--iterations N]   (a throwaway PostgreSQL comes from tools/crm:
//                                                          CRM_TEST_PG_DSN)
//
// Load: one pipeline of seven stages, N deals spread over the stages (more in the early ones, as a real
// funnel), 200 responsibles in 10 teams, 20 tags, amounts and creation times spread over two years;
// written with COPY (pqxx::stream_to), then ANALYZE.
//
// Measured, p50 / p95 over --iterations runs each, with the caller allowed to see every deal:
//   board page   the first 20 cards of one stage, newest first          (target p95 <= 20 ms)
//   stage sums   count and sum of amounts of every stage of the pipeline (target <= 50 ms)
//   list filter  the first 50 deals of one responsible carrying a tag, newest first
// "raw" is the same SQL sent with libpqxx on one connection: the floor a service can approach.
// "gateway" is the HTTP request a screen sends, through the gateway and DealService (access filter,
// keyset page, JSON): GET .../stages/{id}/deals (a column's first page), GET .../board (every column's
// count, sum and first 20 cards: the per-stage counts and sums) and GET /v1/deals?filter...
//
// Then create throughput (target: >= 50% of raw), --clients concurrent clients (default 16):
//   gateway  POST /v1/deals with a bearer JWT over keep-alive HTTP/1.1 through the real gateway to the
//            real DealService (crm::rpc::Server, signed principals) on a pool of --clients connections:
//            validation, the stage's gates, the deal row and its outbox event in one transaction;
//   raw      the same deal row and an outbox row of the same size, inserted by a libpqxx transaction
//            per deal on one connection per client, at the same commit settings (the outbox table's
//            trigger wakes the relay in both).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/auth/jwt.h"
#include "libs/base/clock.h"
#include "libs/base/uuid.h"
#include "libs/events/schema.h"
#include "libs/log/log.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/testing.h"
#include "libs/rpc/client.h"
#include "libs/rpc/server.h"
#include "libs/rpc/signed_principal.h"
#include "crm/deals/v1/deals.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "services/deals/deals.h"
#include "services/gateway/edge/server.h"
#include "services/gateway/gateway.h"
#include "tools/bench/http_load.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace {

using SteadyClock = std::chrono::steady_clock;

using crm::bench::Die;

struct Percentiles {
  double p50_ms = 0, p95_ms = 0;
};

Percentiles Measure(int iterations, const std::function<void(int)>& run) {
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(iterations));
  run(0);  // warm the cache and the plan
  for (int i = 0; i < iterations; ++i) {
    const auto start = SteadyClock::now();
    run(i);
    ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 95 / 100)]};
}

void Print(const char* what, const char* path, const Percentiles& p) {
  std::printf("%-12s %-8s p50 %8.2f ms   p95 %8.2f ms\n", what, path, p.p50_ms, p.p95_ms);
}

struct Dataset {
  std::string pipeline_id;
  std::vector<std::string> stage_ids;
  std::vector<std::string> responsibles;
  std::vector<std::string> teams;
};

// Creates the pipeline and COPYs `n` deals into it.
Dataset Load(pqxx::connection& c, int n) {
  Dataset d;
  d.pipeline_id = crm::NewUuidV7();
  for (int i = 0; i < 10; ++i) d.teams.push_back(crm::NewUuidV7());
  for (int i = 0; i < 200; ++i) d.responsibles.push_back(crm::NewUuidV7());
  const char* names[] = {"Неразобранное", "Квалификация", "Квалифицирован", "Назначено",
                         "Срыв визита", "Успешно", "Отказ"};
  const int kinds[] = {1, 1, 1, 1, 1, 2, 3};
  {
    pqxx::work tx(c);
    tx.exec_params("INSERT INTO pipelines (id, name) VALUES ($1, 'Первичная обработка')", d.pipeline_id);
    for (int i = 0; i < 7; ++i) {
      d.stage_ids.push_back(crm::NewUuidV7());
      tx.exec_params("INSERT INTO stages (id, pipeline_id, position, name, kind) VALUES ($1, $2, $3, $4, $5)",
                     d.stage_ids.back(), d.pipeline_id, i, names[i], kinds[i]);
    }
    tx.commit();
  }
  std::mt19937_64 rng(42);
  // A funnel: early stages hold more deals.
  std::discrete_distribution<int> stage_of({30, 20, 15, 10, 5, 10, 10});
  std::uniform_int_distribution<int> who(0, 199), tag(0, 19), amount(0, 50'000'000);
  std::uniform_int_distribution<int64_t> age_s(0, 2LL * 365 * 24 * 3600);
  const auto now = std::chrono::system_clock::now();
  const auto start = SteadyClock::now();
  pqxx::work tx(c);
  pqxx::stream_to copy(tx, "deals",
                       std::vector<std::string>{"id", "name", "pipeline_id", "stage_id", "status",
                                                "responsible_id", "team_ids", "amount_minor", "currency",
                                                "source", "priority", "tags", "create_time", "update_time",
                                                "stage_enter_time", "version"});
  for (int i = 0; i < n; ++i) {
    const int s = stage_of(rng);
    const int r = who(rng);
    const auto t = now - std::chrono::seconds(age_s(rng));
    // COPY's text format takes an ISO timestamp.
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char iso[32];
    std::strftime(iso, sizeof iso, "%Y-%m-%d %H:%M:%S+00", &tm);
    copy << std::make_tuple(crm::NewUuidV7(), absl::StrCat("Сделка ", i), d.pipeline_id, d.stage_ids[s],
                            kinds[s], d.responsibles[r], absl::StrCat("{", d.teams[r % 10], "}"),
                            static_cast<int64_t>(amount(rng)) * 100, std::string("RUB"), std::string("site"),
                            1 + (i % 3), absl::StrCat("{tag", tag(rng), ",tag", tag(rng), "}"),
                            std::string(iso), std::string(iso), std::string(iso), 1);
  }
  copy.complete();
  tx.commit();
  const double load_s = std::chrono::duration<double>(SteadyClock::now() - start).count();
  pqxx::nontransaction(c).exec("ANALYZE deals");
  std::printf("loaded %d deals with COPY in %.1f s (%.0f rows/s)\n", n, load_s, n / load_s);
  return d;
}

// Deals created per second by `clients` connections each running `per_client` transactions of one
// deal row and one outbox row (the service's own INSERTs, minus validation and the gRPC/HTTP hops).
double RawCreates(const std::string& dsn, const Dataset& d, int clients, int per_client) {
  const std::string payload(600, 'x');  // about the size of a DealCreated envelope
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      pqxx::connection c(dsn);
      ++ready;
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < per_client; ++i) {
        pqxx::work tx(c);
        const std::string id = crm::NewUuidV7();
        tx.exec_params("INSERT INTO deals (id, name, pipeline_id, stage_id, status, responsible_id, creator_id, "
                       "team_ids, amount_minor, currency, source, priority, tags, fields, version, create_time, "
                       "update_time, stage_enter_time) VALUES ($1, $2, $3, $4, 1, $5, $5, '{}', 950000000, 'RUB', "
                       "'site', 0, '{}', '{}', 1, now(), now(), now())",
                       id, absl::StrCat("Квартира ", t, "-", i), d.pipeline_id, d.stage_ids[0], d.responsibles[t % 200]);
        tx.exec_params("INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at) "
                       "VALUES ($1::uuid, 'deal', $2, 'crm.deals.deal.created.v1', $3, 'crm.deals.deal.v1', "
                       "'/crm/deals', now())",
                       crm::NewUuidV7(), id, pqxx::binarystring(payload.data(), payload.size()));
        tx.commit();
      }
    });
  }
  while (ready.load() < clients) std::this_thread::yield();
  const auto start = SteadyClock::now();
  go = true;
  for (auto& t : threads) t.join();
  return clients * per_client / std::chrono::duration<double>(SteadyClock::now() - start).count();
}

struct ServiceFigures {
  // The three reads through the gateway (GET, one keep-alive client), as the UI makes them.
  Percentiles board_page, board, list;
  crm::bench::Result direct, gateway;
};

// The reads and the creates through the real service: DealService over gRPC (direct) and through the
// gateway.
ServiceFigures MeasureService(const std::string& dsn, const Dataset& d, int iterations, int clients,
                              int per_client) {
  auto identity_key = crm::auth::SigningKey::Generate("identity-1");
  auto gateway_key = crm::auth::SigningKey::Generate("gateway");
  if (!identity_key.ok() || !gateway_key.ok()) Die("cannot generate keys");
  auto pool = crm::pg::Pool::Create({.dsn = dsn, .size = clients, .application_name = "deals-bench"});
  if (!pool.ok()) Die(pool.status().ToString());
  crm::deals::DealStore store(**pool, crm::SystemClock());
  crm::deals::DealServiceImpl service(store);
  static crm::rpc::Server* server = new crm::rpc::Server(
      {.service = "deals", .grpc_address = "127.0.0.1:0", .metrics_address = "127.0.0.1:0", .log_level = "error"});
  crm::auth::KeySet trusted;
  trusted.Add(gateway_key->public_key());
  server->SetPrincipalVerifier(crm::rpc::SignedPrincipals(trusted));
  server->AddService(&service);
  if (absl::Status s = server->Start(); !s.ok()) Die(s.ToString());
  const std::string backend = absl::StrCat("127.0.0.1:", server->grpc_port());

  crm::auth::KeySet keys;
  keys.Add(identity_key->public_key());
  const std::string jwks_path = absl::StrCat("/tmp/crm-deals-bench-", getpid(), ".jwks");
  std::ofstream(jwks_path) << keys.ToJwks();
  crm::gateway::GatewayOptions o;
  o.descriptor_sets = {CRM_API_PB};
  o.backend_for = [&](std::string_view svc) {
    return svc == "crm.deals.v1.DealService" ? backend : std::string();
  };
  o.auth.jwks = std::make_shared<crm::gateway::JwksFileSource>(jwks_path, absl::Seconds(5));
  o.service_key = *gateway_key;
  o.per_user_rate = 0;  // the limiter is not what is measured
  auto gateway = crm::gateway::Gateway::Create(std::move(o));
  if (!gateway.ok()) Die(gateway.status().ToString());
  crm::gateway::HttpServerOptions h;
  h.address = "127.0.0.1:0";
  h.worker_threads = clients;
  crm::gateway::Gateway* g = gateway->get();
  auto http = crm::gateway::HttpServer::Start(h, [g](crm::gateway::HttpCall& call) { return g->Handle(call); });
  if (!http.ok()) Die(http.status().ToString());

  crm::auth::Claims c;
  c.iss = "crm-identity";
  c.aud = "crm";
  c.sub = d.responsibles[0];
  c.jti = "bench";
  c.kind = "user";
  c.scopes = {"deals.read.all", "deals.write.all"};
  c.iat = absl::Now();
  c.exp = c.iat + absl::Hours(1);
  auto token = crm::auth::SignJwt(c, *identity_key);
  if (!token.ok()) Die(token.status().ToString());
  const std::string body = absl::StrCat(R"({"name":"Квартира 2к, ЖК Северный","pipelineId":")", d.pipeline_id,
                                        R"(","amount":{"amountMinor":"950000000","currency":"RUB"},"source":"site"})");
  const std::string request = absl::StrCat("POST /v1/deals HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ", *token,
                                           "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
                                           "\r\n\r\n", body);
  const int port = (*http)->port();
  {
    crm::bench::HttpClient warm(port, request);
    for (int i = 0; i < 50; ++i) warm.Send();
  }
  ServiceFigures r;
  // Reads: the request a kanban or list screen sends, one client, the same variety as the raw queries.
  auto get = [&](const std::string& target) {
    return std::make_unique<crm::bench::HttpClient>(
        port, absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ", *token, "\r\n\r\n"));
  };
  std::vector<std::unique_ptr<crm::bench::HttpClient>> pages, lists;
  for (size_t i = 0; i < 5; ++i) {
    pages.push_back(get(absl::StrCat("/v1/pipelines/", d.pipeline_id, "/stages/", d.stage_ids[i], "/deals?pageSize=20")));
  }
  for (size_t i = 0; i < 200; ++i) {
    lists.push_back(get(absl::StrCat("/v1/deals?filter.pipelineId=", d.pipeline_id, "&filter.responsibleIds=",
                                     d.responsibles[i], "&filter.tags=tag3&pageSize=50")));
  }
  auto board = get(absl::StrCat("/v1/pipelines/", d.pipeline_id, "/board"));
  r.board_page = Measure(iterations, [&](int i) { pages[static_cast<size_t>(i) % 5]->Send(); });
  r.board = Measure(iterations, [&](int) { board->Send(); });
  r.list = Measure(iterations, [&](int i) { lists[static_cast<size_t>(i) % 200]->Send(); });
  // Direct: the gRPC call the gateway makes, with the principal it would forward, signed the same way.
  crm::common::v1::Principal who;
  who.set_kind(crm::common::v1::Principal::KIND_USER);
  who.set_id(d.responsibles[0]);
  who.add_permissions("deals.read.all");
  who.add_permissions("deals.write.all");
  auto channel = grpc::CreateChannel(backend, grpc::InsecureChannelCredentials());
  crm::deals::v1::CreateDealRequest create;
  create.mutable_deal()->set_name("Квартира 2к, ЖК Северный");
  create.mutable_deal()->set_pipeline_id(d.pipeline_id);
  create.mutable_deal()->mutable_amount()->set_amount_minor(950000000);
  create.mutable_deal()->mutable_amount()->set_currency("RUB");
  create.mutable_deal()->set_source("site");
  r.direct = crm::bench::Run(
      clients, per_client, [&](int) { return crm::deals::v1::DealService::NewStub(channel); },
      [&](auto& stub) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        if (!crm::rpc::SetSignedCaller(ctx, who, *gateway_key).ok()) Die("cannot sign");
        crm::deals::v1::Deal out;
        grpc::Status s = stub->CreateDeal(&ctx, create, &out);
        if (!s.ok()) Die("direct CreateDeal: " + s.error_message());
      });
  r.gateway = crm::bench::Run(
      clients, per_client, [&](int) { return std::make_unique<crm::bench::HttpClient>(port, request); },
      [](auto& client) { client->Send(); });
  (*http)->Stop(absl::Seconds(2));
  server->Shutdown();
  server->Wait();
  std::remove(jwks_path.c_str());
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  // As the services run (libs/rpc/server.cc RunService, the gateway's main).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  int deals = 1'000'000, iterations = 200, clients = 16, creates = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--deals") deals = std::atoi(argv[i + 1]);
    else if (flag == "--iterations") iterations = std::atoi(argv[i + 1]);
    else if (flag == "--clients") clients = std::atoi(argv[i + 1]);
    else if (flag == "--creates") creates = std::atoi(argv[i + 1]);
    else Die("usage: crm-deals-bench [--deals N] [--iterations N] [--clients N] [--creates N per client]");
  }
  if (deals < 1000 || iterations < 10 || clients < 1 || clients > 256 || creates < 10)
    Die("need --deals >= 1000, --iterations >= 10, --clients 1..256, --creates >= 10");
  crm::log::Init("deals-bench", crm::log::Level::kError);
  absl::StatusOr<std::unique_ptr<crm::pg::testing::TempDatabase>> db =
      crm::pg::testing::TempDatabase::Create("deals_bench");
  if (!db.ok()) Die(db.status().ToString());
  std::vector<crm::pg::Migration> all = crm::EventsMigrations();
  all.insert(all.end(), crm::DealsMigrations().begin(), crm::DealsMigrations().end());
  if (auto s = crm::pg::Migrate((*db)->dsn(), all); !s.ok()) Die(s.status().ToString());

  pqxx::connection c((*db)->dsn());
  const Dataset d = Load(c, deals);

  // The same statements a service sends (what deals.cc's board, sums and list queries boil down to),
  // planned for their parameters each time as the service's are (it sends them unprepared).
  pqxx::nontransaction(c).exec("SET plan_cache_mode = force_custom_plan");
  c.prepare("board", "SELECT id, name, stage_id, responsible_id, client_id, amount_minor, currency, "
                     "next_task_time, priority, tags, create_time, version FROM deals "
                     "WHERE stage_id = $1 ORDER BY create_time DESC, id DESC LIMIT 20");
  c.prepare("sums", "SELECT stage_id, count(*), coalesce(sum(amount_minor) FILTER (WHERE currency = 'RUB'), 0) "
                    "FROM deals WHERE pipeline_id = $1 GROUP BY stage_id");
  c.prepare("list", "SELECT id, name, stage_id, amount_minor, create_time FROM deals "
                    "WHERE pipeline_id = $1 AND responsible_id = $2 AND tags && $3::text[] "
                    "ORDER BY create_time DESC, id DESC LIMIT 50");
  // The board's unfiltered column totals, as the trigger-kept tables give them (folded totals plus the
  // deltas not folded yet, migrations 0009 and 0011).
  c.prepare("totals", "SELECT stage_id, sum(deals), sum(amount_minor) FILTER (WHERE currency = 'RUB') FROM "
                      "(SELECT stage_id, currency, deals, amount_minor FROM deal_stage_totals UNION ALL "
                      "SELECT stage_id, currency, deals, amount_minor FROM deal_stage_deltas) t "
                      "WHERE stage_id = ANY($1::uuid[]) GROUP BY stage_id");
  const std::string stages = absl::StrCat("{", absl::StrJoin(d.stage_ids, ","), "}");
  {
    // The totals agree with a count of the deals themselves.
    pqxx::nontransaction tx(c);
    const pqxx::result a = tx.exec_prepared("sums", d.pipeline_id);
    const pqxx::result b = tx.exec_prepared("totals", stages);
    int64_t count_a = 0, count_b = 0, sum_a = 0, sum_b = 0;
    for (const auto& r : a) count_a += r[1].as<int64_t>(), sum_a += r[2].as<int64_t>();
    for (const auto& r : b) count_b += r[1].as<int64_t>(), sum_b += r[2].as<int64_t>();
    if (count_a != count_b || sum_a != sum_b) Die("the stage totals disagree with the deals");
  }
  std::printf("%d iterations each\n", iterations);
  Print("board page", "raw", Measure(iterations, [&](int i) {
          pqxx::nontransaction tx(c);
          tx.exec_prepared("board", d.stage_ids[static_cast<size_t>(i) % 5]);
        }));
  Print("stage sums", "raw", Measure(iterations, [&](int) {
          pqxx::nontransaction tx(c);
          tx.exec_prepared("sums", d.pipeline_id);
        }));
  Print("stage sums", "totals", Measure(iterations, [&](int) {
          pqxx::nontransaction tx(c);
          tx.exec_prepared("totals", stages);
        }));
  Print("list filter", "raw", Measure(iterations, [&](int i) {
          pqxx::nontransaction tx(c);
          tx.exec_prepared("list", d.pipeline_id, d.responsibles[static_cast<size_t>(i) % 200], "{tag3}");
        }));

  const ServiceFigures via = MeasureService((*db)->dsn(), d, iterations, clients, creates);
  Print("board page", "gateway", via.board_page);
  Print("board", "gateway", via.board);
  Print("list filter", "gateway", via.list);
  const double raw = RawCreates((*db)->dsn(), d, clients, creates);
  std::printf("create deal  raw      %8.0f deals/s  (%d clients x %d transactions: deal row + outbox row)\n", raw,
              clients, creates);
  std::printf("create deal  grpc     %8.0f deals/s  p50 %.2f ms  p99 %.2f ms  (DealService.CreateDeal, signed caller)\n",
              via.direct.rps, via.direct.p50_us / 1000, via.direct.p99_us / 1000);
  std::printf("create deal  gateway  %8.0f deals/s  p50 %.2f ms  p99 %.2f ms  (POST /v1/deals, keep-alive)\n",
              via.gateway.rps, via.gateway.p50_us / 1000, via.gateway.p99_us / 1000);
  std::printf("ratio gateway/raw: %.3f   grpc/raw: %.3f\n", via.gateway.rps / raw, via.direct.rps / raw);
  return 0;
}
