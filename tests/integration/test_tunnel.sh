#!/usr/bin/env bash
# Hosts not in REGISTRIES are tunnelled blindly: the client talks TLS end to
# end with the real server (its own certificate, not a proxy leaf), and the
# bytes arrive unchanged.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd nginx openssl curl
require_proxy_bin

make_test_pki "$T/pki"
mkdir -p "$T/www"
echo "hello from other.test" >"$T/www/hello.txt"
head -c 3000000 /dev/urandom >"$T/www/big.bin"
NPORT=$(free_port "$OTHER_IP")
start_nginx_tls other "$OTHER_IP" "$NPORT" "$T/www"
# registry.test is intercepted (but never contacted here); other.test is not.
start_proxy REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP other.test=$OTHER_IP" \
  "ALLOWED_CONNECT=other.test:$NPORT" \
  "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT"
BASE="https://other.test:$NPORT"

body=$(curl -sS --max-time 20 -x "$PROXY_URL" --cacert "$TEST_CA_CRT" "$BASE/hello.txt")
assert_eq "$body" "hello from other.test" "tunnelled GET trusting only the upstream's own CA"
curl -sS --max-time 60 -x "$PROXY_URL" --cacert "$TEST_CA_CRT" -o "$T/big.out" "$BASE/big.bin"
assert_eq "$(sha256_of "$T/big.out")" "$(sha256_of "$T/www/big.bin")" "3 MB through the tunnel arrive unchanged"

# The certificate seen through the tunnel is the server's own.
openssl s_client -proxy "127.0.0.1:$PROXY_PORT" -connect "other.test:$NPORT" -servername other.test \
  -CAfile "$TEST_CA_CRT" -verify_return_error </dev/null >"$T/s_client.txt" 2>&1 ||
  { cat "$T/s_client.txt"; fail "openssl s_client through the tunnel failed"; }
assert_file_contains "$T/s_client.txt" 'Verify return code: 0 \(ok\)' "the upstream's certificate verifies against the test CA"
assert_file_contains "$T/s_client.txt" 'issuer=.*pullthrough test root CA' "the issuer is the test CA, not the proxy's"
curl -sS -v --max-time 20 -x "$PROXY_URL" --cacert "$TEST_CA_CRT" -o /dev/null "$BASE/hello.txt" 2>"$T/curl-v.err"
assert_file_contains "$T/curl-v.err" 'issuer: .*CN=pullthrough test root CA' "curl -v shows the test CA as issuer"

# A client trusting only the proxy's CA cannot talk to a tunnelled host: no MITM happened.
rc=0
curl -sS --max-time 20 -x "$PROXY_URL" --cacert "$PROXY_CA_CRT" -o /dev/null "$BASE/hello.txt" 2>/dev/null || rc=$?
assert_eq "$rc" 60 "trusting only the proxy CA fails for a tunnelled host"

# Several tunnels at once.
pids=()
for i in 1 2 3 4; do
  curl -sS --max-time 60 -x "$PROXY_URL" --cacert "$TEST_CA_CRT" -o "$T/par$i.out" "$BASE/big.bin" &
  pids+=($!)
done
wait_pids "${pids[@]}" || fail "a parallel tunnelled download failed"
for i in 1 2 3 4; do
  [ "$(sha256_of "$T/par$i.out")" = "$(sha256_of "$T/www/big.bin")" ] || fail "parallel tunnel $i corrupted"
done
ok "4 parallel tunnels delivered intact"
assert_log_contains 'other\.test' # the tunnel is logged, by host
assert_proxy_alive
finish
