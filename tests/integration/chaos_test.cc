// `coordha chaos` end to end: CI's two-minute seeded run of rootcoord and datacoord (two replicas
// each) with every nemesis this machine can run
// (kill -9, SIGTERM, SIGSTOP of the active or the standby; etcd restarts and leader kills on a
// 3-member etcd; partitions and reject-partitions in network namespaces when run as root) against
// real rootcoord replicas and a real etcd that the command starts itself. Every invariant of the
// checker holds, the run leaves its timeline picture, and the recorded history replays with
// `coordha chaos check` — which catches a duplicate ID planted into it.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/coordha_process.h"

namespace coordha::testing {
namespace {

using ::testing::HasSubstr;

int ExitCode(const CommandResult& r) {
  return WIFEXITED(r.wait_status) ? WEXITSTATUS(r.wait_status) : -1;
}

class ChaosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/coordha-chaos-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (HasFailure()) return;  // keep the logs and the history
    const int removed = std::system(("rm -rf '" + dir_ + "'").c_str());
    (void)removed;
  }
  std::string dir_;
};

TEST_F(ChaosTest, TwoMinutesWithEveryNemesis_AllInvariantsHold) {
  auto run =
      RunCoordha({"chaos", "--duration", "2m", "--seed", "11", "--nemesis", "all", "--out", dir_},
                 Deadline::In(std::chrono::seconds(600)));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(ExitCode(*run), 0) << run->out << run->err;
  EXPECT_THAT(run->out, HasSubstr("8 passed, 0 failed")) << run->out << run->err;
  EXPECT_THAT(run->err, HasSubstr("chaos: kill9")) << run->err;
  EXPECT_THAT(run->err, HasSubstr("chaos: etcd-")) << run->err;
  if (geteuid() == 0) {
    EXPECT_THAT(run->err, ::testing::ContainsRegex("chaos: (partition|reject)"));
  }
  EXPECT_THAT(run->out, HasSubstr("chaos: rootcoord takeovers: ")) << run->out;
  EXPECT_THAT(run->out, HasSubstr("chaos: datacoord takeovers: ")) << run->out;
  EXPECT_THAT(run->out, ::testing::ContainsRegex("ok   segment-rows-once: [1-9]")) << run->out;
  for (const char* picture : {"/timeline.svg", "/timeline.html"}) {
    std::ifstream f(dir_ + picture);
    EXPECT_TRUE(f.good()) << picture << " missing";
  }

  // The history replays, and a duplicate ID planted into it is caught.
  const std::string history = dir_ + "/history.jsonl";
  auto check = RunCoordha({"chaos", "check", history}, Deadline::In(std::chrono::seconds(60)));
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(ExitCode(*check), 0) << check->out << check->err;
  {
    std::ofstream planted(history, std::ios::app);
    planted << R"({"type":"op","kind":"id","client":99,"invoke_us":1,"complete_us":2,)"
            << R"("outcome":"ok","first":0,"count":1000000000})"
            << "\n";
  }
  auto caught = RunCoordha({"chaos", "check", history}, Deadline::In(std::chrono::seconds(60)));
  ASSERT_TRUE(caught.ok()) << caught.status();
  EXPECT_EQ(ExitCode(*caught), 1) << caught->out;
  EXPECT_THAT(caught->out, HasSubstr("FAIL ids-unique"));
}

TEST_F(ChaosTest, UnknownNemesisIsRefusedByName) {
  auto run = RunCoordha({"chaos", "--duration", "1s", "--nemesis", "kill9,flood", "--out", dir_},
                        Deadline::In(std::chrono::seconds(30)));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(ExitCode(*run), 2);
  EXPECT_THAT(run->err, HasSubstr("--nemesis: unknown 'flood'"));
  EXPECT_EQ(run->err.find('\n'), run->err.size() - 1) << "one line: " << run->err;
}

}  // namespace
}  // namespace coordha::testing
