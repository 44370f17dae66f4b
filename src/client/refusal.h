// How the client reads a failed call (DESIGN.md §6): the gRPC status and the coordha.v1.ErrorDetail
// a coordinator attaches in error_details(). Internal to src/client (the server side writes the
// detail in src/coordinator/gate.cc; the client parses it itself to keep its dependencies down).
#ifndef COORDHA_CLIENT_REFUSAL_H_
#define COORDHA_CLIENT_REFUSAL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "coordha.pb.h"

namespace coordha::client::internal {

struct Refusal {
  v1::ErrorCode code = v1::ERROR_UNSPECIFIED;  // ERROR_UNSPECIFIED: no detail attached
  v1::ErrorDetail detail;
  // Another attempt (maybe on another server) may succeed: NOT_ACTIVE, INITIALIZING, FENCED,
  // STOPPING, SERVER_ID_MISMATCH, and UNAVAILABLE / DEADLINE_EXCEEDED without a detail (the
  // process died or hung, the connection broke, one attempt ran out of time).
  bool retriable = false;
  // The request may have reached a server and been applied (a broken connection or a timeout
  // without an answer). Refusals with a detail were certainly not applied.
  bool maybe_applied = false;
};

Refusal ClassifyRefusal(const grpc::Status& status);

// The status a caller sees: the gRPC code, the server's message without the "<ERROR_CODE>: " prefix
// the server puts in front ("NOT_FOUND: collection 'x' not found" -> "collection 'x' not found").
absl::Status CallerStatus(const grpc::Status& status, const Refusal& refusal);

}  // namespace coordha::client::internal

#endif  // COORDHA_CLIENT_REFUSAL_H_
