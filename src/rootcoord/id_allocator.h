// IdAllocator: rootcoord's globally unique IDs (DESIGN.md §5): AllocID(count) -> [begin, end).
//
// IDs are unique forever across failovers: a window [next, bound) is persisted in etcd
// (<root>/kv/gid/idTimestamp) by a fenced Txn (S1) before any ID in it is handed out, and a new
// active starts at the saved bound, read linearizably after winning. IDs lost in an unused window
// are never reused (gaps are fine; duplicates are not).
//
// Threads: thread-safe.
#ifndef COORDHA_ROOTCOORD_ID_ALLOCATOR_H_
#define COORDHA_ROOTCOORD_ID_ALLOCATOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "etcd/client.h"
#include "session/election.h"

namespace coordha::rootcoord {

struct IdAllocatorOptions {
  // IDs reserved per etcd write. Default: 10000.
  int64_t window = 10000;
};

class IdAllocator {
 public:
  // `client` is borrowed. `bound_key` is "<root>/kv/gid/idTimestamp".
  IdAllocator(etcd::Client* client, std::string bound_key, IdAllocatorOptions options = {});

  // As the new active: reads the saved bound linearizably and starts there. The first ID ever is 1.
  absl::Status Recover(const session::Leadership& leadership, Deadline deadline);
  void Reset();

  // [begin, end) with end - begin == count (>= 1). Extends the saved window when needed.
  // Errors: kUnavailable when not recovered, FencedError when deposed, etcd errors.
  absl::StatusOr<std::pair<int64_t, int64_t>> Allocate(uint32_t count, Deadline deadline);

 private:
  etcd::Client* const client_;
  const std::string bound_key_;
  const IdAllocatorOptions options_;

  Mutex mu_;  // held across the etcd write of an extension: allocations queue behind it
  std::optional<session::Leadership> leadership_ ABSL_GUARDED_BY(mu_);
  int64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t saved_ ABSL_GUARDED_BY(mu_) = 0;  // exclusive bound saved in etcd
};

}  // namespace coordha::rootcoord

#endif  // COORDHA_ROOTCOORD_ID_ALLOCATOR_H_
