// CompositeCoordinator: several coordinators under ONE election — `coordha run mixcoord` runs
// rootcoord, datacoord, querycoord and indexcoord in one process, as Milvus 2.6 does.
//
// One Replica (role "mixcoord", active key <meta>/session/mixcoord) drives the composite: every
// part keeps its hot copy all the time (L5); Activate activates the parts in order (rootcoord
// first: the others read its catalog) under the one Leadership, so every part's writes are
// fenced by the mixcoord epoch (S1); if one fails, those already activated are deactivated again
// and the error gives the role up. Deactivate runs in reverse order. StandbyLag is the largest
// part's (unknown while any part's is). Services are all parts' services.
//
// Each part keeps its own key prefix (<meta>/rootcoord/, <meta>/datacoord/, ...), so a cluster
// can move between one mixcoord and separate coordinators without moving data — though never run
// both for the same prefix at once: they would be two writers with separate epochs.
#ifndef COORDHA_COORDINATOR_COMPOSITE_COORDINATOR_H_
#define COORDHA_COORDINATOR_COMPOSITE_COORDINATOR_H_

#include <memory>
#include <vector>

#include "coordinator/coordinator.h"

namespace coordha::coordinator {

class CompositeCoordinator final : public Coordinator {
 public:
  // REQUIRES: at least one part. Activated in this order.
  explicit CompositeCoordinator(std::vector<std::unique_ptr<Coordinator>> parts);
  ~CompositeCoordinator() override;

  void Bind(const Gate* gate) override;
  std::vector<grpc::Service*> Services() override;
  absl::Status Activate(const session::Leadership& leadership, Deadline deadline) override;
  void Deactivate() override;
  absl::StatusOr<int64_t> StandbyLag(Deadline deadline) override;

  const std::vector<std::unique_ptr<Coordinator>>& parts() const { return parts_; }

 private:
  std::vector<std::unique_ptr<Coordinator>> parts_;
  size_t active_parts_ = 0;  // how many are activated (replica thread only)
};

}  // namespace coordha::coordinator

#endif  // COORDHA_COORDINATOR_COMPOSITE_COORDINATOR_H_
