#include "server/process_setup.h"

#include <grpc/support/log.h>

#include <cstdio>

#include "common/logging.h"

namespace coordha::server {
namespace {

void GrpcLogToSpdlog(gpr_log_func_args* args) {
  spdlog::debug("grpc: {} ({}:{})", args->message, args->file, args->line);
}

}  // namespace

void SetUpProcessLogging(const std::string& level) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ %v");
  spdlog::flush_on(spdlog::level::trace);
  if (level == "panic" || level == "fatal") {
    spdlog::set_level(spdlog::level::critical);
  } else {
    spdlog::set_level(spdlog::level::from_str(level));
  }
  gpr_set_log_function(GrpcLogToSpdlog);
}

void PrintError(const std::string& line) { std::fprintf(stderr, "coordha: %s\n", line.c_str()); }

prometheus::Registry& ProcessRegistry() {
  static prometheus::Registry* registry = new prometheus::Registry();
  return *registry;
}

}  // namespace coordha::server
