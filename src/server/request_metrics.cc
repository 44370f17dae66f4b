#include "server/request_metrics.h"

#include "coordha.pb.h"

namespace coordha::server {
namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  return buckets;
}

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    default:
      return "OTHER";
  }
}

// Times one call from its arrival to the status it sends.
class RequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  RequestInterceptor(RequestMetrics* metrics, const char* method)
      : metrics_(metrics), method_(MethodName(method)), started_(BootClock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->OnRequest(method_, methods->GetSendStatus().error_code(),
                          BootClock::now() - started_);
    }
    methods->Proceed();
  }

 private:
  // "/coordha.v1.RootCoord/AllocTimestamp" -> "AllocTimestamp".
  static std::string MethodName(const char* full) {
    const std::string method = full == nullptr ? "" : full;
    const size_t slash = method.rfind('/');
    return slash == std::string::npos ? method : method.substr(slash + 1);
  }

  RequestMetrics* const metrics_;
  const std::string method_;
  const BootTime started_;
};

class RequestInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RequestInterceptorFactory(RequestMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RequestInterceptor(metrics_, info->method());  // gRPC owns and deletes it
  }

 private:
  RequestMetrics* const metrics_;
};

}  // namespace

RequestMetrics::RequestMetrics(prometheus::Registry& registry, std::string role)
    : role_(std::move(role)),
      requests_(prometheus::BuildCounter()
                    .Name("coordha_requests_total")
                    .Help("gRPC calls answered, by method and code")
                    .Register(registry)),
      request_seconds_(prometheus::BuildHistogram()
                           .Name("coordha_request_seconds")
                           .Help("Time from a gRPC call's arrival to its status, by method")
                           .Register(registry)),
      etcd_seconds_(prometheus::BuildHistogram()
                        .Name("coordha_etcd_request_seconds")
                        .Help("etcd calls, retries across endpoints included, by operation")
                        .Register(registry)),
      watch_restarts_(prometheus::BuildCounter()
                          .Name("coordha_watch_restarts_total")
                          .Help("etcd watch streams resumed or compacted (L4), by reason")
                          .Register(registry)) {
  // Known reasons start at 0 (a family with no series is not exported at all).
  for (const char* reason : {"compacted", "unavailable", "cancelled", "deadline_exceeded"}) {
    watch_restarts_.Add({{"role", role_}, {"reason", reason}});
  }
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RequestMetrics::InterceptorFactory() {
  return std::make_unique<RequestInterceptorFactory>(this);
}

void RequestMetrics::Attach(etcd::ClientOptions& options) {
  options.on_request = [this](absl::string_view op, Duration took, absl::StatusCode) {
    etcd_seconds_.Add({{"role", role_}, {"op", std::string(op)}}, LatencyBuckets())
        .Observe(Seconds(took));
  };
  options.on_watch_restart = [this](absl::string_view reason) {
    watch_restarts_.Add({{"role", role_}, {"reason", std::string(reason)}}).Increment();
  };
}

void RequestMetrics::OnRequest(absl::string_view method, grpc::StatusCode code, Duration took) {
  const std::string name(method);
  requests_.Add({{"role", role_}, {"method", name}, {"code", CodeName(code)}}).Increment();
  request_seconds_.Add({{"role", role_}, {"method", name}}, LatencyBuckets())
      .Observe(Seconds(took));
}

}  // namespace coordha::server
