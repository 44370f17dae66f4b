#include "indexcoord/index_store.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"

namespace coordha::indexcoord {
namespace {

using coordinator::ParseStoredProto;

// Compare failures a write retries from the newer copy before giving up (UNAVAILABLE: retriable).
constexpr int kMaxConflictRetries = 16;

std::string StateName(v1::IndexState state) { return v1::IndexState_Name(state); }

}  // namespace

IndexStore::IndexStore(etcd::Client* client, const std::string& meta_root)
    : own_(client, meta_root + "/indexcoord/", coordinator::MetaCopyOptions{.name = "indexcoord"}),
      segments_(client, meta_root + "/datacoord/segment/",
                coordinator::MetaCopyOptions{.name = "indexcoord (datacoord segments)"}) {}

IndexStore::~IndexStore() { Stop(); }

void IndexStore::SetSegmentsChangedListener(std::function<void()> listener) {
  segments_.SetChangeListener(std::move(listener));
}

void IndexStore::Start() {
  own_.Start();
  segments_.Start();
}

void IndexStore::Stop() {
  own_.Stop();
  segments_.Stop();
}

absl::Status IndexStore::CatchUpAsActive(const session::Leadership& leadership, Deadline deadline) {
  // L5: the segments copy has no barrier of ours to wait for: as new as etcd is.
  COORDHA_RETURN_IF_ERROR(
      Annotate(segments_.CatchUpWithEtcd(deadline), "loading datacoord's segments"));
  return own_.CatchUpAsActive(leadership, deadline);  // S7
}

absl::StatusOr<int64_t> IndexStore::Lag() const {
  COORDHA_ASSIGN_OR_RETURN(int64_t own, own_.Lag());
  COORDHA_ASSIGN_OR_RETURN(int64_t segments, segments_.Lag());
  return own + segments;
}

Snapshot IndexStore::TakeSnapshot() const {
  Snapshot snapshot;
  for (const etcd::KeyValue& kv : own_.List("index/")) {
    absl::StatusOr<v1::IndexInfo> info = ParseStoredProto<v1::IndexInfo>(kv);
    if (!info.ok()) {
      spdlog::error("indexcoord: {}", info.status().message());
      continue;
    }
    snapshot.indexes.push_back(
        IndexEntry{.info = *std::move(info), .mod_revision = kv.mod_revision});
  }
  const size_t skip = own_.prefix().size();
  for (const etcd::KeyValue& kv : own_.List("task/")) {
    absl::StatusOr<v1::SegmentIndexState> state = ParseStoredProto<v1::SegmentIndexState>(kv);
    if (!state.ok()) {
      spdlog::error("indexcoord: {}", state.status().message());
      continue;
    }
    snapshot.tasks[kv.key.substr(skip)] =
        TaskEntry{.state = *std::move(state), .mod_revision = kv.mod_revision};
  }
  for (const etcd::KeyValue& kv : segments_.List("")) {
    absl::StatusOr<v1::SegmentInfo> segment = ParseStoredProto<v1::SegmentInfo>(kv);
    if (!segment.ok()) continue;  // datacoord's business; not ours to log every round
    snapshot.segments.push_back(*std::move(segment));
  }
  return snapshot;
}

std::optional<IndexEntry> IndexStore::FindLive(int64_t collection_id,
                                               const std::string& index_name) const {
  std::vector<IndexEntry> live;
  for (const etcd::KeyValue& kv : own_.List(CollectionIndexesRel(collection_id))) {
    absl::StatusOr<v1::IndexInfo> info = ParseStoredProto<v1::IndexInfo>(kv);
    if (!info.ok() || info->deleted()) continue;
    live.push_back(IndexEntry{.info = *std::move(info), .mod_revision = kv.mod_revision});
  }
  const std::string name =
      !index_name.empty() ? index_name : (live.size() == 1 ? "" : kDefaultIndexName);
  if (name.empty()) return live.front();
  for (IndexEntry& entry : live) {
    if (entry.info.index_name() == name) return std::move(entry);
  }
  return std::nullopt;
}

absl::StatusOr<CreateIndexResult> IndexStore::CreateIndex(const session::Leadership& leadership,
                                                          v1::IndexInfo definition,
                                                          Deadline deadline) {
  if (definition.collection_id() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("collection_id: must be > 0, got ", definition.collection_id()));
  }
  if (definition.field_name().empty()) {
    return absl::InvalidArgumentError("field_name: must not be empty");
  }
  if (definition.index_name().empty()) definition.set_index_name(kDefaultIndexName);
  definition.set_deleted(false);
  const std::string rel = IndexRel(definition.collection_id(), definition.index_name());
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    std::optional<etcd::KeyValue> existing = own_.Get(rel);
    if (existing) {
      COORDHA_ASSIGN_OR_RETURN(v1::IndexInfo info, ParseStoredProto<v1::IndexInfo>(*existing));
      if (!info.deleted()) {
        if (SameDefinition(info, definition)) {
          return CreateIndexResult{.index_id = info.index_id(), .existed = true};  // a retry
        }
        return absl::AlreadyExistsError(absl::StrCat(
            "index_name: collection ", definition.collection_id(), " already has an index '",
            definition.index_name(), "' on field '", info.field_name(),
            "' with other params; drop it first or use another name"));
      }
    }
    // Milvus: one index per field.
    for (const etcd::KeyValue& kv : own_.List(CollectionIndexesRel(definition.collection_id()))) {
      absl::StatusOr<v1::IndexInfo> other = ParseStoredProto<v1::IndexInfo>(kv);
      if (other.ok() && !other->deleted() && other->field_name() == definition.field_name()) {
        return absl::AlreadyExistsError(absl::StrCat(
            "field_name: field '", definition.field_name(), "' of collection ",
            definition.collection_id(), " already has the index '", other->index_name(), "'"));
      }
    }
    std::optional<etcd::KeyValue> counter = own_.Get(kNextIndexIdRel);
    int64_t next_id = 1;
    if (counter && !absl::SimpleAtoi(counter->value, &next_id)) {
      return absl::InternalError(
          absl::StrCat(counter->key, ": '", counter->value, "' is not a decimal index ID"));
    }
    definition.set_index_id(next_id);
    etcd::Txn txn;
    txn.compares.push_back(etcd::Compare::ModRevision(own_.Key(rel), etcd::Compare::Op::kEqual,
                                                      existing ? existing->mod_revision : 0));
    txn.compares.push_back(etcd::Compare::ModRevision(
        own_.Key(kNextIndexIdRel), etcd::Compare::Op::kEqual, counter ? counter->mod_revision : 0));
    txn.success.push_back(etcd::TxnOp::Put(own_.Key(rel), definition.SerializeAsString()));
    txn.success.push_back(etcd::TxnOp::Put(own_.Key(kNextIndexIdRel), std::to_string(next_id + 1)));
    // An unknown outcome goes back to the caller (UNAVAILABLE); its retry finds the index and
    // answers existed=true.
    COORDHA_ASSIGN_OR_RETURN(etcd::TxnResult result,
                             own_.Commit(leadership, std::move(txn), deadline));
    if (result.succeeded) {
      spdlog::info("indexcoord: created index {} '{}' on collection {} field '{}'", next_id,
                   definition.index_name(), definition.collection_id(), definition.field_name());
      return CreateIndexResult{.index_id = next_id, .existed = false};
    }
    // A concurrent create changed the counter or the key: decide again on the newer copy.
  }
  return absl::UnavailableError("CreateIndex: too many concurrent changes; retry");
}

absl::StatusOr<std::vector<v1::IndexInfo>> IndexStore::DescribeIndex(
    int64_t collection_id, const std::string& index_name) const {
  std::vector<v1::IndexInfo> out;
  for (const etcd::KeyValue& kv : own_.List(CollectionIndexesRel(collection_id))) {
    absl::StatusOr<v1::IndexInfo> info = ParseStoredProto<v1::IndexInfo>(kv);
    if (!info.ok() || info->deleted()) continue;
    if (!index_name.empty() && info->index_name() != index_name) continue;
    out.push_back(*std::move(info));
  }
  if (out.empty()) {
    return absl::NotFoundError(
        index_name.empty()
            ? absl::StrCat("collection ", collection_id, " has no index")
            : absl::StrCat("collection ", collection_id, " has no index '", index_name, "'"));
  }
  return out;
}

absl::Status IndexStore::DropIndex(const session::Leadership& leadership, int64_t collection_id,
                                   const std::string& index_name, Deadline deadline) {
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    std::optional<IndexEntry> entry = FindLive(collection_id, index_name);
    if (!entry) return absl::OkStatus();  // dropped before (a retry), or never created
    v1::IndexInfo tombstone = entry->info;
    tombstone.set_deleted(true);
    const std::string rel = IndexRel(collection_id, tombstone.index_name());
    etcd::Txn txn;
    txn.compares.push_back(
        etcd::Compare::ModRevision(own_.Key(rel), etcd::Compare::Op::kEqual, entry->mod_revision));
    txn.success.push_back(etcd::TxnOp::Put(own_.Key(rel), tombstone.SerializeAsString()));
    // Its tasks go with it, in one op whatever their number.
    txn.success.push_back(
        etcd::TxnOp::Delete(own_.Key(IndexTasksRel(tombstone.index_id())), /*prefix=*/true));
    COORDHA_ASSIGN_OR_RETURN(etcd::TxnResult result,
                             own_.Commit(leadership, std::move(txn), deadline));
    if (result.succeeded) {
      spdlog::info("indexcoord: dropped index {} '{}' of collection {}", tombstone.index_id(),
                   tombstone.index_name(), collection_id);
      return absl::OkStatus();
    }
  }
  return absl::UnavailableError("DropIndex: too many concurrent changes; retry");
}

absl::StatusOr<v1::GetIndexStateResponse> IndexStore::GetIndexState(
    int64_t collection_id, const std::string& index_name) const {
  std::optional<IndexEntry> entry = FindLive(collection_id, index_name);
  if (!entry) {
    return absl::NotFoundError(absl::StrCat("collection ", collection_id, " has no index '",
                                            index_name.empty() ? kDefaultIndexName : index_name,
                                            "'"));
  }
  return SummarizeIndex(entry->info, TakeSnapshot());
}

std::vector<coordinator::DesiredItem> IndexStore::Desired() { return DesiredTasks(TakeSnapshot()); }

void IndexStore::OnReports(const session::Leadership& leadership,
                           const std::vector<coordinator::ItemReport>& reports, Deadline deadline) {
  std::map<int64_t, IndexEntry> indexes;  // by index id
  for (const etcd::KeyValue& kv : own_.List("index/")) {
    absl::StatusOr<v1::IndexInfo> info = ParseStoredProto<v1::IndexInfo>(kv);
    if (!info.ok()) continue;
    const int64_t id = info->index_id();
    indexes[id] = IndexEntry{.info = *std::move(info), .mod_revision = kv.mod_revision};
  }
  for (const coordinator::ItemReport& report : reports) {
    int64_t index_id = 0, segment_id = 0;
    if (!ParseTaskId(report.id, &index_id, &segment_id)) continue;
    std::optional<Placement> placement;
    if (std::optional<etcd::KeyValue> kv = own_.Get(AssignmentRel(report.id))) {
      placement = ParsePlacement(*kv);
    }
    std::optional<TaskEntry> task;
    if (std::optional<etcd::KeyValue> kv = own_.Get(report.id)) {
      absl::StatusOr<v1::SegmentIndexState> state = ParseStoredProto<v1::SegmentIndexState>(*kv);
      if (state.ok())
        task = TaskEntry{.state = *std::move(state), .mod_revision = kv->mod_revision};
    }
    std::optional<IndexEntry> index;
    if (auto it = indexes.find(index_id); it != indexes.end()) index = it->second;

    std::optional<TaskWrite> write = DecideReport(report, placement, task, index);
    if (!write) continue;
    etcd::Txn txn;
    txn.compares.push_back(etcd::Compare::ModRevision(
        own_.Key(AssignmentRel(report.id)), etcd::Compare::Op::kEqual, write->placement_revision));
    txn.compares.push_back(etcd::Compare::ModRevision(
        own_.Key(write->task_id), etcd::Compare::Op::kEqual, write->task_revision));
    txn.compares.push_back(etcd::Compare::ModRevision(
        own_.Key(write->index_rel), etcd::Compare::Op::kEqual, write->index_revision));
    txn.success.push_back(
        etcd::TxnOp::Put(own_.Key(write->task_id), write->state.SerializeAsString()));
    absl::StatusOr<etcd::TxnResult> result = own_.Commit(leadership, std::move(txn), deadline);
    if (!result.ok()) {
      // Deposed, or etcd trouble: the next round (of whichever active) decides again from the
      // copy; the compares make a repeat harmless.
      if (!session::IsFenced(result.status())) {
        spdlog::warn("indexcoord: recording {} failed: {}", report.id, result.status().message());
      }
      return;
    }
    if (!result->succeeded) continue;  // moved, dropped or recorded meanwhile: next round
    if (IsFinal(write->state.state())) {
      spdlog::info("indexcoord: {} {} on indexnode-{} (attempt {}){}", report.id,
                   StateName(write->state.state()), write->state.node_id(), write->state.attempt(),
                   write->state.fail_reason().empty() ? "" : ": " + write->state.fail_reason());
    }
  }
}

}  // namespace coordha::indexcoord
