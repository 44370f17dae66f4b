// The process bootstrap behind `coordha run <role>`.
//
// Run() wires one coordinator process together and runs it until a signal stops it:
//   - an etcd client that does no I/O at start (S6: a process may start while etcd is down),
//   - the gRPC server on the role's port, bound without SO_REUSEPORT (L2: a second process
//     cannot share the active's port), serving the Component service and the coordinator's own,
//   - the HTTP server on the metrics port: /metrics, /healthz, /readyz, /active, /status,
//   - the Replica (session/replica.h) that makes the process active or standby.
//
// Signals (L1): the first SIGTERM or SIGINT stops gracefully — answer Stopping with the listener
// still open, resign with one fenced Txn, revoke the lease, close the listeners. A second signal
// forces an immediate exit.
#ifndef COORDHA_SERVER_SERVER_H_
#define COORDHA_SERVER_SERVER_H_

#include "config/config.h"

namespace coordha::server {

// Exit codes of the coordha binary.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntimeError = 1;  // a port taken, the role held (exclusive mode), ...
inline constexpr int kExitUsage = 2;         // a bad command line or config

// Runs one process of `role` until stopped. Returns the process's exit code. Prints a one-line
// error to stderr for every non-zero code. REQUIRES: IsCoordinator(role).
int Run(const config::Config& config, config::Role role);

}  // namespace coordha::server

#endif  // COORDHA_SERVER_SERVER_H_
