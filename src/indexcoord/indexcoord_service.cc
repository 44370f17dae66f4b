#include "indexcoord/indexcoord_service.h"

#include <optional>

namespace coordha::indexcoord {

using coordinator::CallDeadline;
using coordinator::FinishReply;
using coordinator::NotActiveStatus;

grpc::Status IndexCoordService::CreateIndex(grpc::ServerContext* context,
                                            const v1::CreateIndexRequest* request,
                                            v1::CreateIndexResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  std::optional<session::Leadership> leadership = slot_->Get();
  if (!leadership) return NotActiveStatus();
  v1::IndexInfo definition;
  definition.set_collection_id(request->collection_id());
  definition.set_field_name(request->field_name());
  definition.set_index_name(request->index_name());
  *definition.mutable_params() = request->params();
  absl::StatusOr<CreateIndexResult> created =
      store_->CreateIndex(*leadership, std::move(definition), CallDeadline(context));
  if (created.ok()) {
    response->set_index_id(created->index_id);
    response->set_existed(created->existed);
    if (!created->existed) poke_();
  }
  return FinishReply(gate_, created.status(), response->mutable_header());
}

grpc::Status IndexCoordService::DescribeIndex(grpc::ServerContext*,
                                              const v1::DescribeIndexRequest* request,
                                              v1::DescribeIndexResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  if (!slot_->Get()) return NotActiveStatus();
  absl::StatusOr<std::vector<v1::IndexInfo>> indexes =
      store_->DescribeIndex(request->collection_id(), request->index_name());
  if (indexes.ok()) {
    for (v1::IndexInfo& info : *indexes) *response->add_indexes() = std::move(info);
  }
  return FinishReply(gate_, indexes.status(), response->mutable_header());
}

grpc::Status IndexCoordService::DropIndex(grpc::ServerContext* context,
                                          const v1::DropIndexRequest* request,
                                          v1::DropIndexResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  std::optional<session::Leadership> leadership = slot_->Get();
  if (!leadership) return NotActiveStatus();
  absl::Status dropped = store_->DropIndex(*leadership, request->collection_id(),
                                           request->index_name(), CallDeadline(context));
  if (dropped.ok()) poke_();
  return FinishReply(gate_, dropped, response->mutable_header());
}

grpc::Status IndexCoordService::GetIndexState(grpc::ServerContext*,
                                              const v1::GetIndexStateRequest* request,
                                              v1::GetIndexStateResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  if (!slot_->Get()) return NotActiveStatus();
  absl::StatusOr<v1::GetIndexStateResponse> state =
      store_->GetIndexState(request->collection_id(), request->index_name());
  if (state.ok()) *response = *std::move(state);
  return FinishReply(gate_, state.status(), response->mutable_header());
}

}  // namespace coordha::indexcoord
