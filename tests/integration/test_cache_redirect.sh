#!/usr/bin/env bash
# A registry that answers blob GETs with a 307 to its CDN (Docker Hub, quay, registry.k8s.io do):
# the proxy follows the redirect itself, without the registry's credentials, caches the blob under
# the original request, and serves it from the cache once the CDN is gone. The client never sees
# the redirect.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd openssl curl
require_proxy_bin

REG_IP=127.0.0.26
CDN_IP=127.0.0.27
make_test_pki "$T/pki"
head -c 500000 /dev/urandom >"$T/blob.bin"
D=$(sha256_of "$T/blob.bin")

start_fake_blob_registry cdn.test "$CDN_IP" --blob "$T/blob.bin"
CDN_PORT=$FAKE_PORT CDN_LOG=$FAKE_LOG CDN_PID=$FAKE_PID
start_fake_blob_registry reg.test "$REG_IP" --blob "$T/blob.bin" --redirect-to "https://cdn.test:$CDN_PORT/storage"
REG_LOG=$FAKE_LOG

# Only the registry is listed: the CDN is reached by the proxy itself, not intercepted for clients.
start_proxy REGISTRIES=reg.test "UPSTREAM_RESOLVE=reg.test=$REG_IP cdn.test=$CDN_IP" \
  "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" "AUTH_REGISTRIES=reg.test:robot:registry-secret"
URL="https://reg.test:$FAKE_PORT/v2/team/app/blobs/$D"

pcurl -D "$T/h1" -o "$T/body1" "$URL" || fail "the redirected blob could not be fetched through the proxy"
assert_eq "$(response_status "$T/h1")" 200 "the client gets the blob itself, not the redirect"
assert_eq "$(sha256_of "$T/body1")" "$D" "the blob fetched through the redirect has the right digest"
grep -qi '^x-cache: MISS' "$T/h1" || fail "first fetch is not a MISS: $(cat "$T/h1")"
ok "first fetch is a MISS"
grep -q "GET /v2/team/app/blobs/$D 307" "$REG_LOG" || fail "the registry did not redirect: $(cat "$REG_LOG")"
grep -q "GET /storage/v2/team/app/blobs/$D?X-Signature=fake" "$CDN_LOG" ||
  fail "the proxy did not follow the redirect to the CDN: $(cat "$CDN_LOG")"
ok "the proxy followed the 307 to the CDN"

kill "$CDN_PID"
wait "$CDN_PID" 2>/dev/null || true
pcurl -D "$T/h2" -o "$T/body2" "$URL" || fail "the cached blob could not be fetched with the CDN down"
assert_eq "$(sha256_of "$T/body2")" "$D" "with the CDN down the blob is served from the cache"
grep -qi '^x-cache: HIT' "$T/h2" || fail "second fetch is not a HIT: $(cat "$T/h2")"
ok "second fetch is a HIT"
# (the harness's own "=== start" line records the environment it passed; the proxy's lines must not)
if awk '!/^=== start/ && /registry-secret/ {found = 1} END {exit !found}' "$PROXY_LOG"; then
  fail "the registry password appears in the proxy log"
fi
ok "the registry password is not logged"
assert_proxy_alive
finish
