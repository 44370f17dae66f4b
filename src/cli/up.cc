// `coordha up`: a local HA cluster in one command (DESIGN.md §7).
//
// Starts (or reuses) etcd, two replicas of each coordinator in active-standby, one of each worker
// (querynode, datanode, indexnode), and shows the live session table until Ctrl-C, then stops
// everything it started: coordinators and workers gracefully (SIGTERM, L1) with a 5 s limit, then
// etcd. Signal handling is explicit (see child_process.h): `up` blocks
// SIGINT/SIGTERM/SIGHUP/SIGCHLD and takes them with sigtimedwait on its main thread; children run
// in their own process groups with an empty mask and die with `up` even when it is SIGKILLed.
// The status page (status_page.h) runs on its own HTTP thread and shows what the loop read last.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "cli/child_process.h"
#include "cli/commands.h"
#include "cli/status_page.h"
#include "cli/status_view.h"
#include "etcd/client.h"

namespace coordha::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntimeError = 1;
constexpr int kReplicasPerRole = 2;
constexpr int kLocalEtcdClientPort = 2379;
constexpr int kLocalEtcdPeerPort = 2380;
constexpr int kFirstMetricsPort = 9091;
constexpr int kDefaultPagePort = 9090;
constexpr auto kEtcdReadyTimeout = std::chrono::seconds(30);
constexpr auto kGracefulStopTimeout = std::chrono::seconds(5);
constexpr auto kEtcdStopTimeout = std::chrono::seconds(10);
// Without a terminal: print the table once every role has a Healthy active and every process
// started here has registered, or after this long anyway.
constexpr auto kFirstTableTimeout = std::chrono::seconds(30);

std::string TimeOfDay() {
  char buf[16] = {};
  const time_t t = time(nullptr);
  tm local{};
  localtime_r(&t, &local);
  strftime(buf, sizeof(buf), "%H:%M:%S", &local);
  return buf;
}

void Say(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fflush(stdout);
}

std::string LogTail(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(line);
    if (static_cast<int>(tail.size()) > lines) tail.pop_front();
  }
  std::string out;
  for (const std::string& line : tail) absl::StrAppend(&out, "  | ", line, "\n");
  return out;
}

// True for etcd.endpoints left at (or equivalent to) the default, the case where `up` may start
// its own etcd. Any other endpoint is the user's cluster: `up` never starts one in its place.
bool IsDefaultEndpoint(const std::vector<std::string>& endpoints) {
  if (endpoints.size() != 1) return false;
  absl::string_view e = endpoints.front();
  absl::ConsumePrefix(&e, "http://");
  return e == "localhost:2379" || e == "127.0.0.1:2379";
}

// One process `up` started: etcd, a coordinator replica or a worker.
struct Child {
  std::string name;   // "etcd", "rootcoord-1"
  std::string label;  // "etcd", "rootcoord #1"
  std::string log_file;
  std::unique_ptr<ChildProcess> process;
  bool exit_reported = false;
};

class Up {
 public:
  Up(const config::Config& config, const UpOptions& options, const sigset_t& signals)
      : config_(config), options_(options), signals_(signals) {}

  int Run();

 private:
  // The etcd to use: an answering one, or a local one started here. Sets endpoints_, client_.
  // Returns an exit code when `up` cannot go on.
  std::optional<int> PrepareEtcd();
  // Starts the status page on options_.page_port (or the default). Returns an exit code on error.
  std::optional<int> StartStatusPage();
  std::optional<int> StartLocalEtcd();
  std::optional<int> StartCoordinators();
  std::optional<int> StartWorkers();
  absl::StatusOr<std::unique_ptr<etcd::Client>> Connect(const std::vector<std::string>& endpoints);
  absl::Status StartChild(Child& child, const std::vector<std::string>& argv);
  // A port that TcpPortFree says is free and that `up` has not handed out yet, from `from` up.
  int PickPort(int from);

  // The live view: called every second until a stop signal. Returns the exit code.
  int Loop();
  void ReportExits(std::vector<std::string>* lines);
  std::string Frame(const absl::StatusOr<ClusterView>& view) const;
  // Without a terminal: one line per change since the last call (sessions gone or new, a role's
  // active or its state). `quiet` only records the baseline.
  void PrintChanges(const ClusterView& view, bool quiet);
  int RunningCoordinators();
  // Stops every child: coordinators and workers with SIGTERM (then SIGKILL after the grace
  // period), then etcd. Returns how many processes it stopped.
  int StopAll();
  // Waits until none of `children` runs or `deadline` passes; a second stop signal ends the wait
  // at once. Returns false when it gave up.
  bool AwaitExit(const std::vector<Child*>& children, Deadline deadline);

  const config::Config& config_;
  const UpOptions& options_;
  const sigset_t signals_;  // blocked; taken by sigtimedwait

  std::string dir_;
  std::string log_dir_;
  std::vector<std::string> endpoints_;  // what the coordinators are told
  bool local_etcd_ = false;
  std::unique_ptr<etcd::Client> client_;
  std::unique_ptr<StatusPage> page_;  // from Run() on; serves until `up` returns
  std::unique_ptr<Child> etcd_;
  std::vector<std::unique_ptr<Child>> coordinators_;
  std::vector<std::unique_ptr<Child>> workers_;
  int next_metrics_port_ = kFirstMetricsPort;
  std::set<int> ports_taken_;  // ports handed out to children
  bool tty_ = false;
  bool force_stop_ = false;  // a second Ctrl-C during shutdown: SIGKILL everything

  // Stdout not a terminal: print lines on changes only.
  bool first_table_printed_ = false;
  bool etcd_failing_ = false;  // the last read of the view failed
  BootTime started_at_{};
  struct ActiveState {
    int64_t server_id = 0;  // 0: none
    int64_t epoch = 0;
    std::string state;
    bool operator==(const ActiveState&) const = default;
  };
  std::map<std::string, ActiveState> last_active_;  // by role
  std::set<std::pair<std::string, int64_t>> last_sessions_;
  std::vector<std::string> exit_lines_;  // footer of the table
};

absl::StatusOr<std::unique_ptr<etcd::Client>> Up::Connect(
    const std::vector<std::string>& endpoints) {
  etcd::ClientOptions options = config_.etcd.ToClientOptions();
  options.endpoints = endpoints;
  options.dial_timeout = std::chrono::seconds(1);
  return etcd::Client::Connect(options);
}

int Up::PickPort(int from) {
  for (int port = from; port < 65536; ++port) {
    if (ports_taken_.count(port) != 0 || !TcpPortFree(port)) continue;
    ports_taken_.insert(port);
    return port;
  }
  return 0;
}

absl::Status Up::StartChild(Child& child, const std::vector<std::string>& argv) {
  {
    std::ofstream log(child.log_file, std::ios::app);
    log << "=== coordha up " << TimeOfDay() << ": " << absl::StrJoin(argv, " ") << " ===\n";
  }
  absl::StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Start(argv, child.log_file);
  if (!process.ok()) return process.status();
  child.process = *std::move(process);
  return absl::OkStatus();
}

std::optional<int> Up::StartStatusPage() {
  const bool is_default = options_.page_port == 0;
  absl::StatusOr<std::unique_ptr<StatusPage>> page =
      StatusPage::Start({.host = "127.0.0.1",
                         .port = is_default ? kDefaultPagePort : options_.page_port,
                         .port_is_default = is_default});
  if (!page.ok()) {
    std::fprintf(stderr, "coordha: %s\n", std::string(page.status().message()).c_str());
    return kExitRuntimeError;
  }
  page_ = *std::move(page);
  ports_taken_.insert(page_->port());
  if (page_->fell_back()) {
    Say(absl::StrCat("status page port ", kDefaultPagePort, " is taken; using ", page_->port(),
                     " instead\n"));
  }
  Say(absl::StrCat("status page: ", page_->url(), "\n"));
  return std::nullopt;
}

std::optional<int> Up::PrepareEtcd() {
  absl::StatusOr<std::unique_ptr<etcd::Client>> client = Connect(config_.etcd.endpoints);
  if (client.ok()) {
    client_ = *std::move(client);
    endpoints_ = config_.etcd.endpoints;
    Say(absl::StrCat("using etcd at ", absl::StrJoin(endpoints_, ","), " (already running)\n"));
    return std::nullopt;
  }
  if (client.status().code() != absl::StatusCode::kUnavailable) {
    std::fprintf(stderr, "coordha: etcd: %s\n", std::string(client.status().message()).c_str());
    return kExitRuntimeError;
  }
  if (!IsDefaultEndpoint(config_.etcd.endpoints)) {
    std::fprintf(stderr,
                 "coordha: %s (coordha up starts a local etcd only when etcd.endpoints is left at "
                 "localhost:2379)\n",
                 UnreachableMessage(config_.etcd.endpoints, client.status()).c_str());
    return kExitRuntimeError;
  }
  return StartLocalEtcd();
}

std::optional<int> Up::StartLocalEtcd() {
  std::optional<std::string> binary = FindInPath("etcd", {"/usr/bin", "/usr/local/bin"});
  if (!binary.has_value()) {
    std::fprintf(stderr,
                 "coordha: etcd not found: install etcd-server (scripts/install-deps.sh) or set "
                 "etcd.endpoints\n");
    return kExitRuntimeError;
  }
  if (!TcpPortFree(kLocalEtcdClientPort)) {
    std::fprintf(stderr,
                 "coordha: port %d is taken by something that does not answer as etcd; stop it, "
                 "or set etcd.endpoints to your etcd\n",
                 kLocalEtcdClientPort);
    return kExitRuntimeError;
  }
  ports_taken_.insert(kLocalEtcdClientPort);
  const int peer_port = PickPort(kLocalEtcdPeerPort);
  const std::string client_url = absl::StrCat("http://127.0.0.1:", kLocalEtcdClientPort);
  const std::string peer_url = absl::StrCat("http://127.0.0.1:", peer_port);
  const std::string data_dir = dir_ + "/etcd";
  etcd_ = std::make_unique<Child>();
  etcd_->name = "etcd";
  etcd_->label = "etcd";
  etcd_->log_file = log_dir_ + "/etcd.log";
  const std::vector<std::string> argv = {*binary,
                                         "--name=coordha-up",
                                         "--data-dir=" + data_dir,
                                         "--listen-client-urls=" + client_url,
                                         "--advertise-client-urls=" + client_url,
                                         "--listen-peer-urls=" + peer_url,
                                         "--initial-advertise-peer-urls=" + peer_url,
                                         "--initial-cluster=coordha-up=" + peer_url,
                                         "--logger=zap",
                                         "--log-outputs=stderr"};
  Say(absl::StrCat("starting etcd (", *binary, ", data in ", data_dir, ") ..."));
  if (absl::Status s = StartChild(*etcd_, argv); !s.ok()) {
    Say(" failed\n");
    std::fprintf(stderr, "coordha: %s\n", std::string(s.message()).c_str());
    return kExitRuntimeError;
  }
  local_etcd_ = true;
  endpoints_ = {absl::StrCat("127.0.0.1:", kLocalEtcdClientPort)};
  const BootTime start = BootClock::now();
  const Deadline deadline = Deadline::In(kEtcdReadyTimeout);
  while (true) {
    absl::StatusOr<std::unique_ptr<etcd::Client>> client = Connect(endpoints_);
    if (client.ok()) {
      client_ = *std::move(client);
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(BootClock::now() - start).count();
      Say(absl::StrCat(" ready (", ms, " ms)\n"));
      return std::nullopt;
    }
    if (!etcd_->process->Running()) {
      Say(" failed\n");
      std::fprintf(stderr, "coordha: etcd %s; see %s\n%s",
                   DescribeWaitStatus(*etcd_->process->wait_status()).c_str(),
                   etcd_->log_file.c_str(), LogTail(etcd_->log_file, 5).c_str());
      return kExitRuntimeError;
    }
    if (deadline.Expired()) {
      Say(" failed\n");
      std::fprintf(stderr, "coordha: etcd did not answer within %lld s; see %s\n",
                   static_cast<long long>(kEtcdReadyTimeout.count()), etcd_->log_file.c_str());
      StopAll();
      return kExitRuntimeError;
    }
    Say(".");
    const timespec tick{0, 200'000'000};
    const int sig = sigtimedwait(&signals_, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
      Say(" interrupted\n");
      const int stopped = StopAll();
      Say(absl::StrCat("stopped ", stopped, " processes; logs in ", log_dir_, "\n"));
      return kExitOk;
    }
  }
}

std::optional<int> Up::StartCoordinators() {
  for (config::Role role : config::AllRoles()) {
    // Separate coordinators, never also a mixcoord over the same state.
    if (!config::IsCoordinator(role) || role == config::Role::kMixCoord) continue;
    const std::string role_name = config::RoleName(role);
    const std::string prefix = config::RoleKeyPrefix(role);
    const int default_port = config_.role(role).port;
    for (int i = 1; i <= kReplicasPerRole; ++i) {
      auto child = std::make_unique<Child>();
      child->name = absl::StrCat(role_name, "-", i);
      child->label = absl::StrCat(role_name, " #", i);
      child->log_file = absl::StrCat(log_dir_, "/", child->name, ".log");
      const int port = PickPort(default_port + i - 1);
      const int metrics_port = PickPort(next_metrics_port_);
      if (port == 0 || metrics_port == 0) {
        std::fprintf(stderr, "coordha: no free TCP port for %s\n", child->label.c_str());
        return kExitRuntimeError;
      }
      next_metrics_port_ = metrics_port + 1;
      std::vector<std::string> argv = {options_.self_binary, "run", role_name};
      if (!options_.config_file.empty()) {
        argv.insert(argv.end(), {"--config", options_.config_file});
      }
      for (const std::string& set : options_.sets) argv.insert(argv.end(), {"--set", set});
      argv.insert(argv.end(), {"--set", absl::StrCat(prefix, ".enableActiveStandby=true"), "--set",
                               absl::StrCat(prefix, ".port=", port), "--set",
                               absl::StrCat("metrics.port=", metrics_port), "--set",
                               absl::StrCat("etcd.endpoints=", absl::StrJoin(endpoints_, ","))});
      if (absl::Status s = StartChild(*child, argv); !s.ok()) {
        std::fprintf(stderr, "coordha: starting %s: %s\n", child->label.c_str(),
                     std::string(s.message()).c_str());
        return kExitRuntimeError;
      }
      Say(absl::StrCat("started ", child->label, " (pid ", child->process->pid(), ") on port ",
                       port, ", metrics ", metrics_port, ", log ", child->log_file, "\n"));
      coordinators_.push_back(std::move(child));
    }
  }
  return std::nullopt;
}

std::optional<int> Up::StartWorkers() {
  for (config::Role role : config::AllRoles()) {
    if (config::IsCoordinator(role)) continue;
    const std::string role_name = config::RoleName(role);
    auto child = std::make_unique<Child>();
    child->name = absl::StrCat(role_name, "-1");
    child->label = role_name;
    child->log_file = absl::StrCat(log_dir_, "/", child->name, ".log");
    const int port = PickPort(config_.role(role).port);
    const int metrics_port = PickPort(next_metrics_port_);
    if (port == 0 || metrics_port == 0) {
      std::fprintf(stderr, "coordha: no free TCP port for %s\n", child->label.c_str());
      return kExitRuntimeError;
    }
    next_metrics_port_ = metrics_port + 1;
    std::vector<std::string> argv = {options_.self_binary, "run", role_name};
    if (!options_.config_file.empty()) argv.insert(argv.end(), {"--config", options_.config_file});
    for (const std::string& set : options_.sets) argv.insert(argv.end(), {"--set", set});
    argv.insert(argv.end(), {"--set", absl::StrCat(config::RoleKeyPrefix(role), ".port=", port),
                             "--set", absl::StrCat("metrics.port=", metrics_port), "--set",
                             absl::StrCat("etcd.endpoints=", absl::StrJoin(endpoints_, ","))});
    if (absl::Status s = StartChild(*child, argv); !s.ok()) {
      std::fprintf(stderr, "coordha: starting %s: %s\n", child->label.c_str(),
                   std::string(s.message()).c_str());
      return kExitRuntimeError;
    }
    Say(absl::StrCat("started ", child->label, " (pid ", child->process->pid(), ") on port ", port,
                     ", metrics ", metrics_port, ", log ", child->log_file, "\n"));
    workers_.push_back(std::move(child));
  }
  return std::nullopt;
}

int Up::RunningCoordinators() {
  int running = 0;
  for (auto& child : coordinators_) running += child->process->Running() ? 1 : 0;
  return running;
}

void Up::ReportExits(std::vector<std::string>* lines) {
  std::vector<Child*> all;
  for (auto& child : coordinators_) all.push_back(child.get());
  for (auto& child : workers_) all.push_back(child.get());
  if (etcd_ != nullptr) all.push_back(etcd_.get());
  for (Child* child : all) {
    if (child->exit_reported || child->process->Running()) continue;
    child->exit_reported = true;
    lines->push_back(absl::StrCat(child->label, " (pid ", child->process->pid(), ") ",
                                  DescribeWaitStatus(*child->process->wait_status()), "; see ",
                                  child->log_file));
  }
}

std::string Up::Frame(const absl::StatusOr<ClusterView>& view) const {
  const int total = static_cast<int>(coordinators_.size() + workers_.size());
  int running = 0;
  for (const auto& child : coordinators_) running += child->exit_reported ? 0 : 1;
  for (const auto& child : workers_) running += child->exit_reported ? 0 : 1;
  std::string out = absl::StrCat(
      "coordha up: etcd ", absl::StrJoin(endpoints_, ","),
      local_etcd_ ? " (local), " : " (external), ",
      running == total ? absl::StrCat(total) : absl::StrCat(running, " of ", total), " processes",
      running == total ? "" : " running", ", logs in ", log_dir_, " — Ctrl-C to stop\n");
  int64_t victim = 0;
  std::string victim_role;
  if (view.ok()) {
    for (const SessionRow& row : view->sessions) {
      if (row.active && row.pid > 0 && victim == 0) {
        victim = row.pid;
        victim_role = row.role;
      }
    }
  }
  if (victim != 0) {
    absl::StrAppend(&out, "try: kill -9 ", victim, " (the active ", victim_role,
                    "), then watch a standby take over\n");
  }
  if (page_ != nullptr) absl::StrAppend(&out, "status page: ", page_->url(), "\n");
  absl::StrAppend(
      &out, "\n",
      view.ok() ? RenderTable(*view) : absl::StrCat("etcd: ", view.status().message(), "\n"));
  if (!exit_lines_.empty()) absl::StrAppend(&out, "\n", absl::StrJoin(exit_lines_, "\n"), "\n");
  return out;
}

void Up::PrintChanges(const ClusterView& view, bool quiet) {
  std::map<std::string, ActiveState> active;
  std::set<std::pair<std::string, int64_t>> sessions;
  std::map<std::pair<std::string, int64_t>, const SessionRow*> rows;
  for (const SessionRow& row : view.sessions) {
    sessions.insert({row.role, row.server_id});
    rows[{row.role, row.server_id}] = &row;
  }
  for (const RoleSummary& role : view.roles) {
    if (role.coordinator) {
      active[role.role] = {role.active_server_id, role.epoch, role.active_state};
    }
  }
  std::vector<std::string> lines;
  for (const auto& key : last_sessions_) {
    if (sessions.count(key) == 0) {
      lines.push_back(absl::StrCat(key.first, ": session of server ", key.second, " is gone"));
    }
  }
  for (const auto& key : sessions) {
    if (last_sessions_.count(key) == 0) {
      const SessionRow& row = *rows[key];
      lines.push_back(absl::StrCat(key.first, ": server ", key.second, " registered (pid ", row.pid,
                                   ", ", row.address, ")"));
    }
  }
  for (const auto& [role, now] : active) {
    const auto before = last_active_.find(role);
    if (before != last_active_.end() && before->second == now) continue;
    const bool same_term = before != last_active_.end() &&
                           before->second.server_id == now.server_id &&
                           before->second.epoch == now.epoch;
    const std::string was =
        before == last_active_.end() || before->second.server_id == 0 || same_term
            ? ""
            : absl::StrCat(" (was server ", before->second.server_id, ")");
    if (now.server_id == 0) {
      lines.push_back(absl::StrCat(role, ": no active!", was));
      continue;
    }
    auto row = rows.find({role, now.server_id});
    lines.push_back(absl::StrCat(
        role, ": server ", now.server_id, " is active (", now.state, "), epoch ", now.epoch,
        row != rows.end() ? absl::StrCat(", pid ", row->second->pid, ", ", row->second->address)
                          : "",
        was));
  }
  for (const auto& [role, before] : last_active_) {
    if (active.count(role) == 0 && before.server_id != 0) {
      lines.push_back(absl::StrCat(role, ": no sessions left (was server ", before.server_id, ")"));
    }
  }
  if (!quiet) {
    for (const std::string& line : lines) Say(absl::StrCat(TimeOfDay(), " ", line, "\n"));
  }
  last_active_ = std::move(active);
  last_sessions_ = std::move(sessions);
}

int Up::Loop() {
  started_at_ = BootClock::now();
  int exit_code = kExitOk;
  while (true) {
    std::vector<std::string> exits;
    ReportExits(&exits);
    absl::StatusOr<ClusterView> view = ReadClusterView(
        *client_, config_.etcd.MetaRoot(),
        Deadline::In(std::min<Duration>(config_.etcd.request_timeout, std::chrono::seconds(1))));
    page_->Publish(view);
    if (tty_) {
      exit_lines_.insert(exit_lines_.end(), exits.begin(), exits.end());
      Say("\033[H\033[2J" + Frame(view));
    } else {
      for (const std::string& line : exits) Say(absl::StrCat(TimeOfDay(), " ", line, "\n"));
      exit_lines_.insert(exit_lines_.end(), exits.begin(), exits.end());
      if (!view.ok() && !etcd_failing_) {
        Say(absl::StrCat(TimeOfDay(), " etcd: ", view.status().message(), "\n"));
      } else if (view.ok() && etcd_failing_) {
        Say(absl::StrCat(TimeOfDay(), " etcd answers again\n"));
      }
      etcd_failing_ = !view.ok();
      if (view.ok()) {
        if (!first_table_printed_) {
          // Once every coordinator role has a serving (Healthy) active and each process started
          // here has registered, or after a while anyway.
          int healthy = 0;
          for (const RoleSummary& role : view->roles) {
            healthy += role.coordinator && role.active_state == "Healthy" ? 1 : 0;
          }
          std::set<int64_t> unregistered;
          for (auto& child : coordinators_) {
            if (child->process->Running()) unregistered.insert(child->process->pid());
          }
          for (auto& child : workers_) {
            if (child->process->Running()) unregistered.insert(child->process->pid());
          }
          for (const SessionRow& row : view->sessions) unregistered.erase(row.pid);
          if ((healthy == 4 && unregistered.empty()) ||
              BootClock::now() - started_at_ > kFirstTableTimeout) {
            Say(absl::StrCat("\n", Frame(view), "\n"));
            first_table_printed_ = true;
            PrintChanges(*view, /*quiet=*/true);  // the baseline: the table just showed it
          }
        } else {
          PrintChanges(*view, /*quiet=*/false);
        }
      }
    }
    if (RunningCoordinators() == 0) {
      Say(absl::StrCat("every coordinator process has exited; see the logs in ", log_dir_, "\n"));
      exit_code = kExitRuntimeError;
      break;
    }
    // Next frame in a second; a child's exit (SIGCHLD) redraws at once, a stop signal ends.
    const timespec tick{1, 0};
    int sig = 0;
    do {
      sig = sigtimedwait(&signals_, nullptr, &tick);
    } while (sig < 0 && errno == EINTR);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) break;
  }
  const int stopped = StopAll();
  Say(absl::StrCat("stopped ", stopped, " processes; logs in ", log_dir_, "\n"));
  return exit_code;
}

bool Up::AwaitExit(const std::vector<Child*>& children, Deadline deadline) {
  while (true) {
    bool any_running = false;
    for (Child* child : children) any_running |= child->process->Running();
    if (!any_running) return true;
    if (force_stop_ || deadline.Expired()) return false;
    const timespec tick{0, 50'000'000};
    const int sig = sigtimedwait(&signals_, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
      Say("second signal: killing every process now\n");
      force_stop_ = true;
      return false;
    }
  }
}

int Up::StopAll() {
  int stopped = 0;
  std::vector<Child*> running;
  size_t running_workers = 0;
  for (auto& child : coordinators_) {
    if (child->process->Running()) running.push_back(child.get());
  }
  for (auto& child : workers_) {
    if (child->process->Running()) {
      running.push_back(child.get());
      ++running_workers;
    }
  }
  if (!running.empty()) {
    Say(absl::StrCat(tty_ ? "\n" : "", "stopping ", running.size() - running_workers,
                     " coordinator and ", running_workers, " worker processes (SIGTERM) ...\n"));
  }
  // L1: SIGTERM is the graceful stop: resign with one fenced Txn, revoke the lease.
  for (Child* child : running) child->process->Signal(SIGTERM);
  if (!AwaitExit(running, Deadline::In(kGracefulStopTimeout))) {
    for (Child* child : running) {
      if (child->process->Running()) {
        if (!force_stop_) {
          Say(absl::StrCat(child->label, " (pid ", child->process->pid(),
                           ") did not stop within 5 s: SIGKILL\n"));
        }
        child->process->Signal(SIGKILL);
      }
    }
  }
  stopped += static_cast<int>(running.size());
  coordinators_.clear();  // reaps (SIGKILLed stragglers included)
  workers_.clear();

  client_.reset();  // before etcd goes away
  if (etcd_ != nullptr && etcd_->process->Running()) {
    Say("stopping etcd ...\n");
    etcd_->process->Signal(SIGTERM);
    if (!AwaitExit({etcd_.get()}, Deadline::In(kEtcdStopTimeout))) {
      etcd_->process->Signal(SIGKILL);
    }
    ++stopped;
  }
  etcd_.reset();
  return stopped;
}

int Up::Run() {
  tty_ = isatty(STDOUT_FILENO) == 1;
  std::error_code error;
  std::filesystem::path dir = options_.dir.empty() ? "coordha-up" : options_.dir;
  dir = std::filesystem::absolute(dir, error).lexically_normal();
  dir_ = std::string(absl::StripSuffix(dir.string(), "/"));
  log_dir_ = dir_ + "/logs";
  if (!std::filesystem::create_directories(log_dir_, error) && error) {
    std::fprintf(stderr, "coordha: cannot create %s: %s\n", log_dir_.c_str(),
                 error.message().c_str());
    return kExitRuntimeError;
  }
  if (std::optional<int> code = StartStatusPage(); code.has_value()) return *code;
  if (std::optional<int> code = PrepareEtcd(); code.has_value()) return *code;
  std::optional<int> code = StartCoordinators();
  if (!code.has_value()) code = StartWorkers();
  if (code.has_value()) {
    const int stopped = StopAll();
    Say(absl::StrCat("stopped ", stopped, " processes; logs in ", log_dir_, "\n"));
    return *code;
  }
  if (!tty_) Say("waiting for every role to elect an active ...\n");
  return Loop();
}

}  // namespace

int UpCommand(const config::Config& config, const UpOptions& options) {
  // Before any thread exists (the etcd client starts gRPC's): every thread inherits the mask, so
  // these signals reach only the sigtimedwait calls of the main thread.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A closed pipe on stdout (`coordha up | head`) must not kill `up` and orphan its children.
  signal(SIGPIPE, SIG_IGN);
  Up up(config, options, signals);
  return up.Run();
}

}  // namespace coordha::cli
