#!/usr/bin/env bash
# IPv6 everywhere, on loopback:
#   1. the proxy on [::1] with ALLOWED_CLIENTS=::1/128, a registry on [::1] (the same storage as an
#      IPv4 one used for seeding): skopeo pulls over IPv6 both ways (client -> proxy -> registry);
#   2. CONNECT [::1]:port through the proxy port: intercepted (REGISTRIES=[::1]) and as a blind
#      tunnel (ALLOWED_CONNECT with an IPv6 block); the metadata / link-local refusal for IPv6
#      literals (fe80::, fd00:ec2::254, ::ffff:169.254.169.254, NAT64);
#   3. the proxy on [::], dual-stack: reached via 127.0.0.1 and ::1; IPv4 clients (seen as
#      ::ffff:127.0.0.1) match the IPv4 blocks of ALLOWED_CLIENTS, not ::1/128; an IPv6 block that
#      leaves ::1 out refuses it;
#   4. happy eyeballs: names resolved by RESOLVERS (fake_dns.py) to a silent IPv4 address and a
#      live IPv6 one, and to a silent IPv6 address and a live IPv4 one; both pull, and each
#      connection takes well under CONNECT_TIMEOUT (the silent address is a listener whose accept
#      queue is full, so its SYNs are dropped, as a firewall would).
# Addresses: 127.0.0.38 (IPv4 registry), 127.0.0.70 (silent IPv4), 127.0.0.71 (fake DNS), ::1.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo curl openssl
require_proxy_bin
$PY -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null ||
  skip "no IPv6 loopback (::1) here"

V4_REG_IP=127.0.0.38
DEAD_V4=127.0.0.70
DNS_IP=127.0.0.71

# free_port_on IP... — a port free on every given address (IPv4 or IPv6) at once.
free_port_on() {
  touch "$T/used-ports"
  local p
  p=$($PY - "$(cat "$T/used-ports")" "$@" <<'EOF'
import random, socket, sys
used, ips = set(sys.argv[1].split()), sys.argv[2:]
for _ in range(500):
    p = random.randint(20000, 32000)
    if str(p) in used:
        continue
    ok = True
    for ip in ips:
        s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET)
        try:
            s.bind((ip, p))
        except OSError:
            ok = False
        finally:
            s.close()
    if ok:
        print(p)
        break
else:
    sys.exit("no free port")
EOF
)
  echo "$p" >>"$T/used-ports"
  echo "$p"
}

# start_black_hole IP PORT — a listener that never completes a handshake (backlog 0, one
# connection queued and never accepted: Linux drops further SYNs).
start_black_hole() {
  local ip=$1 port=$2 dir="$T/hole-$1-$2"
  mkdir -p "$dir"
  $PY - "$ip" "$port" "$dir/ready" <<'EOF' >"$dir/log" 2>&1 &
import socket, sys, time
ip, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
family = socket.AF_INET6 if ":" in ip else socket.AF_INET
l = socket.socket(family)
l.bind((ip, port))
l.listen(0)
filler = socket.create_connection((ip, port))
probe = socket.socket(family)
probe.settimeout(0.5)
try:
    probe.connect((ip, port))
    sys.exit("the black hole answered")
except socket.timeout:
    pass
open(ready, "w").write("ok")
time.sleep(3600)
EOF
  local pid=$!
  _register_pid "$pid" "black-hole-$ip"
  local i
  for i in $(seq 1 50); do
    [ ! -f "$dir/ready" ] || return 0
    kill -0 "$pid" 2>/dev/null || fail "black hole on $ip:$port: $(cat "$dir/log")"
    sleep 0.1
  done
  fail "black hole on $ip:$port not ready"
}

# start_proxy_on LISTEN_HOST URL_HOST VAR=value... — the proxy on LISTEN=LISTEN_HOST:<port free on
# ::1 and 127.0.0.1>, checked and used through http://URL_HOST:port. Sets what start_proxy does.
start_proxy_on() {
  local listen_host=$1 url_host=$2 i code=""
  shift 2
  PROXY_PORT=$(free_port_on ::1 127.0.0.1)
  PROXY_URL="http://$url_host:$PROXY_PORT"
  _PROXY_STARTS=$((_PROXY_STARTS + 1))
  mkdir -p "$T/proxy"
  local envs=(LISTEN="$listen_host:$PROXY_PORT" CA_DIR="$T/proxy/ca" CACHE_DIR="$T/proxy/cache")
  [ -z "${PT_LOG_LEVEL:-}" ] || envs+=(LOG_LEVEL="$PT_LOG_LEVEL")
  envs+=("$@")
  [ "$_PROXY_STARTS" -gt 1 ] || _register_log "proxy" "$PROXY_LOG"
  echo "=== start #$_PROXY_STARTS: ${envs[*]}" >>"$PROXY_LOG"
  log "starting proxy on $listen_host:$PROXY_PORT: ${envs[*]:1}"
  env "${envs[@]}" "$PULLTHROUGH_BIN" >>"$PROXY_LOG" 2>&1 &
  PROXY_PID=$!
  _register_pid "$PROXY_PID" pullthrough
  for i in $(seq 1 150); do
    kill -0 "$PROXY_PID" 2>/dev/null || fail "proxy on $listen_host exited during startup"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$PROXY_URL/healthz" 2>/dev/null || true)
    [ "$code" != 200 ] || break
    sleep 0.1
  done
  [ "$code" = 200 ] || fail "proxy on $PROXY_URL did not become healthy (last: $code)"
  PROXY_CERT_DIR="$T/proxy-trust-$_PROXY_STARTS"
  PROXY_CA_CRT="$PROXY_CERT_DIR/ca.crt"
  mkdir -p "$PROXY_CERT_DIR"
  curl -sS --fail --max-time 5 -o "$PROXY_CA_CRT" "$PROXY_URL/ca.crt" || fail "could not fetch $PROXY_URL/ca.crt"
}

# connect_status TARGET — the status code the proxy answers to "CONNECT TARGET".
connect_status() {
  $PY - "$PROXY_PORT" "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("::1", int(sys.argv[1])), timeout=10)
s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (sys.argv[2], sys.argv[2])).encode())
print(s.recv(4096).split(b" ")[1].decode())
EOF
}

make_test_pki "$T/pki" v6live.test v4live.test # (*.test does not cover them: OpenSSL wants two labels after a *)
STORE="$T/storage"
# Seeded over IPv4 (skopeo 1.9 does not take docker://[::1]:port references); the IPv6 registry
# serves the same storage.
V4_PORT=$(free_port_on "$V4_REG_IP" ::1) # ::1 too: a silent IPv6 address on this port later
start_registry seed "$V4_REG_IP" "$V4_PORT" --storage "$STORE"
seed_image "${REG_ADDR[seed]}" library/app:1.0 2 200000
DIGEST=$SEED_DIGEST
R6PORT=$(free_port_on ::1 "$DEAD_V4") # $DEAD_V4 too: a silent IPv4 address on this port later
start_registry reg6 "[::1]" "$R6PORT" --storage "$STORE"
IMAGE="registry.test:$R6PORT/library/app:1.0"
COMMON=(REGISTRIES=registry.test "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT")

log "1. proxy on [::1], registry on [::1]: a pull over IPv6 both ways"
start_proxy_on "[::1]" "[::1]" "${COMMON[@]}" "UPSTREAM_RESOLVE=registry.test=::1" "ALLOWED_CLIENTS=::1/128"
assert_log_contains "listening on \[::1\]:$PROXY_PORT \(LISTEN\)"
proxy_pull "$IMAGE" "$T/pull1" >"$T/pull1.log" 2>&1 || { cat "$T/pull1.log"; fail "pull through [::1] failed"; }
verify_dir_digests "$T/pull1" "$DIGEST"
assert_log_contains "client=\[::1\]:[0-9]+ host=registry\.test:$R6PORT method=GET path=/v2/library/app/manifests/1\.0 status=200"
grep -q 'remoteaddr="\?\[::1\]' "$T/registry-reg6/registry.log" || grep -q '::1' "$T/registry-reg6/registry.log" ||
  fail "the IPv6 registry logged no request from ::1"
ok "the registry on [::1] served the proxy"
stop_proxy TERM


log "2. CONNECT [::1]:port: intercepted, tunnelled; IPv6 metadata and link-local refused"
start_proxy_on "[::1]" "[::1]" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" "REGISTRIES=[::1]:$R6PORT" \
  "ALLOWED_CONNECT=443 [::1/128]:$V4_PORT"
out=$(curl -sS --max-time 10 --proxy "$PROXY_URL" --cacert "$PROXY_CA_CRT" -o /dev/null -w '%{http_code}' \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "https://[::1]:$R6PORT/v2/library/app/manifests/1.0" 2>&1 || true)
assert_eq "$out" 200 "CONNECT [::1]:$R6PORT intercepted: the manifest through a leaf minted for ::1"
# (the access log writes the host of an IPv6 literal unbracketed, host=::1:port: accepted here)
assert_log_contains "client=\[::1\]:[0-9]+ host=\[?::1\]?:$R6PORT method=GET path=/v2/library/app/manifests/1\.0 status=200"
# A blind tunnel to [::1]:V4_PORT (nothing there on ::1 yet: a 502 after the policy let it through),
# then one the policy refuses.
assert_eq "$(connect_status "[::1]:$V4_PORT")" 502 "CONNECT [::1]:$V4_PORT allowed by [::1/128]:$V4_PORT, nothing listening: 502"
assert_eq "$(connect_status "[::1]:$R6PORT")" 200 "CONNECT [::1]:$R6PORT (a listed registry): 200"
other=$(free_port_on ::1)
assert_eq "$(connect_status "[::1]:$other")" 403 "CONNECT [::1]:$other, outside ALLOWED_CONNECT: 403"
for target in "[fe80::1]:443" "[fd00:ec2::254]:443" "[fd20:ce::254]:443" "[::ffff:169.254.169.254]:443" \
  "[64:ff9b::a9fe:a9fe]:443" "[::]:443" "[ff02::1]:443"; do
  assert_eq "$(connect_status "$target")" 403 "CONNECT $target: 403"
done
assert_log_contains 'CONNECT to fd00:ec2::254 is not allowed \(link-local or reserved address\)'
stop_proxy TERM

log "3. proxy on [::], dual-stack: IPv4 and IPv6 clients"
start_proxy_on "[::]" "127.0.0.1" "${COMMON[@]}" "UPSTREAM_RESOLVE=registry.test=::1" "ALLOWED_CLIENTS=127.0.0.1/32 ::1/128"
assert_log_contains "listening on \[::\]:$PROXY_PORT \(LISTEN, IPv6 and IPv4\)"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://[::1]:$PROXY_PORT/healthz")" 200 "[::] answers on ::1"
proxy_pull "$IMAGE" "$T/pull3" >"$T/pull3.log" 2>&1 || { cat "$T/pull3.log"; fail "pull via 127.0.0.1 to [::] failed"; }
verify_dir_digests "$T/pull3" "$DIGEST"
PROXY_URL="http://[::1]:$PROXY_PORT"
proxy_pull "$IMAGE" "$T/pull3b" >"$T/pull3b.log" 2>&1 || { cat "$T/pull3b.log"; fail "pull via ::1 to [::] failed"; }
verify_dir_digests "$T/pull3b" "$DIGEST"
stop_proxy TERM
start_proxy_on "[::]" "[::1]" "${COMMON[@]}" "UPSTREAM_RESOLVE=registry.test=::1" "ALLOWED_CLIENTS=::1/128"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --proxy "http://127.0.0.1:$PROXY_PORT" http://registry.test/ || true)" 403 \
  "ALLOWED_CLIENTS=::1/128 on [::]: an IPv4 client (::ffff:127.0.0.1) gets 403"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PROXY_PORT/healthz" || true)" 403 \
  "...on every path"
stop_proxy TERM
start_proxy_on "[::]" "127.0.0.1" "${COMMON[@]}" "UPSTREAM_RESOLVE=registry.test=::1" "ALLOWED_CLIENTS=fd00::/8 127.0.0.0/8"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --proxy "http://[::1]:$PROXY_PORT" http://registry.test/ || true)" 403 \
  "ALLOWED_CLIENTS=fd00::/8 127.0.0.0/8: a client on ::1 gets 403"
stop_proxy TERM

log "4. happy eyeballs: one family silent, the other live"
mkdir -p "$T/dns"
$PY "$IT_DIR/fake_dns.py" --ip "$DNS_IP" --port-file "$T/dns/port" --log "$T/dns/queries.log" \
  --record "v6live.test=$DEAD_V4" --record "v6live.test=::1" \
  --record "v4live.test=$V4_REG_IP" --record "v4live.test=::1" >"$T/dns/stdout.log" 2>&1 &
DNS_PID=$!
_register_pid "$DNS_PID" fake-dns
wait_port_file "$DNS_PID" "$T/dns" "fake dns"
DNS_PORT=$WAITED_PORT
start_black_hole "$DEAD_V4" "$R6PORT" # v6live.test: the IPv4 address is silent...
start_black_hole ::1 "$V4_PORT"       # v4live.test: ...and here the IPv6 one
PT_LOG_LEVEL=debug start_proxy_on "[::1]" "[::1]" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" \
  "REGISTRIES=v6live.test v4live.test" "RESOLVERS=$DNS_IP:$DNS_PORT" CONNECT_TIMEOUT=10s
for name_port in "v6live.test:$R6PORT" "v4live.test:$V4_PORT"; do
  start=$(date +%s%N)
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --proxy "$PROXY_URL" --cacert "$PROXY_CA_CRT" \
    "https://$name_port/v2/" || true)
  ms=$((($(date +%s%N) - start) / 1000000))
  assert_eq "$code" 200 "https://$name_port/v2/ through the proxy (one address silent)"
  [ "$ms" -lt 2000 ] || fail "$name_port took $ms ms (CONNECT_TIMEOUT is 10 s; the fallback should take ~250 ms)"
  ok "$name_port answered in $ms ms, well under CONNECT_TIMEOUT=10s"
done
# Whichever family the resolver put first, one of the two names had its silent address first.
assert_log_contains "connect to (v6live|v4live)\.test: (127\.0\.0\.70:$R6PORT|\[::1\]:$V4_PORT) did not connect first; .* did \(happy eyeballs\)"
proxy_pull "v6live.test:$R6PORT/library/app:1.0" "$T/pull4" >"$T/pull4.log" 2>&1 ||
  { cat "$T/pull4.log"; fail "pull of v6live.test failed"; }
verify_dir_digests "$T/pull4" "$DIGEST"
proxy_pull "v4live.test:$V4_PORT/library/app:1.0" "$T/pull4b" >"$T/pull4b.log" 2>&1 ||
  { cat "$T/pull4b.log"; fail "pull of v4live.test failed"; }
verify_dir_digests "$T/pull4b" "$DIGEST"
stop_proxy TERM

finish
