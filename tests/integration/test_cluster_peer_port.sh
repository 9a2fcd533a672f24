#!/usr/bin/env bash
# Cluster mode: the peer port (PEER_LISTEN) serves only peers. It is mutual TLS, and only a
# client certificate minted from the shared root WITH the peer extendedKeyUsage gets anything:
# plain HTTP, raw bytes, TLS without a client certificate, a client certificate from another CA
# and an ordinary leaf of the same CA get no 200 and none of a cached blob's bytes.
# Then a misbehaving peer: a fake replica (Python TLS server below, with a peer certificate
# minted with openssl from the shared CA key) listed in PEERS as the owner of some blobs answers
# garbage, a truncated body, a body with one wrong byte. The fake exists because no real replica
# misbehaves on demand. Pulls through the real replica never complete with wrong bytes (they fail,
# or the replica falls back upstream), and the replica keeps running. A fake that accepts and then
# stays silent is given up within about PEER_CONNECT_TIMEOUT, the replica going upstream itself.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
source "$IT_DIR/cluster.sh"
require_cmd docker-registry skopeo nginx openssl curl htpasswd
require_proxy_bin

PEER_HPP="$REPO_ROOT/ca/peer_certificate.hpp"
[ -f "$PEER_HPP" ] || fail "$PEER_HPP not found (the peer certificate's extendedKeyUsage OID is read from it)"
PEER_OID=$(grep -E 'constexpr.*peer_key_usage_oid' "$PEER_HPP" | grep -oE '"[0-9]+(\.[0-9]+)+"' | head -n 1 | tr -d '"')
[ -n "$PEER_OID" ] || fail "no peer_key_usage_oid in $PEER_HPP"
log "peer extendedKeyUsage OID: $PEER_OID"

cluster_cdn_world
FAKE_IP=127.0.0.34
cluster_plan r 127.0.0.31
FAKE_PORT=$(free_port "$FAKE_IP")
M_R=${R_PEER[r]}
M_FAKE="$FAKE_IP:$FAKE_PORT"
PEERS="$M_R $M_FAKE"
start_replica r "PEERS=$PEERS" PEERS_REFRESH=1s PEER_CONNECT_TIMEOUT=1s
CA_CRT=$CLUSTER_CA_DIR/ca.crt
CA_KEY=$CLUSTER_CA_DIR/ca.key
[ -s "$CA_KEY" ] || fail "no $CA_KEY in the shared CA directory"
URL="https://registry.test:$RPORT/v2/library/peer/blobs"

# A blob r owns, cached on r: what a refused client must not get.
B0=$(pick_blob "$T/b0.bin" 200000 "$M_R" "$M_R" "$M_FAKE")
upload_blob "$T/b0.bin" library/peer
rcurl r -o "$T/b0.body" "$URL/$B0" || fail "GET of B0 through r failed"
assert_eq "$(sha256_of "$T/b0.body")" "$B0" "B0 through r: right bytes (now cached on r)"

# ---- certificates
PKI="$T/peer-pki"
mkdir -p "$PKI"
mint() { # NAME CA_CRT CA_KEY EKU CN — a leaf with an IP SAN for the fake's address
  cat >"$PKI/$1.ext" <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = $4
subjectAltName = IP:$FAKE_IP, IP:127.0.0.1, DNS:$5
EOF
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$5" \
    -keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>/dev/null
  openssl x509 -req -sha256 -days 2 -in "$PKI/$1.csr" -CA "$2" -CAkey "$3" -set_serial "0x$(openssl rand -hex 12)" \
    -extfile "$PKI/$1.ext" -out "$PKI/$1.crt" 2>/dev/null || fail "minting $1 failed"
}
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=another CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$PKI/other-ca.key" -out "$PKI/other-ca.crt" 2>/dev/null
mint other "$PKI/other-ca.crt" "$PKI/other-ca.key" "serverAuth,clientAuth,$PEER_OID" fakepeer.test
mint leaf "$CA_CRT" "$CA_KEY" "serverAuth,clientAuth" "leaf.test"
mint peer "$CA_CRT" "$CA_KEY" "serverAuth,clientAuth,$PEER_OID" fakepeer.test
openssl x509 -in "$PKI/peer.crt" -noout -text | grep -q "$PEER_OID" || fail "the minted peer certificate lacks $PEER_OID"

# ---- the peer port refuses
PEER_HOSTPORT=${R_PEER[r]}
probe() { # LABEL curl-args... : no 200, none of B0's bytes
  local label=$1 code
  shift
  rm -f "$T/probe.body"
  code=$(curl -s --max-time 10 -o "$T/probe.body" -w '%{http_code}' -H "Host: registry.test:$RPORT" "$@" || true)
  [ "$code" != 200 ] || soft_fail "$label: got a 200"
  if [ -s "$T/probe.body" ] && $PY - "$T/probe.body" "$T/b0.bin" <<'EOF'; then soft_fail "$label: the answer holds bytes of the cached blob"; fi
import sys
body, blob = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
sys.exit(0 if len(body) >= 64 and (body in blob or blob[:64] in body) else 1)
EOF
  ok "$label: refused (HTTP code ${code:-none}, $(stat -c %s "$T/probe.body" 2>/dev/null || echo 0) bytes)"
}
probe "plain HTTP on the peer port" "http://$PEER_HOSTPORT/v2/library/peer/blobs/$B0"
probe "TLS without a client certificate" -k "https://$PEER_HOSTPORT/v2/library/peer/blobs/$B0"
probe "TLS without a client certificate (trusting the CA)" --cacert "$CA_CRT" \
  "https://$PEER_HOSTPORT/v2/library/peer/blobs/$B0"
probe "a client certificate from another CA (with the peer EKU)" -k --cert "$PKI/other.crt" --key "$PKI/other.key" \
  "https://$PEER_HOSTPORT/v2/library/peer/blobs/$B0"
probe "an ordinary leaf of the same CA (no peer EKU)" -k --cert "$PKI/leaf.crt" --key "$PKI/leaf.key" \
  "https://$PEER_HOSTPORT/v2/library/peer/blobs/$B0"
raw=$($PY - "${R_IP[r]}" "${PEER_HOSTPORT##*:}" "$B0" <<'EOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(f"GET /v2/library/peer/blobs/{sys.argv[3]} HTTP/1.1\r\nHost: x\r\n\r\n".encode() + b"\x16\x03\x01garbage" * 50)
out = b""
try:
    while len(out) < 65536:
        b = s.recv(65536)
        if not b:
            break
        out += b
except OSError:
    pass
print(len(out), out[:40])
EOF
)
c_not_contains "$raw" "200 OK" "raw bytes on the peer port: no 200 ($raw)"
assert_replica_alive r
# The control: the same request with a peer certificate (minted from the shared root with the
# marker) is served, so the refusals above are the certificate's doing, not a wrong request.
code=$(curl -s --max-time 10 -o "$T/control.body" -w '%{http_code}' -H "Host: registry.test:$RPORT" \
  --cacert "$CA_CRT" --cert "$PKI/peer.crt" --key "$PKI/peer.key" \
  "https://$PEER_HOSTPORT/v2/library/peer/blobs/$B0" || true)
c_eq "$code" 200 "control: a client with a peer certificate of the shared root gets a 200 on the peer port"
c_eq "$(sha256_of "$T/control.body")" "$B0" "control: ...and the cached blob's bytes"

# ---- a fake peer that misbehaves
# (Exists because no real replica misbehaves on demand.) It presents a real peer certificate and
# answers every request for its blob as MODE (read from a file per connection) says.
cat >"$T/fake_peer.py" <<'EOF'
import os, socket, ssl, sys, threading
ip, port, crt, key, blob_dir, mode_file, log_path = sys.argv[1:8]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(crt, key)
log = open(log_path, "a", buffering=1)

def handle(conn):
    try:
        if open(mode_file).read().strip() == "silent":  # accepts, then never says a word (no TLS)
            log.write("silent connection\n")
            threading.Event().wait(30)
            return
        tls = ctx.wrap_socket(conn, server_side=True)
        head = b""
        while b"\r\n\r\n" not in head:
            b = tls.recv(4096)
            if not b:
                return
            head += b
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        mode = open(mode_file).read().strip()
        log.write(f"{mode} {line}\n")
        digest = line.split(" ")[1].rsplit("/", 1)[-1].split("?")[0] if " " in line else ""
        path = os.path.join(blob_dir, digest)
        if not digest.startswith("sha256:") or not os.path.isfile(path):
            tls.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        blob = open(path, "rb").read()
        hdr = (f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len(blob)}\r\n"
               f"Docker-Content-Digest: {digest}\r\nX-Cache: HIT\r\nConnection: close\r\n\r\n").encode()
        if line.startswith("HEAD "):
            tls.sendall(hdr)
        elif mode == "garbage":
            tls.sendall(b"\x00\xff NOT HTTP AT ALL \xfe" * 64)
        elif mode == "truncated":
            tls.sendall(hdr + blob[: len(blob) // 2])
        elif mode == "wrongbyte":
            body = bytearray(blob)
            body[len(body) // 2] ^= 0x01
            tls.sendall(hdr + bytes(body))
        elif mode == "good":
            tls.sendall(hdr + blob)
        elif mode == "badlength":
            tls.sendall(hdr.replace(f"Content-Length: {len(blob)}".encode(), f"Content-Length: {len(blob) + 10}".encode()) + blob)
        try:
            tls.unwrap()
        except (OSError, ssl.SSLError):
            pass
    except (OSError, ssl.SSLError) as e:
        log.write(f"error {e}\n")
    finally:
        conn.close()

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((ip, int(port)))
srv.listen(64)
open(os.path.join(os.path.dirname(log_path), "port"), "w").write(port + "\n")
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
EOF
# F: a blob the fake owns (of r and the fake).
F=$(pick_blob "$T/f.bin" 300000 "$M_FAKE" "$M_R" "$M_FAKE")
upload_blob "$T/f.bin" library/peer
mkdir -p "$T/fake-peer"
mkdir -p "$T/fake-peer/blobs"
cp "$T/f.bin" "$T/fake-peer/blobs/$F"
echo garbage >"$T/fake-peer/mode"
FAKE_LOG="$T/fake-peer/requests.log"
: >"$FAKE_LOG"
$PY "$T/fake_peer.py" "$FAKE_IP" "$FAKE_PORT" "$PKI/peer.crt" "$PKI/peer.key" "$T/fake-peer/blobs" \
  "$T/fake-peer/mode" "$FAKE_LOG" >"$T/fake-peer/stdout.log" 2>&1 &
FAKE_PID=$!
_register_pid "$FAKE_PID" fake-peer
_register_log "fake peer requests" "$FAKE_LOG"
_register_log "fake peer output" "$T/fake-peer/stdout.log"
wait_port_file "$FAKE_PID" "$T/fake-peer" "fake peer"

# An image whose tag r owns (the fake knows no tags) and whose blobs include one the fake owns
# (make_image.py seeds and repository names tried in turn).
for s in $(seq 1 40); do
  FB=""
  IMG_REPO="library/peerimg$s"
  [ "$(owner "registry.test:$RPORT/$IMG_REPO" "$M_R" "$M_FAKE")" = "$M_R" ] || continue
  rm -rf "$T/img"
  IMG_DIGEST=$($PY "$IT_DIR/make_image.py" "$T/img" --layers 2 --size 150000 --seed "peer-$s")
  for d in $(image_blobs "$T/img"); do
    [ "$(owner "$d" "$M_R" "$M_FAKE")" != "$M_FAKE" ] || { FB=$d; break; }
  done
  [ -z "$FB" ] || break
done
[ -n "$FB" ] || fail "no image seed gives a blob owned by the fake"
SEED_DIGEST=$IMG_DIGEST
push_seed_dir "$RADDR" "$IMG_REPO:1" "$T/img" "$RCREDS" "2 layers, a blob (${FB:7:12}) owned by the fake"
FAKE_BLOBS=()
for d in $(image_blobs "$T/img"); do # every blob of the image the fake owns, it serves
  [ "$(owner "$d" "$M_R" "$M_FAKE")" = "$M_FAKE" ] || continue
  cp "$T/img/${d#sha256:}" "$T/fake-peer/blobs/$d"
  FAKE_BLOBS+=("$d")
done
FAKE_RE=$(IFS='|'; echo "${FAKE_BLOBS[*]}")
IMAGE="registry.test:$RPORT/$IMG_REPO:1"

for mode in garbage truncated wrongbyte badlength; do
  echo "$mode" >"$T/fake-peer/mode"
  # A peer skipped after the last failure is asked again once r's probe (every PEERS_REFRESH)
  # finds it answering the TLS handshake: every mode but 'silent' does.
  wait_replica_metric r pullthrough_peer_members_up 2 10 || fail "fake peer '$mode': r never probed it up again"
  before=$(grep -c "^$mode GET .*$F" "$FAKE_LOG" || true)
  rc=0
  rcurl r -o "$T/f.body" "$URL/$F" 2>"$T/f.err" || rc=$?
  got=$(sha256_of "$T/f.body" 2>/dev/null || echo none)
  if [ "$rc" = 0 ]; then
    c_eq "$got" "$F" "fake peer '$mode': the client's transfer completed only with the right bytes (fallback)"
  else
    ok "fake peer '$mode': the client's transfer failed (curl exit $rc: $(head -c 150 "$T/f.err"))"
  fi
  if [ "$(grep -c "^$mode GET .*$F" "$FAKE_LOG" || true)" -gt "$before" ]; then
    ok "fake peer '$mode': r did ask the fake for F"
  else
    soft_fail "fake peer '$mode': r never asked the fake for F (the check above proves nothing)"
  fi
  if [ "$mode" = wrongbyte ]; then
    # A manifest by digest is checked as a blob is: F's bytes, one flipped, asked as a manifest.
    wait_replica_metric r pullthrough_peer_members_up 2 10 || fail "fake peer '$mode': r never probed it up again"
    rc=0
    code=$(rcurl r -o "$T/m.body" -w '%{http_code}' -H 'Accept: application/octet-stream' \
      "https://registry.test:$RPORT/v2/library/peer/manifests/$F" 2>/dev/null) || rc=$?
    if [ "$rc" = 0 ] && [ "$code" = 200 ]; then
      c_eq "$(sha256_of "$T/m.body")" "$F" "fake peer 'wrongbyte', manifest by digest: a completed 200 has the right bytes"
    else
      ok "fake peer 'wrongbyte', manifest by digest: no completed 200 (curl exit $rc, HTTP ${code:-none})"
    fi
    if grep -q "^wrongbyte GET .*/manifests/$F " "$FAKE_LOG"; then ok "...and r did ask the fake for it"; else
      soft_fail "fake peer 'wrongbyte': r never asked the fake for manifests/$F"
    fi
  fi
  assert_replica_alive r
  # skopeo through r: fails or verifies, never an image with a wrong blob.
  wait_replica_metric r pullthrough_peer_members_up 2 10 || fail "fake peer '$mode': r never probed it up again"
  before=$(grep -cE "^$mode GET .*($FAKE_RE)" "$FAKE_LOG" || true)
  rc=0
  replica_pull r "$IMAGE" "$T/pull-$mode" >"$T/pull-$mode.log" 2>&1 || rc=$?
  if [ "$(grep -cE "^$mode GET .*($FAKE_RE)" "$FAKE_LOG" || true)" -gt "$before" ]; then
    ok "fake peer '$mode': skopeo's pull through r asked the fake for a blob it owns"
  else
    soft_fail "fake peer '$mode': the pull through r never asked the fake for its blobs (${#FAKE_BLOBS[@]})"
  fi
  if [ "$rc" = 0 ]; then
    verify_dir_digests "$T/pull-$mode" "$SEED_DIGEST"
  else
    ok "fake peer '$mode': skopeo through r failed (exit $rc: $(tail -n 1 "$T/pull-$mode.log" | cut -c1-160))"
  fi
  assert_replica_alive r
done
c_ge "$(replica_metric r pullthrough_peer_failures_total)" 1 "r counted the fake's failures (pullthrough_peer_failures_total)"

# A peer that accepts the connection and then says nothing (no TLS handshake): given up within
# about PEER_CONNECT_TIMEOUT (1 s here), and the replica goes upstream itself.
echo silent >"$T/fake-peer/mode"
sleep 1.3 # (the fake is skipped after its last failure; r's probes meet its silence too)
t0=$(date +%s.%N)
rc=0
rcurl r --max-time 30 -o "$T/f.body" "$URL/$F" 2>"$T/f.err" || rc=$?
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')
grep -q '^silent connection' "$FAKE_LOG" || soft_fail "fake peer 'silent': r never connected to it"
if [ "$rc" = 0 ] && [ "$(sha256_of "$T/f.body")" = "$F" ]; then
  ok "fake peer 'silent': r fell back upstream, right bytes, after $secs s"
elif [ "$rc" = 0 ]; then
  fail "fake peer 'silent': the GET through r completed with wrong bytes"
else
  # Seen at 9e0aa53: r logs "peer ... failed (...: TLS handshake failed: Operation aborted.); the
  # next replicas take its share for now" after PEER_CONNECT_TIMEOUT, then closes the client's
  # connection without an answer (curl 52, no access-log line): the connect timeout is armed on
  # the session's own deadline (Session::exchange, deadline_.expires_after(connect_timeout)), whose
  # watchdog ends the whole session instead of failing this one peer over.
  known_bug PEER_SILENT_FALLBACK "a peer silent after accept: the client's GET through r failed (curl exit $rc after $secs s: $(head -c 120 "$T/f.err")) instead of r going upstream itself"
  grep -E 'TLS handshake failed|the next replicas take' "${R_LOG[r]}" | tail -n 2 | cut -c1-300
fi
if awk -v s="$secs" 'BEGIN{exit !(s < 8)}'; then ok "fake peer 'silent': given up within 8 s (PEER_CONNECT_TIMEOUT=1s): $secs s"; else
  soft_fail "fake peer 'silent': the GET through r took $secs s with PEER_CONNECT_TIMEOUT=1s"
fi
assert_replica_alive r

# After all that, r still serves: with the fake answering right, F comes through it.
echo good >"$T/fake-peer/mode"
wait_replica_metric r pullthrough_peer_members_up 2 10 || fail "the fake answering right: r never probed it up again"
mark=$(rlog_mark r)
rcurl r -o "$T/f.body" "$URL/$F" || fail "GET of F through r with the fake answering right failed"
assert_eq "$(sha256_of "$T/f.body")" "$F" "the fake answering right: F through r, right bytes"
wait_rlog_lines r 1 "path=/v2/library/peer/blobs/$F " "$mark" || true
c_match "$(rlog_lines r "path=/v2/library/peer/blobs/$F " "$mark")" " peer=$M_FAKE( |$)" \
  "r forwarded F to the fake (its owner) once it answered right"
assert_replica_log_clean r
cluster_finish
