// TimestampOracle: rootcoord's hybrid timestamps (DESIGN.md §4 S5, §5), PD-style.
//
// A timestamp is physical << 18 | logical: physical is wall-clock milliseconds, logical counts
// within one millisecond (2^18 per ms). Invariants, each enforced where the comment names it:
//
//   1. Every timestamp issued is strictly greater than every one issued before it, by this active
//      or any earlier one. (Allocate: monotonic in-memory state; Recover: starts at the saved
//      bound.)
//   2. No timestamp is issued with a physical part >= the bound saved in etcd
//      (<root>/kv/gid/timestamp) by a fenced Txn (S1) that committed before the issue. (Allocate,
//      SaveBound)
//   3. A new active reads the saved bound with a linearizable read after winning, never from a
//      cached copy, and starts at or above it. (Recover)
//   4. The lead of the saved bound over the wall clock stays bounded however many failovers
//      happen: the bound is saved as max(wall + save_window, physical + 1 ms) — relative to the
//      wall clock, not "old bound + window", so back-to-back failovers add at most 1 ms each
//      instead of a whole window. (SaveBound)
//   5. The logical part never overflows: a request that does not fit in the current millisecond
//      rolls to the next one. (Allocate)
//   6. A wall clock that jumps backwards never moves timestamps backwards (the physical part holds
//      until the clock catches up); a large jump either way is logged. (Tick)
//
// Threads: thread-safe. Tick() is called by the owner every update_interval (rootcoord runs a
// thread for it) to follow the wall clock and save the bound ahead of use, so Allocate() does not
// wait on etcd in the steady state.
#ifndef COORDHA_ROOTCOORD_TSO_H_
#define COORDHA_ROOTCOORD_TSO_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "etcd/client.h"
#include "session/election.h"

namespace coordha::rootcoord {

inline constexpr int kLogicalBits = 18;
inline constexpr uint64_t kMaxLogical = uint64_t{1} << kLogicalBits;

inline uint64_t ComposeTs(int64_t physical_ms, uint64_t logical) {
  return (static_cast<uint64_t>(physical_ms) << kLogicalBits) | logical;
}
inline int64_t PhysicalOf(uint64_t ts) { return static_cast<int64_t>(ts >> kLogicalBits); }
inline uint64_t LogicalOf(uint64_t ts) { return ts & (kMaxLogical - 1); }

// Wall-clock milliseconds since the Unix epoch. Injected for tests.
using WallClockMs = std::function<int64_t()>;
int64_t SystemWallClockMs();

struct TsoOptions {
  // How far ahead of the wall clock the saved bound is kept. Larger: fewer etcd writes and more
  // slack for a slow etcd; smaller: less lead after a failover. Default: 3 s (PD's default).
  Duration save_window = std::chrono::seconds(3);
  // How often the owner calls Tick(). The bound is saved again when less than a third of the
  // window is left. Default: 50 ms.
  Duration update_interval = std::chrono::milliseconds(50);
  // Wall-clock jump (either way) that is logged. Default: 1 s.
  Duration clock_jump_warning = std::chrono::seconds(1);
  // The wall clock. Default: SystemWallClockMs.
  WallClockMs wall_clock_ms;
};

class TimestampOracle {
 public:
  // `client` is borrowed. `bound_key` is "<root>/kv/gid/timestamp".
  TimestampOracle(etcd::Client* client, std::string bound_key, TsoOptions options = {});

  // Invariant 3: as the new active of `leadership` (kept by reference until Reset()), reads the
  // saved bound linearizably, starts above it and saves the first bound. Until this returns OK,
  // Allocate() refuses.
  absl::Status Recover(const session::Leadership& leadership, Deadline deadline);
  // Stops issuing (deposed or stopping). Recover() must run again before the next Allocate().
  void Reset();

  // `count` (>= 1) consecutive timestamps; returns the first. Errors: kUnavailable when not
  // recovered, FencedError when deposed, or an etcd error when the bound had to be extended and
  // could not be (invariant 2 is never given up).
  absl::StatusOr<uint64_t> Allocate(uint32_t count, Deadline deadline);

  // Follows the wall clock and saves the bound ahead of use. Called every update_interval.
  absl::Status Tick(Deadline deadline);

  // The saved bound's lead over the wall clock, in seconds (coordha_tso_lead_seconds); 0 when not
  // recovered.
  double LeadSeconds() const;
  // The last bound saved (physical ms); 0 when not recovered.
  int64_t saved_bound() const;

 private:
  // Invariant 2 and 4: saves max(wall + window, at_least) with a fenced Txn. REQUIRES: save_mu_.
  absl::Status SaveBound(int64_t at_least, Deadline deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(save_mu_);

  etcd::Client* const client_;
  const std::string bound_key_;
  const TsoOptions options_;

  // Serialises etcd writes of the bound; taken before mu_, never while holding it.
  Mutex save_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable Mutex mu_;
  std::optional<session::Leadership> leadership_ ABSL_GUARDED_BY(mu_);
  int64_t physical_ ABSL_GUARDED_BY(mu_) = 0;  // ms of the last timestamp issued (or start)
  uint64_t logical_ ABSL_GUARDED_BY(mu_) = 0;  // next logical to issue within physical_
  int64_t saved_ ABSL_GUARDED_BY(mu_) = 0;     // bound saved in etcd (exclusive), ms
  int64_t last_wall_ ABSL_GUARDED_BY(mu_) = 0;
  BootTime last_tick_at_ ABSL_GUARDED_BY(mu_){};  // when last_wall_ was read
};

}  // namespace coordha::rootcoord

#endif  // COORDHA_ROOTCOORD_TSO_H_
