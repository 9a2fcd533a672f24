#!/usr/bin/env bash
# One cache serves every client, whatever Accept header it sends. containerd (ctr,
# proxy port) pulls the three images of the test world — basic auth
# (registry.test library/app:1.0), token public and token private
# (token.registry.test public/app:1, private/app:1) — into an empty cache. Then the
# registries and the token server stop, and podman, docker and skopeo pull the
# same tags from the cache alone: each must get the image containerd got.
#
# The clients ask differently (recorded from these versions):
#   containerd 1.6  HEAD /manifests/<tag> (one Accept: docker v2, docker list, OCI
#                   manifest, OCI index, */*), then GET /manifests/<digest>
#   docker 20.10    HEAD /manifests/<tag>, then GET by digest; six Accept fields, in
#                   a different order on each request
#   podman, skopeo  GET /manifests/<tag>, six Accept fields, the OCI manifest first
# so this needs one tag record per tag, served to any client whose Accept allows
# the cached manifest's type (not one cache entry per Accept header).
#
# Upstream, the registries saw one manifest GET (by tag or by digest) per image
# across all clients, and at most one HEAD of the tag (a revalidation).
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
start_proxy "REGISTRIES=registry.test $TREG_HOST auth.test" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" \
  "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP $TREG_HOST=$TREG_IP auth.test=$TOKEN_IP" \
  "AUTH_REGISTRIES=registry.test:$RCREDS auth.test:$TOKEN_USER:$TOKEN_PASS"
start_dockerd "$PROXY_URL" # (and containerd) now: it reads the proxy CA once, at start

IMAGES=("$IMAGE" "$PUBLIC_IMAGE" "$PRIVATE_IMAGE")
declare -A DIGEST_OF=(["$IMAGE"]=$DIGEST ["$PUBLIC_IMAGE"]=$PUBLIC_DIGEST ["$PRIVATE_IMAGE"]=$PRIVATE_DIGEST)
declare -A REGISTRY_OF=(["$IMAGE"]=reg ["$PUBLIC_IMAGE"]=tokreg ["$PRIVATE_IMAGE"]=tokreg)
# (the registries' logs so far hold the seeding and the token world's self-check)
declare -A REG_LOG_MARK=()
for r in reg tokreg; do REG_LOG_MARK[$r]=$(wc -l <"${REG_DIR[$r]}/registry.log"); done

# upstream_manifest_requests IMAGE METHOD — how many METHOD requests for IMAGE's tag
# or digest the registry answered 200 since the mark (its access-log lines).
upstream_manifest_requests() {
  local image=$1 method=$2 r=${REGISTRY_OF[$1]} repo tag
  repo=${image#*/}
  tag=${repo##*:}
  repo=${repo%:*}
  tail -n +"$((REG_LOG_MARK[$r] + 1))" "${REG_DIR[$r]}/registry.log" |
    grep -cE "\"$method /v2/$repo/manifests/($tag|${DIGEST_OF[$image]}) HTTP/1\.1\" 200 " || true
}

# --- containerd fills the cache
t0=$SECONDS
for image in "${IMAGES[@]}"; do assert_client_pull ctr "$image" "${DIGEST_OF[$image]}"; done
log "containerd: $((SECONDS - t0))s"

# --- the upstreams go away
for r in reg tokreg; do
  kill -KILL "${REG_PID[$r]}" 2>/dev/null || true
  wait "${REG_PID[$r]}" 2>/dev/null || true
done
stop_token_server
for addr in "${REG_ADDR[reg]}" "$TREG_ADDR"; do
  curl -s -o /dev/null --max-time 2 --cacert "$TEST_CA_CRT" "https://$addr/v2/" &&
    fail "the registry on $addr still answers after being killed"
done
ok "registries stopped (killed)"

# --- every other client pulls the same tags from the cache
for client in podman docker skopeo; do
  t0=$SECONDS
  for image in "${IMAGES[@]}"; do
    mark=$(proxy_log_mark)
    assert_client_pull "$client" "$image" "${DIGEST_OF[$image]}"
    assert_eq "$(proxy_requests_since "$mark" "status=(5[0-9][0-9]|404) " | wc -l)" 0 \
      "$client, $image: no request failed for want of upstream"
  done
  log "$client (registries down): $((SECONDS - t0))s"
done

# --- upstream saw each manifest once
for image in "${IMAGES[@]}"; do
  assert_eq "$(upstream_manifest_requests "$image" GET)" 1 "upstream: one manifest GET for $image across all clients"
  heads=$(upstream_manifest_requests "$image" HEAD)
  [ "$heads" -le 1 ] || fail "upstream: $heads HEADs of the tag $image (at most one revalidation)"
  ok "upstream: $heads HEAD(s) of the tag $image"
done

assert_proxy_alive
finish
