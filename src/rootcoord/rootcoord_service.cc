#include "rootcoord/rootcoord_service.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status.h"

namespace coordha::rootcoord {
namespace {

// A call's deadline when the client set none, and the longest one honoured.
constexpr Duration kDefaultCallTimeout = std::chrono::seconds(10);
constexpr Duration kMaxCallTimeout = std::chrono::seconds(60);

Deadline CallDeadline(const grpc::ServerContext* context) {
  if (context == nullptr || context->deadline() == std::chrono::system_clock::time_point::max()) {
    return Deadline::In(kDefaultCallTimeout);
  }
  const auto left = context->deadline() - std::chrono::system_clock::now();
  return Deadline::In(std::clamp<Duration>(std::chrono::duration_cast<Duration>(left),
                                           Duration::zero(), kMaxCallTimeout));
}

grpc::Status NotActive() {
  return coordinator::RefusedStatus(
      grpc::StatusCode::UNAVAILABLE, v1::NOT_ACTIVE,
      "this server holds no leadership (it is stepping down); retry on the active", {});
}

// TSO and ID allocation hand out nothing unless their window was saved, so a save whose outcome
// is unknown or that timed out (a slow etcd) can simply be retried: say UNAVAILABLE, which clients
// retry, rather than UNKNOWN, which they must not.
grpc::Status AllocationStatus(const absl::Status& status) {
  if (IsOutcomeUnknown(status) || absl::IsDeadlineExceeded(status) || absl::IsUnavailable(status)) {
    if (!session::IsFenced(status)) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          absl::StrCat("the allocation window could not be extended in time (",
                                       status.message(), "); retry"));
    }
  }
  return ToRootCoordStatus(status);
}

}  // namespace

grpc::Status ToRootCoordStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const std::string message(status.message());
  if (session::IsFenced(status)) {
    // S1: our write was refused by its fence: we are deposed; the client retries on the new active.
    return coordinator::RefusedStatus(grpc::StatusCode::UNAVAILABLE, v1::FENCED, message, {});
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return coordinator::RefusedStatus(grpc::StatusCode::INVALID_ARGUMENT, v1::INVALID_ARGUMENT,
                                        message, {});
    case absl::StatusCode::kNotFound:
      return coordinator::RefusedStatus(grpc::StatusCode::NOT_FOUND, v1::NOT_FOUND, message, {});
    case absl::StatusCode::kAlreadyExists:
      return coordinator::RefusedStatus(grpc::StatusCode::ALREADY_EXISTS, v1::ALREADY_EXISTS,
                                        message, {});
    default:
      return ToGrpcStatus(status);
  }
}

struct RootCoordService::DdlCall {
  std::optional<session::Leadership> leadership;
  DdlContext ctx;
};

void RootCoordService::SetLeadership(const session::Leadership& leadership) {
  MutexLock lock(&mu_);
  leadership_.emplace(leadership);
}

void RootCoordService::ClearLeadership() {
  MutexLock lock(&mu_);
  leadership_.reset();
}

std::optional<session::Leadership> RootCoordService::leadership() const {
  MutexLock lock(&mu_);
  return leadership_;
}

grpc::Status RootCoordService::Reply(v1::ReplyHeader* header) {
  // S2: re-checked just before the reply leaves.
  if (grpc::Status refused = gate_->Confirm(); !refused.ok()) return refused;
  gate_->Stamp(header);  // S4
  return grpc::Status::OK;
}

grpc::Status RootCoordService::BeginDdl(grpc::ServerContext* context,
                                        const v1::RequestHeader& header,
                                        const std::string& request_id, DdlCall* call) {
  if (grpc::Status refused = gate_->Admit(header); !refused.ok()) return refused;
  call->leadership = leadership();
  if (!call->leadership) return NotActive();
  const Deadline deadline = CallDeadline(context);
  absl::StatusOr<uint64_t> ts = tso_->Allocate(1, deadline);
  if (!ts.ok()) return AllocationStatus(ts.status());  // nothing applied yet: retriable
  call->ctx.leadership = &*call->leadership;
  call->ctx.request_id = request_id;
  call->ctx.timestamp = *ts;
  call->ctx.deadline = deadline;
  call->ctx.new_id = [this, deadline]() -> absl::StatusOr<int64_t> {
    absl::StatusOr<std::pair<int64_t, int64_t>> range = ids_->Allocate(1, deadline);
    if (!range.ok()) return range.status();
    return range->first;
  };
  return grpc::Status::OK;
}

grpc::Status RootCoordService::FinishDdl(const absl::StatusOr<DdlOutcome>& outcome,
                                         v1::DdlResponse* response) {
  if (!outcome.ok()) return ToRootCoordStatus(outcome.status());
  response->set_id(outcome->id);
  response->set_replayed(outcome->replayed);
  return Reply(response->mutable_header());
}

// ---- TSO and IDs ----

grpc::Status RootCoordService::AllocTimestamp(grpc::ServerContext* context,
                                              const v1::AllocTimestampRequest* request,
                                              v1::AllocTimestampResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  const uint32_t count = request->count() == 0 ? 1 : request->count();
  if (count > kMaxLogical) {
    return ToRootCoordStatus(absl::InvalidArgumentError(
        absl::StrCat("count: at most ", kMaxLogical, " timestamps per call, got ", count)));
  }
  absl::StatusOr<uint64_t> first = tso_->Allocate(count, CallDeadline(context));
  if (!first.ok()) return AllocationStatus(first.status());
  response->set_timestamp(*first);
  response->set_count(count);
  return Reply(response->mutable_header());
}

grpc::Status RootCoordService::AllocID(grpc::ServerContext* context,
                                       const v1::AllocIDRequest* request,
                                       v1::AllocIDResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  const uint32_t count = request->count() == 0 ? 1 : request->count();
  absl::StatusOr<std::pair<int64_t, int64_t>> range = ids_->Allocate(count, CallDeadline(context));
  if (!range.ok()) return AllocationStatus(range.status());
  response->set_begin(range->first);
  response->set_end(range->second);
  return Reply(response->mutable_header());
}

// ---- Databases ----

grpc::Status RootCoordService::CreateDatabase(grpc::ServerContext* context,
                                              const v1::CreateDatabaseRequest* request,
                                              v1::DdlResponse* response) {
  DdlCall call;
  if (grpc::Status refused = BeginDdl(context, request->header(), request->request_id(), &call);
      !refused.ok()) {
    return refused;
  }
  return FinishDdl(catalog_->CreateDatabase(call.ctx, request->db_name()), response);
}

grpc::Status RootCoordService::DropDatabase(grpc::ServerContext* context,
                                            const v1::DropDatabaseRequest* request,
                                            v1::DdlResponse* response) {
  DdlCall call;
  if (grpc::Status refused = BeginDdl(context, request->header(), request->request_id(), &call);
      !refused.ok()) {
    return refused;
  }
  return FinishDdl(catalog_->DropDatabase(call.ctx, request->db_name()), response);
}

grpc::Status RootCoordService::ListDatabases(grpc::ServerContext*,
                                             const v1::ListDatabasesRequest* request,
                                             v1::ListDatabasesResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  for (v1::DatabaseInfo& db : catalog_->ListDatabases()) {
    *response->add_databases() = std::move(db);
  }
  return Reply(response->mutable_header());
}

// ---- Collections ----

grpc::Status RootCoordService::CreateCollection(grpc::ServerContext* context,
                                                const v1::CreateCollectionRequest* request,
                                                v1::DdlResponse* response) {
  DdlCall call;
  if (grpc::Status refused = BeginDdl(context, request->header(), request->request_id(), &call);
      !refused.ok()) {
    return refused;
  }
  return FinishDdl(catalog_->CreateCollection(call.ctx, request->db_name(), request->schema(),
                                              request->shards_num()),
                   response);
}

grpc::Status RootCoordService::DropCollection(grpc::ServerContext* context,
                                              const v1::DropCollectionRequest* request,
                                              v1::DdlResponse* response) {
  DdlCall call;
  if (grpc::Status refused = BeginDdl(context, request->header(), request->request_id(), &call);
      !refused.ok()) {
    return refused;
  }
  return FinishDdl(
      catalog_->DropCollection(call.ctx, request->db_name(), request->collection_name()), response);
}

grpc::Status RootCoordService::DescribeCollection(grpc::ServerContext*,
                                                  const v1::DescribeCollectionRequest* request,
                                                  v1::DescribeCollectionResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  absl::StatusOr<v1::CollectionInfo> info =
      catalog_->DescribeCollection(request->db_name(), request->collection_name());
  if (!info.ok()) return ToRootCoordStatus(info.status());
  *response->mutable_collection() = *std::move(info);
  return Reply(response->mutable_header());
}

grpc::Status RootCoordService::HasCollection(grpc::ServerContext*,
                                             const v1::HasCollectionRequest* request,
                                             v1::HasCollectionResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  absl::StatusOr<bool> has =
      catalog_->HasCollection(request->db_name(), request->collection_name());
  if (!has.ok()) return ToRootCoordStatus(has.status());
  response->set_value(*has);
  return Reply(response->mutable_header());
}

grpc::Status RootCoordService::ListCollections(grpc::ServerContext*,
                                               const v1::ListCollectionsRequest* request,
                                               v1::ListCollectionsResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  absl::StatusOr<std::vector<std::string>> names = catalog_->ListCollections(request->db_name());
  if (!names.ok()) return ToRootCoordStatus(names.status());
  for (std::string& name : *names) response->add_collection_names(std::move(name));
  return Reply(response->mutable_header());
}

// ---- Partitions ----

grpc::Status RootCoordService::CreatePartition(grpc::ServerContext* context,
                                               const v1::CreatePartitionRequest* request,
                                               v1::DdlResponse* response) {
  DdlCall call;
  if (grpc::Status refused = BeginDdl(context, request->header(), request->request_id(), &call);
      !refused.ok()) {
    return refused;
  }
  return FinishDdl(catalog_->CreatePartition(call.ctx, request->db_name(),
                                             request->collection_name(), request->partition_name()),
                   response);
}

grpc::Status RootCoordService::DropPartition(grpc::ServerContext* context,
                                             const v1::DropPartitionRequest* request,
                                             v1::DdlResponse* response) {
  DdlCall call;
  if (grpc::Status refused = BeginDdl(context, request->header(), request->request_id(), &call);
      !refused.ok()) {
    return refused;
  }
  return FinishDdl(catalog_->DropPartition(call.ctx, request->db_name(), request->collection_name(),
                                           request->partition_name()),
                   response);
}

grpc::Status RootCoordService::ListPartitions(grpc::ServerContext*,
                                              const v1::ListPartitionsRequest* request,
                                              v1::ListPartitionsResponse* response) {
  if (grpc::Status refused = gate_->Admit(request->header()); !refused.ok()) return refused;
  absl::StatusOr<std::vector<v1::PartitionInfo>> partitions =
      catalog_->ListPartitions(request->db_name(), request->collection_name());
  if (!partitions.ok()) return ToRootCoordStatus(partitions.status());
  for (v1::PartitionInfo& partition : *partitions) {
    *response->add_partitions() = std::move(partition);
  }
  return Reply(response->mutable_header());
}

}  // namespace coordha::rootcoord
