// `coordha chaos check HISTORY`: the checker of chaos/checker.h over a recorded history.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "chaos/checker.h"
#include "chaos/history.h"
#include "chaos/timeline.h"
#include "cli/commands.h"

namespace coordha::cli {

int ChaosCheckCommand(const std::string& history_file, const std::string& timeline_dir) {
  std::ifstream in(history_file);
  if (!in) {
    std::fprintf(stderr, "coordha: cannot read history %s: %s\n", history_file.c_str(),
                 std::strerror(errno));
    return 2;
  }
  absl::StatusOr<chaos::History> history = chaos::ParseHistory(in);
  if (!history.ok()) {
    std::fprintf(stderr, "coordha: %s: %s\n", history_file.c_str(),
                 std::string(history.status().message()).c_str());
    return 2;
  }
  if (!timeline_dir.empty()) {
    if (absl::Status drawn = chaos::WriteTimeline(
            *history, {.title = "coordha chaos — " + history_file}, timeline_dir);
        !drawn.ok()) {
      std::fprintf(stderr, "coordha: %s\n", std::string(drawn.message()).c_str());
      return 2;
    }
  }
  const std::vector<chaos::InvariantResult> results = chaos::Check(*history);
  std::printf("%zu operations, %zu faults in %s\n", history->ops.size(), history->faults.size(),
              history_file.c_str());
  if (!timeline_dir.empty()) std::printf("timeline in %s/timeline.html\n", timeline_dir.c_str());
  std::fputs(chaos::Report(results).c_str(), stdout);
  return chaos::AllHeld(results) ? 0 : 1;
}

}  // namespace coordha::cli
