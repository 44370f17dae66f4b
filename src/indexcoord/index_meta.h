// indexcoord's state in etcd and the pure decisions taken on it (DESIGN.md §5).
//
// Key layout, under <meta>/indexcoord/ (values are serialized protos of proto/indexcoord.proto
// unless said):
//
//   index/<collection id>/<index name>   v1::IndexInfo. DropIndex keeps the key with deleted=true
//                                        (a tombstone); CreateIndex of the same name later writes
//                                        a new IndexInfo with a new id over it.
//   next_index_id                        the next index ID, decimal. CreateIndex reads it from the
//                                        copy and writes it +1 in the same Txn as the IndexInfo,
//                                        compared on its mod revision, so two concurrent creates
//                                        never share an ID (and the one-index-per-field check of
//                                        each sees the other's result when retried).
//   task/<index id>/<segment id>         v1::SegmentIndexState of one build: InProgress while an
//                                        indexnode works on it, then Finished or Failed (both
//                                        final: a failed build is not retried; drop and create
//                                        the index again). No key: Unissued. DropIndex deletes
//                                        the index's task keys in the same Txn as the tombstone.
//   assignment/task/<index id>/<segment id>   the Scheduler's placement record, "<indexnode id>
//                                        <attempt>" (coordinator/scheduler.h).
//   epoch                                the activation barrier (MetaCopy::CatchUpAsActive).
//
// A build task exists for every (live index, Flushed segment of the index's collection) pair;
// segments come from a read-only copy of <meta>/datacoord/segment/<segment id> = v1::SegmentInfo.
// The task's Scheduler item id is the task key itself: "task/<index id>/<segment id>".
//
// A worker's report of a build changes the task key only through DecideReport(): the report must
// come from the worker the placement record names now, at the placement revision the Scheduler
// reported it under, for a task not already final; the write compares the placement record's,
// the task key's and the IndexInfo's mod revisions (plus the S1 fence) in one Txn. So a result is
// accepted once (the second write fails the task compare), never from a worker the task was moved
// away from (the placement compare), never for a dropped index (the IndexInfo compare) and never
// by a deposed active (the fence).
#ifndef COORDHA_INDEXCOORD_INDEX_META_H_
#define COORDHA_INDEXCOORD_INDEX_META_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/scheduler.h"
#include "datacoord.pb.h"
#include "etcd/types.h"
#include "indexcoord.pb.h"

namespace coordha::indexcoord {

// The name an empty index_name stands for in CreateIndex.
inline constexpr char kDefaultIndexName[] = "_default_idx";
inline constexpr char kNextIndexIdRel[] = "next_index_id";
inline constexpr char kAssignmentDir[] = "assignment/";

// Relative keys (under <meta>/indexcoord/).
std::string IndexRel(int64_t collection_id, const std::string& index_name);
std::string CollectionIndexesRel(int64_t collection_id);    // "index/<collection id>/"
std::string TaskRel(int64_t index_id, int64_t segment_id);  // also the Scheduler item id
std::string IndexTasksRel(int64_t index_id);                // "task/<index id>/"
std::string AssignmentRel(const std::string& item_id);
// "task/<index id>/<segment id>" -> the two ids; false for anything else.
bool ParseTaskId(const std::string& id, int64_t* index_id, int64_t* segment_id);

struct IndexEntry {
  v1::IndexInfo info;
  int64_t mod_revision = 0;
};
struct TaskEntry {
  v1::SegmentIndexState state;
  int64_t mod_revision = 0;
};
struct Placement {
  int64_t worker_id = 0;
  int64_t attempt = 0;
  int64_t mod_revision = 0;
};

// What the decisions read: a consistent-enough view of both copies.
struct Snapshot {
  std::vector<IndexEntry> indexes;         // every IndexInfo, tombstones included
  std::vector<v1::SegmentInfo> segments;   // every SegmentInfo datacoord has
  std::map<std::string, TaskEntry> tasks;  // by task id ("task/<index id>/<segment id>")
};

// A placement record "<worker> <attempt>", or nullopt when unreadable.
std::optional<Placement> ParsePlacement(const etcd::KeyValue& kv);

bool IsFinal(v1::IndexState state);  // Finished or Failed

// The build tasks that should be placed now: one per live index and Flushed segment of its
// collection whose task is not final, by id. The item's payload is the serialized IndexInfo.
std::vector<coordinator::DesiredItem> DesiredTasks(const Snapshot& snapshot);

// A task write decided from a report, with what the Txn must compare.
struct TaskWrite {
  std::string task_id;
  v1::SegmentIndexState state;
  int64_t task_revision = 0;       // the task key's mod revision (0: absent)
  int64_t placement_revision = 0;  // the placement record's
  int64_t index_revision = 0;      // the IndexInfo's
  std::string index_rel;
};

// What a report changes, or nullopt to ignore it (not a task, an unknown or dropped index, not
// from the worker the placement record names at that revision, already final, or no change).
// `placement` is the placement record as the copy has it now (nullopt: none); `task` the task
// key (nullopt: absent); `index` the IndexInfo the task's index id names (nullopt: none).
std::optional<TaskWrite> DecideReport(const coordinator::ItemReport& report,
                                      const std::optional<Placement>& placement,
                                      const std::optional<TaskEntry>& task,
                                      const std::optional<IndexEntry>& index);

// GetIndexState's answer for `index` (live): every Flushed segment of its collection with its
// task's state (Unissued when it has no task key yet). The overall state: Finished when every
// task is (also when there are none), else Failed when one failed, else InProgress when one is,
// else Unissued.
v1::GetIndexStateResponse SummarizeIndex(const v1::IndexInfo& index, const Snapshot& snapshot);

// The same field and params (what makes a CreateIndex a retry of an earlier one).
bool SameDefinition(const v1::IndexInfo& a, const v1::IndexInfo& b);

}  // namespace coordha::indexcoord

#endif  // COORDHA_INDEXCOORD_INDEX_META_H_
