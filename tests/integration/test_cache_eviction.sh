#!/usr/bin/env bash
# CACHE_MAX_SIZE caps what the cache keeps on disk. Two images of ~1.8 MB each
# through a 3 MiB cache: both pulls succeed, the blob files never add up to more
# than the cap, the least recently used blobs (the first image's) are the ones
# evicted, and a blob larger than the whole cap is served but not kept.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

CAP=3145728 # 3m
RCREDS=alice:s3cret
make_test_pki "$T/pki"
start_registry reg "$REGISTRY_IP" auto --htpasswd "$RCREDS"
RPORT=${REG_PORT[reg]}
seed_image "${REG_ADDR[reg]}" evict/a:1 3 600000
DIGEST_A=$SEED_DIGEST
mapfile -t BLOBS_A < <(image_blobs "$SEED_DIR")
seed_image "${REG_ADDR[reg]}" evict/b:1 3 600000
DIGEST_B=$SEED_DIGEST
mapfile -t BLOBS_B < <(image_blobs "$SEED_DIR")
seed_image "${REG_ADDR[reg]}" evict/huge:1 1 3500000
DIGEST_HUGE=$SEED_DIGEST
HUGE_LAYER=$(image_blobs "$SEED_DIR" | tail -1)
total=0
for d in "${BLOBS_A[@]}" "${BLOBS_B[@]}"; do
  total=$((total + $(stat -c %s "${IMAGE_DIR[evict/a:1]}/${d#sha256:}" 2>/dev/null ||
    stat -c %s "${IMAGE_DIR[evict/b:1]}/${d#sha256:}")))
done
[ "$total" -gt "$CAP" ] || fail "test setup: the two images ($total bytes) must exceed the cap ($CAP)"
ok "images a and b together: $total bytes, more than the $CAP-byte cap"

CACHE="$T/proxy/cache"
start_proxy REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP" \
  "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" CACHE_MAX_SIZE=3m

check_cap() { # LABEL
  local bytes
  bytes=$(files_bytes "$CACHE/blobs")
  [ "$bytes" -le "$CAP" ] || fail "$1: the cached blob files take $bytes bytes, over the $CAP-byte cap:
$(find "$CACHE/blobs" -type f -printf '%s %p\n')"
  ok "$1: blob files take $bytes bytes (du -sb: $(du -sb "$CACHE/blobs" | cut -f1)), within the cap"
  assert_eq "$(files_count "$CACHE/tmp")" 0 "$1: no temp file left in CACHE_DIR/tmp"
}

pull() { # REPO DIGEST OUT NBLOBS
  local mark
  mark=$(proxy_log_mark)
  proxy_pull "registry.test:$RPORT/$1:1" "$3" --src-creds "$RCREDS" >"$3.log" 2>&1 ||
    { cat "$3.log"; fail "pull of $1 failed"; }
  ok "pulled $1"
  verify_dir_digests "$3" "$2"
  wait_proxy_requests "$mark" "$4" "path=/v2/$1/blobs/"
  PULL_MARK=$mark
}

cached() { [ -f "$(cache_blob_path "$1")" ]; }

pull evict/a "$DIGEST_A" "$T/a1" 4
check_cap "after pulling a"
for d in "${BLOBS_A[@]}"; do cached "$d" || fail "blob ${d:7:12} of a not cached after the first pull"; done
ok "all of a's blobs are cached"

pull evict/b "$DIGEST_B" "$T/b1" 4
check_cap "after pulling a then b"
for d in "${BLOBS_B[@]}"; do cached "$d" || fail "blob ${d:7:12} of b (most recent) was evicted"; done
ok "all of b's blobs (the most recently used) are cached"
evicted=0
for d in "${BLOBS_A[@]}"; do cached "$d" || evicted=$((evicted + 1)); done
assert_ne "$evicted" 0 "some of a's blobs (least recently used) were evicted"

# b again: all from the cache
pull evict/b "$DIGEST_B" "$T/b2" 4
bad=$(proxy_requests_since "$PULL_MARK" "path=/v2/evict/b/blobs/" | grep -vE 'cache=HIT$' || true)
[ -z "$bad" ] || fail "re-pull of b: blob requests not HIT: $bad"
ok "re-pull of b: every blob HIT"
check_cap "after re-pulling b"

# a again: what was evicted is fetched again, and the cap still holds
pull evict/a "$DIGEST_A" "$T/a2" 4
assert_ne "$(proxy_requests_since "$PULL_MARK" "path=/v2/evict/a/blobs/.*cache=MISS$")" "" \
  "re-pull of a: evicted blobs are fetched again (MISS)"
check_cap "after re-pulling a"

# A blob larger than the whole cache: served, verified, never kept.
pull evict/huge "$DIGEST_HUGE" "$T/huge" 2
if cached "$HUGE_LAYER"; then fail "a ${HUGE_LAYER:7:12} blob larger than the cap was kept"; fi
ok "a blob larger than the cap is served but not kept"
check_cap "after pulling a blob larger than the cap"

assert_proxy_alive
finish
