#include "services/dialogs/telegram/secrets.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "libs/base/strings.h"

namespace crm::dialogs::telegram {
namespace {

constexpr int kNonce = 12;
constexpr int kTag = 16;
constexpr char kPrefix[] = "v1.";

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

}  // namespace

SecretBox::SecretBox(std::string_view key_material) {
  SHA256(reinterpret_cast<const unsigned char*>(key_material.data()), key_material.size(), key_);
}

std::string SecretBox::Seal(std::string_view context, std::string_view plaintext) const {
  std::string out(kNonce + plaintext.size() + kTag, '\0');
  auto* buf = reinterpret_cast<unsigned char*>(out.data());
  RAND_bytes(buf, kNonce);
  std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter> c(EVP_CIPHER_CTX_new());
  int len = 0;
  EVP_EncryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, key_, buf);
  EVP_EncryptUpdate(c.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(context.data()),
                    static_cast<int>(context.size()));
  EVP_EncryptUpdate(c.get(), buf + kNonce, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                    static_cast<int>(plaintext.size()));
  EVP_EncryptFinal_ex(c.get(), buf + kNonce + len, &len);
  EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, kTag, buf + kNonce + plaintext.size());
  return kPrefix + absl::WebSafeBase64Escape(out);
}

absl::StatusOr<std::string> SecretBox::Open(std::string_view context, std::string_view sealed) const {
  std::string raw;
  if (sealed.substr(0, 3) != kPrefix || !absl::WebSafeBase64Unescape(crm::AsAbsl(sealed.substr(3)), &raw) ||
      raw.size() < static_cast<size_t>(kNonce + kTag)) {
    return absl::InternalError("not a sealed secret");
  }
  const size_t n = raw.size() - kNonce - kTag;
  auto* buf = reinterpret_cast<unsigned char*>(raw.data());
  std::string out(n, '\0');
  std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter> c(EVP_CIPHER_CTX_new());
  int len = 0;
  EVP_DecryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, key_, buf);
  EVP_DecryptUpdate(c.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(context.data()),
                    static_cast<int>(context.size()));
  EVP_DecryptUpdate(c.get(), reinterpret_cast<unsigned char*>(out.data()), &len, buf + kNonce, static_cast<int>(n));
  EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, kTag, buf + kNonce + n);
  if (EVP_DecryptFinal_ex(c.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) != 1) {
    return absl::InternalError("sealed secret does not open (another key or context)");
  }
  return out;
}

std::string RandomToken(int n) {
  std::string raw(static_cast<size_t>(n), '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), n);
  return absl::WebSafeBase64Escape(raw);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Digests first: the comparison's time then says nothing about the secret's length either.
  unsigned char da[SHA256_DIGEST_LENGTH];
  unsigned char db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, SHA256_DIGEST_LENGTH) == 0;
}

}  // namespace crm::dialogs::telegram
