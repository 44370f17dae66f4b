// QueryCoordinator: the querycoord role (DESIGN.md §5) — loaded collections and the distribution
// of their channels and flushed segments over the live querynodes — as a coordinator::Coordinator.
//
// State: querycoord/query_target.h has the key layout under <meta_root>/querycoord/.
//
// Every replica, standby included, keeps three copies current from construction on (L5; each
// loader retries until etcd answers, S6): its own prefix (loaded collections and the Scheduler's
// placement records), rootcoord's collection/ (a collection's virtual channels) and datacoord's
// segment/ (the flushed segments to load), the last two read-only. Activation (S7), on the
// replica's thread while the replica answers INITIALIZING:
//   1. MetaCopy::CatchUpAsActive: a fenced barrier, then wait until the own copy has applied it
//      (it then holds every change of earlier epochs);
//   2. wait until the read-only copies have loaded once (a target computed from an unloaded
//      segment copy would drop every segment);
//   3. Scheduler::Activate: re-collect what each live querynode really holds (L5, bounded), run
//      one placement round that reconciles the persisted target with it, start the round thread;
//   4. hand the leadership to the service (its writes are fenced by it, S1).
// Deactivate: forget the leadership, Scheduler::Deactivate. A deposed active's placement writes
// fail their fence and its Syncs are refused by the querynodes (S4).
//
// Threads: the copies' loaders (constructor to destructor) and, while active, the Scheduler's
// round thread; all owned and joined here. Activate/Deactivate run on the replica's thread.
#ifndef COORDHA_QUERYCOORD_QUERYCOORD_COORDINATOR_H_
#define COORDHA_QUERYCOORD_QUERYCOORD_COORDINATOR_H_

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "coordinator/coordinator.h"
#include "coordinator/meta_copy.h"
#include "coordinator/scheduler.h"
#include "coordinator/service_util.h"
#include "etcd/client.h"
#include "querycoord/query_target.h"
#include "querycoord/querycoord_service.h"

namespace coordha::querycoord {

struct QueryCoordinatorOptions {
  // etcd, borrowed; must outlive the coordinator. REQUIRES: set.
  etcd::Client* client = nullptr;
  // "<etcd.rootPath>/<etcd.metaSubPath>": state under <meta_root>/querycoord/. Default:
  // "by-dev/meta".
  std::string meta_root = "by-dev/meta";
  // How often the active re-places work on the querynodes (coordinator/scheduler.h). Default: 200
  // ms.
  Duration round_interval = std::chrono::milliseconds(200);
};

class QueryCoordinator final : public coordinator::Coordinator {
 public:
  // Starts the copies' loaders (no I/O on the caller's thread).
  explicit QueryCoordinator(QueryCoordinatorOptions options);
  // Deactivates (if active) and stops the copies.
  ~QueryCoordinator() override;

  void Bind(const coordinator::Gate* gate) override;
  std::vector<grpc::Service*> Services() override { return {&service_}; }
  absl::Status Activate(const session::Leadership& leadership, Deadline deadline) override;
  void Deactivate() override;
  absl::StatusOr<int64_t> StandbyLag(Deadline deadline) override;

 private:
  // Constant after construction.
  const QueryCoordinatorOptions options_;
  coordinator::MetaCopy meta_;      // <meta>/querycoord/
  coordinator::MetaCopy catalog_;   // <meta>/rootcoord/collection/, read-only
  coordinator::MetaCopy segments_;  // <meta>/datacoord/segment/, read-only
  QueryTargetPolicy target_;
  coordinator::Scheduler scheduler_;
  coordinator::LeadershipSlot slot_;
  QueryCoordService service_;
};

std::unique_ptr<coordinator::Coordinator> NewQueryCoordinator(QueryCoordinatorOptions options);

}  // namespace coordha::querycoord

#endif  // COORDHA_QUERYCOORD_QUERYCOORD_COORDINATOR_H_
