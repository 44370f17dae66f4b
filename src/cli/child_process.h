// Child processes of `coordha up`, and the small host checks it needs (free ports, PATH lookup).
//
// Ctrl-C contract. `up` blocks SIGINT/SIGTERM/SIGHUP/SIGCHLD in every thread and takes them with
// sigtimedwait; each child is started so that a terminal Ctrl-C reaches only `up`:
//   - the child runs in its own process group (setpgid), so the terminal's SIGINT to the
//     foreground group does not reach it; `up` then stops it deliberately (SIGTERM = graceful, L1);
//   - the child starts with an empty signal mask and default dispositions (SIGPIPE included), so
//     it handles SIGTERM as if started from a shell;
//   - the child asks for SIGKILL when `up` dies (PR_SET_PDEATHSIG): a SIGKILLed `up` leaves nothing
//     running. The kernel ties this to the *thread* that forked: start children from the thread
//     that lives as long as they should (`up`'s main thread);
//   - stdin is /dev/null, stdout and stderr are appended to the child's log file, and no other
//     descriptor of `up` (etcd client sockets) leaks into it.
#ifndef COORDHA_CLI_CHILD_PROCESS_H_
#define COORDHA_CLI_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"

namespace coordha::cli {

// A running child owned by this object. Not thread-safe: one owner (up's main thread) drives it.
class ChildProcess {
 public:
  // Starts `argv[0]` (an absolute or relative path; no PATH lookup, see FindInPath) with
  // arguments `argv`, output appended to `log_file` (created if missing). Errors name the binary
  // or the log file and the reason.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const std::string& log_file);

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // SIGKILLs the child if it still runs, and reaps it.
  ~ChildProcess();

  pid_t pid() const { return pid_; }

  // True until the child has exited; reaps it (without blocking) once it has.
  bool Running();
  // The waitpid() status once reaped.
  std::optional<int> wait_status() const { return wait_status_; }

  // Sends `signo` to the child if it still runs (no-op otherwise).
  void Signal(int signo);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}

  const pid_t pid_;
  std::optional<int> wait_status_;  // set once reaped
};

// "exited with code N" / "was killed by signal N (Killed)" for a waitpid() status.
std::string DescribeWaitStatus(int wait_status);

// True when nothing listens on TCP `port` of any local address: a bind test on 0.0.0.0 (what
// `coordha run` binds), without SO_REUSEADDR so TIME_WAIT leftovers of a previous run count as free
// only when the kernel would let a listener in.
bool TcpPortFree(int port);

// The full path of `name` found in $PATH (or `name` itself if it contains a '/'), then in
// `fallback_dirs`; nullopt when it is not an executable file anywhere.
std::optional<std::string> FindInPath(const std::string& name,
                                      const std::vector<std::string>& fallback_dirs = {});

}  // namespace coordha::cli

#endif  // COORDHA_CLI_CHILD_PROCESS_H_
