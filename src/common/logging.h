// Logging: spdlog, plus what it needs to print our types.
//
// One line per event, with the role and server ID in the message (DESIGN.md §9). Include this
// instead of spdlog directly: Debian's absl::string_view is its own type (not std::string_view),
// and fmt needs to be told how to print it (absl::Status::message() returns one).
#ifndef COORDHA_COMMON_LOGGING_H_
#define COORDHA_COMMON_LOGGING_H_

#include "absl/strings/string_view.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(s.data(), s.size()), ctx);
  }
};

#endif  // COORDHA_COMMON_LOGGING_H_
