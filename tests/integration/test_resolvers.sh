#!/usr/bin/env bash
# RESOLVERS: upstream names resolved through the configured DNS servers (c-ares), not the system
# resolver. Real c-ares queries over UDP against fake_dns.py (a tiny table-driven DNS server),
# driven through tests/proxy/net/dns_probe (a command-line client of pt::net::DnsResolver):
# A and AAAA, CNAME, NXDOMAIN, a server that never answers (bounded timeout), fail-over to the next
# server after a silent, a SERVFAIL and a closed one, an IPv6 server, one query for concurrent
# lookups, the cache and its TTL; then the proxy itself reaching registry.test through RESOLVERS.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

require_cmd "$PY"
DNS_PROBE=${DNS_PROBE_BIN:-$(dirname "$PULLTHROUGH_BIN")/tests/dns_probe}
[ -x "$DNS_PROBE" ] || fail "$DNS_PROBE not found (build it: ninja -C build dns_probe)"

DNS_IP=127.0.0.50 # fake_dns instances; .51 stays free for "nothing listening"
CLOSED_IP=127.0.0.51

# start_fake_dns LABEL IP [fake_dns.py args...] — sets DNS_PORT DNS_LOG.
start_fake_dns() {
  local label=$1 ip=$2
  shift 2
  local dir="$T/dns-$label"
  mkdir -p "$dir"
  DNS_LOG="$dir/queries.log"
  : >"$DNS_LOG"
  $PY "$IT_DIR/fake_dns.py" --ip "$ip" --port-file "$dir/port" --log "$DNS_LOG" "$@" >"$dir/stdout.log" 2>&1 &
  local pid=$!
  _register_pid "$pid" "fake-dns-$label"
  _register_log "fake dns $label queries" "$DNS_LOG"
  _register_log "fake dns $label output" "$dir/stdout.log"
  wait_port_file "$pid" "$dir" "fake dns $label"
  DNS_PORT=$WAITED_PORT
  log "fake dns $label on $ip:$DNS_PORT ($*)"
}

# queries LOG NAME TYPE — how many queries for NAME/TYPE the fake logged.
queries() { grep -cxF -- "$2 $3" "$1" || true; }

probe() { "$DNS_PROBE" "$@" 2>&1; }

RECORDS=(--record registry.test=127.0.0.21 --record registry.test=fd00::21 --record v6only.test=fd00::22
  --cname alias.test=registry.test)
start_fake_dns good "$DNS_IP" "${RECORDS[@]}"
GOOD="$DNS_IP:$DNS_PORT"
GOOD_LOG=$DNS_LOG
start_fake_dns silent "$DNS_IP" --silent
SILENT="$DNS_IP:$DNS_PORT"
start_fake_dns servfail "$DNS_IP" --servfail
SERVFAIL="$DNS_IP:$DNS_PORT"
CLOSED="$CLOSED_IP:$(free_port "$CLOSED_IP")" # nothing listens there

log "A and AAAA from the configured server"
out=$(probe --servers "$GOOD" registry.test)
assert_match "$out" '^registry\.test ok 127\.0\.0\.21,fd00::21 [0-9]+$' "registry.test resolves to 127.0.0.21 (A) and fd00::21 (AAAA)"
assert_eq "$(queries "$GOOD_LOG" registry.test A)" 1 "one A query went to the fake"
assert_eq "$(queries "$GOOD_LOG" registry.test AAAA)" 1 "one AAAA query went to the fake"
out=$(probe --servers "$GOOD" V6ONLY.test.)
assert_match "$out" '^V6ONLY\.test\. ok fd00::22 [0-9]+$' "an AAAA-only name resolves (case and trailing dot ignored)"
out=$(probe --servers "$GOOD" alias.test)
assert_match "$out" '^alias\.test ok 127\.0\.0\.21,fd00::21 [0-9]+$' "a CNAME is followed to its target's addresses"
out=$(probe --servers "$GOOD" 10.9.8.7 '[fd00::9]')
assert_contains "$out" "10.9.8.7 ok 10.9.8.7" "an IPv4 literal is returned as is"
assert_contains "$out" "[fd00::9] ok fd00::9" "an IPv6 literal is returned as is"
assert_eq "$(queries "$GOOD_LOG" 10.9.8.7 A)" 0 "literals are not queried"

log "NXDOMAIN"
out=$(probe --servers "$GOOD" missing.test)
assert_match "$out" '^missing\.test error [0-9]+ no such name \(NXDOMAIN\)$' "an unknown name is NXDOMAIN"

log "concurrent lookups share one query; later rounds come from the cache"
: >"$GOOD_LOG"
out=$(probe --servers "$GOOD" --concurrent 8 --rounds 3 registry.test)
assert_eq "$(grep -c '^registry.test ok 127.0.0.21,fd00::21 ' <<<"$out")" 24 "24 lookups answered"
assert_eq "$(queries "$GOOD_LOG" registry.test A)" 1 "8 concurrent lookups x 3 rounds: one A query"
assert_eq "$(queries "$GOOD_LOG" registry.test AAAA)" 1 "...and one AAAA query"
: >"$GOOD_LOG"
out=$(probe --servers "$GOOD" --rounds 3 missing.test)
assert_eq "$(grep -c 'no such name' <<<"$out")" 3 "NXDOMAIN every round"
assert_eq "$(queries "$GOOD_LOG" missing.test A)" 1 "NXDOMAIN is cached too (negative TTL)"

log "TTL: an answer is asked again once its TTL is over"
start_fake_dns shortttl "$DNS_IP" --ttl 1 "${RECORDS[@]}"
SHORT="$DNS_IP:$DNS_PORT"
SHORT_LOG=$DNS_LOG
out=$(probe --servers "$SHORT" --min-ttl-s 1 --rounds 2 --pause-ms 1500 registry.test)
assert_eq "$(grep -c ' ok ' <<<"$out")" 2 "both rounds answered"
assert_eq "$(queries "$SHORT_LOG" registry.test A)" 2 "TTL 1 s, 1.5 s apart: asked twice"
: >"$SHORT_LOG"
probe --servers "$SHORT" --rounds 2 --pause-ms 1500 registry.test >/dev/null
assert_eq "$(queries "$SHORT_LOG" registry.test A)" 1 "TTL 1 s raised to the 5 s minimum: asked once"

log "a server that never answers: bounded timeout"
start=$(date +%s%N)
out=$(probe --servers "$SILENT" --try-ms 300 --tries 10 --total-ms 1500 registry.test)
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
assert_match "$out" "^registry\.test error [0-9]+ no answer from DNS server\(s\) $SILENT within 1500 ms$" "a silent server times out"
ms=$(awk '{print $3}' <<<"$out")
if [ "$ms" -lt 1400 ] || [ "$ms" -gt 2500 ]; then fail "the lookup took $ms ms, expected about 1500"; fi
ok "the lookup gave up after ${ms} ms (total cap 1500 ms)"
[ "$elapsed_ms" -le 4000 ] || fail "dns_probe took $elapsed_ms ms"
ok "dns_probe returned after ${elapsed_ms} ms"
out=$(probe --servers "$SILENT" registry.test)
assert_match "$out" "^registry\.test error [0-9]+ no answer from DNS server\(s\) $SILENT " "default options: a silent server times out"
ms=$(awk '{print $3}' <<<"$out")
# 2 tries of 1 s, doubled on the second round: 3 s, within the 4 s cap.
if [ "$ms" -lt 2500 ] || [ "$ms" -gt 4500 ]; then fail "default timeout: the lookup took $ms ms, expected 3000-4000"; fi
ok "default options give up after ${ms} ms (cap 4000 ms)"

log "fail-over to the next server"
out=$(probe --servers "$SILENT $GOOD" --try-ms 300 registry.test)
assert_match "$out" '^registry\.test ok 127\.0\.0\.21' "a silent first server: the second answers"
ms=$(awk '{print $4}' <<<"$out")
[ "$ms" -le 2000 ] || fail "fail-over took $ms ms"
ok "fail-over after one try timeout (${ms} ms)"
out=$(probe --servers "$SERVFAIL,$GOOD" registry.test)
assert_match "$out" '^registry\.test ok 127\.0\.0\.21' "a SERVFAIL first server (comma separated list): the second answers"
out=$(probe --servers "$CLOSED $GOOD" registry.test)
assert_match "$out" '^registry\.test ok 127\.0\.0\.21' "nothing listening on the first server: the second answers"
out=$(probe --servers "$SERVFAIL" --total-ms 2000 registry.test)
assert_match "$out" "^registry\.test error [0-9]+ DNS server\(s\) $SERVFAIL refused or failed the query" \
  "only a SERVFAIL server: an error naming the server"
out=$(probe --servers "$CLOSED" --total-ms 2000 registry.test)
assert_match "$out" "^registry\.test error [0-9]+ DNS server\(s\) $CLOSED refused or failed the query" \
  "only a closed port: an error naming the server"

log "an IPv6 DNS server"
if $PY -c 'import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::1", 0))' 2>/dev/null; then
  start_fake_dns v6 ::1 "${RECORDS[@]}"
  out=$(probe --servers "[::1]:$DNS_PORT" registry.test)
  assert_match "$out" '^registry\.test ok 127\.0\.0\.21,fd00::21 ' "queries reach a server at [::1]:port"
else
  log "no IPv6 loopback here: IPv6 server check skipped"
fi

log "bad RESOLVERS text is refused, naming the entry"
st=0
out=$("$DNS_PROBE" --servers "$GOOD dns.example" registry.test 2>&1) || st=$?
assert_eq "$st" 2 "dns_probe refuses the list"
assert_contains "$out" "RESOLVERS entry 'dns.example'" "the error names the bad entry"

log "end to end: the proxy finds registry.test through RESOLVERS alone (no UPSTREAM_RESOLVE)"
if command -v docker-registry >/dev/null 2>&1 && command -v curl >/dev/null 2>&1; then
  make_test_pki "$T/pki"
  start_registry reg "$REGISTRY_IP" auto
  RPORT=${REG_PORT[reg]}
  start_proxy "REGISTRIES=registry.test missing.test" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" "RESOLVERS=$GOOD"
  : >"$GOOD_LOG"
  code=$(pcurl -o /dev/null -w '%{http_code}' "https://registry.test:$RPORT/v2/" || true)
  assert_eq "$code" 200 "GET https://registry.test:$RPORT/v2/ through the proxy reaches the registry"
  [ "$(queries "$GOOD_LOG" registry.test A)" -ge 1 ] || fail "the proxy did not ask $GOOD for registry.test"
  ok "the proxy asked the RESOLVERS server for registry.test"
  # (not /v2/: when upstream is unreachable the proxy answers that ping itself)
  code=$(pcurl -o /dev/null -w '%{http_code}' "https://missing.test:$RPORT/v2/library/app/manifests/1.0" || true)
  assert_eq "$code" 502 "a name the RESOLVERS server does not know: 502"
  assert_log_contains 'missing\.test.*cannot resolve missing\.test \(RESOLVERS\): no such name \(NXDOMAIN\)'
  stop_proxy TERM
else
  log "docker-registry or curl missing: end-to-end check skipped"
fi

finish
