// File: services/identity/store.cc
#include "services/identity/store.h"

#include <algorithm>
#include <map>
#include <pqxx/binarystring>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/identity/v1/events.pb.h"
#include "google/protobuf/empty.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "libs/auth/password.h"
#include "libs/auth/totp.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/strings.h"
#include "libs/base/time.h"
#include "libs/base/uuid.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"
#include "services/identity/revocation.h"
#include "services/identity/validate.h"

namespace crm::identity {

std::string SqlTime(absl::Time t) { return FormatRfc3339Utc(t); }

std::string SqlMicros(std::string_view column) {
  return absl::StrCat("(EXTRACT(EPOCH FROM ", AsAbsl(column), ") * 1000000)::bigint");
}

absl::Status RunIdempotentIn(pqxx::transaction_base& tx, const Idempotency& idempotency, absl::Time now,
                             google::protobuf::Message& reply, absl::FunctionRef<absl::Status()> fn) {
  if (idempotency.request == nullptr || idempotency.scope.key.empty()) return fn();
  return pg::RunIdempotent(tx, idempotency.scope, now, *idempotency.request, reply, fn);
}

namespace {

// Columns of `users u` read into a UserAuth by ReadUserRow (roles, teams, permissions come after).
std::string UserColumns() {
  return absl::StrCat(
      "u.id::text, u.login, u.full_name, u.email, u.phone, u.active, COALESCE(u.supervisor_id::text, ''), "
      "u.totp_enabled, u.version, ",
      SqlMicros("u.create_time"), ", ", SqlMicros("u.update_time"),
      ", u.password_hash, COALESCE(u.totp_secret, ''), COALESCE(u.totp_pending_secret, ''), "
      "u.totp_last_step");
}

UserAuth ReadUserRow(const pqxx::row& r) {
  UserAuth a;
  v1::User& u = a.user;
  u.set_id(r[0].c_str());
  u.set_login(r[1].c_str());
  u.set_full_name(r[2].c_str());
  u.set_email(r[3].c_str());
  u.set_phone(r[4].c_str());
  u.set_active(r[5].as<bool>());
  u.set_supervisor_id(r[6].c_str());
  u.set_totp_enabled(r[7].as<bool>());
  u.set_version(r[8].as<int64_t>());
  *u.mutable_create_time() = ToProtoTimestamp(absl::FromUnixMicros(r[9].as<int64_t>()));
  *u.mutable_update_time() = ToProtoTimestamp(absl::FromUnixMicros(r[10].as<int64_t>()));
  a.password_hash = r[11].c_str();
  a.totp_secret = r[12].c_str();
  a.totp_pending_secret = r[13].c_str();
  a.totp_last_step = r[14].as<int64_t>();
  return a;
}

// A PostgreSQL array literal of values already checked to need no quoting (UUIDs, role codes).
std::string ArrayLiteral(const std::vector<std::string>& values) {
  return absl::StrCat("{", absl::StrJoin(values, ","), "}");
}

// Fills roles, teams, permissions and role_requires_totp of `users` (at most a page) in two queries.
void FillRelations(pqxx::transaction_base& tx, std::vector<UserAuth>& users) {
  if (users.empty()) return;
  std::vector<std::string> ids;
  std::map<std::string, UserAuth*> by_id;
  for (UserAuth& u : users) {
    ids.push_back(u.user.id());
    by_id[u.user.id()] = &u;
  }
  const std::string arr = ArrayLiteral(ids);
  for (const pqxx::row& r :
       tx.exec_params("SELECT ur.user_id::text, ur.role_code, r.requires_totp, "
                      "       COALESCE(array_to_string(ARRAY(SELECT permission FROM role_permissions rp "
                      "                  WHERE rp.role_code = ur.role_code ORDER BY permission), ' '), '') "
                      "FROM user_roles ur JOIN roles r ON r.code = ur.role_code "
                      "WHERE ur.user_id = ANY($1::uuid[]) ORDER BY ur.role_code",
                      arr)) {
    UserAuth* u = by_id[r[0].c_str()];
    u->user.add_role_codes(r[1].c_str());
    if (r[2].as<bool>()) u->role_requires_totp = true;
    std::string_view perms = r[3].c_str();
    while (!perms.empty()) {
      const size_t sp = perms.find(' ');
      u->permissions.emplace_back(perms.substr(0, sp));
      if (sp == std::string_view::npos) break;
      perms.remove_prefix(sp + 1);
    }
  }
  for (const pqxx::row& r : tx.exec_params("SELECT user_id::text, team_id::text FROM team_members "
                                           "WHERE user_id = ANY($1::uuid[]) ORDER BY team_id",
                                           arr)) {
    by_id[r[0].c_str()]->user.add_team_ids(r[1].c_str());
  }
  for (UserAuth& u : users) {
    std::sort(u.permissions.begin(), u.permissions.end());
    u.permissions.erase(std::unique(u.permissions.begin(), u.permissions.end()), u.permissions.end());
  }
}

std::optional<UserAuth> LoadUserTx(pqxx::transaction_base& tx, std::string_view id, bool for_update) {
  if (!IsUuid(id)) return std::nullopt;
  pqxx::result r = tx.exec_params(absl::StrCat("SELECT ", UserColumns(), " FROM users u WHERE u.id = $1",
                                               for_update ? " FOR UPDATE" : ""),
                                  std::string(id));
  if (r.empty()) return std::nullopt;
  std::vector<UserAuth> one{ReadUserRow(r[0])};
  FillRelations(tx, one);
  return std::move(one[0]);
}

// Validates role codes (exist), team ids (exist) and the supervisor (exists, not the user, no cycle),
// reporting every violation at once.
absl::Status CheckRelations(pqxx::transaction_base& tx, const v1::User& u, std::string_view self_id) {
  Violations v;
  std::set<std::string> roles(u.role_codes().begin(), u.role_codes().end());
  std::set<std::string> well_formed_roles;
  for (const std::string& code : roles) {
    bool ok = !code.empty() && code.size() <= 64;
    for (char c : code) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    if (ok) {
      well_formed_roles.insert(code);
    } else {
      v.Add("user.role_codes", absl::StrCat("unknown role ", QuoteForError(code)));
    }
  }
  if (!well_formed_roles.empty()) {
    std::set<std::string> found;
    for (const pqxx::row& r :
         tx.exec_params("SELECT code FROM roles WHERE code = ANY($1::text[])",
                        ArrayLiteral({well_formed_roles.begin(), well_formed_roles.end()}))) {
      found.insert(r[0].c_str());
    }
    for (const std::string& code : well_formed_roles) {
      if (!found.count(code)) v.Add("user.role_codes", absl::StrCat("unknown role ", QuoteForError(code)));
    }
  }
  std::set<std::string> teams(u.team_ids().begin(), u.team_ids().end());
  std::set<std::string> well_formed_teams;
  for (const std::string& id : teams) {
    if (IsUuid(id)) {
      well_formed_teams.insert(id);
    } else {
      v.Add("user.team_ids", absl::StrCat("unknown team ", QuoteForError(id)));
    }
  }
  if (!well_formed_teams.empty()) {
    std::set<std::string> found;
    for (const pqxx::row& r :
         tx.exec_params("SELECT id::text FROM teams WHERE id = ANY($1::uuid[])",
                        ArrayLiteral({well_formed_teams.begin(), well_formed_teams.end()}))) {
      found.insert(r[0].c_str());
    }
    for (const std::string& id : well_formed_teams) {
      if (!found.count(id)) v.Add("user.team_ids", absl::StrCat("unknown team ", QuoteForError(id)));
    }
  }
  if (!u.supervisor_id().empty()) {
    if (!IsUuid(u.supervisor_id())) {
      v.Add("user.supervisor_id", "unknown user");
    } else if (u.supervisor_id() == self_id) {
      v.Add("user.supervisor_id", "a user cannot supervise themselves");
    } else if (tx.exec_params("SELECT 1 FROM users WHERE id = $1", u.supervisor_id()).empty()) {
      v.Add("user.supervisor_id", "unknown user");
    } else if (!self_id.empty()) {
      pqxx::result cycle = tx.exec_params(
          "WITH RECURSIVE up(id, depth) AS (SELECT $1::uuid, 0 UNION ALL "
          "  SELECT u.supervisor_id, up.depth + 1 FROM users u JOIN up ON u.id = up.id "
          "  WHERE u.supervisor_id IS NOT NULL AND up.depth < 1000) "
          "SELECT 1 FROM up WHERE id = $2::uuid LIMIT 1",
          u.supervisor_id(), std::string(self_id));
      if (!cycle.empty()) v.Add("user.supervisor_id", "would make a supervision cycle");
    }
  }
  return v.Status();
}

void ReplaceRoles(pqxx::transaction_base& tx, const std::string& user_id, const v1::User& u) {
  std::set<std::string> roles(u.role_codes().begin(), u.role_codes().end());
  tx.exec_params("DELETE FROM user_roles WHERE user_id = $1", user_id);
  for (const std::string& code : roles) {
    tx.exec_params("INSERT INTO user_roles (user_id, role_code) VALUES ($1, $2)", user_id, code);
  }
}

void ReplaceTeams(pqxx::transaction_base& tx, const std::string& user_id, const v1::User& u) {
  std::set<std::string> teams(u.team_ids().begin(), u.team_ids().end());
  tx.exec_params("DELETE FROM team_members WHERE user_id = $1", user_id);
  for (const std::string& id : teams) {
    tx.exec_params("INSERT INTO team_members (user_id, team_id) VALUES ($1, $2)", user_id, id);
  }
}

// Validates and normalises the editable scalar fields of `u` in place, keeping every violation in `v`.
void NormalizeUserFields(Violations& v, v1::User& u) {
  u.set_login(NormalizeLogin(u.login()));
  v.Check(CheckLogin("user.login", u.login()));
  v.Check(CheckText("user.full_name", u.full_name(), 300, /*required=*/true));
  v.Check(CheckEmail("user.email", u.email()));
  if (std::optional<std::string> phone = v.Value(NormalizePhone("user.phone", u.phone())))
    u.set_phone(*phone);
  if (u.role_codes_size() > 50) v.Add("user.role_codes", "at most 50");
  if (u.team_ids_size() > 100) v.Add("user.team_ids", "at most 100");
}

absl::Status AppendUserEvent(pqxx::transaction_base& tx, const events::OutboxWriter& outbox,
                             const Actor& actor, const v1::User& user,
                             const std::vector<std::string>* changed) {
  v1::UserCreated created;
  v1::UserUpdated updated;
  const google::protobuf::Message* payload;
  if (changed == nullptr) {
    *created.mutable_user() = user;
    payload = &created;
  } else {
    *updated.mutable_user() = user;
    for (const std::string& f : *changed) updated.add_changed_fields(f);
    payload = &updated;
  }
  // The user sees their own record's changes on the live stream; so do their teams.
  std::vector<std::string> teams(user.team_ids().begin(), user.team_ids().end());
  return outbox
      .Append(tx, {.aggregate_type = "user",
                   .aggregate_id = user.id(),
                   .type = changed == nullptr ? kUserCreatedType : kUserUpdatedType,
                   .payload = payload,
                   .actor = actor.principal,
                   .request_id = actor.request_id,
                   .visible_to_user_ids = {user.id()},
                   .visible_to_team_ids = std::move(teams)})
      .status();
}

bool SameSet(const google::protobuf::RepeatedPtrField<std::string>& a,
             const google::protobuf::RepeatedPtrField<std::string>& b) {
  return std::set<std::string>(a.begin(), a.end()) == std::set<std::string>(b.begin(), b.end());
}

v1::Team ReadTeam(const pqxx::row& r) {
  v1::Team t;
  t.set_id(r[0].c_str());
  t.set_name(r[1].c_str());
  t.set_parent_id(r[2].c_str());
  t.set_head_user_id(r[3].c_str());
  t.set_version(r[4].as<int64_t>());
  *t.mutable_create_time() = ToProtoTimestamp(absl::FromUnixMicros(r[5].as<int64_t>()));
  return t;
}

// Roles by code after $1 ("" = from the first), $2 rows; their permissions ($1: a text[] of codes).
constexpr char kListRoles[] =
    "SELECT code, name, requires_totp, version FROM roles WHERE code > $1 ORDER BY code LIMIT $2";
// The users of $1 (a uuid[]) and the names of teams $1 (a uuid[]), for BatchGetUsers.
const std::string& BatchUsersSql() {
  static const std::string* const kSql =
      new std::string(absl::StrCat("SELECT ", UserColumns(), " FROM users u WHERE u.id = ANY($1::uuid[])"));
  return *kSql;
}
constexpr char kTeamNames[] = "SELECT id::text, name FROM teams WHERE id = ANY($1::uuid[])";

constexpr char kLockRole[] = "SELECT version FROM roles WHERE code = $1 FOR UPDATE";
constexpr char kBumpRoleVersion[] = "UPDATE roles SET version = version + 1 WHERE code = $1";
constexpr char kRolePermissions[] =
    "SELECT role_code, permission FROM role_permissions WHERE role_code = ANY($1::text[]) ORDER BY 1, 2";

constexpr char kTeamColumns[] =
    "id::text, name, COALESCE(parent_id::text, ''), COALESCE(head_user_id::text, ''), version, "
    "(EXTRACT(EPOCH FROM create_time) * 1000000)::bigint";

}  // namespace

Store::Store(pg::Pool& pool, const Clock& clock, auth::PasswordParams password_params)
    : pool_(pool), clock_(clock), password_params_(password_params), outbox_("identity", clock) {}

absl::StatusOr<v1::User> Store::CreateUser(const Actor& actor, const v1::User& input,
                                           std::string_view password, const Idempotency& idempotency) {
  v1::User u = input;
  Violations v;  // issue 16: every bad field at once
  NormalizeUserFields(v, u);
  v.Check(CheckPassword("password", password));
  CRM_RETURN_IF_ERROR(v.Status());
  CRM_ASSIGN_OR_RETURN(std::string phc, auth::HashPassword(password, password_params_));
  const std::string id = NewUuidV7();
  const absl::Time at = clock_.Now();
  const std::string now = SqlTime(at);
  v1::User out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return RunIdempotentIn(tx, idempotency, at, out, [&]() -> absl::Status {
      if (!tx.exec_params("SELECT 1 FROM users WHERE lower(login) = $1", u.login()).empty()) {
        return absl::AlreadyExistsError("user.login: already taken");
      }
      CRM_RETURN_IF_ERROR(CheckRelations(tx, u, ""));
      tx.exec_params(
          "INSERT INTO users (id, login, full_name, email, phone, active, supervisor_id, password_hash, "
          "version, create_time, update_time) "
          "VALUES ($1, $2, $3, $4, $5, true, NULLIF($6, '')::uuid, $7, 1, $8::timestamptz, $8::timestamptz)",
          id, u.login(), u.full_name(), u.email(), u.phone(), u.supervisor_id(), phc, now);
      ReplaceRoles(tx, id, u);
      ReplaceTeams(tx, id, u);
      std::optional<UserAuth> loaded = LoadUserTx(tx, id, false);
      if (!loaded) return absl::InternalError("created user vanished");
      out = loaded->user;
      return AppendUserEvent(tx, outbox_, actor, out, nullptr);
    });
  }));
  return out;
}

absl::StatusOr<v1::User> Store::UpdateUser(const Actor& actor, const v1::User& input,
                                           const std::vector<std::string>& paths) {
  CRM_RETURN_IF_ERROR(CheckId("user.id", input.id()));
  v1::User out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<UserAuth> current = LoadUserTx(tx, input.id(), /*for_update=*/true);
    if (!current) return absl::NotFoundError("user not found");
    const v1::User& old = current->user;
    if (input.version() != 0 && input.version() != old.version())
      return absl::AbortedError("version mismatch");
    v1::User next = old;
    for (const std::string& p : paths) {
      if (p == "login") next.set_login(input.login());
      if (p == "full_name") next.set_full_name(input.full_name());
      if (p == "email") next.set_email(input.email());
      if (p == "phone") next.set_phone(input.phone());
      if (p == "active") next.set_active(input.active());
      if (p == "role_codes") *next.mutable_role_codes() = input.role_codes();
      if (p == "team_ids") *next.mutable_team_ids() = input.team_ids();
      if (p == "supervisor_id") next.set_supervisor_id(input.supervisor_id());
    }
    Violations v;
    NormalizeUserFields(v, next);
    CRM_RETURN_IF_ERROR(v.Status());
    std::vector<std::string> changed;
    if (next.login() != old.login()) changed.push_back("login");
    if (next.full_name() != old.full_name()) changed.push_back("full_name");
    if (next.email() != old.email()) changed.push_back("email");
    if (next.phone() != old.phone()) changed.push_back("phone");
    if (next.active() != old.active()) changed.push_back("active");
    const bool roles_changed = !SameSet(next.role_codes(), old.role_codes());
    const bool teams_changed = !SameSet(next.team_ids(), old.team_ids());
    if (roles_changed) changed.push_back("role_codes");
    if (teams_changed) changed.push_back("team_ids");
    if (next.supervisor_id() != old.supervisor_id()) changed.push_back("supervisor_id");
    if (changed.empty()) {
      out = old;
      return absl::OkStatus();
    }
    if (next.login() != old.login() &&
        !tx.exec_params("SELECT 1 FROM users WHERE lower(login) = $1 AND id <> $2", next.login(), old.id())
             .empty()) {
      return absl::AlreadyExistsError("user.login: already taken");
    }
    CRM_RETURN_IF_ERROR(CheckRelations(tx, next, old.id()));
    tx.exec_params(
        "UPDATE users SET login = $2, full_name = $3, email = $4, phone = $5, active = $6, "
        "supervisor_id = NULLIF($7, '')::uuid, version = version + 1, update_time = $8::timestamptz "
        "WHERE id = $1",
        old.id(), next.login(), next.full_name(), next.email(), next.phone(), next.active(),
        next.supervisor_id(), SqlTime(clock_.Now()));
    if (roles_changed) ReplaceRoles(tx, old.id(), next);
    if (teams_changed) ReplaceTeams(tx, old.id(), next);
    if (!next.active()) {
      // A deactivated user's sessions end now; the gateway refuses their access tokens on the event.
      CRM_RETURN_IF_ERROR(
          RevokeUserSessions(tx, outbox_, actor, old.id(), RevokeReason::kUserDeactivated, clock_.Now())
              .status());
    }
    std::optional<UserAuth> loaded = LoadUserTx(tx, old.id(), false);
    out = loaded->user;
    return AppendUserEvent(tx, outbox_, actor, out, &changed);
  }));
  return out;
}

absl::StatusOr<v1::User> Store::GetUser(std::string_view id) {
  CRM_RETURN_IF_ERROR(CheckId("id", id));
  CRM_ASSIGN_OR_RETURN(std::optional<UserAuth> a, FindAuthById(id));
  if (!a) return absl::NotFoundError("user not found");
  return a->user;
}

absl::StatusOr<std::optional<UserAuth>> Store::FindAuthById(std::string_view id) {
  std::optional<UserAuth> out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_,
                                        [&](pqxx::work& tx) -> absl::Status {
                                          out = LoadUserTx(tx, id, false);
                                          return absl::OkStatus();
                                        },
                                        {.read_only = true}));
  return out;
}

absl::StatusOr<std::optional<UserAuth>> Store::FindAuthByLogin(std::string_view login) {
  std::optional<UserAuth> out;
  const std::string normalized = NormalizeLogin(login);
  if (normalized.empty() || normalized.size() > 64) return out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT ", UserColumns(), " FROM users u WHERE lower(u.login) = $1"), normalized);
        if (r.empty()) return absl::OkStatus();
        std::vector<UserAuth> one{ReadUserRow(r[0])};
        FillRelations(tx, one);
        out = std::move(one[0]);
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::ListUsersResponse> Store::ListUsers(const v1::ListUsersRequest& req) {
  Violations v;  // issue 16: every bad field at once
  const std::optional<int> size_or = v.Value(PageSize(req.page_size()));
  const std::optional<std::string> after_or = v.Value(DecodePageToken(req.page_token()));
  v.Check(CheckText("query", req.query(), 200, false));
  if (!req.team_id().empty()) v.Check(CheckId("team_id", req.team_id()));
  v.Check(CheckText("role", req.role(), 64, false));
  CRM_RETURN_IF_ERROR(v.Status());
  const int size = *size_or;
  const std::string& after = *after_or;
  v1::ListUsersResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT ", UserColumns(), " FROM users u WHERE lower(u.login) > $1 ",
                         "AND ($2 OR u.active) ",
                         "AND ($3 = '' OR EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id AND "
                         "ur.role_code = $3)) ",
                         "AND ($4 = '' OR EXISTS (SELECT 1 FROM team_members tm WHERE tm.user_id = u.id "
                         "                        AND tm.team_id::text = $4)) ",
                         "AND ($5 = '' OR strpos(lower(u.login), lower($5)) > 0 OR "
                         "strpos(lower(u.full_name), lower($5)) > 0 "
                         "     OR strpos(lower(u.email), lower($5)) > 0 OR strpos(u.phone, $5) > 0) ",
                         "ORDER BY lower(u.login) LIMIT $6"),
            after, req.include_inactive(), req.role(), req.team_id(), req.query(), size + 1);
        std::vector<UserAuth> users;
        for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i)
          users.push_back(ReadUserRow(r[i]));
        FillRelations(tx, users);
        for (UserAuth& u : users) *out.add_users() = std::move(u.user);
        if (static_cast<int>(r.size()) > size)
          out.set_next_page_token(EncodePageToken(out.users().rbegin()->login()));
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::BatchGetUsersResponse> Store::BatchGetUsers(const v1::BatchGetUsersRequest& req) {
  Violations v;  // issue 16: every bad id at once
  if (req.ids().empty()) v.Add("ids", "required: at least one user id");
  if (req.ids_size() > kMaxPageSize) v.Add("ids", absl::StrCat("at most ", kMaxPageSize, " ids"));
  std::vector<std::string> ids;  // unique, in the order asked
  std::set<std::string> seen;
  for (int i = 0; i < req.ids_size() && i <= kMaxPageSize; ++i) {
    if (!v.Check(CheckId(absl::StrCat("ids[", i, "]"), req.ids(i)))) continue;
    if (seen.insert(req.ids(i)).second) ids.push_back(req.ids(i));
  }
  CRM_RETURN_IF_ERROR(v.Status());
  v1::BatchGetUsersResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        std::vector<UserAuth> found;
        for (const pqxx::row& r : pg::ExecPrepared(tx, BatchUsersSql(), ArrayLiteral(ids))) {
          found.push_back(ReadUserRow(r));
        }
        FillRelations(tx, found);
        std::map<std::string, v1::User*> by_id;
        for (UserAuth& a : found) by_id[a.user.id()] = &a.user;
        std::set<std::string> teams;
        for (const std::string& id : ids) {
          auto it = by_id.find(id);
          if (it == by_id.end()) {
            out.add_missing_ids(id);
            continue;
          }
          teams.insert(it->second->team_ids().begin(), it->second->team_ids().end());
          *out.add_users() = std::move(*it->second);
        }
        if (teams.empty()) return absl::OkStatus();
        for (const pqxx::row& r : pg::ExecPrepared(
                 tx, kTeamNames, ArrayLiteral(std::vector<std::string>(teams.begin(), teams.end())))) {
          (*out.mutable_team_names())[r[0].c_str()] = r[1].c_str();
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::Status Store::SetPasswordHash(const Actor& actor, std::string_view user_id, std::string_view phc) {
  return SetPassword(actor, user_id, phc, nullptr, Idempotency{});
}

namespace {
constexpr char kLockPassword[] = "SELECT password_hash FROM users WHERE id = $1 FOR UPDATE";
constexpr char kSetPassword[] = "UPDATE users SET password_hash = $2 WHERE id = $1";
}  // namespace

absl::Status Store::SetPassword(const Actor& actor, std::string_view user_id, std::string_view phc,
                                const std::string* current_password, const Idempotency& idempotency) {
  CRM_RETURN_IF_ERROR(CheckId("user_id", user_id));
  google::protobuf::Empty done;
  return pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    // Issue 16: a repeat with the key is answered from the record (the old password no longer
    // verifies then, and the sessions made since are not ended again).
    return RunIdempotentIn(tx, idempotency, clock_.Now(), done, [&]() -> absl::Status {
      const pqxx::result r = pg::ExecPrepared(tx, kLockPassword, std::string(user_id));
      if (r.empty()) return absl::NotFoundError("user not found");
      if (current_password != nullptr) {
        CRM_ASSIGN_OR_RETURN(bool ok, auth::VerifyPassword(*current_password, r[0][0].c_str()));
        if (!ok) return FieldError("current_password", "wrong password");
      }
      pg::ExecPrepared(tx, kSetPassword, std::string(user_id), std::string(phc));
      return RevokeUserSessions(tx, outbox_, actor, user_id, RevokeReason::kPasswordChanged, clock_.Now())
          .status();
    });
  });
}

absl::StatusOr<int64_t> Store::CountUsers() {
  int64_t n = 0;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    n = tx.exec1("SELECT count(*) FROM users")[0].as<int64_t>();
    return absl::OkStatus();
  }));
  return n;
}

absl::Status Store::SetPendingTotp(std::string_view user_id, std::string_view secret) {
  return pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    pqxx::result r = tx.exec_params("UPDATE users SET totp_pending_secret = $2 WHERE id = $1 RETURNING id",
                                    std::string(user_id), std::string(secret));
    if (r.empty()) return absl::NotFoundError("user not found");
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::User> Store::ConfirmTotp(const Actor& actor, std::string_view user_id,
                                            std::string_view code) {
  CRM_RETURN_IF_ERROR(CheckId("user_id", user_id));
  v1::User out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    std::optional<UserAuth> u = LoadUserTx(tx, user_id, /*for_update=*/true);
    if (!u) return absl::NotFoundError("user not found");
    if (u->totp_pending_secret.empty()) return absl::FailedPreconditionError("no TOTP enrolment is pending");
    std::optional<int64_t> step =
        auth::VerifyTotp(u->totp_pending_secret, code, clock_.Now(), 1, u->totp_last_step);
    if (!step) return FieldError("code", "invalid code");
    tx.exec_params(
        "UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_enabled = "
        "true, "
        "totp_last_step = $2, version = version + 1, update_time = $3::timestamptz WHERE id = $1",
        u->user.id(), *step, SqlTime(clock_.Now()));
    std::optional<UserAuth> loaded = LoadUserTx(tx, user_id, false);
    out = loaded->user;
    if (u->user.totp_enabled()) return absl::OkStatus();  // re-enrolment: no visible change
    const std::vector<std::string> changed{"totp_enabled"};
    return AppendUserEvent(tx, outbox_, actor, out, &changed);
  }));
  return out;
}

absl::Status Store::EnableTotpDirectly(std::string_view user_id, std::string_view secret) {
  return pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    pqxx::result r = tx.exec_params(
        "UPDATE users SET totp_secret = $2, totp_pending_secret = NULL, totp_enabled = true WHERE id = $1 "
        "RETURNING id",
        std::string(user_id), std::string(secret));
    if (r.empty()) return absl::NotFoundError("user not found");
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> Store::ConsumeTotpStep(std::string_view user_id, int64_t step) {
  bool ok = false;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    ok = !tx.exec_params(
                "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2 RETURNING id",
                std::string(user_id), step)
              .empty();
    return absl::OkStatus();
  }));
  return ok;
}

absl::StatusOr<v1::Team> Store::CreateTeam(const v1::Team& team, const Idempotency& idempotency) {
  Violations v;  // issue 16: every bad field at once
  v.Check(CheckText("team.name", team.name(), 200, /*required=*/true));
  if (!team.parent_id().empty()) v.Check(CheckId("team.parent_id", team.parent_id()));
  if (!team.head_user_id().empty()) v.Check(CheckId("team.head_user_id", team.head_user_id()));
  CRM_RETURN_IF_ERROR(v.Status());
  v1::Team out;
  const std::string id = NewUuidV7();
  const absl::Time now = clock_.Now();
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    return RunIdempotentIn(tx, idempotency, now, out, [&]() -> absl::Status {
      Violations missing;
      if (!team.parent_id().empty() &&
          tx.exec_params("SELECT 1 FROM teams WHERE id = $1", team.parent_id()).empty()) {
        missing.Add("team.parent_id", "unknown team");
      }
      if (!team.head_user_id().empty() &&
          tx.exec_params("SELECT 1 FROM users WHERE id = $1", team.head_user_id()).empty()) {
        missing.Add("team.head_user_id", "unknown user");
      }
      CRM_RETURN_IF_ERROR(missing.Status());
      pqxx::row r = tx.exec_params1(
          absl::StrCat(
              "INSERT INTO teams (id, name, parent_id, head_user_id, create_time) "
              "VALUES ($1, $2, NULLIF($3, '')::uuid, NULLIF($4, '')::uuid, $5::timestamptz) RETURNING ",
              kTeamColumns),
          id, team.name(), team.parent_id(), team.head_user_id(), SqlTime(now));
      out = ReadTeam(r);
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<v1::Team> Store::GetTeam(std::string_view id) {
  CRM_RETURN_IF_ERROR(CheckId("id", id));
  std::optional<v1::Team> out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        pqxx::result r = tx.exec_params(absl::StrCat("SELECT ", kTeamColumns, " FROM teams WHERE id = $1"),
                                        std::string(id));
        if (!r.empty()) out = ReadTeam(r[0]);
        return absl::OkStatus();
      },
      {.read_only = true}));
  if (!out) return absl::NotFoundError("team not found");
  return *out;
}

absl::StatusOr<v1::ListTeamsResponse> Store::ListTeams(const v1::ListTeamsRequest& req) {
  Violations v;  // issue 16: every bad field at once
  const std::optional<int> size_or = v.Value(PageSize(req.page_size()));
  std::optional<std::string> after_or = v.Value(DecodePageToken(req.page_token()));
  if (after_or && !after_or->empty() && !IsUuid(*after_or)) v.Add("page_token", "invalid");
  CRM_RETURN_IF_ERROR(v.Status());
  const int size = *size_or;
  const std::string& after = *after_or;
  v1::ListTeamsResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        pqxx::result r = tx.exec_params(
            absl::StrCat("SELECT ", kTeamColumns,
                         " FROM teams WHERE ($1 = '' OR id > NULLIF($1, '')::uuid) ORDER BY id LIMIT $2"),
            after, size + 1);
        for (size_t i = 0; i < r.size() && static_cast<int>(i) < size; ++i) *out.add_teams() = ReadTeam(r[i]);
        if (static_cast<int>(r.size()) > size)
          out.set_next_page_token(EncodePageToken(out.teams().rbegin()->id()));
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<std::optional<std::string>> Store::FindTeamByName(std::string_view name) {
  std::optional<std::string> out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    pqxx::result r =
        tx.exec_params("SELECT id::text FROM teams WHERE name = $1 ORDER BY id LIMIT 1", std::string(name));
    if (!r.empty()) out = r[0][0].c_str();
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<v1::ListRolesResponse> Store::ListRoles() {
  v1::ListRolesRequest all;
  all.set_page_size(kMaxPageSize);
  v1::ListRolesResponse out;
  do {
    CRM_ASSIGN_OR_RETURN(v1::ListRolesResponse page, ListRoles(all));
    for (v1::Role& r : *page.mutable_roles()) *out.add_roles() = std::move(r);
    all.set_page_token(page.next_page_token());
  } while (!all.page_token().empty());
  return out;
}

absl::StatusOr<v1::ListRolesResponse> Store::ListRoles(const v1::ListRolesRequest& req) {
  Violations v;  // issue 16: the page rule, every violation at once
  const std::optional<int> size_or = v.Value(PageSize(req.page_size()));
  const std::optional<std::string> after_or = v.Value(DecodePageToken(req.page_token()));
  CRM_RETURN_IF_ERROR(v.Status());
  const int size = *size_or;
  v1::ListRolesResponse out;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        out.Clear();
        std::map<std::string, v1::Role*> by_code;
        const pqxx::result rows = pg::ExecPrepared(tx, kListRoles, *after_or, size + 1);
        for (int i = 0; i < static_cast<int>(rows.size()) && i < size; ++i) {
          v1::Role* role = out.add_roles();
          role->set_code(rows[i][0].c_str());
          role->set_name(rows[i][1].c_str());
          role->set_requires_totp(rows[i][2].as<bool>());
          role->set_version(rows[i][3].as<int64_t>());
          by_code[role->code()] = role;
        }
        if (static_cast<int>(rows.size()) > size)
          out.set_next_page_token(EncodePageToken(out.roles(size - 1).code()));
        if (by_code.empty()) return absl::OkStatus();
        std::vector<std::string> codes;
        for (const auto& [code, unused] : by_code) codes.push_back(code);
        for (const pqxx::row& r : pg::ExecPrepared(tx, kRolePermissions, ArrayLiteral(codes))) {
          auto it = by_code.find(r[0].c_str());
          if (it != by_code.end()) it->second->add_permissions(r[1].c_str());
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  return out;
}

absl::StatusOr<v1::Role> Store::UpdateRole(const v1::Role& role, const std::vector<std::string>& paths) {
  Violations v;  // issue 16: every bad field at once
  for (const std::string& p : paths) {
    if (p == "name") v.Check(CheckText("role.name", role.name(), 200, /*required=*/true));
    if (p == "permissions") {
      if (role.permissions_size() > 500) {
        v.Add("role.permissions", "at most 500");
      } else {
        for (int i = 0; i < role.permissions_size(); ++i) {
          v.Check(CheckPermissionCode(absl::StrCat("role.permissions[", i, "]"), role.permissions(i)));
        }
      }
    }
  }
  CRM_RETURN_IF_ERROR(v.Status());
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    const pqxx::result current = pg::ExecPrepared(tx, kLockRole, role.code());
    if (current.empty()) return absl::NotFoundError("role not found");
    // Issue 16: 0 = whatever is stored (last writer wins); another version than the stored one is ABORTED.
    const int64_t stored = current[0][0].as<int64_t>();
    if (role.version() != 0 && role.version() != stored) {
      return absl::AbortedError(
          absl::StrCat("version mismatch: role ", role.code(), " is at version ", stored));
    }
    if (!paths.empty()) pg::ExecPrepared(tx, kBumpRoleVersion, role.code());
    for (const std::string& p : paths) {
      if (p == "name") tx.exec_params("UPDATE roles SET name = $2 WHERE code = $1", role.code(), role.name());
      if (p == "requires_totp") {
        tx.exec_params("UPDATE roles SET requires_totp = $2 WHERE code = $1", role.code(),
                       role.requires_totp());
      }
      if (p == "permissions") {
        tx.exec_params("DELETE FROM role_permissions WHERE role_code = $1", role.code());
        std::set<std::string> perms(role.permissions().begin(), role.permissions().end());
        for (const std::string& perm : perms) {
          tx.exec_params("INSERT INTO role_permissions (role_code, permission) VALUES ($1, $2)", role.code(),
                         perm);
        }
      }
    }
    return absl::OkStatus();
  }));
  CRM_ASSIGN_OR_RETURN(v1::ListRolesResponse all, ListRoles());
  for (const v1::Role& r : all.roles()) {
    if (r.code() == role.code()) return r;
  }
  return absl::NotFoundError("role not found");
}

}  // namespace crm::identity
