// `coordha chaos` end to end: a short seeded run with every process nemesis (kill -9, SIGTERM,
// SIGSTOP of the active or the standby) against real rootcoord replicas and a real etcd that the
// command starts itself; every invariant of the checker holds, and the recorded history replays
// with `coordha chaos check` — which catches a duplicate ID planted into it.
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

TEST_F(ChaosTest, ShortRunWithEveryProcessNemesis_AllInvariantsHold) {
  auto run = RunCoordha(
      {"chaos", "--duration", "20s", "--seed", "11", "--nemesis", "kill9,term,stop", "--out", dir_},
      Deadline::In(std::chrono::seconds(180)));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(ExitCode(*run), 0) << run->out << run->err;
  EXPECT_THAT(run->out, HasSubstr("6 passed, 0 failed")) << run->out << run->err;
  EXPECT_THAT(run->err, HasSubstr("chaos: ")) << "no fault was injected: " << run->err;

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

TEST_F(ChaosTest, NemesesNotBuiltYetAreRefusedByName) {
  auto run = RunCoordha({"chaos", "--duration", "1s", "--nemesis", "partition", "--out", dir_},
                        Deadline::In(std::chrono::seconds(30)));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(ExitCode(*run), 2);
  EXPECT_THAT(run->err, HasSubstr("partition is not built yet"));
}

}  // namespace
}  // namespace coordha::testing
