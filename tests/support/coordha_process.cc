#include "support/coordha_process.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "config/config.h"
#include "support/etcd_cluster.h"

namespace coordha::testing {
namespace {

// "rootCoord" for "rootcoord": the config section of the role.
std::string RoleKeyPrefix(const std::string& role) {
  auto parsed = config::ParseRole(role);
  return parsed.ok() ? config::RoleKeyPrefix(*parsed) : role;
}
std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

}  // namespace

std::string CoordhaBinary() { return COORDHA_BINARY; }

CoordhaProcess::CoordhaProcess(Options options, int grpc_port, int metrics_port)
    : options_(std::move(options)),
      grpc_port_(grpc_port),
      metrics_port_(metrics_port),
      address_(absl::StrCat("127.0.0.1:", grpc_port)) {
  const std::string name =
      options_.name.empty() ? absl::StrCat(options_.role, "-", grpc_port_) : options_.name;
  log_file_ = absl::StrCat(options_.dir, "/", name, ".log");
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  stub_ = v1::Component::NewStub(
      grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args));
}

std::vector<std::string> CoordhaProcess::Argv() const {
  const std::string prefix = RoleKeyPrefix(options_.role);
  std::vector<std::string> argv = options_.wrapper;
  if (!options_.env.empty()) {
    argv.push_back("/usr/bin/env");  // execs the binary: the pid stays the coordha process's
    argv.insert(argv.end(), options_.env.begin(), options_.env.end());
  }
  std::vector<std::string> command = {
      CoordhaBinary(),
      "run",
      options_.role,
      "--set",
      "etcd.endpoints=" + Join(options_.etcd_endpoints, ","),
      "--set",
      prefix + ".address=127.0.0.1",
      "--set",
      absl::StrCat(prefix, ".port=", grpc_port_),
      "--set",
      absl::StrCat("metrics.port=", metrics_port_),
      "--set",
      absl::StrCat(prefix, ".enableActiveStandby=", options_.active_standby ? "true" : "false"),
      "--set",
      absl::StrCat("common.session.ttl=", options_.ttl_seconds),
      "--set",
      "common.session.serveGrant=" + options_.serve_grant,
  };
  argv.insert(argv.end(), command.begin(), command.end());
  if (!options_.root_path.empty()) {
    argv.push_back("--set");
    argv.push_back("etcd.rootPath=" + options_.root_path);
  }
  for (const std::string& set : options_.sets) {
    argv.push_back("--set");
    argv.push_back(set);
  }
  return argv;
}

absl::StatusOr<std::unique_ptr<CoordhaProcess>> CoordhaProcess::Start(Options options) {
  const int grpc_port = options.grpc_port != 0 ? options.grpc_port : FreeLoopbackPort();
  const int metrics_port = FreeLoopbackPort();
  std::unique_ptr<CoordhaProcess> p(
      new CoordhaProcess(std::move(options), grpc_port, metrics_port));
  auto process = Subprocess::Start(p->Argv(), p->log_file_);
  if (!process.ok()) return process.status();
  p->process_ = *std::move(process);
  return p;
}

absl::Status CoordhaProcess::Restart() {
  if (process_->Running()) return absl::FailedPreconditionError("still running");
  auto process = Subprocess::Start(Argv(), log_file_);
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  return absl::OkStatus();
}

std::string CoordhaProcess::LogText() const {
  std::ifstream in(log_file_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<v1::GetComponentStatesResponse> CoordhaProcess::Query(Deadline deadline) const {
  grpc::ClientContext context;
  context.set_deadline(deadline.ToWall());
  v1::GetComponentStatesRequest request;
  v1::GetComponentStatesResponse response;
  grpc::Status status = stub_->GetComponentStates(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

bool CoordhaProcess::IsServingActive(Deadline deadline) const {
  auto response = Query(deadline);
  return response.ok() && response->state().state() == v1::Healthy;
}

bool CoordhaProcess::AwaitState(
    const std::function<bool(const v1::GetComponentStatesResponse&)>& pred,
    Deadline deadline) const {
  while (!deadline.Expired()) {
    auto response = Query(Deadline::In(std::chrono::milliseconds(500)).Min(deadline));
    if (response.ok() && pred(*response)) return true;
    // Polling a remote process: the pace of the poll, not a synchronisation sleep.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

absl::StatusOr<std::pair<int, std::string>> HttpGetLoopback(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to port ", port));
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
  (void)send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) response.append(buf, static_cast<size_t>(n));
  close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  if (response.size() < 12) return absl::UnavailableError("short HTTP response");
  const int code = std::atoi(response.substr(9, 3).c_str());
  const size_t body = response.find("\r\n\r\n");
  return std::make_pair(code, body == std::string::npos ? "" : response.substr(body + 4));
}

absl::StatusOr<std::pair<int, std::string>> CoordhaProcess::HttpGet(const std::string& path) const {
  return HttpGetLoopback(metrics_port_, path);
}

absl::StatusOr<CommandResult> RunCoordha(const std::vector<std::string>& args, Deadline deadline) {
  std::vector<std::string> argv = {CoordhaBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, deadline);
}

}  // namespace coordha::testing
