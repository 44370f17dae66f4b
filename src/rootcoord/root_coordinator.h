// RootCoordinator: the rootcoord role — TSO, IDs and the catalog (DESIGN.md §5) — as a
// coordinator::Coordinator the active-standby machinery drives.
//
// Every replica, standby included, keeps the catalog's copy current from construction on (L5: the
// Catalog's loader thread retries until etcd answers, S6). Activation (S7), on the replica's
// thread while the replica answers INITIALIZING:
//   1. Catalog::CatchUpAsActive: a fenced barrier write, then wait until the copy has applied it,
//      so it holds every change of earlier epochs (L5);
//   2. TimestampOracle::Recover and IdAllocator::Recover: read their bounds linearizably and start
//      above them (S5);
//   3. hand the leadership to the service (DDLs are fenced by it, S1) and start the TSO tick
//      thread (calls TimestampOracle::Tick every update_interval so Allocate never waits on etcd).
// Deactivate undoes it in reverse: forget the leadership, stop the tick thread, reset TSO and IDs.
//
// Threads: the catalog's loader (constructor to destructor) and, while active, the tick thread;
// both owned and joined here. Activate/Deactivate run on the replica's thread.
#ifndef COORDHA_ROOTCOORD_ROOT_COORDINATOR_H_
#define COORDHA_ROOTCOORD_ROOT_COORDINATOR_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "coordinator/coordinator.h"
#include "etcd/client.h"
#include "rootcoord/catalog.h"
#include "rootcoord/id_allocator.h"
#include "rootcoord/rootcoord_service.h"
#include "rootcoord/tso.h"

namespace coordha::rootcoord {

struct RootCoordinatorOptions {
  // etcd, borrowed; must outlive the RootCoordinator. REQUIRES: set.
  etcd::Client* client = nullptr;
  // "<etcd.rootPath>/<etcd.metaSubPath>": the catalog lives under <meta_root>/rootcoord/.
  // Default: "by-dev/meta".
  std::string meta_root = "by-dev/meta";
  // "<etcd.rootPath>/<etcd.kvSubPath>": the TSO and ID bounds live under <kv_root>/gid/.
  // Default: "by-dev/kv".
  std::string kv_root = "by-dev/kv";
  TsoOptions tso;
  IdAllocatorOptions ids;
};

class RootCoordinator final : public coordinator::Coordinator {
 public:
  // Starts the catalog's loader thread (no I/O on the caller's thread).
  explicit RootCoordinator(RootCoordinatorOptions options);
  // Stops the tick thread (if still running) and the catalog's loader.
  ~RootCoordinator() override;

  void Bind(const coordinator::Gate* gate) override;
  std::vector<grpc::Service*> Services() override { return {&service_}; }
  absl::Status Activate(const session::Leadership& leadership, Deadline deadline) override;
  void Deactivate() override;
  absl::StatusOr<int64_t> StandbyLag(Deadline deadline) override { return catalog_.Lag(deadline); }

  // coordha_tso_lead_seconds: the saved TSO bound's lead over the wall clock; 0 unless active.
  double TsoLeadSeconds() const { return tso_.LeadSeconds(); }
  // The catalog (its copy's state for /readyz and the standby-lag metric).
  const Catalog& catalog() const { return catalog_; }

 private:
  void TickLoop(std::stop_token stop);
  void StopTicking();

  // Constant after construction.
  const RootCoordinatorOptions options_;
  TimestampOracle tso_;
  IdAllocator ids_;
  Catalog catalog_;
  RootCoordService service_;

  // Wakes the tick thread to stop. tick_cv_ is signalled under tick_mu_ after request_stop(), so
  // the thread cannot miss it.
  Mutex tick_mu_;
  CondVar tick_cv_;
  // Started by Activate, stopped by Deactivate (and the destructor); touched only on the replica's
  // thread and in the destructor.
  std::jthread tick_thread_;
};

// The rootcoord coordinator.
std::unique_ptr<coordinator::Coordinator> NewRootCoordinator(RootCoordinatorOptions options);

}  // namespace coordha::rootcoord

#endif  // COORDHA_ROOTCOORD_ROOT_COORDINATOR_H_
