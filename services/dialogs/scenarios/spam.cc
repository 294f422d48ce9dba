// File: services/dialogs/scenarios/spam.cc
#include "services/dialogs/scenarios/spam.h"

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/pg/statement_recorder.h"
#include "services/dialogs/scenarios/store.h"

namespace crm::dialogs::scenarios {
namespace {

constexpr char kAdd[] =
    "INSERT INTO scenario_spam (bot_id, client_key, dialog_id, create_time) VALUES ($1, $2, $3, "
    "$4::timestamptz) ON CONFLICT DO NOTHING";
constexpr char kContains[] = "SELECT 1 FROM scenario_spam WHERE bot_id = $1 AND client_key = $2";
constexpr char kRemove[] = "DELETE FROM scenario_spam WHERE bot_id = $1 AND client_key = $2";
// A bot's entries newest first, after the keyset ($2 micros since the epoch, $3 client; $3 = '' from the
// start): scenario_spam_bot_time read backwards.
constexpr char kList[] =
    "SELECT client_key, dialog_id, (extract(epoch FROM create_time) * 1000000)::bigint FROM scenario_spam "
    "WHERE bot_id = $1 AND ($3 = '' OR (create_time, client_key) < ('epoch'::timestamptz + "
    "$2::bigint * interval '1 microsecond', $3)) ORDER BY create_time DESC, client_key DESC LIMIT $4";

}  // namespace

absl::Status SpamList::Add(pqxx::transaction_base& tx, std::string_view bot_id, std::string_view client_key,
                           std::string_view dialog_id, absl::Time now) {
  crm::pg::ExecPrepared(tx, kAdd, std::string(bot_id), std::string(client_key), std::string(dialog_id),
                        FormatRfc3339Utc(now));
  return absl::OkStatus();
}

absl::StatusOr<bool> SpamList::Contains(pqxx::transaction_base& tx, std::string_view bot_id,
                                        std::string_view client_key) {
  return !crm::pg::ExecPrepared(tx, kContains, std::string(bot_id), std::string(client_key)).empty();
}

absl::StatusOr<v1::ListSpamResponse> SpamList::List(const v1::ListSpamRequest& req) {
  std::vector<FieldViolation> v;
  if (req.bot_id().empty()) v.push_back({"bot_id", "is required"});
  int size = kDefaultPageSize;
  if (req.page_size() < 0) v.push_back({"page_size", "must not be negative"});
  else if (req.page_size() > 0) size = std::min(req.page_size(), kMaxPageSize);
  std::string after_micros = "0";
  std::string after_client;
  if (!req.page_token().empty()) {
    std::vector<std::string> parts = absl::StrSplit(AsAbsl(req.page_token()), '.');
    int64_t micros = 0;
    if (parts.size() != 3 || parts[0] != "k1" || !absl::SimpleAtoi(parts[1], &micros) ||
        !absl::WebSafeBase64Unescape(parts[2], &after_client) || after_client.empty()) {
      v.push_back({"page_token", "not a token this list returned"});
    } else {
      after_micros = parts[1];
    }
  }
  if (!v.empty()) return InvalidFieldsError(v);
  v1::ListSpamResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.Clear();
    const std::vector<std::string> params = {req.bot_id(), after_micros, after_client, std::to_string(size + 1)};
    crm::pg::RecordStatement(kList, params);
    pqxx::result r = crm::pg::ExecPrepared(tx, kList, params[0], params[1], params[2], size + 1);
    for (int i = 0; i < static_cast<int>(r.size()) && i < size; ++i) {
      v1::SpamEntry* e = out.add_spam_entries();
      e->set_bot_id(req.bot_id());
      e->set_client_key(r[i][0].as<std::string>());
      e->set_dialog_id(r[i][1].as<std::string>());
      *e->mutable_create_time() = ToProtoTimestamp(absl::FromUnixMicros(r[i][2].as<int64_t>()));
    }
    if (static_cast<int>(r.size()) > size) {
      out.set_next_page_token(absl::StrCat("k1.", r[size - 1][2].as<std::string>(), ".",
                                           absl::WebSafeBase64Escape(r[size - 1][0].as<std::string>())));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status SpamList::Remove(const v1::RemoveSpamRequest& req) {
  std::vector<FieldViolation> v;
  if (req.bot_id().empty()) v.push_back({"bot_id", "is required"});
  if (req.client_key().empty()) v.push_back({"client_key", "is required"});
  if (!v.empty()) return InvalidFieldsError(v);
  return crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    if (crm::pg::ExecPrepared(tx, kRemove, req.bot_id(), req.client_key()).affected_rows() == 0) {
      return absl::NotFoundError(absl::StrCat("client ", req.client_key(), " is not on bot ", req.bot_id(),
                                              "'s spam list"));
    }
    return absl::OkStatus();
  });
}

}  // namespace crm::dialogs::scenarios
