// The live status page `coordha up` serves (DESIGN.md §7, §9): who is active for each role, its
// replicas, and the last takeover of each role, refreshing every second in a browser.
//
//   GET /          one self-contained HTML page (inline CSS and JS, no external assets); its
//                  script polls /cluster every second and redraws, and shows a banner while
//                  /cluster fails
//   GET /cluster   200 with RenderJson() of the latest view `up` read; 503 with
//                  {"error": "..."} while the last read failed or before the first one
//
// The page never waits on etcd: /cluster answers from the view `up`'s loop published last (it
// reads once a second with a 1 s deadline), so a dead etcd shows as a banner, not a hung page.
//
//   COORDHA_ASSIGN_OR_RETURN(auto page, StatusPage::Start({.port = 9090}));
//   Say("status page: " + page->url());
//   page->Publish(ReadClusterView(...));   // after every read
#ifndef COORDHA_CLI_STATUS_PAGE_H_
#define COORDHA_CLI_STATUS_PAGE_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "cli/status_view.h"
#include "common/mutex.h"
#include "http/server.h"

namespace coordha::cli {

// The HTML document served at `/`: a constant, self-contained (no network needed).
std::string_view StatusPageHtml();

struct StatusPageOptions {
  // Address to bind. Default: "127.0.0.1" (the page is for the local operator).
  std::string host = "127.0.0.1";
  // TCP port. Default: 9090 (next to the metrics ports 9091+ that `up` hands out).
  // REQUIRES: 0 <= port <= 65535; 0 picks a free port.
  int port = 9090;
  // True when `port` was not given by the user: a taken port then falls back to a free one
  // (fell_back()). False: a taken port is an error. Default: true.
  bool port_is_default = true;
};

// Serves `/` and `/cluster`. Thread-safe: Publish() from any thread; the handlers run on the HTTP
// server's thread, owned by the http::Server this object owns.
class StatusPage {
 public:
  // Binds and starts serving; `/cluster` is 503 until the first Publish(). Errors:
  //   kFailedPrecondition "status page port 9090 is taken (pass --page-port with a free port)"
  //                       when an explicit port is taken;
  //   others as http::Server::Start, prefixed "status page: ".
  static absl::StatusOr<std::unique_ptr<StatusPage>> Start(const StatusPageOptions& options);

  // Stops serving (see Stop()).
  ~StatusPage();
  StatusPage(const StatusPage&) = delete;
  StatusPage& operator=(const StatusPage&) = delete;

  // The port bound, and whether it is a fallback for a taken default.
  int port() const { return server_->port(); }
  bool fell_back() const { return server_->fell_back(); }
  // "http://127.0.0.1:9090/" (a wildcard host is shown as 127.0.0.1).
  std::string url() const;

  // Makes `view` what `/cluster` answers from now on: its JSON, or its error as a 503.
  void Publish(const absl::StatusOr<ClusterView>& view);

  // Stops the HTTP server and joins its thread. Safe to call twice.
  void Stop() { server_->Stop(); }

 private:
  explicit StatusPage(std::string host) : host_(std::move(host)) {}

  // The `/cluster` handler (server thread).
  http::Response Cluster() const;

  // Constant after Start().
  const std::string host_;

  mutable Mutex mu_;
  int cluster_status_ ABSL_GUARDED_BY(mu_) = 503;
  std::string cluster_body_ ABSL_GUARDED_BY(mu_);

  // Set once by Start() before anyone else sees the object; its handlers use the members above,
  // so it is declared last (destroyed, and its thread joined, first).
  std::unique_ptr<http::Server> server_;
};

}  // namespace coordha::cli

#endif  // COORDHA_CLI_STATUS_PAGE_H_
