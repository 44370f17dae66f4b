// Prometheus text exposition for the metrics port's `/metrics` route (DESIGN.md §9).
#ifndef COORDHA_HTTP_METRICS_H_
#define COORDHA_HTTP_METRICS_H_

#include <string>

#include "http/server.h"
#include "prometheus/registry.h"

namespace coordha::http {

// The content type of the Prometheus text format, version 0.0.4.
inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Every metric family in `registry`, in the Prometheus text format. Thread-safe (the registry is).
std::string RenderMetrics(const prometheus::Registry& registry);

// A handler serving RenderMetrics(registry) with kMetricsContentType. `registry` is borrowed and
// must outlive the handler (in practice: the Server it is given to).
Handler MetricsHandler(const prometheus::Registry& registry);

}  // namespace coordha::http

#endif  // COORDHA_HTTP_METRICS_H_
