#include "indexcoord/index_meta.h"

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace coordha::indexcoord {

std::string IndexRel(int64_t collection_id, const std::string& index_name) {
  return absl::StrCat("index/", collection_id, "/", index_name);
}

std::string CollectionIndexesRel(int64_t collection_id) {
  return absl::StrCat("index/", collection_id, "/");
}

std::string TaskRel(int64_t index_id, int64_t segment_id) {
  return absl::StrCat("task/", index_id, "/", segment_id);
}

std::string IndexTasksRel(int64_t index_id) { return absl::StrCat("task/", index_id, "/"); }

std::string AssignmentRel(const std::string& item_id) {
  return absl::StrCat(kAssignmentDir, item_id);
}

bool ParseTaskId(const std::string& id, int64_t* index_id, int64_t* segment_id) {
  std::vector<std::string> parts = absl::StrSplit(id, '/');
  return parts.size() == 3 && parts[0] == "task" && absl::SimpleAtoi(parts[1], index_id) &&
         absl::SimpleAtoi(parts[2], segment_id);
}

std::optional<Placement> ParsePlacement(const etcd::KeyValue& kv) {
  std::vector<std::string> parts = absl::StrSplit(kv.value, ' ');
  Placement placement;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &placement.worker_id) ||
      !absl::SimpleAtoi(parts[1], &placement.attempt)) {
    return std::nullopt;
  }
  placement.mod_revision = kv.mod_revision;
  return placement;
}

bool IsFinal(v1::IndexState state) { return state == v1::Finished || state == v1::Failed; }

std::vector<coordinator::DesiredItem> DesiredTasks(const Snapshot& snapshot) {
  std::multimap<int64_t, const v1::SegmentInfo*> flushed;  // by collection
  for (const v1::SegmentInfo& s : snapshot.segments) {
    if (s.state() == v1::Flushed) flushed.emplace(s.collection_id(), &s);
  }
  std::vector<coordinator::DesiredItem> out;
  for (const IndexEntry& index : snapshot.indexes) {
    if (index.info.deleted()) continue;
    const std::string payload = index.info.SerializeAsString();
    auto [begin, end] = flushed.equal_range(index.info.collection_id());
    for (auto it = begin; it != end; ++it) {
      const std::string id = TaskRel(index.info.index_id(), it->second->segment_id());
      if (auto task = snapshot.tasks.find(id);
          task != snapshot.tasks.end() && IsFinal(task->second.state.state())) {
        continue;
      }
      coordinator::DesiredItem item;
      item.item.set_id(id);
      item.item.set_collection_id(index.info.collection_id());
      item.item.set_payload(payload);
      out.push_back(std::move(item));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.item.id() < b.item.id(); });
  return out;
}

std::optional<TaskWrite> DecideReport(const coordinator::ItemReport& report,
                                      const std::optional<Placement>& placement,
                                      const std::optional<TaskEntry>& task,
                                      const std::optional<IndexEntry>& index) {
  int64_t index_id = 0, segment_id = 0;
  if (!ParseTaskId(report.id, &index_id, &segment_id)) return std::nullopt;
  if (!index || index->info.deleted() || index->info.index_id() != index_id) return std::nullopt;
  // Only the worker the task is placed on now, for the placement it was reported under: a worker
  // the task was taken from (or a report older than the latest move) is not heard.
  if (!placement || placement->worker_id != report.worker_id ||
      placement->mod_revision != report.placement_revision) {
    return std::nullopt;
  }
  if (task && IsFinal(task->state.state())) return std::nullopt;  // accepted once

  v1::SegmentIndexState next;
  next.set_segment_id(segment_id);
  next.set_node_id(report.worker_id);
  next.set_attempt(placement->attempt);
  switch (report.state) {
    case v1::ITEM_FINISHED:
      next.set_state(v1::Finished);
      break;
    case v1::ITEM_FAILED:
      next.set_state(v1::Failed);
      next.set_fail_reason(report.detail.empty()
                               ? absl::StrCat("indexnode-", report.worker_id, " failed the build")
                               : report.detail);
      break;
    case v1::ITEM_PENDING:
    case v1::ITEM_RUNNING:
      next.set_state(v1::InProgress);
      if (task && task->state.state() == v1::InProgress &&
          task->state.node_id() == next.node_id() && task->state.attempt() == next.attempt()) {
        return std::nullopt;  // nothing new
      }
      break;
    default:
      return std::nullopt;  // READY / UNKNOWN mean nothing for a build
  }
  TaskWrite write;
  write.task_id = report.id;
  write.state = std::move(next);
  write.task_revision = task ? task->mod_revision : 0;
  write.placement_revision = placement->mod_revision;
  write.index_revision = index->mod_revision;
  write.index_rel = IndexRel(index->info.collection_id(), index->info.index_name());
  return write;
}

v1::GetIndexStateResponse SummarizeIndex(const v1::IndexInfo& index, const Snapshot& snapshot) {
  std::vector<const v1::SegmentInfo*> flushed;
  for (const v1::SegmentInfo& s : snapshot.segments) {
    if (s.state() == v1::Flushed && s.collection_id() == index.collection_id()) {
      flushed.push_back(&s);
    }
  }
  std::sort(flushed.begin(), flushed.end(),
            [](const auto* a, const auto* b) { return a->segment_id() < b->segment_id(); });
  v1::GetIndexStateResponse out;
  int64_t finished = 0, failed = 0, in_progress = 0;
  for (const v1::SegmentInfo* s : flushed) {
    v1::SegmentIndexState* state = out.add_segments();
    auto task = snapshot.tasks.find(TaskRel(index.index_id(), s->segment_id()));
    if (task != snapshot.tasks.end()) {
      *state = task->second.state;
    } else {
      state->set_state(v1::Unissued);
    }
    state->set_segment_id(s->segment_id());
    switch (state->state()) {
      case v1::Finished:
        ++finished;
        break;
      case v1::Failed:
        ++failed;
        break;
      case v1::InProgress:
        ++in_progress;
        break;
      default:
        break;
    }
  }
  const int64_t total = static_cast<int64_t>(flushed.size());
  out.set_total_segments(total);
  out.set_finished_segments(finished);
  if (finished == total) {
    out.set_state(v1::Finished);
  } else if (failed > 0) {
    out.set_state(v1::Failed);
  } else if (in_progress > 0) {
    out.set_state(v1::InProgress);
  } else {
    out.set_state(v1::Unissued);
  }
  return out;
}

bool SameDefinition(const v1::IndexInfo& a, const v1::IndexInfo& b) {
  if (a.field_name() != b.field_name()) return false;
  const std::map<std::string, std::string> pa(a.params().begin(), a.params().end());
  const std::map<std::string, std::string> pb(b.params().begin(), b.params().end());
  return pa == pb;
}

}  // namespace coordha::indexcoord
