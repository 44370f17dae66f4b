// The standby half of the Replica loop: watching the active, the S3 triggers that end its epoch
// early, and what the end of an epoch means for the next campaign (S3 wait, L7 deferral).
#include <algorithm>
#include <variant>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "session/replica.h"
#include "session/replica_internal.h"

namespace coordha::session {
namespace {

// The first value read by op `index` of a Txn result; "" when absent.
std::string ValueOf(const etcd::TxnResult& result, size_t index) {
  if (index >= result.results.size()) return "";
  const auto* read = std::get_if<etcd::RangeResult>(&result.results[index]);
  if (read == nullptr || read->kvs.empty()) return "";
  return read->kvs.front().value;
}

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

void Replica::RefreshPeers() {
  auto read = client_->Range(options_.keys.SessionPrefix() + options_.role + "-",
                             etcd::RangeOptions{.prefix = true}, RequestDeadline());
  if (!read.ok()) return;
  std::vector<SessionInfo> peers;
  for (const etcd::KeyValue& kv : read->kvs) {
    auto info = ParseSessionInfo(kv.value);
    if (info.ok()) peers.push_back(*std::move(info));
  }
  peers_ = std::move(peers);
}

bool Replica::EndEpochEarly(const Holder& holder, absl::string_view reason) {
  // S3: the lease goes first, so the key goes with it atomically and the old active cannot renew
  // any more: from that moment it stops answering by S2 within its grant. Every standby measures
  // its S3 wait from seeing the key gone, which is after the revoke — deleting the key first would
  // leave a window in which the old active could still renew while another standby's wait had
  // already started. The revoke is aimed by re-reading the key: only while it still holds this
  // epoch on this lease. The fenced delete after it covers a key on no lease (or on ours).
  int64_t my_lease = 0;
  {
    MutexLock lock(&mu_);
    my_lease = status_.lease_id;
  }
  bool ended = false;
  if (holder.kv.lease != 0 && holder.kv.lease != my_lease) {
    auto current = client_->Get(active_key_, RequestDeadline());
    if (!current.ok()) return false;
    if (!current->has_value() || (*current)->create_revision != holder.kv.create_revision) {
      return true;  // that epoch is over already
    }
    if ((*current)->lease == holder.kv.lease) {
      absl::Status revoked = client_->LeaseRevoke(holder.kv.lease, RequestDeadline());
      if (!revoked.ok() && !absl::IsNotFound(revoked)) return false;
      ended = revoked.ok();
    }
  }
  etcd::Txn txn;
  txn.compares.push_back(etcd::Compare::CreateRevision(active_key_, etcd::Compare::Op::kEqual,
                                                       holder.kv.create_revision));
  txn.success.push_back(etcd::TxnOp::Delete(active_key_));
  auto removed = client_->Commit(txn, RequestDeadline());
  ended = ended || (removed.ok() && removed->succeeded);
  if (ended) {
    if (options_.observer != nullptr) options_.observer->OnRevoke(reason);
    std::string why = IsOwnAbandonedEpoch(holder) ? std::string("this replica's own ended epoch")
                      : reason == "proof"         ? std::string("it is dead on this host")
                                                  : absl::StrCat("trigger: ", reason);
    spdlog::info("{}: ended epoch {} of server {} (pid {}): {}", options_.role,
                 holder.kv.create_revision, holder.info.server_id, holder.info.process.pid, why);
  }
  return removed.ok();
}

Replica::Outcome Replica::RunStandby(Holder holder, int64_t watch_from, Takeover* takeover) {
  SetActive(holder);
  SetState(ReplicaState::kStandby);
  const int64_t server_id = status().server_id;
  spdlog::info("{}: server {} is standby; active is server {} at {} (epoch {})", options_.role,
               server_id, holder.info.server_id, holder.info.address, holder.kv.create_revision);
  std::unique_ptr<etcd::Watcher> watcher = WatchActiveKey(watch_from);
  std::unique_ptr<LivenessWatch> liveness;
  int64_t liveness_for = 0;  // the epoch `liveness` watches
  BootTime epoch_seen_at = BootClock::now();
  BootTime next_reread = BootClock::now() + options_.reread_interval;
  BootTime next_log = BootClock::now() + options_.standby_log_interval;
  BootTime next_proof_check = BootClock::now();
  BootTime next_suspect_check = BootClock::now() + options_.suspect_poll_interval;
  BootTime next_lag_check = BootClock::now();
  // Lease suspicion (S3): the unrenewed seconds etcd last reported, and since when etcd has
  // answered every poll without showing a renewal.
  int64_t last_unrenewed = -1;
  int64_t suspect_epoch = 0;
  BootTime suspect_streak_since{};
  std::string trigger;  // the S3 trigger this replica acted on, "" when none
  bool gone = false;
  while (!gone) {
    // L2: a liveness watch on the current epoch's active (not on an epoch of our own).
    if (options_.liveness != nullptr && liveness_for != holder.kv.create_revision &&
        !holder.info.address.empty() && holder.info.server_id != server_id) {
      liveness.reset();
      const int64_t epoch = holder.kv.create_revision;
      {
        MutexLock lock(&mu_);
        liveness_trigger_.clear();
        liveness_epoch_ = epoch;
      }
      liveness =
          options_.liveness->Watch(holder.info.address, epoch, [this, epoch](std::string why) {
            MutexLock lock(&mu_);
            if (liveness_epoch_ != epoch || !liveness_trigger_.empty()) return;
            liveness_trigger_ = std::move(why);
            wake_ = true;
            changed_.SignalAll();
          });
      liveness_for = epoch;
    }
    std::vector<etcd::WatchEvent> events = WaitForEvents(
        std::min({next_reread, next_log, next_proof_check, next_suspect_check, next_lag_check}));
    if (stopping()) return Outcome::kStop;
    if (SessionDone()) {
      *takeover = Takeover{};
      takeover->gone_at = BootClock::now();
      takeover->serve_not_before = takeover->gone_at + options_.session.serve_grant +
                                   ServeMargin(options_.session.serve_grant);
      return Outcome::kContinue;
    }
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
          epoch_seen_at = BootClock::now();
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
          epoch_seen_at = BootClock::now();
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
        trigger = "proof";
      }
      next_proof_check = now + options_.proof_check_interval;
    }
    // L7: a young active is ended early only on proof.
    const bool young = now - epoch_seen_at < options_.min_active_time;
    if (!gone && !young) {
      std::string reason;
      {
        MutexLock lock(&mu_);
        if (liveness_epoch_ == holder.kv.create_revision) reason = liveness_trigger_;
      }
      if (!reason.empty()) {
        // S3 trigger: the liveness stream broke and did not come back, or the address refuses.
        const std::string label = reason.substr(0, reason.find(':'));
        spdlog::warn("{}: active server {} at {} (epoch {}) looks dead ({}); ending its epoch",
                     options_.role, holder.info.server_id, holder.info.address,
                     holder.kv.create_revision, reason);
        if (EndEpochEarly(holder, label)) {
          gone = true;
          trigger = label;
        } else {
          liveness_for = 0;  // watch again; it triggers again if the address still refuses
        }
      }
    }
    if (!gone && !young && options_.suspect_after > Duration::zero() && now >= next_suspect_check &&
        holder.kv.lease != 0 && !IsOwnAbandonedEpoch(holder)) {
      // S3 trigger: etcd shows the lease not renewed for longer than suspect_after. etcd reports
      // whole seconds, truncated: granted - remaining - 1 is a lower bound of the time since the
      // last renewal etcd saw.
      auto ttl =
          client_->TimeToLive(holder.kv.lease, false,
                              Deadline::In(std::max(options_.suspect_poll_interval * 2,
                                                    Duration(std::chrono::milliseconds(500)))));
      if (ttl.ok() && ttl->ttl_seconds >= 0 && ttl->granted_ttl_seconds > 0) {
        const int64_t unrenewed = ttl->granted_ttl_seconds - ttl->ttl_seconds - 1;
        // Count only what this standby watched with etcd answering: a streak of answers with no
        // renewal in between. After etcd itself stalled (this poll failing too), the first answer
        // shows a stale lease that the active renews right away; that must not depose it.
        if (suspect_epoch != holder.kv.create_revision || last_unrenewed < 0 ||
            unrenewed < last_unrenewed) {
          suspect_streak_since = BootClock::now();
          suspect_epoch = holder.kv.create_revision;
        }
        last_unrenewed = unrenewed;
        if (static_cast<double>(unrenewed) >= Seconds(options_.suspect_after) &&
            BootClock::now() - suspect_streak_since >= options_.session.serve_grant) {
          spdlog::warn(
              "{}: active server {} (epoch {}) has not renewed its lease for over {} s "
              "(suspectAfter {:.1f} s); ending its epoch",
              options_.role, holder.info.server_id, holder.kv.create_revision, unrenewed,
              Seconds(options_.suspect_after));
          if (EndEpochEarly(holder, "suspect")) {
            gone = true;
            trigger = "suspect";
          }
        }
      } else {
        last_unrenewed = -1;  // no answer: the streak is broken
      }
      next_suspect_check = BootClock::now() + options_.suspect_poll_interval;
    }
    if (now >= next_lag_check) {
      // L5: how far this copy is behind, for /status, the metric and L7's deferral.
      auto lag = hooks_->StandbyLag(Deadline::In(std::chrono::milliseconds(500)));
      {
        MutexLock lock(&mu_);
        status_.lag_revisions = lag.ok() ? *lag : -1;
      }
      next_lag_check = BootClock::now() + std::chrono::seconds(1);
    }
    if (now >= next_log) {
      spdlog::info("{}: server {} standing by; active is server {} at {} (epoch {})", options_.role,
                   server_id, holder.info.server_id, holder.info.address,
                   holder.kv.create_revision);
      next_log = now + options_.standby_log_interval;
    }
  }
  liveness.reset();
  watcher.reset();
  *takeover = PlanTakeover(holder, trigger);
  return Outcome::kContinue;
}

Replica::Takeover Replica::PlanTakeover(const Holder& holder, const std::string& trigger) {
  Takeover plan;
  plan.gone_at = BootClock::now();
  plan.previous_server_id = holder.info.server_id;
  plan.previous_epoch = holder.kv.create_revision;
  // One read: did the epoch end by a clean resign (L1), and did it name a successor?
  etcd::Txn txn;
  txn.success.push_back(etcd::TxnOp::Get(resigned_key_));
  txn.success.push_back(etcd::TxnOp::Get(handoff_key_));
  auto read = client_->Commit(txn, RequestDeadline());
  const std::string epoch = std::to_string(holder.kv.create_revision);
  bool resigned = false;
  int64_t successor = 0;
  if (read.ok()) {
    resigned = ValueOf(*read, 0) == epoch;
    std::vector<std::string> handoff = absl::StrSplit(ValueOf(*read, 1), ' ');
    if (resigned && handoff.size() == 2 && handoff[0] == epoch) {
      (void)absl::SimpleAtoi(handoff[1], &successor);
    }
  }
  // S3: how long a winner must wait before serving. Nothing after a clean resign of exactly this
  // epoch (L1), nothing when the old active is provably dead on this machine; otherwise the old
  // active might still be inside its serve grant, which ends at most serve_grant + margin after
  // its lease could last be renewed.
  Duration wait = options_.session.serve_grant + ServeMargin(options_.session.serve_grant);
  std::string how;
  if (resigned) {
    wait = Duration::zero();
    plan.cause = successor != 0 ? "switchover" : "resigned";
    how = successor != 0 ? absl::StrCat("switchover to server ", successor) : "resigned cleanly";
  } else if (trigger == "proof" || ProvablyDead(holder.info.process)) {
    wait = Duration::zero();
    plan.cause = "proof";
    how = absl::StrCat("process ", holder.info.process.pid, " is dead on this host");
  } else {
    plan.cause = trigger.empty() ? "expired" : trigger;
    how =
        absl::StrCat(trigger.empty() ? "its lease ended" : "its epoch was ended (" + trigger + ")",
                     "; serving after ", Millis(wait), " ms (S3)");
  }
  plan.serve_not_before = plan.gone_at + wait;

  // L7: who should go first.
  const int64_t me = status().server_id;
  std::string defer;
  if (successor != 0 && successor != me) {
    plan.campaign_not_before = plan.gone_at + options_.handoff_defer;
    defer = absl::StrCat("deferring to server ", successor);
  } else if (successor == 0) {
    RefreshPeers();  // one read: who is registered now, with which priority
    for (const SessionInfo& peer : peers_) {
      if (peer.server_id == me || peer.server_id == holder.info.server_id || peer.stopping ||
          peer.state == SessionState::kStopping || peer.priority <= options_.info.priority) {
        continue;
      }
      plan.campaign_not_before = plan.gone_at + options_.priority_defer;
      defer =
          absl::StrCat("deferring to server ", peer.server_id, " (priority ", peer.priority, ")");
      break;
    }
    int64_t lag = status().lag_revisions;
    if (lag > 0) {
      auto now_lag = hooks_->StandbyLag(Deadline::In(std::chrono::milliseconds(500)));
      lag = now_lag.ok() ? *now_lag : -1;
      if (lag > 0) {
        // A lagging copy lets a current one win first; it still campaigns, later.
        plan.campaign_not_before =
            std::max(plan.campaign_not_before, plan.gone_at + std::chrono::milliseconds(500));
        defer = absl::StrCat("copy lags ", lag, " changes");
      }
    }
  }
  spdlog::info("{}: active server {} (epoch {}) is gone: {}; campaigning{}", options_.role,
               holder.info.server_id, holder.kv.create_revision, how,
               defer.empty() ? "" : absl::StrCat(" (", defer, ")"));
  return plan;
}

}  // namespace coordha::session
