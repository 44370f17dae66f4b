#include "rootcoord/schema.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace coordha::rootcoord {

namespace {

std::string Quoted(const std::string& s) { return absl::StrCat("'", absl::CHexEscape(s), "'"); }

bool IsVector(v1::DataType type) { return type == v1::FloatVector || type == v1::BinaryVector; }

}  // namespace

absl::Status ValidateName(const std::string& field, const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": must not be empty"));
  if (name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": longer than ", kMaxNameLength, " characters (", name.size(), ")"));
  }
  const auto is_alpha = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (!is_alpha(name[0])) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", Quoted(name), " must start with a letter or '_'"));
  }
  for (char c : name) {
    if (!is_alpha(c) && !(c >= '0' && c <= '9')) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", Quoted(name), " may contain only letters, digits and '_'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::CollectionSchema> ValidateSchema(const v1::CollectionSchema& schema) {
  if (absl::Status name = ValidateName("schema.name", schema.name()); !name.ok()) return name;
  if (schema.fields_size() == 0) {
    return absl::InvalidArgumentError(
        "schema.fields: empty; a collection needs a primary key field and a vector field");
  }
  if (schema.fields_size() > kMaxFields) {
    return absl::InvalidArgumentError(
        absl::StrCat("schema.fields: at most ", kMaxFields, " fields, got ", schema.fields_size()));
  }
  v1::CollectionSchema out = schema;
  std::set<std::string> names;
  std::vector<std::string> primary_keys;
  bool has_vector = false;
  for (int i = 0; i < out.fields_size(); ++i) {
    v1::FieldSchema& field = *out.mutable_fields(i);
    const std::string path = absl::StrCat("schema.fields[", i, "]");
    if (absl::Status name = ValidateName(path + ".name", field.name()); !name.ok()) return name;
    if (!names.insert(field.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".name: duplicate field name ", Quoted(field.name())));
    }
    const v1::DataType type = field.data_type();
    if (!v1::DataType_IsValid(type) || type == v1::None) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".data_type: field ", Quoted(field.name()), " needs a data type"));
    }
    if (IsVector(type)) {
      has_vector = true;
      if (field.dim() <= 0 || field.dim() > kMaxDim) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ".dim: must be 1..", kMaxDim, " for ", v1::DataType_Name(type),
                         " field ", Quoted(field.name()), ", got ", field.dim()));
      }
      if (type == v1::BinaryVector && field.dim() % 8 != 0) {
        return absl::InvalidArgumentError(absl::StrCat(path, ".dim: must be a multiple of 8 for ",
                                                       "BinaryVector field ", Quoted(field.name()),
                                                       ", got ", field.dim()));
      }
    } else if (field.dim() != 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ".dim: only vector fields have a dim (",
                                                     Quoted(field.name()), " is ",
                                                     v1::DataType_Name(type), ")"));
    }
    if (type == v1::VarChar) {
      if (field.max_length() <= 0 || field.max_length() > kMaxVarCharLength) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ".max_length: must be 1..", kMaxVarCharLength, " for VarChar field ",
                         Quoted(field.name()), ", got ", field.max_length()));
      }
    }
    if (field.is_primary_key()) {
      primary_keys.push_back(field.name());
      if (type != v1::Int64 && type != v1::VarChar) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ".data_type: primary key ", Quoted(field.name()),
                         " must be Int64 or VarChar, not ", v1::DataType_Name(type)));
      }
    } else if (field.auto_id()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ".auto_id: only the primary key may be auto_id (", Quoted(field.name()), ")"));
    }
    field.set_field_id(kFirstFieldId + i);
  }
  if (primary_keys.empty()) {
    return absl::InvalidArgumentError(
        "schema.fields: no primary key; set is_primary_key on one Int64 or VarChar field");
  }
  if (primary_keys.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("schema.fields: more than one primary key (",
                                                   absl::StrJoin(primary_keys, ", "),
                                                   "); set is_primary_key on exactly one field"));
  }
  if (!has_vector) {
    return absl::InvalidArgumentError(
        "schema.fields: no vector field; add a FloatVector or BinaryVector field with a dim");
  }
  return out;
}

v1::CollectionSchema QuickSchema(const std::string& name, int64_t dim) {
  v1::CollectionSchema schema;
  schema.set_name(name);
  v1::FieldSchema* id = schema.add_fields();
  id->set_name("id");
  id->set_data_type(v1::Int64);
  id->set_is_primary_key(true);
  v1::FieldSchema* vector = schema.add_fields();
  vector->set_name("vector");
  vector->set_data_type(v1::FloatVector);
  vector->set_dim(dim);
  return schema;
}

}  // namespace coordha::rootcoord
