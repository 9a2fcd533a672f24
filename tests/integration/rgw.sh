# shellcheck shell=bash
# shellcheck disable=SC2034 # globals set here are read by the tests that source this
# A real S3 server for the integration tests: a throwaway single-node Ceph RGW (Debian 12's
# Ceph 16 "pacific": one monitor, one OSD on memstore, the RADOS Gateway with its beast
# frontend), built in "$T/rgw" from nothing in about two seconds. Sourced after lib.sh.
# The recipe and its reasons: ../shared/design/S3-TEST-SERVER.md (outside the repository).
#
#   start_rgw             builds and starts the cluster and a user; exports
#                         RGW_ENDPOINT (http://127.0.0.1:PORT) RGW_PORT RGW_ACCESS_KEY
#                         RGW_SECRET_KEY RGW_REGION (us-east-1), and sets RGW_DIR RGW_CONF;
#                         RGW_TLS=1: RGW_ENDPOINT is https:// (make_test_pki first), and
#                         RGW_TLS=both adds RGW_HTTP_ENDPOINT, the same gateway in cleartext
#   stop_rgw              stops radosgw, the OSD and the monitor (lib.sh's exit trap does too)
#   stop_rgw_gateway      stops only radosgw: the endpoint refuses connections, the data stays
#   start_rgw_gateway     starts radosgw again on the same port, with the same data
#   s3c ARGS...           s3cmd configured for it (SigV4, path style): s3c mb s3://b, ls, put,
#                         get, du, info, del, multipart s3://b, abortmp s3://b/KEY ID, ...
#                         (s3c --secret_key=wrong ... to sign with another secret)
#   s3curl ARGS...        curl signing with SigV4 for RGW (for requests s3cmd cannot make,
#                         e.g. -X POST "$RGW_ENDPOINT/b/key?uploads=")
#   rgw_make_bucket NAME  creates the bucket NAME (at least 3 characters)
#
# Limits: the monitor's port (3300) is fixed, so only one such cluster runs per host at a
# time; CTest gives every test_s3* and test_rgw* test the resource lock "ceph_rgw".
# memstore keeps objects in RAM, capped at RGW_MEMSTORE_BYTES (default 1 GiB).
# Ceph 16 quirks a client must allow for: the multipart-complete response carries an empty
# <ETag> (a HEAD afterwards has the right "...-N"), and error bodies an empty <Message>.

RGW_FSID=6b1e8a46-5c0e-4a4b-9d7c-7e3f0a1c2b01 # fixed: the cluster lives only in $T
RGW_OSD_UUID=0d7c6a52-1f3e-4b8e-a5a1-3c2b9e8f4d10
RGW_MON_ADDR=127.0.0.1:3300 # fixed by Ceph's v2 protocol default: one cluster per host
RGW_ACCESS_KEY=PTTESTACCESSKEY00001
RGW_SECRET_KEY=pullthroughTestSecretKey0000000000000001
RGW_REGION=us-east-1
RGW_USER=pullthrough-ci
# Every daemon runs under `timeout`: a leftover (the test's shell SIGKILLed, say) dies by
# itself instead of holding port 3300 for ever.
RGW_LIFETIME=${RGW_LIFETIME:-900}
RGW_START_TIMEOUT=${RGW_START_TIMEOUT:-30}
RGW_MEMSTORE_BYTES=${RGW_MEMSTORE_BYTES:-1073741824}
RGW_DIR=""
RGW_CONF=""
RGW_MON_PID=""
RGW_OSD_PID=""
RGW_GW_PID=""

_rgw_require() {
  local c
  for c in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool ceph-authtool s3cmd curl; do
    command -v "$c" >/dev/null 2>&1 ||
      skip "required command '$c' not installed (ceph-mon ceph-osd radosgw s3cmd: scripts/install-deps.sh)"
  done
}

# _rgw_listening IP PORT — something accepts TCP connections there.
_rgw_listening() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

_rgw_fail() { # MESSAGE — fails with the tail of every daemon log (lib.sh prints them too)
  fail "RGW: $*"
}

_rgw_write_conf() { # uses RGW_DIR RGW_PORT
  local d=$RGW_DIR
  cat >"$RGW_CONF" <<EOF
[global]
fsid = $RGW_FSID
mon host = v2:$RGW_MON_ADDR
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
run dir = $d/run
admin socket = $d/run/\$name.asok
log file = $d/log/\$name.log
pid file = $d/run/\$name.pid
keyring = $d/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail crit = 1
mon data avail warn = 2
osd crush chooseleaf type = 0
ms bind ipv4 = true
ms bind ipv6 = false
# Without it RGW's pool creation goes at one monitor change a second: ~12 s instead of ~1.
paxos propose interval = 0.05

[mon]
mon data = $d/mon

[osd]
osd data = $d/osd
osd objectstore = memstore
memstore device bytes = $RGW_MEMSTORE_BYTES
osd class load list = *
osd class default list = *

[client]
# With auth none, radosgw otherwise waits for ever for a "secure" monitor connection.
ms mon client mode = crc secure

[client.rgw]
rgw frontends = $RGW_FRONTEND
rgw dns name = localhost
EOF
}

# _rgw_daemon NAME VAR CMD... — starts a Ceph daemon in the foreground (logging to its log
# file) under timeout, registers it with lib.sh (killed on exit, log printed on failure) and
# sets VAR to its pid.
_rgw_daemon() {
  local name=$1 var=$2
  shift 2
  timeout --foreground -k 5 "$RGW_LIFETIME" "$@" >>"$RGW_DIR/log/$name.out" 2>&1 &
  local pid=$!
  printf -v "$var" '%s' "$pid"
  _register_pid "$pid" "ceph-$name"
}

# _rgw_run WHAT SECONDS CMD... — a one-shot Ceph command that may hang, output in its log.
_rgw_run() {
  local what=$1 secs=$2
  shift 2
  local out="$RGW_DIR/log/cmd.out" rc=0 text
  echo "+ $*" >>"$out"
  text=$(timeout -k 2 "$secs" "$@" 2>&1) || rc=$?
  # (all of it when it failed; else a few lines: radosgw-admin prints the whole user)
  if [ "$rc" = 0 ]; then head -n 3 <<<"$text" >>"$out"; else printf '%s\n' "$text" >>"$out"; fi
  [ "$rc" = 0 ] || _rgw_fail "$what failed (status $rc$([ "$rc" != 124 ] || echo ": timed out after ${secs}s")): $*"
}

_rgw_wait_http() { # SECONDS — polls RGW_ENDPOINT until it answers; 1 when radosgw died or time is up
  local deadline=$((SECONDS + $1)) code
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$RGW_GW_PID" 2>/dev/null || return 1
    code=$(curl -s -k -o /dev/null -w '%{http_code}' --max-time 2 "$RGW_ENDPOINT/" 2>/dev/null || true)
    [ "$code" != 200 ] || return 0
    sleep 0.1
  done
  return 1
}

# start_rgw — see the top. Fails (with the daemons' logs) when the cluster is not serving
# within RGW_START_TIMEOUT seconds; skips (77) when Ceph or s3cmd is not installed.
start_rgw() {
  _rgw_require
  [ -z "$RGW_MON_PID" ] || _rgw_fail "start_rgw: already started in this test"
  if _rgw_listening 127.0.0.1 3300; then
    fail "RGW: something already listens on $RGW_MON_ADDR, the fixed Ceph monitor port: another" \
      "RGW test is running, or a leftover of a crashed one ($(ss -Hltnp 'sport = :3300' 2>/dev/null |
        grep -o 'users:.*' | head -1 || true)); tests using RGW must not run in parallel"
  fi
  local t0=$EPOCHREALTIME
  RGW_DIR=$T/rgw
  RGW_CONF=$RGW_DIR/ceph.conf
  rm -rf "$RGW_DIR"
  mkdir -p "$RGW_DIR"/{run,log,mon,osd}
  RGW_PORT=$(free_port 127.0.0.1)
  # RGW_TLS=1: https with the test PKI's server certificate (make_test_pki first), as buckets
  # are reached in production. RGW_TLS=both: also plain http on a second port (an http://
  # S3_ENDPOINT, as MinIO inside a cluster's network often is).
  if [ "${RGW_TLS:-0}" = 1 ] || [ "${RGW_TLS:-0}" = both ]; then
    [ -n "${SERVER_CRT:-}" ] || _rgw_fail "RGW_TLS=$RGW_TLS needs make_test_pki first"
    RGW_FRONTEND="beast ssl_endpoint=127.0.0.1:$RGW_PORT ssl_certificate=$SERVER_CRT ssl_private_key=$SERVER_KEY"
    RGW_ENDPOINT=https://127.0.0.1:$RGW_PORT
    if [ "$RGW_TLS" = both ]; then
      RGW_HTTP_PORT=$(free_port 127.0.0.1)
      RGW_FRONTEND="$RGW_FRONTEND endpoint=127.0.0.1:$RGW_HTTP_PORT"
      RGW_HTTP_ENDPOINT=http://127.0.0.1:$RGW_HTTP_PORT
      export RGW_HTTP_ENDPOINT
    fi
  else
    RGW_FRONTEND="beast endpoint=127.0.0.1:$RGW_PORT"
    RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT
  fi
  export RGW_ENDPOINT RGW_PORT RGW_ACCESS_KEY RGW_SECRET_KEY RGW_REGION
  _rgw_write_conf
  local l
  for l in mon.a osd.0 client.rgw; do _register_log "ceph $l" "$RGW_DIR/log/$l.log"; done
  for l in mon osd rgw; do _register_log "ceph $l output" "$RGW_DIR/log/$l.out"; done
  _register_log "ceph commands" "$RGW_DIR/log/cmd.out"
  log "starting Ceph RGW (mon $RGW_MON_ADDR, memstore OSD, S3 on $RGW_ENDPOINT) in $RGW_DIR"

  _rgw_run "mon keyring" 20 ceph-authtool --create-keyring "$RGW_DIR/mon.keyring" --gen-key -n mon. \
    --cap mon 'allow *'
  _rgw_run "monmap" 20 monmaptool --create --clobber --fsid "$RGW_FSID" --addv a "[v2:$RGW_MON_ADDR]" \
    "$RGW_DIR/monmap"
  _rgw_run "monitor mkfs" 20 ceph-mon -c "$RGW_CONF" -i a --mkfs --monmap "$RGW_DIR/monmap" \
    --keyring "$RGW_DIR/mon.keyring"
  _rgw_daemon mon RGW_MON_PID ceph-mon -c "$RGW_CONF" -i a -f
  _rgw_run "osd new (is the monitor up?)" "$RGW_START_TIMEOUT" \
    ceph -c "$RGW_CONF" --connect-timeout "$RGW_START_TIMEOUT" osd new "$RGW_OSD_UUID"
  _rgw_run "osd mkfs" 20 ceph-osd -c "$RGW_CONF" -i 0 --mkfs --osd-uuid "$RGW_OSD_UUID"
  _rgw_daemon osd RGW_OSD_PID ceph-osd -c "$RGW_CONF" -i 0 -f
  _rgw_start_gateway_wait "$RGW_START_TIMEOUT"
  _rgw_run "user create" 20 radosgw-admin -c "$RGW_CONF" user create --uid="$RGW_USER" \
    --display-name="$RGW_USER" --access-key="$RGW_ACCESS_KEY" --secret-key="$RGW_SECRET_KEY"

  _rgw_write_s3cfg
  local ms
  ms=$(($(_rgw_usec "$EPOCHREALTIME") / 1000 - $(_rgw_usec "$t0") / 1000))
  RGW_START_MS=$ms
  log "Ceph RGW serving on $RGW_ENDPOINT after ${ms} ms (access key $RGW_ACCESS_KEY)"
}

_rgw_usec() { local s=${1%[.,]*} f=${1#*[.,]}; echo $((10#$s * 1000000 + 10#$f)); }

_rgw_start_gateway_wait() { # SECONDS
  _rgw_daemon rgw RGW_GW_PID radosgw -c "$RGW_CONF" -n client.rgw -f
  _rgw_wait_http "$1" && return 0
  if ! kill -0 "$RGW_GW_PID" 2>/dev/null; then
    _rgw_fail "radosgw exited during start-up (its log and output below)"
  fi
  _rgw_fail "radosgw did not answer on $RGW_ENDPOINT/ within ${1}s (mon and OSD up? logs below)"
}

# stop_rgw_gateway — stops radosgw only (SIGTERM, SIGKILL after 5 s); the monitor and the OSD
# keep the data, and $RGW_ENDPOINT refuses connections until start_rgw_gateway.
stop_rgw_gateway() {
  [ -n "$RGW_GW_PID" ] || return 0
  log "stopping radosgw (pid $RGW_GW_PID)"
  _kill_pid "$RGW_GW_PID" ceph-rgw
  RGW_GW_PID=""
}

# start_rgw_gateway — starts radosgw again on the same port, with the same data and users.
start_rgw_gateway() {
  [ -n "$RGW_MON_PID" ] || _rgw_fail "start_rgw_gateway before start_rgw"
  [ -z "$RGW_GW_PID" ] || _rgw_fail "start_rgw_gateway: radosgw is already running"
  log "starting radosgw again on $RGW_ENDPOINT"
  _rgw_start_gateway_wait "$RGW_START_TIMEOUT"
}

# stop_rgw — stops radosgw, the OSD and the monitor, in that order (the exit trap of lib.sh
# does the same for whatever is still running). The data is gone with the OSD.
stop_rgw() {
  stop_rgw_gateway
  if [ -n "$RGW_OSD_PID" ]; then _kill_pid "$RGW_OSD_PID" ceph-osd; fi
  if [ -n "$RGW_MON_PID" ]; then _kill_pid "$RGW_MON_PID" ceph-mon; fi
  RGW_OSD_PID=""
  RGW_MON_PID=""
  log "Ceph RGW stopped"
}

_rgw_write_s3cfg() {
  RGW_S3CFG=$RGW_DIR/s3cfg
  cat >"$RGW_S3CFG" <<EOF
[default]
access_key = $RGW_ACCESS_KEY
secret_key = $RGW_SECRET_KEY
host_base = 127.0.0.1:$RGW_PORT
host_bucket = 127.0.0.1:$RGW_PORT
bucket_location = $RGW_REGION
use_https = $([ "${RGW_TLS:-0}" != 0 ] && echo True || echo False)
signature_v2 = False
check_ssl_certificate = False
progress_meter = False
proxy_host =
EOF
}

# s3c ARGS... — s3cmd against the test RGW (its own config file; ~/.s3cfg is not read).
# Its status is s3cmd's (12 not found, 111 connection refused, ...), except that s3cmd's 77
# (access denied) comes back as 3: 77 would make a failing test look skipped.
s3c() {
  [ -n "${RGW_S3CFG:-}" ] || _rgw_fail "s3c before start_rgw"
  local rc=0
  s3cmd -c "$RGW_S3CFG" "$@" || rc=$?
  [ "$rc" != 77 ] || rc=3
  return "$rc"
}

# s3curl ARGS... — curl signing its request with SigV4 as the test user (path style:
# "$RGW_ENDPOINT/BUCKET/KEY"). Give a query parameter without a value as "?uploads=".
s3curl() {
  curl -sS -k --aws-sigv4 "aws:amz:$RGW_REGION:s3" --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

# rgw_make_bucket NAME — creates the bucket NAME (path style; at least 3 characters).
rgw_make_bucket() {
  s3c mb "s3://$1" >/dev/null || _rgw_fail "could not create bucket $1"
}

# ---------------------------------------------------------------- the proxy and its bucket
# For tests of BLOB_STORE; they set BUCKET and PREFIX (the store's s3://BUCKET/PREFIX), and use
# lib.sh's proxy (PROXY_URL, PROXY_LOG). UPLOAD_MARK: a line of PROXY_LOG after which a logged
# upload failure ends wait_bucket_has at once.
metric() { # NAME -> its value on the running proxy's /metrics ("absent" when missing)
  curl -sS --fail --max-time 5 -o "$T/metrics.txt" "$PROXY_URL/metrics" || fail "GET /metrics failed"
  $PY "$IT_DIR/prom_query.py" "$T/metrics.txt" "$1" | awk '{if ($1 == "absent") print; else printf "%d\n", $1}'
}
bucket_keys() { # -> the hex names under PREFIX/blobs/sha256/, one per line
  s3c ls -r "s3://$BUCKET/$PREFIX/blobs/sha256/" | sed -n 's:.*/blobs/sha256/\([0-9a-f]*\)$:\1:p' || true
}
wait_bucket_has() { # SECONDS DIGEST... — polls until every DIGEST is a key in the bucket
  local secs=$1 deadline d missing failed keys
  shift
  deadline=$((SECONDS + secs))
  while :; do
    missing=""
    keys=$(bucket_keys)
    for d in "$@"; do grep -qx "${d#sha256:}" <<<"$keys" || missing+=" $d"; done
    [ -n "$missing" ] || return 0
    # An upload the proxy says failed will not appear: say why at once.
    failed=$(tail -n +"$((${UPLOAD_MARK:-0} + 1))" "$PROXY_LOG" | grep -E 'BLOB_STORE: upload of .* failed' | head -1 || true)
    [ -z "$failed" ] || fail "the bucket lacks:$missing; the proxy says: $failed"
    [ "$SECONDS" -lt "$deadline" ] || fail "after ${secs}s the bucket still lacks:$missing (has: $(tr '\n' ' ' <<<"$keys"))"
    sleep 0.2
  done
}
