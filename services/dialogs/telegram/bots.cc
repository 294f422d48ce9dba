#include "services/dialogs/telegram/bots.h"

#include <openssl/sha.h>

#include <pqxx/pqxx>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/log/log.h"
#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "libs/rpc/call.h"
#include "services/dialogs/hours.h"
#include "services/dialogs/telegram/bot_api.h"
#include "services/dialogs/telegram/secrets.h"

namespace crm::dialogs::telegram {
namespace {

namespace v1 = crm::dialogs::v1;
using nlohmann::json;

constexpr int kDefaultPage = 50;
constexpr int kMaxPage = 200;

constexpr char kColumns[] =
    "id::text, name, username, intake_mode, hook, working_hours::text, out_of_hours_text, registered, "
    "intake_error, version, (extract(epoch FROM create_time) * 1000000)::bigint, "
    "(extract(epoch FROM update_time) * 1000000)::bigint";

const std::string& SelectBot() {
  static const std::string* s = new std::string(absl::StrCat("SELECT ", kColumns, " FROM tg_bots WHERE id = $1::uuid"));
  return *s;
}
const std::string& ListBots() {
  static const std::string* s = new std::string(absl::StrCat(
      "SELECT ", kColumns, " FROM tg_bots WHERE ($1::bigint IS NULL OR (create_time, id) > "
      "(to_timestamp(0) + $1 * interval '1 microsecond', $2::uuid)) ORDER BY create_time, id LIMIT $3"));
  return *s;
}
constexpr char kInsert[] =
    "INSERT INTO tg_bots (id, name, username, token_sealed, intake_mode, hook, secret_sealed, working_hours, "
    "out_of_hours_text, create_time, update_time) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, "
    "to_timestamp(0) + $10 * interval '1 microsecond', to_timestamp(0) + $10 * interval '1 microsecond')";
constexpr char kUpdate[] =
    "UPDATE tg_bots SET name = $3, username = $4, token_sealed = COALESCE($5, token_sealed), intake_mode = $6, "
    "working_hours = $7::jsonb, out_of_hours_text = $8, registered = CASE WHEN $9 THEN '' ELSE registered END, "
    "version = version + 1, update_time = to_timestamp(0) + $10 * interval '1 microsecond' "
    "WHERE id = $1::uuid AND ($2 = 0 OR version = $2)";
constexpr char kSecrets[] =
    "SELECT token_sealed, secret_sealed, intake_mode, hook, registered FROM tg_bots WHERE id = $1::uuid";
constexpr char kRegistered[] =
    "UPDATE tg_bots SET registered = $2, intake_error = '' WHERE id = $1::uuid AND intake_mode = $3";
constexpr char kRegisterError[] = "UPDATE tg_bots SET intake_error = $2 WHERE id = $1::uuid";
constexpr char kHours[] = "SELECT working_hours::text, out_of_hours_text FROM tg_bots WHERE id = $1::uuid";
constexpr char kInsertDemo[] =
    "INSERT INTO tg_bots (id, name, username, token_sealed, intake_mode, hook, secret_sealed, working_hours, "
    "out_of_hours_text, create_time, update_time) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, "
    "to_timestamp(0) + $10 * interval '1 microsecond', to_timestamp(0) + $10 * interval '1 microsecond') "
    "ON CONFLICT (id) DO NOTHING";
constexpr char kRuntimes[] = "SELECT id::text, token_sealed, intake_mode, poll_offset FROM tg_bots ORDER BY id";

std::string ModeName(v1::IntakeMode m) { return m == v1::INTAKE_MODE_POLLING ? "POLLING" : "WEBHOOK"; }
v1::IntakeMode ModeOf(std::string_view s) {
  return s == "POLLING" ? v1::INTAKE_MODE_POLLING : v1::INTAKE_MODE_WEBHOOK;
}

std::string HoursJson(const WeekHours& week) {
  json a = json::array();
  for (const auto& h : week) {
    a.push_back({{"weekday", h.weekday()}, {"start_minute", h.start_minute()}, {"end_minute", h.end_minute()}});
  }
  return a.dump();
}

void ParseHours(const std::string& text, WeekHours& week) {
  for (const json& h : json::parse(text)) {
    auto* d = week.Add();
    d->set_weekday(h.value("weekday", 0));
    d->set_start_minute(h.value("start_minute", 0));
    d->set_end_minute(h.value("end_minute", 0));
  }
}

std::string TokenContext(std::string_view id) { return absl::StrCat("tg_bots.token/", crm::AsAbsl(id)); }
std::string SecretContext(std::string_view id) { return absl::StrCat("tg_bots.secret/", crm::AsAbsl(id)); }

std::string Sha256Hex(std::string_view s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(d), sizeof d));
}

bool TokenShape(std::string_view token) {
  static const std::regex* re = new std::regex("^[0-9]{1,20}:[A-Za-z0-9_-]{1,100}$");
  return std::regex_match(token.begin(), token.end(), *re);
}

void ValidateBot(const v1::Bot& bot, std::vector<crm::FieldViolation>& bad) {
  if (bot.name().empty() || bot.name().size() > 200) bad.push_back({"bot.name", "1..200 bytes"});
  if (bot.out_of_hours_text().size() > 4096) bad.push_back({"bot.out_of_hours_text", "at most 4096 bytes"});
  if (!v1::IntakeMode_IsValid(bot.intake_mode())) bad.push_back({"bot.intake_mode", "WEBHOOK or POLLING"});
  ValidateWorkingHours(bot.working_hours(), "bot.working_hours", bad);
}

std::string PageToken(int64_t micros, std::string_view id) {
  return absl::WebSafeBase64Escape(absl::StrCat(micros, "/", crm::AsAbsl(id)));
}

}  // namespace

BotStore::BotStore(crm::pg::Pool& pool, const BotApi& api, const SecretBox& box, const crm::Clock& clock,
                   BotStoreOptions options)
    : pool_(pool), api_(api), box_(box), clock_(clock), options_(std::move(options)) {}

std::string BotStore::WebhookUrl(std::string_view hook) const {
  return absl::StrCat(options_.public_url, kHookPathPrefix, crm::AsAbsl(hook));
}

absl::StatusOr<std::string> BotStore::Username(std::string_view token) const {
  CRM_ASSIGN_OR_RETURN(ApiReply me, api_.Call(token, "getMe", json::object()));
  if (!me.ok) {
    return crm::InvalidFieldError("token", absl::StrCat("Telegram refused the token: ", me.description));
  }
  return me.result.is_object() && me.result.contains("username") && me.result["username"].is_string()
             ? me.result["username"].get<std::string>()
             : std::string();
}

namespace {

v1::Bot BotOf(const pqxx::row& r, const BotStore& store) {
  v1::Bot b;
  b.set_id(r[0].as<std::string>());
  b.set_name(r[1].as<std::string>());
  b.set_username(r[2].as<std::string>());
  b.set_intake_mode(ModeOf(r[3].as<std::string>()));
  b.set_webhook_url(store.WebhookUrl(r[4].as<std::string>()));
  ParseHours(r[5].as<std::string>(), *b.mutable_working_hours());
  b.set_out_of_hours_text(r[6].as<std::string>());
  const std::string registered = r[7].as<std::string>();
  const std::string error = r[8].as<std::string>();
  b.set_intake_error(!error.empty() ? error : registered.empty() ? "not registered yet" : "");
  b.set_version(r[9].as<int64_t>());
  *b.mutable_create_time() = crm::ToProtoTimestamp(absl::FromUnixMicros(r[10].as<int64_t>()));
  *b.mutable_update_time() = crm::ToProtoTimestamp(absl::FromUnixMicros(r[11].as<int64_t>()));
  return b;
}

}  // namespace

absl::StatusOr<v1::Bot> BotStore::Create(const crm::common::v1::Principal& caller, const v1::CreateBotRequest& req,
                                         std::string_view idempotency_key) {
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kAdminPermission));
  std::vector<crm::FieldViolation> bad;
  ValidateBot(req.bot(), bad);
  if (!TokenShape(req.token())) bad.push_back({"token", "required: the token @BotFather gave (<id>:<secret>)"});
  if (!bad.empty()) return crm::InvalidFieldsError(bad);
  CRM_ASSIGN_OR_RETURN(std::string username, Username(req.token()));
  // The idempotency record fingerprints the request without the token itself.
  v1::CreateBotRequest fingerprint = req;
  fingerprint.set_token(Sha256Hex(req.token()));
  const crm::pg::IdempotencyScope scope{.caller = crm::rpc::IdempotencyCaller(caller),
                                        .method = "crm.dialogs.v1.BotService/CreateBot",
                                        .key = std::string(idempotency_key)};
  const absl::Time now = clock_.Now();
  v1::Bot out;
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return crm::pg::RunIdempotent(tx, scope, now, fingerprint, out, [&]() -> absl::Status {
      const std::string id = crm::NewUuidV7();
      const v1::Bot& b = req.bot();
      crm::pg::ExecPrepared(tx, kInsert, id, b.name(), username, box_.Seal(TokenContext(id), req.token()),
                            ModeName(b.intake_mode()), RandomToken(32), box_.Seal(SecretContext(id), RandomToken(32)),
                            HoursJson(b.working_hours()), b.out_of_hours_text(), absl::ToUnixMicros(now));
      out = BotOf(crm::pg::ExecPrepared1(tx, SelectBot(), id), *this);
      return absl::OkStatus();
    });
  }));
  // Registration after the commit: a failure is on the bot (intake_error) and the worker retries it.
  if (absl::Status s = Register(out.id()); !s.ok()) {
    crm::log::Warn("bot intake not registered yet", {{"bot_id", out.id()}, {"error", std::string(s.message())}});
  }
  return Get(caller, out.id());
}

absl::StatusOr<v1::Bot> BotStore::Get(const crm::common::v1::Principal& caller, std::string_view id) {
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kAdminPermission));
  if (!crm::IsUuid(id)) return crm::InvalidFieldError("id", "must be a bot's id (UUID)");
  v1::Bot out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    pqxx::result r = crm::pg::ExecPrepared(tx, SelectBot(), std::string(id));
    if (r.empty()) return absl::NotFoundError(absl::StrCat("bot ", crm::AsAbsl(id), " not found"));
    out = BotOf(r[0], *this);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::ListBotsResponse> BotStore::List(const crm::common::v1::Principal& caller,
                                                    const v1::ListBotsRequest& req) {
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kAdminPermission));
  std::vector<crm::FieldViolation> bad;
  if (req.page_size() < 0) bad.push_back({"page_size", "must not be negative"});
  std::optional<int64_t> after_micros;
  std::string after_id = "00000000-0000-0000-0000-000000000000";
  if (!req.page_token().empty()) {
    std::string raw;
    std::pair<std::string, std::string> parts;
    int64_t micros = 0;
    if (absl::WebSafeBase64Unescape(req.page_token(), &raw) &&
        (parts = absl::StrSplit(raw, absl::MaxSplits('/', 1)), absl::SimpleAtoi(parts.first, &micros)) &&
        crm::IsUuid(parts.second)) {
      after_micros = micros;
      after_id = parts.second;
    } else {
      bad.push_back({"page_token", "not a token this list gave"});
    }
  }
  if (!bad.empty()) return crm::InvalidFieldsError(bad);
  const int size = req.page_size() == 0 ? kDefaultPage : std::min(req.page_size(), kMaxPage);
  v1::ListBotsResponse out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.Clear();
    pqxx::result r = crm::pg::ExecPrepared(tx, ListBots(), after_micros, after_id, size + 1);
    for (int i = 0; i < static_cast<int>(r.size()) && i < size; ++i) *out.add_bots() = BotOf(r[i], *this);
    if (static_cast<int>(r.size()) > size) {
      out.set_next_page_token(PageToken(r[size - 1][10].as<int64_t>(), r[size - 1][0].as<std::string>()));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::Bot> BotStore::Update(const crm::common::v1::Principal& caller, const v1::UpdateBotRequest& req) {
  CRM_RETURN_IF_ERROR(crm::rpc::RequirePermission(caller, kAdminPermission));
  CRM_ASSIGN_OR_RETURN(v1::Bot current, Get(caller, req.bot().id()));
  v1::Bot next = current;
  bool token_change = false;
  std::vector<crm::FieldViolation> bad;
  std::vector<std::string> paths(req.update_mask().paths().begin(), req.update_mask().paths().end());
  if (paths.empty()) paths = {"name", "intake_mode", "working_hours", "out_of_hours_text"};
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& p = paths[i];
    if (p == "name") {
      next.set_name(req.bot().name());
    } else if (p == "intake_mode") {
      next.set_intake_mode(req.bot().intake_mode());
    } else if (p == "working_hours") {
      *next.mutable_working_hours() = req.bot().working_hours();
    } else if (p == "out_of_hours_text") {
      next.set_out_of_hours_text(req.bot().out_of_hours_text());
    } else if (p == "token") {
      token_change = true;
      if (!TokenShape(req.token())) bad.push_back({"token", "the token @BotFather gave (<id>:<secret>)"});
    } else {
      bad.push_back({absl::StrCat("update_mask.paths[", i, "]"),
                     "one of name, intake_mode, working_hours, out_of_hours_text, token"});
    }
  }
  if (token_change == false && !req.token().empty()) {
    token_change = TokenShape(req.token());
    if (!token_change) bad.push_back({"token", "the token @BotFather gave (<id>:<secret>)"});
  }
  ValidateBot(next, bad);
  if (!bad.empty()) return crm::InvalidFieldsError(bad);
  std::optional<std::string> sealed;
  if (token_change) {
    CRM_ASSIGN_OR_RETURN(std::string username, Username(req.token()));
    next.set_username(username);
    sealed = box_.Seal(TokenContext(current.id()), req.token());
  }
  const bool reregister = token_change || next.intake_mode() != current.intake_mode();
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    pqxx::result r = crm::pg::ExecPrepared(tx, kUpdate, current.id(), req.bot().version(), next.name(),
                                           next.username(), sealed, ModeName(next.intake_mode()), HoursJson(next.working_hours()),
                                           next.out_of_hours_text(), reregister, absl::ToUnixMicros(clock_.Now()));
    if (r.affected_rows() == 0) {
      return absl::AbortedError(absl::StrCat("bot ", current.id(), ": version mismatch (it was changed)"));
    }
    return absl::OkStatus();
  }));
  if (reregister) {
    if (absl::Status s = Register(current.id()); !s.ok()) {
      crm::log::Warn("bot intake not registered yet", {{"bot_id", current.id()}, {"error", std::string(s.message())}});
    }
  }
  return Get(caller, current.id());
}

absl::Status BotStore::Register(std::string_view bot_id) {
  std::string token, secret, mode, hook, registered;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    pqxx::result r = crm::pg::ExecPrepared(tx, kSecrets, std::string(bot_id));
    if (r.empty()) return absl::NotFoundError(absl::StrCat("bot ", crm::AsAbsl(bot_id), " not found"));
    CRM_ASSIGN_OR_RETURN(token, box_.Open(TokenContext(bot_id), r[0][0].as<std::string>()));
    CRM_ASSIGN_OR_RETURN(secret, box_.Open(SecretContext(bot_id), r[0][1].as<std::string>()));
    mode = r[0][2].as<std::string>();
    hook = r[0][3].as<std::string>();
    registered = r[0][4].as<std::string>();
    return absl::OkStatus();
  }));
  const std::string want = mode == "WEBHOOK" ? absl::StrCat("WEBHOOK ", WebhookUrl(hook)) : "POLLING";
  if (registered == want) return absl::OkStatus();
  absl::StatusOr<ApiReply> reply =
      mode == "WEBHOOK"
          ? api_.Call(token, "setWebhook",
                      {{"url", WebhookUrl(hook)}, {"secret_token", secret}, {"allowed_updates", options_.allowed_updates},
                       {"max_connections", options_.max_connections}})
          : api_.Call(token, "deleteWebhook", {{"drop_pending_updates", false}});
  absl::Status result = absl::OkStatus();
  if (!reply.ok()) {
    result = reply.status();
  } else if (!reply->ok) {
    result = absl::FailedPreconditionError(absl::StrCat(mode == "WEBHOOK" ? "setWebhook" : "deleteWebhook", ": ",
                                                        reply->description));
  }
  CRM_RETURN_IF_ERROR(crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    if (result.ok()) {
      crm::pg::ExecPrepared(tx, kRegistered, std::string(bot_id), want, mode);
    } else {
      crm::pg::ExecPrepared(tx, kRegisterError, std::string(bot_id), std::string(result.message()));
    }
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<std::vector<BotRuntime>> BotStore::Runtimes() {
  std::vector<BotRuntime> out;
  CRM_RETURN_IF_ERROR(crm::pg::ReadOnce(pool_, [&](pqxx::transaction_base& tx) -> absl::Status {
    out.clear();
    for (const pqxx::row& r : crm::pg::ExecPrepared(tx, kRuntimes)) {
      BotRuntime b;
      b.id = r[0].as<std::string>();
      CRM_ASSIGN_OR_RETURN(b.token, box_.Open(TokenContext(b.id), r[1].as<std::string>()));
      b.mode = ModeOf(r[2].as<std::string>());
      b.poll_offset = r[3].as<int64_t>();
      out.push_back(std::move(b));
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace crm::dialogs::telegram

namespace crm::dialogs::telegram {

absl::StatusOr<BotHours> BotStore::Hours(pqxx::transaction_base& tx, std::string_view bot_id) {
  BotHours out;
  if (!crm::IsUuid(bot_id)) return out;
  pqxx::result r = crm::pg::ExecPrepared(tx, kHours, std::string(bot_id));
  if (r.empty()) return out;
  ParseHours(r[0][0].as<std::string>(), out.working_hours);
  out.out_of_hours_text = r[0][1].as<std::string>();
  return out;
}

absl::Status BotStore::InstallDemo(const v1::Bot& bot, std::string_view token) {
  std::vector<crm::FieldViolation> bad;
  ValidateBot(bot, bad);
  if (!TokenShape(token)) bad.push_back({"token", "the token @BotFather gave (<id>:<secret>)"});
  if (!bad.empty()) return crm::InvalidFieldsError(bad);
  const std::string username = absl::StrCat("fake", crm::AsAbsl(token.substr(0, token.find(':'))), "_bot");
  return crm::pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    crm::pg::ExecPrepared(tx, kInsertDemo, bot.id(), bot.name(), username, box_.Seal(TokenContext(bot.id()), token),
                          ModeName(bot.intake_mode()), RandomToken(32), box_.Seal(SecretContext(bot.id()), RandomToken(32)),
                          HoursJson(bot.working_hours()), bot.out_of_hours_text(), absl::ToUnixMicros(clock_.Now()));
    return absl::OkStatus();
  });
}

}  // namespace crm::dialogs::telegram
