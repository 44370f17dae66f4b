// A small embedded HTTP/1.1 server for a coordha process's metrics port (DESIGN.md §2, §9):
// `/metrics`, `/healthz`, `/readyz`, `/active`, `/status`.
//
// Why our own: prometheus-cpp's pull Exposer (civetweb) serves only metrics paths, and the probes
// need custom ones. The server is deliberately minimal:
//   - one thread, owned by the Server, accepts and serves connections one at a time;
//   - GET and HEAD only (405 otherwise), exact path match after dropping the query string (404 for
//     unknown paths), request headers and bodies are ignored;
//   - one request per connection: every response carries `Connection: close` and Content-Length;
//   - a client gets kIoTimeout to send its request head and to take the response, so a slow or
//     stuck client delays the others at most that long;
//   - a handler that throws yields 500; garbage input yields 400; a client that disconnects is
//     dropped (no SIGPIPE).
//
// Usage:
//   COORDHA_ASSIGN_OR_RETURN(auto server, http::Server::Start(options, {
//       {"/metrics", http::MetricsHandler(registry)},
//       {"/healthz", [] { return http::Response{.body = "ok\n"}; }}}));
//   if (server->fell_back()) LOG: "metrics port 9091 is taken; serving on <server->port()>"
#ifndef COORDHA_HTTP_SERVER_H_
#define COORDHA_HTTP_SERVER_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/mutex.h"

namespace coordha::http {

// What a handler answers. For HEAD the body is dropped but Content-Length still counts it.
struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Answers a GET (or HEAD) of one path. Runs on the server thread, one call at a time, so it must
// not block for long: it delays every other request. May throw; the client then gets a 500.
using Handler = std::function<Response()>;

struct ServerOptions {
  // Address to bind: a numeric IPv4 or IPv6 address ("0.0.0.0", "127.0.0.1", "::").
  // Default: "0.0.0.0" (all IPv4 interfaces).
  std::string host = "0.0.0.0";

  // TCP port to listen on; 0 picks a free ephemeral port (for tests).
  // Default: 9091, Milvus's metrics port. REQUIRES: 0 <= port <= 65535.
  int port = 9091;

  // True when `port` is the default rather than set by the user. Then, if `port` is taken, the
  // server binds a free ephemeral port instead and reports fell_back() (the caller logs the port
  // and publishes it as MetricsAddress). False: a taken port is an error.
  // Default: true.
  bool port_is_default = true;
};

class Server {
 public:
  // How long a client has to send its request head, and to take the response.
  static constexpr std::chrono::milliseconds kIoTimeout{2000};

  // Binds `options.host:options.port`, listens and starts the serving thread. `routes` maps exact
  // paths ("/metrics") to handlers. Errors:
  //   kInvalidArgument    host is not a numeric address, or port is out of range;
  //   kFailedPrecondition the port was set explicitly and is taken ("metrics port 9091 is taken
  //                       (set metrics.port to a free port)");
  //   kPermissionDenied   binding the port is not allowed (a privileged port);
  //   kInternal           any other socket error (message names the call and errno).
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                                       std::map<std::string, Handler> routes);

  // Stops (see Stop()).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The port actually bound (differs from options.port when it was 0 or fell_back()).
  int port() const { return port_; }

  // True when the default port was taken and an ephemeral one was bound instead.
  bool fell_back() const { return fell_back_; }

  // Closes the listener, abandons any connection in progress (a handler already running finishes
  // first) and joins the serving thread. Returns once no handler is running and none will be
  // called again. Safe to call more than once, from any thread except a handler.
  void Stop();

 private:
  Server(int listen_fd, int wake_fd, int port, bool fell_back,
         std::map<std::string, Handler> routes);

  // The serving thread's loop: accept, serve, repeat until stop is requested.
  void Serve(std::stop_token stop);
  // Reads one request from `fd`, answers it. Returns when the exchange is over or stop is asked.
  void ServeConnection(int fd);
  // The response for a request head (a complete request line plus headers).
  std::string Respond(std::string_view request_head) const;

  // Constant after construction. The fds are closed by Stop() after the thread is joined.
  const int listen_fd_;
  const int wake_fd_;  // eventfd: written by Stop() so poll() in the serving thread returns at once
  const int port_;
  const bool fell_back_;
  const std::map<std::string, Handler> routes_;

  Mutex stop_mu_;  // serialises Stop() callers
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::jthread thread_ ABSL_GUARDED_BY(stop_mu_);
};

}  // namespace coordha::http

#endif  // COORDHA_HTTP_SERVER_H_
