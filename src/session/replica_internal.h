// Constants and small helpers shared by replica.cc, replica_standby.cc and replica_active.cc.
// Not part of the session module's interface.
#ifndef COORDHA_SESSION_REPLICA_INTERNAL_H_
#define COORDHA_SESSION_REPLICA_INTERNAL_H_

#include <algorithm>
#include <random>

#include "common/clock.h"

namespace coordha::session {

inline constexpr Duration kMinBackoff = std::chrono::milliseconds(50);
inline constexpr Duration kMaxBackoff = std::chrono::seconds(2);
// L7: holding the role for less than this counts as losing it soon after winning it.
inline constexpr Duration kShortTenure = std::chrono::seconds(10);
// L7: while deferring its campaign, how often a replica looks whether someone else has won.
inline constexpr Duration kDeferPoll = std::chrono::milliseconds(20);

inline Duration NextBackoff(Duration d) {
  return std::min(kMaxBackoff, std::max(kMinBackoff, d * 2));
}

// L7: the wait before campaigning again after the role was lost `short_tenures` times in a row
// soon after winning it: 100 ms doubling to 5 s, each drawn from [d/2, 3d/2) so replicas that lost
// together do not come back together.
inline Duration JitteredBackoff(int short_tenures) {
  const int shift = std::min(short_tenures, 6);
  const Duration base =
      std::min<Duration>(std::chrono::milliseconds(100) * (1 << shift), std::chrono::seconds(5));
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> pick(base.count() / 2, base.count() * 3 / 2);
  return Duration(pick(rng));
}

inline int64_t Millis(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace coordha::session

#endif  // COORDHA_SESSION_REPLICA_INTERNAL_H_
