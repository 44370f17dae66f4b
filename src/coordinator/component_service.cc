#include "coordinator/component_service.h"

namespace coordha::coordinator {

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

}  // namespace coordha::coordinator
