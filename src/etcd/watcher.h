// Watcher: a watch on a key or prefix that survives stream errors, member loss and etcd restarts.
//
// Events reach the callback in revision order, each exactly once: the watcher remembers the next
// revision it owes and, whenever the stream breaks (an error, a member that lost its leader, a
// member that went quiet), reopens it on a connected endpoint from that revision. Nothing is lost
// in the gap and nothing is repeated.
//
// Quiet streams. Every `progress_interval` without traffic the watcher asks etcd for a progress
// report; with no answer within `progress_timeout` the stream is presumed stuck (a partitioned or
// frozen member) and is reopened elsewhere. Progress answers only prove the stream alive: with
// etcd 3.4 their revision may run ahead of events not yet sent, so they never move the resume
// point.
//
// Compaction. If etcd has compacted the revision the watcher owes, events were lost for good: the
// watcher calls on_compacted once and ends. The caller re-reads at the current revision R,
// rebuilds, and starts a new Watcher from R + 1 (DESIGN.md §4 L4).
//
// Threads. Start() runs two threads owned by the object (the stream reader and the progress
// monitor); callbacks run on the reader and must not block for long (events queue up in etcd and
// gRPC meanwhile) and must not call Stop(). Stop() (also the destructor) cancels the stream and
// joins; after it returns no callback runs. The Client must outlive this object.
#ifndef COORDHA_ETCD_WATCHER_H_
#define COORDHA_ETCD_WATCHER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "etcd/client.h"

namespace grpc {
class ClientContext;
}

namespace coordha::etcd {

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // for kDelete: key and mod_revision (the delete's revision) only
  std::optional<KeyValue> prev_kv;  // with WatchOptions::prev_kv, when etcd still had it
};

struct WatchOptions {
  bool prefix = false;    // every key starting with the watched key
  std::string range_end;  // explicit [key, range_end); ignored with `prefix`
  // The first revision to deliver. Default (0): changes after the watch is first created.
  int64_t start_revision = 0;
  bool prev_kv = false;  // deliver each event's previous value
  // Ask for a progress report after this long without traffic. Default: 5 s.
  Duration progress_interval = std::chrono::seconds(5);
  // Reopen the stream elsewhere when a progress request gets no answer in this long. Default 5 s.
  Duration progress_timeout = std::chrono::seconds(5);
};

class Watcher {
 public:
  struct Callbacks {
    // Events of one or more revisions, in order. Reader thread. Required.
    std::function<void(const std::vector<WatchEvent>&)> on_events;
    // The owed revision was compacted (events lost): the watch has ended. Reader thread; called at
    // most once, and nothing is called after it. May be empty.
    std::function<void(int64_t compact_revision)> on_compacted;
    // The stream broke and is being reopened; `reason` says why (for metrics and logs). Reader
    // thread. May be empty.
    std::function<void(const absl::Status& reason)> on_restart;
  };

  // Starts watching `key` as `options` say. `client` is borrowed. Never fails: an unreachable
  // etcd is retried until Stop() (DESIGN.md §4 S6); AwaitCreated() tells when the watch is live.
  static std::unique_ptr<Watcher> Start(Client* client, std::string key, WatchOptions options,
                                        Callbacks callbacks);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  void Stop();  // Safe to call twice; not from a callback.

  // Waits until etcd first confirmed the watch. Returns the revision after which events are
  // delivered (every change with a revision > it, or >= start_revision when that was given), or
  // kDeadlineExceeded.
  absl::StatusOr<int64_t> AwaitCreated(Deadline deadline) const;
  // The next revision owed to the callback.
  int64_t next_revision() const;
  int64_t restarts() const;  // times the stream was reopened
  bool compacted() const;    // the watch ended by compaction

 private:
  Watcher(Client* client, std::string key, WatchOptions options, Callbacks callbacks);
  void ReadLoop(std::stop_token stop);
  void MonitorLoop(std::stop_token stop);
  // One stream's life: open, create, read until it breaks. Returns why it ended; sets *ended
  // when the watch is over (compaction or stop).
  absl::Status RunStream(bool* ended, bool* was_live);
  bool SleepFor(Duration d);  // true when stopping

  // Constant after construction.
  Client* const client_;
  const std::string key_;
  const WatchOptions options_;
  const Callbacks callbacks_;

  mutable Mutex mu_;
  mutable CondVar changed_;  // signalled when stopping_ or created_after_ change
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_revision_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<int64_t> created_after_ ABSL_GUARDED_BY(mu_);
  int64_t restarts_ ABSL_GUARDED_BY(mu_) = 0;
  bool compacted_ ABSL_GUARDED_BY(mu_) = false;
  // The open stream's context (owned by RunStream's frame), for cancellation by the monitor and
  // Stop(). Null between streams.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  // Progress bookkeeping of the open stream.
  BootTime last_activity_ ABSL_GUARDED_BY(mu_){};
  std::optional<BootTime> progress_asked_at_ ABSL_GUARDED_BY(mu_);
  int64_t stream_generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped per opened stream

  // Writes a progress request on the open stream; set while one is open. Its own mutex, never held
  // with mu_: a blocked Write must not stall the reader, and cancelling the stream (under mu_)
  // unblocks it. gRPC allows one writer at a time alongside the reader.
  Mutex write_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::function<bool()> request_progress_ ABSL_GUARDED_BY(write_mu_);

  std::jthread reader_;  // started last, joined first
  std::jthread monitor_;
};

}  // namespace coordha::etcd

#endif  // COORDHA_ETCD_WATCHER_H_
