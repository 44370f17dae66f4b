// LeaseKeepAlive: renews one etcd lease until stopped or lost.
//
// Renewals go every `interval` with exactly one request in flight, so each acknowledgement maps to
// the request it answers and its send time is known: the lease is certainly alive until
// sent_at + ttl of the newest acknowledged renewal. The HA layer builds its serve grant on that
// (DESIGN.md §4 S2).
//
// A renewal that fails is retried at once on the next endpoint, then with a short backoff, until
// the lease's deadline (the newest sent_at + ttl) passes — an etcd restart or a member loss shorter
// than the TTL does not lose the lease. Loss is reported exactly once, with the reason:
//   kNotFound          etcd answered TTL <= 0: the lease is gone now (expired or revoked).
//   kDeadlineExceeded  no renewal was acknowledged before the deadline; the message carries the
//                      last error.
// After loss the object renews nothing more; Stop() it and start over with a new lease.
//
// Threads. Start() runs one thread owned by the object; callbacks run on it and must not block
// (a slow callback delays the next renewal). Stop() (also run by the destructor) stops renewing
// without revoking, waits at most for the renewal in flight, and joins. The Client must outlive
// this object.
#ifndef COORDHA_ETCD_LEASE_KEEPALIVE_H_
#define COORDHA_ETCD_LEASE_KEEPALIVE_H_

#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "etcd/client.h"

namespace coordha::etcd {

struct KeepAliveOptions {
  // Time between renewals. Default (zero): a third of the granted TTL. The HA layer uses
  // serveGrant / 3.
  Duration interval{};
  // How long one renewal may take, across endpoints, before it is retried. Default (zero):
  // twice the interval, at least 500 ms. Never past the lease deadline.
  Duration request_timeout{};
  // Asked before each renewal; false skips it (counted as a failed attempt, retried soon). The
  // lease then runs out by its TTL unless a later check passes: the L6 watchdog holds renewals
  // back this way. Keepalive thread; must be cheap and not block. Default (empty): always renew.
  std::function<bool()> may_renew;
};

// An acknowledged renewal (or the grant itself, before the first renewal).
struct LeaseRenewal {
  BootTime sent_at{};       // when the acknowledged request was sent
  int64_t ttl_seconds = 0;  // the TTL etcd granted from then
  BootTime expires_at() const { return sent_at + std::chrono::seconds(ttl_seconds); }
};

struct KeepAliveCallbacks {
  // Each acknowledged renewal. Keepalive thread; must not block. May be empty.
  std::function<void(const LeaseRenewal&)> on_renewed;
  // The lease is lost (see above): called exactly once, unless Stop() came first. Keepalive
  // thread; must not block or call Stop(). May be empty.
  std::function<void(const absl::Status&)> on_lost;
};

class LeaseKeepAlive {
 public:
  using Options = KeepAliveOptions;
  using Renewal = LeaseRenewal;
  using Callbacks = KeepAliveCallbacks;

  // Starts renewing `lease` (as granted by Client::LeaseGrant). `client` is borrowed.
  static std::unique_ptr<LeaseKeepAlive> Start(Client* client, const Lease& lease,
                                               Options options = {}, Callbacks callbacks = {});
  ~LeaseKeepAlive();
  LeaseKeepAlive(const LeaseKeepAlive&) = delete;
  LeaseKeepAlive& operator=(const LeaseKeepAlive&) = delete;

  // Stops renewing (no revoke). Safe to call twice; not from a callback.
  void Stop();

  int64_t lease_id() const { return lease_id_; }
  Renewal last_renewal() const;
  bool lost() const;
  absl::Status loss_reason() const;  // OK while not lost
  // Blocks until the lease is lost or `deadline` passes. True if lost.
  bool AwaitLost(Deadline deadline) const;
  // Blocks until at least `count` renewals were acknowledged, the lease is lost, or `deadline`
  // passes. True if the count was reached.
  bool AwaitRenewals(int64_t count, Deadline deadline) const;
  int64_t renewals() const;         // acknowledged renewals so far
  int64_t failed_attempts() const;  // renewal attempts that failed (and were retried)

 private:
  LeaseKeepAlive(Client* client, const Lease& lease, Options options, Callbacks callbacks);
  void Run(std::stop_token stop);
  // Waits until `until` or Stop(); true if stopping.
  bool WaitUntil(BootTime until);
  void MarkLost(absl::Status reason);

  // Constant after construction.
  Client* const client_;
  const int64_t lease_id_;
  const Options options_;
  const Callbacks callbacks_;

  mutable Mutex mu_;
  mutable CondVar changed_;  // signalled when stopping_, lost_ or renewals_ change
  Renewal last_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool lost_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status loss_reason_ ABSL_GUARDED_BY(mu_);
  int64_t renewals_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failed_attempts_ ABSL_GUARDED_BY(mu_) = 0;

  std::jthread thread_;  // last: started after every member above is ready
};

}  // namespace coordha::etcd

#endif  // COORDHA_ETCD_LEASE_KEEPALIVE_H_
