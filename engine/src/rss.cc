// Peak RSS from /proc/self/status (VmHWM, exact in kB) with getrusage as the portable fallback.
#include <sys/resource.h>

#include <fstream>
#include <sstream>
#include <string>

#include "edgefarm/engine/benchmark.h"

namespace edgefarm::engine {

uint64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream in(line.substr(6));
      uint64_t kb = 0;
      if (in >> kb) return kb * 1024;
    }
  }
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0 && usage.ru_maxrss > 0) {
    return static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports kB
  }
  return 0;
}

}  // namespace edgefarm::engine
