// `coordha bench failover` and `coordha bench takeover` (DESIGN.md §10): failover gaps as a
// client sees them, measured on a private etcd and two `coordha run rootcoord` replicas this
// command starts (and stops) itself. Results are reported, never asserted.
//
//   coordha bench failover --kind kill9|term|stop|switchover [--trials N] [--cross-host] [--json]
//                          [--ttl S] [--serve-grant D] [--dir DIR] [--replica-set KEY=VALUE]...
//   coordha bench failover --peer etcdctl-elect [--trials N] [--json] [--dir DIR]
//   coordha bench takeover --collections N [--trials K] [--json] [--dir DIR] ...
//
// Output: one progress line per trial on stderr, one result line on stdout
// (`failover kind=kill9 cross_host=false trials=50 p50=12.1ms p99=24.0ms max=30.2ms stale=0
// ttl=10s serve_grant=1s`), or with --json one object instead. Exit codes: 0 every trial
// completed, 1 a trial failed (or Ctrl-C), 2 bad flags. Everything it started (replicas, etcd, the
// temporary directory unless --dir) is removed on exit and on Ctrl-C.
#ifndef COORDHA_CLI_BENCH_H_
#define COORDHA_CLI_BENCH_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config/config.h"

namespace CLI {
class App;
}

namespace coordha::cli {

struct BenchOptions {
  // "failover" or "takeover": the subcommand given.
  std::string command;
  // failover --kind: kill9 (SIGKILL the active), term (SIGTERM: graceful stop, L1), stop
  // (SIGSTOP, SIGCONT once the new active answered), switchover (`coordha switchover --to` the
  // standby). Default: kill9.
  std::string kind = "kill9";
  // Trials. 0: the benchmark's default (failover 20, --peer 3, takeover 5 per kind).
  int trials = 0;
  // failover: each replica in its own pid namespace, so the same-machine proof of death (S3)
  // cannot apply. Default: false.
  bool cross_host = false;
  // One JSON object on stdout instead of the result line. Default: false.
  bool json = false;
  // The replicas' common.session.ttl (s) and common.session.serveGrant. Default: 10 and "1s".
  int64_t ttl_seconds = 10;
  std::string serve_grant = "1s";
  // Logs (and etcd's data while it runs) go here, and stay. "": a temporary directory, removed
  // on exit. Default: "".
  std::string dir;
  // failover --peer: measure this instead of coordha. Only "etcdctl-elect". Default: "".
  std::string peer;
  // takeover --collections: catalog size before the trials. REQUIRES: >= 1 for takeover.
  int64_t collections = 0;
  // More `--set KEY=VALUE` for every replica (e.g. common.session.suspectAfter=1s).
  std::vector<std::string> replica_sets;
};

// Adds `bench` with its `failover` and `takeover` subcommands to `app`, filling `*options` when
// parsed; `add_config_flags` adds --config/--set to each. Returns the `bench` subcommand.
CLI::App* AddBenchCommand(CLI::App& app, BenchOptions* options,
                          const std::function<void(CLI::App*)>& add_config_flags);
// `coordha bench ...`. `config` is this command's own (only its log level matters: the
// benchmark's etcd and replicas are private).
int BenchCommand(const config::Config& config, const BenchOptions& options);

// ---- Internal: the benchmarks behind BenchCommand (bench_failover.cc, bench_takeover.cc) ----

class Interrupt;

// What BenchCommand hands each benchmark: checked options and the place to work in.
struct BenchRun {
  const BenchOptions& options;
  int trials;               // options.trials or the benchmark's default
  std::string dir;          // exists; logs go here
  std::string self_binary;  // this coordha (/proc/self/exe)
  Duration serve_grant;     // options.serve_grant, parsed
  Interrupt* interrupt;     // borrowed; polled by every wait
};

int RunFailoverBench(const BenchRun& run);
int RunElectPeerBench(const BenchRun& run);
int RunTakeoverBench(const BenchRun& run);

}  // namespace coordha::cli

#endif  // COORDHA_CLI_BENCH_H_
