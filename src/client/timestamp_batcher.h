// TimestampBatcher: merges concurrent AllocTimestamp calls into one RPC (PD-style, DESIGN.md §7).
//
// While one RPC is in flight, new callers queue. When it returns, one of the queued callers sends
// the next RPC for all of them at once, asking for the sum of their counts (up to
// `max_batch_count`), and hands each caller its own consecutive sub-range of the answer, in
// arrival order. So at most one RPC is in flight per batcher, and N concurrent callers cost about
// one round trip each instead of N.
//
// Deadlines: a batch is sent under the earliest deadline among its callers. If it fails because
// that deadline passed, callers with time left are queued again for the next batch; every other
// error goes to every caller of the batch. A caller whose deadline passes while it waits leaves
// with kDeadlineExceeded (if its batch was already sent, its share of the answer is dropped).
//
// Threads: thread-safe; runs no threads. The RPC runs on the thread of one of the waiting callers.
// Internal to src/client.
#ifndef COORDHA_CLIENT_TIMESTAMP_BATCHER_H_
#define COORDHA_CLIENT_TIMESTAMP_BATCHER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "client/types.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace coordha::client::internal {

class TimestampBatcher {
 public:
  // Sends one AllocTimestamp RPC for `count` timestamps (retries included) by `deadline`.
  using SendFn = std::function<absl::StatusOr<TimestampRange>(uint32_t count, Deadline deadline)>;

  // REQUIRES: max_batch_count >= 1. A single caller asking for more is sent alone.
  TimestampBatcher(SendFn send, uint32_t max_batch_count);

  // REQUIRES: count >= 1, deadline set.
  absl::StatusOr<TimestampRange> Allocate(uint32_t count, Deadline deadline);

  int64_t batches_sent() const { return batches_sent_.load(std::memory_order_relaxed); }

 private:
  // One caller. Shared by the caller and the batch that carries it: a caller that times out
  // leaves while its batch is still in flight, and the sender fills the result regardless.
  struct Waiter {
    uint32_t count = 0;
    Deadline deadline;
    bool taken = false;  // in a batch in flight
    bool done = false;
    absl::StatusOr<TimestampRange> result;
  };

  // Sends the batch at the front of the queue, under the earliest deadline of its callers and the
  // sender's own, and hands out the result. Releases mu_ during the RPC.
  void SendBatch(Deadline sender_deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SendFn send_;
  const uint32_t max_batch_count_;

  Mutex mu_;
  CondVar changed_;  // a batch finished
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::shared_ptr<Waiter>> queue_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> batches_sent_{0};
};

}  // namespace coordha::client::internal

#endif  // COORDHA_CLIENT_TIMESTAMP_BATCHER_H_
