// IndexCoordService: indexcoord's gRPC API (proto/indexcoord.proto) over the IndexStore.
//
// Every handler follows coordinator/service_util.h: gate->Admit(header) first (a standby answers
// NOT_ACTIVE, a recovering active INITIALIZING, ...), then the leadership from the slot
// (NOT_ACTIVE when none), writes fenced by it (S1), reads from the hot copy (L5), and
// FinishReply (S2 re-check, S4 stamp). After a write the Scheduler is poked so new or dropped
// tasks reach the indexnodes at once instead of at the next round.
//
// Threads: handlers run on gRPC's threads, concurrently.
#ifndef COORDHA_INDEXCOORD_INDEXCOORD_SERVICE_H_
#define COORDHA_INDEXCOORD_INDEXCOORD_SERVICE_H_

#include <functional>

#include "coordinator/gate.h"
#include "coordinator/service_util.h"
#include "indexcoord.grpc.pb.h"
#include "indexcoord/index_store.h"

namespace coordha::indexcoord {

class IndexCoordService final : public v1::IndexCoord::Service {
 public:
  // `store` and `slot` are borrowed and must outlive the service; `poke` runs after each write.
  IndexCoordService(IndexStore* store, const coordinator::LeadershipSlot* slot,
                    std::function<void()> poke)
      : store_(store), slot_(slot), poke_(std::move(poke)) {}

  // Called once before the server starts (Coordinator::Bind). Borrowed.
  void Bind(const coordinator::Gate* gate) { gate_ = gate; }

  grpc::Status CreateIndex(grpc::ServerContext* context, const v1::CreateIndexRequest* request,
                           v1::CreateIndexResponse* response) override;
  grpc::Status DescribeIndex(grpc::ServerContext* context, const v1::DescribeIndexRequest* request,
                             v1::DescribeIndexResponse* response) override;
  grpc::Status DropIndex(grpc::ServerContext* context, const v1::DropIndexRequest* request,
                         v1::DropIndexResponse* response) override;
  grpc::Status GetIndexState(grpc::ServerContext* context, const v1::GetIndexStateRequest* request,
                             v1::GetIndexStateResponse* response) override;

 private:
  IndexStore* const store_;
  const coordinator::LeadershipSlot* const slot_;
  const std::function<void()> poke_;
  const coordinator::Gate* gate_ = nullptr;
};

}  // namespace coordha::indexcoord

#endif  // COORDHA_INDEXCOORD_INDEXCOORD_SERVICE_H_
