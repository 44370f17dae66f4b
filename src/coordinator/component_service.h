// The Component service every coordha process answers, active or not (DESIGN.md §5):
//   GetComponentStates  Milvus's state codes. An active inside its serve grant says Healthy and
//                       stamps its (serverID, epoch) (S4); a standby says StandBy, with its copy's
//                       lag (L5) and whether it is fit to take over.
//   Liveness            L2: the stream standbys hold open to the active; a beat every interval.
//   Resign              switchover: the active resigns naming a successor (Replica::HandOff),
//                       after checking the target answers as a current standby.
//   Probe               L6: the watchdog's probe of the serving path.
#ifndef COORDHA_COORDINATOR_COMPONENT_SERVICE_H_
#define COORDHA_COORDINATOR_COMPONENT_SERVICE_H_

#include <string>

#include "common/mutex.h"
#include "coordha.grpc.pb.h"
#include "coordinator/gate.h"

namespace coordha::coordinator {

class ComponentService final : public v1::Component::Service {
 public:
  // `gate` and `replica` are borrowed and must outlive the service.
  ComponentService(std::string role, std::string address, const Gate* gate,
                   session::Replica* replica)
      : role_(std::move(role)), address_(std::move(address)), gate_(gate), replica_(replica) {}

  grpc::Status GetComponentStates(grpc::ServerContext* context,
                                  const v1::GetComponentStatesRequest* request,
                                  v1::GetComponentStatesResponse* response) override;
  grpc::Status Liveness(grpc::ServerContext* context, const v1::LivenessRequest* request,
                        grpc::ServerWriter<v1::LivenessBeat>* writer) override;
  grpc::Status Resign(grpc::ServerContext* context, const v1::ResignRequest* request,
                      v1::ResignResponse* response) override;
  grpc::Status Probe(grpc::ServerContext* context, const v1::ProbeRequest* request,
                     v1::ProbeResponse* response) override;

  // Ends every Liveness stream (before the gRPC server shuts down). Safe to call twice.
  void Shutdown();

 private:
  const std::string role_;
  const std::string address_;
  const Gate* const gate_;
  session::Replica* const replica_;

  Mutex mu_;
  CondVar shutdown_cv_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace coordha::coordinator

#endif  // COORDHA_COORDINATOR_COMPONENT_SERVICE_H_
