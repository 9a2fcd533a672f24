#!/usr/bin/env bash
# BLOB_STORE's bucket kept under S3_MAX_SIZE (rgw.sh's Ceph RGW over TLS):
#   - a proxy with S3_MAX_SIZE fills the bucket past it: its eviction pass (soon after uploads)
#     deletes the oldest uploads until the content is under the size, and says so in its log;
#   - what was evicted from the bucket is still served (from the local cache, or upstream);
#   - `pullthrough cache bucket-gc --max-size` does one pass by hand, while the proxy runs.
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
start_standard_registry # library/app:1.0, 3 layers of 300000 bytes, and its config

S3_ENV=("BLOB_STORE=s3://$BUCKET/$PREFIX" "S3_ENDPOINT=$RGW_ENDPOINT" "AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY"
  "AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY")
MAX=700000 # the image is about 900 kB: the oldest uploads must go
start_proxy "${STD_PROXY_ENV[@]}" "${S3_ENV[@]}" "S3_MAX_SIZE=$MAX"

proxy_pull "$IMAGE" "$T/out1" --src-creds alice:s3cret >/dev/null || fail "the first pull failed"
verify_dir_digests "$T/out1" "$DIGEST"

bucket_bytes() { s3c du "s3://$BUCKET/$PREFIX/blobs/" | awk '{print $1; exit}'; }
# Uploads first (each blob and the manifest), then the pass that runs at most 10 s after them.
deadline=$((SECONDS + 40))
until grep -q "deleted from the bucket to keep it under S3_MAX_SIZE" "$PROXY_LOG"; do
  [ "$SECONDS" -lt "$deadline" ] || fail "no eviction pass within 40 s (bucket: $(bucket_bytes) bytes)"
  sleep 0.5
done
assert_log_contains "BLOB_STORE: [0-9]+ object\(s\), [0-9]+ bytes deleted from the bucket to keep it under S3_MAX_SIZE"
now=$(bucket_bytes)
[ "$now" -le "$MAX" ] || fail "the bucket holds $now bytes after the pass, over S3_MAX_SIZE=$MAX"
[ "$now" -gt 0 ] || fail "the pass emptied the bucket (it should stop under the size)"
ok "the bucket holds $now bytes, under S3_MAX_SIZE=$MAX"
assert_eq "$(metric pullthrough_s3_errors_total)" 0 "no bucket error counted"

# The evicted blobs are still served: the local cache has them.
proxy_pull "$IMAGE" "$T/out2" --src-creds alice:s3cret >/dev/null || fail "the pull after the eviction failed"
verify_dir_digests "$T/out2" "$DIGEST"

# One pass by hand, the proxy running: down to a single layer's size.
out=$(env "${S3_ENV[@]}" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" "$PULLTHROUGH_BIN" cache bucket-gc --max-size 310000) ||
  fail "cache bucket-gc failed: $out"
assert_match "$out" "^bucket-gc: [0-9]+ object\(s\), .* deleted [1-9][0-9]* " "bucket-gc deleted objects"
now=$(bucket_bytes)
[ "$now" -le 310000 ] || fail "the bucket holds $now bytes after bucket-gc --max-size 310000"
ok "bucket-gc left $now bytes"
out=$(env "${S3_ENV[@]}" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" "$PULLTHROUGH_BIN" cache bucket-gc --max-size 310000 --json)
assert_match "$out" '"deleted": 0' "a second pass has nothing to delete"
# Without BLOB_STORE, bucket-gc says what is missing (usage error).
rc=0
"$PULLTHROUGH_BIN" cache bucket-gc --max-size 1g >/dev/null 2>"$T/nobucket.err" || rc=$?
assert_eq "$rc" 2 "bucket-gc without BLOB_STORE is a usage error"
assert_file_contains "$T/nobucket.err" "BLOB_STORE is not set"
assert_proxy_alive
finish
