#include "rootcoord/tso.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"

namespace coordha::rootcoord {
namespace {

int64_t Ms(Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

}  // namespace

int64_t SystemWallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TimestampOracle::TimestampOracle(etcd::Client* client, std::string bound_key, TsoOptions options)
    : client_(client), bound_key_(std::move(bound_key)), options_([&] {
        if (!options.wall_clock_ms) options.wall_clock_ms = SystemWallClockMs;
        return options;
      }()) {}

absl::Status TimestampOracle::Recover(const session::Leadership& leadership, Deadline deadline) {
  MutexLock save(&save_mu_);
  // Invariant 3: a linearizable read after winning; never a cached value.
  COORDHA_ASSIGN_OR_RETURN(std::optional<etcd::KeyValue> saved, client_->Get(bound_key_, deadline));
  int64_t previous_bound = 0;
  if (saved.has_value() && !absl::SimpleAtoi(saved->value, &previous_bound)) {
    return absl::DataLossError(
        absl::StrCat(bound_key_, " holds '", saved->value, "', not a timestamp bound"));
  }
  const int64_t wall = options_.wall_clock_ms();
  {
    MutexLock lock(&mu_);
    leadership_.emplace(leadership);
    // Invariant 1: everything issued before had a physical part < previous_bound.
    physical_ = std::max(wall, previous_bound);
    logical_ = 0;
    saved_ = 0;  // nothing may be issued until the first save below commits
    last_wall_ = wall;
    last_tick_at_ = BootClock::now();
  }
  absl::Status status = SaveBound(std::max(wall, previous_bound) + 1, deadline);
  if (!status.ok()) {
    Reset();
    return status;
  }
  spdlog::info("rootcoord: TSO recovered above saved bound {} (lead over wall clock {} ms)",
               previous_bound, std::max<int64_t>(0, previous_bound - wall));
  return absl::OkStatus();
}

void TimestampOracle::Reset() {
  MutexLock lock(&mu_);
  leadership_.reset();
  saved_ = 0;
}

absl::Status TimestampOracle::SaveBound(int64_t at_least, Deadline deadline) {
  std::optional<session::Leadership> leadership;
  {
    MutexLock lock(&mu_);
    leadership = leadership_;
  }
  if (!leadership) return absl::UnavailableError("TSO is not active");
  // Invariant 4: relative to the wall clock, so failovers do not ratchet the lead by a window.
  const int64_t bound = std::max(options_.wall_clock_ms() + Ms(options_.save_window), at_least);
  etcd::Txn txn;
  txn.success.push_back(etcd::TxnOp::Put(bound_key_, std::to_string(bound)));
  // S1: fenced by the epoch; a deposed active cannot move the bound.
  auto committed = leadership->FencedCommit(std::move(txn), deadline);
  if (!committed.ok()) return committed.status();  // unknown outcome: not saved as far as we know
  MutexLock lock(&mu_);
  // Invariant 2: only a committed bound lets timestamps below it be issued.
  if (leadership_ && leadership_->epoch() == leadership->epoch()) saved_ = std::max(saved_, bound);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> TimestampOracle::Allocate(uint32_t count, Deadline deadline) {
  if (count == 0) count = 1;
  if (count >= kMaxLogical) {
    return absl::InvalidArgumentError(absl::StrCat(
        "count: ", count, " is more than one millisecond holds (", kMaxLogical - 1, ")"));
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    int64_t need = 0;
    {
      MutexLock lock(&mu_);
      if (!leadership_ || saved_ == 0) return absl::UnavailableError("TSO is not active");
      // Invariant 5: a request that does not fit in this millisecond rolls to the next.
      int64_t physical = physical_;
      uint64_t logical = logical_;
      if (logical + count > kMaxLogical) {
        ++physical;
        logical = 0;
      }
      // Invariant 2: never at or past the saved bound.
      if (physical < saved_) {
        physical_ = physical;
        logical_ = logical + count;
        return ComposeTs(physical, logical);
      }
      need = physical + 1;
    }
    // Out of window (heavy load, or a slow etcd): extend synchronously, then try again.
    MutexLock save(&save_mu_);
    COORDHA_RETURN_IF_ERROR(SaveBound(need, deadline));
  }
  return absl::UnavailableError("TSO window exhausted; etcd too slow to extend it");
}

absl::Status TimestampOracle::Tick(Deadline deadline) {
  MutexLock save(&save_mu_);
  int64_t save_at_least = 0;
  {
    MutexLock lock(&mu_);
    if (!leadership_ || saved_ == 0) return absl::OkStatus();
    const int64_t wall = options_.wall_clock_ms();
    // Invariant 6: follow the wall clock forward only; log large jumps — measured against the
    // monotonic clock, so a tick that was late (a slow etcd, a paused process) is not a jump.
    const BootTime now = BootClock::now();
    const int64_t step = (wall - last_wall_) - Ms(now - last_tick_at_);
    if (std::abs(step) >= Ms(options_.clock_jump_warning)) {
      spdlog::warn("rootcoord: wall clock jumped {} ms; timestamps stay monotonic", step);
    }
    last_wall_ = wall;
    last_tick_at_ = now;
    if (wall > physical_) {
      physical_ = wall;
      logical_ = 0;
    }
    // Save ahead when less than a third of the window is left.
    if (saved_ - physical_ > Ms(options_.save_window) / 3) return absl::OkStatus();
    save_at_least = physical_ + 1;
  }
  return SaveBound(save_at_least, deadline);
}

double TimestampOracle::LeadSeconds() const {
  MutexLock lock(&mu_);
  if (!leadership_ || saved_ == 0) return 0;
  return static_cast<double>(saved_ - options_.wall_clock_ms()) / 1000.0;
}

int64_t TimestampOracle::saved_bound() const {
  MutexLock lock(&mu_);
  return saved_;
}

}  // namespace coordha::rootcoord
