// Internal to src/etcd: endpoints, channels, the auth token and the retry loop shared by every
// call and stream of a Client.
#ifndef COORDHA_ETCD_TRANSPORT_H_
#define COORDHA_ETCD_TRANSPORT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "etcd/client.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace coordha::etcd::internal {

// One etcd member as the client sees it. Constant after construction.
struct Endpoint {
  std::string address;                     // host:port
  std::shared_ptr<grpc::Channel> channel;  // shared_ptr: gRPC's API hands it out so
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
  std::unique_ptr<etcdserverpb::Auth::Stub> auth;
};

// Parses "host:port", "http://host:port" or "https://host:port". Sets *tls for https.
absl::StatusOr<std::string> ParseEndpoint(absl::string_view endpoint, bool* tls);

enum class CallKind {
  kRead,   // no effect on etcd: retry anywhere on any transient error
  kWrite,  // at most once unless certainly not applied; else OutcomeUnknownError
};

class Transport {
 public:
  // Validates options and opens one channel per endpoint. No I/O.
  static absl::StatusOr<std::unique_ptr<Transport>> Create(const ClientOptions& options);

  // Runs `rpc` on endpoints in turn (see client.h for the retry rules) until it succeeds, fails
  // for good or `deadline` passes. `rpc` is called with a fresh context carrying the deadline,
  // the auth token and require-leader; it returns the gRPC status of one attempt. `op` names the
  // call in errors ("Txn", "Range"). Thread-safe.
  using Rpc = std::function<grpc::Status(Endpoint&, grpc::ClientContext&)>;
  absl::Status Call(CallKind kind, absl::string_view op, Deadline deadline, const Rpc& rpc);

  // For streams: an endpoint that is connected now (trying each in turn, starting with the
  // preferred one), or kUnavailable when none connects before `deadline`.
  absl::StatusOr<Endpoint*> PickConnected(Deadline deadline);

  // Fills a stream or call context: metadata (token, require-leader) and, if set, the deadline.
  // Returns the token used, to pass to RefreshToken if etcd rejects it.
  std::string PrepareContext(grpc::ClientContext& context, Deadline deadline);

  // Called when etcd rejected `token_used`: authenticates again unless another caller already
  // replaced that token. No-op without auth.
  absl::Status RefreshToken(const std::string& token_used, Deadline deadline);

  // Moves the preferred endpoint away from `endpoint` (after a stream on it failed).
  void AvoidEndpoint(const Endpoint* endpoint);

  const ClientOptions& options() const { return options_; }
  ClientStats stats() const;
  std::string EndpointList() const;  // "a:1,b:2" for messages

 private:
  Transport(ClientOptions options, std::vector<std::unique_ptr<Endpoint>> endpoints);
  // Call() without the on_request hook.
  absl::Status CallWithRetries(CallKind kind, absl::string_view op, Deadline deadline,
                               const Rpc& rpc);
  // True if `ep` is connected or connects before `deadline`. Without `patient`, an endpoint in
  // TRANSIENT_FAILURE is skipped at once (another endpoint is probably up).
  bool Connected(Endpoint& ep, Deadline deadline, bool patient);
  void Prefer(size_t index);
  absl::Status Authenticate(Deadline deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(auth_mu_);

  // Constant after construction.
  const ClientOptions options_;
  const std::vector<std::unique_ptr<Endpoint>> endpoints_;

  std::atomic<size_t> preferred_{0};  // index of the endpoint that answered last
  std::atomic<int64_t> endpoint_switches_{0};

  mutable Mutex auth_mu_;
  std::string token_ ABSL_GUARDED_BY(auth_mu_);
  int64_t authentications_ ABSL_GUARDED_BY(auth_mu_) = 0;
};

}  // namespace coordha::etcd::internal

#endif  // COORDHA_ETCD_TRANSPORT_H_
