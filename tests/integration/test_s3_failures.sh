#!/usr/bin/env bash
# BLOB_STORE when the bucket fails (rgw.sh's Ceph RGW over TLS):
#   (a) a wrong secret and (b) a missing bucket stop the proxy at start-up with a message naming
#       the endpoint and the bucket (never the secret); an unreachable endpoint is only a warning
#   (c) radosgw stopped mid-run: cached images still pull (HIT), new ones from the registry (MISS),
#       pullthrough_s3_errors_total counts, the warning is logged once, /healthz stays 200; radosgw
#       back: the next fill is uploaded again, and what was filled during the outage follows
#   (d) kill -9 during a multipart upload (a 40 MB layer, sent through a relay that slows the
#       upload down so that it is caught in flight): nothing readable under the digest's key, the
#       next start aborts the upload, then sends the layer again from the local disk (the
#       cache index's outbox noted it with its commit), whole and right
#   (e) a corrupt object under a blob's key: a replica with an empty disk never completes a
#       transfer of wrong bytes, and the retry is served from the registry
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rgw.sh"
require_cmd docker-registry skopeo openssl curl htpasswd ceph-mon radosgw s3cmd
require_proxy_bin

BUCKET=pt-fail
PREFIX=ci
make_test_pki "$T/pki"
RGW_TLS=1 start_rgw
rgw_make_bucket "$BUCKET"
start_standard_registry # registry.test with library/app:1.0 (3 layers)
RADDR=${REG_ADDR[reg]}
seed_image "$RADDR" library/app:2.0 3 200000
seed_image "$RADDR" library/app:3.0 3 200000

S3_ENV=("BLOB_STORE=s3://$BUCKET/$PREFIX" "S3_ENDPOINT=$RGW_ENDPOINT" "AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY"
  "AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY")
PT_ENV=("${STD_PROXY_ENV[@]}" "AUTH_REGISTRIES=registry.test:$RCREDS")

image_keys() { image_blobs "${IMAGE_DIR[$1]}"; echo "${IMAGE_DIGEST[$1]}"; } # REF -> blobs and manifest
uploads_in_progress() { s3c multipart "s3://$BUCKET" | grep -E "s3://$BUCKET/.+" || true; }
ms_since() { echo $(($(_rgw_usec "$EPOCHREALTIME") / 1000 - $(_rgw_usec "$1") / 1000)); }
section() { SECTION_T0=$EPOCHREALTIME; log "== $*"; }
section_end() { log "== done in $(ms_since "$SECTION_T0") ms"; }
img() { echo "registry.test:$RPORT/library/$1"; }

# run_proxy_once VAR=value... — runs the proxy in the foreground as start_proxy would (its own
# port, the test's CA dir, an empty cache); it must exit by itself within 30 s. Sets RUN_RC and
# RUN_OUT (its output).
run_proxy_once() {
  local port
  port=$(free_port 127.0.0.1)
  RUN_RC=0
  RUN_OUT=$(timeout -k 2 30 env "LISTEN=127.0.0.1:$port" "CA_DIR=$T/proxy/ca" "CACHE_DIR=$T/cache-once" "$@" \
    "$PULLTHROUGH_BIN" 2>&1) || RUN_RC=$?
  printf '%s\n' "$RUN_OUT" >>"$T/run-once.log"
}

# ------------------------------------------------------------------ (a) (b) refused at start-up
section "(a) wrong secret, (b) missing bucket, unreachable endpoint"
WRONG_SECRET=wrongSecretKey0000000000000000000000xyz
run_proxy_once "${PT_ENV[@]}" "BLOB_STORE=s3://$BUCKET/$PREFIX" "S3_ENDPOINT=$RGW_ENDPOINT" \
  "AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY" "AWS_SECRET_ACCESS_KEY=$WRONG_SECRET"
case "$RUN_RC" in 124 | 137) fail "(a) with a wrong secret the proxy did not exit within 30 s" ;; esac
assert_ne "$RUN_RC" 0 "(a) wrong secret: the proxy exits non-zero ($RUN_RC)"
assert_contains "$RUN_OUT" "BLOB_STORE: $RGW_ENDPOINT bucket $BUCKET prefix $PREFIX" "(a) the message names the endpoint and the bucket"
assert_contains "$RUN_OUT" "refused us: 403 SignatureDoesNotMatch" "(a) the message says 403 SignatureDoesNotMatch"
assert_not_contains "$RUN_OUT" "$WRONG_SECRET" "(a) the secret is never printed"
assert_not_contains "$RUN_OUT" "listening on" "(a) it never started listening"

run_proxy_once "${PT_ENV[@]}" "${S3_ENV[@]}" "BLOB_STORE=s3://no-such-bucket/$PREFIX"
case "$RUN_RC" in 124 | 137) fail "(b) with a missing bucket the proxy did not exit within 30 s" ;; esac
assert_ne "$RUN_RC" 0 "(b) missing bucket: the proxy exits non-zero ($RUN_RC)"
assert_contains "$RUN_OUT" "BLOB_STORE: $RGW_ENDPOINT bucket no-such-bucket prefix $PREFIX" "(b) the message names the endpoint and the bucket"
assert_contains "$RUN_OUT" "refused us: 404 NoSuchBucket" "(b) the message says 404 NoSuchBucket"
assert_not_contains "$RUN_OUT" "$RGW_SECRET_KEY" "(b) the secret is never printed"

# Nothing listening there: a warning, and the proxy serves.
dead_port=$(free_port 127.0.0.1)
start_proxy "${PT_ENV[@]}" "${S3_ENV[@]}" "S3_ENDPOINT=https://127.0.0.1:$dead_port" "CACHE_DIR=$T/cache-unreachable"
assert_log_line "BLOB_STORE: https://127.0.0.1:$dead_port bucket $BUCKET" "is unreachable"
proxy_pull "$(img app:1.0)" "$T/out-unreachable" >/dev/null || fail "pull with the bucket unreachable since start-up failed"
verify_dir_digests "$T/out-unreachable" "${IMAGE_DIGEST[library/app:1.0]}"
stop_proxy TERM
section_end

# ------------------------------------------------------------------ (c) S3 stopped mid-run
section "(c) radosgw stopped mid-run"
UPLOAD_MARK=$(proxy_log_mark)
start_proxy "${PT_ENV[@]}" "${S3_ENV[@]}" "CACHE_DIR=$T/cache-c"
proxy_pull "$(img app:1.0)" "$T/out-c1" >/dev/null || fail "(c) first pull failed"
mapfile -t keys < <(image_keys library/app:1.0)
wait_bucket_has 30 "${keys[@]}"
ok "(c) app:1.0 is in the bucket"
stop_rgw_gateway
mark=$(proxy_log_mark)
proxy_pull "$(img app:1.0)" "$T/out-c2" >/dev/null || fail "(c) pull of a cached image with S3 down failed"
verify_dir_digests "$T/out-c2" "${IMAGE_DIGEST[library/app:1.0]}"
for d in $(image_blobs "${IMAGE_DIR[library/app:1.0]}"); do
  assert_log_line "/blobs/$d" status=200 cache=HIT
done
t0=$EPOCHREALTIME
proxy_pull "$(img app:2.0)" "$T/out-c3" >/dev/null || fail "(c) pull of a new image with S3 down failed"
log "(c) new image with S3 down pulled in $(ms_since "$t0") ms"
verify_dir_digests "$T/out-c3" "${IMAGE_DIGEST[library/app:2.0]}"
for d in $(image_blobs "${IMAGE_DIR[library/app:2.0]}"); do
  assert_log_line "/blobs/$d" status=200 cache=MISS
done
assert_eq "$(proxy_requests_since "$mark" 'upstream=s3' | wc -l)" 0 "(c) nothing was served from the bucket while it was down"
errors=$(metric pullthrough_s3_errors_total)
[ "$errors" -gt 0 ] || fail "(c) pullthrough_s3_errors_total is $errors with S3 down"
ok "(c) pullthrough_s3_errors_total = $errors"
warnings=$(tail -n +"$((mark + 1))" "$PROXY_LOG" | grep -c 'pulls go on without the bucket' || true)
assert_eq "$warnings" 1 "(c) the S3 failure is logged once, not per request ($errors errors)"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$PROXY_URL/healthz")" 200 "(c) /healthz stays 200 with S3 down"
start_rgw_gateway
UPLOAD_MARK=$(proxy_log_mark) # (the uploads that failed while radosgw was down are logged above)
proxy_pull "$(img app:3.0)" "$T/out-c4" >/dev/null || fail "(c) pull after S3 came back failed"
verify_dir_digests "$T/out-c4" "${IMAGE_DIGEST[library/app:3.0]}"
mapfile -t keys < <(image_keys library/app:3.0)
wait_bucket_has 30 "${keys[@]}"
ok "(c) S3 back: the next fill (app:3.0) is uploaded"
# What was filled while radosgw was down is in the outbox: it goes up once the bucket has been
# quiet for 10 s (a resume pass every 10 s).
mapfile -t keys < <(image_keys library/app:2.0)
t0=$SECONDS
wait_bucket_has 40 "${keys[@]}"
ok "(c) S3 back: what was filled while it was down (app:2.0) reached the bucket too, $((SECONDS - t0)) s later"
assert_proxy_alive
stop_proxy TERM
section_end

# ------------------------------------------------------------------ (e) a corrupt object
section "(e) a corrupt object in the bucket"
# app:1.0 is in the bucket (c). One of its layers gets other bytes of the same length.
LAYER=$(image_blobs "${IMAGE_DIR[library/app:1.0]}" | tail -1)
LAYER_FILE=${IMAGE_DIR[library/app:1.0]}/${LAYER#sha256:}
head -c "$(stat -c %s "$LAYER_FILE")" /dev/urandom >"$T/garbage"
s3c put -q "$T/garbage" "s3://$BUCKET/$PREFIX/blobs/sha256/${LAYER#sha256:}"
ok "(e) wrong bytes put under $LAYER"
start_proxy "${PT_ENV[@]}" "${S3_ENV[@]}" "CACHE_DIR=$T/cache-e"
rc=0
pcurl -o "$T/layer.out" "https://registry.test:$RPORT/v2/library/app/blobs/$LAYER" 2>"$T/curl-e.err" || rc=$?
if [ "$rc" = 0 ]; then
  assert_eq "$(sha256_of "$T/layer.out")" "$LAYER" "(e) a transfer that completed has the right bytes"
else
  ok "(e) the transfer of the corrupt object was cut (curl $rc: $(head -c 200 "$T/curl-e.err"))"
  if [ -f "$T/layer.out" ] && [ "$(sha256_of "$T/layer.out")" = "$LAYER" ]; then fail "(e) cut, yet all bytes?"; fi
fi
assert_log_contains "BLOB_STORE: the bucket's copy of $LAYER is corrupt"
[ ! -e "$(cache_blob_path "$LAYER" "$T/cache-e")" ] || fail "(e) the corrupt blob was stored locally"
ok "(e) the corrupt blob was not stored locally"
mark=$(proxy_log_mark)
proxy_pull "$(img app:1.0)" "$T/out-e" >/dev/null || fail "(e) the retry after the corrupt object failed"
verify_dir_digests "$T/out-e" "${IMAGE_DIGEST[library/app:1.0]}"
wait_proxy_requests "$mark" 1 "/blobs/$LAYER"
assert_eq "$(proxy_requests_since "$mark" "/blobs/$LAYER .*upstream=s3" | wc -l)" 0 "(e) the retry of $LAYER did not come from the bucket"
assert_log_line "/blobs/$LAYER" status=200 cache=MISS
sleep 1 # (the upload after the fill runs in the background)
s3c get -q --force "s3://$BUCKET/$PREFIX/blobs/sha256/${LAYER#sha256:}" "$T/layer.bucket"
if [ "$(sha256_of "$T/layer.bucket")" = "$LAYER" ]; then
  ok "(e) the bucket's copy was replaced by the verified fill"
  assert_eq "$(metric pullthrough_s3_uploads_total)" 1 "(e) pullthrough_s3_uploads_total counts the replacement"
else
  log "NOTE: (e) the bucket still holds the corrupt copy of $LAYER after the verified fill (it is not replaced)"
  # Then nothing was sent: an object found in the bucket by the upload's HEAD is no upload.
  assert_eq "$(metric pullthrough_s3_uploads_total)/$(metric pullthrough_s3_uploaded_bytes_total)" 0/0 \
    "(e) pullthrough_s3_uploads_total/uploaded_bytes_total stay 0 (nothing was uploaded)"
fi
stop_proxy TERM
section_end

# ------------------------------------------------------------------ (d) kill -9 mid multipart
section "(d) kill -9 during a multipart upload"
BIG_BYTES=40000000
seed_image_sizes "$RADDR" library/big:1.0 "$BIG_BYTES"
BIG_LAYER=$(image_blobs "$SEED_DIR" | tail -1)
BIG_KEY="$PREFIX/blobs/sha256/${BIG_LAYER#sha256:}"
# A relay in front of radosgw passing the proxy's uploads at 64 Mbit/s (8 MB/s): the 40 MB
# upload then lasts ~5 s, long enough to be seen in flight. Answers pass unshaped.
mkdir -p "$T/relay"
$PY - "$RGW_PORT" "$T/relay/port" 8000000 >"$T/relay/out.log" 2>&1 <<'PYEOF' &
import asyncio, sys, time
target_port, port_file, rate = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
async def pump(reader, writer, shaped):
    sent, t0 = 0, time.monotonic()
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
            if shaped:
                sent += len(data)
                ahead = sent / rate - (time.monotonic() - t0)
                if ahead > 0:
                    await asyncio.sleep(ahead)
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
async def handle(c_reader, c_writer):
    try:
        u_reader, u_writer = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        c_writer.close()
        return
    await asyncio.gather(pump(c_reader, u_writer, True), pump(u_reader, c_writer, False))
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    open(port_file, "w").write(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()
asyncio.run(main())
PYEOF
RELAY_PID=$!
_register_pid "$RELAY_PID" s3-relay
wait_port_file "$RELAY_PID" "$T/relay" "the S3 relay"
RELAY_ENDPOINT=https://127.0.0.1:$WAITED_PORT
start_proxy "${PT_ENV[@]}" "${S3_ENV[@]}" "S3_ENDPOINT=$RELAY_ENDPOINT" "CACHE_DIR=$T/cache-d"
proxy_pull "$(img big:1.0)" "$T/out-d" >/dev/null || fail "(d) pull of the 40 MB image failed"
deadline=$((SECONDS + 20))
while :; do
  inflight=$(uploads_in_progress)
  grep -qF "$BIG_KEY" <<<"$inflight" && break
  if [ "$SECONDS" -ge "$deadline" ] || bucket_keys | grep -qx "${BIG_LAYER#sha256:}"; then
    fail "(d) the multipart upload of $BIG_LAYER was never seen in flight (the proxy says: $(proxy_log_current | grep 'BLOB_STORE' | tail -2 | tr '\n' ' '))"
  fi
  sleep 0.1
done
kill -KILL "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true
PROXY_PID=""
# Still in flight after the kill? (else the proxy had finished or aborted it by itself)
grep -qF "$BIG_KEY" <<<"$(uploads_in_progress)" ||
  fail "(d) the upload of $BIG_LAYER ended before the kill (the proxy said: $(proxy_log_current | grep 'BLOB_STORE' | tail -1))"
ok "(d) proxy killed (SIGKILL) with the upload in flight: $(grep -F "$BIG_KEY" <<<"$inflight" | head -1 | tr '\t' ' ')"
rc=0
s3c info "s3://$BUCKET/$BIG_KEY" >"$T/info-d.txt" 2>&1 || rc=$?
assert_ne "$rc" 0 "(d) s3cmd info finds no object under the digest's key ($(tail -1 "$T/info-d.txt"))"
assert_eq "$(s3curl -o /dev/null -w '%{http_code}' -I "$RGW_ENDPOINT/$BUCKET/$BIG_KEY")" 404 "(d) a HEAD of the key: 404"
assert_not_contains "$(bucket_keys)" "${BIG_LAYER#sha256:}" "(d) the key is not listed"
start_proxy "${PT_ENV[@]}" "${S3_ENV[@]}" "CACHE_DIR=$T/cache-d"
assert_log_line "BLOB_STORE: blobs and manifests by digest are shared through" "1 unfinished upload(s) aborted"
assert_eq "$(uploads_in_progress)" "" "(d) no multipart upload is left in the bucket"
# The layer was committed locally before the kill, its upload noted in the outbox: the restarted
# proxy sends it again (the first resume pass runs 5 s after start), though a pull is only a HIT.
proxy_pull "$(img big:1.0)" "$T/out-d2" >/dev/null || fail "(d) pull after the restart failed"
assert_log_line "/blobs/$BIG_LAYER" status=200 cache=HIT
t0=$SECONDS
wait_bucket_has 30 "$BIG_LAYER"
ok "(d) the layer committed before the kill is in the bucket $((SECONDS - t0)) s after the restart's HIT"
assert_log_line "upload(s) not yet in the bucket queued again"
s3c get -q "s3://$BUCKET/$BIG_KEY" "$T/big-d.back"
assert_eq "$(sha256_of "$T/big-d.back")" "$BIG_LAYER" "(d) the resumed upload's bytes hash to the layer's digest"
rm -f "$T/big-d.back"
assert_eq "$(uploads_in_progress)" "" "(d) no multipart upload left in progress after the resumed one"
assert_proxy_alive
section_end
finish
