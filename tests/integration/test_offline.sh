#!/usr/bin/env bash
# OFFLINE=true: no upstream connection at all. A proxy fills its cache from registry.test, then a
# proxy on the same cache starts with OFFLINE=true while the registry still runs (so any
# connection would succeed, and would show in its log):
#   - the cached image pulls (its tag served STALE whatever its age, its blobs HIT);
#   - an image not cached fails with a registry-style 404 saying the proxy is offline, for a
#     manifest and for a blob; a CONNECT to a host that is not intercepted gets 503;
#   - the registry saw no request at all from the offline proxy.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd openssl curl skopeo docker-registry htpasswd
require_proxy_bin

start_standard_registry # library/app:1.0
seed_image "${REG_ADDR[reg]}" library/other:1.0 2 100000
ORIGIN="registry.test:$RPORT"
# Tags fresh for 1 s: the offline proxy serves one well past its window.
PROXY_ENV=("${STD_PROXY_ENV[@]}" "AUTH_REGISTRIES=registry.test:$RPORT:$RCREDS" ENABLE_MANIFEST_CACHE=true
  MANIFEST_CACHE_PRIMARY_REGEX= MANIFEST_CACHE_SECONDARY_REGEX= MANIFEST_CACHE_DEFAULT_TIME=1s)
start_proxy "${PROXY_ENV[@]}"
proxy_pull "$ORIGIN/library/app:1.0" "$T/app-1" >"$T/pull-1.log" 2>&1 || { cat "$T/pull-1.log"; fail "online pull failed"; }
stop_proxy
sleep 1.2

registry_log_lines() { wc -l <"${REG_DIR[reg]}/registry.log"; }
before=$(registry_log_lines)
start_proxy "${PROXY_ENV[@]}" OFFLINE=true
assert_log_contains 'OFFLINE=true: no upstream connection at all'

mark=$(proxy_log_mark)
proxy_pull "$ORIGIN/library/app:1.0" "$T/app-2" >"$T/pull-2.log" 2>&1 || { cat "$T/pull-2.log"; fail "offline pull of the cached image failed"; }
verify_dir_digests "$T/app-2" "${IMAGE_DIGEST[library/app:1.0]}"
wait_proxy_requests "$mark" 5 "path=/v2/library/app/(manifests|blobs)/"
lines=$(proxy_requests_since "$mark" "path=/v2/library/app/(manifests|blobs)/")
assert_match "$(grep manifests <<<"$lines")" 'cache=STALE' "the tag, past its freshness window, is served STALE"
assert_eq "$(grep blobs <<<"$lines" | grep -vc 'cache=HIT' || true)" 0 "every blob is a HIT"

if proxy_pull "$ORIGIN/library/other:1.0" "$T/other" >"$T/pull-other.log" 2>&1; then
  fail "an image that is not cached was pulled while offline"
fi
assert_match "$(cat "$T/pull-other.log")" 'offline \(OFFLINE=true\)' "skopeo shows the proxy's message: it is offline"
code=$(pcurl -o "$T/manifest.json" -w '%{http_code}' -u "$RCREDS" "https://$ORIGIN/v2/library/other/manifests/1.0")
assert_eq "$code" 404 "a manifest that is not cached: 404"
assert_match "$(cat "$T/manifest.json")" '"code": ?"MANIFEST_UNKNOWN".*offline' "with a registry-style MANIFEST_UNKNOWN saying why"
code=$(pcurl -o "$T/blob.json" -w '%{http_code}' -u "$RCREDS" "https://$ORIGIN/v2/library/other/blobs/sha256:$(printf '%064d' 0)")
assert_eq "$code" 404 "a blob that is not cached: 404"
assert_match "$(cat "$T/blob.json")" '"code": ?"BLOB_UNKNOWN"' "with a registry-style BLOB_UNKNOWN"
out=$(raw_http 'CONNECT example.invalid:443 HTTP/1.1\r\nHost: example.invalid:443\r\n\r\n' | head -n 1 | tr -d '\r')
assert_match "$out" '^HTTP/1\.1 503' "a CONNECT to a host that is not intercepted: 503 ($out)"

assert_eq "$(($(registry_log_lines) - before))" 0 "the registry saw nothing from the offline proxy"
assert_proxy_alive
finish
