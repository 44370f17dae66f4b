// Session records and the same-machine proof of death (S3).
#include "session/session_info.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace coordha::session {
namespace {

// Field 22 of /proc/<pid>/stat (start time in clock ticks after boot).
uint64_t StartTimeOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int k = 3; k <= 22; ++k) fields >> field;
  return std::stoull(field);
}

// A child that waits to be killed, and its identity as it would publish it.
ProcessIdentity ForkSleeper(pid_t* pid) {
  *pid = fork();
  if (*pid == 0) {
    pause();
    _exit(0);
  }
  ProcessIdentity id = SelfIdentity();  // same boot and pid namespace
  id.pid = *pid;
  id.start_time = StartTimeOf(*pid);
  return id;
}

TEST(ProvablyDeadTest, ThisProcessIsAlive_S3) { EXPECT_FALSE(ProvablyDead(SelfIdentity())); }

TEST(ProvablyDeadTest, LiveChildIsAliveKilledChildIsDeadEvenBeforeReaped_S3) {
  pid_t pid = 0;
  const ProcessIdentity child = ForkSleeper(&pid);
  ASSERT_GT(pid, 0);
  EXPECT_FALSE(ProvablyDead(child));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  // Not reaped yet: a zombie has exited (its sockets are closed): dead.
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, pid, &info, WEXITED | WNOWAIT), 0);
  EXPECT_TRUE(ProvablyDead(child));
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  EXPECT_TRUE(ProvablyDead(child));
}

TEST(ProvablyDeadTest, AnotherMachineOrNamespaceIsNeverProof_S3) {
  ProcessIdentity other = SelfIdentity();
  other.pid = 999999;  // surely not running here
  other.boot_id = "another-machine";
  EXPECT_FALSE(ProvablyDead(other));
  other = SelfIdentity();
  other.pid = 999999;
  other.pid_ns += 1;
  EXPECT_FALSE(ProvablyDead(other));
  other = SelfIdentity();
  other.pid = 999999;
  EXPECT_TRUE(ProvablyDead(other));
}

TEST(ProvablyDeadTest, ReusedPidWithAnotherStartTimeIsDead_S3) {
  ProcessIdentity reused = SelfIdentity();
  reused.start_time += 1;  // our PID, but not us: the published process is gone
  EXPECT_TRUE(ProvablyDead(reused));
}

TEST(SessionInfoTest, JsonKeepsMilvusFieldNamesAndRoundTrips) {
  SessionInfo info;
  info.server_id = 7;
  info.server_name = "rootcoord";
  info.address = "10.0.0.1:53100";
  info.lease_id = 42;
  info.process = SelfIdentity();
  info.metrics_address = "10.0.0.1:9091";
  info.state = SessionState::kHealthy;
  const std::string json = ToJson(info);
  for (const char* field : {"\"ServerID\":7", "\"ServerName\":\"rootcoord\"", "\"Address\"",
                            "\"Exclusive\"", "\"Stopping\"", "\"TriggerKill\"", "\"Version\"",
                            "\"LeaseID\":42", "\"HostName\"", "\"State\":\"Healthy\""}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " missing in " << json;
  }
  auto parsed = ParseSessionInfo(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->server_id, 7);
  EXPECT_EQ(parsed->process.pid, info.process.pid);
  EXPECT_EQ(parsed->process.start_time, info.process.start_time);
  EXPECT_EQ(parsed->state, SessionState::kHealthy);
  // A Milvus-written record (no coordha fields) parses too.
  auto milvus = ParseSessionInfo(R"({"ServerID":3,"ServerName":"rootcoord","Address":"a:1"})");
  ASSERT_TRUE(milvus.ok());
  EXPECT_EQ(milvus->server_id, 3);
  EXPECT_FALSE(ParseSessionInfo("not json").ok());
}

// Found by tests/fuzz/session_info_fuzz.cc: nlohmann converts a fraction or a number past int64
// (parsed as a double) to an integer with a static_cast, undefined out of range.
TEST(SessionInfoTest, IntegerFieldsMustBeIntegersInRange) {
  for (const char* json :
       {R"({"LeaseID":758788331822224586245})", R"({"ServerID":1e300})", R"({"Pid":1.5})",
        R"({"Priority":9223372036854775808})", R"({"PidNs":-1})", R"({"StartTime":"12"})",
        R"({"ServerID":true})", R"({"LeaseID":null})"}) {
    absl::StatusOr<SessionInfo> info = ParseSessionInfo(json);
    ASSERT_FALSE(info.ok()) << json;
    EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument) << json;
  }
  absl::StatusOr<SessionInfo> edges =
      ParseSessionInfo(R"({"ServerID":-9223372036854775808,"LeaseID":9223372036854775807,)"
                       R"("PidNs":18446744073709551615,"StartTime":0})");
  ASSERT_TRUE(edges.ok()) << edges.status();
  EXPECT_EQ(edges->server_id, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(edges->lease_id, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(edges->process.pid_ns, std::numeric_limits<uint64_t>::max());
}

}  // namespace
}  // namespace coordha::session
