"""Checks that environment variables a deployment sets are ones coordha reads, by asking coordha.

Used by helm/check_chart.py and docker/check_compose.py. Nothing here starts a server or talks to
etcd: every probe runs `coordha status` with a configuration that fails to load on purpose, and
reads which error coordha gives (exit 2, one line):

- map_name(NAME, KEY): NAME=a plus a second spelling of KEY (its normalized form, e.g.
  "rootcoordenableactivestandby") =b. coordha refuses two variables that set one key to different
  values and names the key: "config: env A and B both set KEY ...". That error appears only if NAME
  reaches KEY; it works for every kind of key, strings included.
- accepts({label: ENV}): the deployment's real values, with --set etcd.endpoints=127.0.0.1:1 (a
  closed port). A configuration that loads gets as far as connecting and exits 1 ("etcd ... is
  unreachable"); a bad value, or values that do not fit together (serveGrant >= ttl, auth without a
  user, ...), exits 2 naming the variable. The env layer is checked before --set applies, so the
  endpoint override hides no error in ETCD_ENDPOINTS. The probes run in parallel (each takes about
  2.5 s to give up on the closed port).
"""

import os
import re
import shutil
import subprocess
import sys

SKIP = 77  # CTest SKIP_RETURN_CODE

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# For map_name: serveGrant far above any TTL, so that a probe whose variables do not clash stops
# at loading too, instead of going on to contact etcd.
SENTINEL_SET = "common.session.serveGrant=30000000s"


def normalize(name):
    """Milvus's rule (DESIGN.md §8): lower-case, without '_', '.' and '/'."""
    return re.sub(r"[_./]", "", name).lower()


def find_coordha(explicit=None):
    for candidate in (explicit, os.environ.get("COORDHA_BIN"),
                      os.path.join(REPO, "build", "src", "cli", "coordha"), shutil.which("coordha")):
        if candidate and os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


def documented_keys():
    """Every key configs/coordha.yaml lists (flattened), plus metrics.port, which it documents
    commented out (setting it makes a taken port an error)."""
    import yaml

    with open(os.path.join(REPO, "configs", "coordha.yaml")) as f:
        tree = yaml.safe_load(f)
    keys = {"metrics.port"}

    def walk(node, prefix):
        for k, v in (node or {}).items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict):
                walk(v, path)
            elif v is not None:  # `metrics:` holds only a comment
                keys.add(path)

    walk(tree, "")
    return keys


class Coordha:
    def __init__(self, binary):
        self.binary = binary

    def _start(self, env, sets):
        # Only the variables under test: nothing from this process's environment can match a key.
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        base.update(env)
        argv = [self.binary, "status"]
        for s in sets:
            argv += ["--set", s]
        return subprocess.Popen(argv, env=base, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    @staticmethod
    def _finish(proc):
        _, err = proc.communicate(timeout=60)
        return proc.returncode, (err.strip().splitlines() or [""])[-1]

    def map_name(self, name, key):
        """None when coordha reads env NAME as KEY, else what went wrong."""
        alias = normalize(key)
        if alias == name:
            return f"{name}: cannot probe (already the normalized form)"
        code, line = self._finish(self._start({name: "probe-a", alias: "probe-b"}, [SENTINEL_SET]))
        if code == 2 and f"both set {key}," in line and name in line:
            return None
        return f"{name} does not reach {key}: coordha said (exit {code}): {line}"

    def accepts(self, envs):
        """{label: None when coordha loads that environment, else coordha's error line}."""
        procs = {label: self._start(env, ["etcd.endpoints=127.0.0.1:1"])
                 for label, env in envs.items()}
        result = {}
        for label, proc in procs.items():
            code, line = self._finish(proc)
            result[label] = None if code == 1 else f"exit {code}: {line}"
        return result


def key_for(name, keys):
    """The documented key env NAME matches by Milvus's rule, or None."""
    matches = [k for k in keys if normalize(k) == normalize(name)]
    return matches[0] if len(matches) == 1 else None


def setup(explicit_binary=None):
    """(Coordha, documented keys), or exits with SKIP when a tool is missing."""
    try:
        import yaml  # noqa: F401
    except ImportError:
        print("SKIP: python3-yaml is not installed (scripts/install-deps.sh installs it)")
        sys.exit(SKIP)
    binary = find_coordha(explicit_binary)
    if binary is None:
        print("SKIP: no coordha binary (pass --coordha, set COORDHA_BIN or build build/)")
        sys.exit(SKIP)
    return Coordha(binary), documented_keys()
