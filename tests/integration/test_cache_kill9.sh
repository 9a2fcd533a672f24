#!/usr/bin/env bash
# The proxy is SIGKILLed while it is filling the cache with a 10 MB blob from a
# slow upstream. After a restart on the same CACHE_DIR the partial download is
# gone (CACHE_DIR/tmp is empty, no blob file), the next request for the blob is
# not a HIT but a fresh upstream fetch whose body has the right digest, and the
# one after that is a HIT.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd openssl curl
require_proxy_bin

SLOW_IP=127.0.0.26
make_test_pki "$T/pki"
head -c 10485760 /dev/urandom >"$T/blob.bin"
D=$(sha256_of "$T/blob.bin")
SIZE=$(stat -c %s "$T/blob.bin")
# 64 KiB every 20 ms (~3 MB/s) for the first GET only; later GETs at full speed.
start_fake_blob_registry slow.test "$SLOW_IP" --blob "$T/blob.bin" --chunk 65536 --delay 0.02 --slow-requests 1
CACHE="$T/proxy/cache"
PROXY_ENV=(REGISTRIES=slow.test "UPSTREAM_RESOLVE=slow.test=$SLOW_IP" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT")
start_proxy "${PROXY_ENV[@]}"
URL="https://slow.test:$FAKE_PORT/v2/x/blobs/$D"
BLOB_PATH="/v2/x/blobs/$D"

# --- a slow fill, killed half-way
rm -f "$T/partial.rc"
{ pcurl --max-time 60 -o "$T/partial.body" "$URL" 2>"$T/partial.err" && echo 0 >"$T/partial.rc" ||
  echo $? >"$T/partial.rc"; } &
CURL_PID=$!
for i in $(seq 1 200); do
  got=$(stat -c %s "$T/partial.body" 2>/dev/null || echo 0)
  [ "$got" -lt 2000000 ] || break
  kill -0 "$CURL_PID" 2>/dev/null || break
  sleep 0.05
done
if [ "$got" -lt 2000000 ] || [ "$got" -ge "$SIZE" ]; then
  fail "could not catch the transfer mid-way (client had $got of $SIZE bytes)"
fi
ok "the client is mid-transfer ($got of $SIZE bytes)"
grep -q "^GET $BLOB_PATH 200 slow" "$FAKE_LOG" || fail "the upstream is not serving the slow GET"
stop_proxy KILL
ok "proxy SIGKILLed mid-fill"
wait "$CURL_PID" || true
rc=$(cat "$T/partial.rc")
assert_ne "$rc" 0 "the client's transfer failed (curl exit $rc)"
leftovers=$(files_count "$CACHE/tmp")
log "after SIGKILL: $leftovers file(s) in CACHE_DIR/tmp: $(find "$CACHE/tmp" -type f -printf '%s %f  ' 2>/dev/null)"
[ ! -e "$(cache_blob_path "$D")" ] || fail "a blob file for $D exists after a SIGKILL mid-download"
ok "no blob file for the half-downloaded digest"

# --- restart on the same cache: the partial download is gone and never served
start_proxy "${PROXY_ENV[@]}"
for i in $(seq 1 50); do
  [ "$(files_count "$CACHE/tmp")" -eq 0 ] && break
  sleep 0.1
done
assert_eq "$(files_count "$CACHE/tmp")" 0 "after the restart CACHE_DIR/tmp holds no leftover"
[ "$leftovers" -eq 0 ] || assert_log_contains "removed $leftovers unfinished download"
[ ! -e "$(cache_blob_path "$D")" ] || fail "a blob file for $D exists after the restart"
ok "no blob file for the digest after the restart"

upstream_gets() { grep -c "^GET $BLOB_PATH 200" "$FAKE_LOG" || true; }
assert_eq "$(upstream_gets)" 1 "one upstream GET so far (the killed one)"

mark=$(proxy_log_mark)
pcurl -D "$T/h2" -o "$T/full.body" "$URL" || fail "GET of the blob after the restart failed"
assert_eq "$(response_status "$T/h2")" 200 "after the restart: 200"
assert_ne "$(header_value X-Cache "$T/h2")" HIT "after the restart: X-Cache is not HIT"
assert_eq "$(sha256_of "$T/full.body")" "$D" "after the restart: the body has the right digest"
wait_proxy_requests "$mark" 1 "path=$BLOB_PATH "
assert_match "$(proxy_requests_since "$mark" "path=$BLOB_PATH ")" 'status=200 .*cache=MISS$' \
  "after the restart: logged cache=MISS"
assert_eq "$(upstream_gets)" 2 "after the restart the blob was fetched upstream again"
assert_eq "$(sha256_of "$(cache_blob_path "$D")")" "$D" "the complete download is now cached, intact"

mark=$(proxy_log_mark)
pcurl -D "$T/h3" -o "$T/hit.body" "$URL" || fail "third GET of the blob failed"
assert_eq "$(header_value X-Cache "$T/h3")" HIT "third GET: X-Cache: HIT"
assert_eq "$(sha256_of "$T/hit.body")" "$D" "third GET: right digest"
assert_eq "$(upstream_gets)" 2 "third GET: no upstream request"
assert_eq "$(files_count "$CACHE/tmp")" 0 "CACHE_DIR/tmp is empty at the end"

assert_proxy_alive
finish
