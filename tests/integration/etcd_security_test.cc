// TLS and auth against an etcd started with them (certificates made by the fixture with openssl).
#include <gtest/gtest.h>

#include "etcd/client.h"
#include "etcd/lease_keepalive.h"
#include "etcd/watcher.h"
#include "etcd_test_util.h"
#include "support/etcd_cluster.h"

namespace coordha::testing {
namespace {

using etcd::Client;

TEST(EtcdTls, ClientCertAuthWorksWithCaCertAndKey) {
  auto cluster = EtcdCluster::Start({.tls = true, .client_cert_auth = true});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  etcd::ClientOptions o = OptionsFor(**cluster);
  o.tls.ca_file = (*cluster)->ca_file();
  o.tls.cert_file = (*cluster)->client_cert_file();
  o.tls.key_file = (*cluster)->client_key_file();
  auto client = Client::Connect(o);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Put("tls", "yes").ok());
  EventLog log;
  auto w = etcd::Watcher::Start(client->get(), "tls", {},
                                {.on_events = [&](const auto& ev) { log.Add(ev); }});
  ASSERT_TRUE(w->AwaitCreated(TestDeadline()).ok());
  ASSERT_TRUE((*client)->Put("tls", "again").ok());
  ASSERT_TRUE(log.AwaitCount(1, TestDeadline()));
}

TEST(EtcdTls, HttpsEndpointTurnsTlsOn) {
  auto cluster = EtcdCluster::Start({.tls = true});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  etcd::ClientOptions o = OptionsFor(**cluster);
  o.endpoints = {"https://" + (*cluster)->ClientEndpoint(0)};
  o.tls.ca_file = (*cluster)->ca_file();
  auto client = Client::Connect(o);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE((*client)->Get("x").ok());
}

TEST(EtcdTls, MissingClientCertOrUntrustedCaFailsClearlyWithoutHanging) {
  auto cluster = EtcdCluster::Start({.tls = true, .client_cert_auth = true});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  etcd::ClientOptions no_cert = OptionsFor(**cluster);
  no_cert.tls.ca_file = (*cluster)->ca_file();
  auto c1 = Client::Connect(no_cert);
  ASSERT_FALSE(c1.ok());
  EXPECT_EQ(c1.status().code(), absl::StatusCode::kUnavailable) << c1.status();

  etcd::ClientOptions plain = OptionsFor(**cluster);  // plaintext to a TLS port
  auto c2 = Client::Connect(plain);
  ASSERT_FALSE(c2.ok());
  EXPECT_EQ(c2.status().code(), absl::StatusCode::kUnavailable) << c2.status();

  etcd::ClientOptions missing_ca = OptionsFor(**cluster);
  missing_ca.tls.ca_file = (*cluster)->dir() + "/no-such-ca.pem";
  auto c3 = Client::Connect(missing_ca);
  ASSERT_FALSE(c3.ok());
  EXPECT_EQ(c3.status().code(), absl::StatusCode::kInvalidArgument) << c3.status();
  EXPECT_NE(c3.status().message().find("no-such-ca.pem"), absl::string_view::npos);
}

TEST(EtcdAuth, WrongPasswordIsUnauthenticatedAndNamesTheUser) {
  auto cluster = EtcdCluster::Start({.root_password = "s3cret"});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  etcd::ClientOptions o = OptionsFor(**cluster);
  o.username = "root";
  o.password = "wrong";
  auto c = Client::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated) << c.status();
  EXPECT_NE(c.status().message().find("'root'"), absl::string_view::npos);

  etcd::ClientOptions anonymous = OptionsFor(**cluster);
  auto anon = Client::Connect(anonymous);
  ASSERT_TRUE(anon.ok()) << anon.status();  // Status needs no auth
  auto put = (*anon)->Put("k", "v");
  EXPECT_FALSE(put.ok());
}

// etcd's simple tokens live in the member's memory: after an etcd restart every token is invalid,
// exactly as after expiry (etcd's TTL is sliding, so a busy client only meets expiry when idle).
// The client re-authenticates by itself; calls, the watch and the keepalive all carry on.
TEST(EtcdAuth, ReauthenticatesWhenEtcdNoLongerKnowsTheToken) {
  auto cluster = EtcdCluster::Start({.root_password = "s3cret"});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  etcd::ClientOptions o = OptionsFor(**cluster);
  o.username = "root";
  o.password = "s3cret";
  auto client = Client::Connect(o);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->stats().authentications, 1);
  ASSERT_TRUE((*client)->Put("auth/before", "v").ok());

  auto lease = (*client)->LeaseGrant(30);
  ASSERT_TRUE(lease.ok()) << lease.status();
  auto keeper = etcd::LeaseKeepAlive::Start(client->get(), *lease,
                                            {.interval = std::chrono::milliseconds(100)});
  EventLog log;
  auto w = etcd::Watcher::Start(client->get(), "auth/", {.prefix = true},
                                {.on_events = [&](const auto& ev) { log.Add(ev); }});
  ASSERT_TRUE(w->AwaitCreated(TestDeadline()).ok());
  ASSERT_TRUE(keeper->AwaitRenewals(1, TestDeadline()));

  ASSERT_TRUE((*cluster)->Stop(0).ok());
  ASSERT_TRUE((*cluster)->Restart(0).ok());

  ASSERT_TRUE(CreateOnce(**client, "auth/after", TestDeadline()).ok());
  EXPECT_GE((*client)->stats().authentications, 2);
  auto got = (*client)->Get("auth/after");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->has_value());
  // The watch re-created itself with the new token and missed nothing.
  ASSERT_TRUE(log.AwaitCount(1, TestDeadline()));
  EXPECT_EQ(log.Events()[0].kv.key, "auth/after");
  const int64_t renewals = keeper->renewals();
  ASSERT_TRUE(keeper->AwaitRenewals(renewals + 2, TestDeadline())) << keeper->loss_reason();
}

}  // namespace
}  // namespace coordha::testing
