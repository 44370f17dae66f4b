#include "session/replica.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "session/server_id.h"

namespace coordha::session {
namespace {

constexpr Duration kMinBackoff = std::chrono::milliseconds(50);
constexpr Duration kMaxBackoff = std::chrono::seconds(2);

Duration NextBackoff(Duration d) { return std::min(kMaxBackoff, std::max(kMinBackoff, d * 2)); }

int64_t Millis(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

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
      self_(SelfIdentity()) {}

Replica::~Replica() { Stop(Deadline::In(std::chrono::seconds(1))); }

bool Replica::Serving() const {
  MutexLock lock(&mu_);
  // S2: serve only inside the grant of the newest acknowledged keepalive.
  return !stopping_ && status_.state == ReplicaState::kActive && session_ != nullptr &&
         BootClock::now() < session_->ServeDeadline();
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
  BootTime serve_not_before =
      BootClock::now() + options_.session.serve_grant + ServeMargin(options_.session.serve_grant);
  backoff = kMinBackoff;
  bool finished = false;
  while (!stopping()) {
    if (EnsureSession() == Outcome::kStop) break;
    if (!options_.active_standby && EnforceExclusive() == Outcome::kStop) {
      finished = !refusal().ok();
      break;
    }
    int64_t lease = 0;
    {
      MutexLock lock(&mu_);
      lease = status_.lease_id;
    }
    auto campaign = Campaign(*client_, active_key_, resigned_key_,
                             InfoJson(SessionState::kInitializing), lease, RequestDeadline());
    if (!campaign.ok()) {
      spdlog::warn("{}: campaign failed ({}); retrying", options_.role,
                   campaign.status().message());
      backoff = NextBackoff(backoff);
      if (SleepUntil(BootClock::now() + backoff)) break;
      continue;
    }
    backoff = kMinBackoff;
    if (campaign->leadership) {
      const Leadership leadership = *campaign->leadership;
      if (RunActive(leadership, campaign->revision + 1, serve_not_before) == Outcome::kStop) {
        finished = true;  // RunActive resigned
        break;
      }
      serve_not_before = BootClock::now() + options_.session.serve_grant +
                         ServeMargin(options_.session.serve_grant);
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
    if (RunStandby(ParseHolder(campaign->holder), campaign->revision + 1, &serve_not_before) ==
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

bool Replica::RemoveDeadHolder(const Holder& holder) {
  // Fenced by the dead holder's epoch, so a newer active is never touched; then its lease, so its
  // session key goes too.
  etcd::Txn txn;
  txn.compares.push_back(etcd::Compare::CreateRevision(active_key_, etcd::Compare::Op::kEqual,
                                                       holder.kv.create_revision));
  txn.success.push_back(etcd::TxnOp::Delete(active_key_));
  auto removed = client_->Commit(txn, RequestDeadline());
  int64_t my_lease = 0;
  {
    MutexLock lock(&mu_);
    my_lease = status_.lease_id;
  }
  if (holder.kv.lease != 0 && holder.kv.lease != my_lease) {
    (void)client_->LeaseRevoke(holder.kv.lease, RequestDeadline());
  }
  if (removed.ok()) {
    spdlog::info(
        "{}: server {} (pid {}) {}; removed its epoch {}", options_.role, holder.info.server_id,
        holder.info.process.pid,
        IsOwnAbandonedEpoch(holder) ? "is this replica's own ended epoch" : "is dead on this host",
        holder.kv.create_revision);
  }
  return removed.ok();
}

Replica::Outcome Replica::RunStandby(Holder holder, int64_t watch_from,
                                     BootTime* serve_not_before) {
  SetActive(holder);
  SetState(ReplicaState::kStandby);
  const int64_t server_id = status().server_id;
  spdlog::info("{}: server {} is standby; active is server {} at {} (epoch {})", options_.role,
               server_id, holder.info.server_id, holder.info.address, holder.kv.create_revision);
  std::unique_ptr<etcd::Watcher> watcher = WatchActiveKey(watch_from);
  BootTime next_reread = BootClock::now() + options_.reread_interval;
  BootTime next_log = BootClock::now() + options_.standby_log_interval;
  BootTime next_proof_check = BootClock::now();
  bool gone = false;
  while (!gone) {
    std::vector<etcd::WatchEvent> events =
        WaitForEvents(std::min({next_reread, next_log, next_proof_check}));
    if (stopping()) return Outcome::kStop;
    if (SessionDone()) return Outcome::kContinue;
    for (const etcd::WatchEvent& event : events) {
      if (event.kv.key != active_key_) continue;
      if (event.type == etcd::WatchEvent::Type::kDelete) {
        gone = true;
      } else {
        const bool new_epoch = event.kv.create_revision != holder.kv.create_revision;
        holder = ParseHolder(event.kv);
        gone = false;
        SetActive(holder);
        if (new_epoch) {
          spdlog::info("{}: active is now server {} at {} (epoch {})", options_.role,
                       holder.info.server_id, holder.info.address, holder.kv.create_revision);
        }
      }
    }
    const BootTime now = BootClock::now();
    if (now >= next_reread || (watcher->compacted())) {
      // L4: the linearizable re-read that covers a missed or compacted watch.
      auto current = client_->Get(active_key_, RequestDeadline());
      if (current.ok()) {
        if (!current->has_value()) {
          gone = true;
        } else if ((*current)->create_revision != holder.kv.create_revision) {
          holder = ParseHolder(**current);
          SetActive(holder);
        }
      }
      if (watcher->compacted()) {
        watcher.reset();
        watcher =
            WatchActiveKey(current.ok() && current->has_value() ? (*current)->mod_revision + 1 : 0);
      }
      next_reread = BootClock::now() + options_.reread_interval;
    }
    if (!gone && now >= next_proof_check) {
      // S3 with proof: an active that died on this machine is removed at once instead of after
      // its TTL. The check is local (/proc), so it runs often.
      if ((IsOwnAbandonedEpoch(holder) || ProvablyDead(holder.info.process)) &&
          RemoveDeadHolder(holder)) {
        gone = true;
      }
      next_proof_check = now + options_.proof_check_interval;
    }
    if (now >= next_log) {
      spdlog::info("{}: server {} standing by; active is server {} at {} (epoch {})", options_.role,
                   server_id, holder.info.server_id, holder.info.address,
                   holder.kv.create_revision);
      next_log = now + options_.standby_log_interval;
    }
  }
  watcher.reset();
  const BootTime gone_at = BootClock::now();
  // S3: how long a winner must wait before serving. Nothing after a clean resign of exactly this
  // epoch (L1), nothing when the old active is provably dead on this machine; otherwise the old
  // active might still be inside its serve grant, which ends at most serve_grant + margin after
  // its lease could last be renewed.
  std::string how;
  Duration wait = options_.session.serve_grant + ServeMargin(options_.session.serve_grant);
  auto marker = client_->Get(resigned_key_, RequestDeadline());
  if (marker.ok() && marker->has_value() &&
      (*marker)->value == std::to_string(holder.kv.create_revision)) {
    wait = Duration::zero();
    how = "resigned cleanly";
  } else if (ProvablyDead(holder.info.process)) {
    wait = Duration::zero();
    how = absl::StrCat("process ", holder.info.process.pid, " is dead on this host");
  } else {
    how = absl::StrCat("its lease ended; serving after ", Millis(wait), " ms (S3)");
  }
  *serve_not_before = gone_at + wait;
  spdlog::info("{}: active server {} (epoch {}) is gone: {}; campaigning", options_.role,
               holder.info.server_id, holder.kv.create_revision, how);
  return Outcome::kContinue;
}

Replica::Outcome Replica::RunActive(const Leadership& leadership, int64_t watch_from,
                                    BootTime serve_not_before) {
  const BootTime won_at = BootClock::now();
  const int64_t epoch = leadership.epoch();
  const int64_t server_id = status().server_id;
  SetState(ReplicaState::kInitializing, epoch);
  {
    MutexLock lock(&mu_);
    status_.active_server_id = server_id;
    status_.active_address = options_.info.address;
    status_.active_epoch = epoch;
  }
  spdlog::info("{}: server {} won the campaign (epoch {}); recovering", options_.role, server_id,
               epoch);
  std::unique_ptr<etcd::Watcher> watcher = WatchActiveKey(watch_from);
  auto deposed = [&](const std::string& why) {
    spdlog::warn("{}: server {} stepped down from epoch {}: {}", options_.role, server_id, epoch,
                 why);
    hooks_->Deactivate();
    SetState(ReplicaState::kStarting);
    return Outcome::kContinue;
  };

  // S7: recover before becoming visible as Healthy.
  absl::Status activated = hooks_->Activate(
      leadership, Deadline::In(std::chrono::seconds(options_.session.ttl_seconds)));
  if (!activated.ok()) {
    spdlog::error("{}: activation failed ({}); giving the role up", options_.role,
                  activated.message());
    hooks_->Deactivate();
    (void)leadership.Resign(RequestDeadline());
    SetState(ReplicaState::kStarting);
    SleepUntil(BootClock::now() + kMaxBackoff);
    return stopping() ? (FinishStop(nullptr), Outcome::kStop) : Outcome::kContinue;
  }
  // S3: the previous active may still be inside its serve grant until serve_not_before.
  if (SleepUntil(serve_not_before)) {
    hooks_->Deactivate();
    FinishStop(&leadership);
    return Outcome::kStop;
  }
  // S7: State Healthy in the active key, fenced (S1). Retry while the lease holds.
  while (true) {
    etcd::Txn txn;
    txn.success.push_back(
        etcd::TxnOp::Put(active_key_, InfoJson(SessionState::kHealthy), leadership.lease_id()));
    auto written = leadership.FencedCommit(std::move(txn), RequestDeadline());
    if (written.ok()) break;
    if (IsFenced(written.status())) return deposed("fenced while becoming healthy");
    if (stopping()) {
      hooks_->Deactivate();
      FinishStop(&leadership);
      return Outcome::kStop;
    }
    if (SessionDone()) return deposed("lease lost while recovering");
    SleepUntil(BootClock::now() + kMinBackoff);
  }
  SetState(ReplicaState::kActive, epoch);
  {
    MutexLock lock(&mu_);
    ++status_.failovers_won;
  }
  spdlog::info("{}: server {} is active (epoch {}), serving after {} ms", options_.role, server_id,
               epoch, Millis(BootClock::now() - won_at));

  BootTime next_reread = BootClock::now() + options_.reread_interval;
  while (true) {
    std::vector<etcd::WatchEvent> events = WaitForEvents(next_reread);
    if (stopping()) {
      watcher.reset();
      hooks_->Deactivate();
      FinishStop(&leadership);
      return Outcome::kStop;
    }
    if (SessionDone()) return deposed("lease lost (etcd unreachable or the lease expired)");
    for (const etcd::WatchEvent& event : events) {
      if (event.kv.key != active_key_) continue;
      if (event.type == etcd::WatchEvent::Type::kDelete || event.kv.create_revision != epoch) {
        return deposed("the active key was removed or taken");
      }
    }
    if (BootClock::now() >= next_reread || watcher->compacted()) {
      // L4: re-read the key; a watch that missed the loss must not keep us active.
      auto current = client_->Get(active_key_, RequestDeadline());
      if (current.ok() && (!current->has_value() || (*current)->create_revision != epoch)) {
        return deposed("the active key is no longer ours");
      }
      if (watcher->compacted()) {
        watcher.reset();
        watcher = WatchActiveKey(0);
      }
      next_reread = BootClock::now() + options_.reread_interval;
    }
  }
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
