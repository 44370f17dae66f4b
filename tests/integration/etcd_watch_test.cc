// Watcher against a real etcd: every event exactly once across an etcd restart and across the
// loss of the member the watch was on; compaction reported; prev_kv; stop joins.
#include <thread>

#include <gtest/gtest.h>

#include "common/status.h"
#include "etcd/client.h"
#include "etcd/watcher.h"
#include "etcd_test_util.h"
#include "support/etcd_cluster.h"

namespace coordha::testing {
namespace {

using etcd::Client;
using etcd::Watcher;
using etcd::WatchEvent;

std::string Key(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "w/%04d", i);
  return buf;
}

// Asserts that `log` holds exactly the puts of keys [0, n), each once, in revision order.
void ExpectExactlyOnceInOrder(EventLog& log, int n) {
  std::vector<WatchEvent> events = log.Events();
  ASSERT_EQ(events.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(events[i].kv.key, Key(i)) << "event " << i;
    if (i > 0) {
      EXPECT_GT(events[i].kv.mod_revision, events[i - 1].kv.mod_revision);
    }
  }
  for (const auto& [key, count] : log.PutCounts()) EXPECT_EQ(count, 1) << key;
}

TEST(EtcdWatch, DeliversPutsAndDeletesWithPrevKv) {
  auto cluster = EtcdCluster::Start({});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto client = Client::Connect(OptionsFor(**cluster));
  ASSERT_TRUE(client.ok());
  EventLog log;
  auto w = Watcher::Start(client->get(), "w/", {.prefix = true, .prev_kv = true},
                          {.on_events = [&](const auto& ev) { log.Add(ev); }});
  auto created = w->AwaitCreated(TestDeadline());
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE((*client)->Put("other", "not watched").ok());
  ASSERT_TRUE((*client)->Put("w/a", "1").ok());
  ASSERT_TRUE((*client)->Put("w/a", "2").ok());
  ASSERT_TRUE((*client)->Delete("w/a").ok());
  ASSERT_TRUE(log.AwaitCount(3, TestDeadline()));
  auto ev = log.Events();
  EXPECT_EQ(ev[0].type, WatchEvent::Type::kPut);
  EXPECT_FALSE(ev[0].prev_kv.has_value());
  EXPECT_EQ(ev[1].kv.value, "2");
  ASSERT_TRUE(ev[1].prev_kv.has_value());
  EXPECT_EQ(ev[1].prev_kv->value, "1");
  EXPECT_EQ(ev[2].type, WatchEvent::Type::kDelete);
  EXPECT_GT(ev[2].kv.mod_revision, ev[1].kv.mod_revision);
  EXPECT_EQ(w->next_revision(), ev[2].kv.mod_revision + 1);
  EXPECT_GT(ev[0].kv.mod_revision, *created);
}

TEST(EtcdWatch, StartRevisionReplaysHistory) {
  auto cluster = EtcdCluster::Start({});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto client = Client::Connect(OptionsFor(**cluster));
  ASSERT_TRUE(client.ok());
  auto first = (*client)->Put(Key(0), "v");
  ASSERT_TRUE(first.ok());
  for (int i = 1; i < 5; ++i) ASSERT_TRUE((*client)->Put(Key(i), "v").ok());
  EventLog log;
  auto w = Watcher::Start(client->get(), "w/", {.prefix = true, .start_revision = first->revision},
                          {.on_events = [&](const auto& ev) { log.Add(ev); }});
  ASSERT_TRUE(log.AwaitCount(5, TestDeadline()));
  ExpectExactlyOnceInOrder(log, 5);
}

// Write N keys around an etcd restart: the watcher sees each exactly once, in order.
TEST(EtcdWatch, NoEventLostOrRepeatedAcrossEtcdRestart) {
  auto cluster = EtcdCluster::Start({});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto client = Client::Connect(OptionsFor(**cluster));
  ASSERT_TRUE(client.ok());
  EventLog log;
  std::atomic<int> restarts{0};
  auto w = Watcher::Start(client->get(), "w/", {.prefix = true},
                          {.on_events = [&](const auto& ev) { log.Add(ev); },
                           .on_restart = [&](const absl::Status&) { ++restarts; }});
  ASSERT_TRUE(w->AwaitCreated(TestDeadline()).ok());
  constexpr int kN = 100;
  for (int i = 0; i < kN / 2; ++i) ASSERT_TRUE((*client)->Put(Key(i), "v").ok());
  ASSERT_TRUE((*cluster)->Stop(0).ok());
  ASSERT_TRUE((*cluster)->Restart(0).ok());
  // The client may still be reconnecting: CreateOnce retries without ever writing twice.
  for (int i = kN / 2; i < kN; ++i) ASSERT_TRUE(CreateOnce(**client, Key(i), TestDeadline()).ok());
  ASSERT_TRUE(log.AwaitCount(kN, TestDeadline()));
  ExpectExactlyOnceInOrder(log, kN);
  EXPECT_GE(w->restarts(), 1);
  EXPECT_EQ(restarts.load(), w->restarts());
}

// The member the watch is on dies while another client writes through the others: the watch moves
// to a live member from the owed revision and sees every write exactly once.
TEST(EtcdWatch, NoEventLostOrRepeatedWhenItsMemberIsKilledDuringWrites) {
  auto cluster = EtcdCluster::Start({.members = 3});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto watch_client = Client::Connect(OptionsFor(**cluster));  // prefers member 0
  ASSERT_TRUE(watch_client.ok());
  etcd::ClientOptions writer_options = OptionsFor(**cluster);
  writer_options.endpoints = {(*cluster)->ClientEndpoint(1), (*cluster)->ClientEndpoint(2)};
  auto writer = Client::Connect(writer_options);
  ASSERT_TRUE(writer.ok());

  EventLog log;
  auto w = Watcher::Start(watch_client->get(), "w/", {.prefix = true},
                          {.on_events = [&](const auto& ev) { log.Add(ev); }});
  ASSERT_TRUE(w->AwaitCreated(TestDeadline()).ok());

  constexpr int kN = 300;
  std::atomic<bool> write_failed{false};
  std::thread writes([&] {
    for (int i = 0; i < kN; ++i) {
      if (!CreateOnce(**writer, Key(i), TestDeadline()).ok()) write_failed = true;
    }
  });
  ASSERT_TRUE(log.AwaitCount(kN / 4, TestDeadline()));
  ASSERT_TRUE((*cluster)->Kill(0).ok());
  writes.join();
  ASSERT_FALSE(write_failed.load());
  ASSERT_TRUE(log.AwaitCount(kN, TestDeadline()));
  ExpectExactlyOnceInOrder(log, kN);
  EXPECT_GE(w->restarts(), 1);
}

// A frozen member (SIGSTOP) keeps the TCP connection up but answers nothing: the progress probe
// notices and the watch moves to a live member.
TEST(EtcdWatch, StuckMemberIsNoticedByProgressProbeAndLeft) {
  auto cluster = EtcdCluster::Start({.members = 3});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto watch_client = Client::Connect(OptionsFor(**cluster));
  ASSERT_TRUE(watch_client.ok());
  etcd::ClientOptions writer_options = OptionsFor(**cluster);
  writer_options.endpoints = {(*cluster)->ClientEndpoint(1), (*cluster)->ClientEndpoint(2)};
  auto writer = Client::Connect(writer_options);
  ASSERT_TRUE(writer.ok());
  EventLog log;
  auto w = Watcher::Start(watch_client->get(), "w/",
                          {.prefix = true,
                           .progress_interval = std::chrono::milliseconds(200),
                           .progress_timeout = std::chrono::milliseconds(300)},
                          {.on_events = [&](const auto& ev) { log.Add(ev); }});
  ASSERT_TRUE(w->AwaitCreated(TestDeadline()).ok());
  ASSERT_TRUE((*writer)->Put(Key(0), "v").ok());
  ASSERT_TRUE(log.AwaitCount(1, TestDeadline()));
  ASSERT_TRUE((*cluster)->Pause(0).ok());
  for (int i = 1; i < 10; ++i) ASSERT_TRUE(CreateOnce(**writer, Key(i), TestDeadline()).ok());
  ASSERT_TRUE(log.AwaitCount(10, TestDeadline()));
  ASSERT_TRUE((*cluster)->Resume(0).ok());
  ExpectExactlyOnceInOrder(log, 10);
  EXPECT_GE(w->restarts(), 1);
}

TEST(EtcdWatch, CompactedStartRevisionIsReportedAndEndsTheWatch) {
  auto cluster = EtcdCluster::Start({});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto client = Client::Connect(OptionsFor(**cluster));
  ASSERT_TRUE(client.ok());
  auto first = (*client)->Put("w/a", "1");
  ASSERT_TRUE(first.ok());
  auto last = (*client)->Put("w/a", "2");
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE((*client)->Compact(last->revision).ok());

  Mutex mu;
  CondVar compacted;
  std::optional<int64_t> compacted_at;
  EventLog log;
  auto w = Watcher::Start(client->get(), "w/", {.prefix = true, .start_revision = first->revision},
                          {.on_events = [&](const auto& ev) { log.Add(ev); },
                           .on_compacted =
                               [&](int64_t rev) {
                                 MutexLock lock(&mu);
                                 compacted_at = rev;
                                 compacted.SignalAll();
                               }});
  {
    MutexLock lock(&mu);
    ASSERT_TRUE(compacted.Await(
        &mu, [&] { return compacted_at.has_value(); }, TestDeadline()));
    EXPECT_EQ(*compacted_at, last->revision);
  }
  EXPECT_TRUE(w->compacted());
  EXPECT_TRUE(log.Events().empty());
}

TEST(EtcdWatch, StartsWhileEtcdIsDownAndStopsPromptly) {
  etcd::ClientOptions o;
  o.endpoints = {"127.0.0.1:" + std::to_string(FreeLoopbackPort())};
  o.dial_timeout = std::chrono::milliseconds(100);
  auto client = Client::Create(o);
  ASSERT_TRUE(client.ok());
  auto w = Watcher::Start(client->get(), "w/", {.prefix = true}, {.on_events = [](const auto&) {}});
  EXPECT_FALSE(w->AwaitCreated(Deadline::In(std::chrono::milliseconds(300))).ok());
  w->Stop();
  w->Stop();  // twice is fine
}

}  // namespace
}  // namespace coordha::testing
