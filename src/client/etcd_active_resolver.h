// EtcdActiveResolver: finds each role's active by watching its active key in etcd (DESIGN.md §7).
//
// For every role asked about, the resolver reads `<meta_root>/session/<role>` once (a
// linearizable Get at revision R) and then watches it from R + 1, so it learns of a new active
// the moment its campaign Txn commits — push, not poll. A Put names the active (the session JSON's
// Address and ServerID; the key's CreateRevision is the epoch); a Delete (clean resign, lease
// expiry, early revoke by a standby) marks the role unknown, and Resolve() then waits for the next
// Put instead of failing. Changes are applied in revision order only, so a late re-read never
// moves the view backwards.
//
// Robustness (L4): the Watcher resumes after stream errors on its own; after a compaction the
// resolver re-reads and watches again from the new revision; every `resync_interval` it re-reads
// each role's key anyway (the backstop of milvus-io/milvus issue 44111). An unreachable etcd is
// retried in the background until Stop(); Resolve() reports the last etcd error when it times out.
//
// Threads: thread-safe. One maintenance thread (the initial reads, re-reads, restarting watches)
// plus each role's Watcher threads, all owned and joined by Stop() (also the destructor). The
// etcd::Client is borrowed and must outlive this object.
#ifndef COORDHA_CLIENT_ETCD_ACTIVE_RESOLVER_H_
#define COORDHA_CLIENT_ETCD_ACTIVE_RESOLVER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "client/active_resolver.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "etcd/client.h"
#include "etcd/watcher.h"

namespace coordha::client {

struct EtcdActiveResolverOptions {
  // "<etcd.rootPath>/<etcd.metaSubPath>". Default: "by-dev/meta".
  std::string meta_root = "by-dev/meta";
  // How often each watched key is re-read as a backstop to the watch. Default: 10 s.
  Duration resync_interval = std::chrono::seconds(10);
  // The deadline of each etcd read. Default: 5 s.
  Duration read_timeout = std::chrono::seconds(5);
};

class EtcdActiveResolver final : public ActiveResolver {
 public:
  // Starts the maintenance thread; does no etcd I/O until a role is first resolved. `client` is
  // borrowed.
  EtcdActiveResolver(etcd::Client* client, EtcdActiveResolverOptions options);
  ~EtcdActiveResolver() override;
  EtcdActiveResolver(const EtcdActiveResolver&) = delete;
  EtcdActiveResolver& operator=(const EtcdActiveResolver&) = delete;

  // The first call for a role starts its read and watch and waits for them (bounded by
  // `deadline`).
  absl::StatusOr<ActiveServer> Resolve(const std::string& role, Deadline deadline) override;
  void Stop() override;
  // Called with this resolver's lock held (on its maintenance or watch thread).
  void SetListener(ChangeListener listener) override { listener_ = std::move(listener); }

 private:
  struct RoleView {
    std::string key;                     // the active key
    bool loaded = false;                 // read at least once
    std::optional<ActiveServer> active;  // nullopt: no active key now
    int64_t revision = 0;                // the etcd revision `active` reflects
    bool read_due = true;                // a (re-)read is wanted
    bool watch_ended = false;            // the watch ended by compaction: start another
    BootTime last_read{};
    absl::Status last_error;                 // of the last failed read, for Resolve's message
    std::unique_ptr<etcd::Watcher> watcher;  // started after the first read
  };

  void MaintainLoop(std::stop_token stop);
  // Applies one view of the key seen at `revision` if it is newer than what the role holds.
  void Apply(const std::string& role, RoleView& view, std::optional<ActiveServer> active,
             int64_t revision) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnEvents(const std::string& role, const std::vector<etcd::WatchEvent>& events);
  void OnCompacted(const std::string& role);

  // Constant after construction (the listener: before the first Resolve()).
  etcd::Client* const client_;
  const EtcdActiveResolverOptions options_;
  ChangeListener listener_;

  Mutex mu_;
  CondVar changed_;  // a view changed, a role was added, a read is due, or stopping_
  std::map<std::string, RoleView> roles_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::jthread maintainer_;  // started last, joined first in Stop()
};

}  // namespace coordha::client

#endif  // COORDHA_CLIENT_ETCD_ACTIVE_RESOLVER_H_
