// The Component service every coordha process answers, active or not: GetComponentStates with
// Milvus's state codes (DESIGN.md §5). An active inside its serve grant says Healthy and stamps
// its (serverID, epoch) (S4); a standby says StandBy.
#ifndef COORDHA_COORDINATOR_COMPONENT_SERVICE_H_
#define COORDHA_COORDINATOR_COMPONENT_SERVICE_H_

#include <string>

#include "coordha.grpc.pb.h"
#include "coordinator/gate.h"

namespace coordha::coordinator {

class ComponentService final : public v1::Component::Service {
 public:
  // `gate` and `replica` are borrowed and must outlive the service.
  ComponentService(std::string role, std::string address, const Gate* gate,
                   const session::Replica* replica)
      : role_(std::move(role)), address_(std::move(address)), gate_(gate), replica_(replica) {}

  grpc::Status GetComponentStates(grpc::ServerContext* context,
                                  const v1::GetComponentStatesRequest* request,
                                  v1::GetComponentStatesResponse* response) override;

 private:
  const std::string role_;
  const std::string address_;
  const Gate* const gate_;
  const session::Replica* const replica_;
};

}  // namespace coordha::coordinator

#endif  // COORDHA_COORDINATOR_COMPONENT_SERVICE_H_
