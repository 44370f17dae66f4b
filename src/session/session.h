// Session: one etcd lease, kept alive, and the serve grant it gives (DESIGN.md §4 S2).
//
// A Session is the lease every key of a process hangs on (its session key and, while active, the
// role's active key). It renews the lease every serve_grant / 3 with one request in flight, and
// turns each acknowledged renewal into a local serve deadline:
//
//   ServeDeadline() = t_ack + min(TTL, serve_grant) - margin
//
// where t_ack is the send time of the newest renewal etcd acknowledged with TTL > 0. etcd cannot
// expire the lease before t_ack + TTL (it starts counting after it received the request), so an
// active that answers only before ServeDeadline() never answers after its lease could have been
// taken over — and, because the grant is shorter than the TTL, a standby that ends the lease early
// (S3) only has to wait serve_grant + margin.
//
// The session is done when the keepalive reports loss (etcd said the lease is gone, or no renewal
// was acknowledged before the lease's deadline). A done session never comes back: the owner makes
// a new one (S6: nothing exits).
//
// Threads: thread-safe. `on_done` runs once on the keepalive thread and must not block.
#ifndef COORDHA_SESSION_SESSION_H_
#define COORDHA_SESSION_SESSION_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "etcd/client.h"
#include "etcd/lease_keepalive.h"

namespace coordha::session {

struct SessionOptions {
  // Lease TTL asked of etcd; etcd may grant more (its minimum). Default: 10 s.
  int64_t ttl_seconds = 10;
  // The serve grant g: how long after an acknowledged renewal the active may still answer.
  // REQUIRES: 0 < serve_grant < ttl. Default: 1 s.
  Duration serve_grant = std::chrono::seconds(1);
  // Called once when the session is done (lease lost). Keepalive thread; must not block.
  std::function<void(const absl::Status&)> on_done;
  // Each acknowledged renewal with its round trip. Keepalive thread; must not block. May be empty.
  std::function<void(Duration rtt)> on_renewed;
  // L6: asked before each renewal; false holds it back (see KeepAliveOptions::may_renew).
  std::function<bool()> may_renew;
};

// The safety margin subtracted from the serve grant: max(50 ms, 2 % of g) (DESIGN.md §4).
Duration ServeMargin(Duration serve_grant);

class Session {
 public:
  // Grants a lease and starts keeping it alive. `client` is borrowed and must outlive the session.
  static absl::StatusOr<std::unique_ptr<Session>> Create(etcd::Client* client,
                                                         SessionOptions options, Deadline deadline);
  // Stops renewing without revoking (like Orphan()).
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  int64_t lease_id() const { return lease_.id; }
  int64_t granted_ttl_seconds() const { return lease_.ttl_seconds; }
  Duration serve_grant() const { return options_.serve_grant; }

  // S2: the active may answer only while Now() < ServeDeadline(). BootTime::min() once done.
  BootTime ServeDeadline() const;
  // When etcd may expire the lease at the earliest (t_ack + TTL); BootTime::min() once done.
  BootTime LeaseDeadline() const;
  bool done() const;
  absl::Status done_reason() const;  // OK while not done
  int64_t renewals() const;
  // Blocks until the session is done or `deadline` passes. True if done.
  bool AwaitDone(Deadline deadline) const;

  // Stops renewing and revokes the lease (its keys vanish at once). Safe to call twice.
  absl::Status Close(Deadline deadline);
  // Stops renewing without revoking: the lease runs out by its TTL.
  void Orphan();

 private:
  Session(etcd::Client* client, SessionOptions options, etcd::Lease lease);

  etcd::Client* const client_;
  const SessionOptions options_;
  const etcd::Lease lease_;
  std::unique_ptr<etcd::LeaseKeepAlive> keepalive_;
};

}  // namespace coordha::session

#endif  // COORDHA_SESSION_SESSION_H_
