#include "cli/local_etcd.h"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
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
  absl::StatusOr<int> client_port = ports->Pick();
  if (!client_port.ok()) return client_port.status();
  absl::StatusOr<int> peer_port = ports->Pick();
  if (!peer_port.ok()) return peer_port.status();
  const std::string client_url = absl::StrCat("http://127.0.0.1:", *client_port);
  const std::string peer_url = absl::StrCat("http://127.0.0.1:", *peer_port);
  const std::vector<std::string> argv = {binary,
                                         "--name=coordha-local",
                                         "--data-dir=" + options.data_dir,
                                         "--listen-client-urls=" + client_url,
                                         "--advertise-client-urls=" + client_url,
                                         "--listen-peer-urls=" + peer_url,
                                         "--initial-advertise-peer-urls=" + peer_url,
                                         "--initial-cluster=coordha-local=" + peer_url,
                                         "--logger=zap",
                                         "--log-outputs=stderr"};
  absl::StatusOr<std::unique_ptr<ChildProcess>> process =
      ChildProcess::Start(argv, options.log_file);
  if (!process.ok()) return process.status();
  std::unique_ptr<LocalEtcd> etcd(new LocalEtcd(
      *std::move(process), absl::StrCat("127.0.0.1:", *client_port), options.log_file));

  etcd::ClientOptions client_options;
  client_options.endpoints = {etcd->endpoint()};
  client_options.dial_timeout = std::chrono::seconds(1);
  const Deadline deadline = Deadline::In(options.ready_timeout);
  while (true) {
    if (etcd::Client::Connect(client_options).ok()) return etcd;
    if (!etcd->process_->Running()) {
      return absl::UnavailableError(absl::StrCat(
          "etcd ", DescribeWaitStatus(*etcd->process_->wait_status()), "; see ", options.log_file));
    }
    if (deadline.Expired()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "etcd did not answer on ", etcd->endpoint(), " within ",
          std::chrono::duration_cast<std::chrono::seconds>(options.ready_timeout).count(),
          " s; see ", options.log_file));
    }
    if (interrupted && interrupted()) return absl::CancelledError("interrupted");
    std::this_thread::sleep_for(kReadyPollInterval);
  }
}

LocalEtcd::~LocalEtcd() { Stop(); }

void LocalEtcd::Stop() {
  if (process_ == nullptr) return;
  process_->Signal(SIGTERM);
  const Deadline deadline = Deadline::In(kStopTimeout);
  while (process_->Running() && !deadline.Expired()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  process_.reset();  // SIGKILLs and reaps it if it still runs
}

}  // namespace coordha::cli
