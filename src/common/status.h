// Status helpers shared by every module.
//
// Errors travel as absl::Status / absl::StatusOr<T> across module boundaries. The message names the
// thing that failed and, where there is one, the fix ("etcd.endpoints: 'x:y' is not host:port").
//
// One code has a project-wide meaning beyond absl's: kUnknown is reserved for "outcome unknown" — a
// write whose request may or may not have been applied (a timeout, a connection lost after the
// request left). A caller that gets it must re-read before deciding anything (DESIGN.md §4 S1).
#ifndef COORDHA_COMMON_STATUS_H_
#define COORDHA_COMMON_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coordha {

// A write that may or may not have taken effect. `what` says which write and why it is unknown.
absl::Status OutcomeUnknownError(absl::string_view what);

// True for errors made by OutcomeUnknownError (and only those).
bool IsOutcomeUnknown(const absl::Status& status);

// Returns `status` with `context` prepended to its message ("context: message"); keeps the code
// and the payloads (IsOutcomeUnknown, session::IsFenced still hold).
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace coordha

#define COORDHA_STATUS_CONCAT_INNER_(a, b) a##b
#define COORDHA_STATUS_CONCAT_(a, b) COORDHA_STATUS_CONCAT_INNER_(a, b)

// Returns from the current function if `expr` (an absl::Status) is not OK.
#define COORDHA_RETURN_IF_ERROR(expr)                                             \
  do {                                                                            \
    if (absl::Status _coordha_st = (expr); !_coordha_st.ok()) return _coordha_st; \
  } while (false)

// `lhs` = the value of `rexpr` (an absl::StatusOr<T>), or returns its error.
#define COORDHA_ASSIGN_OR_RETURN(lhs, rexpr) \
  COORDHA_ASSIGN_OR_RETURN_IMPL_(COORDHA_STATUS_CONCAT_(_coordha_so_, __LINE__), lhs, rexpr)
#define COORDHA_ASSIGN_OR_RETURN_IMPL_(so, lhs, rexpr) \
  auto so = (rexpr);                                   \
  if (!so.ok()) return std::move(so).status();         \
  lhs = std::move(so).value()

#endif  // COORDHA_COMMON_STATUS_H_
