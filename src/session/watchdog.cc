#include "session/watchdog.h"

#include "common/logging.h"
#include "session/election.h"

namespace coordha::session {

std::unique_ptr<Watchdog> Watchdog::Start(WatchdogOptions options, Check probe, Check fenced_write,
                                          std::function<void()> on_fenced) {
  std::unique_ptr<Watchdog> dog(
      new Watchdog(options, std::move(probe), std::move(fenced_write), std::move(on_fenced)));
  dog->thread_ = std::jthread([d = dog.get()](std::stop_token stop) { d->Run(stop); });
  return dog;
}

Watchdog::Watchdog(WatchdogOptions options, Check probe, Check fenced_write,
                   std::function<void()> on_fenced)
    : options_(options),
      probe_(std::move(probe)),
      fenced_write_(std::move(fenced_write)),
      on_fenced_(std::move(on_fenced)),
      passed_at_(BootClock::now().time_since_epoch().count()) {}

Watchdog::~Watchdog() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  wake_.SignalAll();
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

bool Watchdog::RenewalAllowed() const {
  const BootTime passed_at{BootTime::duration(passed_at_.load(std::memory_order_acquire))};
  // L6: renew only while the serving path and a fenced write have passed recently.
  return BootClock::now() < passed_at + options_.timeout;
}

absl::Status Watchdog::last_failure() const {
  MutexLock lock(&mu_);
  return last_failure_;
}

void Watchdog::Run(std::stop_token stop) {
  bool failing = false;
  BootTime next_write = BootClock::now();
  while (!stop.stop_requested()) {
    const BootTime started = BootClock::now();
    const Deadline deadline = Deadline::At(started + options_.timeout);
    absl::Status status = probe_(deadline);
    // A check passes only when the fenced write, if one is due, committed too.
    if (status.ok() && started >= next_write) {
      status = fenced_write_(deadline);
      if (status.ok()) next_write = started + options_.write_interval;
    }
    if (IsFenced(status)) {
      if (on_fenced_) on_fenced_();
    }
    if (status.ok() && BootClock::now() < started + options_.timeout) {
      passed_at_.store(started.time_since_epoch().count(), std::memory_order_release);
      if (failing) spdlog::info("watchdog: the serving path and etcd writes answer again");
      failing = false;
    } else if (!status.ok()) {
      if (!failing) {
        spdlog::warn(
            "watchdog: check failed ({}); lease renewals stop once none passed for {} ms",
            status.message(),
            std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout).count());
      }
      failing = true;
    }
    {
      MutexLock lock(&mu_);
      last_failure_ = status;
      wake_.Await(
          &mu_,
          [this] {
            mu_.AssertHeld();
            return stopping_;
          },
          Deadline::At(started + options_.interval));
      if (stopping_) return;
    }
  }
}

}  // namespace coordha::session
