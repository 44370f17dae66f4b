// Executor: THE plug-in point where a worker's real data plane goes (DESIGN.md §5).
//
// The Worker (worker.h) runs the coordination protocol: it accepts epoch-fenced assignments from
// the coordinators, keeps the set each coordinator wants, and reports what it holds. What it
// means to *hold* an item — subscribe to a channel, load a sealed segment into memory, flush a
// growing segment to object storage, build a vector index — is the executor's business. The
// vector data plane is out of scope for coordha: the only executor here is SimulatedExecutor,
// which moves each item through its states on a timer so that the protocol, failover and the
// tools can be exercised end to end. A real querynode/datanode/indexnode implements Executor and
// hands it to the Worker; nothing else changes.
//
// Contract between the Worker and an Executor:
//   - Start(coordinator, item, report) is called once per assignment: when a Sync lists an item
//     the worker does not hold for that coordinator. The item is PENDING until the executor says
//     otherwise through `report`.
//   - Release(coordinator, id) is called when a Sync no longer lists an item started before: stop
//     working on it and free what it holds. Start and Release for one coordinator come in the
//     order the Syncs decided them (the Worker serialises Syncs), never concurrently.
//   - `report(state, detail)` may be called from any thread, any number of times, also from
//     inside Start(). Reports after Release (or for an older assignment of the same id) are
//     ignored by the Worker, so an executor need not synchronise them with Release. `report` must
//     not be called after the executor has been destroyed; the Worker destroys its executor
//     before itself.
//   - Start and Release run on a Sync handler thread: they must not block (queue the work).
#ifndef COORDHA_WORKER_EXECUTOR_H_
#define COORDHA_WORKER_EXECUTOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "worker.pb.h"

namespace coordha::worker {

// Tells the Worker an item's new state; `detail` is a failed item's reason or a finished task's
// result ("" otherwise). Thread-safe.
using Reporter = std::function<void(v1::ItemState state, std::string detail)>;

class Executor {
 public:
  virtual ~Executor() = default;
  // A new item to work on for `coordinator` ("datacoord", "querycoord", "indexcoord").
  virtual void Start(const std::string& coordinator, const v1::WorkItem& item, Reporter report) = 0;
  // The item `id` of `coordinator` is no longer assigned.
  virtual void Release(const std::string& coordinator, const std::string& id) = 0;
};

// The state a simulated item ends in: READY for what a worker holds and serves ("channel/...",
// "segment/..."), FINISHED for a task that completes ("flush/...", "task/..."), FAILED for an id
// of no known kind.
v1::ItemState SimulatedFinalState(const std::string& id);

// The default executor: every started item becomes RUNNING at once and reaches its final state
// (SimulatedFinalState) `work_duration` later. Holds nothing; payloads are ignored.
//
// Threads: one thread, owned, started by the constructor and joined by Stop() (also the
// destructor). Reports are made on that thread, never with the executor's lock held.
class SimulatedExecutor final : public Executor {
 public:
  // `work_duration` 0 means at once. REQUIRES: work_duration >= 0.
  explicit SimulatedExecutor(Duration work_duration);
  ~SimulatedExecutor() override;
  SimulatedExecutor(const SimulatedExecutor&) = delete;
  SimulatedExecutor& operator=(const SimulatedExecutor&) = delete;

  void Start(const std::string& coordinator, const v1::WorkItem& item, Reporter report) override;
  void Release(const std::string& coordinator, const std::string& id) override;

  // Stops the thread; items in progress are abandoned (no more reports). Safe to call twice.
  void Stop();

 private:
  struct Job {
    Reporter report;
    BootTime due{};        // when the next step is due
    bool running = false;  // RUNNING was reported; the next step is the final state
  };
  using JobKey = std::pair<std::string, std::string>;  // coordinator, id

  void Loop(std::stop_token stop);

  const Duration work_duration_;

  Mutex mu_;
  CondVar changed_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<JobKey, Job> jobs_ ABSL_GUARDED_BY(mu_);
  int64_t starts_ ABSL_GUARDED_BY(mu_) = 0;  // Start() calls: wakes the loop for a new job

  std::jthread thread_;  // started last, joined first
};

}  // namespace coordha::worker

#endif  // COORDHA_WORKER_EXECUTOR_H_
