// File: services/identity/keys.cc
#include "services/identity/keys.h"

#include <algorithm>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "libs/base/clock.h"
#include "libs/base/status.h"
#include "libs/base/uuid.h"
#include "libs/log/log.h"
#include "libs/pg/pool.h"
#include "services/identity/store.h"

namespace crm::identity {

KeyRing::KeyRing(pg::Pool& pool, const Clock& clock, KeyRingOptions options)
    : pool_(pool), clock_(clock), options_(options) {}

KeyRing::~KeyRing() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status KeyRing::Maintain() {
  const absl::Time now = clock_.Now();
  CRM_RETURN_IF_ERROR(pg::InTransaction(pool_, [&](pqxx::work& tx) -> absl::Status {
    tx.exec("SELECT pg_advisory_xact_lock(hashtext('crm.identity.signing_keys'))");
    pqxx::result newest = tx.exec(absl::StrCat("SELECT kid, ", SqlMicros("create_time"),
                                               " FROM signing_keys WHERE retire_time IS NULL "
                                               "ORDER BY create_time DESC, kid DESC LIMIT 1"));
    const bool due =
        newest.empty() || now - absl::FromUnixMicros(newest[0][1].as<int64_t>()) >= options_.rotation;
    if (due) {
      // kid: the creation date for people, a UUIDv7 suffix for uniqueness.
      const std::string kid = absl::StrCat("k", absl::FormatTime("%Y%m%d", now, absl::UTCTimeZone()), "-",
                                           NewUuidV7().substr(24));
      CRM_ASSIGN_OR_RETURN(auth::SigningKey key, auth::SigningKey::Generate(kid));
      // The current signer keeps signing until the new key activates.
      tx.exec_params("UPDATE signing_keys SET retire_time = $1::timestamptz WHERE retire_time IS NULL",
                     SqlTime(now + options_.activation_delay));
      tx.exec_params(
          "INSERT INTO signing_keys (kid, private_pem, create_time) VALUES ($1, $2, $3::timestamptz)", kid,
          key.PrivatePem(), SqlTime(now));
      log::Info("new token-signing key", {{"kid", kid}});
    }
    tx.exec_params("DELETE FROM signing_keys WHERE retire_time IS NOT NULL AND retire_time < $1::timestamptz",
                   SqlTime(now - options_.access_token_ttl - options_.grace));
    return absl::OkStatus();
  }));
  return Reload();
}

absl::Status KeyRing::Reload() {
  const absl::Time now = clock_.Now();
  std::optional<auth::SigningKey> current;
  std::vector<auth::PublicKey> published;
  CRM_RETURN_IF_ERROR(pg::InTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::Status {
        current.reset();
        published.clear();
        pqxx::result r = tx.exec_params(
            absl::StrCat(
                "SELECT kid, private_pem, ", SqlMicros("create_time"), ", COALESCE(",
                SqlMicros("retire_time"),
                ", -1) FROM signing_keys WHERE retire_time IS NULL OR retire_time >= $1::timestamptz "
                "ORDER BY create_time DESC, kid DESC"),
            SqlTime(now - options_.access_token_ttl - options_.grace));
        std::optional<auth::SigningKey> newest_unretired;
        for (const pqxx::row& row : r) {
          CRM_ASSIGN_OR_RETURN(auth::SigningKey key,
                               auth::SigningKey::FromPrivatePem(row[0].c_str(), row[1].c_str()));
          const absl::Time created = absl::FromUnixMicros(row[2].as<int64_t>());
          const int64_t retire_us = row[3].as<int64_t>();
          const bool signing = retire_us < 0 || absl::FromUnixMicros(retire_us) > now;
          if (signing && !newest_unretired) newest_unretired = key;
          if (signing && !current && created <= now - options_.activation_delay) current = key;
          published.push_back(key.public_key());
        }
        if (!current) current = newest_unretired;  // the very first key
        if (current) {
          // The signer first, as GetSigningKeys promises.
          for (size_t i = 0; i < published.size(); ++i) {
            if (published[i].kid() == current->kid()) {
              std::rotate(published.begin(), published.begin() + static_cast<std::ptrdiff_t>(i),
                          published.begin() + static_cast<std::ptrdiff_t>(i) + 1);
              break;
            }
          }
        }
        return absl::OkStatus();
      },
      {.read_only = true}));
  absl::MutexLock lock(&mu_);
  current_ = std::move(current);
  published_ = std::move(published);
  return absl::OkStatus();
}

absl::StatusOr<auth::SigningKey> KeyRing::Current() const {
  absl::MutexLock lock(&mu_);
  if (!current_) return absl::FailedPreconditionError("no token-signing key loaded");
  return *current_;
}

std::string KeyRing::Jwks() const {
  absl::MutexLock lock(&mu_);
  auth::KeySet set;
  for (const auth::PublicKey& k : published_) set.Add(k);
  return set.ToJwks();
}

std::vector<std::string> KeyRing::KeyIds() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auth::PublicKey& k : published_) out.push_back(k.kid());
  return out;
}

void KeyRing::StartBackground(absl::Duration every) {
  thread_ = std::thread([this, every] {
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
        mu_.AwaitWithTimeout(absl::Condition(&stop), every);
        if (stopping_) return;
      }
      if (absl::Status s = Maintain(); !s.ok()) log::Warn("cannot maintain the signing keys", {{"error", s}});
    }
  });
}

}  // namespace crm::identity
