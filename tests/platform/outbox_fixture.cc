#include "tests/platform/outbox_fixture.h"

#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <thread>

#include "absl/strings/str_cat.h"
#include "google/protobuf/wrappers.pb.h"
#include "libs/base/status.h"
#include "libs/events/outbox.h"
#include "libs/events/schema.h"
#include "libs/pg/pool.h"

namespace crm::testing {

std::vector<pg::Migration> OutboxScenarioMigrations() {
  std::vector<pg::Migration> all = EventsMigrations();
  all.push_back({"scenario", 1, "0001_items.sql",
                 "CREATE TABLE items (id text PRIMARY KEY, version integer NOT NULL DEFAULT 0);"
                 "CREATE TABLE effects (n bigserial PRIMARY KEY, consumer text NOT NULL, item text NOT NULL,"
                 "                      version integer NOT NULL, event_id uuid NOT NULL);"});
  return all;
}

absl::Status WriteChanges(const std::string& dsn, int keys, int versions, int threads) {
  CRM_ASSIGN_OR_RETURN(auto pool, pg::Pool::Create({.dsn = dsn, .size = threads}));
  CRM_RETURN_IF_ERROR(pg::InTransaction(*pool, [&](pqxx::work& tx) {
    tx.exec_params(
        "INSERT INTO items (id) SELECT 'item-' || g FROM generate_series(0, $1 - 1) g "
        "ON CONFLICT (id) DO NOTHING",
        keys);
    return absl::OkStatus();
  }));
  const events::OutboxWriter outbox("test");
  std::vector<absl::Status> results(threads);
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&, t] {
      for (int v = 0; v < versions; ++v) {
        for (int k = t; k < keys; k += threads) {
          const std::string item = absl::StrCat("item-", k);
          absl::Status s = pg::InTransaction(*pool, [&](pqxx::work& tx) -> absl::Status {
            const int version =
                tx.exec_params1("UPDATE items SET version = version + 1 WHERE id = $1 RETURNING version",
                                item)[0]
                    .as<int>();
            google::protobuf::Int64Value payload;
            payload.set_value(version);
            return outbox
                .Append(tx, {.aggregate_type = "item",
                             .aggregate_id = item,
                             .type = "crm.test.item.changed.v1",
                             .payload = &payload})
                .status();
          });
          if (!s.ok()) {
            results[t] = s;
            return;
          }
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  for (const auto& s : results) CRM_RETURN_IF_ERROR(s);
  return absl::OkStatus();
}

events::Handler EffectHandler(std::string consumer) {
  return [consumer](pqxx::transaction_base& tx, const events::ConsumedEvent& event) -> absl::Status {
    google::protobuf::Int64Value version;
    if (!event.envelope.payload().UnpackTo(&version)) {
      return absl::InvalidArgumentError("payload: not a google.protobuf.Int64Value");
    }
    tx.exec_params("INSERT INTO effects (consumer, item, version, event_id) VALUES ($1, $2, $3, $4::uuid)",
                   consumer, event.envelope.subject(), version.value(), event.envelope.id());
    return absl::OkStatus();
  };
}

absl::StatusOr<EffectsReport> ReportEffects(const std::string& dsn, const std::string& consumer) {
  try {
    pqxx::connection c(dsn);
    pqxx::nontransaction tx(c);
    auto row = tx.exec_params1(
        "SELECT count(*), count(DISTINCT event_id), count(DISTINCT item),"
        "       count(*) FILTER (WHERE version <> prev + 1)"
        "  FROM (SELECT item, version, event_id,"
        "               coalesce(lag(version) OVER (PARTITION BY item ORDER BY n), 0) AS prev"
        "          FROM effects WHERE consumer = $1) e",
        consumer);
    return EffectsReport{row[0].as<int64_t>(), row[1].as<int64_t>(), row[2].as<int64_t>(),
                         row[3].as<int64_t>()};
  } catch (const std::exception& e) {
    return pg::StatusFromException(e);
  }
}

namespace {
absl::StatusOr<int64_t> Count(const std::string& dsn, const std::string& sql, const std::string& arg) {
  try {
    pqxx::connection c(dsn);
    pqxx::nontransaction tx(c);
    return arg.empty() ? tx.exec1(sql)[0].as<int64_t>() : tx.exec_params1(sql, arg)[0].as<int64_t>();
  } catch (const std::exception& e) {
    return pg::StatusFromException(e);
  }
}
}  // namespace

absl::StatusOr<int64_t> CountPublished(const std::string& dsn) {
  return Count(dsn, "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL", "");
}

absl::StatusOr<int64_t> CountEffects(const std::string& dsn, const std::string& consumer) {
  return Count(dsn, "SELECT count(*) FROM effects WHERE consumer = $1", consumer);
}

}  // namespace crm::testing
