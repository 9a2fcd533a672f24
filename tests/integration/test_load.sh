#!/usr/bin/env bash
# 1,000 concurrent client connections through CONNECT + TLS, half pulling an image (digests
# checked), half sending HEAD storms, all open at once; three times. No errors, and afterwards no growth:
# the proxy's sockets return to where they were, and its memory after the third round
# settles (a leak would grow with every round). Bounded: ~1 minute.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd skopeo curl
require_proxy_bin

ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 4096 ] || skip "needs 4096 file descriptors (ulimit -n is $(ulimit -n))"
start_standard_registry
# (HEADER_TIMEOUT: the first connections wait for the last ones to open before they send a request)
start_proxy "${STD_PROXY_ENV[@]}" MAX_CONNECTIONS=5000 HEADER_TIMEOUT=90s
proxy_pull "$IMAGE" "$T/warm" --src-creds "$RCREDS" >/dev/null # the cache holds the image
# ... and the tag under the Accept variant the HEAD storm uses.
pcurl -u "$RCREDS" -H "Accept: application/vnd.docker.distribution.manifest.v2+json" -o /dev/null \
  "https://registry.test:$RPORT/v2/library/app/manifests/1.0"
blob_args=()
for b in $(image_blobs "$SEED_DIR_APP"); do blob_args+=(--blob "$b"); done
# Sockets only: RocksDB may open table and log files of its own as the index is written.
fds() { find "/proc/$PROXY_PID/fd" -mindepth 1 -maxdepth 1 -lname 'socket:*' | wc -l; }
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$PROXY_PID/status"; }
sleep 1
fds_before=$(fds)
log "before: $fds_before fds, $(rss_kb) kB RSS"

round() { # N
  local started took
  started=$(date +%s)
  timeout 180 "$PY" "$IT_DIR/load_client.py" --proxy-port "$PROXY_PORT" --cafile "$PROXY_CA_CRT" \
    --host registry.test --port "$RPORT" --repo library/app --tag 1.0 --manifest "$DIGEST" "${blob_args[@]}" \
    --authorization "Basic $(printf '%s' "$RCREDS" | base64)" --connections 1000 --heads 5 \
    --source-ips 127.0.0.101,127.0.0.102,127.0.0.103,127.0.0.104,127.0.0.105,127.0.0.106,127.0.0.107,127.0.0.108 \
    >"$T/load.$1.json" || true
  took=$(($(date +%s) - started))
  log "round $1 (${took}s): $(cat "$T/load.$1.json")"
  assert_match "$(cat "$T/load.$1.json")" '"held": 1000,' "round $1: 1000 connections held at once"
  assert_match "$(cat "$T/load.$1.json")" '"errors": 0,' "round $1: no errors"
}
# Three rounds: the first grows the allocator's arenas to their working size (and which thread
# frees what varies, so the second may still add some); a leak keeps growing in the third.
rss=()
for n in 1 2 3; do
  round "$n"
  sleep 2
  rss+=("$(rss_kb)")
  fds_now=$(fds)
  [ "$fds_now" -le $((fds_before + 4)) ] || fail "sockets grew: $fds_before before, $fds_now after round $n"
done
log "RSS after rounds 1-3: ${rss[*]} kB"
ok "sockets back to $fds_before (+-4) after each round"
[ "${rss[2]}" -le $((rss[1] + rss[1] / 10 + 16384)) ] || fail "memory still grew in round 3: ${rss[*]} kB"
ok "memory after round 3 (${rss[2]} kB) not above round 2 (${rss[1]} kB) by more than 10% + 16 MB"
assert_log_not_contains 'ended with an exception'
assert_proxy_alive
finish
