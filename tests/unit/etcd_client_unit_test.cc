// Unit tests of the etcd client's pure parts: endpoint parsing, key ranges, error classification,
// option checks. No etcd runs here.
#include <grpcpp/support/status.h>
#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/status.h"
#include "etcd/client.h"
#include "etcd/errors.h"
#include "etcd/transport.h"

namespace coordha::etcd {
namespace {

using internal::Classify;
using internal::Failure;
using internal::ParseEndpoint;

TEST(ParseEndpoint, AcceptsHostPortWithOrWithoutScheme) {
  bool tls = true;
  EXPECT_EQ(*ParseEndpoint("127.0.0.1:2379", &tls), "127.0.0.1:2379");
  EXPECT_FALSE(tls);
  EXPECT_EQ(*ParseEndpoint("http://etcd:2379", &tls), "etcd:2379");
  EXPECT_FALSE(tls);
  EXPECT_EQ(*ParseEndpoint("https://etcd:2379/", &tls), "etcd:2379");
  EXPECT_TRUE(tls);
  EXPECT_EQ(*ParseEndpoint("[::1]:2379", &tls), "[::1]:2379");
}

TEST(ParseEndpoint, RejectsWhatIsNotHostPortWithAMessageNamingIt) {
  bool tls = false;
  for (const char* bad :
       {"x:y", "nohost", ":2379", "a:0", "a:70000", "a:", "unix:///tmp/s", "::1:2379", ""}) {
    absl::StatusOr<std::string> r = ParseEndpoint(bad, &tls);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find(std::string("'") + bad + "'"), absl::string_view::npos)
        << r.status();
  }
}

TEST(PrefixEnd, CoversExactlyTheKeysWithThePrefix) {
  EXPECT_EQ(PrefixEnd("a"), "b");
  EXPECT_EQ(PrefixEnd("by-dev/meta/"), "by-dev/meta0");
  EXPECT_EQ(PrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixEnd(""), std::string(1, '\0'));
  EXPECT_EQ(PrefixEnd(std::string("\xff\xff", 2)), std::string(1, '\0'));
}

TEST(Classify, RefusedBeforeApplyIsSafeToRetryEvenForWrites) {
  EXPECT_EQ(Classify(grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcdserver: no leader")),
            Failure::kNotApplied);
  EXPECT_EQ(Classify(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                  "failed to connect to all addresses; last error: refused")),
            Failure::kNotApplied);
  EXPECT_EQ(
      Classify(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "etcdserver: too many requests")),
      Failure::kNotApplied);
}

TEST(Classify, TimeoutsAndLostConnectionsMayHaveApplied) {
  EXPECT_EQ(Classify(grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcdserver: request timed out")),
            Failure::kMaybeApplied);
  EXPECT_EQ(Classify(grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcdserver: leader changed")),
            Failure::kMaybeApplied);
  EXPECT_EQ(Classify(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded")),
            Failure::kMaybeApplied);
  EXPECT_EQ(Classify(grpc::Status(grpc::StatusCode::UNAVAILABLE, "Socket closed")),
            Failure::kMaybeApplied);
}

TEST(Classify, ExpiredTokenMeansReauthenticate) {
  EXPECT_EQ(
      Classify(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "etcdserver: invalid auth token")),
      Failure::kBadToken);
}

TEST(Classify, EtcdAnswersAreDefinite) {
  EXPECT_EQ(
      Classify(grpc::Status(grpc::StatusCode::NOT_FOUND, "etcdserver: requested lease not found")),
      Failure::kDefinite);
  EXPECT_EQ(Classify(grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                                  "etcdserver: mvcc: required revision has been compacted")),
            Failure::kDefinite);
  EXPECT_EQ(
      Classify(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "etcdserver: permission denied")),
      Failure::kDefinite);
}

TEST(DefiniteError, NeverUsesTheOutcomeUnknownCode) {
  absl::Status s = internal::DefiniteError(grpc::Status(grpc::StatusCode::UNKNOWN, "odd"), "Txn",
                                           "127.0.0.1:2379");
  EXPECT_FALSE(IsOutcomeUnknown(s));
  EXPECT_NE(s.message().find("Txn at 127.0.0.1:2379"), absl::string_view::npos);
}

TEST(ClientCreate, RejectsBadOptionsWithoutIo) {
  ClientOptions o;
  EXPECT_EQ(Client::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.endpoints = {"127.0.0.1:2379", "bad endpoint"};
  absl::Status s = Client::Create(o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'bad endpoint'"), absl::string_view::npos) << s;
  o.endpoints = {"http://a:1", "https://b:2"};
  EXPECT_EQ(Client::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.endpoints = {"127.0.0.1:2379"};
  o.tls.cert_file = "/nonexistent/cert.pem";
  EXPECT_EQ(Client::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.tls.key_file = "/nonexistent/key.pem";
  s = Client::Create(o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("/nonexistent/cert.pem"), absl::string_view::npos) << s;
}

TEST(ClientCreate, DoesNoIoSoItWorksWhileEtcdIsDown) {
  ClientOptions o;
  o.endpoints = {"127.0.0.1:1"};
  EXPECT_TRUE(Client::Create(o).ok());
}

TEST(OutcomeUnknown, IsItsOwnCode) {
  EXPECT_TRUE(IsOutcomeUnknown(OutcomeUnknownError("Txn timed out")));
  EXPECT_FALSE(IsOutcomeUnknown(absl::UnavailableError("x")));
  EXPECT_FALSE(IsOutcomeUnknown(absl::OkStatus()));
}

TEST(Deadline, MinTreatsUnsetAsNever) {
  Deadline unset;
  Deadline soon = Deadline::In(std::chrono::seconds(1));
  Deadline later = Deadline::In(std::chrono::seconds(5));
  EXPECT_EQ(unset.Min(soon).at(), soon.at());
  EXPECT_EQ(later.Min(soon).at(), soon.at());
  EXPECT_EQ(soon.Min(unset).at(), soon.at());
  EXPECT_FALSE(unset.is_set());
  EXPECT_TRUE(Deadline::At(BootClock::now() - std::chrono::seconds(1)).Expired());
  EXPECT_EQ(Deadline::At(BootClock::now() - std::chrono::seconds(1)).Remaining(), Duration::zero());
}

TEST(BootClock, NeverGoesBackwards) {
  BootTime a = BootClock::now();
  BootTime b = BootClock::now();
  EXPECT_LE(a, b);
  EXPECT_GT(a.time_since_epoch().count(), 0);
}

}  // namespace
}  // namespace coordha::etcd
