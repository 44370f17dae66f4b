// The coordha subcommands. Each returns the process exit code: 0 ok, 1 runtime error, 2 usage or
// config error (DESIGN.md §7), and prints errors as one line on stderr.
#ifndef COORDHA_CLI_COMMANDS_H_
#define COORDHA_CLI_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config/config.h"

namespace CLI {
class App;
}

namespace coordha::cli {

// `coordha run <role>`: one process of the role until a signal stops it.
int RunCommand(const config::Config& config, const std::string& role);

struct StatusOptions {
  bool json = false;   // one JSON object instead of the table
  bool watch = false;  // redraw every second until Ctrl-C
};
// `coordha status`: every session in etcd, with the active of each role.
int StatusCommand(const config::Config& config, const StatusOptions& options);

struct UpOptions {
  std::string dir;          // where etcd data, logs and per-process files go; "" = ./coordha-up
  std::string config_file;  // passed on to every process
  std::vector<std::string> sets;  // passed on to every process
  std::string self_binary;        // path of this coordha binary
  // --page-port: where the status page listens (127.0.0.1). 0: 9090, or a free port when 9090 is
  // taken; an explicit port that is taken is an error.
  int page_port = 0;
};
// `coordha up`: a local etcd (when none answers), two replicas of each coordinator, a live status
// table and status page (cli/status_page.h); Ctrl-C stops everything.
int UpCommand(const config::Config& config, const UpOptions& options);

struct CtlOptions {
  // The command words after `ctl`: "ts", "id", "db create", "collection describe", ...
  std::string command;
  std::string name;             // database or collection name
  std::string partition;        // `ctl partition create|drop COLLECTION PARTITION`
  std::string db;               // --db; "" = "default"
  uint32_t count = 1;           // --count for ts and id
  int64_t dim = 0;              // --dim: quick-form collection
  int32_t shards = 0;           // --shards; 0 = the server's default (1)
  std::string schema_file;      // --schema FILE.json
  bool json = false;            // --json
  std::string address;          // --address HOST:PORT: that server only, no discovery or retry
  double timeout_seconds = 10;  // --timeout: per call, retries included
  // segment, load and index commands (cli/ctl_cluster.cc). The collection is `name` (a name in
  // --db, or a numeric collection ID).
  std::string channel;              // --channel: segment assign (default: the first shard's)
  int64_t partition_id = 0;         // --partition-id: segment assign
  std::string field;                // --field: index create
  std::string index_name;           // --name: index create|drop|state|describe
  std::vector<std::string> params;  // --param key=value: index create
  bool wait = false;                // --wait: load collection / index create wait until done
};
// Adds `ctl` and its subcommands to `app`, filling `*options` when parsed; `add_config_flags`
// adds --config/--set to each command. Returns the `ctl` subcommand.
CLI::App* AddCtlCommand(CLI::App& app, CtlOptions* options,
                        const std::function<void(CLI::App*)>& add_config_flags);
// `coordha ctl ...`: one call to rootcoord's active through the client library.
int CtlCommand(const config::Config& config, const CtlOptions& options);

struct SwitchoverOptions {
  std::string role;
  int64_t to_server_id = 0;     // --to; 0 = any standby (and always for `resign`)
  double timeout_seconds = 10;  // --timeout: for the resign and the new active to be Healthy
  bool json = false;            // --json
};
// Adds `switchover` and `resign` to `app`, both filling `*options`. Returns `switchover`; the
// caller finds `resign` with app.get_subcommand("resign").
CLI::App* AddSwitchoverCommands(CLI::App& app, SwitchoverOptions* options,
                                const std::function<void(CLI::App*)>& add_config_flags);
// `coordha switchover` / `coordha resign`: the active resigns cleanly (naming `to_server_id`
// when set), then prints the new active and its epoch.
int SwitchoverCommand(const config::Config& config, const SwitchoverOptions& options);

// `coordha chaos check HISTORY`: checks a chaos run's history (chaos/history.h) against the
// invariants of chaos/checker.h; prints one line per invariant and "N passed, M failed". Exit 0
// when all hold, 1 on any violation, 2 when the file is unreadable or malformed.
// With `timeline_dir` not empty, also draws the history into timeline_dir/timeline.{svg,html}.
int ChaosCheckCommand(const std::string& history_file, const std::string& timeline_dir);

// `coordha chaos [--duration D] [--seed S] [--nemesis all|kill9,term,stop,etcd-restart,
// etcd-member-kill,partition,reject] [--coordinators rootcoord[,datacoord]] [--clients N]
// [--out DIR]`
// (cli/chaos_run.cc): a chaos run against rootcoord, its history checked at the end. Exit 0 when
// every invariant held, 1 on a violation or a cluster that did not settle, 2 on bad flags.
struct ChaosOptions {
  std::string duration = "60s";  // --duration: seconds, or 90s, 2m, 1h
  uint64_t seed = 0;             // --seed: 0 = from the clock (printed, to replay the run)
  std::string nemesis = "all";
  // --coordinators: the roles run with two replicas each and called by the clients.
  std::string coordinators = "rootcoord,datacoord";
  int clients = 3;
  std::string out;          // --out: logs and history.jsonl; "" = ./coordha-chaos-<seed>
  std::string self_binary;  // /proc/self/exe
};
int ChaosRunCommand(const ChaosOptions& options);

}  // namespace coordha::cli

#endif  // COORDHA_CLI_COMMANDS_H_
