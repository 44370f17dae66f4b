// Shared bits of the etcd client's integration tests.
#ifndef COORDHA_TESTS_INTEGRATION_ETCD_TEST_UTIL_H_
#define COORDHA_TESTS_INTEGRATION_ETCD_TEST_UTIL_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "etcd/client.h"
#include "etcd/watcher.h"
#include "gtest/gtest.h"
#include "support/etcd_cluster.h"

namespace coordha::testing {

// Client options for every member of `cluster`, with short timeouts so failures show fast.
inline etcd::ClientOptions OptionsFor(const EtcdCluster& cluster) {
  etcd::ClientOptions o;
  o.endpoints = cluster.ClientEndpoints();
  o.dial_timeout = std::chrono::milliseconds(500);
  o.read_attempt_timeout = std::chrono::seconds(1);
  return o;
}

// How long a test waits for an event before it fails. Not a performance bound: only a guard so a
// broken build fails instead of hanging.
inline Deadline TestDeadline() { return Deadline::In(std::chrono::seconds(60)); }

// A test with its own single-member etcd and a client connected to it.
class RealEtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = EtcdCluster::Start({});
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    auto client = etcd::Client::Connect(OptionsFor(*cluster_));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  std::unique_ptr<EtcdCluster> cluster_;
  std::unique_ptr<etcd::Client> client_;
};

// Creates `key` exactly once, retrying through errors until `deadline`: put-if-absent, so a retry
// after an unknown outcome can never write twice.
inline absl::Status CreateOnce(etcd::Client& client, const std::string& key, Deadline deadline) {
  absl::Status last;
  while (!deadline.Expired()) {
    etcd::Txn txn;
    txn.compares.push_back(etcd::Compare::Version(key, etcd::Compare::Op::kEqual, 0));
    txn.success.push_back(etcd::TxnOp::Put(key, "v"));
    auto r = client.Commit(txn);
    if (r.ok()) return absl::OkStatus();  // created now, or by an earlier unknown attempt
    last = r.status();
  }
  return last;
}

// Collects watch events and lets a test wait for a count.
class EventLog {
 public:
  void Add(const std::vector<etcd::WatchEvent>& events) {
    {
      MutexLock lock(&mu_);
      for (const auto& e : events) events_.push_back(e);
    }
    added_.SignalAll();
  }
  // True once `n` events arrived before `deadline`.
  bool AwaitCount(size_t n, Deadline deadline) {
    MutexLock lock(&mu_);
    return added_.Await(
        &mu_,
        [&] {
          mu_.AssertHeld();
          return events_.size() >= n;
        },
        deadline);
  }
  std::vector<etcd::WatchEvent> Events() {
    MutexLock lock(&mu_);
    return events_;
  }
  // How often each key was seen in a put event.
  std::map<std::string, int> PutCounts() {
    MutexLock lock(&mu_);
    std::map<std::string, int> counts;
    for (const auto& e : events_) {
      if (e.type == etcd::WatchEvent::Type::kPut) ++counts[e.kv.key];
    }
    return counts;
  }

 private:
  Mutex mu_;
  CondVar added_;
  std::vector<etcd::WatchEvent> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace coordha::testing

#endif  // COORDHA_TESTS_INTEGRATION_ETCD_TEST_UTIL_H_
