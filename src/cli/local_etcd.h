// A private single-member etcd on loopback, and the free ports around it, for tools that must not
// touch anybody else's etcd (`coordha bench`).
//
//   PortPicker ports;
//   auto etcd = LocalEtcd::Start({.data_dir = dir + "/etcd", .log_file = dir + "/etcd.log"},
//                                &ports, interrupted);
//   (*etcd)->endpoint();  // "127.0.0.1:<port>"
//
// The etcd process is a ChildProcess (child_process.h): its own process group, dies with this
// process even when it is SIGKILLed, output appended to the log file.
#ifndef COORDHA_CLI_LOCAL_ETCD_H_
#define COORDHA_CLI_LOCAL_ETCD_H_

#include <functional>
#include <memory>
#include <set>
#include <string>

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
  // How long it may take to answer. Default: 30 s.
  Duration ready_timeout = std::chrono::seconds(30);
};

class LocalEtcd {
 public:
  // Starts etcd on two free loopback ports from `ports` and waits until it answers. `interrupted`
  // (may be empty) is polled while waiting; when it returns true the start is abandoned with
  // kCancelled. Errors name the binary, the log file and the reason.
  static absl::StatusOr<std::unique_ptr<LocalEtcd>> Start(const LocalEtcdOptions& options,
                                                          PortPicker* ports,
                                                          const std::function<bool()>& interrupted);
  // Stop().
  ~LocalEtcd();
  LocalEtcd(const LocalEtcd&) = delete;
  LocalEtcd& operator=(const LocalEtcd&) = delete;

  // "127.0.0.1:<client port>", for etcd.endpoints.
  const std::string& endpoint() const { return endpoint_; }
  const std::string& log_file() const { return log_file_; }
  // SIGTERM, then SIGKILL after 10 s; reaps it. Safe to call twice.
  void Stop();

 private:
  LocalEtcd(std::unique_ptr<ChildProcess> process, std::string endpoint, std::string log_file)
      : process_(std::move(process)),
        endpoint_(std::move(endpoint)),
        log_file_(std::move(log_file)) {}

  std::unique_ptr<ChildProcess> process_;  // null once stopped
  const std::string endpoint_;
  const std::string log_file_;
};

}  // namespace coordha::cli

#endif  // COORDHA_CLI_LOCAL_ETCD_H_
