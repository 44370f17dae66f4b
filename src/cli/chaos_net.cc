#include "cli/chaos_net.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/child_process.h"
#include "common/clock.h"
#include "common/status.h"

namespace coordha::cli {
namespace {

constexpr char kChain[] = "COORDHA-CHAOS";
constexpr auto kCommandTimeout = std::chrono::seconds(20);

// The output of a shell-free command, for listings ("" when it fails).
std::string Capture(const std::string& command) {
  std::string out;
  FILE* f = popen(command.c_str(), "r");
  if (f == nullptr) return out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), f)) > 0;) out.append(buf, n);
  pclose(f);
  return out;
}

bool PidAlive(int64_t pid) {
  struct stat st;
  return stat(absl::StrCat("/proc/", pid).c_str(), &st) == 0;
}

// The pid in a name "<prefix><pid>[-...]"; 0 when it has none.
int64_t PidIn(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix, 0) != 0) return 0;
  const std::string rest = name.substr(prefix.size());
  int64_t pid = 0;
  return absl::SimpleAtoi(rest.substr(0, rest.find('-')), &pid) ? pid : 0;
}

}  // namespace

ChaosNet::ChaosNet(std::string log_file, std::string tag, std::string subnet, int hosts)
    : log_file_(std::move(log_file)),
      tag_(std::move(tag)),
      subnet_(std::move(subnet)),
      hosts_(hosts),
      gateway_ip_(subnet_ + "1") {}

absl::Status ChaosNet::CanRun() {
  if (geteuid() != 0) {
    return absl::FailedPreconditionError(
        "the partition and reject nemeses make network namespaces and need root: run as root, or "
        "leave them out of --nemesis");
  }
  for (const char* tool : {"ip", "iptables"}) {
    if (!FindInPath(tool, {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}).has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the partition and reject nemeses need `", tool,
                       "`: apt-get install iproute2 iptables (scripts/install-deps.sh does)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ChaosNet>> ChaosNet::Create(int hosts, const std::string& log_file) {
  COORDHA_RETURN_IF_ERROR(CanRun());
  const std::optional<std::string> ip =
      FindInPath("ip", {"/usr/sbin", "/sbin", "/usr/bin", "/bin"});
  const std::optional<std::string> iptables =
      FindInPath("iptables", {"/usr/sbin", "/sbin", "/usr/bin", "/bin"});
  const int64_t pid = getpid();
  const std::string subnet = absl::StrCat("10.", 200 + (pid / 250) % 50, ".", pid % 250 + 1, ".");
  std::unique_ptr<ChaosNet> net(new ChaosNet(log_file, absl::StrCat(pid), subnet, hosts));
  net->ip_ = *ip;
  net->iptables_ = *iptables;

  // What a SIGKILLed run left behind.
  const std::vector<std::string> namespaces =
      absl::StrSplit(Capture(*ip + " netns list 2>/dev/null"), '\n', absl::SkipEmpty());
  for (const std::string& line : namespaces) {
    const std::string name = line.substr(0, line.find(' '));
    const int64_t owner = PidIn(name, "chn");
    if (owner != 0 && !PidAlive(owner)) (void)net->Run({*ip, "netns", "delete", name});
  }
  const std::vector<std::string> bridges = absl::StrSplit(
      Capture(*ip + " -o link show type bridge 2>/dev/null"), '\n', absl::SkipEmpty());
  for (const std::string& line : bridges) {
    std::vector<std::string> fields = absl::StrSplit(line, ": ");
    if (fields.size() < 2) continue;
    const int64_t owner = PidIn(fields[1], "chb");
    if (owner != 0 && !PidAlive(owner)) (void)net->Run({*ip, "link", "delete", fields[1]});
  }

  const std::string bridge = "chb" + net->tag_;
  COORDHA_RETURN_IF_ERROR(net->Run({*ip, "link", "add", bridge, "type", "bridge"}));
  net->bridge_made_ = true;
  COORDHA_RETURN_IF_ERROR(net->Run({*ip, "addr", "add", net->gateway_ip_ + "/24", "dev", bridge}));
  COORDHA_RETURN_IF_ERROR(net->Run({*ip, "link", "set", bridge, "up"}));
  for (int i = 0; i < hosts; ++i) {
    const std::string ns = absl::StrCat("chn", net->tag_, "-", i);
    const std::string outside = absl::StrCat("chv", net->tag_, "h", i);
    const std::string inside = absl::StrCat("chv", net->tag_, "p", i);
    COORDHA_RETURN_IF_ERROR(net->Run({*ip, "netns", "add", ns}));
    net->namespaces_.push_back(ns);
    COORDHA_RETURN_IF_ERROR(
        net->Run({*ip, "link", "add", outside, "type", "veth", "peer", "name", inside}));
    COORDHA_RETURN_IF_ERROR(net->Run({*ip, "link", "set", inside, "netns", ns}));
    COORDHA_RETURN_IF_ERROR(net->Run({*ip, "link", "set", outside, "master", bridge}));
    COORDHA_RETURN_IF_ERROR(net->Run({*ip, "link", "set", outside, "up"}));
    COORDHA_RETURN_IF_ERROR(net->RunIn(i, {*ip, "link", "set", "lo", "up"}));
    COORDHA_RETURN_IF_ERROR(
        net->RunIn(i, {*ip, "addr", "add", net->host_ip(i) + "/24", "dev", inside}));
    COORDHA_RETURN_IF_ERROR(net->RunIn(i, {*ip, "link", "set", inside, "up"}));
    COORDHA_RETURN_IF_ERROR(net->RunIn(i, {*iptables, "-N", kChain}));
    COORDHA_RETURN_IF_ERROR(net->RunIn(i, {*iptables, "-A", "INPUT", "-j", kChain}));
    COORDHA_RETURN_IF_ERROR(net->RunIn(i, {*iptables, "-A", "OUTPUT", "-j", kChain}));
  }
  return net;
}

ChaosNet::~ChaosNet() {
  for (const std::string& ns : namespaces_) (void)Run({ip_, "netns", "delete", ns});
  if (bridge_made_) (void)Run({ip_, "link", "delete", "chb" + tag_});
}

std::string ChaosNet::host_ip(int i) const { return absl::StrCat(subnet_, 10 + i); }

std::vector<std::string> ChaosNet::Prefix(int i) const {
  return {ip_, "netns", "exec", namespaces_.at(i)};
}

absl::Status ChaosNet::Cut(int i, const std::vector<int>& etcd_ports, bool reject) {
  const std::vector<std::string> verdict =
      reject ? std::vector<std::string>{"REJECT", "--reject-with", "tcp-reset"}
             : std::vector<std::string>{"DROP"};
  auto rule = [&](std::vector<std::string> match) {
    std::vector<std::string> argv = {iptables_, "-A", kChain};
    argv.insert(argv.end(), match.begin(), match.end());
    argv.push_back("-j");
    argv.insert(argv.end(), verdict.begin(), verdict.end());
    return RunIn(i, std::move(argv));
  };
  for (int port : etcd_ports) {
    const std::string p = absl::StrCat(port);
    COORDHA_RETURN_IF_ERROR(rule({"-p", "tcp", "-d", gateway_ip_, "--dport", p}));
    COORDHA_RETURN_IF_ERROR(rule({"-p", "tcp", "-s", gateway_ip_, "--sport", p}));
  }
  for (int peer = 0; peer < hosts_; ++peer) {
    if (peer == i) continue;
    COORDHA_RETURN_IF_ERROR(rule({"-p", "tcp", "-d", host_ip(peer)}));
    COORDHA_RETURN_IF_ERROR(rule({"-p", "tcp", "-s", host_ip(peer)}));
  }
  return absl::OkStatus();
}

absl::Status ChaosNet::Heal(int i) { return RunIn(i, {iptables_, "-F", kChain}); }

absl::Status ChaosNet::RunIn(int host, std::vector<std::string> argv) {
  std::vector<std::string> full = {ip_, "netns", "exec", namespaces_.at(host)};
  full.insert(full.end(), argv.begin(), argv.end());
  return Run(full);
}

absl::Status ChaosNet::Run(const std::vector<std::string>& argv) {
  const std::string command = absl::StrJoin(argv, " ");
  {
    std::ofstream log(log_file_, std::ios::app);
    log << "+ " << command << "\n";
  }
  absl::StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Start(argv, log_file_);
  if (!process.ok()) return process.status();
  const Deadline deadline = Deadline::In(kCommandTimeout);
  while ((*process)->Running()) {
    if (deadline.Expired()) {
      return absl::InternalError(absl::StrCat("`", command, "` hangs; see ", log_file_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if ((*process)->wait_status() != 0) {
    return absl::InternalError(absl::StrCat(
        "`", command, "` ", DescribeWaitStatus(*(*process)->wait_status()), "; see ", log_file_));
  }
  return absl::OkStatus();
}

}  // namespace coordha::cli
