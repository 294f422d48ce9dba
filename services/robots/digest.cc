// File: services/robots/digest.cc
#include "services/robots/digest.h"

#include <pqxx/pqxx>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/status.h"
#include "libs/pg/sql_time.h"
#include "services/robots/timers.h"

namespace crm::robots {
namespace {

using crm::pg::MicrosOf;
using crm::pg::TimeOfMicros;

// Opens the window at $3 unless one opened after $3 - $4: a row back means "send now".
const std::string& kOpenWindow() {
  static const std::string* const sql = new std::string(absl::StrCat(
      "INSERT INTO notify_windows AS w (recipient, channel, opened_at) VALUES ($1, $2, ", TimeOfMicros(3),
      ") ON CONFLICT (recipient, channel) DO UPDATE SET opened_at = EXCLUDED.opened_at "
      "WHERE w.opened_at <= EXCLUDED.opened_at - $4::bigint * interval '1 microsecond' RETURNING 1"));
  return *sql;
}

const std::string& kWindowStart() {
  static const std::string* const sql = new std::string(
      absl::StrCat("SELECT ", MicrosOf("opened_at"), " FROM notify_windows WHERE recipient = $1 AND channel = $2"));
  return *sql;
}

const std::string& kHold() {
  static const std::string* const sql = new std::string(absl::StrCat(
      "INSERT INTO notify_pending (recipient, channel, recipient_name, email, deal_id, rule_id, execution_id, "
      "subject, text, create_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, ",
      TimeOfMicros(10), ")"));
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

std::string Payload(const std::string& recipient, int channel) { return absl::StrCat(recipient, "\n", channel); }

}  // namespace

absl::StatusOr<bool> DigestGate::Admit(pqxx::transaction_base& tx, const DigestItem& item, absl::Time now) const {
  if (window_ <= absl::ZeroDuration()) return true;
  const int64_t now_us = absl::ToUnixMicros(now);
  if (!tx.exec_params(kOpenWindow(), item.recipient, item.channel, now_us, absl::ToInt64Microseconds(window_))
           .empty()) {
    return true;
  }
  const pqxx::result start = tx.exec_params(kWindowStart(), item.recipient, item.channel);
  const int64_t opened_us = start.empty() ? now_us : start[0][0].as<int64_t>();
  tx.exec_params(kHold(), item.recipient, item.channel, item.recipient_name, item.email, item.deal_id, item.rule_id,
                 item.execution_id, item.subject, item.text, now_us);
  CRM_ASSIGN_OR_RETURN(ScheduleOutcome outcome,
                       TimerStore::Schedule(tx, absl::StrCat("digest:", item.recipient, ":", item.channel, ":", opened_us),
                                            kDigestTimerKind, absl::FromUnixMicros(opened_us) + window_,
                                            Payload(item.recipient, item.channel)));
  (void)outcome;
  return false;
}

absl::StatusOr<std::vector<DigestItem>> DigestGate::Flush(pqxx::transaction_base& tx, const std::string& payload,
                                                          absl::Time now) const {
  std::vector<std::string> parts = absl::StrSplit(payload, '\n');
  int channel = 0;
  if (parts.size() != 2 || parts[0].empty() || !absl::SimpleAtoi(parts[1], &channel)) {
    return absl::InvalidArgumentError("not a digest timer's payload");
  }
  std::vector<std::pair<int64_t, DigestItem>> taken;
  for (const pqxx::row& r : tx.exec_params(kTake, parts[0], channel)) {
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
  if (!out.empty()) tx.exec_params(kReopen(), parts[0], channel, absl::ToUnixMicros(now));
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
