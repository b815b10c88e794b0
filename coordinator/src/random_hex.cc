#include "random_hex.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace edgefarm::coordinator {

namespace {

// Bumped in a forked child, so a child never hands out bytes its parent may also hand out.
std::atomic<uint64_t> fork_generation{0};

// Random bytes drawn from OpenSSL's DRBG 4 KiB at a time per thread: one RAND_bytes call (and its
// locks) per lease token cost more than the rest of issuing the token. Each byte is handed out
// once.
class RandomPool {
 public:
  void Take(unsigned char* out, size_t bytes) {
    static const bool registered = [] {
      return pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); }) == 0;
    }();
    (void)registered;
    while (bytes > 0) {
      if (used_ == sizeof(pool_) || generation_ != fork_generation.load()) Refill();
      const size_t n = std::min(bytes, sizeof(pool_) - used_);
      std::memcpy(out, pool_ + used_, n);
      OPENSSL_cleanse(pool_ + used_, n);
      used_ += n;
      out += n;
      bytes -= n;
    }
  }

 private:
  void Refill() {
    generation_ = fork_generation.load();
    if (RAND_bytes(pool_, static_cast<int>(sizeof(pool_))) != 1) std::abort();
    used_ = 0;
  }
  unsigned char pool_[4096];
  size_t used_ = sizeof(pool_);
  uint64_t generation_ = 0;
};

}  // namespace

std::string RandomHex(size_t bytes) {
  thread_local RandomPool pool;
  std::vector<unsigned char> raw(bytes);
  pool.Take(raw.data(), raw.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  OPENSSL_cleanse(raw.data(), raw.size());
  return out;
}

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace edgefarm::coordinator
