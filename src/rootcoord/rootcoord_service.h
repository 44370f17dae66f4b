// RootCoordService: rootcoord's gRPC API (proto/rootcoord.proto) over the TSO, the ID allocator
// and the Catalog.
//
// Every handler follows the Gate's pattern (coordinator/gate.h):
//   1. gate->Admit(request.header()): a standby answers NOT_ACTIVE, a recovering active
//      INITIALIZING, a caller that saw a newer epoch FENCED (S4), ...
//   2. the work: timestamps and IDs from the TSO and the ID allocator; DDL through the Catalog,
//      fenced by the current Leadership (S1) and stamped with a TSO timestamp; reads from the
//      Catalog's copy (L5);
//   3. gate->Confirm() just before replying (S2: a pause during the work must not let a stale
//      timestamp, ID or read out);
//   4. gate->Stamp(reply.header) (S4).
//
// Errors (DESIGN.md §6): kInvalidArgument, kNotFound and kAlreadyExists become the gRPC codes of
// the same name with an ErrorDetail of that code; a fenced write (deposed active) UNAVAILABLE +
// FENCED; a call while no leadership is held UNAVAILABLE + NOT_ACTIVE; anything else keeps its code
// (common/grpc_status.h) — kUnknown means the outcome of a DDL is unknown: retry with the same
// request_id.
//
// Threads: handlers run on gRPC's threads, concurrently. SetLeadership()/ClearLeadership() are
// called by the RootCoordinator on the replica's thread.
#ifndef COORDHA_ROOTCOORD_ROOTCOORD_SERVICE_H_
#define COORDHA_ROOTCOORD_ROOTCOORD_SERVICE_H_

#include <optional>

#include "absl/base/thread_annotations.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "coordinator/gate.h"
#include "rootcoord.grpc.pb.h"
#include "rootcoord/catalog.h"
#include "rootcoord/id_allocator.h"
#include "rootcoord/tso.h"
#include "session/election.h"

namespace coordha::rootcoord {

class RootCoordService final : public v1::RootCoord::Service {
 public:
  // Everything is borrowed and must outlive the service.
  RootCoordService(TimestampOracle* tso, IdAllocator* ids, Catalog* catalog)
      : tso_(tso), ids_(ids), catalog_(catalog) {}

  // Called once before the server starts (Coordinator::Bind). Borrowed.
  void Bind(const coordinator::Gate* gate) { gate_ = gate; }
  // The leadership DDLs are fenced by: set when activated, cleared when deactivated.
  void SetLeadership(const session::Leadership& leadership);
  void ClearLeadership();

  grpc::Status AllocTimestamp(grpc::ServerContext* context,
                              const v1::AllocTimestampRequest* request,
                              v1::AllocTimestampResponse* response) override;
  grpc::Status AllocID(grpc::ServerContext* context, const v1::AllocIDRequest* request,
                       v1::AllocIDResponse* response) override;

  grpc::Status CreateDatabase(grpc::ServerContext* context,
                              const v1::CreateDatabaseRequest* request,
                              v1::DdlResponse* response) override;
  grpc::Status DropDatabase(grpc::ServerContext* context, const v1::DropDatabaseRequest* request,
                            v1::DdlResponse* response) override;
  grpc::Status ListDatabases(grpc::ServerContext* context, const v1::ListDatabasesRequest* request,
                             v1::ListDatabasesResponse* response) override;

  grpc::Status CreateCollection(grpc::ServerContext* context,
                                const v1::CreateCollectionRequest* request,
                                v1::DdlResponse* response) override;
  grpc::Status DropCollection(grpc::ServerContext* context,
                              const v1::DropCollectionRequest* request,
                              v1::DdlResponse* response) override;
  grpc::Status DescribeCollection(grpc::ServerContext* context,
                                  const v1::DescribeCollectionRequest* request,
                                  v1::DescribeCollectionResponse* response) override;
  grpc::Status HasCollection(grpc::ServerContext* context, const v1::HasCollectionRequest* request,
                             v1::HasCollectionResponse* response) override;
  grpc::Status ListCollections(grpc::ServerContext* context,
                               const v1::ListCollectionsRequest* request,
                               v1::ListCollectionsResponse* response) override;

  grpc::Status CreatePartition(grpc::ServerContext* context,
                               const v1::CreatePartitionRequest* request,
                               v1::DdlResponse* response) override;
  grpc::Status DropPartition(grpc::ServerContext* context, const v1::DropPartitionRequest* request,
                             v1::DdlResponse* response) override;
  grpc::Status ListPartitions(grpc::ServerContext* context,
                              const v1::ListPartitionsRequest* request,
                              v1::ListPartitionsResponse* response) override;

 private:
  // What a DDL handler needs after Admit: the leadership, a timestamp, the ID source.
  struct DdlCall;
  // Admit, then the leadership and a creation timestamp. On refusal returns the status to reply.
  grpc::Status BeginDdl(grpc::ServerContext* context, const v1::RequestHeader& header,
                        const std::string& request_id, DdlCall* call);
  // Confirm, stamp and fill a DDL reply, or the error's status.
  grpc::Status FinishDdl(const absl::StatusOr<DdlOutcome>& outcome, v1::DdlResponse* response);
  // Confirm and stamp a reply header.
  grpc::Status Reply(v1::ReplyHeader* header);
  std::optional<session::Leadership> leadership() const;

  TimestampOracle* const tso_;
  IdAllocator* const ids_;
  Catalog* const catalog_;
  const coordinator::Gate* gate_ = nullptr;  // set by Bind() before serving; constant after

  mutable Mutex mu_;
  std::optional<session::Leadership> leadership_ ABSL_GUARDED_BY(mu_);
};

// How an error of the TSO, the ID allocator or the Catalog is answered (see the top).
grpc::Status ToRootCoordStatus(const absl::Status& status);

}  // namespace coordha::rootcoord

#endif  // COORDHA_ROOTCOORD_ROOTCOORD_SERVICE_H_
