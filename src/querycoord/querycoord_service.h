// QueryCoordService: querycoord's gRPC API (proto/querycoord.proto) over its copy, the Scheduler
// and the read-only copy of rootcoord's catalog.
//
// Every handler: gate->Admit(header) (a standby answers NOT_ACTIVE, a recovering active
// INITIALIZING, S4/S7), then the leadership from the slot (NOT_ACTIVE when none), the work, and
// FinishReply (S2 re-check, S4 stamp).
//
//   LoadCollection     NOT_FOUND unless the rootcoord catalog has the collection (the copy, then
//                      a linearizable read of the catalog when the copy misses, so a collection
//                      created just now is found). Loading a loaded collection is OK. Otherwise
//                      one fenced Txn (S1) creates collection/<id> (compare: absent); then the
//                      Scheduler is poked and places its channels and segments.
//   ReleaseCollection  idempotent: deletes collection/<id> fenced; the Scheduler drops its items.
//   GetLoadState       NotExist (not in the catalog, not loaded), NotLoad, Loading or Loaded, with
//                      progress = the percent of the collection's desired items READY on the
//                      live querynode they are placed on (Scheduler::Placements/Workers).
//   GetShardLeaders    per channel of a loaded collection: the live querynode holding it READY
//                      and its address (node 0 when none does yet). NOT_FOUND when not loaded.
//   GetDistributionSummary  the loaded collections and every desired item's placement.
//
// Threads: handlers run on gRPC's threads, concurrently; everything they use is thread-safe.
#ifndef COORDHA_QUERYCOORD_QUERYCOORD_SERVICE_H_
#define COORDHA_QUERYCOORD_QUERYCOORD_SERVICE_H_

#include <string>

#include "coordinator/gate.h"
#include "coordinator/meta_copy.h"
#include "coordinator/scheduler.h"
#include "coordinator/service_util.h"
#include "etcd/client.h"
#include "querycoord.grpc.pb.h"
#include "querycoord/query_target.h"

namespace coordha::querycoord {

struct QueryCoordServiceDeps {
  etcd::Client* client = nullptr;                     // the catalog's fallback read
  std::string catalog_prefix;                         // "<meta>/rootcoord/collection/"
  coordinator::MetaCopy* meta = nullptr;              // querycoord's copy (writes go here)
  const coordinator::MetaCopy* catalog = nullptr;     // copy of catalog_prefix
  QueryTargetPolicy* target = nullptr;                //
  coordinator::Scheduler* scheduler = nullptr;        //
  const coordinator::LeadershipSlot* slot = nullptr;  // the active's leadership
};

class QueryCoordService final : public v1::QueryCoord::Service {
 public:
  // Everything in `deps` is borrowed and must outlive the service. REQUIRES: all set.
  explicit QueryCoordService(QueryCoordServiceDeps deps) : deps_(std::move(deps)) {}
  // Called once before the server starts (Coordinator::Bind). Borrowed.
  void Bind(const coordinator::Gate* gate) { gate_ = gate; }

  grpc::Status LoadCollection(grpc::ServerContext* context,
                              const v1::LoadCollectionRequest* request,
                              v1::LoadCollectionResponse* response) override;
  grpc::Status ReleaseCollection(grpc::ServerContext* context,
                                 const v1::ReleaseCollectionRequest* request,
                                 v1::ReleaseCollectionResponse* response) override;
  grpc::Status GetLoadState(grpc::ServerContext* context, const v1::GetLoadStateRequest* request,
                            v1::GetLoadStateResponse* response) override;
  grpc::Status GetShardLeaders(grpc::ServerContext* context,
                               const v1::GetShardLeadersRequest* request,
                               v1::GetShardLeadersResponse* response) override;
  grpc::Status GetDistributionSummary(grpc::ServerContext* context,
                                      const v1::GetDistributionSummaryRequest* request,
                                      v1::GetDistributionSummaryResponse* response) override;

 private:
  // The catalog's entry for `collection_id`: the copy, else a linearizable read. kNotFound when
  // neither has it.
  absl::StatusOr<v1::CollectionInfo> LookUpCollection(int64_t collection_id, Deadline deadline);
  std::optional<v1::LoadedCollection> Loaded(int64_t collection_id, int64_t* mod_revision) const;

  const QueryCoordServiceDeps deps_;
  const coordinator::Gate* gate_ = nullptr;
};

}  // namespace coordha::querycoord

#endif  // COORDHA_QUERYCOORD_QUERYCOORD_SERVICE_H_
