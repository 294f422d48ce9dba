#include "libs/auth/jwt.h"

#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/auth/encoding.h"

namespace crm::auth {
namespace {

using ::testing::HasSubstr;

// RFC 8037 Appendix A.1 (private seed "d", public "x") and A.4 (signing input and signature).
constexpr char kRfcD[] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr char kRfcX[] = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr char kRfcInput[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
constexpr char kRfcSig[] =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
constexpr char kIss[] = "crm-identity";
constexpr char kAud[] = "crm";

Claims UserClaims() {
  Claims c;
  c.iss = kIss;
  c.sub = "0190b2a4-7a1c-7000-8000-000000000001";
  c.aud = kAud;
  c.jti = "0190b2a4-7a1c-7000-8000-0000000000aa";
  c.sid = "sess-1";
  c.kind = "user";
  c.roles = {"manager", "head_of_sales"};
  c.teams = {"team-a"};
  c.scopes = {"deals:read"};
  c.iat = kNow;
  c.nbf = kNow;
  c.exp = kNow + absl::Minutes(10);
  c.mfa = true;
  return c;
}

SigningKey Key(const std::string& kid) {
  auto k = SigningKey::Generate(kid);
  EXPECT_TRUE(k.ok()) << k.status();
  return *std::move(k);
}

KeySet SetOf(const SigningKey& key) {
  KeySet s;
  s.Add(key.public_key());
  return s;
}

void ExpectRefused(const absl::StatusOr<Claims>& r, const std::string& reason) {
  ASSERT_FALSE(r.ok()) << "expected refusal: " << reason;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(reason));
}

std::string B64(const std::string& s) { return Base64UrlEncode(s); }

TEST(JwtTest, Rfc8037A4KnownAnswer) {
  auto key = SigningKey::FromRawSeed("rfc", *Base64UrlDecode(kRfcD));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(B64(key->public_key().raw()), kRfcX);
  auto sig = key->Sign(kRfcInput);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(B64(*sig), kRfcSig);
  // A.5: validation with the public key alone.
  auto pub = PublicKey::FromRaw("rfc", *Base64UrlDecode(kRfcX));
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(pub->Verify(kRfcInput, *Base64UrlDecode(kRfcSig)));
  EXPECT_FALSE(pub->Verify(std::string(kRfcInput) + "x", *Base64UrlDecode(kRfcSig)));
}

// The RFC 8037 A.1 key as PKCS#8 PEM: DER prefix 302e020100300506032b657004220420 + "d", base64'd
// with Python; `openssl pkey -pubout` on it prints the A.1 "x".
constexpr char kRfcPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";

// A JWT made without this library: header and payload typed by hand, signed with
//   openssl pkeyutl -sign -inkey rfc.pem -rawin -in <header.payload>   (OpenSSL 3.0 CLI)
constexpr char kCliJwt[] =
    "eyJhbGciOiJFZERTQSIsImtpZCI6InJmYyIsInR5cCI6IkpXVCJ9."
    "eyJhdWQiOiJjcm0iLCJleHAiOjE4MDAwMDA2MDAsImlhdCI6MTgwMDAwMDAwMCwiaXNzIjoiY3JtLWlkZW50aXR5Iiwia2luZCI6"
    "ImFwaV9rZXkiLCJyb2xlcyI6WyJpbnRlZ3JhdG9yIl0sInN1YiI6IjAxOTBiMmE0LTdhMWMtNzAwMC04MDAwLTAwMDAwMDAwMDBr"
    "MSJ9."
    "7T2xQSwVLXAVSuo43g581azv55AJlSa8JydbqdNPgz5QVghlZlc3BeC8va7NFc9d6jw2Z1k1UcAyAq03DqRbAQ";

TEST(JwtTest, InteropWithOpensslCli) {
  auto key = SigningKey::FromPrivatePem("rfc", kRfcPem);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(B64(key->public_key().raw()), kRfcX);
  EXPECT_EQ(B64(*key->Sign(kRfcInput)), kRfcSig);

  KeySet keys = SetOf(*key);
  auto c = VerifyJwt(kCliJwt, keys, absl::FromUnixSeconds(1'800'000'100), kIss, kAud);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kind, "api_key");
  EXPECT_EQ(c->sub, "0190b2a4-7a1c-7000-8000-0000000000k1");
  EXPECT_EQ(c->roles, std::vector<std::string>{"integrator"});
  EXPECT_FALSE(c->mfa);

  // Ed25519 is deterministic and our JSON is sorted and compact, so SignJwt reproduces it byte for byte.
  Claims same;
  same.iss = kIss;
  same.sub = c->sub;
  same.aud = kAud;
  same.kind = "api_key";
  same.roles = {"integrator"};
  same.iat = absl::FromUnixSeconds(1'800'000'000);
  same.exp = absl::FromUnixSeconds(1'800'000'600);
  EXPECT_EQ(SignJwt(same, *key).value(), kCliJwt);
}

TEST(JwtTest, RoundTripKeepsEveryClaim) {
  SigningKey key = Key("k1");
  Claims in = UserClaims();
  in.on_behalf_of = "someone";
  auto token = SignJwt(in, key);
  ASSERT_TRUE(token.ok()) << token.status();
  auto out = VerifyJwt(*token, SetOf(key), kNow, kIss, kAud);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->iss, in.iss);
  EXPECT_EQ(out->sub, in.sub);
  EXPECT_EQ(out->aud, in.aud);
  EXPECT_EQ(out->jti, in.jti);
  EXPECT_EQ(out->sid, in.sid);
  EXPECT_EQ(out->kind, in.kind);
  EXPECT_EQ(out->roles, in.roles);
  EXPECT_EQ(out->teams, in.teams);
  EXPECT_EQ(out->scopes, in.scopes);
  EXPECT_EQ(out->iat, in.iat);
  EXPECT_EQ(out->nbf, in.nbf);
  EXPECT_EQ(out->exp, in.exp);
  EXPECT_TRUE(out->mfa);
  EXPECT_EQ(out->on_behalf_of, "someone");

  // The header names the alg and kid.
  std::vector<std::string> parts = absl::StrSplit(*token, '.');
  ASSERT_EQ(parts.size(), 3u);
  auto header = nlohmann::json::parse(*Base64UrlDecode(parts[0]));
  EXPECT_EQ(header["alg"], "EdDSA");
  EXPECT_EQ(header["kid"], "k1");
}

TEST(JwtTest, SignRejectsIncompleteClaims) {
  SigningKey key = Key("k1");
  Claims c = UserClaims();
  c.iss.clear();
  EXPECT_EQ(SignJwt(c, key).status().code(), absl::StatusCode::kInvalidArgument);
  c = UserClaims();
  c.kind = "admin";
  EXPECT_EQ(SignJwt(c, key).status().code(), absl::StatusCode::kInvalidArgument);
  c = UserClaims();
  c.exp = c.iat;
  EXPECT_EQ(SignJwt(c, key).status().code(), absl::StatusCode::kInvalidArgument);
  c = UserClaims();
  c.roles.assign(1000, "a-rather-long-role-name");
  EXPECT_EQ(SignJwt(c, key).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JwtTest, TimeWindowWithLeeway) {
  SigningKey key = Key("k1");
  KeySet keys = SetOf(key);
  auto token = SignJwt(UserClaims(), key);
  ASSERT_TRUE(token.ok());
  const absl::Time exp = kNow + absl::Minutes(10);
  EXPECT_TRUE(VerifyJwt(*token, keys, exp + absl::Seconds(29), kIss, kAud).ok());
  ExpectRefused(VerifyJwt(*token, keys, exp + absl::Seconds(30), kIss, kAud), "token expired");
  ExpectRefused(VerifyJwt(*token, keys, exp, kIss, kAud, absl::ZeroDuration()), "token expired");
  EXPECT_TRUE(VerifyJwt(*token, keys, kNow - absl::Seconds(30), kIss, kAud).ok());
  ExpectRefused(VerifyJwt(*token, keys, kNow - absl::Seconds(31), kIss, kAud), "token not yet valid");
  ExpectRefused(VerifyJwt(*token, keys, kNow - absl::Seconds(1), kIss, kAud, absl::ZeroDuration()),
                "token not yet valid");
}

TEST(JwtTest, WrongIssuerAndAudience) {
  SigningKey key = Key("k1");
  auto token = SignJwt(UserClaims(), key);
  ASSERT_TRUE(token.ok());
  ExpectRefused(VerifyJwt(*token, SetOf(key), kNow, "someone-else", kAud), "wrong issuer");
  ExpectRefused(VerifyJwt(*token, SetOf(key), kNow, kIss, "other-api"), "wrong audience");
}

TEST(JwtTest, UnknownKidAndBadSignature) {
  SigningKey key = Key("k1");
  SigningKey other = Key("k1");  // same kid, different key: an impostor
  auto token = SignJwt(UserClaims(), key);
  ASSERT_TRUE(token.ok());
  ExpectRefused(VerifyJwt(*token, SetOf(Key("k2")), kNow, kIss, kAud), "unknown kid");
  ExpectRefused(VerifyJwt(*token, KeySet(), kNow, kIss, kAud), "unknown kid");
  ExpectRefused(VerifyJwt(*token, SetOf(other), kNow, kIss, kAud), "bad signature");
}

TEST(JwtTest, TamperedPayloadFailsSignature) {
  SigningKey key = Key("k1");
  Claims c = UserClaims();
  c.kind = "user";
  auto token = SignJwt(c, key);
  ASSERT_TRUE(token.ok());
  std::vector<std::string> parts = absl::StrSplit(*token, '.');
  auto payload = nlohmann::json::parse(*Base64UrlDecode(parts[1]));
  payload["roles"] = {"admin"};
  std::string forged = absl::StrCat(parts[0], ".", B64(payload.dump()), ".", parts[2]);
  ExpectRefused(VerifyJwt(forged, SetOf(key), kNow, kIss, kAud), "bad signature");
  // Flip one signature bit.
  std::string sig = *Base64UrlDecode(parts[2]);
  sig[10] ^= 1;
  ExpectRefused(VerifyJwt(absl::StrCat(parts[0], ".", parts[1], ".", B64(sig)), SetOf(key), kNow, kIss,
                          kAud),
                "bad signature");
}

TEST(JwtTest, RejectsNoneAndHs256) {
  SigningKey key = Key("k1");
  auto token = SignJwt(UserClaims(), key);
  ASSERT_TRUE(token.ok());
  std::vector<std::string> parts = absl::StrSplit(*token, '.');
  for (const char* alg : {"none", "HS256", "ES256", "RS256", "eddsa"}) {
    nlohmann::json h{{"alg", alg}, {"typ", "JWT"}, {"kid", "k1"}};
    std::string t = absl::StrCat(B64(h.dump()), ".", parts[1], ".", parts[2]);
    ExpectRefused(VerifyJwt(t, SetOf(key), kNow, kIss, kAud), "unsupported alg");
    ExpectRefused(VerifyJwt(absl::StrCat(B64(h.dump()), ".", parts[1], "."), SetOf(key), kNow, kIss,
                            kAud),
                  "unsupported alg");
  }
  nlohmann::json no_alg{{"kid", "k1"}};
  ExpectRefused(VerifyJwt(absl::StrCat(B64(no_alg.dump()), ".", parts[1], ".", parts[2]), SetOf(key),
                          kNow, kIss, kAud),
                "unsupported alg");
  nlohmann::json crit{{"alg", "EdDSA"}, {"kid", "k1"}, {"crit", {"exp"}}};
  ExpectRefused(VerifyJwt(absl::StrCat(B64(crit.dump()), ".", parts[1], ".", parts[2]), SetOf(key),
                          kNow, kIss, kAud),
                "crit");
}

TEST(JwtTest, MalformedTokens) {
  SigningKey key = Key("k1");
  auto token = SignJwt(UserClaims(), key);
  ASSERT_TRUE(token.ok());
  for (const std::string& t : {std::string(""), std::string("abc"), std::string("a.b"),
                               *token + ".extra", std::string("!!.!!.!!"), "e30." + *token,
                               B64("not json") + ".e30.AAAA", B64("[1]") + ".e30.AAAA"}) {
    ExpectRefused(VerifyJwt(t, SetOf(key), kNow, kIss, kAud), "malformed token");
  }
  ExpectRefused(VerifyJwt(std::string(kMaxJwtBytes + 1, 'a'), SetOf(key), kNow, kIss, kAud),
                "token too long");
}

TEST(JwtTest, SignedButMalformedClaimsAreRefused) {
  SigningKey key = Key("k1");
  auto sign_raw = [&](const nlohmann::json& payload) {
    std::string input = absl::StrCat(B64(R"({"alg":"EdDSA","kid":"k1"})"), ".", B64(payload.dump()));
    return absl::StrCat(input, ".", B64(*key.Sign(input)));
  };
  nlohmann::json ok{{"iss", kIss}, {"sub", "u"}, {"aud", kAud}, {"kind", "user"},
                    {"exp", absl::ToUnixSeconds(kNow) + 60}};
  EXPECT_TRUE(VerifyJwt(sign_raw(ok), SetOf(key), kNow, kIss, kAud).ok());
  // aud as an array containing ours.
  nlohmann::json arr = ok;
  arr["aud"] = {"x", kAud};
  EXPECT_TRUE(VerifyJwt(sign_raw(arr), SetOf(key), kNow, kIss, kAud).ok());
  arr["aud"] = {"x", "y"};
  ExpectRefused(VerifyJwt(sign_raw(arr), SetOf(key), kNow, kIss, kAud), "wrong audience");
  for (const char* field : {"exp", "sub", "kind"}) {
    nlohmann::json p = ok;
    p.erase(field);
    ExpectRefused(VerifyJwt(sign_raw(p), SetOf(key), kNow, kIss, kAud), "malformed claims");
  }
  nlohmann::json p = ok;
  p["exp"] = "tomorrow";
  ExpectRefused(VerifyJwt(sign_raw(p), SetOf(key), kNow, kIss, kAud), "malformed claims");
  p = ok;
  p["roles"] = "admin";
  ExpectRefused(VerifyJwt(sign_raw(p), SetOf(key), kNow, kIss, kAud), "malformed claims");
  p = ok;
  p["mfa"] = 1;
  ExpectRefused(VerifyJwt(sign_raw(p), SetOf(key), kNow, kIss, kAud), "malformed claims");
}

TEST(JwtTest, KeyRotation) {
  SigningKey old_key = Key("2026-10");
  SigningKey new_key = Key("2026-11");
  auto old_token = SignJwt(UserClaims(), old_key);
  auto new_token = SignJwt(UserClaims(), new_key);
  ASSERT_TRUE(old_token.ok() && new_token.ok());

  KeySet keys;
  keys.Add(old_key.public_key());
  keys.Add(new_key.public_key());
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_TRUE(VerifyJwt(*old_token, keys, kNow, kIss, kAud).ok());
  EXPECT_TRUE(VerifyJwt(*new_token, keys, kNow, kIss, kAud).ok());

  // Through the published JWKS, as the gateway sees it.
  auto fetched = KeySet::FromJwks(keys.ToJwks());
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_TRUE(VerifyJwt(*old_token, *fetched, kNow, kIss, kAud).ok());

  EXPECT_TRUE(keys.Remove("2026-10"));
  EXPECT_FALSE(keys.Remove("2026-10"));
  ExpectRefused(VerifyJwt(*old_token, keys, kNow, kIss, kAud), "unknown kid");
  EXPECT_TRUE(VerifyJwt(*new_token, keys, kNow, kIss, kAud).ok());
}

TEST(JwtTest, PemRoundTrip) {
  SigningKey key = Key("k1");
  std::string pem = key.PrivatePem();
  EXPECT_THAT(pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  auto back = SigningKey::FromPrivatePem("k1", pem);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->public_key().raw(), key.public_key().raw());
  auto token = SignJwt(UserClaims(), *back);
  ASSERT_TRUE(token.ok());
  EXPECT_TRUE(VerifyJwt(*token, SetOf(key), kNow, kIss, kAud).ok());
  EXPECT_EQ(SigningKey::FromPrivatePem("k1", "garbage").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SigningKey::Generate("bad kid with spaces").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(JwtTest, JwkAndJwks) {
  auto key = SigningKey::FromRawSeed("rfc", *Base64UrlDecode(kRfcD));
  ASSERT_TRUE(key.ok());
  nlohmann::json jwk = key->public_key().ToJwk();
  EXPECT_EQ(jwk, (nlohmann::json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", kRfcX},
                                 {"kid", "rfc"}, {"alg", "EdDSA"}, {"use", "sig"}}));
  // Other key types are skipped; a minimal RFC 8037 A.2 style entry with a kid loads.
  auto set = KeySet::FromJwks(absl::StrCat(
      R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"},)",
      R"({"kty":"OKP","crv":"Ed25519","x":")", kRfcX, R"(","kid":"rfc"}]})"));
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->size(), 1u);
  ASSERT_NE(set->Find("rfc"), nullptr);
  EXPECT_EQ(B64(set->Find("rfc")->raw()), kRfcX);
  EXPECT_EQ(set->Find("r"), nullptr);

  const std::string kBad[] = {
      "", "[]", R"({"keys":{}})", R"({"keys":[1]})",
      absl::StrCat(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":")", kRfcX, R"("}]})"),  // no kid
      R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"a"}]})",               // short x
      absl::StrCat(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":")", kRfcX,
                   R"(","kid":"a","alg":"HS256"}]})"),
      absl::StrCat(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":")", kRfcX, R"(","kid":"a","d":")",
                   kRfcD, R"("}]})"),
      absl::StrCat(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":")", kRfcX,
                   R"(","kid":"a"},{"kty":"OKP","crv":"Ed25519","x":")", kRfcX, R"(","kid":"a"}]})"),
  };
  for (const std::string& doc : kBad) {
    EXPECT_EQ(KeySet::FromJwks(doc).status().code(), absl::StatusCode::kInvalidArgument) << doc;
  }
}

}  // namespace
}  // namespace crm::auth
