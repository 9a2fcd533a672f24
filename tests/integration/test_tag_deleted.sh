#!/usr/bin/env bash
# Stale-if-error is for errors, not for deletions. registry.test holds library/app:1.0 and
# library/keep:1.0; both are pulled through the proxy (tags fresh for 2 s). Then app:1.0 is
# deleted in the registry (its API's DELETE, then garbage-collect):
#   - after the freshness window, the revalidation HEAD answers 404: the client gets the 404 and
#     the tag's record is dropped, so once the registry is down as well app:1.0 is still not
#     served, while keep:1.0, whose registry is merely down, is served STALE;
#   - DELETE /admin/cache/<image> (what `pullthrough cache rm` points at on a live cache) drops
#     keep:1.0 at once: the next pull, registry still down, fails.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd openssl curl skopeo docker-registry htpasswd
require_proxy_bin

start_standard_registry # library/app:1.0
seed_image "${REG_ADDR[reg]}" library/keep:1.0 2 100000
ORIGIN="registry.test:$RPORT"
start_proxy "${STD_PROXY_ENV[@]}" "AUTH_REGISTRIES=registry.test:$RPORT:$RCREDS" ENABLE_MANIFEST_CACHE=true \
  MANIFEST_CACHE_PRIMARY_REGEX= MANIFEST_CACHE_SECONDARY_REGEX= MANIFEST_CACHE_DEFAULT_TIME=2s

pull() { # IMAGE OUT -> 0 when skopeo pulled it through the proxy
  proxy_pull "$ORIGIN/$1" "$T/$2" >"$T/pull-$2.log" 2>&1
}
pull library/app:1.0 app-1 || { cat "$T/pull-app-1.log"; fail "first pull of app:1.0 failed"; }
pull library/keep:1.0 keep-1 || { cat "$T/pull-keep-1.log"; fail "first pull of keep:1.0 failed"; }
ok "both tags pulled through the proxy"

# Deleted in the registry: the manifest by digest (which removes its tags), then its blobs.
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$TEST_CA_CRT" -u "$RCREDS" -X DELETE \
  "https://${REG_ADDR[reg]}/v2/library/app/manifests/${IMAGE_DIGEST[library/app:1.0]}")
assert_eq "$code" 202 "the registry accepted the DELETE of app:1.0's manifest"
# (a clean environment: the registry reads every REGISTRY_* variable as a configuration override)
env -i PATH="$PATH" docker-registry garbage-collect "${REG_DIR[reg]}/config.yml" >"$T/gc.log" 2>&1 ||
  { cat "$T/gc.log"; fail "registry garbage-collect failed"; }
ok "registry garbage-collect ran"
sleep 2.2 # past the tags' freshness window

mark=$(proxy_log_mark)
if pull library/app:1.0 app-2; then fail "app:1.0, deleted upstream, was still served"; fi
assert_match "$(cat "$T/pull-app-2.log")" 'manifest unknown|MANIFEST_UNKNOWN|not found' "the client got the registry's 404"
assert_log_line "$ORIGIN/library/app:1.0 is gone upstream (404): its tag record is dropped"

# Now the registry is down too: the deleted tag stays gone, the other one is served STALE.
_kill_pid "${REG_PID[reg]}" registry-reg
if pull library/app:1.0 app-3; then fail "app:1.0, deleted upstream, came back from the cache when the registry went down"; fi
ok "with the registry down, the deleted app:1.0 is still not served"
mark=$(proxy_log_mark)
pull library/keep:1.0 keep-2 || { cat "$T/pull-keep-2.log"; fail "keep:1.0 was not served while its registry is down"; }
verify_dir_digests "$T/keep-2" "${IMAGE_DIGEST[library/keep:1.0]}"
wait_proxy_requests "$mark" 1 "path=/v2/library/keep/manifests/1.0 "
assert_match "$(proxy_requests_since "$mark" "path=/v2/library/keep/manifests/1.0 ")" 'cache=STALE' \
  "keep:1.0, whose registry is merely down, is served STALE"

# The admin API (cache rm's live form) drops an image at once.
code=$(curl -sS -o "$T/rm.json" -w '%{http_code}' -X DELETE "$PROXY_URL/admin/cache/$ORIGIN/library/keep:1.0")
assert_eq "$code" 200 "DELETE /admin/cache/$ORIGIN/library/keep:1.0: 200 ($(cat "$T/rm.json"))"
if pull library/keep:1.0 keep-3; then fail "keep:1.0 was still served after DELETE /admin/cache"; fi
ok "after DELETE /admin/cache, keep:1.0 is no longer served"

assert_proxy_alive
finish
