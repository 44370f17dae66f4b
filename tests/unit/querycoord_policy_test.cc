// querycoord's target (DesiredItems) and the Scheduler's pure placement (Scheduler::Place) as
// querycoord uses it: channels and segments over querynodes.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "coordinator/scheduler.h"
#include "querycoord/query_target.h"

namespace coordha::querycoord {
namespace {

using coordinator::DesiredItem;
using coordinator::Scheduler;

v1::LoadedCollection Loaded(int64_t id, std::vector<std::string> vchannels) {
  v1::LoadedCollection c;
  c.set_collection_id(id);
  for (std::string& v : vchannels) c.add_virtual_channel_names(std::move(v));
  return c;
}

v1::SegmentInfo Segment(int64_t id, int64_t collection, v1::SegmentState state) {
  v1::SegmentInfo s;
  s.set_segment_id(id);
  s.set_collection_id(collection);
  s.set_state(state);
  return s;
}

std::vector<std::string> Ids(const std::vector<DesiredItem>& desired) {
  std::vector<std::string> ids;
  for (const DesiredItem& d : desired) ids.push_back(d.item.id());
  return ids;
}

std::vector<DesiredItem> Items(int n) {
  std::vector<DesiredItem> out(n);
  for (int i = 0; i < n; ++i) out[i].item.set_id("segment/" + std::to_string(i));
  return out;
}

std::map<int64_t, int> LoadOf(const std::map<std::string, int64_t>& placed) {
  std::map<int64_t, int> load;
  for (const auto& [id, w] : placed) ++load[w];
  return load;
}

TEST(QueryTargetTest, ChannelsAndFlushedSegmentsOfLoadedCollectionsOnly) {
  const std::vector<DesiredItem> desired = DesiredItems(
      {Loaded(1, {"dml_0_1v0", "dml_1_1v1"}), Loaded(2, {"dml_2_2v0"})},
      {Segment(10, 1, v1::Flushed), Segment(11, 1, v1::Growing), Segment(12, 1, v1::Sealed),
       Segment(13, 1, v1::Dropped), Segment(20, 2, v1::Flushed), Segment(30, 3, v1::Flushed)});
  EXPECT_EQ(Ids(desired),
            (std::vector<std::string>{"channel/dml_0_1v0", "channel/dml_1_1v1", "channel/dml_2_2v0",
                                      "segment/10", "segment/20"}));
  for (const DesiredItem& d : desired) {
    EXPECT_TRUE(d.affinity.empty()) << d.item.id();
    const int64_t want = d.item.id() == "channel/dml_2_2v0" || d.item.id() == "segment/20" ? 2 : 1;
    EXPECT_EQ(d.item.collection_id(), want) << d.item.id();
  }
  v1::SegmentInfo payload;
  ASSERT_TRUE(payload.ParseFromString(desired[3].item.payload()));
  EXPECT_EQ(payload.segment_id(), 10);
}

TEST(QueryTargetTest, ReleasedCollectionsItemsDisappear) {
  const std::vector<v1::SegmentInfo> segments = {Segment(10, 1, v1::Flushed),
                                                 Segment(20, 2, v1::Flushed)};
  EXPECT_EQ(Ids(DesiredItems({Loaded(1, {"a"}), Loaded(2, {"b"})}, segments)),
            (std::vector<std::string>{"channel/a", "channel/b", "segment/10", "segment/20"}));
  EXPECT_EQ(Ids(DesiredItems({Loaded(2, {"b"})}, segments)),
            (std::vector<std::string>{"channel/b", "segment/20"}));
  EXPECT_TRUE(DesiredItems({}, segments).empty());
}

TEST(QueryTargetTest, ChannelNamedTwiceIsDesiredOnce) {
  EXPECT_EQ(Ids(DesiredItems({Loaded(1, {"a", "a"}), Loaded(2, {"a"})}, {})),
            (std::vector<std::string>{"channel/a"}));
}

TEST(QueryTargetTest, KeysAndItemIds) {
  EXPECT_EQ(LoadedCollectionKey(42), "collection/42");
  EXPECT_EQ(ChannelItemId("dml_0_42v0"), "channel/dml_0_42v0");
  EXPECT_EQ(SegmentItemId(7), "segment/7");
}

TEST(QueryPlacementTest, TwoWorkersSixItemsBalanceThreeThree) {
  const std::map<std::string, int64_t> placed =
      Scheduler::Place(Items(6), {}, {1, 2}, {}, /*max_moves=*/1);
  EXPECT_EQ(placed.size(), 6u);
  EXPECT_EQ(LoadOf(placed), (std::map<int64_t, int>{{1, 3}, {2, 3}}));
}

TEST(QueryPlacementTest, DeadWorkersItemsMoveToTheLiveOne) {
  const std::vector<DesiredItem> desired = Items(6);
  std::map<std::string, int64_t> placed = Scheduler::Place(desired, {}, {1, 2}, {}, 1);
  placed = Scheduler::Place(desired, placed, {1}, {}, 1);
  EXPECT_EQ(placed.size(), 6u);
  EXPECT_EQ(LoadOf(placed), (std::map<int64_t, int>{{1, 6}}));
}

TEST(QueryPlacementTest, NoLiveWorkerPlacesNowhere) {
  const std::map<std::string, int64_t> placed = Scheduler::Place(Items(3), {}, {}, {}, 1);
  EXPECT_EQ(LoadOf(placed), (std::map<int64_t, int>{{0, 3}}));
}

TEST(QueryPlacementTest, WorkerThatComesBackGetsItemsWithinAFewRounds) {
  const std::vector<DesiredItem> desired = Items(6);
  std::map<std::string, int64_t> placed = Scheduler::Place(desired, {}, {1}, {}, 1);
  ASSERT_EQ(LoadOf(placed), (std::map<int64_t, int>{{1, 6}}));
  int rounds = 0;
  while (LoadOf(placed)[2] < 3 && rounds < 10) {
    placed = Scheduler::Place(desired, placed, {1, 2}, {}, 1);
    ++rounds;
  }
  EXPECT_LE(rounds, 3);  // one move per round: 5/1, 4/2, 3/3
  EXPECT_EQ(LoadOf(placed), (std::map<int64_t, int>{{1, 3}, {2, 3}}));
  // Balanced: further rounds move nothing.
  EXPECT_EQ(Scheduler::Place(desired, placed, {1, 2}, {}, 1), placed);
}

TEST(QueryPlacementTest, AffinityItemsFollowTheirAnchor) {
  std::vector<DesiredItem> desired = Items(4);
  DesiredItem bound;
  bound.item.set_id("segment/bound");
  bound.affinity = "segment/0";
  desired.push_back(bound);
  DesiredItem orphan;
  orphan.item.set_id("segment/orphan");
  orphan.affinity = "segment/missing";
  desired.push_back(orphan);
  std::map<std::string, int64_t> placed = Scheduler::Place(desired, {}, {1, 2}, {}, 1);
  EXPECT_EQ(placed.at("segment/bound"), placed.at("segment/0"));
  EXPECT_EQ(placed.at("segment/orphan"), 0);
  // The anchor moves (its worker died): the bound item moves with it.
  const int64_t survivor = placed.at("segment/0") == 1 ? 2 : 1;
  placed = Scheduler::Place(desired, placed, {survivor}, {}, 1);
  EXPECT_EQ(placed.at("segment/0"), survivor);
  EXPECT_EQ(placed.at("segment/bound"), survivor);
}

TEST(QueryPlacementTest, EveryDesiredItemPlacedExactlyOnceThroughChurn) {
  // Workers die and come back, items come and go: after every round each desired item has
  // exactly one live worker and nothing undesired is placed.
  std::map<std::string, int64_t> placed;
  const std::vector<std::set<int64_t>> lives = {{1, 2}, {1}, {1, 3}, {2, 3}, {3}, {1, 2, 3}, {2}};
  for (size_t round = 0; round < 40; ++round) {
    const std::set<int64_t>& live = lives[round % lives.size()];
    const std::vector<DesiredItem> desired = Items(3 + static_cast<int>(round % 5));
    placed = Scheduler::Place(desired, placed, live, {}, 1);
    ASSERT_EQ(placed.size(), desired.size()) << "round " << round;
    for (const DesiredItem& d : desired) {
      ASSERT_TRUE(placed.contains(d.item.id())) << d.item.id();
      EXPECT_TRUE(live.contains(placed.at(d.item.id()))) << d.item.id() << " round " << round;
    }
  }
}

TEST(QueryPlacementTest, PlacementSticksToALiveHolder) {
  // A new active has no records yet but collected that worker 2 holds segment/0 (L5): it stays
  // there instead of being loaded again elsewhere, even though worker 1 is less loaded.
  const std::vector<DesiredItem> desired = Items(2);
  const std::map<std::string, int64_t> current = {{"segment/1", 2}};
  const std::map<std::string, std::set<int64_t>> held = {{"segment/0", {2}}, {"segment/1", {2}}};
  std::map<std::string, int64_t> placed = Scheduler::Place(desired, current, {1, 2}, held, 0);
  EXPECT_EQ(placed.at("segment/0"), 2);
  EXPECT_EQ(placed.at("segment/1"), 2);
  // A holder that is not live does not count.
  placed = Scheduler::Place(desired, {}, {1}, {{"segment/0", {2}}}, 0);
  EXPECT_EQ(placed.at("segment/0"), 1);
  // Of two holders, the less loaded live one.
  placed = Scheduler::Place(Items(1), {}, {1, 2, 3}, {{"segment/0", {1, 3}}}, 0);
  EXPECT_EQ(placed.at("segment/0"), 1);
}

TEST(QueryPlacementTest, LiveCurrentPlacementIsKeptWhenBalanced) {
  const std::vector<DesiredItem> desired = Items(4);
  const std::map<std::string, int64_t> current = {
      {"segment/0", 2}, {"segment/1", 1}, {"segment/2", 2}, {"segment/3", 1}};
  EXPECT_EQ(Scheduler::Place(desired, current, {1, 2}, {}, 1), current);
}

}  // namespace
}  // namespace coordha::querycoord
