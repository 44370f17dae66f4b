// IndexStore: indexcoord's state (index metadata and build tasks, key layout in index_meta.h) as
// hot-standby copies, the fenced writes the API makes to it, and the SchedulerPolicy that turns it
// into build tasks on the indexnodes (DESIGN.md §5, §4 S1, L5).
//
// Two MetaCopies, both started by Start() on every replica (standbys included, L5):
//   - <meta>/indexcoord/: ours; written only by the active through MetaCopy::Commit (S1);
//   - <meta>/datacoord/segment/: datacoord's segments, read-only: which segments are Flushed.
//
// Writes (CreateIndex, DropIndex, and the task updates of OnReports) take the active's
// Leadership and compare the mod revisions they read from the copy, retrying from the newer copy
// when a compare fails, so a decision taken on a stale copy never overwrites a newer value.
//
// Errors: kInvalidArgument (a bad request, naming the field), kNotFound, kAlreadyExists (an index
// of that name with another definition, or another index on the field); FencedError (deposed);
// an unknown outcome (retry: every write here is idempotent when retried).
//
// Threads: thread-safe. Desired/OnReports run on the Scheduler's round thread; the API on gRPC's.
#ifndef COORDHA_INDEXCOORD_INDEX_STORE_H_
#define COORDHA_INDEXCOORD_INDEX_STORE_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "coordinator/meta_copy.h"
#include "coordinator/scheduler.h"
#include "etcd/client.h"
#include "indexcoord/index_meta.h"
#include "session/election.h"

namespace coordha::indexcoord {

struct CreateIndexResult {
  int64_t index_id = 0;
  bool existed = false;
};

class IndexStore final : public coordinator::SchedulerPolicy {
 public:
  // No I/O. `client` is borrowed and must outlive this. `meta_root` = "<rootPath>/<metaSubPath>".
  IndexStore(etcd::Client* client, const std::string& meta_root);
  ~IndexStore() override;  // Stop()

  // Called (on a copy's thread, must not block) after either copy changed. Set before Start().
  void SetSegmentsChangedListener(std::function<void()> listener);
  void Start();
  void Stop();  // safe to call twice

  // Our own copy (the Scheduler keeps its placement records in it).
  coordinator::MetaCopy* copy() { return &own_; }
  // S7/L5 at activation: both copies loaded, ours caught up through a fenced barrier.
  absl::Status CatchUpAsActive(const session::Leadership& leadership, Deadline deadline);
  // L5: 0 once both copies are loaded and watching; kUnavailable before.
  absl::StatusOr<int64_t> Lag() const;

  // ---- The API (active only). ----
  // `index_name` "" means kDefaultIndexName. The same name with the same field and params again
  // returns the existing id with existed=true.
  absl::StatusOr<CreateIndexResult> CreateIndex(const session::Leadership& leadership,
                                                v1::IndexInfo definition, Deadline deadline);
  // Every live index of the collection ("" name) or the one named; kNotFound when none.
  absl::StatusOr<std::vector<v1::IndexInfo>> DescribeIndex(int64_t collection_id,
                                                           const std::string& index_name) const;
  // Marks the index deleted and removes its tasks; OK when it is already dropped or never was.
  absl::Status DropIndex(const session::Leadership& leadership, int64_t collection_id,
                         const std::string& index_name, Deadline deadline);
  absl::StatusOr<v1::GetIndexStateResponse> GetIndexState(int64_t collection_id,
                                                          const std::string& index_name) const;

  // ---- SchedulerPolicy ----
  std::vector<coordinator::DesiredItem> Desired() override;
  // Persists each report that DecideReport() accepts, each in its own fenced Txn that compares
  // the placement record, the task key and the IndexInfo. FAILED reports make the task Failed
  // (final), PENDING/RUNNING InProgress (with the worker and attempt), FINISHED Finished.
  void OnReports(const session::Leadership& leadership,
                 const std::vector<coordinator::ItemReport>& reports, Deadline deadline) override;

  Snapshot TakeSnapshot() const;

 private:
  // The live index `index_name` names ("" = the collection's only live index, else the default
  // name); nullopt when none.
  std::optional<IndexEntry> FindLive(int64_t collection_id, const std::string& index_name) const;

  coordinator::MetaCopy own_;
  coordinator::MetaCopy segments_;
};

}  // namespace coordha::indexcoord

#endif  // COORDHA_INDEXCOORD_INDEX_STORE_H_
