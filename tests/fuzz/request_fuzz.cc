// Fuzzes the checks coordinators run on what they receive, before acting on it — those callable
// without etcd:
//   - rootcoord: ValidateName and ValidateSchema (rootcoord/schema.h), as Catalog runs them on a
//     CreateCollectionRequest, a CreatePartitionRequest, and a bare CollectionSchema;
//   - indexcoord: DecideReport (indexcoord/index_meta.h) on the build reports of a worker's
//     SyncResponse, which start by parsing the worker-supplied task id.
// The other coordinators' request checks sit inside handlers that need an etcd client and a
// leadership (datacoord's AssignSegmentID, indexcoord's CreateIndex) and are covered by tests.
//
// The input is parsed with ParseFromArray as each of those messages in turn (protobuf keeps
// fields of another type as unknown fields, so one input exercises all of them).
//
// Oracle: ValidateName agrees with an independent check of its rule; ValidateSchema either fails
// with kInvalidArgument or returns the same fields in order, with field IDs 100, 101, ..., exactly
// one Int64/VarChar primary key and a vector field; DecideReport writes only the task the report
// names, for the index and placement it was given.
//
// Seeds (tests/fuzz/corpus/request/) are text protos encoded with protoc, e.g.
//   protoc -Iproto --encode=coordha.v1.CreateCollectionRequest proto/rootcoord.proto <seed.txtpb
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "google/protobuf/stubs/logging.h"
#include "indexcoord/index_meta.h"
#include "rootcoord.pb.h"
#include "rootcoord/schema.h"
#include "worker.pb.h"

namespace {

using coordha::rootcoord::ValidateName;
using coordha::rootcoord::ValidateSchema;
namespace v1 = coordha::v1;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "request_fuzz: %s\n", what.c_str());
  std::abort();
}

// ValidateName's rule, written independently: 1..255 of [A-Za-z0-9_], not starting with a digit.
bool NameRule(const std::string& name) {
  if (name.empty() || name.size() > coordha::rootcoord::kMaxNameLength) return false;
  if (name[0] >= '0' && name[0] <= '9') return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool CheckName(const std::string& field, const std::string& name) {
  const absl::Status status = ValidateName(field, name);
  if (status.ok() != NameRule(name)) {
    Fail("ValidateName(" + field + ") disagrees with the rule: " + status.ToString());
  }
  if (!status.ok() &&
      (status.code() != absl::StatusCode::kInvalidArgument || status.message().empty())) {
    Fail("ValidateName: not a kInvalidArgument with a message: " + status.ToString());
  }
  return status.ok();
}

bool IsVector(v1::DataType type) { return type == v1::FloatVector || type == v1::BinaryVector; }

void CheckSchema(const v1::CollectionSchema& schema) {
  const absl::StatusOr<v1::CollectionSchema> checked = ValidateSchema(schema);
  if (!checked.ok()) {
    if (checked.status().code() != absl::StatusCode::kInvalidArgument ||
        checked.status().message().empty()) {
      Fail("ValidateSchema: not a kInvalidArgument with a message: " + checked.status().ToString());
    }
    return;
  }
  if (!CheckName("schema.name", schema.name())) Fail("ValidateSchema accepted a bad name");
  if (checked->name() != schema.name()) Fail("ValidateSchema changed the name");
  if (checked->fields_size() != schema.fields_size() || schema.fields_size() == 0 ||
      schema.fields_size() > coordha::rootcoord::kMaxFields) {
    Fail("ValidateSchema: field count");
  }
  int primary_keys = 0;
  bool has_vector = false;
  for (int i = 0; i < checked->fields_size(); ++i) {
    const v1::FieldSchema& field = checked->fields(i);
    if (field.field_id() != coordha::rootcoord::kFirstFieldId + i) {
      Fail("ValidateSchema: field " + std::to_string(i) + " has ID " +
           std::to_string(field.field_id()));
    }
    if (field.name() != schema.fields(i).name() ||
        field.data_type() != schema.fields(i).data_type()) {
      Fail("ValidateSchema: field " + std::to_string(i) + " changed or moved");
    }
    if (!NameRule(field.name())) Fail("ValidateSchema accepted a bad field name");
    if (field.is_primary_key()) {
      ++primary_keys;
      if (field.data_type() != v1::Int64 && field.data_type() != v1::VarChar) {
        Fail("ValidateSchema: a primary key that is not Int64 or VarChar");
      }
    }
    if (IsVector(field.data_type())) {
      has_vector = true;
      if (field.dim() <= 0 || field.dim() > coordha::rootcoord::kMaxDim) Fail("bad dim accepted");
    }
  }
  if (primary_keys != 1) Fail("ValidateSchema: " + std::to_string(primary_keys) + " primary keys");
  if (!has_vector) Fail("ValidateSchema: no vector field");
  // Validating a validated schema again changes nothing.
  const absl::StatusOr<v1::CollectionSchema> again = ValidateSchema(*checked);
  if (!again.ok() || again->SerializeAsString() != checked->SerializeAsString()) {
    Fail("ValidateSchema is not idempotent");
  }
}

// Catalog::CreateCollection's checks, in its order ("" = the default database).
void CheckCreateCollection(const v1::CreateCollectionRequest& request) {
  CheckName("db_name", request.db_name().empty() ? "default" : request.db_name());
  CheckSchema(request.schema());
}

// Catalog::CreatePartition's checks.
void CheckCreatePartition(const v1::CreatePartitionRequest& request) {
  CheckName("db_name", request.db_name().empty() ? "default" : request.db_name());
  CheckName("collection_name", request.collection_name());
  CheckName("partition_name", request.partition_name());
}

// The task state a build report in `state` leads to; nullopt: the report changes nothing.
std::optional<v1::IndexState> TaskStateFor(v1::ItemState state) {
  switch (state) {
    case v1::ITEM_FINISHED:
      return v1::Finished;
    case v1::ITEM_FAILED:
      return v1::Failed;
    case v1::ITEM_PENDING:
    case v1::ITEM_RUNNING:
      return v1::InProgress;
    default:
      return std::nullopt;
  }
}

// indexcoord's Scheduler turns each item of a worker's SyncResponse into an ItemReport; the
// placement and index given here are the ones the report's id names (when it parses), so that
// DecideReport gets past its lookups.
void CheckIndexReports(const v1::SyncResponse& response) {
  using coordha::indexcoord::DecideReport;
  for (const v1::WorkItemStatus& item : response.items()) {
    const coordha::coordinator::ItemReport report{.id = item.id(),
                                                  .worker_id = response.server_id(),
                                                  .attempt = item.epoch(),
                                                  .placement_revision = item.epoch(),
                                                  .state = item.state(),
                                                  .detail = item.detail()};
    int64_t index_id = 0;
    int64_t segment_id = 0;
    const bool parsed = coordha::indexcoord::ParseTaskId(item.id(), &index_id, &segment_id);
    coordha::indexcoord::Placement placement{
        .worker_id = response.server_id(), .attempt = 1, .mod_revision = item.epoch()};
    coordha::indexcoord::IndexEntry index;
    index.info.set_index_id(index_id);
    index.info.set_collection_id(7);
    index.info.set_index_name("idx");
    index.mod_revision = 3;
    // The task key: absent, in progress on this worker, or final (by the detail's length).
    std::optional<coordha::indexcoord::TaskEntry> task;
    if (item.detail().size() % 3 != 0) {
      task.emplace();
      task->state.set_state(item.detail().size() % 3 == 1 ? v1::InProgress : v1::Finished);
      task->state.set_node_id(response.server_id());
      task->state.set_attempt(1);
      task->mod_revision = 5;
    }
    const std::optional<coordha::indexcoord::TaskWrite> write =
        DecideReport(report, placement, task, index);
    if (!write) continue;
    if (!parsed) Fail("DecideReport wrote for an id that does not parse: " + item.id());
    if (task && coordha::indexcoord::IsFinal(task->state.state())) {
      Fail("DecideReport overwrote a final task: " + item.id());
    }
    const std::optional<v1::IndexState> expected = TaskStateFor(item.state());
    if (!expected || write->state.state() != *expected) {
      Fail("DecideReport: item state " + std::to_string(item.state()) + " wrote task state " +
           std::to_string(write->state.state()));
    }
    if (write->task_id != item.id() || write->state.segment_id() != segment_id ||
        write->state.node_id() != response.server_id() ||
        write->placement_revision != item.epoch() || write->index_revision != 3 ||
        write->task_revision != (task ? 5 : 0) || write->index_rel != "index/7/idx") {
      Fail("DecideReport wrote something other than the reported task: " + item.id());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // protobuf logs every string field that is not UTF-8 (the parse then fails, which is fine).
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int n = static_cast<int>(size);
  if (v1::CreateCollectionRequest request; request.ParseFromArray(data, n)) {
    CheckCreateCollection(request);
  }
  if (v1::CollectionSchema schema; schema.ParseFromArray(data, n)) CheckSchema(schema);
  if (v1::CreatePartitionRequest request; request.ParseFromArray(data, n)) {
    CheckCreatePartition(request);
  }
  if (v1::SyncResponse response; response.ParseFromArray(data, n)) CheckIndexReports(response);
  return 0;
}
