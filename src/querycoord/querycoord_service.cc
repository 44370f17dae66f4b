#include "querycoord/querycoord_service.h"

#include <chrono>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace coordha::querycoord {
namespace {

using coordinator::CallDeadline;
using coordinator::FinishReply;
using coordinator::NotActiveStatus;

bool ReadyOnLiveWorker(const coordinator::ItemPlacement& p,
                       const std::map<int64_t, coordinator::WorkerInfo>& workers) {
  return p.worker_id != 0 && p.state == v1::ITEM_READY && workers.contains(p.worker_id);
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::optional<v1::LoadedCollection> QueryCoordService::Loaded(int64_t collection_id,
                                                              int64_t* mod_revision) const {
  std::optional<etcd::KeyValue> kv = deps_.meta->Get(LoadedCollectionKey(collection_id));
  if (!kv) return std::nullopt;
  if (mod_revision != nullptr) *mod_revision = kv->mod_revision;
  absl::StatusOr<v1::LoadedCollection> c = coordinator::ParseStoredProto<v1::LoadedCollection>(*kv);
  if (!c.ok()) {
    // Unreadable, but there: report it loaded with what we know so it can still be released.
    v1::LoadedCollection unknown;
    unknown.set_collection_id(collection_id);
    return unknown;
  }
  return *std::move(c);
}

absl::StatusOr<v1::CollectionInfo> QueryCoordService::LookUpCollection(int64_t collection_id,
                                                                       Deadline deadline) {
  if (std::optional<v1::CollectionInfo> c =
          FindCollection(deps_.catalog->List(""), collection_id)) {
    return *std::move(c);
  }
  // The copy follows rootcoord's writes a little behind: a collection created just now may not be
  // in it yet, so ask etcd before saying it does not exist.
  etcd::RangeOptions all;
  all.prefix = true;
  COORDHA_ASSIGN_OR_RETURN(etcd::RangeResult read,
                           deps_.client->Range(deps_.catalog_prefix, all, deadline));
  if (std::optional<v1::CollectionInfo> c = FindCollection(read.kvs, collection_id)) {
    return *std::move(c);
  }
  return absl::NotFoundError(
      absl::StrCat("collection ", collection_id, " does not exist (not in rootcoord's catalog)"));
}

grpc::Status QueryCoordService::LoadCollection(grpc::ServerContext* context,
                                               const v1::LoadCollectionRequest* request,
                                               v1::LoadCollectionResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  std::optional<session::Leadership> leadership = deps_.slot->Get();
  if (!leadership) return NotActiveStatus();
  const Deadline deadline = CallDeadline(context);
  absl::Status status = [&]() -> absl::Status {
    if (Loaded(request->collection_id(), nullptr)) return absl::OkStatus();  // idempotent
    COORDHA_ASSIGN_OR_RETURN(v1::CollectionInfo info,
                             LookUpCollection(request->collection_id(), deadline));
    v1::LoadedCollection loaded;
    loaded.set_collection_id(info.collection_id());
    *loaded.mutable_virtual_channel_names() = info.virtual_channel_names();
    loaded.set_loaded_at_unix_ms(NowUnixMs());
    loaded.set_loaded_epoch(leadership->epoch());
    const std::string key = deps_.meta->Key(LoadedCollectionKey(info.collection_id()));
    etcd::Txn txn;
    // Absent: a concurrent load of the same collection (or a retry) keeps the first record.
    txn.compares.push_back(etcd::Compare::CreateRevision(key, etcd::Compare::Op::kEqual, 0));
    txn.success.push_back(etcd::TxnOp::Put(key, loaded.SerializeAsString()));
    // S1: fenced; a failed compare means it is loaded already, which is what was asked.
    COORDHA_ASSIGN_OR_RETURN(etcd::TxnResult result,
                             deps_.meta->Commit(*leadership, std::move(txn), deadline));
    (void)result;
    deps_.scheduler->Poke();
    return absl::OkStatus();
  }();
  return FinishReply(gate_, status, response->mutable_header());
}

grpc::Status QueryCoordService::ReleaseCollection(grpc::ServerContext* context,
                                                  const v1::ReleaseCollectionRequest* request,
                                                  v1::ReleaseCollectionResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  std::optional<session::Leadership> leadership = deps_.slot->Get();
  if (!leadership) return NotActiveStatus();
  const Deadline deadline = CallDeadline(context);
  absl::Status status = [&]() -> absl::Status {
    int64_t mod_revision = 0;
    if (!Loaded(request->collection_id(), &mod_revision)) return absl::OkStatus();  // idempotent
    const std::string key = deps_.meta->Key(LoadedCollectionKey(request->collection_id()));
    etcd::Txn txn;
    txn.compares.push_back(
        etcd::Compare::ModRevision(key, etcd::Compare::Op::kEqual, mod_revision));
    txn.success.push_back(etcd::TxnOp::Delete(key));
    // S1: fenced. A failed compare: the record changed since the copy read it (only a concurrent
    // release or re-load could); the caller's retry decides again on the newer copy.
    COORDHA_ASSIGN_OR_RETURN(etcd::TxnResult result,
                             deps_.meta->Commit(*leadership, std::move(txn), deadline));
    if (!result.succeeded && Loaded(request->collection_id(), nullptr)) {
      return absl::UnavailableError(absl::StrCat("collection ", request->collection_id(),
                                                 " changed while it was being released"));
    }
    deps_.scheduler->Poke();
    return absl::OkStatus();
  }();
  return FinishReply(gate_, status, response->mutable_header());
}

grpc::Status QueryCoordService::GetLoadState(grpc::ServerContext* context,
                                             const v1::GetLoadStateRequest* request,
                                             v1::GetLoadStateResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  if (!deps_.slot->Get()) return NotActiveStatus();
  absl::Status status = [&]() -> absl::Status {
    if (!Loaded(request->collection_id(), nullptr)) {
      absl::StatusOr<v1::CollectionInfo> info =
          LookUpCollection(request->collection_id(), CallDeadline(context));
      if (absl::IsNotFound(info.status())) {
        response->set_state(v1::LoadStateNotExist);
        return absl::OkStatus();
      }
      COORDHA_RETURN_IF_ERROR(info.status());
      response->set_state(v1::LoadStateNotLoad);
      return absl::OkStatus();
    }
    const std::vector<coordinator::DesiredItem> desired =
        deps_.target->DesiredOf(request->collection_id());
    const std::map<std::string, coordinator::ItemPlacement> placements =
        deps_.scheduler->Placements();
    const std::map<int64_t, coordinator::WorkerInfo> workers = deps_.scheduler->Workers();
    size_t ready = 0;
    for (const coordinator::DesiredItem& d : desired) {
      auto p = placements.find(d.item.id());
      if (p != placements.end() && ReadyOnLiveWorker(p->second, workers)) ++ready;
    }
    const int32_t progress =
        desired.empty() ? 100 : static_cast<int32_t>(ready * 100 / desired.size());
    response->set_progress(progress);
    response->set_state(progress == 100 ? v1::LoadStateLoaded : v1::LoadStateLoading);
    return absl::OkStatus();
  }();
  return FinishReply(gate_, status, response->mutable_header());
}

grpc::Status QueryCoordService::GetShardLeaders(grpc::ServerContext*,
                                                const v1::GetShardLeadersRequest* request,
                                                v1::GetShardLeadersResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  if (!deps_.slot->Get()) return NotActiveStatus();
  absl::Status status = [&]() -> absl::Status {
    std::optional<v1::LoadedCollection> loaded = Loaded(request->collection_id(), nullptr);
    if (!loaded) {
      return absl::NotFoundError(
          absl::StrCat("collection ", request->collection_id(), " is not loaded"));
    }
    const std::map<std::string, coordinator::ItemPlacement> placements =
        deps_.scheduler->Placements();
    const std::map<int64_t, coordinator::WorkerInfo> workers = deps_.scheduler->Workers();
    for (const std::string& vchannel : loaded->virtual_channel_names()) {
      v1::ShardLeader* leader = response->add_shards();
      leader->set_channel(vchannel);
      auto p = placements.find(ChannelItemId(vchannel));
      if (p == placements.end() || !ReadyOnLiveWorker(p->second, workers)) continue;
      leader->set_node_id(p->second.worker_id);
      leader->set_node_address(workers.at(p->second.worker_id).address);
    }
    return absl::OkStatus();
  }();
  return FinishReply(gate_, status, response->mutable_header());
}

grpc::Status QueryCoordService::GetDistributionSummary(
    grpc::ServerContext*, const v1::GetDistributionSummaryRequest* request,
    v1::GetDistributionSummaryResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  if (!deps_.slot->Get()) return NotActiveStatus();
  for (const v1::LoadedCollection& c : LoadedCollections(*deps_.meta)) {
    response->add_loaded_collections(c.collection_id());
  }
  const std::map<std::string, coordinator::ItemPlacement> placements =
      deps_.scheduler->Placements();
  for (const coordinator::DesiredItem& d : deps_.target->Desired()) {
    v1::Placement* out = response->add_placements();
    out->set_item(d.item.id());
    out->set_collection_id(d.item.collection_id());
    if (auto p = placements.find(d.item.id()); p != placements.end()) {
      out->set_node_id(p->second.worker_id);
      out->set_state(p->second.state);
      out->set_attempt(p->second.attempt);
    }
  }
  return FinishReply(gate_, absl::OkStatus(), response->mutable_header());
}

}  // namespace coordha::querycoord
