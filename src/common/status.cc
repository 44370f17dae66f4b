#include "common/status.h"
#include "absl/strings/string_view.h"

#include "absl/strings/str_cat.h"

namespace coordha {

absl::Status OutcomeUnknownError(absl::string_view what) {
  return absl::UnknownError(absl::StrCat("outcome unknown: ", what));
}

bool IsOutcomeUnknown(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnknown;
}

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  absl::Status annotated(status.code(), absl::StrCat(context, ": ", status.message()));
  // Payloads carry meaning (outcome unknown, fenced): keep them.
  status.ForEachPayload([&annotated](absl::string_view type_url, const absl::Cord& payload) {
    annotated.SetPayload(type_url, payload);
  });
  return annotated;
}

}  // namespace coordha
