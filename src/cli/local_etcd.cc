#include "cli/local_etcd.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "etcd/client.h"

namespace coordha::cli {
namespace {

constexpr int kFirstPort = 20000;
constexpr int kLastPort = 32767;  // below the ephemeral range
constexpr auto kStopTimeout = std::chrono::seconds(10);
// Between two readiness checks: the pace of a poll of another process.
constexpr auto kReadyPollInterval = std::chrono::milliseconds(100);

}  // namespace

PortPicker::PortPicker()
    // Spread concurrent tools over the range so they rarely probe the same ports.
    : next_(kFirstPort + static_cast<int>(getpid() * 37 % (kLastPort - kFirstPort - 1000))) {}

absl::StatusOr<int> PortPicker::Pick() {
  for (int tried = 0; tried <= kLastPort - kFirstPort; ++tried) {
    const int port = next_;
    next_ = next_ >= kLastPort ? kFirstPort : next_ + 1;
    if (taken_.count(port) != 0 || !TcpPortFree(port)) continue;
    taken_.insert(port);
    return port;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("no free TCP port in ", kFirstPort, "-", kLastPort));
}

absl::StatusOr<std::unique_ptr<LocalEtcd>> LocalEtcd::Start(
    const LocalEtcdOptions& options, PortPicker* ports, const std::function<bool()>& interrupted) {
  std::string binary = options.binary;
  if (binary.empty()) {
    std::optional<std::string> found = FindInPath("etcd", {"/usr/bin", "/usr/local/bin"});
    if (!found.has_value()) {
      return absl::NotFoundError(
          "etcd not found: install etcd-server (scripts/install-deps.sh) or put it in PATH");
    }
    binary = *found;
  }
  const int n = std::max(1, options.members);
  std::vector<int> client_ports, peer_ports;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<int> client_port = ports->Pick();
    if (!client_port.ok()) return client_port.status();
    absl::StatusOr<int> peer_port = ports->Pick();
    if (!peer_port.ok()) return peer_port.status();
    client_ports.push_back(*client_port);
    peer_ports.push_back(*peer_port);
  }
  auto name_of = [n](int i) {
    return n == 1 ? std::string("coordha-local") : absl::StrCat("coordha-local-", i);
  };
  std::string initial_cluster;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&initial_cluster, i == 0 ? "" : ",", name_of(i),
                    "=http://127.0.0.1:", peer_ports[i]);
  }
  std::vector<Member> members(n);
  for (int i = 0; i < n; ++i) {
    const std::string client_url = absl::StrCat("http://", options.host, ":", client_ports[i]);
    const std::string peer_url = absl::StrCat("http://127.0.0.1:", peer_ports[i]);
    std::string log_file = options.log_file;
    std::string data_dir = options.data_dir;
    if (n > 1) {
      const bool dot_log = absl::EndsWith(log_file, ".log");
      log_file = absl::StrCat(dot_log ? log_file.substr(0, log_file.size() - 4) : log_file, "-", i,
                              dot_log ? ".log" : "");
      data_dir = absl::StrCat(data_dir, "-", i);
    }
    members[i].argv = {binary,
                       "--name=" + name_of(i),
                       "--data-dir=" + data_dir,
                       "--listen-client-urls=" + client_url,
                       "--advertise-client-urls=" + client_url,
                       "--listen-peer-urls=" + peer_url,
                       "--initial-advertise-peer-urls=" + peer_url,
                       "--initial-cluster=" + initial_cluster,
                       "--logger=zap",
                       "--log-outputs=stderr"};
    members[i].endpoint = absl::StrCat(options.host, ":", client_ports[i]);
    members[i].log_file = log_file;
  }
  std::unique_ptr<LocalEtcd> etcd(new LocalEtcd(std::move(members)));
  for (int i = 0; i < n; ++i) COORDHA_RETURN_IF_ERROR(etcd->StartMember(i));

  COORDHA_RETURN_IF_ERROR(etcd->AwaitAll(Deadline::In(options.ready_timeout), interrupted));
  return etcd;
}

absl::Status LocalEtcd::AwaitAll(Deadline deadline, const std::function<bool()>& interrupted) {
  for (Member& m : members_) {
    etcd::ClientOptions client_options;
    client_options.endpoints = {m.endpoint};
    client_options.dial_timeout = std::chrono::seconds(1);
    while (!etcd::Client::Connect(client_options).ok()) {
      if (m.process == nullptr || !m.process->Running()) {
        return absl::UnavailableError(
            absl::StrCat("etcd ",
                         m.process == nullptr ? std::string("is stopped")
                                              : DescribeWaitStatus(*m.process->wait_status()),
                         "; see ", m.log_file));
      }
      if (deadline.Expired()) {
        return absl::DeadlineExceededError(
            absl::StrCat("etcd did not answer on ", m.endpoint, " in time; see ", m.log_file));
      }
      if (interrupted && interrupted()) return absl::CancelledError("interrupted");
      std::this_thread::sleep_for(kReadyPollInterval);
    }
  }
  return absl::OkStatus();
}

LocalEtcd::~LocalEtcd() { Stop(); }

std::vector<std::string> LocalEtcd::endpoints() const {
  std::vector<std::string> out;
  for (const Member& m : members_) out.push_back(m.endpoint);
  return out;
}

std::string LocalEtcd::endpoints_flag() const { return absl::StrJoin(endpoints(), ","); }

bool LocalEtcd::MemberRunning(int i) {
  Member& m = members_.at(i);
  return m.process != nullptr && m.process->Running();
}

void LocalEtcd::StopMember(int i, int signo) {
  Member& m = members_.at(i);
  if (m.process == nullptr) return;
  m.process->Signal(signo);
  const Deadline deadline = Deadline::In(kStopTimeout);
  while (m.process->Running() && !deadline.Expired()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  m.process.reset();  // SIGKILLs and reaps it if it still runs
}

absl::Status LocalEtcd::StartMember(int i) {
  Member& m = members_.at(i);
  if (m.process != nullptr && m.process->Running()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Start(m.argv, m.log_file);
  if (!process.ok()) return process.status();
  m.process = *std::move(process);
  return absl::OkStatus();
}

absl::StatusOr<int> LocalEtcd::Leader(Deadline deadline) {
  std::string last = "no member running";
  while (true) {
    // The leader is the running member that reports itself as the leader.
    for (int i = 0; i < members(); ++i) {
      if (!MemberRunning(i)) continue;
      etcd::ClientOptions client_options;
      client_options.endpoints = {members_[i].endpoint};
      client_options.dial_timeout = std::chrono::milliseconds(500);
      absl::StatusOr<std::unique_ptr<etcd::Client>> client = etcd::Client::Connect(client_options);
      absl::StatusOr<etcd::MemberStatus> status =
          client.ok() ? (*client)->Status(Deadline::In(std::chrono::seconds(1))) : client.status();
      if (!status.ok()) {
        last = std::string(status.status().message());
      } else if (status->leader_id != 0 && status->leader_id == status->member_id) {
        return i;
      } else {
        last = "no running member is the leader";
      }
    }
    if (deadline.Expired()) return absl::UnavailableError("etcd has no leader: " + last);
    std::this_thread::sleep_for(kReadyPollInterval);
  }
}

absl::Status LocalEtcd::AwaitReady(Deadline deadline) { return AwaitAll(deadline, nullptr); }

void LocalEtcd::Stop() {
  for (Member& m : members_) {
    if (m.process != nullptr) m.process->Signal(SIGTERM);
  }
  for (int i = 0; i < members(); ++i) StopMember(i, SIGTERM);
}

}  // namespace coordha::cli
