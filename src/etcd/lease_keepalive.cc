#include "etcd/lease_keepalive.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace coordha::etcd {
namespace {

using std::chrono::milliseconds;

LeaseKeepAlive::Options Resolve(LeaseKeepAlive::Options o, int64_t ttl_seconds) {
  if (o.interval <= Duration::zero()) o.interval = std::chrono::seconds(ttl_seconds) / 3;
  if (o.interval <= Duration::zero()) o.interval = milliseconds(300);
  if (o.request_timeout <= Duration::zero()) {
    o.request_timeout = std::max<Duration>(2 * o.interval, milliseconds(500));
  }
  return o;
}

}  // namespace

std::unique_ptr<LeaseKeepAlive> LeaseKeepAlive::Start(Client* client, const Lease& lease,
                                                      Options options, Callbacks callbacks) {
  auto keeper = std::unique_ptr<LeaseKeepAlive>(
      new LeaseKeepAlive(client, lease, options, std::move(callbacks)));
  keeper->thread_ = std::jthread([k = keeper.get()](std::stop_token st) { k->Run(st); });
  return keeper;
}

LeaseKeepAlive::LeaseKeepAlive(Client* client, const Lease& lease, Options options,
                               Callbacks callbacks)
    : client_(client),
      lease_id_(lease.id),
      options_(Resolve(options, lease.ttl_seconds)),
      callbacks_(std::move(callbacks)) {
  last_ = Renewal{lease.granted_at, lease.ttl_seconds};
}

LeaseKeepAlive::~LeaseKeepAlive() { Stop(); }

void LeaseKeepAlive::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  changed_.SignalAll();
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

LeaseKeepAlive::Renewal LeaseKeepAlive::last_renewal() const {
  MutexLock lock(&mu_);
  return last_;
}
bool LeaseKeepAlive::lost() const {
  MutexLock lock(&mu_);
  return lost_;
}
absl::Status LeaseKeepAlive::loss_reason() const {
  MutexLock lock(&mu_);
  return loss_reason_;
}
int64_t LeaseKeepAlive::renewals() const {
  MutexLock lock(&mu_);
  return renewals_;
}
int64_t LeaseKeepAlive::failed_attempts() const {
  MutexLock lock(&mu_);
  return failed_attempts_;
}

bool LeaseKeepAlive::AwaitLost(Deadline deadline) const {
  MutexLock lock(&mu_);
  return changed_.Await(
      &mu_,
      [this] {
        mu_.AssertHeld();
        return lost_;
      },
      deadline);
}

bool LeaseKeepAlive::AwaitRenewals(int64_t count, Deadline deadline) const {
  MutexLock lock(&mu_);
  changed_.Await(
      &mu_,
      [&] {
        mu_.AssertHeld();
        return renewals_ >= count || lost_;
      },
      deadline);
  return renewals_ >= count;
}

bool LeaseKeepAlive::WaitUntil(BootTime until) {
  MutexLock lock(&mu_);
  changed_.Await(
      &mu_,
      [this] {
        mu_.AssertHeld();
        return stopping_;
      },
      Deadline::At(until));
  return stopping_;
}

void LeaseKeepAlive::MarkLost(absl::Status reason) {
  {
    MutexLock lock(&mu_);
    lost_ = true;
    loss_reason_ = reason;
  }
  changed_.SignalAll();
  if (callbacks_.on_lost) callbacks_.on_lost(reason);
}

void LeaseKeepAlive::Run(std::stop_token stop) {
  BootTime next = BootClock::now() + options_.interval;
  Duration backoff = milliseconds(20);
  absl::Status last_error;
  while (!stop.stop_requested()) {
    if (WaitUntil(next)) return;
    BootTime expires_at = last_renewal().expires_at();
    BootTime sent_at = BootClock::now();
    if (sent_at >= expires_at) {
      MarkLost(absl::DeadlineExceededError(
          absl::StrFormat("lease %x was not renewed before it expired (last error: %s)", lease_id_,
                          last_error.ok() ? "none" : std::string(last_error.message()))));
      return;
    }
    if (options_.may_renew && !options_.may_renew()) {
      last_error = absl::FailedPreconditionError("renewal held back by the watchdog");
      {
        MutexLock lock(&mu_);
        ++failed_attempts_;
      }
      next = std::min(BootClock::now() + options_.interval / 4, expires_at);
      continue;
    }
    Deadline attempt = Deadline::At(std::min(expires_at, sent_at + options_.request_timeout));
    absl::StatusOr<int64_t> ttl = client_->KeepAliveOnce(lease_id_, attempt);
    if (ttl.ok() && *ttl <= 0) {
      MarkLost(absl::NotFoundError(
          absl::StrFormat("lease %x is gone: etcd answered TTL %d", lease_id_, *ttl)));
      return;
    }
    if (ttl.ok()) {
      Renewal renewal{sent_at, *ttl};
      {
        MutexLock lock(&mu_);
        last_ = renewal;
        ++renewals_;
      }
      changed_.SignalAll();
      if (callbacks_.on_renewed) callbacks_.on_renewed(renewal);
      backoff = milliseconds(20);
      next = sent_at + options_.interval;
      continue;
    }
    // Not acknowledged: try again soon (the transport already moved to another endpoint), but
    // never later than the deadline check above needs.
    last_error = ttl.status();
    {
      MutexLock lock(&mu_);
      ++failed_attempts_;
    }
    next = std::min(BootClock::now() + backoff, expires_at);
    backoff = std::min<Duration>(backoff * 2, options_.interval);
  }
}

}  // namespace coordha::etcd
