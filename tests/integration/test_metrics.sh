#!/usr/bin/env bash
# GET /metrics: Prometheus text format 0.0.4 that a strict parser accepts, with
# figures that match what the proxy did. An image pulled twice (all MISS, then
# all HIT): requests by cache status equal the access log's counts, bytes from
# the cache and from upstream equal the sums of the logged bytes, the cache
# gauges equal the blob files on disk, no fill is left in flight, and every
# upstream response is in the latency histogram. Then a proxy with a cache cap
# smaller than the image counts its evictions.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_standard_registry
start_proxy "${STD_PROXY_ENV[@]}"
REPO=library/app
mapfile -t BLOBS < <(image_blobs "$SEED_DIR_APP")
image_bytes=0
for d in "${BLOBS[@]}"; do image_bytes=$((image_bytes + $(stat -c %s "$SEED_DIR_APP/${d#sha256:}"))); done

# fetch NAME — fetches /metrics to $T/NAME.prom (headers in $T/NAME.h).
fetch() {
  curl -sS --fail --max-time 10 -D "$T/$1.h" -o "$T/$1.prom" "$PROXY_URL/metrics" || fail "GET /metrics failed"
}

# scrape NAME — fetch NAME, and validate it strictly.
scrape() {
  fetch "$1"
  local verdict
  verdict=$($PY "$IT_DIR/prom_query.py" "$T/$1.prom") || fail "/metrics ($1) does not parse: $verdict
$(head -c 3000 "$T/$1.prom")"
  ok "/metrics ($1) parses: ${verdict#ok: }"
}

# metric NAME EXPR — the sum of the samples of scrape NAME matching EXPR ("absent" if none).
metric() { $PY "$IT_DIR/prom_query.py" "$T/$1.prom" "$2"; }

# logged CACHE_ERE [FIELD] — over the current run's access-log lines whose cache
# status matches CACHE_ERE: their number, or the sum of FIELD (e.g. bytes).
logged() {
  proxy_log_current | grep -E ' request session=' | grep -E " cache=($1)\$" |
    awk -v f="${2:-}" '{ if (f == "") { n++ } else { for (i = 1; i <= NF; i++) if ($i ~ "^" f "=") { split($i, kv, "="); n += kv[2] } } }
      END { print n + 0 }'
}

# --- a fresh proxy: valid, empty
scrape fresh
assert_match "$(header_value Content-Type "$T/fresh.h")" '^text/plain; version=0\.0\.4' \
  "/metrics is served as text/plain; version=0.0.4"
assert_eq "$(metric fresh 'pullthrough_requests_total')" absent "a fresh proxy has counted no request"
assert_eq "$(metric fresh 'pullthrough_served_bytes_total{source="cache"}')" 0 "a fresh proxy has served nothing from the cache"
assert_eq "$(metric fresh 'pullthrough_cache_entries')" 0 "a fresh cache has no entries"
assert_eq "$(metric fresh 'pullthrough_upstream_response_seconds_count')" 0 "no upstream latency observed yet"
assert_eq "$(metric fresh 'pullthrough_build_info')" 1 "build_info is 1"
assert_file_contains "$T/fresh.prom" '^# TYPE pullthrough_upstream_response_seconds histogram$' \
  "the upstream latency is a histogram"

# --- two pulls: MISS, then HIT
mark=$(proxy_log_mark)
proxy_pull "$IMAGE" "$T/out1" --src-creds "$RCREDS" >"$T/pull1.log" 2>&1 || { cat "$T/pull1.log"; fail "first pull failed"; }
verify_dir_digests "$T/out1" "$DIGEST"
wait_proxy_requests "$mark" 5 "path=/v2/$REPO/(blobs|manifests)/"
mark=$(proxy_log_mark)
proxy_pull "$IMAGE" "$T/out2" --src-creds "$RCREDS" >"$T/pull2.log" 2>&1 || { cat "$T/pull2.log"; fail "second pull failed"; }
verify_dir_digests "$T/out2" "$DIGEST"
wait_proxy_requests "$mark" 5 "path=/v2/$REPO/(blobs|manifests)/.* cache=HIT"
ok "pulled $IMAGE twice through the proxy"

# The counters are updated as each access-log line is written; poll briefly so the
# last line's request is counted.
for i in $(seq 1 50); do
  fetch pulled
  [ "$(metric pulled 'pullthrough_requests_total')" = "$(logged '[A-Z]*')" ] && break
  sleep 0.1
done
scrape pulled

for status in HIT MISS BYPASS; do
  n=$(logged "$status")
  [ "$status" = BYPASS ] || [ "$n" -gt 0 ] || fail "test setup: no $status request logged"
  assert_eq "$(metric pulled "pullthrough_requests_total{cache=\"$status\"}" | sed 's/^absent$/0/')" "$n" \
    "requests_total{cache=\"$status\"} equals the $n access-log lines with cache=$status"
done
assert_eq "$(metric pulled 'pullthrough_requests_total')" "$(logged '[A-Z]*')" \
  "requests_total over all labels equals the number of access-log lines"
assert_eq "$(metric pulled 'pullthrough_requests_total{status="200",cache="HIT"}')" \
  "$(proxy_log_current | grep -cE ' request session=.* status=200 .* cache=HIT$')" \
  "requests_total{status=\"200\",cache=\"HIT\"} equals the logged 200 HITs"

from_cache=$(metric pulled 'pullthrough_served_bytes_total{source="cache"}')
from_upstream=$(metric pulled 'pullthrough_served_bytes_total{source="upstream"}')
[ "$from_cache" -ge "$image_bytes" ] || fail "bytes from cache $from_cache < the image's $image_bytes blob bytes"
ok "bytes served from the cache ($from_cache) cover the second pull's blobs ($image_bytes bytes)"
assert_eq "$from_cache" "$(logged 'HIT|STALE|REVALIDATED' bytes)" "bytes from cache equal the sum of bytes= of HIT/STALE/REVALIDATED lines"
assert_eq "$from_upstream" "$(logged 'MISS|BYPASS' bytes)" "bytes from upstream equal the sum of bytes= of MISS/BYPASS lines"
[ "$from_upstream" -ge "$image_bytes" ] || fail "bytes from upstream $from_upstream < $image_bytes"
ok "bytes from upstream ($from_upstream) cover the first pull's blobs"

CACHE="$T/proxy/cache"
entries=$(metric pulled 'pullthrough_cache_entries')
[ "$entries" -gt 0 ] || fail "cache_entries is $entries after a pull"
ok "cache_entries is $entries"
assert_eq "$(metric pulled 'pullthrough_cache_files')" "$(files_count "$CACHE/blobs")" "cache_files equals the blob files on disk"
assert_eq "$(metric pulled 'pullthrough_cache_size_bytes')" "$(files_bytes "$CACHE/blobs")" "cache_size_bytes equals the bytes of the blob files"
assert_eq "$(metric pulled 'pullthrough_cache_max_size_bytes')" $((32 << 30)) "cache_max_size_bytes is the default 32g cap"
assert_eq "$(metric pulled 'pullthrough_cache_fills_in_flight')" 0 "no fill in flight after the pulls"
assert_eq "$(metric pulled 'pullthrough_cache_evictions_total')" 0 "no eviction under the default cap"

# Every response from upstream (each MISS and BYPASS here: no redirects, no revalidation) is
# one latency observation.
upstream=$(logged 'MISS|BYPASS')
assert_eq "$(metric pulled 'pullthrough_upstream_response_seconds_count')" "$upstream" \
  "the latency histogram counts the $upstream upstream responses"
assert_eq "$(metric pulled 'pullthrough_upstream_response_seconds_bucket{le="+Inf"}')" "$upstream" \
  "the +Inf bucket holds every observation"
sum=$(metric pulled 'pullthrough_upstream_response_seconds_sum')
$PY -c "import sys; s = float(sys.argv[1]); sys.exit(0 if 0 < s < 60 else 1)" "$sum" ||
  fail "upstream latency sum $sum is not plausible"
ok "upstream latency sum is ${sum}s"

# HEAD gets the head only; the status page and /metrics themselves are not counted.
curl -sS --fail --max-time 10 -I -o /dev/null "$PROXY_URL/metrics" || fail "HEAD /metrics failed"
curl -sS --fail --max-time 10 -o /dev/null "$PROXY_URL/" || fail "GET / failed"
scrape again
assert_eq "$(metric again 'pullthrough_requests_total')" "$(metric pulled 'pullthrough_requests_total')" \
  "scrapes and the status page are not counted as requests"

# --- a cap smaller than the image: evictions are counted
stop_proxy TERM
SMALL="$T/proxy/cache-small"
start_proxy "${STD_PROXY_ENV[@]}" CACHE_DIR="$SMALL" CACHE_MAX_SIZE=400k
mark=$(proxy_log_mark)
proxy_pull "$IMAGE" "$T/out3" --src-creds "$RCREDS" >"$T/pull3.log" 2>&1 || { cat "$T/pull3.log"; fail "pull through a small cache failed"; }
verify_dir_digests "$T/out3" "$DIGEST"
wait_proxy_requests "$mark" 5 "path=/v2/$REPO/(blobs|manifests)/"
for i in $(seq 1 50); do
  fetch small
  [ "$(metric small 'pullthrough_cache_fills_in_flight')" = 0 ] && [ "$(metric small 'pullthrough_cache_evictions_total')" != 0 ] && break
  sleep 0.1
done
scrape small
evicted=$(metric small 'pullthrough_cache_evictions_total')
[ "$evicted" -gt 0 ] || fail "no eviction counted with a 400k cap and a $image_bytes-byte image"
ok "$evicted eviction(s) counted under a 400k cap"
[ "$(metric small 'pullthrough_cache_evicted_bytes_total')" -gt 0 ] || fail "evicted bytes not counted"
ok "evicted bytes counted: $(metric small 'pullthrough_cache_evicted_bytes_total')"
assert_eq "$(metric small 'pullthrough_cache_max_size_bytes')" 409600 "cache_max_size_bytes is the 400k cap"
assert_eq "$(metric small 'pullthrough_cache_size_bytes')" "$(files_bytes "$SMALL/blobs")" "cache_size_bytes equals the blob files under the cap"
[ "$(metric small 'pullthrough_cache_size_bytes')" -le 409600 ] || fail "cache size over the cap"
ok "the cache stays within its cap"

assert_proxy_alive
finish
