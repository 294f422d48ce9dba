// File: services/identity/demo.cc
#include "services/identity/demo.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/auth/password.h"
#include "libs/auth/secrets.h"
#include "libs/auth/totp.h"
#include "libs/base/status.h"
#include "libs/log/log.h"
#include "services/identity/store.h"

namespace crm::identity {

namespace {

struct DemoUser {
  const char* login;
  const char* role;
  const char* full_name;
  const char* team;  // "" for none
};

constexpr char kSales[] = "Отдел продаж";
constexpr char kCallCenter[] = "Колл-центр";

const std::vector<DemoUser>& DemoUsers() {
  static const auto* const kUsers = new std::vector<DemoUser>{
      {"admin", "administrator", "Администратор Демо", ""},
      {"rop", "head_of_sales", "Руководитель Продаж Демо", kSales},
      {"manager", "manager", "Менеджер Клиента Демо", kSales},
      {"tg.operator", "telegram_operator", "Оператор Telegram Демо", ""},
      {"tg.supervisor", "telegram_supervisor", "Супервайзер Telegram Демо", ""},
      {"cc.operator", "call_center_operator", "Оператор Колл-центра Демо", kCallCenter},
      {"mortgage", "mortgage_specialist", "Ипотечный Специалист Демо", ""},
      {"service", "service_manager", "Сервис-менеджер Демо", ""},
      {"parking", "parking_attendant", "Сотрудник Парковки Демо", ""},
      {"waiter", "waiter", "Официант Демо", ""},
      {"driver", "driver", "Водитель Демо", ""},
      {"quality", "quality_controller", "Контролёр Качества Демо", ""},
      {"integrator", "integrator", "Интегратор Демо", ""},
  };
  return *kUsers;
}

// Lines of tab-separated fields; an absent file is empty.
std::vector<std::vector<std::string>> ReadTsv(const std::string& path) {
  std::vector<std::vector<std::string>> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    out.push_back(absl::StrSplit(line, '\t'));
  }
  return out;
}

absl::Status WriteSecretFile(const std::string& path, const std::string& text) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  ::fchmod(fd, 0600);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("cannot write ", path));
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string RandomPassword() {
  // Letters and digits only, so it survives copy-paste and shell quoting.
  std::string out;
  while (out.size() < 16) {
    for (char c : auth::RandomToken(24)) {
      if (out.size() < 16 && c != '-' && c != '_') out.push_back(c);
    }
  }
  return out;
}

crm::common::v1::Principal System() {
  crm::common::v1::Principal p;
  p.set_kind(crm::common::v1::Principal::KIND_SERVICE);
  p.set_service("identity");
  return p;
}

}  // namespace

absl::Status CreateDemoUsers(Store& store, const DemoOptions& options) {
  if (options.credentials_path.empty()) return absl::InvalidArgumentError("--credentials: required");
  if (options.totp_path.empty()) return absl::InvalidArgumentError("--totp-secrets: required");
  std::map<std::string, std::string> passwords, secrets;
  for (const auto& f : ReadTsv(options.credentials_path)) {
    if (f.size() >= 2) passwords[f[0]] = f[1];
  }
  for (const auto& f : ReadTsv(options.totp_path)) {
    if (f.size() >= 2) secrets[f[0]] = f[1];
  }
  std::map<std::string, bool> requires_totp;
  CRM_ASSIGN_OR_RETURN(v1::ListRolesResponse roles, store.ListRoles());
  for (const v1::Role& r : roles.roles()) requires_totp[r.code()] = r.requires_totp();

  std::map<std::string, std::string> team_ids;
  for (const char* name : {kSales, kCallCenter}) {
    CRM_ASSIGN_OR_RETURN(std::optional<std::string> id, store.FindTeamByName(name));
    if (!id) {
      v1::Team t;
      t.set_name(name);
      CRM_ASSIGN_OR_RETURN(v1::Team made, store.CreateTeam(t));
      id = made.id();
    }
    team_ids[name] = *id;
  }

  const Actor actor{System(), "demo-users"};
  std::string credentials, totp;
  std::string rop_id;
  int created = 0, reset = 0;
  for (const DemoUser& d : DemoUsers()) {
    std::string& password = passwords[d.login];
    if (password.size() < 10) password = RandomPassword();
    CRM_ASSIGN_OR_RETURN(std::optional<UserAuth> existing, store.FindAuthByLogin(d.login));
    std::string id;
    if (existing) {
      id = existing->user.id();
      CRM_ASSIGN_OR_RETURN(bool same, auth::VerifyPassword(password, existing->password_hash));
      if (!same) {
        CRM_ASSIGN_OR_RETURN(std::string phc, auth::HashPassword(password, store.password_params()));
        CRM_RETURN_IF_ERROR(store.SetPasswordHash(actor, id, phc));
        ++reset;
      }
    } else {
      v1::User u;
      u.set_login(d.login);
      u.set_full_name(d.full_name);
      u.set_email(absl::StrCat(d.login, "@demo.crm.local"));  // robots' e-mail notifications reach them
      u.add_role_codes(d.role);
      if (*d.team) u.add_team_ids(team_ids[d.team]);
      if (std::string_view(d.login) == "manager" && !rop_id.empty()) u.set_supervisor_id(rop_id);
      CRM_ASSIGN_OR_RETURN(v1::User made, store.CreateUser(actor, u, password));
      id = made.id();
      ++created;
    }
    if (std::string_view(d.login) == "rop") rop_id = id;
    absl::StrAppend(&credentials, d.login, "\t", password, "\t", d.role, "\n");
    if (requires_totp[d.role]) {
      std::string& secret = secrets[d.login];
      if (!auth::Base32Decode(secret).has_value() || secret.empty()) {
        CRM_ASSIGN_OR_RETURN(secret, auth::NewTotpSecret());
      }
      if (!existing || existing->totp_secret != secret)
        CRM_RETURN_IF_ERROR(store.EnableTotpDirectly(id, secret));
      absl::StrAppend(&totp, d.login, "\t", secret, "\n");
    }
  }
  CRM_RETURN_IF_ERROR(WriteSecretFile(options.credentials_path, credentials));
  CRM_RETURN_IF_ERROR(WriteSecretFile(options.totp_path, totp));
  log::Info("demo users ready", {{"created", created},
                                 {"passwords_reset", reset},
                                 {"users", static_cast<int64_t>(DemoUsers().size())}});
  return absl::OkStatus();
}

absl::Status BootstrapAdmin(Store& store, const std::string& login, const std::string& password_file) {
  CRM_ASSIGN_OR_RETURN(int64_t users, store.CountUsers());
  if (users > 0) return absl::OkStatus();
  std::ifstream in(password_file);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", password_file));
  std::stringstream s;
  s << in.rdbuf();
  std::string password = s.str();
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
  v1::User u;
  u.set_login(login);
  u.set_full_name("Администратор");
  u.add_role_codes("administrator");
  CRM_ASSIGN_OR_RETURN(v1::User made, store.CreateUser(Actor{System(), "bootstrap"}, u, password));
  log::Info("bootstrap administrator created", {{"login", made.login()}, {"user_id", made.id()}});
  return absl::OkStatus();
}

}  // namespace crm::identity
