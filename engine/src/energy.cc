// The RAPL adapter: reads powercap's energy_uj (microjoules, wrapping at max_energy_range_uj).
// Reading needs root on most kernels since 2020 (CVE-2020-8694), so "not readable" is the usual
// outcome in containers and unprivileged workers; the error says exactly why.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "edgefarm/engine/benchmark.h"

namespace edgefarm::engine {
namespace {

Result<uint64_t> ReadU64File(const std::filesystem::path& path) {
  errno = 0;
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    return IoError("RAPL not readable: " + path.string() + " (" +
                   (err != 0 ? std::string(strerrorname_np(err) ? strerrorname_np(err) : "") +
                                   ": " + std::strerror(err)
                             : std::string("cannot open")) +
                   ")");
  }
  uint64_t v = 0;
  if (!(in >> v)) return IoError("RAPL not readable: " + path.string() + " (unparsable or EIO)");
  return v;
}

class RaplCounter final : public EnergyCounter {
 public:
  RaplCounter(std::filesystem::path dir, uint64_t max, std::string name)
      : dir_(std::move(dir)), max_(max), name_(std::move(name)) {}
  Result<uint64_t> ReadMicrojoules() override { return ReadU64File(dir_ / "energy_uj"); }
  uint64_t MaxMicrojoules() const override { return max_; }
  std::string Name() const override { return name_; }

 private:
  std::filesystem::path dir_;
  uint64_t max_;
  std::string name_;
};

}  // namespace

Result<std::unique_ptr<EnergyCounter>> OpenRaplCounter(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir / "energy_uj", ec)) {
    return NotFound("RAPL not available: " + (dir / "energy_uj").string() + " does not exist");
  }
  EF_ASSIGN_OR_RETURN(uint64_t first, ReadU64File(dir / "energy_uj"));
  (void)first;
  auto max = ReadU64File(dir / "max_energy_range_uj");
  std::string name = "rapl:" + dir.filename().string();
  std::ifstream name_file(dir / "name");
  std::string domain;
  if (name_file >> domain) name += " (" + domain + ")";
  return std::unique_ptr<EnergyCounter>(new RaplCounter(dir, max.ok() ? *max : 0, std::move(name)));
}

}  // namespace edgefarm::engine
