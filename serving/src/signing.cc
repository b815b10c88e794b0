// libsodium adapter (the only file that includes <sodium.h>). Secret key bytes are wiped with
// sodium_memzero once used.
#include "edgefarm/serving/signing.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "edgefarm/common/sha256.h"

namespace edgefarm::serving {
namespace {

Status InitSodium() {
  if (sodium_init() < 0) return Internal("libsodium failed to initialise");
  return Status::Ok();
}

std::string ToHex(const unsigned char* data, size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, size);
  out.pop_back();
  return out;
}

// Decodes exactly `size` bytes of hex; `what` names the field in errors (never its value).
Result<std::vector<unsigned char>> FromHex(std::string_view hex, size_t size, const char* what) {
  if (hex.size() != size * 2) {
    return InvalidArgument(std::string(what) + " must be " + std::to_string(size * 2) +
                           " hex characters, got " + std::to_string(hex.size()));
  }
  std::vector<unsigned char> out(size);
  size_t written = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &written, &end) !=
          0 ||
      written != size || end != hex.data() + hex.size()) {
    return InvalidArgument(std::string(what) + " is not valid hex");
  }
  return out;
}

Result<std::string> NormalizedDigest(std::string_view digest_hex) {
  std::string d(digest_hex);
  std::transform(d.begin(), d.end(), d.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!IsValidSha256Hex(d)) return InvalidArgument("digest must be 64 hex characters (sha256)");
  return d;
}

}  // namespace

Result<SigningKeyPair> GenerateSigningKey() {
  EF_RETURN_IF_ERROR(InitSodium());
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  SigningKeyPair pair{ToHex(pk, sizeof(pk)), ToHex(sk, sizeof(sk))};
  sodium_memzero(sk, sizeof(sk));
  return pair;
}

Result<std::string> PublicKeyFromSecret(std::string_view secret_key_hex) {
  EF_RETURN_IF_ERROR(InitSodium());
  EF_ASSIGN_OR_RETURN(std::vector<unsigned char> sk,
                      FromHex(secret_key_hex, crypto_sign_SECRETKEYBYTES, "secret key"));
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_ed25519_sk_to_pk(pk, sk.data());
  sodium_memzero(sk.data(), sk.size());
  return ToHex(pk, sizeof(pk));
}

Result<std::string> SignDigest(std::string_view secret_key_hex, std::string_view digest_hex) {
  EF_RETURN_IF_ERROR(InitSodium());
  EF_ASSIGN_OR_RETURN(std::string digest, NormalizedDigest(digest_hex));
  EF_ASSIGN_OR_RETURN(std::vector<unsigned char> sk,
                      FromHex(secret_key_hex, crypto_sign_SECRETKEYBYTES, "secret key"));
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(digest.data()),
                       digest.size(), sk.data());
  sodium_memzero(sk.data(), sk.size());
  return ToHex(sig, sizeof(sig));
}

Status VerifyDigest(std::string_view public_key_hex, std::string_view digest_hex,
                    std::string_view signature_hex) {
  EF_RETURN_IF_ERROR(InitSodium());
  EF_ASSIGN_OR_RETURN(std::string digest, NormalizedDigest(digest_hex));
  EF_ASSIGN_OR_RETURN(std::vector<unsigned char> pk,
                      FromHex(public_key_hex, crypto_sign_PUBLICKEYBYTES, "public key"));
  EF_ASSIGN_OR_RETURN(std::vector<unsigned char> sig,
                      FromHex(signature_hex, crypto_sign_BYTES, "signature"));
  if (crypto_sign_verify_detached(sig.data(), reinterpret_cast<const unsigned char*>(digest.data()),
                                  digest.size(), pk.data()) != 0) {
    return PermissionDenied("signature does not verify for digest " + digest +
                            " with the given public key");
  }
  return Status::Ok();
}

}  // namespace edgefarm::serving
