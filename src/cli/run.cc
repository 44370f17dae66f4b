#include <cstdio>

#include "cli/commands.h"
#include "server/server.h"

namespace coordha::cli {

int RunCommand(const config::Config& config, const std::string& role_name) {
  auto role = config::ParseRole(role_name);
  if (!role.ok()) {
    std::fprintf(stderr, "coordha: %s\n", std::string(role.status().message()).c_str());
    return server::kExitUsage;
  }
  if (!config::IsCoordinator(*role)) {
    std::fprintf(stderr,
                 "coordha: %s is a worker role; workers are not available yet in this version "
                 "(run rootcoord, datacoord, querycoord or indexcoord)\n",
                 role_name.c_str());
    return server::kExitUsage;
  }
  return server::Run(config, *role);
}

}  // namespace coordha::cli
