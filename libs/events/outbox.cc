#include "libs/events/outbox.h"

#include <pqxx/pqxx>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/message.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/notify.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
#include "proto/crm/events/v1/envelope.pb.h"

namespace crm::events {
namespace {

constexpr size_t kMaxField = 255;  // varchar(255) columns, as Debezium's outbox has them

bool IsIdentifier(std::string_view s, bool allow_dash) {
  if (s.empty() || s.size() > 64 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (allow_dash && c == '-');
    if (!ok) return false;
  }
  return true;
}

absl::Status CheckField(std::string_view name, std::string_view value) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat("event.", AsAbsl(name), ": required"));
  if (value.size() > kMaxField) {
    return absl::InvalidArgumentError(
        absl::StrCat("event.", AsAbsl(name), ": longer than ", kMaxField, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

OutboxWriter::OutboxWriter(std::string service) : OutboxWriter(std::move(service), SystemClock()) {}

OutboxWriter::OutboxWriter(std::string service, const Clock& clock)
    : service_(std::move(service)), clock_(&clock) {
  // A bad service name is a programming error caught by the first test of any service.
  if (!IsIdentifier(service_, /*allow_dash=*/true)) std::abort();
}

std::string OutboxWriter::TopicFor(std::string_view aggregate_type) const {
  return absl::StrCat("crm.", service_, ".", AsAbsl(aggregate_type), ".v1");
}

namespace {

// An event's outbox row: the columns of kOutboxColumns, the payload as serialized bytes.
struct OutboxRow {
  std::string id, aggregate_type, aggregate_id, type, payload, topic, source, occurred_at;
};

absl::StatusOr<OutboxRow> BuildRow(const NewEvent& event, const std::string& service, absl::Time now,
                                   std::string topic) {
  if (!IsIdentifier(event.aggregate_type, /*allow_dash=*/false)) {
    return absl::InvalidArgumentError(
        absl::StrCat("event.aggregate_type: \"", event.aggregate_type, "\" is not [a-z][a-z0-9_]*"));
  }
  if (auto s = CheckField("aggregate_id", event.aggregate_id); !s.ok()) return s;
  if (auto s = CheckField("type", event.type); !s.ok()) return s;
  if (event.payload == nullptr) return absl::InvalidArgumentError("event.payload: required");
  if (event.automation_depth < 0 || event.automation_depth > kMaxAutomationDepth) {
    return absl::InvalidArgumentError(absl::StrCat("event.automation_depth: ", event.automation_depth,
                                                   " is not in 0..", kMaxAutomationDepth));
  }

  v1::Envelope envelope;
  envelope.set_id(NewUuidV7());
  envelope.set_type(event.type);
  envelope.set_source(absl::StrCat("/crm/", service));
  envelope.set_subject(event.aggregate_id);
  *envelope.mutable_time() = ToProtoTimestamp(now);
  // Who, not what they may do: the access token's permissions stay out of the event (topics are read by
  // integrators; a head of sales holds dozens of codes, most of an import event's bytes).
  *envelope.mutable_actor() = event.actor;
  envelope.mutable_actor()->clear_permissions();
  envelope.set_request_id(event.request_id);
  envelope.set_aggregate_type(event.aggregate_type);
  envelope.mutable_payload()->PackFrom(*event.payload);
  for (const std::string& u : event.visible_to_user_ids) envelope.add_visible_to_user_ids(u);
  for (const std::string& t : event.visible_to_team_ids) envelope.add_visible_to_team_ids(t);
  envelope.set_automation_depth(event.automation_depth);
  envelope.set_skip_automation(event.skip_automation);
  OutboxRow row;
  if (!envelope.SerializeToString(&row.payload)) {
    return absl::InternalError("event: cannot serialize the envelope");
  }
  if (row.payload.size() > kMaxEventBytes) {
    return absl::InvalidArgumentError(absl::StrCat("event.payload: the ", event.type, " event is ",
                                                   row.payload.size(), " bytes; one event carries at most ",
                                                   kMaxEventBytes));
  }
  row.id = envelope.id();
  row.aggregate_type = event.aggregate_type;
  row.aggregate_id = event.aggregate_id;
  row.type = event.type;
  row.topic = std::move(topic);
  row.source = envelope.source();
  row.occurred_at = FormatRfc3339Utc(now);
  return row;
}

}  // namespace

void WakeRelayAtCommit(pqxx::transaction_base& tx) { pg::NotifyAfterCommit(tx, kOutboxChannel); }

absl::StatusOr<std::vector<std::string>> OutboxWriter::Row(const NewEvent& event) const {
  CRM_ASSIGN_OR_RETURN(OutboxRow row, BuildRow(event, service_, clock_->Now(), TopicFor(event.aggregate_type)));
  std::string hex = absl::StrCat("\\x", absl::BytesToHexString(row.payload));
  return std::vector<std::string>{std::move(row.id),   std::move(row.aggregate_type), std::move(row.aggregate_id),
                                  std::move(row.type), std::move(hex),                std::move(row.topic),
                                  std::move(row.source), std::move(row.occurred_at)};
}

absl::StatusOr<std::string> OutboxWriter::Append(pqxx::transaction_base& tx, const NewEvent& event) const {
  CRM_ASSIGN_OR_RETURN(OutboxRow row, BuildRow(event, service_, clock_->Now(), TopicFor(event.aggregate_type)));
  // The payload goes as binary (half the bytes of Row()'s hex text).
  pg::ExecPrepared(tx,
      "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at) "
      "VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::timestamptz)",
      row.id, row.aggregate_type, row.aggregate_id, row.type,
      pqxx::binarystring(row.payload.data(), row.payload.size()), row.topic, row.source, row.occurred_at);
  WakeRelayAtCommit(tx);
  return row.id;
}

namespace {

// OutboxBatch::Flush's statement: row i's payload is bytes [off_i, off_i + len_i) of the one binary $5.
constexpr char kInsertBatch[] =
    "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at) "
    "SELECT t.id, t.aggregatetype, t.aggregateid, t.type, substring($5::bytea FROM t.off FOR t.len), t.topic, "
    "$9, t.occurred_at FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $6::int[], $7::int[], "
    "$8::text[], $10::timestamptz[]) AS t(id, aggregatetype, aggregateid, type, off, len, topic, occurred_at)";

}  // namespace

OutboxBatch::OutboxBatch(const OutboxWriter& writer) : writer_(writer) {}

absl::StatusOr<std::string> OutboxBatch::Add(const NewEvent& event) {
  CRM_ASSIGN_OR_RETURN(OutboxRow row, BuildRow(event, writer_.service(), writer_.clock().Now(),
                                               writer_.TopicFor(event.aggregate_type)));
  if (payloads_.size() + row.payload.size() > size_t{1} << 30) {
    return absl::InvalidArgumentError("events: more than 1 GiB of events in one batch");
  }
  ids_.push_back(row.id);
  aggregate_types_.push_back(std::move(row.aggregate_type));
  aggregate_ids_.push_back(std::move(row.aggregate_id));
  types_.push_back(std::move(row.type));
  topics_.push_back(std::move(row.topic));
  occurred_.push_back(std::move(row.occurred_at));
  lengths_.push_back(static_cast<int64_t>(row.payload.size()));
  payloads_ += row.payload;
  return row.id;
}

absl::Status OutboxBatch::Flush(pqxx::transaction_base& tx) {
  if (lengths_.empty()) return absl::OkStatus();
  std::string offsets = "{", lengths = "{";
  int64_t at = 1;  // substring counts from 1
  for (size_t i = 0; i < lengths_.size(); ++i) {
    absl::StrAppend(&offsets, i ? "," : "", at);
    absl::StrAppend(&lengths, i ? "," : "", lengths_[i]);
    at += lengths_[i];
  }
  offsets += "}";
  lengths += "}";
  pg::ExecPrepared(tx, kInsertBatch, pg::ArrayLiteral(ids_), pg::ArrayLiteral(aggregate_types_),
                   pg::ArrayLiteral(aggregate_ids_), pg::ArrayLiteral(types_),
                   pqxx::binarystring(payloads_.data(), payloads_.size()), offsets, lengths,
                   pg::ArrayLiteral(topics_), absl::StrCat("/crm/", writer_.service()), pg::ArrayLiteral(occurred_));
  WakeRelayAtCommit(tx);
  ids_.clear();
  aggregate_types_.clear();
  aggregate_ids_.clear();
  types_.clear();
  topics_.clear();
  occurred_.clear();
  lengths_.clear();
  payloads_.clear();
  return absl::OkStatus();
}

}  // namespace crm::events
