#include "worker/executor.h"

#include <algorithm>
#include <optional>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"

namespace coordha::worker {

v1::ItemState SimulatedFinalState(const std::string& id) {
  if (absl::StartsWith(id, "channel/") || absl::StartsWith(id, "segment/")) return v1::ITEM_READY;
  if (absl::StartsWith(id, "flush/") || absl::StartsWith(id, "task/")) return v1::ITEM_FINISHED;
  return v1::ITEM_FAILED;
}

SimulatedExecutor::SimulatedExecutor(Duration work_duration) : work_duration_(work_duration) {
  thread_ = std::jthread([this](std::stop_token stop) { Loop(std::move(stop)); });
}

SimulatedExecutor::~SimulatedExecutor() { Stop(); }

void SimulatedExecutor::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    jobs_.clear();
  }
  changed_.SignalAll();
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void SimulatedExecutor::Start(const std::string& coordinator, const v1::WorkItem& item,
                              Reporter report) {
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    jobs_[{coordinator, item.id()}] = Job{.report = std::move(report), .due = BootClock::now()};
    ++starts_;
  }
  changed_.SignalAll();
}

void SimulatedExecutor::Release(const std::string& coordinator, const std::string& id) {
  MutexLock lock(&mu_);
  jobs_.erase({coordinator, id});
}

void SimulatedExecutor::Loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    // (reporter, state, detail) to deliver once the lock is released.
    std::vector<std::tuple<Reporter, v1::ItemState, std::string>> reports;
    {
      MutexLock lock(&mu_);
      // Sleep until the earliest job is due, or a new one arrives, or Stop().
      std::optional<BootTime> next;
      for (const auto& [key, job] : jobs_) next = next ? std::min(*next, job.due) : job.due;
      if (!next.has_value() || *next > BootClock::now()) {
        const int64_t started = starts_;
        changed_.Await(
            &mu_,
            [&] {
              mu_.AssertHeld();
              return stopping_ || starts_ != started;
            },
            next ? Deadline::At(*next) : Deadline::In(std::chrono::seconds(1)));
      }
      if (stopping_) return;
      const BootTime now = BootClock::now();
      for (auto it = jobs_.begin(); it != jobs_.end();) {
        Job& job = it->second;
        if (job.due > now) {
          ++it;
          continue;
        }
        if (!job.running) {
          reports.emplace_back(job.report, v1::ITEM_RUNNING, "");
          job.running = true;
          job.due = now + work_duration_;
          if (work_duration_ > Duration::zero()) {
            ++it;
            continue;
          }
        }
        const v1::ItemState final_state = SimulatedFinalState(it->first.second);
        reports.emplace_back(
            std::move(job.report), final_state,
            final_state == v1::ITEM_FAILED
                ? "unknown item kind (expected channel/, segment/, flush/ or task/)"
                : (final_state == v1::ITEM_FINISHED ? "simulated" : ""));
        it = jobs_.erase(it);
      }
    }
    for (auto& [report, state, detail] : reports) report(state, std::move(detail));
  }
}

}  // namespace coordha::worker
