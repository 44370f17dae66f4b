#include "common/clock.h"

#include <time.h>

namespace coordha {

BootClock::time_point BootClock::now() noexcept {
  timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

namespace {
class RealClockImpl final : public Clock {
 public:
  BootTime Now() const override { return BootClock::now(); }
};
}  // namespace

const Clock& RealClock() {
  static const RealClockImpl* const clock = new RealClockImpl();
  return *clock;
}

std::chrono::system_clock::time_point WallDeadlineIn(Duration d) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
}

Deadline Deadline::Min(Deadline other) const {
  if (!is_set()) return other;
  if (!other.is_set()) return *this;
  return *at_ <= *other.at_ ? *this : other;
}

Duration Deadline::Remaining() const {
  Duration left = *at_ - BootClock::now();
  return left > Duration::zero() ? left : Duration::zero();
}

}  // namespace coordha
