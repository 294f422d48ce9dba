// File: services/deals/idempotent.cc
#include "services/deals/idempotent.h"

#include <pqxx/pqxx>
#include <string>

#include "libs/pg/idempotency.h"
#include "libs/pg/pool.h"
#include "libs/rpc/call.h"

namespace crm::deals {

absl::Status InIdempotentTransaction(pg::Pool& pool, absl::Time now, const crm::common::v1::Principal& caller,
                                     std::string_view key, std::string_view method,
                                     const google::protobuf::Message& request, google::protobuf::Message& reply,
                                     absl::FunctionRef<absl::Status(pqxx::transaction_base&)> fn) {
  const pg::IdempotencyScope scope{
      .caller = rpc::IdempotencyCaller(caller), .method = std::string(method), .key = std::string(key)};
  return pg::InTransaction(pool, [&](pqxx::work& tx) -> absl::Status {
    return pg::RunIdempotent(tx, scope, now, request, reply, [&]() -> absl::Status { return fn(tx); });
  });
}

}  // namespace crm::deals
