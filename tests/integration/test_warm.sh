#!/usr/bin/env bash
# Pre-warming (POST /admin/warm, `pullthrough warm`): the cache is filled before a rollout.
# - a single-platform image (library/app:1.0) and a two-platform index (multi/app:1, linux/amd64
#   and linux/arm64) warmed with --platform linux/amd64: the arm64 manifest and layers are not
#   fetched from the registry; the index is stored as an index; progress lines name each image.
# - warming again costs no blob GET at the registry (nor a tag GET within the freshness window);
#   warming the index for every platform then fetches arm64's blobs only.
# - a nonexistent image: a "failed" line and exit status 1; the other images still warm.
# - bad requests: bad JSON and bad references get 400, GET 405, usage errors exit 2.
# - the registry stops, and skopeo pulls every warmed image through the proxy (nobody pulled
#   them before), digests verified.
# - from a non-loopback address (when the host has one): no token 401, a wrong one 403, the right
#   one warms (the warm does not need the proxy's own port to admit loopback).
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_standard_registry  # registry.test: library/app:1.0, 3 layers x 300 kB; RCREDS
REG="registry.test:$RPORT"
APP="$REG/library/app:1.0"
APP_DIGEST=$DIGEST

# The two-platform image (a Docker manifest list), one 200 kB layer per platform.
SEED="$T/seed/multi"
mapfile -t OUT < <($PY "$IT_DIR/make_image.py" "$SEED" --layers 1 --size 200000 --seed warm-multi \
  --platforms linux/amd64,linux/arm64)
LIST_DIGEST=${OUT[0]}
AMD64_DIGEST=${OUT[1]#linux/amd64 }
ARM64_DIGEST=${OUT[2]#linux/arm64 }
log "seeding $REG/multi/app:1 (list $LIST_DIGEST)"
"${SKOPEO[@]}" copy -q --all --preserve-digests --dest-cert-dir "$TEST_CA_DIR" --dest-creds "$RCREDS" \
  "dir:$SEED" "docker://${REG_ADDR[reg]}/multi/app:1" >"$T/seed.log" 2>&1 ||
  { cat "$T/seed.log"; fail "seeding the manifest list failed"; }
MULTI="$REG/multi/app:1"

# blobs_of MANIFEST_FILE — the config and layer digests of a platform manifest.
blobs_of() {
  $PY -c 'import json,sys; m=json.load(open(sys.argv[1])); print("\n".join([m["config"]["digest"]]+[l["digest"] for l in m["layers"]]))' "$1"
}
mapfile -t ARM64_BLOBS < <(blobs_of "$SEED/${ARM64_DIGEST#sha256:}.manifest.json")
mapfile -t AMD64_BLOBS < <(blobs_of "$SEED/${AMD64_DIGEST#sha256:}.manifest.json")

# blob_gets — blob GETs the registry has logged so far.
blob_gets() { grep -cE '"GET /v2/[^ ]*/blobs/sha256:' "${REG_DIR[reg]}/registry.log" || true; }
# gets_of DIGEST — GETs of that blob or manifest at the registry.
gets_of() { grep -cE "\"GET /v2/[^ ]*/(blobs|manifests)/$1 " "${REG_DIR[reg]}/registry.log" || true; }

# slow.test: a TCP listener that never answers (a registry that hangs), to hold warm jobs.
SLOW_PORT=$(free_port "$OTHER_IP")
$PY -c 'import socket, sys, time
s = socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)' "$OTHER_IP" "$SLOW_PORT" &
_register_pid $! slow-listener

start_proxy "${STD_PROXY_ENV[@]}" "AUTH_REGISTRIES=registry.test:$RCREDS" "REGISTRIES=registry.test slow.test" \
  "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP slow.test=$OTHER_IP" UPSTREAM_IDLE_TIMEOUT=3s HEADER_TIMEOUT=3s CONNECT_TIMEOUT=3s

# warm ARGS... — `pullthrough warm` against the proxy; sets WARM_RC, WARM_OUT, WARM_ERR.
warm() {
  local started=$SECONDS
  "$PULLTHROUGH_BIN" warm --proxy "$PROXY_URL" "$@" >"$T/warm.out" 2>"$T/warm.err" && WARM_RC=0 || WARM_RC=$?
  WARM_OUT=$(cat "$T/warm.out")
  WARM_ERR=$(cat "$T/warm.err")
  log "warm $* -> $WARM_RC in $((SECONDS - started))s"
}

# --- first warm: the single-platform image, and the index for linux/amd64 only
warm --platform linux/amd64 "$APP" "$MULTI"
[ "$WARM_RC" = 0 ] || { echo "$WARM_OUT"; echo "$WARM_ERR"; fail "the first warm failed ($WARM_RC)"; }
ok "pullthrough warm exited 0"
assert_contains "$WARM_OUT" "$APP: done: 1 manifest(s), 4/4 blobs (0 already cached)" "the app image: 1 manifest, 4 blobs fetched"
assert_contains "$WARM_OUT" "$MULTI: done: 2 manifest(s), 2/2 blobs (0 already cached)" "the index: 2 manifests, 2 blobs"
assert_contains "$WARM_OUT" "warmed 2 of 2 image(s), 0 failed" "the summary"
assert_contains "$WARM_ERR" "$MULTI: 2 manifest(s) [linux/amd64], 2 blob(s)" "progress names the platform taken"
assert_contains "$WARM_ERR" "fetched: 1/4 blobs" "progress per blob"
assert_eq "$(gets_of "$ARM64_DIGEST")" 0 "the arm64 manifest was not fetched"
for b in "${ARM64_BLOBS[@]}"; do assert_eq "$(gets_of "$b")" 0 "arm64 blob $b not fetched"; done
for b in "${AMD64_BLOBS[@]}"; do assert_eq "$(gets_of "$b")" 1 "amd64 blob $b fetched once"; done
assert_log_line "request session=" "client=warm" "host=$REG" "/v2/multi/app/manifests/1" "cache=MISS"
assert_log_line "admin: warm done: 2 of 2 image(s) warmed, 0 failed"

# The tag was asked with every manifest type: the list itself answers a list-accepting client.
LIST=application/vnd.docker.distribution.manifest.list.v2+json
pcurl -o "$T/list.body" -D "$T/list.h" -H "Accept: $LIST" "https://$REG/v2/multi/app/manifests/1" ||
  fail "GET of the warmed tag failed"
assert_eq "$(header_value X-Cache "$T/list.h")" HIT "the warmed tag is a HIT"
assert_eq "$(sha256_of "$T/list.body")" "$LIST_DIGEST" "the warmed tag is the manifest list"

# --- warming again: no blob GET, no manifest GET (the tag is fresh)
before=$(blob_gets)
mark=$(proxy_log_mark)
warm --platform linux/amd64 --json "$APP" "$MULTI"
assert_eq "$WARM_RC" 0 "the second warm exits 0"
assert_eq "$(blob_gets)" "$before" "warming again: no blob GET at the registry"
assert_eq "$(gets_of 1)" 1 "warming again: the fresh tag was not asked again"
assert_contains "$WARM_OUT" '"event":"done"' "--json prints the proxy's lines"
assert_contains "$WARM_OUT" '"blobs_cached":4' "the app's 4 blobs were already cached"
[ "$(proxy_requests_since "$mark" 'blobs/.*cache=MISS' | wc -l)" = 0 ] || fail "warming again missed a blob"
ok "warming again only HEADs the cached blobs"

# --- every platform: only arm64's manifest and blobs are new
before=$(blob_gets)
warm "$MULTI"
assert_eq "$WARM_RC" 0 "warming every platform exits 0"
assert_contains "$WARM_OUT" "$MULTI: done: 3 manifest(s), 4/4 blobs (2 already cached)" "arm64's 2 blobs added"
assert_eq "$(($(blob_gets) - before))" "${#ARM64_BLOBS[@]}" "only arm64's blobs fetched"
assert_eq "$(gets_of "$ARM64_DIGEST")" 1 "the arm64 manifest fetched once"

# --- failures
SLOW_PIDS=()
warm "$APP" "$REG/library/nothing:1.0"
assert_eq "$WARM_RC" 1 "a nonexistent image: exit status 1"
assert_contains "$WARM_OUT" "$REG/library/nothing:1.0: FAILED: manifest 1.0: HTTP 404" "its failed line says 404"
assert_contains "$WARM_OUT" "$APP: done" "the other image still warms"
assert_contains "$WARM_OUT" "warmed 1 of 2 image(s), 1 failed" "the summary counts the failure"
warm --platform linux/s390x "$MULTI"
assert_eq "$WARM_RC" 1 "a platform the index lacks: exit status 1"
assert_contains "$WARM_OUT" "the index has no manifest for linux/s390x" "the failed line names the platform"

# Two warms at once at most: a third is refused with 429 while two hang on slow.test.
SLOW="slow.test:$SLOW_PORT/team/app:1"
BEFORE_SLOW=$(grep -c 'admin: warming 1 image' "$PROXY_LOG" || true)
for i in 1 2; do
  curl -sS -N -X POST --data-binary "{\"images\": [\"$SLOW\"]}" "$PROXY_URL/admin/warm" >"$T/slow$i.ndjson" &
  SLOW_PIDS+=($!)
done
for i in $(seq 1 50); do
  [ "$(grep -c 'admin: warming 1 image' "$PROXY_LOG")" -lt "$((BEFORE_SLOW + 2))" ] || break
  sleep 0.1
done
code=$(curl -sS -o "$T/busy.json" -w '%{http_code}' -X POST --data-binary "{\"images\": [\"$APP\"]}" "$PROXY_URL/admin/warm")
assert_eq "$code" 429 "a third warm while two run: 429"
assert_contains "$(cat "$T/busy.json")" "at most 2 at once" "the 429 says why"
wait_pids "${SLOW_PIDS[@]}" || fail "curl of the slow warms failed"
assert_contains "$(cat "$T/slow1.ndjson")" "no answer: the registry timed out" "a hanging registry: a failed line saying so"
assert_contains "$(cat "$T/slow1.ndjson")" '"failed":1' "a hanging registry: the summary counts it"
ok "slow warm: $(grep -o '"reason":"[^"]*"' "$T/slow1.ndjson")"

warm "Bad Reference!"
assert_eq "$WARM_RC" 2 "a bad reference: usage error, exit status 2"
warm --platform linux "$APP"
assert_eq "$WARM_RC" 2 "a bad platform: usage error, exit status 2"
assert_contains "$WARM_ERR" "expected os/architecture" "a bad platform: the reason"
warm
assert_eq "$WARM_RC" 2 "no image: usage error, exit status 2"
warm --proxy "ftp://x" "$APP"
assert_eq "$WARM_RC" 2 "a bad --proxy: exit status 2"

code=$(curl -sS -o "$T/bad.json" -w '%{http_code}' -X POST --data-binary '{"images": [' "$PROXY_URL/admin/warm")
assert_eq "$code" 400 "bad JSON: 400"
assert_contains "$(cat "$T/bad.json")" "must be a JSON object" "bad JSON: the reason"
code=$(curl -sS -o "$T/bad.json" -w '%{http_code}' -X POST --data-binary '{"images": ["Bad Name!"]}' "$PROXY_URL/admin/warm")
assert_eq "$code" 400 "a bad reference: 400"
assert_contains "$(cat "$T/bad.json")" "image 'Bad Name!'" "a bad reference: the reason names it"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$PROXY_URL/admin/warm")
assert_eq "$code" 405 "GET /admin/warm: 405"
# curl as the API's own client: NDJSON, chunked, the summary last
curl -sS -N -X POST --data-binary "{\"images\": [\"$APP\"]}" -D "$T/curl.h" "$PROXY_URL/admin/warm" >"$T/curl.ndjson" ||
  fail "curl POST /admin/warm failed"
assert_eq "$(header_value Content-Type "$T/curl.h")" application/x-ndjson "NDJSON"
assert_contains "$(tail -n 1 "$T/curl.ndjson")" '"event":"summary"' "the last line is the summary"
assert_proxy_alive

# --- the registry stops; skopeo pulls what was warmed (never pulled by a client before)
_kill_pid "${REG_PID[reg]}" registry-reg
log "registry stopped"
pull() { # IMAGE OUT DIGEST [skopeo args]
  local image=$1 out=$2 digest=$3
  shift 3
  proxy_pull "$image" "$out" "$@" >"$out.log" 2>&1 || { cat "$out.log"; fail "skopeo pull of $image failed offline"; }
  verify_dir_digests "$out" "$digest"
}
pull "$APP" "$T/pull-app" "$APP_DIGEST"
pull "$MULTI" "$T/pull-amd64" "$AMD64_DIGEST" --override-arch amd64 --override-os linux
pull "$MULTI" "$T/pull-arm64" "$ARM64_DIGEST" --override-arch arm64 --override-os linux
ok "the warmed images pull with the registry down"
stop_proxy TERM

# --- from a non-loopback address: the admin token
HOST_IP=$(ip -4 -o addr show scope global 2>/dev/null | awk '{sub(/\/.*/, "", $4); print $4; exit}')
if [ -z "$HOST_IP" ]; then
  log "this host has no global IPv4 address: the token rules are admin_api_test's"
  finish
fi
PROXY_PORT=$(free_port "$HOST_IP")
PROXY_URL="http://$HOST_IP:$PROXY_PORT"
# ALLOWED_CLIENTS without loopback: the warm's sessions are the proxy's own, not clients of its port.
env LISTEN="$HOST_IP:$PROXY_PORT" CA_DIR="$T/proxy/ca" CACHE_DIR="$T/proxy/cache" "ALLOWED_CLIENTS=$HOST_IP/32" \
  ADMIN_TOKEN=t0ken-for-tests "${STD_PROXY_ENV[@]}" "AUTH_REGISTRIES=registry.test:$RCREDS" \
  "$PULLTHROUGH_BIN" >>"$PROXY_LOG" 2>&1 &
PROXY_PID=$!
_register_pid "$PROXY_PID" pullthrough
for i in $(seq 1 150); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$PROXY_URL/healthz" || true)" = 200 ] && break
  sleep 0.1
done
code=$(curl -sS -o /dev/null -D "$T/401.h" -w '%{http_code}' -X POST --data-binary '{"images":["a"]}' "$PROXY_URL/admin/warm")
assert_eq "$code" 401 "from $HOST_IP without a token: 401"
assert_match "$(header_value WWW-Authenticate "$T/401.h")" '^Bearer ' "401 with WWW-Authenticate: Bearer"
warm "$APP"
assert_eq "$WARM_RC" 1 "the CLI without a token: exit status 1"
assert_contains "$WARM_ERR" "the proxy answered 401" "the CLI says 401"
warm --admin-token wrong "$APP"
assert_contains "$WARM_ERR" "the proxy answered 403: wrong admin token" "a wrong token: 403"
# The registry is down: the tag is served STALE from the cache, the blobs are HITs.
ADMIN_TOKEN=t0ken-for-tests warm "$APP"
assert_eq "$WARM_RC" 0 "the right token (env ADMIN_TOKEN) warms, from the cache while the registry is down"
assert_contains "$WARM_OUT" "4/4 blobs (4 already cached)" "every blob was cached"
finish
