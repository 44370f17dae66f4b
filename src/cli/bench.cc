// `coordha bench`: the command line, the checks of its flags, and the working directory. The
// benchmarks themselves are in bench_failover.cc and bench_takeover.cc.
#include "cli/bench.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "cli/bench_cluster.h"

namespace coordha::cli {
namespace {

constexpr int kExitRuntimeError = 1;
constexpr int kExitUsage = 2;

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "coordha: %s\n", message.c_str());
  return code;
}

std::string SelfBinary() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? "" : self.string();
}

}  // namespace

CLI::App* AddBenchCommand(CLI::App& app, BenchOptions* options,
                          const std::function<void(CLI::App*)>& add_config_flags) {
  CLI::App* bench = app.add_subcommand(
      "bench", "benchmarks on a private etcd and two rootcoord replicas: failover, takeover");
  bench->require_subcommand(1);
  auto common = [&, options](CLI::App* sub) {
    sub->add_option("--trials", options->trials,
                    "trials (default: failover 20, --peer 3, takeover 5 per kind)")
        ->check(CLI::Range(1, 100000));
    sub->add_flag("--json", options->json, "print one JSON object instead of the result line");
    sub->add_option("--ttl", options->ttl_seconds, "common.session.ttl of the replicas, s (10)")
        ->check(CLI::Range(int64_t{2}, int64_t{3600}));
    sub->add_option("--serve-grant", options->serve_grant,
                    "common.session.serveGrant of the replicas (1s)")
        ->type_name("DURATION");
    sub->add_option("--dir", options->dir,
                    "keep logs here (default: a temporary directory, removed on exit)");
    sub->add_option(
           "--replica-set", options->replica_sets,
           "one more --set for every replica: --replica-set common.session.suspectAfter=1s")
        ->type_name("KEY=VALUE");
    add_config_flags(sub);
  };
  CLI::App* failover = bench->add_subcommand(
      "failover", "client-observed gap from the old active's last answer to the new one's first");
  failover->add_option("--kind", options->kind, "kill9 | term | stop | switchover (kill9)")
      ->check(CLI::IsMember({"kill9", "term", "stop", "switchover"}));
  failover->add_flag("--cross-host", options->cross_host,
                     "each replica in its own pid namespace: no same-machine proof of death");
  failover
      ->add_option("--peer", options->peer,
                   "measure etcd's own election instead (etcdctl elect, kill -9 of the leader)")
      ->check(CLI::IsMember({"etcdctl-elect"}));
  common(failover);
  failover->callback([options] { options->command = "failover"; });

  CLI::App* takeover = bench->add_subcommand(
      "takeover", "failover gap (kill9 and term) with N collections in the catalog");
  takeover->add_option("--collections", options->collections, "catalog size before the trials")
      ->required()
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
  common(takeover);
  takeover->callback([options] { options->command = "takeover"; });
  return bench;
}

int BenchCommand(const config::Config& /*config: the benchmark's etcd and replicas are private*/,
                 const BenchOptions& options) {
  const bool peer = !options.peer.empty();
  if (peer && (options.kind != "kill9" || options.cross_host)) {
    return Fail(kExitUsage,
                "bench failover --peer etcdctl-elect measures kill -9 on one machine: drop --kind "
                "and --cross-host");
  }
  // The replicas' settings, checked as `coordha run` will check them (serveGrant < ttl, ...).
  std::vector<std::string> sets = {absl::StrCat("common.session.ttl=", options.ttl_seconds),
                                   "common.session.serveGrant=" + options.serve_grant};
  sets.insert(sets.end(), options.replica_sets.begin(), options.replica_sets.end());
  absl::StatusOr<config::Config> replica_config = config::Load(
      config::LoadInputs{.file = "", .env = config::ProcessEnvironment(), .sets = sets});
  if (!replica_config.ok()) {
    return Fail(kExitUsage,
                absl::StrCat("bench: replica settings: ", replica_config.status().message()));
  }
  const std::string self = SelfBinary();
  if (self.empty()) return Fail(kExitRuntimeError, "bench: cannot read /proc/self/exe");

  // Before any thread starts: the signals stay pending for Interrupt to take.
  Interrupt interrupt;

  std::error_code error;
  std::string dir = options.dir;
  const bool temporary = dir.empty();
  if (temporary) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/coordha-bench-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return Fail(kExitRuntimeError,
                  absl::StrCat("bench: cannot create ", pattern, ": ", std::strerror(errno)));
    }
    dir = pattern;
  } else {
    dir = std::filesystem::absolute(dir, error).lexically_normal().string();
    std::filesystem::create_directories(dir, error);
    if (error) {
      return Fail(kExitRuntimeError,
                  absl::StrCat("bench: cannot create ", dir, ": ", error.message()));
    }
  }

  int trials = options.trials;
  if (trials == 0) trials = peer ? 3 : options.command == "takeover" ? 5 : 20;
  const BenchRun run{.options = options,
                     .trials = trials,
                     .dir = dir,
                     .self_binary = self,
                     .serve_grant = replica_config->session.serve_grant,
                     .interrupt = &interrupt};
  int code = kExitRuntimeError;
  if (options.command == "takeover") {
    code = RunTakeoverBench(run);
  } else if (peer) {
    code = RunElectPeerBench(run);
  } else {
    code = RunFailoverBench(run);
  }
  // etcd's data is large after a takeover run and useless afterwards; logs stay with --dir.
  std::filesystem::remove_all(absl::StrCat(dir, "/etcd-", getpid()), error);
  if (temporary) {
    std::filesystem::remove_all(dir, error);
  } else {
    std::fprintf(stderr, "logs in %s\n", dir.c_str());
  }
  if (interrupt.Received()) std::fprintf(stderr, "coordha: bench: interrupted\n");
  return code;
}

}  // namespace coordha::cli
