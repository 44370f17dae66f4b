#include "coordinator/liveness_monitor.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/mutex.h"
#include "coordha.grpc.pb.h"

namespace coordha::coordinator {
namespace {

// "host:port" or "[v6]:port" → host, port. False when malformed.
bool SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 >= address.size()) return false;
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return !host->empty();
}

int64_t Millis(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

class StreamWatch final : public session::LivenessWatch {
 public:
  StreamWatch(const LivenessMonitorOptions& options, std::string address, int64_t epoch,
              std::function<void(std::string)> on_trigger)
      : options_(options),
        address_(std::move(address)),
        epoch_(epoch),
        on_trigger_(std::move(on_trigger)) {
    thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
  }

  ~StreamWatch() override {
    {
      MutexLock lock(&mu_);
      stopping_ = true;
      if (context_ != nullptr) context_->TryCancel();
      changed_.SignalAll();
    }
    thread_.request_stop();
    thread_.join();
  }

 private:
  // Waits `d` or until the watch is destroyed; true when stopping.
  bool Sleep(Duration d) {
    MutexLock lock(&mu_);
    changed_.Await(
        &mu_,
        [this] {
          mu_.AssertHeld();
          return stopping_;
        },
        Deadline::In(d));
    return stopping_;
  }

  void Run(std::stop_token stop) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 300);
    // A channel of its own: a broken connection must not be shared with, or healed by, others.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
    auto stub = v1::Component::NewStub(channel);
    bool reached = false;   // a beat of this epoch arrived at least once
    BootTime down_since{};  // when the stream last broke; unset while up
    bool down = false;
    while (!stop.stop_requested()) {
      grpc::ClientContext context;
      {
        MutexLock lock(&mu_);
        if (stopping_) return;
        context_ = &context;
      }
      v1::LivenessRequest request;
      request.set_epoch(epoch_);
      request.set_interval_ms(static_cast<int32_t>(Millis(options_.beat_interval)));
      auto reader = stub->Liveness(&context, request);
      v1::LivenessBeat beat;
      while (reader->Read(&beat)) {
        reached = true;
        down = false;
      }
      const grpc::Status finished = reader->Finish();
      {
        MutexLock lock(&mu_);
        context_ = nullptr;
        if (stopping_) return;
      }
      if (finished.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
        // The process answered that it does not serve this epoch: alive, not a crash.
        return;
      }
      if (!reached) {
        // Never reached it: no trigger (a wrong address must not depose anyone).
        if (Sleep(std::chrono::milliseconds(200))) return;
        continue;
      }
      if (!down) {
        down = true;
        down_since = BootClock::now();
      }
      switch (ProbeTcp(address_, options_.connect_timeout)) {
        case TcpProbe::kRefused:
          on_trigger_(absl::StrCat("refused: the liveness stream broke and ", address_,
                                   " refuses connections"));
          return;
        case TcpProbe::kAccepted:
        case TcpProbe::kNoAnswer:
          break;
      }
      if (BootClock::now() - down_since >= options_.reconnect_window) {
        on_trigger_(absl::StrCat(
            "stream: the liveness stream to ", address_, " broke and did not come back within ",
            Millis(options_.reconnect_window), " ms (", finished.error_message(), ")"));
        return;
      }
      if (Sleep(std::chrono::milliseconds(20))) return;
    }
  }

  const LivenessMonitorOptions options_;
  const std::string address_;
  const int64_t epoch_;
  const std::function<void(std::string)> on_trigger_;

  Mutex mu_;
  CondVar changed_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;  // the stream in flight

  std::jthread thread_;  // last
};

}  // namespace

TcpProbe ProbeTcp(const std::string& address, Duration timeout) {
  std::string host, port;
  if (!SplitHostPort(address, &host, &port)) return TcpProbe::kNoAnswer;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
    return TcpProbe::kNoAnswer;
  }
  TcpProbe result = TcpProbe::kNoAnswer;
  const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    int rc = connect(fd, found->ai_addr, found->ai_addrlen);
    if (rc == 0) {
      result = TcpProbe::kAccepted;
    } else if (errno == ECONNREFUSED) {
      result = TcpProbe::kRefused;
    } else if (errno == EINPROGRESS) {
      pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
      if (poll(&p, 1, static_cast<int>(Millis(timeout))) == 1) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0) {
          result = TcpProbe::kAccepted;
        } else if (err == ECONNREFUSED) {
          result = TcpProbe::kRefused;
        }
      }
    }
    close(fd);
  }
  freeaddrinfo(found);
  return result;
}

std::unique_ptr<session::LivenessWatch> GrpcLivenessMonitor::Watch(
    const std::string& address, int64_t epoch, std::function<void(std::string reason)> on_trigger) {
  const std::string target =
      options_.address_override.empty() ? address : options_.address_override;
  return std::make_unique<StreamWatch>(options_, target, epoch, std::move(on_trigger));
}

}  // namespace coordha::coordinator
