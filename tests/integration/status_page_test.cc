// The status page `coordha up` serves (src/cli/status_page.h), rendered by a real browser:
// Debian's headless Chromium loads the page, runs its script against `/cluster` and dumps the DOM
// it built. Against a real etcd and the real processes `up` starts.
//
// Set COORDHA_PAGE_SCREENSHOT=/path/page.png to keep a screenshot of the page after the failover.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/coordha_process.h"
#include "support/etcd_cluster.h"
#include "support/subprocess.h"

namespace coordha::testing {
namespace {

using std::chrono::seconds;

constexpr char kChromium[] = "/usr/bin/chromium";
const std::vector<std::string> kCoordinatorRoles = {"datacoord", "indexcoord", "querycoord",
                                                    "rootcoord"};

// The opening tag of the first element carrying `attribute`, or "" (in a DOM dump).
std::string TagWith(const std::string& dom, const std::string& attribute) {
  const size_t at = dom.find(attribute);
  if (at == std::string::npos) return "";
  const size_t open = dom.rfind('<', at);
  const size_t close = dom.find('>', at);
  if (open == std::string::npos || close == std::string::npos) return "";
  return dom.substr(open, close - open + 1);
}

class StatusPageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kChromium)) {
      GTEST_SKIP() << kChromium << " is missing: apt-get install --no-install-recommends chromium";
    }
    auto cluster = EtcdCluster::Start({});
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    etcd_ = *std::move(cluster);
    dir_ = etcd_->dir() + "/up";
    page_port_ = FreeLoopbackPort();
    ASSERT_NE(page_port_, 0);
    auto up = Subprocess::Start(
        {CoordhaBinary(), "up", "--dir", dir_, "--page-port", std::to_string(page_port_), "--set",
         "etcd.endpoints=" + etcd_->ClientEndpoint(0)},
        etcd_->dir() + "/up.log");
    ASSERT_TRUE(up.ok()) << up.status();
    up_ = *std::move(up);
  }

  void TearDown() override {
    if (up_ == nullptr || !up_->Running()) return;
    // SIGINT is Ctrl-C: `up` stops its coordinators gracefully, then exits 0.
    ASSERT_TRUE(up_->Signal(SIGINT).ok());
    absl::StatusOr<int> status = up_->WaitForExit(Deadline::In(seconds(30)));
    ASSERT_TRUE(status.ok()) << status.status() << "\n" << UpLog();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << DescribeWaitStatus(*status) << "\n"
        << UpLog();
  }

  std::string UpLog() const {
    std::ifstream in(etcd_->dir() + "/up.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // `/cluster` as JSON; null when it does not answer 200.
  nlohmann::json Cluster() {
    auto r = HttpGetLoopback(page_port_, "/cluster");
    if (!r.ok() || r->first != 200) return nullptr;
    return nlohmann::json::parse(r->second, nullptr, /*allow_exceptions=*/false);
  }

  // Polls `/cluster` until `done(view)` or `deadline`; returns the last view that satisfied it.
  nlohmann::json AwaitCluster(const std::function<bool(const nlohmann::json&)>& done,
                              Deadline deadline) {
    while (!deadline.Expired()) {
      nlohmann::json view = Cluster();
      if (view.is_object() && done(view)) return view;
      usleep(200'000);
    }
    return nullptr;
  }

  // Runs headless Chromium on the page with `extra` flags; returns its stdout.
  std::string Chromium(const std::vector<std::string>& extra) {
    const std::string profile = absl::StrCat(etcd_->dir(), "/chromium-", ++chromium_runs_);
    std::filesystem::create_directories(profile);
    std::vector<std::string> argv = {kChromium,
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-quic",
                                     "--no-first-run",
                                     "--disable-background-networking",
                                     "--disable-component-update",
                                     "--disable-sync",
                                     "--user-data-dir=" + profile,
                                     "--virtual-time-budget=5000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(absl::StrCat("http://127.0.0.1:", page_port_, "/"));
    absl::StatusOr<CommandResult> r = RunCommand(argv, Deadline::In(seconds(90)));
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "";
    EXPECT_TRUE(r->succeeded()) << "chromium " << r->DescribeExit() << ": " << r->err;
    return r->out;
  }

  std::unique_ptr<EtcdCluster> etcd_;
  std::string dir_;
  int page_port_ = 0;
  std::unique_ptr<Subprocess> up_;
  int chromium_runs_ = 0;
};

// Every coordinator role has an active and a standby, each session Healthy or StandBy.
bool EveryRoleActiveWithStandby(const nlohmann::json& view) {
  std::set<std::string> active, standby;
  for (const auto& s : view["sessions"]) {
    if (s["active"].get<bool>() && s["state"] == "Healthy") active.insert(s["role"]);
    if (!s["active"].get<bool>() && s["state"] == "StandBy") standby.insert(s["role"]);
  }
  for (const std::string& role : kCoordinatorRoles) {
    if (active.count(role) == 0 || standby.count(role) == 0) return false;
  }
  return true;
}

TEST_F(StatusPageTest, PageRendersActivesThenShowsKillNineFailover) {
  nlohmann::json view = AwaitCluster(EveryRoleActiveWithStandby, Deadline::In(seconds(60)));
  ASSERT_TRUE(view.is_object()) << "no active and standby for every role on /cluster\n" << UpLog();
  EXPECT_TRUE(
      absl::StrContains(UpLog(), absl::StrCat("status page: http://127.0.0.1:", page_port_, "/")))
      << UpLog();

  // The page's script ran and drew each role with its active highlighted.
  const std::string dom = Chromium({"--dump-dom"});
  for (const std::string& role : kCoordinatorRoles) {
    EXPECT_TRUE(absl::StrContains(dom, "id=\"role-" + role + "\"")) << role << "\n" << dom;
    EXPECT_NE(TagWith(dom, "data-active-of=\"" + role + "\""), "") << role << "\n" << dom;
  }
  EXPECT_TRUE(absl::StrContains(dom, "active")) << dom;
  EXPECT_FALSE(absl::StrContains(dom, "id=\"banner\" role=\"alert\" class=\"show\"")) << dom;

  // A screenshot that is a real PNG with something drawn in it.
  const std::string png_path = etcd_->dir() + "/page.png";
  Chromium({"--screenshot=" + png_path, "--window-size=1280,900"});
  std::ifstream png_file(png_path, std::ios::binary);
  const std::string png(std::istreambuf_iterator<char>(png_file), {});
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(png.size(), 10'000u);

  // kill -9 the active rootcoord: its standby proves it dead on this host and takes over.
  int64_t victim_pid = 0, victim_server = 0, old_epoch = 0;
  for (const auto& s : view["sessions"]) {
    if (s["role"] == "rootcoord" && s["active"].get<bool>()) {
      victim_pid = s["pid"];
      victim_server = s["serverId"];
      old_epoch = s["epoch"];
    }
  }
  ASSERT_GT(victim_pid, 0);
  ASSERT_EQ(kill(static_cast<pid_t>(victim_pid), SIGKILL), 0);
  auto taken_over = [&](const nlohmann::json& v) {
    for (const auto& r : v["roles"]) {
      if (r["role"] == "rootcoord" && r.contains("lastFailover")) {
        const auto& f = r["lastFailover"];
        if (f["epoch"].get<int64_t>() > old_epoch && f["cause"] == "proof" &&
            f["previousServerId"] == victim_server) {
          return true;
        }
      }
    }
    return false;
  };
  ASSERT_TRUE(AwaitCluster(taken_over, Deadline::In(seconds(60))).is_object())
      << "no proof failover of rootcoord on /cluster\n"
      << UpLog();

  std::string failover_tag;
  for (Deadline d = Deadline::In(seconds(60)); failover_tag.empty() && !d.Expired();) {
    const std::string after = Chromium({"--dump-dom"});
    const std::string tag = TagWith(after, "data-failover=\"rootcoord\"");
    if (absl::StrContains(tag, "data-cause=\"proof\"") &&
        absl::StrContains(after, absl::StrCat("took over from server ", victim_server))) {
      failover_tag = tag;
    }
  }
  EXPECT_NE(failover_tag, "") << "the page does not show the rootcoord failover";

  if (const char* keep = std::getenv("COORDHA_PAGE_SCREENSHOT"); keep != nullptr && *keep) {
    Chromium({std::string("--screenshot=") + keep, "--window-size=1280,900"});
  }

  // etcd stops answering: /cluster turns 503 within about a second and the page says so.
  ASSERT_TRUE(etcd_->Pause(0).ok());
  bool unreachable = false;
  for (Deadline d = Deadline::In(seconds(10)); !unreachable && !d.Expired(); usleep(200'000)) {
    auto r = HttpGetLoopback(page_port_, "/cluster");
    unreachable = r.ok() && r->first == 503;
  }
  EXPECT_TRUE(unreachable) << "/cluster still 200 with etcd paused";
  const std::string banner = Chromium({"--dump-dom"});
  EXPECT_TRUE(absl::StrContains(TagWith(banner, "id=\"banner\""), "show")) << banner;
  EXPECT_TRUE(absl::StrContains(banner, "Cannot read the cluster: etcd unreachable")) << banner;
  ASSERT_TRUE(etcd_->Resume(0).ok());
}

}  // namespace
}  // namespace coordha::testing
