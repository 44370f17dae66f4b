#include "rootcoord/catalog.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace coordha::rootcoord {
namespace {

using etcd::Compare;
using etcd::TxnOp;

constexpr char kDatabaseDir[] = "database/";
constexpr char kCollectionDir[] = "collection/";
constexpr char kDedupDir[] = "dedup/";
constexpr char kEpochKey[] = "epoch";
// A DDL whose snapshot keeps going stale gives up after this many rounds. With the DDL lock and
// the fence nothing else writes these keys, so a second round is already unexpected.
constexpr int kMaxDdlRounds = 8;
// Each read of the loader; Stop() waits at most this long for one in flight.
constexpr Duration kLoadReadTimeout = std::chrono::seconds(3);
constexpr Duration kFirstRetryBackoff = std::chrono::milliseconds(50);

std::string Normalize(const std::string& db_name) {
  return db_name.empty() ? std::string(kDefaultDatabase) : db_name;
}

std::string Quoted(const std::string& s) { return absl::StrCat("'", absl::CHexEscape(s), "'"); }

std::string CollectionTarget(const std::string& db, const std::string& collection) {
  return absl::StrCat(db, ".", collection);
}

absl::Status ValidateRequestId(const std::string& request_id) {
  if (request_id.empty()) {
    return absl::InvalidArgumentError("request_id: required so retries cannot apply twice");
  }
  if (request_id.size() > kMaxRequestIdLength) {
    return absl::InvalidArgumentError(absl::StrCat("request_id: longer than ", kMaxRequestIdLength,
                                                   " characters (", request_id.size(), ")"));
  }
  return absl::OkStatus();
}

// The dedup record: what was applied for a request ID, and by which attempt.
struct DedupRecord {
  std::string op;
  std::string target;
  int64_t id = 0;
  std::string attempt;
};

std::string EncodeDedup(const DedupRecord& record) {
  return nlohmann::json{
      {"op", record.op}, {"target", record.target}, {"id", record.id}, {"attempt", record.attempt}}
      .dump();
}

absl::StatusOr<DedupRecord> DecodeDedup(const etcd::KeyValue& kv) {
  nlohmann::json j = nlohmann::json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("op") || !j["op"].is_string() || !j.contains("target") ||
      !j["target"].is_string() || !j.contains("id") || !j["id"].is_number_integer()) {
    return absl::InternalError(absl::StrCat(kv.key, ": unreadable dedup record"));
  }
  DedupRecord record;
  record.op = j["op"].get<std::string>();
  record.target = j["target"].get<std::string>();
  record.id = j["id"].get<int64_t>();
  if (j.contains("attempt") && j["attempt"].is_string()) {
    record.attempt = j["attempt"].get<std::string>();
  }
  return record;
}

// IDs for one DDL call: allocated on first use and kept across its rounds, so a retried round
// writes the same IDs.
class IdCache {
 public:
  explicit IdCache(const IdSource& source) : source_(source) {}
  absl::StatusOr<int64_t> Get(size_t i) {
    while (ids_.size() <= i) {
      if (!source_) return absl::InternalError("catalog: a create DDL was given no ID source");
      // Not annotated: Annotate() would drop a FencedError's payload.
      COORDHA_ASSIGN_OR_RETURN(int64_t id, source_());
      ids_.push_back(id);
    }
    return ids_[i];
  }

 private:
  const IdSource& source_;
  std::vector<int64_t> ids_;
};

template <typename Proto>
absl::StatusOr<Proto> ParseStored(const etcd::KeyValue& kv) {
  Proto proto;
  if (!proto.ParseFromString(kv.value)) {
    return absl::InternalError(
        absl::StrCat(kv.key, ": stored ", Proto::descriptor()->name(), " is unreadable"));
  }
  return proto;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Construction, keys, the loader.

struct Catalog::Snapshot {
  int64_t revision = 0;
  std::optional<etcd::KeyValue> dedup;
  std::map<std::string, std::optional<etcd::KeyValue>> kvs;  // every key asked for
  std::vector<std::string> listed;                           // keys under the list prefix

  const etcd::KeyValue* Find(const std::string& key) const {
    auto it = kvs.find(key);
    return it == kvs.end() || !it->second ? nullptr : &*it->second;
  }
  int64_t ModRevision(const std::string& key) const {
    const etcd::KeyValue* kv = Find(key);
    return kv == nullptr ? 0 : kv->mod_revision;
  }
};

struct Catalog::Plan {
  int64_t id = 0;             // reported in the outcome and the dedup record
  std::vector<TxnOp> writes;  // the change
};

absl::StatusOr<v1::CollectionInfo> Catalog::StoredCollection(const Snapshot& snapshot,
                                                             const std::string& key,
                                                             const std::string& db,
                                                             const std::string& collection_name) {
  const etcd::KeyValue* kv = snapshot.Find(key);
  if (kv == nullptr) {
    return absl::NotFoundError(absl::StrCat("collection ", Quoted(collection_name),
                                            " not found in database ", Quoted(db)));
  }
  return ParseStored<v1::CollectionInfo>(*kv);
}

namespace {
std::string DefaultChannelPrefix(const std::string& meta_root) {
  const size_t slash = meta_root.rfind('/');
  const std::string root = slash == std::string::npos ? meta_root : meta_root.substr(0, slash);
  return absl::StrCat(root, "-rootcoord-dml");
}
}  // namespace

Catalog::Catalog(etcd::Client* client, CatalogOptions options)
    : client_(client),
      options_(std::move(options)),
      prefix_(options_.meta_root + "/rootcoord/"),
      dml_channel_prefix_(options_.dml_channel_prefix.empty()
                              ? DefaultChannelPrefix(options_.meta_root)
                              : options_.dml_channel_prefix),
      nonce_rng_(std::random_device{}()) {}

Catalog::~Catalog() { Stop(); }

void Catalog::Start() {
  loader_ = std::jthread([this](std::stop_token stop) { Run(stop); });
}

void Catalog::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  changed_.SignalAll();
  if (loader_.joinable()) {
    loader_.request_stop();
    loader_.join();
  }
}

std::string Catalog::DatabaseKey(const std::string& db_name) const {
  return absl::StrCat(prefix_, kDatabaseDir, Normalize(db_name));
}
std::string Catalog::CollectionKey(const std::string& db_name,
                                   const std::string& collection_name) const {
  return absl::StrCat(prefix_, kCollectionDir, Normalize(db_name), "/", collection_name);
}
std::string Catalog::DedupKey(const std::string& request_id) const {
  return absl::StrCat(prefix_, kDedupDir, request_id);
}

int64_t Catalog::applied_revision() const {
  MutexLock lock(&mu_);
  return applied_revision_;
}

absl::StatusOr<int64_t> Catalog::Lag(Deadline) const {
  // etcd has no cheap "changes under a prefix after revision R" (a count-only Range ignores
  // min_mod_revision, and a full one reads every key), so lag is what the watch knows: 0 once the
  // copy is loaded and the watch applies changes in order; activation still catches up exactly
  // through the barrier (CatchUpAsActive).
  if (!loaded()) return absl::UnavailableError("the catalog copy is still loading");
  return 0;
}

bool Catalog::loaded() const {
  MutexLock lock(&mu_);
  return loaded_;
}

int64_t Catalog::loads() const {
  MutexLock lock(&mu_);
  return loads_;
}

void Catalog::Run(std::stop_token stop) {
  Duration backoff = kFirstRetryBackoff;
  bool warned = false;
  auto wait = [this](Deadline until) {
    MutexLock lock(&mu_);
    changed_.Await(
        &mu_,
        [this] {
          mu_.AssertHeld();
          return stopping_ || watch_ended_;
        },
        until);
    return stopping_;
  };
  while (!stop.stop_requested()) {
    // S6: etcd may be down at start or after a compaction; keep trying until Stop().
    absl::StatusOr<int64_t> revision = Load();
    if (!revision.ok()) {
      if (!warned) {
        spdlog::warn("rootcoord catalog: cannot load {} ({}); retrying", prefix_,
                     revision.status().message());
        warned = true;
      }
      if (wait(Deadline::In(backoff))) return;
      backoff = std::min<Duration>(backoff * 2, options_.max_retry_backoff);
      continue;
    }
    if (warned) spdlog::info("rootcoord catalog: loaded {} at revision {}", prefix_, *revision);
    warned = false;
    backoff = kFirstRetryBackoff;

    // L5: follow every change after the loaded revision.
    etcd::WatchOptions watch_options;
    watch_options.prefix = true;
    watch_options.start_revision = *revision + 1;
    watch_options.progress_interval = options_.watch_progress_interval;
    watch_options.progress_timeout = options_.watch_progress_timeout;
    etcd::Watcher::Callbacks callbacks;
    callbacks.on_events = [this](const std::vector<etcd::WatchEvent>& events) { OnEvents(events); };
    callbacks.on_compacted = [this](int64_t compact_revision) {
      // L4: events were lost for good; the loader reloads at the current revision.
      spdlog::info("rootcoord catalog: watch compacted at revision {}; reloading",
                   compact_revision);
      {
        MutexLock lock(&mu_);
        watch_ended_ = true;
      }
      changed_.SignalAll();
    };
    std::unique_ptr<etcd::Watcher> watcher =
        etcd::Watcher::Start(client_, prefix_, watch_options, std::move(callbacks));
    const bool stopping = wait(Deadline());
    watcher->Stop();
    if (stopping) return;
    MutexLock lock(&mu_);
    watch_ended_ = false;
  }
}

absl::StatusOr<int64_t> Catalog::Load() {
  etcd::RangeOptions all;
  all.prefix = true;
  COORDHA_ASSIGN_OR_RETURN(etcd::RangeResult dbs, client_->Range(prefix_ + kDatabaseDir, all,
                                                                 Deadline::In(kLoadReadTimeout)));
  all.revision = dbs.revision;  // one consistent snapshot
  COORDHA_ASSIGN_OR_RETURN(etcd::RangeResult cols, client_->Range(prefix_ + kCollectionDir, all,
                                                                  Deadline::In(kLoadReadTimeout)));
  {
    MutexLock lock(&mu_);
    databases_.clear();
    collections_.clear();
    for (const etcd::KeyValue& kv : dbs.kvs) ApplyLocked(kv, /*deleted=*/false);
    for (const etcd::KeyValue& kv : cols.kvs) ApplyLocked(kv, /*deleted=*/false);
    applied_revision_ = std::max(applied_revision_, dbs.revision);
    loaded_ = true;
    ++loads_;
  }
  changed_.SignalAll();
  return dbs.revision;
}

void Catalog::OnEvents(const std::vector<etcd::WatchEvent>& events) {
  {
    MutexLock lock(&mu_);
    for (const etcd::WatchEvent& event : events) {
      ApplyLocked(event.kv, event.type == etcd::WatchEvent::Type::kDelete);
      applied_revision_ = std::max(applied_revision_, event.kv.mod_revision);
    }
  }
  changed_.SignalAll();
}

void Catalog::ApplyLocked(const etcd::KeyValue& kv, bool deleted) {
  if (!absl::StartsWith(kv.key, prefix_)) return;
  const std::string rel = kv.key.substr(prefix_.size());
  if (absl::StartsWith(rel, kDatabaseDir)) {
    const std::string name = rel.substr(sizeof(kDatabaseDir) - 1);
    if (deleted) {
      databases_.erase(name);
      return;
    }
    absl::StatusOr<v1::DatabaseInfo> info = ParseStored<v1::DatabaseInfo>(kv);
    if (!info.ok()) {
      spdlog::error("rootcoord catalog: {}", info.status().message());
      return;
    }
    databases_[name] = {*std::move(info), kv.mod_revision};
  } else if (absl::StartsWith(rel, kCollectionDir)) {
    const std::string rest = rel.substr(sizeof(kCollectionDir) - 1);
    const size_t slash = rest.find('/');
    if (slash == std::string::npos) return;
    const std::string db = rest.substr(0, slash);
    const std::string name = rest.substr(slash + 1);
    if (deleted) {
      auto it = collections_.find(db);
      if (it == collections_.end()) return;
      it->second.erase(name);
      if (it->second.empty()) collections_.erase(it);
      return;
    }
    absl::StatusOr<v1::CollectionInfo> info = ParseStored<v1::CollectionInfo>(kv);
    if (!info.ok()) {
      spdlog::error("rootcoord catalog: {}", info.status().message());
      return;
    }
    collections_[db][name] = {*std::move(info), kv.mod_revision};
  }
  // dedup/ and the epoch barrier only move the applied revision.
}

absl::Status Catalog::CatchUp(int64_t revision, Deadline deadline) const {
  MutexLock lock(&mu_);
  changed_.Await(
      &mu_,
      [&] {
        mu_.AssertHeld();
        return stopping_ || applied_revision_ >= revision;
      },
      deadline);
  if (applied_revision_ >= revision) return absl::OkStatus();
  if (stopping_) return absl::CancelledError("rootcoord catalog: stopped");
  return absl::DeadlineExceededError(
      absl::StrCat("rootcoord catalog: the copy has applied revision ", applied_revision_,
                   ", not yet ", revision, " (etcd unreachable or the watch is stuck?)"));
}

absl::Status Catalog::CatchUpAsActive(const session::Leadership& leadership, Deadline deadline) {
  etcd::Txn barrier;
  barrier.success.push_back(TxnOp::Put(prefix_ + kEpochKey, std::to_string(leadership.epoch())));
  while (true) {
    // S1: fenced like every write of the active. The Put is idempotent, so an unknown outcome is
    // simply tried again.
    absl::StatusOr<etcd::TxnResult> written = leadership.FencedCommit(barrier, deadline);
    if (written.ok()) return CatchUp(written->revision, deadline);
    if (!IsOutcomeUnknown(written.status()) || deadline.Expired()) {
      return Annotate(written.status(), "rootcoord catalog: writing the activation barrier");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The DDL engine.

absl::StatusOr<Catalog::Snapshot> Catalog::ReadSnapshot(const std::string& dedup_key,
                                                        const std::vector<std::string>& keys,
                                                        const std::string& list_prefix,
                                                        Deadline deadline) const {
  Snapshot snapshot;
  COORDHA_ASSIGN_OR_RETURN(etcd::RangeResult dedup, client_->Range(dedup_key, {}, deadline));
  snapshot.revision = dedup.revision;
  if (!dedup.kvs.empty()) {
    snapshot.dedup = dedup.kvs.front();
    return snapshot;
  }
  etcd::RangeOptions at;
  at.revision = snapshot.revision;
  for (const std::string& key : keys) {
    COORDHA_ASSIGN_OR_RETURN(etcd::RangeResult read, client_->Range(key, at, deadline));
    snapshot.kvs[key] = read.kvs.empty() ? std::nullopt : std::optional(read.kvs.front());
  }
  if (!list_prefix.empty()) {
    etcd::RangeOptions list = at;
    list.prefix = true;
    list.keys_only = true;
    COORDHA_ASSIGN_OR_RETURN(etcd::RangeResult read, client_->Range(list_prefix, list, deadline));
    for (const etcd::KeyValue& kv : read.kvs) snapshot.listed.push_back(kv.key);
  }
  return snapshot;
}

absl::StatusOr<DdlOutcome> Catalog::RunDdl(const DdlContext& ctx, const std::string& op,
                                           const std::string& target, std::vector<std::string> keys,
                                           const std::string& list_prefix, const Planner& plan) {
  if (ctx.leadership == nullptr) {
    return absl::FailedPreconditionError("rootcoord catalog: a DDL needs the active's leadership");
  }
  COORDHA_RETURN_IF_ERROR(ValidateRequestId(ctx.request_id));
  const std::string dedup_key = DedupKey(ctx.request_id);
  MutexLock ddl(&ddl_mu_);
  const std::string attempt = absl::StrCat(absl::Hex(nonce_rng_(), absl::kZeroPad16));
  bool unknown = false;  // a commit of this call may have applied
  for (int round = 0; round < kMaxDdlRounds; ++round) {
    absl::StatusOr<Snapshot> snapshot =
        ctx.deadline.Expired() ? absl::DeadlineExceededError("deadline passed")
                               : ReadSnapshot(dedup_key, keys, list_prefix, ctx.deadline);
    if (!snapshot.ok()) {
      if (!unknown) return snapshot.status();
      return OutcomeUnknownError(absl::StrCat(op, " ", target, " (request_id ", ctx.request_id,
                                              "): the commit's outcome is unknown and re-reading "
                                              "failed (",
                                              snapshot.status().message(),
                                              "); retry with the same request_id"));
    }
    if (snapshot->dedup) {
      // Applied before: by an earlier call (a retry, maybe to an earlier active) or by this call
      // in a round whose outcome was unknown (same attempt nonce).
      COORDHA_ASSIGN_OR_RETURN(DedupRecord record, DecodeDedup(*snapshot->dedup));
      if (record.op != op || record.target != target) {
        return absl::InvalidArgumentError(absl::StrCat(
            "request_id: ", Quoted(ctx.request_id), " was already used for ", record.op, " ",
            record.target, "; send a new request_id for a new request"));
      }
      const int64_t revision = snapshot->dedup->mod_revision;  // the change's own revision
      if (absl::Status caught = CatchUp(revision, ctx.deadline); !caught.ok()) {
        spdlog::warn("rootcoord catalog: {}", caught.message());
      }
      return DdlOutcome{record.id, record.attempt != attempt, revision};
    }
    COORDHA_ASSIGN_OR_RETURN(Plan planned, plan(*snapshot));

    etcd::Txn txn;
    txn.compares.push_back(Compare::Version(dedup_key, Compare::Op::kEqual, 0));
    for (const std::string& key : keys) {
      txn.compares.push_back(
          Compare::ModRevision(key, Compare::Op::kEqual, snapshot->ModRevision(key)));
    }
    txn.success = std::move(planned.writes);
    txn.success.push_back(TxnOp::Put(dedup_key, EncodeDedup({op, target, planned.id, attempt})));
    // S1: one fenced Txn holds the change and its dedup record.
    absl::StatusOr<etcd::TxnResult> committed =
        ctx.leadership->FencedCommit(std::move(txn), ctx.deadline);
    if (!committed.ok()) {
      if (!IsOutcomeUnknown(committed.status())) return committed.status();
      // S1: outcome unknown: the next round's read decides (the dedup record carries `attempt`);
      // if it did not apply, the same compares make another try safe.
      spdlog::warn("rootcoord catalog: {} {}: {}; re-reading", op, target,
                   committed.status().message());
      unknown = true;
      continue;
    }
    if (committed->succeeded) {
      // Read-your-writes: the next read from the copy sees this change.
      if (absl::Status caught = CatchUp(committed->revision, ctx.deadline); !caught.ok()) {
        spdlog::warn("rootcoord catalog: {} {} applied at revision {}, but {}", op, target,
                     committed->revision, caught.message());
      }
      return DdlOutcome{planned.id, false, committed->revision};
    }
    // A compare failed: the dedup record appeared or an object changed since the read. Decide
    // again on a fresh read.
  }
  return absl::AbortedError(absl::StrCat(op, " ", target, ": the catalog kept changing under ",
                                         "the DDL; retry with the same request_id"));
}

std::vector<std::string> Catalog::ChannelNames(int64_t collection_id, int32_t shards,
                                               std::vector<std::string>* physical) const {
  std::vector<std::string> virtual_channels;
  for (int32_t shard = 0; shard < shards; ++shard) {
    const int64_t index = (collection_id + shard) % options_.dml_channel_count;
    std::string channel = absl::StrCat(dml_channel_prefix_, "_", index);
    virtual_channels.push_back(absl::StrCat(channel, "_", collection_id, "v", shard));
    physical->push_back(std::move(channel));
  }
  return virtual_channels;
}

// ---------------------------------------------------------------------------------------------
// DDLs.

absl::StatusOr<DdlOutcome> Catalog::CreateDatabase(const DdlContext& ctx,
                                                   const std::string& db_name) {
  COORDHA_RETURN_IF_ERROR(ValidateName("db_name", db_name));
  const std::string key = DatabaseKey(db_name);
  IdCache ids(ctx.new_id);
  return RunDdl(ctx, "CreateDatabase", db_name, {key}, "",
                [&](const Snapshot& snapshot) -> absl::StatusOr<Plan> {
                  if (db_name == kDefaultDatabase || snapshot.Find(key) != nullptr) {
                    return absl::AlreadyExistsError(
                        absl::StrCat("database ", Quoted(db_name), " already exists"));
                  }
                  COORDHA_ASSIGN_OR_RETURN(int64_t id, ids.Get(0));
                  v1::DatabaseInfo info;
                  info.set_db_id(id);
                  info.set_name(db_name);
                  info.set_created_timestamp(ctx.timestamp);
                  return Plan{id, {TxnOp::Put(key, info.SerializeAsString())}};
                });
}

absl::StatusOr<DdlOutcome> Catalog::DropDatabase(const DdlContext& ctx,
                                                 const std::string& db_name) {
  COORDHA_RETURN_IF_ERROR(ValidateName("db_name", db_name));
  if (db_name == kDefaultDatabase) {
    return absl::InvalidArgumentError("db_name: the database 'default' cannot be dropped");
  }
  const std::string key = DatabaseKey(db_name);
  const std::string collections = absl::StrCat(prefix_, kCollectionDir, db_name, "/");
  return RunDdl(
      ctx, "DropDatabase", db_name, {key}, collections,
      [&](const Snapshot& snapshot) -> absl::StatusOr<Plan> {
        if (snapshot.Find(key) == nullptr) {
          return absl::NotFoundError(absl::StrCat("database ", Quoted(db_name), " not found"));
        }
        if (!snapshot.listed.empty()) {
          // Under the DDL lock no collection can be created in it meanwhile.
          std::vector<std::string> names;
          for (size_t i = 0; i < snapshot.listed.size() && i < 5; ++i) {
            names.push_back(Quoted(snapshot.listed[i].substr(collections.size())));
          }
          return absl::FailedPreconditionError(absl::StrCat(
              "database ", Quoted(db_name), " still holds ", snapshot.listed.size(),
              " collection(s) (", absl::StrJoin(names, ", "),
              snapshot.listed.size() > names.size() ? ", ..." : "", "); drop them first"));
        }
        return Plan{0, {TxnOp::Delete(key)}};
      });
}

absl::StatusOr<DdlOutcome> Catalog::CreateCollection(const DdlContext& ctx,
                                                     const std::string& db_name,
                                                     const v1::CollectionSchema& schema,
                                                     int32_t shards_num) {
  const std::string db = Normalize(db_name);
  COORDHA_RETURN_IF_ERROR(ValidateName("db_name", db));
  COORDHA_ASSIGN_OR_RETURN(v1::CollectionSchema checked, ValidateSchema(schema));
  const int32_t shards = shards_num == 0 ? 1 : shards_num;
  if (shards < 1 || shards > kMaxShards) {
    return absl::InvalidArgumentError(
        absl::StrCat("shards_num: must be 1..", kMaxShards, " (0 means 1), got ", shards_num));
  }
  const std::string key = CollectionKey(db, checked.name());
  const std::string db_key = DatabaseKey(db);
  std::vector<std::string> keys = {key};
  if (db != kDefaultDatabase) keys.push_back(db_key);
  const std::string target = CollectionTarget(db, checked.name());
  IdCache ids(ctx.new_id);
  return RunDdl(
      ctx, "CreateCollection", target, std::move(keys), "",
      [&](const Snapshot& snapshot) -> absl::StatusOr<Plan> {
        if (db != kDefaultDatabase && snapshot.Find(db_key) == nullptr) {
          return absl::NotFoundError(absl::StrCat("database ", Quoted(db), " not found"));
        }
        if (snapshot.Find(key) != nullptr) {
          return absl::AlreadyExistsError(absl::StrCat("collection ", Quoted(checked.name()),
                                                       " already exists in database ", Quoted(db)));
        }
        COORDHA_ASSIGN_OR_RETURN(int64_t collection_id, ids.Get(0));
        COORDHA_ASSIGN_OR_RETURN(int64_t partition_id, ids.Get(1));
        v1::CollectionInfo info;
        info.set_collection_id(collection_id);
        info.set_db_name(db);
        *info.mutable_schema() = checked;
        info.set_shards_num(shards);
        std::vector<std::string> physical;
        for (std::string& channel : ChannelNames(collection_id, shards, &physical)) {
          info.add_virtual_channel_names(std::move(channel));
        }
        for (std::string& channel : physical) info.add_physical_channel_names(std::move(channel));
        info.set_created_timestamp(ctx.timestamp);
        v1::PartitionInfo* partition = info.add_partitions();
        partition->set_partition_id(partition_id);
        partition->set_name(kDefaultPartition);
        partition->set_created_timestamp(ctx.timestamp);
        return Plan{collection_id, {TxnOp::Put(key, info.SerializeAsString())}};
      });
}

absl::StatusOr<DdlOutcome> Catalog::DropCollection(const DdlContext& ctx,
                                                   const std::string& db_name,
                                                   const std::string& collection_name) {
  const std::string db = Normalize(db_name);
  COORDHA_RETURN_IF_ERROR(ValidateName("db_name", db));
  COORDHA_RETURN_IF_ERROR(ValidateName("collection_name", collection_name));
  const std::string key = CollectionKey(db, collection_name);
  return RunDdl(ctx, "DropCollection", CollectionTarget(db, collection_name), {key}, "",
                [&](const Snapshot& snapshot) -> absl::StatusOr<Plan> {
                  if (snapshot.Find(key) == nullptr) {
                    return absl::NotFoundError(absl::StrCat("collection ", Quoted(collection_name),
                                                            " not found in database ", Quoted(db)));
                  }
                  return Plan{0, {TxnOp::Delete(key)}};
                });
}

absl::StatusOr<DdlOutcome> Catalog::CreatePartition(const DdlContext& ctx,
                                                    const std::string& db_name,
                                                    const std::string& collection_name,
                                                    const std::string& partition_name) {
  const std::string db = Normalize(db_name);
  COORDHA_RETURN_IF_ERROR(ValidateName("db_name", db));
  COORDHA_RETURN_IF_ERROR(ValidateName("collection_name", collection_name));
  COORDHA_RETURN_IF_ERROR(ValidateName("partition_name", partition_name));
  const std::string key = CollectionKey(db, collection_name);
  IdCache ids(ctx.new_id);
  return RunDdl(ctx, "CreatePartition",
                absl::StrCat(CollectionTarget(db, collection_name), ".", partition_name), {key}, "",
                [&](const Snapshot& snapshot) -> absl::StatusOr<Plan> {
                  COORDHA_ASSIGN_OR_RETURN(v1::CollectionInfo info,
                                           StoredCollection(snapshot, key, db, collection_name));
                  for (const v1::PartitionInfo& p : info.partitions()) {
                    if (p.name() == partition_name) {
                      return absl::AlreadyExistsError(
                          absl::StrCat("partition ", Quoted(partition_name),
                                       " already exists in collection ", Quoted(collection_name)));
                    }
                  }
                  if (info.partitions_size() >= kMaxPartitions) {
                    return absl::FailedPreconditionError(absl::StrCat(
                        "collection ", Quoted(collection_name), " already has the maximum of ",
                        kMaxPartitions, " partitions"));
                  }
                  COORDHA_ASSIGN_OR_RETURN(int64_t id, ids.Get(0));
                  v1::PartitionInfo* partition = info.add_partitions();
                  partition->set_partition_id(id);
                  partition->set_name(partition_name);
                  partition->set_created_timestamp(ctx.timestamp);
                  return Plan{id, {TxnOp::Put(key, info.SerializeAsString())}};
                });
}

absl::StatusOr<DdlOutcome> Catalog::DropPartition(const DdlContext& ctx, const std::string& db_name,
                                                  const std::string& collection_name,
                                                  const std::string& partition_name) {
  const std::string db = Normalize(db_name);
  COORDHA_RETURN_IF_ERROR(ValidateName("db_name", db));
  COORDHA_RETURN_IF_ERROR(ValidateName("collection_name", collection_name));
  COORDHA_RETURN_IF_ERROR(ValidateName("partition_name", partition_name));
  if (partition_name == kDefaultPartition) {
    return absl::InvalidArgumentError("partition_name: the partition '_default' cannot be dropped");
  }
  const std::string key = CollectionKey(db, collection_name);
  return RunDdl(ctx, "DropPartition",
                absl::StrCat(CollectionTarget(db, collection_name), ".", partition_name), {key}, "",
                [&](const Snapshot& snapshot) -> absl::StatusOr<Plan> {
                  COORDHA_ASSIGN_OR_RETURN(v1::CollectionInfo info,
                                           StoredCollection(snapshot, key, db, collection_name));
                  auto* partitions = info.mutable_partitions();
                  auto it = std::find_if(
                      partitions->begin(), partitions->end(),
                      [&](const v1::PartitionInfo& p) { return p.name() == partition_name; });
                  if (it == partitions->end()) {
                    return absl::NotFoundError(absl::StrCat("partition ", Quoted(partition_name),
                                                            " not found in collection ",
                                                            Quoted(collection_name)));
                  }
                  partitions->erase(it);
                  return Plan{0, {TxnOp::Put(key, info.SerializeAsString())}};
                });
}

// ---------------------------------------------------------------------------------------------
// Reads, from the copy.

absl::StatusOr<const Catalog::CollectionMap*> Catalog::CollectionsOfLocked(
    const std::string& db_name) const {
  static const CollectionMap* const kNone = new CollectionMap();
  const std::string db = Normalize(db_name);
  if (db != kDefaultDatabase && databases_.find(db) == databases_.end()) {
    return absl::NotFoundError(absl::StrCat("database ", Quoted(db), " not found"));
  }
  auto it = collections_.find(db);
  return it == collections_.end() ? kNone : &it->second;
}

std::vector<v1::DatabaseInfo> Catalog::ListDatabases() const {
  std::vector<v1::DatabaseInfo> out(1);
  out.front().set_name(kDefaultDatabase);  // db_id 0, always there
  MutexLock lock(&mu_);
  for (const auto& [name, db] : databases_) out.push_back(db.value);
  return out;
}

absl::StatusOr<v1::CollectionInfo> Catalog::DescribeCollection(
    const std::string& db_name, const std::string& collection_name) const {
  COORDHA_RETURN_IF_ERROR(ValidateName("collection_name", collection_name));
  MutexLock lock(&mu_);
  COORDHA_ASSIGN_OR_RETURN(const CollectionMap* collections, CollectionsOfLocked(db_name));
  auto it = collections->find(collection_name);
  if (it == collections->end()) {
    return absl::NotFoundError(absl::StrCat("collection ", Quoted(collection_name),
                                            " not found in database ", Quoted(Normalize(db_name))));
  }
  return it->second.value;
}

absl::StatusOr<bool> Catalog::HasCollection(const std::string& db_name,
                                            const std::string& collection_name) const {
  COORDHA_RETURN_IF_ERROR(ValidateName("collection_name", collection_name));
  MutexLock lock(&mu_);
  COORDHA_ASSIGN_OR_RETURN(const CollectionMap* collections, CollectionsOfLocked(db_name));
  return collections->find(collection_name) != collections->end();
}

absl::StatusOr<std::vector<std::string>> Catalog::ListCollections(
    const std::string& db_name) const {
  MutexLock lock(&mu_);
  COORDHA_ASSIGN_OR_RETURN(const CollectionMap* collections, CollectionsOfLocked(db_name));
  std::vector<std::string> names;
  names.reserve(collections->size());
  for (const auto& [name, collection] : *collections) names.push_back(name);
  return names;
}

absl::StatusOr<std::vector<v1::PartitionInfo>> Catalog::ListPartitions(
    const std::string& db_name, const std::string& collection_name) const {
  COORDHA_ASSIGN_OR_RETURN(v1::CollectionInfo info, DescribeCollection(db_name, collection_name));
  return std::vector<v1::PartitionInfo>(info.partitions().begin(), info.partitions().end());
}

}  // namespace coordha::rootcoord
