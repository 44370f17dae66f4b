// History: what the clients of a chaos run saw, operation by operation, and the faults injected
// meanwhile — the input of the checker (chaos/checker.h). Issue "Chaos and correctness".
//
// A history is a file of JSON lines, one record each, in any order:
//
//   {"type":"op","kind":"ts","client":3,"invoke_us":1200,"complete_us":1450,"outcome":"ok",
//    "role":"rootcoord","server_id":5,"epoch":12,"first":4711,"count":1}
//   {"type":"op","kind":"id",...,"first":1000,"count":10}                       IDs [first,
//   first+count)
//   {"type":"op","kind":"ddl",...,"name":"c-3-17","request_id":"r-3-17","error":""}
//   {"type":"op","kind":"seg","role":"datacoord",...,"segment":7,"first":200,"count":50}
//                                          datacoord granted rows [first, first+count) of segment 7
//   {"type":"fault","kind":"kill9","target":"rootcoord-1","role":"rootcoord","at_us":9000,
//    "bound_ms":2000}
//   {"type":"final","collections":["c-3-17", ...]}                              the catalog at the
//   end
//   {"type":"segments","rows":{"7":250, ...}}               datacoord's segments and their rows at
//                                                           the end
//
// Times are microseconds of one monotonic clock (CLOCK_BOOTTIME) shared by every client of the
// run. An operation's outcome is "ok" (acknowledged: its result counts), "failed" (certainly not
// applied: a refusal) or "unknown" (a timeout or a lost connection: it may have applied).
// `error` carries the server's code of a failed DDL ("ALREADY_EXISTS", ...).
#ifndef COORDHA_CHAOS_HISTORY_H_
#define COORDHA_CHAOS_HISTORY_H_

#include <cstdint>
#include <istream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace coordha::chaos {

struct Operation {
  enum class Kind { kTimestamp, kId, kDdl, kSegment };
  enum class Outcome { kOk, kFailed, kUnknown };

  Kind kind = Kind::kTimestamp;
  int client = 0;
  int64_t invoke_us = 0;    // when the client sent it
  int64_t complete_us = 0;  // when the client had its answer (or gave up)
  Outcome outcome = Outcome::kUnknown;
  std::string role = "rootcoord";  // the coordinator role that answered
  int64_t server_id = 0;           // who answered (ok only)
  int64_t epoch = 0;               // the answer's epoch (ok only)
  uint64_t first = 0;              // ts: the first timestamp; id: the first ID; seg: the first row
  uint32_t count = 0;              // how many timestamps, IDs or rows
  int64_t segment = 0;             // seg: the segment the rows were granted in
  std::string name;                // ddl: the collection it creates (unique per request)
  std::string request_id;          // ddl: the idempotency key, the same on every retry
  std::string error;               // ddl: the server's code when it failed
};

struct Fault {
  std::string kind;    // "kill9", "term", "stop", "etcd-restart", "partition", ...
  std::string target;  // "rootcoord-1", "etcd-0", ...
  std::string role;    // the coordinator role whose service it endangers; "" for none
  int64_t at_us = 0;   // when it was injected
  // A serving active of `role` must answer within this many ms of `at_us`; 0: not checked.
  int64_t bound_ms = 0;
};

struct History {
  std::vector<Operation> ops;
  std::vector<Fault> faults;
  // The collections in the catalog at the end of the run; unset when the run could not read it.
  std::optional<std::set<std::string>> final_collections;
  // datacoord's segments at the end (ID -> rows granted); unset when not read.
  std::optional<std::map<int64_t, int64_t>> final_segment_rows;
};

// One JSON line (no newline) per record.
std::string ToJsonLine(const Operation& op);
std::string ToJsonLine(const Fault& fault);
std::string FinalJsonLine(const std::set<std::string>& collections);
std::string SegmentsJsonLine(const std::map<int64_t, int64_t>& rows);

// Reads a history. Errors: kInvalidArgument naming the line and what is wrong with it.
absl::StatusOr<History> ParseHistory(std::istream& in);

const char* KindName(Operation::Kind kind);
const char* OutcomeName(Operation::Outcome outcome);

}  // namespace coordha::chaos

#endif  // COORDHA_CHAOS_HISTORY_H_
