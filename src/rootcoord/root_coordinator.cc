#include "rootcoord/root_coordinator.h"

#include <algorithm>
#include <utility>

#include "common/logging.h"
#include "common/status.h"

namespace coordha::rootcoord {

RootCoordinator::RootCoordinator(RootCoordinatorOptions options)
    : options_(std::move(options)),
      tso_(options_.client, options_.kv_root + "/gid/timestamp", options_.tso),
      ids_(options_.client, options_.kv_root + "/gid/idTimestamp", options_.ids),
      catalog_(options_.client, CatalogOptions{.meta_root = options_.meta_root}),
      service_(&tso_, &ids_, &catalog_) {
  // L5: every replica keeps its copy current from the start, so activation reads nothing in full.
  catalog_.Start();
}

RootCoordinator::~RootCoordinator() {
  StopTicking();
  catalog_.Stop();
}

void RootCoordinator::Bind(const coordinator::Gate* gate) {
  Coordinator::Bind(gate);
  service_.Bind(gate);
}

absl::Status RootCoordinator::Activate(const session::Leadership& leadership, Deadline deadline) {
  // S7/L5: serve nothing older than every change of the earlier epochs.
  COORDHA_RETURN_IF_ERROR(catalog_.CatchUpAsActive(leadership, deadline));
  // S5: timestamps and IDs start above the bounds saved by every earlier active.
  COORDHA_RETURN_IF_ERROR(Annotate(tso_.Recover(leadership, deadline), "recovering the TSO"));
  COORDHA_RETURN_IF_ERROR(Annotate(ids_.Recover(leadership, deadline), "recovering the IDs"));
  service_.SetLeadership(leadership);
  StopTicking();  // none should run; be sure before starting one
  tick_thread_ = std::jthread([this](std::stop_token stop) { TickLoop(stop); });
  spdlog::info("rootcoord: activated for epoch {} (catalog at revision {})", leadership.epoch(),
               catalog_.applied_revision());
  return absl::OkStatus();
}

void RootCoordinator::Deactivate() {
  service_.ClearLeadership();
  StopTicking();
  tso_.Reset();
  ids_.Reset();
}

void RootCoordinator::StopTicking() {
  if (!tick_thread_.joinable()) return;
  {
    MutexLock lock(&tick_mu_);
    tick_thread_.request_stop();
    tick_cv_.SignalAll();
  }
  tick_thread_.join();
}

void RootCoordinator::TickLoop(std::stop_token stop) {
  const Duration interval = options_.tso.update_interval;
  // One tick may wait on etcd this long; the bound is saved a whole window ahead, so a slow tick
  // delays the next one and nothing else.
  const Duration tick_timeout = std::max<Duration>(interval, std::chrono::seconds(1));
  std::string last_error;
  while (true) {
    {
      MutexLock lock(&tick_mu_);
      tick_cv_.Await(
          &tick_mu_, [&] { return stop.stop_requested(); }, Deadline::In(interval));
      if (stop.stop_requested()) return;
    }
    absl::Status ticked = tso_.Tick(Deadline::In(tick_timeout));
    if (ticked.ok()) {
      if (!last_error.empty()) spdlog::info("rootcoord: TSO tick works again");
      last_error.clear();
    } else if (std::string error(ticked.message()); error != last_error) {
      // Once per distinct error, not every 50 ms.
      spdlog::warn("rootcoord: TSO tick failed: {}", error);
      last_error = std::move(error);
    }
  }
}

std::unique_ptr<coordinator::Coordinator> NewRootCoordinator(RootCoordinatorOptions options) {
  return std::make_unique<RootCoordinator>(std::move(options));
}

}  // namespace coordha::rootcoord
