#!/usr/bin/env bash
# Live reload of the access lists: SIGHUP re-reads the configuration file's ALLOWED_CLIENTS and
# ALLOWED_CONNECT (and REGISTRIES, whose ports make ALLOWED_CONNECT's default). One proxy process
# throughout:
#   1. client B is refused (403), client A served; a CONNECT to other.test:NPORT is refused; A holds
#      a keep-alive connection;
#   2. SIGHUP with B instead of A, and a registry on port NPORT: B is served, a new connection of A
#      refused, A's keep-alive connection goes on; the default ALLOWED_CONNECT now admits NPORT;
#   3. SIGHUP with ALLOWED_CONNECT=443: the CONNECT is refused again, a tunnel opened before goes on;
#   4. a broken ALLOWED_CLIENTS keeps every previous setting (and the log says why);
#   5. fixed: A is served again, the CONNECT allowed; the same process all along.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd curl nginx openssl
require_proxy_bin

CLIENT_A=127.0.0.41
CLIENT_B=127.0.0.42
mkdir -p "$T/www"
echo "tunnelled" >"$T/www/hello.txt"
NPORT=$(free_port "$OTHER_IP")
start_nginx_tls other "$OTHER_IP" "$NPORT" "$T/www"

# write_config TEXT — the configuration file, replaced by rename (as an editor or a ConfigMap does).
write_config() {
  printf '%s\n' "$1" >"$T/.config.tmp"
  mv -f "$T/.config.tmp" "$T/config.yaml"
}
# status_from ADDRESS — the proxy's status for GET /healthz on a new connection from ADDRESS.
status_from() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 --interface "$1" "$PROXY_URL/healthz" || true
}
# connect_status TARGET — the proxy's status for CONNECT TARGET (from 127.0.0.1).
connect_status() {
  raw_http "CONNECT $1 HTTP/1.1\r\nHost: $1\r\n\r\n" | head -1 | awk '{print $2}'
}
# tunnel_get — GET https://other.test:NPORT/hello.txt through a new tunnel.
tunnel_get() {
  curl -sS --max-time 10 -x "$PROXY_URL" --cacert "$TEST_CA_CRT" "https://other.test:$NPORT/hello.txt"
}
# hup NEEDLE... — SIGHUP, then waits for the reload's log line (written after the swap).
hup() {
  kill -HUP "$PROXY_PID"
  assert_log_line "$@"
}

write_config "ALLOWED_CLIENTS: 127.0.0.1/32 $CLIENT_A/32
REGISTRIES: registry.test"
start_proxy "CONFIG_FILE=$T/config.yaml" "UPSTREAM_RESOLVE=other.test=$OTHER_IP"
PID0=$PROXY_PID
assert_log_line "tunnels allowed to *:443"

# ---------------------------------------------------------------- 1. before
assert_eq "$(status_from "$CLIENT_B")" 403 "client B, outside ALLOWED_CLIENTS, gets 403"
assert_eq "$(status_from "$CLIENT_A")" 200 "client A is served"
assert_eq "$(connect_status "other.test:$NPORT")" 403 "CONNECT to other.test:$NPORT is refused (default: port 443)"

# keepalive_client NAME SOURCE PROXY_PORT GO_FILE [TUNNEL_TARGET CA] — one connection to the proxy
# from SOURCE: GET /healthz (or, with a tunnel target, CONNECT, TLS, and GET /hello.txt), then once
# GO_FILE exists another GET on the same connection. Prints "first STATUS" and "second STATUS".
keepalive_client() {
  $PY - "$@" <<'EOF'
import http.client, os, socket, ssl, sys, time
name, source, port, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
raw = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
if len(sys.argv) > 5:
    target, ca = sys.argv[5], sys.argv[6]
    raw.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += raw.recv(1)
    assert head.startswith(b"HTTP/1.1 200"), head
    host = target.rsplit(":", 1)[0]
    sock, path = ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname=host), "/hello.txt"
else:
    sock, path = raw, "/healthz"
conn = http.client.HTTPConnection("proxy")
conn.sock = sock
def get(label):
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    print(f"{label} {r.status}", flush=True)
get("first")
for _ in range(300):
    if os.path.exists(go):
        break
    time.sleep(0.1)
conn.auto_open = 0  # a dropped connection must fail here, not be reopened quietly
get("second")
EOF
}
# wait_first FILE — until the client has printed its first status.
wait_first() {
  local i
  for i in $(seq 1 100); do grep -q '^first' "$1" && return 0; sleep 0.1; done
  fail "$1: no first response: $(cat "$1")"
}

keepalive_client a "$CLIENT_A" "$PROXY_PORT" "$T/go-a" >"$T/keepalive-a.out" 2>&1 &
KA_PID=$!
wait_first "$T/keepalive-a.out"
assert_file_contains "$T/keepalive-a.out" '^first 200$' "client A's keep-alive connection is served"

# ---------------------------------------------------------------- 2. B instead of A; a registry on NPORT
started=$(date +%s%N)
write_config "ALLOWED_CLIENTS: 127.0.0.1/32 $CLIENT_B/32
REGISTRIES: registry.test spare.test:$NPORT"
hup "reload (SIGHUP): allowed clients 127.0.0.1/32 $CLIENT_B/32 (were 127.0.0.1/32 $CLIENT_A/32)"
log "reload seen in the log $(( ($(date +%s%N) - started) / 1000000 )) ms after SIGHUP"
assert_log_line "reload (SIGHUP): tunnels allowed to *:443 *:$NPORT (were *:443)"
assert_eq "$(status_from "$CLIENT_B")" 200 "after SIGHUP client B is served"
assert_eq "$(status_from "$CLIENT_A")" 403 "after SIGHUP a new connection of client A gets 403"
touch "$T/go-a"
wait_pids "$KA_PID" || { cat "$T/keepalive-a.out"; fail "client A's keep-alive connection failed"; }
assert_file_contains "$T/keepalive-a.out" '^second 200$' \
  "client A's connection admitted before the reload is served on (not dropped)"
assert_eq "$(tunnel_get)" "tunnelled" "ALLOWED_CONNECT's default now admits REGISTRIES' port $NPORT"

# A tunnel opened now, used again after the next reload.
keepalive_client tunnel 127.0.0.1 "$PROXY_PORT" "$T/go-t" "other.test:$NPORT" "$TEST_CA_CRT" \
  >"$T/tunnel.out" 2>&1 &
TUNNEL_PID=$!
wait_first "$T/tunnel.out"
assert_file_contains "$T/tunnel.out" '^first 200$' "a tunnel to other.test:$NPORT is open"

# ---------------------------------------------------------------- 3. ALLOWED_CONNECT=443
write_config "ALLOWED_CLIENTS: 127.0.0.1/32 $CLIENT_B/32
REGISTRIES: registry.test spare.test:$NPORT
ALLOWED_CONNECT: 443"
hup "reload (SIGHUP): tunnels allowed to *:443 (were *:443 *:$NPORT)"
assert_eq "$(connect_status "other.test:$NPORT")" 403 "after SIGHUP a new CONNECT to other.test:$NPORT is refused"
assert_log_contains "CONNECT to other\.test:$NPORT is not allowed \(ALLOWED_CONNECT\)"
touch "$T/go-t"
wait_pids "$TUNNEL_PID" || { cat "$T/tunnel.out"; fail "the tunnel opened before the reload failed"; }
assert_file_contains "$T/tunnel.out" '^second 200$' "the tunnel opened before the reload goes on"

# ---------------------------------------------------------------- 4. a broken ALLOWED_CLIENTS
write_config "ALLOWED_CLIENTS: 127.0.0.1/32 $CLIENT_A/33
REGISTRIES: registry.test
ALLOWED_CONNECT: other.test:$NPORT"
hup "reload (SIGHUP): keeping the previous settings" "ALLOWED_CLIENTS" "$CLIENT_A/33"
sleep 0.3
assert_proxy_alive
assert_eq "$(status_from "$CLIENT_B")" 200 "a broken ALLOWED_CLIENTS keeps the previous list: B is served"
assert_eq "$(status_from "$CLIENT_A")" 403 "... and A refused"
assert_eq "$(connect_status "other.test:$NPORT")" 403 "... and the previous ALLOWED_CONNECT (the new one is not applied)"

# ---------------------------------------------------------------- 5. fixed
write_config "ALLOWED_CLIENTS: 127.0.0.1/32 $CLIENT_A/32 $CLIENT_B/32
REGISTRIES: registry.test
ALLOWED_CONNECT: other.test:$NPORT"
hup "reload (SIGHUP): allowed clients 127.0.0.1/32 $CLIENT_A/32 $CLIENT_B/32 (were 127.0.0.1/32 $CLIENT_B/32)"
assert_eq "$(status_from "$CLIENT_A")" 200 "client A is served again"
assert_eq "$(status_from "$CLIENT_B")" 200 "client B still"
assert_eq "$(tunnel_get)" "tunnelled" "the CONNECT is allowed again"
assert_proxy_alive
assert_eq "$PROXY_PID" "$PID0" "one proxy process (pid $PID0) throughout"
finish
