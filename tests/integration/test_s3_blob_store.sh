#!/usr/bin/env bash
# BLOB_STORE on a real S3 server (rgw.sh's Ceph RGW): three replicas sharing one bucket, A and B
# through its plain http:// endpoint (the proxy's cleartext transport, as for MinIO inside a
# cluster's network), C through https://, both served by the same gateway.
#   A  fills from the registry, whose blob GETs redirect to a CDN (nginx, its access log counts
#      them): one CDN GET per blob, then every blob and the manifest uploaded to the bucket, the
#      ~20 MB layer as a multipart upload (8 MiB parts) that is complete and the right size.
#   B  an empty local cache pulls the same image: no CDN GET at all, every blob from the bucket
#      (access log upstream=s3), digests verified.
#   C  the registry and the CDN are stopped; an empty replica pulls the image by digest, and
#      another by tag (the tag record is in the bucket too), from the bucket alone.
# /metrics: pullthrough_s3_uploads_total, _uploaded_bytes_total and _downloads_total as expected.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rgw.sh"
require_cmd docker-registry skopeo nginx openssl curl htpasswd ceph-mon radosgw s3cmd
require_proxy_bin

BUCKET=pt-blobs
PREFIX=ci
make_test_pki "$T/pki"
RGW_TLS=both start_rgw
rgw_make_bucket "$BUCKET"

# The registry with its CDN (as test_redirect_cdn.sh).
REG_IP=127.0.0.21
CDN_IP=127.0.0.23
STORAGE=$T/storage
mkdir -p "$STORAGE"
CDN_PORT=$(free_port "$CDN_IP")
start_nginx_tls cdn "$CDN_IP" "$CDN_PORT" "$STORAGE"
CDN_DIR=$NGINX_DIR
CDN_PID=$(cat "$CDN_DIR/nginx.pid")
start_registry reg "$REG_IP" auto --htpasswd alice:s3cret --storage "$STORAGE" \
  --redirect "https://cdn.test:$CDN_PORT"
RPORT=${REG_PORT[reg]}
BIG=${S3_TEST_BIG_BYTES:-20000000} # (smaller only to debug the rest of the test)
seed_image_sizes "${REG_ADDR[reg]}" library/app:1.0 150000 250000 "$BIG"
DIGEST=$SEED_DIGEST
SEED=$SEED_DIR
BLOBS=$(image_blobs "$SEED")
# The layer that goes up as a multipart upload: the largest blob.
BIG_DIGEST=$(for d in $BLOBS; do echo "$(stat -c %s "$SEED/${d#sha256:}") $d"; done | sort -n | tail -1 | cut -d' ' -f2)
BIG_SIZE=$(stat -c %s "$SEED/${BIG_DIGEST#sha256:}")
IMAGE="registry.test:$RPORT/library/app:1.0"
BY_DIGEST="registry.test:$RPORT/library/app@$DIGEST"
mapfile -t ALL_KEYS < <(echo "$BLOBS"; echo "$DIGEST") # every blob and the manifest, by digest
N_KEYS=${#ALL_KEYS[@]}
ALL_BYTES=$(($(files_bytes "$SEED") - $(stat -c %s "$SEED/version")))

S3_ENV=("BLOB_STORE=s3://$BUCKET/$PREFIX" "S3_ENDPOINT=$RGW_ENDPOINT" "AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY"
  "AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY")
PT_ENV=(REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$REG_IP cdn.test=$CDN_IP"
  "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" "AUTH_REGISTRIES=registry.test:alice:s3cret" "${S3_ENV[@]}")
HTTP_ENV=("S3_ENDPOINT=$RGW_HTTP_ENDPOINT") # after PT_ENV: the later S3_ENDPOINT wins

cdn_blob_gets() { grep -c 'GET /docker/registry/v2/blobs/sha256/' "$CDN_DIR/access.log" || true; }
ms_since() { echo $(($(_rgw_usec "$EPOCHREALTIME") / 1000 - $(_rgw_usec "$1") / 1000)); }

# ------------------------------------------------------------------ A: fills the bucket
start_proxy "${PT_ENV[@]}" "${HTTP_ENV[@]}" "CACHE_DIR=$T/cache-a"
assert_log_line "BLOB_STORE: blobs and manifests by digest are shared through $RGW_HTTP_ENDPOINT bucket $BUCKET prefix $PREFIX"
assert_log_line "BLOB_STORE: S3_ENDPOINT $RGW_HTTP_ENDPOINT is plain http"
assert_eq "$(proxy_log_current | grep -v '^=== start' | grep -cF "$RGW_SECRET_KEY" || true)" 0 \
  "the proxy never logs the secret key"
t0=$EPOCHREALTIME
proxy_pull "$IMAGE" "$T/out-a" || fail "replica A: pull through the proxy failed"
verify_dir_digests "$T/out-a" "$DIGEST"
assert_eq "$(cdn_blob_gets)" 4 "replica A fetched each of the 4 blobs once from the CDN"
for d in $BLOBS; do assert_log_line "/blobs/$d" status=200 cache=MISS; done
t1=$EPOCHREALTIME
wait_bucket_has 60 "${ALL_KEYS[@]}"
ok "every blob and the manifest is in the bucket $(ms_since "$t1") ms after the pull ($N_KEYS objects)"
for _ in $(seq 1 50); do
  tag_objects=$(s3c ls -r "s3://$BUCKET/$PREFIX/tags/" | grep -c "s3://$BUCKET/$PREFIX/tags/." || true)
  [ "$tag_objects" = 0 ] || break
  sleep 0.2
done
assert_eq "$tag_objects" 1 "the tag's record is in the bucket (one object under $PREFIX/tags/)"
log "replica A: pull + upload of $N_KEYS objects ($ALL_BYTES bytes) in $(ms_since "$t0") ms"

# The ~20 MB layer went up in 8 MiB parts; the object is complete, the right size and the right bytes.
big_key="$PREFIX/blobs/sha256/${BIG_DIGEST#sha256:}"
head_out=$(s3curl -I "$RGW_ENDPOINT/$BUCKET/$big_key" | tr -d '\r')
n_parts=$(((BIG_SIZE + 8388607) / 8388608))
assert_match "$head_out" "^Content-Length: $BIG_SIZE\$" "the multipart object has the layer's size ($BIG_SIZE)"
if [ "$n_parts" -gt 1 ]; then
  assert_match "$head_out" "^ETag: \"[0-9a-f]{32}-$n_parts\"\$" "the object was a multipart upload of $n_parts parts"
fi
s3c get -q "s3://$BUCKET/$big_key" "$T/big.back"
assert_eq "$(sha256_of "$T/big.back")" "$BIG_DIGEST" "the multipart object's bytes hash to the layer's digest"
rm -f "$T/big.back"
assert_eq "$(s3c multipart "s3://$BUCKET" | grep -cE "s3://$BUCKET/.+" || true)" 0 "no multipart upload left in progress"
for d in $BLOBS; do
  [ "$d" = "$BIG_DIGEST" ] || small=$d
done
assert_match "$(s3curl -I "$RGW_ENDPOINT/$BUCKET/$PREFIX/blobs/sha256/${small#sha256:}" | tr -d '\r')" \
  '^ETag: "[0-9a-f]{32}"$' "a small blob went up in one PUT"
assert_eq "$(metric pullthrough_s3_uploads_total)" "$N_KEYS" "A: pullthrough_s3_uploads_total = $N_KEYS"
assert_eq "$(metric pullthrough_s3_uploaded_bytes_total)" "$ALL_BYTES" "A: pullthrough_s3_uploaded_bytes_total = $ALL_BYTES"
assert_eq "$(metric pullthrough_s3_downloads_total)" 0 "A: pullthrough_s3_downloads_total = 0"
assert_eq "$(metric pullthrough_s3_errors_total)" 0 "A: pullthrough_s3_errors_total = 0"
stop_proxy TERM

# ------------------------------------------------------------------ B: an empty replica
manifest_mtime() { s3curl -I "$RGW_ENDPOINT/$BUCKET/$PREFIX/blobs/sha256/${DIGEST#sha256:}" | tr -d '\r' | grep -i '^Last-Modified:'; }
mtime_a=$(manifest_mtime)
sleep 1 # (Last-Modified has whole seconds: a PUT by B would show)
cdn_before=$(cdn_blob_gets)
start_proxy "${PT_ENV[@]}" "${HTTP_ENV[@]}" "CACHE_DIR=$T/cache-b"
t0=$EPOCHREALTIME
proxy_pull "$IMAGE" "$T/out-b" || fail "replica B: pull failed"
log "replica B: pull from the bucket in $(ms_since "$t0") ms"
verify_dir_digests "$T/out-b" "$DIGEST"
assert_eq "$(($(cdn_blob_gets) - cdn_before))" 0 "replica B: no blob GET reached the CDN"
for d in $BLOBS; do assert_log_line "/blobs/$d" status=200 cache=MISS upstream=s3; done
assert_eq "$(metric pullthrough_s3_downloads_total)" 4 "B: pullthrough_s3_downloads_total = 4 (the blobs)"
# What came from the bucket is not sent back, nor is the manifest B fetched by tag from the
# registry: it is in the bucket already (a HEAD says so).
sleep 1
assert_eq "$(manifest_mtime)" "$mtime_a" "B did not upload the manifest again (its Last-Modified is A's)"
assert_eq "$(metric pullthrough_s3_uploads_total)" 0 "B: pullthrough_s3_uploads_total = 0 (objects found in the bucket are not uploads)"
assert_eq "$(metric pullthrough_s3_uploaded_bytes_total)" 0 "B: pullthrough_s3_uploaded_bytes_total = 0"
assert_eq "$(metric pullthrough_s3_errors_total)" 0 "B: pullthrough_s3_errors_total = 0"
# B's local copies are verified and served as hits now.
proxy_pull "$IMAGE" "$T/out-b2" || fail "replica B: second pull failed"
assert_log_line "/blobs/$BIG_DIGEST" status=200 cache=HIT
stop_proxy TERM

# ------------------------------------------------------------------ C: the bucket alone
kill "${REG_PID[reg]}"
kill "$CDN_PID"
sleep 0.5
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 --cacert "$TEST_CA_CRT" "https://$REG_IP:$RPORT/v2/" || true)
assert_eq "$code" 000 "the registry is down"
cdn_before=$(cdn_blob_gets)
start_proxy "${PT_ENV[@]}" "CACHE_DIR=$T/cache-c"
t0=$EPOCHREALTIME
proxy_pull "$BY_DIGEST" "$T/out-c" || fail "replica C: pull by digest with the registry and CDN down failed"
log "replica C: pull by digest from the bucket alone in $(ms_since "$t0") ms"
verify_dir_digests "$T/out-c" "$DIGEST"
assert_log_line "/manifests/$DIGEST" status=200 upstream=s3
for d in $BLOBS; do assert_log_line "/blobs/$d" status=200 cache=MISS upstream=s3; done
assert_eq "$(metric pullthrough_s3_downloads_total)" 5 "C: pullthrough_s3_downloads_total = 5 (manifest and blobs)"
# The tag too: its record is in the bucket (tags/<SHA-256 of the record's key>), imported with
# its manifest by a replica that has none.
stop_proxy TERM
start_proxy "${PT_ENV[@]}" "CACHE_DIR=$T/cache-c-tag"
t0=$EPOCHREALTIME
proxy_pull "$IMAGE" "$T/out-c-tag" || fail "replica C: pull by tag with the registry and CDN down failed"
log "replica C: pull by tag from the bucket alone in $(ms_since "$t0") ms"
verify_dir_digests "$T/out-c-tag" "$DIGEST"
assert_log_line "/manifests/1.0" status=200
assert_proxy_alive
finish
