#!/usr/bin/env bash
# A cache directory written by the release before tag records opens and serves: its tag entries
# (one per tag and Accept header) become tag records, blobs and manifests stay. The directory is
# fixtures/previous-cache.tar.gz, made by that release (fixtures/make_previous_cache.sh says how).
#   1. the registry is down: the converted tag and the kept blobs serve a whole pull (STALE/HIT),
#      and `cache ls` names the tag;
#   2. the same registry is back: the tag is revalidated with one HEAD, nothing is fetched again.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

FIXTURE="$IT_DIR/fixtures/previous-cache.tar.gz"
mkdir -p "$T/proxy"
tar -C "$T/proxy" -xzf "$FIXTURE"
FPORT=$(sed -n 's/^port=//p' "$T/proxy/cache/FIXTURE")
FDIGEST=$(sed -n 's/^digest=//p' "$T/proxy/cache/FIXTURE")
IMAGE="registry.test:$FPORT/library/app:1.0"
TAG_PATH=/v2/library/app/manifests/1.0
RCREDS=alice:s3cret
# An address no other test uses (and the test PKI covers), so the fixture's port is free on it.
MIGRATION_IP=127.0.0.37
make_test_pki "$T/pki"

# --- 1: offline
start_proxy REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$MIGRATION_IP" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT"
assert_log_contains 'converted 2 tag entries of an older release into tag records \(0 dropped\)'
ls_out=$("$PULLTHROUGH_BIN" cache ls --cache-dir "$T/proxy/cache")
assert_match "$ls_out" "registry.test:$FPORT/library/app +1\.0 +${FDIGEST:0:19}" "cache ls names the converted tag and its digest"

mark=$(proxy_log_mark)
proxy_pull "$IMAGE" "$T/offline" --src-creds "$RCREDS" >"$T/offline.log" 2>&1 ||
  { cat "$T/offline.log"; fail "offline pull from the converted cache failed"; }
verify_dir_digests "$T/offline" "$FDIGEST"
wait_proxy_requests "$mark" 1 "path=$TAG_PATH "
assert_match "$(proxy_requests_since "$mark" "path=$TAG_PATH ")" 'status=200 .*cache=STALE' \
  "registry down: the converted tag is served STALE"
blob_lines=$(proxy_requests_since "$mark" 'path=/v2/library/app/blobs/')
assert_eq "$(grep -c 'cache=HIT' <<<"$blob_lines")" 3 "registry down: config and 2 layers served from the kept blobs"

# A client with a narrower Accept (the fixture's second entry) is served too.
pcurl -u "$RCREDS" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' -D "$T/narrow.h" \
  -o "$T/narrow.body" "https://registry.test:$FPORT$TAG_PATH" || fail "offline GET with a narrow Accept failed"
assert_eq "$(response_status "$T/narrow.h")" 200 "narrow Accept, registry down: 200"
assert_eq "$(sha256_of "$T/narrow.body")" "$FDIGEST" "narrow Accept, registry down: the manifest"

# --- 2: the registry is back, with the very image the fixture holds (seeded deterministically)
start_registry reg "$MIGRATION_IP" "$FPORT" --htpasswd "$RCREDS"
seed_image "${REG_ADDR[reg]}" library/app:1.0 --layers 2 --size 4096 --seed previous-cache
assert_eq "$SEED_DIGEST" "$FDIGEST" "the registry holds the fixture's image"
before_gets=$(registry_requests reg GET "$TAG_PATH")
mark=$(proxy_log_mark)
proxy_pull "$IMAGE" "$T/online" --src-creds "$RCREDS" >"$T/online.log" 2>&1 ||
  { cat "$T/online.log"; fail "pull with the registry back failed"; }
verify_dir_digests "$T/online" "$FDIGEST"
wait_proxy_requests "$mark" 1 "path=$TAG_PATH "
assert_match "$(proxy_requests_since "$mark" "path=$TAG_PATH ")" 'status=200 .*cache=REVALIDATED' \
  "registry back: the converted tag is revalidated"
assert_eq "$(registry_requests reg GET "$TAG_PATH")" "$before_gets" "no manifest GET upstream"
assert_eq "$(grep -c '"GET /v2/library/app/blobs/' "${REG_DIR[reg]}/registry.log" || true)" 0 "no blob fetched again"

assert_proxy_alive
finish
