#include "etcd/errors.h"
#include "absl/strings/string_view.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace coordha::etcd::internal {

// Messages are etcd 3.4's rpctypes (etcdserver/api/v3rpc/rpctypes/error.go) and gRPC core's.
Failure Classify(const grpc::Status& status) {
  const std::string& msg = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      // Refused before proposing: the member knows it cannot reach a leader, or lacks a feature.
      if (absl::StrContains(msg, "etcdserver: no leader") ||
          absl::StrContains(msg, "etcdserver: not capable") ||
          absl::StrContains(msg, "etcdserver: unhealthy cluster")) {
        return Failure::kNotApplied;
      }
      // gRPC fails the pick itself when no connection exists: the call never left.
      if (absl::StartsWith(msg, "failed to connect to all addresses") ||
          absl::StartsWith(msg, "Failed to connect") ||
          absl::StartsWith(msg, "empty address list")) {
        return Failure::kNotApplied;
      }
      return Failure::kMaybeApplied;  // request timed out, leader changed, connection lost, ...
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      // "too many requests" is refused before proposing; "database space exceeded" is definite.
      if (absl::StrContains(msg, "too many requests")) return Failure::kNotApplied;
      return Failure::kDefinite;
    case grpc::StatusCode::UNAUTHENTICATED:
      if (absl::StrContains(msg, "invalid auth token")) return Failure::kBadToken;
      return Failure::kDefinite;
    case grpc::StatusCode::INVALID_ARGUMENT:
      // The token predates a change of users or roles: a fresh one fixes it.
      if (absl::StrContains(msg, "revision of auth store is old")) return Failure::kBadToken;
      return Failure::kDefinite;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::ABORTED:
      return Failure::kMaybeApplied;
    default:
      return Failure::kDefinite;
  }
}

absl::Status DefiniteError(const grpc::Status& status, absl::string_view op,
                           absl::string_view endpoint) {
  absl::Status s = FromGrpcStatus(status);
  // kUnknown means "outcome unknown" project-wide; a definite error never uses it.
  absl::StatusCode code =
      s.code() == absl::StatusCode::kUnknown ? absl::StatusCode::kInternal : s.code();
  return absl::Status(code, absl::StrCat("etcd ", op, " at ", endpoint, ": ", s.message()));
}

}  // namespace coordha::etcd::internal
