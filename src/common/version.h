// coordha's version, published in every session record (`Version`) and printed by `--version`.
#ifndef COORDHA_COMMON_VERSION_H_
#define COORDHA_COMMON_VERSION_H_

namespace coordha {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace coordha

#endif  // COORDHA_COMMON_VERSION_H_
