// The coordinator's slots for the promotion service: one JobSlotControl per environment (serve
// and route jobs on workers), behind the EnvironmentSlots the service drives.
//
// The engine the slot jobs run is the one built next to this binary when there is one
// (<dir of exe>/../engine/edgefarm-engine, as the worker looks for it), because in the embedded
// farm the build directory is not on the workers' PATH; otherwise the bare name for a PATH lookup.
#include <unistd.h>

#include "edgefarm/coordinator/job_slot_control.h"
#include "edgefarm/coordinator/promotion_service.h"

namespace edgefarm::coordinator {
namespace {

std::string EngineNextToSelf() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto sibling = self.parent_path().parent_path() / "engine" / "edgefarm-engine";
    if (std::filesystem::exists(sibling, ec)) return sibling.string();
  }
  return "edgefarm-engine";
}

class JobSlots final : public EnvironmentSlots {
 public:
  explicit JobSlots(std::unique_ptr<JobSlotControl> slots) : slots_(std::move(slots)) {}
  Status StartSlot(serving::Slot slot, const std::string& version) override {
    return slots_->StartSlot(slot, version);
  }
  Result<bool> SlotReady(serving::Slot slot) override { return slots_->SlotReady(slot); }
  Status PreCheck(serving::Slot slot) override { return slots_->PreCheck(slot); }
  Status StopSlot(serving::Slot slot) override { return slots_->StopSlot(slot); }
  Status Route(serving::Slot live, int weight) override { return slots_->Route(live, weight); }
  serving::SlotStats Stats(serving::Slot slot) override { return slots_->Stats(slot); }
  void ResetStats(serving::Slot slot) override { slots_->ResetStats(slot); }
  std::string router_url() const override { return slots_->router_url(); }
  Status SetFault(const std::string& version, const SlotFault& fault) override {
    slots_->SetFault(version, ServeFault{fault.error_rate, fault.latency_ms});
    return Status::Ok();
  }

 private:
  std::unique_ptr<JobSlotControl> slots_;
};

}  // namespace

SlotFactory JobSlotFactory(const PromotionServiceOptions& options) {
  JobSlotDeps deps;
  deps.with_scheduler = options.with_scheduler;
  deps.blobs = options.blobs;
  deps.state_db = options.data_dir / "promotion.db";
  deps.clock = options.clock;
  deps.logger = options.logger;
  deps.engine = options.engine.empty() ? EngineNextToSelf() : options.engine;
  return [deps](const std::string& environment, const std::map<std::string, std::string>& tags)
             -> Result<std::unique_ptr<EnvironmentSlots>> {
    EF_ASSIGN_OR_RETURN(auto slots, JobSlotControl::Open(environment, tags, deps));
    return std::unique_ptr<EnvironmentSlots>(std::make_unique<JobSlots>(std::move(slots)));
  };
}

}  // namespace edgefarm::coordinator
