// `coordha ctl segment|load|index ...`: calls to datacoord, querycoord and indexcoord through the
// client library (DESIGN.md §5, §7). Collections are named (in --db) or given by numeric ID.
// Each command finds its coordinator's active through etcd — `<meta>/session/<role>`, or
// `<meta>/session/mixcoord` when only a mixcoord runs — and prints text or, with --json, one
// object with the answering server's serverId and epoch.
#ifndef COORDHA_CLI_CTL_CLUSTER_H_
#define COORDHA_CLI_CTL_CLUSTER_H_

#include <functional>
#include <string>

#include "cli/commands.h"
#include "client/client.h"
#include "config/config.h"

namespace coordha::cli {

// Makes a leaf command under `parent` (with --json, --address, --timeout, --db and the config
// flags) that sets CtlOptions::command = `command` when parsed.
using CtlLeafFactory =
    std::function<CLI::App*(CLI::App* parent, const std::string& name, const std::string& command,
                            const std::string& help)>;
void AddClusterCtlCommands(CLI::App* ctl, CtlOptions* options, const CtlLeafFactory& leaf);
bool IsClusterCtlCommand(const std::string& command);
// The role whose active serves `role`'s API: `role` itself while <meta>/session/<role> exists or
// when etcd cannot tell, else "mixcoord" when that is active. `base.etcd_client` null: `role`.
std::string ServingRole(const client::ClientOptions& base, const std::string& role);
// `base` carries the etcd client (or fixed address) and timeouts; the role is set here.
int ClusterCtlCommand(const config::Config& config, const CtlOptions& options,
                      const client::ClientOptions& base);

}  // namespace coordha::cli

#endif  // COORDHA_CLI_CTL_CLUSTER_H_
