// File: services/identity/demo.h
// -----------------------------------------------------------------------------
// Demo data and the production bootstrap administrator.
//
// CreateDemoUsers makes teams «Отдел продаж» and «Колл-центр» and one active user per role (logins
// admin, rop, manager, tg.operator, tg.supervisor, cc.operator, mortgage, service, parking, waiter,
// driver, quality, integrator); manager and rop are in «Отдел продаж», rop supervises manager. Passwords
// are random (16 characters) and written to `credentials_path` as "login<TAB>password<TAB>role_code"
// lines (mode 0600); users whose role requires TOTP are enrolled with a random secret written to
// `totp_path` as "login<TAB>base32secret" (0600). Idempotent: passwords and secrets already in the
// files are reused (missing users are re-created with them, existing users' passwords are reset to
// them). Nothing secret is logged or printed.
//
// Example:
//   CRM_RETURN_IF_ERROR(crm::identity::CreateDemoUsers(store, {.credentials_path = "/tmp/creds.tsv",
//                                                               .totp_path = "/tmp/totp.tsv"}));
#ifndef CRM_SERVICES_IDENTITY_DEMO_H_
#define CRM_SERVICES_IDENTITY_DEMO_H_

#include <string>

#include "absl/status/status.h"

namespace crm::identity {

class Store;

struct DemoOptions {
  std::string credentials_path;
  std::string totp_path;
};

// See the file comment. Returns the first error (files are written only after every user is in place).
absl::Status CreateDemoUsers(Store& store, const DemoOptions& options);

// Creates an administrator `login` with the password read from `password_file` (trailing newline
// dropped) when the database has no user at all; otherwise does nothing.
absl::Status BootstrapAdmin(Store& store, const std::string& login, const std::string& password_file);

}  // namespace crm::identity

#endif  // CRM_SERVICES_IDENTITY_DEMO_H_
