#!/usr/bin/env bash
# A corrupt cache index: the proxy refuses to start, naming the index path and --rebuild-index.
# With REBUILD_INDEX=true (--rebuild-index) it starts with a new index, keeps the blob files that
# still hash to their names (a tampered one is dropped), and the next pull takes the layers from
# those files (no blob GET upstream) while manifests are fetched again.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd skopeo curl
require_proxy_bin

start_standard_registry
start_proxy "${STD_PROXY_ENV[@]}"
proxy_pull "$IMAGE" "$T/first" --src-creds "$RCREDS" >/dev/null
verify_dir_digests "$T/first" "$DIGEST"
stop_proxy

for f in "$T/proxy/cache/index"/MANIFEST-* "$T/proxy/cache/index/CURRENT"; do
  printf 'garbage garbage garbage' >"$f"
done
rc=0
env LISTEN="127.0.0.1:$(free_port 127.0.0.1)" CA_DIR="$T/proxy/ca" CACHE_DIR="$T/proxy/cache" \
  timeout 20 "$PULLTHROUGH_BIN" >"$T/start.out" 2>&1 || rc=$?
assert_ne "$rc" 0 "a corrupt index stops the start"
[ "$rc" != 124 ] || fail "the proxy kept running on a corrupt index"
assert_file_contains "$T/start.out" "$T/proxy/cache/index" "the message names the index path"
assert_file_contains "$T/start.out" "--rebuild-index" "... and says how to recover"

# One layer file tampered with meanwhile: it must not be adopted.
tampered=$(image_blobs "$SEED_DIR_APP" | sed -n 2p)
printf 'tampered' >"$(cache_blob_path "$tampered")"

start_proxy "${STD_PROXY_ENV[@]}" REBUILD_INDEX=true
for _ in $(seq 1 100); do
  grep -q 'verified and kept for the rebuilt index' "$PROXY_LOG" && break
  sleep 0.1
done
assert_log_contains 'verified and kept for the rebuilt index'
gets_before=$(for b in $(image_blobs "$SEED_DIR_APP"); do registry_requests reg GET "/v2/library/app/blobs/$b"; done | awk '{s+=$1} END{print s}')
proxy_pull "$IMAGE" "$T/second" --src-creds "$RCREDS" >/dev/null
verify_dir_digests "$T/second" "$DIGEST"
gets_after=$(for b in $(image_blobs "$SEED_DIR_APP"); do registry_requests reg GET "/v2/library/app/blobs/$b"; done | awk '{s+=$1} END{print s}')
assert_eq "$((gets_after - gets_before))" 1 "only the tampered blob was fetched again; the others came from the kept files"
assert_log_contains 're-adopted from the files kept by --rebuild-index'
assert_proxy_alive
finish
