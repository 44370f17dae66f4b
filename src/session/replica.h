// Replica: one process's part in a role's active-standby group (DESIGN.md §4).
//
// A Replica owns the loop that makes a process active or standby for its role:
//
//   register   allocate a server ID once, grant a Session (lease + keepalive), publish the
//              session key <role>-<serverID> on it
//   campaign   S1: create the active key if it does not exist; the winner's epoch is its
//              CreateRevision
//   standby    watch the active key (L4: resumes from its revision; a linearizable re-read every
//              reread_interval backs it up) and the active itself (L2). The S3 triggers end the
//              active's epoch early (fenced delete + lease revoke, replica_standby.cc):
//                proof    it died on this machine (same boot ID and pid namespace, PID gone)
//                refused  its liveness stream broke and its address refuses connections
//                stream   its liveness stream broke and did not come back
//                suspect  etcd shows its lease not renewed for longer than suspect_after
//              Only proof acts on an active younger than min_active_time (L7). When the key is
//              gone, take over: at once after a clean resign (L1 marker) or with proof, otherwise
//              only serve_grant + margin after seeing it gone (S3), so an old active that can no
//              longer renew has stopped answering by S2 — which makes a wrong trigger harmless.
//              L7: a switchover names the standby that should win and the others defer to it; a
//              standby defers to a live one of higher priority and while its copy lags; a
//              replica that just lost or gave up the role waits a jittered backoff.
//   active     S7: Initializing until ReplicaHooks::Activate() returns, then a fenced write of
//              State: Healthy; serve while the Session's serve grant holds (S2); deposed when the
//              session is done or the key changes hands. L6: a Watchdog probes the serving path
//              and makes a fenced write; the lease is renewed only while it passes.
//   handoff    HandOff(): stop answering, resign naming the successor, stand by (switchover).
//   lost etcd  S6: never exits. A done session is replaced by a new one and the loop starts over.
//
// Exclusive mode (active_standby == false): before its campaign a replica looks at the holder.
// A holder provably dead on this machine (S3) is removed at once; another is given up to the TTL
// to expire; if it is still there the replica refuses (refusal() says who holds the role and which
// key to set) and its thread ends.
//
// Stopping (L1): BeginStop() makes Serving() false and the status Stopping at once; Stop() then
// resigns with one fenced Txn (delete the active key + write the resigned marker), revokes the
// lease and joins. The host drains in-flight calls between the two.
//
// Threads: Start() runs one thread owned by the Replica. ReplicaHooks run on it. Every public
// method is thread-safe; Serving() and status() are cheap and may be called on every RPC.
#ifndef COORDHA_SESSION_REPLICA_H_
#define COORDHA_SESSION_REPLICA_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "etcd/client.h"
#include "etcd/watcher.h"
#include "session/election.h"
#include "session/keys.h"
#include "session/liveness.h"
#include "session/replica_observer.h"
#include "session/session.h"
#include "session/session_info.h"
#include "session/watchdog.h"

namespace coordha::session {

// What the coordinator built on a Replica plugs in.
class ReplicaHooks {
 public:
  virtual ~ReplicaHooks() = default;
  // S7: bring the coordinator's state up to date as the new active of `leadership`'s epoch.
  // Writes go through leadership.FencedCommit(). The replica answers Initializing until this
  // returns; an error gives the role up (resign) and the replica campaigns again later.
  virtual absl::Status Activate(const Leadership& leadership, Deadline deadline) = 0;
  // This replica is no longer active (deposed, session lost, or stopping). Stop active-only work.
  virtual void Deactivate() = 0;
  // L6: the active's serving path answers within `deadline` (the host probes its own RPC server).
  // Runs on the watchdog's thread. REQUIRES: returns by `deadline`. Default: OK.
  virtual absl::Status Probe(Deadline /*deadline*/) { return absl::OkStatus(); }
  // L5/L7: how many changes to the coordinator's state this standby's copy has not applied yet
  // (0: current). Asked about once a second on the loop thread. Default: 0 (no state).
  virtual absl::StatusOr<int64_t> StandbyLag(Deadline /*deadline*/) { return 0; }
};

enum class ReplicaState {
  kStarting,      // registering with etcd (or waiting for it)
  kStandby,       // registered; another replica is active
  kInitializing,  // won the campaign; recovering (S7) or waiting out the S3 grant
  kActive,        // serving (subject to the serve grant, see Serving())
  kStopping,      // L1: BeginStop() was called
  kStopped,       // the thread has ended (stopped or refused)
};
const char* ReplicaStateName(ReplicaState state);

struct ReplicaStatus {
  ReplicaState state = ReplicaState::kStarting;
  int64_t server_id = 0;  // 0 until allocated
  int64_t epoch = 0;      // our epoch while kInitializing/kActive, else 0
  // The active as last seen (ourselves when active); 0 / empty when unknown.
  int64_t active_server_id = 0;
  std::string active_address;
  int64_t active_epoch = 0;
  int64_t lease_id = 0;
  int64_t failovers_won = 0;  // times this replica became active
  // L5: the standby's copy lag (ReplicaHooks::StandbyLag); -1 unknown. 0 while active.
  int64_t lag_revisions = -1;
  // The last takeover by this replica: how the previous epoch ended (ReplicaObserver::OnTakeover)
  // and how long from seeing it end to serving. Empty / 0 until the first.
  std::string last_takeover_cause;
  Duration last_takeover_took{};
};

struct ReplicaOptions {
  // The role, e.g. "rootcoord". REQUIRES: not empty.
  std::string role;
  // The config key that turns active-standby on, named in the exclusive-mode refusal,
  // e.g. "rootCoord.enableActiveStandby".
  std::string active_standby_key;
  // Where the keys live. REQUIRES: set.
  Keys keys{""};
  // Published as the session record; server_id, lease_id, state, exclusive and the process
  // identity are filled in by the replica. REQUIRES: address set.
  SessionInfo info;
  // false: exclusive mode (see above). Default: true.
  bool active_standby = true;
  // Lease TTL and serve grant. on_done is the replica's own.
  SessionOptions session;
  // S3: how often a standby checks (locally, in /proc) whether an active on the same machine has
  // died, to take over without waiting for its lease. Default: 50 ms.
  Duration proof_check_interval = std::chrono::milliseconds(50);
  // L4: the linearizable re-read of the active key that backs up the watch. Default: 2 s.
  Duration reread_interval = std::chrono::seconds(2);
  // How often a standby logs that it is standing by (Milvus does every 10 s). Default: 10 s.
  Duration standby_log_interval = std::chrono::seconds(10);
  // Longest single etcd request of the loop. Default: 3 s.
  Duration request_timeout = std::chrono::seconds(3);
  // L2: watches the active's liveness stream from a standby. Borrowed; must outlive the replica.
  // nullptr: no stream triggers (lease suspicion and proof still apply). Default: nullptr.
  LivenessMonitor* liveness = nullptr;
  // S3 suspect trigger: end the active's epoch once etcd shows its lease not renewed for longer
  // than this (checked every suspect_poll_interval with LeaseTimeToLive, whose whole seconds make
  // the effective threshold up to 1 s longer). Zero: off. Default: 2 s.
  Duration suspect_after = std::chrono::seconds(2);
  Duration suspect_poll_interval = std::chrono::milliseconds(250);
  // L7: an active younger than this (as this standby first saw its epoch) is ended early only on
  // proof. Default: 0 (off).
  Duration min_active_time = Duration::zero();
  // L7: how long standbys not named by a switchover (and the resigning replica itself) wait for
  // the named one before campaigning anyway. Default: 2 s.
  Duration handoff_defer = std::chrono::seconds(2);
  // L7: how long a standby waits for a live standby of higher priority to win. Default: 300 ms.
  Duration priority_defer = std::chrono::milliseconds(300);
  // L6: the active's watchdog. `watchdog_enabled` false turns it off. Default: on, 500 ms / 2 s.
  bool watchdog_enabled = true;
  WatchdogOptions watchdog;
  // Metrics. Borrowed; must outlive the replica. nullptr: none. Default: nullptr.
  ReplicaObserver* observer = nullptr;
};

// Checks a switchover target before the active resigns to it; OK when fit to take over. Runs on
// the caller's thread of HandOff().
using HandoffCheck = std::function<absl::Status(const SessionInfo& target, Deadline deadline)>;

class Replica {
 public:
  // Creates the replica without starting it (no I/O, no thread), so the services that report its
  // status can be built around it first. `client` and `hooks` are borrowed and must outlive it.
  static std::unique_ptr<Replica> Create(etcd::Client* client, ReplicaOptions options,
                                         ReplicaHooks* hooks);
  // Starts the loop on the replica's own thread. Call once.
  void Start();
  // Stops without resigning gracefully (like Stop() with an expired deadline).
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // S2: true only while this replica is the healthy active and inside its serve grant.
  bool Serving() const;
  // S2: true while this replica holds an epoch (recovering or active, not stopping) and is inside
  // its serve grant: the bound for commands a new active sends before it is Healthy (its first
  // placement round, coordinator/scheduler.h).
  bool WithinServeGrant() const;
  ReplicaStatus status() const;
  // Time left of the serve grant (S2) and of the lease as this process knows it; zero when none.
  Duration ServeGrantRemaining() const;
  Duration LeaseRemaining() const;

  // L1 first half: from now on answer Stopping; the loop stops campaigning. Safe to call twice.
  void BeginStop();
  // L1 second half: resign (if active) and revoke the lease, then join. Bounded by `deadline`;
  // after it, the lease is left to expire. Safe to call twice.
  void Stop(Deadline deadline);

  // Switchover (L1 without exiting): the active stops answering, resigns with one fenced Txn that
  // names `to_server_id` as the successor (0: none; `coordha resign`), and stands by; the named
  // standby takes over at once, the others defer (L7). Returns the epoch that ended. Errors:
  // kFailedPrecondition this replica is not the serving active (the message names the active) or
  //                     the target is not fit (`check`'s error);
  // kInvalidArgument    the target is this replica;
  // kNotFound           the target has no live session of this role;
  // kDeadlineExceeded   the loop did not resign by `deadline` (it may still).
  absl::StatusOr<int64_t> HandOff(int64_t to_server_id, const HandoffCheck& check,
                                  Deadline deadline);

  // Set when exclusive mode refused to start (the thread has ended). OK otherwise.
  absl::Status refusal() const;
  // Blocks until `pred(status())` holds or `deadline` passes. True if it held.
  bool AwaitStatus(const std::function<bool(const ReplicaStatus&)>& pred, Deadline deadline) const;

 private:
  struct Holder {  // the active key as last seen
    etcd::KeyValue kv;
    SessionInfo info;
  };
  enum class Outcome { kContinue, kStop };
  // What RunStandby learned when the active key went away: when the winner may serve (S3), how
  // the epoch ended, and how long to wait before campaigning (L7).
  struct Takeover {
    BootTime serve_not_before{};
    BootTime gone_at{};
    std::string cause = "none";
    BootTime campaign_not_before{};
    int64_t previous_server_id = 0;  // the epoch that ended; 0 when none was known
    int64_t previous_epoch = 0;
  };
  struct HandoffRequest {
    int64_t to = 0;
    bool taken = false;  // the loop is performing it
    bool done = false;
    absl::StatusOr<int64_t> result = absl::UnknownError("pending");
  };

  Replica(etcd::Client* client, ReplicaOptions options, ReplicaHooks* hooks);
  void Run(std::stop_token stop);
  // Each returns kStop when the loop must end.
  Outcome EnsureSession();
  Outcome EnforceExclusive();
  // Standby until the active key is gone; fills *takeover (replica_standby.cc).
  Outcome RunStandby(Holder holder, int64_t watch_from, Takeover* takeover);
  // What the end of `holder`'s epoch means for this replica (S3 wait, L7 deferral).
  Takeover PlanTakeover(const Holder& holder, const std::string& trigger);
  // Active until deposed, stopped or handed off (replica_active.cc). Sets *handed_off.
  Outcome RunActive(const Leadership& leadership, int64_t watch_from, const Takeover& takeover,
                    bool* handed_off);
  static std::string TakeoverRecord(const Takeover& takeover, int64_t epoch, int64_t server_id);
  // The handoff of RunActive: stop answering, resign naming the successor.
  void PerformHandoff(const Leadership& leadership, int64_t to);
  std::unique_ptr<Watchdog> StartWatchdog(const Leadership& leadership);
  void ClearWatchdog();
  // The live sessions of this role (for priorities and handoff targets).
  void RefreshPeers();
  // S3: ends `holder`'s epoch early for `reason` (its lease revoked, then a fenced delete of the
  // key). True when that epoch is over (ended here or already); false when etcd did not answer.
  bool EndEpochEarly(const Holder& holder, absl::string_view reason);
  // After BeginStop(): waits for Stop(), then resigns (when `leadership`) and revokes the lease.
  void FinishStop(const Leadership* leadership);
  // S3: EndEpochEarly() for a holder proven dead on this machine.
  bool RemoveDeadHolder(const Holder& holder) { return EndEpochEarly(holder, "proof"); }
  // True when `holder` is this replica itself (an epoch it no longer serves).
  bool IsOwnAbandonedEpoch(const Holder& holder) const;

  absl::Status PublishSession(SessionState state, Deadline deadline);
  std::string InfoJson(SessionState state) const;
  static Holder ParseHolder(const etcd::KeyValue& kv);
  std::unique_ptr<etcd::Watcher> WatchActiveKey(int64_t from);
  // Waits until something happens (watch event, session done, stop) or `until`. Returns the
  // watch events that arrived (may be empty).
  std::vector<etcd::WatchEvent> WaitForEvents(BootTime until);
  bool SleepUntil(BootTime until);  // true when stopping
  bool stopping() const;
  bool SessionDone() const;
  void SetState(ReplicaState state, int64_t epoch = 0);
  void SetActive(const Holder& holder);
  Deadline RequestDeadline() const { return Deadline::In(options_.request_timeout); }

  // Constant after construction.
  etcd::Client* const client_;
  const ReplicaOptions options_;
  ReplicaHooks* const hooks_;
  const std::string active_key_;
  const std::string resigned_key_;
  const std::string handoff_key_;
  const std::string watchdog_key_;
  const ProcessIdentity self_;

  mutable Mutex mu_;
  mutable CondVar changed_;  // signalled on every change below
  ReplicaStatus status_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;  // the loop has something to look at
  std::vector<etcd::WatchEvent> events_ ABSL_GUARDED_BY(mu_);
  absl::Status refusal_ ABSL_GUARDED_BY(mu_);
  Deadline stop_deadline_ ABSL_GUARDED_BY(mu_);
  // Replaced only by the loop thread, and only outside mu_'s critical sections that call into it
  // (its keepalive thread takes mu_ in on_done).
  std::unique_ptr<Session> session_ ABSL_GUARDED_BY(mu_);
  // L2: the trigger a liveness watch reported for `liveness_epoch_` ("" none).
  std::string liveness_trigger_ ABSL_GUARDED_BY(mu_);
  int64_t liveness_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  // L6: the active's watchdog, asked by the keepalive thread before each renewal.
  std::unique_ptr<Watchdog> watchdog_ ABSL_GUARDED_BY(mu_);
  bool watchdog_fenced_ ABSL_GUARDED_BY(mu_) = false;
  // A pending switchover, set by HandOff() and served by the loop while active.
  HandoffRequest* handoff_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The live sessions of this role, read when an epoch ends (loop thread only).
  std::vector<SessionInfo> peers_;

  std::jthread thread_;  // last: started after every member above is ready
};

}  // namespace coordha::session

#endif  // COORDHA_SESSION_REPLICA_H_
