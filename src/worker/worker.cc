#include "worker/worker.h"

#include <set>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace coordha::worker {
namespace {

// Where a refusal's ErrorDetail travels inside an absl::Status (worker_service maps it to
// grpc::Status::error_details()).
constexpr char kErrorDetailUrl[] = "type.googleapis.com/coordha.v1.ErrorDetail";

absl::Status Refused(absl::StatusCode code, v1::ErrorCode error, const std::string& message,
                     int64_t epoch) {
  v1::ErrorDetail detail;
  detail.set_code(error);
  detail.set_epoch(epoch);
  absl::Status status(code, absl::StrCat(v1::ErrorCode_Name(error), ": ", message));
  status.SetPayload(kErrorDetailUrl, absl::Cord(detail.SerializeAsString()));
  return status;
}

}  // namespace

bool IsSyncingCoordinator(const std::string& role) {
  return role == "datacoord" || role == "querycoord" || role == "indexcoord";
}

v1::ErrorDetail RefusalDetail(const absl::Status& status) {
  v1::ErrorDetail detail;
  auto payload = status.GetPayload(kErrorDetailUrl);
  if (payload.has_value() && !detail.ParseFromString(std::string(*payload))) detail.Clear();
  return detail;
}

Worker::Worker(std::string role, std::unique_ptr<Executor> executor)
    : role_(std::move(role)), executor_(std::move(executor)) {}

Worker::~Worker() { executor_.reset(); }

void Worker::SetServerId(int64_t server_id) {
  MutexLock lock(&mu_);
  server_id_ = server_id;
}

int64_t Worker::server_id() const {
  MutexLock lock(&mu_);
  return server_id_;
}

void Worker::SetMayHoldWork(bool may, const std::string& why) {
  MutexLock sync_lock(&sync_mu_);  // no Sync half-applied across the change
  std::vector<std::pair<std::string, std::string>> released;  // (coordinator, id)
  {
    MutexLock lock(&mu_);
    may_hold_work_ = may;
    if (may) return;
    for (auto& [coordinator, state] : coordinators_) {
      for (const auto& [id, item] : state.items) released.emplace_back(coordinator, id);
      state.items.clear();
    }
  }
  if (released.empty()) return;
  // S2 for workers: stop before a coordinator can see this worker gone and place it elsewhere.
  spdlog::warn("{}: releasing all {} items: {}", role_, released.size(), why);
  for (const auto& [coordinator, id] : released) executor_->Release(coordinator, id);
}

bool Worker::may_hold_work() const {
  MutexLock lock(&mu_);
  return may_hold_work_;
}

void Worker::MarkEpochsLearned() {
  {
    MutexLock lock(&mu_);
    epochs_learned_ = true;
  }
  changed_.SignalAll();
}

bool Worker::epochs_learned() const {
  MutexLock lock(&mu_);
  return epochs_learned_;
}

bool Worker::AwaitEpochsLearned(Deadline deadline) const {
  MutexLock lock(&mu_);
  return changed_.Await(
      &mu_,
      [&] {
        mu_.AssertHeld();
        return epochs_learned_;
      },
      deadline);
}

void Worker::RaiseEpoch(const std::string& coordinator, int64_t epoch) {
  MutexLock lock(&mu_);
  CoordinatorState& state = coordinators_[coordinator];
  if (epoch > state.highest_epoch) {
    spdlog::info("{}: {} epoch is now {} (was {})", role_, coordinator, epoch, state.highest_epoch);
    state.highest_epoch = epoch;
  }
}

int64_t Worker::HighestEpoch(const std::string& coordinator) const {
  MutexLock lock(&mu_);
  auto it = coordinators_.find(coordinator);
  return it == coordinators_.end() ? 0 : it->second.highest_epoch;
}

absl::StatusOr<v1::SyncResponse> Worker::Sync(const v1::SyncRequest& request) {
  const std::string& coordinator = request.coordinator();
  if (!IsSyncingCoordinator(coordinator)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "coordinator: '", coordinator, "' is not one of datacoord, querycoord, indexcoord"));
  }
  if (request.epoch() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("epoch: ", request.epoch(), " must be > 0"));
  }
  std::set<std::string> listed;
  for (const v1::WorkItem& item : request.items()) {
    if (item.id().empty()) return absl::InvalidArgumentError("items: an item has an empty id");
    if (!listed.insert(item.id()).second) {
      return absl::InvalidArgumentError(absl::StrCat("items: '", item.id(), "' is listed twice"));
    }
  }

  MutexLock sync_lock(&sync_mu_);
  std::vector<std::pair<v1::WorkItem, uint64_t>> started;
  std::vector<std::string> released;
  v1::SyncResponse response;
  {
    MutexLock lock(&mu_);
    if (server_id_ == 0 || !epochs_learned_ || !may_hold_work_) {
      return Refused(absl::StatusCode::kUnavailable, v1::INITIALIZING,
                     "this worker is not registered in etcd (starting, stopping, or its lease "
                     "is not being renewed); retry shortly",
                     0);
    }
    if (request.worker_id() != server_id_) {
      return Refused(absl::StatusCode::kFailedPrecondition, v1::SERVER_ID_MISMATCH,
                     absl::StrCat("this is server ", server_id_, ", not ", request.worker_id()), 0);
    }
    CoordinatorState& state = coordinators_[coordinator];
    // S4: a lower epoch is a deposed active: refuse, change nothing.
    if (request.epoch() < state.highest_epoch) {
      ++state.refused_syncs;
      spdlog::warn("{}: refused a Sync from {} server {} at epoch {}: epoch {} is newer (S4)",
                   role_, coordinator, request.server_id(), request.epoch(), state.highest_epoch);
      return Refused(absl::StatusCode::kFailedPrecondition, v1::FENCED,
                     absl::StrCat(coordinator, " epoch ", request.epoch(),
                                  " is deposed; this worker has seen epoch ", state.highest_epoch),
                     state.highest_epoch);
    }
    if (request.epoch() > state.highest_epoch) {
      spdlog::info("{}: {} epoch is now {} (was {}), server {}", role_, coordinator,
                   request.epoch(), state.highest_epoch, request.server_id());
      state.highest_epoch = request.epoch();
    }
    for (auto it = state.items.begin(); it != state.items.end();) {
      if (listed.count(it->first) != 0) {
        ++it;
        continue;
      }
      released.push_back(it->first);
      it = state.items.erase(it);
    }
    response.set_server_id(server_id_);
    for (const v1::WorkItem& item : request.items()) {
      auto [it, added] = state.items.try_emplace(item.id());
      if (added) {
        it->second.item = item;
        it->second.epoch = request.epoch();
        it->second.assignment = next_assignment_++;
        started.emplace_back(item, it->second.assignment);
      }
      *response.add_items() = StatusOf(item.id(), it->second);
    }
  }
  if (!started.empty() || !released.empty()) {
    spdlog::info("{}: Sync from {} epoch {}: {} added, {} dropped", role_, coordinator,
                 request.epoch(), started.size(), released.size());
  }
  for (const std::string& id : released) executor_->Release(coordinator, id);
  for (const auto& started_item : started) {
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    const v1::WorkItem& item = started_item.first;
    const uint64_t assignment = started_item.second;
    const std::string id = item.id();
    executor_->Start(coordinator, item,
                     [this, coordinator, id, assignment](v1::ItemState state, std::string detail) {
                       Report(coordinator, id, assignment, state, std::move(detail));
                     });
  }
  return response;
}

void Worker::Report(const std::string& coordinator, const std::string& id, uint64_t assignment,
                    v1::ItemState state, std::string detail) {
  MutexLock lock(&mu_);
  auto coordinator_it = coordinators_.find(coordinator);
  if (coordinator_it == coordinators_.end()) return;
  auto it = coordinator_it->second.items.find(id);
  if (it == coordinator_it->second.items.end() || it->second.assignment != assignment) return;
  it->second.state = state;
  it->second.detail = std::move(detail);
}

v1::WorkItemStatus Worker::StatusOf(const std::string& id, const Item& item) {
  v1::WorkItemStatus status;
  status.set_id(id);
  status.set_state(item.state);
  status.set_epoch(item.epoch);
  status.set_detail(item.detail);
  return status;
}

v1::GetDistributionResponse Worker::Distribution(const std::string& coordinator) const {
  MutexLock lock(&mu_);
  v1::GetDistributionResponse response;
  response.set_server_id(server_id_);
  response.set_role(role_);
  for (const auto& [name, state] : coordinators_) {
    if (!coordinator.empty() && name != coordinator) continue;
    v1::CoordinatorItems* out = response.add_coordinators();
    out->set_coordinator(name);
    out->set_highest_epoch(state.highest_epoch);
    for (const auto& [id, item] : state.items) *out->add_items() = StatusOf(id, item);
  }
  if (!coordinator.empty() && response.coordinators_size() == 0) {
    response.add_coordinators()->set_coordinator(coordinator);
  }
  return response;
}

std::map<std::string, CoordinatorSnapshot> Worker::Snapshot() const {
  MutexLock lock(&mu_);
  std::map<std::string, CoordinatorSnapshot> out;
  for (const auto& [name, state] : coordinators_) {
    CoordinatorSnapshot& snapshot = out[name];
    snapshot.highest_epoch = state.highest_epoch;
    snapshot.refused_syncs = state.refused_syncs;
    for (const auto& [id, item] : state.items) ++snapshot.items_by_state[item.state];
  }
  return out;
}

}  // namespace coordha::worker
