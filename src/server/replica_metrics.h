// The HA metrics of one coordinator process (DESIGN.md §9), all labelled with `role`:
//   gauges, read from the Replica at each scrape: coordha_role_active, coordha_epoch,
//     coordha_serve_grant_remaining_seconds, coordha_lease_remaining_seconds,
//     coordha_standby_lag_revisions, coordha_activations, coordha_tso_lead_seconds (rootcoord);
//   counted as they happen (ReplicaObserver): coordha_failovers_total{cause} (by the winner),
//     coordha_takeover_seconds (histogram), coordha_campaigns_total{result},
//     coordha_revokes_issued_total{reason}, coordha_fenced_writes_total,
//     coordha_keepalive_rtt_seconds (histogram).
//
// Threads: the observer calls are thread-safe (prometheus-cpp's metrics are); Refresh() runs on
// the HTTP thread.
#ifndef COORDHA_SERVER_REPLICA_METRICS_H_
#define COORDHA_SERVER_REPLICA_METRICS_H_

#include <functional>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "session/replica.h"
#include "session/replica_observer.h"

namespace coordha::server {

class ReplicaMetrics final : public session::ReplicaObserver {
 public:
  // `registry` is borrowed and must outlive this object.
  ReplicaMetrics(prometheus::Registry& registry, const std::string& role);

  // The replica whose gauges Refresh() reads. Borrowed; set once before the first scrape.
  void SetReplica(const session::Replica* replica) { replica_ = replica; }
  // rootcoord: the TSO's lead over the wall clock.
  void SetTsoLeadSource(std::function<double()> source) { tso_lead_source_ = std::move(source); }
  // Updates the gauges; call before rendering.
  void Refresh();

  void OnCampaign(absl::string_view result) override;
  void OnTakeover(absl::string_view cause, Duration took) override;
  void OnRevoke(absl::string_view reason) override;
  void OnFencedWrite() override;
  void OnKeepaliveRtt(Duration rtt) override;

 private:
  const session::Replica* replica_ = nullptr;
  prometheus::Registry* const registry_;
  const std::string role_;
  prometheus::Gauge& active_;
  prometheus::Gauge& epoch_;
  prometheus::Gauge& grant_;
  prometheus::Gauge& lease_;
  prometheus::Gauge& lag_;
  prometheus::Gauge& activations_;
  prometheus::Family<prometheus::Counter>& failovers_;
  prometheus::Histogram& takeover_seconds_;
  prometheus::Family<prometheus::Counter>& campaigns_;
  prometheus::Family<prometheus::Counter>& revokes_;
  prometheus::Counter& fenced_writes_;
  prometheus::Histogram& keepalive_rtt_;
  std::function<double()> tso_lead_source_;
  prometheus::Gauge* tso_lead_ = nullptr;
};

}  // namespace coordha::server

#endif  // COORDHA_SERVER_REPLICA_METRICS_H_
