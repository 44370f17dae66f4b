// A real etcd cluster for integration tests.
//
// EtcdCluster::Start() runs N etcd members as child processes on free loopback ports, in a fresh
// temporary directory that holds their data dirs, logs and (with TLS) certificates. The test can
// then stop, kill, pause, resume and restart single members to exercise failures, and run etcdctl
// against the cluster. Destroying the EtcdCluster SIGKILLs every member and removes the directory.
//
//   absl::StatusOr<std::unique_ptr<EtcdCluster>> etcd = EtcdCluster::Start({.members = 3});
//   ASSERT_TRUE(etcd.ok()) << etcd.status();
//   ASSERT_TRUE((*etcd)->Kill(0).ok());    // a member crashes; m1 and m2 still have quorum
//   ... (*etcd)->EtcdctlAt(1, {"put", "k", "v"}) ...
//   ASSERT_TRUE((*etcd)->Restart(0).ok());  // same ports and data dir; returns once rejoined
//
// Requirements: `etcd` and `etcdctl` (written against 3.4) and, for TLS, `openssl` on PATH (or
// named in the options). Members are children of the thread that calls Start()/Restart() and die
// with it (see support/subprocess.h): call them from the test's main thread.
//
// Set COORDHA_KEEP_TEST_DIRS=1 in the environment to keep the directory for a post-mortem.
#ifndef COORDHA_TESTS_SUPPORT_ETCD_CLUSTER_H_
#define COORDHA_TESTS_SUPPORT_ETCD_CLUSTER_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "support/subprocess.h"

namespace coordha::testing {

struct EtcdClusterOptions {
  // Number of members. A majority must be running for the cluster to answer.
  // Default: 1. REQUIRES: >= 1.
  int members = 1;

  // Clients talk TLS to the members. The fixture makes a CA and a server certificate for
  // 127.0.0.1 and localhost (see ca_file()). Peer traffic stays plain HTTP.
  // Default: false.
  bool tls = false;

  // Members require a client certificate signed by the CA (etcd --client-cert-auth); the fixture
  // makes one (see client_cert_file()). Default: false. REQUIRES: tls.
  bool client_cert_auth = false;

  // Non-empty: the fixture creates user "root" with this password, grants it role root and
  // enables authentication; Etcdctl() then logs in as root. Clients must authenticate.
  // Default: empty (no authentication). (The explicit initializer keeps GCC's
  // -Wmissing-field-initializers quiet for designated initializers that leave it out.)
  std::string root_password = "";

  // > 0: simple auth tokens expire after this many seconds of disuse (etcd --auth-token-ttl), so
  // tests can exercise token renewal. Default: 0 (etcd's default, 300 s). REQUIRES: >= 0.
  int auth_token_ttl_seconds = 0;

  // Raft heartbeat and election timeout, in milliseconds. Small values make elections fast but
  // can cause spurious ones on a loaded machine. Default: 50 and 500.
  // REQUIRES: heartbeat_ms > 0, election_ms >= 5 * heartbeat_ms (etcd's own rule).
  int heartbeat_ms = 50;
  int election_ms = 500;

  // How long Start() and Restart() wait for a member to answer a health check. Default: 30 s.
  Duration ready_timeout = std::chrono::seconds(30);

  // The binaries to run: a path, or a name looked up in PATH.
  std::string etcd_binary = "etcd";
  std::string etcdctl_binary = "etcdctl";
  std::string openssl_binary = "openssl";
};

// Members are numbered 0 .. size()-1 and named "m0", "m1", ...
//
// Thread-safe. Calls that change a member's process (Stop, Kill, Pause, Resume, Restart) are
// serialized; pid() and running() wait for one in progress. A method given a member number out of
// range returns InvalidArgument (or 0 / false / "" where it returns no status).
class EtcdCluster {
 public:
  // Creates the directory (and certificates), starts every member, then returns once each answers
  // `etcdctl endpoint health`; with root_password, then enables authentication. On error
  // everything started so far is torn down and the status names the member, what failed and the
  // tail of its log.
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(const EtcdClusterOptions& options);

  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;
  // SIGKILLs every member still running (paused ones too), reaps them and removes dir().
  ~EtcdCluster();

  int size() const { return static_cast<int>(members_.size()); }

  // "127.0.0.1:PORT" for each member, without a scheme (https when options.tls). A member keeps
  // its ports across restarts.
  std::vector<std::string> ClientEndpoints() const;
  std::string ClientEndpoint(int member) const;

  // The temporary directory: m<i>.etcd data dirs, member-<i>.log logs, tls/ certificates.
  std::string dir() const { return dir_; }
  // PEM files; empty when not made (ca_file without tls, client cert/key without
  // client_cert_auth).
  std::string ca_file() const { return ca_file_; }
  std::string client_cert_file() const { return client_cert_file_; }
  std::string client_key_file() const { return client_key_file_; }

  // The member's process id while it runs (paused counts as running), else 0.
  pid_t pid(int member) const;
  // False once the member was stopped or killed, or exited by itself.
  bool running(int member) const;

  // Failures. If the member led the cluster, requests through the others can time out until they
  // elect a new leader (an election timeout or two): a test should retry or await, not expect the
  // first request after Stop/Kill/Pause to succeed.
  //
  // SIGTERM (and SIGCONT, in case it is paused), then waits for it to exit. If it has not exited
  // after 10 s it is SIGKILLed and DeadlineExceeded returned. FailedPrecondition if not running.
  absl::Status Stop(int member);
  // SIGKILL, then waits for it to exit. FailedPrecondition if not running.
  absl::Status Kill(int member);
  // SIGSTOP; returns once the process is stopped. The member keeps its connections but answers
  // nothing until resumed. OK if already paused; FailedPrecondition if not running.
  absl::Status Pause(int member);
  // SIGCONT. OK if not paused; FailedPrecondition if not running.
  absl::Status Resume(int member);
  // Starts a stopped, killed or exited member again with the same name, data dir, ports and flags,
  // and returns once it answers `etcdctl endpoint health` (for a member of a multi-member cluster
  // that means it has rejoined: the check is a quorum read through it). FailedPrecondition if it is
  // running; DeadlineExceeded (with its log tail) if it does not become healthy in time, in which
  // case it is left running.
  absl::Status Restart(int member);

  // The last `lines` lines of the member's log (stdout and stderr of every run of it).
  std::string LogTail(int member, int lines = 20) const;

  // Runs `etcdctl <flags> <args>` against all members and returns its stdout. The flags are
  // --endpoints, --dial-timeout=2s, --command-timeout=5s, the TLS files and, once auth is on,
  // --user root:<password>. `args` may repeat a duration flag to override it (the last one wins,
  // e.g. "--command-timeout=300ms"), but not --endpoints (use EtcdctlAt). A non-zero exit is an
  // Unavailable error carrying etcdctl's exit and the end of its stderr (password redacted).
  absl::StatusOr<std::string> Etcdctl(const std::vector<std::string>& args) const;
  // As Etcdctl(), against `member` only.
  absl::StatusOr<std::string> EtcdctlAt(int member, const std::vector<std::string>& args) const;

 private:
  // What is fixed about a member from Start() on.
  struct MemberConfig {
    std::string name;  // "m<i>"
    int client_port = 0;
    int peer_port = 0;
    std::string log_file;
    std::vector<std::string> argv;  // the etcd command line, reused by Restart()
  };
  // A member's process state.
  struct MemberProcess {
    std::unique_ptr<Subprocess> process;  // null before the first start and after Stop/Kill
    bool paused = false;
  };

  EtcdCluster(const EtcdClusterOptions& options, std::string dir);

  absl::Status CheckMember(int member) const;
  // An error about `member` that ends with the tail of its log.
  absl::Status MemberError(absl::StatusCode code, int member, absl::string_view what) const;
  std::string ClientUrl(int member) const;
  absl::Status MakeCertificates();
  absl::Status PlanMembers();
  absl::Status EnableAuth();
  // `etcdctl` against `endpoints` (member numbers); `as_root` adds --user.
  absl::StatusOr<std::string> RunEtcdctl(const std::vector<int>& endpoints, bool as_root,
                                         const std::vector<std::string>& args,
                                         const std::string& dial_timeout,
                                         const std::string& command_timeout) const;

  absl::Status SpawnMember(int member) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AwaitHealthy(int member, Deadline deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The member's process if it is running, else FailedPrecondition saying how it ended.
  absl::StatusOr<Subprocess*> RunningProcess(int member) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant once Start() returns.
  const EtcdClusterOptions options_;
  const std::string dir_;
  std::string ca_file_;
  std::string server_cert_file_;
  std::string server_key_file_;
  std::string client_cert_file_;
  std::string client_key_file_;
  std::vector<MemberConfig> members_;
  bool auth_enabled_ = false;

  mutable Mutex mu_;
  std::vector<MemberProcess> processes_ ABSL_GUARDED_BY(mu_);  // one per member
};

// A free TCP port on 127.0.0.1, or 0 if none could be found. Never returns the same port twice
// within one process. Ports come from below the kernel's ephemeral range when there is room, so
// that a port a stopped member will listen on again cannot meanwhile become the local port of some
// outgoing connection.
int FreeLoopbackPort();

}  // namespace coordha::testing

#endif  // COORDHA_TESTS_SUPPORT_ETCD_CLUSTER_H_
