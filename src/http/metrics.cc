#include "http/metrics.h"

#include "prometheus/text_serializer.h"

namespace coordha::http {

std::string RenderMetrics(const prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

Handler MetricsHandler(const prometheus::Registry& registry) {
  return [&registry] {
    return Response{.content_type = kMetricsContentType, .body = RenderMetrics(registry)};
  };
}

}  // namespace coordha::http
