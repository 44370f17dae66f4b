#include "coordinator/component_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace coordha::coordinator {
namespace {

// Switchover: the target must answer as a standby whose copy is current.
absl::Status CheckHandoffTarget(const session::SessionInfo& target, Deadline deadline) {
  auto channel = grpc::CreateChannel(target.address, grpc::InsecureChannelCredentials());
  auto stub = v1::Component::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(
      WallDeadlineIn(std::min<Duration>(deadline.Remaining(), std::chrono::seconds(2))));
  v1::GetComponentStatesRequest request;
  v1::GetComponentStatesResponse response;
  grpc::Status status = stub->GetComponentStates(&context, request, &response);
  if (!status.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("server ", target.server_id, " at ", target.address, " does not answer (",
                     status.error_message(), "); pick another standby"));
  }
  if (response.state().state() != v1::StandBy) {
    return absl::FailedPreconditionError(absl::StrCat("server ", target.server_id, " is ",
                                                      v1::StateCode_Name(response.state().state()),
                                                      ", not a standby"));
  }
  if (!response.state().caught_up()) {
    return absl::FailedPreconditionError(
        absl::StrCat("server ", target.server_id, " is lagging (",
                     response.state().lag_revisions() < 0
                         ? std::string("its copy is still loading")
                         : absl::StrCat(response.state().lag_revisions(), " changes behind"),
                     "); retry once it has caught up, or pick another standby"));
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status ComponentService::GetComponentStates(grpc::ServerContext*,
                                                  const v1::GetComponentStatesRequest*,
                                                  v1::GetComponentStatesResponse* response) {
  const session::ReplicaStatus status = replica_->status();
  v1::ComponentInfo* info = response->mutable_state();
  info->set_server_id(status.server_id);
  info->set_role(role_);
  info->set_address(address_);
  const v1::StateCode state = gate_->State();
  info->set_state(state);
  info->set_lag_revisions(state == v1::StandBy ? status.lag_revisions : 0);
  info->set_caught_up(state == v1::StandBy && status.lag_revisions == 0);
  // S2/S4: only an active inside its grant names its epoch. State() checked the grant; check
  // again right before replying so a pause in between cannot make a stale Healthy.
  if (state == v1::Healthy) {
    if (!gate_->Serving()) {
      info->set_state(v1::Abnormal);
    } else {
      info->set_epoch(status.epoch);
      gate_->Stamp(response->mutable_header());
    }
  }
  return grpc::Status::OK;
}

grpc::Status ComponentService::Liveness(grpc::ServerContext* context,
                                        const v1::LivenessRequest* request,
                                        grpc::ServerWriter<v1::LivenessBeat>* writer) {
  // L2: a standby holds this open; its break is the standby's crash trigger, so it must end only
  // when this process does (or no longer serves the epoch asked about).
  const Duration interval = std::chrono::milliseconds(
      request->interval_ms() <= 0 ? 200 : std::clamp(request->interval_ms(), 20, 1000));
  while (!context->IsCancelled()) {
    const session::ReplicaStatus status = replica_->status();
    const bool ours =
        status.epoch == request->epoch() && (status.state == session::ReplicaState::kActive ||
                                             status.state == session::ReplicaState::kInitializing);
    if (request->epoch() != 0 && !ours) {
      return grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat("server ", status.server_id, " does not serve epoch ", request->epoch()));
    }
    v1::LivenessBeat beat;
    beat.set_server_id(status.server_id);
    beat.set_epoch(status.epoch);
    beat.set_state(gate_->State());
    if (!writer->Write(beat)) break;
    MutexLock lock(&mu_);
    shutdown_cv_.Await(
        &mu_,
        [this] {
          mu_.AssertHeld();
          return shut_down_;
        },
        Deadline::In(interval));
    if (shut_down_) break;
  }
  return grpc::Status::OK;
}

grpc::Status ComponentService::Resign(grpc::ServerContext*, const v1::ResignRequest* request,
                                      v1::ResignResponse* response) {
  const Duration timeout = std::chrono::milliseconds(
      request->timeout_ms() <= 0 ? 5000 : std::min<int64_t>(request->timeout_ms(), 60'000));
  absl::StatusOr<int64_t> epoch =
      replica_->HandOff(request->to_server_id(), CheckHandoffTarget, Deadline::In(timeout));
  if (!epoch.ok()) return ToGrpcStatus(epoch.status());
  response->set_server_id(replica_->status().server_id);
  response->set_epoch(*epoch);
  response->set_to_server_id(request->to_server_id());
  return grpc::Status::OK;
}

grpc::Status ComponentService::Probe(grpc::ServerContext*, const v1::ProbeRequest*,
                                     v1::ProbeResponse*) {
  // L6: the same path business calls take.
  gate_->PassServingPath();
  return grpc::Status::OK;
}

void ComponentService::Shutdown() {
  MutexLock lock(&mu_);
  shut_down_ = true;
  shutdown_cv_.SignalAll();
}

}  // namespace coordha::coordinator
