#include "http/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"

namespace coordha::http {
namespace {

// A request head larger than this is refused (431): ours are a request line and a few headers.
constexpr size_t kMaxRequestHeadBytes = 16 * 1024;
// After accept() fails for lack of fds or memory, wait this long before trying again, so a full
// fd table does not turn the loop into a busy spin.
constexpr int kAcceptBackoffMillis = 100;

// Debian's absl::string_view is its own type, not std::string_view: absl::StrCat needs this.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string ErrnoText(int err) { return std::strerror(err); }

absl::Status SocketError(const char* call, int err) {
  return absl::InternalError(absl::StrCat("metrics server: ", call, ": ", ErrnoText(err)));
}

// Closes `fd` on scope exit unless released.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// A listening socket on `addr` (its port already set), or the errno of the call that failed.
struct ListenResult {
  int fd = -1;
  int err = 0;
  const char* call = "";
};

ListenResult BindAndListen(const sockaddr_storage& addr, socklen_t addr_len) {
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return {.err = errno, .call = "socket"};
  FdCloser closer(fd);
  // SO_REUSEADDR lets a restarted process rebind while old connections sit in TIME_WAIT. It does
  // not let two live listeners share a port (that would be SO_REUSEPORT, which we never set), so a
  // taken port is still reported as EADDRINUSE.
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return {.err = errno, .call = "setsockopt(SO_REUSEADDR)"};
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0) {
    return {.err = errno, .call = "bind"};
  }
  if (::listen(fd, SOMAXCONN) != 0) return {.err = errno, .call = "listen"};
  return {.fd = closer.release()};
}

void SetPort(sockaddr_storage& addr, int port) {
  if (addr.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(static_cast<uint16_t>(port));
  } else {
    reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(static_cast<uint16_t>(port));
  }
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

// The bytes of a complete response. For HEAD (`with_body` false) the body is left out but
// Content-Length still gives its size, as a GET would have.
std::string Serialize(const Response& r, bool with_body, std::string_view extra_headers = {}) {
  std::string out =
      absl::StrCat("HTTP/1.1 ", r.status, " ", ReasonPhrase(r.status),
                   "\r\nContent-Type: ", r.content_type, "\r\nContent-Length: ", r.body.size(),
                   "\r\n", Sv(extra_headers), "Connection: close\r\n\r\n");
  if (with_body) out += r.body;
  return out;
}

std::string ErrorResponse(int status, std::string_view message, bool with_body = true,
                          std::string_view extra_headers = {}) {
  return Serialize(Response{.status = status, .body = absl::StrCat(Sv(message), "\n")}, with_body,
                   extra_headers);
}

// Where the request head ends ("\r\n\r\n", or a bare "\n\n" from lenient clients), or npos.
size_t HeadEnd(std::string_view buf) {
  size_t crlf = buf.find("\r\n\r\n");
  size_t lf = buf.find("\n\n");
  if (crlf == std::string_view::npos && lf == std::string_view::npos) return std::string_view::npos;
  if (crlf == std::string_view::npos) return lf + 2;
  if (lf == std::string_view::npos) return crlf + 4;
  return std::min(crlf + 4, lf + 2);
}

bool IsTokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The path of a request target: origin-form ("/p?q") or absolute-form ("http://h/p?q"), without
// query or fragment. Empty when the target is neither or holds control characters.
std::string_view TargetPath(std::string_view target) {
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return {};
  }
  if (size_t scheme = target.find("://");
      !target.starts_with('/') && scheme != std::string_view::npos) {
    size_t path = target.find('/', scheme + 3);
    target = path == std::string_view::npos ? std::string_view("/") : target.substr(path);
  }
  if (!target.starts_with('/')) return {};
  return target.substr(0, target.find_first_of("?#"));
}

enum class Wait { kReady, kTimedOut, kStopped, kFailed };

// Waits until `fd` has `events`, `deadline` passes or `wake_fd` is signalled (Stop()).
Wait WaitFor(int fd, short events, int wake_fd, const Deadline& deadline) {
  for (;;) {
    if (deadline.Expired()) return Wait::kTimedOut;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline.Remaining());
    pollfd fds[2] = {{.fd = fd, .events = events, .revents = 0},
                     {.fd = wake_fd, .events = POLLIN, .revents = 0}};
    int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Wait::kFailed;
    }
    if (fds[1].revents != 0) return Wait::kStopped;
    // POLLERR/POLLHUP count as ready: the following recv/send reports what happened.
    if (fds[0].revents != 0) return Wait::kReady;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                                      std::map<std::string, Handler> routes) {
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics port ", options.port, " is out of range (0..65535)"));
  }
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(options.host.c_str(), nullptr, &hints, &found);
      rc != 0 || found == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics host '", options.host,
                     "' is not a numeric IPv4 or IPv6 address (e.g. 0.0.0.0 or ::)"));
  }
  sockaddr_storage addr{};
  socklen_t addr_len = found->ai_addrlen;
  std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);

  SetPort(addr, options.port);
  ListenResult listener = BindAndListen(addr, addr_len);
  bool fell_back = false;
  if (listener.err == EADDRINUSE && options.port_is_default && options.port != 0) {
    // DESIGN.md §2: the default port taken (a second replica on the host) is not an error.
    SetPort(addr, 0);
    listener = BindAndListen(addr, addr_len);
    fell_back = true;
  }
  if (listener.err == EADDRINUSE) {
    return absl::FailedPreconditionError(
        absl::StrCat("metrics port ", options.port, " is taken (set metrics.port to a free port)"));
  }
  if (listener.err == EACCES) {
    return absl::PermissionDeniedError(
        absl::StrCat("metrics port ", options.port,
                     " may not be bound by this user (set metrics.port to one above 1023)"));
  }
  if (listener.err == EADDRNOTAVAIL) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics host '", options.host, "' is not an address of this machine"));
  }
  if (listener.err != 0) return SocketError(listener.call, listener.err);
  FdCloser listen_closer(listener.fd);

  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  if (::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
    return SocketError("getsockname", errno);
  }
  int port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) return SocketError("eventfd", errno);

  std::unique_ptr<Server> server(
      new Server(listen_closer.release(), wake_fd, port, fell_back, std::move(routes)));
  {
    MutexLock lock(&server->stop_mu_);
    Server* s = server.get();
    server->thread_ = std::jthread([s](std::stop_token stop) { s->Serve(std::move(stop)); });
  }
  return server;
}

Server::Server(int listen_fd, int wake_fd, int port, bool fell_back,
               std::map<std::string, Handler> routes)
    : listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      port_(port),
      fell_back_(fell_back),
      routes_(std::move(routes)) {}

Server::~Server() { Stop(); }

void Server::Stop() {
  MutexLock lock(&stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  thread_.request_stop();
  // The eventfd stays readable from now on, so every poll() in the serving thread returns at once.
  uint64_t one = 1;
  while (::write(wake_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void Server::Serve(std::stop_token stop) {
  while (!stop.stop_requested()) {
    pollfd fds[2] = {{.fd = listen_fd_, .events = POLLIN, .revents = 0},
                     {.fd = wake_fd_, .events = POLLIN, .revents = 0}};
    if (::poll(fds, 2, -1) < 0) continue;  // EINTR; nothing else is expected with valid fds
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;

    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The pending connection stays queued; try again shortly (or stop).
        pollfd wake = {.fd = wake_fd_, .events = POLLIN, .revents = 0};
        ::poll(&wake, 1, kAcceptBackoffMillis);
      }
      continue;  // EAGAIN, ECONNABORTED, EINTR, ...: the client is gone, or try again
    }
    FdCloser closer(fd);
    ServeConnection(fd);
  }
}

void Server::ServeConnection(int fd) {
  std::string buf;
  size_t head_end = std::string::npos;
  bool timed_out = false;
  bool too_large = false;
  const Deadline read_deadline = Deadline::In(kIoTimeout);
  while (head_end == std::string::npos) {
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n > 0) {
      buf.append(chunk, static_cast<size_t>(n));
      head_end = HeadEnd(buf);
      if (buf.size() > kMaxRequestHeadBytes &&
          (head_end == std::string::npos || head_end > kMaxRequestHeadBytes)) {
        too_large = true;
        break;
      }
      continue;
    }
    if (n == 0) return;  // the client closed before finishing its request: nobody to answer
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return;  // reset by the client
    Wait w = WaitFor(fd, POLLIN, wake_fd_, read_deadline);
    if (w == Wait::kTimedOut) {
      if (buf.empty()) return;  // connected and said nothing: nothing to answer
      timed_out = true;
      break;
    }
    if (w != Wait::kReady) return;
  }

  std::string response;
  if (timed_out) {
    response = ErrorResponse(408, "request not received in time");
  } else if (too_large) {
    response = ErrorResponse(431, "request head too large");
  } else {
    response = Respond(std::string_view(buf).substr(0, head_end));
  }

  // Take what the client already sent beyond the head (a body, a pipelined request): closing a
  // socket with unread input makes the kernel send RST, which can destroy the response in flight.
  // Bounded, so a client streaming bytes cannot hold the thread here.
  auto drain = [fd] {
    char sink[4096];
    for (int i = 0; i < 16 && ::recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; ++i) {
    }
  };
  drain();

  const Deadline write_deadline = Deadline::In(kIoTimeout);
  std::string_view rest = response;
  while (!rest.empty()) {
    // MSG_NOSIGNAL: a client that went away yields EPIPE here, not a process-killing SIGPIPE.
    ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n > 0) {
      rest.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return;
    if (WaitFor(fd, POLLOUT, wake_fd_, write_deadline) != Wait::kReady) return;
  }
  drain();
  ::shutdown(fd, SHUT_WR);
}

std::string Server::Respond(std::string_view head) const {
  std::string_view line = head.substr(0, head.find('\n'));
  if (line.ends_with('\r')) line.remove_suffix(1);

  // request-line = method SP request-target SP HTTP-version
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return ErrorResponse(400, "malformed request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), IsTokenChar)) {
    return ErrorResponse(400, "malformed request method");
  }
  if (!version.starts_with("HTTP/")) return ErrorResponse(400, "malformed HTTP version");
  if (!version.starts_with("HTTP/1.")) {
    return ErrorResponse(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  }
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    return ErrorResponse(405, absl::StrCat("method ", Sv(method), " not allowed; use GET"),
                         /*with_body=*/true, "Allow: GET, HEAD\r\n");
  }
  std::string_view path = TargetPath(target);
  if (path.empty()) return ErrorResponse(400, "malformed request target", !head_only);

  auto route = routes_.find(std::string(path));
  if (route == routes_.end()) {
    std::string known;
    for (const auto& [p, handler] : routes_) absl::StrAppend(&known, known.empty() ? "" : ", ", p);
    return ErrorResponse(404, absl::StrCat("no such path: ", Sv(path), "; served: ", known),
                         !head_only);
  }

  // The edge where a handler's exception stops: it becomes a 500 for this client only.
  Response response;
  try {
    response = route->second();
  } catch (const std::exception& e) {
    return ErrorResponse(500, absl::StrCat("handler for ", Sv(path), " failed: ", e.what()),
                         !head_only);
  } catch (...) {
    return ErrorResponse(500, absl::StrCat("handler for ", Sv(path), " failed"), !head_only);
  }
  if (response.status < 200 || response.status > 599 ||
      response.content_type.find_first_of("\r\n") != std::string::npos) {
    return ErrorResponse(
        500, absl::StrCat("handler for ", Sv(path), " returned a malformed response"), !head_only);
  }
  return Serialize(response, !head_only);
}

}  // namespace coordha::http
