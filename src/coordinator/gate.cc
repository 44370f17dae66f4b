#include "coordinator/gate.h"

#include "absl/strings/str_cat.h"

namespace coordha::coordinator {

using session::ReplicaState;

grpc::Status RefusedStatus(grpc::StatusCode code, v1::ErrorCode error, const std::string& message,
                           const v1::ErrorDetail& detail) {
  v1::ErrorDetail with_code = detail;
  with_code.set_code(error);
  return grpc::Status(code, absl::StrCat(v1::ErrorCode_Name(error), ": ", message),
                      with_code.SerializeAsString());
}

v1::ErrorDetail DetailOf(const grpc::Status& status) {
  v1::ErrorDetail detail;
  if (!status.error_details().empty() && !detail.ParseFromString(status.error_details())) {
    detail.Clear();
  }
  return detail;
}

grpc::Status Gate::Refusal(const session::ReplicaStatus& status) const {
  v1::ErrorDetail detail;
  detail.set_active_address(status.active_address);
  detail.set_active_server_id(status.active_server_id);
  detail.set_epoch(status.active_epoch);
  switch (status.state) {
    case ReplicaState::kStopping:
    case ReplicaState::kStopped:
      return RefusedStatus(grpc::StatusCode::UNAVAILABLE, v1::STOPPING,
                           "this server is stopping; retry on the active", detail);
    case ReplicaState::kInitializing:
      return RefusedStatus(grpc::StatusCode::UNAVAILABLE, v1::INITIALIZING,
                           absl::StrCat("server ", status.server_id, " is becoming active (epoch ",
                                        status.epoch, "); retry shortly"),
                           detail);
    case ReplicaState::kActive:
      // Active by the loop's view but outside the serve grant (S2): not sure we still are.
      return RefusedStatus(grpc::StatusCode::UNAVAILABLE, v1::NOT_ACTIVE,
                           "this server's serve grant has lapsed (etcd unreachable?); retry",
                           detail);
    case ReplicaState::kStarting:
    case ReplicaState::kStandby:
      break;
  }
  return RefusedStatus(
      grpc::StatusCode::UNAVAILABLE, v1::NOT_ACTIVE,
      status.active_address.empty()
          ? std::string("this server is a standby and no active is known yet; retry")
          : absl::StrCat("this server is a standby; the active is server ", status.active_server_id,
                         " at ", status.active_address),
      detail);
}

void Gate::PassServingPath() const {
  if (!maybe_hung_.load(std::memory_order_acquire)) return;
  MutexLock lock(&mu_);
  released_.Await(&mu_, [this] {
    mu_.AssertHeld();
    return !hung_ || shut_down_;
  });
}

void Gate::SetServingPathHungForTest(bool hung) {
  if (hung) maybe_hung_.store(true, std::memory_order_release);
  MutexLock lock(&mu_);
  hung_ = hung;
  released_.SignalAll();
}

void Gate::ReleaseAll() {
  MutexLock lock(&mu_);
  shut_down_ = true;
  released_.SignalAll();
}

grpc::Status Gate::Admit(const v1::RequestHeader& header) const {
  PassServingPath();
  const session::ReplicaStatus status = replica_->status();
  if (header.target_server_id() != 0 && header.target_server_id() != status.server_id) {
    v1::ErrorDetail detail;
    detail.set_active_address(status.active_address);
    detail.set_active_server_id(status.active_server_id);
    return RefusedStatus(grpc::StatusCode::FAILED_PRECONDITION, v1::SERVER_ID_MISMATCH,
                         absl::StrCat("the call is for server ", header.target_server_id(),
                                      ", this is server ", status.server_id),
                         detail);
  }
  if (!replica_->Serving()) return Refusal(status);
  if (header.known_epoch() > status.epoch) {
    // S4: the caller has seen a newer active than us: we are deposed, whatever we believe.
    v1::ErrorDetail detail;
    detail.set_epoch(status.epoch);
    return RefusedStatus(grpc::StatusCode::UNAVAILABLE, v1::FENCED,
                         absl::StrCat("epoch ", status.epoch, " is older than the epoch ",
                                      header.known_epoch(), " the caller saw"),
                         detail);
  }
  return grpc::Status::OK;
}

grpc::Status Gate::Confirm() const {
  if (replica_->Serving()) return grpc::Status::OK;
  return Refusal(replica_->status());
}

void Gate::Stamp(v1::ReplyHeader* header) const {
  const session::ReplicaStatus status = replica_->status();
  header->set_server_id(status.server_id);
  header->set_epoch(status.epoch);
}

v1::StateCode Gate::State() const {
  const session::ReplicaStatus status = replica_->status();
  switch (status.state) {
    case ReplicaState::kStarting:
      return v1::Initializing;
    case ReplicaState::kStandby:
      return v1::StandBy;
    case ReplicaState::kInitializing:
      return v1::Initializing;
    case ReplicaState::kActive:
      // S2: outside the grant we do not claim to be the healthy active.
      return replica_->Serving() ? v1::Healthy : v1::Abnormal;
    case ReplicaState::kStopping:
    case ReplicaState::kStopped:
      return v1::Stopping;
  }
  return v1::Abnormal;
}

}  // namespace coordha::coordinator
