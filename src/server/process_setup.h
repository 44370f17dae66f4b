// What every coordha process sets up the same way, coordinator (server.cc) or worker
// (worker_host.cc): its log format, where gRPC's own log lines go, the one-line error on stderr,
// and the Prometheus registry its metrics live in.
#ifndef COORDHA_SERVER_PROCESS_SETUP_H_
#define COORDHA_SERVER_PROCESS_SETUP_H_

#include <string>

#include "prometheus/registry.h"

namespace coordha::server {

// One line per event ("2026-12-04T22:10:59.582 I ..."), flushed at once (operators tail these
// logs, and a killed process must not take its last lines with it), at `level` (config's
// log.level; panic and fatal log as critical). gRPC's own multi-line dumps go to debug: every
// failure that matters to an operator is reported by us, once, in words.
void SetUpProcessLogging(const std::string& level);

// "coordha: <line>" on stderr: the one-line error of DESIGN.md's CLI rules.
void PrintError(const std::string& line);

// The process's metrics registry (one per process, never destroyed).
prometheus::Registry& ProcessRegistry();

}  // namespace coordha::server

#endif  // COORDHA_SERVER_PROCESS_SETUP_H_
