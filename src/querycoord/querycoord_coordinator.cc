#include "querycoord/querycoord_coordinator.h"

#include <utility>

#include "common/logging.h"
#include "common/status.h"

namespace coordha::querycoord {
namespace {

std::string CatalogPrefix(const std::string& meta_root) {
  return meta_root + "/rootcoord/collection/";
}

}  // namespace

QueryCoordinator::QueryCoordinator(QueryCoordinatorOptions options)
    : options_(std::move(options)),
      meta_(options_.client, options_.meta_root + "/querycoord/", {.name = "querycoord"}),
      catalog_(options_.client, CatalogPrefix(options_.meta_root),
               {.name = "querycoord (rootcoord catalog)"}),
      segments_(options_.client, options_.meta_root + "/datacoord/segment/",
                {.name = "querycoord (datacoord segments)"}),
      target_(&meta_, &segments_),
      scheduler_(options_.client, &meta_, &target_,
                 coordinator::SchedulerOptions{.coordinator = "querycoord",
                                               .worker_role = "querynode",
                                               .meta_root = options_.meta_root,
                                               .round_interval = options_.round_interval}),
      service_(QueryCoordServiceDeps{.client = options_.client,
                                     .catalog_prefix = CatalogPrefix(options_.meta_root),
                                     .meta = &meta_,
                                     .catalog = &catalog_,
                                     .target = &target_,
                                     .scheduler = &scheduler_,
                                     .slot = &slot_}) {
  // A segment flushed (or dropped) changes the target: place it soon rather than next round.
  segments_.SetChangeListener([this] { scheduler_.Poke(); });
  // L5: every replica keeps its copies current from the start.
  meta_.Start();
  catalog_.Start();
  segments_.Start();
}

QueryCoordinator::~QueryCoordinator() {
  Deactivate();
  segments_.Stop();
  catalog_.Stop();
  meta_.Stop();
}

void QueryCoordinator::Bind(const coordinator::Gate* gate) {
  Coordinator::Bind(gate);
  service_.Bind(gate);
  scheduler_.set_grant_check([gate] { return gate->WithinServeGrant(); });
}

absl::Status QueryCoordinator::Activate(const session::Leadership& leadership, Deadline deadline) {
  // S7/L5: decide nothing on a copy older than every change of the earlier epochs.
  COORDHA_RETURN_IF_ERROR(meta_.CatchUpAsActive(leadership, deadline));
  // The target needs both read-only copies as new as etcd: a segment the copy has not seen yet
  // would look released and be dropped from the querynodes for a round.
  COORDHA_RETURN_IF_ERROR(catalog_.CatchUpWithEtcd(deadline));
  COORDHA_RETURN_IF_ERROR(segments_.CatchUpWithEtcd(deadline));
  scheduler_.set_server_id(gate_ != nullptr ? gate_->ServerId() : 0);
  // L5: the real distribution from the querynodes first, then one reconciling round.
  COORDHA_RETURN_IF_ERROR(
      Annotate(scheduler_.Activate(leadership, deadline), "activating the querynode scheduler"));
  slot_.Set(leadership);
  spdlog::info("querycoord: activated for epoch {} ({} loaded collections, copy at revision {})",
               leadership.epoch(), LoadedCollections(meta_).size(), meta_.applied_revision());
  return absl::OkStatus();
}

void QueryCoordinator::Deactivate() {
  slot_.Clear();
  scheduler_.Deactivate();
}

absl::StatusOr<int64_t> QueryCoordinator::StandbyLag(Deadline) {
  int64_t lag = 0;
  for (const coordinator::MetaCopy* copy : {&meta_, &catalog_, &segments_}) {
    COORDHA_ASSIGN_OR_RETURN(int64_t l, copy->Lag());
    lag = std::max(lag, l);
  }
  return lag;
}

std::unique_ptr<coordinator::Coordinator> NewQueryCoordinator(QueryCoordinatorOptions options) {
  return std::make_unique<QueryCoordinator>(std::move(options));
}

}  // namespace coordha::querycoord
