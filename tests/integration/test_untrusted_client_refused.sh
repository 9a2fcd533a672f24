#!/usr/bin/env bash
# A client that does not trust the proxy's CA must refuse the MITM leaf (the
# proxy cannot impersonate registries to anyone who did not opt in), and such
# refusals do not disturb the proxy: the next, trusting client pulls fine.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_standard_registry
start_proxy "${STD_PROXY_ENV[@]}"
URL="https://registry.test:$RPORT/v2/"

# curl trusting only the system store (CURL_CA_BUNDLE may point there).
rc=0
curl -sS --max-time 20 -x "$PROXY_URL" --cacert /etc/ssl/certs/ca-certificates.crt -u "$RCREDS" \
  -o /dev/null "$URL" 2>"$T/curl1.err" || rc=$?
assert_eq "$rc" 60 "curl with the system CA store refuses the proxy's leaf (exit 60: certificate problem)"
# curl trusting the upstream's real (test) CA: still not the proxy's.
rc=0
curl -sS --max-time 20 -x "$PROXY_URL" --cacert "$TEST_CA_CRT" -u "$RCREDS" -o /dev/null "$URL" 2>"$T/curl2.err" || rc=$?
assert_eq "$rc" 60 "curl trusting only the upstream's CA refuses the proxy's leaf"
assert_contains "$(cat "$T/curl2.err")" "certificate" "curl says why: $(head -c 200 "$T/curl2.err")"

# skopeo without the proxy CA.
if HTTPS_PROXY="$PROXY_URL" "${SKOPEO[@]}" copy --src-creds "$RCREDS" --src-cert-dir "$TEST_CA_DIR" \
  "docker://$IMAGE" "dir:$T/refused" >"$T/skopeo.err" 2>&1; then
  fail "skopeo pulled through the proxy without trusting its CA"
fi
assert_match "$(cat "$T/skopeo.err")" 'x509|certificate' "skopeo refuses the proxy's leaf: $(grep -oE 'x509: [^"]*' "$T/skopeo.err" | head -1)"

# openssl: verification fails against the system store.
openssl s_client -proxy "127.0.0.1:$PROXY_PORT" -connect "registry.test:$RPORT" -servername registry.test \
  -CAfile "$TEST_CA_CRT" </dev/null >"$T/s_client.txt" 2>&1 || true
assert_file_contains "$T/s_client.txt" 'Verify return code: [1-9]' "openssl s_client reports a verification error"

# A handful of refused handshakes in parallel, then the proxy must still serve.
pids=()
for i in 1 2 3 4 5; do
  curl -s --max-time 20 -x "$PROXY_URL" --cacert "$TEST_CA_CRT" -o /dev/null "$URL" &
  pids+=($!)
done
wait_pids "${pids[@]}" || true
assert_proxy_alive
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$PROXY_URL/healthz")
assert_eq "$code" 200 "/healthz after refused handshakes"

code=$(pcurl -o /dev/null -w '%{http_code}' -u "$RCREDS" "$URL")
assert_eq "$code" 200 "a trusting curl works right after"
proxy_pull "$IMAGE" "$T/out" --src-creds "$RCREDS" || fail "a trusting skopeo pull failed after refused clients"
verify_dir_digests "$T/out" "$DIGEST"
finish
