#!/usr/bin/env bash
# run_tool.sh TOOL ARGS...: runs TOOL for a deploy test, or skips the test (exit 77, CTest's
# SKIP_RETURN_CODE) when TOOL is not installed.
tool=${1:-}
shift || true
if [[ -z $tool ]] || ! command -v "$tool" >/dev/null 2>&1; then
  echo "SKIP: ${tool:-a tool} is not installed (scripts/install-deps.sh installs it)"
  exit 77
fi
exec "$tool" "$@"
