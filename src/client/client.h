// coordha::client::Client: calls a coordinator's active — rootcoord by default, or the role
// ClientOptions::role names (datacoord, querycoord, indexcoord, mixcoord) — wherever it is
// (DESIGN.md §4 S4, §6, §7).
//
// What it does for every call:
//   - Discovery. It knows where the active is by watching `<meta_root>/session/rootcoord` in etcd
//     (push, not poll; see etcd_active_resolver.h). While there is no active (it stopped or died
//     and no standby has won yet) calls wait for the next one — bounded by their deadline — instead
//     of failing.
//   - S4. Each attempt carries RequestHeader{target_server_id: the server the client believes
//     active, known_epoch: the highest epoch it has seen for the role}. A reply whose epoch is
//     lower than the highest seen is dropped and the call retried (a deposed active answered late);
//     a higher one is remembered. Epochs seen in etcd count as seen.
//   - Retries. NOT_ACTIVE (the call reached a standby; when it names the active, the next attempt
//     goes there at once, without waiting for the watch), INITIALIZING (the new active is still
//     recovering), FENCED, STOPPING, SERVER_ID_MISMATCH, and a failed connection or an attempt that
//     timed out (the process died or hangs) are retried under the call's deadline with a short
//     jittered backoff (2 ms doubling to 200 ms by default; the first retry waits at most 3 ms).
//   - Idempotent DDL. A DDL call sends one request ID (random 128-bit hex, or the caller's) with
//     every attempt, so a retry across a failover returns the first outcome instead of applying
//     twice (the server keeps the dedup record in the same fenced Txn as the change).
//   - Batching. Concurrent AllocTimestamp calls are merged into one RPC while another is in flight
//     (PD-style; each caller gets its own consecutive sub-range). `batch_timestamps` turns it off.
//
// Errors a call returns:
//   kInvalidArgument, kNotFound, kAlreadyExists, ...   the server's answer, with its message
//                                                      ("collection 'x' not found"); never retried
//   kDeadlineExceeded   no active answered by the deadline; the message names the role, the last
//                       reason, and suggests `coordha status`
//   kUnknown            (DDL only) like kDeadlineExceeded, but some attempt may have been applied:
//                       retry with the same CallOptions::request_id to learn the outcome
//   kCancelled          Stop() was called
//
// Debug mode (`fixed_address`): no discovery and no retries; every call goes to that one server
// with an empty RequestHeader and its answer — refusals included — is returned as it is.
//
// Threads: thread-safe; any number of threads may call at once. Owns the discovery threads (see
// etcd_active_resolver.h); gRPC runs its own. Stop() (also the destructor) ends them; calls in
// progress return kCancelled promptly. REQUIRES: no call in progress when the Client is destroyed.
#ifndef COORDHA_CLIENT_CLIENT_H_
#define COORDHA_CLIENT_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "client/active_resolver.h"
#include "client/types.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "datacoord.pb.h"
#include "etcd/client.h"
#include "indexcoord.pb.h"
#include "querycoord.pb.h"
#include "rootcoord.pb.h"

namespace grpc {
class ClientContext;
class Status;
}  // namespace grpc

namespace coordha::client {

namespace internal {
class TimestampBatcher;
}

struct ClientOptions {
  // etcd for discovery, when neither `etcd_client` nor `fixed_address` is given. The client makes
  // its etcd client without I/O: an unreachable etcd shows up as calls that time out naming it.
  etcd::ClientOptions etcd;
  // An etcd client to use for discovery instead of making one. Borrowed: must outlive the Client.
  // Default: null.
  etcd::Client* etcd_client = nullptr;
  // "<etcd.rootPath>/<etcd.metaSubPath>" (config::EtcdConfig::MetaRoot()). Default: "by-dev/meta".
  std::string meta_root = "by-dev/meta";
  // The coordinator role whose active is called: "rootcoord", "datacoord", "querycoord",
  // "indexcoord", or "mixcoord" (the four in one process). Calls of another role's API get
  // whatever that server answers (UNIMPLEMENTED). Default: "rootcoord".
  std::string role = "rootcoord";
  // Debug mode: "host:port" of the one server to talk to (no discovery, no retries, its errors
  // as-is). Default: "" (off).
  std::string fixed_address;
  // The deadline of a call, retries included, when CallOptions gives none. Default: 10 s.
  Duration call_timeout = std::chrono::seconds(10);
  // The longest one attempt may take before it is abandoned and retried (a hung or paused server:
  // the watch moves the call on once a standby takes over). Larger: fewer retries of slow calls;
  // smaller: faster escape from a frozen active. Default: 3 s.
  Duration attempt_timeout = std::chrono::seconds(3);
  // Retry backoff: the first wait, doubled per retry up to `max_backoff`, each jittered to
  // [0.5x, 1.5x). REQUIRES: 0 < initial_backoff <= max_backoff. Default: 2 ms and 200 ms.
  Duration initial_backoff = std::chrono::milliseconds(2);
  Duration max_backoff = std::chrono::milliseconds(200);
  // Merge concurrent AllocTimestamp calls into one RPC. Off: one RPC per call (for benchmarks).
  // Default: true.
  bool batch_timestamps = true;
  // The most timestamps one merged RPC asks for; a single call asking for more is sent alone.
  // REQUIRES: >= 1. Default: 65536 (a quarter of one millisecond's logical space).
  uint32_t max_batch_timestamps = 1 << 16;
};

// Counters, for tests and benchmarks. Monotonic.
struct ClientStats {
  int64_t attempts = 0;               // RPCs sent, every attempt of every call
  int64_t retries = 0;                // attempts after a call's first
  int64_t hints_followed = 0;         // attempts sent straight to a server a refusal named
  int64_t stale_replies_dropped = 0;  // S4: replies from an epoch older than one seen
  int64_t timestamp_calls = 0;        // AllocTimestamp calls by the application
  int64_t timestamp_rpcs = 0;         // AllocTimestamp sends (a merged batch counts once)
  // The backoff waits the retries were given, summed (a new active ends one early, so the time
  // really waited can be less).
  Duration backoff = Duration::zero();
};

class Client {
 public:
  // Checks the options and starts discovery (no I/O yet). Errors: kInvalidArgument.
  static absl::StatusOr<std::unique_ptr<Client>> Create(ClientOptions options);
  // Like Create() but finds the active with `resolver` (owned) instead of etcd: for tests and tools
  // that know where the active is. `options.etcd`/`etcd_client` are ignored.
  static absl::StatusOr<std::unique_ptr<Client>> Create(ClientOptions options,
                                                        std::unique_ptr<ActiveResolver> resolver);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Ends discovery and makes calls in progress return kCancelled. Safe to call twice.
  void Stop();

  // ---- TSO and IDs ----
  // `count` (0 means 1) consecutive timestamps, strictly above any issued before by any active.
  absl::StatusOr<TimestampRange> AllocTimestamp(uint32_t count = 1, const CallOptions& call = {});
  // `count` (0 means 1) IDs, unique forever.
  absl::StatusOr<IdRange> AllocID(uint32_t count = 1, const CallOptions& call = {});

  // ---- Databases ("" is "default" where a database is named) ----
  absl::StatusOr<DdlOutcome> CreateDatabase(const std::string& db, const CallOptions& call = {});
  absl::StatusOr<DdlOutcome> DropDatabase(const std::string& db, const CallOptions& call = {});
  absl::StatusOr<Answer<std::vector<v1::DatabaseInfo>>> ListDatabases(const CallOptions& call = {});

  // ---- Collections ----
  // `shards` 0 means 1. The schema's field IDs are assigned by the server.
  absl::StatusOr<DdlOutcome> CreateCollection(const std::string& db,
                                              const v1::CollectionSchema& schema, int32_t shards,
                                              const CallOptions& call = {});
  absl::StatusOr<DdlOutcome> DropCollection(const std::string& db, const std::string& collection,
                                            const CallOptions& call = {});
  absl::StatusOr<Answer<v1::CollectionInfo>> DescribeCollection(const std::string& db,
                                                                const std::string& collection,
                                                                const CallOptions& call = {});
  absl::StatusOr<Answer<bool>> HasCollection(const std::string& db, const std::string& collection,
                                             const CallOptions& call = {});
  absl::StatusOr<Answer<std::vector<std::string>>> ListCollections(const std::string& db,
                                                                   const CallOptions& call = {});

  // ---- Partitions ----
  absl::StatusOr<DdlOutcome> CreatePartition(const std::string& db, const std::string& collection,
                                             const std::string& partition,
                                             const CallOptions& call = {});
  absl::StatusOr<DdlOutcome> DropPartition(const std::string& db, const std::string& collection,
                                           const std::string& partition,
                                           const CallOptions& call = {});
  absl::StatusOr<Answer<std::vector<v1::PartitionInfo>>> ListPartitions(
      const std::string& db, const std::string& collection, const CallOptions& call = {});

  // ---- datacoord, querycoord, indexcoord (ClientOptions::role names the server's role) ----
  // AssignSegmentID is retried like every call: a retry after an unknown outcome may reserve rows
  // that are never handed out (a segment fills early); no segment ID or row is handed out twice.
  absl::StatusOr<Answer<v1::AssignSegmentIDResponse>> AssignSegmentID(
      v1::AssignSegmentIDRequest request, const CallOptions& call = {});
  absl::StatusOr<Answer<v1::FlushResponse>> Flush(v1::FlushRequest request,
                                                  const CallOptions& call = {});
  absl::StatusOr<Answer<v1::GetSegmentInfoResponse>> GetSegmentInfo(
      v1::GetSegmentInfoRequest request, const CallOptions& call = {});
  absl::StatusOr<Answer<v1::GetChannelsResponse>> GetChannels(v1::GetChannelsRequest request,
                                                              const CallOptions& call = {});
  absl::StatusOr<Answer<v1::LoadCollectionResponse>> LoadCollection(
      v1::LoadCollectionRequest request, const CallOptions& call = {});
  absl::StatusOr<Answer<v1::ReleaseCollectionResponse>> ReleaseCollection(
      v1::ReleaseCollectionRequest request, const CallOptions& call = {});
  absl::StatusOr<Answer<v1::GetLoadStateResponse>> GetLoadState(v1::GetLoadStateRequest request,
                                                                const CallOptions& call = {});
  absl::StatusOr<Answer<v1::GetShardLeadersResponse>> GetShardLeaders(
      v1::GetShardLeadersRequest request, const CallOptions& call = {});
  absl::StatusOr<Answer<v1::GetDistributionSummaryResponse>> GetDistributionSummary(
      v1::GetDistributionSummaryRequest request, const CallOptions& call = {});
  absl::StatusOr<Answer<v1::CreateIndexResponse>> CreateIndex(v1::CreateIndexRequest request,
                                                              const CallOptions& call = {});
  absl::StatusOr<Answer<v1::DescribeIndexResponse>> DescribeIndex(v1::DescribeIndexRequest request,
                                                                  const CallOptions& call = {});
  absl::StatusOr<Answer<v1::DropIndexResponse>> DropIndex(v1::DropIndexRequest request,
                                                          const CallOptions& call = {});
  absl::StatusOr<Answer<v1::GetIndexStateResponse>> GetIndexState(v1::GetIndexStateRequest request,
                                                                  const CallOptions& call = {});

  // The highest epoch seen for the role (replies and etcd); 0 before any.
  int64_t known_epoch() const;
  ClientStats stats() const;

  // A fresh idempotency key: 32 lower-case hex digits (128 random bits).
  static std::string NewRequestId();

 private:
  struct Endpoint;  // a cached channel and stub for one address (client.cc)
  // One attempt: fill the request's header with `header`, send it on `endpoint` under `context`,
  // and point `*reply` at the response's ReplyHeader.
  using AttemptFn =
      std::function<grpc::Status(Endpoint& endpoint, grpc::ClientContext* context,
                                 const v1::RequestHeader& header, const v1::ReplyHeader** reply)>;

  Client(ClientOptions options, std::unique_ptr<etcd::Client> owned_etcd,
         std::unique_ptr<ActiveResolver> resolver);

  // A typed call: `rpc` is the Stub method. Defined in client.cc.
  template <typename Response, typename Request, typename Rpc>
  absl::StatusOr<Answer<Response>> Call(const char* method, Rpc rpc, Request request,
                                        const CallOptions& call, bool ddl);
  // A DDL call: sets the request ID (the caller's or a new one) once for every attempt.
  template <typename Request, typename Rpc>
  absl::StatusOr<DdlOutcome> Ddl(const char* method, Rpc rpc, Request request,
                                 const CallOptions& call);
  // The retry loop of every call (or the single attempt of debug mode).
  absl::Status Run(const char* method, bool ddl, Deadline deadline, const AttemptFn& attempt,
                   ReplyInfo* from);
  absl::Status RunOnce(const AttemptFn& attempt, Deadline deadline, ReplyInfo* from);
  absl::StatusOr<TimestampRange> SendAllocTimestamp(uint32_t count, Deadline deadline);
  Endpoint& EndpointFor(const std::string& address);
  void BeginAttempt(grpc::ClientContext* context, const std::string& address, int64_t server_id);
  // Returns true when the attempt was cancelled because the active changed.
  bool EndAttempt(grpc::ClientContext* context);
  // The resolver's listener: abandons attempts to a server that is no longer the active, so a call
  // stuck on a frozen active moves on as soon as the watch shows its successor.
  void OnActiveChanged(const std::string& role, const std::optional<ActiveServer>& active);
  // Sleeps `d` or until the deadline, Stop(), or discovery names a new active after
  // `seen_changes` (a retry then goes at once instead of sleeping through a finished failover);
  // false when the call must end.
  bool Backoff(Duration d, Deadline deadline, int64_t seen_changes);
  int64_t active_changes() const;

  // Constant after construction.
  const ClientOptions options_;
  const std::unique_ptr<etcd::Client> owned_etcd_;       // null when borrowed or not used
  const std::unique_ptr<ActiveResolver> resolver_;       // null in debug mode
  std::unique_ptr<internal::TimestampBatcher> batcher_;  // null when batching is off

  mutable Mutex mu_;
  CondVar stopped_;  // signalled by Stop() and when discovery names a new active
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // How many times discovery has named an active (it changes on every failover).
  int64_t active_changes_ ABSL_GUARDED_BY(mu_) = 0;
  // S4: the highest rootcoord epoch seen in a reply or in etcd.
  int64_t highest_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  // The server that answered last, when its epoch is ahead of etcd's view (the watch lags a
  // failover by a moment; a hint or a reply may know better). Cleared when it refuses.
  std::optional<ActiveServer> last_answered_ ABSL_GUARDED_BY(mu_);
  // Channels by address, never evicted (a cluster has a handful of coordinator addresses).
  std::map<std::string, std::unique_ptr<Endpoint>> endpoints_ ABSL_GUARDED_BY(mu_);
  // Attempts in flight, for Stop() and a change of active to cancel. Each is removed before its
  // context is destroyed.
  struct InFlightAttempt {
    std::string address;
    int64_t server_id = 0;
    bool superseded = false;  // cancelled because discovery names another active
  };
  std::map<grpc::ClientContext*, InFlightAttempt> in_flight_ ABSL_GUARDED_BY(mu_);

  std::atomic<int64_t> attempts_{0};
  std::atomic<int64_t> retries_{0};
  std::atomic<int64_t> hints_followed_{0};
  std::atomic<int64_t> stale_replies_dropped_{0};
  std::atomic<int64_t> timestamp_calls_{0};
  std::atomic<int64_t> timestamp_rpcs_{0};
  std::atomic<int64_t> backoff_ns_{0};  // ClientStats::backoff
};

}  // namespace coordha::client

#endif  // COORDHA_CLIENT_CLIENT_H_
