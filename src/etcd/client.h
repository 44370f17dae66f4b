// coordha's etcd v3 client.
//
// A thin, robust client over etcd's gRPC API: KV, Txn, leases and cluster status. Keepalives and
// watches are objects of their own (lease_keepalive.h, watcher.h) built on a Client.
//
// Endpoints. The client holds one gRPC channel per endpoint and sends each call to the endpoint
// that answered last. A call that fails in a way that leaves it unapplied (no connection, the
// member has no leader, an expired auth token) moves on to the next endpoint and tries again until
// the call's deadline; every endpoint is tried. Calls carry etcd's require-leader flag, so a member
// cut off from its cluster refuses at once instead of hanging.
//
// Outcomes. Reads (Range, LeaseTimeToLive, Status) are retried on any transient error. Writes
// (Put, Delete, Txn, LeaseGrant, LeaseRevoke, Compact) are sent at most once per endpoint and
// retried only when etcd certainly did not apply them; otherwise they fail with
// OutcomeUnknownError (common/status.h): the caller must re-read before deciding anything
// (DESIGN.md §4 S1). Other errors are etcd's definite answers: kInvalidArgument, kNotFound (lease
// not found), kOutOfRange (revision compacted), kPermissionDenied, kResourceExhausted (etcd is out
// of space), or kUnavailable / kDeadlineExceeded when no endpoint answered in time.
//
// Auth and TLS. With a username the client authenticates on connect and again whenever etcd says
// the token is invalid (etcd's simple tokens expire after 300 s by default); every call and every
// stream carries the current token. TLS uses a CA file and, for etcd's --client-cert-auth, a client
// certificate and key.
//
// Threads. A Client is thread-safe and starts no threads of its own (gRPC runs its own). Each call
// blocks until it completes or its deadline passes; an unset deadline means
// ClientOptions::request_timeout from now. A Client must outlive every LeaseKeepAlive and Watcher
// built on it.
#ifndef COORDHA_ETCD_CLIENT_H_
#define COORDHA_ETCD_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "etcd/types.h"

namespace coordha::etcd {

namespace internal {
class Transport;
}

struct TlsOptions {
  // Use TLS to talk to etcd. Also turned on by an "https://" endpoint. Default: false.
  bool enabled = false;
  // PEM file of the CA that signed etcd's certificate. Default: empty (the system's roots).
  std::string ca_file;
  // PEM client certificate and key, for an etcd run with --client-cert-auth. Default: empty.
  // REQUIRES: both set or both empty.
  std::string cert_file;
  std::string key_file;
};

struct ClientOptions {
  // etcd members as "host:port", optionally prefixed "http://" or "https://" (all the same
  // scheme). REQUIRES: at least one.
  std::vector<std::string> endpoints;
  // How long to wait for one endpoint to connect before trying the next. Default: 2 s.
  Duration dial_timeout = std::chrono::seconds(2);
  // The deadline of a call that is given none. Default: 5 s.
  Duration request_timeout = std::chrono::seconds(5);
  // The longest a read waits on one endpoint before trying another, so a member that swallows
  // packets costs at most this much. Writes are not cut short: their outcome would be unknown.
  // Default: 2 s.
  Duration read_attempt_timeout = std::chrono::seconds(2);
  // etcd auth. Empty username: no auth. Default: empty.
  std::string username;
  std::string password;
  TlsOptions tls;
  // Send etcd's require-leader flag: a member without a leader refuses calls (and cancels streams)
  // instead of serving stale data or hanging. Default: true.
  bool require_leader = true;
  // Observability hooks (DESIGN.md §9); empty: none. Called on the calling thread (or the
  // watcher's) after each call / each watch stream restart; must be cheap and not block.
  //   on_request(op, took, code)  every unary call ("Range", "Txn", "LeaseKeepAlive", ...), with
  //                               its total time across retries and its final code
  //   on_watch_restart(reason)    a watch stream ended and is being resumed ("unavailable",
  //                               "cancelled", ...), or was compacted ("compacted")
  std::function<void(absl::string_view op, Duration took, absl::StatusCode code)> on_request;
  std::function<void(absl::string_view reason)> on_watch_restart;
};

// Counters for observability and tests. Monotonic.
struct ClientStats {
  int64_t authentications = 0;    // successful Authenticate calls (first one included)
  int64_t endpoint_switches = 0;  // times the preferred endpoint changed
};

class Client {
 public:
  // Checks the options, opens channels, reaches an endpoint, authenticates (when a username is
  // set) and checks that etcd is at least 3.4. Errors: kInvalidArgument (a bad endpoint, TLS files
  // that cannot be read), kUnavailable (no endpoint answered within dial_timeout each),
  // kUnauthenticated (wrong user or password), kFailedPrecondition (etcd older than 3.4).
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const ClientOptions& options);

  // Like Connect but does no I/O: for a process that must start while etcd is down and keep
  // trying (DESIGN.md §4 S6). Only option errors are reported.
  static absl::StatusOr<std::unique_ptr<Client>> Create(const ClientOptions& options);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // ---- KV ----
  absl::StatusOr<RangeResult> Range(absl::string_view key, const RangeOptions& options = {},
                                    Deadline deadline = {});
  // The key, or nullopt when it does not exist. A linearizable read.
  absl::StatusOr<std::optional<KeyValue>> Get(absl::string_view key, Deadline deadline = {});
  absl::StatusOr<PutResult> Put(absl::string_view key, absl::string_view value,
                                const PutOptions& options = {}, Deadline deadline = {});
  absl::StatusOr<DeleteResult> Delete(absl::string_view key, const DeleteOptions& options = {},
                                      Deadline deadline = {});
  absl::StatusOr<TxnResult> Commit(const Txn& txn, Deadline deadline = {});
  // Compacts history up to `revision` (watches older than it then see kOutOfRange/compaction).
  absl::Status Compact(int64_t revision, Deadline deadline = {});

  // ---- Leases ----
  // etcd may grant more than asked (its minimum TTL); Lease::ttl_seconds is what it granted.
  absl::StatusOr<Lease> LeaseGrant(int64_t ttl_seconds, Deadline deadline = {});
  // Ends the lease and deletes its keys. kNotFound when it was already gone.
  absl::Status LeaseRevoke(int64_t lease_id, Deadline deadline = {});
  absl::StatusOr<LeaseTimeToLive> TimeToLive(int64_t lease_id, bool with_keys = false,
                                             Deadline deadline = {});
  // One renewal. Returns the TTL etcd granted: > 0 renewed for that long from when the request was
  // sent; <= 0 the lease is gone. One request, one stream; see lease_keepalive.h for the loop.
  absl::StatusOr<int64_t> KeepAliveOnce(int64_t lease_id, Deadline deadline);

  // ---- Cluster ----
  // Status of the member the client is talking to.
  absl::StatusOr<MemberStatus> Status(Deadline deadline = {});

  const ClientOptions& options() const;
  ClientStats stats() const;

  // For LeaseKeepAlive and Watcher (same module): the endpoints, auth and retry machinery.
  internal::Transport& transport() { return *transport_; }

 private:
  explicit Client(std::unique_ptr<internal::Transport> transport);
  std::unique_ptr<internal::Transport> transport_;
};

}  // namespace coordha::etcd

#endif  // COORDHA_ETCD_CLIENT_H_
