#!/usr/bin/env bash
# The real clients pull through the proxy, unchanged: containerd (ctr through the
# proxy port, and through the mirror port with a hosts.toml), docker (dockerd with
# HTTPS_PROXY, and `pullthrough docker-socket` in front of the same dockerd, its
# pulls rewritten to the mirror), podman and skopeo each pull the three images of
# the test world — basic auth (registry.test library/app:1.0), token public and
# token private (token.registry.test public/app:1, private/app:1) — with no
# credentials of their own (AUTH_REGISTRIES injects them) and trusting only the
# proxy's CA. Each ends up holding the seeded manifest digest, and the proxy's
# access log shows the tag resolved (HEAD or GET, 200) and every blob served 200:
# from the cache (HIT) once one client fetched it for that registry name.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
source "$IT_DIR/token_world.sh"
# shellcheck source-path=SCRIPTDIR
source "$IT_DIR/clients.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_clients containerd ctr dockerd docker podman
require_proxy_bin

start_standard_registry
start_token_world
MIRROR_IP=127.0.0.42
M="$MIRROR_IP:$(free_port "$MIRROR_IP")"
# Names resolve with the port: the mirror path form (docker-socket) names a registry
# without one; clients of the proxy port name registry.test:RPORT, the same registry.
start_proxy "REGISTRIES=registry.test $TREG_HOST auth.test" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" \
  "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP:$RPORT $TREG_HOST=$TREG_IP:$TREG_PORT auth.test=$TOKEN_IP" \
  "AUTH_REGISTRIES=registry.test:$RCREDS auth.test:$TOKEN_USER:$TOKEN_PASS" "MIRROR_LISTEN=$M"
start_dockerd "$PROXY_URL" # (starts containerd too)
start_pt_docker_socket "$M" "registry.test,$TREG_HOST"

# image name -> repository, digest, seeded dir (for its blob list)
IMAGES=("$IMAGE" "$PUBLIC_IMAGE" "$PRIVATE_IMAGE")
declare -A REPO_OF=(["$IMAGE"]=library/app ["$PUBLIC_IMAGE"]=public/app ["$PRIVATE_IMAGE"]=private/app)
declare -A DIGEST_OF=(["$IMAGE"]=$DIGEST ["$PUBLIC_IMAGE"]=$PUBLIC_DIGEST ["$PRIVATE_IMAGE"]=$PRIVATE_DIGEST)
declare -A DIR_OF=(["$IMAGE"]=$SEED_DIR_APP ["$PUBLIC_IMAGE"]=$PUBLIC_DIR ["$PRIVATE_IMAGE"]=$PRIVATE_DIR)

# check_access_log MARK IMAGE HOST BLOBS — after MARK, the proxy logged for HOST: the
# tag of IMAGE answered 200 (HEAD for containerd and docker, which then GET the
# manifest by digest; GET for podman and skopeo), and each blob GET 200 cache=BLOBS.
check_access_log() {
  local mark=$1 image=$2 host=$3 want=$4
  local repo=${REPO_OF[$image]} tag=${image##*:} d lines
  wait_proxy_requests "$mark" 1 "host=$host method=(HEAD|GET) path=/v2/$repo/manifests/$tag status=200 "
  ok "proxy log: $host $repo:$tag resolved (200)"
  while read -r d; do
    wait_proxy_requests "$mark" 1 "host=$host method=GET path=/v2/$repo/blobs/$d "
    lines=$(proxy_requests_since "$mark" "host=$host method=GET path=/v2/$repo/blobs/$d ")
    grep -qvE "status=200 .*cache=($want)\$" <<<"$lines" &&
      fail "blob ${d:7:12} of $repo: want status=200 cache=$want, got: $lines"
    ok "proxy log: $host blob ${d:7:12} of $repo: status=200 cache=$want"
  done < <(image_blobs "${DIR_OF[$image]}")
}

# pull_all CLIENT HOST_FORM BLOBS — CLIENT pulls the three images; the access log is checked
# for each (HOST_FORM "port": registry names with their port; "path": without, docker-socket).
pull_all() {
  local client=$1 form=$2 want=$3 image name host mark
  for image in "${IMAGES[@]}"; do
    name=$image
    host=${image%%/*}
    if [ "$form" = path ]; then # the mirror's path form names the registry without a port
      host=${host%:*}
      name="$host/${image#*/}"
    fi
    mark=$(proxy_log_mark)
    assert_client_pull "$client" "$name" "${DIGEST_OF[$image]}" "$M"
    check_access_log "$mark" "$image" "$host" "$want"
  done
}

t0=$SECONDS
pull_all ctr port MISS # the first client: the cache is empty
log "ctr (proxy port): $((SECONDS - t0))s"
t0=$SECONDS
pull_all ctr-mirror port HIT # ?ns=registry.test:PORT: the same cache entries
log "ctr (mirror port): $((SECONDS - t0))s"
t0=$SECONDS
pull_all docker port HIT
log "docker (proxy port): $((SECONDS - t0))s"

# The same dockerd behind pullthrough docker-socket: forget the images first (docker
# would not fetch layers it has), then pull the names the user knows; the engine is
# sent to the mirror ($M/registry.test/library/app:1.0), which names the registry
# without a port: a new cache key for the proxy (blobs MISS once more).
"${DOCKER[@]}" rmi "${IMAGES[@]}" >"$T/rmi.log" 2>&1 || { cat "$T/rmi.log"; fail "docker rmi failed"; }
t0=$SECONDS
pull_all docker-socket path MISS
assert_file_contains "$T/ptdock/docker-socket.log" "registry.test/library/app:1.0" \
  "docker-socket logged the rewritten pull of registry.test/library/app:1.0"
for image in "${IMAGES[@]}"; do
  name="${image%%:*}/${image#*/}"
  assert_eq "$("${PT_DOCKER[@]}" image inspect --format '{{.Id}}' "$name" 2>&1)" \
    "$("${PT_DOCKER[@]}" image inspect --format '{{.Id}}' "$M/$name" 2>&1)" \
    "docker-socket: $name is the image pulled as $M/$name (tagged back)"
done
log "docker (docker-socket, mirror port): $((SECONDS - t0))s"
t0=$SECONDS
pull_all podman port HIT
log "podman: $((SECONDS - t0))s"
t0=$SECONDS
pull_all skopeo port HIT
log "skopeo: $((SECONDS - t0))s"

assert_proxy_alive
assert_alive "$PT_DOCKER_PID" "pullthrough docker-socket"
finish
