#!/usr/bin/env bash
# The cache's core promise: what one pull fetched, the next pull gets from the
# cache. The first pull of a 3-layer image is all MISS; a second pull is all HIT
# (only the /v2/ ping goes upstream) and the registry sees no new blob or
# manifest GET. A HEAD of a cached blob is answered from the cache (true
# Content-Length and Docker-Content-Digest, no body), a Range GET gets 206 with
# the right bytes, and a restarted proxy keeps serving the same cache.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_standard_registry
start_proxy "${STD_PROXY_ENV[@]}"
BASE="https://registry.test:$RPORT"
REPO=library/app
mapfile -t BLOBS < <(image_blobs "$SEED_DIR_APP")
assert_eq "${#BLOBS[@]}" 4 "the image has a config and 3 layers"

# check_pull MARK WANT_CACHE — every blob and manifest request after MARK is logged
# cache=WANT_CACHE, each blob of the image was asked for, and the /v2/ ping is BYPASS.
check_pull() {
  local mark=$1 want=$2 d lines bad
  wait_proxy_requests "$mark" 5 "path=/v2/$REPO/(blobs|manifests)/"
  for d in "${BLOBS[@]}"; do
    wait_proxy_requests "$mark" 1 "path=/v2/$REPO/blobs/$d "
    assert_match "$(proxy_requests_since "$mark" "path=/v2/$REPO/blobs/$d ")" "status=200 .*cache=$want\$" \
      "blob ${d:7:12} logged cache=$want"
  done
  lines=$(proxy_requests_since "$mark" "path=/v2/$REPO/(blobs|manifests)/")
  bad=$(grep -vE "cache=$want\$" <<<"$lines" || true)
  [ -z "$bad" ] || fail "blob/manifest requests not logged cache=$want: $bad"
  ok "all $(wc -l <<<"$lines") blob and manifest requests are cache=$want"
  assert_match "$(proxy_requests_since "$mark" "path=/v2/$REPO/manifests/1.0 ")" "status=200 .*cache=$want\$" \
    "the tag manifest is cache=$want"
  lines=$(proxy_requests_since "$mark" 'path=/v2/ ')
  assert_ne "$lines" "" "the /v2/ ping was relayed"
  bad=$(grep -vE 'cache=BYPASS$' <<<"$lines" || true)
  [ -z "$bad" ] || fail "/v2/ ping not logged cache=BYPASS: $bad"
  ok "the /v2/ ping is cache=BYPASS"
}

# upstream_fetches — "GET blob" and "GET manifest" request counts seen by the registry.
upstream_blob_gets() {
  local d n=0
  for d in "${BLOBS[@]}"; do n=$((n + $(registry_requests reg GET "/v2/$REPO/blobs/$d"))); done
  echo "$n"
}
upstream_manifest_gets() {
  echo $(($(registry_requests reg GET "/v2/$REPO/manifests/1.0") + $(registry_requests reg GET "/v2/$REPO/manifests/$DIGEST")))
}

# --- first pull: everything is fetched upstream and stored
mark=$(proxy_log_mark)
proxy_pull "$IMAGE" "$T/out1" --src-creds "$RCREDS" >"$T/pull1.log" 2>&1 ||
  { cat "$T/pull1.log"; fail "first pull failed"; }
ok "first pull through the caching proxy"
verify_dir_digests "$T/out1" "$DIGEST"
check_pull "$mark" MISS
for d in "${BLOBS[@]}"; do
  f=$(cache_blob_path "$d")
  [ -f "$f" ] || fail "blob $d is not in the cache ($f missing)"
  assert_eq "$(sha256_of "$f")" "$d" "cached file of ${d:7:12} holds the blob"
done
assert_eq "$(upstream_blob_gets)" 4 "the registry served each blob once"
manifest_gets=$(upstream_manifest_gets)

# --- second pull: all from the cache
mark=$(proxy_log_mark)
proxy_pull "$IMAGE" "$T/out2" --src-creds "$RCREDS" >"$T/pull2.log" 2>&1 ||
  { cat "$T/pull2.log"; fail "second pull failed"; }
ok "second pull"
verify_dir_digests "$T/out2" "$DIGEST"
check_pull "$mark" HIT
assert_eq "$(upstream_blob_gets)" 4 "the second pull made no blob GET upstream"
assert_eq "$(upstream_manifest_gets)" "$manifest_gets" "the second pull made no manifest GET upstream"

# --- HEAD of a cached blob: answered from the cache, no body, never an upstream request
LAYER=${BLOBS[1]}
LAYER_FILE="$SEED_DIR_APP/${LAYER#sha256:}"
LAYER_SIZE=$(stat -c %s "$LAYER_FILE")
heads_before=$(registry_requests reg HEAD "/v2/$REPO/blobs/$LAYER") # (seeding's existence checks)
mark=$(proxy_log_mark)
# (HEAD, then a GET of the config on the same connection: a body wrongly sent after the
# HEAD would corrupt the GET's response)
CONFIG=${BLOBS[0]}
curl -sS -v --max-time 30 -x "$PROXY_URL" --cacert "$PROXY_CA_CRT" -u "$RCREDS" -I -D "$T/head.h" -o /dev/null \
  "$BASE/v2/$REPO/blobs/$LAYER" \
  --next -sS --max-time 30 -x "$PROXY_URL" --cacert "$PROXY_CA_CRT" -u "$RCREDS" -o "$T/config.get" \
  "$BASE/v2/$REPO/blobs/$CONFIG" 2>"$T/head-get.err" || { cat "$T/head-get.err"; fail "HEAD then GET failed"; }
assert_eq "$(response_status "$T/head.h")" 200 "HEAD cached blob: 200"
assert_eq "$(header_value Content-Length "$T/head.h")" "$LAYER_SIZE" "HEAD cached blob: Content-Length is the blob size"
assert_eq "$(header_value Docker-Content-Digest "$T/head.h")" "$LAYER" "HEAD cached blob: Docker-Content-Digest"
assert_eq "$(header_value X-Cache "$T/head.h")" HIT "HEAD cached blob: X-Cache: HIT"
assert_file_contains "$T/head-get.err" 'Re-using existing connection' "HEAD and the next GET shared one connection"
assert_eq "$(sha256_of "$T/config.get")" "$CONFIG" "HEAD cached blob: no body (the next GET on the connection is intact)"
wait_proxy_requests "$mark" 1 "method=HEAD path=/v2/$REPO/blobs/$LAYER "
assert_match "$(proxy_requests_since "$mark" "method=HEAD path=/v2/$REPO/blobs/$LAYER ")" \
  "status=200 bytes=0 .*cache=HIT\$" "HEAD cached blob logged cache=HIT"
assert_eq "$(registry_requests reg HEAD "/v2/$REPO/blobs/$LAYER")" "$heads_before" "HEAD cached blob: no HEAD upstream"
assert_eq "$(upstream_blob_gets)" 4 "HEAD cached blob: no GET upstream"

# --- Range GET of a cached blob: 206 with exactly bytes 10..19
pcurl -u "$RCREDS" -H 'Range: bytes=10-19' -D "$T/range.h" -o "$T/range.body" "$BASE/v2/$REPO/blobs/$LAYER" ||
  fail "Range GET of a cached blob failed"
assert_eq "$(response_status "$T/range.h")" 206 "Range GET cached blob: 206"
assert_eq "$(header_value Content-Range "$T/range.h")" "bytes 10-19/$LAYER_SIZE" "Range GET: Content-Range"
assert_eq "$(header_value Content-Length "$T/range.h")" 10 "Range GET: Content-Length 10"
assert_eq "$(header_value X-Cache "$T/range.h")" HIT "Range GET: X-Cache: HIT"
assert_eq "$(od -An -tx1 "$T/range.body" | tr -d ' \n')" \
  "$(dd if="$LAYER_FILE" bs=1 skip=10 count=10 status=none | od -An -tx1 | tr -d ' \n')" \
  "Range GET: the body is bytes 10-19 of the blob"
assert_eq "$(upstream_blob_gets)" 4 "Range GET cached blob: no GET upstream"

# --- restart with the same CACHE_DIR: still all HITs
stop_proxy TERM
assert_eq "$PROXY_EXIT" 0 "the proxy exits 0 on SIGTERM"
start_proxy "${STD_PROXY_ENV[@]}"
mark=$(proxy_log_mark)
proxy_pull "$IMAGE" "$T/out3" --src-creds "$RCREDS" >"$T/pull3.log" 2>&1 ||
  { cat "$T/pull3.log"; fail "pull after restart failed"; }
ok "pull after a proxy restart"
verify_dir_digests "$T/out3" "$DIGEST"
check_pull "$mark" HIT
assert_eq "$(upstream_blob_gets)" 4 "after the restart, still no blob GET upstream"
assert_eq "$(upstream_manifest_gets)" "$manifest_gets" "after the restart, still no manifest GET upstream"

assert_proxy_alive
finish
