#include "coordinator/coordinator.h"

namespace coordha::coordinator {
namespace {

// A coordinator with no state of its own yet: nothing to recover, nothing to stop.
class StatelessCoordinator final : public Coordinator {
 public:
  absl::Status Activate(const session::Leadership&, Deadline) override { return absl::OkStatus(); }
  void Deactivate() override {}
};

}  // namespace

std::unique_ptr<Coordinator> CreateCoordinator(const std::string&) {
  return std::make_unique<StatelessCoordinator>();
}

}  // namespace coordha::coordinator
