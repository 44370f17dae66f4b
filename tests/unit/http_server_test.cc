// Unit tests of the metrics port's HTTP server: routing, methods, HEAD, query strings, garbage and
// vanishing clients, the default-port fallback, Stop, concurrency, and the /metrics rendering.
// Everything runs on 127.0.0.1 with ports chosen by the kernel.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "http/metrics.h"
#include "http/server.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace coordha::http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kLoopback[] = "127.0.0.1";

// A connected client socket; closed on destruction.
class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    // A bound on every read so a server bug fails the test instead of hanging it.
    timeval tv{.tv_sec = 10, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, kLoopback, &addr.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  void Send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

  // Everything the server sends until it closes the connection.
  std::string ReadAll() {
    std::string out;
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// A parsed response.
struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
};

Reply Parse(const std::string& raw) {
  Reply r;
  size_t head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) return r;
  r.status = std::stoi(raw.substr(9, 3));
  size_t pos = raw.find("\r\n") + 2;
  while (pos < head_end) {
    size_t eol = raw.find("\r\n", pos);
    std::string line = raw.substr(pos, eol - pos);
    size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = line.substr(colon + 2);
    pos = eol + 2;
  }
  r.body = raw.substr(head_end + 4);
  return r;
}

// Sends `request` verbatim and returns the parsed response.
Reply Exchange(int port, const std::string& request) {
  Client client(port);
  EXPECT_TRUE(client.connected());
  client.Send(request);
  return Parse(client.ReadAll());
}

Reply Get(int port, const std::string& target, const std::string& method = "GET") {
  return Exchange(port, method + " " + target + " HTTP/1.1\r\nHost: test\r\nUser-Agent: t\r\n\r\n");
}

ServerOptions Loopback(int port = 0, bool port_is_default = false) {
  return ServerOptions{.host = kLoopback, .port = port, .port_is_default = port_is_default};
}

std::map<std::string, Handler> Routes() {
  return {
      {"/healthz", [] { return Response{.body = "ok\n"}; }},
      {"/status",
       [] { return Response{.content_type = "application/json", .body = R"({"role":"x"})"}; }},
      {"/active", [] { return Response{.status = 503, .body = "standby\n"}; }},
      {"/throws", []() -> Response { throw std::runtime_error("boom"); }},
  };
}

std::unique_ptr<Server> StartOrDie(const ServerOptions& options = Loopback(),
                                   std::map<std::string, Handler> routes = Routes()) {
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options, std::move(routes));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

// A socket listening on 127.0.0.1 on a kernel-chosen port, standing in for another process.
class PortHolder {
 public:
  PortHolder() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::inet_pton(AF_INET, kLoopback, &addr.sin_addr);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~PortHolder() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(HttpServer, ServesRoutesWithLengthAndConnectionClose) {
  auto server = StartOrDie();
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->port(), 0);
  EXPECT_FALSE(server->fell_back());

  Reply r = Get(server->port(), "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_EQ(r.headers["content-length"], "3");
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_EQ(r.headers["content-type"], "text/plain; charset=utf-8");

  r = Get(server->port(), "/status");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.body, R"({"role":"x"})");

  r = Get(server->port(), "/active");  // a handler's own status passes through
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "standby\n");
}

TEST(HttpServer, UnknownPathIs404) {
  auto server = StartOrDie();
  Reply r = Get(server->port(), "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("/nope"));
  EXPECT_EQ(r.headers["content-length"], std::to_string(r.body.size()));
  EXPECT_EQ(Get(server->port(), "/healthz/").status, 404);  // exact match only
}

TEST(HttpServer, MethodsOtherThanGetAndHeadAre405) {
  auto server = StartOrDie();
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
    Reply r = Get(server->port(), "/healthz", method);
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.headers["allow"], "GET, HEAD") << method;
  }
}

TEST(HttpServer, HeadHasContentLengthButNoBody) {
  auto server = StartOrDie();
  Reply r = Get(server->port(), "/healthz", "HEAD");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-length"], "3");
  EXPECT_EQ(r.body, "");
  r = Get(server->port(), "/nope", "HEAD");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "");
}

TEST(HttpServer, QueryStringAndFragmentAreIgnored) {
  auto server = StartOrDie();
  EXPECT_EQ(Get(server->port(), "/healthz?verbose=1&x=y").body, "ok\n");
  EXPECT_EQ(Get(server->port(), "/healthz?").body, "ok\n");
  EXPECT_EQ(Get(server->port(), "/healthz#top").body, "ok\n");
  EXPECT_EQ(Get(server->port(), "http://host:9091/healthz?x=1").body, "ok\n");  // absolute-form
  EXPECT_EQ(Get(server->port(), "/nope?/healthz").status, 404);
}

TEST(HttpServer, AcceptsHttp10AndBareNewlines) {
  auto server = StartOrDie();
  EXPECT_EQ(Exchange(server->port(), "GET /healthz HTTP/1.0\r\n\r\n").status, 200);
  EXPECT_EQ(Exchange(server->port(), "GET /healthz HTTP/1.1\nHost: x\n\n").status, 200);
}

TEST(HttpServer, GetWithABodyIsAnsweredInFull) {
  auto server = StartOrDie();
  Reply r = Exchange(server->port(),
                     "GET /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                     "GET /status HTTP/1.1\r\n\r\n");  // a pipelined request is not answered
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
}

TEST(HttpServer, HandlerThatThrowsIs500AndServerKeepsServing) {
  auto server = StartOrDie();
  Reply r = Get(server->port(), "/throws");
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, HasSubstr("boom"));
  EXPECT_EQ(Get(server->port(), "/healthz").status, 200);
}

TEST(HttpServer, GarbageIs400AndServerKeepsServing) {
  auto server = StartOrDie();
  const int port = server->port();
  for (const std::string& garbage : std::vector<std::string>{
           "\r\n\r\n", "GET\r\n\r\n", "GET /healthz\r\n\r\n", "GET  /healthz HTTP/1.1\r\n\r\n",
           "GET /healthz HTTP/1.1 extra\r\n\r\n", "G(T /healthz HTTP/1.1\r\n\r\n",
           "GET healthz HTTP/1.1\r\n\r\n", "GET /healthz FTP/1.0\r\n\r\n",
           std::string("GET /heal\0thz HTTP/1.1\r\n\r\n", 26),
           std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15)}) {
    EXPECT_EQ(Exchange(port, garbage).status, 400) << garbage;
  }
  EXPECT_EQ(Exchange(port, "GET /healthz HTTP/2.0\r\n\r\n").status, 505);
  EXPECT_EQ(Exchange(port, "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n").status, 431);
  EXPECT_EQ(Get(port, "/healthz").status, 200);
}

TEST(HttpServer, ClientsThatVanishDoNotHurtTheServer) {
  std::map<std::string, Handler> routes = Routes();
  routes["/big"] = [] { return Response{.body = std::string(16 << 20, 'x')}; };
  auto server = StartOrDie(Loopback(), std::move(routes));
  const int port = server->port();
  {
    Client silent(port);  // connects and closes without a byte
  }
  {
    Client partial(port);  // closes mid request line
    partial.Send("GET /heal");
  }
  {
    // Asks for a large body and closes without reading it: the server's send fails with EPIPE or
    // ECONNRESET, which must not raise SIGPIPE.
    Client rude(port);
    rude.Send("GET /big HTTP/1.1\r\n\r\n");
  }
  EXPECT_EQ(Get(port, "/healthz").status, 200);
}

TEST(HttpServer, LargeBodyArrivesWhole) {
  const std::string big(4 << 20, 'x');
  auto server = StartOrDie(Loopback(), {{"/big", [&big] { return Response{.body = big}; }}});
  Reply r = Get(server->port(), "/big");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-length"], std::to_string(big.size()));
  EXPECT_EQ(r.body.size(), big.size());
  EXPECT_EQ(r.body, big);
}

TEST(HttpServer, SlowClientGets408AndDelaysOthersAtMostTheIoTimeout) {
  auto server = StartOrDie();
  const int port = server->port();
  Client slow(port);
  slow.Send("GET /healthz HTTP/1.1\r\n");  // never finishes its head
  const auto start = std::chrono::steady_clock::now();
  Reply fast = Get(port, "/healthz");  // queued behind the slow client
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(fast.status, 200);
  EXPECT_LT(waited, Server::kIoTimeout + std::chrono::seconds(3));
  EXPECT_EQ(Parse(slow.ReadAll()).status, 408);
}

TEST(HttpServer, DefaultPortTakenFallsBackToAFreePort) {
  PortHolder taken;
  auto server = StartOrDie(Loopback(taken.port(), /*port_is_default=*/true));
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->fell_back());
  EXPECT_NE(server->port(), taken.port());
  EXPECT_GT(server->port(), 0);
  EXPECT_EQ(Get(server->port(), "/healthz").status, 200);
}

TEST(HttpServer, DefaultPortFreeIsUsedWithoutFallback) {
  auto server = StartOrDie(Loopback(0, /*port_is_default=*/true));
  EXPECT_FALSE(server->fell_back());
}

TEST(HttpServer, ExplicitPortTakenIsAnErrorNamingThePort) {
  PortHolder taken;
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(Loopback(taken.port(), /*port_is_default=*/false), Routes());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(server.status().message(),
              HasSubstr("metrics port " + std::to_string(taken.port()) + " is taken"));
  EXPECT_THAT(server.status().message(), HasSubstr("metrics.port"));
}

TEST(HttpServer, BadHostOrPortIsInvalidArgument) {
  for (const char* host : {"not-an-ip", "", "256.0.0.1", "localhost:1"}) {
    absl::StatusOr<std::unique_ptr<Server>> server =
        Server::Start(ServerOptions{.host = host, .port = 0}, Routes());
    ASSERT_FALSE(server.ok()) << host;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << host;
    EXPECT_THAT(server.status().message(), HasSubstr(std::string("'") + host + "'"));
  }
  for (int port : {-1, 65536}) {
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(Loopback(port), Routes());
    ASSERT_FALSE(server.ok()) << port;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << port;
  }
}

TEST(HttpServer, ServesOnIpv6Loopback) {
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(ServerOptions{.host = "::1", .port = 0}, Routes());
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << server.status();
  EXPECT_GT((*server)->port(), 0);
}

TEST(HttpServer, StopTwiceThenDestroyIsSafeAndClosesThePort) {
  auto server = StartOrDie();
  const int port = server->port();
  server->Stop();
  server->Stop();
  Client after(port);
  EXPECT_FALSE(after.connected());
  server.reset();
}

TEST(HttpServer, StopIsPromptWhileAClientHoldsAConnection) {
  auto server = StartOrDie();
  Client idle(server->port());
  idle.Send("GET /healthz HTTP/1.1\r\n");  // the server waits for the rest
  const auto start = std::chrono::steady_clock::now();
  server->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, Server::kIoTimeout);
  EXPECT_EQ(idle.ReadAll(), "");  // abandoned, not answered
}

TEST(HttpServer, ConcurrentRequestsFromSeveralThreadsAreAllAnswered) {
  std::atomic<int> calls{0};
  auto server = StartOrDie(Loopback(), {{"/count", [&calls] {
                                           int n = ++calls;
                                           return Response{.body = std::to_string(n)};
                                         }}});
  const int port = server->port();
  constexpr int kThreads = 6;
  constexpr int kRequestsPerThread = 30;
  std::atomic<int> ok{0};
  {
    std::vector<std::jthread> clients;
    for (int t = 0; t < kThreads; ++t) {
      clients.emplace_back([&, t] {
        for (int i = 0; i < kRequestsPerThread; ++i) {
          Reply r = Get(port, (t % 2 == 0 ? "/count?i=" : "/count#") + std::to_string(i));
          if (r.status == 200 && !r.body.empty()) ++ok;
        }
      });
    }
  }
  EXPECT_EQ(ok.load(), kThreads * kRequestsPerThread);
  EXPECT_EQ(calls.load(), kThreads * kRequestsPerThread);
}

TEST(HttpMetrics, RendersARegistryWithOneCounter) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildCounter()
                     .Name("coordha_test_events_total")
                     .Help("Events seen by the test.")
                     .Register(registry);
  family.Add({{"role", "rootcoord"}}).Increment(3);

  const std::string text = RenderMetrics(registry);
  EXPECT_THAT(text, HasSubstr("# HELP coordha_test_events_total Events seen by the test.\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE coordha_test_events_total counter\n"));
  EXPECT_THAT(text, HasSubstr("coordha_test_events_total{role=\"rootcoord\"} 3"));

  auto server = StartOrDie(Loopback(), {{"/metrics", MetricsHandler(registry)}});
  Reply r = Get(server->port(), "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], kMetricsContentType);
  EXPECT_EQ(r.body, text);
  EXPECT_THAT(RenderMetrics(prometheus::Registry()), Not(HasSubstr("coordha")));
}

}  // namespace
}  // namespace coordha::http
