// The checker: the invariants of DESIGN.md §4 as a client can see them, over a chaos run's
// History (chaos/history.h). Issue "Chaos and correctness".
//
//   timestamps-rise   S5: an acknowledged AllocTimestamp invoked after another one completed
//                     got larger timestamps (real-time order, across failovers);
//   ids-unique        S1: no two acknowledged AllocID ranges overlap;
//   ddl-present       every acknowledged CreateCollection is in the final catalog;
//   ddl-once          no request was applied twice: a CreateCollection of a name no other
//                     request creates never answers ALREADY_EXISTS (its own earlier attempt
//                     would have been deduplicated by its request ID);
//   segment-rows-once no two acknowledged AssignSegmentID grants share a row of a segment (S1 for
//                     datacoord: one writer of each segment's row count);
//   segment-rows-kept every acknowledged grant's rows are in its segment at the end (a grant is
//                     persisted before it is answered);
//   epochs-rise       S4: no acknowledged answer carries a lower epoch of its role than an answer
//                     that completed before it was invoked (a deposed active answered);
//   faults-recover    after each fault with a bound, an operation of its role (of every role for
//                     a fault of none, such as etcd's) invoked after the fault was acknowledged
//                     within the bound.
//
// The segment invariants are skipped in a run without datacoord.
//
// Each invariant reports what it checked and every violation (one line naming the operations).
#ifndef COORDHA_CHAOS_CHECKER_H_
#define COORDHA_CHAOS_CHECKER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "chaos/history.h"

namespace coordha::chaos {

struct InvariantResult {
  std::string name;                     // "timestamps-rise", ...
  int64_t checked = 0;                  // operations (or faults) it looked at
  std::vector<std::string> violations;  // empty: it holds
  bool skipped = false;                 // nothing to check it on (e.g. no final catalog)
  std::string skip_reason;
};

// Every invariant above, in that order.
std::vector<InvariantResult> Check(const History& history);

// One line per invariant ("ok   timestamps-rise: 1234 checked", "FAIL ids-unique: 2 violations"
// then up to `max_violations` of them indented), then "N passed, M failed" (skipped ones count as
// neither). Ends with a newline.
std::string Report(const std::vector<InvariantResult>& results, int max_violations = 10);

// True when no invariant failed.
bool AllHeld(const std::vector<InvariantResult>& results);

}  // namespace coordha::chaos

#endif  // COORDHA_CHAOS_CHECKER_H_
