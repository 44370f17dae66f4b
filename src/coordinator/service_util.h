// What every coordinator's gRPC handlers share: the call's deadline, the one mapping from
// absl::Status to the refusals of DESIGN.md §6, and the slot that holds the active's Leadership.
//
// The frame of a business RPC (S2, S4, S7 are enforced by the Gate):
//   if (grpc::Status refused = gate->Admit(request.header()); !refused.ok()) return refused;
//   std::optional<session::Leadership> leadership = slot.Get();
//   if (!leadership) return NotActiveStatus();
//   ... work, writes fenced by *leadership (S1) ...
//   return FinishReply(gate, status, response->mutable_header());
#ifndef COORDHA_COORDINATOR_SERVICE_UTIL_H_
#define COORDHA_COORDINATOR_SERVICE_UTIL_H_

#include <grpcpp/server_context.h>

#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "coordha.pb.h"
#include "coordinator/gate.h"
#include "session/election.h"

namespace coordha::coordinator {

// The client's deadline, at most 60 s; 10 s when it set none.
Deadline CallDeadline(const grpc::ServerContext* context);

// FencedError -> UNAVAILABLE + FENCED (retriable); an unknown outcome or a timeout of our own
// etcd write -> UNAVAILABLE (retriable: every write here is safe to retry); kInvalidArgument,
// kNotFound, kAlreadyExists -> their codes with the ErrorDetail; the rest as common/grpc_status.
grpc::Status ToServiceStatus(const absl::Status& status);

// A call that reached a replica between losing its leadership and the Gate noticing.
grpc::Status NotActiveStatus();

// `status` as a reply: its refusal, or (OK) the S2 re-check and the S4 stamp.
grpc::Status FinishReply(const Gate* gate, const absl::Status& status, v1::ReplyHeader* header);

// The active's Leadership, set by Activate and cleared by Deactivate. Thread-safe.
class LeadershipSlot {
 public:
  void Set(const session::Leadership& leadership) {
    MutexLock lock(&mu_);
    leadership_.emplace(leadership);
  }
  void Clear() {
    MutexLock lock(&mu_);
    leadership_.reset();
  }
  std::optional<session::Leadership> Get() const {
    MutexLock lock(&mu_);
    return leadership_;
  }

 private:
  mutable Mutex mu_;
  std::optional<session::Leadership> leadership_ ABSL_GUARDED_BY(mu_);
};

}  // namespace coordha::coordinator

#endif  // COORDHA_COORDINATOR_SERVICE_UTIL_H_
