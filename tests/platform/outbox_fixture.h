// File: tests/platform/outbox_fixture.h
// -----------------------------------------------------------------------------
// The scenario every outbox proof uses: `items` whose versions are bumped one transaction at a time,
// each bump appending an event "crm.test.item.changed.v1" (payload: the new version) to the outbox;
// and a consumer whose effect is one `effects` row per event. `effects` has no unique key, so a
// doubled effect shows up as a second row, and its serial column records the order effects happened.
#ifndef CRM_TESTS_PLATFORM_OUTBOX_FIXTURE_H_
#define CRM_TESTS_PLATFORM_OUTBOX_FIXTURE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/events/consumer.h"
#include "libs/pg/migrations.h"

namespace crm::testing {

inline constexpr char kItemTopic[] = "crm.test.item.v1";

// The events tables plus `items` and `effects`.
std::vector<pg::Migration> OutboxScenarioMigrations();

// Creates `keys` items (those missing) and bumps each `versions` times (keys × versions events), from
// `threads` writers, each owning a share of the keys so one item's bumps happen in order.
absl::Status WriteChanges(const std::string& dsn, int keys, int versions, int threads);

// The consumer's effect: one `effects` row (consumer, item, version, event id).
events::Handler EffectHandler(std::string consumer);

struct EffectsReport {
  int64_t rows = 0;             // effects stored
  int64_t distinct_events = 0;  // distinct event ids among them
  int64_t items = 0;            // distinct items
  int64_t out_of_order = 0;     // effects whose version is not 1 + the item's previous effect's
};
absl::StatusOr<EffectsReport> ReportEffects(const std::string& dsn, const std::string& consumer);
absl::StatusOr<int64_t> CountPublished(const std::string& dsn);
absl::StatusOr<int64_t> CountEffects(const std::string& dsn, const std::string& consumer);

}  // namespace crm::testing

#endif  // CRM_TESTS_PLATFORM_OUTBOX_FIXTURE_H_
