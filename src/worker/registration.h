// Registration: keeps a worker's session in etcd, Milvus's layout (DESIGN.md §3, §4 S6).
//
// A worker is never exclusive and never campaigns: it allocates a server ID, waits until it has
// learned the coordinator epochs (Worker::AwaitEpochsLearned: a registered worker must be able to
// refuse a deposed active), then creates a Session (a lease kept alive) and puts its session JSON
// at `<meta>/session/<role>-<serverID>` on that lease with Exclusive: false, State: Healthy.
// Coordinators find workers by these keys.
//
// S6: etcd trouble never ends the process. Every step is retried with backoff until etcd answers;
// when the session is lost (Session::done(): the lease expired or was revoked) the worker
// registers again under the same server ID.
//
// S2 for workers: the Worker may hold work (Worker::SetMayHoldWork) from the session put until no
// renewal was acknowledged for TTL − serve grant, the session is lost, or MarkStopping().
//
// Graceful stop (SIGTERM): MarkStopping() releases the worker's items, then re-puts the record
// with Stopping: true so coordinators move the work away, then Close() revokes the lease (the key
// vanishes at once).
//
// Threads: one owned thread does the registering; the methods are thread-safe. MarkStopping()
// stops that thread first.
#ifndef COORDHA_WORKER_REGISTRATION_H_
#define COORDHA_WORKER_REGISTRATION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "etcd/client.h"
#include "session/keys.h"
#include "session/session.h"
#include "session/session_info.h"
#include "worker/worker.h"

namespace coordha::worker {

struct RegistrationOptions {
  std::string role;        // "querynode", "datanode", "indexnode"
  session::Keys keys{""};  // REQUIRES: set (the meta root)
  // Address, MetricsAddress, Version: copied into the record; the rest is filled in here.
  session::SessionInfo info;
  int64_t ttl_seconds = 10;                            // common.session.ttl
  Duration serve_grant = std::chrono::seconds(1);      // REQUIRES: < ttl (the Session's)
  Duration request_timeout = std::chrono::seconds(5);  // each etcd call's deadline
};

class Registration {
 public:
  // Starts registering. `client` and `worker` are borrowed and must outlive this object; the
  // allocated server ID is given to worker->SetServerId().
  Registration(etcd::Client* client, Worker* worker, RegistrationOptions options);
  // Stops without revoking (the lease runs out by its TTL).
  ~Registration();
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

  // True while the session key is in etcd as far as this process knows (for /readyz).
  bool registered() const;
  int64_t server_id() const;

  // Stops registering and, when registered, re-puts the record with Stopping: true. Safe to call
  // twice. Returns the put's error (the caller logs it and goes on).
  absl::Status MarkStopping(Deadline deadline);
  // Revokes the lease: the session key disappears. Safe to call twice.
  absl::Status Close(Deadline deadline);

 private:
  void Loop(std::stop_token stop);
  // Sleeps until `deadline` or a stop. True when stopping.
  bool SleepUntil(Deadline deadline);
  std::string RecordJson(session::SessionState state, int64_t server_id, int64_t lease_id) const;
  void StopThread();

  etcd::Client* const client_;
  Worker* const worker_;
  const RegistrationOptions options_;
  const session::ProcessIdentity self_;

  mutable Mutex mu_;
  CondVar changed_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool registered_ ABSL_GUARDED_BY(mu_) = false;
  int64_t server_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<session::Session> session_ ABSL_GUARDED_BY(mu_);

  std::jthread thread_;
};

}  // namespace coordha::worker

#endif  // COORDHA_WORKER_REGISTRATION_H_
