// The chaos checker (chaos/checker.h) on hand-made histories: each invariant holds on a clean
// history and catches the violation it is for — a stale timestamp, a duplicate ID, a lost DDL, a
// DDL applied twice, rows of a segment granted twice, a grant lost, an answer from a deposed
// active, a fault never recovered from.
#include "chaos/checker.h"

#include <map>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coordha::chaos {
namespace {

using ::testing::HasSubstr;
using Kind = Operation::Kind;
using Outcome = Operation::Outcome;

Operation Op(Kind kind, int client, int64_t invoke, int64_t complete, uint64_t first = 0,
             uint32_t count = 1, int64_t epoch = 10) {
  Operation op;
  op.kind = kind;
  op.client = client;
  op.invoke_us = invoke;
  op.complete_us = complete;
  op.outcome = Outcome::kOk;
  op.server_id = 1;
  op.epoch = epoch;
  op.first = first;
  op.count = count;
  return op;
}

Operation Ddl(int client, int64_t invoke, int64_t complete, const std::string& name,
              Outcome outcome = Outcome::kOk, const std::string& error = "") {
  Operation op = Op(Kind::kDdl, client, invoke, complete, 0, 1, 11);
  op.name = name;
  op.request_id = "r-" + name;
  op.outcome = outcome;
  op.error = error;
  return op;
}

// datacoord granted rows [first, first + count) of `segment`.
Operation Grant(int client, int64_t invoke, int64_t complete, int64_t segment, uint64_t first,
                uint32_t count, int64_t epoch = 20) {
  Operation op = Op(Kind::kSegment, client, invoke, complete, first, count, epoch);
  op.role = "datacoord";
  op.segment = segment;
  return op;
}

const InvariantResult& Find(const std::vector<InvariantResult>& results, const std::string& name) {
  for (const InvariantResult& r : results) {
    if (r.name == name) return r;
  }
  static const InvariantResult none;
  ADD_FAILURE() << "no invariant " << name;
  return none;
}

// A clean history: epoch 10 until the fault at 15 us, epoch 11 after it; timestamps and IDs from
// both, DDL all present, the fault recovered from.
History Clean() {
  History h;
  h.ops.push_back(Op(Kind::kTimestamp, 1, 0, 10, 100, 5));
  h.ops.push_back(Op(Kind::kTimestamp, 2, 5, 12, 105, 1));  // concurrent with the first
  h.ops.push_back(Op(Kind::kTimestamp, 1, 20, 30, 200, 1, 11));
  h.ops.push_back(Op(Kind::kId, 1, 0, 10, 1000, 10));
  h.ops.push_back(Op(Kind::kId, 2, 0, 10, 1010, 10));
  h.ops.push_back(Ddl(1, 40, 50, "c-1"));
  h.ops.push_back(Ddl(2, 40, 60, "c-2", Outcome::kUnknown));  // may or may not have applied
  h.faults.push_back(Fault{
      .kind = "kill9", .target = "rootcoord-1", .role = "rootcoord", .at_us = 15, .bound_ms = 1});
  h.final_collections = std::set<std::string>{"c-1"};
  return h;
}

// Clean() plus datacoord: two segments, grants from epochs 20 and 21, all kept at the end.
History WithSegments() {
  History h = Clean();
  h.ops.push_back(Grant(1, 0, 10, 7, 0, 100));
  h.ops.push_back(Grant(2, 5, 12, 7, 100, 50));
  h.ops.push_back(Grant(1, 20, 30, 8, 0, 10, 21));
  h.final_segment_rows = std::map<int64_t, int64_t>{{7, 150}, {8, 10}};
  return h;
}

TEST(ChaosChecker, CleanHistoryPassesEveryInvariant) {
  std::vector<InvariantResult> results = Check(Clean());
  EXPECT_TRUE(AllHeld(results)) << Report(results);
  EXPECT_THAT(Report(results), HasSubstr("6 passed, 0 failed"));
}

TEST(ChaosChecker, WithoutDatacoordTheSegmentInvariantsAreSkipped) {
  const std::vector<InvariantResult> results = Check(Clean());
  EXPECT_TRUE(Find(results, "segment-rows-once").skipped);
  EXPECT_TRUE(Find(results, "segment-rows-kept").skipped);
}

TEST(ChaosChecker, CleanHistoryWithSegmentsPassesEveryInvariant) {
  const std::vector<InvariantResult> results = Check(WithSegments());
  EXPECT_TRUE(AllHeld(results)) << Report(results);
  EXPECT_THAT(Report(results), HasSubstr("8 passed, 0 failed"));
}

TEST(ChaosChecker, RowsGrantedTwiceAreCaught) {
  History h = WithSegments();
  // A deposed datacoord granting from its stale row count: rows 120..129 again.
  h.ops.push_back(Grant(3, 40, 45, 7, 120, 10));
  const std::vector<InvariantResult> results = Check(h);
  const InvariantResult& r = Find(results, "segment-rows-once");
  ASSERT_EQ(r.violations.size(), 1u) << Report(results);
  EXPECT_THAT(r.violations[0], HasSubstr("segment 7"));
}

TEST(ChaosChecker, GrantLostByTheEndIsCaught) {
  History h = WithSegments();
  (*h.final_segment_rows)[7] = 100;  // the grant of rows 100..149 was answered, never persisted
  h.final_segment_rows->erase(8);
  const std::vector<InvariantResult> results = Check(h);
  const InvariantResult& r = Find(results, "segment-rows-kept");
  ASSERT_EQ(r.violations.size(), 2u) << Report(results);
  EXPECT_THAT(Report(results), HasSubstr("rows up to 150"));
  EXPECT_THAT(Report(results), HasSubstr("segment 8 granted to"));
}

TEST(ChaosChecker, EtcdFaultEndangersEveryRole) {
  History h = WithSegments();
  // etcd restarted at 60 us: rootcoord answered again at once, datacoord never did.
  h.faults.push_back(Fault{.kind = "etcd-restart", .target = "etcd", .at_us = 60, .bound_ms = 1});
  h.ops.push_back(Op(Kind::kTimestamp, 1, 70, 80, 300, 1, 11));
  h.ops.push_back(Op(Kind::kTimestamp, 1, 3000, 3010, 301, 1, 11));  // the run goes on past 1 ms
  const std::vector<InvariantResult> results = Check(h);
  const InvariantResult& r = Find(results, "faults-recover");
  ASSERT_EQ(r.violations.size(), 1u) << Report(results);
  EXPECT_THAT(r.violations[0], HasSubstr("datacoord never answered again"));
}

TEST(ChaosChecker, StaleTimestampIsCaught) {
  History h = Clean();
  // Invoked after client 1's [100, 105) completed, yet given 104: stale.
  h.ops.push_back(Op(Kind::kTimestamp, 3, 11, 13, 104, 1));
  std::vector<InvariantResult> results = Check(h);
  EXPECT_EQ(Find(results, "timestamps-rise").violations.size(), 1u) << Report(results);
  EXPECT_THAT(Report(results), HasSubstr("5 passed, 1 failed"));
}

TEST(ChaosChecker, EqualTimestampAfterCompletionIsCaught) {
  History h = Clean();
  h.ops.push_back(Op(Kind::kTimestamp, 3, 31, 32, 200, 1, 11));
  const std::vector<InvariantResult> results = Check(h);
  EXPECT_EQ(Find(results, "timestamps-rise").violations.size(), 1u) << Report(results);
}

TEST(ChaosChecker, DuplicateIdIsCaught) {
  History h = Clean();
  h.ops.push_back(Op(Kind::kId, 3, 20, 25, 1015, 1, 11));  // inside client 2's [1010, 1020)
  const std::vector<InvariantResult> results = Check(h);
  EXPECT_EQ(Find(results, "ids-unique").violations.size(), 1u) << Report(results);
}

TEST(ChaosChecker, UnacknowledgedOperationsPromiseNothing) {
  History h = Clean();
  Operation lost = Op(Kind::kId, 3, 20, 25, 1015, 1);
  lost.outcome = Outcome::kUnknown;
  h.ops.push_back(lost);
  EXPECT_TRUE(AllHeld(Check(h)));
}

TEST(ChaosChecker, LostDdlIsCaught) {
  History h = Clean();
  h.ops.push_back(Ddl(3, 70, 80, "c-3"));  // acknowledged, but not in the final catalog
  const std::vector<InvariantResult> results = Check(h);
  const InvariantResult& r = Find(results, "ddl-present");
  ASSERT_EQ(r.violations.size(), 1u);
  EXPECT_THAT(r.violations[0], HasSubstr("c-3"));
}

TEST(ChaosChecker, DdlAppliedTwiceIsCaught) {
  History h = Clean();
  // c-1's request, retried after an unknown outcome, answered ALREADY_EXISTS: not deduplicated.
  h.ops.push_back(Ddl(1, 55, 58, "c-1", Outcome::kFailed, "ALREADY_EXISTS"));
  const std::vector<InvariantResult> results = Check(h);
  EXPECT_EQ(Find(results, "ddl-once").violations.size(), 1u) << Report(results);
}

TEST(ChaosChecker, NoFinalCatalogSkipsDdlPresent) {
  History h = Clean();
  h.final_collections.reset();
  std::vector<InvariantResult> results = Check(h);
  EXPECT_TRUE(Find(results, "ddl-present").skipped);
  EXPECT_THAT(Report(results), HasSubstr("5 passed, 0 failed"));
}

TEST(ChaosChecker, AnswerFromADeposedActiveIsCaught) {
  History h = Clean();
  // Epoch 11 answered at 30; an answer from epoch 10 to a call invoked at 35 is stale (S4).
  h.ops.push_back(Op(Kind::kId, 3, 35, 36, 5000, 1, 10));
  const std::vector<InvariantResult> results = Check(h);
  EXPECT_EQ(Find(results, "epochs-rise").violations.size(), 1u) << Report(results);
}

TEST(ChaosChecker, FaultWithoutRecoveryIsCaught) {
  History h = Clean();
  h.faults.push_back(Fault{
      .kind = "stop", .target = "rootcoord-2", .role = "rootcoord", .at_us = 60, .bound_ms = 1});
  h.ops.push_back(Op(Kind::kTimestamp, 1, 2000, 3000, 300, 1, 11));  // 2.9 ms later: too late
  const std::vector<InvariantResult> results = Check(h);
  const InvariantResult& r = Find(results, "faults-recover");
  ASSERT_EQ(r.violations.size(), 1u);
  EXPECT_THAT(r.violations[0], HasSubstr("answered again only after 2 ms"));
}

TEST(ChaosHistory, RoundTripsThroughJsonLines) {
  History h = Clean();
  std::stringstream file;
  for (const Operation& op : h.ops) file << ToJsonLine(op) << "\n";
  for (const Fault& f : h.faults) file << ToJsonLine(f) << "\n";
  file << FinalJsonLine(*h.final_collections) << "\n";
  file << SegmentsJsonLine({{7, 150}}) << "\n";
  absl::StatusOr<History> read = ParseHistory(file);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->ops.size(), h.ops.size());
  EXPECT_EQ(read->ops[0].first, 100u);
  EXPECT_EQ(read->ops[5].name, "c-1");
  EXPECT_EQ(read->ops[6].outcome, Outcome::kUnknown);
  ASSERT_EQ(read->faults.size(), 1u);
  EXPECT_EQ(read->faults[0].bound_ms, 1);
  EXPECT_EQ(*read->final_collections, std::set<std::string>{"c-1"});
  EXPECT_EQ(*read->final_segment_rows, (std::map<int64_t, int64_t>{{7, 150}}));
  EXPECT_TRUE(AllHeld(Check(*read)));
}

TEST(ChaosHistory, BadLinesNameTheLineAndTheProblem) {
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::string>>{
           {"{nope", "line 1: not a JSON object"},
           {"\n{\"type\":\"op\",\"kind\":\"tx\"}", "line 2: kind must be ts, id, ddl or seg"},
           {"{\"type\":\"op\",\"kind\":\"ts\",\"outcome\":\"ok\",\"count\":0}", "count >= 1"},
           {"{\"type\":\"op\",\"kind\":\"ts\",\"outcome\":\"ok\",\"count\":1,\"invoke_us\":5,"
            "\"complete_us\":4}",
            "complete_us is before invoke_us"},
           {"{\"type\":\"op\",\"kind\":\"id\",\"outcome\":\"ok\",\"count\":\"ten\"}", "line 1"},
           {"{\"type\":\"weather\"}", "type must be op, fault, final or segments"}}) {
    std::stringstream in(text);
    absl::StatusOr<History> read = ParseHistory(in);
    ASSERT_FALSE(read.ok()) << text;
    EXPECT_THAT(std::string(read.status().message()), HasSubstr(want)) << text;
  }
}

}  // namespace
}  // namespace coordha::chaos
