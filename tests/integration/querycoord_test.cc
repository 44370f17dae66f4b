// querycoord as real `coordha run` processes against real etcd: two querycoord replicas
// (active-standby), two querynodes, collections written into rootcoord's catalog layout and
// Flushed segments into datacoord's (the contract of DESIGN.md §3). Every check of the
// distribution asks both GetDistributionSummary (the coordinator's placement) and each querynode's
// Worker.GetDistribution (what it really holds): every channel and segment of a loaded collection
// is held by exactly one live querynode, none is missing, nothing else is held. Tests await
// conditions by polling under a generous deadline; they never sleep to synchronise.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordha.grpc.pb.h"
#include "coordinator/gate.h"
#include "datacoord.pb.h"
#include "etcd_test_util.h"
#include "gtest/gtest.h"
#include "querycoord.grpc.pb.h"
#include "rootcoord.pb.h"
#include "support/coordha_process.h"
#include "support/tcp_proxy.h"
#include "worker.grpc.pb.h"

namespace coordha::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kMeta[] = "by-dev/meta";

bool Healthy(const v1::GetComponentStatesResponse& r) { return r.state().state() == v1::Healthy; }
bool NotHealthy(const v1::GetComponentStatesResponse& r) { return !Healthy(r); }

// What a collection made for a test looks like to querycoord.
struct TestCollection {
  int64_t id = 0;
  std::vector<std::string> channels;
  std::vector<int64_t> flushed_segments;
  std::set<std::string> Items() const {
    std::set<std::string> items;
    for (const std::string& c : channels) items.insert("channel/" + c);
    for (int64_t s : flushed_segments) items.insert(absl::StrCat("segment/", s));
    return items;
  }
};

class QueryCoordTest : public RealEtcdTest {
 protected:
  void TearDown() override {
    for (auto& p : processes_) {
      if (p->Running()) {
        (void)p->Signal(SIGCONT);
        (void)p->Signal(SIGKILL);
      }
    }
  }

  // Options.etcd_endpoints empty: the test's etcd.
  CoordhaProcess* Start(CoordhaProcess::Options options) {
    if (options.etcd_endpoints.empty()) options.etcd_endpoints = cluster_->ClientEndpoints();
    options.dir = cluster_->dir();
    auto p = CoordhaProcess::Start(std::move(options));
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return nullptr;
    processes_.push_back(*std::move(p));
    return processes_.back().get();
  }

  // Two querycoord replicas and two querynodes whose simulated loads take `work_seconds`, with
  // session TTL `node_ttl`.
  void StartCluster(const std::string& work_seconds = "0.05", int64_t node_ttl = 3) {
    for (int i = 0; i < 2; ++i) {
      coords_.push_back(Start({.role = "querycoord", .active_standby = true}));
      ASSERT_NE(coords_.back(), nullptr);
    }
    for (int i = 0; i < 2; ++i) {
      nodes_.push_back(Start({.role = "querynode",
                              .active_standby = false,
                              .ttl_seconds = node_ttl,
                              .sets = {"queryNode.workDuration=" + work_seconds}}));
      ASSERT_NE(nodes_.back(), nullptr);
    }
    for (CoordhaProcess* n : nodes_) {
      ASSERT_TRUE(n->AwaitState(Healthy, TestDeadline())) << n->LogText();
    }
    ASSERT_NE(AwaitActive(), nullptr);
  }

  // The replica answering Healthy, once exactly one running replica does.
  CoordhaProcess* AwaitActive() {
    const Deadline deadline = TestDeadline();
    while (!deadline.Expired()) {
      std::vector<CoordhaProcess*> healthy;
      for (CoordhaProcess* c : coords_) {
        if (!c->Running()) continue;
        auto r = c->Query(Deadline::In(seconds(1)));
        if (r.ok() && Healthy(*r)) healthy.push_back(c);
      }
      if (healthy.size() == 1) return healthy[0];
      std::this_thread::yield();
    }
    ADD_FAILURE() << "no single active querycoord:\n"
                  << coords_[0]->LogText() << "\n----\n"
                  << coords_[1]->LogText();
    return nullptr;
  }

  CoordhaProcess* Other(const CoordhaProcess* c) {
    return coords_[0] == c ? coords_[1] : coords_[0];
  }

  static int64_t ServerId(const CoordhaProcess* p) {
    auto r = p->Query(Deadline::In(seconds(5)));
    return r.ok() ? r->state().server_id() : 0;
  }
  static int64_t Epoch(const CoordhaProcess* p) {
    auto r = p->Query(Deadline::In(seconds(5)));
    return r.ok() ? r->state().epoch() : 0;
  }

  // A collection in rootcoord's catalog layout, with `flushed` Flushed segments plus one Growing
  // segment (never loaded).
  TestCollection CreateCollection(const std::string& name, int64_t id, int shards, int flushed) {
    TestCollection c{.id = id};
    v1::CollectionInfo info;
    info.set_collection_id(id);
    info.set_db_name("default");
    info.set_shards_num(shards);
    for (int i = 0; i < shards; ++i) {
      c.channels.push_back(absl::StrCat("by-dev-rootcoord-dml_", i, "_", id, "v", i));
      info.add_virtual_channel_names(c.channels.back());
    }
    EXPECT_TRUE(client_
                    ->Put(absl::StrCat(kMeta, "/rootcoord/collection/default/", name),
                          info.SerializeAsString())
                    .ok());
    for (int i = 0; i < flushed; ++i) {
      const int64_t segment = id * 100 + i;
      PutSegment(segment, id, c.channels[i % shards], v1::Flushed);
      c.flushed_segments.push_back(segment);
    }
    PutSegment(id * 100 + 99, id, c.channels[0], v1::Growing);
    return c;
  }

  void PutSegment(int64_t segment, int64_t collection, const std::string& channel,
                  v1::SegmentState state) {
    v1::SegmentInfo s;
    s.set_segment_id(segment);
    s.set_collection_id(collection);
    s.set_channel(channel);
    s.set_state(state);
    s.set_num_rows(1000);
    EXPECT_TRUE(
        client_->Put(absl::StrCat(kMeta, "/datacoord/segment/", segment), s.SerializeAsString())
            .ok());
  }

  // Calls `call` on each running replica until one answers something other than UNAVAILABLE or
  // DEADLINE_EXCEEDED (a standby, a recovering or a paused active) or the test deadline passes.
  grpc::Status CallActive(
      const std::function<grpc::Status(v1::QueryCoord::Stub&, grpc::ClientContext&)>& call) {
    const Deadline deadline = TestDeadline();
    grpc::Status last;
    while (!deadline.Expired()) {
      for (CoordhaProcess* c : coords_) {
        if (!c->Running()) continue;
        auto stub = v1::QueryCoord::NewStub(
            grpc::CreateChannel(c->address(), grpc::InsecureChannelCredentials()));
        grpc::ClientContext context;
        context.set_deadline(WallDeadlineIn(seconds(2)));
        last = call(*stub, context);
        if (last.error_code() != grpc::StatusCode::UNAVAILABLE &&
            last.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
          return last;
        }
      }
      std::this_thread::yield();
    }
    return last;
  }

  grpc::Status Load(int64_t collection) {
    return CallActive([&](v1::QueryCoord::Stub& stub, grpc::ClientContext& context) {
      v1::LoadCollectionRequest request;
      request.set_collection_id(collection);
      v1::LoadCollectionResponse response;
      return stub.LoadCollection(&context, request, &response);
    });
  }
  grpc::Status Release(int64_t collection) {
    return CallActive([&](v1::QueryCoord::Stub& stub, grpc::ClientContext& context) {
      v1::ReleaseCollectionRequest request;
      request.set_collection_id(collection);
      v1::ReleaseCollectionResponse response;
      return stub.ReleaseCollection(&context, request, &response);
    });
  }
  v1::GetLoadStateResponse LoadState(int64_t collection) {
    v1::GetLoadStateResponse response;
    grpc::Status s = CallActive([&](v1::QueryCoord::Stub& stub, grpc::ClientContext& context) {
      v1::GetLoadStateRequest request;
      request.set_collection_id(collection);
      response.Clear();
      return stub.GetLoadState(&context, request, &response);
    });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }
  bool AwaitLoaded(int64_t collection) {
    const Deadline deadline = TestDeadline();
    while (!deadline.Expired()) {
      if (LoadState(collection).state() == v1::LoadStateLoaded) return true;
      std::this_thread::yield();
    }
    return false;
  }
  absl::StatusOr<v1::GetDistributionSummaryResponse> Summary() {
    v1::GetDistributionSummaryResponse response;
    grpc::Status s = CallActive([&](v1::QueryCoord::Stub& stub, grpc::ClientContext& context) {
      response.Clear();
      return stub.GetDistributionSummary(&context, {}, &response);
    });
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    return response;
  }

  static std::unique_ptr<v1::Worker::Stub> WorkerStub(const CoordhaProcess* p) {
    return v1::Worker::NewStub(
        grpc::CreateChannel(p->address(), grpc::InsecureChannelCredentials()));
  }
  static absl::StatusOr<v1::CoordinatorItems> NodeItems(const CoordhaProcess* node) {
    v1::GetDistributionRequest request;
    request.set_coordinator("querycoord");
    v1::GetDistributionResponse response;
    grpc::ClientContext context;
    context.set_deadline(WallDeadlineIn(seconds(2)));
    grpc::Status s = WorkerStub(node)->GetDistribution(&context, request, &response);
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    for (const v1::CoordinatorItems& c : response.coordinators()) {
      if (c.coordinator() == "querycoord") return c;
    }
    return v1::CoordinatorItems();
  }

  // "" when every item of `expected` is READY on exactly one of `live` and on no other node, no
  // node holds anything else, and the summary places each on that node; else what is wrong.
  // `holders` gets item -> server ID.
  std::string ExactlyOneProblem(const std::set<std::string>& expected,
                                const std::vector<CoordhaProcess*>& live,
                                std::map<std::string, int64_t>* holders) {
    std::map<std::string, std::vector<int64_t>> held;
    for (CoordhaProcess* node : live) {
      const int64_t id = ServerId(node);
      absl::StatusOr<v1::CoordinatorItems> items = NodeItems(node);
      if (id == 0 || !items.ok()) return absl::StrCat("querynode ", node->address(), " is silent");
      for (const v1::WorkItemStatus& s : items->items()) {
        if (!expected.contains(s.id())) return absl::StrCat("querynode-", id, " holds ", s.id());
        if (s.state() != v1::ITEM_READY) {
          return absl::StrCat(s.id(), " is in state ", s.state(), " on querynode-", id);
        }
        held[s.id()].push_back(id);
      }
    }
    for (const std::string& item : expected) {
      auto h = held.find(item);
      if (h == held.end()) return item + " is held by no querynode";
      if (h->second.size() != 1) {
        return absl::StrCat(item, " is held by querynodes ", absl::StrJoin(h->second, ","));
      }
    }
    absl::StatusOr<v1::GetDistributionSummaryResponse> summary = Summary();
    if (!summary.ok()) return "no summary: " + std::string(summary.status().message());
    std::set<std::string> placed;
    for (const v1::Placement& p : summary->placements()) {
      placed.insert(p.item());
      auto h = held.find(p.item());
      if (h == held.end() || h->second[0] != p.node_id() || p.state() != v1::ITEM_READY) {
        return absl::StrCat("the summary places ", p.item(), " on querynode-", p.node_id(),
                            " in state ", p.state());
      }
    }
    if (placed != expected) {
      return absl::StrCat("the summary lists ", absl::StrJoin(placed, ","), ", not ",
                          absl::StrJoin(expected, ","));
    }
    if (holders != nullptr) {
      holders->clear();
      for (const auto& [item, nodes] : held) (*holders)[item] = nodes[0];
    }
    return "";
  }

  // Polls ExactlyOneProblem until it is "" and `also` (given the holders) holds.
  std::map<std::string, int64_t> AwaitExactlyOne(
      const std::set<std::string>& expected, const std::vector<CoordhaProcess*>& live,
      const std::function<bool(const std::map<std::string, int64_t>&)>& also = nullptr) {
    const Deadline deadline = TestDeadline();
    std::string problem;
    std::map<std::string, int64_t> holders;
    while (!deadline.Expired()) {
      problem = ExactlyOneProblem(expected, live, &holders);
      if (problem.empty() && (!also || also(holders))) return holders;
      if (problem.empty()) problem = "the extra condition does not hold";
      std::this_thread::yield();
    }
    ADD_FAILURE() << "distribution never settled: " << problem << "\n"
                  << coords_[0]->LogText() << "\n----\n"
                  << coords_[1]->LogText();
    return {};
  }

  static bool EachHoldsSome(const std::map<std::string, int64_t>& holders, size_t nodes) {
    std::set<int64_t> distinct;
    for (const auto& [item, node] : holders) distinct.insert(node);
    return distinct.size() == nodes;
  }

  // Loads `c` and waits until it is Loaded and exactly-one holds on both querynodes.
  std::map<std::string, int64_t> LoadAndSettle(const TestCollection& c) {
    EXPECT_TRUE(Load(c.id).ok());
    EXPECT_TRUE(AwaitLoaded(c.id));
    return AwaitExactlyOne(c.Items(), nodes_,
                           [](const auto& holders) { return EachHoldsSome(holders, 2); });
  }

  std::vector<std::unique_ptr<CoordhaProcess>> processes_;
  std::vector<CoordhaProcess*> coords_;
  std::vector<CoordhaProcess*> nodes_;
};

TEST_F(QueryCoordTest, LoadCollection_EveryItemOnExactlyOneQuerynode) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const TestCollection c = CreateCollection("books", 1001, 3, 4);
  const TestCollection other = CreateCollection("films", 1002, 2, 2);

  EXPECT_EQ(Load(4242).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(LoadState(4242).state(), v1::LoadStateNotExist);
  EXPECT_EQ(LoadState(c.id).state(), v1::LoadStateNotLoad);

  std::map<std::string, int64_t> holders = LoadAndSettle(c);
  ASSERT_FALSE(holders.empty());
  EXPECT_EQ(LoadState(c.id).progress(), 100);
  EXPECT_EQ(LoadState(other.id).state(), v1::LoadStateNotLoad);

  // Idempotent: loading again changes nothing.
  ASSERT_TRUE(Load(c.id).ok());
  EXPECT_EQ(AwaitExactlyOne(c.Items(), nodes_), holders);

  // Shard leaders: each channel with the querynode holding it and its address.
  v1::GetShardLeadersResponse leaders;
  ASSERT_TRUE(CallActive([&](v1::QueryCoord::Stub& stub, grpc::ClientContext& context) {
                leaders.Clear();
                v1::GetShardLeadersRequest request;
                request.set_collection_id(c.id);
                return stub.GetShardLeaders(&context, request, &leaders);
              }).ok());
  ASSERT_EQ(leaders.shards_size(), 3);
  std::map<int64_t, std::string> address_of;
  for (CoordhaProcess* n : nodes_) address_of[ServerId(n)] = n->address();
  for (const v1::ShardLeader& l : leaders.shards()) {
    EXPECT_EQ(l.node_id(), holders.at("channel/" + l.channel())) << l.channel();
    EXPECT_EQ(l.node_address(), address_of[l.node_id()]) << l.channel();
  }

  // A flushed segment appearing later is loaded too; a Dropped one goes away.
  PutSegment(1001 * 100 + 50, c.id, c.channels[1], v1::Flushed);
  TestCollection grown = c;
  grown.flushed_segments.push_back(1001 * 100 + 50);
  AwaitExactlyOne(grown.Items(), nodes_);
  PutSegment(1001 * 100 + 50, c.id, c.channels[1], v1::Dropped);
  AwaitExactlyOne(c.Items(), nodes_);

  // Two collections at once.
  ASSERT_TRUE(Load(other.id).ok());
  ASSERT_TRUE(AwaitLoaded(other.id));
  std::set<std::string> both = c.Items();
  both.merge(other.Items());
  AwaitExactlyOne(both, nodes_);

  // Release: its items leave the querynodes; releasing again is OK.
  ASSERT_TRUE(Release(c.id).ok());
  AwaitExactlyOne(other.Items(), nodes_);
  EXPECT_EQ(LoadState(c.id).state(), v1::LoadStateNotLoad);
  EXPECT_TRUE(Release(c.id).ok());
  absl::StatusOr<v1::GetDistributionSummaryResponse> summary = Summary();
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(std::vector<int64_t>(summary->loaded_collections().begin(),
                                 summary->loaded_collections().end()),
            std::vector<int64_t>{other.id});
}

TEST_F(QueryCoordTest, KillNineActiveDuringLoad_StandbyCompletesTheLoad) {
  // Loads take a while, so the active dies with the load under way.
  ASSERT_NO_FATAL_FAILURE(StartCluster("1.5"));
  const TestCollection c = CreateCollection("books", 2001, 4, 4);
  CoordhaProcess* active = AwaitActive();
  ASSERT_NE(active, nullptr);
  ASSERT_TRUE(Load(c.id).ok());
  // Under way: placed on the querynodes, not all ready.
  EXPECT_EQ(LoadState(c.id).state(), v1::LoadStateLoading);
  const Deadline placed_by = TestDeadline();
  while (!placed_by.Expired()) {
    auto a = NodeItems(nodes_[0]);
    auto b = NodeItems(nodes_[1]);
    if (a.ok() && b.ok() && a->items_size() + b->items_size() > 0) break;
    std::this_thread::yield();
  }
  ASSERT_TRUE(active->Signal(SIGKILL).ok());
  ASSERT_TRUE(active->process().WaitForExit(TestDeadline()).ok());
  CoordhaProcess* next = AwaitActive();
  ASSERT_EQ(next, Other(active));
  ASSERT_TRUE(AwaitLoaded(c.id));
  AwaitExactlyOne(c.Items(), nodes_, [](const auto& holders) { return EachHoldsSome(holders, 2); });
}

TEST_F(QueryCoordTest, SigtermActive_StandbyTakesOverTheSameDistribution) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const TestCollection c = CreateCollection("books", 3001, 2, 3);
  const std::map<std::string, int64_t> before = LoadAndSettle(c);
  CoordhaProcess* active = AwaitActive();
  ASSERT_NE(active, nullptr);
  ASSERT_TRUE(active->Signal(SIGTERM).ok());
  // Until it has resigned it may still answer Healthy: await its exit first.
  ASSERT_TRUE(active->process().WaitForExit(TestDeadline()).ok());
  ASSERT_EQ(AwaitActive(), Other(active));
  // L5: the new active re-collected the real distribution and moved nothing.
  EXPECT_EQ(AwaitExactlyOne(c.Items(), nodes_), before);
  EXPECT_EQ(LoadState(c.id).state(), v1::LoadStateLoaded);
}

TEST_F(QueryCoordTest, SigstopActive_DeposedActiveChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const TestCollection c = CreateCollection("books", 4001, 3, 3);
  const std::map<std::string, int64_t> before = LoadAndSettle(c);
  CoordhaProcess* active = AwaitActive();
  ASSERT_NE(active, nullptr);
  ASSERT_TRUE(active->Signal(SIGSTOP).ok());
  CoordhaProcess* next = Other(active);
  ASSERT_TRUE(next->AwaitState(Healthy, TestDeadline())) << next->LogText();
  // While the new active serves, release a collection so the paused one's view is stale: were
  // its commands obeyed after it wakes, the released items would come back.
  const TestCollection other = CreateCollection("films", 4002, 2, 1);
  ASSERT_TRUE(Load(other.id).ok());
  ASSERT_TRUE(AwaitLoaded(other.id));
  ASSERT_TRUE(Release(other.id).ok());
  AwaitExactlyOne(c.Items(), nodes_);
  ASSERT_TRUE(active->Signal(SIGCONT).ok());
  // The old active notices it is deposed (S2/S1); meanwhile and after, exactly-one holds.
  ASSERT_TRUE(active->AwaitState(NotHealthy, TestDeadline())) << active->LogText();
  EXPECT_EQ(ExactlyOneProblem(c.Items(), nodes_, nullptr), "");
  EXPECT_EQ(AwaitActive(), next);
  EXPECT_EQ(AwaitExactlyOne(c.Items(), nodes_), before);
}

TEST_F(QueryCoordTest, KillNineQuerynode_ItsItemsMoveAndBalanceResumes) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const TestCollection c = CreateCollection("books", 5001, 4, 4);
  LoadAndSettle(c);
  ASSERT_TRUE(nodes_[0]->Signal(SIGKILL).ok());
  // After its session's TTL, everything is on the survivor.
  const int64_t survivor = ServerId(nodes_[1]);
  AwaitExactlyOne(c.Items(), {nodes_[1]}, [&](const auto& holders) {
    for (const auto& [item, node] : holders) {
      if (node != survivor) return false;
    }
    return true;
  });
  EXPECT_EQ(LoadState(c.id).state(), v1::LoadStateLoaded);
  // It comes back (a new session, a new server ID): it gets its share again, each item handed
  // over — the survivor lets go before the newcomer starts it, never both at once.
  ASSERT_TRUE(nodes_[0]->process().WaitForExit(Deadline::In(seconds(10))).ok());
  ASSERT_TRUE(nodes_[0]->Restart().ok());
  std::atomic<bool> balanced{false};
  std::set<std::string> doubled;
  std::thread monitor([&] {
    while (!balanced.load()) {
      // The newcomer first: an item shows there only after the survivor let go of it.
      auto on_newcomer = NodeItems(nodes_[0]);
      auto on_survivor = NodeItems(nodes_[1]);
      if (on_newcomer.ok() && on_survivor.ok()) {
        std::set<std::string> newcomer_items;
        for (const auto& s : on_newcomer->items()) newcomer_items.insert(s.id());
        for (const auto& s : on_survivor->items()) {
          if (newcomer_items.contains(s.id())) doubled.insert(s.id());
        }
      }
      std::this_thread::sleep_for(milliseconds(5));  // the pace of the poll
    }
  });
  EXPECT_TRUE(nodes_[0]->AwaitState(Healthy, TestDeadline())) << nodes_[0]->LogText();
  AwaitExactlyOne(c.Items(), nodes_, [](const auto& holders) { return EachHoldsSome(holders, 2); });
  balanced = true;
  monitor.join();
  EXPECT_TRUE(doubled.empty()) << "held by both querynodes: " << absl::StrJoin(doubled, ", ");
}

// S2 for workers: a querynode cut off from etcd (but not from querycoord) releases its items once
// its lease may run out, before querycoord can see its session gone and move them: no item is
// ever held by two querynodes.
TEST_F(QueryCoordTest, QuerynodeCutOffFromEtcd_ReleasesItsItemsBeforeTheyMove_S2) {
  auto proxy = TcpProxy::Start(cluster_->ClientEndpoint(0));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  for (int i = 0; i < 2; ++i) {
    coords_.push_back(Start({.role = "querycoord", .active_standby = true}));
    ASSERT_NE(coords_.back(), nullptr);
  }
  CoordhaProcess* cut = Start({.role = "querynode",
                               .etcd_endpoints = {(*proxy)->address()},
                               .active_standby = false,
                               .sets = {"queryNode.workDuration=0.05"}});
  CoordhaProcess* survivor = Start(
      {.role = "querynode", .active_standby = false, .sets = {"queryNode.workDuration=0.05"}});
  ASSERT_NE(cut, nullptr);
  ASSERT_NE(survivor, nullptr);
  nodes_ = {cut, survivor};
  for (CoordhaProcess* n : nodes_) {
    ASSERT_TRUE(n->AwaitState(Healthy, TestDeadline())) << n->LogText();
  }
  ASSERT_NE(AwaitActive(), nullptr);
  const TestCollection c = CreateCollection("books", 7001, 4, 4);
  LoadAndSettle(c);
  const int64_t survivor_id = ServerId(survivor);

  (*proxy)->Refuse();  // etcd: connections reset, new ones refused
  bool moved = false;
  std::set<std::string> doubled;
  for (Deadline d = TestDeadline(); !d.Expired() && !moved;) {
    // Read the survivor first: an item that moved shows there only after the cut node let go.
    auto on_survivor = NodeItems(survivor);
    auto on_cut = NodeItems(cut);
    if (on_survivor.ok() && on_cut.ok()) {
      std::set<std::string> cut_items;
      for (const auto& s : on_cut->items()) cut_items.insert(s.id());
      for (const auto& s : on_survivor->items()) {
        if (cut_items.contains(s.id())) doubled.insert(s.id());
      }
    }
    std::map<std::string, int64_t> holders;
    moved = ExactlyOneProblem(c.Items(), {survivor}, &holders).empty();
    for (const auto& [item, node] : holders) moved = moved && node == survivor_id;
    if (!moved) std::this_thread::sleep_for(milliseconds(20));  // the pace of the poll
  }
  EXPECT_TRUE(moved) << ExactlyOneProblem(c.Items(), {survivor}, nullptr);
  EXPECT_TRUE(doubled.empty()) << "held by both querynodes: " << absl::StrJoin(doubled, ", ");
  EXPECT_NE(cut->LogText().find("releasing all"), std::string::npos) << cut->LogText();
  EXPECT_TRUE(cut->Running());  // it never exits because etcd is gone (S6)
}

// A move hands over: querycoord moves items off a frozen querynode (it is still live: its session
// has time left) to a new one, and the new one gets an item only after the old one has let go of
// it — not while the old one, unreachable, still holds it.
TEST_F(QueryCoordTest, RebalanceOffAFrozenHolder_NeverTwoHolders_S1) {
  // Querynode sessions of 20 s: the frozen one stays live (and holding) through the moves.
  ASSERT_NO_FATAL_FAILURE(StartCluster("0.05", 20));
  const TestCollection c = CreateCollection("books", 8001, 4, 4);
  LoadAndSettle(c);
  CoordhaProcess* active = AwaitActive();
  ASSERT_NE(active, nullptr);
  CoordhaProcess* frozen = nodes_[1];
  const int64_t frozen_id = ServerId(frozen);
  ASSERT_TRUE(frozen->Signal(SIGSTOP).ok());
  CoordhaProcess* newcomer = Start(
      {.role = "querynode", .active_standby = false, .sets = {"queryNode.workDuration=0.05"}});
  ASSERT_NE(newcomer, nullptr);
  const std::string moved = absl::StrCat("from querynode-", frozen_id, " to querynode-");
  bool seen = false;
  for (Deadline d = TestDeadline(); !d.Expired() && !seen;) {
    seen = active->LogText().find(moved) != std::string::npos;
    if (!seen) std::this_thread::sleep_for(milliseconds(20));  // the pace of the poll
  }
  ASSERT_TRUE(seen) << active->LogText();
  ASSERT_TRUE(frozen->Signal(SIGCONT).ok());
  std::set<std::string> doubled;
  nodes_.push_back(newcomer);
  bool settled = false;
  for (Deadline d = TestDeadline(); !d.Expired() && !settled;) {
    // The newcomer first: an item shows there only after the frozen one let go of it.
    auto on_newcomer = NodeItems(newcomer);
    auto on_frozen = NodeItems(frozen);
    if (on_newcomer.ok() && on_frozen.ok()) {
      std::set<std::string> newcomer_items;
      for (const auto& s : on_newcomer->items()) newcomer_items.insert(s.id());
      for (const auto& s : on_frozen->items()) {
        if (newcomer_items.contains(s.id())) doubled.insert(s.id());
      }
    }
    std::map<std::string, int64_t> holders;
    settled = ExactlyOneProblem(c.Items(), nodes_, &holders).empty() &&
              holders.size() == c.Items().size();
    if (!settled) std::this_thread::sleep_for(milliseconds(5));  // the pace of the poll
  }
  EXPECT_TRUE(settled) << ExactlyOneProblem(c.Items(), nodes_, nullptr);
  EXPECT_TRUE(doubled.empty()) << "held by two querynodes: " << absl::StrJoin(doubled, ", ");
}

TEST_F(QueryCoordTest, DeposedActiveCommandRefusedByWorker_S4) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  const TestCollection c = CreateCollection("books", 6001, 2, 2);
  LoadAndSettle(c);
  CoordhaProcess* active = AwaitActive();
  ASSERT_NE(active, nullptr);
  const int64_t old_epoch = Epoch(active);
  const int64_t old_server = ServerId(active);
  ASSERT_GT(old_epoch, 0);
  ASSERT_TRUE(active->Signal(SIGKILL).ok());
  ASSERT_TRUE(active->process().WaitForExit(TestDeadline()).ok());
  CoordhaProcess* next = AwaitActive();
  ASSERT_EQ(next, Other(active));
  const int64_t new_epoch = Epoch(next);
  ASSERT_GT(new_epoch, old_epoch);
  const std::map<std::string, int64_t> holders = AwaitExactlyOne(c.Items(), nodes_);
  for (CoordhaProcess* node : nodes_) {
    const Deadline deadline = TestDeadline();
    while (!deadline.Expired()) {
      auto items = NodeItems(node);
      if (items.ok() && items->highest_epoch() >= new_epoch) break;
      std::this_thread::yield();
    }
    // The deposed active's command: hold nothing. Refused, so nothing is dropped.
    v1::SyncRequest request;
    request.set_coordinator("querycoord");
    request.set_server_id(old_server);
    request.set_epoch(old_epoch);
    request.set_worker_id(ServerId(node));
    grpc::ClientContext context;
    context.set_deadline(WallDeadlineIn(seconds(5)));
    v1::SyncResponse response;
    grpc::Status refused = WorkerStub(node)->Sync(&context, request, &response);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    const v1::ErrorDetail detail = coordinator::DetailOf(refused);
    EXPECT_EQ(detail.code(), v1::FENCED) << refused.error_message();
    EXPECT_GE(detail.epoch(), new_epoch);
  }
  EXPECT_EQ(ExactlyOneProblem(c.Items(), nodes_, nullptr), "");
  EXPECT_EQ(AwaitExactlyOne(c.Items(), nodes_), holders);
}

}  // namespace
}  // namespace coordha::testing
