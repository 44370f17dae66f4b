#!/usr/bin/env python3
"""Offline checks of deploy/docker: the compose file's coordinators and the Dockerfile.

No Docker engine runs here (`docker-compose config -q` checks the file's syntax, in its own test).
This checks what the file means for coordha:

- each coordinator runs as an active-standby pair: two services with `command: [run, <role>]`,
  <ROLE>_ENABLE_ACTIVE_STANDBY "true", <ROLE>_ADDRESS set to the service's own name and the role's
  port, ETCD_ENDPOINTS naming the etcd service, a health check on /readyz at port 9091, and a
  start that waits for etcd to be healthy;
- every variable they set is one coordha reads, reaching the key it is meant for, and coordha
  accepts each service's environment as it is (asked of coordha: see ../coordha_env.py);
- the Dockerfile's build stage installs only packages scripts/install-deps.sh lists, and the
  image's entrypoint is coordha.

Usage: check_compose.py [--coordha PATH] [--file COMPOSE.yml]. Exit 0 pass, 1 fail, 77 skipped.
"""

import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import coordha_env  # noqa: E402

# (role, env prefix, coordha key prefix, default gRPC port): DESIGN.md §2.
COORDINATORS = [
    ("rootcoord", "ROOT_COORD", "rootCoord", 53100),
    ("datacoord", "DATA_COORD", "dataCoord", 13333),
    ("querycoord", "QUERY_COORD", "queryCoord", 19531),
    ("indexcoord", "INDEX_COORD", "indexCoord", 31000),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coordha", help="the coordha binary (default: COORDHA_BIN, build/, PATH)")
    parser.add_argument("--file", default=os.path.join(HERE, "docker-compose.yml"))
    args = parser.parse_args()
    coordha, keys = coordha_env.setup(args.coordha)
    import yaml

    passed = failed = 0

    def check(ok, what, why=""):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL: {what}" + (f": {why}" if why else ""))
        return ok

    with open(args.file) as f:
        compose = yaml.safe_load(f)  # resolves the `<<: *coordha` merges
    services = compose.get("services") or {}
    check("etcd" in services and "healthcheck" in services["etcd"],
          "an etcd service with a health check")

    envs = {}
    for role, env_prefix, key_prefix, port in COORDINATORS:
        replicas = {name: s for name, s in services.items() if s.get("command") == ["run", role]}
        check(len(replicas) >= 2, f"{role}: at least two services run it", sorted(replicas))
        for name, service in sorted(replicas.items()):
            env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
            check(env.get(f"{env_prefix}_ENABLE_ACTIVE_STANDBY") == "true",
                  f"{name}: {env_prefix}_ENABLE_ACTIVE_STANDBY is \"true\"")
            check(env.get(f"{env_prefix}_ADDRESS") == f"{name}:{port}",
                  f"{name}: {env_prefix}_ADDRESS is its own name and port {name}:{port}",
                  env.get(f"{env_prefix}_ADDRESS"))
            etcd_host = env.get("ETCD_ENDPOINTS", "").split(":")[0]
            check(etcd_host in services, f"{name}: ETCD_ENDPOINTS names the etcd service",
                  env.get("ETCD_ENDPOINTS"))
            test = " ".join(str(x) for x in (service.get("healthcheck") or {}).get("test", []))
            check("http://localhost:9091/readyz" in test, f"{name}: health check on /readyz:9091",
                  test)
            depends = service.get("depends_on") or {}
            check(isinstance(depends, dict) and
                  (depends.get("etcd") or {}).get("condition") == "service_healthy",
                  f"{name}: starts once etcd is healthy")
            build = service.get("build") or {}
            dockerfile = os.path.join(HERE, build.get("context", ""), build.get("dockerfile", ""))
            check(os.path.isfile(dockerfile), f"{name}: builds from an existing Dockerfile",
                  dockerfile)
            for var in env:
                key = coordha_env.key_for(var, keys)
                if check(key is not None, f"{name}: env {var} matches a documented key"):
                    problem = coordha.map_name(var, key)
                    check(problem is None, f"{name}: coordha reads env {var} as {key}", problem)
            envs[name] = env
    for name, problem in coordha.accepts(envs).items():
        check(problem is None, f"{name}: coordha accepts its environment", problem)

    # The Dockerfile: build packages come from install-deps.sh, the entrypoint is coordha.
    repo = coordha_env.REPO
    dockerfile = open(os.path.join(HERE, "Dockerfile")).read()
    deps = open(os.path.join(repo, "scripts", "install-deps.sh")).read()
    listed = set(re.sub(r"#[^\n]*", "", deps).split("PACKAGES=(", 1)[1].split(")", 1)[0].split())
    build_stage = dockerfile.split("FROM debian:12 AS build", 1)[-1].split("\nFROM ", 1)[0]
    installs = re.search(r"apt-get install -y --no-install-recommends\s*\\\n(.*?)&&",
                         build_stage, re.S)
    if check(installs is not None, "Dockerfile: the build stage installs packages"):
        wanted = set(installs.group(1).replace("\\", " ").split())
        check(wanted <= listed, "Dockerfile: build packages are all in install-deps.sh",
              " ".join(sorted(wanted - listed)))
    check("-DCOORDHA_BUILD_TESTS=OFF" in build_stage, "Dockerfile: builds without the tests")
    final = dockerfile.rsplit("\nFROM ", 1)[-1]
    check('ENTRYPOINT ["/usr/local/bin/coordha"]' in final, "Dockerfile: the entrypoint is coordha")

    print(f"check_compose: {passed} of {passed + failed} checks passed" +
          ("" if failed == 0 else f", {failed} failed"))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
