#include "rootcoord/id_allocator.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace coordha::rootcoord {

IdAllocator::IdAllocator(etcd::Client* client, std::string bound_key, IdAllocatorOptions options)
    : client_(client), bound_key_(std::move(bound_key)), options_(options) {}

absl::Status IdAllocator::Recover(const session::Leadership& leadership, Deadline deadline) {
  MutexLock lock(&mu_);
  leadership_.reset();
  // A linearizable read after winning: every ID below the saved bound may have been handed out.
  COORDHA_ASSIGN_OR_RETURN(std::optional<etcd::KeyValue> saved, client_->Get(bound_key_, deadline));
  int64_t bound = 1;
  if (saved.has_value() && (!absl::SimpleAtoi(saved->value, &bound) || bound < 1)) {
    return absl::DataLossError(
        absl::StrCat(bound_key_, " holds '", saved->value, "', not an ID bound"));
  }
  leadership_.emplace(leadership);
  next_ = bound;
  saved_ = bound;  // nothing is reserved yet: the first Allocate saves a window
  return absl::OkStatus();
}

void IdAllocator::Reset() {
  MutexLock lock(&mu_);
  leadership_.reset();
}

absl::StatusOr<std::pair<int64_t, int64_t>> IdAllocator::Allocate(uint32_t count,
                                                                  Deadline deadline) {
  if (count == 0) count = 1;
  MutexLock lock(&mu_);
  if (!leadership_) return absl::UnavailableError("ID allocator is not active");
  if (next_ + count > saved_) {
    // Reserve before handing out: the window is saved (fenced, S1) first.
    const int64_t bound = next_ + count + options_.window;
    etcd::Txn txn;
    txn.success.push_back(etcd::TxnOp::Put(bound_key_, std::to_string(bound)));
    auto committed = leadership_->FencedCommit(std::move(txn), deadline);
    if (!committed.ok()) {
      // An unknown outcome may have saved it; moving next_ to the bound we tried keeps uniqueness
      // either way (gaps are fine).
      if (IsOutcomeUnknown(committed.status())) next_ = bound;
      return committed.status();
    }
    saved_ = bound;
  }
  const int64_t begin = next_;
  next_ += count;
  return std::make_pair(begin, next_);
}

}  // namespace coordha::rootcoord
