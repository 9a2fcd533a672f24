#!/usr/bin/env bash
# The root CA is created on first start, kept private (0600), survives a
# restart byte for byte, and SIGTERM ends the proxy cleanly (exit 0).
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_standard_registry
CA="$T/persistent-ca"
[ ! -e "$CA" ] || fail "CA dir exists before the first start"
start_proxy "${STD_PROXY_ENV[@]}" "CA_DIR=$CA"
cp "$PROXY_CA_CRT" "$T/ca-1.crt"
{ [ -f "$CA/ca.crt" ] && [ -f "$CA/ca.key" ]; } || fail "CA_DIR lacks ca.crt/ca.key: $(ls -la "$CA")"
ok "the root CA was created in CA_DIR"
assert_eq "$(stat -c %a "$CA/ca.key")" 600 "ca.key is mode 0600"
openssl x509 -in "$CA/ca.crt" -noout -text >"$T/ca.txt"
assert_file_contains "$T/ca.txt" 'CA:TRUE' "ca.crt is a CA certificate"
assert_file_contains "$T/ca.txt" 'Certificate Sign' "ca.crt may sign certificates"
assert_eq "$(openssl x509 -in "$CA/ca.crt" -noout -fingerprint -sha256)" \
  "$(openssl x509 -in "$T/ca-1.crt" -noout -fingerprint -sha256)" "/ca.crt serves the certificate in CA_DIR"
# The key matches the certificate.
assert_eq "$(openssl pkey -in "$CA/ca.key" -pubout 2>/dev/null | sha256sum)" \
  "$(openssl x509 -in "$CA/ca.crt" -noout -pubkey | sha256sum)" "ca.key is the key of ca.crt"
proxy_pull "$IMAGE" "$T/out1" --src-creds "$RCREDS" -q || fail "pull with the first proxy failed"
verify_dir_digests "$T/out1" "$DIGEST"

stop_proxy TERM
assert_eq "$PROXY_EXIT" 0 "SIGTERM: the proxy exits with status 0"

start_proxy "${STD_PROXY_ENV[@]}" "CA_DIR=$CA"
cmp -s "$T/ca-1.crt" "$PROXY_CA_CRT" || fail "ca.crt changed across a restart"
ok "after a restart /ca.crt is byte for byte the same"
assert_eq "$(stat -c %a "$CA/ca.key")" 600 "ca.key is still mode 0600"
# Clients that trusted the old ca.crt keep working.
PROXY_CERT_DIR=$(dirname "$T/ca-1.crt")/trust-old
mkdir -p "$PROXY_CERT_DIR" && cp "$T/ca-1.crt" "$PROXY_CERT_DIR/ca.crt"
proxy_pull "$IMAGE" "$T/out2" --src-creds "$RCREDS" -q || fail "pull trusting the first ca.crt failed after restart"
verify_dir_digests "$T/out2" "$DIGEST"

stop_proxy TERM
assert_eq "$PROXY_EXIT" 0 "second SIGTERM: exit status 0"

# A fresh CA_DIR gives a different root.
start_proxy "${STD_PROXY_ENV[@]}" "CA_DIR=$T/other-ca"
assert_ne "$(openssl x509 -in "$PROXY_CA_CRT" -noout -fingerprint -sha256)" \
  "$(openssl x509 -in "$T/ca-1.crt" -noout -fingerprint -sha256)" "another CA_DIR gets its own root"
# SIGTERM while a client holds an idle keep-alive connection still exits 0, promptly.
$PY - "$PROXY_PORT" <<'PYEOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
s.settimeout(20)
try:
    while s.recv(4096):
        pass
except OSError:
    pass
PYEOF
idle=$!
sleep 0.5
t0=$(date +%s)
stop_proxy TERM
assert_eq "$PROXY_EXIT" 0 "SIGTERM with an idle client connection: exit status 0"
[ $(($(date +%s) - t0)) -le 15 ] || fail "shutdown took more than 15s with an idle client"
ok "shutdown with an idle client took $(($(date +%s) - t0))s"
wait "$idle" || true
finish
