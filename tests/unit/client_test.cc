// Unit tests of the client library (src/client): retries, hints, S4 epochs, idempotent DDL request
// IDs, AllocTimestamp batching and deadlines, against fake RootCoord gRPC servers in this process
// on 127.0.0.1 (ports chosen by the kernel), with discovery injected (StaticActiveResolver).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "client/active_resolver.h"
#include "client/client.h"
#include "common/mutex.h"
#include "rootcoord.grpc.pb.h"

namespace coordha::client {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using Ms = std::chrono::milliseconds;

grpc::Status Refused(grpc::StatusCode code, v1::ErrorCode error, const std::string& message,
                     v1::ErrorDetail detail = {}) {
  detail.set_code(error);
  return grpc::Status(code, v1::ErrorCode_Name(error) + ": " + message, detail.SerializeAsString());
}

grpc::Status NotActive(const std::string& active_address = "", int64_t active_server_id = 0) {
  v1::ErrorDetail detail;
  detail.set_active_address(active_address);
  detail.set_active_server_id(active_server_id);
  return Refused(grpc::StatusCode::UNAVAILABLE, v1::NOT_ACTIVE, "this server is a standby", detail);
}
grpc::Status Initializing() {
  return Refused(grpc::StatusCode::UNAVAILABLE, v1::INITIALIZING, "becoming active");
}

// A RootCoord that answers as an active (server_id, epoch) unless scripted otherwise. Every call
// first takes the next scripted refusal, if any (then `refuse_always`), and the next scripted reply
// epoch, if any.
class FakeRootCoord final : public v1::RootCoord::Service {
 public:
  FakeRootCoord(int64_t server_id, int64_t epoch) : server_id_(server_id), epoch_(epoch) {}

  void Script(std::vector<grpc::Status> refusals) {
    MutexLock lock(&mu_);
    for (auto& s : refusals) refusals_.push_back(std::move(s));
  }
  void RefuseAlways(grpc::Status status) {
    MutexLock lock(&mu_);
    refuse_always_ = std::move(status);
  }
  void ScriptEpochs(std::vector<int64_t> epochs) {
    MutexLock lock(&mu_);
    for (int64_t e : epochs) epochs_.push_back(e);
  }
  // Refuse calls that name another server with SERVER_ID_MISMATCH naming this one.
  void CheckTarget(const std::string& own_address) {
    MutexLock lock(&mu_);
    own_address_ = own_address;
  }
  void SetTimestampDelay(Duration d) {
    MutexLock lock(&mu_);
    ts_delay_ = d;
  }

  int calls() const { return calls_.load(); }
  int timestamp_calls() const { return ts_calls_.load(); }
  int max_concurrent_timestamp_calls() const { return ts_max_concurrent_.load(); }
  std::vector<v1::RequestHeader> headers() const {
    MutexLock lock(&mu_);
    return headers_;
  }
  std::vector<std::string> request_ids() const {
    MutexLock lock(&mu_);
    return request_ids_;
  }

  grpc::Status AllocTimestamp(grpc::ServerContext*, const v1::AllocTimestampRequest* request,
                              v1::AllocTimestampResponse* reply) override {
    ts_calls_.fetch_add(1);
    const int now = ts_concurrent_.fetch_add(1) + 1;
    int seen = ts_max_concurrent_.load();
    while (now > seen && !ts_max_concurrent_.compare_exchange_weak(seen, now)) {
    }
    Duration delay;
    {
      MutexLock lock(&mu_);
      delay = ts_delay_;
    }
    std::this_thread::sleep_for(delay);
    grpc::Status status = Admit(request->header(), reply->mutable_header());
    if (status.ok()) {
      const uint32_t count = std::max<uint32_t>(request->count(), 1);
      reply->set_timestamp(next_ts_.fetch_add(count));
      reply->set_count(count);
    }
    ts_concurrent_.fetch_sub(1);
    return status;
  }
  grpc::Status AllocID(grpc::ServerContext*, const v1::AllocIDRequest* request,
                       v1::AllocIDResponse* reply) override {
    grpc::Status status = Admit(request->header(), reply->mutable_header());
    if (!status.ok()) return status;
    const int64_t begin = next_id_.fetch_add(request->count());
    reply->set_begin(begin);
    reply->set_end(begin + request->count());
    return grpc::Status::OK;
  }
  grpc::Status CreateCollection(grpc::ServerContext*, const v1::CreateCollectionRequest* request,
                                v1::DdlResponse* reply) override {
    {
      MutexLock lock(&mu_);
      request_ids_.push_back(request->request_id());
    }
    grpc::Status status = Admit(request->header(), reply->mutable_header());
    if (!status.ok()) return status;
    reply->set_id(42);
    return grpc::Status::OK;
  }
  grpc::Status DescribeCollection(grpc::ServerContext*,
                                  const v1::DescribeCollectionRequest* request,
                                  v1::DescribeCollectionResponse* reply) override {
    grpc::Status status = Admit(request->header(), reply->mutable_header());
    if (!status.ok()) return status;
    if (request->collection_name() != "known") {
      return Refused(grpc::StatusCode::NOT_FOUND, v1::NOT_FOUND,
                     "collection '" + request->collection_name() + "' not found");
    }
    reply->mutable_collection()->mutable_schema()->set_name("known");
    return grpc::Status::OK;
  }
  grpc::Status HasCollection(grpc::ServerContext*, const v1::HasCollectionRequest* request,
                             v1::HasCollectionResponse* reply) override {
    grpc::Status status = Admit(request->header(), reply->mutable_header());
    if (!status.ok()) return status;
    if (request->collection_name().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "collection_name: empty");
    }
    reply->set_value(request->collection_name() == "known");
    return grpc::Status::OK;
  }

 private:
  grpc::Status Admit(const v1::RequestHeader& header, v1::ReplyHeader* reply) {
    calls_.fetch_add(1);
    MutexLock lock(&mu_);
    headers_.push_back(header);
    if (!own_address_.empty() && header.target_server_id() != 0 &&
        header.target_server_id() != server_id_) {
      v1::ErrorDetail detail;
      detail.set_active_address(own_address_);
      detail.set_active_server_id(server_id_);
      return Refused(grpc::StatusCode::FAILED_PRECONDITION, v1::SERVER_ID_MISMATCH,
                     "the call is for another server", detail);
    }
    if (!refusals_.empty()) {
      grpc::Status next = refusals_.front();
      refusals_.pop_front();
      if (!next.ok()) return next;
    }
    if (!refuse_always_.ok()) return refuse_always_;
    reply->set_server_id(server_id_);
    reply->set_epoch(epoch_);
    if (!epochs_.empty()) {
      reply->set_epoch(epochs_.front());
      epochs_.pop_front();
    }
    return grpc::Status::OK;
  }

  const int64_t server_id_;
  const int64_t epoch_;
  mutable Mutex mu_;
  std::deque<grpc::Status> refusals_ ABSL_GUARDED_BY(mu_);
  grpc::Status refuse_always_ ABSL_GUARDED_BY(mu_);
  std::deque<int64_t> epochs_ ABSL_GUARDED_BY(mu_);
  std::string own_address_ ABSL_GUARDED_BY(mu_);
  Duration ts_delay_ ABSL_GUARDED_BY(mu_){};
  std::vector<v1::RequestHeader> headers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> request_ids_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> calls_{0};
  std::atomic<int> ts_calls_{0};
  std::atomic<int> ts_concurrent_{0};
  std::atomic<int> ts_max_concurrent_{0};
  std::atomic<uint64_t> next_ts_{uint64_t{1000} << 18};
  std::atomic<int64_t> next_id_{1};
};

// A FakeRootCoord served on 127.0.0.1:<free port>.
class FakeServer {
 public:
  FakeServer(int64_t server_id, int64_t epoch) : service_(server_id, epoch) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    address_ = "127.0.0.1:" + std::to_string(port_);
  }
  ~FakeServer() { server_->Shutdown(std::chrono::system_clock::now() + Ms(100)); }

  FakeRootCoord& service() { return service_; }
  const std::string& address() const { return address_; }
  ActiveServer active(int64_t server_id, int64_t epoch) const {
    return ActiveServer{.address = address_, .server_id = server_id, .epoch = epoch};
  }

 private:
  FakeRootCoord service_;
  int port_ = 0;
  std::string address_;
  std::unique_ptr<grpc::Server> server_;
};

constexpr char kRole[] = "rootcoord";

struct Harness {
  StaticActiveResolver* resolver = nullptr;  // owned by client
  std::unique_ptr<Client> client;
};

Harness MakeClient(ClientOptions options = {}) {
  auto resolver = std::make_unique<StaticActiveResolver>();
  Harness h;
  h.resolver = resolver.get();
  auto client = Client::Create(std::move(options), std::move(resolver));
  EXPECT_TRUE(client.ok()) << client.status();
  h.client = *std::move(client);
  return h;
}

CallOptions Within(Duration d) { return CallOptions{.deadline = Deadline::In(d)}; }

TEST(ClientTest, NotActiveWithHint_GoesToHintedServerAtOnce) {
  FakeServer standby(1, 0);
  FakeServer active(2, 10);
  standby.service().RefuseAlways(NotActive(active.address(), 2));
  Harness h = MakeClient();
  h.resolver->Set(kRole, standby.active(1, 5));  // discovery still names the old one

  absl::StatusOr<IdRange> ids = h.client->AllocID(3);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(h.client->stats().backoff, Duration::zero()) << "the hint is followed at once";
  EXPECT_EQ(ids->from.server_id, 2);
  EXPECT_EQ(ids->from.epoch, 10);
  EXPECT_EQ(ids->end - ids->begin, 3);
  EXPECT_EQ(standby.service().calls(), 1);
  ASSERT_EQ(active.service().headers().size(), 1u);
  EXPECT_EQ(active.service().headers()[0].target_server_id(), 2);
  EXPECT_EQ(h.client->stats().hints_followed, 1);

  // The server that answered with a newer epoch than discovery knows is preferred next time.
  ASSERT_TRUE(h.client->AllocID(1).ok());
  EXPECT_EQ(standby.service().calls(), 1);
  EXPECT_EQ(active.service().calls(), 2);
}

TEST(ClientTest, Initializing_RetriedWithShortBackoffThenSucceeds) {
  FakeServer server(1, 4);
  server.service().Script({Initializing(), Initializing(), Initializing()});
  Harness h = MakeClient();
  h.resolver->Set(kRole, server.active(1, 4));

  absl::StatusOr<IdRange> ids = h.client->AllocID(1);
  ASSERT_TRUE(ids.ok()) << ids.status();
  // Backoff 2, 4, 8 ms, each jittered to [0.5, 1.5) of itself.
  EXPECT_GE(h.client->stats().backoff, Ms(7));
  EXPECT_LT(h.client->stats().backoff, Ms(21));
  EXPECT_EQ(server.service().calls(), 4);
  EXPECT_EQ(h.client->stats().retries, 3);
}

TEST(ClientTest, S4_ReplyFromOlderEpochThanSeenIsDropped) {
  FakeServer server(1, 7);
  Harness h = MakeClient();
  h.resolver->Set(kRole, server.active(1, 3));
  ASSERT_TRUE(h.client->AllocID(1).ok());
  EXPECT_EQ(h.client->known_epoch(), 7);

  server.service().ScriptEpochs({5});  // a late answer from a deposed active's epoch
  absl::StatusOr<IdRange> ids = h.client->AllocID(1);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->from.epoch, 7);
  EXPECT_EQ(h.client->stats().stale_replies_dropped, 1);
  const std::vector<v1::RequestHeader> headers = server.service().headers();
  ASSERT_EQ(headers.size(), 3u);
  EXPECT_EQ(headers[0].known_epoch(), 3);  // from discovery
  EXPECT_EQ(headers[1].known_epoch(), 7);  // from the first reply
  EXPECT_EQ(headers[2].known_epoch(), 7);
}

TEST(ClientTest, S4_EpochFromDiscoveryIsSentAndOlderRepliesDropped) {
  FakeServer old_active(1, 5);
  Harness h = MakeClient();
  h.resolver->Set(kRole, old_active.active(1, 9));  // etcd already shows epoch 9
  absl::StatusOr<IdRange> ids = h.client->AllocID(1, Within(Ms(200)));
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kDeadlineExceeded) << ids.status();
  EXPECT_THAT(ids.status().message(), HasSubstr("epoch 5 is older than the epoch 9"));
  EXPECT_GE(h.client->stats().stale_replies_dropped, 1);
  for (const v1::RequestHeader& header : old_active.service().headers()) {
    EXPECT_EQ(header.known_epoch(), 9);
  }
}

TEST(ClientTest, Ddl_RequestIdMadeOnceAndReusedOnEveryRetry) {
  FakeServer server(1, 2);
  server.service().Script({grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset"),
                           Initializing(),
                           Refused(grpc::StatusCode::UNAVAILABLE, v1::FENCED, "deposed")});
  Harness h = MakeClient();
  h.resolver->Set(kRole, server.active(1, 2));
  v1::CollectionSchema schema;
  schema.set_name("c");
  absl::StatusOr<DdlOutcome> created = h.client->CreateCollection("", schema, 2);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->id, 42);
  const std::vector<std::string> ids = server.service().request_ids();
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_THAT(ids[0], MatchesRegex("[0-9a-f]{32}"));
  for (const std::string& id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_EQ(created->request_id, ids[0]);

  // The caller's own ID is used as given; a new call gets a new ID.
  ASSERT_TRUE(h.client->CreateCollection("", schema, 1, CallOptions{.request_id = "mine"}).ok());
  ASSERT_TRUE(h.client->CreateCollection("", schema, 1).ok());
  const std::vector<std::string> later = server.service().request_ids();
  ASSERT_EQ(later.size(), 6u);
  EXPECT_EQ(later[4], "mine");
  EXPECT_NE(later[5], ids[0]);
}

// Seen in CI: a call cancelled by the server side (not by this client) during a failover reached
// the caller as CANCELLED. It is retried like a broken connection.
TEST(ClientTest, ServerSideCancel_RetriedLikeABrokenConnection) {
  FakeServer server(1, 2);
  server.service().Script({grpc::Status(grpc::StatusCode::CANCELLED, "CANCELLED")});
  Harness h = MakeClient();
  h.resolver->Set(kRole, server.active(1, 2));
  absl::StatusOr<IdRange> ids = h.client->AllocID(1);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(server.service().calls(), 2);
  v1::CollectionSchema schema;
  schema.set_name("c");
  server.service().Script({grpc::Status(grpc::StatusCode::CANCELLED, "CANCELLED")});
  absl::StatusOr<DdlOutcome> created = h.client->CreateCollection("", schema, 1);
  ASSERT_TRUE(created.ok()) << created.status();
  const std::vector<std::string> request_ids = server.service().request_ids();
  ASSERT_EQ(request_ids.size(), 2u);
  EXPECT_EQ(request_ids[0], request_ids[1]);  // the same request: it cannot apply twice
}

TEST(ClientTest, Ddl_OutcomeUnknownWhenAnAttemptMayHaveBeenApplied) {
  FakeServer server(1, 2);
  server.service().RefuseAlways(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset"));
  Harness h = MakeClient();
  h.resolver->Set(kRole, server.active(1, 2));
  v1::CollectionSchema schema;
  schema.set_name("c");
  absl::StatusOr<DdlOutcome> created = h.client->CreateCollection(
      "", schema, 1, CallOptions{.deadline = Deadline::In(Ms(150)), .request_id = "abc"});
  EXPECT_EQ(created.status().code(), absl::StatusCode::kUnknown) << created.status();
  EXPECT_THAT(created.status().message(), HasSubstr("request ID abc"));
}

TEST(ClientTest, NonRetriableErrors_ReturnedAtOnceWithServerMessage) {
  FakeServer server(1, 2);
  Harness h = MakeClient();
  h.resolver->Set(kRole, server.active(1, 2));
  absl::StatusOr<Answer<v1::CollectionInfo>> described = h.client->DescribeCollection("", "x");
  EXPECT_EQ(described.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(described.status().message(), "collection 'x' not found");
  EXPECT_EQ(server.service().calls(), 1);

  absl::StatusOr<Answer<bool>> has = h.client->HasCollection("", "");
  EXPECT_EQ(has.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.service().calls(), 2);

  absl::StatusOr<Answer<bool>> known = h.client->HasCollection("", "known");
  ASSERT_TRUE(known.ok());
  EXPECT_TRUE(known->value);
}

TEST(ClientTest, Deadline_RespectedWhileRetrying) {
  FakeServer server(1, 2);
  server.service().RefuseAlways(Initializing());
  Harness h = MakeClient();
  h.resolver->Set(kRole, server.active(1, 2));
  const BootTime start = BootClock::now();
  absl::StatusOr<IdRange> ids = h.client->AllocID(1, Within(Ms(300)));
  const Duration took = BootClock::now() - start;
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(ids.status().message(), HasSubstr("rootcoord"));
  EXPECT_THAT(ids.status().message(), HasSubstr("INITIALIZING"));
  EXPECT_THAT(ids.status().message(), HasSubstr("coordha status"));
  EXPECT_GE(took, Ms(290)) << "gave up before its deadline";
  // Backoff capped at 200 ms: several attempts, not hundreds.
  EXPECT_GE(server.service().calls(), 4);
  EXPECT_LE(server.service().calls(), 40);
}

TEST(ClientTest, NoActive_CallWaitsForTheNextOne) {
  FakeServer server(3, 8);
  Harness h = MakeClient();
  std::thread later([&] {
    std::this_thread::sleep_for(Ms(100));
    h.resolver->Set(kRole, server.active(3, 8));
  });
  const BootTime start = BootClock::now();
  absl::StatusOr<IdRange> ids = h.client->AllocID(1, Within(Ms(5000)));
  later.join();
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_GE(BootClock::now() - start, Ms(90));
  EXPECT_EQ(ids->from.server_id, 3);
}

TEST(ClientTest, NoActive_TimesOutNamingTheRole) {
  Harness h = MakeClient();
  const BootTime start = BootClock::now();
  absl::StatusOr<TimestampRange> ts = h.client->AllocTimestamp(1, Within(Ms(150)));
  EXPECT_EQ(ts.status().code(), absl::StatusCode::kDeadlineExceeded) << ts.status();
  EXPECT_THAT(ts.status().message(), HasSubstr("no active rootcoord"));
  EXPECT_GE(BootClock::now() - start, Ms(140)) << "gave up before its deadline";
}

TEST(ClientTest, DeadActive_RetriedUntilDiscoveryNamesTheNewOne) {
  std::string dead_address;
  {
    FakeServer gone(1, 1);
    dead_address = gone.address();
  }
  FakeServer next(2, 2);
  Harness h = MakeClient();
  h.resolver->Set(kRole, ActiveServer{.address = dead_address, .server_id = 1, .epoch = 1});
  std::thread failover([&] {
    std::this_thread::sleep_for(Ms(100));
    h.resolver->Set(kRole, next.active(2, 2));
  });
  absl::StatusOr<IdRange> ids = h.client->AllocID(1, Within(Ms(5000)));
  failover.join();
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->from.server_id, 2);
  EXPECT_GE(h.client->stats().retries, 1);
}

// A paused active holds the attempt; as soon as discovery names its successor the attempt is
// abandoned and the call goes there, well before attempt_timeout.
TEST(ClientTest, FrozenActive_AttemptAbandonedWhenDiscoveryNamesSuccessor) {
  FakeServer frozen(1, 1);
  frozen.service().SetTimestampDelay(std::chrono::seconds(2));
  FakeServer next(2, 2);
  Harness h = MakeClient();
  h.resolver->Set(kRole, frozen.active(1, 1));
  std::thread failover([&] {
    std::this_thread::sleep_for(Ms(200));
    h.resolver->Set(kRole, next.active(2, 2));
  });
  absl::StatusOr<TimestampRange> ts = h.client->AllocTimestamp(1, Within(Ms(10000)));
  failover.join();
  ASSERT_TRUE(ts.ok()) << ts.status();
  // The frozen server answers after 2 s, within attempt_timeout (3 s): an answer from server 2
  // means the attempt to it was abandoned when discovery named server 2.
  EXPECT_EQ(ts->from.server_id, 2);
}

TEST(ClientTest, ServerIdMismatch_FollowsTheNamedServer) {
  FakeServer server(7, 3);  // restarted on the same address with a new server ID
  server.service().CheckTarget(server.address());
  Harness h = MakeClient();
  h.resolver->Set(kRole, server.active(6, 2));
  absl::StatusOr<IdRange> ids = h.client->AllocID(1);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->from.server_id, 7);
  const std::vector<v1::RequestHeader> headers = server.service().headers();
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].target_server_id(), 6);
  EXPECT_EQ(headers[1].target_server_id(), 7);
}

TEST(ClientTest, FixedAddress_OneAttemptErrorAsIs) {
  FakeServer server(1, 2);
  server.service().RefuseAlways(NotActive("10.0.0.9:53100", 4));
  ClientOptions options;
  options.fixed_address = server.address();
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<IdRange> ids = (*client)->AllocID(1);
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(ids.status().message(), HasSubstr("NOT_ACTIVE"));
  EXPECT_EQ(server.service().calls(), 1);
  ASSERT_EQ(server.service().headers().size(), 1u);
  EXPECT_EQ(server.service().headers()[0].target_server_id(), 0);
  EXPECT_EQ(server.service().headers()[0].known_epoch(), 0);
}

TEST(ClientTest, Stop_EndsWaitingCalls) {
  Harness h = MakeClient();
  std::atomic<bool> returned{false};
  absl::Status status;
  std::thread caller([&] {
    status = h.client->AllocID(1, Within(std::chrono::seconds(30))).status();
    returned = true;
  });
  std::this_thread::sleep_for(Ms(50));
  h.client->Stop();
  caller.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
}

// PD-style batching: 32 threads calling at once cost far fewer RPCs; every timestamp is distinct
// and each caller's are increasing.
TEST(ClientTest, Batching_MergesConcurrentAllocTimestampCalls) {
  FakeServer server(1, 2);
  server.service().SetTimestampDelay(Ms(2));
  Harness h = MakeClient();
  h.resolver->Set(kRole, server.active(1, 2));

  constexpr int kThreads = 32;
  constexpr int kCallsEach = 30;
  std::vector<std::vector<TimestampRange>> got(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsEach; ++i) {
        absl::StatusOr<TimestampRange> ts = h.client->AllocTimestamp(1 + (t + i) % 3);
        if (!ts.ok()) {
          failures.fetch_add(1);
          continue;
        }
        got[t].push_back(*ts);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);

  std::set<uint64_t> all;
  uint64_t total = 0;
  for (const auto& mine : got) {
    uint64_t previous = 0;
    for (const TimestampRange& range : mine) {
      EXPECT_GT(range.first, previous);
      previous = range.at(range.count - 1);
      for (uint32_t i = 0; i < range.count; ++i) all.insert(range.at(i));
      total += range.count;
      EXPECT_EQ(range.from.server_id, 1);
    }
  }
  EXPECT_EQ(all.size(), total);  // no timestamp handed to two callers
  const int rpcs = server.service().timestamp_calls();
  EXPECT_LT(rpcs, kThreads * kCallsEach / 4) << "batching did not merge calls";
  EXPECT_EQ(server.service().max_concurrent_timestamp_calls(), 1);
  EXPECT_EQ(h.client->stats().timestamp_rpcs, rpcs);
  EXPECT_EQ(h.client->stats().timestamp_calls, kThreads * kCallsEach);
}

TEST(ClientTest, Batching_OffSendsOneRpcPerCall) {
  FakeServer server(1, 2);
  ClientOptions options;
  options.batch_timestamps = false;
  Harness h = MakeClient(options);
  h.resolver->Set(kRole, server.active(1, 2));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) ASSERT_TRUE(h.client->AllocTimestamp(2).ok());
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(server.service().timestamp_calls(), 160);
}

TEST(ClientTest, Batching_ShortDeadlineCallerDoesNotFailOthers) {
  FakeServer server(1, 2);
  server.service().SetTimestampDelay(Ms(150));
  Harness h = MakeClient();
  h.resolver->Set(kRole, server.active(1, 2));
  // One RPC in flight; a short-deadline caller and a patient one queue behind it and go out in one
  // batch under the short deadline, which runs out: the patient one is sent again.
  std::thread first([&] { EXPECT_TRUE(h.client->AllocTimestamp(1).ok()); });
  std::this_thread::sleep_for(Ms(30));
  absl::Status impatient;
  std::thread short_one([&] { impatient = h.client->AllocTimestamp(1, Within(Ms(250))).status(); });
  absl::StatusOr<TimestampRange> patient = h.client->AllocTimestamp(1, Within(Ms(3000)));
  first.join();
  short_one.join();
  EXPECT_EQ(impatient.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(patient.ok()) << patient.status();
}

TEST(ClientTest, NewRequestId_Is128BitHexAndFresh) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    std::string id = Client::NewRequestId();
    EXPECT_THAT(id, MatchesRegex("[0-9a-f]{32}"));
    ids.insert(std::move(id));
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(ClientTest, Create_RejectsBadOptions) {
  EXPECT_EQ(Client::Create(ClientOptions{}).status().code(), absl::StatusCode::kInvalidArgument);
  ClientOptions options;
  options.fixed_address = "nohostport";
  EXPECT_EQ(Client::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.fixed_address = "127.0.0.1:1";
  options.initial_backoff = Duration::zero();
  EXPECT_EQ(Client::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace coordha::client
