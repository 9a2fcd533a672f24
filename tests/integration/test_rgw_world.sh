#!/usr/bin/env bash
# Sanity check of the S3 test server itself (no proxy): rgw.sh's single-node Ceph RGW starts,
# stores and returns a 20 MB object (s3cmd puts it as a two-part multipart upload), answers
# HEAD and ranged GETs, really verifies SigV4 (a wrong secret gets 403 SignatureDoesNotMatch),
# lists and aborts an in-progress multipart upload, refuses connections while only its
# gateway is stopped and serves the same data once the gateway is back. If this fails, every
# S3 test of the proxy would fail for reasons that have nothing to do with the proxy.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rgw.sh"
require_cmd ceph-mon ceph-osd radosgw radosgw-admin s3cmd curl

t0=$EPOCHREALTIME
start_rgw
ok "RGW serving on $RGW_ENDPOINT after ${RGW_START_MS} ms"
assert_match "$RGW_ENDPOINT" '^http://127\.0\.0\.1:[0-9]+$' "RGW_ENDPOINT is exported"

code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$RGW_ENDPOINT/")
assert_eq "$code" 200 "anonymous GET / answers"

rgw_make_bucket pt-world
assert_contains "$(s3c ls)" "s3://pt-world" "the bucket is listed"

obj=$T/obj.bin
head -c 20971520 /dev/urandom >"$obj"
s3c put -q "$obj" s3://pt-world/dir/obj.bin
s3c get -q s3://pt-world/dir/obj.bin "$T/obj.back"
cmp -s "$obj" "$T/obj.back" || fail "the object read back differs from the one put"
ok "20 MB object put (multipart) and read back identical"

info=$(s3c info s3://pt-world/dir/obj.bin)
assert_contains "$info" "File size: 20971520" "s3cmd info (HEAD) has the size"
head_out=$(s3curl -I "$RGW_ENDPOINT/pt-world/dir/obj.bin" | tr -d '\r')
assert_match "$head_out" '^HTTP/1\.1 200' "signed HEAD: 200"
assert_match "$head_out" '^Content-Length: 20971520$' "signed HEAD: Content-Length"
# s3cmd puts 15 MB parts: two parts, so the multipart ETag ends in -2.
assert_match "$head_out" '^ETag: "[0-9a-f]{32}-2"$' "signed HEAD: the multipart ETag"
s3curl -o "$T/range.bin" -r 1000-1999 "$RGW_ENDPOINT/pt-world/dir/obj.bin"
cmp -s "$T/range.bin" <(tail -c +1001 "$obj" | head -c 1000) || fail "ranged GET returned other bytes"
ok "ranged GET returns bytes 1000-1999"
assert_match "$(s3c du s3://pt-world)" '^ *20971520 +1 objects' "s3cmd du counts the object"

# SigV4 is really checked.
rc=0
out=$(s3c --secret_key=wrong-secret ls s3://pt-world/ 2>&1) || rc=$?
assert_eq "$rc" 3 "s3cmd with a wrong secret fails (access denied, 77 mapped to 3)"
assert_contains "$out" "403 (SignatureDoesNotMatch)" "s3cmd with a wrong secret: 403 SignatureDoesNotMatch"
code=$(curl -s -o "$T/err.xml" -w '%{http_code}' --aws-sigv4 "aws:amz:$RGW_REGION:s3" \
  --user "$RGW_ACCESS_KEY:wrong-secret" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
  "$RGW_ENDPOINT/pt-world/dir/obj.bin")
assert_eq "$code" 403 "curl with a wrong secret: 403"
assert_file_contains "$T/err.xml" '<Code>SignatureDoesNotMatch</Code>' "the error code is SignatureDoesNotMatch"
code=$(curl -s -o /dev/null -w '%{http_code}' "$RGW_ENDPOINT/pt-world/dir/obj.bin")
assert_eq "$code" 403 "an anonymous GET of the object is refused"

# An in-progress multipart upload: listed, then aborted.
created=$(s3curl -X POST "$RGW_ENDPOINT/pt-world/mp/obj.bin?uploads=")
upload_id=$(sed -n 's:.*<UploadId>\([^<]*\)</UploadId>.*:\1:p' <<<"$created")
[ -n "$upload_id" ] || fail "no UploadId in the multipart create response: $created"
ok "multipart upload created ($upload_id)"
assert_contains "$(s3c multipart s3://pt-world)" "$upload_id" "s3cmd multipart lists it"
s3c abortmp s3://pt-world/mp/obj.bin "$upload_id" >/dev/null
assert_not_contains "$(s3c multipart s3://pt-world)" "$upload_id" "aborted: no longer listed"

# Only the gateway stops: the endpoint refuses, the data stays with the OSD.
stop_rgw_gateway
rc=0
curl -s -o /dev/null --max-time 5 "$RGW_ENDPOINT/" || rc=$?
assert_eq "$rc" 7 "gateway stopped: the endpoint refuses connections (curl 7)"
rc=0
s3c ls s3://pt-world >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 111 "gateway stopped: s3cmd gets connection refused (111)"
start_rgw_gateway
ok "gateway back on the same port ($RGW_ENDPOINT)"
rm -f "$T/obj.back"
s3c get -q s3://pt-world/dir/obj.bin "$T/obj.back"
cmp -s "$obj" "$T/obj.back" || fail "after the gateway restart the object differs"
ok "after the gateway restart the object is still there, identical"

stop_rgw
_rgw_listening 127.0.0.1 3300 && fail "something still listens on 127.0.0.1:3300 after stop_rgw"
ok "stop_rgw: the monitor port 3300 is free again"
rc=0
curl -s -o /dev/null --max-time 5 "$RGW_ENDPOINT/" || rc=$?
assert_eq "$rc" 7 "stop_rgw: the endpoint refuses connections"

ms=$(($(_rgw_usec "$EPOCHREALTIME") / 1000 - $(_rgw_usec "$t0") / 1000))
log "RGW start-up ${RGW_START_MS} ms; whole test ${ms} ms"
finish
