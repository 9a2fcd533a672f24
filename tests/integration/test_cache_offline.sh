#!/usr/bin/env bash
# Pulls keep working when the registry is gone. With the default 60 s tag
# freshness, a pull right after the registry dies is served entirely from the
# cache (the proxy answers the /v2/ ping itself: STALE; tag manifest and blobs:
# HIT). With a 1 s tag window, a pull after the window with the registry down
# gets the tag manifest STALE, and once the registry is back the tag is
# REVALIDATED (an upstream HEAD, no manifest GET).
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_standard_registry
REG_STORAGE="${REG_DIR[reg]}/storage"
REPO=library/app
TAG_PATH="/v2/$REPO/manifests/1.0"
mapfile -t BLOBS < <(image_blobs "$SEED_DIR_APP")

stop_registry() {
  local pid=${REG_PID[reg]}
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  curl -s -o /dev/null --max-time 2 --cacert "$TEST_CA_CRT" "https://$REGISTRY_IP:$RPORT/v2/" &&
    fail "the registry still answers after being killed"
  ok "registry stopped (killed)"
}

restart_registry() {
  # Same address, port and storage: the same registry, back again.
  start_registry reg "$REGISTRY_IP" "$RPORT" --htpasswd "$RCREDS" --storage "$REG_STORAGE"
  ok "registry back on $REGISTRY_IP:$RPORT"
}

pull() { # OUT LABEL
  proxy_pull "$IMAGE" "$1" --src-creds "$RCREDS" >"$1.log" 2>&1 || { cat "$1.log"; fail "$2 failed"; }
  ok "$2"
  verify_dir_digests "$1" "$DIGEST"
}

# assert_cache_statuses MARK WANT_TAG : blobs HIT, tag manifest WANT_TAG, after MARK
assert_cache_statuses() {
  local mark=$1 want=$2 d
  for d in "${BLOBS[@]}"; do
    wait_proxy_requests "$mark" 1 "path=/v2/$REPO/blobs/$d "
    assert_match "$(proxy_requests_since "$mark" "path=/v2/$REPO/blobs/$d ")" 'status=200 .*cache=HIT$' \
      "blob ${d:7:12}: cache=HIT"
  done
  wait_proxy_requests "$mark" 1 "path=$TAG_PATH "
  local lines bad
  lines=$(proxy_requests_since "$mark" "path=$TAG_PATH ")
  bad=$(grep -vE "status=200 .*cache=$want( |\$)" <<<"$lines" || true)
  [ -z "$bad" ] || fail "tag manifest requests not logged 200 cache=$want: $bad"
  ok "tag manifest: status=200 cache=$want ($(wc -l <<<"$lines") request(s))"
}

# --- part 1: default freshness (60 s), registry killed right after the first pull
start_proxy "${STD_PROXY_ENV[@]}"
pull "$T/online" "pull with the registry up"
stop_registry

mark=$(proxy_log_mark)
pull "$T/offline" "pull with the registry down"
assert_cache_statuses "$mark" HIT
wait_proxy_requests "$mark" 1 'path=/v2/ '
assert_match "$(proxy_requests_since "$mark" 'path=/v2/ ')" 'status=200 .*cache=STALE' \
  "offline: the proxy answers the /v2/ ping itself (200, cache=STALE)"

# curl's view of the offline answers
BASE="https://registry.test:$RPORT"
pcurl -u "$RCREDS" -D "$T/ping.h" -o /dev/null "$BASE/v2/" || fail "offline GET /v2/ failed"
assert_eq "$(response_status "$T/ping.h")" 200 "offline GET /v2/: 200"
# (the tag is cached per Accept variant, so ask for the manifest by digest: the tag's
# fill also stored it under its digest)
pcurl -u "$RCREDS" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  -D "$T/m.h" -o "$T/m.body" "$BASE/v2/$REPO/manifests/$DIGEST" || fail "offline GET of the manifest by digest failed"
assert_eq "$(response_status "$T/m.h")" 200 "offline curl GET manifest by digest: 200"
assert_eq "$(sha256_of "$T/m.body")" "$DIGEST" "offline curl GET manifest by digest: the manifest"
assert_eq "$(header_value Docker-Content-Digest "$T/m.h")" "$DIGEST" "offline manifest by digest: Docker-Content-Digest"
assert_eq "$(header_value X-Cache "$T/m.h")" HIT "offline manifest by digest: X-Cache: HIT"

# --- part 2: tags fresh for 1 s; a fresh cache so the first pull stores with the short window.
# An empty MANIFEST_CACHE_*_REGEX disables that tier, so every tag (1.0 too, which the default
# secondary regex would match) gets MANIFEST_CACHE_DEFAULT_TIME. A HIT below instead of STALE
# means an empty regex was taken as "unset" and a default tier's window applied.
restart_registry
stop_proxy TERM
SHORT=(ENABLE_MANIFEST_CACHE=true MANIFEST_CACHE_DEFAULT_TIME=1s MANIFEST_CACHE_PRIMARY_REGEX=
  MANIFEST_CACHE_SECONDARY_REGEX= "CACHE_DIR=$T/proxy/cache-short")
start_proxy "${STD_PROXY_ENV[@]}" "${SHORT[@]}"
mark=$(proxy_log_mark)
pull "$T/short-online" "pull with a 1 s tag window, registry up"
wait_proxy_requests "$mark" 1 "path=$TAG_PATH "
assert_match "$(proxy_requests_since "$mark" "path=$TAG_PATH ")" 'status=200 .*cache=MISS$' \
  "first pull into the new cache: tag manifest MISS"
sleep 2
stop_registry

mark=$(proxy_log_mark)
pull "$T/short-offline" "pull after the tag window, registry down"
assert_cache_statuses "$mark" STALE

restart_registry
manifest_gets=$(registry_requests reg GET "$TAG_PATH")
# (no wait here: the tag went stale before the offline pull, and serving it STALE must not
# have made it fresh again)
mark=$(proxy_log_mark)
pull "$T/short-back" "pull after the tag window, registry back"
assert_cache_statuses "$mark" REVALIDATED
# The registry log was restarted with the registry: only this last pull is in it.
assert_eq "$(registry_requests reg GET "$TAG_PATH")" "$manifest_gets" \
  "revalidation made no manifest GET upstream"
assert_ne "$(registry_requests reg HEAD "$TAG_PATH")" 0 "revalidation asked upstream with a HEAD"
for d in "${BLOBS[@]}"; do
  assert_eq "$(registry_requests reg GET "/v2/$REPO/blobs/$d")" 0 "registry back: blob ${d:7:12} not fetched again"
done

assert_proxy_alive
finish
