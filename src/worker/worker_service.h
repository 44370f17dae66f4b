// The gRPC services a worker process answers (proto/worker.proto, proto/coordha.proto):
//   coordha.v1.Worker     Sync and GetDistribution, straight onto the Worker (worker.h). A
//                         refused Sync is FAILED_PRECONDITION (FENCED, SERVER_ID_MISMATCH) or
//                         UNAVAILABLE (INITIALIZING) with a coordha.v1.ErrorDetail in
//                         error_details(), as every coordha refusal (coordinator/gate.h).
//   coordha.v1.Component  GetComponentStates: Healthy once the worker's session is in etcd,
//                         Initializing before, Stopping once a stop began (server_id, role,
//                         address filled in); Probe: OK; Liveness and Resign: FAILED_PRECONDITION,
//                         workers have no active role.
#ifndef COORDHA_WORKER_WORKER_SERVICE_H_
#define COORDHA_WORKER_WORKER_SERVICE_H_

#include <atomic>
#include <string>

#include "coordha.grpc.pb.h"
#include "worker.grpc.pb.h"
#include "worker/registration.h"
#include "worker/worker.h"

namespace coordha::worker {

// absl status (from Worker::Sync) -> gRPC status carrying the refusal's ErrorDetail.
grpc::Status ToGrpcRefusal(const absl::Status& status);

class WorkerService final : public v1::Worker::Service {
 public:
  // `worker` is borrowed and must outlive the service.
  explicit WorkerService(Worker* worker) : worker_(worker) {}

  grpc::Status Sync(grpc::ServerContext* context, const v1::SyncRequest* request,
                    v1::SyncResponse* response) override;
  grpc::Status GetDistribution(grpc::ServerContext* context,
                               const v1::GetDistributionRequest* request,
                               v1::GetDistributionResponse* response) override;

 private:
  Worker* const worker_;
};

class WorkerComponentService final : public v1::Component::Service {
 public:
  // `worker` and `registration` are borrowed and must outlive the service.
  WorkerComponentService(std::string address, const Worker* worker,
                         const Registration* registration)
      : address_(std::move(address)), worker_(worker), registration_(registration) {}

  // From now on GetComponentStates answers Stopping (graceful stop began).
  void SetStopping() { stopping_.store(true); }

  grpc::Status GetComponentStates(grpc::ServerContext* context,
                                  const v1::GetComponentStatesRequest* request,
                                  v1::GetComponentStatesResponse* response) override;
  grpc::Status Liveness(grpc::ServerContext* context, const v1::LivenessRequest* request,
                        grpc::ServerWriter<v1::LivenessBeat>* writer) override;
  grpc::Status Resign(grpc::ServerContext* context, const v1::ResignRequest* request,
                      v1::ResignResponse* response) override;
  grpc::Status Probe(grpc::ServerContext* context, const v1::ProbeRequest* request,
                     v1::ProbeResponse* response) override;

 private:
  const std::string address_;
  const Worker* const worker_;
  const Registration* const registration_;
  std::atomic<bool> stopping_{false};
};

}  // namespace coordha::worker

#endif  // COORDHA_WORKER_WORKER_SERVICE_H_
