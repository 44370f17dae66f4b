#include "server/replica_metrics.h"

#include <string>

namespace coordha::server {
namespace {

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

prometheus::Gauge& RoleGauge(prometheus::Registry& registry, const std::string& role,
                             const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({{"role", role}});
}

}  // namespace

ReplicaMetrics::ReplicaMetrics(prometheus::Registry& registry, const std::string& role)
    : registry_(&registry),
      role_(role),
      active_(RoleGauge(registry, role, "coordha_role_active",
                        "1 while this process is the serving active of its role")),
      epoch_(RoleGauge(registry, role, "coordha_epoch",
                       "The epoch this process serves as active; 0 when standby")),
      grant_(RoleGauge(registry, role, "coordha_serve_grant_remaining_seconds",
                       "Time left of the serve grant (S2)")),
      lease_(RoleGauge(registry, role, "coordha_lease_remaining_seconds",
                       "Time left of the lease as this process knows it")),
      lag_(RoleGauge(registry, role, "coordha_standby_lag_revisions",
                     "Changes the standby's copy has not applied yet (L5); -1 unknown")),
      activations_(
          RoleGauge(registry, role, "coordha_activations", "Times this process became active")),
      failovers_(prometheus::BuildCounter()
                     .Name("coordha_failovers_total")
                     .Help("Takeovers by this process, by how the previous epoch ended")
                     .Register(registry)),
      takeover_seconds_(
          prometheus::BuildHistogram()
              .Name("coordha_takeover_seconds")
              .Help("From seeing the previous epoch end to serving, per takeover")
              .Register(registry)
              .Add({{"role", role}},
                   prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                           1, 1.5, 2, 3, 5, 10, 20, 30, 60})),
      campaigns_(prometheus::BuildCounter()
                     .Name("coordha_campaigns_total")
                     .Help("Campaigns for the active role, by result")
                     .Register(registry)),
      revokes_(prometheus::BuildCounter()
                   .Name("coordha_revokes_issued_total")
                   .Help("Epochs this standby ended early (S3), by trigger")
                   .Register(registry)),
      fenced_writes_(prometheus::BuildCounter()
                         .Name("coordha_fenced_writes_total")
                         .Help("Writes as the active refused by their fence (S1): deposed")
                         .Register(registry)
                         .Add({{"role", role}})),
      keepalive_rtt_(prometheus::BuildHistogram()
                         .Name("coordha_keepalive_rtt_seconds")
                         .Help("Round trip of acknowledged lease renewals")
                         .Register(registry)
                         .Add({{"role", role}}, prometheus::Histogram::BucketBoundaries{
                                                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1, 0.25, 0.5, 1})) {
  // Every label value known in advance starts at 0, so dashboards and alerts see the series
  // before the first event (a family with no series is not exported at all).
  for (const char* result : {"won", "lost", "error"}) {
    campaigns_.Add({{"role", role_}, {"result", result}});
  }
  for (const char* reason : {"proof", "refused", "stream", "suspect"}) {
    revokes_.Add({{"role", role_}, {"reason", reason}});
  }
  for (const char* cause :
       {"proof", "refused", "stream", "suspect", "expired", "resigned", "switchover"}) {
    failovers_.Add({{"role", role_}, {"cause", cause}});
  }
}

void ReplicaMetrics::Refresh() {
  if (replica_ == nullptr) return;
  const session::ReplicaStatus status = replica_->status();
  const bool serving = replica_->Serving();
  active_.Set(serving ? 1 : 0);
  epoch_.Set(serving ? static_cast<double>(status.epoch) : 0);
  grant_.Set(Seconds(replica_->ServeGrantRemaining()));
  lease_.Set(Seconds(replica_->LeaseRemaining()));
  lag_.Set(static_cast<double>(status.lag_revisions));
  activations_.Set(static_cast<double>(status.failovers_won));
  if (tso_lead_source_) {
    if (tso_lead_ == nullptr) {
      tso_lead_ = &RoleGauge(*registry_, role_, "coordha_tso_lead_seconds",
                             "Lead of the saved TSO bound over the wall clock (S5)");
    }
    tso_lead_->Set(tso_lead_source_());
  }
}

void ReplicaMetrics::OnCampaign(absl::string_view result) {
  campaigns_.Add({{"role", role_}, {"result", std::string(result)}}).Increment();
}

void ReplicaMetrics::OnTakeover(absl::string_view cause, Duration took) {
  // A first start is not a failover.
  if (cause != "none") failovers_.Add({{"role", role_}, {"cause", std::string(cause)}}).Increment();
  takeover_seconds_.Observe(Seconds(took));
}

void ReplicaMetrics::OnRevoke(absl::string_view reason) {
  revokes_.Add({{"role", role_}, {"reason", std::string(reason)}}).Increment();
}

void ReplicaMetrics::OnFencedWrite() { fenced_writes_.Increment(); }

void ReplicaMetrics::OnKeepaliveRtt(Duration rtt) { keepalive_rtt_.Observe(Seconds(rtt)); }

}  // namespace coordha::server
