// Metrics of the RPCs a process serves and of its etcd calls (DESIGN.md §9), all labelled `role`:
//   coordha_requests_total{method,code}   every gRPC call answered, by method and gRPC code
//   coordha_request_seconds{method}       how long each took in the server
//   coordha_etcd_request_seconds{op}      each etcd call (retries across endpoints included)
//   coordha_watch_restarts_total{reason}  etcd watch streams resumed or compacted (L4)
//
// The gRPC part is a server interceptor (InterceptorFactory()); the etcd part plugs into
// etcd::ClientOptions (Attach()). Thread-safe: prometheus-cpp's metrics are.
#ifndef COORDHA_SERVER_REQUEST_METRICS_H_
#define COORDHA_SERVER_REQUEST_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>

#include "etcd/client.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace coordha::server {

class RequestMetrics {
 public:
  // `registry` is borrowed and must outlive this object.
  RequestMetrics(prometheus::Registry& registry, std::string role);

  // A factory for grpc::ServerBuilder::experimental().SetInterceptorCreators(). It refers to this
  // object, which must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();
  // Sets `options`' on_request and on_watch_restart hooks to count into this object, which must
  // outlive the client.
  void Attach(etcd::ClientOptions& options);

  void OnRequest(absl::string_view method, grpc::StatusCode code, Duration took);

 private:
  const std::string role_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_seconds_;
  prometheus::Family<prometheus::Histogram>& etcd_seconds_;
  prometheus::Family<prometheus::Counter>& watch_restarts_;
};

}  // namespace coordha::server

#endif  // COORDHA_SERVER_REQUEST_METRICS_H_
