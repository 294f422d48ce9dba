// File: libs/rpc/testing/principals.h
// -----------------------------------------------------------------------------
// The caller a test hands a store or a service: a user principal with permissions and teams, as the
// gateway would sign it. Header only; the includer links crm::common_proto (every test that has a
// Principal does).
//
// Example:
//   const crm::common::v1::Principal anna =
//       crm::rpc::testing::UserPrincipal(kAnna, {"deals.read.own", "deals.write.own"}, {kTeam1});
#ifndef CRM_LIBS_RPC_TESTING_PRINCIPALS_H_
#define CRM_LIBS_RPC_TESTING_PRINCIPALS_H_

#include <string>
#include <utility>
#include <vector>

#include "crm/common/v1/common.pb.h"

namespace crm::rpc::testing {

// A KIND_USER principal `id` with `permissions`, a member of `teams`.
inline crm::common::v1::Principal UserPrincipal(const std::string& id, std::vector<std::string> permissions,
                                                std::vector<std::string> teams = {}) {
  crm::common::v1::Principal p;
  p.set_kind(crm::common::v1::Principal::KIND_USER);
  p.set_id(id);
  for (std::string& s : permissions) p.add_permissions(std::move(s));
  for (std::string& t : teams) p.add_team_ids(std::move(t));
  return p;
}

}  // namespace crm::rpc::testing

#endif  // CRM_LIBS_RPC_TESTING_PRINCIPALS_H_
