// Child processes for tests: long-running ones a test owns (etcd, later coordha servers) and
// short commands whose output it reads (etcdctl, openssl).
//
// Every child is started with fork + exec and is reaped by its owner; nothing is left as a zombie
// or an orphan:
//   - The child asks for SIGKILL when its parent dies (PR_SET_PDEATHSIG), so a crashed or killed
//     test takes its children with it. The kernel ties this to the *thread* that forked, not the
//     process: start children from a thread that lives as long as they should (normally the test's
//     main thread), or they die when that thread exits.
//   - The child runs in its own process group, so a Ctrl-C at the terminal (SIGINT to the
//     foreground group) reaches only the test, which then takes the child down as above, instead of
//     both receiving it at once.
//   - stdin is /dev/null; no other descriptor of the test process leaks into the child.
#ifndef COORDHA_TESTS_SUPPORT_SUBPROCESS_H_
#define COORDHA_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"

namespace coordha::testing {

// What a finished command did.
struct CommandResult {
  int wait_status = 0;  // from waitpid()
  std::string out;      // everything it wrote to stdout
  std::string err;      // everything it wrote to stderr

  // Exited normally with code 0.
  bool succeeded() const;
  // "exited with code 1" / "killed by signal 9 (Killed)".
  std::string DescribeExit() const;
};

// A running child process owned by this object. The destructor SIGKILLs it if it has not exited
// and reaps it.
//
// Not thread-safe: one owner drives it (EtcdCluster guards its members with a mutex).
class Subprocess {
 public:
  // Starts argv[0] (a path, or a name looked up in PATH) with arguments `argv`; the child's stdout
  // and stderr are appended to `log_file`, which is created if missing.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                           const std::string& log_file);

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }

  // Sends `signo` to the child. FailedPrecondition once it has exited and been reaped.
  absl::Status Signal(int signo);

  // True until the child has exited; reaps it without blocking once it has. A stopped (SIGSTOP)
  // child is still running.
  bool Running();

  // The waitpid() status once the child has exited and been reaped.
  std::optional<int> wait_status() const { return wait_status_; }

  // Waits until the child exits; returns its waitpid() status. DeadlineExceeded if it is still
  // running at `deadline` (it is left running).
  absl::StatusOr<int> WaitForExit(Deadline deadline);

  // Waits until the child is stopped by a signal (after SIGSTOP). FailedPrecondition if it exits
  // instead, DeadlineExceeded if it is still running at `deadline`.
  absl::Status WaitForStop(Deadline deadline);

 private:
  friend absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                                  Deadline deadline);
  explicit Subprocess(pid_t pid) : pid_(pid) {}

  const pid_t pid_;
  std::optional<int> wait_status_;  // set once reaped
};

// Runs `argv` (as for Subprocess::Start) to completion and captures its stdout and stderr. A
// command that fails still yields a CommandResult; check succeeded(). Errors: the command could not
// be started, or it was still running at `deadline` (it is then SIGKILLed and reaped, and the error
// carries its output so far).
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv, Deadline deadline);

// "exited with code N" / "killed by signal N (name)" / "stopped by signal N" for a waitpid()
// status.
std::string DescribeWaitStatus(int wait_status);

}  // namespace coordha::testing

#endif  // COORDHA_TESTS_SUPPORT_SUBPROCESS_H_
