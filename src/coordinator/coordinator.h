// Coordinator: what each coordinator role (rootcoord, datacoord, querycoord, indexcoord) plugs into
// the active-standby machinery.
//
// A Coordinator is a session::ReplicaHooks (Activate recovers its state as the new active, S7;
// Deactivate stops active-only work) plus the gRPC services it serves. Its handlers call the
// Gate first (coordinator/gate.h), so a standby answers NOT_ACTIVE with the active's address.
// The host (server/) owns the Replica, the gRPC server and the Coordinator, and wires them.
#ifndef COORDHA_COORDINATOR_COORDINATOR_H_
#define COORDHA_COORDINATOR_COORDINATOR_H_

#include <grpcpp/impl/service_type.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/gate.h"
#include "session/replica.h"

namespace coordha::coordinator {

class Coordinator : public session::ReplicaHooks {
 public:
  // Called once, before the Replica starts. `gate` is borrowed and outlives the Coordinator.
  virtual void Bind(const Gate* gate) { gate_ = gate; }
  // The role's business services (registered besides the Component service). Borrowed.
  virtual std::vector<grpc::Service*> Services() { return {}; }
  // L6: how the watchdog probes this process's serving path (the host sends an RPC to its own
  // gRPC server). Set once before the Replica starts. REQUIRES: returns by its deadline.
  void SetServingProbe(std::function<absl::Status(Deadline)> probe) { probe_ = std::move(probe); }
  absl::Status Probe(Deadline deadline) override {
    return probe_ ? probe_(deadline) : absl::OkStatus();
  }

 protected:
  const Gate* gate_ = nullptr;

 private:
  std::function<absl::Status(Deadline)> probe_;
};

// The coordinator of `role` ("rootcoord", ...). Roles whose business APIs have not been built yet
// get one that holds no state: it takes part in HA and answers GetComponentStates.
std::unique_ptr<Coordinator> CreateCoordinator(const std::string& role);

}  // namespace coordha::coordinator

#endif  // COORDHA_COORDINATOR_COORDINATOR_H_
