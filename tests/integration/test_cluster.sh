#!/usr/bin/env bash
# Cluster mode (PEERS): three replicas share one cache through rendezvous ownership. Thirty skopeo
# clients pull the same cold image at once, spread round-robin over the three replicas; the
# registry redirects blob GETs to a CDN (test_redirect_cdn.sh's world), whose access log shows
# each blob fetched exactly once for the whole cluster, and the registry answers the tag once.
# Pulled again through every replica: no new CDN fetch. Non-owners forward to the owner (access
# log `peer=<owner>`, /metrics forwarded counters), owners serve them (served counters), every
# replica sees three members up, and the status page lists them.
# CLUSTER_SOFT=1 goes on past failed checks (to see them all against a build without PEERS).
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
source "$IT_DIR/cluster.sh"
require_cmd docker-registry skopeo nginx openssl curl htpasswd
require_proxy_bin

N=30
cluster_cdn_world
seed_image "$RADDR" library/app:1.0 3 400000
DIGEST=$SEED_DIGEST
IMAGE="registry.test:$RPORT/library/app:1.0"
mapfile -t BLOBS < <(image_blobs "$SEED_DIR")
REPO_PATH=/v2/library/app

NAMES=(a b c)
cluster_plan a 127.0.0.31
cluster_plan b 127.0.0.32
cluster_plan c 127.0.0.33
PEERS=$(cluster_members a b c)
read -r -a MEMBERS <<<"$PEERS"
# The first replica creates the shared CA directory; the others load it.
for n in "${NAMES[@]}"; do start_replica "$n" "PEERS=$PEERS" PEERS_REFRESH=2s; done
for n in "${NAMES[@]}"; do
  wait_replica_metric "$n" pullthrough_peer_members_up 3 10 ||
    soft_fail "replica $n: pullthrough_peer_members_up is $(replica_metric "$n" pullthrough_peer_members_up), expected 3"
done
ok "every replica sees the three members up"

# Who owns what (the spec's rendezvous hashing, computed here independently).
TAG_KEY="registry.test:$RPORT/library/app"
declare -A OWNER=() OWNED=()
for n in "${NAMES[@]}"; do OWNED[$n]=0; done
for k in "$TAG_KEY" "${BLOBS[@]}"; do
  OWNER[$k]=$(replica_of_member "$(owner "$k" "${MEMBERS[@]}")")
  OWNED[${OWNER[$k]}]=$((OWNED[${OWNER[$k]}] + 1))
  log "owner of $k: ${OWNER[$k]}"
done

# ---- thirty cold pulls at once, round-robin over the replicas
t0=$(date +%s.%N)
pids=()
for i in $(seq 1 $N); do
  n=${NAMES[$((i % 3))]}
  replica_pull "$n" "$IMAGE" "$T/out$i" >"$T/pull$i.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in $(seq 1 $N); do
  if ! wait "${pids[$((i - 1))]}"; then
    failed=$((failed + 1))
    echo "--- pull $i (replica ${NAMES[$((i % 3))]}) failed:"
    cat "$T/pull$i.log"
  fi
done
log "$N pulls took $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}') s"
assert_eq "$failed" 0 "$N concurrent cold pulls through three replicas all succeeded"
for i in $(seq 1 $N); do msg=$($PY "$IT_DIR/verify_dir.py" "$T/out$i" "$DIGEST") || fail "pull $i: $msg"; done
ok "all $N pulled images verify (every blob's sha256, the manifest digest)"

sleep 0.3 # nginx and the registry log a request once it is sent
for d in "${BLOBS[@]}"; do
  c_eq "$(cdn_gets "$d")" 1 "blob ${d:7:12} (owner ${OWNER[$d]}): one CDN GET for the whole cluster"
  c_eq "$(registry_requests reg GET "$REPO_PATH/blobs/$d")" 1 "blob ${d:7:12}: one registry GET"
done
c_eq "$(registry_requests reg GET "$REPO_PATH/manifests/1.0")" 1 \
  "the tag manifest (owner ${OWNER[$TAG_KEY]}): one registry GET for the whole cluster"

# ---- forwarding, as the access logs tell it
for d in "${BLOBS[@]}"; do
  o=${OWNER[$d]}
  for n in "${NAMES[@]}"; do
    [ "$n" != "$o" ] || continue
    wait_rlog_lines "$n" $((N / 3)) "path=$REPO_PATH/blobs/$d " || true
    lines=$(rlog_lines "$n" "path=$REPO_PATH/blobs/$d ")
    c_eq "$(grep -c " peer=${R_PEER[$o]}" <<<"$lines" || true)" $((N / 3)) \
      "blob ${d:7:12}: replica $n logged its $((N / 3)) requests with peer=${R_PEER[$o]}"
  done
  # The owner's log: its own clients' requests and those the two others forwarded.
  wait_rlog_lines "$o" "$N" "path=$REPO_PATH/blobs/$d " || true
  lines=$(rlog_lines "$o" "path=$REPO_PATH/blobs/$d ")
  c_eq "$(grep -c ' peer=' <<<"$lines" || true)" 0 "blob ${d:7:12}: owner $o forwarded none of its requests"
  c_eq "$(grep -c ' for_peer=1' <<<"$lines" || true)" $((2 * N / 3)) \
    "blob ${d:7:12}: owner $o logged the $((2 * N / 3)) requests the two others forwarded (for_peer=1)"
done
d=${BLOBS[1]}
o=${OWNER[$d]}
for n in "${NAMES[@]}"; do [ "$n" = "$o" ] || { fwd=$n; break; }; done
assert_rlog_line "$fwd" "path=$REPO_PATH/blobs/$d " "peer=${R_PEER[$o]}" status=200 're:cache=(HIT|MISS)'
# (The owner's line for a forwarded request is an ordinary one marked for_peer=1; its client is the
# peer link's TCP source, 127.0.0.1 on loopback: the forwarder does not bind to its PEER_LISTEN address.)
assert_rlog_line "$o" "path=$REPO_PATH/blobs/$d " status=200 for_peer=1 're:cache=(HIT|MISS)'

# The /v2/ ping is not owned by anyone: each replica asks the registry itself.
for n in "${NAMES[@]}"; do
  pings=$(rlog_lines "$n" "path=/v2/ ")
  c_ge "$(grep -c . <<<"$pings" || true)" 1 "replica $n answered /v2/ pings"
  c_eq "$(grep -c ' peer=' <<<"$pings" || true)" 0 "replica $n: no /v2/ ping forwarded to a peer"
done

# ---- the same image again through every replica: nothing new from the CDN
declare -A before=()
for d in "${BLOBS[@]}"; do before[$d]=$(cdn_gets "$d"); done
pids=()
for n in "${NAMES[@]}"; do
  replica_pull "$n" "$IMAGE" "$T/again-$n" >"$T/again-$n.log" 2>&1 &
  pids+=($!)
done
wait_pids "${pids[@]}" || { cat "$T"/again-*.log; fail "a second pull failed"; }
for n in "${NAMES[@]}"; do verify_dir_digests "$T/again-$n" "$DIGEST"; done
sleep 0.3
new=0
for d in "${BLOBS[@]}"; do new=$((new + $(cdn_gets "$d") - before[$d])); done
c_eq "$new" 0 "the image pulled again through each replica: no new CDN GET"

# ---- metrics and status page
for n in "${NAMES[@]}"; do
  fwd_req=$(replica_metric "$n" pullthrough_peer_forwarded_requests_total)
  fwd_bytes=$(replica_metric "$n" pullthrough_peer_forwarded_bytes_total)
  srv_req=$(replica_metric "$n" pullthrough_peer_served_requests_total)
  srv_bytes=$(replica_metric "$n" pullthrough_peer_served_bytes_total)
  nonowned=$((1 + ${#BLOBS[@]} - OWNED[$n]))
  log "replica $n owns ${OWNED[$n]} key(s): forwarded $fwd_req req / $fwd_bytes B, served $srv_req req / $srv_bytes B"
  # Round 1: N/3 pulls through each replica, each asking every key once; round 2: one more each.
  c_ge "$fwd_req" $(((N / 3 + 1) * nonowned)) "replica $n: pullthrough_peer_forwarded_requests_total"
  c_ge "$srv_req" $(((N / 3 + 1) * 2 * OWNED[$n])) "replica $n: pullthrough_peer_served_requests_total"
  if [ "$nonowned" -gt 0 ]; then c_ge "$fwd_bytes" 1 "replica $n: pullthrough_peer_forwarded_bytes_total"; fi
  if [ "${OWNED[$n]}" -gt 0 ]; then c_ge "$srv_bytes" 1 "replica $n: pullthrough_peer_served_bytes_total"; fi
  c_eq "$(replica_metric "$n" pullthrough_peer_members)" 3 "replica $n: pullthrough_peer_members 3"
  c_eq "$(replica_metric "$n" pullthrough_peer_members_up)" 3 "replica $n: pullthrough_peer_members_up 3"
  c_eq "$(replica_metric "$n" pullthrough_peer_failures_total)" 0 "replica $n: pullthrough_peer_failures_total 0"
done
status=$(curl -s --max-time 5 "${R_URL[a]}/" || true)
for m in "${MEMBERS[@]}"; do
  case "$status" in *"$m"*) ok "replica a's status page lists member $m" ;;
    *) soft_fail "replica a's status page does not list member $m" ;; esac
done
# Each member on a row with its state: this replica ("this replica", or "self"), the others up.
rows=$(grep -oE '<tr><td>[^<]+</td><td>[^<]+</td></tr>' <<<"$status" || true)
c_match "$rows" "<td>${R_PEER[a]}</td><td>(this replica|self)</td>" "the status page marks a's own member as this replica"
for n in b c; do
  c_match "$rows" "<td>${R_PEER[$n]}</td><td>up</td>" "the status page shows member ${R_PEER[$n]} ($n) up"
done

for n in "${NAMES[@]}"; do
  assert_replica_alive "$n"
  assert_replica_log_clean "$n"
done
cluster_finish
