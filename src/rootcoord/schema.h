// Names and schemas as Milvus accepts them: the checks every catalog DDL runs before it writes.
// Each error is kInvalidArgument and names the offending field ("schema.fields[1].dim: ...").
#ifndef COORDHA_ROOTCOORD_SCHEMA_H_
#define COORDHA_ROOTCOORD_SCHEMA_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "rootcoord.pb.h"

namespace coordha::rootcoord {

// Milvus's limits.
inline constexpr size_t kMaxNameLength = 255;
inline constexpr int kMaxShards = 16;
inline constexpr int kMaxFields = 64;
inline constexpr int64_t kMaxDim = 32768;
inline constexpr int64_t kMaxVarCharLength = 65535;
inline constexpr int64_t kFirstFieldId = 100;  // Milvus's StartOfUserFieldID

// A database, collection, partition or field name: 1..255 characters, [A-Za-z_][A-Za-z0-9_]*.
absl::Status ValidateName(const std::string& field, const std::string& name);
// MilvusClient's quick setup: an Int64 primary key "id" and a FloatVector "vector" of `dim`.
v1::CollectionSchema QuickSchema(const std::string& name, int64_t dim);
// Checks `schema` and returns it with field IDs assigned (100, 101, ...).
absl::StatusOr<v1::CollectionSchema> ValidateSchema(const v1::CollectionSchema& schema);

}  // namespace coordha::rootcoord

#endif  // COORDHA_ROOTCOORD_SCHEMA_H_
