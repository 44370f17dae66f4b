#include "indexcoord/indexcoord_coordinator.h"

#include <utility>

#include "common/logging.h"
#include "common/status.h"

namespace coordha::indexcoord {

IndexCoordinator::IndexCoordinator(IndexCoordinatorOptions options)
    : options_(std::move(options)),
      store_(options_.client, options_.meta_root),
      scheduler_(options_.client, store_.copy(), &store_,
                 coordinator::SchedulerOptions{.coordinator = "indexcoord",
                                               .worker_role = "indexnode",
                                               .meta_root = options_.meta_root,
                                               .round_interval = options_.round_interval}),
      service_(&store_, &slot_, [this] { scheduler_.Poke(); }) {
  // A segment flushed (or dropped): its tasks are placed at once, not at the next round. Poke()
  // only signals; it never blocks the copy's thread.
  store_.SetSegmentsChangedListener([this] { scheduler_.Poke(); });
  store_.Start();  // L5: standbys too
}

IndexCoordinator::~IndexCoordinator() {
  slot_.Clear();
  scheduler_.Deactivate();  // its round thread reads the copies
  store_.Stop();            // no listener calls after this
}

void IndexCoordinator::Bind(const coordinator::Gate* gate) {
  Coordinator::Bind(gate);
  service_.Bind(gate);
  scheduler_.set_grant_check([gate] { return gate->WithinServeGrant(); });
}

absl::Status IndexCoordinator::Activate(const session::Leadership& leadership, Deadline deadline) {
  // S7/L5: act on nothing older than every change of the earlier epochs.
  COORDHA_RETURN_IF_ERROR(store_.CatchUpAsActive(leadership, deadline));
  scheduler_.set_server_id(gate_ != nullptr ? gate_->ServerId() : 0);
  // L5: the real distribution first, then one round, before serving.
  COORDHA_RETURN_IF_ERROR(Annotate(scheduler_.Activate(leadership, deadline), "scheduling builds"));
  slot_.Set(leadership);
  spdlog::info("indexcoord: activated for epoch {} (copy at revision {})", leadership.epoch(),
               store_.copy()->applied_revision());
  return absl::OkStatus();
}

void IndexCoordinator::Deactivate() {
  slot_.Clear();
  scheduler_.Deactivate();
}

std::unique_ptr<coordinator::Coordinator> NewIndexCoordinator(IndexCoordinatorOptions options) {
  return std::make_unique<IndexCoordinator>(std::move(options));
}

}  // namespace coordha::indexcoord
