#include "coordinator/composite_coordinator.h"

#include <algorithm>

namespace coordha::coordinator {

CompositeCoordinator::CompositeCoordinator(std::vector<std::unique_ptr<Coordinator>> parts)
    : parts_(std::move(parts)) {}

CompositeCoordinator::~CompositeCoordinator() { Deactivate(); }

void CompositeCoordinator::Bind(const Gate* gate) {
  Coordinator::Bind(gate);
  for (auto& part : parts_) part->Bind(gate);
}

std::vector<grpc::Service*> CompositeCoordinator::Services() {
  std::vector<grpc::Service*> out;
  for (auto& part : parts_) {
    for (grpc::Service* s : part->Services()) out.push_back(s);
  }
  return out;
}

absl::Status CompositeCoordinator::Activate(const session::Leadership& leadership,
                                            Deadline deadline) {
  Deactivate();
  for (auto& part : parts_) {
    absl::Status activated = part->Activate(leadership, deadline);
    if (!activated.ok()) {
      part->Deactivate();  // parts' Deactivate is safe on a half-done activation
      Deactivate();
      return activated;
    }
    ++active_parts_;
  }
  return absl::OkStatus();
}

void CompositeCoordinator::Deactivate() {
  while (active_parts_ > 0) {
    --active_parts_;
    parts_[active_parts_]->Deactivate();
  }
}

absl::StatusOr<int64_t> CompositeCoordinator::StandbyLag(Deadline deadline) {
  int64_t lag = 0;
  for (auto& part : parts_) {
    absl::StatusOr<int64_t> one = part->StandbyLag(deadline);
    if (!one.ok()) return one.status();
    lag = std::max(lag, *one);
  }
  return lag;
}

}  // namespace coordha::coordinator
