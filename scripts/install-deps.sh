#!/usr/bin/env bash
# Installs every Debian 12 package that coordha's build, tests and local cluster need.
# Idempotent and quiet when everything is present. Needs root (or sudo) only when something is
# missing.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake make pkg-config git ca-certificates
  # libraries
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev libabsl-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # etcd's v3 API protos and what they import (generated at build time)
  golang-etcd-server-dev golang-github-gogo-protobuf-dev
  golang-github-grpc-ecosystem-grpc-gateway-dev
  # etcd for tests and the local cluster; openssl makes the TLS tests' certificates
  etcd-server etcd-client openssl iproute2 procps
  # the chaos tool's partition and reject nemeses (rules inside its own network namespaces)
  iptables
  # sanitizer and thread-safety builds
  clang clang-format libclang-rt-14-dev
  # checks of deploy/ (tests/deploy): compose file, YAML lint, the Helm chart checker
  docker-compose yamllint python3 python3-yaml
  # the status page test renders the page in headless Chromium
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
