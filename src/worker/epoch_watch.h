// EpochWatch: a worker learns each coordinator's epoch from etcd (DESIGN.md §3, §4 S4).
//
// The epoch of a coordinator role is the CreateRevision of its active key,
// `<meta>/session/<role>`. The watch reads every key under `<meta>/session/` once at start, then
// watches the prefix, and for each active key it sees raises the worker's highest epoch of that
// role to the key's CreateRevision (Worker::RaiseEpoch). So a worker that restarts refuses a
// deposed active's Sync even before the new active has synced it. `<meta>/session/mixcoord` (one
// process running every coordinator under one election) counts for datacoord, querycoord and
// indexcoord alike: its Syncs carry the sub-role's name and the mixcoord epoch. Session keys
// (`<role>-<serverID>`) and `id` are not active keys and are ignored; a deleted active key lowers
// nothing (epochs only rise).
//
// After the first read the worker is told MarkEpochsLearned(): until then it accepts no Sync.
// S6: etcd trouble never ends the watch; reads are retried with backoff. L4: after a compaction
// the prefix is read again and watched from there; a periodic re-read is the backstop.
//
// Threads: one owned thread (plus the etcd Watcher's); Stop() (also the destructor) joins them.
#ifndef COORDHA_WORKER_EPOCH_WATCH_H_
#define COORDHA_WORKER_EPOCH_WATCH_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "etcd/client.h"
#include "session/keys.h"
#include "worker/worker.h"

namespace coordha::worker {

// The coordinator roles whose epoch the active key `name` (the key without the session prefix)
// sets: {"querycoord"} for "querycoord", {"datacoord", "querycoord", "indexcoord"} for
// "mixcoord", {} for anything that is not an active key ("querynode-7", "id", "rootcoord-1").
std::vector<std::string> RolesFencedByActiveKey(absl::string_view name);

struct EpochWatchOptions {
  // Deadline of each read. Default: 5 s.
  Duration request_timeout = std::chrono::seconds(5);
  // The backstop re-read of the prefix while the watch runs. Default: 30 s.
  Duration reread_interval = std::chrono::seconds(30);
};

class EpochWatch {
 public:
  // Starts reading and watching `keys.SessionPrefix()`. `client` and `worker` are borrowed and
  // must outlive the watch. No I/O in the caller's thread.
  EpochWatch(etcd::Client* client, const session::Keys& keys, Worker* worker,
             EpochWatchOptions options = {});
  ~EpochWatch();
  EpochWatch(const EpochWatch&) = delete;
  EpochWatch& operator=(const EpochWatch&) = delete;

  void Stop();  // Safe to call twice.

 private:
  void Loop(std::stop_token stop);
  void Apply(const etcd::KeyValue& kv);
  // Sleeps until `deadline` or Stop() (or a compaction, when asked). True when stopping.
  bool Wait(Deadline deadline, bool wake_on_compaction);

  etcd::Client* const client_;
  const std::string prefix_;
  Worker* const worker_;
  const EpochWatchOptions options_;

  Mutex mu_;
  CondVar changed_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool compacted_ ABSL_GUARDED_BY(mu_) = false;

  std::jthread thread_;
};

}  // namespace coordha::worker

#endif  // COORDHA_WORKER_EPOCH_WATCH_H_
