#!/usr/bin/env bash
# docker/kubernetes/ checked without a cluster, a network or the proxy: every YAML document there
# parses and is a Kubernetes object (`kubectl apply -f docker/kubernetes/` takes every file), and
# the manifests hold together as the cluster mode needs (docs/deploy.md, "A cluster of replicas
# (Kubernetes)"):
#   - a StatefulSet of >= 3 replicas (podManagementPolicy Parallel) whose serviceName is a headless
#     Service (clusterIP None, publishNotReadyAddresses) with the peer port;
#   - PEERS=dns:<that Service>:<its port>, PEER_LISTEN=$(POD_IP):<the same port>, with POD_IP from
#     the downward API defined before it (Kubernetes expands $(VAR) only from earlier entries);
#   - the root CA a Secret mounted read-only at CA_DIR (not optional, and not committed here);
#   - a volumeClaimTemplate mounted at CACHE_DIR, larger than CACHE_MAX_SIZE;
#   - probes GET /healthz on the container port of LISTEN; the image's uid (docker/Dockerfile);
#     a grace period above SHUTDOWN_GRACE; requests and limits; credentials only from a Secret;
#   - every Service's selector, and the PodDisruptionBudget's, match the pods' labels, every
#     targetPort is a container port; the image is the one docker/compose.yml names;
#   - every variable set is a setting of the README's table (defaults are read from there too).
# The checker is then run on broken copies, each of which it must refuse.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

K8S_DIR="${PT_K8S_DIR:-$REPO_ROOT/docker/kubernetes}" # PT_K8S_DIR: check another directory
[ -d "$K8S_DIR" ] || fail "no $K8S_DIR"
# Debian's python3 (CI's), not whatever python3 comes first in PATH; python3-yaml is in
# scripts/install-deps.sh.
[ -x "$PY" ] || skip "$PY not installed (scripts/install-deps.sh)"
"$PY" -c 'import yaml' 2>/dev/null || skip "$PY has no yaml module: apt-get install python3-yaml (scripts/install-deps.sh)"

cat >"$T/check.py" <<'EOF'
"""Checks a directory of Kubernetes manifests for pullthrough's cluster mode.
Prints one line per check: "ok<TAB>what" or "FAIL<TAB>what"."""
import os, re, sys
import yaml

k8s_dir, readme, compose, dockerfile, deploy_md = sys.argv[1:6]
failures = 0


def check(cond, what, why=""):
    global failures
    if cond:
        print(f"ok\t{what}")
    else:
        failures += 1
        print(f"FAIL\t{what}" + (f": {why}" if why else ""))
    return cond


def duration_s(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", str(text).strip())
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2) or "s"
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def bytes_of(text):
    """A Kubernetes quantity (40Gi, 40G) or a pullthrough size (32g, taken as GiB: the larger)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGTP]i?|[kmgtp])?[bB]?", str(text).strip())
    if not m:
        return None
    unit = m.group(2) or ""
    power = "KMGTP".index(unit[0].upper()) + 1 if unit else 0
    base = 1000 if len(unit) == 1 and unit.isupper() else 1024
    return float(m.group(1)) * base**power


# ---------------------------------------------------------------- the settings table of the README
settings = {}  # name (or NAME_*) -> default text
for line in open(readme):
    cols = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cols) < 3 or not cols[0].startswith("`"):
        continue
    names = re.findall(r"`([A-Z][A-Z0-9_]*\*?)`", cols[0].split("(")[0])
    defaults = [d.strip().strip("`") for d in cols[1].split(",")]
    for i, name in enumerate(names):
        settings[name] = defaults[i] if len(defaults) == len(names) else cols[1].strip("`")
check({"LISTEN", "CA_DIR", "CACHE_DIR", "SHUTDOWN_GRACE"} <= settings.keys(),
      "the README's settings table is readable (LISTEN, CA_DIR, CACHE_DIR, SHUTDOWN_GRACE)",
      f"found {sorted(settings)}")


def known_setting(name):
    return name in settings or any(k.endswith("*") and name.startswith(k[:-1]) for k in settings)


# ---------------------------------------------------------------- every file, every document
docs = []
files = sorted(f for f in os.listdir(k8s_dir) if f.endswith((".yaml", ".yml", ".json")))
check(files, f"{k8s_dir} holds manifests")
for f in files:
    path = os.path.join(k8s_dir, f)
    text = open(path).read()
    check("PRIVATE KEY" not in text, f"{f}: no private key committed")
    try:
        loaded = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        check(False, f"{f} parses as YAML", str(e).replace("\n", " "))
        continue
    check(loaded, f"{f} parses as YAML ({len(loaded)} documents)")
    for d in loaded:
        # kubectl apply -f DIR sends every file to the server: a kustomization.yaml there fails.
        good = isinstance(d, dict) and d.get("apiVersion") and d.get("kind") and (d.get("metadata") or {}).get("name")
        if check(good, f"{f}: a Kubernetes object ({d.get('kind') if isinstance(d, dict) else d!r})",
                 "no apiVersion/kind/metadata.name: `kubectl apply -f` on the directory would fail"):
            docs.append((f, d))


def of_kind(kind):
    return [d for _, d in docs if d["kind"] == kind]


namespaces = of_kind("Namespace")
check(len(namespaces) <= 1, "at most one Namespace")
ns_names = {(d["metadata"].get("namespace") or "") for _, d in docs if d["kind"] != "Namespace"}
check(len(ns_names) == 1, "every object in one namespace", f"found {sorted(ns_names)}")
namespace = next(iter(ns_names)) if ns_names else ""
if namespaces:
    check(namespaces[0]["metadata"]["name"] == namespace, f"the Namespace is theirs ({namespace})",
          f"Namespace {namespaces[0]['metadata']['name']} vs objects in {namespace!r}")
for _, d in docs:
    if d["kind"] == "Secret":
        check(not ({"ca.key", "ca.crt"} & set((d.get("data") or {}) | (d.get("stringData") or {}))),
              f"Secret {d['metadata']['name']}: not the CA (applying the directory again would replace the real one)")

sts_all = of_kind("StatefulSet")
services = of_kind("Service")
pdbs = of_kind("PodDisruptionBudget")
check(len(sts_all) == 1, "one StatefulSet", f"found {len(sts_all)}")
check(len(services) >= 2, "a headless peer Service and a client Service", f"found {len(services)} Services")
check(len(pdbs) == 1, "one PodDisruptionBudget", f"found {len(pdbs)}")
if failures or not sts_all:
    sys.exit(1)

# ---------------------------------------------------------------- the StatefulSet and its pod
sts = sts_all[0]
spec = sts["spec"]
pod = spec["template"]["spec"]
pod_labels = spec["template"]["metadata"].get("labels") or {}
check(isinstance(spec.get("replicas"), int) and spec["replicas"] >= 3, "StatefulSet replicas >= 3", f"replicas {spec.get('replicas')}")
check(spec.get("podManagementPolicy") == "Parallel", "podManagementPolicy Parallel")
sel = spec["selector"].get("matchLabels") or {}
check(sel and sel.items() <= pod_labels.items(), "the StatefulSet's selector matches its pod labels", f"{sel} vs {pod_labels}")
containers = [c for c in pod["containers"] if c.get("image", "").split("@")[0].rsplit("/", 1)[-1].split(":")[0] == "pullthrough"]
check(len(containers) == 1, "one pullthrough container", f"images: {[c.get('image') for c in pod['containers']]}")
if failures:
    sys.exit(1)
c = containers[0]

env_list = c.get("env") or []
env = {}
for i, e in enumerate(env_list):
    for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(e.get("value", ""))):
        check(ref in env, f"env {e['name']}: $({ref}) is defined before it (Kubernetes expands earlier entries only)")
    env[e["name"]] = e
for name, e in env.items():
    field_ref = (e.get("valueFrom") or {}).get("fieldRef")
    if field_ref:  # a downward-API helper for $(VAR) expansion, not a setting
        continue
    check(known_setting(name), f"env {name} is a setting of the README's table")


def setting(name):
    """The value the pod gives a setting (literal), else the README's default."""
    e = env.get(name)
    if e is not None and "value" in e:
        return str(e["value"])
    return settings.get(name, "")


def port_of(address):
    m = re.search(r":(\d+)$", address or "")
    return int(m.group(1)) if m else None


ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}


def container_port(ref):
    """A probe's or Service's port (name or number) as a container port number, or None."""
    if isinstance(ref, int):
        return ref if ref in ports.values() else None
    return ports.get(ref)


proxy_port = port_of(setting("LISTEN"))
check(proxy_port in ports.values(), f"the container exposes LISTEN's port {proxy_port}", f"ports {ports}")

image = c["image"].split("@")[0]
name_tag = image.rsplit("/", 1)[-1]
compose_doc = yaml.safe_load(open(compose))
compose_image = compose_doc["services"]["pullthrough"]["image"].split("@")[0].rsplit("/", 1)[-1]
check(name_tag.split(":")[0] == compose_image.split(":")[0],
      f"the image is the one docker/compose.yml builds ({image} vs {compose_image})")

# Peers: the headless Service.
headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
check(len(headless) == 1, "one headless Service (clusterIP: None)")
if failures:
    sys.exit(1)
hl = headless[0]
hl_name = hl["metadata"]["name"]
check(spec.get("serviceName") == hl_name, f"the StatefulSet's serviceName is the headless Service ({hl_name})", f"serviceName {spec.get('serviceName')}")
check(hl["spec"].get("publishNotReadyAddresses") is True, "the headless Service publishes replicas that are not Ready (publishNotReadyAddresses)")
peers = setting("PEERS")
m = re.fullmatch(r"dns:([A-Za-z0-9.-]+):(\d+)", peers)
check(m, f"PEERS is dns:NAME:PORT ({peers})")
if m:
    host, peers_port = m.group(1), int(m.group(2))
    labels = host.split(".")
    check(labels[0] == hl_name and (len(labels) == 1 or (labels[1] == namespace and labels[2:3] == ["svc"])),
          f"PEERS names the headless Service {hl_name} in namespace {namespace}", f"PEERS host {host}")
    hl_ports = [p for p in hl["spec"].get("ports") or [] if p["port"] == peers_port]
    check(hl_ports, f"the headless Service has PEERS' port {peers_port}")
    peer_listen = setting("PEER_LISTEN")
    check(re.fullmatch(r"\[?\$\(POD_IP\)\]?:\d+", peer_listen), f"PEER_LISTEN is $(POD_IP):PORT ({peer_listen})")
    check(port_of(peer_listen) == peers_port, "PEER_LISTEN listens on PEERS' port")
    pod_ip_ref = ((env.get("POD_IP") or {}).get("valueFrom") or {}).get("fieldRef") or {}
    check(pod_ip_ref.get("fieldPath") == "status.podIP", "POD_IP comes from the downward API (status.podIP)")
    check(peers_port in ports.values(), f"the container exposes the peer port {peers_port}")
    for p in hl_ports:
        check(container_port(p.get("targetPort", p["port"])) == peers_port, f"the headless Service's port {peers_port} reaches the container's peer port")

# The root CA: a Secret, read-only, at CA_DIR.
volumes = {v["name"]: v for v in pod.get("volumes") or []}
mounts = {m["mountPath"].rstrip("/"): m for m in c.get("volumeMounts") or []}
ca_dir = setting("CA_DIR").rstrip("/")
ca_mount = mounts.get(ca_dir)
check(ca_mount, f"a volume is mounted at CA_DIR ({ca_dir})")
if ca_mount:
    check(ca_mount.get("readOnly") is True, f"{ca_dir} is mounted readOnly")
    secret = (volumes.get(ca_mount["name"]) or {}).get("secret")
    check(secret and secret.get("secretName"), f"{ca_dir} is a Secret volume")
    if secret:
        check(not secret.get("optional"), "the CA Secret is not optional (a replica must not start with a CA of its own)")
        deploy = open(deploy_md).read()
        check(re.search(rf"create secret generic {re.escape(secret['secretName'])} --from-file=ca\.crt --from-file=ca\.key", deploy),
              f"docs/deploy.md says how to create the Secret {secret['secretName']} (ca.crt, ca.key)")

# The cache: one claim per replica, at CACHE_DIR, larger than CACHE_MAX_SIZE.
cache_dir = setting("CACHE_DIR").rstrip("/")
claims = {t["metadata"]["name"]: t for t in spec.get("volumeClaimTemplates") or []}
cache_mount = mounts.get(cache_dir)
check(cache_mount and cache_mount["name"] in claims, f"a volumeClaimTemplate is mounted at CACHE_DIR ({cache_dir})",
      f"mounts {sorted(mounts)}, claims {sorted(claims)}")
if cache_mount and cache_mount["name"] in claims:
    storage = claims[cache_mount["name"]]["spec"]["resources"]["requests"]["storage"]
    max_size = setting("CACHE_MAX_SIZE")
    check(bytes_of(storage) and bytes_of(max_size) and bytes_of(storage) > bytes_of(max_size),
          f"the claim ({storage}) is larger than CACHE_MAX_SIZE ({max_size})")

# Probes: /healthz on the proxy port.
for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
    p = c.get(probe)
    if p is None and probe == "startupProbe":
        continue
    get = (p or {}).get("httpGet") or {}
    check(get.get("path") == "/healthz" and container_port(get.get("port")) == proxy_port,
          f"{probe} GETs /healthz on the proxy port {proxy_port}", f"{get}")

# The image's user, and the drain.
uid = re.search(r"--uid (\d+)", open(dockerfile).read())
gid = re.search(r"--gid (\d+)", open(dockerfile).read())
psc = pod.get("securityContext") or {}
csc = c.get("securityContext") or {}
run_as = csc.get("runAsUser", psc.get("runAsUser"))
check(uid and run_as == int(uid.group(1)), f"runs as the image's uid ({uid and uid.group(1)})", f"runAsUser {run_as}")
check(csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, "runAsNonRoot")
check(gid and psc.get("fsGroup") == int(gid.group(1)), "fsGroup is the image's gid (cache volume writable, CA readable)")
check(csc.get("allowPrivilegeEscalation") is False, "no privilege escalation")
grace = pod.get("terminationGracePeriodSeconds", 30)
pre_stop = (((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
pre_stop_s = int(pre_stop[1]) if pre_stop[:1] == ["sleep"] and len(pre_stop) == 2 and pre_stop[1].isdigit() else 0
shutdown = duration_s(setting("SHUTDOWN_GRACE")) or 0
check(grace > shutdown + pre_stop_s, f"terminationGracePeriodSeconds ({grace}) > preStop ({pre_stop_s}s) + SHUTDOWN_GRACE ({shutdown:g}s)")
res = c.get("resources") or {}
check(res.get("requests") and res.get("limits"), "resource requests and limits")

# Credentials never in the manifest.
for name in ("AUTH_REGISTRIES",):
    e = env.get(name)
    if e is not None:
        ref = (e.get("valueFrom") or {}).get("secretKeyRef") or {}
        check("value" not in e and ref.get("name"), f"{name} comes from a Secret (secretKeyRef)")
        check(ref.get("optional") is True, f"{name}'s Secret is optional (pods start without credentials)")

# ---------------------------------------------------------------- Services and the PDB
for s in services:
    name = s["metadata"]["name"]
    sel = s["spec"].get("selector") or {}
    check(sel and sel.items() <= pod_labels.items(), f"Service {name} selects the StatefulSet's pods", f"{sel} vs {pod_labels}")
    for p in s["spec"].get("ports") or []:
        check(container_port(p.get("targetPort", p["port"])) is not None,
              f"Service {name} port {p['port']} reaches a container port", f"targetPort {p.get('targetPort')}, ports {ports}")
clients = [s for s in services if s is not hl]
client_ports = [container_port(p.get("targetPort", p["port"])) for s in clients for p in s["spec"].get("ports") or []]
check(proxy_port in client_ports, f"a client Service reaches the proxy port {proxy_port}")
mirror = setting("MIRROR_LISTEN")
if mirror and mirror != "off":
    mirror_port = port_of(mirror)
    check(mirror_port in ports.values(), f"the container exposes MIRROR_LISTEN's port {mirror_port}")
    check(mirror_port in client_ports, f"a client Service reaches the mirror port {mirror_port}")
pdb = pdbs[0]
pdb_sel = pdb["spec"]["selector"].get("matchLabels") or {}
check(pdb_sel and pdb_sel.items() <= pod_labels.items(), "the PodDisruptionBudget selects the StatefulSet's pods", f"{pdb_sel} vs {pod_labels}")
check(pdb["spec"].get("maxUnavailable") == 1, "the PodDisruptionBudget lets one replica go at a time")

sys.exit(1 if failures else 0)
EOF

# check.py DIR: its verdict lines as ok/FAIL; returns 1 when any check failed.
run_check() {
  "$PY" "$T/check.py" "$1" "$REPO_ROOT/README.md" "$REPO_ROOT/docker/compose.yml" \
    "$REPO_ROOT/docker/Dockerfile" "$REPO_ROOT/docs/deploy.md"
}

# ---------------------------------------------------------------- the manifests
rc=0
run_check "$K8S_DIR" >"$T/verdict.tsv" 2>&1 || rc=$?
failed=0
while IFS=$'\t' read -r status what; do
  case "$status" in
    ok) ok "$what" ;;
    FAIL) echo "FAIL: $what" && failed=$((failed + 1)) ;;
    *) echo "$status${what:+ $what}" ;; # a traceback
  esac
done <"$T/verdict.tsv"
if [ "$failed" != 0 ] || [ "$rc" != 0 ]; then fail "$K8S_DIR: $failed checks failed (checker exit $rc)"; fi

# ---------------------------------------------------------------- the checker refuses broken copies
# Each mutation breaks one invariant of a copy; the checker must fail, naming it.
mutate() { # NAME EXPECTED-FAIL-TEXT PYTHON (edits `docs`, a list of (file, document))
  local name=$1 expect=$2 code=$3 dir="$T/broken-$1"
  mkdir -p "$dir"
  "$PY" - "$K8S_DIR" "$dir" "$code" <<'EOF'
import os, sys, yaml
src, dst, code = sys.argv[1:4]
docs = [(f, d) for f in sorted(os.listdir(src)) if f.endswith((".yaml", ".yml"))
        for d in yaml.safe_load_all(open(os.path.join(src, f))) if d is not None]
def kind(k, pred=lambda d: True):
    return next(d for _, d in docs if d["kind"] == k and pred(d))
sts = kind("StatefulSet")
pod = sts["spec"]["template"]["spec"]
c = pod["containers"][0]
env = c["env"]
headless = kind("Service", lambda d: d["spec"].get("clusterIP") == "None")
exec(code)
by_file = {}
for f, d in docs:
    by_file.setdefault(f, []).append(d)
for f, ds in by_file.items():
    with open(os.path.join(dst, f), "w") as out:
        yaml.safe_dump_all(ds, out, sort_keys=False)
EOF
  local out rc=0
  out=$(run_check "$dir" 2>&1) || rc=$?
  [ "$rc" != 0 ] || fail "broken copy '$name' passed the checker"
  assert_contains "$(grep '^FAIL' <<<"$out" || true)" "$expect" "the checker refuses a copy with $name"
}
mutate serviceName "serviceName is the headless Service" 'sts["spec"]["serviceName"] = "pullthrough"'
mutate not-ready-hidden "publishNotReadyAddresses" 'del headless["spec"]["publishNotReadyAddresses"]'
mutate peers-elsewhere "PEERS names the headless Service" \
  'next(e for e in env if e["name"] == "PEERS")["value"] = "dns:pullthrough.pullthrough.svc.cluster.local:3129"'
mutate pod-ip-late 'is defined before it' \
  'i = next(i for i, e in enumerate(env) if e["name"] == "POD_IP"); env.append(env.pop(i))'
mutate ca-writable "mounted readOnly" 'next(m for m in c["volumeMounts"] if m["mountPath"] == "/ca")["readOnly"] = False'
mutate cache-elsewhere "mounted at CACHE_DIR" \
  'next(m for m in c["volumeMounts"] if m["mountPath"] == "/docker_mirror_cache")["mountPath"] = "/cache"'
mutate probe-port "readinessProbe GETs /healthz" 'c["readinessProbe"]["httpGet"]["port"] = "peer"'
mutate pdb-labels "PodDisruptionBudget selects" 'kind("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] = {"app": "other"}'
mutate root "runs as the image's uid" 'pod["securityContext"]["runAsUser"] = 0'
mutate unknown-setting "env CACHE_SIZE is a setting" 'env.append({"name": "CACHE_SIZE", "value": "32g"})'
mutate kustomization "a Kubernetes object" \
  'docs.append(("kustomization.yaml", {"resources": ["statefulset.yaml"]}))'

finish
