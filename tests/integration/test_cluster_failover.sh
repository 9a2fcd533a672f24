#!/usr/bin/env bash
# Cluster mode: a replica dies mid-transfer. Three replicas; C is (by the rendezvous hash,
# computed here) the owner of a 24 MB layer that the CDN hands out at 6 MB/s (nginx limit_rate),
# so a transfer lasts about four seconds. Clients pull it through A and B (forwarded to C); C is
# SIGKILLed half-way. Nothing corrupt reaches a client: each transfer fails or verifies. Retries
# through A and B succeed (the next owner in rendezvous order takes over, one new CDN fetch), a
# cold image pulls through A while C is down with one CDN fetch per blob, and once C is back on
# its old cache and PEERS_REFRESH has passed, A forwards C's keys to C again and a blob C had
# stored is served from C's cache (no new CDN fetch). Last, C hangs (SIGSTOP): A gives it up after
# PEER_CONNECT_TIMEOUT and the next replica in order serves.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
source "$IT_DIR/cluster.sh"
require_cmd docker-registry skopeo nginx openssl curl htpasswd
require_proxy_bin

BIG=25165824 # 24 MiB: about 4 s at the CDN's 6 MB/s
NGINX_SERVER_EXTRA="limit_rate 6m;" cluster_cdn_world
seed_image_sizes "$RADDR" library/big:1 "$BIG" 50000 60000
BIG_DIGEST=$SEED_DIGEST
BIG_IMAGE="registry.test:$RPORT/library/big:1"
mapfile -t BIG_BLOBS < <(image_blobs "$SEED_DIR")
LAYER=${BIG_BLOBS[1]} # the 24 MiB layer

cluster_plan r1 127.0.0.31
cluster_plan r2 127.0.0.32
cluster_plan r3 127.0.0.33
PEERS=$(cluster_members r1 r2 r3)
read -r -a MEMBERS <<<"$PEERS"
# C is the owner of the large layer; A and B are the other two.
C=$(replica_of_member "$(owner "$LAYER" "${MEMBERS[@]}")")
rest=()
for n in r1 r2 r3; do [ "$n" = "$C" ] || rest+=("$n"); done
A=${rest[0]}
B=${rest[1]}
NEXT=$(replica_of_member "$(owners "$LAYER" "${MEMBERS[@]}" | awk '{print $2}')")
log "the large layer ${LAYER:7:12}: owner C=$C (${R_PEER[$C]}), then $NEXT; A=$A B=$B"
# X: a blob C owns, stored by C before it dies.
X=$(pick_blob "$T/x.bin" 100000 "${R_PEER[$C]}" "${MEMBERS[@]}")
upload_blob "$T/x.bin" library/big
X_URL="https://registry.test:$RPORT/v2/library/big/blobs/$X"
LAYER_URL="https://registry.test:$RPORT/v2/library/big/blobs/$LAYER"

for n in "$A" "$B" "$C"; do start_replica "$n" "PEERS=$PEERS" PEERS_REFRESH=2s PEER_CONNECT_TIMEOUT=1s; done
for n in "$A" "$B" "$C"; do
  wait_replica_metric "$n" pullthrough_peer_members_up 3 10 || soft_fail "replica $n does not see 3 members up"
done

# ---- C stores X (asked through A)
rcurl "$A" -o "$T/x1.body" "$X_URL" || fail "GET of X through A failed"
assert_eq "$(sha256_of "$T/x1.body")" "$X" "X through A: right bytes"
assert_rlog_line "$A" "path=/v2/library/big/blobs/$X " "peer=${R_PEER[$C]}" status=200
sleep 0.2
c_eq "$(cdn_gets "$X")" 1 "X: one CDN GET (by C)"

# ---- pulls through A and B; C killed mid-transfer
rm -f "$T"/*.rc
start_client() { # LABEL COMMAND... : runs in the background, exit status in $T/LABEL.rc
  local label=$1
  shift
  { "$@" >"$T/$label.log" 2>&1 && echo 0 >"$T/$label.rc" || echo $? >"$T/$label.rc"; } &
  CLIENT_PIDS+=($!)
}
CLIENT_PIDS=()
start_client curl-a rcurl "$A" --max-time 120 -o "$T/layer-a.body" "$LAYER_URL"
start_client curl-b rcurl "$B" --max-time 120 -o "$T/layer-b.body" "$LAYER_URL"
start_client skopeo-a replica_pull "$A" "$BIG_IMAGE" "$T/kill-a"
start_client skopeo-b replica_pull "$B" "$BIG_IMAGE" "$T/kill-b"
got=0
for i in $(seq 1 300); do
  got=$(stat -c %s "$T/layer-a.body" 2>/dev/null || echo 0)
  [ "$got" -lt 3000000 ] || break
  [ ! -s "$T/curl-a.rc" ] || break
  sleep 0.05
done
if [ "$got" -lt 3000000 ] || [ "$got" -ge "$BIG" ]; then
  fail "could not catch the transfer through A mid-way (client had $got of $BIG bytes)"
fi
ok "the client of A is mid-transfer ($got of $BIG bytes)"
stop_replica "$C" KILL
KILLED_AT=$(date +%s.%N)
ok "replica C ($C) SIGKILLed mid-transfer"
wait_pids "${CLIENT_PIDS[@]}" || true
for side in a b; do
  rc=$(cat "$T/curl-$side.rc")
  if [ "$rc" = 0 ]; then
    c_eq "$(sha256_of "$T/layer-$side.body")" "$LAYER" "curl through ${side^^}: completed, with the right bytes"
    soft_fail "curl through ${side^^} completed although the owner died mid-body (a completed stream must have come from elsewhere)"
  else
    ok "curl through ${side^^}: the transfer was cut (curl exit $rc, $(stat -c %s "$T/layer-$side.body" 2>/dev/null || echo 0) bytes)"
  fi
  rc=$(cat "$T/skopeo-$side.rc")
  if [ "$rc" = 0 ]; then
    verify_dir_digests "$T/kill-$side" "$BIG_DIGEST"
  else
    ok "skopeo through ${side^^} failed (exit $rc: $(tail -n 1 "$T/skopeo-$side.log" | cut -c1-200))"
    # Whatever skopeo left behind: no blob file named by a digest holds other bytes.
    bad=$($PY - "$T/kill-$side" <<'EOF'
import hashlib, os, re, sys
d = sys.argv[1]
for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
    if re.fullmatch(r"[0-9a-f]{64}", f) and hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest() != f:
        print(f)
EOF
)
    c_eq "$bad" "" "skopeo through ${side^^}: no blob file with wrong bytes left behind"
  fi
done

# ---- retries through A and B: the next owner takes over
t0=$(date +%s.%N)
pids=()
replica_pull "$A" "$BIG_IMAGE" "$T/retry-a" >"$T/retry-a.log" 2>&1 &
pids+=($!)
replica_pull "$B" "$BIG_IMAGE" "$T/retry-b" >"$T/retry-b.log" 2>&1 &
pids+=($!)
wait_pids "${pids[@]}" || { cat "$T/retry-a.log" "$T/retry-b.log"; fail "a retry through A or B failed"; }
log "retries done $(awk -v a="$KILLED_AT" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s after the kill"
verify_dir_digests "$T/retry-a" "$BIG_DIGEST"
verify_dir_digests "$T/retry-b" "$BIG_DIGEST"
sleep 0.3
c_eq "$(cdn_gets "$LAYER")" 2 "the large layer: one CDN GET by C (cut) and one by the next owner ($NEXT)"
for d in "${BIG_BLOBS[@]}"; do
  [ "$d" != "$LAYER" ] || continue
  max=1
  [ "$(replica_of_member "$(owner "$d" "${MEMBERS[@]}")")" != "$C" ] || max=2
  n=$(cdn_gets "$d")
  [ "$n" -le "$max" ] || soft_fail "blob ${d:7:12}: $n CDN GETs (at most $max expected)"
done
ok "the other blobs of the image: at most one CDN GET per owner that had them"
assert_rlog_line "$A" "path=/v2/library/big/blobs/$LAYER " status=200
c_ge "$(replica_metric "$A" pullthrough_peer_failures_total)" 1 "A counted the failure of C (pullthrough_peer_failures_total)"
wait_replica_metric "$A" pullthrough_peer_members_up 2 5 || soft_fail "A: members_up is $(replica_metric "$A" pullthrough_peer_members_up), expected 2 while C is down"
ok "A: pullthrough_peer_members_up 2 while C is down"

# ---- a cold image through A while C is down
seed_image "$RADDR" library/cold:1 3 100000
COLD_DIGEST=$SEED_DIGEST
mapfile -t COLD_BLOBS < <(image_blobs "$SEED_DIR")
replica_pull "$A" "registry.test:$RPORT/library/cold:1" "$T/cold-a" >"$T/cold-a.log" 2>&1 ||
  { cat "$T/cold-a.log"; fail "cold pull through A with C down failed"; }
verify_dir_digests "$T/cold-a" "$COLD_DIGEST"
replica_pull "$B" "registry.test:$RPORT/library/cold:1" "$T/cold-b" >"$T/cold-b.log" 2>&1 ||
  { cat "$T/cold-b.log"; fail "cold pull through B with C down failed"; }
verify_dir_digests "$T/cold-b" "$COLD_DIGEST"
sleep 0.3
for d in "${COLD_BLOBS[@]}"; do
  c_eq "$(cdn_gets "$d")" 1 "cold blob ${d:7:12} (through A, then B, C down): one CDN GET"
done

# ---- C comes back on its cache: it owns its share again
start_replica "$C" "PEERS=$PEERS" PEERS_REFRESH=2s PEER_CONNECT_TIMEOUT=1s
wait_replica_metric "$A" pullthrough_peer_members_up 3 10 ||
  soft_fail "A: members_up $(replica_metric "$A" pullthrough_peer_members_up) 10 s after C's restart, expected 3"
ok "A sees C up again"
markA=$(rlog_mark "$A")
rcurl "$A" -o "$T/x2.body" "$X_URL" || fail "GET of X through A after C's restart failed"
assert_eq "$(sha256_of "$T/x2.body")" "$X" "X through A after C's restart: right bytes"
wait_rlog_lines "$A" 1 "path=/v2/library/big/blobs/$X " "$markA" || true
line=$(rlog_lines "$A" "path=/v2/library/big/blobs/$X " "$markA")
c_match "$line" " peer=${R_PEER[$C]}( |$)" "A forwarded X to C again (peer=${R_PEER[$C]})"
c_match "$line" "cache=HIT" "C served X from the cache it had before the kill (X-Cache HIT)"
sleep 0.2
c_eq "$(cdn_gets "$X")" 1 "X: still one CDN GET"

# ---- C hangs (SIGSTOP): the kernel still accepts its peer connections, nothing answers. A gives
# it up after PEER_CONNECT_TIMEOUT (1 s) and the next in order serves X.
sleep 0.3
kill -STOP "${R_PID[$C]}"
t0=$(date +%s.%N)
rc=0
rcurl "$A" --max-time 30 -o "$T/x3.body" "$X_URL" 2>"$T/x3.err" || rc=$?
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')
if [ "$rc" = 0 ]; then
  assert_eq "$(sha256_of "$T/x3.body")" "$X" "C hung: X through A, right bytes after $secs s (the next owner took over)"
else
  # The same as test_cluster_peer_port's PEER_SILENT_FALLBACK (seen at 9e0aa53): after
  # PEER_CONNECT_TIMEOUT, A logs "peer <C> failed (...TLS handshake failed: Operation aborted.)"
  # and closes the client's connection without an answer instead of asking the next replica.
  known_bug PEER_SILENT_FALLBACK "C hung (SIGSTOP): GET of X through A failed (curl exit $rc after $secs s: $(head -c 120 "$T/x3.err"))"
  grep -E 'TLS handshake failed|the next replicas take' "${R_LOG[$A]}" | tail -n 1 | cut -c1-300
  # The peer is skipped now: the retry goes to the next owner.
  rcurl "$A" --max-time 30 -o "$T/x3.body" "$X_URL" || fail "C hung: the retry of X through A failed too"
  assert_eq "$(sha256_of "$T/x3.body")" "$X" "C hung: the retry of X through A gets the right bytes"
fi
kill -CONT "${R_PID[$C]}"

for n in "$A" "$B" "$C"; do
  assert_replica_alive "$n"
  assert_replica_log_clean "$n"
done
cluster_finish
