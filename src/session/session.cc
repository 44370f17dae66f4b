#include "session/session.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace coordha::session {

Duration ServeMargin(Duration serve_grant) {
  return std::max<Duration>(std::chrono::milliseconds(50), serve_grant / 50);
}

absl::StatusOr<std::unique_ptr<Session>> Session::Create(etcd::Client* client,
                                                         SessionOptions options,
                                                         Deadline deadline) {
  if (options.serve_grant <= Duration::zero() ||
      options.serve_grant >= std::chrono::seconds(options.ttl_seconds)) {
    return absl::InvalidArgumentError(
        "common.session.serveGrant must be > 0 and below common.session.ttl");
  }
  COORDHA_ASSIGN_OR_RETURN(etcd::Lease lease, client->LeaseGrant(options.ttl_seconds, deadline));
  std::unique_ptr<Session> session(new Session(client, std::move(options), lease));
  etcd::KeepAliveCallbacks callbacks;
  callbacks.on_lost = session->options_.on_done;
  if (session->options_.on_renewed) {
    callbacks.on_renewed = [on_renewed =
                                session->options_.on_renewed](const etcd::LeaseRenewal& r) {
      on_renewed(BootClock::now() - r.sent_at);
    };
  }
  // S2: renew every g/3, so a healthy active always holds a fresh grant.
  session->keepalive_ = etcd::LeaseKeepAlive::Start(
      client, lease,
      etcd::KeepAliveOptions{.interval = session->options_.serve_grant / 3,
                             .may_renew = session->options_.may_renew},
      std::move(callbacks));
  return session;
}

Session::Session(etcd::Client* client, SessionOptions options, etcd::Lease lease)
    : client_(client), options_(std::move(options)), lease_(lease) {}

Session::~Session() { Orphan(); }

BootTime Session::ServeDeadline() const {
  if (keepalive_->lost()) return BootTime::min();
  const etcd::LeaseRenewal last = keepalive_->last_renewal();
  // S2: serve grant = t_ack + min(TTL, g) - margin.
  const Duration ttl = std::chrono::seconds(last.ttl_seconds);
  return last.sent_at + std::min(ttl, options_.serve_grant) - ServeMargin(options_.serve_grant);
}

BootTime Session::LeaseDeadline() const {
  if (keepalive_->lost()) return BootTime::min();
  return keepalive_->last_renewal().expires_at();
}

bool Session::done() const { return keepalive_->lost(); }

absl::Status Session::done_reason() const { return keepalive_->loss_reason(); }

bool Session::AwaitDone(Deadline deadline) const { return keepalive_->AwaitLost(deadline); }

int64_t Session::renewals() const { return keepalive_->renewals(); }

absl::Status Session::Close(Deadline deadline) {
  keepalive_->Stop();
  absl::Status revoked = client_->LeaseRevoke(lease_.id, deadline);
  if (absl::IsNotFound(revoked)) return absl::OkStatus();  // already gone
  return revoked;
}

void Session::Orphan() { keepalive_->Stop(); }

}  // namespace coordha::session
