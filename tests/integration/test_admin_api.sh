#!/usr/bin/env bash
# The cache admin API of the running proxy (GET /admin/cache, GET
# /admin/cache/stats, DELETE /admin/cache/<ref>, POST /admin/cache/gc) on a cache
# filled by a skopeo pull: a DELETE from loopback removes entries and files from
# the live cache and the next pull fetches exactly those again; gc empties it.
# From a non-loopback address (this host's own global address, when it has one)
# the API answers 403 without ADMIN_TOKEN, 401 without a token, 403 with a wrong
# one and 200 with the right one. (The rule itself is unit-tested in
# tests/proxy/ops/admin_api_test.cpp, whatever addresses the host has.)
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd ip
require_proxy_bin

start_standard_registry
REG="registry.test:$RPORT"
mapfile -t BLOBS < <(image_blobs "$SEED_DIR_APP")
CACHE="$T/proxy/cache"
start_proxy "${STD_PROXY_ENV[@]}"

json_get() { # JSON PYTHON-EXPRESSION-ON-j
  $PY -c 'import json, sys; j = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}
# admin METHOD PATH [curl args...] — straight to the proxy (not proxied); sets STATUS and BODY
# (not to be run in $(...): the variables would stay in the subshell)
admin() {
  local method=$1 path=$2
  shift 2
  STATUS=$(curl -sS --max-time 30 -X "$method" -o "$T/admin.body" -D "$T/admin.headers" -w '%{http_code}' \
    "$@" "$ADMIN_URL$path") || fail "curl $method $path failed"
  BODY=$(cat "$T/admin.body")
}
pull() { # OUT
  proxy_pull "$IMAGE" "$1" --src-creds "$RCREDS" >"$1.log" 2>&1 || { cat "$1.log"; fail "pull failed"; }
  verify_dir_digests "$1" "$DIGEST"
}
blob_gets() {
  local d n=0
  for d in "${BLOBS[@]}"; do n=$((n + $(registry_requests reg GET "/v2/library/app/blobs/$d"))); done
  echo "$n"
}
cached() { [ -f "$(cache_blob_path "$1")" ]; }

pull "$T/out1"
ok "pulled $IMAGE through the proxy"
ADMIN_URL=$PROXY_URL

# --- reads
admin GET /admin/cache
assert_eq "$STATUS" 200 "GET /admin/cache: 200"
assert_eq "$(header_value Content-Type "$T/admin.headers")" application/json "GET /admin/cache is JSON"
assert_eq "$(json_get "$BODY" '[(r["repository"], r["tag"], r["digest"], r["blobs_cached"]) for r in j]')" \
  "[('library/app', '1.0', '$DIGEST', 4)]" "GET /admin/cache lists app:1.0 with its 4 blobs"
admin GET "/admin/cache?filter=other.test"
assert_eq "$BODY" "[]" "GET /admin/cache?filter= filters"
admin GET /admin/cache/stats
assert_eq "$STATUS" 200 "GET /admin/cache/stats: 200"
assert_eq "$(json_get "$BODY" '(j["registries"][0]["registry"], j["registries"][0]["blobs"], j["total_bytes"])')" \
  "('$REG', 4, $(files_bytes "$CACHE/blobs"))" "stats: the registry, 4 blobs, the bytes on disk"

# --- DELETE on the live cache
LAYER=${BLOBS[1]}
admin DELETE "/admin/cache/$REG/library/app:1.0?dry_run=1"
assert_eq "$STATUS" 200 "DELETE ...?dry_run=1: 200"
assert_eq "$(json_get "$BODY" '(j["tags"], j["manifests"], j["blobs"], "removed_files" in j)')" "(1, 1, 4, False)" \
  "dry run: plans 1 tag, 1 manifest, 4 blobs and removes nothing"
cached "$LAYER" || fail "the dry run removed a file"
admin DELETE "/admin/cache/$REG/library/app@$LAYER"
assert_eq "$STATUS" 200 "DELETE a blob digest: 200"
assert_eq "$(json_get "$BODY" '(j["blobs"], j["removed_files"])')" "(1, 1)" "DELETE a blob digest: one file"
! cached "$LAYER" || fail "blob file still there after DELETE"
ok "the blob file is gone from the live cache"
assert_log_line "admin: removed $REG/library/app@$LAYER from the cache"

before=$(blob_gets)
mark=$(proxy_log_mark)
pull "$T/out2"
assert_eq "$(($(blob_gets) - before))" 1 "the next pull fetched only the deleted blob upstream"
wait_proxy_requests "$mark" 4 "path=/v2/library/app/blobs/"
assert_match "$(proxy_requests_since "$mark" "path=/v2/library/app/blobs/$LAYER ")" "cache=MISS" "the deleted blob was a MISS"
assert_eq "$(proxy_requests_since "$mark" "path=/v2/library/app/blobs/" | grep -c 'cache=HIT$')" 3 "the other 3 blobs were HITs"

admin DELETE "/admin/cache/$REG/library/app:1.0"
assert_eq "$STATUS" 200 "DELETE a tag: 200"
assert_eq "$(json_get "$BODY" '(j["tags"], j["manifests"], j["blobs"], j["removed_files"])')" "(1, 1, 4, 5)" \
  "DELETE a tag: its manifest and 4 blobs, 5 files"
assert_eq "$(files_count "$CACHE/blobs")" 0 "no blob file left"
admin GET /admin/cache
assert_eq "$BODY" "[]" "GET /admin/cache: empty"

# --- errors
admin DELETE "/admin/cache/$REG/library/app:1.0"
assert_eq "$STATUS" 404 "DELETE of something not cached: 404"
assert_contains "$BODY" "nothing cached for" "and says so"
admin DELETE "/admin/cache/library"
assert_eq "$STATUS" 400 "DELETE of a bad reference: 400"
admin DELETE "/admin/cache/a%zz"
assert_eq "$STATUS" 400 "malformed percent-encoding: 400"
admin GET /admin/cache/gc
assert_eq "$STATUS" 405 "GET /admin/cache/gc: 405"
assert_eq "$(header_value Allow "$T/admin.headers")" POST "405 names the allowed method"
admin POST /admin/cache
assert_eq "$STATUS" 405 "POST /admin/cache: 405"
admin GET /admin/nothing
assert_eq "$STATUS" 404 "unknown admin path: 404"

# --- gc
pull "$T/out3"
admin POST "/admin/cache/gc?max_size=bogus"
assert_eq "$STATUS" 400 "gc with a bad max_size: 400"
admin POST "/admin/cache/gc?max_size=0"
assert_eq "$STATUS" 200 "POST /admin/cache/gc?max_size=0: 200"
assert_eq "$(json_get "$BODY" '(j["evicted_files"], j["bytes_after"])')" "(5, 0)" "gc to 0 evicted all 5 files"
assert_eq "$(files_count "$CACHE/blobs")" 0 "gc left no blob file"
pull "$T/out4"
ok "the proxy still pulls after gc"
assert_proxy_alive
stop_proxy TERM

# --- from a non-loopback address
HOST_IP=$(ip -4 -o addr show scope global 2>/dev/null | awk '{sub(/\/.*/, "", $4); print $4; exit}')
if [ -z "$HOST_IP" ]; then
  log "this host has no global IPv4 address: the non-loopback rule is only unit-tested (admin_api_test)"
  finish
fi

# start_proxy_at IP VAR=value... — the proxy listening on IP only (start_proxy binds 127.0.0.1).
start_proxy_at() {
  local ip=$1 i code=""
  shift
  PROXY_PORT=$(free_port "$ip")
  ADMIN_URL="http://$ip:$PROXY_PORT"
  _PROXY_STARTS=$((_PROXY_STARTS + 1))
  echo "=== start #$_PROXY_STARTS: LISTEN=$ip:$PROXY_PORT $*" >>"$PROXY_LOG"
  env LISTEN="$ip:$PROXY_PORT" CA_DIR="$T/proxy/ca" CACHE_DIR="$CACHE" "$@" "$PULLTHROUGH_BIN" >>"$PROXY_LOG" 2>&1 &
  PROXY_PID=$!
  _register_pid "$PROXY_PID" pullthrough
  for i in $(seq 1 150); do
    kill -0 "$PROXY_PID" 2>/dev/null || fail "proxy on $ip exited during startup"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$ADMIN_URL/healthz" 2>/dev/null || true)
    [ "$code" != 200 ] || return 0
    sleep 0.1
  done
  fail "proxy on $ADMIN_URL did not become healthy (last: $code)"
}

log "non-loopback client: this host's address $HOST_IP"
start_proxy_at "$HOST_IP" "ALLOWED_CLIENTS=$HOST_IP/32"
admin GET /admin/cache
assert_eq "$STATUS" 403 "from $HOST_IP without ADMIN_TOKEN: 403"
assert_contains "$BODY" "only for loopback clients" "the 403 says the API is loopback-only"
admin DELETE "/admin/cache/$REG/library/app:1.0" -H "Authorization: Bearer anything"
assert_eq "$STATUS" 403 "from $HOST_IP with a token but no ADMIN_TOKEN configured: 403"
assert_log_line "admin: refused DELETE /admin/cache/$REG/library/app:1.0 from $HOST_IP"
stop_proxy TERM

start_proxy_at "$HOST_IP" "ALLOWED_CLIENTS=$HOST_IP/32" ADMIN_TOKEN=t0ken-for-tests
admin GET /admin/cache/stats
assert_eq "$STATUS" 401 "from $HOST_IP, ADMIN_TOKEN set, no Authorization: 401"
assert_match "$(header_value WWW-Authenticate "$T/admin.headers")" '^Bearer ' "401 with WWW-Authenticate: Bearer"
admin GET /admin/cache/stats -H "Authorization: Bearer wrong"
assert_eq "$STATUS" 403 "from $HOST_IP with a wrong token: 403"
admin GET /admin/cache/stats -H "Authorization: Bearer t0ken-for-tests"
assert_eq "$STATUS" 200 "from $HOST_IP with the right token: 200"
admin POST "/admin/cache/gc?max_size=0" -H "Authorization: Bearer t0ken-for-tests"
assert_eq "$STATUS" 200 "POST gc from $HOST_IP with the right token: 200"
assert_eq "$(json_get "$BODY" 'j["bytes_after"]')" 0 "and it ran"
stop_proxy TERM

finish
