#include "cli/bench_cluster.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "config/config.h"

namespace coordha::cli {
namespace {

// Both replicas registered and one elected: process start plus a campaign.
constexpr auto kStartTimeout = std::chrono::seconds(60);
// A stopped replica exits at once after SIGKILL.
constexpr auto kKillExitTimeout = std::chrono::seconds(10);
constexpr auto kHttpTimeout = std::chrono::seconds(5);

// Between "one active, one standby" and the failure a trial injects.
constexpr auto kSettle = std::chrono::milliseconds(500);
// The pace of the harness's polls of its own answer log and the poller's observations.
constexpr auto kTick = std::chrono::milliseconds(1);

std::string Describe(const std::string& name, const Observation& o) {
  if (!o.answered) return absl::StrCat(name, ": no answer");
  return absl::StrCat(name, ": ", v1::StateCode_Name(o.state), " (server ", o.server_id,
                      o.epoch != 0 ? absl::StrCat(", epoch ", o.epoch) : "", ")");
}

std::string LogTail(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("=== coordha bench", 0) == 0) continue;  // our own header lines
    tail.push_back(line);
    if (static_cast<int>(tail.size()) > lines) tail.pop_front();
  }
  std::string out;
  for (const std::string& line : tail) absl::StrAppend(&out, out.empty() ? "" : " | ", line);
  return out;
}

// GET http://127.0.0.1:<port><path>: the body of a 200 answer.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  const timeval timeout{std::chrono::duration_cast<std::chrono::seconds>(kHttpTimeout).count(), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to 127.0.0.1:", port));
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  (void)send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) {
    response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (response.size() < 12 || response.compare(9, 3, "200") != 0) {
    return absl::UnavailableError(
        absl::StrCat("GET 127.0.0.1:", port, path, ": ", response.substr(0, response.find('\r'))));
  }
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

}  // namespace

BenchCluster::BenchCluster(BenchClusterOptions options, Interrupt* interrupt)
    : options_(std::move(options)),
      interrupt_(interrupt),
      root_path_(absl::StrCat("bench-", getpid())) {}

BenchCluster::~BenchCluster() { Stop(); }

absl::StatusOr<std::unique_ptr<BenchCluster>> BenchCluster::Start(BenchClusterOptions options,
                                                                  Interrupt* interrupt) {
  std::unique_ptr<BenchCluster> cluster(new BenchCluster(std::move(options), interrupt));
  COORDHA_RETURN_IF_ERROR(cluster->StartAll());
  return cluster;
}

absl::Status BenchCluster::StartAll() {
  const std::string& dir = options_.dir;
  if (options_.own_network) {
    COORDHA_ASSIGN_OR_RETURN(
        net_, ChaosNet::Create(2 * static_cast<int>(options_.roles.size()), dir + "/net.log"));
  }
  absl::StatusOr<std::unique_ptr<LocalEtcd>> etcd = LocalEtcd::Start(
      LocalEtcdOptions{.data_dir = absl::StrCat(dir, "/etcd-", getpid()),
                       .log_file = dir + "/etcd.log",
                       .members = options_.etcd_members,
                       .host = net_ != nullptr ? net_->gateway_ip() : std::string("127.0.0.1")},
      &ports_, [this] { return interrupt_->Received(); });
  if (!etcd.ok()) return etcd.status();
  etcd_ = *std::move(etcd);

  std::vector<std::string> prefix;
  if (options_.cross_host) {
    std::optional<std::string> unshare = FindInPath("unshare", {"/usr/bin", "/bin"});
    if (!unshare.has_value()) {
      return absl::NotFoundError("--cross-host needs unshare: install util-linux");
    }
    prefix = {*unshare, "--pid", "--fork", "--kill-child"};
  }
  std::vector<std::string> addresses;
  for (const std::string& role_name : options_.roles) {
    COORDHA_ASSIGN_OR_RETURN(const config::Role role, config::ParseRole(role_name));
    const std::string key = config::RoleKeyPrefix(role);
    for (int i = 1; i <= 2; ++i) {
      const int index = static_cast<int>(replicas_.size());
      COORDHA_ASSIGN_OR_RETURN(const int port, ports_.Pick());
      COORDHA_ASSIGN_OR_RETURN(const int metrics_port, ports_.Pick());
      std::vector<std::string> argv = prefix;
      std::string host = "127.0.0.1";
      if (net_ != nullptr) {
        argv = net_->Prefix(index);
        host = net_->host_ip(index);
      }
      const std::vector<std::string> sets = {
          "etcd.endpoints=" + etcd_->endpoints_flag(),
          "etcd.rootPath=" + root_path_,
          key + ".enableActiveStandby=true",
          key + ".address=" + host,
          absl::StrCat(key, ".port=", port),
          absl::StrCat("metrics.port=", metrics_port),
          absl::StrCat("common.session.ttl=", options_.ttl_seconds),
          "common.session.serveGrant=" + options_.serve_grant,
      };
      argv.insert(argv.end(), {options_.self_binary, "run", role_name});
      for (const std::vector<std::string>* list : {&sets, &options_.replica_sets}) {
        for (const std::string& set : *list) argv.insert(argv.end(), {"--set", set});
      }
      const std::string name = absl::StrCat(role_name, "-", i);
      addresses.push_back(absl::StrCat(host, ":", port));
      replicas_.push_back(std::make_unique<ReplicaProcess>(
          name, std::move(argv), absl::StrCat(dir, "/", name, ".log"), addresses.back(),
          metrics_port, options_.cross_host));
      COORDHA_RETURN_IF_ERROR(replicas_.back()->Start());
    }
  }
  poller_ = std::make_unique<StatePoller>(addresses);
  poller_->Start();

  etcd::ClientOptions etcd_options;
  etcd_options.endpoints = etcd_->endpoints();
  COORDHA_ASSIGN_OR_RETURN(etcd_client_, etcd::Client::Connect(etcd_options));
  config::EtcdConfig etcd_config;
  etcd_config.root_path = root_path_;
  client::ClientOptions client_options;
  client_options.etcd_client = etcd_client_.get();
  client_options.meta_root = etcd_config.MetaRoot();
  client_options.call_timeout = 3 * ttl();
  COORDHA_ASSIGN_OR_RETURN(client_, client::Client::Create(client_options));

  for (size_t role = 0; role < options_.roles.size(); ++role) {
    absl::StatusOr<Roles> roles = AwaitRoles(Deadline::In(kStartTimeout), role);
    if (!roles.ok()) return roles.status();
  }
  return absl::OkStatus();
}

void BenchCluster::StartLoad() {
  for (int t = 0; t < options_.client_threads; ++t) {
    callers_.emplace_back([this](std::stop_token stop) {
      while (!stop.stop_requested()) {
        absl::StatusOr<client::TimestampRange> ts = client_->AllocTimestamp(1);
        const BootTime now = BootClock::now();
        if (ts.ok()) {
          answers_.Record(ts->from.server_id, ts->from.epoch, now);
        } else if (ts.status().code() != absl::StatusCode::kCancelled) {
          answers_.RecordError(std::string(ts.status().message()));
        }
      }
    });
  }
}

void BenchCluster::Stop() {
  for (std::jthread& caller : callers_) caller.request_stop();
  if (client_ != nullptr) client_->Stop();  // calls in progress return kCancelled
  callers_.clear();                         // joins
  client_.reset();
  etcd_client_.reset();
  if (poller_ != nullptr) poller_->Stop();
  switchover_.reset();
  for (auto& replica : replicas_) replica->Kill();
  if (etcd_ != nullptr) etcd_->Stop();
  net_.reset();
}

absl::Status BenchCluster::Tick(Duration d) {
  if (interrupt_->Sleep(d)) return absl::CancelledError("interrupted");
  return absl::OkStatus();
}

absl::StatusOr<BenchCluster::Roles> BenchCluster::AwaitRoles(Deadline deadline, size_t role) {
  const BootTime since = BootClock::now();
  const size_t first = 2 * role;
  std::string seen = "no answers yet";
  while (true) {
    for (size_t r = first; r < first + 2; ++r) {
      ReplicaProcess& replica = *replicas_.at(r);
      if (!replica.Running()) {
        return absl::UnavailableError(absl::StrCat(replica.name(), " ", replica.exit_description(),
                                                   "; see ", replica.log_file()));
      }
    }
    const Observation a = poller_->Latest(first);
    const Observation b = poller_->Latest(first + 1);
    if (a.answered && b.answered && a.sent >= since && b.sent >= since) {
      const bool a_active = a.state == v1::Healthy && a.epoch != 0;
      const bool b_active = b.state == v1::Healthy && b.epoch != 0;
      if (a_active != b_active && (a_active ? b : a).state == v1::StandBy) {
        const Observation& active = a_active ? a : b;
        const Observation& standby = a_active ? b : a;
        Roles roles{.active = first + (a_active ? 0u : 1u),
                    .standby = first + (a_active ? 1u : 0u),
                    .epoch = active.epoch,
                    .active_server = active.server_id,
                    .standby_server = standby.server_id};
        if (callers_.empty() || role != 0) return roles;
        std::optional<AnswerLog::Span> span = answers_.Of(roles.epoch);
        if (span.has_value() && span->last >= since) return roles;
        seen =
            absl::StrCat("no client answer from epoch ", roles.epoch, " yet (", answers_.errors(),
                         " client errors; last: ", answers_.last_error(), ")");
      } else {
        seen = absl::StrCat(Describe(replicas_[first]->name(), a), "; ",
                            Describe(replicas_[first + 1]->name(), b));
      }
    }
    if (deadline.Expired()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "no active with a standby within ",
          std::chrono::duration_cast<std::chrono::seconds>(deadline.at() - since).count(),
          " s: ", seen));
    }
    COORDHA_RETURN_IF_ERROR(Tick(kTick));
  }
}

absl::Status BenchCluster::AwaitStandBy(size_t replica, BootTime since, Deadline deadline) {
  while (true) {
    const Observation o = poller_->Latest(replica);
    if (o.answered && o.sent >= since && o.state == v1::StandBy) return absl::OkStatus();
    if (!replicas_[replica]->Running()) {
      return absl::UnavailableError(absl::StrCat(replicas_[replica]->name(), " ",
                                                 replicas_[replica]->exit_description(), "; see ",
                                                 replicas_[replica]->log_file()));
    }
    if (deadline.Expired()) {
      return absl::DeadlineExceededError(absl::StrCat(
          replicas_[replica]->name(), " did not answer StandBy in time; last: ",
          Describe(replicas_[replica]->name(), o), "; see ", replicas_[replica]->log_file()));
    }
    COORDHA_RETURN_IF_ERROR(Tick(kTick));
  }
}

absl::Status BenchCluster::StartSwitchover(int64_t to_server) {
  const std::string log = absl::StrCat(options_.dir, "/switchover.log");
  {
    std::ofstream out(log, std::ios::app);
    out << "=== coordha bench: switchover #" << ++switchovers_ << " to server " << to_server
        << " ===\n";
  }
  absl::StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Start(
      {options_.self_binary, "switchover", "rootcoord", "--to", absl::StrCat(to_server), "--set",
       "etcd.endpoints=" + etcd_->endpoints_flag(), "--set", "etcd.rootPath=" + root_path_},
      log);
  if (!process.ok()) return process.status();
  switchover_ = *std::move(process);
  return absl::OkStatus();
}

absl::Status BenchCluster::Restore(FailoverKind kind, size_t old_active, std::string* note) {
  ReplicaProcess& old = *replicas_[old_active];
  const Deadline deadline = Deadline::In(3 * ttl() + std::chrono::seconds(10));
  BootTime since = BootClock::now();
  switch (kind) {
    case FailoverKind::kKill9:
      if (!old.AwaitExit(Deadline::In(kKillExitTimeout))) {
        return absl::InternalError(absl::StrCat(old.name(), " still runs 10 s after SIGKILL"));
      }
      since = BootClock::now();
      COORDHA_RETURN_IF_ERROR(old.Start());
      break;
    case FailoverKind::kTerm:
      if (!old.AwaitExit(deadline)) {
        *note = "old active did not exit after SIGTERM: killed";
        old.Kill();
      } else if (old.exit_description() != "exited with code 0") {
        *note = absl::StrCat("old active ", old.exit_description());
      }
      since = BootClock::now();
      COORDHA_RETURN_IF_ERROR(old.Start());
      break;
    case FailoverKind::kStop:
      COORDHA_RETURN_IF_ERROR(old.Signal(SIGCONT));
      since = BootClock::now();
      break;
    case FailoverKind::kSwitchover:
      while (switchover_ != nullptr && switchover_->Running()) {
        if (deadline.Expired()) return absl::DeadlineExceededError("coordha switchover hangs");
        COORDHA_RETURN_IF_ERROR(Tick(kTick));
      }
      if (switchover_ != nullptr && switchover_->wait_status() != 0) {
        const std::string log = absl::StrCat(options_.dir, "/switchover.log");
        return absl::UnavailableError(absl::StrCat("coordha switchover ",
                                                   DescribeWaitStatus(*switchover_->wait_status()),
                                                   ": ", LogTail(log, 2)));
      }
      break;
  }
  return AwaitStandBy(old_active, since, deadline);
}

absl::StatusOr<TrialResult> BenchCluster::RunTrial(FailoverKind kind) {
  const Duration restore_timeout = 3 * ttl() + std::chrono::seconds(10);
  COORDHA_ASSIGN_OR_RETURN(const Roles settled, AwaitRoles(Deadline::In(restore_timeout)));
  // Let the pair settle (the standby's liveness stream and watches connect, as in a cluster that
  // has run for a while) and make sure the role did not move by itself meanwhile.
  COORDHA_RETURN_IF_ERROR(Tick(kSettle));
  COORDHA_ASSIGN_OR_RETURN(const Roles roles, AwaitRoles(Deadline::In(restore_timeout)));
  if (roles.epoch != settled.epoch) {
    return absl::AbortedError(absl::StrCat("the active changed by itself before the trial: epoch ",
                                           settled.epoch, " -> ", roles.epoch));
  }
  TrialResult result{.kind = kind, .from_server = roles.active_server, .from_epoch = roles.epoch};
  ReplicaProcess& old = *replicas_[roles.active];
  switch (kind) {
    case FailoverKind::kKill9:
      COORDHA_RETURN_IF_ERROR(old.Signal(SIGKILL));
      break;
    case FailoverKind::kTerm:
      COORDHA_RETURN_IF_ERROR(old.Signal(SIGTERM));
      break;
    case FailoverKind::kStop:
      COORDHA_RETURN_IF_ERROR(old.Signal(SIGSTOP));
      break;
    case FailoverKind::kSwitchover:
      COORDHA_RETURN_IF_ERROR(StartSwitchover(roles.standby_server));
      break;
  }
  // The takeover: the first client answer from a higher epoch, within 3 x TTL.
  const Deadline takeover_deadline = Deadline::In(3 * ttl());
  std::optional<std::pair<int64_t, AnswerLog::Span>> next;
  absl::Status waited;
  while (!(next = answers_.FirstAbove(roles.epoch)).has_value()) {
    if (takeover_deadline.Expired()) {
      waited = absl::DeadlineExceededError(
          absl::StrCat("no client answer from an epoch above ", roles.epoch, " within 3 x TTL (",
                       3 * options_.ttl_seconds, " s); ", answers_.errors(),
                       " client errors, last: ", answers_.last_error()));
      break;
    }
    if (kind == FailoverKind::kSwitchover && switchover_ != nullptr && !switchover_->Running() &&
        switchover_->wait_status() != 0) {
      waited = absl::UnavailableError(
          absl::StrCat("coordha switchover ", DescribeWaitStatus(*switchover_->wait_status()), ": ",
                       LogTail(absl::StrCat(options_.dir, "/switchover.log"), 2)));
      break;
    }
    if (absl::Status s = Tick(kTick); !s.ok()) {
      waited = s;
      break;
    }
  }
  if (waited.code() == absl::StatusCode::kCancelled) return waited;
  // Restore even after a failed takeover, so the next trial can run.
  std::string note;
  const absl::Status restored = Restore(kind, roles.active, &note);
  COORDHA_RETURN_IF_ERROR(waited);
  if (!restored.ok()) return Annotate(restored, "restoring the old active");
  // Read after the restore: a late answer from the old epoch (the other caller thread) counts.
  const std::optional<AnswerLog::Span> old_span = answers_.Of(roles.epoch);
  result.to_server = next->second.server_id;
  result.to_epoch = next->first;
  result.gap = next->second.first - old_span->last;
  const auto old_healthy = poller_->HealthySpan(roles.epoch);
  const auto new_healthy = poller_->HealthySpan(result.to_epoch);
  if (old_healthy.has_value() && new_healthy.has_value()) {
    result.poller_gap = new_healthy->first - old_healthy->second;
  }
  result.note = note;
  if (result.gap < Duration::zero()) {
    absl::StrAppend(&result.note, result.note.empty() ? "" : "; ",
                    "the old epoch answered after the new one");
  }
  return result;
}

absl::StatusOr<std::string> BenchCluster::StatusJson(size_t replica) const {
  return HttpGet(replicas_.at(replica)->metrics_port(), "/status");
}

}  // namespace coordha::cli
