// The one place that maps between absl::Status and grpc::Status.
//
// The codes are numerically identical (both follow google.rpc.Code); this file exists so that the
// mapping — and any detail we attach — is done once.
#ifndef COORDHA_COMMON_GRPC_STATUS_H_
#define COORDHA_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace coordha {

absl::Status FromGrpcStatus(const grpc::Status& status);
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace coordha

#endif  // COORDHA_COMMON_GRPC_STATUS_H_
