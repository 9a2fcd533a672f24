#!/usr/bin/env bash
# Live reload of credentials: AUTH_REGISTRIES_FILE is re-read when it changes (replaced by rename,
# as a Kubernetes Secret update or a token-refreshing sidecar does), and on SIGHUP, which also
# re-reads the configuration file's REGISTRIES. One proxy process throughout:
#   1. a wrong password in the file: the registry answers 401, to skopeo and to a keep-alive client;
#   2. the file is fixed: the next request on the SAME client connection gets 200, skopeo pulls;
#   3. a broken file keeps the previous credentials (and the log says why);
#   4. SIGHUP reloads (the wrong password again: 401), REGISTRIES from the config file too, and the
#      proxy lives on (SIGHUP's default action would kill it).
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_standard_registry # registry.test, alice:s3cret, library/app:1.0
AUTH_DIR="$T/auth"
mkdir -p "$AUTH_DIR"
AUTH_FILE="$AUTH_DIR/registries"

# write_auth TEXT — replaces the file by rename (a new inode), never edits it in place.
write_auth() {
  printf '%s\n' "$1" >"$AUTH_DIR/.tmp"
  mv -f "$AUTH_DIR/.tmp" "$AUTH_FILE"
}

write_auth "# registry credentials, one entry per line
registry.test:alice:wrong-password"
cat >"$T/config.yaml" <<EOF
REGISTRIES: registry.test
EOF
start_proxy "CONFIG_FILE=$T/config.yaml" "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP" \
  "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" "AUTH_REGISTRIES_FILE=$AUTH_FILE"
PID0=$PROXY_PID
assert_log_line "credentials for alice@registry.test"
TAGS_URL="https://registry.test:$RPORT/v2/library/app/tags/list" # never cached: every GET asks the registry

# The keep-alive client: one TLS connection through the proxy; a GET of the tag list, then, once
# $T/go exists, another GET on the same connection. Prints each status.
$PY - "$PROXY_PORT" "$RPORT" "$PROXY_CA_CRT" "$T/go" >"$T/keepalive.out" 2>&1 <<'EOF' &
import http.client, os, socket, ssl, sys, time
proxy_port, port, ca, go = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
raw = socket.create_connection(("127.0.0.1", proxy_port), timeout=30)
raw.sendall(f"CONNECT registry.test:{port} HTTP/1.1\r\nHost: registry.test:{port}\r\n\r\n".encode())
head = b""
while b"\r\n\r\n" not in head:
    head += raw.recv(1)
assert head.startswith(b"HTTP/1.1 200"), head
tls = ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname="registry.test")
conn = http.client.HTTPConnection("registry.test", port)
conn.sock = tls
def get(label):
    conn.request("GET", "/v2/library/app/tags/list")
    r = conn.getresponse()
    r.read()
    print(f"{label} {r.status} {r.getheader('Connection', '-')}", flush=True)
get("first")
for _ in range(300):
    if os.path.exists(go):
        break
    time.sleep(0.1)
conn.auto_open = 0  # a dropped connection must fail here, not be reopened quietly
get("second")
EOF
KA_PID=$!
for _ in $(seq 1 100); do grep -q '^first' "$T/keepalive.out" && break; sleep 0.1; done
assert_match "$(cat "$T/keepalive.out")" '^first 401 ' "keep-alive client: 401 with the wrong password from the file"

# ---------------------------------------------------------------- 1. wrong password: 401
if proxy_pull "$IMAGE" "$T/denied" >"$T/denied.log" 2>&1; then fail "a pull succeeded with the wrong password"; fi
assert_match "$(cat "$T/denied.log")" 'unauthorized|authentication required|401' "skopeo's pull gets the registry's 401"

# ---------------------------------------------------------------- 2. the file is fixed
write_auth "registry.test:alice:s3cret"
assert_log_line "reload (AUTH_REGISTRIES_FILE changed): credentials for alice@registry.test"
touch "$T/go"
wait_pids "$KA_PID" || { cat "$T/keepalive.out"; fail "the keep-alive client failed"; }
assert_match "$(cat "$T/keepalive.out")" '^second 200 ' "the same client connection gets 200 after the reload"
sessions=$(grep -E "request session=[0-9]+ .*path=/v2/library/app/tags/list status=(401|200)" "$PROXY_LOG" |
  grep -oE 'session=[0-9]+' | sort | uniq -c | awk '$1 >= 2' || true)
assert_ne "$sessions" "" "the 401 and the 200 were served in one proxy session (connection not dropped)"
proxy_pull "$IMAGE" "$T/ok" >"$T/ok.log" 2>&1 || { cat "$T/ok.log"; fail "pull after fixing the file failed"; }
verify_dir_digests "$T/ok" "$DIGEST"
assert_eq "$PROXY_PID" "$PID0" "the same proxy process (pid $PID0) served before and after the reload"

# ---------------------------------------------------------------- 3. a broken file
write_auth "registry.test:alice"
assert_log_line "reload (AUTH_REGISTRIES_FILE changed): keeping the previous settings" "line 1"
code=$(pcurl -o /dev/null -w '%{http_code}' "$TAGS_URL")
assert_eq "$code" 200 "a broken file keeps the previous (good) credentials"

# ---------------------------------------------------------------- 4. SIGHUP
write_auth "registry.test:alice:wrong-again"
printf 'REGISTRIES: registry.test other.test\n' >"$T/config.yaml"
kill -HUP "$PROXY_PID"
assert_log_line "reload (SIGHUP): intercepting" "other.test"
assert_log_line "reload (SIGHUP): credentials for alice@registry.test"
sleep 0.5
assert_proxy_alive
code=$(pcurl -o /dev/null -w '%{http_code}' "$TAGS_URL")
assert_eq "$code" 401 "after SIGHUP the new (wrong) password is in force"
assert_eq "$PROXY_PID" "$PID0" "SIGHUP did not restart or kill the proxy"
assert_log_not_contains "wrong-password|wrong-again|s3cret"
finish
