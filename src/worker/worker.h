// Worker: what a querynode, datanode or indexnode holds for each coordinator, fenced by epoch
// (DESIGN.md §4 S4, §5; the protocol is proto/worker.proto).
//
// A coordinator's active sends Sync with the WHOLE set of items it wants this worker to hold from
// it. The Worker keeps, per coordinator role, the highest epoch it has seen and the current items
// (id -> item, state, the epoch that assigned it), and applies a Sync as a set:
//   - new ids are added PENDING and handed to the Executor (executor.h), which reports progress;
//   - ids no longer listed are dropped and the Executor releases them;
//   - ids already held stay exactly as they are (state, assigning epoch): a Sync is idempotent,
//     and a new active re-syncing what the old one assigned restarts nothing.
// and answers with the state of every listed item.
//
// S4: a Sync whose epoch is below the highest seen for its coordinator role is refused with
// FENCED and changes nothing — a deposed active cannot command a worker. The highest epoch rises
// with each Sync and with RaiseEpoch(), which the EpochWatch (epoch_watch.h) calls for every
// active key it sees in etcd, so after a restart the worker refuses a deposed active even before
// the new one has synced. An equal epoch is the normal case (the active syncs every ~200 ms).
//
// Until the worker knows its server ID and has learned the epochs from etcd once (SetServerId,
// MarkEpochsLearned), every Sync is refused with INITIALIZING (retriable): a worker that has not
// read etcd yet cannot tell a deposed active from the current one.
//
// S2 for workers: a coordinator moves a worker's items elsewhere once the worker's session key is
// gone from etcd (its lease expired or was revoked). So the worker holds work only while its lease
// is certainly alive: Registration calls SetMayHoldWork(true) once its session key is in etcd and
// SetMayHoldWork(false) — which releases every item of every coordinator — when no renewal was
// acknowledged for TTL − serve grant, when the session is lost, and before it marks itself
// Stopping. Meanwhile Syncs are refused with INITIALIZING. The old holder thus stops at least one
// serve grant before any coordinator can see it gone: an item never runs on two workers because
// one was cut off from etcd or paused.
//
// Threads: thread-safe. Syncs are serialised among themselves (the Executor sees Start/Release in
// decision order); GetDistribution, RaiseEpoch and executor reports only take the state lock.
#ifndef COORDHA_WORKER_WORKER_H_
#define COORDHA_WORKER_WORKER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "coordha.pb.h"
#include "worker.pb.h"
#include "worker/executor.h"

namespace coordha::worker {

// The coordinator roles that Sync workers: "datacoord", "querycoord", "indexcoord".
bool IsSyncingCoordinator(const std::string& role);

// The ErrorDetail a refusal from Sync carries (FENCED with the worker's highest epoch,
// SERVER_ID_MISMATCH, INITIALIZING), or one with code ERROR_UNSPECIFIED for any other status.
v1::ErrorDetail RefusalDetail(const absl::Status& status);

// What the host's /status and /metrics show.
struct CoordinatorSnapshot {
  int64_t highest_epoch = 0;
  int64_t refused_syncs = 0;  // Syncs refused as FENCED (S4)
  std::map<v1::ItemState, int64_t> items_by_state;
};

class Worker {
 public:
  // `role` is this worker's ("querynode", ...). Takes ownership of `executor`. No I/O.
  Worker(std::string role, std::unique_ptr<Executor> executor);
  // Destroys the executor first (no report arrives afterwards).
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Applies `request` (see the top). Errors, each with an ErrorDetail (RefusalDetail()):
  //   kFailedPrecondition FENCED: request.epoch < the highest epoch seen for that coordinator;
  //   kFailedPrecondition SERVER_ID_MISMATCH: request.worker_id is not this worker's server ID;
  //   kUnavailable INITIALIZING: no server ID yet, or epochs not learned from etcd yet;
  //   kInvalidArgument: an unknown coordinator, epoch <= 0, an empty or repeated item id.
  // A refused Sync changes nothing.
  absl::StatusOr<v1::SyncResponse> Sync(const v1::SyncRequest& request);

  // What this worker holds for `coordinator` ("" = every coordinator that has synced or whose
  // epoch is known), items sorted by id.
  v1::GetDistributionResponse Distribution(const std::string& coordinator) const;

  // S4: the highest epoch of `coordinator` is at least `epoch` from now on.
  void RaiseEpoch(const std::string& coordinator, int64_t epoch);
  int64_t HighestEpoch(const std::string& coordinator) const;

  // This worker's server ID (once allocated; it may change after a lost session).
  void SetServerId(int64_t server_id);
  int64_t server_id() const;
  // S2 for workers (see the top): false releases every item and refuses Syncs until true again.
  // `why` goes into the log line when items are released. Starts false.
  void SetMayHoldWork(bool may, const std::string& why);
  bool may_hold_work() const;
  // The epochs were read from etcd once (EpochWatch): Syncs may be accepted.
  void MarkEpochsLearned();
  bool epochs_learned() const;
  // Blocks until MarkEpochsLearned() or `deadline`. True when learned.
  bool AwaitEpochsLearned(Deadline deadline) const;

  const std::string& role() const { return role_; }
  std::map<std::string, CoordinatorSnapshot> Snapshot() const;

 private:
  struct Item {
    v1::WorkItem item;
    v1::ItemState state = v1::ITEM_PENDING;
    int64_t epoch = 0;        // the epoch that assigned it
    std::string detail;       // from the executor
    uint64_t assignment = 0;  // tells this assignment's reports from an earlier one's
  };
  struct CoordinatorState {
    int64_t highest_epoch = 0;
    int64_t refused_syncs = 0;
    std::map<std::string, Item> items;  // by id
  };

  void Report(const std::string& coordinator, const std::string& id, uint64_t assignment,
              v1::ItemState state, std::string detail);
  static v1::WorkItemStatus StatusOf(const std::string& id, const Item& item);

  const std::string role_;
  std::unique_ptr<Executor> executor_;  // reset first by the destructor

  Mutex sync_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // held across a whole Sync, executor calls included

  mutable Mutex mu_;
  mutable CondVar changed_;
  int64_t server_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool epochs_learned_ ABSL_GUARDED_BY(mu_) = false;
  bool may_hold_work_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_assignment_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, CoordinatorState> coordinators_ ABSL_GUARDED_BY(mu_);
};

}  // namespace coordha::worker

#endif  // COORDHA_WORKER_WORKER_H_
