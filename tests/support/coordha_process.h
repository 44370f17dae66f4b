// Real `coordha run <role>` processes for integration tests.
//
//   auto etcd = EtcdCluster::Start({});
//   CoordhaProcess::Options o{.role = "rootcoord", .etcd_endpoints = (*etcd)->ClientEndpoints(),
//                             .dir = (*etcd)->dir()};
//   auto a = CoordhaProcess::Start(o);          // free loopback ports for gRPC and metrics
//   auto state = a->Query(Deadline::In(1s));    // GetComponentStates over gRPC
//   a->Signal(SIGKILL);
//
// Each process gets its own free gRPC and metrics ports on 127.0.0.1 and logs to
// <dir>/<name>.log. The binary is the one the build produced (COORDHA_BINARY).
#ifndef COORDHA_TESTS_SUPPORT_COORDHA_PROCESS_H_
#define COORDHA_TESTS_SUPPORT_COORDHA_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "coordha.grpc.pb.h"
#include "support/subprocess.h"

namespace coordha::testing {

// The coordha binary under test.
std::string CoordhaBinary();

class CoordhaProcess {
 public:
  struct Options {
    std::string role = "rootcoord";
    std::vector<std::string> etcd_endpoints;
    std::string dir;             // for the log file
    std::string name;            // log name; default "<role>-<grpc port>"
    bool active_standby = true;  // <prefix>.enableActiveStandby
    int64_t ttl_seconds = 3;     // common.session.ttl
    std::string serve_grant = "500ms";
    int grpc_port = 0;              // 0: a free loopback port
    std::vector<std::string> sets;  // more --set key=value
    std::string root_path;          // etcd.rootPath; "" = default
    std::vector<std::string> env;   // extra environment, "NAME=value" (e.g. test hooks)
    // A command the process runs under, e.g. {"unshare", "--pid", "--fork", "--kill-child"};
    // signals then go to the wrapper (which must pass them on or kill its child).
    std::vector<std::string> wrapper;
  };

  static absl::StatusOr<std::unique_ptr<CoordhaProcess>> Start(Options options);

  pid_t pid() const { return process_->pid(); }
  const std::string& address() const { return address_; }  // "127.0.0.1:<grpc port>"
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  const Options& options() const { return options_; }
  Subprocess& process() { return *process_; }
  std::string log_file() const { return log_file_; }
  std::string LogText() const;  // everything it logged so far

  absl::Status Signal(int signo) { return process_->Signal(signo); }
  bool Running() { return process_->Running(); }

  // GetComponentStates over gRPC.
  absl::StatusOr<v1::GetComponentStatesResponse> Query(Deadline deadline) const;
  // True when Query() says Healthy (the serving active).
  bool IsServingActive(Deadline deadline) const;
  // Polls Query() until `pred` holds or `deadline` passes.
  bool AwaitState(const std::function<bool(const v1::GetComponentStatesResponse&)>& pred,
                  Deadline deadline) const;

  // GET http://127.0.0.1:<metrics port><path>: (status code, body). Error when it cannot connect.
  absl::StatusOr<std::pair<int, std::string>> HttpGet(const std::string& path) const;

  // Starts the same command line again (same ports) after the process exited.
  absl::Status Restart();

 private:
  CoordhaProcess(Options options, int grpc_port, int metrics_port);
  std::vector<std::string> Argv() const;

  const Options options_;
  const int grpc_port_;
  const int metrics_port_;
  const std::string address_;
  std::string log_file_;
  std::unique_ptr<v1::Component::Stub> stub_;
  std::unique_ptr<Subprocess> process_;
};

// GET http://127.0.0.1:<port><path>: (status code, body). Error when it cannot connect.
absl::StatusOr<std::pair<int, std::string>> HttpGetLoopback(int port, const std::string& path);

// `coordha <args>` to completion (for the CLI: status, bad configs).
absl::StatusOr<CommandResult> RunCoordha(const std::vector<std::string>& args, Deadline deadline);

}  // namespace coordha::testing

#endif  // COORDHA_TESTS_SUPPORT_COORDHA_PROCESS_H_
