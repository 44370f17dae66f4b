#include "client/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <random>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "client/etcd_active_resolver.h"
#include "client/refusal.h"
#include "client/timestamp_batcher.h"
#include "common/logging.h"
#include "common/status.h"
#include "datacoord.grpc.pb.h"
#include "indexcoord.grpc.pb.h"
#include "querycoord.grpc.pb.h"
#include "rootcoord.grpc.pb.h"

namespace coordha::client {
namespace {

// The Stub class an RPC member pointer belongs to.
template <typename T>
struct StubOf;
template <typename S, typename R, typename... A>
struct StubOf<R (S::*)(A...)> {
  using type = S;
};
// Refusals that name the active are followed at once this many times in a row; after that (two
// standbys naming each other from stale views) the client backs off and asks discovery again.
constexpr int kMaxHintHops = 3;

std::mt19937_64& ThreadRandom() {
  thread_local std::mt19937_64 random([] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }());
  return random;
}

std::string FormatTimeout(Duration d) {
  return absl::FormatDuration(absl::Trunc(absl::FromChrono(d), absl::Milliseconds(10)));
}

// Jittered exponential backoff: [0.5, 1.5) x the current step; the step doubles up to `max`.
class RetryBackoff {
 public:
  RetryBackoff(Duration initial, Duration max) : step_(initial), max_(max) {}
  Duration Next() {
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    const Duration wait = std::chrono::duration_cast<Duration>(step_ * jitter(ThreadRandom()));
    step_ = std::min(step_ * 2, max_);
    return wait;
  }

 private:
  Duration step_;
  const Duration max_;
};

}  // namespace

// One address's channel and stub. grpc::CreateCustomChannel hands out a shared_ptr; the stub
// shares it.
struct Client::Endpoint {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::RootCoord::Stub> stub;
  std::unique_ptr<v1::DataCoord::Stub> data;
  std::unique_ptr<v1::QueryCoord::Stub> query;
  std::unique_ptr<v1::IndexCoord::Stub> index;

  template <typename S>
  S& Get() {
    if constexpr (std::is_same_v<S, v1::RootCoord::Stub>) {
      return *stub;
    } else if constexpr (std::is_same_v<S, v1::DataCoord::Stub>) {
      return *data;
    } else if constexpr (std::is_same_v<S, v1::QueryCoord::Stub>) {
      return *query;
    } else {
      static_assert(std::is_same_v<S, v1::IndexCoord::Stub>);
      return *index;
    }
  }
};

std::string Client::NewRequestId() {
  std::mt19937_64& random = ThreadRandom();
  const uint64_t high = random();
  const uint64_t low = random();
  return absl::StrFormat("%016x%016x", high, low);
}

namespace {

absl::Status CheckOptions(const ClientOptions& options) {
  if (!options.fixed_address.empty() && options.fixed_address.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("client: address '", options.fixed_address, "' is not host:port"));
  }
  if (options.call_timeout <= Duration::zero() || options.attempt_timeout <= Duration::zero()) {
    return absl::InvalidArgumentError("client: call_timeout and attempt_timeout must be > 0");
  }
  if (options.initial_backoff <= Duration::zero() ||
      options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError("client: REQUIRES 0 < initial_backoff <= max_backoff");
  }
  if (options.max_batch_timestamps < 1) {
    return absl::InvalidArgumentError("client: max_batch_timestamps must be >= 1");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  COORDHA_RETURN_IF_ERROR(CheckOptions(options));
  if (!options.fixed_address.empty()) {
    return std::unique_ptr<Client>(new Client(std::move(options), nullptr, nullptr));
  }
  if (options.meta_root.empty()) {
    return absl::InvalidArgumentError("client: meta_root is empty (e.g. \"by-dev/meta\")");
  }
  std::unique_ptr<etcd::Client> owned_etcd;
  etcd::Client* etcd_client = options.etcd_client;
  if (etcd_client == nullptr) {
    if (options.etcd.endpoints.empty()) {
      return absl::InvalidArgumentError(
          "client: no etcd endpoints, etcd client or fixed address to find the active with");
    }
    absl::StatusOr<std::unique_ptr<etcd::Client>> made = etcd::Client::Create(options.etcd);
    if (!made.ok()) return Annotate(made.status(), "client: etcd");
    owned_etcd = *std::move(made);
    etcd_client = owned_etcd.get();
  }
  auto resolver = std::make_unique<EtcdActiveResolver>(
      etcd_client,
      EtcdActiveResolverOptions{.meta_root = options.meta_root,
                                .read_timeout = etcd_client->options().request_timeout});
  return std::unique_ptr<Client>(
      new Client(std::move(options), std::move(owned_etcd), std::move(resolver)));
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options,
                                                       std::unique_ptr<ActiveResolver> resolver) {
  COORDHA_RETURN_IF_ERROR(CheckOptions(options));
  if (!options.fixed_address.empty()) {
    if (resolver) resolver->Stop();
    resolver.reset();
  } else if (resolver == nullptr) {
    return absl::InvalidArgumentError("client: no resolver and no fixed address");
  }
  return std::unique_ptr<Client>(new Client(std::move(options), nullptr, std::move(resolver)));
}

Client::Client(ClientOptions options, std::unique_ptr<etcd::Client> owned_etcd,
               std::unique_ptr<ActiveResolver> resolver)
    : options_(std::move(options)),
      owned_etcd_(std::move(owned_etcd)),
      resolver_(std::move(resolver)) {
  if (resolver_) {
    resolver_->SetListener(
        [this](const std::string& role, const std::optional<ActiveServer>& active) {
          OnActiveChanged(role, active);
        });
  }
  if (options_.batch_timestamps) {
    batcher_ = std::make_unique<internal::TimestampBatcher>(
        [this](uint32_t count, Deadline deadline) { return SendAllocTimestamp(count, deadline); },
        options_.max_batch_timestamps);
  }
}

Client::~Client() {
  Stop();
  // The resolver's threads use the etcd client: end them before it goes.
  if (resolver_) resolver_->Stop();
}

void Client::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    for (auto& [context, attempt] : in_flight_) context->TryCancel();
    stopped_.SignalAll();
  }
  if (resolver_) resolver_->Stop();
}

int64_t Client::known_epoch() const {
  MutexLock lock(&mu_);
  return highest_epoch_;
}

ClientStats Client::stats() const {
  return ClientStats{.attempts = attempts_.load(),
                     .retries = retries_.load(),
                     .hints_followed = hints_followed_.load(),
                     .stale_replies_dropped = stale_replies_dropped_.load(),
                     .timestamp_calls = timestamp_calls_.load(),
                     .timestamp_rpcs = timestamp_rpcs_.load(),
                     .backoff = std::chrono::nanoseconds(backoff_ns_.load())};
}

Client::Endpoint& Client::EndpointFor(const std::string& address) {
  MutexLock lock(&mu_);
  std::unique_ptr<Endpoint>& endpoint = endpoints_[address];
  if (!endpoint) {
    grpc::ChannelArguments args;
    // A restarted or newly active process is reached within tens of milliseconds, not gRPC's
    // default second-plus reconnect backoff.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    endpoint = std::make_unique<Endpoint>();
    endpoint->channel =
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    endpoint->stub = v1::RootCoord::NewStub(endpoint->channel);
    endpoint->data = v1::DataCoord::NewStub(endpoint->channel);
    endpoint->query = v1::QueryCoord::NewStub(endpoint->channel);
    endpoint->index = v1::IndexCoord::NewStub(endpoint->channel);
  }
  return *endpoint;
}

bool Client::Backoff(Duration d, Deadline deadline, int64_t seen_changes) {
  MutexLock lock(&mu_);
  stopped_.Await(
      &mu_,
      [&] {
        mu_.AssertHeld();
        return stopping_ || active_changes_ != seen_changes;
      },
      deadline.Min(Deadline::In(d)));
  return !stopping_ && !deadline.Expired();
}

int64_t Client::active_changes() const {
  MutexLock lock(&mu_);
  return active_changes_;
}

void Client::BeginAttempt(grpc::ClientContext* context, const std::string& address,
                          int64_t server_id) {
  MutexLock lock(&mu_);
  in_flight_[context] = InFlightAttempt{.address = address, .server_id = server_id};
}

bool Client::EndAttempt(grpc::ClientContext* context) {
  MutexLock lock(&mu_);
  auto it = in_flight_.find(context);
  const bool superseded = it != in_flight_.end() && it->second.superseded;
  in_flight_.erase(context);
  return superseded;
}

void Client::OnActiveChanged(const std::string& role, const std::optional<ActiveServer>& active) {
  if (role != options_.role) return;
  MutexLock lock(&mu_);
  if (active) {
    ++active_changes_;
    stopped_.SignalAll();  // a retry sleeping in Backoff() goes now
  }
  for (auto& [context, attempt] : in_flight_) {
    if (active && active->address == attempt.address &&
        (attempt.server_id == 0 || active->server_id == attempt.server_id)) {
      continue;
    }
    attempt.superseded = true;
    context->TryCancel();
  }
}

absl::Status Client::RunOnce(const AttemptFn& attempt, Deadline deadline, ReplyInfo* from) {
  Endpoint& endpoint = EndpointFor(options_.fixed_address);
  grpc::ClientContext context;
  context.set_deadline(deadline.ToWall());
  {
    MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("the client is stopping");
  }
  BeginAttempt(&context, options_.fixed_address, 0);
  attempts_.fetch_add(1, std::memory_order_relaxed);
  const v1::ReplyHeader* reply = nullptr;
  // Debug mode: an empty header (any server, no epoch) so the server answers as it would anyone.
  const grpc::Status status = attempt(endpoint, &context, v1::RequestHeader(), &reply);
  EndAttempt(&context);
  if (status.ok()) {
    *from = ReplyInfo{.server_id = reply->server_id(), .epoch = reply->epoch()};
    return absl::OkStatus();
  }
  return absl::Status(
      static_cast<absl::StatusCode>(status.error_code()),
      absl::StrCat("server at ", options_.fixed_address, ": ", status.error_message()));
}

absl::Status Client::Run(const char* method, bool ddl, Deadline deadline, const AttemptFn& attempt,
                         ReplyInfo* from) {
  if (!options_.fixed_address.empty()) return RunOnce(attempt, deadline, from);

  const BootTime started = BootClock::now();
  RetryBackoff backoff(options_.initial_backoff, options_.max_backoff);
  std::optional<ActiveServer> hint;  // a refusal named the active: try it next
  int hops = 0;
  absl::Status last_error;  // the last retriable failure, for the final message
  bool maybe_applied = false;
  bool first = true;

  auto give_up = [&](const absl::Status& why) {
    const std::string text = absl::StrCat(
        method, ": no active ", options_.role, " answered within ",
        FormatTimeout(BootClock::now() - started), " (", why.message(), "); see `coordha status`");
    if (ddl && maybe_applied) {
      return OutcomeUnknownError(absl::StrCat(text, "; an attempt may have been applied"));
    }
    return absl::DeadlineExceededError(text);
  };

  while (true) {
    int64_t seen_changes = 0;
    {
      MutexLock lock(&mu_);
      if (stopping_) return absl::CancelledError("the client is stopping");
      seen_changes = active_changes_;
    }
    if (deadline.Expired()) {
      return give_up(last_error.ok() ? absl::DeadlineExceededError("deadline passed") : last_error);
    }
    ActiveServer target;
    if (hint) {
      target = *std::move(hint);
      hint.reset();
    } else {
      absl::StatusOr<ActiveServer> resolved = resolver_->Resolve(options_.role, deadline);
      if (!resolved.ok()) {
        if (resolved.status().code() == absl::StatusCode::kCancelled) return resolved.status();
        return give_up(last_error.ok() ? resolved.status() : last_error);
      }
      target = *std::move(resolved);
      MutexLock lock(&mu_);
      highest_epoch_ = std::max(highest_epoch_, target.epoch);
      // The watch lags a failover by a moment; a server that answered with a newer epoch than
      // etcd shows us is the better guess.
      if (last_answered_ && last_answered_->epoch > target.epoch) target = *last_answered_;
    }

    v1::RequestHeader header;
    header.set_target_server_id(target.server_id);
    {
      MutexLock lock(&mu_);
      header.set_known_epoch(highest_epoch_);  // S4
    }
    Endpoint& endpoint = EndpointFor(target.address);
    grpc::ClientContext context;
    context.set_deadline(deadline.Min(Deadline::In(options_.attempt_timeout)).ToWall());
    const v1::ReplyHeader* reply = nullptr;
    BeginAttempt(&context, target.address, target.server_id);
    attempts_.fetch_add(1, std::memory_order_relaxed);
    if (!first) retries_.fetch_add(1, std::memory_order_relaxed);
    first = false;
    const grpc::Status status = attempt(endpoint, &context, header, &reply);
    if (EndAttempt(&context) && status.error_code() == grpc::StatusCode::CANCELLED) {
      // Discovery named another active while this attempt waited: go there now.
      maybe_applied = true;
      last_error =
          absl::UnavailableError(absl::StrCat("server ", target.server_id, " at ", target.address,
                                              " stopped being the active mid-call"));
      hops = 0;
      continue;
    }

    if (status.ok()) {
      MutexLock lock(&mu_);
      if (reply->epoch() < highest_epoch_) {
        // S4: a reply from an epoch older than one already seen comes from a deposed active;
        // drop it and ask again (a DDL it applied is replayed by its request ID).
        stale_replies_dropped_.fetch_add(1, std::memory_order_relaxed);
        last_error = absl::UnavailableError(
            absl::StrCat("dropped a reply from server ", reply->server_id(), " at ", target.address,
                         ": its epoch ", reply->epoch(), " is older than the epoch ",
                         highest_epoch_, " already seen"));
        maybe_applied = true;
        if (last_answered_ && last_answered_->address == target.address) last_answered_.reset();
      } else {
        highest_epoch_ = reply->epoch();
        last_answered_ = ActiveServer{
            .address = target.address, .server_id = reply->server_id(), .epoch = reply->epoch()};
        *from = ReplyInfo{.server_id = reply->server_id(), .epoch = reply->epoch()};
        return absl::OkStatus();
      }
    } else {
      const internal::Refusal refusal = internal::ClassifyRefusal(status);
      if (!refusal.retriable) return internal::CallerStatus(status, refusal);
      maybe_applied = maybe_applied || refusal.maybe_applied;
      last_error = absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                absl::StrCat("server ", target.server_id, " at ", target.address,
                                             ": ", status.error_message()));
      if (refusal.code != v1::INITIALIZING) {
        // That server is not (or no longer) the active: stop preferring it.
        MutexLock lock(&mu_);
        if (last_answered_ && last_answered_->address == target.address) last_answered_.reset();
      }
      const v1::ErrorDetail& detail = refusal.detail;
      const bool names_other =
          (refusal.code == v1::NOT_ACTIVE || refusal.code == v1::SERVER_ID_MISMATCH) &&
          !detail.active_address().empty() &&
          (detail.active_address() != target.address ||
           detail.active_server_id() != target.server_id);
      if (names_other && hops < kMaxHintHops) {
        // The refusal names the active: go there now, without waiting for the watch.
        ++hops;
        hints_followed_.fetch_add(1, std::memory_order_relaxed);
        hint = ActiveServer{.address = detail.active_address(),
                            .server_id = detail.active_server_id()};
        continue;
      }
    }
    hops = 0;
    const Duration wait = backoff.Next();
    backoff_ns_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count(),
                          std::memory_order_relaxed);
    if (!Backoff(wait, deadline, seen_changes)) {
      {
        MutexLock lock(&mu_);
        if (stopping_) return absl::CancelledError("the client is stopping");
      }
      return give_up(last_error);
    }
  }
}

template <typename Response, typename Request, typename Rpc>
absl::StatusOr<Answer<Response>> Client::Call(const char* method, Rpc rpc, Request request,
                                              const CallOptions& call, bool ddl) {
  const Deadline deadline = call.deadline.OrIn(options_.call_timeout);
  Answer<Response> answer;
  const absl::Status status = Run(
      method, ddl, deadline,
      [&](Endpoint& endpoint, grpc::ClientContext* context, const v1::RequestHeader& header,
          const v1::ReplyHeader** reply) {
        *request.mutable_header() = header;
        answer.value.Clear();
        grpc::Status sent =
            ((endpoint.Get<typename StubOf<Rpc>::type>()).*rpc)(context, request, &answer.value);
        *reply = &answer.value.header();
        return sent;
      },
      &answer.from);
  if (!status.ok()) return status;
  return answer;
}

template <typename Request, typename Rpc>
absl::StatusOr<DdlOutcome> Client::Ddl(const char* method, Rpc rpc, Request request,
                                       const CallOptions& call) {
  // Made once for the whole call: every retry, across failovers, carries the same ID.
  const std::string request_id = call.request_id.empty() ? NewRequestId() : call.request_id;
  request.set_request_id(request_id);
  absl::StatusOr<Answer<v1::DdlResponse>> answer =
      Call<v1::DdlResponse>(method, rpc, std::move(request), call, /*ddl=*/true);
  if (!answer.ok()) {
    if (IsOutcomeUnknown(answer.status())) {
      return Annotate(answer.status(), absl::StrCat("request ID ", request_id));
    }
    return answer.status();
  }
  return DdlOutcome{.id = answer->value.id(),
                    .replayed = answer->value.replayed(),
                    .request_id = request_id,
                    .from = answer->from};
}

// ---- TSO and IDs ----

absl::StatusOr<TimestampRange> Client::SendAllocTimestamp(uint32_t count, Deadline deadline) {
  timestamp_rpcs_.fetch_add(1, std::memory_order_relaxed);
  v1::AllocTimestampRequest request;
  request.set_count(count);
  absl::StatusOr<Answer<v1::AllocTimestampResponse>> answer =
      Call<v1::AllocTimestampResponse>("AllocTimestamp", &v1::RootCoord::Stub::AllocTimestamp,
                                       std::move(request), CallOptions{.deadline = deadline},
                                       /*ddl=*/false);
  if (!answer.ok()) return answer.status();
  const uint32_t got = std::max<uint32_t>(answer->value.count(), 1);
  if (got < count) {
    return absl::InternalError(absl::StrCat("AllocTimestamp: asked for ", count,
                                            " timestamps, the server returned ", got));
  }
  return TimestampRange{.first = answer->value.timestamp(), .count = count, .from = answer->from};
}

absl::StatusOr<TimestampRange> Client::AllocTimestamp(uint32_t count, const CallOptions& call) {
  timestamp_calls_.fetch_add(1, std::memory_order_relaxed);
  count = std::max<uint32_t>(count, 1);
  const Deadline deadline = call.deadline.OrIn(options_.call_timeout);
  if (batcher_) return batcher_->Allocate(count, deadline);
  return SendAllocTimestamp(count, deadline);
}

absl::StatusOr<IdRange> Client::AllocID(uint32_t count, const CallOptions& call) {
  v1::AllocIDRequest request;
  request.set_count(std::max<uint32_t>(count, 1));
  absl::StatusOr<Answer<v1::AllocIDResponse>> answer = Call<v1::AllocIDResponse>(
      "AllocID", &v1::RootCoord::Stub::AllocID, std::move(request), call, /*ddl=*/false);
  if (!answer.ok()) return answer.status();
  return IdRange{.begin = answer->value.begin(), .end = answer->value.end(), .from = answer->from};
}

// ---- Databases ----

absl::StatusOr<DdlOutcome> Client::CreateDatabase(const std::string& db, const CallOptions& call) {
  v1::CreateDatabaseRequest request;
  request.set_db_name(db);
  return Ddl("CreateDatabase", &v1::RootCoord::Stub::CreateDatabase, std::move(request), call);
}

absl::StatusOr<DdlOutcome> Client::DropDatabase(const std::string& db, const CallOptions& call) {
  v1::DropDatabaseRequest request;
  request.set_db_name(db);
  return Ddl("DropDatabase", &v1::RootCoord::Stub::DropDatabase, std::move(request), call);
}

absl::StatusOr<Answer<std::vector<v1::DatabaseInfo>>> Client::ListDatabases(
    const CallOptions& call) {
  absl::StatusOr<Answer<v1::ListDatabasesResponse>> answer =
      Call<v1::ListDatabasesResponse>("ListDatabases", &v1::RootCoord::Stub::ListDatabases,
                                      v1::ListDatabasesRequest(), call, /*ddl=*/false);
  if (!answer.ok()) return answer.status();
  return Answer<std::vector<v1::DatabaseInfo>>{
      .value = {answer->value.databases().begin(), answer->value.databases().end()},
      .from = answer->from};
}

// ---- Collections ----

absl::StatusOr<DdlOutcome> Client::CreateCollection(const std::string& db,
                                                    const v1::CollectionSchema& schema,
                                                    int32_t shards, const CallOptions& call) {
  v1::CreateCollectionRequest request;
  request.set_db_name(db);
  *request.mutable_schema() = schema;
  request.set_shards_num(shards);
  return Ddl("CreateCollection", &v1::RootCoord::Stub::CreateCollection, std::move(request), call);
}

absl::StatusOr<DdlOutcome> Client::DropCollection(const std::string& db,
                                                  const std::string& collection,
                                                  const CallOptions& call) {
  v1::DropCollectionRequest request;
  request.set_db_name(db);
  request.set_collection_name(collection);
  return Ddl("DropCollection", &v1::RootCoord::Stub::DropCollection, std::move(request), call);
}

absl::StatusOr<Answer<v1::CollectionInfo>> Client::DescribeCollection(const std::string& db,
                                                                      const std::string& collection,
                                                                      const CallOptions& call) {
  v1::DescribeCollectionRequest request;
  request.set_db_name(db);
  request.set_collection_name(collection);
  absl::StatusOr<Answer<v1::DescribeCollectionResponse>> answer =
      Call<v1::DescribeCollectionResponse>("DescribeCollection",
                                           &v1::RootCoord::Stub::DescribeCollection,
                                           std::move(request), call, /*ddl=*/false);
  if (!answer.ok()) return answer.status();
  return Answer<v1::CollectionInfo>{.value = answer->value.collection(), .from = answer->from};
}

absl::StatusOr<Answer<bool>> Client::HasCollection(const std::string& db,
                                                   const std::string& collection,
                                                   const CallOptions& call) {
  v1::HasCollectionRequest request;
  request.set_db_name(db);
  request.set_collection_name(collection);
  absl::StatusOr<Answer<v1::HasCollectionResponse>> answer = Call<v1::HasCollectionResponse>(
      "HasCollection", &v1::RootCoord::Stub::HasCollection, std::move(request), call,
      /*ddl=*/false);
  if (!answer.ok()) return answer.status();
  return Answer<bool>{.value = answer->value.value(), .from = answer->from};
}

absl::StatusOr<Answer<std::vector<std::string>>> Client::ListCollections(const std::string& db,
                                                                         const CallOptions& call) {
  v1::ListCollectionsRequest request;
  request.set_db_name(db);
  absl::StatusOr<Answer<v1::ListCollectionsResponse>> answer = Call<v1::ListCollectionsResponse>(
      "ListCollections", &v1::RootCoord::Stub::ListCollections, std::move(request), call,
      /*ddl=*/false);
  if (!answer.ok()) return answer.status();
  return Answer<std::vector<std::string>>{
      .value = {answer->value.collection_names().begin(), answer->value.collection_names().end()},
      .from = answer->from};
}

// ---- Partitions ----

absl::StatusOr<DdlOutcome> Client::CreatePartition(const std::string& db,
                                                   const std::string& collection,
                                                   const std::string& partition,
                                                   const CallOptions& call) {
  v1::CreatePartitionRequest request;
  request.set_db_name(db);
  request.set_collection_name(collection);
  request.set_partition_name(partition);
  return Ddl("CreatePartition", &v1::RootCoord::Stub::CreatePartition, std::move(request), call);
}

absl::StatusOr<DdlOutcome> Client::DropPartition(const std::string& db,
                                                 const std::string& collection,
                                                 const std::string& partition,
                                                 const CallOptions& call) {
  v1::DropPartitionRequest request;
  request.set_db_name(db);
  request.set_collection_name(collection);
  request.set_partition_name(partition);
  return Ddl("DropPartition", &v1::RootCoord::Stub::DropPartition, std::move(request), call);
}

absl::StatusOr<Answer<std::vector<v1::PartitionInfo>>> Client::ListPartitions(
    const std::string& db, const std::string& collection, const CallOptions& call) {
  v1::ListPartitionsRequest request;
  request.set_db_name(db);
  request.set_collection_name(collection);
  absl::StatusOr<Answer<v1::ListPartitionsResponse>> answer = Call<v1::ListPartitionsResponse>(
      "ListPartitions", &v1::RootCoord::Stub::ListPartitions, std::move(request), call,
      /*ddl=*/false);
  if (!answer.ok()) return answer.status();
  return Answer<std::vector<v1::PartitionInfo>>{
      .value = {answer->value.partitions().begin(), answer->value.partitions().end()},
      .from = answer->from};
}

// ---- datacoord, querycoord, indexcoord ----

absl::StatusOr<Answer<v1::AssignSegmentIDResponse>> Client::AssignSegmentID(
    v1::AssignSegmentIDRequest request, const CallOptions& call) {
  return Call<v1::AssignSegmentIDResponse>("AssignSegmentID", &v1::DataCoord::Stub::AssignSegmentID,
                                           std::move(request), call,
                                           /*ddl=*/false);
}

absl::StatusOr<Answer<v1::FlushResponse>> Client::Flush(v1::FlushRequest request,
                                                        const CallOptions& call) {
  return Call<v1::FlushResponse>("Flush", &v1::DataCoord::Stub::Flush, std::move(request), call,
                                 /*ddl=*/false);
}

absl::StatusOr<Answer<v1::GetSegmentInfoResponse>> Client::GetSegmentInfo(
    v1::GetSegmentInfoRequest request, const CallOptions& call) {
  return Call<v1::GetSegmentInfoResponse>("GetSegmentInfo", &v1::DataCoord::Stub::GetSegmentInfo,
                                          std::move(request), call,
                                          /*ddl=*/false);
}

absl::StatusOr<Answer<v1::GetChannelsResponse>> Client::GetChannels(v1::GetChannelsRequest request,
                                                                    const CallOptions& call) {
  return Call<v1::GetChannelsResponse>("GetChannels", &v1::DataCoord::Stub::GetChannels,
                                       std::move(request), call,
                                       /*ddl=*/false);
}

absl::StatusOr<Answer<v1::LoadCollectionResponse>> Client::LoadCollection(
    v1::LoadCollectionRequest request, const CallOptions& call) {
  return Call<v1::LoadCollectionResponse>("LoadCollection", &v1::QueryCoord::Stub::LoadCollection,
                                          std::move(request), call,
                                          /*ddl=*/false);
}

absl::StatusOr<Answer<v1::ReleaseCollectionResponse>> Client::ReleaseCollection(
    v1::ReleaseCollectionRequest request, const CallOptions& call) {
  return Call<v1::ReleaseCollectionResponse>(
      "ReleaseCollection", &v1::QueryCoord::Stub::ReleaseCollection, std::move(request), call,
      /*ddl=*/false);
}

absl::StatusOr<Answer<v1::GetLoadStateResponse>> Client::GetLoadState(
    v1::GetLoadStateRequest request, const CallOptions& call) {
  return Call<v1::GetLoadStateResponse>("GetLoadState", &v1::QueryCoord::Stub::GetLoadState,
                                        std::move(request), call,
                                        /*ddl=*/false);
}

absl::StatusOr<Answer<v1::GetShardLeadersResponse>> Client::GetShardLeaders(
    v1::GetShardLeadersRequest request, const CallOptions& call) {
  return Call<v1::GetShardLeadersResponse>(
      "GetShardLeaders", &v1::QueryCoord::Stub::GetShardLeaders, std::move(request), call,
      /*ddl=*/false);
}

absl::StatusOr<Answer<v1::GetDistributionSummaryResponse>> Client::GetDistributionSummary(
    v1::GetDistributionSummaryRequest request, const CallOptions& call) {
  return Call<v1::GetDistributionSummaryResponse>("GetDistributionSummary",
                                                  &v1::QueryCoord::Stub::GetDistributionSummary,
                                                  std::move(request), call,
                                                  /*ddl=*/false);
}

absl::StatusOr<Answer<v1::CreateIndexResponse>> Client::CreateIndex(v1::CreateIndexRequest request,
                                                                    const CallOptions& call) {
  return Call<v1::CreateIndexResponse>("CreateIndex", &v1::IndexCoord::Stub::CreateIndex,
                                       std::move(request), call,
                                       /*ddl=*/false);
}

absl::StatusOr<Answer<v1::DescribeIndexResponse>> Client::DescribeIndex(
    v1::DescribeIndexRequest request, const CallOptions& call) {
  return Call<v1::DescribeIndexResponse>("DescribeIndex", &v1::IndexCoord::Stub::DescribeIndex,
                                         std::move(request), call,
                                         /*ddl=*/false);
}

absl::StatusOr<Answer<v1::DropIndexResponse>> Client::DropIndex(v1::DropIndexRequest request,
                                                                const CallOptions& call) {
  return Call<v1::DropIndexResponse>("DropIndex", &v1::IndexCoord::Stub::DropIndex,
                                     std::move(request), call,
                                     /*ddl=*/false);
}

absl::StatusOr<Answer<v1::GetIndexStateResponse>> Client::GetIndexState(
    v1::GetIndexStateRequest request, const CallOptions& call) {
  return Call<v1::GetIndexStateResponse>("GetIndexState", &v1::IndexCoord::Stub::GetIndexState,
                                         std::move(request), call,
                                         /*ddl=*/false);
}

}  // namespace coordha::client
