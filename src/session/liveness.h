// LivenessMonitor: how a standby learns within milliseconds that the active crashed (DESIGN.md §4
// L2), without waiting for its lease.
//
// The session layer does not speak gRPC; the layer above implements this interface (see
// coordinator/liveness_monitor.h) and the Replica uses it while it stands by. A watch holds a
// stream open to the active's address and calls `on_trigger` once when one of the S3 triggers
// fires:
//   - the stream broke and the address now refuses connections (the process is gone, its host is
//     up: the kernel answers with a reset), or
//   - the stream broke and did not come back within the reconnect window.
// A watch that never reached the active (a wrong or unreachable address) never triggers: lease
// suspicion (suspectAfter) covers that case, and a misconfigured address must not make standbys
// depose every active they cannot reach.
//
// A trigger may be wrong (a firewall rule, a half-open network): that is why the Replica acts on it
// only through S3 — a fenced delete plus a revoke, after which the winner still waits out the
// serve grant, so the old active has stopped answering before the new one starts.
#ifndef COORDHA_SESSION_LIVENESS_H_
#define COORDHA_SESSION_LIVENESS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace coordha::session {

// One watch. Destroying it stops watching; after the destructor returns, no more callbacks.
class LivenessWatch {
 public:
  virtual ~LivenessWatch() = default;
};

class LivenessMonitor {
 public:
  virtual ~LivenessMonitor() = default;
  // Starts watching the active at `address` ("host:port") serving `epoch`. `on_trigger(reason)`
  // runs at most once, on the watch's own thread, and must not block. `reason` is "refused" or
  // "stream" (the metric label), followed after a colon by words for the log.
  virtual std::unique_ptr<LivenessWatch> Watch(
      const std::string& address, int64_t epoch,
      std::function<void(std::string reason)> on_trigger) = 0;
};

}  // namespace coordha::session

#endif  // COORDHA_SESSION_LIVENESS_H_
