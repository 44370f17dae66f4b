// Time for rules that depend on it.
//
// Every safety rule that measures time (serve grant, lease deadlines, the TSO window) uses
// CLOCK_BOOTTIME: it never jumps with the wall clock and keeps counting through suspend, so a
// process that was frozen cannot believe less time has passed than really has (DESIGN.md §4).
//
// Code that enforces such a rule takes a `const Clock&` so unit tests can drive time; everything
// else may call BootClock::now() directly.
#ifndef COORDHA_COMMON_CLOCK_H_
#define COORDHA_COMMON_CLOCK_H_

#include <chrono>
#include <optional>

namespace coordha {

// A std::chrono clock over CLOCK_BOOTTIME. Steady; counts through suspend.
struct BootClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<BootClock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept;
};

using BootTime = BootClock::time_point;
using Duration = std::chrono::nanoseconds;

// Injectable time source. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual BootTime Now() const = 0;
};

// The process-wide real clock (BootClock). Never destroyed.
const Clock& RealClock();

// The wall-clock time point that is `d` from now, for APIs (gRPC) that take system_clock deadlines.
std::chrono::system_clock::time_point WallDeadlineIn(Duration d);

// An absolute deadline on BootClock, or "unset" (the callee applies its own default).
class Deadline {
 public:
  Deadline() = default;  // unset
  static Deadline At(BootTime t) { return Deadline(t); }
  static Deadline In(Duration d) { return Deadline(BootClock::now() + d); }

  bool is_set() const { return at_.has_value(); }
  // REQUIRES: is_set().
  BootTime at() const { return *at_; }
  // This deadline if set, otherwise `d` from now.
  Deadline OrIn(Duration d) const { return is_set() ? *this : In(d); }
  // The earlier of the two; an unset one counts as "never".
  Deadline Min(Deadline other) const;
  // Time left (zero when passed). REQUIRES: is_set().
  Duration Remaining() const;
  bool Expired() const { return is_set() && BootClock::now() >= *at_; }
  // As a system_clock deadline for gRPC. REQUIRES: is_set().
  std::chrono::system_clock::time_point ToWall() const { return WallDeadlineIn(Remaining()); }

 private:
  explicit Deadline(BootTime t) : at_(t) {}
  std::optional<BootTime> at_;
};

}  // namespace coordha

#endif  // COORDHA_COMMON_CLOCK_H_
