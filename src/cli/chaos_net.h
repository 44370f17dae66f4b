// The chaos tool's own little network (issue "Chaos and correctness"): each coordinator replica in
// a network namespace of its own, joined to this machine by a veth pair on a bridge that the tool
// creates, so a partition can cut one replica off while everything else keeps running.
//
//   bridge chb<pid>  10.<a>.<b>.1/24   in this machine's namespace: etcd and the clients
//     veth ──> netns chn<pid>-<i>   10.<a>.<b>.(10+i)/24   replica i
//
// The bridge address is local to this machine, so etcd listens on it and the clients reach the
// replicas from it; replicas reach each other across the bridge. Nothing leaves the machine: the
// subnet is routed only to the bridge and no forwarding or NAT is set up.
//
// Faults are iptables rules inside the replica's own namespace (a chain COORDHA-CHAOS hooked into
// INPUT and OUTPUT), so this machine's firewall is never touched:
//   Partition  drops every packet between the replica and etcd (by etcd's client ports) and
//              between it and its peers; the clients still reach it.
//   Reject     the same, but answers with TCP resets instead of dropping.
//   Heal       removes the rules.
//
// Needs root, `ip` (iproute2) and `iptables`. Namespaces and bridges left behind by a chaos run
// that was SIGKILLed are removed by the next Create() (their names carry the dead run's pid).
//
// Not thread-safe: one owner (the chaos tool's main thread).
#ifndef COORDHA_CLI_CHAOS_NET_H_
#define COORDHA_CLI_CHAOS_NET_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace coordha::cli {

class ChaosNet {
 public:
  // OK when this process can make the network: root, `ip` and `iptables` present. Otherwise
  // FailedPrecondition naming what is missing and how to get it.
  static absl::Status CanRun();
  // Creates the bridge and `hosts` namespaces. `log_file` receives the output of every command
  // run. Errors: FailedPrecondition naming what is missing (root, ip, iptables) and how to get it;
  // Internal naming the command that failed.
  static absl::StatusOr<std::unique_ptr<ChaosNet>> Create(int hosts, const std::string& log_file);
  // Removes the namespaces and the bridge.
  ~ChaosNet();
  ChaosNet(const ChaosNet&) = delete;
  ChaosNet& operator=(const ChaosNet&) = delete;

  // The bridge's address: where etcd listens and the clients come from.
  const std::string& gateway_ip() const { return gateway_ip_; }
  // Host i's address (0-based).
  std::string host_ip(int i) const;
  // The command prefix that runs a program in host i's namespace (`ip netns exec <ns>`; it execs
  // the program, so the pid is the program's).
  std::vector<std::string> Prefix(int i) const;

  // Cuts host i off from etcd (TCP to `etcd_ports` on the gateway) and from the other hosts:
  // packets dropped (`reject` false) or answered with TCP resets (`reject` true).
  absl::Status Cut(int i, const std::vector<int>& etcd_ports, bool reject);
  // Removes host i's rules.
  absl::Status Heal(int i);

 private:
  ChaosNet(std::string log_file, std::string tag, std::string subnet, int hosts);
  // Runs argv (argv[0] absolute), output to the log; Internal naming the command on failure.
  absl::Status Run(const std::vector<std::string>& argv);
  absl::Status RunIn(int host, std::vector<std::string> argv);

  const std::string log_file_;
  const std::string tag_;     // the pid, in every name
  const std::string subnet_;  // "10.a.b."
  const int hosts_;
  const std::string gateway_ip_;
  std::string ip_;        // path of `ip`
  std::string iptables_;  // path of `iptables`
  bool bridge_made_ = false;
  std::vector<std::string> namespaces_;  // made so far, removed by the destructor
};

}  // namespace coordha::cli

#endif  // COORDHA_CLI_CHAOS_NET_H_
