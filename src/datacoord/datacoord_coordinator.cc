// DataCoordinator: datacoord's state — segments and the channels they are written through — and
// the placement of channels and flushes on the datanodes (DESIGN.md §5).
//
// Key layout under <meta>/datacoord/ (MetaCopy, coordinator/meta_copy.h; every replica keeps a
// hot copy, L5):
//   segment/<id>        v1::SegmentInfo: Growing -> Sealed -> Flushed -> Dropped
//   segment-id          the next segment ID (decimal); bumped by the fenced Txn that opens a
//                       segment, so no ID is handed out twice (S1)
//   channel/<vchannel>  the collection ID (decimal): a virtual channel datacoord has opened a
//                       segment on; each is watched by one live datanode
//   assignment/<item>   the Scheduler's placement records (coordinator/scheduler.h)
//   epoch               the activation barrier (S7)
//
// AssignSegmentID (active only, one at a time): the Growing segment of (collection, partition,
// channel) with room gets the rows (its num_rows grows in a fenced Txn that compares the
// segment's mod revision, so two grants never overlap); without one, a new segment is opened in
// a Txn that compares and bumps segment-id, seals the full one and registers the channel. A
// compare that failed means the copy was stale: the copy catches up (Commit waits for it) and the
// call decides again. An unknown outcome answers UNAVAILABLE: if it applied, some rows were
// reserved and never handed out — a segment fills a little early, nothing is given twice.
//
// Flush seals the collection's Growing segments. Each Sealed segment becomes a work item
// "flush/<id>" bound to its channel's item "channel/<vchannel>", so the datanode watching the
// channel flushes it; its FINISHED report, from the worker its placement record names and fenced
// by that record's and the segment's mod revisions, marks it Flushed — once.
//
// Segments of a collection the rootcoord catalog no longer has (a read-only copy of
// <meta>/rootcoord/collection/) are marked Dropped and their channels released.
#include "datacoord/datacoord_coordinator.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/mutex.h"
#include "common/status.h"
#include "coordinator/meta_copy.h"
#include "coordinator/scheduler.h"
#include "coordinator/service_util.h"
#include "datacoord.grpc.pb.h"
#include "rootcoord.pb.h"

namespace coordha::datacoord {
namespace {

using coordinator::MetaCopy;
using etcd::Compare;
using etcd::TxnOp;

constexpr char kSegmentDir[] = "segment/";
constexpr char kChannelDir[] = "channel/";
constexpr char kSegmentIdKey[] = "segment-id";
constexpr char kChannelItem[] = "channel/";
constexpr char kFlushItem[] = "flush/";
constexpr int kMaxDecideAttempts = 8;
constexpr size_t kMaxOpsPerTxn = 100;

std::string SegmentRel(int64_t id) { return absl::StrCat(kSegmentDir, id); }

class DataCoordinator;

class DataCoordService final : public v1::DataCoord::Service {
 public:
  explicit DataCoordService(DataCoordinator* owner) : owner_(owner) {}
  void Bind(const coordinator::Gate* gate) { gate_ = gate; }
  grpc::Status AssignSegmentID(grpc::ServerContext* context,
                               const v1::AssignSegmentIDRequest* request,
                               v1::AssignSegmentIDResponse* response) override;
  grpc::Status Flush(grpc::ServerContext* context, const v1::FlushRequest* request,
                     v1::FlushResponse* response) override;
  grpc::Status GetSegmentInfo(grpc::ServerContext* context,
                              const v1::GetSegmentInfoRequest* request,
                              v1::GetSegmentInfoResponse* response) override;
  grpc::Status GetChannels(grpc::ServerContext* context, const v1::GetChannelsRequest* request,
                           v1::GetChannelsResponse* response) override;

 private:
  DataCoordinator* const owner_;
  const coordinator::Gate* gate_ = nullptr;
};

class DataCoordinator final : public coordinator::Coordinator, public coordinator::SchedulerPolicy {
 public:
  explicit DataCoordinator(DataCoordinatorOptions options)
      : options_(std::move(options)),
        copy_(options_.client, options_.meta_root + "/datacoord/",
              coordinator::MetaCopyOptions{.name = "datacoord"}),
        catalog_(options_.client, options_.meta_root + "/rootcoord/collection/",
                 coordinator::MetaCopyOptions{.name = "datacoord (rootcoord catalog)"}),
        scheduler_(options_.client, &copy_, this,
                   coordinator::SchedulerOptions{.coordinator = "datacoord",
                                                 .worker_role = "datanode",
                                                 .meta_root = options_.meta_root,
                                                 .round_interval = options_.round_interval}),
        service_(this) {
    // L5: every replica keeps its copy current from the start.
    copy_.Start();
    catalog_.Start();
  }
  ~DataCoordinator() override {
    scheduler_.Deactivate();
    catalog_.Stop();
    copy_.Stop();
  }

  void Bind(const coordinator::Gate* gate) override {
    Coordinator::Bind(gate);
    service_.Bind(gate);
    scheduler_.set_grant_check([gate] { return gate->WithinServeGrant(); });
  }
  std::vector<grpc::Service*> Services() override { return {&service_}; }

  absl::Status Activate(const session::Leadership& leadership, Deadline deadline) override {
    // S7/L5: serve nothing older than every change of the earlier epochs.
    COORDHA_RETURN_IF_ERROR(copy_.CatchUpAsActive(leadership, deadline));
    scheduler_.set_server_id(gate_ != nullptr ? gate_->ServerId() : 0);
    slot_.Set(leadership);
    // L5: collect what the datanodes hold, reconcile, then place continuously.
    if (absl::Status placed = scheduler_.Activate(leadership, deadline); !placed.ok()) {
      slot_.Clear();
      return placed;
    }
    spdlog::info("datacoord: activated for epoch {} ({} segments, revision {})", leadership.epoch(),
                 copy_.List(kSegmentDir).size(), copy_.applied_revision());
    return absl::OkStatus();
  }
  void Deactivate() override {
    slot_.Clear();
    scheduler_.Deactivate();
  }
  absl::StatusOr<int64_t> StandbyLag(Deadline) override { return copy_.Lag(); }

  // ---- SchedulerPolicy ----
  std::vector<coordinator::DesiredItem> Desired() override {
    std::vector<coordinator::DesiredItem> out;
    std::set<std::string> channels;
    const size_t skip = copy_.prefix().size() + sizeof(kChannelDir) - 1;
    for (const etcd::KeyValue& kv : copy_.List(kChannelDir)) {
      const std::string channel = kv.key.substr(skip);
      coordinator::DesiredItem d;
      d.item.set_id(kChannelItem + channel);
      int64_t collection = 0;
      if (absl::SimpleAtoi(kv.value, &collection)) d.item.set_collection_id(collection);
      out.push_back(std::move(d));
      channels.insert(channel);
    }
    for (const etcd::KeyValue& kv : copy_.List(kSegmentDir)) {
      absl::StatusOr<v1::SegmentInfo> seg = coordinator::ParseStoredProto<v1::SegmentInfo>(kv);
      if (!seg.ok() || seg->state() != v1::Sealed || !channels.contains(seg->channel())) continue;
      coordinator::DesiredItem d;
      d.item.set_id(absl::StrCat(kFlushItem, seg->segment_id()));
      d.item.set_collection_id(seg->collection_id());
      d.item.set_payload(seg->SerializeAsString());
      d.affinity = kChannelItem + seg->channel();
      out.push_back(std::move(d));
    }
    return out;
  }

  void OnReports(const session::Leadership& leadership,
                 const std::vector<coordinator::ItemReport>& reports, Deadline deadline) override {
    for (const coordinator::ItemReport& report : reports) {
      if (report.state != v1::ITEM_FINISHED || !report.id.starts_with(kFlushItem)) continue;
      int64_t id = 0;
      if (!absl::SimpleAtoi(report.id.substr(sizeof(kFlushItem) - 1), &id)) continue;
      std::optional<etcd::KeyValue> kv = copy_.Get(SegmentRel(id));
      if (!kv) continue;
      absl::StatusOr<v1::SegmentInfo> seg = coordinator::ParseStoredProto<v1::SegmentInfo>(*kv);
      if (!seg.ok() || seg->state() != v1::Sealed) continue;
      seg->set_state(v1::Flushed);
      etcd::Txn txn;
      // Accepted once, and only from the datanode the placement names.
      txn.compares.push_back(Compare::ModRevision(kv->key, Compare::Op::kEqual, kv->mod_revision));
      txn.compares.push_back(Compare::ModRevision(copy_.Key("assignment/" + report.id),
                                                  Compare::Op::kEqual, report.placement_revision));
      txn.success.push_back(TxnOp::Put(kv->key, seg->SerializeAsString()));
      absl::StatusOr<etcd::TxnResult> done = copy_.Commit(leadership, std::move(txn), deadline);
      if (done.ok() && done->succeeded) {
        spdlog::info("datacoord: segment {} flushed by datanode-{}", id, report.worker_id);
      } else if (!done.ok()) {
        spdlog::warn("datacoord: marking segment {} flushed: {}", id, done.status().message());
        return;
      }
    }
  }

  void Housekeep(const session::Leadership& leadership, Deadline deadline) override {
    if (!catalog_.loaded()) return;
    std::set<int64_t> live_collections;
    for (const etcd::KeyValue& kv : catalog_.List("")) {
      absl::StatusOr<v1::CollectionInfo> c = coordinator::ParseStoredProto<v1::CollectionInfo>(kv);
      if (c.ok()) live_collections.insert(c->collection_id());
    }
    const int64_t seen = catalog_.applied_revision();
    MutexLock lock(&alloc_mu_);
    etcd::Txn txn;
    std::set<int64_t> dropped;
    for (const etcd::KeyValue& kv : copy_.List(kSegmentDir)) {
      if (txn.success.size() >= kMaxOpsPerTxn) break;
      absl::StatusOr<v1::SegmentInfo> seg = coordinator::ParseStoredProto<v1::SegmentInfo>(kv);
      // The collection existed when the segment was opened (AssignSegmentID checked); gone from
      // a catalog copy newer than that means it was dropped.
      if (!seg.ok() || seg->state() == v1::Dropped || kv.create_revision > seen ||
          live_collections.contains(seg->collection_id())) {
        continue;
      }
      seg->set_state(v1::Dropped);
      txn.compares.push_back(Compare::ModRevision(kv.key, Compare::Op::kEqual, kv.mod_revision));
      txn.success.push_back(TxnOp::Put(kv.key, seg->SerializeAsString()));
      dropped.insert(seg->collection_id());
    }
    for (const etcd::KeyValue& kv : copy_.List(kChannelDir)) {
      int64_t collection = 0;
      if (txn.success.size() >= kMaxOpsPerTxn || !absl::SimpleAtoi(kv.value, &collection) ||
          kv.create_revision > seen || live_collections.contains(collection)) {
        continue;
      }
      txn.compares.push_back(Compare::ModRevision(kv.key, Compare::Op::kEqual, kv.mod_revision));
      txn.success.push_back(TxnOp::Delete(kv.key));
      dropped.insert(collection);
    }
    if (txn.success.empty()) return;
    absl::StatusOr<etcd::TxnResult> done = copy_.Commit(leadership, std::move(txn), deadline);
    if (done.ok() && done->succeeded) {
      for (int64_t c : dropped) {
        spdlog::info("datacoord: collection {} was dropped: its segments are Dropped", c);
      }
    }
  }

  // ---- The API (active only; the service admitted the call) ----
  absl::Status Assign(const v1::AssignSegmentIDRequest& request,
                      v1::AssignSegmentIDResponse* response, Deadline deadline) {
    std::optional<session::Leadership> leadership = slot_.Get();
    if (!leadership) return session::FencedError("datacoord: not the active");
    for (int i = 0; i < request.requests_size(); ++i) {
      const v1::SegmentIDRequest& r = request.requests(i);
      const std::string field = absl::StrCat("requests[", i, "]");
      if (r.collection_id() <= 0) {
        return absl::InvalidArgumentError(field + ".collection_id: must be > 0");
      }
      if (r.channel().empty()) return absl::InvalidArgumentError(field + ".channel: empty");
      if (r.count() == 0) return absl::InvalidArgumentError(field + ".count: must be > 0");
      COORDHA_RETURN_IF_ERROR(CheckCollection(r.collection_id(), deadline));
      COORDHA_ASSIGN_OR_RETURN(v1::SegmentIDAssignment a, AssignOne(*leadership, r, deadline));
      *response->add_assignments() = std::move(a);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<int64_t>> Flush(int64_t collection, Deadline deadline) {
    std::optional<session::Leadership> leadership = slot_.Get();
    if (!leadership) return session::FencedError("datacoord: not the active");
    if (collection <= 0) return absl::InvalidArgumentError("collection_id: must be > 0");
    std::vector<int64_t> sealed;
    {
      MutexLock lock(&alloc_mu_);
      for (int attempt = 0; attempt < kMaxDecideAttempts; ++attempt) {
        sealed.clear();
        etcd::Txn txn;
        for (const etcd::KeyValue& kv : copy_.List(kSegmentDir)) {
          absl::StatusOr<v1::SegmentInfo> seg = coordinator::ParseStoredProto<v1::SegmentInfo>(kv);
          if (!seg.ok() || seg->collection_id() != collection || seg->state() != v1::Growing) {
            continue;
          }
          if (txn.success.size() >= kMaxOpsPerTxn) break;  // the rest on the next Flush
          seg->set_state(v1::Sealed);
          txn.compares.push_back(
              Compare::ModRevision(kv.key, Compare::Op::kEqual, kv.mod_revision));
          txn.success.push_back(TxnOp::Put(kv.key, seg->SerializeAsString()));
          sealed.push_back(seg->segment_id());
        }
        if (txn.success.empty()) break;
        COORDHA_ASSIGN_OR_RETURN(etcd::TxnResult done,
                                 copy_.Commit(*leadership, std::move(txn), deadline));
        if (done.succeeded) break;
        if (attempt + 1 == kMaxDecideAttempts) {
          return absl::UnavailableError("datacoord: segments kept changing during the flush");
        }
      }
    }
    scheduler_.Poke();
    return sealed;
  }

  std::vector<v1::SegmentInfo> Segments(int64_t collection, const std::set<int64_t>& only) const {
    std::vector<v1::SegmentInfo> out;
    for (const etcd::KeyValue& kv : copy_.List(kSegmentDir)) {
      absl::StatusOr<v1::SegmentInfo> seg = coordinator::ParseStoredProto<v1::SegmentInfo>(kv);
      if (!seg.ok()) continue;
      if (collection != 0 && seg->collection_id() != collection) continue;
      if (!only.empty() && !only.contains(seg->segment_id())) continue;
      out.push_back(*std::move(seg));
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.segment_id() < b.segment_id(); });
    return out;
  }

  std::vector<v1::ChannelAssignment> Channels() const {
    std::map<std::string, coordinator::ItemPlacement> placements = scheduler_.Placements();
    std::vector<v1::ChannelAssignment> out;
    const size_t skip = copy_.prefix().size() + sizeof(kChannelDir) - 1;
    for (const etcd::KeyValue& kv : copy_.List(kChannelDir)) {
      v1::ChannelAssignment a;
      a.set_channel(kv.key.substr(skip));
      int64_t collection = 0;
      if (absl::SimpleAtoi(kv.value, &collection)) a.set_collection_id(collection);
      if (auto p = placements.find(kChannelItem + a.channel()); p != placements.end()) {
        a.set_node_id(p->second.worker_id);
      }
      out.push_back(std::move(a));
    }
    return out;
  }

 private:
  // kNotFound unless rootcoord's catalog has the collection (the copy, else etcd itself: the copy
  // may not have seen a collection created a moment ago).
  absl::Status CheckCollection(int64_t collection, Deadline deadline) {
    auto has = [collection](const std::vector<etcd::KeyValue>& kvs) {
      for (const etcd::KeyValue& kv : kvs) {
        absl::StatusOr<v1::CollectionInfo> c =
            coordinator::ParseStoredProto<v1::CollectionInfo>(kv);
        if (c.ok() && c->collection_id() == collection) return true;
      }
      return false;
    };
    if (has(catalog_.List(""))) return absl::OkStatus();
    etcd::RangeOptions all;
    all.prefix = true;
    COORDHA_ASSIGN_OR_RETURN(etcd::RangeResult read,
                             options_.client->Range(catalog_.prefix(), all, deadline));
    if (has(read.kvs)) return absl::OkStatus();
    return absl::NotFoundError(absl::StrCat("collection ", collection, " not found"));
  }

  absl::StatusOr<v1::SegmentIDAssignment> AssignOne(const session::Leadership& leadership,
                                                    const v1::SegmentIDRequest& r,
                                                    Deadline deadline) {
    MutexLock lock(&alloc_mu_);
    for (int attempt = 0; attempt < kMaxDecideAttempts; ++attempt) {
      std::optional<etcd::KeyValue> open;  // the Growing segment of this key
      v1::SegmentInfo open_info;
      for (const etcd::KeyValue& kv : copy_.List(kSegmentDir)) {
        absl::StatusOr<v1::SegmentInfo> seg = coordinator::ParseStoredProto<v1::SegmentInfo>(kv);
        if (!seg.ok() || seg->state() != v1::Growing || seg->collection_id() != r.collection_id() ||
            seg->partition_id() != r.partition_id() || seg->channel() != r.channel()) {
          continue;
        }
        open = kv;
        open_info = *std::move(seg);
        break;
      }
      etcd::Txn txn;
      v1::SegmentIDAssignment a;
      a.set_collection_id(r.collection_id());
      a.set_partition_id(r.partition_id());
      a.set_channel(r.channel());
      a.set_count(r.count());
      if (open && open_info.num_rows() + r.count() <= open_info.max_rows()) {
        a.set_segment_id(open_info.segment_id());
        a.set_row_offset(open_info.num_rows());
        open_info.set_num_rows(open_info.num_rows() + r.count());
        txn.compares.push_back(
            Compare::ModRevision(open->key, Compare::Op::kEqual, open->mod_revision));
        txn.success.push_back(TxnOp::Put(open->key, open_info.SerializeAsString()));
      } else {
        if (open) {
          // Full: seal it in the same Txn that opens the next one.
          open_info.set_state(v1::Sealed);
          txn.compares.push_back(
              Compare::ModRevision(open->key, Compare::Op::kEqual, open->mod_revision));
          txn.success.push_back(TxnOp::Put(open->key, open_info.SerializeAsString()));
        }
        std::optional<etcd::KeyValue> counter = copy_.Get(kSegmentIdKey);
        int64_t next = 1;
        if (counter && !absl::SimpleAtoi(counter->value, &next)) {
          return absl::InternalError(counter->key + ": not a number");
        }
        const std::string counter_key = copy_.Key(kSegmentIdKey);
        txn.compares.push_back(Compare::ModRevision(counter_key, Compare::Op::kEqual,
                                                    counter ? counter->mod_revision : 0));
        txn.success.push_back(TxnOp::Put(counter_key, std::to_string(next + 1)));
        v1::SegmentInfo seg;
        seg.set_segment_id(next);
        seg.set_collection_id(r.collection_id());
        seg.set_partition_id(r.partition_id());
        seg.set_channel(r.channel());
        seg.set_state(v1::Growing);
        seg.set_num_rows(r.count());
        seg.set_max_rows(std::max<int64_t>(options_.max_segment_rows, r.count()));
        seg.set_created_epoch(leadership.epoch());
        txn.success.push_back(TxnOp::Put(copy_.Key(SegmentRel(next)), seg.SerializeAsString()));
        const std::string channel_rel = kChannelDir + r.channel();
        if (!copy_.Get(channel_rel)) {
          const std::string channel_key = copy_.Key(channel_rel);
          txn.compares.push_back(Compare::Version(channel_key, Compare::Op::kEqual, 0));
          txn.success.push_back(TxnOp::Put(channel_key, std::to_string(r.collection_id())));
        }
        a.set_segment_id(next);
        a.set_row_offset(0);
      }
      COORDHA_ASSIGN_OR_RETURN(etcd::TxnResult done,
                               copy_.Commit(leadership, std::move(txn), deadline));
      if (done.succeeded) {
        if (a.row_offset() == 0) scheduler_.Poke();
        return a;
      }
      // The copy was stale (Commit caught it up): decide again.
    }
    return absl::UnavailableError("datacoord: segments kept changing; retry");
  }

  const DataCoordinatorOptions options_;
  MetaCopy copy_;
  MetaCopy catalog_;  // read-only: rootcoord's collections
  coordinator::Scheduler scheduler_;
  coordinator::LeadershipSlot slot_;
  Mutex alloc_mu_;  // one allocation / flush decision at a time (held across its Txn)
  DataCoordService service_;
};

grpc::Status DataCoordService::AssignSegmentID(grpc::ServerContext* context,
                                               const v1::AssignSegmentIDRequest* request,
                                               v1::AssignSegmentIDResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  absl::Status done = owner_->Assign(*request, response, coordinator::CallDeadline(context));
  return coordinator::FinishReply(gate_, done, response->mutable_header());
}

grpc::Status DataCoordService::Flush(grpc::ServerContext* context, const v1::FlushRequest* request,
                                     v1::FlushResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  absl::StatusOr<std::vector<int64_t>> sealed =
      owner_->Flush(request->collection_id(), coordinator::CallDeadline(context));
  if (sealed.ok()) {
    for (int64_t id : *sealed) response->add_sealed_segment_ids(id);
  }
  return coordinator::FinishReply(gate_, sealed.status(), response->mutable_header());
}

grpc::Status DataCoordService::GetSegmentInfo(grpc::ServerContext*,
                                              const v1::GetSegmentInfoRequest* request,
                                              v1::GetSegmentInfoResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  std::set<int64_t> only(request->segment_ids().begin(), request->segment_ids().end());
  for (v1::SegmentInfo& seg : owner_->Segments(request->collection_id(), only)) {
    *response->add_segments() = std::move(seg);
  }
  return coordinator::FinishReply(gate_, absl::OkStatus(), response->mutable_header());
}

grpc::Status DataCoordService::GetChannels(grpc::ServerContext*,
                                           const v1::GetChannelsRequest* request,
                                           v1::GetChannelsResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  for (v1::ChannelAssignment& a : owner_->Channels()) *response->add_channels() = std::move(a);
  return coordinator::FinishReply(gate_, absl::OkStatus(), response->mutable_header());
}

}  // namespace

std::unique_ptr<coordinator::Coordinator> NewDataCoordinator(DataCoordinatorOptions options) {
  return std::make_unique<DataCoordinator>(std::move(options));
}

}  // namespace coordha::datacoord
