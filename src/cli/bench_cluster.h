// The harness behind `coordha bench failover` and `coordha bench takeover` (DESIGN.md §10): a
// private etcd, two `coordha run rootcoord` replicas in active-standby, clients that call all the
// time, a raw poller of each replica's state, and one failover trial at a time.
//
// What a trial measures (client-observed). Two threads call AllocTimestamp through
// coordha::client::Client without pause; every answer is recorded with its (serverId, epoch).
// The gap of a trial is the time of the first answer from an epoch above the old active's minus
// the time of the last answer from the old epoch: what an application sees, discovery and the
// client's retry backoff included.
//
// Stale answers (S2, S4). The client library drops replies from an old epoch, so its answers
// cannot show an old active that kept answering. The poller bypasses it: it calls
// GetComponentStates on each replica's address directly, every ~1 ms, and counts an answer
// Healthy with epoch E as stale when its request was sent after a Healthy answer from an epoch
// above E had been received.
//
// Cross-host mode runs each replica as `unshare --pid --fork --kill-child coordha run ...`: each
// has its own pid namespace, so the same-machine proof of death (S3) cannot apply. Signals go to
// the coordha process itself (unshare's child), not to unshare. (util-linux 2.38's unshare logs
// "sigprocmask unblock failed" when its child dies of a signal; harmless.)
//
// Threads: BenchCluster's methods are called from one thread, the one that started it (children
// die with the thread that forked them, see child_process.h). It owns the poller's thread and
// the client threads and joins them in Stop().
#ifndef COORDHA_CLI_BENCH_CLUSTER_H_
#define COORDHA_CLI_BENCH_CLUSTER_H_

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "cli/chaos_net.h"
#include "cli/child_process.h"
#include "cli/local_etcd.h"
#include "client/client.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "coordha.pb.h"
#include "etcd/client.h"

namespace coordha::cli {

// SIGINT, SIGTERM and SIGHUP for a tool whose main thread polls. Not thread-safe: one owner.
class Interrupt {
 public:
  // Blocks the signals in the calling thread (threads started later inherit the mask, so the
  // signals stay pending until taken here) and ignores SIGPIPE. Construct before any thread.
  Interrupt();
  // True once one of the signals arrived (checks without blocking).
  bool Received();
  // Sleeps `d`, or less when a signal arrives. Returns Received().
  bool Sleep(Duration d);

 private:
  sigset_t signals_;
  bool received_ = false;
};

enum class FailoverKind { kKill9, kTerm, kStop, kSwitchover };
// "kill9" | "term" | "stop" | "switchover".
const char* FailoverKindName(FailoverKind kind);
absl::StatusOr<FailoverKind> ParseFailoverKind(const std::string& name);

// The clients' answers, reduced to what a trial needs: the first and last answer of each epoch.
// Thread-safe.
class AnswerLog {
 public:
  struct Span {
    int64_t server_id = 0;
    BootTime first{};
    BootTime last{};
    int64_t answers = 0;
  };
  void Record(int64_t server_id, int64_t epoch, BootTime at);
  void RecordError(const std::string& message);
  std::optional<Span> Of(int64_t epoch) const;
  // The epoch above `epoch` that answered first, and its span.
  std::optional<std::pair<int64_t, Span>> FirstAbove(int64_t epoch) const;
  int64_t answers() const;  // every answer recorded
  int64_t errors() const;
  std::string last_error() const;

 private:
  mutable Mutex mu_;
  std::map<int64_t, Span> spans_ ABSL_GUARDED_BY(mu_);
  int64_t answers_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
};

// One replica's newest GetComponentStates answer, as the poller saw it.
struct Observation {
  bool answered = false;  // false: no answer yet, or the last call failed
  v1::StateCode state = v1::Abnormal;
  int64_t server_id = 0;
  int64_t epoch = 0;
  BootTime sent{};  // when the call that got this answer (or failure) was sent
  BootTime received{};
};

// Calls GetComponentStates on every address, ~every millisecond, one call in flight per address
// (a frozen process costs its own address the call's deadline, not the others), on one thread it
// owns.
class StatePoller {
 public:
  explicit StatePoller(std::vector<std::string> addresses);
  ~StatePoller();  // Stop()
  StatePoller(const StatePoller&) = delete;
  StatePoller& operator=(const StatePoller&) = delete;

  void Start();
  // Ends and joins the thread. Safe to call twice.
  void Stop();

  Observation Latest(size_t replica) const;
  // Healthy answers from an epoch E to a call sent after a Healthy answer from an epoch > E had
  // been received (see the top).
  int64_t stale_answers() const;
  // The first stale answer, described; "" when none.
  std::string first_stale() const;
  // When the first and the last Healthy answer of `epoch` were received.
  std::optional<std::pair<BootTime, BootTime>> HealthySpan(int64_t epoch) const;

 private:
  void Loop(std::stop_token stop);
  void OnAnswer(size_t replica, BootTime sent, const v1::GetComponentStatesResponse* response);

  const std::vector<std::string> addresses_;
  std::jthread thread_;

  mutable Mutex mu_;
  std::vector<Observation> latest_ ABSL_GUARDED_BY(mu_);
  // Epoch -> when its first and its last Healthy answer were received.
  std::map<int64_t, std::pair<BootTime, BootTime>> healthy_ ABSL_GUARDED_BY(mu_);
  int64_t stale_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_stale_ ABSL_GUARDED_BY(mu_);
};

// One `coordha run rootcoord` (optionally inside `unshare`), restartable with the same command line
// and ports. Not thread-safe: one owner.
class ReplicaProcess {
 public:
  ReplicaProcess(std::string name, std::vector<std::string> argv, std::string log_file,
                 std::string address, int metrics_port, bool cross_host);

  // Starts (or, after it exited, restarts) the process.
  absl::Status Start();
  bool Running();
  // Sends `signo` to the coordha process itself. FailedPrecondition when it is not running.
  absl::Status Signal(int signo);
  // Polls until the process has exited or `deadline` passes. True when it exited.
  bool AwaitExit(Deadline deadline);
  // SIGKILLs and reaps it.
  void Kill();

  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }
  int metrics_port() const { return metrics_port_; }
  const std::string& log_file() const { return log_file_; }
  // "exited with code 0" once it exited; "" while it runs.
  std::string exit_description() const;

 private:
  const std::string name_;
  const std::vector<std::string> argv_;
  const std::string log_file_;
  const std::string address_;
  const int metrics_port_;
  const bool cross_host_;
  std::unique_ptr<ChildProcess> process_;  // coordha, or unshare around it
  pid_t target_ = 0;                       // coordha's pid (unshare's child in cross-host mode)
};

struct BenchClusterOptions {
  // This coordha binary (/proc/self/exe). REQUIRES: set.
  std::string self_binary;
  // Logs and the etcd data directory go here. REQUIRES: exists.
  std::string dir;
  // common.session.ttl and common.session.serveGrant of the replicas.
  int64_t ttl_seconds = 10;
  std::string serve_grant = "1s";
  // Each replica in its own pid namespace (see the top).
  bool cross_host = false;
  // Members of the private etcd (the chaos tool's etcd nemeses want 3).
  int etcd_members = 1;
  // The coordinator roles, two replicas each: replicas 2k and 2k + 1 are roles[k]'s, named
  // "<role>-1" and "<role>-2". The benchmarks' trials and load are rootcoord's: roles[0] must be
  // "rootcoord" for them.
  std::vector<std::string> roles = {"rootcoord"};
  // Each replica in a network namespace of its own (chaos_net.h), etcd on the bridge: what the
  // partition and reject nemeses need. Needs root.
  bool own_network = false;
  // More `--set key=value` for every replica (after the harness's own).
  std::vector<std::string> replica_sets;
  // AllocTimestamp callers once StartLoad() is called. Default: 2.
  int client_threads = 2;
};

// What one trial found.
struct TrialResult {
  FailoverKind kind = FailoverKind::kKill9;
  int64_t from_server = 0;
  int64_t to_server = 0;
  int64_t from_epoch = 0;
  int64_t to_epoch = 0;
  Duration gap{};  // first answer of the new epoch - last answer of the old one (may be < 0)
  // The same seen by the poller (GetComponentStates Healthy, no client library in between);
  // unset when it missed either end.
  std::optional<Duration> poller_gap;
  std::string note;  // anything unusual, for the progress line
};

class BenchCluster {
 public:
  // Starts etcd, the two replicas and the poller; waits until one is the active and the other
  // its standby. `interrupt` is borrowed and polled by every wait.
  static absl::StatusOr<std::unique_ptr<BenchCluster>> Start(BenchClusterOptions options,
                                                             Interrupt* interrupt);
  ~BenchCluster();  // Stop()
  BenchCluster(const BenchCluster&) = delete;
  BenchCluster& operator=(const BenchCluster&) = delete;

  // Stops the clients and the poller, kills the replicas, stops etcd. Safe to call twice.
  void Stop();

  // Starts the AllocTimestamp callers (client_threads of them). Call once.
  void StartLoad();

  // One failover: find the active and its standby, let them settle for 0.5 s, inject `kind`,
  // wait for an answer from a higher epoch (at most 3 x TTL), then restore (restart or SIGCONT
  // the old active) and wait until it answers StandBy. Errors: the trial failed (the message says
  // where), kCancelled on a signal.
  absl::StatusOr<TrialResult> RunTrial(FailoverKind kind);

  // The active and the standby of roles[role] (indices are replica indices), once exactly one of
  // its replicas answers Healthy and the other StandBy, both to calls sent after this call began,
  // and the clients (when loaded) have an answer from the active's epoch.
  struct Roles {
    size_t active = 0;
    size_t standby = 0;
    int64_t epoch = 0;
    int64_t active_server = 0;
    int64_t standby_server = 0;
  };
  absl::StatusOr<Roles> AwaitRoles(Deadline deadline, size_t role = 0);
  const std::vector<std::string>& roles() const { return options_.roles; }

  // GET /status of a replica's metrics port: its JSON body.
  absl::StatusOr<std::string> StatusJson(size_t replica) const;

  client::Client& client() { return *client_; }
  const AnswerLog& answers() const { return answers_; }
  const StatePoller& poller() const { return *poller_; }
  const std::string& etcd_endpoint() const { return etcd_->endpoint(); }
  LocalEtcd& etcd() { return *etcd_; }
  // The replicas' network when own_network; null otherwise.
  ChaosNet* net() { return net_.get(); }
  size_t replica_count() const { return replicas_.size(); }
  const std::string& root_path() const { return root_path_; }
  Duration ttl() const { return std::chrono::seconds(options_.ttl_seconds); }
  ReplicaProcess& replica(size_t i) { return *replicas_[i]; }

 private:
  BenchCluster(BenchClusterOptions options, Interrupt* interrupt);
  absl::Status StartAll();
  // Waits until `replica` answers StandBy to a call sent at or after `since`.
  absl::Status AwaitStandBy(size_t replica, BootTime since, Deadline deadline);
  // Brings the old active back as a standby after its trial.
  absl::Status Restore(FailoverKind kind, size_t old_active, std::string* note);
  // Starts `coordha switchover rootcoord --to <to_server>` (Restore() awaits its exit).
  absl::Status StartSwitchover(int64_t to_server);
  // A cheap pause between polls; kCancelled on a signal.
  absl::Status Tick(Duration d);

  const BenchClusterOptions options_;
  Interrupt* const interrupt_;
  const std::string root_path_;  // etcd.rootPath: bench-<pid>
  PortPicker ports_;
  std::unique_ptr<ChaosNet> net_;  // own_network only; removed after the replicas are gone
  std::unique_ptr<LocalEtcd> etcd_;
  std::vector<std::unique_ptr<ReplicaProcess>> replicas_;
  std::unique_ptr<StatePoller> poller_;
  std::unique_ptr<etcd::Client> etcd_client_;  // discovery for client_
  std::unique_ptr<client::Client> client_;
  AnswerLog answers_;
  std::vector<std::jthread> callers_;         // AllocTimestamp load; stopped and joined by Stop()
  std::unique_ptr<ChildProcess> switchover_;  // a running `coordha switchover`
  int switchovers_ = 0;
};

// "server 1 -> server 2, gap 23.4 ms (poller 20.1 ms)" plus the note: a trial's progress line.
std::string TrialSummary(const TrialResult& result);

// The `p`-quantile (0..1) of `sorted` by nearest rank, in milliseconds; 0 when empty.
double QuantileMs(const std::vector<Duration>& sorted, double p);

}  // namespace coordha::cli

#endif  // COORDHA_CLI_BENCH_CLUSTER_H_
