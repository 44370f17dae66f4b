#include "support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/status.h"

namespace coordha::testing {
namespace {

using std::chrono::milliseconds;

// Longest sleep between two checks of a child's state.
constexpr Duration kMaxPollInterval = milliseconds(20);

// A file descriptor, closed when this goes away.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

absl::Status ErrnoError(absl::string_view what, int err) {
  return absl::InternalError(
      absl::StrCat(what, ": ", std::error_code(err, std::generic_category()).message()));
}

// Sleeps for the next poll interval: short at first, growing to kMaxPollInterval, never past
// `deadline`.
void SleepBeforeNextPoll(Duration& interval, Deadline deadline) {
  Duration nap = interval;
  if (deadline.is_set()) nap = std::min(nap, deadline.Remaining());
  std::this_thread::sleep_for(nap);
  interval = std::min(interval * 2, kMaxPollInterval);
}

// The path of the executable `name` names: itself if it has a '/', else the first match in PATH.
absl::StatusOr<std::string> FindExecutable(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("command: argv[0] is empty");
  auto is_executable = [](const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    if (is_executable(name)) return name;
    return absl::NotFoundError(absl::StrCat("command '", name, "' is not an executable file"));
  }
  const char* path_env = std::getenv("PATH");
  const std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", name);
    if (is_executable(candidate)) return candidate;
  }
  return absl::NotFoundError(absl::StrCat("command '", name, "' not found in PATH (", path, ")"));
}

// Returns `fd` if it is above stderr, else a close-on-exec duplicate that is: so the dup2() calls
// in the child cannot overwrite one source with another.
int AboveStdio(int fd) { return fd > STDERR_FILENO ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3); }

// The child side of Spawn(); never returns. Between fork and exec, the child of a multi-threaded
// process may only make async-signal-safe calls: no allocation, no locks, nothing from libstdc++.
// Everything it needs was prepared by the parent. A failure is reported on `exec_error_fd` as an
// errno value.
[[noreturn]] void ExecChild(const char* path, char* const* argv, char* const* envp, pid_t parent,
                            int stdin_fd, int stdout_fd, int stderr_fd, int exec_error_fd) {
  auto fail = [exec_error_fd](int err) {
    ssize_t ignored = write(exec_error_fd, &err, sizeof err);
    (void)ignored;
    _exit(127);
  };
  // SIGKILL when the parent goes away. The kernel delivers this when the *thread* that forked
  // exits, not when the whole process does (see subprocess.h).
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(errno);
  // The parent may have died before prctl() took effect; then nobody would kill us.
  if (getppid() != parent) _exit(127);
  // Own process group: terminal signals go to the test only (see subprocess.h). The parent makes
  // the same call; whichever runs first wins.
  setpgid(0, 0);
  // Blocked and ignored signals survive exec; the test process may have either (gRPC ignores
  // SIGPIPE, for one). Give the child the defaults.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action;
  memset(&default_action, 0, sizeof default_action);
  default_action.sa_handler = SIG_DFL;
  for (int signo = 1; signo < NSIG; ++signo) sigaction(signo, &default_action, nullptr);

  stdin_fd = AboveStdio(stdin_fd);
  stdout_fd = AboveStdio(stdout_fd);
  stderr_fd = AboveStdio(stderr_fd);
  if (stdin_fd < 0 || stdout_fd < 0 || stderr_fd < 0) fail(errno);
  if (dup2(stdin_fd, STDIN_FILENO) < 0 || dup2(stdout_fd, STDOUT_FILENO) < 0 ||
      dup2(stderr_fd, STDERR_FILENO) < 0) {
    fail(errno);
  }
  // Descriptors the test process opened without O_CLOEXEC must not leak into the child. Best
  // effort: kernels before 5.11 lack the flag.
  close_range(STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(path, argv, envp);
  fail(errno);
  _exit(127);  // not reached; fail() exits
}

// Starts `argv` with the given stdout and stderr (the parent keeps its copies) and returns its pid.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd) {
  if (argv.empty()) return absl::InvalidArgumentError("command: argv is empty");
  COORDHA_ASSIGN_OR_RETURN(const std::string path, FindExecutable(argv[0]));
  std::vector<char*> child_argv;
  child_argv.reserve(argv.size() + 1);
  for (const std::string& arg : argv) child_argv.push_back(const_cast<char*>(arg.c_str()));
  child_argv.push_back(nullptr);

  UniqueFd dev_null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (dev_null.get() < 0) return ErrnoError("open /dev/null", errno);
  // The child reports a failure to exec on this pipe. A successful exec closes the write end
  // (O_CLOEXEC), so the parent reads end-of-file.
  int exec_error_pipe[2];
  if (pipe2(exec_error_pipe, O_CLOEXEC) != 0) return ErrnoError("pipe2", errno);
  UniqueFd exec_error_read(exec_error_pipe[0]);
  UniqueFd exec_error_write(exec_error_pipe[1]);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return ErrnoError("fork", errno);
  if (pid == 0) {
    ExecChild(path.c_str(), child_argv.data(), environ, parent, dev_null.get(), stdout_fd,
              stderr_fd, exec_error_write.get());
  }
  exec_error_write.reset();
  setpgid(pid, pid);  // may fail once the child has exec'd (EACCES); it made the same call itself

  int child_errno = 0;
  ssize_t n;
  do {
    n = read(exec_error_read.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    // The child has exited (or is about to) without exec'ing: reap it.
    int ignored;
    while (waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {
    }
    return ErrnoError(absl::StrCat("start ", path), child_errno);
  }
  return pid;
}

std::string CommandLine(const std::vector<std::string>& argv) { return absl::StrJoin(argv, " "); }

}  // namespace

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return absl::StrCat("exited with code ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const int signo = WTERMSIG(wait_status);
    return absl::StrCat("killed by signal ", signo, " (", sigdescr_np(signo), ")");
  }
  if (WIFSTOPPED(wait_status)) return absl::StrCat("stopped by signal ", WSTOPSIG(wait_status));
  return absl::StrCat("wait status ", wait_status);
}

bool CommandResult::succeeded() const {
  return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
}

std::string CommandResult::DescribeExit() const { return DescribeWaitStatus(wait_status); }

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(const std::vector<std::string>& argv,
                                                              const std::string& log_file) {
  UniqueFd log(open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (log.get() < 0) return ErrnoError(absl::StrCat("open log file ", log_file), errno);
  COORDHA_ASSIGN_OR_RETURN(const pid_t pid, Spawn(argv, log.get(), log.get()));
  return std::unique_ptr<Subprocess>(new Subprocess(pid));
}

Subprocess::~Subprocess() {
  if (wait_status_.has_value()) return;
  kill(pid_, SIGKILL);  // also ends a stopped child
  int status;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

absl::Status Subprocess::Signal(int signo) {
  if (!Running()) {
    return absl::FailedPreconditionError(
        absl::StrCat("process ", pid_, " has already ", DescribeWaitStatus(*wait_status_)));
  }
  // The child is not reaped yet, so its pid cannot have been reused.
  if (kill(pid_, signo) != 0) return ErrnoError(absl::StrCat("kill ", pid_), errno);
  return absl::OkStatus();
}

bool Subprocess::Running() {
  if (wait_status_.has_value()) return false;
  int status;
  pid_t reaped;
  do {
    reaped = waitpid(pid_, &status, WNOHANG);
  } while (reaped < 0 && errno == EINTR);
  if (reaped == pid_) {
    wait_status_ = status;
  } else if (reaped < 0) {
    // ECHILD: someone else reaped it (a waitpid(-1) elsewhere in the test). It is gone either way.
    wait_status_ = 0;
  }
  return !wait_status_.has_value();
}

absl::StatusOr<int> Subprocess::WaitForExit(Deadline deadline) {
  Duration interval = milliseconds(1);
  while (Running()) {
    if (deadline.Expired()) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " is still running at the deadline"));
    }
    SleepBeforeNextPoll(interval, deadline);
  }
  return *wait_status_;
}

absl::Status Subprocess::WaitForStop(Deadline deadline) {
  Duration interval = milliseconds(1);
  while (true) {
    if (wait_status_.has_value()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "process ", pid_, " ", DescribeWaitStatus(*wait_status_), " instead of stopping"));
    }
    int status;
    const pid_t reaped = waitpid(pid_, &status, WNOHANG | WUNTRACED);
    if (reaped == pid_) {
      if (WIFSTOPPED(status)) return absl::OkStatus();
      wait_status_ = status;
      continue;
    }
    if (reaped < 0 && errno != EINTR) {
      wait_status_ = 0;
      continue;
    }
    if (deadline.Expired()) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " has not stopped by the deadline"));
    }
    SleepBeforeNextPoll(interval, deadline);
  }
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv, Deadline deadline) {
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoError("pipe2", errno);
  UniqueFd out_read(out_pipe[0]);
  UniqueFd out_write(out_pipe[1]);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoError("pipe2", errno);
  UniqueFd err_read(err_pipe[0]);
  UniqueFd err_write(err_pipe[1]);

  COORDHA_ASSIGN_OR_RETURN(const pid_t pid, Spawn(argv, out_write.get(), err_write.get()));
  // Owns the child from here: any early return kills and reaps it.
  std::unique_ptr<Subprocess> child(new Subprocess(pid));
  out_write.reset();
  err_write.reset();

  CommandResult result;
  auto timed_out = [&]() {
    return absl::DeadlineExceededError(absl::StrCat(
        "'", CommandLine(argv), "' was still running at the deadline; killed it. stdout: ",
        result.out, " stderr: ", result.err));
  };
  // Drain both pipes together: a child blocked writing one while we wait on the other would hang.
  pollfd fds[2] = {{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_pipes = 2;
  while (open_pipes > 0) {
    if (deadline.Expired()) return timed_out();
    int timeout_ms = -1;
    if (deadline.is_set()) {
      const auto left = std::chrono::ceil<milliseconds>(deadline.Remaining()).count();
      timeout_ms = static_cast<int>(std::min<int64_t>(left, INT_MAX));
    }
    const int ready = poll(fds, 2, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return ErrnoError("poll", errno);
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;  // end of file (or a broken pipe): poll() skips negative descriptors
        --open_pipes;
      }
    }
  }
  absl::StatusOr<int> wait_status = child->WaitForExit(deadline);
  if (!wait_status.ok()) return timed_out();
  result.wait_status = *wait_status;
  return result;
}

}  // namespace coordha::testing
