#!/usr/bin/env bash
# The container image as users build and run it (docker/Dockerfile, README's "container" set-up):
#   - a real dockerd builds docker/Dockerfile from the repository root, with BuildKit (current
#     docker's default builder), on a Debian 12 base made here with debootstrap
#     (no registry to pull debian:12-slim from: DEBIAN_IMAGE=local/debian:12, see below);
#   - the container (`docker run --network host`: no bridge here) runs the proxy as uid/gid 10001,
#     writes its CA into the /ca volume owned by that user, and its HEALTHCHECK reports healthy;
#   - a second real dockerd, set up as a docker host behind the proxy (clients.sh start_dockerd:
#     HTTPS_PROXY = the container's port, the container's /ca.crt trusted), pulls a test-world
#     image (registry.test, TLS, resolved by the proxy via UPSTREAM_RESOLVE) through it: MISS;
#   - `docker stop` ends it cleanly (exit 0, well within the SIGTERM grace);
#   - a new container on the same volumes keeps the CA (same ca.crt fingerprint, "loaded") and
#     the cache: the docker host, still trusting the old CA, pulls again and gets HITs.
# tests/integration/test_dockerfile.sh stays beside this one: it checks in seconds, without an
# engine, what a build would only reveal after minutes (files, options, runtime packages against
# the binary's libraries, compose.yml, the healthcheck's failure modes).
#
# Cost, measured on 2 cores shared with other work (load 3 to 10): base 0 s when cached,
# debootstrap 30-75 s otherwise; import 1-4 s; build 7-15 min (dependencies 30-150 s, compiling the
# Release binary the rest; the runtime stage alongside); run about 35 s (30 of them waiting for
# the first HEALTHCHECK, the pulls meanwhile); clean-up 35 s (deleting the layers and the build
# cache; 4 min with the vfs driver). The time of each phase, and of
# each slow build step, is printed. The build exercises no code the sanitizer build would check,
# so it runs once: CTest label "once", which scripts/run-tests.sh leaves out of its sanitizer suite.
#
# Needs root, dockerd/containerd/docker (docker.io), debootstrap (unless the base is cached) and
# network access to the Debian mirror (debootstrap, and apt-get inside the build).
# Environment:
#   PT_CACHE_DIR          where the debootstrapped base tarball is kept between runs
#                         (default /var/cache/pullthrough-tests; made again when older than
#                         PT_BASE_MAX_AGE_DAYS, default 30)
#   PT_DEBIAN_MIRROR      debootstrap's mirror (default http://deb.debian.org/debian)
#   PT_STORAGE_DRIVER     the image dockerd's storage driver (default overlay2 when overlayfs
#                         mounts here, else vfs)
#   PT_IMAGE_TAR=FILE     load this `docker save` of an image built before instead of building:
#                         to work on the rest of this test quickly; the build is then NOT tested

# Everything the test starts lives in its own PID and mount namespaces: when the test is killed
# (a SIGKILL, as on a ctest timeout, runs no trap), the kernel ends the daemons, the
# container shims and the build containers with it (containerd's shims leave the test's process
# tree, so killing the tree would miss them), and their mounts go with the mount namespace.
if [ -z "${PT_IN_NAMESPACE:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1; then
  PT_IN_NAMESPACE=1 exec unshare --pid --fork --kill-child --mount-proc bash "$0" "$@"
fi
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/clients.sh"

[ "$(id -u)" = 0 ] || skip "needs root (dockerd, containerd, debootstrap)"
require_clients docker dockerd containerd docker-registry skopeo curl openssl tar flock

IMAGE_TAG=pullthrough:it
BASE_IMAGE=local/debian:12
PT_CACHE_DIR=${PT_CACHE_DIR:-/var/cache/pullthrough-tests}
BASE_TAR=$PT_CACHE_DIR/debian-bookworm-minbase.tar
COST=()
phase_start=$SECONDS
phase_done() { # NAME — records the seconds since the previous phase
  COST+=("$1 $((SECONDS - phase_start))s")
  phase_start=$SECONDS
}

# ---------------------------------------------------------------- the image host's dockerd
# clients.sh's start_dockerd is the docker host that pulls through the proxy: it must start after
# the proxy (its trust store is read once), and there is one per test. The image is built and run
# by a second dockerd, here, on the same containerd in its own namespaces.
IMG_DOCKERD_PID=""
IMG_DOCKER=()
CONTAINERS=()
start_image_dockerd() {
  start_containerd
  local dir="$T/imgd" i
  mkdir -p "$dir/data" "$dir/exec" "$dir/cli"
  IMG_SOCK="$dir/docker.sock"
  printf '{"deprecated-key-path": "%s"}\n' "$dir/key.json" >"$dir/daemon.json" # not /etc/docker
  # overlay2 when the kernel lets us mount overlayfs: vfs copies the whole tree for every layer
  # and container, which made the build minutes slower and removing $T take 4 more.
  local driver=${PT_STORAGE_DRIVER:-}
  if [ -z "$driver" ]; then
    driver=vfs
    mkdir -p "$dir/ovl/l" "$dir/ovl/u" "$dir/ovl/w" "$dir/ovl/m"
    if mount -t overlay overlay -o "lowerdir=$dir/ovl/l,upperdir=$dir/ovl/u,workdir=$dir/ovl/w" \
      "$dir/ovl/m" 2>/dev/null; then
      umount "$dir/ovl/m"
      driver=overlay2
    fi
    rm -rf "$dir/ovl"
  fi
  log "starting dockerd for the image ($IMG_SOCK, $driver)"
  dockerd --config-file "$dir/daemon.json" --data-root "$dir/data" --exec-root "$dir/exec" \
    -H "unix://$IMG_SOCK" --pidfile "$dir/dockerd.pid" --iptables=false --ip6tables=false \
    --bridge=none --storage-driver="$driver" --containerd "$CONTAINERD_SOCK" \
    --containerd-namespace pt-image --containerd-plugins-namespace pt-image-plugins \
    >"$dir/dockerd.log" 2>&1 &
  IMG_DOCKERD_PID=$!
  _register_pid "$IMG_DOCKERD_PID" "dockerd (image)"
  _register_log "dockerd (image)" "$dir/dockerd.log"
  IMG_DOCKER=(env DOCKER_CONFIG="$dir/cli" DOCKER_BUILDKIT=1 "$DOCKER_CLI" -H "unix://$IMG_SOCK")
  for i in $(seq 1 300); do
    kill -0 "$IMG_DOCKERD_PID" 2>/dev/null || fail "dockerd (image) exited during startup"
    curl -sf --max-time 2 --unix-socket "$IMG_SOCK" http://d/_ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "dockerd (image) did not answer within 30s"
}

# Before lib.sh's clean-up (which kills what was started, then removes $T): containers go first
# (a dockerd killed under a running container leaves it running in its shim), then both dockerds
# (they stop their containers and plugins), then whatever they left mounted in $T (dockerd's
# exec-root/netns/default; debootstrap's /proc and /sys if it was interrupted).
# shellcheck disable=SC2317 # (run from the EXIT trap)
_image_cleanup() {
  set +e +E
  trap - ERR
  local c mnt t0=$SECONDS t1 t2
  for c in "${CONTAINERS[@]}"; do
    "${IMG_DOCKER[@]}" logs -t "$c" >"$T/container-$c.log" 2>&1
    "${IMG_DOCKER[@]}" rm -f -v "$c" >/dev/null 2>&1
  done
  t1=$SECONDS
  [ -z "${DOCKERD_PID:-}" ] || _kill_pid "$DOCKERD_PID" dockerd
  [ -z "$IMG_DOCKERD_PID" ] || _kill_pid "$IMG_DOCKERD_PID" "dockerd (image)"
  [ -z "${CONTAINERD_PID:-}" ] || _kill_pid "$CONTAINERD_PID" containerd
  while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || echo "could not unmount $mnt"
  done < <(findmnt -rn -o TARGET | awk -v t="$T/" 'index($0, t) == 1' | sort -r)
  t2=$SECONDS
  [ "${KEEP:-0}" = 1 ] || rm -rf "$T/imgd/data" # most of $T: the image, its layers, the build cache
  log "clean-up: containers $((t1 - t0))s, daemons $((t2 - t1))s, removing their data $((SECONDS - t2))s"
}
_img_rc=0
trap '_img_rc=$?; _image_cleanup; (exit $_img_rc); _on_exit' EXIT

# ---------------------------------------------------------------- the Debian 12 base
# debian:12-slim cannot be pulled here; debootstrap's minbase is the same distribution (apt
# sources as in the official image). Kept in PT_CACHE_DIR (locked: tests may run in parallel).
make_base_tar() {
  local rootfs="$T/rootfs" mirror=${PT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  mkdir -p "$PT_CACHE_DIR"
  exec 9>"$PT_CACHE_DIR/.lock"
  flock -w 900 9 || fail "could not lock $PT_CACHE_DIR/.lock within 15 min"
  if [ -s "$BASE_TAR" ] && [ -z "$(find "$BASE_TAR" -mtime +"${PT_BASE_MAX_AGE_DAYS:-30}")" ]; then
    log "base: $BASE_TAR (cached, $(du -m "$BASE_TAR" | cut -f1) MB)"
    exec 9>&-
    return 0
  fi
  require_cmd debootstrap
  log "base: debootstrap --variant=minbase bookworm from $mirror"
  _register_log debootstrap "$T/debootstrap.log"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$T/debootstrap.log" 2>&1 ||
    fail "debootstrap failed (network? see its log below)"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  tar --numeric-owner -C "$rootfs" -cf "$BASE_TAR.partial" . && mv "$BASE_TAR.partial" "$BASE_TAR"
  exec 9>&-
  rm -rf "$rootfs"
  log "base: $BASE_TAR written ($(du -m "$BASE_TAR" | cut -f1) MB)"
}

# ---------------------------------------------------------------- build
start_image_dockerd
phase_done "dockerd start"

if [ -n "${PT_IMAGE_TAR:-}" ]; then
  log "PT_IMAGE_TAR: loading $PT_IMAGE_TAR instead of building (the build is NOT tested)"
  loaded=$("${IMG_DOCKER[@]}" load -i "$PT_IMAGE_TAR" | sed -n 's/^Loaded image: //p' | head -n1)
  [ -n "$loaded" ] || fail "no image in $PT_IMAGE_TAR"
  "${IMG_DOCKER[@]}" tag "$loaded" "$IMAGE_TAG"
  phase_done "load (PT_IMAGE_TAR)"
else
  grep -qE '^ARG DEBIAN_IMAGE=' "$REPO_ROOT/docker/Dockerfile" ||
    fail "docker/Dockerfile has no ARG DEBIAN_IMAGE (its FROM lines must use it)"
  make_base_tar
  phase_done "base"
  "${IMG_DOCKER[@]}" import - "$BASE_IMAGE" <"$BASE_TAR" >/dev/null
  phase_done "import"
  log "building docker/Dockerfile (BuildKit, DEBIAN_IMAGE=$BASE_IMAGE, log in $T/build.log)"
  t0=$SECONDS
  if ! "${IMG_DOCKER[@]}" build --progress=plain --network host --build-arg "DEBIAN_IMAGE=$BASE_IMAGE" \
    -t "$IMAGE_TAG" -f "$REPO_ROOT/docker/Dockerfile" "$REPO_ROOT" >"$T/build.log" 2>&1; then
    PT_LOG_TAIL=${PT_LOG_TAIL:-60}
    _register_log "docker build" "$T/build.log"
    fail "docker build -f docker/Dockerfile failed"
  fi
  phase_done "build"
  ok "docker/Dockerfile builds ($((SECONDS - t0))s)"
  # The slow steps (BuildKit runs the two stages side by side: they overlap).
  awk '/^#[0-9]+ \[/ && !($1 in name) { name[$1] = substr($0, length($1) + 2) }
       /^#[0-9]+ DONE [0-9.]+s$/ && ($1 in name) && $3 + 0 >= 3 {
         printf "  %5.0f s  %s\n", $3 + 0, substr(name[$1], 1, 90) }' "$T/build.log"
fi
user=$("${IMG_DOCKER[@]}" image inspect -f '{{.Config.User}}' "$IMAGE_TAG")
assert_eq "$user" pullthrough:pullthrough "the image's USER"
log "image $IMAGE_TAG: $("${IMG_DOCKER[@]}" image inspect -f '{{.Size}}' "$IMAGE_TAG" | awk '{printf "%d MB", $1 / 1e6}')"

# ---------------------------------------------------------------- the world, and the container
[ -n "${SERVER_CRT:-}" ] || make_test_pki "$T/pki"
start_registry reg "$REGISTRY_IP" auto
seed_image "${REG_ADDR[reg]}" library/app:1.0 3 300000
IMAGE="registry.test:${REG_PORT[reg]}/library/app:1.0"
DIGEST=$SEED_DIGEST

PROXY_PORT=$(free_port 127.0.0.1)
PROXY_URL="http://127.0.0.1:$PROXY_PORT"

# run_container NAME — the image as in the README, on the host network (LISTEN: a free port
# rather than 3128, which may be taken), with named volumes for /ca and /docker_mirror_cache and
# the test world's CA (read-only) for upstream TLS. Waits for /healthz (fails if it exits).
run_container() {
  local name=$1 i code=""
  CONTAINERS+=("$name")
  _register_log "container $name" "$T/container-$name.log"
  log "docker run $name (LISTEN=127.0.0.1:$PROXY_PORT)"
  "${IMG_DOCKER[@]}" run -d --name "$name" --network host \
    -v pt-ca:/ca -v pt-cache:/docker_mirror_cache -v "$TEST_CA_DIR:/test-ca:ro" \
    -e "LISTEN=127.0.0.1:$PROXY_PORT" -e REGISTRIES=registry.test \
    -e "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP" -e UPSTREAM_CA_BUNDLE=/test-ca/ca.crt \
    ${PT_LOG_LEVEL:+-e "LOG_LEVEL=$PT_LOG_LEVEL"} "$IMAGE_TAG" >/dev/null
  for i in $(seq 1 300); do
    [ "$("${IMG_DOCKER[@]}" inspect -f '{{.State.Running}}' "$name")" = true ] ||
      fail "container $name exited: $("${IMG_DOCKER[@]}" inspect -f '{{.State.ExitCode}} {{.State.Error}}' "$name")"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$PROXY_URL/healthz" 2>/dev/null || true)
    [ "$code" != 200 ] || break
    sleep 0.1
  done
  [ "$code" = 200 ] || fail "container $name: no 200 on $PROXY_URL/healthz within 30s (last: $code)"
  ok "container $name answers /healthz"
}

# container_log NAME — what the container has logged so far.
container_log() { "${IMG_DOCKER[@]}" logs "$1" 2>&1; }

# fetch_ca NAME — the proxy's /ca.crt into $T/ca-NAME/ca.crt; prints its SHA-256 fingerprint.
fetch_ca() {
  mkdir -p "$T/ca-$1"
  curl -sS --fail --max-time 5 -o "$T/ca-$1/ca.crt" "$PROXY_URL/ca.crt" || fail "could not fetch $PROXY_URL/ca.crt"
  openssl x509 -in "$T/ca-$1/ca.crt" -noout -fingerprint -sha256 | cut -d= -f2
}

# wait_healthy NAME SECONDS — docker's own HEALTHCHECK status turns "healthy".
wait_healthy() {
  local name=$1 i status=""
  for i in $(seq 1 "$2"); do
    status=$("${IMG_DOCKER[@]}" inspect -f '{{.State.Health.Status}}' "$name")
    [ "$status" != healthy ] || break
    sleep 1
  done
  [ "$status" = healthy ] || fail "container $name: health '$status' after $2s: $("${IMG_DOCKER[@]}" inspect -f '{{json .State.Health}}' "$name")"
}

t_health=$SECONDS
run_container pt1
pid=$("${IMG_DOCKER[@]}" inspect -f '{{.State.Pid}}' pt1)
assert_eq "$(ps -o uid=,gid= -p "$pid" | awk '{print $1 ":" $2}')" 10001:10001 "the proxy runs as uid:gid 10001:10001"
fp1=$(fetch_ca pt1)
[ -n "$fp1" ] || fail "no CA fingerprint"
ca_dir=$("${IMG_DOCKER[@]}" volume inspect -f '{{.Mountpoint}}' pt-ca)
assert_eq "$(stat -c '%u:%g %a' "$ca_dir/ca.key")" "10001:10001 600" "the CA key in the /ca volume: the proxy's, mode 600"
assert_contains "$(container_log pt1)" "root CA created (/ca)" "the first container creates its CA in /ca"

# The docker host behind the proxy: HTTPS_PROXY and the proxy's CA, as the README's drop-in does.
PROXY_CA_CRT="$T/ca-pt1/ca.crt"
PROXY_CERT_DIR="$T/ca-pt1"
start_dockerd "$PROXY_URL"
assert_client_pull docker "$IMAGE" "$DIGEST"
log_pt1=$(container_log pt1)
assert_match "$log_pt1" 'request .*host=registry\.test(:[0-9]+)? .*path=/v2/library/app/blobs/sha256:.*status=200 .*cache=MISS' \
  "the pull went through the container (blob MISS in its log)"

wait_healthy pt1 90
ok "HEALTHCHECK reports healthy ($((SECONDS - t_health))s after docker run)"

t0=$(date +%s%N)
"${IMG_DOCKER[@]}" stop -t 40 pt1 >/dev/null
stop_ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq "$("${IMG_DOCKER[@]}" inspect -f '{{.State.ExitCode}}' pt1)" 0 "docker stop: the proxy exits 0 (${stop_ms} ms)"
[ "$stop_ms" -lt 10000 ] || fail "docker stop took ${stop_ms} ms with nothing to drain"
ok "docker stop ends an idle proxy within 10 s"

# ---------------------------------------------------------------- a new container, same volumes
run_container pt2
assert_eq "$(fetch_ca pt2)" "$fp1" "the new container serves the same CA (ca.crt fingerprint)"
assert_contains "$(container_log pt2)" "root CA loaded (/ca)" "and says it loaded it from /ca"
"${DOCKER[@]}" rmi "$IMAGE" >/dev/null
assert_client_pull docker "$IMAGE" "$DIGEST"
ok "the docker host, trusting the first container's CA, pulls through the second"
assert_match "$(container_log pt2)" 'request .*host=registry\.test(:[0-9]+)? .*path=/v2/library/app/blobs/sha256:.*status=200 .*cache=HIT' \
  "blobs come from the cache volume (HIT)"
phase_done "run"

log "cost: ${COST[*]}"
finish
