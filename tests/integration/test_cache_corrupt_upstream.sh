#!/usr/bin/env bash
# An upstream that sends a blob whose bytes do not hash to the digest in its URL
# (one byte flipped, Content-Length right). The proxy verifies while streaming:
# the client's transfer is cut short (never a complete wrong body), the log says
# the content did not match its digest, nothing is stored (no blob file, no
# temp file), and the next request goes upstream again (MISS, not HIT). A second
# client attached to such a fill (X-Cache: HIT) must be cut off as well.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd openssl curl
require_proxy_bin

BAD_IP=127.0.0.25
make_test_pki "$T/pki"
head -c 300000 /dev/urandom >"$T/blob.bin"
D=$(sha256_of "$T/blob.bin")
SIZE=$(stat -c %s "$T/blob.bin")
# (slowly: 16 KiB every 20 ms, ~0.4 s a request, so a second client can attach to a fill)
start_fake_blob_registry bad.test "$BAD_IP" --blob "$T/blob.bin" --corrupt --chunk 16384 --delay 0.02
CACHE="$T/proxy/cache"
start_proxy REGISTRIES=bad.test "UPSTREAM_RESOLVE=bad.test=$BAD_IP" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT"
URL="https://bad.test:$FAKE_PORT/v2/x/blobs/$D"
BLOB_PATH="/v2/x/blobs/$D"

code=$(pcurl -o /dev/null -w '%{http_code}' "https://bad.test:$FAKE_PORT/v2/")
assert_eq "$code" 200 "the fake registry answers /v2/ through the proxy"

fetch() { # N -> sets RC; body in $T/body.N, headers in $T/h.N
  RC=0
  pcurl -D "$T/h.$1" -o "$T/body.$1" "$URL" 2>"$T/curl.$1.err" || RC=$?
  log "request $1: curl exit $RC, $(stat -c %s "$T/body.$1" 2>/dev/null || echo 0) of $SIZE bytes: $(cat "$T/curl.$1.err")"
}

for n in 1 2; do
  mark=$(proxy_log_mark)
  fetch $n
  assert_ne "$RC" 0 "request $n of the corrupt blob: the client's transfer fails (curl exit $RC)"
  got=$(stat -c %s "$T/body.$n" 2>/dev/null || echo 0)
  [ "$got" -lt "$SIZE" ] || fail "request $n: the client got all $got bytes of a blob that does not match its digest"
  ok "request $n: the client got $got of $SIZE bytes: the wrong content is never complete"
  assert_ne "$(header_value X-Cache "$T/h.$n")" HIT "request $n: X-Cache is not HIT"
  wait_proxy_requests "$mark" 1 "path=$BLOB_PATH "
  line=$(proxy_requests_since "$mark" "path=$BLOB_PATH ")
  assert_match "$line" 'cache=MISS' "request $n: logged cache=MISS (went upstream)"
  assert_match "$line" 'does not match its digest|digest mismatch' "request $n: the access log says the digest did not match"
  assert_eq "$(grep -c "^GET $BLOB_PATH " "$FAKE_LOG" || true)" "$n" "request $n reached the upstream (GET #$n)"
  [ ! -e "$(cache_blob_path "$D")" ] || fail "request $n: a file for $D was stored: $(cache_blob_path "$D")"
  ok "request $n: no cache file for the digest"
  assert_eq "$(files_count "$CACHE/blobs")" 0 "request $n: nothing at all under CACHE_DIR/blobs"
  sleep 0.2
  assert_eq "$(files_count "$CACHE/tmp")" 0 "request $n: the failed download left no temp file"
done
assert_log_contains 'not cached: content does not match its digest'

# Two clients at once: the second attaches to the first one's fill (X-Cache: HIT). When the
# fill turns out not to match its digest, the attached client's transfer must be cut too:
# never a complete body of the wrong bytes.
gets_before=$(grep -c "^GET $BLOB_PATH " "$FAKE_LOG" || true)
mark=$(proxy_log_mark)
rm -f "$T/rc.a"
{ pcurl -D "$T/h.a" -o "$T/body.a" "$URL" 2>"$T/curl.a.err" && echo 0 >"$T/rc.a" || echo $? >"$T/rc.a"; } &
pid_a=$!
for i in $(seq 1 100); do
  [ "$(grep -c "^GET $BLOB_PATH " "$FAKE_LOG" || true)" -gt "$gets_before" ] && break
  sleep 0.02
done
rc_b=0
pcurl -D "$T/h.b" -o "$T/body.b" "$URL" 2>"$T/curl.b.err" || rc_b=$?
wait "$pid_a" || true
rc_a=$(cat "$T/rc.a")
for x in a b; do
  log "concurrent client $x: X-Cache $(header_value X-Cache "$T/h.$x"), $(stat -c %s "$T/body.$x" 2>/dev/null || echo 0) of $SIZE bytes: $(cat "$T/curl.$x.err")"
done
assert_eq "$(header_value X-Cache "$T/h.b")" HIT "the second client attached to the first one's fill (X-Cache: HIT)"
assert_eq "$(($(grep -c "^GET $BLOB_PATH " "$FAKE_LOG" || true) - gets_before))" 1 "the two clients made one upstream GET"
assert_ne "$rc_a" 0 "the filling client's transfer fails (curl exit $rc_a)"
assert_ne "$rc_b" 0 "the attached client's transfer fails too (curl exit $rc_b)"
got=$(stat -c %s "$T/body.b" 2>/dev/null || echo 0)
[ "$got" -lt "$SIZE" ] || fail "the attached client got all $got bytes of a blob that does not match its digest (sha256 $(sha256_of "$T/body.b"), want $D)"
ok "the attached client got $got of $SIZE bytes: the wrong content is never complete"
wait_proxy_requests "$mark" 2 "path=$BLOB_PATH "
[ ! -e "$(cache_blob_path "$D")" ] || fail "a file for $D was stored after the concurrent requests"
ok "no cache file for the digest after the concurrent requests"

# HEAD of that digest is not answered from the cache either.
mark=$(proxy_log_mark)
pcurl -I -D "$T/head.h" -o /dev/null "$URL" || fail "HEAD of the corrupt blob failed"
assert_ne "$(header_value X-Cache "$T/head.h")" HIT "HEAD after the failures: not HIT"
wait_proxy_requests "$mark" 1 "method=HEAD path=$BLOB_PATH "
assert_match "$(proxy_requests_since "$mark" "method=HEAD path=$BLOB_PATH ")" 'cache=MISS' "HEAD: cache=MISS"

assert_proxy_alive
finish
