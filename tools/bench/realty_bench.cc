// crm-realty-bench: real estate (issue 17, D14) at 100 000 units, next to the bare SQL of the same work
// in the same run.
//
//   CRM_TEST_PG_DSN=... crm-realty-bench [--iterations N] [--import-units N]
//   (tools/crm's throwaway cluster or `tools/crm up`'s: any admin DSN; a database is made and dropped)
//
// Load (generate_series, then ANALYZE): 10 projects; the measured building of 8 sections × 30 floors ×
// 6 places (1 440 units, every tenth booked with a client) and 99 other buildings of 1 000 units each
// (100 440 units in all), their price rows, the booked ones' ACTIVE bookings and 300 000 ended ones.
//
// Measured, p50 / p95 over --iterations runs each (target p95 ≤ 20 ms):
//   chessboard  the 30 × 8 building's grid: "raw" replays the very statements BoardReader sent for it
//               (recorded with StatementRecorder) on one libpqxx connection; "grpc" is
//               RealtyService.GetChessboard over loopback with a signed principal; "gateway" is
//               GET /v1/realty/buildings/{id}/chessboard through the real gateway (JWT, JSON);
//   match       «Подбор ОН» in a project of 10 000 units, four request shapes in turn (flats of 1–2 rooms
//               on a budget and an area range; special offers; 3 rooms; everything on sale): raw, grpc,
//               gateway as above.
// Then the bulk upsert (target ≥ 20 000 units/s): --import-units (10 000) new units in one
// ImportInventory call (one transaction: validation, the stored rows, the upsert, the price history, an
// event per unit into the outbox), through the gateway (POST /v1/realty/inventory:import, JSON) and over
// gRPC; the same rows again (nothing changes: nothing is written); every price changed (10 000 updates,
// price rows and events). "raw" is the floor: one transaction inserting the same unit rows from arrays
// into a table LIKE realty_units INCLUDING ALL (the same indexes), their price rows into one LIKE
// realty_unit_prices and an outbox row of the same size each into one LIKE outbox. Last, five rounds of
// new units through the gateway and over gRPC in turn: their medians and the gateway's share of a call.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crm/deals/v1/realty.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "libs/auth/jwt.h"
#include "libs/base/clock.h"
#include "libs/base/uuid.h"
#include "libs/calendar/calendar.h"
#include "libs/events/schema.h"
#include "libs/log/log.h"
#include "libs/pg/migrations.h"
#include "libs/pg/pool.h"
#include "libs/pg/sql_array.h"
#include "libs/pg/statement_recorder.h"
#include "libs/pg/testing.h"
#include "libs/rpc/client.h"
#include "libs/rpc/server.h"
#include "libs/rpc/signed_principal.h"
#include "services/deals/realty/board.h"
#include "services/deals/realty/bookings.h"
#include "services/deals/realty/inventory.h"
#include "services/deals/realty/service.h"
#include "services/deals/realty/wiring.h"
#include "services/gateway/edge/server.h"
#include "services/gateway/gateway.h"
#include "tools/bench/http_load.h"

namespace crm {
const std::vector<crm::pg::Migration>& DealsMigrations();
}  // namespace crm

namespace {

namespace v1 = crm::deals::v1;
using SteadyClock = std::chrono::steady_clock;
using crm::bench::Die;

constexpr int kImportRounds = 5;  // gateway and gRPC imports in turn, for the gateway's share

struct Percentiles {
  double p50_ms = 0, p95_ms = 0;
};

Percentiles Measure(int iterations, const std::function<void(int)>& run) {
  std::vector<double> ms;
  for (int i = 0; i < 5; ++i) run(i);  // warm the caches and the plans
  for (int i = 0; i < iterations; ++i) {
    const auto start = SteadyClock::now();
    run(i);
    ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 95 / 100)]};
}

void Print(const char* what, const char* path, const Percentiles& p) {
  std::printf("%-11s %-8s p50 %7.2f ms   p95 %7.2f ms\n", what, path, p.p50_ms, p.p95_ms);
}

std::string Id(const char* rows, int64_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "01900000-0000-7000-%s-%012llx", rows, static_cast<unsigned long long>(n));
  return buf;
}
std::string IdSql(const char* rows, const std::string& n) {
  return absl::StrCat("('01900000-0000-7000-", rows, "-' || lpad(to_hex(", n, "), 12, '0'))::uuid");
}

// The measured building is building 1 of project 1 (units 1..1440); buildings 2..100 hold 1 000 units each.
void Load(pqxx::connection& c) {
  const auto start = SteadyClock::now();
  pqxx::work tx(c);
  tx.exec0("SET LOCAL session_replication_role = replica");  // consistent by construction
  tx.exec0(
      absl::StrCat("INSERT INTO realty_projects (id, external_id, name, create_time, update_time) SELECT ",
                   IdSql("e000", "p"), ", 'p' || p, 'ЖК ' || p, now(), now() FROM generate_series(1, 10) p"));
  tx.exec0(absl::StrCat(
      "INSERT INTO realty_buildings (id, project_id, external_id, name, create_time, update_time) SELECT ",
      IdSql("e100", "b"), ", ", IdSql("e000", "1 + (b - 1) / 10"),
      ", 'b' || b, 'Корпус ' || b, now(), now() FROM generate_series(1, 100) b"));
  tx.exec0(absl::StrCat(
      "INSERT INTO realty_sections (building_id, number, name, first_floor, last_floor) SELECT ",
      IdSql("e100", "b"),
      ", s, 'Секция ' || s, 1, CASE WHEN b = 1 THEN 30 ELSE 25 END FROM generate_series(1, 100) b, "
      "generate_series(1, 8) s"));
  tx.exec0(absl::StrCat("INSERT INTO clients (id, kind, name) SELECT ", IdSql("a000", "c"),
                        ", 2, 'Клиент ' || c FROM generate_series(1, 20000) c"));
  // Unit g: building 1 for g ≤ 1440 (8 × 30 × 6), then 1 000 a building.
  tx.exec0(absl::StrCat(
      "INSERT INTO realty_units (id, external_id, project_id, building_id, section_number, floor, position, "
      "number, "
      "kind, purpose, status, rooms, area_centi, price_minor, price_per_m2_minor, final_price_minor, "
      "discounts, "
      "special_offer, create_time, update_time) SELECT ",
      IdSql("e200", "g"), ", 'u' || g, ", IdSql("e000", "1 + (x.b - 1) / 10"), ", ", IdSql("e100", "x.b"),
      ", x.s, x.f, x.pos, g::text, CASE WHEN x.f = 1 THEN 5 WHEN g % 97 = 0 THEN 3 ELSE 1 END, 1, "
      "CASE WHEN g % 10 = 6 THEN 3 WHEN g % 10 <= 5 THEN 2 WHEN g % 10 <= 8 THEN 4 ELSE 1 END, x.pos % 5, "
      "2500 + (x.pos % 5) * 1800, (2500 + (x.pos % 5) * 1800)::bigint * (20000000 + x.f * 100000) / 100, "
      "20000000 + x.f * 100000, (2500 + (x.pos % 5) * 1800)::bigint * (20000000 + x.f * 100000) / 100, '[]', "
      "g % 20 = 3, now(), now() FROM generate_series(1, 100440) g, LATERAL (SELECT CASE WHEN g <= 1440 THEN "
      "1 "
      "ELSE 2 + (g - 1441) / 1000 END AS b, CASE WHEN g <= 1440 THEN g - 1 ELSE (g - 1441) % 1000 END AS i) "
      "y, "
      "LATERAL (SELECT y.b, CASE WHEN y.b = 1 THEN y.i / 180 + 1 ELSE y.i / 125 + 1 END AS s, "
      "CASE WHEN y.b = 1 THEN (y.i % 180) / 6 + 1 ELSE (y.i % 125) / 5 + 1 END AS f, "
      "CASE WHEN y.b = 1 THEN y.i % 6 + 1 ELSE y.i % 5 + 1 END AS pos) x"));
  tx.exec0(absl::StrCat(
      "INSERT INTO realty_unit_prices (id, unit_id, price_minor, price_per_m2_minor, final_price_minor, "
      "currency, "
      "discounts, special_offer, area_centi, change_time, source) OVERRIDING SYSTEM VALUE SELECT g, ",
      IdSql("e200", "g"), ", 1, 1, 1, 'RUB', '[]', false, 1, now(), 2 FROM generate_series(1, 100440) g"));
  tx.exec("SELECT setval(pg_get_serial_sequence('realty_unit_prices', 'id'), 100440)");
  tx.exec0(absl::StrCat(
      "INSERT INTO realty_bookings (id, unit_id, project_id, building_id, client_id, status, responsible_id, "
      "team_ids, fee_minor, currency, price_id, price_minor, final_price_minor, start_time, expire_time, "
      "create_time, update_time) SELECT ",
      IdSql("e300", "u.g"), ", u.id, u.project_id, u.building_id, ", IdSql("a000", "1 + u.g % 20000"),
      ", 2, ", IdSql("f000", "1 + u.g % 100"),
      ", '{}', 5000000, 'RUB', u.g, u.price_minor, u.final_price_minor, now(), now() + interval '21 days', "
      "now(), "
      "now() FROM (SELECT id, project_id, building_id, price_minor, final_price_minor, "
      "('x' || substr(id::text, 25, 12))::bit(48)::bigint AS g FROM realty_units WHERE status = 3) u"));
  // And the history: 300 000 ended bookings (released, expired, converted, cancelled), as a sales office
  // accumulates them.
  tx.exec0(absl::StrCat(
      "INSERT INTO realty_bookings (id, unit_id, project_id, building_id, client_id, status, responsible_id, "
      "team_ids, fee_minor, currency, create_time, update_time, end_time) SELECT ",
      IdSql("e400", "k"), ", u.id, u.project_id, u.building_id, ", IdSql("a000", "1 + k % 20000"),
      ", 3 + k % 4, ", IdSql("f000", "1 + k % 100"),
      ", '{}', 5000000, 'RUB', now() - interval '1 year', now() - interval '1 year', now() - interval '300 "
      "days' "
      "FROM generate_series(1, 300000) k JOIN realty_units u ON u.id = ",
      IdSql("e200", "1 + (k::bigint * 7919) % 100440")));
  tx.commit();
  pqxx::nontransaction(c).exec("VACUUM ANALYZE");
  std::printf("loaded 100 440 units, 10 044 active and 300 000 ended bookings in %.1f s\n",
              std::chrono::duration<double>(SteadyClock::now() - start).count());
}

crm::common::v1::Principal Caller() {
  crm::common::v1::Principal p;
  p.set_kind(crm::common::v1::Principal::KIND_USER);
  p.set_id(Id("f000", 1));
  for (const char* s : {"realty.read", "realty.manage", "bookings.read.all", "bookings.write.all"})
    p.add_permissions(s);
  return p;
}

std::vector<v1::MatchUnitsRequest> MatchShapes() {
  std::vector<v1::MatchUnitsRequest> out(4);
  for (auto& r : out) {
    r.set_project_id(Id("e000", 3));
    r.set_page_size(50);
  }
  out[0].add_kinds(v1::Unit::APARTMENT);
  out[0].add_rooms(1);
  out[0].add_rooms(2);
  out[0].mutable_budget_max()->set_amount_minor(1'500'000'000);
  out[0].set_area_min_centi_m2(3000);
  out[0].set_area_max_centi_m2(7000);
  out[1].set_special_offer_only(true);
  out[2].add_rooms(3);
  return out;
}

std::string MatchQuery(const v1::MatchUnitsRequest& r) {
  std::string q =
      absl::StrCat("/v1/realty/units:match?projectId=", r.project_id(), "&pageSize=", r.page_size());
  for (int k : r.kinds()) absl::StrAppend(&q, "&kinds=", v1::Unit::Kind_Name(static_cast<v1::Unit::Kind>(k)));
  for (int n : r.rooms()) absl::StrAppend(&q, "&rooms=", n);
  if (r.has_budget_max()) absl::StrAppend(&q, "&budgetMax.amountMinor=", r.budget_max().amount_minor());
  if (r.area_min_centi_m2()) absl::StrAppend(&q, "&areaMinCentiM2=", r.area_min_centi_m2());
  if (r.area_max_centi_m2()) absl::StrAppend(&q, "&areaMaxCentiM2=", r.area_max_centi_m2());
  if (r.special_offer_only()) absl::StrAppend(&q, "&specialOfferOnly=true");
  return q;
}

// `n` units of a new building (external ids with `tag`), 40 sections × 25 floors × 10 places.
v1::ImportInventoryRequest ImportRequest(int n, const std::string& tag, int64_t per_m2) {
  v1::ImportInventoryRequest req;
  v1::Project* p = req.add_projects();
  p->set_external_id("bench-p-" + tag);
  p->set_name("ЖК Бенч " + tag);
  v1::Building* b = req.add_buildings();
  b->set_external_id("bench-b-" + tag);
  b->set_project_external_id("bench-p-" + tag);
  b->set_name("Корпус " + tag);
  const int sections = (n + 249) / 250;
  for (int s = 1; s <= std::min(sections, 100); ++s) {
    v1::Section* sec = b->add_sections();
    sec->set_number(s);
    sec->set_last_floor(25);
  }
  for (int i = 0; i < n; ++i) {
    v1::Unit* u = req.add_units();
    u->set_external_id(absl::StrCat("bench-u-", tag, "-", i));
    u->set_building_external_id("bench-b-" + tag);
    u->set_section_number(1 + i / 250);
    u->set_floor(1 + (i % 250) / 10);
    u->set_position(1 + i % 10);
    u->set_number(absl::StrCat(i + 1));
    u->set_kind(v1::Unit::APARTMENT);
    u->set_rooms(i % 4);
    u->set_area_centi_m2(3000 + 100 * (i % 50));
    u->mutable_price_per_m2()->set_amount_minor(per_m2 + 1000 * (i % 7));
    u->mutable_price_per_m2()->set_currency("RUB");
    u->set_status(v1::Unit::AVAILABLE);
    u->set_right_holder("ООО «СЗ Бенч»");
    if (i % 10 == 0) {
      v1::Discount* d = u->add_discounts();
      d->set_code("full");
      d->set_name("Скидка при 100% оплате");
      d->set_percent_bp(300);
    }
  }
  return req;
}

// The floor of the bulk upsert: the same rows' SQL work without the service (see the file comment).
double RawUpsert(pqxx::connection& c, int n) {
  {
    pqxx::work tx(c);
    tx.exec0("CREATE TABLE IF NOT EXISTS raw_units (LIKE realty_units INCLUDING ALL)");
    tx.exec0("CREATE TABLE IF NOT EXISTS raw_prices (LIKE realty_unit_prices INCLUDING ALL)");
    tx.exec0("CREATE TABLE IF NOT EXISTS raw_outbox (LIKE outbox INCLUDING ALL)");
    tx.exec0("TRUNCATE raw_units, raw_prices, raw_outbox");
    tx.commit();
  }
  std::vector<std::string> ids, ext, numbers;
  std::vector<std::string> ints;
  for (int i = 0; i < n; ++i) {
    ids.push_back(crm::NewUuidV7());
    ext.push_back(absl::StrCat("raw-u-", i));
    numbers.push_back(absl::StrCat(i + 1));
  }
  const std::string payload(420, 'x');  // about a UnitChanged envelope
  const auto start = SteadyClock::now();
  pqxx::work tx(c);
  tx.exec_params(
      "INSERT INTO raw_units (id, external_id, project_id, building_id, section_number, floor, position, "
      "number, "
      "plan_number, kind, purpose, status, rooms, area_centi, currency, price_minor, price_per_m2_minor, "
      "final_price_minor, discounts, special_offer, special_offer_name, right_holder, no_ownership, "
      "plan_image, "
      "version, create_time, update_time) SELECT t.id, t.ext, $3, $4, 1 + (t.o - 1) / 250, 1 + ((t.o - 1) % "
      "250) / 10, "
      "1 + (t.o - 1) % 10, t.num, '', 1, 1, 2, t.o % 4, 4000, 'RUB', 100000000, 2500000, 100000000, "
      "'[]'::jsonb, "
      "false, '', 'ООО', false, '', 1, now(), now() FROM unnest($1::uuid[], $2::text[], $5::text[]) WITH "
      "ORDINALITY "
      "AS t(id, ext, num, o) ON CONFLICT (id) DO NOTHING",
      crm::pg::ArrayLiteral(ids), crm::pg::ArrayLiteral(ext), Id("e000", 1), Id("e100", 2),
      crm::pg::ArrayLiteral(numbers));
  tx.exec(
      "INSERT INTO raw_prices (unit_id, price_minor, price_per_m2_minor, final_price_minor, currency, "
      "discounts, "
      "special_offer, area_centi, change_time, source) SELECT id, price_minor, price_per_m2_minor, "
      "final_price_minor, currency, discounts, special_offer, area_centi, now(), 2 FROM raw_units");
  tx.exec_params(
      "INSERT INTO raw_outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at) "
      "SELECT gen_random_uuid(), 'unit', id::text, 'crm.deals.unit.created.v1', $1::bytea, "
      "'crm.deals.unit.v1', '/crm/deals', now() FROM raw_units",
      pqxx::binarystring(payload.data(), payload.size()));
  tx.commit();
  return n / std::chrono::duration<double>(SteadyClock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  int iterations = 200, import_units = 10000;
  bool explain = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--iterations") {
      iterations = std::atoi(argv[i + 1]);
    } else if (flag == "--explain") {
      explain = std::atoi(argv[i + 1]) != 0;
    } else if (flag == "--import-units") {
      import_units = std::atoi(argv[i + 1]);
    } else {
      Die("usage: crm-realty-bench [--iterations N] [--import-units N (≤ 10000)]");
    }
  }
  if (iterations < 10 || import_units < 100 || import_units > 10000) {
    Die("need --iterations >= 10, --import-units 100..10000");
  }
  crm::log::Init("realty-bench", crm::log::Level::kError);
  auto db = crm::pg::testing::TempDatabase::Create("realty_bench");
  if (!db.ok()) Die(db.status().ToString());
  std::vector<crm::pg::Migration> all = crm::EventsMigrations();
  all.insert(all.end(), crm::DealsMigrations().begin(), crm::DealsMigrations().end());
  all.insert(all.end(), crm::RealtyMigrations().begin(), crm::RealtyMigrations().end());
  if (auto s = crm::pg::Migrate((*db)->dsn(), all); !s.ok()) Die(s.status().ToString());
  pqxx::connection c((*db)->dsn());
  Load(c);

  auto pool = crm::pg::Pool::Create({.dsn = (*db)->dsn(), .size = 8, .application_name = "realty-bench"});
  if (!pool.ok()) Die(pool.status().ToString());
  auto cal = crm::calendar::WorkingCalendar::FiveDay("Europe/Moscow", "");
  crm::deals::realty::InventoryStore inventory(**pool, crm::SystemClock());
  crm::deals::realty::BoardReader board(**pool);
  crm::deals::realty::BookingStore bookings(**pool, crm::SystemClock(), *cal);
  crm::deals::realty::RealtyServiceImpl realty(inventory, board);
  crm::deals::realty::BookingServiceImpl booking_service(bookings);
  const crm::common::v1::Principal caller = Caller();

  // The statements the stores send, recorded once, to replay bare.
  v1::GetChessboardRequest chess;
  chess.set_building_id(Id("e100", 1));
  std::vector<crm::pg::StatementRecorder::Statement> chess_sql;
  {
    crm::pg::StatementRecorder recorder;
    auto grid = board.Chessboard(caller, chess);
    if (!grid.ok()) Die(grid.status().ToString());
    int cells = 0;
    for (const auto& s : grid->sections()) {
      for (const auto& f : s.floors()) cells += f.cells_size();
    }
    if (cells != 1440 || grid->sections_size() != 8) Die("the 30 x 8 building is not whole");
    chess_sql = recorder.Take();
  }
  const std::vector<v1::MatchUnitsRequest> shapes = MatchShapes();
  std::vector<std::vector<crm::pg::StatementRecorder::Statement>> match_sql;
  for (const auto& shape : shapes) {
    crm::pg::StatementRecorder recorder;
    auto m = board.Match(caller, shape);
    if (!m.ok()) Die(m.status().ToString());
    match_sql.push_back(recorder.Take());
  }
  if (explain) {  // --explain 1: the plans of what is measured, to stderr
    pqxx::nontransaction tx(c);
    for (const auto* statements : {&chess_sql, &match_sql[0], &match_sql[1], &match_sql[2], &match_sql[3]}) {
      for (const auto& st : *statements) {
        for (const auto& row : tx.exec_params("EXPLAIN (ANALYZE, BUFFERS) " + st.sql,
                                              pqxx::prepare::make_dynamic_params(st.params))) {
          std::fprintf(stderr, "%s\n", row[0].c_str());
        }
        std::fprintf(stderr, "----\n");
      }
    }
  }
  // The bare statements run as the service runs them: BoardReader::Match sets this for its transaction.
  pqxx::nontransaction(c).exec("SET max_parallel_workers_per_gather = 0");
  auto replay = [&](const std::vector<crm::pg::StatementRecorder::Statement>& statements) {
    pqxx::nontransaction tx(c);
    for (const auto& st : statements) tx.exec_params(st.sql, pqxx::prepare::make_dynamic_params(st.params));
  };

  // The service: a crm::rpc::Server on loopback trusting the gateway's key, and the gateway before it.
  auto identity_key = crm::auth::SigningKey::Generate("identity-1");
  auto gateway_key = crm::auth::SigningKey::Generate("gateway");
  if (!identity_key.ok() || !gateway_key.ok()) Die("cannot generate keys");
  static crm::rpc::Server* server = new crm::rpc::Server({.service = "deals",
                                                          .grpc_address = "127.0.0.1:0",
                                                          .metrics_address = "127.0.0.1:0",
                                                          .log_level = "error"});
  crm::auth::KeySet trusted;
  trusted.Add(gateway_key->public_key());
  server->SetPrincipalVerifier(crm::rpc::SignedPrincipals(trusted));
  server->AddService(&realty);
  server->AddService(&booking_service);
  if (absl::Status s = server->Start(); !s.ok()) Die(s.ToString());
  const std::string backend = absl::StrCat("127.0.0.1:", server->grpc_port());
  crm::auth::KeySet keys;
  keys.Add(identity_key->public_key());
  const std::string jwks_path = absl::StrCat("/tmp/crm-realty-bench-", getpid(), ".jwks");
  std::ofstream(jwks_path) << keys.ToJwks();
  crm::gateway::GatewayOptions o;
  o.descriptor_sets = {CRM_API_PB};
  o.backend_for = [&](std::string_view svc) {
    return svc.substr(0, 13) == "crm.deals.v1." ? backend : std::string();
  };
  o.auth.jwks = std::make_shared<crm::gateway::JwksFileSource>(jwks_path, absl::Seconds(5));
  o.service_key = *gateway_key;
  o.per_user_rate = 0;
  auto gateway = crm::gateway::Gateway::Create(std::move(o));
  if (!gateway.ok()) Die(gateway.status().ToString());
  crm::gateway::HttpServerOptions h;
  h.address = "127.0.0.1:0";
  h.worker_threads = 2;
  h.max_body_bytes = 16 << 20;  // as crm-gateway
  crm::gateway::Gateway* g = gateway->get();
  auto http =
      crm::gateway::HttpServer::Start(h, [g](crm::gateway::HttpCall& call) { return g->Handle(call); });
  if (!http.ok()) Die(http.status().ToString());
  crm::auth::Claims cl;
  cl.iss = "crm-identity";
  cl.aud = "crm";
  cl.sub = caller.id();
  cl.jti = "bench";
  cl.kind = "user";
  cl.scopes = {caller.permissions().begin(), caller.permissions().end()};
  cl.iat = absl::Now();
  cl.exp = cl.iat + absl::Hours(1);
  auto token = crm::auth::SignJwt(cl, *identity_key);
  if (!token.ok()) Die(token.status().ToString());
  const int port = (*http)->port();
  auto get = [&](const std::string& target) {
    return absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ", *token,
                        "\r\n\r\n");
  };
  crm::bench::HttpClient client(port, get("/healthz"));
  auto channel = grpc::CreateChannel(backend, grpc::InsecureChannelCredentials());
  auto stub = v1::RealtyService::NewStub(channel);
  auto grpc_call = [&](auto method, const auto& req, auto* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    if (!crm::rpc::SetSignedCaller(ctx, caller, *gateway_key).ok()) Die("cannot sign");
    grpc::Status s = ((*stub).*method)(&ctx, req, out);
    if (!s.ok()) Die("gRPC: " + s.error_message());
  };

  std::printf("%d iterations each; the chessboard is 8 sections x 30 floors x 6 places (1 440 cells)\n",
              iterations);
  const Percentiles chess_raw = Measure(iterations, [&](int) { replay(chess_sql); });
  const Percentiles chess_grpc = Measure(iterations, [&](int) {
    v1::Chessboard out;
    grpc_call(&v1::RealtyService::Stub::GetChessboard, chess, &out);
  });
  std::string body;
  const std::string chess_get =
      get(absl::StrCat("/v1/realty/buildings/", chess.building_id(), "/chessboard"));
  const Percentiles chess_gateway = Measure(iterations, [&](int) {
    if (client.Exchange(chess_get, &body) != 200) Die("chessboard: " + body);
  });
  const size_t chess_bytes = body.size();
  const Percentiles match_raw =
      Measure(iterations, [&](int i) { replay(match_sql[static_cast<size_t>(i) % 4]); });
  const Percentiles match_grpc = Measure(iterations, [&](int i) {
    v1::MatchUnitsResponse out;
    grpc_call(&v1::RealtyService::Stub::MatchUnits, shapes[static_cast<size_t>(i) % 4], &out);
  });
  std::vector<std::string> match_get;
  for (const auto& shape : shapes) match_get.push_back(get(MatchQuery(shape)));
  const Percentiles match_gateway = Measure(iterations, [&](int i) {
    if (client.Exchange(match_get[static_cast<size_t>(i) % 4], &body) != 200) Die("match: " + body);
  });
  Print("chessboard", "raw", chess_raw);
  Print("chessboard", "grpc", chess_grpc);
  Print("chessboard", "gateway", chess_gateway);
  std::printf("chessboard  ratio gateway/raw p95 %.1f   (the JSON grid is %zu bytes)\n",
              chess_gateway.p95_ms / chess_raw.p95_ms, chess_bytes);
  const char* shape_names[] = {"flats 1-2 rooms, budget, area", "special offers", "3 rooms", "all on sale"};
  for (size_t k = 0; k < 4; ++k) {
    const Percentiles one = Measure(std::max(10, iterations / 4), [&](int) { replay(match_sql[k]); });
    std::printf("match       raw      p50 %7.2f ms   p95 %7.2f ms   (%s alone)\n", one.p50_ms, one.p95_ms,
                shape_names[k]);
  }
  Print("match", "raw", match_raw);
  Print("match", "grpc", match_grpc);
  Print("match", "gateway", match_gateway);
  std::printf("match       ratio gateway/raw p95 %.1f\n", match_gateway.p95_ms / match_raw.p95_ms);

  // The bulk upsert.
  auto timed = [&](const std::function<void()>& run) {
    const auto start = SteadyClock::now();
    run();
    return import_units / std::chrono::duration<double>(SteadyClock::now() - start).count();
  };
  const double raw = RawUpsert(c, import_units);
  std::string json;
  google::protobuf::util::JsonPrintOptions jo;
  if (!google::protobuf::util::MessageToJsonString(ImportRequest(import_units, "g", 25'000'000), &json, jo)
           .ok()) {
    Die("json");
  }
  const std::string post = absl::StrCat(
      "POST /v1/realty/inventory:import HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ", *token,
      "\r\nContent-Type: application/json\r\nContent-Length: ", json.size(), "\r\n\r\n", json);
  const double via_gateway = timed([&] {
    if (client.Exchange(post, &body) != 200) Die("import: " + body.substr(0, 500));
  });
  const double again = timed([&] {
    if (client.Exchange(post, &body) != 200) Die("import again: " + body.substr(0, 500));
  });
  v1::ImportInventoryResponse out;
  const v1::ImportInventoryRequest by_grpc = ImportRequest(import_units, "r", 25'000'000);
  const double via_grpc = timed([&] { grpc_call(&v1::RealtyService::Stub::ImportInventory, by_grpc, &out); });
  if (out.units_created() != import_units) Die("the gRPC import did not create every unit");
  const v1::ImportInventoryRequest repriced = ImportRequest(import_units, "r", 26'000'000);
  const double updates = timed([&] { grpc_call(&v1::RealtyService::Stub::ImportInventory, repriced, &out); });
  if (out.units_updated() != import_units || out.prices_recorded() != import_units)
    Die("the repricing missed units");
  std::printf("import %5d raw      %8.0f units/s  (unit rows + price rows + outbox rows, one transaction)\n",
              import_units, raw);
  std::printf(
      "import %5d gateway  %8.0f units/s  (POST /v1/realty/inventory:import, %zu bytes of JSON, new units)\n",
      import_units, via_gateway, json.size());
  std::printf("import %5d again    %8.0f units/s  (the same rows: nothing written)\n", import_units, again);
  std::printf("import %5d grpc     %8.0f units/s  (RealtyService.ImportInventory, new units)\n", import_units,
              via_grpc);
  std::printf("import %5d reprice  %8.0f units/s  (every price moved: %d updates, price rows and events)\n",
              import_units, updates, import_units);
  std::printf(
      "import ratio gateway/raw %.2f   grpc/raw %.2f   reprice/raw %.2f   (target >= 20 000 units/s)\n",
      via_gateway / raw, via_grpc / raw, updates / raw);
  // The gateway's own share of an import: new units through the gateway and over gRPC in turn, so that
  // both meet the same table sizes and the same moments of the machine; medians.
  std::vector<double> gw_ms, grpc_ms;
  for (int round = 1; round <= kImportRounds; ++round) {
    std::string round_json;
    if (!google::protobuf::util::MessageToJsonString(
             ImportRequest(import_units, absl::StrCat("g", round), 25'000'000), &round_json, jo)
             .ok()) {
      Die("json");
    }
    const std::string round_post = absl::StrCat(
        "POST /v1/realty/inventory:import HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ", *token,
        "\r\nContent-Type: application/json\r\nContent-Length: ", round_json.size(), "\r\n\r\n", round_json);
    gw_ms.push_back(1000.0 * import_units / timed([&] {
      if (client.Exchange(round_post, &body) != 200) Die("import: " + body.substr(0, 500));
    }));
    const v1::ImportInventoryRequest round_req = ImportRequest(import_units, absl::StrCat("r", round), 25'000'000);
    grpc_ms.push_back(1000.0 * import_units /
                      timed([&] { grpc_call(&v1::RealtyService::Stub::ImportInventory, round_req, &out); }));
  }
  std::sort(gw_ms.begin(), gw_ms.end());
  std::sort(grpc_ms.begin(), grpc_ms.end());
  const double gw_median = gw_ms[gw_ms.size() / 2], grpc_median = grpc_ms[grpc_ms.size() / 2];
  std::printf("import %5d in turn  gateway %8.0f units/s (%.0f ms)   grpc %8.0f units/s (%.0f ms)   median of %d "
              "rounds: the gateway's share %.0f ms a call\n",
              import_units, 1000.0 * import_units / gw_median, gw_median, 1000.0 * import_units / grpc_median,
              grpc_median, kImportRounds, gw_median - grpc_median);
  (*http)->Stop(absl::Seconds(2));
  server->Shutdown();
  server->Wait();
  std::remove(jwks_path.c_str());
  return 0;
}
