// ActiveResolver: where a role's active coordinator is, as the client library sees it.
//
// The Client asks a resolver for the active of a role before each attempt of a call. Two
// implementations:
//   - EtcdActiveResolver (etcd_active_resolver.h): discovery by watching the role's active key
//     `<meta_root>/session/<role>` (DESIGN.md §3, §7) — push, not poll;
//   - StaticActiveResolver (below): a table the owner sets by hand, for unit tests and for tools
//     that already know where the active is.
//
// Threads: implementations are thread-safe. Resolve() blocks at most until its deadline.
#ifndef COORDHA_CLIENT_ACTIVE_RESOLVER_H_
#define COORDHA_CLIENT_ACTIVE_RESOLVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace coordha::client {

// One role's active as recorded in etcd.
struct ActiveServer {
  std::string address;    // gRPC "host:port" (the session's Address)
  int64_t server_id = 0;  // the session's ServerID
  int64_t epoch = 0;      // the active key's CreateRevision (S1)
  // The active key says State Healthy (S7). Its change notifies the listener too, so a retry
  // waiting out an INITIALIZING refusal goes the moment the new active is ready.
  bool healthy = false;

  friend bool operator==(const ActiveServer&, const ActiveServer&) = default;
};

class ActiveResolver {
 public:
  virtual ~ActiveResolver() = default;

  // The role's active. When none is known (no active key, or the key was just deleted because the
  // active stopped or died) waits until one appears or `deadline` passes. Errors: kUnavailable
  // (none known by the deadline; the message names the role and, when discovery itself fails,
  // why), kCancelled (the resolver is stopping).
  virtual absl::StatusOr<ActiveServer> Resolve(const std::string& role, Deadline deadline) = 0;

  // Ends background work and wakes every waiting Resolve() (kCancelled). Safe to call twice.
  virtual void Stop() {}

  // Told whenever a role's active changes (nullopt: none now). Runs on the resolver's own thread,
  // possibly with the resolver's lock held: it must not block and must not call the resolver.
  using ChangeListener =
      std::function<void(const std::string& role, const std::optional<ActiveServer>& active)>;
  // Sets the one listener. REQUIRES: called before the first Resolve(), at most once.
  virtual void SetListener(ChangeListener listener) = 0;
};

// A hand-set table: role -> active. Set() and Clear() wake waiting Resolve() calls.
class StaticActiveResolver final : public ActiveResolver {
 public:
  StaticActiveResolver() = default;

  void Set(const std::string& role, ActiveServer active);
  // The role has no active now: Resolve() waits until the next Set().
  void Clear(const std::string& role);

  absl::StatusOr<ActiveServer> Resolve(const std::string& role, Deadline deadline) override;
  void Stop() override;
  void SetListener(ChangeListener listener) override { listener_ = std::move(listener); }

 private:
  ChangeListener listener_;  // set before use
  Mutex mu_;
  CondVar changed_;
  std::map<std::string, ActiveServer> actives_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace coordha::client

#endif  // COORDHA_CLIENT_ACTIVE_RESOLVER_H_
