// Catalog: rootcoord's persistent state — databases, collections and their partitions — and the
// hot-standby copy of it that every replica keeps (DESIGN.md §5 rootcoord, §4 S1, S7, L5).
//
// Key layout, under <meta_root>/rootcoord/ (values are serialized rootcoord.proto messages unless
// said otherwise):
//
//   database/<db>                 DatabaseInfo. The database "default" is never stored: it always
//                                 exists (db_id 0, listed first; allocated IDs start at 1) and
//                                 cannot be dropped. A db_name of "" means "default" everywhere.
//   collection/<db>/<collection>  CollectionInfo, its partitions inside it (the "_default"
//                                 partition is made with the collection), so every DDL changes
//                                 exactly one object key.
//   dedup/<request_id>            the outcome of the DDL that carried request_id, as JSON
//                                 ({"op","target","id","attempt"}); written in the same fenced Txn
//                                 as the change, so a retry (also across failovers) finds it and
//                                 returns the first outcome instead of applying twice. Never
//                                 deleted yet: it is small, and garbage collection by age is
//                                 future work.
//   epoch                         the epoch of the newest activation (decimal), written by
//                                 CatchUpAsActive() as the L5 barrier.
//
// Names are checked as Milvus does: 1..255 characters of [A-Za-z0-9_], not starting with a digit.
// Since names hold no '/', the keys above cannot collide.
//
// The copy (L5). Start() runs a thread that loads database/ and collection/ at one revision R
// (retrying until etcd answers, S6) and then watches the whole prefix from R + 1; after a
// compaction it loads again and watches anew (L4). Every read (ListDatabases, DescribeCollection,
// ...) answers from the copy, so a standby that becomes active serves the catalog as it is without
// reloading it, however large it is.
//
// DDL (active only). Each DDL runs under one process-wide DDL lock (like Milvus's DDL scheduler):
// it reads the dedup record and the objects it touches from etcd (linearizably, at one revision),
// decides, and commits ONE Txn through Leadership::FencedCommit (S1) whose compares are: the dedup
// record is absent (version 0), and each object read still has the mod revision it was read with
// (0: absent). The Txn writes the change and the dedup record. Then:
//   - fence failed: FencedError, nothing changed (a deposed active changes nothing);
//   - outcome unknown: read again; the dedup record (with this call's attempt nonce) tells whether
//     it applied, otherwise the same Txn is tried again — its compares make that safe;
//   - a compare of the object failed (the snapshot went stale): read again and decide again.
// On success the call waits until the copy has applied the change (read-your-writes for the next
// Describe). DDLs larger than one Txn (128 ops, 1.5 MiB) are not needed yet: every DDL here
// writes two keys.
//
// Errors: kInvalidArgument naming the field ("schema.fields[1].dim: ..."), kNotFound and
// kAlreadyExists naming the object, kFailedPrecondition (a non-empty database, too many
// partitions), FencedError (session/election.h), kUnknown (OutcomeUnknownError: still unknown at
// the deadline; retry with the same request_id), and etcd's errors.
//
// Threads: thread-safe. Start() runs one thread owned by the Catalog (plus the Watcher's own);
// Stop() (also the destructor) joins them.
#ifndef COORDHA_ROOTCOORD_CATALOG_H_
#define COORDHA_ROOTCOORD_CATALOG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "etcd/client.h"
#include "etcd/watcher.h"
#include "rootcoord.pb.h"
#include "rootcoord/schema.h"
#include "session/election.h"

namespace coordha::rootcoord {

inline constexpr char kDefaultDatabase[] = "default";
inline constexpr char kDefaultPartition[] = "_default";
inline constexpr int kMaxPartitions = 4096;
inline constexpr size_t kMaxRequestIdLength = 255;

struct CatalogOptions {
  // "<etcd.rootPath>/<etcd.metaSubPath>", e.g. "by-dev/meta". REQUIRES: not empty.
  std::string meta_root;
  // Physical DML channels are "<dml_channel_prefix>_<i>". Default (empty):
  // "<rootPath>-rootcoord-dml" with rootPath = meta_root without its last element
  // ("by-dev-rootcoord-dml"), as Milvus.
  std::string dml_channel_prefix;
  // Physical DML channels. Shard s of collection c uses channel (c + s) % dml_channel_count, and
  // its virtual channel is "<physical>_<c>v<s>" (Milvus's naming). Default: 16. REQUIRES: >= 1.
  int dml_channel_count = 16;
  // The loader's longest wait between attempts while etcd does not answer. Default: 2 s.
  Duration max_retry_backoff = std::chrono::seconds(2);
  // L4: the watch's progress probe (etcd/watcher.h): a quiet stream is probed after this long and
  // moved to another member when the probe gets no answer in `watch_progress_timeout`.
  // Default: 5 s and 5 s.
  Duration watch_progress_interval = std::chrono::seconds(5);
  Duration watch_progress_timeout = std::chrono::seconds(5);
};

// Hands out one new globally unique ID per call (rootcoord's IdAllocator in production).
using IdSource = std::function<absl::StatusOr<int64_t>()>;

// What every DDL is given.
struct DdlContext {
  // The active's leadership: every write is fenced by it (S1). Borrowed for the call. REQUIRES.
  const session::Leadership* leadership = nullptr;
  // The client's ID for this request; a retry carries the same one. REQUIRES: 1..255 characters.
  std::string request_id;
  // IDs for created objects (creates only). Called only when the DDL is not a replay.
  IdSource new_id;
  // created_timestamp of created objects (a TSO timestamp).
  uint64_t timestamp = 0;
  Deadline deadline;
};

struct DdlOutcome {
  int64_t id = 0;         // the created object's ID; 0 for drops
  bool replayed = false;  // an earlier call with this request ID applied it; nothing was changed
  int64_t revision = 0;   // the etcd revision at which the change was applied (the first time)
};

class Catalog {
 public:
  // No I/O, no thread: see Start(). `client` is borrowed and must outlive the Catalog.
  Catalog(etcd::Client* client, CatalogOptions options);
  ~Catalog();  // Stop()
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // Starts the loader thread (load, then watch; see the top). Call once.
  void Start();
  // Stops the watch and joins the loader. Safe to call twice. Waiters in CatchUp() return
  // kCancelled.
  void Stop();

  // L5: blocks until the copy has applied every change up to `revision` (a revision of a change
  // under the prefix, e.g. DdlOutcome::revision). kDeadlineExceeded when it has not by `deadline`.
  absl::Status CatchUp(int64_t revision, Deadline deadline) const;
  // S7/L5, at activation: one fenced write of the `epoch` key, then CatchUp() to its revision. The
  // barrier is needed because the campaign's revision is not a change under the prefix, so no
  // event would ever say the copy has reached it; the barrier's revision is above it, so once it
  // is applied the copy holds every change the previous actives made and nothing older is served.
  absl::Status CatchUpAsActive(const session::Leadership& leadership, Deadline deadline);
  // The newest revision the copy has applied; 0 before the first load.
  int64_t applied_revision() const;
  // L5: 0 once the copy is loaded and its watch applies every change in order; kUnavailable
  // before the first load (and during a reload after compaction). No I/O.
  absl::StatusOr<int64_t> Lag(Deadline deadline) const;
  // True once the first load finished (a standby's copy is serving-ready for /readyz).
  bool loaded() const;
  // Full loads so far: 1 after the first; each compaction of the watch adds one (L4).
  int64_t loads() const;

  // ---- DDL (active only; see the top) ----
  absl::StatusOr<DdlOutcome> CreateDatabase(const DdlContext& ctx, const std::string& db_name);
  // The database must hold no collections (kFailedPrecondition); "default" cannot be dropped.
  absl::StatusOr<DdlOutcome> DropDatabase(const DdlContext& ctx, const std::string& db_name);
  // Field IDs are assigned 100, 101, ... in order; shards_num 0 means 1. Makes the "_default"
  // partition and the collection's channel names.
  absl::StatusOr<DdlOutcome> CreateCollection(const DdlContext& ctx, const std::string& db_name,
                                              const v1::CollectionSchema& schema,
                                              int32_t shards_num);
  absl::StatusOr<DdlOutcome> DropCollection(const DdlContext& ctx, const std::string& db_name,
                                            const std::string& collection_name);
  absl::StatusOr<DdlOutcome> CreatePartition(const DdlContext& ctx, const std::string& db_name,
                                             const std::string& collection_name,
                                             const std::string& partition_name);
  // "_default" cannot be dropped.
  absl::StatusOr<DdlOutcome> DropPartition(const DdlContext& ctx, const std::string& db_name,
                                           const std::string& collection_name,
                                           const std::string& partition_name);

  // ---- Reads, from the copy ----
  // "default" first, then by name.
  std::vector<v1::DatabaseInfo> ListDatabases() const;
  // kNotFound for an unknown database or collection.
  absl::StatusOr<v1::CollectionInfo> DescribeCollection(const std::string& db_name,
                                                        const std::string& collection_name) const;
  // kNotFound for an unknown database.
  absl::StatusOr<bool> HasCollection(const std::string& db_name,
                                     const std::string& collection_name) const;
  // Names, sorted. kNotFound for an unknown database.
  absl::StatusOr<std::vector<std::string>> ListCollections(const std::string& db_name) const;
  absl::StatusOr<std::vector<v1::PartitionInfo>> ListPartitions(
      const std::string& db_name, const std::string& collection_name) const;

  // Keys, for tests and operators.
  std::string prefix() const { return prefix_; }
  std::string DatabaseKey(const std::string& db_name) const;
  std::string CollectionKey(const std::string& db_name, const std::string& collection_name) const;
  std::string DedupKey(const std::string& request_id) const;

 private:
  struct Snapshot;
  // The collection stored at `key` in `snapshot`, or kNotFound naming it.
  static absl::StatusOr<v1::CollectionInfo> StoredCollection(const Snapshot& snapshot,
                                                             const std::string& key,
                                                             const std::string& db,
                                                             const std::string& collection_name);
  struct Plan;
  using Planner = std::function<absl::StatusOr<Plan>(const Snapshot&)>;
  template <typename T>
  struct Versioned {
    T value;
    int64_t mod_revision = 0;
  };
  using CollectionMap = std::map<std::string, Versioned<v1::CollectionInfo>>;

  // The DDL engine (see the top): read `keys` (and the keys under `list_prefix`, if not empty)
  // with the dedup record, ask `plan`, commit, resolve. `op` and `target` identify the request in
  // its dedup record, so a request ID reused for another request is refused.
  absl::StatusOr<DdlOutcome> RunDdl(const DdlContext& ctx, const std::string& op,
                                    const std::string& target, std::vector<std::string> keys,
                                    const std::string& list_prefix, const Planner& plan)
      ABSL_LOCKS_EXCLUDED(ddl_mu_, mu_);
  absl::StatusOr<Snapshot> ReadSnapshot(const std::string& dedup_key,
                                        const std::vector<std::string>& keys,
                                        const std::string& list_prefix, Deadline deadline) const;
  std::vector<std::string> ChannelNames(int64_t collection_id, int32_t shards,
                                        std::vector<std::string>* physical) const;

  // The loader thread and the copy.
  void Run(std::stop_token stop);
  // Loads database/ and collection/ at one revision into the copy; returns that revision.
  absl::StatusOr<int64_t> Load();
  void OnEvents(const std::vector<etcd::WatchEvent>& events) ABSL_LOCKS_EXCLUDED(mu_);
  void ApplyLocked(const etcd::KeyValue& kv, bool deleted) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The collections of `db_name` ("" = "default"), or kNotFound when the database is unknown.
  absl::StatusOr<const CollectionMap*> CollectionsOfLocked(const std::string& db_name) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  etcd::Client* const client_;
  const CatalogOptions options_;
  const std::string prefix_;  // "<meta_root>/rootcoord/"
  const std::string dml_channel_prefix_;

  // Serialises DDLs (held across their etcd calls); taken before mu_.
  Mutex ddl_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::mt19937_64 nonce_rng_ ABSL_GUARDED_BY(ddl_mu_);

  mutable Mutex mu_;
  mutable CondVar changed_;  // signalled when anything below changes
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  int64_t loads_ ABSL_GUARDED_BY(mu_) = 0;
  bool watch_ended_ ABSL_GUARDED_BY(mu_) = false;  // the watch was compacted away: reload
  int64_t applied_revision_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, Versioned<v1::DatabaseInfo>> databases_ ABSL_GUARDED_BY(mu_);
  // database name -> collection name -> collection; a database's entry may exist before (or
  // after) its database record while events arrive, and is empty then.
  std::map<std::string, CollectionMap> collections_ ABSL_GUARDED_BY(mu_);

  std::jthread loader_;  // last: started by Start() after every member above is ready
};

}  // namespace coordha::rootcoord

#endif  // COORDHA_ROOTCOORD_CATALOG_H_
