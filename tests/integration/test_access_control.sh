#!/usr/bin/env bash
# Not an open proxy: ALLOWED_CLIENTS, PROXY_AUTH_FILE (407 without credentials; skopeo pulls with
# them), ALLOWED_CONNECT for blind tunnels, no tunnels to link-local/metadata addresses or to the
# proxy itself, connection limits per client (429), and MAX_CERTS_PER_MINUTE (503 for new hosts).
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd curl htpasswd skopeo nginx
require_proxy_bin

start_standard_registry
mkdir -p "$T/www"
echo "tunnelled" >"$T/www/hello.txt"
NPORT=$(free_port "$OTHER_IP")
start_nginx_tls other "$OTHER_IP" "$NPORT" "$T/www"
OUTSIDER=127.0.0.30 # a client address outside ALLOWED_CLIENTS below

# --- ALLOWED_CLIENTS: only 127.0.0.1 may use the proxy.
start_proxy "${STD_PROXY_ENV[@]}" ALLOWED_CLIENTS=127.0.0.1/32
code=$(curl -s -o "$T/refused.txt" -w '%{http_code}' --interface "$OUTSIDER" "$PROXY_URL/healthz")
assert_eq "$code" 403 "a client outside ALLOWED_CLIENTS gets 403"
assert_contains "$(cat "$T/refused.txt")" "ALLOWED_CLIENTS" "the refusal says why"
rc=0
curl -sS --max-time 10 --interface "$OUTSIDER" -x "$PROXY_URL" --cacert "$PROXY_CA_CRT" \
  "https://registry.test:$RPORT/v2/" -o /dev/null 2>/dev/null || rc=$?
assert_ne "$rc" 0 "an outsider cannot CONNECT"
code=$(curl -s -o /dev/null -w '%{http_code}' "$PROXY_URL/healthz")
assert_eq "$code" 200 "an allowed client is served"
assert_log_contains "client=$OUTSIDER:[0-9]+ .*status=403"
stop_proxy

# --- PROXY_AUTH_FILE: bcrypt user; 407 without or with wrong credentials.
htpasswd -cbB "$T/users" builder 'n0de-secret' 2>/dev/null
start_proxy "${STD_PROXY_ENV[@]}" "PROXY_AUTH_FILE=$T/users"
code=$(curl -s -o /dev/null -w '%{http_code}' "$PROXY_URL/ca.crt")
assert_eq "$code" 200 "/ca.crt needs no proxy credentials"
curl -s -o /dev/null -D "$T/407.h" -w '%{http_code}' -x "$PROXY_URL" --cacert "$PROXY_CA_CRT" \
  "https://registry.test:$RPORT/v2/" >"$T/code" 2>/dev/null || true
assert_eq "$(header_value Proxy-Authenticate "$T/407.h")" 'Basic realm="pullthrough", charset="UTF-8"' \
  "CONNECT without credentials gets a Basic challenge"
assert_contains "$(head -1 "$T/407.h")" "407" "... with status 407"
rc=0
curl -sS --max-time 10 -x "$PROXY_URL" --proxy-user builder:wrong --cacert "$PROXY_CA_CRT" \
  "https://registry.test:$RPORT/v2/" -o /dev/null 2>/dev/null || rc=$?
assert_ne "$rc" 0 "a wrong password is refused"
code=$(curl -sS --max-time 10 -x "$PROXY_URL" --proxy-user 'builder:n0de-secret' --cacert "$PROXY_CA_CRT" \
  -u "$RCREDS" -o /dev/null -w '%{http_code}' "https://registry.test:$RPORT/v2/")
assert_eq "$code" 200 "the right password gets through"
auth_url="http://builder:n0de-secret@127.0.0.1:$PROXY_PORT"
HTTPS_PROXY="$auth_url" NO_PROXY="" "${SKOPEO[@]}" copy --src-cert-dir "$PROXY_CERT_DIR" \
  --src-creds "$RCREDS" "docker://$IMAGE" "dir:$T/pulled" >/dev/null
verify_dir_digests "$T/pulled" "$DIGEST"
ok "skopeo pulls with HTTPS_PROXY=http://user:password@proxy"
assert_log_not_contains 'n0de-secret'
stop_proxy

# --- ALLOWED_CONNECT and forbidden destinations.
start_proxy "${STD_PROXY_ENV[@]}" "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP other.test=$OTHER_IP self.test=127.0.0.1 metadata.test=169.254.169.254" \
  "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" "ALLOWED_CONNECT=443 other.test:$NPORT *.test:$((NPORT + 1))"
body=$(curl -sS --max-time 10 -x "$PROXY_URL" --cacert "$TEST_CA_CRT" "https://other.test:$NPORT/hello.txt")
assert_eq "$body" "tunnelled" "a listed host:port is tunnelled"
connect_status() { # TARGET -> the proxy's status for CONNECT TARGET
  raw_http "CONNECT $1 HTTP/1.1\r\nHost: $1\r\n\r\n" | head -1 | awk '{print $2}'
}
assert_eq "$(connect_status "other.test:22")" 403 "port 22 is not in ALLOWED_CONNECT"
assert_eq "$(connect_status "169.254.169.254:443")" 403 "the metadata address is refused"
assert_eq "$(connect_status "[fe80::1]:443")" 403 "IPv6 link-local is refused"
assert_log_contains 'CONNECT to other\.test:22 is not allowed \(ALLOWED_CONNECT\)'
stop_proxy
# A name that resolves to the proxy itself (a loop) is refused after resolution.
start_proxy "${STD_PROXY_ENV[@]}" "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP self.test=127.0.0.1" \
  "ALLOWED_CONNECT=self.test"
assert_eq "$(connect_status "self.test:$PROXY_PORT")" 403 "CONNECT to the proxy itself is refused"
assert_log_contains 'that is this proxy'
assert_proxy_alive
stop_proxy

# --- Connection limits: 2 per client; the third gets 429 until one closes.
start_proxy "${STD_PROXY_ENV[@]}" MAX_CONNECTIONS_PER_CLIENT=2 MAX_CERTS_PER_MINUTE=2 \
  "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP a.registry.test=$REGISTRY_IP b.registry.test=$REGISTRY_IP c.registry.test=$REGISTRY_IP" \
  "REGISTRIES=registry.test *.registry.test"
$PY - "$PROXY_PORT" >"$T/limits.txt" <<'PYEOF'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
time.sleep(0.3)
def status():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    line = s.recv(4096).split(b"\r\n")[0].decode()
    s.close()
    return line.split()[1]
print("third", status())
held[0].close()
time.sleep(0.3)
print("after-close", status())
PYEOF
assert_file_contains "$T/limits.txt" '^third 429$' "the third connection from one client gets 429"
assert_file_contains "$T/limits.txt" '^after-close 200$' "a closed connection frees its place"
assert_log_contains 'MAX_CONNECTIONS_PER_CLIENT reached'

# MAX_CERTS_PER_MINUTE=2: two new hosts are minted, the third waits (503); known hosts still work.
for host in a.registry.test b.registry.test; do
  code=$(pcurl -o /dev/null -w '%{http_code}' -u "$RCREDS" "https://$host:$RPORT/v2/" 2>/dev/null || true)
  [ "$code" != 000 ] || fail "CONNECT to $host failed"
done
rc=0
pcurl -o /dev/null "https://c.registry.test:$RPORT/v2/" 2>"$T/c.err" || rc=$?
assert_ne "$rc" 0 "a third new host within the minute is refused"
assert_log_contains 'MAX_CERTS_PER_MINUTE'
code=$(pcurl -o /dev/null -w '%{http_code}' -u "$RCREDS" "https://a.registry.test:$RPORT/v2/" 2>/dev/null || true)
assert_ne "$code" 000 "a host already minted is still intercepted"
assert_proxy_alive
finish
