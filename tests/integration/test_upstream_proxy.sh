#!/usr/bin/env bash
# UPSTREAM_PROXY: every upstream connection of the proxy is a CONNECT through a corporate proxy,
# here a real squid with basic auth on 127.0.0.60 that resolves the test names itself (its
# hosts_file). The proxy under test has no UPSTREAM_RESOLVE for them, so a pull can only work
# through squid:
#   1. basic-auth registry whose blobs redirect to a CDN (registry.test -> cdn.test), a token
#      registry (token.registry.test, realm auth.test), and a blind tunnel to a host that is not
#      intercepted: all pull / answer, and squid's access log shows each CONNECT by name;
#   2. UPSTREAM_NO_PROXY (a CIDR matching UPSTREAM_RESOLVE's address, a *.suffix): those hosts are
#      reached directly, absent from squid's log, while the CDN and the realm still go through it;
#   3. a wrong proxy password: the client gets a 502 naming the corporate proxy (password masked),
#      the log says 407, and the password appears nowhere: log, /metrics, status page, --help.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
source "$IT_DIR/token_world.sh"
require_cmd docker-registry skopeo nginx openssl curl htpasswd
[ -x /usr/sbin/squid ] || skip "squid not installed (package squid-openssl)"
[ -x /usr/lib/squid/basic_ncsa_auth ] || skip "squid's basic_ncsa_auth helper not installed"
require_proxy_bin

SQUID_IP=127.0.0.60
CORP_USER=corp
CORP_PASS='Corp-Pa55:w0rd'          # a ':' in it, percent-encoded in the URL below
CORP_PASS_URL='Corp-Pa55%3Aw0rd'
WRONG_PASS='Wr0ng-Pa55-xyz'

# start_squid — squid on $SQUID_IP:<free port>, basic auth ($CORP_USER), CONNECT to any port,
# no disk cache, everything (pid, logs) in $T/squid, names from its own hosts_file. Sets SQUID_PORT
# SQUID_DIR SQUID_ACCESS_LOG.
start_squid() {
  SQUID_DIR="$T/squid"
  mkdir -p "$SQUID_DIR"
  # Run as root, squid drops to its effective user (Debian: proxy), which must write its logs.
  chmod 777 "$SQUID_DIR"
  htpasswd -cbB "$SQUID_DIR/passwd" "$CORP_USER" "$CORP_PASS" 2>/dev/null
  chmod 644 "$SQUID_DIR/passwd"
  cat >"$SQUID_DIR/hosts" <<EOF
$REGISTRY_IP registry.test
$AUTH_IP auth.test
$CDN_IP cdn.test
$TREG_IP token.registry.test
EOF
  SQUID_ACCESS_LOG="$SQUID_DIR/access.log"
  local attempt
  for attempt in 1 2 3; do
    SQUID_PORT=$(free_port "$SQUID_IP")
    local user_line=""
    [ "$(id -u)" != 0 ] || user_line="cache_effective_user proxy"
    cat >"$SQUID_DIR/squid.conf" <<EOF
http_port $SQUID_IP:$SQUID_PORT
$user_line
pid_filename $SQUID_DIR/squid.pid
access_log stdio:$SQUID_ACCESS_LOG
cache_log $SQUID_DIR/cache.log
cache_store_log none
coredump_dir $SQUID_DIR
netdb_filename none
logfile_rotate 0
cache deny all
cache_mem 8 MB
hosts_file $SQUID_DIR/hosts
shutdown_lifetime 1 seconds
auth_param basic program /usr/lib/squid/basic_ncsa_auth $SQUID_DIR/passwd
auth_param basic realm corporate proxy
acl authed proxy_auth REQUIRED
http_access allow authed
http_access deny all
EOF
    touch "$SQUID_ACCESS_LOG" "$SQUID_DIR/cache.log"
    chmod 666 "$SQUID_ACCESS_LOG" "$SQUID_DIR/cache.log"
    log "starting squid on $SQUID_IP:$SQUID_PORT"
    /usr/sbin/squid -N -f "$SQUID_DIR/squid.conf" >"$SQUID_DIR/stdout.log" 2>&1 &
    SQUID_PID=$!
    _register_pid "$SQUID_PID" squid
    [ "$attempt" -gt 1 ] || {
      _register_log "squid cache.log" "$SQUID_DIR/cache.log"
      _register_log "squid access.log" "$SQUID_ACCESS_LOG"
      _register_log "squid output" "$SQUID_DIR/stdout.log"
    }
    local i code=000
    for i in $(seq 1 100); do
      kill -0 "$SQUID_PID" 2>/dev/null || break
      # squid answers a request for itself without auth with 407.
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --proxy "http://$SQUID_IP:$SQUID_PORT" \
        http://registry.test/ 2>/dev/null || true)
      [ "$code" != 407 ] || return 0
      sleep 0.1
    done
    _kill_pid "$SQUID_PID" squid
    grep -qi 'address already in use\|cannot bind' "$SQUID_DIR/cache.log" "$SQUID_DIR/stdout.log" || break
  done
  cat "$SQUID_DIR/stdout.log"
  fail "squid did not start on $SQUID_IP (last answer: $code)"
}

# squid_connects_since MARK — the CONNECT targets squid logged after line MARK, one per line
# with the status ("registry.test:23456 TCP_TUNNEL/200").
squid_mark() { wc -l <"$SQUID_ACCESS_LOG" | tr -d ' '; }
squid_connects_since() {
  tail -n +"$(($1 + 1))" "$SQUID_ACCESS_LOG" | awk '$6 == "CONNECT" {print $7, $4}' || true
}

# ---------------------------------------------------------------- the world
make_test_pki "$T/pki"
STORAGE="$T/storage"
mkdir -p "$STORAGE"
CDN_PORT=$(free_port "$CDN_IP")
start_nginx_tls cdn "$CDN_IP" "$CDN_PORT" "$STORAGE"
start_registry reg "$REGISTRY_IP" auto --htpasswd alice:s3cret --storage "$STORAGE" \
  --redirect "https://cdn.test:$CDN_PORT"
RPORT=${REG_PORT[reg]}
seed_image "${REG_ADDR[reg]}" library/app:1.0 2 150000
DIGEST=$SEED_DIGEST
APP_DIR=$SEED_DIR
IMAGE="registry.test:$RPORT/library/app:1.0"
start_token_world
start_squid

# The proxy under test: no UPSTREAM_RESOLVE for any *.test name, so only squid can find them.
# The corporate URL is passed in the environment, not on start_proxy's line, which lib.sh copies
# into the proxy log.
COMMON_ENV=("REGISTRIES=registry.test $TREG_HOST auth.test" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT"
  "AUTH_REGISTRIES=registry.test:alice:s3cret auth.test:$TOKEN_USER:$TOKEN_PASS"
  "ALLOWED_CONNECT=cdn.test:$CDN_PORT")
export UPSTREAM_PROXY="http://$CORP_USER:$CORP_PASS_URL@$SQUID_IP:$SQUID_PORT"

# ---------------------------------------------------------------- 1. everything through squid
start_proxy "${COMMON_ENV[@]}" LOG_LEVEL=debug
assert_log_line "corporate proxy http://$CORP_USER:***@$SQUID_IP:$SQUID_PORT (UPSTREAM_PROXY, with credentials)"
smark=$(squid_mark)

proxy_pull "$IMAGE" "$T/basic" >"$T/basic.log" 2>&1 || { cat "$T/basic.log"; fail "basic-auth + CDN pull through squid failed"; }
verify_dir_digests "$T/basic" "$DIGEST"
cdn_gets=$(grep -c 'GET /docker/registry/v2/blobs/sha256/' "$NGINX_DIR/access.log" || true)
[ "$cdn_gets" -ge 3 ] || fail "the proxy fetched $cdn_gets blob(s) from the CDN, expected 3"
ok "basic-auth pull: the blobs came from the CDN ($cdn_gets GETs)"

token_pull "$PRIVATE_IMAGE" "$T/token" || { cat "$T/token.log"; fail "token pull through squid failed"; }
verify_dir_digests "$T/token" "$PRIVATE_DIGEST"
assert_match "$(token_log_since 0)" "authorization=basic user=$TOKEN_USER auth=ok status=200" \
  "the token request reached auth.test with the injected credentials"

# A host that is not intercepted: a blind tunnel, through squid as well.
blob=$(image_blobs "$APP_DIR" | tail -n 1)
hex=${blob#sha256:}
got=$(curl -sS --max-time 20 --proxy "$PROXY_URL" --cacert "$TEST_CA_CRT" \
  "https://cdn.test:$CDN_PORT/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data" | sha256sum | awk '{print "sha256:" $1}')
assert_eq "$got" "$blob" "a blind tunnel to cdn.test (not intercepted) goes through squid"
assert_log_line "host=cdn.test:$CDN_PORT" method=CONNECT status=200 cache=TUNNEL

connects=$(squid_connects_since "$smark")
for target in "registry.test:$RPORT" "cdn.test:$CDN_PORT" "$TREG_HOST:$TREG_PORT" "auth.test:$TOKEN_PORT"; do
  assert_match "$connects" "^$target TCP_TUNNEL/200\$" "squid's access log shows CONNECT $target"
done
assert_match "$(tail -n +"$((smark + 1))" "$SQUID_ACCESS_LOG")" " CONNECT registry.test:$RPORT $CORP_USER " \
  "squid logged the CONNECTs as user $CORP_USER"
stop_proxy

# ---------------------------------------------------------------- 2. UPSTREAM_NO_PROXY
# registry.test by UPSTREAM_RESOLVE's address in a CIDR, token.registry.test by a suffix: direct.
# cdn.test (blob redirects) and auth.test (the realm) still through squid.
start_proxy "${COMMON_ENV[@]}" "CACHE_DIR=$T/proxy/cache-noproxy" \
  "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP $TREG_HOST=$TREG_IP" \
  "UPSTREAM_NO_PROXY=$REGISTRY_IP/32 *.registry.test"
assert_log_line "direct: $REGISTRY_IP/32 *.registry.test"
smark=$(squid_mark)
proxy_pull "$IMAGE" "$T/np-basic" >"$T/np-basic.log" 2>&1 || { cat "$T/np-basic.log"; fail "pull with UPSTREAM_NO_PROXY failed"; }
verify_dir_digests "$T/np-basic" "$DIGEST"
token_pull "$PRIVATE_IMAGE" "$T/np-token" || { cat "$T/np-token.log"; fail "token pull with UPSTREAM_NO_PROXY failed"; }
verify_dir_digests "$T/np-token" "$PRIVATE_DIGEST"
connects=$(squid_connects_since "$smark")
assert_not_contains "$connects" "registry.test:$RPORT" "registry.test (UPSTREAM_NO_PROXY CIDR) bypassed squid"
assert_not_contains "$connects" "$TREG_HOST" "$TREG_HOST (UPSTREAM_NO_PROXY *.registry.test) bypassed squid"
assert_match "$connects" "^cdn.test:$CDN_PORT TCP_TUNNEL/200\$" "cdn.test still went through squid"
assert_match "$connects" "^auth.test:$TOKEN_PORT TCP_TUNNEL/200\$" "auth.test still went through squid"
stop_proxy

# ---------------------------------------------------------------- 3. a wrong proxy password
export UPSTREAM_PROXY="http://$CORP_USER:$WRONG_PASS@$SQUID_IP:$SQUID_PORT"
start_proxy "${COMMON_ENV[@]}" "CACHE_DIR=$T/proxy/cache-wrong" LOG_LEVEL=debug
pcurl -o "$T/wrong.body" -D "$T/wrong.h" -u alice:s3cret "https://registry.test:$RPORT/v2/library/app/manifests/1.0" || true
assert_eq "$(response_status "$T/wrong.h")" 502 "a refused CONNECT gives the client a 502"
body=$(cat "$T/wrong.body")
assert_contains "$body" "corporate proxy http://$CORP_USER:***@$SQUID_IP:$SQUID_PORT (UPSTREAM_PROXY) refused CONNECT registry.test:$RPORT: 407" \
  "the 502 names the corporate proxy, masked, and its 407"
assert_log_line "corporate proxy http://$CORP_USER:***@$SQUID_IP:$SQUID_PORT" "407" \
  "it refused the user and password of UPSTREAM_PROXY"
if proxy_pull "$IMAGE" "$T/wrong-pull" >"$T/wrong-pull.log" 2>&1; then fail "a pull succeeded with a wrong proxy password"; fi
ok "skopeo's pull fails with the wrong proxy password"

# The password shows nowhere: the status page, /metrics, --help, the whole proxy log (all runs;
# lib.sh's "=== start" lines hold no UPSTREAM_PROXY since it came from the environment).
for page in / /metrics; do
  text=$(curl -sS --max-time 5 "$PROXY_URL$page")
  assert_not_contains "$text" "$WRONG_PASS" "GET $page does not show the proxy password"
done
help=$("$PULLTHROUGH_BIN" --help 2>&1 || true)
assert_contains "$help" "UPSTREAM_PROXY" "--help lists UPSTREAM_PROXY"
assert_not_contains "$help" "$WRONG_PASS" "--help does not show the proxy password from the environment"
stop_proxy
secrets=("wrong password|$WRONG_PASS" "password|$CORP_PASS" "%-encoded password|$CORP_PASS_URL"
  "Proxy-Authorization value|$(printf '%s' "$CORP_USER:$CORP_PASS" | base64)")
for entry in "${secrets[@]}"; do
  assert_not_contains "$(cat "$PROXY_LOG")" "${entry#*|}" "the proxy log (all 3 runs) never contains the proxy's ${entry%%|*}"
done

# A bad UPSTREAM_PROXY stops the start-up with a message that masks the password.
out=$(UPSTREAM_PROXY="https://$CORP_USER:$WRONG_PASS@$SQUID_IP:$SQUID_PORT" LISTEN=127.0.0.1:0 \
  CA_DIR="$T/proxy/ca" CACHE_DIR="$T/proxy/cache-bad" "$PULLTHROUGH_BIN" 2>&1 || true)
assert_contains "$out" "UPSTREAM_PROXY 'https://$CORP_USER:***@" "an https:// proxy URL is refused at start-up, masked"
assert_not_contains "$out" "$WRONG_PASS" "the refusal does not show the password"
finish
