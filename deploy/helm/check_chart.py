#!/usr/bin/env python3
"""Offline checks of the Helm chart deploy/helm/coordha.

helm is not packaged in Debian 12, so the chart is not rendered here. Instead this reads
Chart.yaml, values.yaml and the templates, and checks what an operator relies on:

- values.yaml has <x>Coordinator.replicas, .activeStandby.enabled and .port for the four
  coordinators, etcd.endpoints, metrics.port 9091, and its defaults pass the guard below;
- each coordinator's template fails rendering when replicas > 1 without activeStandby (the exact
  `if and (gt (int .Values.X.replicas) 1) (not .Values.X.activeStandby.enabled)` + `fail` form)
  and passes its own block of values to the shared "coordha.coordinator" definition;
- that definition sets enableServiceLinks: false, a readiness probe on /readyz and a liveness probe
  on /healthz at the metrics port, the prometheus.io scrape annotations, `run <role>`;
- the values -> environment mapping: every variable the templates set (or values.yaml's comments
  name) is one coordha reads, and reaches the key its value belongs to — asked of coordha itself
  (see ../coordha_env.py) — and the values the chart renders by default, and with etcd auth on,
  are accepted by coordha for each coordinator.

Usage: check_chart.py [--coordha PATH] [--chart DIR]. Exit 0 pass, 1 fail, 77 skipped (no python3-yaml or no
coordha binary).
"""

import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import coordha_env  # noqa: E402

CHART = os.path.join(HERE, "coordha")

# (role, values block, env prefix, coordha key prefix, default gRPC port): DESIGN.md §2.
COORDINATORS = [
    ("rootcoord", "rootCoordinator", "ROOT_COORD", "rootCoord", 53100),
    ("datacoord", "dataCoordinator", "DATA_COORD", "dataCoord", 13333),
    ("querycoord", "queryCoordinator", "QUERY_COORD", "queryCoord", 19531),
    ("indexcoord", "indexCoordinator", "INDEX_COORD", "indexCoord", 31000),
]

# Which coordha key each chart value configures. "$c." is the coordinator's own block.
VALUE_TO_KEY = {
    "etcd.endpoints": "etcd.endpoints",
    "etcd.rootPath": "etcd.rootPath",
    "etcd.auth.enabled": "etcd.auth.enabled",
    "etcd.auth.userName": "etcd.auth.userName",
    "etcd.auth.existingSecret": "etcd.auth.password",
    "session.ttl": "common.session.ttl",
    "session.serveGrant": "common.session.serveGrant",
    "session.suspectAfter": "common.session.suspectAfter",
    "session.minActiveTime": "common.session.minActiveTime",
    "log.level": "log.level",
    "metrics.port": "metrics.port",
    "$c.port": "{prefix}.port",
    "$c.activeStandby.enabled": "{prefix}.enableActiveStandby",
}
# Set from the pod, not from values.
POD_FIELDS = {"status.podIP": ("{prefix}.address", "127.0.0.3")}

GUARD = re.compile(
    r"\{\{-?\s*if\s+and\s+\(gt\s+\(int\s+\.Values\.(\w+)\.replicas\)\s+1\)\s+"
    r"\(not\s+\.Values\.(\w+)\.activeStandby\.enabled\)\s*-?\}\}\s*"
    r"\{\{-?\s*fail\s+\"([^\"]+)\"\s*-?\}\}\s*\{\{-?\s*end\s*-?\}\}")
INCLUDE = re.compile(r"\{\{-?\s*include\s+\"coordha\.coordinator\"\s+\(dict\s+([^)]*)\)\s*-?\}\}")


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, why=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {what}" + (f": {why}" if why else ""))
        return ok


def load_yaml(path):
    import yaml

    with open(path) as f:
        return yaml.safe_load(f)


def get(tree, dotted):
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def guard_trips(values, block):
    """What the template guard computes for these values (its form is pinned by GUARD)."""
    c = values[block]
    return int(c["replicas"]) > 1 and not c["activeStandby"]["enabled"]


def env_entries(helpers):
    """The env list of the container in "coordha.coordinator": [(name, source, condition)].

    source is ("value", values-path or None, literal) or ("field", fieldPath) or ("secret",
    values-path); condition is the values path of an enclosing `if` (or None).
    """
    block = re.search(r"^(\s*)env:\n(.*?)^\s*(?:readinessProbe|livenessProbe):", helpers,
                      re.S | re.M)
    if not block:
        return []
    entries = []
    condition = None
    skip_depth = 0
    lines = block.group(2).splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if line.startswith("#") or not line:
            continue
        m = re.match(r"\{\{-?\s*(if|with|end)\b\s*(.*?)\s*-?\}\}$", line)
        if m:
            kind, arg = m.groups()
            if kind == "with":
                skip_depth += 1  # extraEnv: the user's own entries
            elif kind == "if":
                condition = re.sub(r"^\$root\.Values\.", "", arg)
            elif skip_depth:
                skip_depth -= 1
            else:
                condition = None
            continue
        if skip_depth:
            continue
        m = re.match(r"- name:\s*(.+)$", line)
        if not m:
            continue
        name = m.group(1).strip()
        spec = lines[i].strip() if i < len(lines) else ""
        rest = "\n".join(x.strip() for x in lines[i:i + 4])
        if spec.startswith("value:"):
            expr = spec[len("value:"):].strip()
            ref = re.search(r"(\$root\.Values\.|\$c\.)([\w.]+)", expr)
            path = None
            if ref:
                path = ref.group(2) if ref.group(1) == "$root.Values." else "$c." + ref.group(2)
            elif "$metricsPort" in expr:
                path = "metrics.port"  # $metricsPort := int $root.Values.metrics.port (checked)
            elif "{{" in expr:
                entries.append((name, ("unknown", expr), condition))
                continue
            literal = None if path else expr.strip('"')
            entries.append((name, ("value", path, literal, expr), condition))
        elif spec.startswith("valueFrom:"):
            field = re.search(r"fieldPath:\s*([\w.]+)", rest)
            secret = re.search(r"name:\s*\{\{\s*\$root\.Values\.([\w.]+)\s*\}\}", rest)
            if field and "fieldRef" in rest:
                entries.append((name, ("field", field.group(1)), condition))
            elif secret and "secretKeyRef" in rest:
                entries.append((name, ("secret", secret.group(1)), condition))
            else:
                entries.append((name, ("unknown", rest), condition))
        else:
            entries.append((name, ("unknown", spec), condition))
    return entries


def render_value(source, values, block):
    """The string the template renders for one env entry, for these values."""
    kind = source[0]
    if kind == "field":
        return POD_FIELDS[source[1]][1]
    if kind == "secret":
        return "secret-from-" + str(get(values, source[1]))
    _, path, literal, expr = source
    if path is None:
        return literal
    v = get(values[block], path[3:]) if path.startswith("$c.") else get(values, path)
    if "join" in expr and isinstance(v, list):
        return ",".join(str(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coordha", help="the coordha binary (default: COORDHA_BIN, build/, PATH)")
    parser.add_argument("--chart", default=CHART, help="the chart's folder (default: coordha/)")
    args = parser.parse_args()
    chart_dir = args.chart
    coordha, keys = coordha_env.setup(args.coordha)
    t = Checks()

    chart = load_yaml(os.path.join(chart_dir, "Chart.yaml"))
    t.check(chart.get("apiVersion") == "v2", "Chart.yaml apiVersion is v2")
    t.check(chart.get("name") == "coordha", "Chart.yaml name is coordha")
    t.check(bool(chart.get("version")) and bool(chart.get("appVersion")),
            "Chart.yaml has version and appVersion")

    values_text = open(os.path.join(chart_dir, "values.yaml")).read()
    values = load_yaml(os.path.join(chart_dir, "values.yaml"))
    endpoints = get(values, "etcd.endpoints")
    t.check(isinstance(endpoints, list) and endpoints and
            all(re.match(r"^[\w.-]+:\d+$", str(e)) for e in endpoints),
            "values etcd.endpoints is a list of host:port", repr(endpoints))
    t.check(get(values, "metrics.port") == 9091, "values metrics.port is 9091")
    t.check(get(values, "image.repository") and get(values, "image.tag"),
            "values image.repository and image.tag")

    helpers = open(os.path.join(chart_dir, "templates", "_helpers.tpl")).read()
    t.check('{{- define "coordha.coordinator" -}}' in helpers, 'define "coordha.coordinator"')
    body = helpers.split('{{- define "coordha.coordinator" -}}', 1)[-1]
    for needle, what in [
        ("kind: Deployment", "a Deployment per coordinator"),
        ("kind: Service", "a Service per coordinator"),
        ("enableServiceLinks: false", "enableServiceLinks: false"),
        ('args: ["run", {{ .role | quote }}]', "container args run <role>"),
        ("$metricsPort := int $root.Values.metrics.port", "metrics port from values"),
        ('prometheus.io/scrape: "true"', "prometheus.io/scrape annotation"),
        ("prometheus.io/port: {{ $metricsPort | quote }}", "prometheus.io/port annotation"),
        ("prometheus.io/path: /metrics", "prometheus.io/path annotation"),
        ("name: metrics\n              containerPort: {{ $metricsPort }}", "metrics containerPort"),
        ("replicas: {{ int $c.replicas }}", "Deployment replicas from values"),
    ]:
        t.check(needle in body, f"_helpers.tpl: {what}", f"missing {needle!r}")
    for probe, path in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")]:
        t.check(re.search(probe + r":\s*\n\s*httpGet:\s*\n\s*path:\s*" + re.escape(path) +
                          r"\s*\n\s*port:\s*metrics\b", body) is not None,
                f"_helpers.tpl: {probe} on {path} at the metrics port")

    entries = env_entries(body)
    t.check(len(entries) >= 10, "_helpers.tpl: container env list found", f"{len(entries)} entries")

    renderings = {}  # label -> the environment coordha would see
    for role, block, env_prefix, key_prefix, port in COORDINATORS:
        c = values.get(block) or {}
        t.check(isinstance(c.get("replicas"), int) and c["replicas"] >= 0,
                f"values {block}.replicas is a count", repr(c.get("replicas")))
        t.check(isinstance(get(c, "activeStandby.enabled"), bool),
                f"values {block}.activeStandby.enabled is a bool")
        t.check(c.get("port") == port, f"values {block}.port is {port}", repr(c.get("port")))
        if not t.check(not guard_trips(values, block), f"values: {block} defaults pass the guard"):
            continue

        path = os.path.join(chart_dir, "templates", f"{role}.yaml")
        if not t.check(os.path.exists(path), f"templates/{role}.yaml exists"):
            continue
        text = open(path).read()
        g = GUARD.search(text)
        if t.check(g is not None, f"{role}.yaml: replicas > 1 without activeStandby fails rendering"):
            t.check(g.group(1) == block and g.group(2) == block,
                    f"{role}.yaml: the guard reads .Values.{block}", f"{g.group(1)}, {g.group(2)}")
            t.check(f"{block}.replicas" in g.group(3) and f"{block}.activeStandby.enabled" in
                    g.group(3), f"{role}.yaml: the fail message names the values to set",
                    g.group(3))
        inc = INCLUDE.search(text)
        if t.check(inc is not None, f'{role}.yaml: includes "coordha.coordinator"'):
            params = dict(re.findall(r'"(\w+)"\s+("[^"]*"|\$|\.Values\.\w+)', inc.group(1)))
            want = {"root": "$", "role": f'"{role}"', "envPrefix": f'"{env_prefix}"',
                    "c": f".Values.{block}"}
            t.check(params == want, f"{role}.yaml: include passes {want}", repr(params))
            if g is not None:
                t.check(g.start() < inc.start(), f"{role}.yaml: the guard comes first")

        # The environment this coordinator's pods get, name by name.
        env_default, env_auth = {}, {}
        for name, source, condition in entries:
            name = name.replace("{{ .envPrefix }}", env_prefix)
            key = coordha_env.key_for(name, keys)
            if not t.check(key is not None, f"{role}: env {name} matches a documented key"):
                continue
            if source[0] == "field":
                want_key = POD_FIELDS.get(source[1], ("?",))[0].format(prefix=key_prefix)
            elif source[0] == "secret":
                want_key = VALUE_TO_KEY.get(source[1], "?")
            elif source[0] == "value" and source[1] is not None:
                want_key = VALUE_TO_KEY.get(source[1], "?").format(prefix=key_prefix)
            elif source[0] == "value":
                want_key = key  # a literal: only needs to be read at all
            else:
                want_key = "?"
            t.check(key == want_key, f"{role}: env {name} carries the value meant for {key}",
                    f"its value is for {want_key} ({source})")
            problem = coordha.map_name(name, key)
            t.check(problem is None, f"{role}: coordha reads env {name} as {key}", problem)
            value = render_value(source, values, block)
            env_auth[name] = value
            if condition is None or get(values, condition):
                env_default[name] = value
        env_auth.setdefault("ETCD_AUTH_USER_NAME", "")
        if not env_auth["ETCD_AUTH_USER_NAME"]:
            env_auth["ETCD_AUTH_USER_NAME"] = "coordha"  # the chart's user sets one with auth on
        for want_key in (f"{key_prefix}.port", f"{key_prefix}.enableActiveStandby",
                         f"{key_prefix}.address", "etcd.endpoints", "metrics.port"):
            t.check(any(coordha_env.key_for(n, keys) == want_key for n in env_default),
                    f"{role}: the chart sets {want_key}")
        renderings[f"{role}: the default rendering"] = env_default
        renderings[f"{role}: the rendering with etcd auth"] = env_auth

    for label, problem in coordha.accepts(renderings).items():
        t.check(problem is None, f"coordha accepts {label}", problem)

    # Variables that values.yaml's comments tell operators to set.
    for name in sorted(set(re.findall(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)=", values_text))):
        key = coordha_env.key_for(name, keys)
        if t.check(key is not None, f"values.yaml comment: env {name} matches a documented key"):
            problem = coordha.map_name(name, key)
            t.check(problem is None, f"values.yaml comment: coordha reads env {name}", problem)

    total = t.passed + t.failed
    print(f"check_chart: {t.passed} of {total} checks passed" +
          ("" if t.failed == 0 else f", {t.failed} failed"))
    return 0 if t.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
