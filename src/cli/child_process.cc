#include "cli/child_process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace coordha::cli {
namespace {

// Writes `msg` to fd 2 of the child (its log) without allocating: we are between fork and exec.
void ChildFail(const char* what, const char* path) {
  const char* reason = strerrordesc_np(errno);  // a static table: safe after fork
  if (reason == nullptr) reason = "unknown error";
  const char* parts[] = {"coordha up: cannot ", what, " ", path, ": ", reason, "\n"};
  for (const char* part : parts) {
    ssize_t unused = write(STDERR_FILENO, part, strlen(part));
    (void)unused;
  }
  _exit(127);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& argv, const std::string& log_file) {
  if (argv.empty()) return absl::InvalidArgumentError("no command to start");
  // Everything the child needs is prepared here: after fork() in a multi-threaded process (gRPC
  // runs threads) only async-signal-safe calls are allowed.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  const int log_fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open ", log_file, ": ", strerror(errno)));
  }
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    close(log_fd);
    return absl::UnavailableError(absl::StrCat("cannot open /dev/null: ", strerror(errno)));
  }
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(log_fd);
    close(null_fd);
    return absl::UnavailableError(
        absl::StrCat("cannot start ", argv[0], ": fork: ", strerror(err)));
  }
  if (pid == 0) {
    // Own process group: a terminal Ctrl-C reaches only `up`.
    setpgid(0, 0);
    // Backstop: die with `up` even if it is SIGKILLed. If `up` already died before this line, the
    // signal would never come: check and leave.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    // Dispositions `up` set (SIGPIPE ignored) would survive exec; the mask always does.
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) {
      sigaction(sig, &default_action, nullptr);
    }
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, nullptr);
    if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
        dup2(log_fd, STDERR_FILENO) < 0) {
      _exit(127);
    }
    // Nothing else of `up` leaks in (gRPC sockets are CLOEXEC, but be certain).
    close_range(3, ~0U, 0);
    execv(args[0], args.data());
    ChildFail("execute", args[0]);
  }
  // Also from the parent, so the group exists before anyone signals it (no race with the child).
  setpgid(pid, pid);
  close(log_fd);
  close(null_fd);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid));
}

ChildProcess::~ChildProcess() {
  if (Running()) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

bool ChildProcess::Running() {
  if (wait_status_.has_value()) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    wait_status_ = status;
    return false;
  }
  if (r < 0 && errno == ECHILD) {  // reaped elsewhere; should not happen
    wait_status_ = 0;
    return false;
  }
  return true;
}

void ChildProcess::Signal(int signo) {
  if (Running()) kill(pid_, signo);
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return absl::StrCat("exited with code ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    const char* name = sigdescr_np(sig);
    return absl::StrCat("was killed by signal ", sig, name != nullptr ? " (" : "",
                        name != nullptr ? name : "", name != nullptr ? ")" : "");
  }
  return absl::StrCat("ended with wait status ", wait_status);
}

bool TcpPortFree(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  // As the real listeners do (gRPC, our HTTP server, etcd): TIME_WAIT leftovers do not block.
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool free =
      bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0 && listen(fd, 1) == 0;
  close(fd);
  return free;
}

std::optional<std::string> FindInPath(const std::string& name,
                                      const std::vector<std::string>& fallback_dirs) {
  auto executable = [](const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    if (executable(name)) return name;
    return std::nullopt;
  }
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    dirs = absl::StrSplit(path, ':', absl::SkipEmpty());
  }
  dirs.insert(dirs.end(), fallback_dirs.begin(), fallback_dirs.end());
  for (const std::string& dir : dirs) {
    const std::string candidate = absl::StrCat(dir, "/", name);
    if (executable(candidate)) return candidate;
  }
  return std::nullopt;
}

}  // namespace coordha::cli
