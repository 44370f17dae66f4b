// ReplicaObserver: what a Replica reports for metrics (DESIGN.md §9). The session layer counts
// nothing itself; the host (server/) turns these calls into Prometheus series.
//
// Threads: called on the Replica's loop thread (and OnKeepaliveRtt on the keepalive thread); each
// must be cheap and must not block or call back into the Replica.
#ifndef COORDHA_SESSION_REPLICA_OBSERVER_H_
#define COORDHA_SESSION_REPLICA_OBSERVER_H_

#include "absl/strings/string_view.h"
#include "common/clock.h"

namespace coordha::session {

class ReplicaObserver {
 public:
  virtual ~ReplicaObserver() = default;
  // One campaign: "won", "lost" or "error".
  virtual void OnCampaign(absl::string_view /*result*/) {}
  // This replica became the serving active. `cause` says how the previous epoch ended, as this
  // replica saw it: "resigned", "switchover", "proof" (dead on this machine), "refused", "stream",
  // "suspect" (the triggers this replica acted on), "expired" (its lease ran out, or another
  // standby's trigger), "none" (no previous active known). `took` runs from seeing the old
  // epoch end (or from winning, when there was none) to serving.
  virtual void OnTakeover(absl::string_view /*cause*/, Duration /*took*/) {}
  // This standby ended an active's epoch early (S3): "proof", "refused", "stream", "suspect".
  virtual void OnRevoke(absl::string_view /*reason*/) {}
  // A write as the active was refused by its fence (S1): this replica was deposed.
  virtual void OnFencedWrite() {}
  // Round trip of one acknowledged lease renewal.
  virtual void OnKeepaliveRtt(Duration /*rtt*/) {}
};

}  // namespace coordha::session

#endif  // COORDHA_SESSION_REPLICA_OBSERVER_H_
