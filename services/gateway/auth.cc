// File: services/gateway/auth.cc
#include "services/gateway/auth.h"
#include "services/gateway/webhooks.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/auth/encoding.h"
#include "libs/base/strings.h"
#include "libs/log/log.h"

namespace crm::gateway {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

JwksFileSource::JwksFileSource(std::string path, absl::Duration reload_interval)
    : path_(std::move(path)), reload_interval_(reload_interval) {}

absl::StatusOr<std::shared_ptr<const auth::KeySet>> JwksFileSource::Keys(absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (keys_ != nullptr && now - last_check_ < reload_interval_) return keys_;
  if (keys_ == nullptr && !last_error_.ok() && now - last_check_ < reload_interval_) return last_error_;
  last_check_ = now;
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    last_error_ = absl::NotFoundError(absl::StrCat("cannot stat JWKS file ", path_));
    if (keys_ != nullptr) return keys_;
    return last_error_;
  }
  const int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  if (keys_ != nullptr && mtime_ns == mtime_ns_ && int64_t{st.st_size} == size_) return keys_;
  absl::StatusOr<std::string> text = ReadFile(path_);
  absl::StatusOr<auth::KeySet> set =
      text.ok() ? auth::KeySet::FromJwks(*text) : absl::StatusOr<auth::KeySet>(text.status());
  if (!set.ok()) {
    last_error_ = set.status();
    log::Warn("cannot load the JWKS file; keeping the previous keys",
              {{"path", path_}, {"error", last_error_}});
    if (keys_ != nullptr) return keys_;
    return last_error_;
  }
  mtime_ns_ = mtime_ns;
  size_ = st.st_size;
  keys_ = std::make_shared<const auth::KeySet>(*std::move(set));
  last_error_ = absl::OkStatus();
  log::Info("loaded token-signing keys", {{"path", path_}, {"keys", keys_->size()}});
  return keys_;
}

std::vector<std::string> DefaultPublicMethods() {
  std::vector<std::string> out = {"crm.identity.v1.AuthService.SignIn", "crm.identity.v1.AuthService.Refresh",
                                  "crm.identity.v1.AuthService.GetSigningKeys"};
  for (const Webhook& w : DefaultWebhooks()) out.push_back(w.method);  // webhooks.h
  return out;
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(AuthOptions options) {
  if (options.issuer.empty()) return absl::InvalidArgumentError("auth issuer must not be empty");
  if (options.audience.empty()) return absl::InvalidArgumentError("auth audience must not be empty");
  if (options.clock == nullptr) options.clock = &SystemClock();
  return std::unique_ptr<Authenticator>(new Authenticator(std::move(options)));
}

bool Authenticator::IsPublic(std::string_view method) const {
  for (const std::string& m : options_.public_methods) {
    if (m == method) return true;
  }
  return false;
}

absl::StatusOr<std::shared_ptr<const auth::KeySet>> JwksSource::Refresh(absl::Duration) {
  return Keys(absl::Now());
}

namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool LooksLikeApiKey(std::string_view s) { return s.substr(0, 4) == "crm_"; }

}  // namespace

absl::StatusOr<std::optional<common::v1::Principal>> Authenticator::Authenticate(
    std::string_view method, const Credentials& credentials) const {
  const bool is_public = IsPublic(method);
  auto revoked = [this](const std::string& sid) {
    return !sid.empty() && options_.revocations != nullptr && options_.revocations->IsRevoked(sid);
  };
  std::string_view token;
  if (credentials.authorization.has_value()) {
    std::string_view h = TrimSpaces(*credentials.authorization);
    if (h.size() > 7 && absl::EqualsIgnoreCase(AsAbsl(h.substr(0, 7)), "bearer ")) {
      token = TrimSpaces(h.substr(7));
    }
  }
  std::string_view api_key =
      credentials.api_key.has_value() ? TrimSpaces(*credentials.api_key) : std::string_view();
  if (api_key.empty() && LooksLikeApiKey(token)) std::swap(api_key, token);
  if (!api_key.empty()) {
    absl::Status refused;
    if (options_.api_keys == nullptr) {
      refused = absl::UnauthenticatedError("API keys are not accepted here");
    } else {
      absl::StatusOr<common::v1::Principal> p = options_.api_keys->Verify(api_key, credentials.request_id);
      if (p.ok()) return std::optional<common::v1::Principal>(*std::move(p));
      if (p.status().code() != absl::StatusCode::kUnauthenticated) {
        log::Warn("cannot check an API key", {{"method", method}, {"error", p.status()}});
        return absl::UnavailableError("cannot check the API key now; try again");
      }
      refused = p.status();
    }
    log::Info("API key refused", {{"method", method}, {"reason", refused}});
    if (is_public) return std::optional<common::v1::Principal>();
    return absl::UnauthenticatedError("invalid API key");
  }
  if (token.empty()) {
    if (is_public) return std::optional<common::v1::Principal>();
    return absl::UnauthenticatedError(kMissingTokenMessage);
  }
  absl::Status refused;
  if (options_.jwks == nullptr) {
    refused = absl::UnauthenticatedError("no token-signing keys configured");
  } else {
    const absl::Time now = options_.clock->Now();
    absl::StatusOr<std::shared_ptr<const auth::KeySet>> keys = options_.jwks->Keys(now);
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!keys.ok()) {
        refused = keys.status();
        break;
      }
      if (std::optional<Verified> v = Remembered(token, now, **keys); v.has_value()) {
        if (revoked(v->sid)) {
          refused = absl::UnauthenticatedError(kRevokedSessionMessage);
          break;
        }
        return std::optional<common::v1::Principal>(std::move(v->principal));
      }
      absl::StatusOr<auth::Claims> claims =
          auth::VerifyJwt(token, **keys, now, options_.issuer, options_.audience);
      if (claims.ok()) {
        common::v1::Principal p = PrincipalFromClaims(*claims);
        Remember(token, *claims, p, **keys);
        if (revoked(claims->sid)) {
          refused = absl::UnauthenticatedError(kRevokedSessionMessage);
          break;
        }
        return std::optional<common::v1::Principal>(std::move(p));
      }
      refused = claims.status();
      // A key id not seen yet: identity may have rotated its key a moment ago. Look once.
      if (attempt > 0 || refused.message() != "unknown kid") break;
      keys = options_.jwks->Refresh(absl::Milliseconds(500));
    }
  }
  log::Info("token refused", {{"method", method}, {"reason", refused}});
  if (is_public) return std::optional<common::v1::Principal>();  // e.g. signing in again after sign-out
  if (refused.message() == kRevokedSessionMessage) return refused;
  if (refused.message() == "token expired") return absl::UnauthenticatedError(kExpiredTokenMessage);
  return absl::UnauthenticatedError("invalid token");
}

std::string WwwAuthenticate(const absl::Status& refused) {
  if (refused.message() == kMissingTokenMessage) return "Bearer";
  std::string description;
  for (char c : refused.message()) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
      continue;  // a quoted-string of plain characters
    }
    description += c;
  }
  return absl::StrCat("Bearer error=\"invalid_token\", error_description=\"", description, "\"");
}

// The leeway VerifyJwt applies by default.
constexpr absl::Duration kTokenLeeway = absl::Seconds(30);

std::optional<Authenticator::Verified> Authenticator::Remembered(std::string_view token, absl::Time now,
                                                                 const auth::KeySet& keys) const {
  if (options_.token_cache_size == 0) return std::nullopt;
  absl::ReaderMutexLock lock(&cache_mu_);
  auto it = cache_.find(AsAbsl(token));
  if (it == cache_.end()) return std::nullopt;
  const Verified& v = it->second;
  if (now < v.not_before || now >= v.expires) return std::nullopt;
  const auth::PublicKey* key = keys.Find(v.kid);
  if (key == nullptr || key->raw() != v.key) return std::nullopt;
  return v;
}

void Authenticator::Remember(std::string_view token, const auth::Claims& claims,
                             const common::v1::Principal& p, const auth::KeySet& keys) const {
  if (options_.token_cache_size == 0) return;
  // The kid is in the token's header, the first dot-separated part; VerifyJwt found it in `keys`.
  const size_t dot = token.find('.');
  if (dot == std::string_view::npos) return;
  std::optional<std::string> header = auth::Base64UrlDecode(token.substr(0, dot));
  if (!header.has_value()) return;
  const nlohmann::json h = nlohmann::json::parse(*header, nullptr, /*allow_exceptions=*/false);
  if (!h.is_object() || !h.contains("kid") || !h["kid"].is_string()) return;
  const std::string kid = h["kid"].get<std::string>();
  const auth::PublicKey* key = keys.Find(kid);
  if (key == nullptr) return;
  Verified v{p, (claims.nbf == absl::Time() ? claims.iat : claims.nbf) - kTokenLeeway,
             claims.exp + kTokenLeeway, kid, key->raw(), claims.sid};
  absl::MutexLock lock(&cache_mu_);
  if (cache_.size() >= options_.token_cache_size) cache_.clear();  // crude, but bounded and rare
  cache_.insert_or_assign(std::string(token), std::move(v));
}

common::v1::Principal PrincipalFromClaims(const auth::Claims& claims) {
  common::v1::Principal p;
  if (claims.kind == "service") {
    p.set_kind(common::v1::Principal::KIND_SERVICE);
    p.set_service(claims.sub);
    p.set_on_behalf_of_user_id(claims.on_behalf_of);
  } else {
    p.set_kind(claims.kind == "api_key" ? common::v1::Principal::KIND_API_KEY
                                        : common::v1::Principal::KIND_USER);
    p.set_id(claims.sub);
  }
  for (const std::string& r : claims.roles) p.add_roles(r);
  for (const std::string& t : claims.teams) p.add_team_ids(t);
  for (const std::string& s : claims.scopes) p.add_permissions(s);
  return p;
}

absl::StatusOr<auth::SigningKey> LoadServiceKey(const std::string& pem_path, const std::string& kid) {
  if (pem_path.empty()) return auth::SigningKey::Generate(kid);
  absl::StatusOr<std::string> pem = ReadFile(pem_path);
  if (!pem.ok()) return pem.status();
  return auth::SigningKey::FromPrivatePem(kid, *pem);
}

}  // namespace crm::gateway
