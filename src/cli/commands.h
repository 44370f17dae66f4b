// The coordha subcommands. Each returns the process exit code: 0 ok, 1 runtime error, 2 usage or
// config error (DESIGN.md §7), and prints errors as one line on stderr.
#ifndef COORDHA_CLI_COMMANDS_H_
#define COORDHA_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "config/config.h"

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
};
// `coordha up`: a local etcd (when none answers), two replicas of each coordinator, a live status
// table; Ctrl-C stops everything.
int UpCommand(const config::Config& config, const UpOptions& options);

}  // namespace coordha::cli

#endif  // COORDHA_CLI_COMMANDS_H_
