// The small parts of the bench harness (bench_cluster.h): signals, the clients' answer log, the
// raw state poller, a replica process.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/bench_cluster.h"
#include "coordha.grpc.pb.h"

namespace coordha::cli {
namespace {

// The poller's pace per address, and the deadline of one call: short, so a frozen process costs
// little, long enough for a loaded 2-core machine to answer.
constexpr auto kPollInterval = std::chrono::milliseconds(1);
constexpr auto kPollDeadline = std::chrono::milliseconds(100);
// How long unshare may take to fork its child.
constexpr auto kUnshareChildTimeout = std::chrono::seconds(5);

double Ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

// ---- Interrupt ----

Interrupt::Interrupt() {
  sigemptyset(&signals_);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals_, sig);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

bool Interrupt::Received() {
  if (received_) return true;
  const timespec zero{0, 0};
  if (sigtimedwait(&signals_, nullptr, &zero) > 0) received_ = true;
  return received_;
}

bool Interrupt::Sleep(Duration d) {
  if (Received()) return true;
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  const timespec wait{static_cast<time_t>(ns / 1'000'000'000),
                      static_cast<long>(ns % 1'000'000'000)};
  if (sigtimedwait(&signals_, nullptr, &wait) > 0) received_ = true;
  return received_;
}

const char* FailoverKindName(FailoverKind kind) {
  switch (kind) {
    case FailoverKind::kKill9:
      return "kill9";
    case FailoverKind::kTerm:
      return "term";
    case FailoverKind::kStop:
      return "stop";
    case FailoverKind::kSwitchover:
      return "switchover";
  }
  return "?";
}

absl::StatusOr<FailoverKind> ParseFailoverKind(const std::string& name) {
  for (FailoverKind kind : {FailoverKind::kKill9, FailoverKind::kTerm, FailoverKind::kStop,
                            FailoverKind::kSwitchover}) {
    if (name == FailoverKindName(kind)) return kind;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--kind: '", name, "' is not one of kill9, term, stop, switchover"));
}

double QuantileMs(const std::vector<Duration>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i =
      std::min(sorted.size() - 1, static_cast<size_t>(p * static_cast<double>(sorted.size())));
  return Ms(sorted[i]);
}

std::string TrialSummary(const TrialResult& r) {
  std::string out =
      absl::StrFormat("server %d -> server %d, gap %.1f ms", r.from_server, r.to_server, Ms(r.gap));
  if (r.poller_gap.has_value()) {
    absl::StrAppend(&out, absl::StrFormat(" (poller %.1f ms)", Ms(*r.poller_gap)));
  }
  if (!r.note.empty()) absl::StrAppend(&out, "; ", r.note);
  return out;
}

// ---- AnswerLog ----

void AnswerLog::Record(int64_t server_id, int64_t epoch, BootTime at) {
  MutexLock lock(&mu_);
  auto [it, inserted] = spans_.try_emplace(epoch);
  Span& span = it->second;
  if (inserted) {
    span.server_id = server_id;
    span.first = at;
  }
  span.first = std::min(span.first, at);
  span.last = std::max(span.last, at);
  ++span.answers;
  ++answers_;
}

void AnswerLog::RecordError(const std::string& message) {
  MutexLock lock(&mu_);
  ++errors_;
  last_error_ = message;
}

std::optional<AnswerLog::Span> AnswerLog::Of(int64_t epoch) const {
  MutexLock lock(&mu_);
  auto it = spans_.find(epoch);
  if (it == spans_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::pair<int64_t, AnswerLog::Span>> AnswerLog::FirstAbove(int64_t epoch) const {
  MutexLock lock(&mu_);
  std::optional<std::pair<int64_t, Span>> best;
  for (auto it = spans_.upper_bound(epoch); it != spans_.end(); ++it) {
    if (!best.has_value() || it->second.first < best->second.first) best = *it;
  }
  return best;
}

int64_t AnswerLog::answers() const {
  MutexLock lock(&mu_);
  return answers_;
}

int64_t AnswerLog::errors() const {
  MutexLock lock(&mu_);
  return errors_;
}

std::string AnswerLog::last_error() const {
  MutexLock lock(&mu_);
  return last_error_;
}

// ---- StatePoller ----

StatePoller::StatePoller(std::vector<std::string> addresses)
    : addresses_(std::move(addresses)), latest_(addresses_.size()) {}

StatePoller::~StatePoller() { Stop(); }

void StatePoller::Start() {
  thread_ = std::jthread([this](std::stop_token stop) { Loop(stop); });
}

void StatePoller::Stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

Observation StatePoller::Latest(size_t replica) const {
  MutexLock lock(&mu_);
  return latest_.at(replica);
}

int64_t StatePoller::stale_answers() const {
  MutexLock lock(&mu_);
  return stale_;
}

std::string StatePoller::first_stale() const {
  MutexLock lock(&mu_);
  return first_stale_;
}

void StatePoller::OnAnswer(size_t replica, BootTime sent,
                           const v1::GetComponentStatesResponse* response) {
  const BootTime received = BootClock::now();
  MutexLock lock(&mu_);
  // One call in flight per address: answers of an address arrive in the order they were sent.
  Observation& o = latest_[replica];
  o = Observation{.answered = response != nullptr, .sent = sent, .received = received};
  if (response == nullptr) return;
  o.state = response->state().state();
  o.server_id = response->state().server_id();
  o.epoch = response->state().epoch();
  if (o.state != v1::Healthy || o.epoch == 0) return;
  // S2/S4: a Healthy answer from epoch E to a call sent after a higher epoch had answered.
  for (auto it = healthy_.upper_bound(o.epoch); it != healthy_.end(); ++it) {
    if (it->second.first < sent) {
      ++stale_;
      if (first_stale_.empty()) {
        first_stale_ = absl::StrCat("server ", o.server_id, " answered Healthy for epoch ", o.epoch,
                                    " to a call sent ", Ms(sent - it->second.first),
                                    " ms after epoch ", it->first, " had answered Healthy");
      }
      break;
    }
  }
  auto [span, inserted] = healthy_.try_emplace(o.epoch, received, received);
  if (!inserted) span->second.second = received;
}

std::optional<std::pair<BootTime, BootTime>> StatePoller::HealthySpan(int64_t epoch) const {
  MutexLock lock(&mu_);
  auto it = healthy_.find(epoch);
  if (it == healthy_.end()) return std::nullopt;
  return it->second;
}

void StatePoller::Loop(std::stop_token stop) {
  grpc::ChannelArguments args;
  // A restarted replica is found again within ~20 ms instead of gRPC's default backoff (1 s+).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  std::vector<std::unique_ptr<v1::Component::Stub>> stubs;
  for (const std::string& address : addresses_) {
    stubs.push_back(v1::Component::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args)));
  }
  struct Call {
    size_t replica = 0;
    BootTime sent{};
    grpc::ClientContext context;
    v1::GetComponentStatesRequest request;
    v1::GetComponentStatesResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::GetComponentStatesResponse>> reader;
  };
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<Call>> in_flight(addresses_.size());
  std::vector<BootTime> next_send(addresses_.size(), BootClock::now());
  while (!stop.stop_requested()) {
    const BootTime now = BootClock::now();
    for (size_t i = 0; i < addresses_.size(); ++i) {
      if (in_flight[i] != nullptr || now < next_send[i]) continue;
      auto call = std::make_unique<Call>();
      call->replica = i;
      call->sent = now;
      call->context.set_deadline(WallDeadlineIn(kPollDeadline));
      call->reader = stubs[i]->PrepareAsyncGetComponentStates(&call->context, call->request, &cq);
      call->reader->StartCall();
      call->reader->Finish(&call->response, &call->status, call.get());
      in_flight[i] = std::move(call);
    }
    void* tag = nullptr;
    bool ok = false;
    if (cq.AsyncNext(&tag, &ok, WallDeadlineIn(kPollInterval)) ==
        grpc::CompletionQueue::GOT_EVENT) {
      Call* call = static_cast<Call*>(tag);
      OnAnswer(call->replica, call->sent, call->status.ok() ? &call->response : nullptr);
      next_send[call->replica] = BootClock::now() + kPollInterval;
      in_flight[call->replica].reset();
    }
  }
  // Every started call completes (cancelled at worst) before its Call is freed.
  size_t pending = 0;
  for (auto& call : in_flight) {
    if (call != nullptr) {
      call->context.TryCancel();
      ++pending;
    }
  }
  void* tag = nullptr;
  bool ok = false;
  while (pending > 0 && cq.Next(&tag, &ok)) {
    in_flight[static_cast<Call*>(tag)->replica].reset();
    --pending;
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

// ---- ReplicaProcess ----

ReplicaProcess::ReplicaProcess(std::string name, std::vector<std::string> argv,
                               std::string log_file, std::string address, int metrics_port,
                               bool cross_host)
    : name_(std::move(name)),
      argv_(std::move(argv)),
      log_file_(std::move(log_file)),
      address_(std::move(address)),
      metrics_port_(metrics_port),
      cross_host_(cross_host) {}

absl::Status ReplicaProcess::Start() {
  if (process_ != nullptr && process_->Running()) {
    return absl::FailedPreconditionError(absl::StrCat(name_, " is still running"));
  }
  {
    std::ofstream log(log_file_, std::ios::app);
    log << "=== coordha bench: " << absl::StrJoin(argv_, " ") << " ===\n";
  }
  absl::StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Start(argv_, log_file_);
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  target_ = process_->pid();
  if (!cross_host_) return absl::OkStatus();
  // unshare --fork: the coordha process is unshare's only child.
  target_ = 0;
  const std::string children =
      absl::StrCat("/proc/", process_->pid(), "/task/", process_->pid(), "/children");
  for (const Deadline deadline = Deadline::In(kUnshareChildTimeout); !deadline.Expired();) {
    std::ifstream in(children);
    pid_t child = 0;
    if (in >> child && child > 0) {
      target_ = child;
      return absl::OkStatus();
    }
    if (!process_->Running()) {
      return absl::UnavailableError(
          absl::StrCat(name_, ": unshare ", exit_description(), "; see ", log_file_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the pace of a /proc poll
  }
  return absl::DeadlineExceededError(
      absl::StrCat(name_, ": unshare started no child within 5 s (", children, ")"));
}

bool ReplicaProcess::Running() { return process_ != nullptr && process_->Running(); }

absl::Status ReplicaProcess::Signal(int signo) {
  if (!Running() || target_ <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(name_, " is not running"));
  }
  if (kill(target_, signo) != 0) {
    return absl::InternalError(
        absl::StrCat("kill(", target_, ", ", sigabbrev_np(signo), "): ", strerror(errno)));
  }
  return absl::OkStatus();
}

bool ReplicaProcess::AwaitExit(Deadline deadline) {
  while (Running()) {
    if (deadline.Expired()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the pace of a waitpid poll
  }
  return true;
}

void ReplicaProcess::Kill() {
  if (cross_host_ && target_ > 0 && Running()) kill(target_, SIGKILL);
  process_.reset();  // SIGKILLs (unshare, or coordha) and reaps
}

std::string ReplicaProcess::exit_description() const {
  if (process_ == nullptr || !process_->wait_status().has_value()) return "";
  return DescribeWaitStatus(*process_->wait_status());
}

}  // namespace coordha::cli
