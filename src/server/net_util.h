// Small network helpers shared by the coordinator bootstrap (server.cc) and the worker's
// (worker_host.cc).
#ifndef COORDHA_SERVER_NET_UTIL_H_
#define COORDHA_SERVER_NET_UTIL_H_

#include <string>

#include "absl/status/status.h"

namespace coordha::server {

// The first non-loopback IPv4 address of an interface that is up, else 127.0.0.1: the address
// published in the session when `<role>.address` is not set.
std::string DefaultAdvertiseHost();

// "host:port", or "[host]:port" for an IPv6 host.
std::string HostPort(const std::string& host, int port);

// Tries the listen address the way gRPC will bind it (SO_REUSEADDR, no SO_REUSEPORT), so a taken
// port is reported in one line before gRPC is asked. OK when it is free (or when `host` is a name
// gRPC must resolve); kFailedPrecondition with strerror's text otherwise.
absl::Status CheckPortFree(const std::string& host, int port);

}  // namespace coordha::server

#endif  // COORDHA_SERVER_NET_UTIL_H_
