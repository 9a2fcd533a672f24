# shellcheck shell=bash
# shellcheck disable=SC2034 # globals set here are read by the tests that source this
# The real clients of the integration tests — containerd (ctr), docker (dockerd
# 20.10 + the docker CLI), podman and skopeo — each pulling through the proxy
# under test. Sourced after lib.sh (and token_world.sh when used).
#
# Every daemon runs as a child of the test, with all of its state in the
# test's temp dir ($T): its own config, root, state, sockets and logs; no
# fixed socket path or port, so tests may run in parallel (ctest -j). Daemons
# are registered with lib.sh's lifecycle (killed on exit, logs printed on
# failure). Nothing is written to /etc, and the machine's trust store is not
# touched; each client is told to trust the proxy's CA its own way:
#   ctr      --tlscacert PROXY_CA (proxy port); hosts.toml (mirror port, plain HTTP)
#   dockerd  SSL_CERT_FILE=<system bundle + PROXY_CA> in its environment (Go reads
#            it instead of /etc/ssl/certs; certs.d is fixed at /etc/docker/certs.d)
#   podman   --cert-dir PROXY_CERT_DIR
#   skopeo   --src-cert-dir PROXY_CERT_DIR (lib.sh's proxy_pull)
# Go clients never use HTTPS_PROXY for loopback addresses, so images are named
# registry.test:PORT/... (resolved by the proxy's UPSTREAM_RESOLVE), and a
# mirror on 127.0.0.x is reached directly.
#
# Functions:
#   require_clients CMD...      skip (77) unless installed ("docker" is /usr/bin/docker)
#   start_containerd            -> CONTAINERD_SOCK CONTAINERD_PID CTR=(ctr -a SOCK)
#   start_dockerd [PROXY_URL]   -> DOCKER_SOCK DOCKERD_PID DOCKER=(/usr/bin/docker -H unix://SOCK)
#                                  (PROXY_URL, or $DOCKERD_HTTPS_PROXY: dockerd's HTTPS_PROXY)
#   start_pt_docker_socket MIRROR REWRITE -> PT_DOCKER_SOCK PT_DOCKER_PID PT_DOCKER
#   podman_cmd ARGS...          podman with its root, runroot and tmp dirs in $T
#   ctr_pull IMAGE [NS]  ctr_mirror_pull IMAGE MIRROR [NS]  podman_pull IMAGE
#   client_pull CLIENT IMAGE OUT [MIRROR]   one pull, output in OUT.log, returns the status
#   client_image_digest CLIENT IMAGE [OUT] [MIRROR]  the manifest digest CLIENT holds
#   assert_client_pull CLIENT IMAGE DIGEST [MIRROR]  pull, fail with the output, check the digest
# CLIENT is one of: ctr (proxy port), ctr-mirror (MIRROR_LISTEN through hosts.toml),
# docker (dockerd with HTTPS_PROXY), docker-socket (pullthrough docker-socket in
# front of dockerd, pulls rewritten to the mirror), podman, skopeo.

# The docker CLI of the docker.io package: /usr/local/bin/docker (first in PATH
# on these machines) is an unrelated newer CLI.
DOCKER_CLI=/usr/bin/docker

# require_clients CMD... — skip (77) unless the client programs are installed.
require_clients() {
  local c
  for c in "$@"; do
    case "$c" in
      docker) [ -x "$DOCKER_CLI" ] || skip "$DOCKER_CLI (docker.io) not installed (scripts/install-deps.sh)" ;;
      *) require_cmd "$c" ;;
    esac
  done
}

# _wait_until SECONDS WHAT PID COMMAND... — polls COMMAND every 0.1 s until it
# succeeds; fails when PID exits first or after SECONDS.
_wait_until() {
  local secs=$1 what=$2 pid=$3 i
  shift 3
  for i in $(seq 1 $((secs * 10))); do
    kill -0 "$pid" 2>/dev/null || fail "$what exited during startup (see its log below)"
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "$what did not answer within ${secs}s"
}

# ---------------------------------------------------------------- containerd

CONTAINERD_PID=""

# start_containerd — containerd 1.6 with root, state, sockets and the opt dir in
# $T/ctd (the CRI plugin and the snapshotters that need special filesystems
# disabled). Content is isolated per namespace (content_sharing_policy), so two
# ctr pulls in different namespaces (ctr_pull: "proxy", ctr_mirror_pull:
# "mirror") both fetch every blob. Does nothing when already running.
# Sets CONTAINERD_SOCK CONTAINERD_PID CTR.
start_containerd() {
  if [ -n "$CONTAINERD_PID" ] && kill -0 "$CONTAINERD_PID" 2>/dev/null; then return 0; fi
  local dir="$T/ctd"
  mkdir -p "$dir"
  CONTAINERD_SOCK="$dir/containerd.sock"
  cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$dir/opt"
  [plugins."io.containerd.metadata.v1.bolt"]
    content_sharing_policy = "isolated"
EOF
  log "starting containerd ($CONTAINERD_SOCK)"
  containerd -c "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
  CONTAINERD_PID=$!
  _register_pid "$CONTAINERD_PID" containerd
  _register_log containerd "$dir/containerd.log"
  CTR=(ctr -a "$CONTAINERD_SOCK")
  _wait_until 15 containerd "$CONTAINERD_PID" "${CTR[@]}" version
}

# ctr_pull IMAGE [NAMESPACE] — ctr images pull through the proxy port
# (HTTPS_PROXY), trusting only the proxy CA; namespace "proxy" by default.
ctr_pull() {
  HTTPS_PROXY="$PROXY_URL" "${CTR[@]}" -n "${2:-proxy}" images pull --snapshotter native \
    --tlscacert "$PROXY_CA_CRT" "$1"
}

# ctr_mirror_pull IMAGE MIRROR [NAMESPACE] — ctr images pull with a hosts.toml
# sending the image's registry to the plain-HTTP mirror MIRROR (ip:port):
# containerd adds ?ns=<registry> to each request. No HTTPS_PROXY: the registry's
# own name does not resolve here, so only the mirror can serve the pull.
# Namespace "mirror" by default.
ctr_mirror_pull() {
  local image=$1 mirror=$2 ns=${3:-mirror} host=${1%%/*}
  local hosts="$T/ctd/hosts.d"
  mkdir -p "$hosts/$host"
  cat >"$hosts/$host/hosts.toml" <<EOF
server = "https://$host"

[host."http://$mirror"]
  capabilities = ["pull", "resolve"]
EOF
  "${CTR[@]}" -n "$ns" images pull --snapshotter native --hosts-dir "$hosts" "$image"
}

# ctr_image_digest IMAGE [NAMESPACE] — the manifest digest ctr lists for IMAGE.
ctr_image_digest() {
  "${CTR[@]}" -n "${2:-proxy}" images ls | awk -v r="$1" '$1 == r {print $3}'
}

# ---------------------------------------------------------------- docker

DOCKERD_PID=""

# start_dockerd [PROXY_URL] — dockerd 20.10 on a unix socket in $T/dkd, on
# containerd (started when not running), vfs storage, no bridge or iptables.
# PROXY_URL (default: $DOCKERD_HTTPS_PROXY, else no proxy) is given to dockerd as
# HTTPS_PROXY: dockerd itself pulls, so that is where the proxy is set (as in a
# docker.service drop-in). The proxy CA (PROXY_CA_CRT, when set) is added to the
# system bundle in SSL_CERT_FILE; Go reads its trust store once per process, so
# start the proxy first. The daemon's libtrust key (else /etc/docker/key.json)
# goes to $T through --config-file.
# Sets DOCKER_SOCK DOCKERD_PID DOCKER (the CLI, with DOCKER_CONFIG in $T).
start_dockerd() {
  local https_proxy=${1-${DOCKERD_HTTPS_PROXY:-}}
  [ -z "$DOCKERD_PID" ] || fail "start_dockerd: dockerd is already running (pid $DOCKERD_PID)"
  start_containerd
  local dir="$T/dkd"
  mkdir -p "$dir/data" "$dir/exec" "$dir/cli"
  DOCKER_SOCK="$dir/docker.sock"
  cat /etc/ssl/certs/ca-certificates.crt ${PROXY_CA_CRT:+"$PROXY_CA_CRT"} >"$dir/trust.pem"
  printf '{"deprecated-key-path": "%s"}\n' "$dir/key.json" >"$dir/daemon.json"
  local envs=(SSL_CERT_FILE="$dir/trust.pem")
  [ -z "$https_proxy" ] || envs+=(HTTPS_PROXY="$https_proxy")
  log "starting dockerd ($DOCKER_SOCK${https_proxy:+, HTTPS_PROXY=$https_proxy})"
  env "${envs[@]}" dockerd --config-file "$dir/daemon.json" --data-root "$dir/data" \
    --exec-root "$dir/exec" -H "unix://$DOCKER_SOCK" --pidfile "$dir/dockerd.pid" \
    --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    --containerd "$CONTAINERD_SOCK" >"$dir/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  _register_pid "$DOCKERD_PID" dockerd
  _register_log dockerd "$dir/dockerd.log"
  DOCKER=(env DOCKER_CONFIG="$dir/cli" "$DOCKER_CLI" -H "unix://$DOCKER_SOCK")
  _wait_until 30 dockerd "$DOCKERD_PID" curl -sf --max-time 2 --unix-socket "$DOCKER_SOCK" http://d/_ping
}

# start_pt_docker_socket MIRROR REWRITE — `pullthrough docker-socket` in front of
# the running dockerd: pulls of the registries in REWRITE (comma separated) go
# to MIRROR (the proxy's MIRROR_LISTEN, ip:port; dockerd treats 127.0.0.0/8 as
# insecure, so plain HTTP works) and are tagged back. Sets PT_DOCKER_SOCK
# PT_DOCKER_PID PT_DOCKER (the docker CLI on that socket).
start_pt_docker_socket() {
  local mirror=$1 rewrite=$2 dir="$T/ptdock"
  mkdir -p "$dir"
  PT_DOCKER_SOCK="$dir/docker.sock"
  log "starting pullthrough docker-socket ($PT_DOCKER_SOCK -> $DOCKER_SOCK, mirror $mirror, rewrite $rewrite)"
  "$PULLTHROUGH_BIN" docker-socket --listen "$PT_DOCKER_SOCK" --docker "$DOCKER_SOCK" --mirror "$mirror" \
    --rewrite "$rewrite" >"$dir/docker-socket.log" 2>&1 &
  PT_DOCKER_PID=$!
  _register_pid "$PT_DOCKER_PID" pullthrough-docker-socket
  _register_log "pullthrough docker-socket" "$dir/docker-socket.log"
  PT_DOCKER=(env DOCKER_CONFIG="$T/dkd/cli" "$DOCKER_CLI" -H "unix://$PT_DOCKER_SOCK")
  _wait_until 15 "pullthrough docker-socket" "$PT_DOCKER_PID" \
    curl -sf --max-time 2 --unix-socket "$PT_DOCKER_SOCK" http://d/_ping
}

# docker_image_digest DOCKER_ARRAY_NAME IMAGE — the digest in IMAGE's RepoDigests
# (the manifest digest docker pulled), for the repository IMAGE names.
docker_image_digest() {
  local -n _cli=$1
  local repo=${2%:*}
  "${_cli[@]}" image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$2" 2>/dev/null |
    awk -v r="$repo@" 'index($0, r) == 1 {print substr($0, length(r) + 1)}' | head -n1
}

# ---------------------------------------------------------------- podman

# podman_cmd ARGS... — podman with every directory it writes in $T/podman (root,
# libpod tmpdir, TMPDIR for layer downloads) and $T/pr (runroot: podman refuses
# one longer than 50 characters), vfs, cgroupfs, no events. Its containers.conf
# (CONTAINERS_CONF: read instead of the system's) asks for file locks in the
# tmpdir rather than the machine-wide /dev/shm/libpod_lock.
podman_cmd() {
  local dir="$T/podman"
  if [ ! -f "$dir/containers.conf" ]; then
    [ "${#T}" -le 47 ] || fail "podman: the runroot $T/pr would be longer than 50 characters (set a shorter TMPDIR)"
    mkdir -p "$dir/tmp"
    printf '[engine]\nlock_type = "file"\n' >"$dir/containers.conf"
  fi
  CONTAINERS_CONF="$dir/containers.conf" TMPDIR="$dir/tmp" podman --root "$dir/root" \
    --runroot "$T/pr" --tmpdir "$dir/libpod" --storage-driver vfs --cgroup-manager cgroupfs \
    --events-backend none "$@"
}

# podman_pull IMAGE — podman pull through the proxy port, trusting the proxy CA.
podman_pull() {
  HTTPS_PROXY="$PROXY_URL" podman_cmd pull --cert-dir "$PROXY_CERT_DIR" "$1"
}

# ---------------------------------------------------------------- any client

# client_pull CLIENT IMAGE OUT [MIRROR] — one pull of IMAGE by CLIENT (see the
# top of this file), its output in OUT.log (skopeo's image in OUT.dir); returns
# the client's status. MIRROR (ip:port) is needed by ctr-mirror. For
# docker-socket, IMAGE is the name the docker client uses (a rewritten registry,
# no port: the mirror's path form cannot carry one).
client_pull() {
  local client=$1 image=$2 out=$3 mirror=${4:-}
  case "$client" in
    ctr) ctr_pull "$image" >"$out.log" 2>&1 ;;
    ctr-mirror) ctr_mirror_pull "$image" "$mirror" >"$out.log" 2>&1 ;;
    docker) "${DOCKER[@]}" pull "$image" >"$out.log" 2>&1 ;;
    docker-socket) "${PT_DOCKER[@]}" pull "$image" >"$out.log" 2>&1 ;;
    podman) podman_pull "$image" >"$out.log" 2>&1 ;;
    skopeo) proxy_pull "$image" "$out.dir" >"$out.log" 2>&1 ;;
    *) fail "client_pull: unknown client $client" ;;
  esac
}

# client_image_digest CLIENT IMAGE [OUT] [MIRROR] — the manifest digest CLIENT now
# holds for IMAGE (skopeo: the image client_pull wrote to OUT.dir; docker-socket:
# the digest the engine recorded for the mirror's name, MIRROR/IMAGE, as the name
# tagged back has none of its own).
client_image_digest() {
  local client=$1 image=$2 out=${3:-} mirror=${4:-}
  case "$client" in
    ctr) ctr_image_digest "$image" proxy ;;
    ctr-mirror) ctr_image_digest "$image" mirror ;;
    docker) docker_image_digest DOCKER "$image" ;;
    docker-socket) docker_image_digest PT_DOCKER "$mirror/$image" ;;
    podman) podman_cmd image inspect --format '{{.Digest}}' "$image" 2>/dev/null ;;
    skopeo) [ -f "$out.dir/manifest.json" ] && sha256_of "$out.dir/manifest.json" ;;
    *) fail "client_image_digest: unknown client $client" ;;
  esac
}

# assert_client_pull CLIENT IMAGE DIGEST [MIRROR] — CLIENT pulls IMAGE (output
# in $T/pull-CLIENT-<image>.log, printed on failure) and then holds it with
# manifest digest DIGEST.
assert_client_pull() {
  local client=$1 image=$2 digest=$3 mirror=${4:-} out
  out="$T/pull-$client-$(tr -c 'a-zA-Z0-9._-' _ <<<"$image")"
  out=${out%_}
  local t0=$SECONDS
  client_pull "$client" "$image" "$out" "$mirror" ||
    { cat "$out.log"; fail "$client: pull of $image failed"; }
  ok "$client pulled $image ($((SECONDS - t0))s)"
  assert_eq "$(client_image_digest "$client" "$image" "$out" "$mirror")" "$digest" "$client holds $image as $digest"
}
