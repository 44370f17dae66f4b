#include "coordinator/service_util.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status.h"

namespace coordha::coordinator {
namespace {
constexpr Duration kDefaultCallTimeout = std::chrono::seconds(10);
constexpr Duration kMaxCallTimeout = std::chrono::seconds(60);
}  // namespace

Deadline CallDeadline(const grpc::ServerContext* context) {
  if (context == nullptr || context->deadline() == std::chrono::system_clock::time_point::max()) {
    return Deadline::In(kDefaultCallTimeout);
  }
  const auto left = context->deadline() - std::chrono::system_clock::now();
  return Deadline::In(std::clamp<Duration>(std::chrono::duration_cast<Duration>(left),
                                           Duration::zero(), kMaxCallTimeout));
}

grpc::Status NotActiveStatus() {
  return RefusedStatus(grpc::StatusCode::UNAVAILABLE, v1::NOT_ACTIVE,
                       "this server holds no leadership (it is stepping down); retry on the active",
                       {});
}

grpc::Status ToServiceStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const std::string message(status.message());
  if (session::IsFenced(status)) {
    // S1: our write was refused by its fence: deposed; the client retries on the new active.
    return RefusedStatus(grpc::StatusCode::UNAVAILABLE, v1::FENCED, message, {});
  }
  if (IsOutcomeUnknown(status) || absl::IsDeadlineExceeded(status) || absl::IsUnavailable(status)) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, absl::StrCat(message, "; retry"));
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return RefusedStatus(grpc::StatusCode::INVALID_ARGUMENT, v1::INVALID_ARGUMENT, message, {});
    case absl::StatusCode::kNotFound:
      return RefusedStatus(grpc::StatusCode::NOT_FOUND, v1::NOT_FOUND, message, {});
    case absl::StatusCode::kAlreadyExists:
      return RefusedStatus(grpc::StatusCode::ALREADY_EXISTS, v1::ALREADY_EXISTS, message, {});
    default:
      return ToGrpcStatus(status);
  }
}

grpc::Status FinishReply(const Gate* gate, const absl::Status& status, v1::ReplyHeader* header) {
  if (!status.ok()) return ToServiceStatus(status);
  // S2: re-checked just before the reply leaves.
  if (grpc::Status refused = gate->Confirm(); !refused.ok()) return refused;
  gate->Stamp(header);  // S4
  return grpc::Status::OK;
}

}  // namespace coordha::coordinator
