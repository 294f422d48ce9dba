// File: services/robots/digest.cc
#include "services/robots/digest.h"

#include <pqxx/pqxx>

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/status.h"
#include "libs/pg/prepared.h"
#include "libs/pg/sql_array.h"
#include "libs/pg/sql_time.h"
#include "libs/timers/timers.h"

namespace crm::robots {
namespace {

using crm::pg::TimeOfMicros;

// One notification for the recipients $1 (names $2, e-mails $3) on channel $4 at $5 (Unix µs): opens the
// window of each who had no message within $6 µs before (returned: they get it now) and keeps it for the
// others. Windows still open are read without locking them, so in a burst concurrent notifications to the
// same people only insert what they hold; a window is locked (in recipient order, so never in a deadlock)
// only to open it, and its condition is checked again on the row as it is then.
const std::string& kAdmit() {
  static const std::string* const sql = new std::string(absl::StrCat(
      "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS t(recipient, name, email)), "
      "still_open AS (SELECT recipient FROM notify_windows WHERE channel = $4 AND recipient = ANY($1::text[]) "
      "AND opened_at > ", TimeOfMicros(5), " - $6::bigint * interval '1 microsecond'), "
      "opened AS (INSERT INTO notify_windows AS w (recipient, channel, opened_at) "
      "SELECT recipient, $4, ", TimeOfMicros(5), " FROM input WHERE recipient NOT IN (SELECT recipient FROM still_open) "
      "ORDER BY recipient "
      "ON CONFLICT (recipient, channel) DO UPDATE SET opened_at = EXCLUDED.opened_at "
      "WHERE w.opened_at <= EXCLUDED.opened_at - $6::bigint * interval '1 microsecond' RETURNING recipient), "
      "held AS (INSERT INTO notify_pending (recipient, channel, recipient_name, email, deal_id, rule_id, "
      "execution_id, subject, text, create_time) SELECT i.recipient, $4, i.name, i.email, $7, $8, $9, $10, $11, ",
      TimeOfMicros(5), " FROM input i WHERE i.recipient NOT IN (SELECT recipient FROM opened)) "
      "SELECT recipient FROM opened"));
  return *sql;
}

constexpr char kTake[] =
    "DELETE FROM notify_pending WHERE recipient = $1 AND channel = $2 RETURNING id, recipient_name, email, deal_id, "
    "rule_id, execution_id, subject, text";

const std::string& kReopen() {
  static const std::string* const sql = new std::string(absl::StrCat(
      "UPDATE notify_windows SET opened_at = ", TimeOfMicros(3), " WHERE recipient = $1 AND channel = $2"));
  return *sql;
}

// The `field` of every item, as one array parameter.
std::string ArrayOf(const std::vector<DigestItem>& items, std::string DigestItem::*field) {
  std::vector<std::string> values;
  values.reserve(items.size());
  for (const DigestItem& item : items) values.push_back(item.*field);
  return pg::ArrayLiteral(values);
}

std::string Payload(const std::string& recipient, int channel) { return absl::StrCat(recipient, "\n", channel); }

// The timer that ends the window of (recipient, channel) opened at `opened`.
timers::TimerStore::NewTimer WindowTimer(const std::string& recipient, int channel, absl::Time opened, absl::Duration window) {
  return {.key = absl::StrCat("digest:", recipient, ":", channel, ":", absl::ToUnixMicros(opened)),
          .kind = kDigestTimerKind,
          .due = opened + window,
          .payload = Payload(recipient, channel)};
}

}  // namespace

absl::StatusOr<std::vector<bool>> DigestGate::Admit(pqxx::transaction_base& tx, const std::vector<DigestItem>& items,
                                                    absl::Time now) const {
  std::vector<bool> out(items.size(), true);
  if (window_ <= absl::ZeroDuration() || items.empty()) return out;
  const DigestItem& first = items.front();
  std::set<std::string> opened;
  for (const pqxx::row& r :
       pg::ExecPrepared(tx, kAdmit(), ArrayOf(items, &DigestItem::recipient), ArrayOf(items, &DigestItem::recipient_name),
                      ArrayOf(items, &DigestItem::email), first.channel, absl::ToUnixMicros(now),
                      absl::ToInt64Microseconds(window_), first.deal_id, first.rule_id, first.execution_id,
                      first.subject, first.text)) {
    opened.insert(r[0].c_str());
  }
  std::vector<timers::TimerStore::NewTimer> timers;
  for (size_t i = 0; i < items.size(); ++i) {
    out[i] = opened.contains(items[i].recipient);
    if (out[i]) timers.push_back(WindowTimer(items[i].recipient, first.channel, now, window_));
  }
  CRM_RETURN_IF_ERROR(timers::TimerStore::CreateAll(tx, timers));
  return out;
}

absl::StatusOr<std::vector<DigestItem>> DigestGate::Flush(pqxx::transaction_base& tx, const std::string& payload,
                                                          absl::Time now) const {
  std::vector<std::string> parts = absl::StrSplit(payload, '\n');
  int channel = 0;
  if (parts.size() != 2 || parts[0].empty() || !absl::SimpleAtoi(parts[1], &channel)) {
    return absl::InvalidArgumentError("not a digest timer's payload");
  }
  std::vector<std::pair<int64_t, DigestItem>> taken;
  for (const pqxx::row& r : pg::ExecPrepared(tx, kTake, parts[0], channel)) {
    DigestItem item{.recipient = parts[0],
                    .channel = channel,
                    .recipient_name = r[1].c_str(),
                    .email = r[2].c_str(),
                    .deal_id = r[3].c_str(),
                    .rule_id = r[4].c_str(),
                    .execution_id = r[5].c_str(),
                    .subject = r[6].c_str(),
                    .text = r[7].c_str()};
    taken.emplace_back(r[0].as<int64_t>(), std::move(item));
  }
  std::sort(taken.begin(), taken.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<DigestItem> out;
  out.reserve(taken.size());
  for (auto& [id, item] : taken) out.push_back(std::move(item));
  if (!out.empty()) {
    pg::ExecPrepared(tx, kReopen(), parts[0], channel, absl::ToUnixMicros(now));
    CRM_RETURN_IF_ERROR(timers::TimerStore::CreateAll(tx, {WindowTimer(parts[0], channel, now, window_)}));
  }
  return out;
}

std::string DigestSubject(const std::vector<DigestItem>& items) {
  return absl::StrCat("Сводка уведомлений: ", items.size());
}

std::string DigestText(const std::vector<DigestItem>& items, const std::string& deal_url_prefix, int max_lines) {
  std::string out;
  const int shown = std::min<int>(max_lines, static_cast<int>(items.size()));
  for (int i = 0; i < shown; ++i) {
    absl::StrAppend(&out, "— ", items[i].subject,
                    items[i].deal_id.empty() ? "" : absl::StrCat(" ", deal_url_prefix, items[i].deal_id), "\n");
  }
  if (static_cast<int>(items.size()) > shown) {
    absl::StrAppend(&out, "… и ещё ", items.size() - shown, "\n");
  }
  return out;
}

}  // namespace crm::robots
