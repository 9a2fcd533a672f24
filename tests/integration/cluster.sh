# shellcheck shell=bash
# shellcheck disable=SC2034 # globals set here are read by the tests that source this
# cluster.sh — helpers of the cluster-mode tests (PEERS, issue 15): sourced after lib.sh by
# tests/integration/test_cluster*.sh (and bench/run.sh's cluster section).
#
# A replica is one pullthrough process with its own LISTEN (the proxy port clients use), its own
# PEER_LISTEN (the mutual-TLS peer port), its own CACHE_DIR, and the CA directory shared by all
# replicas ($CLUSTER_CA_DIR: the first replica started creates it, the others load it). Replicas
# get distinct loopback addresses (127.0.0.31, .32, ...), so a log line's client address says who
# asked. Replicas keep their ports across restarts (PEERS names them).
#
#   cluster_cdn_world [LAYERS SIZE]  PKI, the CDN stand-in (nginx serving the registry's storage at
#                           cdn.test, NGINX_SERVER_EXTRA passed on, e.g. "limit_rate 8m;") and
#                           registry.test redirecting blob GETs to it (test_redirect_cdn.sh's world);
#                           sets CDN_PORT CDN_LOG RPORT RADDR RCREDS CLUSTER_ENV
#   cluster_plan NAME IP [PEERPORT]  picks the replica's ports (R_PORT, R_PEER = IP:PEERPORT)
#   cluster_members NAME...  the PEERS text of those replicas ("ip:port ip:port ...")
#   start_replica NAME VAR=value...  starts it (CLUSTER_ENV + the arguments), waits for /healthz
#   stop_replica NAME [SIGNAL]       signals it (TERM) and waits for its exit
#   replica_pull NAME IMAGE OUT [skopeo args]   skopeo copy through that replica
#   rcurl NAME curl-args...          curl through that replica (trusting the shared CA)
#   replica_metric NAME METRIC       the sum of a /metrics family (0 when absent)
#   wait_replica_metric NAME METRIC VALUE [SECONDS]   until it equals VALUE (returns 1 on timeout)
#   owners KEY MEMBER...             the members in rendezvous order for KEY (owner first)
#   pick_blob OUT SIZE "M1 [M2..]" MEMBER...  random bytes whose digest ranks M1 (then M2...) first
#   upload_blob FILE REPO            pushes FILE as a blob of REPO straight to the registry
#   cdn_gets DIGEST                  the CDN's GETs of that blob so far
#   rlog_lines NAME [ERE] [MARK]     access-log lines of a replica (current run / after MARK)
#   assert_rlog_line NAME NEEDLE...  one line of the replica's current run has all the needles
#   soft_fail / c_eq / cluster_finish   CLUSTER_SOFT=1 turns failures into "not ok" and goes on
#                                    (to see every check against a build without the feature)

CLUSTER_CA_DIR=$T/cluster-ca
CLUSTER_TRUST=$T/cluster-trust # holds ca.crt only (skopeo --src-cert-dir)
declare -gA R_IP=() R_PORT=() R_PEER=() R_PID=() R_LOG=() R_CACHE=() R_URL=() R_STARTS=()
R_NAMES=()
CLUSTER_ENV=()
_SOFT_FAILS=0

# ---------------------------------------------------------------- soft checks

soft_fail() {
  if [ "${CLUSTER_SOFT:-0}" = 1 ]; then
    _SOFT_FAILS=$((_SOFT_FAILS + 1))
    echo "not ok (CLUSTER_SOFT=1: going on) - $*"
    return 0
  fi
  fail "$@"
}

c_eq() { # ACTUAL EXPECTED MESSAGE
  if [ "$1" == "$2" ]; then ok "$3"; else soft_fail "$3: expected '$2', got '$1'"; fi
}

c_match() { # STRING ERE MESSAGE
  if grep -E -- "$2" <<<"$1" >/dev/null; then ok "$3"; else
    soft_fail "$3: /$2/ does not match: $(printf '%s' "$1" | head -c 1000)"
  fi
}

c_not_contains() { # HAYSTACK NEEDLE MESSAGE
  case "$1" in
    *"$2"*) soft_fail "$3: unexpected '$2' in: $(printf '%s' "$1" | head -c 1000)" ;;
    *) ok "$3" ;;
  esac
}

c_ge() { # ACTUAL MIN MESSAGE (integers)
  if [ "$1" -ge "$2" ]; then ok "$3 ($1 >= $2)"; else soft_fail "$3: expected >= $2, got $1"; fi
}

# known_bug ID MESSAGE — a check that failed because of a proxy bug the tests found, now fixed:
# a failure again is a regression. CLUSTER_LENIENT=1 only reports it (to look past it while
# working on something else). PEER_SILENT_FALLBACK: a peer that accepts and says nothing ended the
# client's session instead of moving on to the next candidate (fixed: the peer connect and the
# response head race timers of their own).
known_bug() {
  if [ "${CLUSTER_LENIENT:-0}" != 1 ]; then
    fail "$1: $2"
  fi
  echo "KNOWN BUG $1 (not failed: CLUSTER_LENIENT=1): $2"
}

cluster_finish() {
  [ "$_SOFT_FAILS" = 0 ] || fail "$_SOFT_FAILS check(s) failed (CLUSTER_SOFT=1 went on past them)"
  finish
}

# ---------------------------------------------------------------- the world

# cluster_cdn_world — the redirect flow of test_redirect_cdn.sh: registry.test (htpasswd
# alice:s3cret) keeps its storage in $T/storage and redirects blob GETs to cdn.test, an nginx
# serving that storage; the CDN's access log counts the blob downloads.
cluster_cdn_world() {
  make_test_pki "$T/pki"
  STORAGE="$T/storage"
  mkdir -p "$STORAGE"
  CDN_PORT=$(free_port "$CDN_IP")
  start_nginx_tls cdn "$CDN_IP" "$CDN_PORT" "$STORAGE"
  CDN_DIR=$NGINX_DIR
  CDN_LOG=$CDN_DIR/access.log
  RCREDS=alice:s3cret
  start_registry reg "$REGISTRY_IP" auto --htpasswd "$RCREDS" --storage "$STORAGE" \
    --redirect "https://cdn.test:$CDN_PORT"
  RPORT=${REG_PORT[reg]}
  RADDR=${REG_ADDR[reg]}
  CLUSTER_ENV=(REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP cdn.test=$CDN_IP"
    "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" "AUTH_REGISTRIES=registry.test:$RCREDS")
}

# cdn_gets DIGEST — GETs of the blob's data file the CDN has logged.
cdn_gets() {
  local hex=${1#sha256:}
  grep -c "\"GET /docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data " "$CDN_LOG" || true
}

# upload_blob FILE REPO — a monolithic blob upload straight to the registry (no proxy).
upload_blob() {
  local file=$1 repo=$2 d loc sep
  d=$(sha256_of "$file")
  loc=$(curl -sS --fail --cacert "$TEST_CA_CRT" -u "$RCREDS" -X POST -D - -o /dev/null \
    "https://$RADDR/v2/$repo/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
  case "$loc" in http*) ;; *) loc="https://$RADDR$loc" ;; esac
  case "$loc" in *\?*) sep='&' ;; *) sep='?' ;; esac
  curl -sS --fail --cacert "$TEST_CA_CRT" -u "$RCREDS" -T "$file" -H 'Content-Type: application/octet-stream' \
    -o /dev/null "$loc${sep}digest=$d" || fail "upload of $(basename "$file") to $repo failed"
}

# ---------------------------------------------------------------- rendezvous hashing

# owners KEY MEMBER... — the members, best first: score = first 8 bytes (big endian) of
# SHA-256(member + "\n" + key); the highest owns; ties go to the smaller member string.
owners() {
  $PY - "$@" <<'EOF'
import hashlib, sys
key, members = sys.argv[1], sys.argv[2:]
score = lambda m: int.from_bytes(hashlib.sha256((m + "\n" + key).encode()).digest()[:8], "big")
print(" ".join(sorted(members, key=lambda m: (-score(m), m))))
EOF
}

owner() { # KEY MEMBER... -> the owner
  local o
  o=$(owners "$@")
  echo "${o%% *}"
}

# pick_blob OUT SIZE "M1 [M2 ...]" MEMBER... — writes SIZE random bytes to OUT such that the
# blob's digest ranks M1 first (then M2 ...) among the MEMBERs. Prints the digest.
pick_blob() {
  $PY - "$@" <<'EOF'
import hashlib, os, sys
out, size, want, members = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4:]
for _ in range(100000):
    data = os.urandom(size)
    key = "sha256:" + hashlib.sha256(data).hexdigest()
    score = lambda m: int.from_bytes(hashlib.sha256((m + "\n" + key).encode()).digest()[:8], "big")
    order = sorted(members, key=lambda m: (-score(m), m))
    if order[:len(want)] == want:
        open(out, "wb").write(data)
        print(key)
        break
else:
    sys.exit("pick_blob: no blob found")
EOF
}

# ---------------------------------------------------------------- replicas

# cluster_plan NAME IP [PEERPORT] — reserves the replica's proxy and peer ports.
cluster_plan() {
  local name=$1 ip=$2
  R_NAMES+=("$name")
  R_IP[$name]=$ip
  R_PORT[$name]=$(free_port "$ip")
  R_PEER[$name]="$ip:${3:-$(free_port "$ip")}"
  R_URL[$name]="http://$ip:${R_PORT[$name]}"
  R_CACHE[$name]="$T/replica-$name/cache"
  R_LOG[$name]="$T/replica-$name/proxy.log"
  R_STARTS[$name]=0
  R_PID[$name]=""
  mkdir -p "$T/replica-$name"
}

cluster_members() { # NAME... -> "ip:port ip:port"
  local n out=()
  for n in "$@"; do out+=("${R_PEER[$n]}"); done
  echo "${out[*]}"
}

replica_of_member() { # ip:port -> NAME
  local n
  for n in "${R_NAMES[@]}"; do [ "${R_PEER[$n]}" != "$1" ] || { echo "$n"; return 0; }; done
  echo "?"
}

# start_replica NAME [VAR=value...] — LISTEN, PEER_LISTEN, CA_DIR, CACHE_DIR, CLUSTER_ENV, then
# the arguments (PEERS=... among them). Output is appended to R_LOG[NAME] after a
# "=== start #N" line.
start_replica() {
  require_proxy_bin
  local name=$1
  shift
  local envs=(LISTEN="${R_IP[$name]}:${R_PORT[$name]}" PEER_LISTEN="${R_PEER[$name]}"
    CA_DIR="$CLUSTER_CA_DIR" CACHE_DIR="${R_CACHE[$name]}")
  [ -z "${PT_LOG_LEVEL:-}" ] || envs+=(LOG_LEVEL="$PT_LOG_LEVEL")
  envs+=("${CLUSTER_ENV[@]}" "$@")
  R_STARTS[$name]=$((R_STARTS[$name] + 1))
  [ "${R_STARTS[$name]}" -gt 1 ] || _register_log "replica $name" "${R_LOG[$name]}"
  echo "=== start #${R_STARTS[$name]}: ${envs[*]}" >>"${R_LOG[$name]}"
  log "starting replica $name: proxy ${R_IP[$name]}:${R_PORT[$name]}, peer ${R_PEER[$name]}"
  env "${envs[@]}" "$PULLTHROUGH_BIN" >>"${R_LOG[$name]}" 2>&1 &
  R_PID[$name]=$!
  _register_pid "${R_PID[$name]}" "replica-$name"
  local i code=""
  for i in $(seq 1 150); do
    if ! kill -0 "${R_PID[$name]}" 2>/dev/null; then
      tail -n 20 "${R_LOG[$name]}"
      fail "replica $name exited during startup"
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${R_URL[$name]}/healthz" 2>/dev/null || true)
    [ "$code" != 200 ] || break
    sleep 0.1
  done
  [ "$code" = 200 ] || fail "replica $name did not answer 200 on ${R_URL[$name]}/healthz within 15s"
  if [ ! -s "$CLUSTER_TRUST/ca.crt" ]; then
    mkdir -p "$CLUSTER_TRUST"
    curl -sS --fail --max-time 5 -o "$CLUSTER_TRUST/ca.crt" "${R_URL[$name]}/ca.crt" ||
      fail "could not fetch ${R_URL[$name]}/ca.crt"
  fi
}

# stop_replica NAME [SIGNAL] — TERM by default; KILL for a crash. Waits until it has exited.
stop_replica() {
  local name=$1 sig=${2:-TERM} pid=${R_PID[$1]} i
  [ -n "$pid" ] || fail "stop_replica: replica $name is not running"
  kill -"$sig" "$pid" 2>/dev/null || true
  for i in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "replica $name did not exit within 20s of SIG$sig"
  wait "$pid" 2>/dev/null || true
  R_PID[$name]=""
}

assert_replica_alive() { assert_alive "${R_PID[$1]}" "replica $1"; }

# replica_pull NAME IMAGE OUT [skopeo copy args...] — skopeo through the replica's proxy port.
replica_pull() {
  local name=$1 image=$2 dest=$3
  shift 3
  rm -rf "$dest"
  HTTPS_PROXY="${R_URL[$name]}" NO_PROXY="" "${SKOPEO[@]}" copy -q --src-cert-dir "$CLUSTER_TRUST" \
    "$@" "docker://$image" "dir:$dest"
}

rcurl() { # NAME curl-args...
  local name=$1
  shift
  curl -sS --max-time 60 --proxy "${R_URL[$name]}" --cacert "$CLUSTER_TRUST/ca.crt" "$@"
}

# replica_metric NAME METRIC — the sum of the samples of METRIC (all labels) on /metrics.
replica_metric() {
  curl -s --max-time 5 "${R_URL[$1]}/metrics" 2>/dev/null |
    awk -v m="$2" '$1 == m || index($1, m "{") == 1 {s += $NF} END {printf "%.0f\n", s}'
}

# wait_replica_metric NAME METRIC VALUE [SECONDS] — returns 1 if it is not VALUE in time.
wait_replica_metric() {
  local i v
  for i in $(seq 1 $((${4:-10} * 5))); do
    v=$(replica_metric "$1" "$2")
    [ "$v" != "$3" ] || return 0
    sleep 0.2
  done
  return 1
}

# rlog_lines NAME [ERE] [MARK] — the replica's access-log lines after line MARK (default: the
# current run), matching ERE.
rlog_lines() {
  local file=${R_LOG[$1]} mark=${3:-}
  [ -f "$file" ] || return 0
  if [ -z "$mark" ]; then
    mark=$(grep -n '^=== start #' "$file" | tail -n 1 | cut -d: -f1)
    mark=$((${mark:-1} - 1))
  fi
  tail -n +"$((mark + 1))" "$file" | grep -E ' request session=' | grep -E -- "${2:-.}" || true
}

rlog_mark() { if [ -f "${R_LOG[$1]}" ]; then wc -l <"${R_LOG[$1]}" | tr -d ' '; else echo 0; fi; }

# wait_rlog_lines NAME N ERE [MARK] — until at least N lines match (10 s); returns 1 otherwise.
wait_rlog_lines() {
  local i
  for i in $(seq 1 100); do
    [ "$(rlog_lines "$1" "$3" "${4:-}" | wc -l)" -lt "$2" ] || return 0
    sleep 0.1
  done
  return 1
}

# assert_rlog_line NAME NEEDLE... — one line of the replica's current run has every needle
# (fixed strings, "re:PYREGEX" for a regex), polled for 5 s.
assert_rlog_line() {
  local name=$1 i
  shift
  for i in $(seq 1 50); do
    if _log_has_line_with_all "${R_LOG[$name]}" "$@"; then
      ok "replica $name log has a line with: $*"
      return 0
    fi
    sleep 0.1
  done
  soft_fail "replica $name log (${R_LOG[$name]}) has no line containing all of: $*"
}

# replica_log_clean NAME — no sanitizer report, crash or assertion in the replica's log.
assert_replica_log_clean() {
  local bad
  bad=$(grep -E 'AddressSanitizer|LeakSanitizer|runtime error:|terminate called|Segmentation|Assertion' \
    "${R_LOG[$1]}" | head -3 || true)
  [ -z "$bad" ] || fail "replica $1 log: $bad"
  ok "replica $1 log has no crash or sanitizer report"
}
