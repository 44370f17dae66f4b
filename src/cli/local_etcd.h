// A private etcd — one member, or a cluster of several on this machine — and the free ports around
// it, for tools that must not touch anybody else's etcd (`coordha bench`, `coordha chaos`).
//
//   PortPicker ports;
//   auto etcd = LocalEtcd::Start({.data_dir = dir + "/etcd", .log_file = dir + "/etcd.log"},
//                                &ports, interrupted);
//   (*etcd)->endpoint();  // "127.0.0.1:<port>"
//
// With `members` > 1 member i (0-based) keeps its data in `<data_dir>-<i>` and logs to
// `<log_file without .log>-<i>.log`; the members talk to each other on loopback and answer
// clients on `host`. A member can be killed and started again with its data (the chaos tool's
// etcd-restart and etcd-member-kill nemeses).
//
// Each etcd process is a ChildProcess (child_process.h): its own process group, dies with this
// process even when it is SIGKILLed, output appended to the log file.
#ifndef COORDHA_CLI_LOCAL_ETCD_H_
#define COORDHA_CLI_LOCAL_ETCD_H_

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/child_process.h"
#include "common/clock.h"

namespace coordha::cli {

// Hands out TCP ports that are free now (TcpPortFree) and were not handed out before by this
// picker, scanning up from a per-process base below Linux's ephemeral range (32768-60999), so
// outgoing connections do not take them between the pick and the listener's bind. Not
// thread-safe.
class PortPicker {
 public:
  PortPicker();
  // A free port, or an error when none is left in the range.
  absl::StatusOr<int> Pick();

 private:
  int next_;
  std::set<int> taken_;
};

struct LocalEtcdOptions {
  // The etcd binary. "" = etcd from $PATH, /usr/bin or /usr/local/bin.
  std::string binary;
  // Its data directory; created by etcd. REQUIRES: set.
  std::string data_dir;
  // Where its output goes (appended). REQUIRES: set.
  std::string log_file;
  // How many members. REQUIRES: >= 1.
  int members = 1;
  // The address clients reach it on, listened on. A local address: loopback, or the chaos tool's
  // bridge address (chaos_net.h).
  std::string host = "127.0.0.1";
  // How long it may take to answer. Default: 30 s.
  Duration ready_timeout = std::chrono::seconds(30);
};

class LocalEtcd {
 public:
  // Starts every member on free ports from `ports` and waits until each answers. `interrupted`
  // (may be empty) is polled while waiting; when it returns true the start is abandoned with
  // kCancelled. Errors name the binary, the log file and the reason.
  static absl::StatusOr<std::unique_ptr<LocalEtcd>> Start(const LocalEtcdOptions& options,
                                                          PortPicker* ports,
                                                          const std::function<bool()>& interrupted);
  // Stop().
  ~LocalEtcd();
  LocalEtcd(const LocalEtcd&) = delete;
  LocalEtcd& operator=(const LocalEtcd&) = delete;

  // The first member's "host:port", for etcd.endpoints of a single-member etcd.
  const std::string& endpoint() const { return members_.front().endpoint; }
  // Every member's "host:port", in member order.
  std::vector<std::string> endpoints() const;
  // endpoints() joined with ',': the value of etcd.endpoints.
  std::string endpoints_flag() const;
  const std::string& log_file() const { return members_.front().log_file; }
  int members() const { return static_cast<int>(members_.size()); }
  const std::string& member_log_file(int i) const { return members_.at(i).log_file; }

  // True while member i runs (reaps it once it exited).
  bool MemberRunning(int i);
  // Sends `signo` to member i and waits (up to 10 s, then SIGKILL) until it exited.
  void StopMember(int i, int signo);
  // Starts member i again with its data directory; does not wait for it to answer.
  absl::Status StartMember(int i);
  // The member that is the raft leader, as a running member reports it.
  absl::StatusOr<int> Leader(Deadline deadline);
  // Waits until every member answers. Errors: a member is stopped or exited, or the deadline
  // passed (naming the silent member).
  absl::Status AwaitReady(Deadline deadline);

  // Stops every member: SIGTERM, then SIGKILL after 10 s; reaps them. Safe to call twice.
  void Stop();

 private:
  struct Member {
    std::vector<std::string> argv;
    std::string endpoint;  // "host:client port"
    std::string log_file;
    std::unique_ptr<ChildProcess> process;  // null while stopped
  };
  explicit LocalEtcd(std::vector<Member> members) : members_(std::move(members)) {}
  // AwaitReady, also giving up with kCancelled once `interrupted` (may be empty) returns true.
  absl::Status AwaitAll(Deadline deadline, const std::function<bool()>& interrupted);

  std::vector<Member> members_;
};

}  // namespace coordha::cli

#endif  // COORDHA_CLI_LOCAL_ETCD_H_
