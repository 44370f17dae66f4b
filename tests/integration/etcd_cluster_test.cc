// Tests of the real-etcd fixture itself (support/etcd_cluster.h), through etcdctl only.
#include "support/etcd_cluster.h"

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/subprocess.h"

namespace coordha::testing {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<EtcdCluster> StartOrDie(const EtcdClusterOptions& options) {
  absl::StatusOr<std::unique_ptr<EtcdCluster>> cluster = EtcdCluster::Start(options);
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? *std::move(cluster) : nullptr;
}

// etcdctl with exactly the given flags, so a test can leave out what the fixture would add.
CommandResult RawEtcdctl(const std::vector<std::string>& flags_and_args) {
  std::vector<std::string> argv = {"etcdctl"};
  argv.insert(argv.end(), flags_and_args.begin(), flags_and_args.end());
  absl::StatusOr<CommandResult> result = RunCommand(argv, Deadline::In(std::chrono::seconds(30)));
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : CommandResult{};
}

bool ProcessExists(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

TEST(EtcdClusterTest, SingleMember_AnswersPutAndGet) {
  std::unique_ptr<EtcdCluster> etcd = StartOrDie({});
  ASSERT_NE(etcd, nullptr);
  EXPECT_EQ(etcd->size(), 1);
  ASSERT_EQ(etcd->ClientEndpoints().size(), 1u);
  EXPECT_THAT(etcd->ClientEndpoint(0), HasSubstr("127.0.0.1:"));
  EXPECT_TRUE(etcd->running(0));
  EXPECT_GT(etcd->pid(0), 0);

  absl::StatusOr<std::string> put = etcd->Etcdctl({"put", "greeting", "hello"});
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(*put, "OK\n");
  absl::StatusOr<std::string> get = etcd->Etcdctl({"get", "greeting", "--print-value-only"});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(*get, "hello\n");
  EXPECT_THAT(etcd->LogTail(0, 1000), HasSubstr("serving client traffic"));
}

TEST(EtcdClusterTest, Destruction_KillsMembersAndRemovesDir) {
  std::unique_ptr<EtcdCluster> etcd = StartOrDie({});
  ASSERT_NE(etcd, nullptr);
  const pid_t pid = etcd->pid(0);
  const std::string dir = etcd->dir();
  ASSERT_TRUE(std::filesystem::exists(dir + "/member-0.log"));
  ASSERT_TRUE(etcd->Pause(0).ok());  // a stopped member must die too

  etcd.reset();
  EXPECT_FALSE(ProcessExists(pid)) << "etcd pid " << pid << " outlived its cluster";
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(EtcdClusterTest, StopThenRestart_KeepsDataAndEndpoint) {
  std::unique_ptr<EtcdCluster> etcd = StartOrDie({});
  ASSERT_NE(etcd, nullptr);
  const std::string endpoint = etcd->ClientEndpoint(0);
  ASSERT_TRUE(etcd->Etcdctl({"put", "k", "before-stop"}).ok());

  ASSERT_TRUE(etcd->Stop(0).ok());
  EXPECT_FALSE(etcd->running(0));
  EXPECT_EQ(etcd->pid(0), 0);
  EXPECT_EQ(etcd->Stop(0).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(etcd->Kill(0).code(), absl::StatusCode::kFailedPrecondition);

  absl::Status restarted = etcd->Restart(0);
  ASSERT_TRUE(restarted.ok()) << restarted;
  EXPECT_EQ(etcd->ClientEndpoint(0), endpoint);
  EXPECT_EQ(etcd->Restart(0).code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<std::string> get = etcd->Etcdctl({"get", "k", "--print-value-only"});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(*get, "before-stop\n");
}

TEST(EtcdClusterTest, PausedMember_AnswersNothingUntilResumed) {
  std::unique_ptr<EtcdCluster> etcd = StartOrDie({});
  ASSERT_NE(etcd, nullptr);
  ASSERT_TRUE(etcd->Etcdctl({"put", "k", "v"}).ok());

  ASSERT_TRUE(etcd->Pause(0).ok());
  EXPECT_TRUE(etcd->running(0));
  EXPECT_TRUE(etcd->Pause(0).ok());  // already paused
  absl::StatusOr<std::string> while_paused =
      etcd->Etcdctl({"--dial-timeout=300ms", "--command-timeout=300ms", "get", "k"});
  EXPECT_FALSE(while_paused.ok()) << "a paused etcd answered: " << *while_paused;

  ASSERT_TRUE(etcd->Resume(0).ok());
  absl::StatusOr<std::string> get = etcd->Etcdctl({"get", "k", "--print-value-only"});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(*get, "v\n");
}

TEST(EtcdClusterTest, ThreeMembers_SurviveKilledMemberWhichRejoinsOnRestart) {
  std::unique_ptr<EtcdCluster> etcd = StartOrDie({.members = 3});
  ASSERT_NE(etcd, nullptr);
  const std::vector<std::string> endpoints = etcd->ClientEndpoints();
  ASSERT_EQ(endpoints.size(), 3u);
  EXPECT_EQ(std::set<std::string>(endpoints.begin(), endpoints.end()).size(), 3u);

  ASSERT_TRUE(etcd->Kill(2).ok());
  EXPECT_FALSE(etcd->running(2));
  // If m2 led, a put that m0 forwarded to it is lost and times out; m0 and m1 elect a new leader
  // within an election timeout or two, after which a put succeeds.
  const Deadline deadline = Deadline::In(std::chrono::seconds(20));
  absl::StatusOr<std::string> put;
  do {
    put = etcd->EtcdctlAt(0, {"--command-timeout=1s", "put", "k", "written-without-m2"});
  } while (!put.ok() && !deadline.Expired());
  ASSERT_TRUE(put.ok()) << put.status();

  absl::Status restarted = etcd->Restart(2);
  ASSERT_TRUE(restarted.ok()) << restarted;
  // A linearizable read through the restarted member: it has rejoined and caught up.
  absl::StatusOr<std::string> get = etcd->EtcdctlAt(2, {"get", "k", "--print-value-only"});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(*get, "written-without-m2\n");
}

TEST(EtcdClusterTest, TlsWithClientCertAuth_EtcdctlNeedsTheClientCert) {
  std::unique_ptr<EtcdCluster> etcd = StartOrDie({.tls = true, .client_cert_auth = true});
  ASSERT_NE(etcd, nullptr);
  for (const std::string& file :
       {etcd->ca_file(), etcd->client_cert_file(), etcd->client_key_file()}) {
    EXPECT_TRUE(std::filesystem::exists(file)) << file;
  }
  absl::StatusOr<std::string> put = etcd->Etcdctl({"put", "k", "over-tls"});
  ASSERT_TRUE(put.ok()) << put.status();

  const std::string url = "https://" + etcd->ClientEndpoint(0);
  CommandResult without_cert =
      RawEtcdctl({"--endpoints=" + url, "--cacert=" + etcd->ca_file(), "--dial-timeout=500ms",
                  "--command-timeout=500ms", "get", "k"});
  EXPECT_FALSE(without_cert.succeeded()) << without_cert.out;

  CommandResult with_cert = RawEtcdctl(
      {"--endpoints=" + url, "--cacert=" + etcd->ca_file(), "--cert=" + etcd->client_cert_file(),
       "--key=" + etcd->client_key_file(), "get", "k", "--print-value-only"});
  EXPECT_TRUE(with_cert.succeeded()) << with_cert.DescribeExit() << ": " << with_cert.err;
  EXPECT_EQ(with_cert.out, "over-tls\n");
}

TEST(EtcdClusterTest, Auth_EtcdctlWithoutUserIsRefused) {
  std::unique_ptr<EtcdCluster> etcd =
      StartOrDie({.root_password = "s3cret", .auth_token_ttl_seconds = 60});
  ASSERT_NE(etcd, nullptr);
  absl::StatusOr<std::string> put = etcd->Etcdctl({"put", "k", "v"});
  ASSERT_TRUE(put.ok()) << put.status();

  const std::string endpoints = "--endpoints=http://" + etcd->ClientEndpoint(0);
  CommandResult anonymous = RawEtcdctl({endpoints, "get", "k"});
  EXPECT_FALSE(anonymous.succeeded());
  EXPECT_THAT(anonymous.err, HasSubstr("user name is empty"));

  CommandResult wrong_password = RawEtcdctl({endpoints, "--user=root:wrong", "get", "k"});
  EXPECT_FALSE(wrong_password.succeeded());
  EXPECT_THAT(wrong_password.err, HasSubstr("authentication failed"));

  CommandResult root =
      RawEtcdctl({endpoints, "--user=root:s3cret", "get", "k", "--print-value-only"});
  EXPECT_TRUE(root.succeeded()) << root.DescribeExit() << ": " << root.err;
  EXPECT_EQ(root.out, "v\n");
}

TEST(EtcdClusterTest, Start_RejectsBadOptions) {
  EXPECT_EQ(EtcdCluster::Start({.members = 0}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EtcdCluster::Start({.client_cert_auth = true}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EtcdCluster::Start({.heartbeat_ms = 100, .election_ms = 200}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(EtcdClusterTest, Start_ReportsAMemberThatCannotStart) {
  absl::StatusOr<std::unique_ptr<EtcdCluster>> cluster =
      EtcdCluster::Start({.etcd_binary = "/bin/false"});
  ASSERT_FALSE(cluster.ok());
  EXPECT_THAT(cluster.status().message(), HasSubstr("etcd member 0"));
  EXPECT_THAT(cluster.status().message(), HasSubstr("exited with code 1"));
}

TEST(FreeLoopbackPortTest, HandsOutDistinctPorts) {
  std::set<int> ports;
  for (int i = 0; i < 50; ++i) {
    const int port = FreeLoopbackPort();
    ASSERT_GT(port, 0);
    EXPECT_TRUE(ports.insert(port).second) << "port " << port << " handed out twice";
  }
}

TEST(RunCommandTest, CapturesOutputAndExit) {
  absl::StatusOr<CommandResult> result = RunCommand({"sh", "-c", "echo out; echo err >&2; exit 3"},
                                                    Deadline::In(std::chrono::seconds(10)));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->out, "out\n");
  EXPECT_EQ(result->err, "err\n");
  EXPECT_FALSE(result->succeeded());
  EXPECT_EQ(result->DescribeExit(), "exited with code 3");

  absl::StatusOr<CommandResult> slow =
      RunCommand({"sleep", "10"}, Deadline::In(std::chrono::milliseconds(100)));
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded);

  EXPECT_EQ(RunCommand({"no-such-command-coordha"}, Deadline::In(std::chrono::seconds(1)))
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace coordha::testing
