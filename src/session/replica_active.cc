// The active half of the Replica loop: recovery (S7), serving under the grant (S2), the watchdog
// (L6), and the switchover handoff.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "nlohmann/json.hpp"
#include "session/replica.h"
#include "session/replica_internal.h"

namespace coordha::session {

// The value of the failover key (session/keys.h), written with the Healthy state: `tookMs` runs
// from the old epoch's end to that write.
std::string Replica::TakeoverRecord(const Takeover& takeover, int64_t epoch, int64_t server_id) {
  const auto now_wall = std::chrono::system_clock::now().time_since_epoch();
  nlohmann::json j = {
      {"epoch", epoch},
      {"serverId", server_id},
      {"cause", takeover.cause},
      {"tookMs", Millis(BootClock::now() - takeover.gone_at)},
      {"atUnixMs", std::chrono::duration_cast<std::chrono::milliseconds>(now_wall).count()},
      {"previousServerId", takeover.previous_server_id},
      {"previousEpoch", takeover.previous_epoch},
  };
  return j.dump();
}

std::unique_ptr<Watchdog> Replica::StartWatchdog(const Leadership& leadership) {
  return Watchdog::Start(
      options_.watchdog, [this](Deadline deadline) { return hooks_->Probe(deadline); },
      [this, leadership](Deadline deadline) -> absl::Status {
        // L6: etcd's write path works for us, fenced by our epoch (S1).
        etcd::Txn txn;
        txn.success.push_back(etcd::TxnOp::Put(watchdog_key_, std::to_string(leadership.epoch())));
        return leadership.FencedCommit(std::move(txn), deadline).status();
      },
      [this] {
        MutexLock lock(&mu_);
        watchdog_fenced_ = true;
        wake_ = true;
        changed_.SignalAll();
      });
}

void Replica::ClearWatchdog() {
  std::unique_ptr<Watchdog> dog;
  {
    MutexLock lock(&mu_);
    dog = std::move(watchdog_);
    watchdog_fenced_ = false;
  }
  dog.reset();  // joins its thread, whose callback takes mu_: outside the lock
}

Replica::Outcome Replica::RunActive(const Leadership& leadership, int64_t watch_from,
                                    const Takeover& takeover, bool* handed_off) {
  const BootTime won_at = BootClock::now();
  const int64_t epoch = leadership.epoch();
  const int64_t server_id = status().server_id;
  SetState(ReplicaState::kInitializing, epoch);
  {
    MutexLock lock(&mu_);
    status_.active_server_id = server_id;
    status_.active_address = options_.info.address;
    status_.active_epoch = epoch;
    status_.lag_revisions = 0;
  }
  spdlog::info("{}: server {} won the campaign (epoch {}); recovering", options_.role, server_id,
               epoch);
  std::unique_ptr<etcd::Watcher> watcher = WatchActiveKey(watch_from);
  auto deposed = [&](const std::string& why) {
    spdlog::warn("{}: server {} stepped down from epoch {}: {}", options_.role, server_id, epoch,
                 why);
    ClearWatchdog();
    hooks_->Deactivate();
    SetState(ReplicaState::kStarting);
    return Outcome::kContinue;
  };
  auto stop = [&] {
    watcher.reset();
    ClearWatchdog();
    hooks_->Deactivate();
    FinishStop(&leadership);
    return Outcome::kStop;
  };

  // S7: recover before becoming visible as Healthy. The S3 wait runs alongside.
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
  if (SleepUntil(takeover.serve_not_before)) return stop();
  // S7: State Healthy in the active key, fenced (S1), with the record of this takeover for
  // `coordha status`. Retry while the lease holds.
  const std::string record = TakeoverRecord(takeover, epoch, server_id);
  while (true) {
    etcd::Txn txn;
    txn.success.push_back(
        etcd::TxnOp::Put(active_key_, InfoJson(SessionState::kHealthy), leadership.lease_id()));
    if (takeover.cause != "none") {
      txn.success.push_back(etcd::TxnOp::Put(options_.keys.FailoverKey(options_.role), record));
    }
    auto written = leadership.FencedCommit(std::move(txn), RequestDeadline());
    if (written.ok()) break;
    if (IsFenced(written.status())) {
      if (options_.observer != nullptr) options_.observer->OnFencedWrite();
      return deposed("fenced while becoming healthy");
    }
    if (stopping()) return stop();
    if (SessionDone()) return deposed("lease lost while recovering");
    SleepUntil(BootClock::now() + kMinBackoff);
  }
  SetState(ReplicaState::kActive, epoch);
  const Duration took = BootClock::now() - takeover.gone_at;
  {
    MutexLock lock(&mu_);
    ++status_.failovers_won;
    status_.last_takeover_cause = takeover.cause;
    status_.last_takeover_took = took;
    // L6: from now on the lease is renewed only while the watchdog passes.
    if (options_.watchdog_enabled) watchdog_ = StartWatchdog(leadership);
    watchdog_fenced_ = false;
  }
  if (options_.observer != nullptr) options_.observer->OnTakeover(takeover.cause, took);
  spdlog::info(
      "{}: server {} is active (epoch {}), serving after {} ms (previous epoch: {}, {} ms "
      "from its end)",
      options_.role, server_id, epoch, Millis(BootClock::now() - won_at), takeover.cause,
      Millis(took));

  BootTime next_reread = BootClock::now() + options_.reread_interval;
  while (true) {
    std::vector<etcd::WatchEvent> events = WaitForEvents(next_reread);
    if (stopping()) return stop();
    if (SessionDone()) return deposed("lease lost (etcd unreachable or the lease expired)");
    int64_t handoff_to = -1;
    bool fenced = false;
    {
      MutexLock lock(&mu_);
      if (handoff_ != nullptr && !handoff_->taken) {
        handoff_->taken = true;
        handoff_to = handoff_->to;
      }
      fenced = watchdog_fenced_;
    }
    if (fenced) {
      if (options_.observer != nullptr) options_.observer->OnFencedWrite();
      return deposed("the watchdog's fenced write was refused: another epoch holds the role");
    }
    if (handoff_to >= 0) {
      watcher.reset();
      PerformHandoff(leadership, handoff_to);
      *handed_off = true;
      return Outcome::kContinue;
    }
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

void Replica::PerformHandoff(const Leadership& leadership, int64_t to) {
  // L1 without exiting: stop answering first (the Gate refuses with STOPPING, and calls in flight
  // fail their S2 re-check), then one fenced Txn deletes the key, marks the epoch resigned and
  // names the successor; then stand by.
  SetState(ReplicaState::kStopping, leadership.epoch());
  ClearWatchdog();
  hooks_->Deactivate();
  absl::Status resigned = leadership.ResignTo(to, handoff_key_, RequestDeadline());
  if (resigned.ok()) {
    spdlog::info("{}: server {} resigned epoch {} for a switchover{}", options_.role,
                 status().server_id, leadership.epoch(),
                 to != 0 ? absl::StrCat(" to server ", to) : std::string());
  } else {
    spdlog::warn("{}: switchover resign of epoch {} failed ({})", options_.role, leadership.epoch(),
                 resigned.message());
  }
  {
    MutexLock lock(&mu_);
    if (handoff_ != nullptr && handoff_->taken && !handoff_->done) {
      handoff_->done = true;
      if (resigned.ok()) {
        handoff_->result = leadership.epoch();
      } else {
        handoff_->result = resigned;
      }
    }
    changed_.SignalAll();
  }
  SetState(ReplicaState::kStarting);
}

absl::StatusOr<int64_t> Replica::HandOff(int64_t to_server_id, const HandoffCheck& check,
                                         Deadline deadline) {
  const ReplicaStatus now = status();
  if (!Serving()) {
    return absl::FailedPreconditionError(
        absl::StrCat("server ", now.server_id, " is not the serving active of ", options_.role,
                     now.active_server_id != 0 && now.active_server_id != now.server_id
                         ? absl::StrCat("; the active is server ", now.active_server_id, " at ",
                                        now.active_address)
                         : std::string()));
  }
  if (to_server_id == now.server_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("server ", to_server_id, " is already the active of ", options_.role));
  }
  if (to_server_id != 0) {
    auto kv = client_->Get(options_.keys.SessionKey(options_.role, to_server_id), deadline);
    if (!kv.ok()) return kv.status();
    if (!kv->has_value()) {
      return absl::NotFoundError(absl::StrCat("server ", to_server_id, " has no live ",
                                              options_.role,
                                              " session (`coordha status` lists the standbys)"));
    }
    auto info = ParseSessionInfo((*kv)->value);
    if (!info.ok() || info->stopping || info->state == SessionState::kStopping) {
      return absl::FailedPreconditionError(
          absl::StrCat("server ", to_server_id, " is stopping; pick another standby"));
    }
    if (check) COORDHA_RETURN_IF_ERROR(check(*info, deadline));
  }
  HandoffRequest request{.to = to_server_id};
  MutexLock lock(&mu_);
  if (handoff_ != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("a switchover of ", options_.role, " is already in progress"));
  }
  handoff_ = &request;
  wake_ = true;
  changed_.SignalAll();
  changed_.Await(
      &mu_,
      [&] {
        mu_.AssertHeld();
        return request.done || stopping_;
      },
      deadline);
  handoff_ = nullptr;
  if (request.done) return request.result;
  if (stopping_) return absl::UnavailableError("the server is stopping");
  return absl::DeadlineExceededError(
      absl::StrCat("the switchover of ", options_.role, " did not finish in time"));
}

}  // namespace coordha::session
