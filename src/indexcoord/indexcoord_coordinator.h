// IndexCoordinator: the indexcoord role — index metadata and one build task per flushed segment,
// placed on the live indexnodes (DESIGN.md §5) — as a coordinator::Coordinator.
//
// State (key layout in indexcoord/index_meta.h): IndexInfo records, build task records and the
// Scheduler's placement records under <meta>/indexcoord/, plus a read-only copy of datacoord's
// segments. Every replica keeps both copies current from construction on (L5, IndexStore).
//
// Activation (S7), on the replica's thread while the replica answers INITIALIZING:
//   1. IndexStore::CatchUpAsActive: the segments copy loaded, ours caught up through a fenced
//      barrier (every change of earlier epochs applied);
//   2. Scheduler::Activate: collect what each live indexnode really holds (L5), one placement
//      round (a task on a dead indexnode is re-placed, its attempt grows), then the round thread;
//   3. hand the leadership to the service (writes are fenced by it, S1).
// Deactivate undoes it in reverse: forget the leadership, stop the Scheduler.
//
// Build results are accepted by IndexStore::OnReports (once, from the placed worker only; see
// index_meta.h). A FAILED build is final (state Failed with the worker's reason): the simulated
// executor fails only what it cannot run, so a retry would fail again; drop and re-create the
// index to retry.
//
// Threads: the copies' loaders (constructor to destructor) and, while active, the Scheduler's
// round thread; all owned and joined here. Activate/Deactivate run on the replica's thread.
#ifndef COORDHA_INDEXCOORD_INDEXCOORD_COORDINATOR_H_
#define COORDHA_INDEXCOORD_INDEXCOORD_COORDINATOR_H_

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "coordinator/coordinator.h"
#include "coordinator/scheduler.h"
#include "coordinator/service_util.h"
#include "etcd/client.h"
#include "indexcoord/index_store.h"
#include "indexcoord/indexcoord_service.h"

namespace coordha::indexcoord {

struct IndexCoordinatorOptions {
  // etcd, borrowed; must outlive the coordinator. REQUIRES: set.
  etcd::Client* client = nullptr;
  // "<etcd.rootPath>/<etcd.metaSubPath>": state under <meta_root>/indexcoord/, segments read from
  // <meta_root>/datacoord/segment/. Default: "by-dev/meta".
  std::string meta_root = "by-dev/meta";
  // How often the active re-places work on the indexnodes (coordinator/scheduler.h).
  // Default: 200 ms.
  Duration round_interval = std::chrono::milliseconds(200);
};

class IndexCoordinator final : public coordinator::Coordinator {
 public:
  // Starts the copies' loader threads (no I/O on the caller's thread).
  explicit IndexCoordinator(IndexCoordinatorOptions options);
  ~IndexCoordinator() override;  // stops the Scheduler, then the copies

  void Bind(const coordinator::Gate* gate) override;
  std::vector<grpc::Service*> Services() override { return {&service_}; }
  absl::Status Activate(const session::Leadership& leadership, Deadline deadline) override;
  void Deactivate() override;
  absl::StatusOr<int64_t> StandbyLag(Deadline) override { return store_.Lag(); }

 private:
  const IndexCoordinatorOptions options_;
  IndexStore store_;
  coordinator::Scheduler scheduler_;
  coordinator::LeadershipSlot slot_;
  IndexCoordService service_;
};

std::unique_ptr<coordinator::Coordinator> NewIndexCoordinator(IndexCoordinatorOptions options);

}  // namespace coordha::indexcoord

#endif  // COORDHA_INDEXCOORD_INDEXCOORD_COORDINATOR_H_
