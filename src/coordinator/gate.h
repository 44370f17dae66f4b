// Gate: what every coordinator RPC asks first — may this process answer as the active?
//
// A standby answers every business call with NOT_ACTIVE and the active's address (DESIGN.md §6);
// an active still recovering answers INITIALIZING (S7); a stopping one STOPPING (L1); an active
// outside its serve grant answers nothing as active (S2). Calls that name another server get
// SERVER_ID_MISMATCH; calls that saw a newer epoch than ours get FENCED (S4). All of these are
// UNAVAILABLE (or FAILED_PRECONDITION for the mismatch) with a coordha.v1.ErrorDetail, so clients
// retry them.
//
// Usage in a handler:
//   if (grpc::Status refused = gate.Admit(request.header()); !refused.ok()) return refused;
//   ... do the work ...
//   if (grpc::Status refused = gate.Confirm(); !refused.ok()) return refused;  // S2 re-check
//   gate.Stamp(reply.mutable_header());
//
// Thread-safe; cheap (one mutex acquisition in the Replica).
#ifndef COORDHA_COORDINATOR_GATE_H_
#define COORDHA_COORDINATOR_GATE_H_

#include <grpcpp/support/status.h>

#include <atomic>

#include "common/mutex.h"
#include "coordha.pb.h"
#include "session/replica.h"

namespace coordha::coordinator {

class Gate {
 public:
  // `replica` is borrowed and must outlive the Gate.
  explicit Gate(const session::Replica* replica) : replica_(replica) {}

  // OK when the call may proceed as the active; otherwise the refusal to return.
  grpc::Status Admit(const v1::RequestHeader& header) const;
  // S2: re-checked just before a time-sensitive reply is sent.
  grpc::Status Confirm() const;
  // S4: every reply from an active carries (serverID, epoch).
  void Stamp(v1::ReplyHeader* header) const;

  // Milvus's component state as this process would report it now.
  v1::StateCode State() const;
  bool Serving() const { return replica_->Serving(); }
  // S2 for commands sent before Healthy too (session::Replica::WithinServeGrant).
  bool WithinServeGrant() const { return replica_->WithinServeGrant(); }
  // This process's server ID (0 until allocated).
  int64_t ServerId() const { return replica_->status().server_id; }

  // The serving path every business call and the L6 watchdog's probe pass through. Returns at once
  // unless the test hook below hung it.
  void PassServingPath() const;
  // Test hook (only reachable with COORDHA_TEST_HOOKS=1, see server/): makes PassServingPath()
  // block as a deadlocked handler pool would, until released (false) or ReleaseAll().
  void SetServingPathHungForTest(bool hung);
  // Shutdown: releases every caller blocked in PassServingPath() for good.
  void ReleaseAll();

 private:
  grpc::Status Refusal(const session::ReplicaStatus& status) const;
  const session::Replica* const replica_;
  std::atomic<bool> maybe_hung_{false};  // fast path: false unless the test hook was used
  mutable Mutex mu_;
  mutable CondVar released_;
  bool hung_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

// A refusal with its ErrorDetail.
grpc::Status RefusedStatus(grpc::StatusCode code, v1::ErrorCode error, const std::string& message,
                           const v1::ErrorDetail& detail);
// The ErrorDetail of a status made by RefusedStatus(); ERROR_UNSPECIFIED when it has none.
v1::ErrorDetail DetailOf(const grpc::Status& status);

}  // namespace coordha::coordinator

#endif  // COORDHA_COORDINATOR_GATE_H_
