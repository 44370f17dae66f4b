#include <cstdio>

#include "cli/commands.h"
#include "server/server.h"
#include "server/worker_host.h"

namespace coordha::cli {

int RunCommand(const config::Config& config, const std::string& role_name) {
  auto role = config::ParseRole(role_name);
  if (!role.ok()) {
    std::fprintf(stderr, "coordha: %s\n", std::string(role.status().message()).c_str());
    return server::kExitUsage;
  }
  if (!config::IsCoordinator(*role)) return server::RunWorker(config, *role);
  return server::Run(config, *role);
}

}  // namespace coordha::cli
