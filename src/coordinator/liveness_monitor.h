// GrpcLivenessMonitor: the gRPC side of L2 crash detection (session/liveness.h).
//
// A standby opens Component.Liveness, a server stream, to the active's address; the active writes
// a beat every `beat_interval`. When the stream ends the watch asks the kernel directly whether
// the address still accepts TCP connections (a plain non-blocking connect):
//   refused   → trigger "refused" at once: nothing listens there any more (the process died on a
//               host that is up; across machines this is the fast path);
//   accepted  → the process is there: open the stream again;
//   no answer → keep trying; trigger "stream" once the stream has been down `reconnect_window`.
// An answer from the active that it no longer serves the watched epoch ends the watch without a
// trigger (it is alive; the etcd watch tells the rest). A watch that never once reached the
// active never triggers (see session/liveness.h).
//
// Threads: each watch owns one thread, joined by its destructor (which cancels the stream).
#ifndef COORDHA_COORDINATOR_LIVENESS_MONITOR_H_
#define COORDHA_COORDINATOR_LIVENESS_MONITOR_H_

#include <memory>
#include <string>

#include "common/clock.h"
#include "session/liveness.h"

namespace coordha::coordinator {

struct LivenessMonitorOptions {
  // How often the active writes a beat. Default: 200 ms.
  Duration beat_interval = std::chrono::milliseconds(200);
  // How long the stream may stay down (no refusal, no reconnect) before "stream" triggers.
  // Default: 1 s.
  Duration reconnect_window = std::chrono::seconds(1);
  // The TCP check's connect timeout. Default: 200 ms.
  Duration connect_timeout = std::chrono::milliseconds(200);
  // Test hook: watch this address instead of the active's (a proxy the test controls). "" none.
  std::string address_override;
};

class GrpcLivenessMonitor final : public session::LivenessMonitor {
 public:
  explicit GrpcLivenessMonitor(LivenessMonitorOptions options = {})
      : options_(std::move(options)) {}
  std::unique_ptr<session::LivenessWatch> Watch(
      const std::string& address, int64_t epoch,
      std::function<void(std::string reason)> on_trigger) override;

 private:
  const LivenessMonitorOptions options_;
};

// What a TCP connect to `address` ("host:port") says within `timeout`.
enum class TcpProbe { kAccepted, kRefused, kNoAnswer };
TcpProbe ProbeTcp(const std::string& address, Duration timeout);

}  // namespace coordha::coordinator

#endif  // COORDHA_COORDINATOR_LIVENESS_MONITOR_H_
