// coordha: coordinator high availability over etcd. See README.md and docs/.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/bench.h"
#include "cli/commands.h"
#include "common/version.h"
#include "config/config.h"

namespace {

constexpr int kExitUsage = 2;

std::string SelfBinary(const char* argv0) {
  char buf[4096] = {};
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string(argv0);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"coordha: high availability for distributed database coordinators"};
  app.set_version_flag("--version", coordha::kVersion);
  app.require_subcommand(1);
  std::string config_file;
  std::vector<std::string> sets;
  auto add_config_flags = [&](CLI::App* sub) {
    sub->add_option("-c,--config", config_file, "YAML config file (Milvus key names)");
    sub->add_option("--set", sets, "override one key: --set etcd.endpoints=host:2379")
        ->type_name("KEY=VALUE");
  };

  std::string role;
  CLI::App* run = app.add_subcommand("run", "run one process of a role");
  run->add_option("role", role,
                  "rootcoord, datacoord, querycoord, indexcoord, mixcoord (all four in one), or a "
                  "worker: querynode, datanode, indexnode")
      ->required();
  add_config_flags(run);

  coordha::cli::StatusOptions status_options;
  CLI::App* status = app.add_subcommand("status", "show every session and each role's active");
  status->add_flag("--json", status_options.json, "print one JSON object");
  status->add_flag("--watch", status_options.watch, "redraw every second until Ctrl-C");
  add_config_flags(status);

  coordha::cli::UpOptions up_options;
  CLI::App* up = app.add_subcommand(
      "up",
      "run a local HA cluster: etcd, two replicas of each coordinator, one of each worker, a "
      "live status table");
  up->add_option("--dir", up_options.dir,
                 "directory for etcd data and logs (default ./coordha-up)");
  up->add_option("--page-port", up_options.page_port,
                 "port of the status page on 127.0.0.1 (default 9090, or a free one if taken)")
      ->check(CLI::Range(1, 65535));
  add_config_flags(up);

  coordha::cli::CtlOptions ctl_options;
  CLI::App* ctl = coordha::cli::AddCtlCommand(app, &ctl_options, add_config_flags);

  coordha::cli::SwitchoverOptions switchover_options;
  CLI::App* switchover =
      coordha::cli::AddSwitchoverCommands(app, &switchover_options, add_config_flags);
  CLI::App* resign = app.get_subcommand("resign");
  std::string history_file;
  coordha::cli::ChaosOptions chaos_options;
  CLI::App* chaos = app.add_subcommand(
      "chaos",
      "a chaos run against rootcoord (process kills and pauses, etcd restarts and leader "
      "kills, network partitions, at random times) whose history is checked; or "
      "`chaos check HISTORY`");
  chaos->require_subcommand(0, 1);
  chaos->add_option("--duration", chaos_options.duration, "how long (60s; 90s, 2m, 1h)");
  chaos->add_option("--seed", chaos_options.seed, "random seed (default: from the clock)");
  chaos->add_option("--nemesis", chaos_options.nemesis,
                    "faults to inject (default all): kill9,term,stop,etcd-restart,"
                    "etcd-member-kill,partition,reject");
  chaos->add_option("--coordinators", chaos_options.coordinators,
                    "roles in the run, two replicas each (default rootcoord,datacoord)");
  chaos->add_option("--clients", chaos_options.clients, "concurrent clients (3)")
      ->check(CLI::Range(1, 64));
  chaos->add_option("--out", chaos_options.out,
                    "directory for logs and history.jsonl (default ./coordha-chaos-<seed>)");
  CLI::App* chaos_check = chaos->add_subcommand(
      "check",
      "check a chaos run's history (JSON lines): one line per invariant, exit 1 on any "
      "violation");
  chaos_check->add_option("history", history_file, "the history file")->required();
  std::string timeline_dir;
  chaos_check->add_option("--timeline", timeline_dir,
                          "also draw the run into DIR/timeline.svg and DIR/timeline.html");

  coordha::cli::BenchOptions bench_options;
  CLI::App* bench = coordha::cli::AddBenchCommand(app, &bench_options, add_config_flags);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "coordha: %s (see coordha %s--help)\n", e.what(),
                 app.get_subcommands().empty()
                     ? ""
                     : (app.get_subcommands().front()->get_name() + " ").c_str());
    return kExitUsage;
  }

  auto config = coordha::config::Load(coordha::config::LoadInputs{
      .file = config_file, .env = coordha::config::ProcessEnvironment(), .sets = sets});
  if (!config.ok()) {
    std::fprintf(stderr, "coordha: %s\n", std::string(config.status().message()).c_str());
    return kExitUsage;
  }
  if (run->parsed()) return coordha::cli::RunCommand(*config, role);
  if (status->parsed()) return coordha::cli::StatusCommand(*config, status_options);
  if (ctl->parsed()) return coordha::cli::CtlCommand(*config, ctl_options);
  if (switchover->parsed() || resign->parsed()) {
    if (resign->parsed()) switchover_options.to_server_id = 0;
    return coordha::cli::SwitchoverCommand(*config, switchover_options);
  }
  if (chaos_check->parsed()) return coordha::cli::ChaosCheckCommand(history_file, timeline_dir);
  if (chaos->parsed()) {
    chaos_options.self_binary = SelfBinary(argv[0]);
    return coordha::cli::ChaosRunCommand(chaos_options);
  }
  if (bench->parsed()) return coordha::cli::BenchCommand(*config, bench_options);
  up_options.config_file = config_file;
  up_options.sets = sets;
  up_options.self_binary = SelfBinary(argv[0]);
  return coordha::cli::UpCommand(*config, up_options);
}
