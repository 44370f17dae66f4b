// Watchdog: the active keeps its lease only while it can still do its job (DESIGN.md §4 L6).
//
// A process can be alive to etcd — its keepalive thread renewing the lease — while the part that
// serves is stuck: a deadlocked handler pool, a hung disk, a loop that never returns. Such an
// active would hold the role forever. The Watchdog runs on its own thread while the replica is
// active and, every `interval`, checks both halves of the job within `timeout`:
//   1. `probe`: the serving path answers (the host sends an RPC through its own gRPC server);
//   2. `fenced_write` (every `write_interval`): a write fenced by the epoch commits (S1), so
//      etcd's write path works for this active.
// The Session asks RenewalAllowed() before each renewal (SessionOptions::may_renew). Once no check
// has passed for `timeout`, renewals stop: the serve grant runs out within g (S2), standbys see the
// lease not renewed (suspectAfter) and take over, or it expires by its TTL.
//
// A fenced write refused by its fence (FencedError) means deposed: `on_fenced` runs (watchdog
// thread, must not block) so the replica steps down at once.
//
// Threads: Start() runs one thread owned by the Watchdog; the destructor stops and joins it.
// REQUIRES: `probe` and `fenced_write` return by their deadline.
#ifndef COORDHA_SESSION_WATCHDOG_H_
#define COORDHA_SESSION_WATCHDOG_H_

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace coordha::session {

struct WatchdogOptions {
  // Time between checks. Default: 500 ms.
  Duration interval = std::chrono::milliseconds(500);
  // A check must pass within this; renewals stop once none passed for this long.
  // REQUIRES: > interval, > write_interval. Default: 2 s.
  Duration timeout = std::chrono::seconds(2);
  // How often a check includes the fenced write (each write adds an etcd revision, so not at
  // every check). Default: 1 s.
  Duration write_interval = std::chrono::seconds(1);
};

class Watchdog {
 public:
  using Check = std::function<absl::Status(Deadline)>;
  // Starts checking. The first check runs at once; until `timeout` has passed renewals are allowed
  // (the replica has just proven itself by winning and recovering).
  static std::unique_ptr<Watchdog> Start(WatchdogOptions options, Check probe, Check fenced_write,
                                         std::function<void()> on_fenced);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // L6: true while a check passed within `timeout`. Cheap, lock-free; any thread.
  bool RenewalAllowed() const;
  // The last failure, for the log. OK while passing.
  absl::Status last_failure() const;

 private:
  Watchdog(WatchdogOptions options, Check probe, Check fenced_write,
           std::function<void()> on_fenced);
  void Run(std::stop_token stop);

  // Constant after construction.
  const WatchdogOptions options_;
  const Check probe_;
  const Check fenced_write_;
  const std::function<void()> on_fenced_;

  std::atomic<BootTime::rep> passed_at_;  // BootTime of the last pass, as ticks
  mutable Mutex mu_;
  CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status last_failure_ ABSL_GUARDED_BY(mu_);

  std::jthread thread_;  // last
};

}  // namespace coordha::session

#endif  // COORDHA_SESSION_WATCHDOG_H_
