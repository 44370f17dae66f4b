#include "support/etcd_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/status.h"

namespace coordha::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Between two health checks of a starting member.
constexpr Duration kHealthPollInterval = milliseconds(20);
// How long a member may take to exit after SIGTERM (or SIGKILL), and to stop after SIGSTOP.
constexpr Duration kExitTimeout = seconds(10);
// Backstop for one etcdctl or openssl run; their own timeouts normally end them much sooner.
constexpr Duration kCommandTimeout = seconds(30);
// Certificates only need to outlive a test run.
constexpr absl::string_view kCertValidityDays = "2";
// The keep-the-directory switch (see etcd_cluster.h).
constexpr char kKeepDirsEnv[] = "COORDHA_KEEP_TEST_DIRS";

absl::Status ErrnoError(absl::string_view what, int err) {
  return absl::InternalError(
      absl::StrCat(what, ": ", std::error_code(err, std::generic_category()).message()));
}

std::string Seconds(Duration d) {
  return absl::StrCat(std::chrono::duration<double>(d).count(), " s");
}

absl::Status CheckOptions(const EtcdClusterOptions& options) {
  if (options.members < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("EtcdClusterOptions.members: must be >= 1, not ", options.members));
  }
  if (options.client_cert_auth && !options.tls) {
    return absl::InvalidArgumentError("EtcdClusterOptions.client_cert_auth: requires tls = true");
  }
  if (options.auth_token_ttl_seconds < 0) {
    return absl::InvalidArgumentError("EtcdClusterOptions.auth_token_ttl_seconds: must be >= 0");
  }
  if (options.heartbeat_ms <= 0 || options.election_ms < 5 * options.heartbeat_ms) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EtcdClusterOptions: need heartbeat_ms > 0 and election_ms >= 5 * heartbeat_ms, not ",
        options.heartbeat_ms, " and ", options.election_ms));
  }
  if (options.ready_timeout <= Duration::zero()) {
    return absl::InvalidArgumentError("EtcdClusterOptions.ready_timeout: must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MakeTempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string path =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/coordha-etcd-XXXXXX");
  if (mkdtemp(path.data()) == nullptr) return ErrnoError(absl::StrCat("mkdtemp ", path), errno);
  return path;
}

absl::Status WriteFile(const std::string& path, absl::string_view contents) {
  std::ofstream out(path, std::ios::trunc);
  out << contents;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// The last `lines` lines of the file at `path`.
std::string TailOfFile(const std::string& path, int lines) {
  constexpr std::streamoff kMaxBytes = 64 * 1024;  // enough for 20 lines of etcd's JSON log
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::StrCat("(no log at ", path, ")");
  if (lines <= 0) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - kMaxBytes));
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  // Count newlines back from the end, ignoring the one that ends the last line.
  size_t end = text.size();
  if (end > 0 && text[end - 1] == '\n') --end;
  size_t start = end;
  for (int found = 0; found < lines; ++found) {
    const size_t newline = start == 0 ? std::string::npos : text.rfind('\n', start - 1);
    if (newline == std::string::npos) return text.substr(0, end);
    start = newline;
  }
  return text.substr(start + 1, end - start - 1);
}

// True once something accepts TCP connections on 127.0.0.1:`port`. Checked before running etcdctl
// against a starting member: etcdctl's gRPC dial backs off for a second after a refused connection.
bool AcceptsConnections(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // cannot tell; let etcdctl find out
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return connected;
}

// Binds and listens on 127.0.0.1:`port` (0: the kernel picks one), closes, and returns the port, or
// 0 if it is taken. No SO_REUSEADDR: a port with connections in TIME_WAIT counts as taken.
int TryListen(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int bound = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 && listen(fd, 1) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    bound = ntohs(address.sin_port);
  }
  close(fd);
  return bound;
}

// The first port of the kernel's range for the local side of outgoing connections.
int EphemeralPortsStart() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;  // Linux's default when the file cannot be read
  in >> low;
  return low;
}

struct PortRegistry {
  Mutex mu;
  std::set<int> handed_out ABSL_GUARDED_BY(mu);
  std::mt19937 random ABSL_GUARDED_BY(mu){std::random_device{}()};
};

PortRegistry& Ports() {
  static PortRegistry* const registry = new PortRegistry();  // never destroyed
  return *registry;
}

}  // namespace

int FreeLoopbackPort() {
  PortRegistry& ports = Ports();
  MutexLock lock(&ports.mu);
  // Prefer ports the kernel never picks for outgoing connections: a member restarted long after it
  // was planned gets its old port back only if no connection has taken it as its local port. The
  // floor keeps clear of well-known service ports.
  constexpr int kFloor = 20000;
  const int ephemeral_start = EphemeralPortsStart();
  if (ephemeral_start - kFloor >= 1000) {
    std::uniform_int_distribution<int> pick(kFloor, ephemeral_start - 1);
    for (int attempt = 0; attempt < 200; ++attempt) {
      const int candidate = pick(ports.random);
      if (ports.handed_out.count(candidate) == 0 && TryListen(candidate) == candidate) {
        ports.handed_out.insert(candidate);
        return candidate;
      }
    }
  }
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int port = TryListen(0);
    if (port != 0 && ports.handed_out.insert(port).second) return port;
  }
  return 0;
}

EtcdCluster::EtcdCluster(const EtcdClusterOptions& options, std::string dir)
    : options_(options), dir_(std::move(dir)) {}

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(const EtcdClusterOptions& options) {
  COORDHA_RETURN_IF_ERROR(CheckOptions(options));
  COORDHA_ASSIGN_OR_RETURN(std::string dir, MakeTempDir());
  // From here on, the destructor undoes whatever was done if a step fails.
  auto cluster = absl::WrapUnique(new EtcdCluster(options, std::move(dir)));
  if (options.tls) COORDHA_RETURN_IF_ERROR(cluster->MakeCertificates());
  COORDHA_RETURN_IF_ERROR(cluster->PlanMembers());
  {
    MutexLock lock(&cluster->mu_);
    cluster->processes_.resize(cluster->members_.size());
    // All members first: in a multi-member cluster none is healthy before a quorum runs.
    for (int i = 0; i < cluster->size(); ++i) COORDHA_RETURN_IF_ERROR(cluster->SpawnMember(i));
    const Deadline deadline = Deadline::In(options.ready_timeout);
    for (int i = 0; i < cluster->size(); ++i) {
      COORDHA_RETURN_IF_ERROR(cluster->AwaitHealthy(i, deadline));
    }
  }
  if (!options.root_password.empty()) COORDHA_RETURN_IF_ERROR(cluster->EnableAuth());
  return cluster;
}

EtcdCluster::~EtcdCluster() {
  {
    MutexLock lock(&mu_);
    for (MemberProcess& slot : processes_) {
      if (slot.process != nullptr) slot.process->Signal(SIGKILL).IgnoreError();
    }
    processes_.clear();  // ~Subprocess reaps each one
  }
  const char* keep = std::getenv(kKeepDirsEnv);
  if (keep != nullptr && absl::string_view(keep) == "1") return;
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::Status EtcdCluster::MakeCertificates() {
  const std::string tls_dir = dir_ + "/tls";
  if (mkdir(tls_dir.c_str(), 0700) != 0) return ErrnoError(absl::StrCat("mkdir ", tls_dir), errno);
  auto path = [&](absl::string_view file) { return absl::StrCat(tls_dir, "/", file); };
  auto openssl = [&](std::vector<std::string> args) -> absl::Status {
    args.insert(args.begin(), options_.openssl_binary);
    COORDHA_ASSIGN_OR_RETURN(CommandResult result, RunCommand(args, Deadline::In(kCommandTimeout)));
    if (result.succeeded()) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("making test certificates: '", absl::StrJoin(args, " "),
                                            "' ", result.DescribeExit(), ": ", result.err));
  };
  // A config for `openssl req` naming the subject; our own, so the system openssl.cnf cannot
  // change the outcome.
  auto request_config = [](absl::string_view common_name, absl::string_view extensions) {
    return absl::StrCat("[req]\ndistinguished_name = dn\nprompt = no\n",
                        extensions.empty() ? "" : "x509_extensions = ext\n",
                        "[dn]\nCN = ", common_name, "\n", extensions.empty() ? "" : "[ext]\n",
                        extensions);
  };
  const std::vector<std::string> new_ec_key = {"-newkey", "ec", "-pkeyopt",
                                               "ec_paramgen_curve:prime256v1", "-nodes"};

  ca_file_ = path("ca.pem");
  COORDHA_RETURN_IF_ERROR(
      WriteFile(path("ca.cnf"), request_config("coordha-test-ca",
                                               "basicConstraints = critical,CA:TRUE\n"
                                               "keyUsage = critical,keyCertSign,cRLSign\n"
                                               "subjectKeyIdentifier = hash\n")));
  std::vector<std::string> ca_args = {"req", "-x509"};
  ca_args.insert(ca_args.end(), new_ec_key.begin(), new_ec_key.end());
  ca_args.insert(ca_args.end(), {"-keyout", path("ca-key.pem"), "-out", ca_file_, "-days",
                                 std::string(kCertValidityDays), "-config", path("ca.cnf")});
  COORDHA_RETURN_IF_ERROR(openssl(ca_args));

  // A key and a certificate signed by the CA, as <name>.pem and <name>-key.pem.
  auto make_leaf = [&](absl::string_view name, absl::string_view common_name,
                       absl::string_view extensions) -> absl::Status {
    const std::string config = path(absl::StrCat(name, ".cnf"));
    const std::string extensions_file = path(absl::StrCat(name, "-ext.cnf"));
    const std::string csr = path(absl::StrCat(name, ".csr"));
    COORDHA_RETURN_IF_ERROR(WriteFile(config, request_config(common_name, "")));
    COORDHA_RETURN_IF_ERROR(WriteFile(extensions_file, extensions));
    std::vector<std::string> request_args = {"req", "-new"};
    request_args.insert(request_args.end(), new_ec_key.begin(), new_ec_key.end());
    request_args.insert(request_args.end(), {"-keyout", path(absl::StrCat(name, "-key.pem")),
                                             "-out", csr, "-config", config});
    COORDHA_RETURN_IF_ERROR(openssl(request_args));
    return openssl({"x509", "-req", "-in", csr, "-CA", ca_file_, "-CAkey", path("ca-key.pem"),
                    "-CAserial", path("ca.srl"), "-CAcreateserial", "-days",
                    std::string(kCertValidityDays), "-extfile", extensions_file, "-out",
                    path(absl::StrCat(name, ".pem"))});
  };
  // clientAuth too: with --client-cert-auth, etcd's gRPC gateway dials the member itself with the
  // server certificate as its client certificate.
  COORDHA_RETURN_IF_ERROR(make_leaf("server", "localhost",
                                    "basicConstraints = CA:FALSE\n"
                                    "keyUsage = critical,digitalSignature,keyEncipherment\n"
                                    "extendedKeyUsage = serverAuth,clientAuth\n"
                                    "subjectAltName = IP:127.0.0.1,DNS:localhost\n"));
  server_cert_file_ = path("server.pem");
  server_key_file_ = path("server-key.pem");
  if (options_.client_cert_auth) {
    // With auth enabled, etcd takes a client certificate's CN as the user name when a request has
    // no token, so the CN is deliberately no etcd user.
    COORDHA_RETURN_IF_ERROR(make_leaf("client", "coordha-test-client",
                                      "basicConstraints = CA:FALSE\n"
                                      "keyUsage = critical,digitalSignature,keyEncipherment\n"
                                      "extendedKeyUsage = clientAuth\n"));
    client_cert_file_ = path("client.pem");
    client_key_file_ = path("client-key.pem");
  }
  return absl::OkStatus();
}

absl::Status EtcdCluster::PlanMembers() {
  members_.resize(static_cast<size_t>(options_.members));
  std::vector<std::string> initial_cluster;
  for (int i = 0; i < size(); ++i) {
    MemberConfig& member = members_[static_cast<size_t>(i)];
    member.name = absl::StrCat("m", i);
    member.client_port = FreeLoopbackPort();
    member.peer_port = FreeLoopbackPort();
    if (member.client_port == 0 || member.peer_port == 0) {
      return absl::UnavailableError("no free port on 127.0.0.1 for an etcd member");
    }
    member.log_file = absl::StrCat(dir_, "/member-", i, ".log");
    initial_cluster.push_back(absl::StrCat(member.name, "=http://127.0.0.1:", member.peer_port));
  }
  // Unique per cluster, so members of two clusters can never join each other.
  const std::string cluster_token = std::filesystem::path(dir_).filename().string();
  for (int i = 0; i < size(); ++i) {
    MemberConfig& member = members_[static_cast<size_t>(i)];
    const std::string client_url = ClientUrl(i);
    const std::string peer_url = absl::StrCat("http://127.0.0.1:", member.peer_port);
    member.argv = {
        options_.etcd_binary,
        "--name=" + member.name,
        absl::StrCat("--data-dir=", dir_, "/", member.name, ".etcd"),
        "--listen-client-urls=" + client_url,
        "--advertise-client-urls=" + client_url,
        "--listen-peer-urls=" + peer_url,
        "--initial-advertise-peer-urls=" + peer_url,
        "--initial-cluster=" + absl::StrJoin(initial_cluster, ","),
        // Ignored once the data dir exists, so Restart() can reuse this command line as is.
        "--initial-cluster-state=new",
        "--initial-cluster-token=" + cluster_token,
        absl::StrCat("--heartbeat-interval=", options_.heartbeat_ms),
        absl::StrCat("--election-timeout=", options_.election_ms),
        // 3.4 defaults to the deprecated capnslog logger and warns about it.
        "--logger=zap",
        "--log-outputs=stderr",
    };
    if (options_.tls) {
      member.argv.push_back("--cert-file=" + server_cert_file_);
      member.argv.push_back("--key-file=" + server_key_file_);
    }
    if (options_.client_cert_auth) {
      member.argv.push_back("--client-cert-auth");
      member.argv.push_back("--trusted-ca-file=" + ca_file_);
    }
    if (options_.auth_token_ttl_seconds > 0) {
      member.argv.push_back(absl::StrCat("--auth-token-ttl=", options_.auth_token_ttl_seconds));
    }
  }
  return absl::OkStatus();
}

absl::Status EtcdCluster::EnableAuth() {
  // etcd refuses `auth enable` unless user root exists and has role root; role root is not
  // built in. (etcdctl 3.4 would add the role itself; being explicit works with any etcdctl.)
  const std::vector<std::vector<std::string>> steps = {
      {"user", "add", "root:" + options_.root_password, "--interactive=false"},
      {"role", "add", "root"},
      {"user", "grant-role", "root", "root"},
      {"auth", "enable"},
  };
  std::vector<int> all(static_cast<size_t>(size()));
  for (int i = 0; i < size(); ++i) all[static_cast<size_t>(i)] = i;
  for (const std::vector<std::string>& step : steps) {
    absl::StatusOr<std::string> out = RunEtcdctl(all, /*as_root=*/false, step, "2s", "5s");
    if (!out.ok()) return Annotate(out.status(), "enabling etcd authentication");
  }
  auth_enabled_ = true;
  return absl::OkStatus();
}

std::string EtcdCluster::ClientUrl(int member) const {
  return absl::StrCat(options_.tls ? "https://" : "http://", ClientEndpoint(member));
}

std::vector<std::string> EtcdCluster::ClientEndpoints() const {
  std::vector<std::string> endpoints;
  for (int i = 0; i < size(); ++i) endpoints.push_back(ClientEndpoint(i));
  return endpoints;
}

std::string EtcdCluster::ClientEndpoint(int member) const {
  if (!CheckMember(member).ok()) return "";
  return absl::StrCat("127.0.0.1:", members_[static_cast<size_t>(member)].client_port);
}

absl::Status EtcdCluster::CheckMember(int member) const {
  if (member >= 0 && member < size()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("etcd member ", member, " does not exist: the cluster has ", size()));
}

absl::Status EtcdCluster::MemberError(absl::StatusCode code, int member,
                                      absl::string_view what) const {
  constexpr int kLines = 20;
  const MemberConfig& config = members_[static_cast<size_t>(member)];
  return absl::Status(
      code, absl::StrCat("etcd member ", member, " (", config.name, ", ", ClientUrl(member),
                         "): ", what, "\n--- last ", kLines, " lines of ", config.log_file,
                         " ---\n", TailOfFile(config.log_file, kLines)));
}

std::string EtcdCluster::LogTail(int member, int lines) const {
  if (!CheckMember(member).ok()) return "";
  return TailOfFile(members_[static_cast<size_t>(member)].log_file, lines);
}

absl::StatusOr<std::string> EtcdCluster::Etcdctl(const std::vector<std::string>& args) const {
  std::vector<int> all(static_cast<size_t>(size()));
  for (int i = 0; i < size(); ++i) all[static_cast<size_t>(i)] = i;
  return RunEtcdctl(all, auth_enabled_, args, "2s", "5s");
}

absl::StatusOr<std::string> EtcdCluster::EtcdctlAt(int member,
                                                   const std::vector<std::string>& args) const {
  COORDHA_RETURN_IF_ERROR(CheckMember(member));
  return RunEtcdctl({member}, auth_enabled_, args, "2s", "5s");
}

absl::StatusOr<std::string> EtcdCluster::RunEtcdctl(const std::vector<int>& endpoints, bool as_root,
                                                    const std::vector<std::string>& args,
                                                    const std::string& dial_timeout,
                                                    const std::string& command_timeout) const {
  std::vector<std::string> urls;
  for (int member : endpoints) urls.push_back(ClientUrl(member));
  std::vector<std::string> argv = {
      options_.etcdctl_binary, "--endpoints=" + absl::StrJoin(urls, ","),
      "--dial-timeout=" + dial_timeout, "--command-timeout=" + command_timeout};
  if (options_.tls) argv.push_back("--cacert=" + ca_file_);
  if (!client_cert_file_.empty()) {
    argv.push_back("--cert=" + client_cert_file_);
    argv.push_back("--key=" + client_key_file_);
  }
  if (as_root) argv.push_back("--user=root:" + options_.root_password);
  argv.insert(argv.end(), args.begin(), args.end());

  COORDHA_ASSIGN_OR_RETURN(CommandResult result, RunCommand(argv, Deadline::In(kCommandTimeout)));
  if (result.succeeded()) return std::move(result.out);
  std::string command = absl::StrJoin(argv, " ");
  if (!options_.root_password.empty()) {
    command = absl::StrReplaceAll(command, {{options_.root_password, "<password>"}});
  }
  // etcdctl ends with an "Error: ..." line after its retry warnings; keep the end.
  constexpr size_t kMaxStderr = 2000;
  absl::string_view err = absl::StripAsciiWhitespace(result.err);
  if (err.size() > kMaxStderr) err = err.substr(err.size() - kMaxStderr);
  return absl::UnavailableError(absl::StrCat("'", command, "' ", result.DescribeExit(), ": ", err));
}

absl::Status EtcdCluster::SpawnMember(int member) {
  const MemberConfig& config = members_[static_cast<size_t>(member)];
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(config.argv, config.log_file);
  if (!process.ok()) {
    return Annotate(process.status(), absl::StrCat("starting etcd member ", member));
  }
  processes_[static_cast<size_t>(member)] = MemberProcess{.process = *std::move(process)};
  return absl::OkStatus();
}

absl::Status EtcdCluster::AwaitHealthy(int member, Deadline deadline) {
  const MemberConfig& config = members_[static_cast<size_t>(member)];
  std::string last_check = "none ran yet";
  while (true) {
    Subprocess* process = processes_[static_cast<size_t>(member)].process.get();
    if (process == nullptr || !process->Running()) {
      return MemberError(
          absl::StatusCode::kFailedPrecondition, member,
          absl::StrCat(
              "exited before it became healthy (",
              process == nullptr ? "not started" : DescribeWaitStatus(*process->wait_status()),
              ")"));
    }
    if (!AcceptsConnections(config.client_port)) {
      last_check = "its client port does not accept connections yet";
    } else {
      // endpoint health is a quorum read through this member: it succeeds once the member is
      // serving and part of a cluster with a leader.
      absl::StatusOr<std::string> health =
          RunEtcdctl({member}, auth_enabled_, {"endpoint", "health"}, "1s", "2s");
      if (health.ok()) return absl::OkStatus();
      last_check = std::string(health.status().message());
    }
    if (deadline.Expired()) {
      return MemberError(absl::StatusCode::kDeadlineExceeded, member,
                         absl::StrCat("not healthy within ", Seconds(options_.ready_timeout),
                                      "; last health check: ", last_check));
    }
    std::this_thread::sleep_for(std::min(kHealthPollInterval, deadline.Remaining()));
  }
}

absl::StatusOr<Subprocess*> EtcdCluster::RunningProcess(int member) {
  Subprocess* process = processes_[static_cast<size_t>(member)].process.get();
  if (process == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("etcd member ", member, " is not running: the test stopped or killed it"));
  }
  if (!process->Running()) {
    return MemberError(absl::StatusCode::kFailedPrecondition, member,
                       absl::StrCat("is not running: it ",
                                    DescribeWaitStatus(*process->wait_status()), " by itself"));
  }
  return process;
}

pid_t EtcdCluster::pid(int member) const {
  if (!CheckMember(member).ok()) return 0;
  MutexLock lock(&mu_);
  Subprocess* process = processes_[static_cast<size_t>(member)].process.get();
  return process != nullptr && process->Running() ? process->pid() : 0;
}

bool EtcdCluster::running(int member) const { return pid(member) != 0; }

absl::Status EtcdCluster::Stop(int member) {
  COORDHA_RETURN_IF_ERROR(CheckMember(member));
  MutexLock lock(&mu_);
  MemberProcess& slot = processes_[static_cast<size_t>(member)];
  COORDHA_ASSIGN_OR_RETURN(Subprocess * process, RunningProcess(member));
  COORDHA_RETURN_IF_ERROR(process->Signal(SIGTERM));
  // A stopped process acts on SIGTERM only once it is continued.
  if (slot.paused) COORDHA_RETURN_IF_ERROR(process->Signal(SIGCONT));
  absl::Status result = absl::OkStatus();
  if (!process->WaitForExit(Deadline::In(kExitTimeout)).ok()) {
    result = MemberError(
        absl::StatusCode::kDeadlineExceeded, member,
        absl::StrCat("did not exit within ", Seconds(kExitTimeout), " of SIGTERM; SIGKILLed it"));
  }
  slot = MemberProcess{};  // ~Subprocess SIGKILLs and reaps it if it is still there
  return result;
}

absl::Status EtcdCluster::Kill(int member) {
  COORDHA_RETURN_IF_ERROR(CheckMember(member));
  MutexLock lock(&mu_);
  COORDHA_ASSIGN_OR_RETURN(Subprocess * process, RunningProcess(member));
  COORDHA_RETURN_IF_ERROR(process->Signal(SIGKILL));
  if (!process->WaitForExit(Deadline::In(kExitTimeout)).ok()) {
    return MemberError(absl::StatusCode::kDeadlineExceeded, member,
                       absl::StrCat("still not gone ", Seconds(kExitTimeout), " after SIGKILL"));
  }
  processes_[static_cast<size_t>(member)] = MemberProcess{};
  return absl::OkStatus();
}

absl::Status EtcdCluster::Pause(int member) {
  COORDHA_RETURN_IF_ERROR(CheckMember(member));
  MutexLock lock(&mu_);
  MemberProcess& slot = processes_[static_cast<size_t>(member)];
  COORDHA_ASSIGN_OR_RETURN(Subprocess * process, RunningProcess(member));
  if (slot.paused) return absl::OkStatus();
  COORDHA_RETURN_IF_ERROR(process->Signal(SIGSTOP));
  // SIGSTOP takes effect asynchronously; return only once every thread of etcd is stopped.
  if (absl::Status stopped = process->WaitForStop(Deadline::In(kExitTimeout)); !stopped.ok()) {
    return MemberError(stopped.code(), member, stopped.message());
  }
  slot.paused = true;
  return absl::OkStatus();
}

absl::Status EtcdCluster::Resume(int member) {
  COORDHA_RETURN_IF_ERROR(CheckMember(member));
  MutexLock lock(&mu_);
  COORDHA_ASSIGN_OR_RETURN(Subprocess * process, RunningProcess(member));
  // SIGCONT resumes the process when it is sent, not when it is delivered.
  COORDHA_RETURN_IF_ERROR(process->Signal(SIGCONT));
  processes_[static_cast<size_t>(member)].paused = false;
  return absl::OkStatus();
}

absl::Status EtcdCluster::Restart(int member) {
  COORDHA_RETURN_IF_ERROR(CheckMember(member));
  MutexLock lock(&mu_);
  MemberProcess& slot = processes_[static_cast<size_t>(member)];
  if (slot.process != nullptr && slot.process->Running()) {
    return absl::FailedPreconditionError(absl::StrCat("etcd member ", member, " is running (pid ",
                                                      slot.process->pid(),
                                                      "); Stop or Kill it before Restart"));
  }
  const MemberConfig& config = members_[static_cast<size_t>(member)];
  {
    // A marker between runs, for whoever reads the log.
    std::ofstream log(config.log_file, std::ios::app);
    log << "--- coordha test fixture: restarting " << config.name << " ---\n";
  }
  COORDHA_RETURN_IF_ERROR(SpawnMember(member));
  return AwaitHealthy(member, Deadline::In(options_.ready_timeout));
}

}  // namespace coordha::testing
