// MetaCopy: a coordinator's persistent state in etcd and the hot-standby copy of it that every
// replica keeps (DESIGN.md §4 S1, S7, L4, L5).
//
// A MetaCopy follows one prefix (e.g. "by-dev/meta/datacoord/"): Start() runs a thread that loads
// every key under it at one revision R (retrying until etcd answers, S6), then watches the prefix
// from R + 1; after a compaction it loads again and watches anew (L4). Reads (Get, List) answer
// from the copy, so a standby that becomes active has its state already, however large (L5).
//
// Writes (active only) go through Commit(): Leadership::FencedCommit (S1) and then a wait until
// the copy has applied the commit's revision, so the writer reads its own write next. The caller
// builds the Txn with compares on the mod revisions it read from the copy (Versioned reads), so a
// decision taken on a stale copy fails its compare instead of overwriting a newer value.
//
// At activation, CatchUpAsActive() writes a fenced barrier key ("<prefix>epoch") and waits until
// the copy has applied it: the copy then holds every change of every earlier epoch (S7).
//
// A MetaCopy may also follow another coordinator's prefix read-only (querycoord follows
// datacoord's segments): then only Start/Stop and the reads are used.
//
// Threads: thread-safe. Start() runs one loader thread (plus the Watcher's own), owned here;
// Stop() (also the destructor) joins them. The change listener runs on the watch thread.
#ifndef COORDHA_COORDINATOR_META_COPY_H_
#define COORDHA_COORDINATOR_META_COPY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "etcd/client.h"
#include "etcd/watcher.h"
#include "session/election.h"

namespace coordha::coordinator {

struct MetaCopyOptions {
  // For log lines, e.g. "datacoord". REQUIRES: not empty.
  std::string name;
  // The loader's longest wait between attempts while etcd does not answer. Default: 2 s.
  Duration max_retry_backoff = std::chrono::seconds(2);
  // L4: the watch's progress probe (etcd/watcher.h). Default: 5 s and 5 s.
  Duration watch_progress_interval = std::chrono::seconds(5);
  Duration watch_progress_timeout = std::chrono::seconds(5);
};

class MetaCopy {
 public:
  // No I/O, no thread: see Start(). `client` is borrowed and must outlive this. `prefix` ends
  // with '/'.
  MetaCopy(etcd::Client* client, std::string prefix, MetaCopyOptions options);
  ~MetaCopy();  // Stop()
  MetaCopy(const MetaCopy&) = delete;
  MetaCopy& operator=(const MetaCopy&) = delete;

  // Called after every batch of applied changes (and after each load), on the loader or watch
  // thread; must not block or call Stop(). Set before Start().
  void SetChangeListener(std::function<void()> listener) { listener_ = std::move(listener); }
  void Start();
  // Stops the watch and joins the loader. Safe to call twice. CatchUp waiters get kCancelled.
  void Stop();

  // L5: blocks until the copy has applied every change up to `revision`.
  absl::Status CatchUp(int64_t revision, Deadline deadline) const;
  // S7/L5 at activation: a fenced write of "<prefix>epoch", then CatchUp() to its revision.
  absl::Status CatchUpAsActive(const session::Leadership& leadership, Deadline deadline);
  // L5 for a copy followed read-only (no barrier of ours to wait for): loaded, then a
  // linearizable keys-only read of what changed under the prefix after the applied revision, then
  // CatchUp() to the newest of those. Deletions leave nothing to read; the watch applies them in
  // order soon after.
  absl::Status CatchUpWithEtcd(Deadline deadline);
  // S1: FencedCommit(txn), then CatchUp() to its revision. When the txn's own compares failed,
  // the revision etcd answers with may belong to a write outside the prefix, which the copy never
  // sees: then a fenced barrier write ("<prefix>epoch") follows and the copy catches up to that,
  // so the caller re-reads a copy at least as new as what made the compares fail. Errors as
  // FencedCommit's (FencedError, OutcomeUnknownError, etcd's), or the CatchUp's.
  absl::StatusOr<etcd::TxnResult> Commit(const session::Leadership& leadership, etcd::Txn txn,
                                         Deadline deadline);

  int64_t applied_revision() const;
  bool loaded() const;
  // L5: 0 once loaded and watching (changes are applied in order); kUnavailable before.
  absl::StatusOr<int64_t> Lag() const;
  int64_t loads() const;  // full loads so far (1 + one per compaction of the watch)

  // ---- Reads from the copy. Keys are relative to the prefix ("segment/12"). ----
  std::optional<etcd::KeyValue> Get(const std::string& rel) const;
  // Every entry whose relative key starts with `rel_prefix`, by key. kv.key is the FULL key.
  std::vector<etcd::KeyValue> List(const std::string& rel_prefix) const;

  const std::string& prefix() const { return prefix_; }
  std::string Key(const std::string& rel) const { return prefix_ + rel; }

 private:
  // A fenced write of "<prefix>epoch" (retried on an unknown outcome), then CatchUp() to it.
  absl::Status CatchUpThroughBarrier(const session::Leadership& leadership, Deadline deadline);
  void Run(std::stop_token stop);
  absl::StatusOr<int64_t> Load();
  void OnEvents(const std::vector<etcd::WatchEvent>& events);
  void Notify();

  etcd::Client* const client_;
  const std::string prefix_;
  const MetaCopyOptions options_;
  std::function<void()> listener_;  // set before Start()

  mutable Mutex mu_;
  mutable CondVar changed_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  bool watch_ended_ ABSL_GUARDED_BY(mu_) = false;
  int64_t loads_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t applied_revision_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, etcd::KeyValue> kvs_ ABSL_GUARDED_BY(mu_);  // relative key -> kv

  std::jthread loader_;  // last
};

// A stored proto from `kv`, or kInternal naming the key.
template <typename Proto>
absl::StatusOr<Proto> ParseStoredProto(const etcd::KeyValue& kv) {
  Proto proto;
  if (!proto.ParseFromString(kv.value)) {
    return absl::InternalError(kv.key + ": the stored value is unreadable");
  }
  return proto;
}

}  // namespace coordha::coordinator

#endif  // COORDHA_COORDINATOR_META_COPY_H_
