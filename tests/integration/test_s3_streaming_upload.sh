#!/usr/bin/env bash
# BLOB_STORE's streaming upload (rgw.sh's Ceph RGW over TLS): a large layer's fill goes to the
# bucket while the client is still receiving it, as a multipart upload that is completed only once
# the fill verified the bytes; a fill cut mid-body leaves nothing behind. The registry redirects
# blob GETs to a CDN (nginx) that sends at most 5 MiB/s, so an 18 MB fill lasts ~3.5 s.
#   (a) while the client is still receiving layer 1, the bucket has a multipart upload in progress
#       for the digest's key with at least one part uploaded, and nothing under the key (HEAD 404);
#       once the fill is done the object is there, whole (sha256 = the digest), no upload is left
#       in progress, and it counts once in pullthrough_s3_uploads_total (the post-commit queue did
#       not send it again)
#   (b) a 9 MB layer whose bytes the CDN replaced (same length, another digest): its upload is in
#       progress during the fill, which then fails its digest check, so the upload is aborted: no
#       object under the key, no upload in progress
#   (c) radosgw down when a fill of layer 3 starts, back while it runs: the streaming upload fails
#       (counted), and the upload after the fill's commit, from the local file, puts it in the
#       bucket all the same
#   (d) the CDN killed while layer 2 is half sent, a part of it already in the bucket: the client's
#       transfer is cut, and the upload is aborted: no object under the key, no upload in progress,
#       and no bucket error counted (the fill failed, not the bucket)
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rgw.sh"
require_cmd docker-registry skopeo nginx openssl curl htpasswd ceph-mon radosgw s3cmd
require_proxy_bin

BUCKET=pt-stream
PREFIX=ci
make_test_pki "$T/pki"
RGW_TLS=1 start_rgw
rgw_make_bucket "$BUCKET"

REG_IP=127.0.0.21
CDN_IP=127.0.0.23
STORAGE=$T/storage
mkdir -p "$STORAGE"
CDN_PORT=$(free_port "$CDN_IP")
NGINX_HTTP_EXTRA="limit_rate 5m;" start_nginx_tls cdn "$CDN_IP" "$CDN_PORT" "$STORAGE"
CDN_PID=$(cat "$NGINX_DIR/nginx.pid")
start_registry reg "$REG_IP" auto --htpasswd alice:s3cret --storage "$STORAGE" \
  --redirect "https://cdn.test:$CDN_PORT"
RPORT=${REG_PORT[reg]}
BIG=18000000 # layers of a little more (tar headers): three 8 MiB parts, the last one small
MID=9000000 # two parts
seed_image_sizes "${REG_ADDR[reg]}" library/app:1.0 "$BIG" "$((BIG + 1))" "$((BIG + 2))" "$MID"
size_of() { stat -c %s "$SEED_DIR/${1#sha256:}"; }
mapfile -t LAYERS < <(for d in $(image_blobs "$SEED_DIR"); do [ "$(size_of "$d")" -lt "$BIG" ] || echo "$d"; done)
[ "${#LAYERS[@]}" = 3 ] || fail "expected three large layers, got: ${LAYERS[*]}"
L3=$(for d in $(image_blobs "$SEED_DIR"); do s=$(size_of "$d"); [ "$s" -lt "$MID" ] || [ "$s" -ge "$BIG" ] || echo "$d"; done)
[ -n "$L3" ] || fail "no layer of about $MID bytes"

PT_ENV=(REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$REG_IP cdn.test=$CDN_IP"
  "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" "AUTH_REGISTRIES=registry.test:alice:s3cret"
  "BLOB_STORE=s3://$BUCKET/$PREFIX" "S3_ENDPOINT=$RGW_ENDPOINT" "AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY"
  "AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY" "CACHE_DIR=$T/cache")
start_proxy "${PT_ENV[@]}"

ms_since() { echo $(($(_rgw_usec "$EPOCHREALTIME") / 1000 - $(_rgw_usec "$1") / 1000)); }
key_of() { echo "$PREFIX/blobs/sha256/${1#sha256:}"; }
upload_id_of() { # KEY -> the id of the multipart upload in progress for KEY (empty: none)
  s3c multipart "s3://$BUCKET" | awk -F'\t' -v p="s3://$BUCKET/$1" '$2 == p { print $3; exit }' || true
}
parts_of() { # KEY ID -> how many parts of the upload are in the bucket
  s3c listmp "s3://$BUCKET/$1" "$2" | awk -F'\t' '$2 ~ /^[0-9]+$/' | wc -l || true
}
head_code() { s3curl -o /dev/null -w '%{http_code}' -I "$RGW_ENDPOINT/$BUCKET/$1"; }
# fetch_in_background DIGEST OUT — GET of the blob through the proxy; sets FETCH_PID.
fetch_in_background() {
  pcurl -o "$2" "https://registry.test:$RPORT/v2/library/app/blobs/$1" 2>"$2.err" &
  FETCH_PID=$!
}
# wait_for_parts KEY [N] — polls (up to 15 s) until an upload of KEY is in progress with N parts
# (default 1) in the bucket, while the client is still receiving; sets UPLOAD_ID PARTS RECEIVED
# (bytes the client had by then).
wait_for_parts() {
  local key=$1 want=${2:-1} deadline=$((SECONDS + 15))
  UPLOAD_ID="" PARTS=0
  while :; do
    kill -0 "$FETCH_PID" 2>/dev/null || fail "the client's transfer ended before a part of $key was seen in the bucket"
    [ "$SECONDS" -lt "$deadline" ] || fail "no part of $key in the bucket after 15 s"
    UPLOAD_ID=$(upload_id_of "$key")
    if [ -n "$UPLOAD_ID" ]; then
      PARTS=$(parts_of "$key" "$UPLOAD_ID")
      [ "$PARTS" -lt "$want" ] || break
    fi
    sleep 0.1
  done
  RECEIVED=$(stat -c %s "$T/$(basename "$key").out" 2>/dev/null || echo 0)
}
# wait_upload_gone KEY MESSAGE — polls (up to 10 s) until no upload of KEY is in progress; fails
# with MESSAGE after that.
wait_upload_gone() {
  local deadline=$((SECONDS + 10))
  while [ -n "$(upload_id_of "$1")" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$2"
    sleep 0.1
  done
}

# ------------------------------------------------------------------ (a) streamed while served
L1=${LAYERS[0]}
K1=$(key_of "$L1")
L1_SIZE=$(stat -c %s "$SEED_DIR/${L1#sha256:}")
t0=$EPOCHREALTIME
fetch_in_background "$L1" "$T/${L1#sha256:}.out"
wait_for_parts "$K1"
code=$(head_code "$K1")
kill -0 "$FETCH_PID" 2>/dev/null || fail "(a) the client's transfer ended while the bucket was looked at"
ok "(a) $(ms_since "$t0") ms in, with the client at $RECEIVED of $L1_SIZE bytes: upload $UPLOAD_ID of $K1 in progress, $PARTS part(s) uploaded"
[ "$RECEIVED" -lt "$L1_SIZE" ] || fail "(a) the client had every byte already ($RECEIVED)"
assert_eq "$code" 404 "(a) meanwhile nothing is readable under the digest's key (HEAD 404)"
wait "$FETCH_PID" || fail "(a) the client's GET failed: $(cat "$T/${L1#sha256:}.out.err")"
assert_eq "$(sha256_of "$T/${L1#sha256:}.out")" "$L1" "(a) the client got the layer whole ($(ms_since "$t0") ms)"
t1=$EPOCHREALTIME
wait_bucket_has 20 "$L1"
ok "(a) the object is in the bucket $(ms_since "$t1") ms after the client's transfer ended"
assert_match "$(s3curl -I "$RGW_ENDPOINT/$BUCKET/$K1" | tr -d '\r')" '^ETag: "[0-9a-f]{32}-3"$' \
  "(a) the object is a multipart upload of 3 parts"
s3c get -q "s3://$BUCKET/$K1" "$T/l1.back"
assert_eq "$(sha256_of "$T/l1.back")" "$L1" "(a) the object's bytes hash to the layer's digest"
assert_eq "$(upload_id_of "$K1")" "" "(a) no multipart upload of it left in progress"
sleep 0.5 # (the post-commit enqueue of the same digest: it must not send it again)
assert_eq "$(metric pullthrough_s3_uploads_total)/$(metric pullthrough_s3_uploaded_bytes_total)" "1/$L1_SIZE" \
  "(a) pullthrough_s3_uploads_total/uploaded_bytes_total count it once"
assert_eq "$(metric pullthrough_s3_errors_total)" 0 "(a) pullthrough_s3_errors_total = 0"

# ------------------------------------------------------------------ (b) wrong bytes from the CDN
K3=$(key_of "$L3")
L3_FILE=$(find "$STORAGE" -path "*/blobs/sha256/*/${L3#sha256:}/data")
[ -f "$L3_FILE" ] || fail "(b) the registry's file of $L3 not found under $STORAGE"
head -c "$(size_of "$L3")" /dev/urandom >"$L3_FILE"
t0=$EPOCHREALTIME
fetch_in_background "$L3" "$T/${L3#sha256:}.out"
wait_for_parts "$K3" 0
ok "(b) wrong bytes of $L3 on their way, upload $UPLOAD_ID in progress at $RECEIVED bytes"
rc=0
wait "$FETCH_PID" || rc=$?
assert_ne "$(sha256_of "$T/${L3#sha256:}.out")" "$L3" "(b) the client did not get bytes passing for the layer (curl status $rc)"
wait_upload_gone "$K3" "(b) the upload of $K3 is still in progress 10 s after the fill"
ok "(b) the upload was aborted $(ms_since "$t0") ms after the GET began"
assert_eq "$(head_code "$K3")" 404 "(b) nothing under the digest's key (HEAD 404)"
assert_log_contains "not cached: content does not match its digest"

# ------------------------------------------------------------------ (c) the bucket down, then back
L4=${LAYERS[2]}
K4=$(key_of "$L4")
ERR0=$(metric pullthrough_s3_errors_total)
stop_rgw_gateway
t0=$EPOCHREALTIME
fetch_in_background "$L4" "$T/${L4#sha256:}.out"
# Two failures: the bucket asked for the blob (the local miss), then the stream's first request.
# (The log says only the first: one warning a minute.)
deadline=$((SECONDS + 10))
until [ "$(metric pullthrough_s3_errors_total)" -ge $((ERR0 + 2)) ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "(c) the streaming upload of $L4 did not fail (pullthrough_s3_errors_total: $(metric pullthrough_s3_errors_total))"
  sleep 0.1
done
ok "(c) the streaming upload failed with radosgw down ($(ms_since "$t0") ms)"
start_rgw_gateway
UPLOAD_MARK=$(proxy_log_mark) # (an upload failure after this one ends wait_bucket_has at once)
kill -0 "$FETCH_PID" 2>/dev/null ||
  fail "(c) radosgw was back only after the fill ended ($(ms_since "$t0") ms): too late to show the upload after the commit"
ok "(c) radosgw back $(ms_since "$t0") ms after the GET began, the client still receiving"
wait "$FETCH_PID" || fail "(c) the client's GET failed: $(cat "$T/${L4#sha256:}.out.err")"
assert_eq "$(sha256_of "$T/${L4#sha256:}.out")" "$L4" "(c) the client got the layer whole"
wait_bucket_has 20 "$L4"
ok "(c) the object is in the bucket $(ms_since "$t0") ms after the GET began: uploaded from the local file"
s3c get -q "s3://$BUCKET/$K4" "$T/l4.back"
assert_eq "$(sha256_of "$T/l4.back")" "$L4" "(c) the object's bytes hash to the layer's digest"
assert_eq "$(metric pullthrough_s3_uploads_total)" 2 "(c) pullthrough_s3_uploads_total = 2"
[ "$(metric pullthrough_s3_errors_total)" -ge 1 ] || fail "(c) pullthrough_s3_errors_total did not count the failure"
ERRORS=$(metric pullthrough_s3_errors_total)

# ------------------------------------------------------------------ (d) the fill cut mid-body
L2=${LAYERS[1]}
K2=$(key_of "$L2")
L2_SIZE=$(stat -c %s "$SEED_DIR/${L2#sha256:}")
t0=$EPOCHREALTIME
fetch_in_background "$L2" "$T/${L2#sha256:}.out"
wait_for_parts "$K2"
kill -TERM "$CDN_PID" # nginx's fast shutdown: the transfer is cut
rc=0
wait "$FETCH_PID" || rc=$?
assert_ne "$rc" 0 "(d) the CDN killed at $RECEIVED of $L2_SIZE bytes, upload $UPLOAD_ID with $PARTS part(s): the client's transfer is cut ($(grep -m1 "^curl:" "$T/${L2#sha256:}.out.err" || true))"
wait_upload_gone "$K2" "(d) the upload of $K2 is still in progress 10 s after the cut"
ok "(d) the upload was aborted $(ms_since "$t0") ms after the GET began"
assert_eq "$(head_code "$K2")" 404 "(d) nothing under the digest's key (HEAD 404)"
assert_not_contains "$(bucket_keys)" "${L2#sha256:}" "(d) the key is not listed"
assert_eq "$(metric pullthrough_s3_errors_total)" "$ERRORS" "(d) pullthrough_s3_errors_total did not grow (the fill failed, not the bucket)"
assert_eq "$(metric pullthrough_s3_uploads_total)" 2 "(d) pullthrough_s3_uploads_total is still 2"
assert_proxy_alive
finish
