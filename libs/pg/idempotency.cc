// File: libs/pg/idempotency.cc
#include "libs/pg/idempotency.h"

#include <openssl/evp.h>

#include <cstdint>
#include <pqxx/binarystring>
#include <pqxx/transaction_base>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message.h"
#include "libs/base/clock.h"
#include "libs/base/periodic.h"
#include "libs/base/status.h"
#include "libs/log/log.h"
#include "libs/pg/pool.h"
#include "libs/pg/prepared.h"

namespace crm::pg {
namespace {

// An SQL timestamptz for `t`, exact to the microsecond.
constexpr char kTimeFromMicros[] = "('epoch'::timestamptz + $%d::bigint * interval '1 microsecond')";

std::string TimeExpr(int param) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), kTimeFromMicros, param);
  return buf;
}

// SHA-256 over the method and the deterministic serialization of the request.
std::string Fingerprint(std::string_view method, const google::protobuf::Message& request) {
  std::string bytes(method);
  bytes.push_back('\0');
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&out);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

}  // namespace

absl::Status RunIdempotent(pqxx::transaction_base& tx, const IdempotencyScope& scope, absl::Time now,
                           const google::protobuf::Message& request, google::protobuf::Message& reply,
                           absl::FunctionRef<absl::Status()> fn) {
  if (scope.key.empty()) return fn();
  if (scope.key.size() > kMaxIdempotencyKeyBytes) {
    return InvalidFieldError("idempotency-key", absl::StrCat("longer than ", kMaxIdempotencyKeyBytes, " bytes"));
  }
  const std::string fingerprint = Fingerprint(scope.method, request);
  const pqxx::binarystring fp(fingerprint.data(), fingerprint.size());
  const int64_t now_us = absl::ToUnixMicros(now);
  const int64_t expired_us = absl::ToUnixMicros(now - kIdempotencyRetention);
  // Claim the key (an expired record is taken over). A concurrent claim of the same key blocks here
  // until the first transaction ends, then either takes the key (first rolled back) or sees its record.
  pqxx::result claimed = pg::ExecPrepared(tx,
      absl::StrCat("INSERT INTO idempotency (caller, method, key, request_sha256, response, create_time) "
                   "VALUES ($1, $2, $3, $4, ''::bytea, ",
                   TimeExpr(5),
                   ") ON CONFLICT (caller, method, key) DO UPDATE SET request_sha256 = EXCLUDED.request_sha256, "
                   "response = ''::bytea, create_time = EXCLUDED.create_time WHERE idempotency.create_time <= ",
                   TimeExpr(6), " RETURNING 1"),
      scope.caller, scope.method, scope.key, fp, now_us, expired_us);
  if (!claimed.empty()) {
    CRM_RETURN_IF_ERROR(fn());
    const std::string bytes = reply.SerializeAsString();
    pg::ExecPrepared(tx, "UPDATE idempotency SET response = $4 WHERE caller = $1 AND method = $2 AND key = $3",
                    scope.caller, scope.method, scope.key, pqxx::binarystring(bytes.data(), bytes.size()));
    return absl::OkStatus();
  }
  pqxx::row stored = pg::ExecPrepared1(tx,
      "SELECT request_sha256, response FROM idempotency WHERE caller = $1 AND method = $2 AND key = $3",
      scope.caller, scope.method, scope.key);
  const pqxx::binarystring stored_fp(stored[0]);
  if (stored_fp.str() != fingerprint) {
    return InvalidFieldError("idempotency-key", "already used with a different request");
  }
  const pqxx::binarystring response(stored[1]);
  if (!reply.ParseFromArray(response.data(), static_cast<int>(response.size()))) {
    return absl::InternalError("stored idempotent reply does not parse");
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PurgeIdempotency(pqxx::transaction_base& tx, absl::Time now) {
  pqxx::result r = pg::ExecPrepared(tx, absl::StrCat("DELETE FROM idempotency WHERE create_time <= ", TimeExpr(1)),
                                  absl::ToUnixMicros(now - kIdempotencyRetention));
  return static_cast<int>(r.affected_rows());
}

std::unique_ptr<Periodic> HourlyIdempotencyPurge(Pool& pool, const Clock& clock) {
  return std::make_unique<Periodic>(absl::Hours(1), [&pool, &clock] {
    absl::Status s = InTransaction(pool, [&clock](pqxx::work& tx) { return PurgeIdempotency(tx, clock.Now()).status(); });
    if (!s.ok()) log::Warn("cannot purge idempotency records", {{"error", s}});
  });
}

}  // namespace crm::pg
