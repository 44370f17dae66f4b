// L6: the Watchdog lets the lease be renewed only while the serving path and a fenced write pass.
#include "session/watchdog.h"

#include <atomic>

#include "gtest/gtest.h"
#include "session/election.h"

namespace coordha::session {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

WatchdogOptions Fast() {
  return WatchdogOptions{.interval = milliseconds(10),
                         .timeout = milliseconds(100),
                         .write_interval = milliseconds(10)};
}

// Polls `pred` until it holds or `d` passes (the watchdog's state is a function of time).
template <typename Pred>
bool Eventually(Pred pred, Duration d = seconds(10)) {
  for (Deadline deadline = Deadline::In(d); !deadline.Expired();) {
    if (pred()) return true;
  }
  return pred();
}

TEST(WatchdogTest, PassingChecks_KeepRenewalAllowed_L6) {
  std::atomic<int> probes{0}, writes{0};
  auto dog = Watchdog::Start(
      Fast(),
      [&](Deadline) {
        ++probes;
        return absl::OkStatus();
      },
      [&](Deadline) {
        ++writes;
        return absl::OkStatus();
      },
      nullptr);
  ASSERT_TRUE(Eventually([&] { return writes.load() >= 20; }));
  EXPECT_TRUE(dog->RenewalAllowed());
  EXPECT_TRUE(dog->last_failure().ok());
  EXPECT_GE(probes.load(), writes.load());
}

TEST(WatchdogTest, HungServingPath_StopsRenewalsOnceTimeoutPasses_L6) {
  std::atomic<bool> hung{false};
  std::atomic<int> writes{0};
  auto dog = Watchdog::Start(
      Fast(),
      [&](Deadline) {
        return hung ? absl::DeadlineExceededError("probe timed out") : absl::OkStatus();
      },
      [&](Deadline) {
        ++writes;
        return absl::OkStatus();
      },
      nullptr);
  ASSERT_TRUE(Eventually([&] { return writes.load() >= 3; }));
  hung = true;
  ASSERT_TRUE(Eventually([&] { return !dog->RenewalAllowed(); }));
  EXPECT_FALSE(dog->last_failure().ok());
  // It recovers by itself once the path answers again.
  hung = false;
  ASSERT_TRUE(Eventually([&] { return dog->RenewalAllowed(); }));
}

TEST(WatchdogTest, FencedWrite_ReportsDeposedAndStopsRenewals_L6) {
  std::atomic<int> fenced_calls{0};
  auto dog = Watchdog::Start(
      Fast(), [](Deadline) { return absl::OkStatus(); },
      [](Deadline) { return FencedError("epoch 7 is over"); }, [&] { ++fenced_calls; });
  ASSERT_TRUE(Eventually([&] { return fenced_calls.load() >= 1; }));
  ASSERT_TRUE(Eventually([&] { return !dog->RenewalAllowed(); }));
  EXPECT_TRUE(IsFenced(dog->last_failure()));
}

TEST(WatchdogTest, Destructor_JoinsPromptlyWhileChecksRun_L6) {
  for (int i = 0; i < 20; ++i) {
    auto dog = Watchdog::Start(
        Fast(), [](Deadline) { return absl::OkStatus(); },
        [](Deadline) { return absl::OkStatus(); }, nullptr);
    dog.reset();  // must not hang or race (TSan)
  }
}

}  // namespace
}  // namespace coordha::session
