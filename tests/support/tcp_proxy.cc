#include "support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace coordha::testing {
namespace {

int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Copies from `from` to `to` until either side closes or fails.
void Pump(int from, int to) {
  char buf[16384];
  while (true) {
    const ssize_t n = read(from, buf, sizeof(buf));
    if (n <= 0) break;
    ssize_t off = 0;
    while (off < n) {
      const ssize_t w = send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
      if (w <= 0) return;
      off += w;
    }
  }
  shutdown(to, SHUT_WR);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(const std::string& target) {
  const size_t colon = target.rfind(':');
  int target_port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(target.substr(colon + 1), &target_port)) {
    return absl::InvalidArgumentError(absl::StrCat("tcp proxy: bad target '", target, "'"));
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 64) != 0) {
    if (fd >= 0) close(fd);
    return absl::InternalError(absl::StrCat("tcp proxy: listen: ", std::strerror(errno)));
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::unique_ptr<TcpProxy> proxy(new TcpProxy(fd, ntohs(addr.sin_port), target_port));
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->Accept(); });
  return proxy;
}

TcpProxy::TcpProxy(int listen_fd, int port, int target_port)
    : port_(port), target_port_(target_port), listen_fd_(listen_fd) {}

TcpProxy::~TcpProxy() { Refuse(); }

std::string TcpProxy::address() const { return absl::StrCat("127.0.0.1:", port_); }

int TcpProxy::connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return accepted_;
}

void TcpProxy::Accept() {
  while (true) {
    int listen_fd;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (refused_) return;
      listen_fd = listen_fd_;
    }
    pollfd p{.fd = listen_fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 20) <= 0) continue;
    const int client = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const int upstream = ConnectLoopback(target_port_);
    std::lock_guard<std::mutex> lock(mu_);
    if (upstream < 0 || refused_) {
      close(client);
      if (upstream >= 0) close(upstream);
      continue;
    }
    ++accepted_;
    fds_.push_back(client);
    fds_.push_back(upstream);
    pumps_.emplace_back([client, upstream] { Pump(client, upstream); });
    pumps_.emplace_back([client, upstream] { Pump(upstream, client); });
  }
}

void TcpProxy::Refuse() {
  std::vector<std::thread> pumps;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (refused_) return;
    refused_ = true;
  }
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    close(listen_fd_);
    listen_fd_ = -1;
    // SO_LINGER 0: close sends RST, as a firewall's reject rule would.
    for (int fd : fds_) {
      linger l{.l_onoff = 1, .l_linger = 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
      shutdown(fd, SHUT_RDWR);
    }
    pumps.swap(pumps_);
  }
  for (std::thread& t : pumps) t.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : fds_) close(fd);
  fds_.clear();
}

}  // namespace coordha::testing
