#!/usr/bin/env bash
# Ten clients pull the same uncached image at once (one 24 MB layer, two small
# ones): they share one upstream download per blob. Every pull succeeds and
# verifies; the registry serves each blob (and the tag manifest) exactly once;
# for each blob the proxy logs one MISS (the filler) and HITs for the rest.
# Then ten requests at once for the tag past its freshness window: one revalidation HEAD.
# Then bursts of ten curl clients on each of 20 small blobs: still one upstream
# GET per blob.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

N=10
RCREDS=alice:s3cret
make_test_pki "$T/pki"
start_registry reg "$REGISTRY_IP" auto --htpasswd "$RCREDS"
RPORT=${REG_PORT[reg]}
REPO=shared/big
seed_image_sizes "${REG_ADDR[reg]}" "$REPO:1" 25165824 40000 70000
DIGEST=$SEED_DIGEST
IMAGE="registry.test:$RPORT/$REPO:1"
mapfile -t BLOBS < <(image_blobs "$SEED_DIR")
assert_eq "${#BLOBS[@]}" 4 "the image has a config and 3 layers"
start_proxy REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT"

mark=$(proxy_log_mark)
pids=()
for i in $(seq 1 $N); do
  proxy_pull "$IMAGE" "$T/out$i" --src-creds "$RCREDS" >"$T/pull$i.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in $(seq 1 $N); do
  if ! wait "${pids[$((i - 1))]}"; then
    failed=$((failed + 1))
    echo "--- pull $i failed:"
    cat "$T/pull$i.log"
  fi
done
assert_eq "$failed" 0 "$N concurrent pulls of an uncached image all succeeded"
for i in $(seq 1 $N); do verify_dir_digests "$T/out$i" "$DIGEST"; done

for d in "${BLOBS[@]}"; do
  wait_proxy_requests "$mark" "$N" "path=/v2/$REPO/blobs/$d "
  lines=$(proxy_requests_since "$mark" "path=/v2/$REPO/blobs/$d ")
  bad=$(grep -vE 'status=200 ' <<<"$lines" || true)
  [ -z "$bad" ] || fail "blob ${d:7:12}: requests not answered 200: $bad"
  assert_eq "$(grep -cE 'cache=MISS$' <<<"$lines" || true)" 1 "blob ${d:7:12}: exactly one client logged MISS"
  assert_eq "$(grep -cE 'cache=HIT$' <<<"$lines" || true)" $((N - 1)) "blob ${d:7:12}: the other $((N - 1)) logged HIT"
  assert_eq "$(registry_requests reg GET "/v2/$REPO/blobs/$d")" 1 "blob ${d:7:12}: fetched from the registry exactly once"
done
assert_eq "$(registry_requests reg GET "/v2/$REPO/manifests/1")" 1 "the tag manifest: fetched from the registry exactly once"

# A tag past its freshness window under a burst of clients: one revalidation HEAD upstream;
# the requests that came meanwhile wait for its answer (REVALIDATED), later ones find the tag
# fresh again (HIT). A 3 s window, so that a burst spread out by a loaded machine stays in it.
stop_proxy TERM
seed_image "${REG_ADDR[reg]}" shared/small:1 1 1000 --creds "$RCREDS"
start_proxy REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" \
  "AUTH_REGISTRIES=registry.test:$RPORT:$RCREDS" ENABLE_MANIFEST_CACHE=true MANIFEST_CACHE_PRIMARY_REGEX= \
  MANIFEST_CACHE_SECONDARY_REGEX= MANIFEST_CACHE_DEFAULT_TIME=3s
SMALL_TAG="https://registry.test:$RPORT/v2/shared/small/manifests/1"
ACCEPT='Accept: application/vnd.docker.distribution.manifest.v2+json'
pcurl -o /dev/null -H "$ACCEPT" "$SMALL_TAG" || fail "first GET of shared/small:1 failed"
sleep 3.2
heads_before=$(registry_requests reg HEAD /v2/shared/small/manifests/1)
mark=$(proxy_log_mark)
pids=()
for j in $(seq 1 $N); do
  pcurl -o /dev/null -H "$ACCEPT" "$SMALL_TAG" &
  pids+=($!)
done
wait_pids "${pids[@]}" || fail "burst on the stale tag: some of the $N clients failed"
wait_proxy_requests "$mark" "$N" "path=/v2/shared/small/manifests/1 "
assert_eq "$(($(registry_requests reg HEAD /v2/shared/small/manifests/1) - heads_before))" 1 \
  "$N clients on the stale tag at once: one revalidation HEAD upstream"
lines=$(proxy_requests_since "$mark" "path=/v2/shared/small/manifests/1 ")
assert_eq "$(grep -cE 'status=200 .*cache=(REVALIDATED|HIT)' <<<"$lines")" "$N" \
  "all $N served from the record ($(grep -c 'cache=REVALIDATED' <<<"$lines") REVALIDATED, the rest HIT)"

# A burst of clients on each of many small blobs: fills finish within milliseconds, so
# clients keep arriving while one completes. A client must never start a second upstream
# download because it looked the blob up just before the first fill was committed and asked
# for a fill just after it ended.
BURST_IP=127.0.0.27
blob_args=()
for i in $(seq 1 20); do
  head -c 50000 /dev/urandom >"$T/small$i.bin"
  blob_args+=(--blob "$T/small$i.bin")
done
start_fake_blob_registry burst.test "$BURST_IP" "${blob_args[@]}"
stop_proxy TERM
start_proxy REGISTRIES=burst.test "UPSTREAM_RESOLVE=burst.test=$BURST_IP" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT"
dups=""
dup_digests=()
for i in $(seq 1 20); do
  d=$(sha256_of "$T/small$i.bin")
  pids=()
  for j in $(seq 1 $N); do
    pcurl -o "$T/small$i.$j.out" "https://burst.test:$FAKE_PORT/v2/x/blobs/$d" &
    pids+=($!)
  done
  wait_pids "${pids[@]}" || fail "burst on small blob $i: some of the $N clients failed"
  for j in $(seq 1 $N); do
    [ "$(sha256_of "$T/small$i.$j.out")" = "$d" ] || fail "burst on small blob $i: client $j got wrong bytes"
  done
  gets=$(grep -c "^GET /v2/x/blobs/$d " "$FAKE_LOG" || true)
  if [ "$gets" != 1 ]; then
    dups+=" blob $i (${d:7:12}): $gets GETs;"
    dup_digests+=("$d")
  fi
done
ok "bursts of $N clients on 20 small blobs: every client got the right bytes"
if [ -n "$dups" ]; then
  for d in "${dup_digests[@]}"; do
    echo "--- proxy log lines for $d:"
    grep -F "$d" "$PROXY_LOG" | cut -c1-400
  done
  fail "bursts of $N clients: blobs fetched upstream more than once:$dups"
fi
ok "bursts of $N clients on 20 small blobs: each blob fetched upstream exactly once"

assert_proxy_alive
finish
