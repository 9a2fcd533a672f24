# shellcheck shell=bash
# shellcheck disable=SC2034 # globals set here are read by the tests that source this
# The integration-test world of pullthrough: a bash library sourced by every
# tests/integration/test_*.sh.
#
# It gives each test a private temp dir (removed on exit unless KEEP=1), starts
# real peers (CNCF distribution registries over TLS, nginx) on distinct
# 127.0.0.x addresses with free-picked ports, seeds real images with skopeo,
# starts the proxy under test and drives real clients (skopeo, curl) through it.
# Everything started is killed on exit; on failure the tail of every log is
# printed.
#
# Useful environment:
#   PULLTHROUGH_BIN  proxy binary (default <repo>/build/pullthrough)
#   KEEP=1           keep the temp dir (path printed at the end)
#   PT_LOG_LEVEL     LOG_LEVEL given to the proxy (default: proxy's own default)
#   PT_LOG_TAIL      lines of each log printed on failure (default 30)
#
# Address plan (one address per upstream, so each may have its own port):
#   127.0.0.1   the proxy (LISTEN)
#   127.0.0.21  registry.test     127.0.0.22  auth.test
#   127.0.0.23  cdn.test          127.0.0.24  other.test
#   127.0.0.25.. spare (mirror.test, second registries, ...)

set -euo pipefail
set -E
exec 2>&1 # one stream: messages, client errors and assertions stay in order under ctest

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$IT_DIR/../.." && pwd)
PY=/usr/bin/python3
PULLTHROUGH_BIN=${PULLTHROUGH_BIN:-$REPO_ROOT/build/pullthrough}
TEST_NAME=$(basename "$0" .sh)

REGISTRY_IP=127.0.0.21
AUTH_IP=127.0.0.22
CDN_IP=127.0.0.23
OTHER_IP=127.0.0.24

# Nothing from the caller's environment may steer the clients or the proxy.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
unset LISTEN CA_DIR CACHE_DIR REGISTRIES UPSTREAM_RESOLVE UPSTREAM_CA_BUNDLE VERIFY_SSL \
  AUTH_REGISTRIES LOG_FORMAT LOG_LEVEL

T=$(mktemp -d "${TMPDIR:-/tmp}/pt-$TEST_NAME.XXXXXX")
chmod 755 "$T" # nginx workers (nobody) must be able to read docroots in here
export REGISTRY_AUTH_FILE="$T/skopeo-auth.json" # never read/write ~/.docker or /run
echo '{"auths":{}}' >"$REGISTRY_AUTH_FILE"
printf '{"default":[{"type":"insecureAcceptAnything"}]}\n' >"$T/policy.json"
SKOPEO=(skopeo --policy "$T/policy.json")

_PIDS=()      # everything we started, killed in reverse order on exit
_PID_NAMES=()
_LOGS=()      # "label|file" printed (tail) on failure
_CHECKS=0
_START_TS=$(date +%s)

declare -gA REG_ADDR=()       # NAME -> ip:port
declare -gA REG_PORT=()       # NAME -> port
declare -gA REG_DIR=()        # NAME -> dir
declare -gA REG_CREDS=()      # ip:port -> user:pass (for seeding)

log() { printf '[%s %s] %s\n' "$TEST_NAME" "$(date +%H:%M:%S)" "$*"; }

# ---------------------------------------------------------------- lifecycle

_register_pid() { _PIDS+=("$1"); _PID_NAMES+=("$2"); }
_register_log() { _LOGS+=("$1|$2"); }

dump_logs() {
  local n=${PT_LOG_TAIL:-30} entry label file
  for entry in "${_LOGS[@]}"; do
    label=${entry%%|*}
    file=${entry#*|}
    [ -f "$file" ] || continue
    echo "----- last $n lines of $label ($file) -----"
    tail -n "$n" "$file" | cut -c1-800 || true
  done
  echo "----- end of logs -----"
}

_kill_pid() { # PID NAME
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "($2, pid $pid, ignored SIGTERM for 5s: SIGKILL)"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

_on_err() { # LINE COMMAND RC
  echo "ERROR: '$2' failed with status $3 (line $1 of ${BASH_SOURCE[1]:-?})" >&2
}

_on_exit() {
  local rc=$?
  set +e +E
  trap - ERR
  if [ "$rc" -ne 0 ]; then
    dump_logs
    if [ -n "${PROXY_PID:-}" ] && ! kill -0 "$PROXY_PID" 2>/dev/null; then
      local st=0
      wait "$PROXY_PID" 2>/dev/null || st=$?
      if [ "$st" -gt 128 ]; then
        echo "NOTE: the proxy (pid $PROXY_PID) died from signal $((st - 128)) ($(kill -l $((st - 128)) 2>/dev/null || echo ?))"
      else
        echo "NOTE: the proxy (pid $PROXY_PID) had exited with status $st"
      fi
    fi
  fi
  local i
  for ((i = ${#_PIDS[@]} - 1; i >= 0; i--)); do
    _kill_pid "${_PIDS[$i]}" "${_PID_NAMES[$i]}"
  done
  if [ "${KEEP:-0}" = 1 ]; then
    echo "KEEP=1: test files kept in $T"
  else
    rm -rf "$T"
  fi
  if [ "$rc" -eq 0 ]; then
    :
  elif [ "$rc" -eq 77 ]; then
    echo "SKIP: $TEST_NAME"
  else
    echo "FAIL: $TEST_NAME (exit $rc after $_CHECKS passed checks, $(($(date +%s) - _START_TS))s)"
  fi
  exit "$rc"
}
trap '_on_err $LINENO "$BASH_COMMAND" $?' ERR
trap _on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- assertions

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

skip() {
  echo "SKIP: $*"
  exit 77
}

ok() {
  _CHECKS=$((_CHECKS + 1))
  echo "ok $_CHECKS - $*"
}

finish() {
  echo "PASS: $TEST_NAME: $_CHECKS checks in $(($(date +%s) - _START_TS))s"
  exit 0
}

require_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || skip "required command '$c' not installed (scripts/install-deps.sh)"
  done
}

assert_eq() { # ACTUAL EXPECTED MESSAGE
  [ "$1" == "$2" ] || fail "$3: expected '$2', got '$1'"
  ok "$3"
}

assert_ne() { # ACTUAL UNEXPECTED MESSAGE
  [ "$1" != "$2" ] || fail "$3: got '$1'"
  ok "$3"
}

assert_contains() { # HAYSTACK NEEDLE MESSAGE (fixed string)
  case "$1" in
    *"$2"*) ok "$3" ;;
    *) fail "$3: '$2' not found in: $(printf '%s' "$1" | head -c 2000)" ;;
  esac
}

assert_not_contains() { # HAYSTACK NEEDLE MESSAGE
  case "$1" in
    *"$2"*) fail "$3: unexpected '$2' in: $(printf '%s' "$1" | head -c 2000)" ;;
    *) ok "$3" ;;
  esac
}

assert_match() { # STRING ERE MESSAGE
  if grep -E -- "$2" <<<"$1" >/dev/null; then ok "$3"; else
    fail "$3: /$2/ does not match: $(printf '%s' "$1" | head -c 2000)"
  fi
}

assert_file_contains() { # FILE ERE MESSAGE
  grep -qE -- "$2" "$1" || fail "${3:-$1 contains /$2/}: /$2/ not in $1"
  ok "${3:-$1 contains /$2/}"
}

assert_alive() { # PID NAME
  kill -0 "$1" 2>/dev/null || fail "${2:-process $1} is not running any more"
  ok "${2:-process $1} is still running"
}

# Log assertions poll for a few seconds: the proxy may write its access line
# after the client has already seen the response.
_log_has_line_with_all() { # FILE STR...
  local file=$1
  shift
  [ -f "$file" ] || return 1
  # Each needle must appear on the same line, in any order. A needle "re:ERE"
  # is a Python regular expression, anything else a fixed string.
  $PY - "$file" "$@" <<'EOF'
import re, sys
path, needles = sys.argv[1], sys.argv[2:]
tests = [(lambda l, r=re.compile(n[3:]): r.search(l) is not None) if n.startswith("re:")
         else (lambda l, n=n: n in l) for n in needles]
with open(path, "r", errors="replace") as f:
    lines = f.readlines()
# Only the current proxy run: what follows the last "=== start #" marker.
for i in range(len(lines) - 1, -1, -1):
    if lines[i].startswith("=== start #"):
        lines = lines[i:]
        break
sys.exit(0 if any(all(t(l) for t in tests) for l in lines) else 1)
EOF
}

# proxy_log_current — the proxy log of the current run (since the last start).
proxy_log_current() {
  awk '/^=== start #/{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$PROXY_LOG"
}

# assert_log_line NEEDLE... : one line of the current proxy run's log (since the
# last start_proxy) contains all needles (fixed strings; "re:PYREGEX" for a
# Python regular expression, e.g. 're:\b200\b').
assert_log_line() {
  local i
  for i in $(seq 1 50); do
    if _log_has_line_with_all "$PROXY_LOG" "$@"; then
      ok "proxy log has a line with: $*"
      return 0
    fi
    sleep 0.1
  done
  fail "proxy log ($PROXY_LOG) has no line containing all of: $*"
}

_log_text() { # [FILE] : FILE, or the current proxy run's log
  if [ -n "${1:-}" ]; then cat "$1" 2>/dev/null; else proxy_log_current 2>/dev/null; fi
}

assert_log_contains() { # ERE [FILE] : the log (default: current proxy run) matches the ERE
  local re=$1 file=${2:-$PROXY_LOG} i
  for i in $(seq 1 50); do
    # (a here-string, not a pipe: with pipefail, grep -q closing early fails the pipeline)
    if grep -E -- "$re" <<<"$(_log_text "${2:-}")" >/dev/null; then
      ok "log $(basename "$file") matches /$re/"
      return 0
    fi
    sleep 0.1
  done
  fail "log $file does not match /$re/"
}

assert_log_not_contains() { # ERE [FILE]
  local re=$1 file=${2:-$PROXY_LOG}
  if grep -E -- "$re" <<<"$(_log_text "${2:-}")" >/dev/null; then
    fail "log $file unexpectedly matches /$re/: $(grep -E -- "$re" <<<"$(_log_text "${2:-}")" | head -3)"
  fi
  ok "log $(basename "$file") does not match /$re/"
}

# ---------------------------------------------------------------- ports, PKI

free_port() { # [IP]  prints a currently free TCP port (outside the ephemeral range)
  local ip=${1:-127.0.0.1} p
  touch "$T/used-ports" # (a file: free_port runs in $(...) subshells)
  p=$($PY - "$ip" "$(cat "$T/used-ports")" <<'EOF'
import random, socket, sys
ip, used = sys.argv[1], set(sys.argv[2].split())
for _ in range(500):
    p = random.randint(20000, 32000)
    if str(p) in used:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((ip, p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
else:
    sys.exit("no free port")
EOF
)
  echo "$p" >>"$T/used-ports"
  echo "$p"
}

# make_test_pki DIR [EXTRA_SAN...]
# Creates a test root CA and one server certificate valid for all the test
# host names and addresses. Sets:
#   TEST_CA_CRT TEST_CA_KEY  the root
#   TEST_CA_DIR              a directory holding only ca.crt (skopeo --*-cert-dir)
#   SERVER_CRT SERVER_KEY    leaf for registry.test auth.test cdn.test other.test
#                            *.test localhost 127.0.0.1 127.0.0.21-39 ::1 + extras
make_test_pki() {
  local dir=$1
  shift
  mkdir -p "$dir/cadir"
  cat >"$dir/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
O = pullthrough integration tests
CN = pullthrough test root CA
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
  openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -config "$dir/ca.cnf" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  cp "$dir/ca.crt" "$dir/cadir/ca.crt"
  TEST_CA_CRT=$dir/ca.crt
  TEST_CA_KEY=$dir/ca.key
  TEST_CA_DIR=$dir/cadir
  local sans=(registry.test '*.registry.test' auth.test cdn.test other.test mirror.test
    '*.test' localhost 127.0.0.1 ::1)
  local i
  for i in $(seq 21 39); do sans+=("127.0.0.$i"); done
  make_server_cert "$dir" server "${sans[@]}" "$@"
  SERVER_CRT=$dir/server.crt
  SERVER_KEY=$dir/server.key
  export TEST_CA_CRT TEST_CA_KEY TEST_CA_DIR SERVER_CRT SERVER_KEY
}

# make_server_cert PKIDIR NAME SAN...  -> PKIDIR/NAME.crt, PKIDIR/NAME.key signed
# by the test root; the first SAN is also the CN. IPs become IP SANs.
make_server_cert() {
  local dir=$1 name=$2
  shift 2
  local san="" s
  for s in "$@"; do
    if [[ $s =~ ^[0-9.]+$ || $s == *:* ]]; then san+="IP:$s,"; else san+="DNS:$s,"; fi
  done
  san=${san%,}
  cat >"$dir/$name.ext" <<EOF
[v3_srv]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
subjectAltName = $san
EOF
  openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/O=pullthrough integration tests/CN=$1" \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -sha256 -days 825 -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -set_serial "0x$(openssl rand -hex 12)" -extfile "$dir/$name.ext" -extensions v3_srv \
    -out "$dir/$name.crt" 2>/dev/null
  # Some servers want the chain; the leaf alone is what a registry presents.
  cat "$dir/$name.crt" "$dir/ca.crt" >"$dir/$name.chain.crt"
}

# ---------------------------------------------------------------- upstreams

# start_registry NAME IP PORT [--htpasswd USER:PASS] [--token REALM,SERVICE,ISSUER,ROOTCERT]
#                [--storage DIR] [--no-tls]
# Starts a CNCF distribution registry; waits until it answers on /v2/.
# PORT may be "auto": a free port is picked (and picked again if another
# process grabs it first). Sets REG_ADDR[NAME]=IP:PORT, REG_PORT[NAME],
# REG_DIR[NAME], REG_PID[NAME]; REG_CREDS[IP:PORT] (for seed_image).
# Options: --htpasswd USER:PASS, --token REALM,SERVICE,ISSUER,ROOTCERT,
# --storage DIR, --redirect BASEURL (blob GETs redirected there), --no-tls.
declare -gA REG_PID=()
start_registry() {
  local name=$1 ip=$2 port=$3
  shift 3
  local htpasswd="" token="" redirect="" tls=1 dir="$T/registry-$name"
  local storage="$dir/storage" auto=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --htpasswd) htpasswd=$2; shift 2 ;;
      --token) token=$2; shift 2 ;;
      --storage) storage=$2; shift 2 ;;
      --redirect) redirect=$2; shift 2 ;;
      --no-tls) tls=0; shift ;;
      *) fail "start_registry: unknown option $1" ;;
    esac
  done
  [ -n "${SERVER_CRT:-}" ] || make_test_pki "$T/pki"
  mkdir -p "$dir" "$storage"
  [ -z "$htpasswd" ] || htpasswd -Bbn "${htpasswd%%:*}" "${htpasswd#*:}" >"$dir/htpasswd"
  if [ "$port" = auto ]; then
    auto=1
    port=$(free_port "$ip")
  fi
  local attempt
  for attempt in 1 2 3 4 5; do
    _write_registry_config >"$dir/config.yml"
    log "starting registry $name on $ip:$port (tls=$tls${htpasswd:+, htpasswd}${token:+, token})"
    # The registry reads every REGISTRY_* variable as a config override.
    env -u REGISTRY_AUTH_FILE docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
    local pid=$!
    _register_pid "$pid" "registry-$name"
    [ "$attempt" -gt 1 ] || _register_log "registry $name" "$dir/registry.log"
    if _wait_registry "$pid" "$ip" "$port" "$tls"; then
      REG_ADDR[$name]="$ip:$port"
      REG_PORT[$name]=$port
      REG_DIR[$name]=$dir
      REG_PID[$name]=$pid
      [ -z "$htpasswd" ] || REG_CREDS["$ip:$port"]=$htpasswd
      return 0
    fi
    if [ "$auto" = 1 ] && grep -q 'address already in use' "$dir/registry.log"; then
      _kill_pid "$pid" "registry-$name"
      port=$(free_port "$ip")
      continue
    fi
    fail "registry $name did not start on $ip:$port (see its log below)"
  done
  fail "registry $name: no free port found"
}

_write_registry_config() { # uses start_registry's locals
  echo "version: 0.1"
  echo "log:"
  echo "  level: info"
  echo "  formatter: text"
  echo "  fields: {service: registry-$name}"
  echo "storage:"
  echo "  filesystem:"
  echo "    rootdirectory: $storage"
  echo "  delete:"
  echo "    enabled: true"
  echo "  maintenance:"
  echo "    uploadpurging: {enabled: false}"
  echo "http:"
  echo "  addr: \"$ip:$port\""  # quoted: YAML reads "[::1]:5000" as a list
  echo "  secret: pullthrough-integration-test-secret"
  echo "  headers:"
  echo "    X-Content-Type-Options: [nosniff]"
  if [ "$tls" = 1 ]; then
    echo "  tls:"
    echo "    certificate: $SERVER_CRT"
    echo "    key: $SERVER_KEY"
  fi
  if [ -n "$htpasswd" ]; then
    echo "auth:"
    echo "  htpasswd:"
    echo "    realm: pullthrough-test-$name"
    echo "    path: $dir/htpasswd"
  elif [ -n "$token" ]; then
    local realm service issuer rootcert
    IFS=, read -r realm service issuer rootcert <<<"$token"
    echo "auth:"
    echo "  token:"
    echo "    realm: $realm"
    echo "    service: $service"
    echo "    issuer: $issuer"
    echo "    rootcertbundle: $rootcert"
  fi
  if [ -n "$redirect" ]; then
    # Blob GETs are redirected to BASEURL + the storage path (a CDN in front of the storage).
    echo "middleware:"
    echo "  storage:"
    echo "    - name: redirect"
    echo "      options:"
    echo "        baseurl: $redirect"
  fi
}

_wait_registry() { # PID IP PORT TLS -> 0 when it answers on /v2/, 1 when it died, fails after 15s
  local pid=$1 ip=$2 port=$3 scheme=https i code
  [ "$4" = 1 ] || scheme=http
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || return 1
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$TEST_CA_CRT" \
      "$scheme://$ip:$port/v2/" 2>/dev/null || true)
    if [ "$code" = 200 ] || [ "$code" = 401 ]; then
      # Was that us? Another process may hold the port, in which case we exited.
      sleep 0.2
      kill -0 "$pid" 2>/dev/null || return 1
      return 0
    fi
    sleep 0.1
  done
  fail "registry did not answer on $scheme://$ip:$port/v2/ within 15s"
}

# seed_image ADDR REPO:TAG [LAYERS] [SIZE] [--oci] [--creds U:P] [--seed S]
# Builds a deterministic image (make_image.py) and pushes it directly (no proxy)
# with skopeo to docker://ADDR/REPO:TAG (ADDR is ip:port; creds default to the
# registry's htpasswd user). Sets SEED_DIGEST (manifest digest) and SEED_DIR;
# also IMAGE_DIGEST[REPO:TAG] and IMAGE_DIR[REPO:TAG].
declare -gA IMAGE_DIGEST=()
declare -gA IMAGE_DIR=()
seed_image() {
  local addr=$1 ref=$2
  shift 2
  local layers=3 size=262144 format=docker creds="" seed="" pos=0
  creds=${REG_CREDS[$addr]:-}
  while [ $# -gt 0 ]; do
    case "$1" in
      --oci) format=oci; shift ;;
      --creds) creds=$2; shift 2 ;;
      --seed) seed=$2; shift 2 ;;
      --size) size=$2; shift 2 ;;
      --layers) layers=$2; shift 2 ;;
      *)
        if [ "$pos" = 0 ]; then layers=$1; else size=$1; fi
        pos=$((pos + 1))
        shift
        ;;
    esac
  done
  local out="$T/seed/${ref//[\/:]/_}-$format"
  rm -rf "$out"
  SEED_DIGEST=$($PY "$IT_DIR/make_image.py" "$out" --layers "$layers" --size "$size" \
    --format "$format" --seed "${seed:-$ref}")
  SEED_DIR=$out
  push_seed_dir "$addr" "$ref" "$out" "$creds" "$layers layers x $size bytes, $format"
}

# push_seed_dir ADDR REF DIR CREDS WHAT — pushes the image built in DIR (skopeo
# dir: layout) to ADDR/REF directly (no proxy) and records it in IMAGE_DIGEST
# and IMAGE_DIR. WHAT describes it in the log.
push_seed_dir() {
  local addr=$1 ref=$2 out=$3 creds=$4 what=$5
  local credargs=()
  [ -z "$creds" ] || credargs=(--dest-creds "$creds")
  log "seeding $addr/$ref ($what) $SEED_DIGEST"
  "${SKOPEO[@]}" copy -q --preserve-digests --dest-cert-dir "$TEST_CA_DIR" "${credargs[@]}" \
    "dir:$out" "docker://$addr/$ref" >"$T/seed.log" 2>&1 ||
    { cat "$T/seed.log"; fail "seeding $addr/$ref failed"; }
  IMAGE_DIGEST[$ref]=$SEED_DIGEST
  IMAGE_DIR[$ref]=$out
}

# start_nginx_tls NAME IP PORT DOCROOT  — nginx serving DOCROOT over TLS with
# the test server certificate. Sets NGINX_DIR. Optional settings (environment):
#   NGINX_CRT NGINX_KEY NGINX_CA  another certificate, and the CA that verifies it
#   NGINX_WORKERS                 worker processes (1)
#   NGINX_HTTP_EXTRA NGINX_SERVER_EXTRA  more directives for the http / server block
start_nginx_tls() {
  local name=$1 ip=$2 port=$3 root=$4
  local dir="$T/nginx-$name"
  [ -n "${SERVER_CRT:-}" ] || make_test_pki "$T/pki"
  local crt=${NGINX_CRT:-$SERVER_CRT} key=${NGINX_KEY:-$SERVER_KEY} ca=${NGINX_CA:-$TEST_CA_CRT}
  mkdir -p "$dir/tmp"
  local user_line=""
  [ "$(id -u)" != 0 ] || user_line="user root root;"
  cat >"$dir/nginx.conf" <<EOF
$user_line
worker_processes ${NGINX_WORKERS:-1};
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 256; }
http {
  access_log $dir/access.log;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  types { text/plain txt; application/json json; }
  default_type application/octet-stream;
  ${NGINX_HTTP_EXTRA:-}
  server {
    listen $ip:$port ssl;
    server_name _;
    ssl_certificate $crt;
    ssl_certificate_key $key;
    root $root;
    location / { }
    ${NGINX_SERVER_EXTRA:-}
  }
}
EOF
  log "starting nginx $name on $ip:$port serving $root"
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
  local pid=$!
  _register_pid "$pid" "nginx-$name"
  _register_log "nginx $name error" "$dir/error.log"
  _register_log "nginx $name access" "$dir/access.log"
  local i
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { cat "$dir/stdout.log"; fail "nginx $name exited during startup"; }
    if curl -s -o /dev/null --max-time 2 --cacert "$ca" "https://$ip:$port/"; then
      NGINX_DIR=$dir
      return 0
    fi
    sleep 0.1
  done
  fail "nginx $name did not answer on https://$ip:$port/ within 10s"
}

# ---------------------------------------------------------------- the proxy

require_proxy_bin() {
  [ -x "$PULLTHROUGH_BIN" ] ||
    fail "proxy binary $PULLTHROUGH_BIN not found (build it: cmake --build build --target pullthrough)"
}

PROXY_LOG="$T/proxy.log"
PROXY_PID=""
PROXY_PORT=""
_PROXY_STARTS=0

# start_proxy [VAR=value ...]
# Starts $PULLTHROUGH_BIN with LISTEN=127.0.0.1:<free port>, CA_DIR=$T/proxy/ca,
# CACHE_DIR=$T/proxy/cache (the same dirs on every start within a test, so a
# restart keeps them; override with CA_DIR=... etc.), plus the given VAR=value.
# Output (stdout+stderr) is appended to $PROXY_LOG. Waits for /healthz, then
# fetches /ca.crt to $PROXY_CA_CRT inside $PROXY_CERT_DIR (for skopeo).
# Sets PROXY_PID PROXY_PORT PROXY_URL PROXY_CERT_DIR PROXY_CA_CRT.
start_proxy() {
  require_proxy_bin
  PROXY_PORT=$(free_port 127.0.0.1)
  PROXY_URL="http://127.0.0.1:$PROXY_PORT"
  _PROXY_STARTS=$((_PROXY_STARTS + 1))
  mkdir -p "$T/proxy"
  local envs=(LISTEN="127.0.0.1:$PROXY_PORT" CA_DIR="$T/proxy/ca" CACHE_DIR="$T/proxy/cache")
  [ -z "${PT_LOG_LEVEL:-}" ] || envs+=(LOG_LEVEL="$PT_LOG_LEVEL")
  envs+=("$@")
  [ "$_PROXY_STARTS" -gt 1 ] || _register_log "proxy" "$PROXY_LOG"
  echo "=== start #$_PROXY_STARTS: ${envs[*]}" >>"$PROXY_LOG"
  log "starting proxy on 127.0.0.1:$PROXY_PORT: ${envs[*]:2}"
  env "${envs[@]}" "$PULLTHROUGH_BIN" >>"$PROXY_LOG" 2>&1 &
  PROXY_PID=$!
  _register_pid "$PROXY_PID" "pullthrough"
  local i code
  for i in $(seq 1 150); do
    if ! kill -0 "$PROXY_PID" 2>/dev/null; then
      wait "$PROXY_PID" && code=0 || code=$?
      if [ "${_PROXY_PORT_RETRIES:-0}" -lt 3 ] &&
        grep -iE 'address already in use|EADDRINUSE' <<<"$(tail -n 5 "$PROXY_LOG")" >/dev/null; then
        _PROXY_PORT_RETRIES=$((${_PROXY_PORT_RETRIES:-0} + 1))
        log "proxy port $PROXY_PORT was taken meanwhile; retrying on another"
        start_proxy "$@"
        return
      fi
      fail "proxy exited during startup with status $code"
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$PROXY_URL/healthz" 2>/dev/null || true)
    [ "$code" != 200 ] || break
    sleep 0.1
  done
  [ "$code" = 200 ] || fail "proxy did not answer 200 on $PROXY_URL/healthz within 15s (last: $code)"
  PROXY_CERT_DIR="$T/proxy-trust-$_PROXY_STARTS"
  PROXY_CA_CRT="$PROXY_CERT_DIR/ca.crt"
  mkdir -p "$PROXY_CERT_DIR"
  curl -sS --fail --max-time 5 -o "$PROXY_CA_CRT" "$PROXY_URL/ca.crt" ||
    fail "could not fetch $PROXY_URL/ca.crt"
  openssl x509 -in "$PROXY_CA_CRT" -noout 2>/dev/null ||
    fail "$PROXY_URL/ca.crt is not a PEM certificate: $(head -c 300 "$PROXY_CA_CRT")"
  export PROXY_PID PROXY_PORT PROXY_URL PROXY_CERT_DIR PROXY_CA_CRT
}

# stop_proxy [SIGNAL] — signals the proxy (default TERM), waits up to 20s,
# sets PROXY_EXIT to its exit status (fails if it does not exit).
stop_proxy() {
  local sig=${1:-TERM} i
  [ -n "$PROXY_PID" ] || fail "stop_proxy: no proxy running"
  kill -"$sig" "$PROXY_PID" 2>/dev/null || true
  for i in $(seq 1 200); do
    kill -0 "$PROXY_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$PROXY_PID" 2>/dev/null; then
    fail "proxy did not exit within 20s of SIG$sig"
  fi
  wait "$PROXY_PID" && PROXY_EXIT=0 || PROXY_EXIT=$?
  PROXY_PID=""
}

assert_proxy_alive() { assert_alive "$PROXY_PID" "the proxy"; }

# proxy_pull IMAGE OUT [skopeo copy args...]
# skopeo copy docker://IMAGE dir:OUT through the proxy, trusting only the
# proxy's CA in addition to the system store. skopeo's output goes to stdout.
_PULLS=0
proxy_pull() {
  local image=$1 out=$2
  shift 2
  rm -rf "$out"
  _PULLS=$((_PULLS + 1))
  HTTPS_PROXY="$PROXY_URL" NO_PROXY="" "${SKOPEO[@]}" copy --src-cert-dir "$PROXY_CERT_DIR" \
    "$@" "docker://$image" "dir:$out"
}

# verify_dir_digests OUT [EXPECTED_MANIFEST_DIGEST]
verify_dir_digests() {
  local msg
  msg=$($PY "$IT_DIR/verify_dir.py" "$@") || fail "$msg"
  ok "${msg#verify_dir: }"
}

# pcurl ARGS... — curl through the proxy, trusting the proxy CA.
pcurl() {
  curl -sS --max-time 30 --proxy "$PROXY_URL" --cacert "$PROXY_CA_CRT" "$@"
}

# raw_http REQUEST_TEXT  — sends bytes (printf %b escapes) straight to the proxy
# port, prints what comes back (up to 64 KiB, 10s).
raw_http() {
  $PY - "$PROXY_PORT" "$1" <<'EOF'
import socket, sys
port, req = int(sys.argv[1]), sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(req)
out = b""
try:
    while len(out) < 65536:
        b = s.recv(65536)
        if not b:
            break
        out += b
except (socket.timeout, ConnectionResetError):
    pass
sys.stdout.write(out.decode("latin-1"))
EOF
}

# header_value NAME FILE — value of the last NAME header in a curl -D dump.
header_value() {
  tr -d '\r' <"$2" | awk -v n="$(echo "$1" | tr '[:upper:]' '[:lower:]')" -F': ' \
    'tolower($1)==n{v=substr($0, length($1)+3)} END{print v}'
}

sha256_of() { sha256sum "$1" | awk '{print "sha256:" $1}'; }

# start_standard_registry — the usual upstream: PKI, registry.test at
# 127.0.0.21:<free port> with TLS and htpasswd (alice:s3cret), seeded with
# library/app:1.0 (3 layers, Docker schema2). Sets RPORT RCREDS IMAGE DIGEST
# and STD_PROXY_ENV (the start_proxy arguments that intercept registry.test).
start_standard_registry() {
  [ -n "${SERVER_CRT:-}" ] || make_test_pki "$T/pki"
  RCREDS=alice:s3cret
  start_registry reg "$REGISTRY_IP" auto --htpasswd "$RCREDS"
  RPORT=${REG_PORT[reg]}
  seed_image "${REG_ADDR[reg]}" library/app:1.0 3 300000
  IMAGE="registry.test:$RPORT/library/app:1.0"
  DIGEST=$SEED_DIGEST
  SEED_DIR_APP=$SEED_DIR
  STD_PROXY_ENV=(REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP"
    "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT")
}

# wait_pids PID... — waits for the given background jobs (never a bare `wait`:
# that would also wait for the registries and the proxy); returns the number
# that failed.
wait_pids() {
  local p failed=0
  for p in "$@"; do wait "$p" || failed=$((failed + 1)); done
  return "$failed"
}

# ---------------------------------------------------------------- cache tests

# proxy_log_mark — the proxy log's current line count, for proxy_requests_since.
proxy_log_mark() {
  if [ -f "$PROXY_LOG" ]; then wc -l <"$PROXY_LOG" | tr -d ' '; else echo 0; fi
}

# proxy_requests_since MARK [ERE] — the access-log lines ("request session=...")
# written after MARK (from proxy_log_mark), optionally only those matching ERE.
proxy_requests_since() {
  [ -f "$PROXY_LOG" ] || return 0
  tail -n +"$(($1 + 1))" "$PROXY_LOG" | grep -E ' request session=' | grep -E -- "${2:-.}" || true
}

# wait_proxy_requests MARK N [ERE] — waits (up to 10s) until at least N access-log
# lines (matching ERE) follow MARK: the proxy logs a request after its response,
# so the client may finish first.
wait_proxy_requests() {
  local mark=$1 n=$2 re=${3:-.} i c=0
  for i in $(seq 1 100); do
    c=$(proxy_requests_since "$mark" "$re" | wc -l)
    [ "$c" -lt "$n" ] || return 0
    sleep 0.1
  done
  fail "expected at least $n proxy access-log line(s) matching /$re/ after line $mark, got $c"
}

# registry_requests NAME METHOD PATH — how many "METHOD PATH" requests the
# docker-registry NAME has logged (its access-log lines; PATH is a fixed string).
registry_requests() {
  local file="${REG_DIR[$1]}/registry.log"
  [ -f "$file" ] || { echo 0; return 0; }
  grep -cF -- "\"$2 $3 HTTP/1." "$file" || true
}

# seed_image_sizes ADDR REPO:TAG SIZE... — like seed_image (Docker schema2), with
# one layer per SIZE (random bytes each). Sets SEED_DIGEST SEED_DIR,
# IMAGE_DIGEST[REPO:TAG] IMAGE_DIR[REPO:TAG].
seed_image_sizes() {
  local addr=$1 ref=$2
  shift 2
  local out="$T/seed/${ref//[\/:]/_}-sizes" i=0 size parts=()
  rm -rf "$out" "$out.parts"
  for size in "$@"; do
    $PY "$IT_DIR/make_image.py" "$out.parts/$i" --layers 1 --size "$size" --seed "$ref-$i" >/dev/null
    parts+=("$out.parts/$i")
    i=$((i + 1))
  done
  SEED_DIGEST=$($PY - "$out" "${parts[@]}" <<'PYEOF'
import hashlib, json, os, shutil, sys
out, parts = sys.argv[1], sys.argv[2:]
os.makedirs(out)
layers, diff_ids, history, config = [], [], [], None
for p in parts:
    m = json.load(open(os.path.join(p, "manifest.json")))
    c = json.load(open(os.path.join(p, m["config"]["digest"].split(":")[1])))
    config = config or c
    layers += m["layers"]
    diff_ids += c["rootfs"]["diff_ids"]
    history += c["history"]
    for l in m["layers"]:
        shutil.copy(os.path.join(p, l["digest"].split(":")[1]), out)
config["rootfs"]["diff_ids"], config["history"] = diff_ids, history
cb = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
ch = hashlib.sha256(cb).hexdigest()
open(os.path.join(out, ch), "wb").write(cb)
m["config"].update(size=len(cb), digest="sha256:" + ch)
m["layers"] = layers
mb = json.dumps(m, indent=3).encode()
open(os.path.join(out, "manifest.json"), "wb").write(mb)
open(os.path.join(out, "version"), "w").write("Directory Transport Version: 1.1\n")
print("sha256:" + hashlib.sha256(mb).hexdigest())
PYEOF
)
  rm -rf "$out.parts"
  SEED_DIR=$out
  push_seed_dir "$addr" "$ref" "$out" "${REG_CREDS[$addr]:-}" "layers of $* bytes, docker"
}

# image_blobs DIR — the digests of the config and layers of the image in DIR
# (a skopeo dir: layout), one per line.
image_blobs() {
  $PY - "$1/manifest.json" <<'PYEOF'
import json, os, sys
m = json.load(open(sys.argv[1]))
try:
    for d in [m["config"]] + m["layers"]:
        print(d["digest"], flush=True)
except BrokenPipeError:  # a reader such as `head -n1` may stop early: not an error
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
PYEOF
}

# cache_blob_path DIGEST [CACHE_DIR] — where the proxy keeps a cached blob.
cache_blob_path() {
  local hex=${1#sha256:}
  echo "${2:-$T/proxy/cache}/blobs/sha256/${hex:0:2}/$hex"
}

# files_bytes DIR — total size of the regular files under DIR (0 if missing).
files_bytes() {
  [ -d "$1" ] || { echo 0; return 0; }
  find "$1" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'
}

# files_count DIR — number of regular files under DIR (0 if missing).
files_count() {
  [ -d "$1" ] || { echo 0; return 0; }
  find "$1" -type f | wc -l
}

# wait_port_file PID DIR WHAT — waits up to 10 s for a server started in the
# background to write its port to DIR/port (its output in DIR/stdout.log);
# fails if it exits first. Sets WAITED_PORT.
wait_port_file() {
  local pid=$1 dir=$2 what=$3 i
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { cat "$dir/stdout.log"; fail "$what exited during startup"; }
    [ -s "$dir/port" ] && break
    sleep 0.1
  done
  [ -s "$dir/port" ] || fail "$what wrote no port within 10s"
  WAITED_PORT=$(cat "$dir/port")
}

# start_fake_blob_registry HOST IP [fake_blob_registry.py args...] — the
# misbehaving HTTPS registry of fake_blob_registry.py on IP, with a certificate
# from the test root for HOST and IP. Sets FAKE_PORT FAKE_LOG FAKE_PID.
start_fake_blob_registry() {
  local name=$1 ip=$2
  shift 2
  [ -n "${SERVER_CRT:-}" ] || make_test_pki "$T/pki"
  local dir="$T/fake-$name" i
  mkdir -p "$dir"
  make_server_cert "$T/pki" "fake-$name" "$name" "$ip"
  FAKE_LOG="$dir/requests.log"
  : >"$FAKE_LOG"
  rm -f "$dir/port"
  log "starting fake registry $name on $ip ($*)"
  $PY "$IT_DIR/fake_blob_registry.py" --ip "$ip" --port-file "$dir/port" \
    --cert "$T/pki/fake-$name.crt" --key "$T/pki/fake-$name.key" --log "$FAKE_LOG" "$@" >"$dir/stdout.log" 2>&1 &
  FAKE_PID=$!
  _register_pid "$FAKE_PID" "fake-$name"
  _register_log "fake registry $name requests" "$FAKE_LOG"
  _register_log "fake registry $name output" "$dir/stdout.log"
  wait_port_file "$FAKE_PID" "$dir" "fake registry $name"
  FAKE_PORT=$WAITED_PORT
  curl -sS --fail -o /dev/null --max-time 5 --cacert "$TEST_CA_CRT" "https://$ip:$FAKE_PORT/v2/" ||
    fail "fake registry $name does not answer on https://$ip:$FAKE_PORT/v2/"
  : >"$FAKE_LOG" # forget our own probe
}

# response_status FILE — the status code of the last response in a curl -D dump
# (through the proxy the dump starts with the CONNECT's "200 Connection Established").
response_status() {
  tr -d '\r' <"$1" | awk '/^HTTP\//{s=$2} END{print s}'
}
