// The Gate every coordinator RPC passes (DESIGN.md §6), over real Replicas and a real etcd: a
// standby refuses with NOT_ACTIVE and the active's address; the active admits; a caller that names
// another server or saw a newer epoch is refused (S4).
#include "coordinator/gate.h"

#include "etcd_test_util.h"
#include "gtest/gtest.h"
#include "session/replica.h"

namespace coordha::coordinator {
namespace {

using coordha::testing::EtcdCluster;
using coordha::testing::OptionsFor;
using coordha::testing::TestDeadline;
using session::ReplicaState;
using session::ReplicaStatus;

class NoHooks final : public session::ReplicaHooks {
 public:
  absl::Status Activate(const session::Leadership&, Deadline) override { return absl::OkStatus(); }
  void Deactivate() override {}
};

class GateTest : public coordha::testing::RealEtcdTest {
 protected:
  std::unique_ptr<session::Replica> StartReplica(const std::string& address) {
    session::ReplicaOptions o;
    o.role = "rootcoord";
    o.active_standby_key = "rootCoord.enableActiveStandby";
    o.keys = session::Keys("by-dev/meta");
    o.info.address = address;
    o.session = {.ttl_seconds = 2, .serve_grant = std::chrono::milliseconds(500)};
    auto replica = session::Replica::Create(client_.get(), o, &hooks_);
    replica->Start();
    return replica;
  }

  NoHooks hooks_;
};

TEST_F(GateTest, StandbyRefusesWithNotActiveAndTheActivesAddress) {
  auto active = StartReplica("10.0.0.1:53100");
  ASSERT_TRUE(active->AwaitStatus(
      [](const ReplicaStatus& s) { return s.state == ReplicaState::kActive; }, TestDeadline()));
  auto standby = StartReplica("10.0.0.2:53100");
  ASSERT_TRUE(standby->AwaitStatus(
      [](const ReplicaStatus& s) { return s.state == ReplicaState::kStandby; }, TestDeadline()));

  Gate active_gate(active.get());
  Gate standby_gate(standby.get());
  EXPECT_TRUE(active_gate.Admit({}).ok());
  EXPECT_EQ(active_gate.State(), v1::Healthy);
  v1::ReplyHeader header;
  active_gate.Stamp(&header);
  EXPECT_EQ(header.epoch(), active->status().epoch);
  EXPECT_EQ(header.server_id(), active->status().server_id);

  const grpc::Status refused = standby_gate.Admit({});
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  const v1::ErrorDetail detail = DetailOf(refused);
  EXPECT_EQ(detail.code(), v1::NOT_ACTIVE);
  EXPECT_EQ(detail.active_address(), "10.0.0.1:53100");
  EXPECT_EQ(detail.active_server_id(), active->status().server_id);
  EXPECT_EQ(standby_gate.State(), v1::StandBy);
  standby->Stop(TestDeadline());
  active->Stop(TestDeadline());
}

TEST_F(GateTest, CallsForAnotherServerOrFromANewerEpochAreRefused_S4) {
  auto active = StartReplica("10.0.0.1:53100");
  ASSERT_TRUE(active->AwaitStatus(
      [](const ReplicaStatus& s) { return s.state == ReplicaState::kActive; }, TestDeadline()));
  Gate gate(active.get());
  const ReplicaStatus status = active->status();

  v1::RequestHeader other_server;
  other_server.set_target_server_id(status.server_id + 100);
  EXPECT_EQ(DetailOf(gate.Admit(other_server)).code(), v1::SERVER_ID_MISMATCH);

  v1::RequestHeader newer_epoch;
  newer_epoch.set_known_epoch(status.epoch + 1);
  const grpc::Status fenced = gate.Admit(newer_epoch);
  EXPECT_EQ(DetailOf(fenced).code(), v1::FENCED) << fenced.error_message();

  v1::RequestHeader current;
  current.set_target_server_id(status.server_id);
  current.set_known_epoch(status.epoch);
  EXPECT_TRUE(gate.Admit(current).ok());
  active->Stop(TestDeadline());
}

TEST_F(GateTest, StoppingActiveRefusesWithStopping_L1) {
  auto active = StartReplica("10.0.0.1:53100");
  ASSERT_TRUE(active->AwaitStatus(
      [](const ReplicaStatus& s) { return s.state == ReplicaState::kActive; }, TestDeadline()));
  Gate gate(active.get());
  active->BeginStop();
  EXPECT_EQ(DetailOf(gate.Admit({})).code(), v1::STOPPING);
  EXPECT_EQ(gate.State(), v1::Stopping);
  active->Stop(TestDeadline());
}

}  // namespace
}  // namespace coordha::coordinator
