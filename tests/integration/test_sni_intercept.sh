#!/usr/bin/env bash
# DNS-hijack mode (INTERCEPT_LISTEN): clients whose DNS points registry.test at the
# proxy connect to it with TLS directly. The proxy reads the SNI, mints a leaf for a
# listed registry and serves the connection exactly as an intercepted CONNECT (same
# cache, credentials, log), reaching the real registry through UPSTREAM_RESOLVE,
# never through the hijacked name. Unlisted names and ClientHellos without SNI are
# refused; a name resolving back to the listener itself (a loop) gets a 502.
# The hijack is simulated with curl --resolve, and for skopeo (Go reads /etc/hosts)
# with a private mount namespace in which /etc/hosts maps registry.test to the proxy.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd unshare
require_proxy_bin
[ "$(id -u)" = 0 ] || skip "needs root for unshare -m (a private /etc/hosts for skopeo)"

SNI_IP=127.0.0.40
start_standard_registry
SPORT=$(free_port "$SNI_IP")
# The upstream of a hijacked connection is <SNI name>:<listener port>; here the real
# registry.test listens on another port, which UPSTREAM_RESOLVE supplies.
start_proxy REGISTRIES="registry.test loop.test" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" \
  "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP:$RPORT loop.test=$SNI_IP" \
  "AUTH_REGISTRIES=registry.test:$RCREDS" "INTERCEPT_LISTEN=$SNI_IP:$SPORT"
assert_log_contains "listening on $SNI_IP:$SPORT \(INTERCEPT_LISTEN\)"
BASE="https://registry.test:$SPORT"
hijack() { curl -sS --max-time 30 --cacert "$PROXY_CA_CRT" --resolve "registry.test:$SPORT:$SNI_IP" "$@"; }

# --- curl: the leaf is the proxy's, for registry.test; credentials are injected
code=$(hijack -o /dev/null -D "$T/ping.h" -w '%{http_code}' "$BASE/v2/") || fail "curl to the SNI listener failed"
assert_eq "$code" 200 "GET /v2/ on the hijacked name: 200 (AUTH_REGISTRIES injected)"
assert_log_line "host=registry.test:$SPORT" "method=GET" "path=/v2/ " "status=200"
openssl s_client -connect "$SNI_IP:$SPORT" -servername registry.test -CAfile "$PROXY_CA_CRT" \
  -verify_return_error -verify_hostname registry.test </dev/null >"$T/s_client.txt" 2>&1 ||
  { cat "$T/s_client.txt"; fail "openssl s_client to the SNI listener failed"; }
assert_file_contains "$T/s_client.txt" 'Verify return code: 0 \(ok\)' "the minted leaf verifies for registry.test against the proxy CA"

# --- skopeo, with /etc/hosts pointing registry.test at the listener (private mount namespace)
printf '127.0.0.1 localhost\n%s registry.test\n' "$SNI_IP" >"$T/hosts"
hijacked_pull() { # OUT
  rm -rf "$1"
  # shellcheck disable=SC2016 # expanded by the inner sh
  unshare -m sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$T/hosts" \
    "${SKOPEO[@]}" copy --src-cert-dir "$PROXY_CERT_DIR" "docker://registry.test:$SPORT/library/app:1.0" "dir:$1" \
    >"$1.log" 2>&1
}
mark=$(proxy_log_mark)
hijacked_pull "$T/pull1" || { cat "$T/pull1.log"; fail "skopeo pull through the SNI listener failed"; }
ok "skopeo pulled registry.test:$SPORT/library/app:1.0 through the SNI listener"
verify_dir_digests "$T/pull1" "$DIGEST"
while read -r d; do
  wait_proxy_requests "$mark" 1 "host=registry.test:$SPORT method=GET path=/v2/library/app/blobs/$d "
  assert_match "$(proxy_requests_since "$mark" "path=/v2/library/app/blobs/$d ")" 'status=200 .*cache=MISS' \
    "first pull: blob ${d:7:12} MISS"
done < <(image_blobs "$T/pull1")

mark=$(proxy_log_mark)
blob=$(image_blobs "$T/pull1" | tail -1)
before=$(registry_requests reg GET "/v2/library/app/blobs/$blob")
hijacked_pull "$T/pull2" || { cat "$T/pull2.log"; fail "second skopeo pull through the SNI listener failed"; }
verify_dir_digests "$T/pull2" "$DIGEST"
while read -r d; do
  wait_proxy_requests "$mark" 1 "host=registry.test:$SPORT method=GET path=/v2/library/app/blobs/$d "
  assert_match "$(proxy_requests_since "$mark" "path=/v2/library/app/blobs/$d ")" 'status=200 .*cache=HIT' \
    "second pull: blob ${d:7:12} HIT"
done < <(image_blobs "$T/pull1")
assert_eq "$(registry_requests reg GET "/v2/library/app/blobs/$blob")" "$before" "the registry was not asked for a blob again"

# --- unlisted names and ClientHellos without a name are refused
if curl -sS -o /dev/null --max-time 10 --cacert "$PROXY_CA_CRT" --resolve "other.test:$SPORT:$SNI_IP" \
  "https://other.test:$SPORT/" 2>"$T/other.err"; then
  fail "an unlisted name was served by the SNI listener"
fi
assert_contains "$(cat "$T/other.err")" "unrecognized name" "unlisted name: the handshake ends with an unrecognized_name alert"
assert_log_line "host=other.test:$SPORT" "refused: not a registry this proxy intercepts"
openssl s_client -connect "$SNI_IP:$SPORT" -noservername </dev/null >"$T/nosni.txt" 2>&1 || true
assert_log_line "refused: ClientHello without a server name"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | curl -sS --max-time 5 -o /dev/null "http://$SNI_IP:$SPORT/" 2>/dev/null || true
assert_log_line "refused: not a TLS ClientHello"

# --- a listed name that resolves to the listener itself: a loop, refused with 502
# (not /v2/: an unreachable registry's ping is answered by the proxy, as when offline)
code=$(curl -sS -o "$T/loop.body" -w '%{http_code}' --max-time 10 --cacert "$PROXY_CA_CRT" \
  --resolve "loop.test:$SPORT:$SNI_IP" "https://loop.test:$SPORT/v2/app/manifests/1") || fail "curl to loop.test failed"
assert_eq "$code" 502 "a name resolving to the SNI listener itself: 502"
assert_contains "$(cat "$T/loop.body")" "DNS-hijack loop" "the 502 says why"

# --- the forward proxy still works alongside
code=$(pcurl -o /dev/null -w '%{http_code}' "https://registry.test:$RPORT/v2/")
assert_eq "$code" 200 "the CONNECT path (LISTEN) still serves registry.test"
assert_proxy_alive

# --- ALLOWED_CLIENTS applies to the SNI listener too (a client from 127.0.0.43 is not allowed)
stop_proxy TERM
start_proxy REGISTRIES=registry.test "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" \
  "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP:$RPORT" "AUTH_REGISTRIES=registry.test:$RCREDS" \
  "INTERCEPT_LISTEN=$SNI_IP:$SPORT" "ALLOWED_CLIENTS=127.0.0.1/32"
code=$(hijack -o /dev/null -w '%{http_code}' "$BASE/v2/") || fail "an allowed client could not use the SNI listener"
assert_eq "$code" 200 "an allowed client (127.0.0.1) is served"
if hijack --interface 127.0.0.43 -o /dev/null "$BASE/v2/" 2>/dev/null; then
  fail "a client outside ALLOWED_CLIENTS was served by the SNI listener"
fi
ok "a client outside ALLOWED_CLIENTS is cut off before the handshake"
assert_log_line "client=127.0.0.43:" "method=TLS" "not in ALLOWED_CLIENTS"

assert_proxy_alive
finish
