// Scheduler: places a coordinator's work items (channels, segments, flushes, index builds) on the
// live workers of one role, persists where each is, and keeps every worker told (DESIGN.md §5, §4
// S1, S4, L5).
//
// The coordinator (a SchedulerPolicy) says what should be placed: Desired() lists the items, each
// optionally bound to another item's worker (a flush goes to the datanode that watches its
// channel). The Scheduler, on the active only, runs rounds every `round_interval`:
//
//   1. live workers  a linearizable Range of <meta>/session/<worker_role>-* (a worker whose
//                    session lease ran out, or that is stopping, is not live);
//   2. place         items whose worker is not live, or that have none, go to a live worker that
//                    reports holding the item already, else to the least loaded one; then at most
//                    `max_moves_per_round` free items move from the most to the least loaded
//                    worker while their loads differ by more than one (a worker that comes back
//                    gets its share again); items no longer desired are forgotten;
//   3. persist       the changed placement records, <prefix>assignment/<item id> = "<worker>
//                    <attempt>", in fenced Txns (S1) through the coordinator's MetaCopy — BEFORE
//                    any worker is told, so what etcd says always covers what workers were told;
//                    the attempt grows each time an item moves to another worker;
//   4. sync          every live worker gets the WHOLE set of items placed on it with this epoch
//                    (Worker.Sync, S4): it adds, drops and reports states. A worker that has seen
//                    a higher epoch refuses: this active is deposed and its command changed
//                    nothing. Only inside the serve grant (S2). A move hands over: workers that
//                    lose items are synced first, and an item is left out of its new worker's set
//                    while another live worker still reports holding it, so it never runs on two
//                    live workers at once (a dead one's session has ended: it holds nothing, the
//                    worker side of S2 in worker/worker.h). Each Sync has its own timeout;
//   5. report        the policy gets every item's state as its placed worker reported it
//                    (OnReports), to persist what matters (a finished build) with fenced writes.
//
// Each item has exactly one placement record at a time (or none when no worker is live), so no
// item is placed on two workers or lost; a deposed active cannot move anything (its Txns fail the
// fence and workers refuse its Syncs).
//
// L5 at activation: Activate() first collects what each live worker really holds
// (Worker.GetDistribution, bounded by `collect_timeout`), then runs one round synchronously — so
// the new active reconciles the persisted target with the real distribution before it serves —
// and starts the round thread.
//
// Threads: the round thread runs from Activate() to Deactivate(), owned here; Deactivate() (and
// the destructor) join it. Reads (Placements, Workers) are thread-safe.
#ifndef COORDHA_COORDINATOR_SCHEDULER_H_
#define COORDHA_COORDINATOR_SCHEDULER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "coordinator/meta_copy.h"
#include "etcd/client.h"
#include "session/election.h"
#include "worker.grpc.pb.h"

namespace coordha::coordinator {

struct DesiredItem {
  v1::WorkItem item;  // id, collection, payload
  // "" or the id of another desired item: this one goes wherever that one is placed.
  std::string affinity;
};

struct WorkerInfo {
  int64_t server_id = 0;
  std::string address;
};

// Where an item is and what its worker last said about it.
struct ItemPlacement {
  int64_t worker_id = 0;     // 0: placed nowhere (no live worker)
  int64_t attempt = 0;       // how many times it was placed (1 after the first)
  int64_t mod_revision = 0;  // of its placement record; fence a result with it
  v1::ItemState state = v1::ITEM_UNKNOWN;
  std::string detail;
};

struct ItemReport {
  std::string id;
  int64_t worker_id = 0;
  int64_t attempt = 0;
  int64_t placement_revision = 0;  // the placement record's mod revision when reported
  v1::ItemState state = v1::ITEM_UNKNOWN;
  std::string detail;
};

// What the coordinator plugs in. Called on the round thread (and in Activate()).
class SchedulerPolicy {
 public:
  virtual ~SchedulerPolicy() = default;
  // The items that should be placed now, from the coordinator's copy. Ids are unique.
  virtual std::vector<DesiredItem> Desired() = 0;
  // Active-only upkeep at the start of every round (fenced writes through `leadership`), e.g.
  // datacoord dropping the segments of a dropped collection. Default: nothing.
  virtual void Housekeep(const session::Leadership& /*leadership*/, Deadline /*deadline*/) {}
  // The states reported this round (only items placed on a live worker that answered).
  virtual void OnReports(const session::Leadership& /*leadership*/,
                         const std::vector<ItemReport>& /*reports*/, Deadline /*deadline*/) {}
};

struct SchedulerOptions {
  std::string coordinator;  // "datacoord": what Syncs name and logs say. REQUIRES.
  std::string worker_role;  // "datanode". REQUIRES.
  std::string meta_root;    // "<rootPath>/<metaSubPath>": sessions under <meta_root>/session/.
  int64_t server_id = 0;    // the coordinator's server ID, sent with each Sync
  Duration round_interval = std::chrono::milliseconds(200);
  Duration collect_timeout = std::chrono::seconds(2);  // L5: the re-collection's bound
  Duration rpc_timeout = std::chrono::seconds(1);
  int max_moves_per_round = 1;
};

class Scheduler {
 public:
  // `client`, `copy` and `policy` are borrowed and must outlive the Scheduler. Placement records
  // live in `copy` under "assignment/".
  Scheduler(etcd::Client* client, MetaCopy* copy, SchedulerPolicy* policy,
            SchedulerOptions options);
  ~Scheduler();  // Deactivate()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void set_server_id(int64_t id);
  // S2: asked before each Sync; false (the serve grant lapsed) ends the round without telling any
  // more workers. Unset: always true (tests). Set before Activate(); called on the round thread.
  void set_grant_check(std::function<bool()> check) { grant_check_ = std::move(check); }
  // See the top. Errors: the first round's fencing error (deposed) or its deadline.
  absl::Status Activate(const session::Leadership& leadership, Deadline deadline);
  void Deactivate();
  // Runs a round soon (after a change the coordinator made).
  void Poke();

  // Every placement record in the copy, with the last reported state (active) — by item id.
  std::map<std::string, ItemPlacement> Placements() const;
  // The live workers of the last round, by server ID (active only; empty on a standby).
  std::map<int64_t, WorkerInfo> Workers() const;
  // Rounds run since the last activation (tests and status).
  int64_t rounds() const;

  // Pure placement (step 2 above), exposed for unit tests: given the desired items, the current
  // placement (item -> worker, 0 none), the live workers and which worker reports holding which
  // item, returns the new placement of every desired item.
  static std::map<std::string, int64_t> Place(const std::vector<DesiredItem>& desired,
                                              const std::map<std::string, int64_t>& current,
                                              const std::set<int64_t>& live,
                                              const std::map<std::string, std::set<int64_t>>& held,
                                              int max_moves);

 private:
  absl::Status Round(const session::Leadership& leadership, Deadline deadline,
                     std::stop_token stop = {});
  absl::StatusOr<std::map<int64_t, WorkerInfo>> LiveWorkers(Deadline deadline);
  v1::Worker::Stub* StubFor(const std::string& address);
  void Collect(const std::map<int64_t, WorkerInfo>& workers, Deadline deadline);
  void Loop(std::stop_token stop, session::Leadership leadership);

  etcd::Client* const client_;
  MetaCopy* const copy_;
  SchedulerPolicy* const policy_;
  const SchedulerOptions options_;
  std::function<bool()> grant_check_;  // set before Activate()

  mutable Mutex mu_;
  CondVar wake_;
  bool poked_ ABSL_GUARDED_BY(mu_) = false;
  int64_t server_id_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t rounds_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int64_t, WorkerInfo> workers_ ABSL_GUARDED_BY(mu_);
  // item -> the workers that reported holding it (from GetDistribution and Syncs).
  std::map<std::string, std::set<int64_t>> held_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::WorkItemStatus> states_ ABSL_GUARDED_BY(mu_);  // by item id
  // Used on the round thread (and Activate) only.
  std::map<std::string, std::unique_ptr<v1::Worker::Stub>> stubs_;

  std::jthread loop_;
};

}  // namespace coordha::coordinator

#endif  // COORDHA_COORDINATOR_SCHEDULER_H_
