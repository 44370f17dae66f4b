// Internal to src/etcd: what an etcd/gRPC error means for retrying.
#ifndef COORDHA_ETCD_ERRORS_H_
#define COORDHA_ETCD_ERRORS_H_

#include "absl/strings/string_view.h"

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace coordha::etcd::internal {

enum class Failure {
  // The request was not delivered, or was refused before etcd could apply it (no connection, the
  // member has no leader, too many pending requests). Safe to retry on any endpoint, even a write.
  kNotApplied,
  // The auth token expired, is unknown to this member (etcd restarted: simple tokens live in
  // memory) or predates an auth change: re-authenticate, then retry.
  kBadToken,
  // The request may have been applied (timeout, connection lost after sending, leader changed).
  // Reads retry; writes report "outcome unknown".
  kMaybeApplied,
  // etcd's definite answer (bad argument, lease not found, compacted, permission denied).
  kDefinite,
};

Failure Classify(const grpc::Status& status);

// A definite error as absl::Status, naming the operation and the endpoint.
absl::Status DefiniteError(const grpc::Status& status, absl::string_view op,
                           absl::string_view endpoint);

}  // namespace coordha::etcd::internal

#endif  // COORDHA_ETCD_ERRORS_H_
