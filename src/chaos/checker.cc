#include "chaos/checker.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"

namespace coordha::chaos {
namespace {

using Kind = Operation::Kind;
using Outcome = Operation::Outcome;

std::string Describe(const Operation& op) {
  return absl::StrCat(KindName(op.kind), " of client ", op.client, " [", op.invoke_us, "us, ",
                      op.complete_us, "us] from server ", op.server_id, " epoch ", op.epoch);
}

std::vector<const Operation*> Acknowledged(const History& h, Kind kind) {
  std::vector<const Operation*> out;
  for (const Operation& op : h.ops) {
    if (op.kind == kind && op.outcome == Outcome::kOk) out.push_back(&op);
  }
  return out;
}

// For each op in invoke order, `visit(op, best)` with the op that completed before it was
// invoked and maximizes `key` (null when none did).
template <typename Key, typename Visit>
void RealTimeSweep(std::vector<const Operation*> ops, Key key, Visit visit) {
  std::vector<const Operation*> by_complete = ops;
  std::sort(by_complete.begin(), by_complete.end(),
            [](const Operation* a, const Operation* b) { return a->complete_us < b->complete_us; });
  std::sort(ops.begin(), ops.end(),
            [](const Operation* a, const Operation* b) { return a->invoke_us < b->invoke_us; });
  const Operation* best = nullptr;
  size_t next = 0;
  for (const Operation* op : ops) {
    while (next < by_complete.size() && by_complete[next]->complete_us < op->invoke_us) {
      if (best == nullptr || key(*by_complete[next]) > key(*best)) best = by_complete[next];
      ++next;
    }
    visit(*op, best);
  }
}

InvariantResult TimestampsRise(const History& h) {
  InvariantResult r{.name = "timestamps-rise"};
  std::vector<const Operation*> ops = Acknowledged(h, Kind::kTimestamp);
  r.checked = static_cast<int64_t>(ops.size());
  RealTimeSweep(
      ops, [](const Operation& op) { return op.first + op.count - 1; },
      [&](const Operation& op, const Operation* before) {
        if (before == nullptr) return;
        const uint64_t last = before->first + before->count - 1;
        if (op.first <= last) {
          r.violations.push_back(absl::StrCat(Describe(op), " got timestamp ", op.first,
                                              ", not above ", last, " that ", Describe(*before),
                                              " had already returned"));
        }
      });
  return r;
}

InvariantResult IdsUnique(const History& h) {
  InvariantResult r{.name = "ids-unique"};
  std::vector<const Operation*> ops = Acknowledged(h, Kind::kId);
  r.checked = static_cast<int64_t>(ops.size());
  std::sort(ops.begin(), ops.end(),
            [](const Operation* a, const Operation* b) { return a->first < b->first; });
  for (size_t i = 1; i < ops.size(); ++i) {
    const Operation& prev = *ops[i - 1];
    if (ops[i]->first < prev.first + prev.count) {
      r.violations.push_back(absl::StrCat(
          "IDs [", ops[i]->first, ", ", ops[i]->first + ops[i]->count, ") of ", Describe(*ops[i]),
          " overlap [", prev.first, ", ", prev.first + prev.count, ") of ", Describe(prev)));
    }
  }
  return r;
}

InvariantResult DdlPresent(const History& h) {
  InvariantResult r{.name = "ddl-present"};
  if (!h.final_collections.has_value()) {
    r.skipped = true;
    r.skip_reason = "the run recorded no final catalog";
    return r;
  }
  for (const Operation* op : Acknowledged(h, Kind::kDdl)) {
    ++r.checked;
    if (!h.final_collections->contains(op->name)) {
      r.violations.push_back(absl::StrCat("collection '", op->name, "' created by ", Describe(*op),
                                          " (request ", op->request_id,
                                          ") is missing from the final catalog"));
    }
  }
  return r;
}

InvariantResult DdlOnce(const History& h) {
  InvariantResult r{.name = "ddl-once"};
  std::map<std::string, std::set<std::string>> requests_by_name;
  for (const Operation& op : h.ops) {
    if (op.kind == Kind::kDdl) requests_by_name[op.name].insert(op.request_id);
  }
  for (const Operation& op : h.ops) {
    if (op.kind != Kind::kDdl) continue;
    ++r.checked;
    if (op.outcome == Outcome::kFailed && op.error == "ALREADY_EXISTS" &&
        requests_by_name[op.name].size() == 1) {
      r.violations.push_back(absl::StrCat("request ", op.request_id, " for '", op.name,
                                          "' answered ALREADY_EXISTS to ", Describe(op),
                                          ": an earlier attempt applied and the retry was not "
                                          "recognised"));
    }
  }
  return r;
}

InvariantResult EpochsRise(const History& h) {
  InvariantResult r{.name = "epochs-rise"};
  std::map<std::string, std::vector<const Operation*>> by_role;
  for (const Operation& op : h.ops) {
    if (op.outcome == Outcome::kOk) by_role[op.role].push_back(&op);
  }
  for (const auto& entry : by_role) {
    const std::string& role = entry.first;  // not a binding: clang 14 cannot capture one
    const std::vector<const Operation*>& ops = entry.second;
    r.checked += static_cast<int64_t>(ops.size());
    RealTimeSweep(
        ops, [](const Operation& op) { return op.epoch; },
        [&](const Operation& op, const Operation* before) {
          if (before != nullptr && op.epoch < before->epoch) {
            r.violations.push_back(absl::StrCat(role, ": ", Describe(op),
                                                " answered from an older epoch than ",
                                                Describe(*before), " (a deposed active answered)"));
          }
        });
  }
  return r;
}

InvariantResult FaultsRecover(const History& h) {
  InvariantResult r{.name = "faults-recover"};
  int64_t end_us = 0;
  std::set<std::string> roles;
  for (const Operation& op : h.ops) {
    end_us = std::max(end_us, op.complete_us);
    roles.insert(op.role);
  }
  for (const Fault& fault : h.faults) {
    if (fault.bound_ms <= 0) continue;
    const int64_t bound_us = fault.bound_ms * 1000;
    // A fault of no role (etcd's) endangers every role.
    const std::set<std::string> endangered =
        fault.role.empty() ? roles : std::set<std::string>{fault.role};
    for (const std::string& role : endangered) {
      int64_t first_answer = std::numeric_limits<int64_t>::max();
      for (const Operation& op : h.ops) {
        if (op.outcome == Outcome::kOk && op.role == role && op.invoke_us > fault.at_us) {
          first_answer = std::min(first_answer, op.complete_us);
        }
      }
      if (first_answer == std::numeric_limits<int64_t>::max() && end_us < fault.at_us + bound_us) {
        continue;  // the run ended before the bound: nothing to judge
      }
      ++r.checked;
      if (first_answer - fault.at_us > bound_us) {
        r.violations.push_back(
            absl::StrCat(fault.kind, " of ", fault.target, " at ", fault.at_us, "us: ", role,
                         first_answer == std::numeric_limits<int64_t>::max()
                             ? std::string(" never answered again")
                             : absl::StrCat(" answered again only after ",
                                            (first_answer - fault.at_us) / 1000, " ms"),
                         " (bound ", fault.bound_ms, " ms)"));
      }
    }
  }
  return r;
}

// Acknowledged row grants, by segment, in row order.
std::map<int64_t, std::vector<const Operation*>> GrantsBySegment(const History& h) {
  std::map<int64_t, std::vector<const Operation*>> by_segment;
  for (const Operation* op : Acknowledged(h, Kind::kSegment)) by_segment[op->segment].push_back(op);
  for (auto& entry : by_segment) {
    std::sort(entry.second.begin(), entry.second.end(),
              [](const Operation* a, const Operation* b) { return a->first < b->first; });
  }
  return by_segment;
}

InvariantResult SegmentRowsOnce(const History& h) {
  InvariantResult r{.name = "segment-rows-once"};
  if (Acknowledged(h, Kind::kSegment).empty()) {
    r.skipped = true;
    r.skip_reason = "no acknowledged datacoord grant";
    return r;
  }
  for (const auto& entry : GrantsBySegment(h)) {
    const std::vector<const Operation*>& grants = entry.second;
    r.checked += static_cast<int64_t>(grants.size());
    for (size_t i = 1; i < grants.size(); ++i) {
      const Operation& prev = *grants[i - 1];
      if (grants[i]->first < prev.first + prev.count) {
        r.violations.push_back(absl::StrCat("segment ", entry.first, ": rows [", grants[i]->first,
                                            ", ", grants[i]->first + grants[i]->count, ") of ",
                                            Describe(*grants[i]), " overlap [", prev.first, ", ",
                                            prev.first + prev.count, ") of ", Describe(prev)));
      }
    }
  }
  return r;
}

InvariantResult SegmentRowsKept(const History& h) {
  InvariantResult r{.name = "segment-rows-kept"};
  if (Acknowledged(h, Kind::kSegment).empty()) {
    r.skipped = true;
    r.skip_reason = "no acknowledged datacoord grant";
    return r;
  }
  if (!h.final_segment_rows.has_value()) {
    r.skipped = true;
    r.skip_reason = "the run recorded no final segments";
    return r;
  }
  for (const auto& entry : GrantsBySegment(h)) {
    const auto found = h.final_segment_rows->find(entry.first);
    for (const Operation* grant : entry.second) {
      ++r.checked;
      const int64_t end = static_cast<int64_t>(grant->first + grant->count);
      if (found == h.final_segment_rows->end()) {
        r.violations.push_back(absl::StrCat("segment ", entry.first, " granted to ",
                                            Describe(*grant), " is missing at the end"));
      } else if (found->second < end) {
        r.violations.push_back(absl::StrCat("segment ", entry.first, " has ", found->second,
                                            " rows at the end, but rows up to ", end,
                                            " were granted to ", Describe(*grant)));
      }
    }
  }
  return r;
}

}  // namespace

std::vector<InvariantResult> Check(const History& history) {
  return {TimestampsRise(history), IdsUnique(history),       DdlPresent(history),
          DdlOnce(history),        SegmentRowsOnce(history), SegmentRowsKept(history),
          EpochsRise(history),     FaultsRecover(history)};
}

bool AllHeld(const std::vector<InvariantResult>& results) {
  return std::all_of(results.begin(), results.end(),
                     [](const InvariantResult& r) { return r.violations.empty(); });
}

std::string Report(const std::vector<InvariantResult>& results, int max_violations) {
  std::string out;
  int passed = 0, failed = 0;
  for (const InvariantResult& r : results) {
    if (r.skipped) {
      absl::StrAppend(&out, "skip ", r.name, ": ", r.skip_reason, "\n");
      continue;
    }
    if (r.violations.empty()) {
      ++passed;
      absl::StrAppend(&out, "ok   ", r.name, ": ", r.checked, " checked\n");
      continue;
    }
    ++failed;
    absl::StrAppend(&out, "FAIL ", r.name, ": ", r.violations.size(), " violations in ", r.checked,
                    " checked\n");
    for (int i = 0; i < static_cast<int>(r.violations.size()) && i < max_violations; ++i) {
      absl::StrAppend(&out, "     ", r.violations[static_cast<size_t>(i)], "\n");
    }
  }
  absl::StrAppend(&out, passed, " passed, ", failed, " failed\n");
  return out;
}

}  // namespace coordha::chaos
