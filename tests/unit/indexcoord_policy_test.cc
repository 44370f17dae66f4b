// indexcoord's pure decisions (indexcoord/index_meta.h): which build tasks are desired and which
// worker reports are accepted. No etcd: snapshots are built by hand.
#include <map>
#include <string>

#include "gtest/gtest.h"
#include "indexcoord/index_meta.h"

namespace coordha::indexcoord {
namespace {

v1::SegmentInfo Segment(int64_t id, int64_t collection, v1::SegmentState state) {
  v1::SegmentInfo s;
  s.set_segment_id(id);
  s.set_collection_id(collection);
  s.set_state(state);
  return s;
}

IndexEntry Index(int64_t id, int64_t collection, const std::string& name, bool deleted = false,
                 int64_t revision = 10) {
  IndexEntry e;
  e.info.set_index_id(id);
  e.info.set_collection_id(collection);
  e.info.set_field_name("vec");
  e.info.set_index_name(name);
  (*e.info.mutable_params())["index_type"] = "HNSW";
  e.info.set_deleted(deleted);
  e.mod_revision = revision;
  return e;
}

TaskEntry Task(v1::IndexState state, int64_t node = 0, int64_t attempt = 0, int64_t revision = 20) {
  TaskEntry t;
  t.state.set_state(state);
  t.state.set_node_id(node);
  t.state.set_attempt(attempt);
  t.mod_revision = revision;
  return t;
}

std::vector<std::string> Ids(const std::vector<coordinator::DesiredItem>& items) {
  std::vector<std::string> ids;
  for (const auto& d : items) ids.push_back(d.item.id());
  return ids;
}

TEST(IndexCoordDesired, OneTaskPerFlushedSegmentOfAnIndexedCollection) {
  Snapshot s;
  s.indexes = {Index(7, 100, "idx")};
  s.segments = {Segment(1, 100, v1::Flushed), Segment(2, 100, v1::Growing),
                Segment(3, 100, v1::Sealed),  Segment(4, 100, v1::Flushed),
                Segment(5, 200, v1::Flushed),  // another collection, no index
                Segment(6, 100, v1::Dropped)};
  std::vector<coordinator::DesiredItem> desired = DesiredTasks(s);
  EXPECT_EQ(Ids(desired), (std::vector<std::string>{"task/7/1", "task/7/4"}));
  for (const auto& d : desired) {
    EXPECT_EQ(d.item.collection_id(), 100);
    EXPECT_TRUE(d.affinity.empty());
    v1::IndexInfo payload;
    ASSERT_TRUE(payload.ParseFromString(d.item.payload()));
    EXPECT_EQ(payload.params().at("index_type"), "HNSW");
  }
}

TEST(IndexCoordDesired, NewFlushedSegmentGetsATask) {
  Snapshot s;
  s.indexes = {Index(7, 100, "idx")};
  s.segments = {Segment(1, 100, v1::Flushed)};
  EXPECT_EQ(Ids(DesiredTasks(s)), (std::vector<std::string>{"task/7/1"}));
  s.segments.push_back(Segment(2, 100, v1::Flushed));
  EXPECT_EQ(Ids(DesiredTasks(s)), (std::vector<std::string>{"task/7/1", "task/7/2"}));
}

TEST(IndexCoordDesired, FinalTasksAreExcludedInProgressOnesKept) {
  Snapshot s;
  s.indexes = {Index(7, 100, "idx")};
  s.segments = {Segment(1, 100, v1::Flushed), Segment(2, 100, v1::Flushed),
                Segment(3, 100, v1::Flushed)};
  s.tasks["task/7/1"] = Task(v1::Finished, 5, 1);
  s.tasks["task/7/2"] = Task(v1::InProgress, 5, 1);
  s.tasks["task/7/3"] = Task(v1::Failed, 5, 1);
  EXPECT_EQ(Ids(DesiredTasks(s)), (std::vector<std::string>{"task/7/2"}));
}

TEST(IndexCoordDesired, DroppedIndexHasNoTasks) {
  Snapshot s;
  s.indexes = {Index(7, 100, "idx", /*deleted=*/true), Index(8, 100, "other")};
  s.segments = {Segment(1, 100, v1::Flushed)};
  EXPECT_EQ(Ids(DesiredTasks(s)), (std::vector<std::string>{"task/8/1"}));
  s.indexes[1].info.set_deleted(true);
  EXPECT_TRUE(DesiredTasks(s).empty());
}

coordinator::ItemReport Report(const std::string& id, int64_t worker, v1::ItemState state,
                               int64_t placement_revision = 30) {
  return coordinator::ItemReport{.id = id,
                                 .worker_id = worker,
                                 .attempt = 2,
                                 .placement_revision = placement_revision,
                                 .state = state,
                                 .detail = ""};
}

const Placement kOnWorker5{.worker_id = 5, .attempt = 2, .mod_revision = 30};

TEST(IndexCoordReports, FinishedFromThePlacedWorkerIsAcceptedWithNodeAndAttempt) {
  std::optional<TaskWrite> w = DecideReport(Report("task/7/1", 5, v1::ITEM_FINISHED), kOnWorker5,
                                            Task(v1::InProgress, 5, 2, 25), Index(7, 100, "idx"));
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->task_id, "task/7/1");
  EXPECT_EQ(w->state.state(), v1::Finished);
  EXPECT_EQ(w->state.node_id(), 5);
  EXPECT_EQ(w->state.attempt(), 2);
  EXPECT_EQ(w->state.segment_id(), 1);
  // The Txn's compares: the placement, the task and the index as read.
  EXPECT_EQ(w->placement_revision, 30);
  EXPECT_EQ(w->task_revision, 25);
  EXPECT_EQ(w->index_revision, 10);
  EXPECT_EQ(w->index_rel, "index/100/idx");
}

TEST(IndexCoordReports, FinishedWithNoTaskRecordYetComparesAbsence) {
  std::optional<TaskWrite> w = DecideReport(Report("task/7/1", 5, v1::ITEM_FINISHED), kOnWorker5,
                                            std::nullopt, Index(7, 100, "idx"));
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->task_revision, 0);
}

TEST(IndexCoordReports, ReportFromAnotherWorkerIsIgnored) {
  // The task was taken from worker 4 and placed on worker 5: 4's result is not heard.
  EXPECT_FALSE(DecideReport(Report("task/7/1", 4, v1::ITEM_FINISHED), kOnWorker5, std::nullopt,
                            Index(7, 100, "idx")));
}

TEST(IndexCoordReports, ReportUnderAnOlderPlacementIsIgnored) {
  // Reported under placement revision 29; the record has moved on (30).
  EXPECT_FALSE(DecideReport(Report("task/7/1", 5, v1::ITEM_FINISHED, 29), kOnWorker5, std::nullopt,
                            Index(7, 100, "idx")));
}

TEST(IndexCoordReports, NoPlacementRecordIsIgnored) {
  EXPECT_FALSE(DecideReport(Report("task/7/1", 5, v1::ITEM_FINISHED), std::nullopt, std::nullopt,
                            Index(7, 100, "idx")));
}

TEST(IndexCoordReports, AlreadyFinishedIsAcceptedOnlyOnce) {
  EXPECT_FALSE(DecideReport(Report("task/7/1", 5, v1::ITEM_FINISHED), kOnWorker5,
                            Task(v1::Finished, 5, 2), Index(7, 100, "idx")));
  EXPECT_FALSE(DecideReport(Report("task/7/1", 5, v1::ITEM_FAILED), kOnWorker5,
                            Task(v1::Finished, 5, 2), Index(7, 100, "idx")));
}

TEST(IndexCoordReports, DroppedOrUnknownIndexIsIgnored) {
  EXPECT_FALSE(DecideReport(Report("task/7/1", 5, v1::ITEM_FINISHED), kOnWorker5, std::nullopt,
                            Index(7, 100, "idx", /*deleted=*/true)));
  EXPECT_FALSE(DecideReport(Report("task/7/1", 5, v1::ITEM_FINISHED), kOnWorker5, std::nullopt,
                            std::nullopt));
  EXPECT_FALSE(DecideReport(Report("task/7/1", 5, v1::ITEM_FINISHED), kOnWorker5, std::nullopt,
                            Index(8, 100, "idx")));
  EXPECT_FALSE(DecideReport(Report("channel/x", 5, v1::ITEM_FINISHED), kOnWorker5, std::nullopt,
                            Index(7, 100, "idx")));
}

TEST(IndexCoordReports, FailedIsFinalWithTheReason) {
  coordinator::ItemReport r = Report("task/7/1", 5, v1::ITEM_FAILED);
  r.detail = "out of memory";
  std::optional<TaskWrite> w = DecideReport(r, kOnWorker5, std::nullopt, Index(7, 100, "idx"));
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->state.state(), v1::Failed);
  EXPECT_EQ(w->state.fail_reason(), "out of memory");
  r.detail.clear();
  w = DecideReport(r, kOnWorker5, std::nullopt, Index(7, 100, "idx"));
  ASSERT_TRUE(w.has_value());
  EXPECT_FALSE(w->state.fail_reason().empty());
}

TEST(IndexCoordReports, RunningIsRecordedOncePerPlacement) {
  std::optional<TaskWrite> w = DecideReport(Report("task/7/1", 5, v1::ITEM_RUNNING), kOnWorker5,
                                            std::nullopt, Index(7, 100, "idx"));
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->state.state(), v1::InProgress);
  // Already recorded for this worker and attempt: nothing to write.
  EXPECT_FALSE(DecideReport(Report("task/7/1", 5, v1::ITEM_RUNNING), kOnWorker5,
                            Task(v1::InProgress, 5, 2), Index(7, 100, "idx")));
  // Recorded for an earlier attempt: written again.
  EXPECT_TRUE(DecideReport(Report("task/7/1", 5, v1::ITEM_PENDING), kOnWorker5,
                           Task(v1::InProgress, 4, 1), Index(7, 100, "idx")));
  EXPECT_FALSE(DecideReport(Report("task/7/1", 5, v1::ITEM_READY), kOnWorker5, std::nullopt,
                            Index(7, 100, "idx")));
}

TEST(IndexCoordState, SummaryCountsFlushedSegments) {
  Snapshot s;
  IndexEntry index = Index(7, 100, "idx");
  s.segments = {Segment(1, 100, v1::Flushed), Segment(2, 100, v1::Flushed),
                Segment(3, 100, v1::Growing)};
  v1::GetIndexStateResponse r = SummarizeIndex(index.info, s);
  EXPECT_EQ(r.total_segments(), 2);
  EXPECT_EQ(r.finished_segments(), 0);
  EXPECT_EQ(r.state(), v1::Unissued);
  s.tasks["task/7/1"] = Task(v1::Finished, 5, 1);
  s.tasks["task/7/2"] = Task(v1::InProgress, 6, 1);
  r = SummarizeIndex(index.info, s);
  EXPECT_EQ(r.state(), v1::InProgress);
  EXPECT_EQ(r.finished_segments(), 1);
  ASSERT_EQ(r.segments_size(), 2);
  EXPECT_EQ(r.segments(0).segment_id(), 1);
  EXPECT_EQ(r.segments(0).node_id(), 5);
  s.tasks["task/7/2"] = Task(v1::Finished, 6, 1);
  EXPECT_EQ(SummarizeIndex(index.info, s).state(), v1::Finished);
  s.tasks["task/7/2"] = Task(v1::Failed, 6, 1);
  EXPECT_EQ(SummarizeIndex(index.info, s).state(), v1::Failed);
  EXPECT_EQ(SummarizeIndex(Index(9, 300, "none").info, s).state(), v1::Finished);  // no segments
}

TEST(IndexCoordMeta, KeysAndRecords) {
  int64_t index = 0, segment = 0;
  EXPECT_TRUE(ParseTaskId(TaskRel(7, 12), &index, &segment));
  EXPECT_EQ(index, 7);
  EXPECT_EQ(segment, 12);
  EXPECT_FALSE(ParseTaskId("task/7", &index, &segment));
  EXPECT_FALSE(ParseTaskId("segment/7/1", &index, &segment));
  etcd::KeyValue kv{.key = "k", .value = "5 3", .mod_revision = 44};
  std::optional<Placement> p = ParsePlacement(kv);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->worker_id, 5);
  EXPECT_EQ(p->attempt, 3);
  EXPECT_EQ(p->mod_revision, 44);
  kv.value = "garbage";
  EXPECT_FALSE(ParsePlacement(kv).has_value());
  v1::IndexInfo a = Index(1, 1, "x").info, b = a;
  EXPECT_TRUE(SameDefinition(a, b));
  (*b.mutable_params())["M"] = "16";
  EXPECT_FALSE(SameDefinition(a, b));
}

}  // namespace
}  // namespace coordha::indexcoord
