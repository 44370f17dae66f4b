// The process bootstrap behind `coordha run querynode|datanode|indexnode` (DESIGN.md §2, §5).
//
// RunWorker() wires one worker process together and runs it until a signal stops it:
//   - an etcd client that does no I/O at start (S6: a worker may start while etcd is down),
//   - the HTTP server on the metrics port: /healthz, /readyz (200 once registered in etcd),
//     /status (JSON: role, serverId, address, what it holds per coordinator and the highest epoch
//     seen), /metrics (coordha_worker_items{role,coordinator,state},
//     coordha_sync_refused_total{role,coordinator}, coordha_worker_highest_epoch, the request and
//     etcd metrics of request_metrics.h),
//   - the gRPC server on `<prefix>.port` serving coordha.v1.Worker and coordha.v1.Component
//     (worker/worker_service.h),
//   - the Worker with the SimulatedExecutor (worker/executor.h: the data plane's plug-in point),
//     the EpochWatch that teaches it the coordinators' epochs from etcd (S4), and the Registration
//     that keeps `<meta>/session/<role>-<serverID>` in etcd, re-registering after a lost session
//     and never exiting on etcd trouble (S6).
//
// Signals: the first SIGTERM or SIGINT stops gracefully — GetComponentStates says Stopping, the
// session record is re-put with Stopping: true, the gRPC server stops, the lease is revoked (the
// session key vanishes), exit 0. A second signal forces an immediate exit.
#ifndef COORDHA_SERVER_WORKER_HOST_H_
#define COORDHA_SERVER_WORKER_HOST_H_

#include "config/config.h"

namespace coordha::server {

// Runs one worker process of `role` until stopped. Returns the exit code (server.h's kExit*),
// with a one-line error on stderr for every non-zero code. REQUIRES: !IsCoordinator(role).
int RunWorker(const config::Config& config, config::Role role);

}  // namespace coordha::server

#endif  // COORDHA_SERVER_WORKER_HOST_H_
