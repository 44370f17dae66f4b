#include "client/refusal.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace coordha::client::internal {

Refusal ClassifyRefusal(const grpc::Status& status) {
  Refusal refusal;
  if (!status.error_details().empty() && refusal.detail.ParseFromString(status.error_details())) {
    refusal.code = refusal.detail.code();
  } else {
    refusal.detail.Clear();
  }
  switch (refusal.code) {
    case v1::NOT_ACTIVE:
    case v1::INITIALIZING:
    case v1::FENCED:
    case v1::SERVER_ID_MISMATCH:
    case v1::STOPPING:
      refusal.retriable = true;
      return refusal;
    case v1::INVALID_ARGUMENT:
    case v1::NOT_FOUND:
    case v1::ALREADY_EXISTS:
      return refusal;
    default:
      break;
  }
  // No (known) detail: a transport failure or a plain server error.
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    // A cancellation the caller did not ask for (the client's own ones never get here): the
    // server or the transport ended the call — a server stopping mid-call, say. Like a broken
    // connection: try again; a DDL keeps its request ID, so it cannot apply twice.
    case grpc::StatusCode::CANCELLED:
      refusal.retriable = true;
      refusal.maybe_applied = true;
      break;
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
      refusal.maybe_applied = true;
      break;
    default:
      break;
  }
  return refusal;
}

absl::Status CallerStatus(const grpc::Status& status, const Refusal& refusal) {
  std::string message = status.error_message();
  if (refusal.code != v1::ERROR_UNSPECIFIED) {
    const std::string prefix = absl::StrCat(v1::ErrorCode_Name(refusal.code), ": ");
    if (absl::StartsWith(message, prefix)) message = message.substr(prefix.size());
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), message);
}

}  // namespace coordha::client::internal
