#!/usr/bin/env bash
# Faults, and that nothing is lost or corrupted by them:
#  - upstream resets the connection mid-blob: the client gets an error, nothing is cached, the next
#    request succeeds (MISS, then HIT) with the right bytes;
#  - upstream stalls mid-blob: the client gets an error after UPSTREAM_IDLE_TIMEOUT, nothing cached;
#  - upstream name does not resolve: 502 naming the problem;
#  - cache directory unusable, proxy auth file or settings bad: the proxy does not start and says why;
#  (a corrupt index: test_rebuild_index.sh)
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd openssl curl
require_proxy_bin

FAULT_IP=127.0.0.25
make_test_pki "$T/pki"
head -c 400000 /dev/urandom >"$T/blob.bin"
D=$(sha256_of "$T/blob.bin")
SIZE=$(stat -c %s "$T/blob.bin")

check_recovers() { # LABEL URL — after a failed first request: nothing stored, then MISS and HIT intact
  assert_eq "$(files_count "$T/proxy/cache/blobs")" 0 "$1: nothing stored after the failed transfer"
  local n
  for n in MISS HIT; do
    pcurl -D "$T/h.$1.$n" -o "$T/body.$1.$n" "$2"
    assert_eq "$(sha256_of "$T/body.$1.$n")" "$D" "$1: the next request ($n) delivers the right bytes"
    assert_eq "$(header_value X-Cache "$T/h.$1.$n")" "$n" "$1: X-Cache $n"
  done
}

# --- reset mid-blob (first GET only).
start_fake_blob_registry reset.test "$FAULT_IP" --blob "$T/blob.bin" --fault reset --fault-after 150000 --fault-requests 1
start_proxy REGISTRIES=reset.test "UPSTREAM_RESOLVE=reset.test=$FAULT_IP" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT"
URL="https://reset.test:$FAKE_PORT/v2/x/blobs/$D"
rc=0
pcurl -o "$T/reset.out" "$URL" 2>"$T/reset.err" || rc=$?
assert_ne "$rc" 0 "reset: the client's transfer fails (curl exit $rc: $(cat "$T/reset.err"))"
got=$(stat -c %s "$T/reset.out" 2>/dev/null || echo 0)
[ "$got" -lt "$SIZE" ] || fail "reset: the client got all bytes of a transfer that was cut"
assert_file_contains "$FAKE_LOG" 'reset$' "the upstream did reset the connection"
check_recovers reset "$URL"
assert_proxy_alive
stop_proxy
kill "$FAKE_PID"
rm -rf "$T/proxy/cache"

# --- stall mid-blob (first GET only), with a short UPSTREAM_IDLE_TIMEOUT.
start_fake_blob_registry stall.test "$FAULT_IP" --blob "$T/blob.bin" --fault stall --fault-after 150000 --fault-requests 1
start_proxy REGISTRIES=stall.test "UPSTREAM_RESOLVE=stall.test=$FAULT_IP" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" \
  UPSTREAM_IDLE_TIMEOUT=2s
URL="https://stall.test:$FAKE_PORT/v2/x/blobs/$D"
started=$(date +%s)
rc=0
pcurl --max-time 30 -o "$T/stall.out" "$URL" 2>"$T/stall.err" || rc=$?
took=$(($(date +%s) - started))
assert_ne "$rc" 0 "stall: the client's transfer fails (curl exit $rc)"
[ "$took" -lt 20 ] || fail "stall: the proxy took ${took}s to give up on a silent upstream (UPSTREAM_IDLE_TIMEOUT=2s)"
ok "stall: given up after ${took}s"
check_recovers stall "$URL"
assert_proxy_alive
stop_proxy

# --- an upstream name that does not resolve.
start_proxy REGISTRIES=nowhere.invalid
# (the /v2/ ping itself is answered locally when upstream is unreachable, so cached images pull)
code=$(pcurl -o "$T/dns.out" -w '%{http_code}' "https://nowhere.invalid/v2/library/x/manifests/1" || true)
assert_eq "$code" 502 "DNS failure: 502"
assert_contains "$(cat "$T/dns.out")" "nowhere.invalid" "the 502 names the host"
assert_proxy_alive
stop_proxy

# --- start-up failures say what to fix and exit non-zero.
start_fails() { # LABEL EXPECTED_TEXT VAR=value...
  local label=$1 expected=$2 rc=0
  shift 2
  env LISTEN="127.0.0.1:$(free_port 127.0.0.1)" CA_DIR="$T/proxy/ca" CACHE_DIR="$T/proxy/cache" "$@" \
    timeout 20 "$PULLTHROUGH_BIN" >"$T/start.out" 2>&1 || rc=$?
  assert_ne "$rc" 0 "$label: exits non-zero"
  [ "$rc" != 124 ] || fail "$label: the proxy kept running"
  assert_file_contains "$T/start.out" "$expected" "$label: the message says why"
}
: >"$T/not-a-dir"
start_fails "cache dir unusable" "not-a-dir" CACHE_DIR="$T/not-a-dir/cache"
start_fails "bad ALLOWED_CLIENTS" "ALLOWED_CLIENTS: 'example.com'" ALLOWED_CLIENTS=example.com
start_fails "missing PROXY_AUTH_FILE" "cannot read PROXY_AUTH_FILE" PROXY_AUTH_FILE="$T/none"
start_fails "bad CACHE_AUTH_MODE" "CACHE_AUTH_MODE" CACHE_AUTH_MODE=sometimes
finish
