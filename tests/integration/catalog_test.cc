// rootcoord's Catalog against a real etcd: databases, collections and partitions; idempotent DDL
// across retries and failovers; fencing of a deposed active (S1); the standby's hot copy (L5);
// validation that names the field.
#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "coordinator/gate.h"
#include "etcd_test_util.h"
#include "gtest/gtest.h"
#include "rootcoord/catalog.h"
#include "rootcoord/root_coordinator.h"
#include "rootcoord/rootcoord_service.h"
#include "session/election.h"
#include "session/replica.h"
#include "session/session.h"

namespace coordha::rootcoord {
namespace {

using coordha::testing::EtcdCluster;
using coordha::testing::OptionsFor;
using coordha::testing::TestDeadline;
using std::chrono::milliseconds;

constexpr char kMetaRoot[] = "by-dev/meta";
constexpr char kActiveKey[] = "by-dev/meta/session/rootcoord";
constexpr char kResignedKey[] = "by-dev/meta/coordha/resigned/rootcoord";

v1::CollectionSchema QuickSchema8(const std::string& name) { return QuickSchema(name, 8); }

std::vector<std::string> Names(const std::vector<v1::DatabaseInfo>& dbs) {
  std::vector<std::string> names;
  for (const auto& db : dbs) names.push_back(db.name());
  return names;
}

std::vector<std::string> Names(const std::vector<v1::PartitionInfo>& partitions) {
  std::vector<std::string> names;
  for (const auto& p : partitions) names.push_back(p.name());
  return names;
}

class CatalogTest : public coordha::testing::RealEtcdTest {
 protected:
  void SetUp() override {
    RealEtcdTest::SetUp();
    if (HasFatalFailure()) return;
    leadership_.emplace(Failover());
    catalog_ = StartCatalog();
    ASSERT_TRUE(catalog_->CatchUpAsActive(*leadership_, TestDeadline()).ok());
  }

  std::unique_ptr<Catalog> StartCatalog() {
    auto catalog = std::make_unique<Catalog>(client_.get(), CatalogOptions{.meta_root = kMetaRoot});
    catalog->Start();
    return catalog;
  }

  // A new active: the previous one's lease is revoked (deposed), a new session wins.
  session::Leadership Failover() {
    if (session_ != nullptr) {
      EXPECT_TRUE(client_->LeaseRevoke(session_->lease_id(), TestDeadline()).ok());
      session_.reset();
    }
    auto session = session::Session::Create(
        client_.get(), {.ttl_seconds = 5, .serve_grant = milliseconds(500)}, TestDeadline());
    EXPECT_TRUE(session.ok()) << session.status();
    session_ = *std::move(session);
    auto won = session::Campaign(*client_, kActiveKey, kResignedKey, "x", session_->lease_id(),
                                 TestDeadline());
    EXPECT_TRUE(won.ok() && won->leadership) << won.status();
    return *won->leadership;
  }

  // A DDL context with counters for IDs and timestamps.
  DdlContext Ctx(const std::string& request_id, const session::Leadership* leadership = nullptr) {
    DdlContext ctx;
    ctx.leadership = leadership != nullptr ? leadership : &*leadership_;
    ctx.request_id = request_id;
    ctx.new_id = [this]() -> absl::StatusOr<int64_t> { return ++next_id_; };
    ctx.timestamp = ++next_ts_;
    ctx.deadline = TestDeadline();
    return ctx;
  }

  std::unique_ptr<session::Session> session_;
  std::optional<session::Leadership> leadership_;
  std::unique_ptr<Catalog> catalog_;
  std::atomic<int64_t> next_id_{0};
  std::atomic<uint64_t> next_ts_{1000};
};

TEST_F(CatalogTest, Databases_CreateListDrop) {
  EXPECT_EQ(Names(catalog_->ListDatabases()), std::vector<std::string>{"default"});

  auto created = catalog_->CreateDatabase(Ctx("r1"), "db1");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_GT(created->id, 0);
  EXPECT_FALSE(created->replayed);
  const std::vector<v1::DatabaseInfo> dbs = catalog_->ListDatabases();
  ASSERT_EQ(Names(dbs), (std::vector<std::string>{"default", "db1"}));
  EXPECT_EQ(dbs[1].db_id(), created->id);

  EXPECT_EQ(catalog_->CreateDatabase(Ctx("r2"), "db1").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(catalog_->CreateDatabase(Ctx("r3"), "default").status().code(),
            absl::StatusCode::kAlreadyExists);

  // A database with a collection cannot be dropped.
  ASSERT_TRUE(catalog_->CreateCollection(Ctx("r4"), "db1", QuickSchema8("c"), 0).ok());
  auto not_empty = catalog_->DropDatabase(Ctx("r5"), "db1");
  EXPECT_EQ(not_empty.status().code(), absl::StatusCode::kFailedPrecondition) << not_empty.status();
  EXPECT_NE(not_empty.status().message().find("'c'"), absl::string_view::npos);
  ASSERT_TRUE(catalog_->DropCollection(Ctx("r6"), "db1", "c").ok());

  auto dropped = catalog_->DropDatabase(Ctx("r7"), "db1");
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(Names(catalog_->ListDatabases()), std::vector<std::string>{"default"});
  EXPECT_EQ(catalog_->DropDatabase(Ctx("r8"), "db1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(catalog_->DropDatabase(Ctx("r9"), "default").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CatalogTest, Collections_CreateDescribeHasListDrop) {
  auto created = catalog_->CreateCollection(Ctx("r1"), "", QuickSchema8("books"), 2);
  ASSERT_TRUE(created.ok()) << created.status();

  // Read-your-writes from the copy.
  auto info = catalog_->DescribeCollection("default", "books");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->collection_id(), created->id);
  EXPECT_EQ(info->db_name(), "default");
  EXPECT_EQ(info->shards_num(), 2);
  ASSERT_EQ(info->schema().fields_size(), 2);
  EXPECT_EQ(info->schema().fields(0).field_id(), 100);
  EXPECT_EQ(info->schema().fields(1).field_id(), 101);
  EXPECT_EQ(info->schema().fields(1).dim(), 8);
  EXPECT_GT(info->created_timestamp(), 0u);
  ASSERT_EQ(info->virtual_channel_names_size(), 2);
  const int64_t id = created->id;
  EXPECT_EQ(info->physical_channel_names(0), "by-dev-rootcoord-dml_" + std::to_string(id % 16));
  EXPECT_EQ(info->virtual_channel_names(0),
            "by-dev-rootcoord-dml_" + std::to_string(id % 16) + "_" + std::to_string(id) + "v0");
  EXPECT_EQ(
      info->virtual_channel_names(1),
      "by-dev-rootcoord-dml_" + std::to_string((id + 1) % 16) + "_" + std::to_string(id) + "v1");
  ASSERT_EQ(info->partitions_size(), 1);
  EXPECT_EQ(info->partitions(0).name(), "_default");

  EXPECT_TRUE(*catalog_->HasCollection("", "books"));
  EXPECT_FALSE(*catalog_->HasCollection("", "films"));
  EXPECT_EQ(catalog_->HasCollection("nodb", "books").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*catalog_->ListCollections(""), std::vector<std::string>{"books"});

  EXPECT_EQ(catalog_->CreateCollection(Ctx("r2"), "", QuickSchema8("books"), 0).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(catalog_->CreateCollection(Ctx("r3"), "nodb", QuickSchema8("x"), 0).status().code(),
            absl::StatusCode::kNotFound);

  ASSERT_TRUE(catalog_->DropCollection(Ctx("r4"), "", "books").ok());
  EXPECT_FALSE(*catalog_->HasCollection("", "books"));
  EXPECT_EQ(catalog_->DescribeCollection("", "books").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(catalog_->DropCollection(Ctx("r5"), "", "books").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(CatalogTest, Partitions_CreateListDrop) {
  ASSERT_TRUE(catalog_->CreateCollection(Ctx("r1"), "", QuickSchema8("c"), 0).ok());
  auto p = catalog_->CreatePartition(Ctx("r2"), "", "c", "p2024");
  ASSERT_TRUE(p.ok()) << p.status();
  auto partitions = catalog_->ListPartitions("", "c");
  ASSERT_TRUE(partitions.ok()) << partitions.status();
  EXPECT_EQ(Names(*partitions), (std::vector<std::string>{"_default", "p2024"}));
  EXPECT_EQ((*partitions)[1].partition_id(), p->id);

  EXPECT_EQ(catalog_->CreatePartition(Ctx("r3"), "", "c", "p2024").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(catalog_->CreatePartition(Ctx("r4"), "", "nope", "p").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(catalog_->DropPartition(Ctx("r5"), "", "c", "_default").status().code(),
            absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(catalog_->DropPartition(Ctx("r6"), "", "c", "p2024").ok());
  EXPECT_EQ(Names(*catalog_->ListPartitions("", "c")), std::vector<std::string>{"_default"});
  EXPECT_EQ(catalog_->DropPartition(Ctx("r7"), "", "c", "p2024").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(CatalogTest, Idempotency_SameRequestIdAppliesOnce) {
  auto first = catalog_->CreateCollection(Ctx("req-1"), "", QuickSchema8("c"), 0);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  const int64_t ids_used = next_id_.load();

  auto again = catalog_->CreateCollection(Ctx("req-1"), "", QuickSchema8("c"), 0);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(again->revision, first->revision);
  EXPECT_EQ(next_id_.load(), ids_used) << "a replay allocates no IDs";

  // Drops are idempotent the same way: the retry does not say NOT_FOUND.
  ASSERT_TRUE(catalog_->DropCollection(Ctx("req-2"), "", "c").ok());
  auto drop_again = catalog_->DropCollection(Ctx("req-2"), "", "c");
  ASSERT_TRUE(drop_again.ok()) << drop_again.status();
  EXPECT_TRUE(drop_again->replayed);

  // A request ID reused for another request is refused, naming the field.
  auto reused = catalog_->CreateDatabase(Ctx("req-1"), "db");
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(reused.status().message(), "request_id:")) << reused.status();

  auto empty = catalog_->CreateDatabase(Ctx(""), "db");
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(empty.status().message(), "request_id:")) << empty.status();
}

TEST_F(CatalogTest, Idempotency_ConcurrentRetriesApplyOnce) {
  constexpr int kCallers = 8;
  std::vector<absl::StatusOr<DdlOutcome>> outcomes(kCallers, absl::UnknownError("not run"));
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      outcomes[i] = catalog_->CreateCollection(Ctx("same"), "", QuickSchema8("c"), 0);
    });
  }
  // Meanwhile other collections are created concurrently.
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      const std::string name = "other" + std::to_string(i);
      EXPECT_TRUE(catalog_->CreateCollection(Ctx("r-" + name), "", QuickSchema8(name), 0).ok());
    });
  }
  for (auto& t : callers) t.join();
  int applied = 0;
  for (const auto& outcome : outcomes) {
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    EXPECT_EQ(outcome->id, outcomes[0]->id);
    if (!outcome->replayed) ++applied;
  }
  EXPECT_EQ(applied, 1);
  EXPECT_EQ(catalog_->ListCollections("")->size(), static_cast<size_t>(kCallers + 1));
}

TEST_F(CatalogTest, Idempotency_RetryAfterFailoverReplaysOnce_S1) {
  auto first = catalog_->CreateCollection(Ctx("req-1"), "", QuickSchema8("c"), 0);
  ASSERT_TRUE(first.ok()) << first.status();

  // The active dies; a standby (with its own copy) wins and the client retries there.
  auto standby = StartCatalog();
  const session::Leadership next = Failover();
  ASSERT_TRUE(standby->CatchUpAsActive(next, TestDeadline()).ok());
  auto retried = standby->CreateCollection(Ctx("req-1", &next), "", QuickSchema8("c"), 0);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_TRUE(retried->replayed);
  EXPECT_EQ(retried->id, first->id);
  EXPECT_EQ(*standby->ListCollections(""), std::vector<std::string>{"c"});
  EXPECT_EQ(standby->DescribeCollection("", "c")->collection_id(), first->id);
}

TEST_F(CatalogTest, OneWriter_DeposedActiveDdlIsRefusedAndChangesNothing_S1) {
  const session::Leadership old = *leadership_;
  auto standby = StartCatalog();
  const session::Leadership next = Failover();
  ASSERT_TRUE(standby->CatchUpAsActive(next, TestDeadline()).ok());

  auto refused = catalog_->CreateCollection(Ctx("req-old", &old), "", QuickSchema8("c"), 0);
  EXPECT_TRUE(session::IsFenced(refused.status())) << refused.status();
  EXPECT_TRUE(session::IsFenced(catalog_->CreateDatabase(Ctx("req-old2", &old), "db").status()));

  auto key = client_->Get(catalog_->CollectionKey("", "c"), TestDeadline());
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(key->has_value());
  auto dedup = client_->Get(catalog_->DedupKey("req-old"), TestDeadline());
  ASSERT_TRUE(dedup.ok());
  EXPECT_FALSE(dedup->has_value()) << "a refused DDL leaves no dedup record";

  // The same request sent to the new active applies (it was never applied).
  auto applied = standby->CreateCollection(Ctx("req-old", &next), "", QuickSchema8("c"), 0);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_FALSE(applied->replayed);
}

TEST_F(CatalogTest, HotStandby_CopyFollowsTheActiveWithoutReloading_L5) {
  auto standby = StartCatalog();
  ASSERT_TRUE(standby->CatchUp(1, TestDeadline()).ok());  // loaded
  auto db = catalog_->CreateDatabase(Ctx("r1"), "db1");
  ASSERT_TRUE(db.ok());
  auto created = catalog_->CreateCollection(Ctx("r2"), "db1", QuickSchema("c", 16), 3);
  ASSERT_TRUE(created.ok()) << created.status();

  ASSERT_TRUE(standby->CatchUp(created->revision, TestDeadline()).ok());
  auto seen = standby->DescribeCollection("db1", "c");
  ASSERT_TRUE(seen.ok()) << seen.status();
  auto original = catalog_->DescribeCollection("db1", "c");
  ASSERT_TRUE(original.ok());
  EXPECT_EQ(seen->SerializeAsString(), original->SerializeAsString());
  EXPECT_EQ(Names(standby->ListDatabases()), (std::vector<std::string>{"default", "db1"}));

  // A drop reaches the copy as well.
  auto dropped = catalog_->DropCollection(Ctx("r3"), "db1", "c");
  ASSERT_TRUE(dropped.ok());
  ASSERT_TRUE(standby->CatchUp(dropped->revision, TestDeadline()).ok());
  EXPECT_FALSE(*standby->HasCollection("db1", "c"));

  // A collection created a moment before the failover is there the moment the standby is active.
  auto last = catalog_->CreateCollection(Ctx("r4"), "db1", QuickSchema8("last"), 0);
  ASSERT_TRUE(last.ok());
  const session::Leadership next = Failover();
  ASSERT_TRUE(standby->CatchUpAsActive(next, TestDeadline()).ok());
  EXPECT_TRUE(*standby->HasCollection("db1", "last"));

  // A replica started later loads what exists.
  auto late = StartCatalog();
  ASSERT_TRUE(late->CatchUp(last->revision, TestDeadline()).ok());
  EXPECT_TRUE(*late->HasCollection("db1", "last"));
}

// A standby's watch falls behind a compaction (its member froze while the history it owed was
// compacted): it reloads at the current revision and follows from there.
TEST(CatalogWatchTest, RobustWatch_CopyReloadsAfterCompaction_L4) {
  auto cluster = EtcdCluster::Start({.members = 3});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto standby_client = etcd::Client::Connect(OptionsFor(**cluster));  // talks to m0 first
  ASSERT_TRUE(standby_client.ok()) << standby_client.status();
  etcd::ClientOptions writer_options = OptionsFor(**cluster);
  writer_options.endpoints = {(*cluster)->ClientEndpoint(1), (*cluster)->ClientEndpoint(2)};
  auto writer = etcd::Client::Connect(writer_options);
  ASSERT_TRUE(writer.ok()) << writer.status();
  auto session = session::Session::Create(
      writer->get(), {.ttl_seconds = 5, .serve_grant = milliseconds(500)}, TestDeadline());
  ASSERT_TRUE(session.ok()) << session.status();
  auto won = session::Campaign(**writer, kActiveKey, kResignedKey, "x", (*session)->lease_id(),
                               TestDeadline());
  ASSERT_TRUE(won.ok() && won->leadership) << won.status();
  Catalog active((*writer).get(), {.meta_root = kMetaRoot});
  active.Start();
  ASSERT_TRUE(active.CatchUpAsActive(*won->leadership, TestDeadline()).ok());
  // The frozen member is left only after a probe went unanswered for 3 s: by then the writes and
  // the compaction below are done (even if they needed a leader election).
  Catalog standby((*standby_client).get(), {.meta_root = kMetaRoot,
                                            .watch_progress_interval = milliseconds(500),
                                            .watch_progress_timeout = std::chrono::seconds(3)});
  standby.Start();
  ASSERT_TRUE(standby.CatchUp(1, TestDeadline()).ok());
  ASSERT_EQ(standby.loads(), 1);

  ASSERT_TRUE((*cluster)->Pause(0).ok());
  DdlContext ctx;
  ctx.leadership = &*won->leadership;
  ctx.request_id = "r1";
  int64_t next_id = 0;
  ctx.new_id = [&]() -> absl::StatusOr<int64_t> { return ++next_id; };
  ctx.deadline = TestDeadline();
  auto created = active.CreateCollection(ctx, "", QuickSchema8("c"), 0);
  ASSERT_TRUE(created.ok()) << created.status();
  ctx.request_id = "r2";
  auto dropped = active.CreateCollection(ctx, "", QuickSchema8("d"), 0);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  ASSERT_TRUE((*writer)->Compact(dropped->revision, TestDeadline()).ok());
  // m0 stays frozen until the copy caught up, so the watch must move to a member whose history
  // no longer holds what it owes.
  ASSERT_TRUE(standby.CatchUp(dropped->revision, TestDeadline()).ok());
  ASSERT_TRUE((*cluster)->Resume(0).ok());
  EXPECT_EQ(*standby.ListCollections(""), (std::vector<std::string>{"c", "d"}));
  EXPECT_GE(standby.loads(), 2) << "the watch should have been compacted away and reloaded";
}

TEST_F(CatalogTest, NeverExit_CopyLoadsOnceEtcdIsBack_S6) {
  ASSERT_TRUE(catalog_->CreateCollection(Ctx("r1"), "", QuickSchema8("c"), 0).ok());
  ASSERT_TRUE(cluster_->Stop(0).ok());
  auto late = StartCatalog();
  EXPECT_FALSE(late->loaded());
  ASSERT_TRUE(cluster_->Restart(0).ok());
  ASSERT_TRUE(late->CatchUp(1, TestDeadline()).ok());
  EXPECT_TRUE(*late->HasCollection("", "c"));
}

TEST_F(CatalogTest, Validation_ErrorsNameTheField) {
  auto expect_invalid = [&](const absl::StatusOr<DdlOutcome>& result, const std::string& field) {
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
    EXPECT_TRUE(absl::StartsWith(result.status().message(), field))
        << "'" << result.status().message() << "' should start with " << field;
  };
  expect_invalid(catalog_->CreateCollection(Ctx("v1"), "", QuickSchema8(""), 0), "schema.name:");
  expect_invalid(catalog_->CreateCollection(Ctx("v2"), "", QuickSchema8("1abc"), 0),
                 "schema.name:");
  expect_invalid(catalog_->CreateCollection(Ctx("v3"), "", QuickSchema8("a-b"), 0), "schema.name:");
  expect_invalid(catalog_->CreateCollection(Ctx("v4"), "", QuickSchema8(std::string(256, 'a')), 0),
                 "schema.name:");

  v1::CollectionSchema duplicate = QuickSchema8("c");
  duplicate.mutable_fields(1)->set_name("id");
  expect_invalid(catalog_->CreateCollection(Ctx("v5"), "", duplicate, 0), "schema.fields[1].name:");

  v1::CollectionSchema no_pk = QuickSchema8("c");
  no_pk.mutable_fields(0)->set_is_primary_key(false);
  expect_invalid(catalog_->CreateCollection(Ctx("v6"), "", no_pk, 0), "schema.fields:");

  v1::CollectionSchema float_pk = QuickSchema8("c");
  float_pk.mutable_fields(0)->set_data_type(v1::Float);
  expect_invalid(catalog_->CreateCollection(Ctx("v7"), "", float_pk, 0),
                 "schema.fields[0].data_type:");

  expect_invalid(catalog_->CreateCollection(Ctx("v8"), "", QuickSchema("c", 0), 0),
                 "schema.fields[1].dim:");
  expect_invalid(catalog_->CreateCollection(Ctx("v9"), "", QuickSchema("c", 40000), 0),
                 "schema.fields[1].dim:");

  v1::CollectionSchema no_vector = QuickSchema8("c");
  no_vector.mutable_fields()->RemoveLast();
  expect_invalid(catalog_->CreateCollection(Ctx("v10"), "", no_vector, 0), "schema.fields:");

  v1::CollectionSchema varchar = QuickSchema8("c");
  varchar.mutable_fields(0)->set_data_type(v1::VarChar);
  expect_invalid(catalog_->CreateCollection(Ctx("v11"), "", varchar, 0),
                 "schema.fields[0].max_length:");
  varchar.mutable_fields(0)->set_max_length(64);
  EXPECT_TRUE(catalog_->CreateCollection(Ctx("v12"), "", varchar, 0).ok());

  expect_invalid(catalog_->CreateCollection(Ctx("v13"), "", QuickSchema8("d"), 17), "shards_num:");
  expect_invalid(catalog_->CreateDatabase(Ctx("v14"), ""), "db_name:");
  expect_invalid(catalog_->CreatePartition(Ctx("v15"), "", "c", "bad name"), "partition_name:");
  expect_invalid(catalog_->DropCollection(Ctx("v16"), "", ""), "collection_name:");

  // Nothing invalid was written.
  EXPECT_EQ(*catalog_->ListCollections(""), std::vector<std::string>{"c"});
}

// The whole role in one process: RootCoordinators driven by real Replicas, their service called
// in-process (DESIGN.md §6 errors, S4 stamps, L5 takeover with the copy, idempotent retry).
class RootCoordinatorTest : public coordha::testing::RealEtcdTest {
 protected:
  struct Node {
    std::unique_ptr<RootCoordinator> coordinator;
    std::unique_ptr<coordinator::Gate> gate;
    std::unique_ptr<session::Replica> replica;  // last: stops before the others go
    RootCoordService* service = nullptr;
  };

  std::unique_ptr<Node> StartNode(const std::string& address) {
    auto node = std::make_unique<Node>();
    node->coordinator = std::make_unique<RootCoordinator>(
        RootCoordinatorOptions{.client = client_.get(), .meta_root = kMetaRoot});
    session::ReplicaOptions o;
    o.role = "rootcoord";
    o.active_standby_key = "rootCoord.enableActiveStandby";
    o.keys = session::Keys(kMetaRoot);
    o.info.address = address;
    o.session = {.ttl_seconds = 2, .serve_grant = milliseconds(500)};
    node->replica = session::Replica::Create(client_.get(), o, node->coordinator.get());
    node->gate = std::make_unique<coordinator::Gate>(node->replica.get());
    node->coordinator->Bind(node->gate.get());
    node->service = static_cast<RootCoordService*>(node->coordinator->Services().front());
    node->replica->Start();
    return node;
  }

  static bool AwaitState(const Node& node, session::ReplicaState state) {
    return node.replica->AwaitStatus(
        [state](const session::ReplicaStatus& s) { return s.state == state; }, TestDeadline());
  }

  static grpc::Status Create(const Node& node, const std::string& request_id,
                             const std::string& name, v1::DdlResponse* response) {
    v1::CreateCollectionRequest request;
    request.set_request_id(request_id);
    *request.mutable_schema() = QuickSchema8(name);
    return node.service->CreateCollection(nullptr, &request, response);
  }
};

TEST_F(RootCoordinatorTest, Takeover_StandbyServesItsCopyAndReplaysRetries_L5) {
  auto a = StartNode("10.0.0.1:53100");
  ASSERT_TRUE(AwaitState(*a, session::ReplicaState::kActive));
  auto b = StartNode("10.0.0.2:53100");
  ASSERT_TRUE(AwaitState(*b, session::ReplicaState::kStandby));
  const int64_t epoch_a = a->replica->status().epoch;

  v1::AllocTimestampResponse ts_a;
  v1::AllocTimestampRequest ts_request;
  ts_request.set_count(10);
  ASSERT_TRUE(a->service->AllocTimestamp(nullptr, &ts_request, &ts_a).ok());
  EXPECT_EQ(ts_a.header().epoch(), epoch_a);  // S4
  EXPECT_EQ(ts_a.count(), 10u);

  v1::DdlResponse created;
  grpc::Status status = Create(*a, "req-1", "books", &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(created.id(), 0);
  EXPECT_EQ(created.header().epoch(), epoch_a);

  // The standby refuses with NOT_ACTIVE and the active's address.
  v1::DdlResponse refused;
  status = Create(*b, "req-2", "films", &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(coordinator::DetailOf(status).code(), v1::NOT_ACTIVE);
  EXPECT_EQ(coordinator::DetailOf(status).active_address(), "10.0.0.1:53100");

  // Graceful stop of the active (L1): the standby takes over and serves from its copy at once.
  a->replica->BeginStop();
  a->replica->Stop(TestDeadline());
  ASSERT_TRUE(AwaitState(*b, session::ReplicaState::kActive));
  const int64_t epoch_b = b->replica->status().epoch;
  EXPECT_GT(epoch_b, epoch_a);

  v1::DescribeCollectionRequest describe;
  describe.set_collection_name("books");
  v1::DescribeCollectionResponse described;
  status = b->service->DescribeCollection(nullptr, &describe, &described);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(described.collection().collection_id(), created.id());
  EXPECT_EQ(described.header().epoch(), epoch_b);

  // The client's retry of the create, sent to the new active, applies nothing.
  v1::DdlResponse retried;
  status = Create(*b, "req-1", "books", &retried);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(retried.replayed());
  EXPECT_EQ(retried.id(), created.id());

  // Timestamps keep increasing across the failover (S5).
  v1::AllocTimestampResponse ts_b;
  ASSERT_TRUE(b->service->AllocTimestamp(nullptr, &ts_request, &ts_b).ok());
  EXPECT_GT(ts_b.timestamp(), ts_a.timestamp() + ts_a.count() - 1);

  // Errors carry their detail code (DESIGN.md §6).
  v1::DdlResponse exists;
  status = Create(*b, "req-3", "books", &exists);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(coordinator::DetailOf(status).code(), v1::ALREADY_EXISTS);
  v1::DdlResponse invalid;
  status = Create(*b, "", "films", &invalid);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(coordinator::DetailOf(status).code(), v1::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("request_id"), std::string::npos);
  v1::HasCollectionRequest has;
  has.set_db_name("nodb");
  has.set_collection_name("books");
  v1::HasCollectionResponse has_reply;
  status = b->service->HasCollection(nullptr, &has, &has_reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(coordinator::DetailOf(status).code(), v1::NOT_FOUND);

  b->replica->BeginStop();
  b->replica->Stop(TestDeadline());
}

}  // namespace
}  // namespace coordha::rootcoord
