// Ed25519 signatures over artifact digests (libsodium), used by the coordinator to sign a chosen
// artifact and by staging to verify it.
//
// The signed message is the digest as 64 lowercase hex ASCII characters (what every edgefarm
// record carries), so a signature can be checked with any Ed25519 tool from the record alone.
// Keys and signatures travel as lowercase hex: public key 32 bytes (64 hex), secret key 64 bytes
// in libsodium's layout (seed || public key, 128 hex), signature 64 bytes (128 hex).
//
// Secrets: no error message or log line produced here contains secret key material.
// Thread-safety: all functions are safe to call from any thread (sodium_init is idempotent).
#pragma once

#include <string>
#include <string_view>

#include "edgefarm/common/status.h"

namespace edgefarm::serving {

struct SigningKeyPair {
  std::string public_key_hex;
  std::string secret_key_hex;  // keep out of logs; store mode 0600
};

// A fresh key pair from the OS random source. Errors: Internal when libsodium cannot initialise.
Result<SigningKeyPair> GenerateSigningKey();

// The public key embedded in a secret key. Errors: InvalidArgument for a malformed key.
Result<std::string> PublicKeyFromSecret(std::string_view secret_key_hex);

// Signs `digest_hex` (a sha256, 64 hex characters, case-insensitive; lowercased before signing).
// Returns the detached signature in hex. Errors: InvalidArgument for a malformed key or digest.
Result<std::string> SignDigest(std::string_view secret_key_hex, std::string_view digest_hex);

// OK when `signature_hex` is a valid signature of `digest_hex` by `public_key_hex`.
// Errors: InvalidArgument for malformed hex or lengths, PermissionDenied when the signature does
// not verify.
Status VerifyDigest(std::string_view public_key_hex, std::string_view digest_hex,
                    std::string_view signature_hex);

}  // namespace edgefarm::serving
