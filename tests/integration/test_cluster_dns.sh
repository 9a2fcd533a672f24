#!/usr/bin/env bash
# Cluster mode with members from DNS: PEERS=dns:peers.test:PORT, resolved through RESOLVERS (a
# fake_dns.py whose table is rewritten and reloaded with SIGHUP) every PEERS_REFRESH=1s. The
# three replicas listen for peers on the SAME port on different addresses (DNS gives addresses,
# PEERS the port). At first DNS names two of them: the third forwards everything to the two and
# owns nothing. Added to DNS, it owns its keys (a blob it owns by the rendezvous hash is forwarded
# to it). A replica removed from DNS loses its keys to the next in order.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
source "$IT_DIR/cluster.sh"
require_cmd docker-registry nginx openssl curl htpasswd
require_proxy_bin

IPS=(127.0.0.41 127.0.0.42 127.0.0.43)
DNS_IP=127.0.0.52
cluster_cdn_world

# One peer port free on all three addresses.
PP=""
for _ in $(seq 1 20); do
  p=$(free_port "${IPS[0]}")
  if $PY - "$p" "${IPS[@]:1}" <<'EOF'; then PP=$p; break; fi
import socket, sys
port = int(sys.argv[1])
for ip in sys.argv[2:]:
    s = socket.socket()
    try:
        s.bind((ip, port))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
EOF
done
[ -n "$PP" ] || fail "no port free on ${IPS[*]}"
cluster_plan d1 "${IPS[0]}" "$PP"
cluster_plan d2 "${IPS[1]}" "$PP"
cluster_plan d3 "${IPS[2]}" "$PP"
M1=${R_PEER[d1]} M2=${R_PEER[d2]} M3=${R_PEER[d3]}

# ---- the DNS server: peers.test from a records file, reloaded on SIGHUP
DNS_DIR="$T/dns"
mkdir -p "$DNS_DIR"
set_dns() { # IP... : peers.test's A records
  local ip lines=""
  for ip in "$@"; do lines+="peers.test=$ip"$'\n'; done
  printf '%s' "$lines" >"$DNS_DIR/records.new"
  mv "$DNS_DIR/records.new" "$DNS_DIR/records"
}
set_dns "${IPS[0]}" "${IPS[1]}"
$PY "$IT_DIR/fake_dns.py" --ip "$DNS_IP" --port-file "$DNS_DIR/port" --log "$DNS_DIR/queries.log" --ttl 1 \
  --records-file "$DNS_DIR/records" --record "registry.test=$REGISTRY_IP" --record "cdn.test=$CDN_IP" \
  >"$DNS_DIR/stdout.log" 2>&1 &
DNS_PID=$!
_register_pid "$DNS_PID" fake-dns
_register_log "fake dns queries" "$DNS_DIR/queries.log"
wait_port_file "$DNS_PID" "$DNS_DIR" "fake dns"
DNS_ADDR="$DNS_IP:$WAITED_PORT"
reload_dns() { # IP... : rewrites the table and waits for the fake to have read it
  local before i
  before=$(grep -c '^reloaded' "$DNS_DIR/stdout.log" || true)
  set_dns "$@"
  kill -HUP "$DNS_PID"
  for i in $(seq 1 50); do
    [ "$(grep -c '^reloaded' "$DNS_DIR/stdout.log" || true)" -gt "$before" ] && return 0
    sleep 0.1
  done
  fail "fake_dns did not reload its records"
}

for n in d1 d2 d3; do
  start_replica "$n" "PEERS=dns:peers.test:$PP" "RESOLVERS=$DNS_ADDR" PEERS_REFRESH=1s PEER_CONNECT_TIMEOUT=1s
done
for _ in $(seq 1 30); do grep -q '^peers.test A$' "$DNS_DIR/queries.log" && break; sleep 0.1; done
if grep -q '^peers.test A$' "$DNS_DIR/queries.log"; then ok "the replicas ask RESOLVERS for peers.test"; else
  soft_fail "no replica asked RESOLVERS ($DNS_ADDR) for peers.test"
fi
for n in d1 d2 d3; do
  wait_replica_metric "$n" pullthrough_peer_members 2 10 ||
    soft_fail "replica $n: pullthrough_peer_members $(replica_metric "$n" pullthrough_peer_members), expected 2 (DNS names d1 and d2)"
done
ok "DNS names d1 and d2: every replica counts two members"

# Blobs picked by their owners (the spec's rendezvous hash over "ip:port" members).
K1=$(pick_blob "$T/k1.bin" 30000 "$M1" "$M1" "$M2")                 # d1's, of {d1,d2}
K2x=$(pick_blob "$T/k2x.bin" 30000 "$M2" "$M1" "$M2")               # d2's, of {d1,d2}
K3=$(pick_blob "$T/k3.bin" 30000 "$M3 $M1" "$M1" "$M2" "$M3")       # d3's once it is in, then d1
K2=$(pick_blob "$T/k2.bin" 30000 "$M2 $M3" "$M1" "$M2" "$M3")       # d2's, then d3
for k in k1 k2x k3 k2; do upload_blob "$T/$k.bin" library/dns; done
URL="https://registry.test:$RPORT/v2/library/dns/blobs"

get_through() { # REPLICA DIGEST LABEL -> the replica's access-log line for it
  local n=$1 d=$2 mark
  mark=$(rlog_mark "$n")
  rcurl "$n" -o "$T/body" "$URL/$d" || fail "$3: GET through $n failed"
  [ "$(sha256_of "$T/body")" = "$d" ] || fail "$3: wrong bytes through $n"
  wait_rlog_lines "$n" 1 "path=/v2/library/dns/blobs/$d " "$mark" || true
  rlog_lines "$n" "path=/v2/library/dns/blobs/$d " "$mark" | tail -n 1
}

# ---- phase 1: d3 is not in DNS: it forwards, owns nothing
line=$(get_through d3 "$K1" "K1")
c_match "$line" " peer=$M1( |$)" "d3 (not in DNS) forwards K1 to its owner d1"
line=$(get_through d3 "$K2x" "K2x")
c_match "$line" " peer=$M2( |$)" "d3 forwards K2x to its owner d2"
line=$(get_through d1 "$K3" "K3 before d3 is in DNS")
c_match "$line" "status=200" "d1: K3 answered while d3 is out of DNS"
c_not_contains "$line" "peer=$M3" "d1 does not send K3 to d3 while d3 is out of DNS"
c_eq "$(replica_metric d3 pullthrough_peer_served_requests_total)" 0 "d3 served no peer request (it owns nothing)"

# ---- phase 2: d3 added to DNS: it owns its share
reload_dns "${IPS[@]}"
t0=$(date +%s)
for n in d1 d2 d3; do
  wait_replica_metric "$n" pullthrough_peer_members 3 15 ||
    soft_fail "replica $n: pullthrough_peer_members $(replica_metric "$n" pullthrough_peer_members) 15 s after d3 joined DNS"
done
ok "d3 joined DNS: every replica counts three members ($(($(date +%s) - t0)) s)"
line=$(get_through d1 "$K3" "K3 after d3 joined")
c_match "$line" " peer=$M3( |$)" "K3 (d3's by the hash) is now forwarded by d1 to d3"
c_ge "$(replica_metric d3 pullthrough_peer_served_requests_total)" 1 "d3 serves peer requests now"
line=$(get_through d3 "$K3" "K3 through its owner")
c_not_contains "$line" "peer=" "d3 serves its own key itself"

# ---- phase 3: d2 removed from DNS: its keys move on
line=$(get_through d1 "$K2" "K2 with d2 in DNS")
c_match "$line" " peer=$M2( |$)" "K2 goes to its owner d2 while d2 is in DNS"
reload_dns "${IPS[0]}" "${IPS[2]}"
t0=$(date +%s)
for n in d1 d3; do
  wait_replica_metric "$n" pullthrough_peer_members 2 15 ||
    soft_fail "replica $n: pullthrough_peer_members $(replica_metric "$n" pullthrough_peer_members) 15 s after d2 left DNS"
done
ok "d2 left DNS: d1 and d3 count two members ($(($(date +%s) - t0)) s)"
mark2=$(rlog_mark d2)
line=$(get_through d1 "$K2" "K2 after d2 left")
c_match "$line" " peer=$M3( |$)" "K2 moved to the next in order, d3"
sleep 0.3
c_eq "$(rlog_lines d2 "path=/v2/library/dns/blobs/$K2 " "$mark2" | wc -l)" 0 "d2 no longer gets K2"

for n in d1 d2 d3; do
  assert_replica_alive "$n"
  assert_replica_log_clean "$n"
done
cluster_finish
