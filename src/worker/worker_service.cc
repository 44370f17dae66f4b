#include "worker/worker_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace coordha::worker {

grpc::Status ToGrpcRefusal(const absl::Status& status) {
  const v1::ErrorDetail detail = RefusalDetail(status);
  if (detail.code() == v1::ERROR_UNSPECIFIED) return ToGrpcStatus(status);
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      detail.SerializeAsString());
}

grpc::Status WorkerService::Sync(grpc::ServerContext*, const v1::SyncRequest* request,
                                 v1::SyncResponse* response) {
  absl::StatusOr<v1::SyncResponse> result = worker_->Sync(*request);
  if (!result.ok()) return ToGrpcRefusal(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status WorkerService::GetDistribution(grpc::ServerContext*,
                                            const v1::GetDistributionRequest* request,
                                            v1::GetDistributionResponse* response) {
  *response = worker_->Distribution(request->coordinator());
  return grpc::Status::OK;
}

grpc::Status WorkerComponentService::GetComponentStates(grpc::ServerContext*,
                                                        const v1::GetComponentStatesRequest*,
                                                        v1::GetComponentStatesResponse* response) {
  v1::ComponentInfo* info = response->mutable_state();
  info->set_server_id(registration_->server_id());
  info->set_role(worker_->role());
  info->set_address(address_);
  info->set_lag_revisions(0);
  if (stopping_.load()) {
    info->set_state(v1::Stopping);
  } else {
    info->set_state(registration_->registered() ? v1::Healthy : v1::Initializing);
  }
  return grpc::Status::OK;
}

grpc::Status WorkerComponentService::Liveness(grpc::ServerContext*, const v1::LivenessRequest*,
                                              grpc::ServerWriter<v1::LivenessBeat>*) {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      absl::StrCat(worker_->role(), " is a worker: workers have no active role"));
}

grpc::Status WorkerComponentService::Resign(grpc::ServerContext*, const v1::ResignRequest*,
                                            v1::ResignResponse*) {
  return grpc::Status(
      grpc::StatusCode::FAILED_PRECONDITION,
      absl::StrCat(worker_->role(), " is a worker: workers have no active role to resign"));
}

grpc::Status WorkerComponentService::Probe(grpc::ServerContext*, const v1::ProbeRequest*,
                                           v1::ProbeResponse*) {
  return grpc::Status::OK;
}

}  // namespace coordha::worker
