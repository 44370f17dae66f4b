// TcpProxy: a loopback TCP forwarder a test can cut, to make an address refuse one client while
// the process behind it stays up and talks to everyone else (the "wrong trigger" of DESIGN.md S3).
//
//   auto proxy = TcpProxy::Start("127.0.0.1:53100");   // listens on a free loopback port
//   ... point a client at proxy->address() ...
//   proxy->Refuse();   // stop listening and reset every forwarded connection: the client sees its
//                      // connection reset and new connects refused
//
// Threads: one acceptor thread and two pump threads per connection, all owned and joined by the
// proxy (Refuse() and the destructor).
#ifndef COORDHA_TESTS_SUPPORT_TCP_PROXY_H_
#define COORDHA_TESTS_SUPPORT_TCP_PROXY_H_

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace coordha::testing {

class TcpProxy {
 public:
  // `target` is "127.0.0.1:PORT".
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(const std::string& target);
  ~TcpProxy();  // Refuse()
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  std::string address() const;  // "127.0.0.1:<listen port>"
  int connections() const;      // accepted so far
  // Closes the listener and resets every connection (RST to both ends). Safe to call twice.
  void Refuse();

 private:
  TcpProxy(int listen_fd, int port, int target_port);
  void Accept();

  const int port_;
  const int target_port_;
  mutable std::mutex mu_;
  int listen_fd_;         // -1 once refused
  std::vector<int> fds_;  // every open socket of forwarded connections
  int accepted_ = 0;
  bool refused_ = false;
  std::vector<std::thread> pumps_;
  std::thread acceptor_;
};

}  // namespace coordha::testing

#endif  // COORDHA_TESTS_SUPPORT_TCP_PROXY_H_
