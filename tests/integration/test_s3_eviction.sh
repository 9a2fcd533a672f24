#!/usr/bin/env bash
# BLOB_STORE's bucket kept under S3_MAX_SIZE and rid of what nobody uses (S3_INACTIVE), least
# recently used first (rgw.sh's Ceph RGW over TLS). app:1.0 then app:2.0 are uploaded, then
# app:1.0 is pulled again (local hits: its use is recorded), then app:3.0 takes the bucket over
# the cap: the proxy's eviction pass (within ~10 s of an upload) deletes objects of app:2.0, the
# least recently used though uploaded after app:1.0 (an LRU, not FIFO), and keeps app:1.0 and
# app:3.0. A replica with an empty disk still pulls the evicted image (the evicted objects from
# the registry, uploaded again), and so does the replica that evicted them (its local cache).
# Then `pullthrough cache bucket-gc --max-size`, the proxy running, takes the bucket down further
# by hand, ranking by the running proxy's recorded uses (a second pass finds nothing; without
# BLOB_STORE, or without --max-size / --inactive, it is a usage error). Last, S3_INACTIVE=5s: a
# replica pulling app:3.0 over and over sees every other object deleted, and app:3.0's kept.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rgw.sh"
require_cmd docker-registry skopeo openssl curl htpasswd ceph-mon radosgw s3cmd
require_proxy_bin

BUCKET=pt-evict
PREFIX=ci
make_test_pki "$T/pki"
RGW_TLS=1 start_rgw
rgw_make_bucket "$BUCKET"
start_standard_registry # library/app:1.0, 3 layers of 300000 bytes
RADDR=${REG_ADDR[reg]}
seed_image "$RADDR" library/app:2.0 3 200000
seed_image "$RADDR" library/app:3.0 3 200000

S3_ENV=("BLOB_STORE=s3://$BUCKET/$PREFIX" "S3_ENDPOINT=$RGW_ENDPOINT" "AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY"
  "AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY")
PT_ENV=("${STD_PROXY_ENV[@]}" "AUTH_REGISTRIES=registry.test:$RCREDS" "${S3_ENV[@]}")

image_keys() { image_blobs "${IMAGE_DIR[$1]}"; echo "${IMAGE_DIGEST[$1]}"; } # REF -> blobs and manifest
image_bytes() { echo $(($(files_bytes "${IMAGE_DIR[$1]}") - $(stat -c %s "${IMAGE_DIR[$1]}/version"))); }
bucket_listing() { s3c ls -r "s3://$BUCKET/$PREFIX/blobs/sha256/"; } # date time size s3://.../<hex>
bucket_bytes() { bucket_listing | awk '{s += $3} END {print s + 0}'; }
# (bucket_keys, wait_bucket_has: rgw.sh)
img() { echo "registry.test:$RPORT/library/$1"; }

B1=$(image_bytes library/app:1.0)
B2=$(image_bytes library/app:2.0)
B3=$(image_bytes library/app:3.0)
# Room for the two newest images and half of the oldest: the oldest uploads must go.
CAP=$((B2 + B3 + B1 / 2))
log "images: app:1.0 $B1 bytes, app:2.0 $B2, app:3.0 $B3; S3_MAX_SIZE=$CAP"

start_proxy "${PT_ENV[@]}" "S3_MAX_SIZE=$CAP"
pull_into_bucket() { # VERSION
  proxy_pull "$(img "app:$1")" "$T/out-$1" >/dev/null || fail "pull of app:$1 failed"
  mapfile -t keys < <(image_keys "library/app:$1")
  wait_bucket_has 30 "${keys[@]}"
  ok "app:$1 is in the bucket"
}
# Upload times and last uses have whole seconds: a second apart, each step is ordered.
pull_into_bucket 1.0
sleep 1.1
pull_into_bucket 2.0
sleep 1.1
# app:1.0 used again (hits on the local disk, recorded as uses of its bucket objects): now more
# recently used than app:2.0, though uploaded before it.
proxy_pull "$(img app:1.0)" "$T/out-1.0-used" >/dev/null || fail "the second pull of app:1.0 failed"
sleep 1.1
pull_into_bucket 3.0
t0=$SECONDS
# The proxy's pass runs within ~10 s of an upload (every 10 s when something was uploaded).
until proxy_log_current | grep -q 'deleted from the bucket, least recently used first'; do
  [ $((SECONDS - t0)) -lt 30 ] || fail "no eviction pass deleted anything within 30 s (bucket: $(bucket_bytes) bytes, cap $CAP)"
  sleep 0.5
done
ok "eviction pass: $(proxy_log_current | grep 'deleted from the bucket' | tail -1 | sed 's/.*BLOB_STORE: //') ($((SECONDS - t0)) s after the third upload)"
sleep 0.5
total=$(bucket_bytes)
[ "$total" -le "$CAP" ] || fail "after the eviction pass the bucket holds $total bytes > S3_MAX_SIZE $CAP"
ok "the bucket holds $total bytes <= S3_MAX_SIZE $CAP"
kept=$(bucket_keys)
gone=0
for d in $(image_keys library/app:2.0); do grep -qx "${d#sha256:}" <<<"$kept" || gone=$((gone + 1)); done
[ "$gone" -gt 0 ] || fail "no object of app:2.0 (the least recently used) was deleted"
ok "$gone object(s) of app:2.0, the least recently used, were deleted"
for d in $(image_keys library/app:1.0); do
  grep -qx "${d#sha256:}" <<<"$kept" || fail "$d of app:1.0 (uploaded first, used since) was deleted: FIFO, not LRU"
done
ok "every object of app:1.0, uploaded first but used since, is still in the bucket (LRU, not FIFO)"
for d in $(image_keys library/app:3.0); do
  grep -qx "${d#sha256:}" <<<"$kept" || fail "$d of app:3.0 (the newest) was deleted"
done
ok "every object of app:3.0, the newest, is still in the bucket"
assert_eq "$(metric pullthrough_s3_errors_total)" 0 "no bucket error counted"
# The evicted objects are still served by this replica: its local cache has them.
proxy_pull "$(img app:2.0)" "$T/out-2.0-again" >/dev/null || fail "the pull after the eviction failed"
verify_dir_digests "$T/out-2.0-again" "${IMAGE_DIGEST[library/app:2.0]}"
assert_eq "$(s3c multipart "s3://$BUCKET" | grep -cE "s3://$BUCKET/.+" || true)" 0 "no upload left in progress"
stop_proxy TERM

# A replica with an empty disk: the evicted objects come from the registry, the rest from the bucket.
start_proxy "${PT_ENV[@]}" "CACHE_DIR=$T/cache-2"
mark=$(proxy_log_mark)
proxy_pull "$(img app:2.0)" "$T/out-again" >/dev/null || fail "pull of the evicted image by an empty replica failed"
verify_dir_digests "$T/out-again" "${IMAGE_DIGEST[library/app:2.0]}"
for d in $(image_blobs "${IMAGE_DIR[library/app:2.0]}"); do
  wait_proxy_requests "$mark" 1 "/blobs/$d"
  if grep -qx "${d#sha256:}" <<<"$kept"; then
    assert_eq "$(proxy_requests_since "$mark" "/blobs/$d .*upstream=s3" | wc -l)" 1 "kept $d came from the bucket"
  else
    assert_eq "$(proxy_requests_since "$mark" "/blobs/$d .*upstream=s3" | wc -l)" 0 "evicted $d came from the registry"
  fi
done
# What it fetched upstream goes back into the bucket.
mapfile -t keys < <(image_keys library/app:2.0)
wait_bucket_has 30 "${keys[@]}"
ok "the evicted objects were uploaded again by the replica that fetched them"

# By hand, the proxy running: pullthrough cache bucket-gc, down to about one image's size, least
# recently used first by the uses the running replica recorded in its cache (read-only): app:2.0,
# which it just pulled, stays; app:1.0 and app:3.0, unused there, go by their upload times.
GC_CAP=$((B3 + 1000))
rc=0
out=$(env "${S3_ENV[@]}" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" "CACHE_DIR=$T/cache-2" "$PULLTHROUGH_BIN" cache bucket-gc --max-size "$GC_CAP" --json 2>&1) || rc=$?
assert_eq "$rc" 0 "pullthrough cache bucket-gc --max-size $GC_CAP exits 0 ($out)"
deleted=$($PY -c 'import json, sys; print(json.loads(sys.argv[1])["deleted"])' "$out")
[ "$deleted" -gt 0 ] || fail "bucket-gc deleted nothing: $out"
total=$(bucket_bytes)
[ "$total" -le "$GC_CAP" ] || fail "after bucket-gc the bucket holds $total bytes > $GC_CAP"
ok "bucket-gc deleted $deleted object(s): the bucket holds $total bytes <= $GC_CAP ($(tr -d "\n " <<<"$out"))"
assert_not_contains "$out" "$RGW_SECRET_KEY" "bucket-gc never prints the secret"
kept=$(bucket_keys)
for d in $(image_keys library/app:2.0); do
  grep -qx "${d#sha256:}" <<<"$kept" || fail "$d of app:2.0 (the replica's most recently used) was deleted by bucket-gc"
done
ok "every object of app:2.0, the running replica's most recently used, is still in the bucket"
out=$(env "${S3_ENV[@]}" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" "$PULLTHROUGH_BIN" cache bucket-gc --max-size "$GC_CAP" --json)
assert_match "$out" '"deleted": 0' "a second pass has nothing to delete"
# Without BLOB_STORE, bucket-gc says what is missing (usage error).
rc=0
"$PULLTHROUGH_BIN" cache bucket-gc --max-size 1g >/dev/null 2>"$T/nobucket.err" || rc=$?
assert_eq "$rc" 2 "bucket-gc without BLOB_STORE is a usage error"
assert_file_contains "$T/nobucket.err" "BLOB_STORE is not set"
rc=0
env "${S3_ENV[@]}" "$PULLTHROUGH_BIN" cache bucket-gc >/dev/null 2>"$T/norule.err" || rc=$?
assert_eq "$rc" 2 "bucket-gc without --max-size or --inactive is a usage error"
assert_file_contains "$T/norule.err" "--max-size and/or --inactive"
stop_proxy TERM

# S3_INACTIVE=5s (a pass every 2 s): a replica pulls app:3.0 over and over (each pull, about a
# second apart, a use of its objects); everything else in the bucket, unused for longer, goes, tag
# records included.
start_proxy "${PT_ENV[@]}" "CACHE_DIR=$T/cache-3" "S3_INACTIVE=5s"
mapfile -t used < <(image_keys library/app:3.0)
proxy_pull "$(img app:3.0)" "$T/out-3.0-used" >/dev/null || fail "pull of app:3.0 failed"
wait_bucket_has 30 "${used[@]}" # what bucket-gc deleted, uploaded again
t0=$SECONDS
while :; do
  proxy_pull "$(img app:3.0)" "$T/out-3.0-used" >/dev/null || fail "pull of app:3.0 failed"
  others=$(bucket_keys | grep -cvxF -f <(printf '%s\n' "${used[@]#sha256:}") || true)
  tags=$(s3c ls -r "s3://$BUCKET/$PREFIX/tags/" | grep -c "s3://" || true)
  [ "$others" != 0 ] || [ "$tags" -gt 1 ] || break
  [ $((SECONDS - t0)) -lt 30 ] || fail "after 30 s, $others object(s) and $tags tag record(s) unused for over S3_INACTIVE=5s are still in the bucket"
done
ok "every object unused for over S3_INACTIVE=5s was deleted ($((SECONDS - t0)) s), tag records too"
kept=$(bucket_keys)
for d in "${used[@]}"; do grep -qx "${d#sha256:}" <<<"$kept" || fail "$d of app:3.0, in use, was deleted"; done
assert_eq "$tags" 1 "app:3.0's tag record, in use, is kept"
ok "every object of app:3.0, in use, is still in the bucket"
assert_eq "$(metric pullthrough_s3_errors_total)" 0 "no bucket error counted"
assert_proxy_alive
finish
