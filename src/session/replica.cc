#include "session/replica.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "session/replica_internal.h"
#include "session/server_id.h"

namespace coordha::session {

const char* ReplicaStateName(ReplicaState state) {
  switch (state) {
    case ReplicaState::kStarting:
      return "Starting";
    case ReplicaState::kStandby:
      return "StandBy";
    case ReplicaState::kInitializing:
      return "Initializing";
    case ReplicaState::kActive:
      return "Healthy";
    case ReplicaState::kStopping:
      return "Stopping";
    case ReplicaState::kStopped:
      return "Stopped";
  }
  return "Starting";
}

std::unique_ptr<Replica> Replica::Create(etcd::Client* client, ReplicaOptions options,
                                         ReplicaHooks* hooks) {
  return std::unique_ptr<Replica>(new Replica(client, std::move(options), hooks));
}

void Replica::Start() {
  thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
}

Replica::Replica(etcd::Client* client, ReplicaOptions options, ReplicaHooks* hooks)
    : client_(client),
      options_(std::move(options)),
      hooks_(hooks),
      active_key_(options_.keys.ActiveKey(options_.role)),
      resigned_key_(options_.keys.ResignedKey(options_.role)),
      handoff_key_(options_.keys.HandoffKey(options_.role)),
      watchdog_key_(options_.keys.WatchdogKey(options_.role)),
      self_(SelfIdentity()) {}

Replica::~Replica() { Stop(Deadline::In(std::chrono::seconds(1))); }

bool Replica::Serving() const {
  MutexLock lock(&mu_);
  // S2: serve only inside the grant of the newest acknowledged keepalive.
  return !stopping_ && status_.state == ReplicaState::kActive && session_ != nullptr &&
         BootClock::now() < session_->ServeDeadline();
}

bool Replica::WithinServeGrant() const {
  MutexLock lock(&mu_);
  return !stopping_ &&
         (status_.state == ReplicaState::kActive || status_.state == ReplicaState::kInitializing) &&
         session_ != nullptr && BootClock::now() < session_->ServeDeadline();
}

Duration Replica::ServeGrantRemaining() const {
  MutexLock lock(&mu_);
  if (session_ == nullptr || status_.state != ReplicaState::kActive || stopping_) return {};
  return std::max(Duration::zero(), session_->ServeDeadline() - BootClock::now());
}

Duration Replica::LeaseRemaining() const {
  MutexLock lock(&mu_);
  if (session_ == nullptr) return {};
  return std::max(Duration::zero(), session_->LeaseDeadline() - BootClock::now());
}

ReplicaStatus Replica::status() const {
  MutexLock lock(&mu_);
  return status_;
}

absl::Status Replica::refusal() const {
  MutexLock lock(&mu_);
  return refusal_;
}

bool Replica::AwaitStatus(const std::function<bool(const ReplicaStatus&)>& pred,
                          Deadline deadline) const {
  MutexLock lock(&mu_);
  return changed_.Await(
      &mu_,
      [&] {
        mu_.AssertHeld();
        return pred(status_);
      },
      deadline);
}

void Replica::BeginStop() {
  MutexLock lock(&mu_);
  if (!stopping_) {
    stopping_ = true;
    if (status_.state != ReplicaState::kStopped) status_.state = ReplicaState::kStopping;
  }
  changed_.SignalAll();
}

void Replica::Stop(Deadline deadline) {
  BeginStop();
  {
    MutexLock lock(&mu_);
    if (!stop_deadline_.is_set()) stop_deadline_ = deadline;
    changed_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

bool Replica::SessionDone() const {
  MutexLock lock(&mu_);
  return session_ == nullptr || session_->done();
}

bool Replica::stopping() const {
  MutexLock lock(&mu_);
  return stopping_;
}

void Replica::SetState(ReplicaState state, int64_t epoch) {
  MutexLock lock(&mu_);
  if (stopping_ && state != ReplicaState::kStopped) state = ReplicaState::kStopping;
  status_.state = state;
  status_.epoch = epoch;
  changed_.SignalAll();
}

void Replica::SetActive(const Holder& holder) {
  MutexLock lock(&mu_);
  status_.active_server_id = holder.info.server_id;
  status_.active_address = holder.info.address;
  status_.active_epoch = holder.kv.create_revision;
  changed_.SignalAll();
}

bool Replica::SleepUntil(BootTime until) {
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

std::vector<etcd::WatchEvent> Replica::WaitForEvents(BootTime until) {
  MutexLock lock(&mu_);
  changed_.Await(
      &mu_,
      [this] {
        mu_.AssertHeld();
        return wake_ || stopping_ || !events_.empty();
      },
      Deadline::At(until));
  wake_ = false;
  return std::exchange(events_, {});
}

Replica::Holder Replica::ParseHolder(const etcd::KeyValue& kv) {
  Holder holder{.kv = kv};
  auto info = ParseSessionInfo(kv.value);
  if (info.ok()) holder.info = *std::move(info);
  return holder;
}

std::string Replica::InfoJson(SessionState state) const {
  SessionInfo info = options_.info;
  info.server_name = options_.role;
  info.exclusive = !options_.active_standby;
  info.process = self_;
  info.state = state;
  info.stopping = state == SessionState::kStopping;
  MutexLock lock(&mu_);
  info.server_id = status_.server_id;
  info.lease_id = status_.lease_id;
  return ToJson(info);
}

absl::Status Replica::PublishSession(SessionState state, Deadline deadline) {
  int64_t lease = 0, server_id = 0;
  {
    MutexLock lock(&mu_);
    lease = status_.lease_id;
    server_id = status_.server_id;
  }
  auto put = client_->Put(options_.keys.SessionKey(options_.role, server_id), InfoJson(state),
                          etcd::PutOptions{.lease = lease}, deadline);
  return put.status();
}

std::unique_ptr<etcd::Watcher> Replica::WatchActiveKey(int64_t from) {
  {
    // Events of an earlier watch were about an earlier state of the loop; the caller read the key
    // at `from` - 1 and starts over from there.
    MutexLock lock(&mu_);
    events_.clear();
  }
  etcd::Watcher::Callbacks callbacks;
  callbacks.on_events = [this](const std::vector<etcd::WatchEvent>& events) {
    MutexLock lock(&mu_);
    events_.insert(events_.end(), events.begin(), events.end());
    changed_.SignalAll();
  };
  // After a compaction the watch ends; the periodic re-read (L4) still covers the key, and the
  // next state of the loop opens a new watch.
  callbacks.on_compacted = [this](int64_t) {
    MutexLock lock(&mu_);
    wake_ = true;
    changed_.SignalAll();
  };
  return etcd::Watcher::Start(client_, active_key_, etcd::WatchOptions{.start_revision = from},
                              std::move(callbacks));
}

void Replica::Run(std::stop_token) {
  // A server ID, once per process: it stays the same across re-registrations.
  Duration backoff = kMinBackoff;
  BootTime next_complaint{};
  while (!stopping()) {
    auto id = AllocateServerId(*client_, options_.keys, RequestDeadline());
    if (id.ok()) {
      MutexLock lock(&mu_);
      status_.server_id = *id;
      break;
    }
    if (BootClock::now() >= next_complaint) {
      spdlog::warn("{}: cannot register with etcd yet ({}); retrying", options_.role,
                   id.status().message());
      next_complaint = BootClock::now() + std::chrono::seconds(10);
    }
    backoff = NextBackoff(backoff);
    if (SleepUntil(BootClock::now() + backoff)) break;
  }

  // A fresh process knows nothing of how the last epoch ended: S3 wait before serving.
  // A fresh process knows nothing of how the last epoch ended: S3 wait before serving.
  Takeover takeover;
  takeover.gone_at = BootClock::now();
  takeover.serve_not_before =
      takeover.gone_at + options_.session.serve_grant + ServeMargin(options_.session.serve_grant);
  backoff = kMinBackoff;
  int short_tenures = 0;  // L7: consecutive times the role was lost soon after winning it
  bool finished = false;
  while (!stopping()) {
    if (EnsureSession() == Outcome::kStop) break;
    if (!options_.active_standby && EnforceExclusive() == Outcome::kStop) {
      finished = !refusal().ok();
      break;
    }
    // L7: defer to a named successor, a higher priority or a catching-up copy, or back off after
    // losing the role. Stand by as soon as someone else wins meanwhile.
    if (BootClock::now() < takeover.campaign_not_before) {
      SetState(ReplicaState::kStandby);
      std::optional<etcd::RangeResult> taken;
      while (!stopping() && BootClock::now() < takeover.campaign_not_before) {
        auto read = client_->Range(active_key_, etcd::RangeOptions{}, RequestDeadline());
        if (read.ok() && !read->kvs.empty()) {
          taken = *std::move(read);
          break;
        }
        SleepUntil(std::min(BootClock::now() + kDeferPoll, takeover.campaign_not_before));
      }
      if (stopping()) break;
      takeover.campaign_not_before = BootTime{};
      if (taken.has_value()) {
        if (RunStandby(ParseHolder(taken->kvs.front()), taken->revision + 1, &takeover) ==
            Outcome::kStop) {
          break;
        }
        continue;
      }
    }
    int64_t lease = 0;
    {
      MutexLock lock(&mu_);
      lease = status_.lease_id;
    }
    auto campaign = Campaign(*client_, active_key_, resigned_key_,
                             InfoJson(SessionState::kInitializing), lease, RequestDeadline());
    if (!campaign.ok()) {
      if (options_.observer != nullptr) options_.observer->OnCampaign("error");
      spdlog::warn("{}: campaign failed ({}); retrying", options_.role,
                   campaign.status().message());
      backoff = NextBackoff(backoff);
      if (SleepUntil(BootClock::now() + backoff)) break;
      continue;
    }
    if (options_.observer != nullptr) {
      options_.observer->OnCampaign(campaign->leadership ? "won" : "lost");
    }
    backoff = kMinBackoff;
    if (campaign->leadership) {
      const Leadership leadership = *campaign->leadership;
      const BootTime won_at = BootClock::now();
      bool handed_off = false;
      if (RunActive(leadership, campaign->revision + 1, takeover, &handed_off) == Outcome::kStop) {
        finished = true;  // RunActive resigned
        break;
      }
      // Whatever ended this epoch, the next one of ours starts with the S3 wait.
      takeover = Takeover{};
      takeover.gone_at = BootClock::now();
      takeover.serve_not_before = takeover.gone_at + options_.session.serve_grant +
                                  ServeMargin(options_.session.serve_grant);
      if (handed_off) {
        // L7: the successor (or, without one, any other standby) goes first.
        takeover.campaign_not_before = BootClock::now() + options_.handoff_defer;
        short_tenures = 0;
      } else {
        // L7: a jittered, growing backoff when the role keeps slipping away soon after winning.
        short_tenures = BootClock::now() - won_at < kShortTenure ? short_tenures + 1 : 0;
        takeover.campaign_not_before = BootClock::now() + JitteredBackoff(short_tenures);
      }
      continue;
    }
    if (!options_.active_standby) {
      // Exclusive mode lost a race for the role: refuse like EnforceExclusive does.
      if (EnforceExclusive() == Outcome::kStop) {
        finished = !refusal().ok();
        break;
      }
      continue;
    }
    if (RunStandby(ParseHolder(campaign->holder), campaign->revision + 1, &takeover) ==
        Outcome::kStop) {
      break;
    }
  }
  if (!finished) FinishStop(nullptr);
  std::unique_ptr<Session> session;
  {
    MutexLock lock(&mu_);
    session = std::move(session_);
  }
  session.reset();  // outside mu_: its keepalive thread may be in on_done, which takes mu_
  SetState(ReplicaState::kStopped);
}

Replica::Outcome Replica::EnsureSession() {
  std::unique_ptr<Session> old;
  {
    MutexLock lock(&mu_);
    if (session_ != nullptr && !session_->done()) return Outcome::kContinue;
    old = std::move(session_);
    status_.lease_id = 0;
  }
  if (old != nullptr) {
    // S6: a lost lease is not fatal. Register again with a new one.
    spdlog::warn("{}: server {} lost its etcd lease ({}); registering again", options_.role,
                 status().server_id, old->done_reason().message());
    old.reset();
  }
  SetState(ReplicaState::kStarting);
  Duration backoff = kMinBackoff;
  BootTime next_complaint{};
  while (!stopping()) {
    SessionOptions session_options = options_.session;
    session_options.on_done = [this](const absl::Status&) {
      MutexLock lock(&mu_);
      wake_ = true;
      changed_.SignalAll();
    };
    // L6: while active, renew only while the watchdog passes.
    session_options.may_renew = [this] {
      MutexLock lock(&mu_);
      return watchdog_ == nullptr || watchdog_->RenewalAllowed();
    };
    if (options_.observer != nullptr) {
      session_options.on_renewed = [observer = options_.observer](Duration rtt) {
        observer->OnKeepaliveRtt(rtt);
      };
    }
    auto session = Session::Create(client_, std::move(session_options), RequestDeadline());
    absl::Status status = session.status();
    if (session.ok()) {
      {
        MutexLock lock(&mu_);
        status_.lease_id = (*session)->lease_id();
        session_ = *std::move(session);
      }
      status = PublishSession(SessionState::kHealthy, RequestDeadline());
      if (status.ok()) {
        const ReplicaStatus now = this->status();
        spdlog::info("{}: registered as server {} (lease {:x}, TTL {} s)", options_.role,
                     now.server_id, now.lease_id, options_.session.ttl_seconds);
        return Outcome::kContinue;
      }
      std::unique_ptr<Session> failed;
      {
        MutexLock lock(&mu_);
        failed = std::move(session_);
        status_.lease_id = 0;
      }
      if (failed != nullptr) (void)failed->Close(RequestDeadline());
    }
    if (BootClock::now() >= next_complaint) {
      spdlog::warn("{}: etcd unreachable ({}); retrying every endpoint", options_.role,
                   status.message());
      next_complaint = BootClock::now() + std::chrono::seconds(10);
    }
    backoff = NextBackoff(backoff);
    if (SleepUntil(BootClock::now() + backoff)) break;
  }
  return Outcome::kStop;
}

Replica::Outcome Replica::EnforceExclusive() {
  // Up to the TTL for a holder that is not provably dead to go away.
  const BootTime give_up = BootClock::now() + std::chrono::seconds(options_.session.ttl_seconds) +
                           std::chrono::seconds(1);
  bool announced = false;
  while (!stopping()) {
    auto current = client_->Get(active_key_, RequestDeadline());
    if (!current.ok()) {
      if (SleepUntil(BootClock::now() + std::chrono::milliseconds(200))) break;
      continue;
    }
    if (!current->has_value()) return Outcome::kContinue;
    const Holder holder = ParseHolder(**current);
    if (IsOwnAbandonedEpoch(holder) || ProvablyDead(holder.info.process)) {
      // S3: proof on this machine that the holder is dead: remove its key (fenced by its epoch)
      // and its lease, and take the role at once.
      RemoveDeadHolder(holder);
      continue;
    }
    if (BootClock::now() >= give_up) {
      MutexLock lock(&mu_);
      refusal_ = absl::FailedPreconditionError(absl::StrCat(
          options_.role, " is already running: server ", holder.info.server_id, " at ",
          holder.info.address.empty() ? "an unknown address" : holder.info.address, " (pid ",
          holder.info.process.pid, " on ",
          holder.info.process.host_name.empty() ? "an unknown host" : holder.info.process.host_name,
          ") holds ", active_key_, "; to run more than one replica set ",
          options_.active_standby_key, "=true on every replica"));
      changed_.SignalAll();
      return Outcome::kStop;
    }
    if (!announced) {
      spdlog::info("{}: server {} at {} holds the role; waiting up to the TTL for it to expire",
                   options_.role, holder.info.server_id, holder.info.address);
      announced = true;
    }
    if (SleepUntil(BootClock::now() + std::chrono::milliseconds(200))) break;
  }
  return Outcome::kStop;
}

bool Replica::IsOwnAbandonedEpoch(const Holder& holder) const {
  // This very replica (same process, same server ID) holds the key, yet it is not serving that
  // epoch: it was asked only outside RunActive. Typically the key sits on a lease we lost (etcd
  // restores leases when it restarts, so the key can outlive our view of it); after a step-down it
  // may even be on our current lease. Either way that epoch has ended.
  const ProcessIdentity& p = holder.info.process;
  if (p.boot_id != self_.boot_id || p.pid_ns != self_.pid_ns || p.pid != self_.pid ||
      p.start_time != self_.start_time || self_.boot_id.empty()) {
    return false;
  }
  MutexLock lock(&mu_);
  return holder.info.server_id == status_.server_id;
}

void Replica::FinishStop(const Leadership* leadership) {
  Deadline deadline;
  {
    MutexLock lock(&mu_);
    // L1: the host drains between BeginStop() and Stop(); resign only once Stop() is called.
    changed_.Await(&mu_, [this] {
      mu_.AssertHeld();
      return stop_deadline_.is_set();
    });
    deadline = stop_deadline_;
  }
  if (leadership != nullptr) {
    absl::Status resigned = leadership->Resign(deadline);
    if (resigned.ok()) {
      spdlog::info("{}: resigned epoch {}", options_.role, leadership->epoch());
    } else {
      spdlog::warn("{}: could not resign epoch {} ({}); the lease will expire", options_.role,
                   leadership->epoch(), resigned.message());
    }
  }
  std::unique_ptr<Session> session;
  {
    MutexLock lock(&mu_);
    session = std::move(session_);
  }
  if (session != nullptr) {
    absl::Status closed = session->Close(deadline);
    if (!closed.ok()) {
      spdlog::warn("{}: could not revoke the lease ({}); it will expire", options_.role,
                   closed.message());
    }
  }
}

}  // namespace coordha::session
