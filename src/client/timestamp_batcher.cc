#include "client/timestamp_batcher.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace coordha::client::internal {

TimestampBatcher::TimestampBatcher(SendFn send, uint32_t max_batch_count)
    : send_(std::move(send)), max_batch_count_(std::max<uint32_t>(max_batch_count, 1)) {}

absl::StatusOr<TimestampRange> TimestampBatcher::Allocate(uint32_t count, Deadline deadline) {
  auto me = std::make_shared<Waiter>();
  me->count = count;
  me->deadline = deadline;
  MutexLock lock(&mu_);
  queue_.push_back(me);
  while (!me->done) {
    if (!in_flight_) {
      SendBatch(deadline);  // ours, or the one ahead of us; we are in it or in a later one
      continue;
    }
    const bool woken = changed_.Await(
        &mu_,
        [&] {
          mu_.AssertHeld();
          return me->done || !in_flight_;
        },
        deadline);
    if (!woken) {
      if (!me->taken) std::erase(queue_, me);
      return absl::DeadlineExceededError(
          "AllocTimestamp: no answer within the deadline (waiting for a batched call)");
    }
  }
  return me->result;
}

void TimestampBatcher::SendBatch(Deadline sender_deadline) {
  // Callers whose time ran out while queued leave now.
  std::erase_if(queue_, [](const std::shared_ptr<Waiter>& w) {
    if (!w->deadline.Expired()) return false;
    w->done = true;
    w->result = absl::DeadlineExceededError(
        "AllocTimestamp: no answer within the deadline (waiting for a batched call)");
    return true;
  });
  if (queue_.empty()) {
    changed_.SignalAll();
    return;
  }

  std::vector<std::shared_ptr<Waiter>> batch;
  uint64_t total = 0;
  Deadline deadline = sender_deadline;
  while (!queue_.empty() && (batch.empty() || total + queue_.front()->count <= max_batch_count_)) {
    std::shared_ptr<Waiter> w = std::move(queue_.front());
    queue_.pop_front();
    total += w->count;
    deadline = deadline.Min(w->deadline);
    w->taken = true;
    batch.push_back(std::move(w));
  }
  in_flight_ = true;
  mu_.Unlock();
  absl::StatusOr<TimestampRange> sent = send_(static_cast<uint32_t>(total), deadline);
  mu_.Lock();
  in_flight_ = false;
  batches_sent_.fetch_add(1, std::memory_order_relaxed);

  if (sent.ok() && sent->count < total) {
    sent = absl::InternalError(absl::StrCat("AllocTimestamp: asked for ", total,
                                            " timestamps, the server returned ", sent->count));
  }
  if (sent.ok()) {
    uint32_t offset = 0;
    for (const std::shared_ptr<Waiter>& w : batch) {
      w->result =
          TimestampRange{.first = sent->first + offset, .count = w->count, .from = sent->from};
      offset += w->count;
      w->done = true;
    }
  } else if (sent.status().code() == absl::StatusCode::kDeadlineExceeded) {
    // The batch ran out of the earliest deadline in it: the others try again in the next one,
    // ahead of later arrivals.
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
      const std::shared_ptr<Waiter>& w = *it;
      if (w->deadline.Expired()) {
        w->done = true;
        w->result = sent.status();
      } else {
        w->taken = false;
        queue_.push_front(w);
      }
    }
  } else {
    for (const std::shared_ptr<Waiter>& w : batch) {
      w->done = true;
      w->result = sent.status();
    }
  }
  changed_.SignalAll();
}

}  // namespace coordha::client::internal
