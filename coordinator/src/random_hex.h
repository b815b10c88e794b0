// Random identifiers and secrets from the OS CSPRNG (OpenSSL RAND_bytes). Internal.
#pragma once

#include <cstddef>
#include <string>

namespace edgefarm::coordinator {

// 2*bytes lowercase hex characters. Aborts only if the CSPRNG itself fails (an invariant).
std::string RandomHex(size_t bytes);

// Constant-time comparison of two equal-length strings (token hashes).
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace edgefarm::coordinator
