#!/usr/bin/env bash
# bench/run.sh — the pullthrough benchmark (one command; not part of the test suite).
#
# Builds the integration tests' upstream world (tests/integration/lib.sh: a real docker-registry
# over TLS on 127.0.0.21, images seeded with skopeo), then measures in ONE run, interleaved, so
# that every ratio compares figures taken under the same machine load:
#   1/2  cold (MISS) and warm (HIT) skopeo pulls of a large single-layer and a many-layer image:
#        pullthrough vs no proxy (skopeo straight at the registry) vs squid (ssl_bump + disk cache)
#   3    cache-hit throughput of one large blob through CONNECT+TLS (curl) vs nginx serving the
#        same file over TLS on loopback; RSS sampled while the blob streams (MISS and HIT)
#   4    manifest HEAD storm (pt_loadgen): keep-alive, and a new CONNECT+TLS per request (full
#        handshakes, and with session resumption), each vs nginx serving the same manifest over
#        TLS 1.3 to the same load generator (no CONNECT): requests/s and server CPU per request
#   5    N clients pulling the same cold image at once: wall time, upstream fetches per blob
#   6    proxy RSS and CPU seconds during 2, 4 and 5; RSS with many idle client connections
#   7    a cluster of three replicas (PEERS, tests/integration/cluster.sh): upstream bytes for N cold
#        clients spread over them vs the image's size; hit throughput through a non-owner vs a
#        local hit on the owner; HEAD p99 through a non-owner; the cost of the owner's death
#        (SIGKILL) to the clients pulling from it at that moment (failed pulls, retries, recovery)
#   8    BLOB_STORE on a real S3 server (tests/integration/rgw.sh's Ceph RGW over TLS, memstore):
#        throughput of a large blob served from the bucket through the proxy (empty local cache) vs
#        the same blob as a local-disk hit vs read from RGW directly (curl --aws-sigv4); cold fill
#        throughput with BLOB_STORE (the upload runs behind it) vs without, and how long the upload
#        takes after the fill. Skipped (with a note) when Ceph is not installed.
# Results: bench/results/{results.md,raw.tsv,pulls.png} (BENCH_QUICK=1: bench/results/quick/).
#
# Environment (defaults for the full run / BENCH_QUICK=1):
#   BENCH_QUICK=1          small sizes, few repetitions (a smoke run of a few minutes)
#   BENCH_REPS             repetitions of every pull and throughput figure (5 / 2)
#   BENCH_BIG_MB           the single-layer image's layer, MiB (512 / 32)
#   BENCH_MANY_LAYERS      layers of the many-layer image (30 / 10)
#   BENCH_MANY_KB          KiB per layer of the many-layer image (1024 / 256)
#   BENCH_STREAM_MB        the raw blob for throughput and RSS-while-streaming, MiB (1024 / 64)
#   BENCH_STORM_SECONDS    duration of each HEAD-storm run (5 / 2); BENCH_STORM_REPS (3 / 1)
#   BENCH_STORM_CONNS      keep-alive connections (16); BENCH_HS_CONNS handshake threads (8)
#   BENCH_CONC_CLIENTS     concurrent cold clients (50 / 10); BENCH_CONC_REPS (2 / 1)
#   BENCH_IDLE_CONNS       idle client connections (1000 / 200)
#   BENCH_S3_MB            the blob of section 8, MiB (256 / 32); RGW keeps it in RAM
#   BENCH_UPSTREAM_MBIT=N  put the registry behind a relay limiting its answers to N Mbit/s in all
#                          (bench/slow_link.py), as a registry across the internet would be; without
#                          it the "upstream" is as fast as the cache and the skopeo client is the limit
#   BENCH_SKIP_SQUID=1     no squid baseline
#   BENCH_PROFILE=1        after the measured runs, one more run of the HIT transfer and of each
#                          HEAD storm under `perf record` (dwarf call graphs): the flat profiles
#                          go to RESULTS/profile/*.txt (profiled runs are not in the table)
#   BENCH_RESULTS          results directory
#   PULLTHROUGH_BIN        proxy binary to copy (default build/pullthrough)
#   BENCH_PROXY_ENV="K=V .." more environment for the proxy (e.g. LOG_LEVEL=warn, to see what the
#                          access log costs)
#   BENCH_CLUSTER_DEATH_CLIENTS  clients pulling when a replica dies (10)
#   BENCH_ONLY="storm idle" run only these sections (pulls throughput storm conc idle cluster s3); the
#                          report marks the others "not measured" (for iterating on one target)
#   KEEP=1                 keep the temp dir (logs of every component)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_REPO=$(cd "$BENCH_DIR/.." && pwd)
SRC_BIN=${PULLTHROUGH_BIN:-$BENCH_REPO/build/pullthrough}
SRC_LOADGEN=${BENCH_LOADGEN:-$BENCH_REPO/build/pt_loadgen}

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  d_reps=2 d_big=32 d_layers=10 d_kb=256 d_stream=64 d_storm_s=2 d_storm_reps=1 d_conc=10 d_conc_reps=1 d_idle=200 d_s3=32
  d_results=$BENCH_DIR/results/quick
else
  d_reps=5 d_big=512 d_layers=30 d_kb=1024 d_stream=1024 d_storm_s=5 d_storm_reps=3 d_conc=50 d_conc_reps=2 d_idle=1000 d_s3=256
  d_results=$BENCH_DIR/results
fi
REPS=${BENCH_REPS:-$d_reps}
BIG_MB=${BENCH_BIG_MB:-$d_big}
MANY_LAYERS=${BENCH_MANY_LAYERS:-$d_layers}
MANY_KB=${BENCH_MANY_KB:-$d_kb}
STREAM_MB=${BENCH_STREAM_MB:-$d_stream}
STORM_SECONDS=${BENCH_STORM_SECONDS:-$d_storm_s}
STORM_REPS=${BENCH_STORM_REPS:-$d_storm_reps}
STORM_CONNS=${BENCH_STORM_CONNS:-16}
HS_CONNS=${BENCH_HS_CONNS:-8}
CONC_CLIENTS=${BENCH_CONC_CLIENTS:-$d_conc}
CONC_REPS=${BENCH_CONC_REPS:-$d_conc_reps}
IDLE_CONNS=${BENCH_IDLE_CONNS:-$d_idle}
S3_MB=${BENCH_S3_MB:-$d_s3}
SKIP_SQUID=${BENCH_SKIP_SQUID:-0}
RESULTS_DIR=${BENCH_RESULTS:-$d_results}
PROFILE=${BENCH_PROFILE:-0}
UPSTREAM_MBIT=${BENCH_UPSTREAM_MBIT:-0}
ONLY=${BENCH_ONLY:-}
want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; } # SECTION -> is it measured in this run?

for c in skopeo docker-registry nginx curl openssl /usr/bin/python3; do
  command -v "$c" >/dev/null 2>&1 || { echo "bench: '$c' missing (scripts/install-deps.sh)" >&2; exit 1; }
done
if [ "$SKIP_SQUID" != 1 ] && ! command -v squid >/dev/null 2>&1; then
  echo "bench: squid missing: run 'sudo bash bench/setup.sh' (or BENCH_SKIP_SQUID=1)" >&2
  exit 1
fi
for _ in $(seq 1 60); do # someone may be relinking it right now
  [ -x "$SRC_BIN" ] && break
  echo "bench: waiting for $SRC_BIN (being rebuilt?)" >&2
  sleep 5
done
[ -x "$SRC_BIN" ] || { echo "bench: $SRC_BIN not built" >&2; exit 1; }
if [ ! -x "$SRC_LOADGEN" ]; then
  echo "bench: building pt_loadgen" >&2
  flock /tmp/pt-build.lock ninja -C "$BENCH_REPO/build" pt_loadgen >&2
fi

# The integration-test world: temp dir $T, cleanup traps, registry/nginx/proxy helpers.
# shellcheck source=tests/integration/lib.sh
source "$BENCH_REPO/tests/integration/lib.sh"
# shellcheck disable=SC2034 # read by lib.sh
TEST_NAME=bench

# Others rebuild build/pullthrough while we run: measure a private copy.
cp "$SRC_BIN" "$T/pullthrough"
cp "$SRC_LOADGEN" "$T/pt_loadgen"
PULLTHROUGH_BIN=$T/pullthrough
LOADGEN=$T/pt_loadgen
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"

RAW=$T/raw.tsv
: >"$RAW"
META=$T/meta.tsv
: >"$META"
CLK_TCK=$(getconf CLK_TCK)

meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }
rec() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RAW"; } # METRIC SYSTEM VALUE
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.4f", b - a}'; }

# ---------------------------------------------------------------- process resources

proc_cpu_s() { # PID -> user+system CPU seconds so far (0 when gone)
  awk -v t="$CLK_TCK" '{sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / t}' "/proc/$1/stat" 2>/dev/null || echo 0
}
proc_status_kb() { # PID FIELD -> kB
  awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}
reset_peak_rss() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true; } # VmHWM := VmRSS
_SAMPLER_PID=""
rss_sampler_start() { # PID FILE : VmRSS every 50 ms
  (while kill -0 "$1" 2>/dev/null; do proc_status_kb "$1" VmRSS; sleep 0.05; done) >"$2" &
  _SAMPLER_PID=$!
}
rss_sampler_stop() { # FILE -> "min max" kB
  kill "$_SAMPLER_PID" 2>/dev/null || true
  wait "$_SAMPLER_PID" 2>/dev/null || true
  awk 'NF {if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1} END {print min + 0, max + 0}' "$1"
}

# perf_start NAME / perf_stop NAME — profiles the proxy between the two (BENCH_PROFILE=1).
_PERF_PID=""
perf_start() {
  [ "$PROFILE" = 1 ] || return 0
  mkdir -p "$T/perf"
  perf record -q -F 299 --call-graph dwarf,32768 -p "$PROXY_PID" -o "$T/perf/$1.data" >"$T/perf/$1.log" 2>&1 &
  _PERF_PID=$!
  sleep 0.5 # perf attaches asynchronously
}
perf_stop() {
  [ "$PROFILE" = 1 ] || return 0
  kill -INT "$_PERF_PID" 2>/dev/null || true
  wait "$_PERF_PID" 2>/dev/null || true
  mkdir -p "$RESULTS_DIR/profile"
  log "perf report for $1"
  /usr/bin/python3 "$BENCH_DIR/profile_summary.py" "$T/perf/$1.data" 40 >"$RESULTS_DIR/profile/$1.txt" 2>&1 || true
  # Who calls what (inclusive time), without perf's slow inline resolution.
  perf report -i "$T/perf/$1.data" --children --no-inline --stdio --percent-limit 5 -g caller,2,callee,function,percent \
    --sort symbol 2>/dev/null | grep -v '^$' | sed -E 's/ {3,}/  /g' | cut -c1-220 | head -300 \
    >"$RESULTS_DIR/profile/$1.callers.txt" || true
}

# ---------------------------------------------------------------- the world

log "settings: reps=$REPS big=${BIG_MB}MiB many=${MANY_LAYERS}x${MANY_KB}KiB stream=${STREAM_MB}MiB" \
  "storm=${STORM_REPS}x${STORM_SECONDS}s conc=${CONC_CLIENTS}x${CONC_REPS} idle=$IDLE_CONNS quick=$QUICK"
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta commit "$(git -C "$BENCH_REPO" rev-parse --short HEAD 2>/dev/null || echo ?)$(git -C "$BENCH_REPO" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
meta binary "$(sha256sum "$PULLTHROUGH_BIN" | cut -c1-12) ($(stat -c %y "$SRC_BIN" | cut -d. -f1))"
meta cpus "$(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
meta settings "reps=$REPS big=${BIG_MB}MiB many=${MANY_LAYERS}x${MANY_KB}KiB stream=${STREAM_MB}MiB s3=${S3_MB}MiB storm=${STORM_REPS}x${STORM_SECONDS}s (keep-alive conns=$STORM_CONNS, handshake threads=$HS_CONNS) conc=${CONC_CLIENTS} clients x ${CONC_REPS} idle=$IDLE_CONNS quick=$QUICK${ONLY:+ only=$ONLY}"
meta tools "skopeo $(skopeo --version | awk '{print $3}'), curl $(curl --version | awk 'NR==1{print $2}'), nginx $(nginx -v 2>&1 | cut -d/ -f2), $(squid -v 2>/dev/null | awk 'NR==1{print "squid " $4}')"

make_test_pki "$T/pki"
start_registry reg "$REGISTRY_IP" auto
RADDR=${REG_ADDR[reg]}
RPORT=${REG_PORT[reg]}
REG_LOG=${REG_DIR[reg]}/registry.log

bench_seed() { # REF LAYERS BYTES — bench/make_image.py streams (lib.sh's seed_image holds layers in memory)
  local out="$T/seed/${1//[\/:]/_}"
  rm -rf "$out"
  SEED_DIGEST=$(/usr/bin/python3 "$BENCH_DIR/make_image.py" "$out" --layers "$2" --size "$3")
  push_seed_dir "$RADDR" "$1" "$out" "" "$2 layers x $3 bytes"
}
bench_seed bench/big:1 1 $((BIG_MB * 1048576))
bench_seed bench/many:1 "$MANY_LAYERS" $((MANY_KB * 1024))
declare -A IMG_BYTES=()
for img in big many; do
  IMG_BYTES[$img]=$(files_bytes "${IMAGE_DIR[bench/$img:1]}")
done
meta image_big "1 layer, $(awk -v b="${IMG_BYTES[big]}" 'BEGIN{printf "%.1f MB", b / 1e6}')"
meta image_many "$MANY_LAYERS layers, $(awk -v b="${IMG_BYTES[many]}" 'BEGIN{printf "%.1f MB", b / 1e6}')"

# The raw blob for throughput: random bytes pushed as one blob (monolithic upload).
mkdir -p "$T/www"
log "pushing a ${STREAM_MB} MiB raw blob"
head -c $((STREAM_MB * 1048576)) /dev/urandom >"$T/www/blob"
STREAM_DIGEST=$(sha256_of "$T/www/blob")
loc=$(curl -sS --fail --cacert "$TEST_CA_CRT" -X POST -D - -o /dev/null \
  "https://$RADDR/v2/bench/raw/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
case "$loc" in http*) ;; *) loc="https://$RADDR$loc" ;; esac
case "$loc" in *\?*) sep='&' ;; *) sep='?' ;; esac
curl -sS --fail --cacert "$TEST_CA_CRT" -T "$T/www/blob" -H 'Content-Type: application/octet-stream' \
  -o /dev/null "$loc${sep}digest=$STREAM_DIGEST" || fail "blob upload failed"

# Upstream shaping: registry.test's port becomes a relay (bench/slow_link.py) that passes the
# registry's answers at UPSTREAM_MBIT, as a registry across the internet would (tc cannot shape
# only our flow on this kernel: no sch_prio). Seeding above went straight to the registry.
UPORT=$RPORT
if [ "$UPSTREAM_MBIT" != 0 ]; then
  mkdir -p "$T/slow-link"
  /usr/bin/python3 "$BENCH_DIR/slow_link.py" --listen "$REGISTRY_IP" --port-file "$T/slow-link/port" \
    --target "$RADDR" --mbit "$UPSTREAM_MBIT" >"$T/slow-link/stdout.log" 2>&1 &
  _register_pid "$!" slow-link
  wait_port_file "$!" "$T/slow-link" "slow link relay"
  UPORT=$WAITED_PORT
  log "registry.test:$UPORT = the registry behind a $UPSTREAM_MBIT Mbit/s link"
fi
meta upstream "$([ "$UPSTREAM_MBIT" = 0 ] && echo "the registry on loopback, unshaped" || echo "the registry behind a $UPSTREAM_MBIT Mbit/s link (bench/slow_link.py relay, shared by all connections)")"

PT_ENV=(REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT"
  MAX_CONNECTIONS=20000 MAX_CONNECTIONS_PER_CLIENT=20000)
# shellcheck disable=SC2206 # word splitting wanted: "A=1 B=2"
[ -z "${BENCH_PROXY_ENV:-}" ] || PT_ENV+=($BENCH_PROXY_ENV)

# pt_fresh — (re)starts pullthrough with an empty cache (same CA).
pt_fresh() {
  [ -z "$PROXY_PID" ] || stop_proxy TERM
  rm -rf "$T/proxy/cache"
  start_proxy "${PT_ENV[@]}"
}

# ---------------------------------------------------------------- squid (ssl_bump, disk cache)

SQUID_DIR=$T/squid
SQUID_PID=""
squid_setup() {
  mkdir -p "$SQUID_DIR/ssl" "$SQUID_DIR/trust"
  SQUID_PORT=$(free_port 127.0.0.1)
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 30 \
    -subj "/CN=bench squid CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$SQUID_DIR/ca.key" -out "$SQUID_DIR/ca.crt" 2>/dev/null
  cp "$SQUID_DIR/ca.crt" "$SQUID_DIR/trust/ca.crt"
  echo "$REGISTRY_IP registry.test" >"$SQUID_DIR/hosts"
  local big_kb=$(((STREAM_MB + BIG_MB) * 2048 + 1048576))
  cat >"$SQUID_DIR/squid.conf" <<EOF
http_port 127.0.0.1:$SQUID_PORT ssl-bump tls-cert=$SQUID_DIR/ca.crt tls-key=$SQUID_DIR/ca.key generate-host-certificates=on dynamic_cert_mem_cache_size=16MB
sslcrtd_program /usr/lib/squid/security_file_certgen -s $SQUID_DIR/ssl/db -M 16MB
sslcrtd_children 5 startup=1 idle=1
acl step1 at_step SslBump1
ssl_bump peek step1
ssl_bump bump all
tls_outgoing_options cafile=$TEST_CA_CRT
hosts_file $SQUID_DIR/hosts
http_access allow localhost
http_access deny all
cache_dir ufs $SQUID_DIR/cache $((big_kb / 1024)) 16 256
maximum_object_size 8 GB
cache_mem 256 MB
maximum_object_size_in_memory 1 MB
# Blobs are content-addressed: cache them for good, as a registry cache would be configured.
refresh_pattern -i /v2/.*/blobs/sha256: 525600 100% 525600 override-expire ignore-reload ignore-no-store ignore-private
refresh_pattern -i /v2/.*/manifests/ 1 20% 1
refresh_pattern . 0 20% 4320
collapsed_forwarding on
access_log stdio:$SQUID_DIR/access.log
cache_log $SQUID_DIR/cache.log
pid_filename $SQUID_DIR/squid.pid
coredump_dir $SQUID_DIR
cache_effective_user proxy
netdb_filename none
icp_port 0
shutdown_lifetime 0 seconds
pinger_enable off
EOF
  /usr/lib/squid/security_file_certgen -c -s "$SQUID_DIR/ssl/db" -M 16MB >/dev/null
  chown -R proxy:proxy "$SQUID_DIR"
  _register_log "squid cache.log" "$SQUID_DIR/cache.log"
}

squid_stop() {
  [ -n "$SQUID_PID" ] || return 0
  local i
  kill -TERM "$SQUID_PID" 2>/dev/null || true
  # (kill -0 also succeeds on an exited child not yet reaped: look at its state instead)
  for i in $(seq 1 100); do
    case "$(ps -o stat= -p "$SQUID_PID" 2>/dev/null || true)" in "" | Z*) break ;; esac
    sleep 0.1
  done
  kill -KILL "$SQUID_PID" 2>/dev/null || true
  wait "$SQUID_PID" 2>/dev/null || true
  SQUID_PID=""
}

squid_fresh() { # restarts squid with an empty disk cache (and empty memory cache)
  squid_stop
  rm -rf "$SQUID_DIR/cache"
  mkdir -p "$SQUID_DIR/cache"
  chown proxy:proxy "$SQUID_DIR/cache"
  squid -N -z -f "$SQUID_DIR/squid.conf" >>"$SQUID_DIR/stdout.log" 2>&1 || fail "squid -z failed"
  squid -N -f "$SQUID_DIR/squid.conf" >>"$SQUID_DIR/stdout.log" 2>&1 &
  SQUID_PID=$!
  _register_pid "$SQUID_PID" squid
  local i
  for i in $(seq 1 100); do
    kill -0 "$SQUID_PID" 2>/dev/null || { tail "$SQUID_DIR/cache.log"; fail "squid exited during startup"; }
    if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$SQUID_PORT/" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  fail "squid did not listen on $SQUID_PORT"
}

# ---------------------------------------------------------------- pulls

declare -A PULL_REF=(
  [direct:big]="$REGISTRY_IP:$UPORT/bench/big:1" [direct:many]="$REGISTRY_IP:$UPORT/bench/many:1"
  [pullthrough:big]="registry.test:$UPORT/bench/big:1" [pullthrough:many]="registry.test:$UPORT/bench/many:1"
  [squid:big]="registry.test:$UPORT/bench/big:1" [squid:many]="registry.test:$UPORT/bench/many:1"
)

# timed_pull SYSTEM IMAGE OUT -> seconds on stdout
timed_pull() {
  local sys=$1 img=$2 out=$3 proxy="" certdir=$TEST_CA_DIR t0 t1
  case "$sys" in
    pullthrough) proxy=$PROXY_URL certdir=$PROXY_CERT_DIR ;;
    squid) proxy="http://127.0.0.1:$SQUID_PORT" certdir=$SQUID_DIR/trust ;;
  esac
  rm -rf "$out"
  t0=$(now)
  HTTPS_PROXY="$proxy" NO_PROXY="" "${SKOPEO[@]}" copy -q --src-cert-dir "$certdir" \
    "docker://${PULL_REF[$sys:$img]}" "dir:$out" >"$out.log" 2>&1 ||
    { cat "$out.log" >&2; fail "$sys pull of $img failed"; }
  t1=$(now)
  elapsed "$t0" "$t1"
}

server_pid() { # SYSTEM -> pid of the proxy process (empty for direct)
  case "$1" in pullthrough) echo "$PROXY_PID" ;; squid) echo "$SQUID_PID" ;; esac
}

SYSTEMS=(direct pullthrough)
if want pulls; then
[ "$SKIP_SQUID" = 1 ] || { SYSTEMS+=(squid); squid_setup; }

log "== 1/2: cold and warm pulls ($REPS repetitions, systems interleaved)"
for rep in $(seq 1 "$REPS"); do
  for img in big many; do
    for sys in "${SYSTEMS[@]}"; do
      case "$sys" in pullthrough) pt_fresh ;; squid) squid_fresh ;; esac
      s=$(timed_pull "$sys" "$img" "$T/out")
      rec "cold_$img" "$sys" "$s"
      pid=$(server_pid "$sys")
      if [ -n "$pid" ]; then
        c0=$(proc_cpu_s "$pid")
        reset_peak_rss "$pid"
      fi
      w=$(timed_pull "$sys" "$img" "$T/out")
      rec "warm_$img" "$sys" "$w"
      if [ -n "$pid" ]; then
        rec "warm_cpu_s_$img" "$sys" "$(awk -v a="$c0" -v b="$(proc_cpu_s "$pid")" 'BEGIN{print b - a}')"
        rec "warm_hwm_kb" "$sys" "$(proc_status_kb "$pid" VmHWM)"
      fi
      log "rep $rep $img $sys: cold ${s}s warm ${w}s"
    done
  done
done
verify_dir_digests "$T/out" "${IMAGE_DIGEST[bench/many:1]}"
# Were the warm pulls really hits?
rec check_pt_hits pullthrough "$(grep -c 'cache=HIT' "$PROXY_LOG" || true)"
[ "$SKIP_SQUID" = 1 ] || rec check_squid_hits squid "$(grep -cE 'TCP_(MEM_)?HIT' "$SQUID_DIR/access.log" || true)"
squid_stop
if [ "$PROFILE" = 1 ]; then
  pt_fresh
  perf_start pull-cold-big
  timed_pull pullthrough big "$T/out" >/dev/null
  perf_stop pull-cold-big
  perf_start pull-warm-big
  timed_pull pullthrough big "$T/out" >/dev/null
  perf_stop pull-warm-big
fi
fi # pulls

# ---------------------------------------------------------------- throughput and streaming RSS

if want throughput; then
log "== 3: cache-hit throughput of a ${STREAM_MB} MiB blob"
NGINX_PORT=$(free_port 127.0.0.1)
start_nginx_tls bench 127.0.0.1 "$NGINX_PORT" "$T/www"
BLOB_PATH=/v2/bench/raw/blobs/$STREAM_DIGEST
curl_speed() { # curl args... -> bytes/s
  curl -sS --fail --max-time 600 -o /dev/null -w '%{speed_download}' "$@"
}
pt_fresh
pt_curl=(--proxy "$PROXY_URL" --cacert "$PROXY_CA_CRT" "https://registry.test:$UPORT$BLOB_PATH")
rss_sampler_start "$PROXY_PID" "$T/rss-miss"
rec stream_miss_Bps pullthrough "$(curl_speed "${pt_curl[@]}")"
read -r lo hi < <(rss_sampler_stop "$T/rss-miss")
rec stream_miss_rss_min_kb pullthrough "$lo"
rec stream_miss_rss_max_kb pullthrough "$hi"
for rep in $(seq 1 "$REPS"); do
  rss_sampler_start "$PROXY_PID" "$T/rss-hit"
  rec hit_Bps pullthrough "$(curl_speed "${pt_curl[@]}")"
  read -r lo hi < <(rss_sampler_stop "$T/rss-hit")
  rec stream_hit_rss_min_kb pullthrough "$lo"
  rec stream_hit_rss_max_kb pullthrough "$hi"
  rec hit_Bps nginx "$(curl_speed --cacert "$TEST_CA_CRT" "https://127.0.0.1:$NGINX_PORT/blob")"
  rec hit_Bps direct "$(curl_speed --cacert "$TEST_CA_CRT" "https://$RADDR$BLOB_PATH")"
done
if [ "$PROFILE" = 1 ]; then
  perf_start hit-transfer
  curl_speed "${pt_curl[@]}" >/dev/null
  perf_stop hit-transfer
fi
log "throughput: $(grep -P '^hit_Bps' "$RAW" | awk '{printf "%s=%.0fMB/s ", $2, $3 / 1e6}')"
fi # throughput

# ---------------------------------------------------------------- HEAD storm

if want storm; then
log "== 4: manifest HEAD storm"
[ -n "$PROXY_PID" ] || pt_fresh
MANIFEST_PATH=/v2/bench/many/manifests/1
lg_set() { # the loadgen command line for the current proxy (its port changes on every restart)
  lg=("$LOADGEN" --proxy "127.0.0.1:$PROXY_PORT" --target "registry.test:$UPORT" --cafile "$PROXY_CA_CRT"
    --path "$MANIFEST_PATH")
}
lg_set
"${lg[@]}" --mode keepalive --conns 2 --duration 0.5 --method GET >/dev/null # fills the tag cache

# The baseline: nginx (2 workers, one per core) serving the same manifest bytes over TLS with an EC
# P-256 certificate like the proxy's leaves, logging every request as the proxy does, reached by
# the same load generator without the CONNECT. It is what this machine, this OpenSSL and these
# clients allow a tuned C server.
start_nginx_storm() {
  local dir="$T/storm-tls" www="$T/storm-www"
  mkdir -p "$dir" "$www$(dirname "$MANIFEST_PATH")"
  cp "$T/storm-manifest" "$www$MANIFEST_PATH"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-storm-ca \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=registry.test \
    -keyout "$dir/leaf.key" -out "$dir/leaf.csr" 2>/dev/null
  printf 'subjectAltName = DNS:registry.test, IP:127.0.0.1\n' >"$dir/leaf.ext"
  openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 -sha256 \
    -extfile "$dir/leaf.ext" -out "$dir/leaf.crt" 2>/dev/null
  # nginx 1.22 offers TLS 1.2 only unless told: its resumption would skip the key exchange the
  # proxy's TLS 1.3 resumption pays for (measured: 260 vs 630 µs of server CPU per connection).
  NGINX_CRT=$dir/leaf.crt NGINX_KEY=$dir/leaf.key NGINX_CA=$dir/ca.crt NGINX_WORKERS=2 \
    NGINX_HTTP_EXTRA="keepalive_requests 100000000;" \
    NGINX_SERVER_EXTRA="ssl_protocols TLSv1.2 TLSv1.3; default_type application/vnd.docker.distribution.manifest.v2+json;" \
    start_nginx_tls storm 127.0.0.1 "$NGINX_STORM_PORT" "$www"
  NGINX_STORM_PID=$(cat "$NGINX_DIR/nginx.pid")
  lg_nginx=("$LOADGEN" --direct --proxy "127.0.0.1:$NGINX_STORM_PORT" --target "registry.test:$NGINX_STORM_PORT"
    --cafile "$dir/ca.crt" --path "$MANIFEST_PATH")
}
nginx_cpu_s() { # the master's and its workers' CPU seconds
  local pid total=0
  for pid in "$NGINX_STORM_PID" $(pgrep -P "$NGINX_STORM_PID"); do
    total=$(awk -v a="$total" -v b="$(proc_cpu_s "$pid")" 'BEGIN{printf "%.3f", a + b}')
  done
  echo "$total"
}
curl -sf --proxy "$PROXY_URL" --cacert "$PROXY_CA_CRT" -H "Accept: application/vnd.docker.distribution.manifest.v2+json" \
  -o "$T/storm-manifest" "https://registry.test:$UPORT$MANIFEST_PATH" || fail "cannot fetch the storm manifest"
NGINX_STORM_PORT=$(free_port 127.0.0.1)
start_nginx_storm

storm() { # NAME SYSTEM loadgen-args...
  local name=$1 sys=$2 out c0 c1 t0 t1 cmd cpu
  shift 2
  if [ "$sys" = nginx ]; then
    cmd=("${lg_nginx[@]}")
    cpu=nginx_cpu_s
  else
    cmd=("${lg[@]}")
    cpu="proc_cpu_s $PROXY_PID"
    reset_peak_rss "$PROXY_PID"
  fi
  c0=$($cpu)
  t0=$(now)
  out=$("${cmd[@]}" --duration "$STORM_SECONDS" "$@") || fail "loadgen $name ($sys) failed: $out"
  t1=$(now)
  c1=$($cpu)
  log "storm $name ($sys): $out"
  # One parse of the load generator's JSON for every figure it gives.
  local rps p99 errors resumed client_util tls
  read -r rps p99 errors resumed client_util tls < <(/usr/bin/python3 -c 'import json, sys
o = json.loads(sys.argv[1])
print(o["rps"], o["p99_ms"], o["errors"], o["resumed"], o["client_cpu_s"] / o["seconds"], o["tls"])' "$out")
  meta "storm_tls_$sys" "$tls"
  rec "storm_${name}_rps" "$sys" "$rps"
  rec "storm_${name}_p99_ms" "$sys" "$p99"
  rec "storm_${name}_errors" "$sys" "$errors"
  rec "storm_${name}_resumed" "$sys" "$resumed"
  rec "storm_${name}_client_cpu_util" "$sys" "$client_util"
  rec "storm_${name}_cpu_util" "$sys" "$(awk -v a="$c0" -v b="$c1" -v s="$(elapsed "$t0" "$t1")" 'BEGIN{printf "%.3f", (b - a) / s}')"
  [ "$sys" = nginx ] || rec "storm_hwm_kb" pullthrough "$(proc_status_kb "$PROXY_PID" VmHWM)"
}
# Interleaved, so that the machine's load drifts into both alike.
for rep in $(seq 1 "$STORM_REPS"); do
  for sys in pullthrough nginx; do storm keepalive "$sys" --mode keepalive --conns "$STORM_CONNS"; done
  for sys in pullthrough nginx; do storm handshake "$sys" --mode handshake --conns "$HS_CONNS"; done
  for sys in pullthrough nginx; do storm resumed "$sys" --mode handshake --conns "$HS_CONNS" --resume; done
done

if [ "$PROFILE" = 1 ]; then
  for mode in keepalive handshake resumed; do
    args=(--mode keepalive --conns "$STORM_CONNS")
    [ "$mode" = keepalive ] || args=(--mode handshake --conns "$HS_CONNS")
    [ "$mode" != resumed ] || args+=(--resume)
    perf_start "storm-$mode"
    storm "prof_$mode" pullthrough "${args[@]}"
    perf_stop "storm-$mode"
  done
fi
fi # storm

# ---------------------------------------------------------------- concurrency

if want conc; then
log "== 5: $CONC_CLIENTS clients pulling the same cold image at once"
CONC_IMG=many
conc_blobs=$(image_blobs "${IMAGE_DIR[bench/$CONC_IMG:1]}")
upstream_gets() { # -> "total_gets max_gets_per_blob" of the image's blobs since log line $1
  local mark=$1 d n total=0 max=0
  for d in $conc_blobs; do
    n=$(tail -n +"$((mark + 1))" "$REG_LOG" | grep -cF "GET /v2/bench/$CONC_IMG/blobs/$d" || true)
    total=$((total + n))
    [ "$n" -le "$max" ] || max=$n
  done
  echo "$total $max"
}
conc_run() { # SYSTEM N -> records conc_wall
  local sys=$1 n=$2 i pids=() t0 t1
  mkdir -p "$T/conc"
  rm -rf "$T/conc"/*
  t0=$(now)
  for i in $(seq 1 "$n"); do
    timed_pull "$sys" "$CONC_IMG" "$T/conc/$i" >/dev/null &
    pids+=($!)
  done
  wait_pids "${pids[@]}" || fail "$sys: some of the $n concurrent pulls failed"
  t1=$(now)
  elapsed "$t0" "$t1"
}
for rep in $(seq 1 "$CONC_REPS"); do
  pt_fresh
  s=$(conc_run pullthrough 1)
  rec conc_one_wall pullthrough "$s"
  pt_fresh
  mark=$(wc -l <"$REG_LOG")
  c0=$(proc_cpu_s "$PROXY_PID")
  reset_peak_rss "$PROXY_PID"
  s=$(conc_run pullthrough "$CONC_CLIENTS")
  rec conc_wall pullthrough "$s"
  rec conc_cpu_s pullthrough "$(awk -v a="$c0" -v b="$(proc_cpu_s "$PROXY_PID")" 'BEGIN{print b - a}')"
  rec conc_hwm_kb pullthrough "$(proc_status_kb "$PROXY_PID" VmHWM)"
  sleep 0.5 # the registry logs a request after it has sent it
  read -r total max < <(upstream_gets "$mark")
  rec conc_upstream_gets pullthrough "$total"
  rec conc_upstream_max_gets_per_blob pullthrough "$max"
  rec conc_upstream_bytes pullthrough "$(awk -v t="$total" -v n="$(wc -w <<<"$conc_blobs")" -v b="${IMG_BYTES[$CONC_IMG]}" 'BEGIN{printf "%.0f", b * t / n}')"
  s=$(conc_run direct 1)
  rec conc_one_wall direct "$s"
  s=$(conc_run direct "$CONC_CLIENTS")
  rec conc_wall direct "$s"
  log "concurrency rep $rep: $(grep -P '^conc_(one_)?wall' "$RAW" | tail -4 | tr '\t\n' ' ')"
done
rm -rf "$T/conc"
fi # conc

# ---------------------------------------------------------------- idle connections

if want idle; then
[ -n "$PROXY_PID" ] || pt_fresh
log "== 6: RSS with $IDLE_CONNS idle client connections"
lg_set
rec idle_before_rss_kb pullthrough "$(proc_status_kb "$PROXY_PID" VmRSS)"
mkfifo "$T/idle-in"
"${lg[@]}" --mode idle --conns "$IDLE_CONNS" --hold 120 <"$T/idle-in" >"$T/idle.out" 2>&1 &
IDLE_PID=$!
_register_pid "$IDLE_PID" loadgen-idle
exec 7>"$T/idle-in" # holding the fifo open keeps the loadgen's stdin open
for i in $(seq 1 600); do
  grep -q '^ready' "$T/idle.out" && break
  kill -0 "$IDLE_PID" 2>/dev/null || break
  sleep 0.1
done
sleep 1
rec idle_rss_kb pullthrough "$(proc_status_kb "$PROXY_PID" VmRSS)"
rec idle_conns_open pullthrough "$(awk '/^ready/{print $2}' "$T/idle.out")"
rec idle_conns_failed pullthrough "$(awk '/^ready/{print $4}' "$T/idle.out")"
exec 7>&-
wait_pids "$IDLE_PID" || true
log "idle: $(cat "$T/idle.out")"
fi # idle

# ---------------------------------------------------------------- cluster (PEERS)

if want cluster; then
log "== 7: a cluster of three replicas (PEERS)"
[ -z "$PROXY_PID" ] || stop_proxy TERM # the single proxy of the sections above: its cores back
# shellcheck source=tests/integration/cluster.sh
source "$BENCH_REPO/tests/integration/cluster.sh"
CLUSTER_ENV=("${PT_ENV[@]}")
cluster_plan c1 127.0.0.31
cluster_plan c2 127.0.0.32
cluster_plan c3 127.0.0.33
CL_NAMES=(c1 c2 c3)
CL_PEERS=$(cluster_members c1 c2 c3)
read -r -a CL_MEMBERS <<<"$CL_PEERS"
cl_start() { # NAME... : starts those replicas (on whatever cache they have)
  local n
  for n in "$@"; do start_replica "$n" "PEERS=$CL_PEERS" PEERS_REFRESH=2s PEER_CONNECT_TIMEOUT=1s; done
}
cl_fresh() { # every replica restarted on an empty cache; waits until each sees three members up
  local n
  for n in "${CL_NAMES[@]}"; do
    [ -z "${R_PID[$n]}" ] || stop_replica "$n" TERM
    rm -rf "${R_CACHE[$n]}"
  done
  cl_start "${CL_NAMES[@]}"
  for n in "${CL_NAMES[@]}"; do
    wait_replica_metric "$n" pullthrough_peer_members_up 3 10 ||
      log "WARNING: replica $n sees $(replica_metric "$n" pullthrough_peer_members_up) members up, not 3"
  done
}
cl_pull() { # NAME IMG OUT -> seconds; non-zero status when skopeo failed
  local t0 t1
  rm -rf "$3"
  t0=$(now)
  HTTPS_PROXY="${R_URL[$1]}" NO_PROXY="" "${SKOPEO[@]}" copy -q --src-cert-dir "$CLUSTER_TRUST" \
    "docker://registry.test:$UPORT/bench/$2:1" "dir:$3" >"$3.log" 2>&1 || return 1
  t1=$(now)
  elapsed "$t0" "$t1"
}
cl_role() { # KEY -> "owner nonowner" replica names
  local o n
  o=$(replica_of_member "$(owner "$1" "${CL_MEMBERS[@]}")")
  for n in "${CL_NAMES[@]}"; do [ "$n" = "$o" ] || break; done
  echo "$o $n"
}
blob_size() { stat -c %s "${IMAGE_DIR[bench/$1:1]}/${2#sha256:}"; } # IMG DIGEST

# 7a: N cold clients spread over the replicas: upstream bytes / image bytes (1.0: one fetch per blob)
CL_IMG=many
cl_blobs=$(image_blobs "${IMAGE_DIR[bench/$CL_IMG:1]}")
for rep in $(seq 1 "$CONC_REPS"); do
  cl_fresh
  mark=$(wc -l <"$REG_LOG")
  mkdir -p "$T/cl"
  rm -rf "$T/cl"/*
  t0=$(now)
  pids=()
  for i in $(seq 1 "$CONC_CLIENTS"); do
    cl_pull "${CL_NAMES[$((i % 3))]}" "$CL_IMG" "$T/cl/$i" >/dev/null &
    pids+=($!)
  done
  failed=0
  wait_pids "${pids[@]}" || failed=$?
  rec cluster_cold_wall pullthrough "$(elapsed "$t0" "$(now)")"
  rec cluster_cold_failed pullthrough "$failed"
  sleep 0.5 # the registry logs a request after it has sent it
  up=0 img=0 maxg=0
  for d in $cl_blobs; do
    g=$(tail -n +"$((mark + 1))" "$REG_LOG" | grep -cF "GET /v2/bench/$CL_IMG/blobs/$d" || true)
    s=$(blob_size "$CL_IMG" "$d")
    up=$((up + g * s))
    img=$((img + s))
    [ "$g" -le "$maxg" ] || maxg=$g
  done
  rec cluster_cold_upstream_bytes pullthrough "$up"
  rec cluster_cold_image_bytes pullthrough "$img"
  rec cluster_cold_upstream_ratio pullthrough "$(awk -v a="$up" -v b="$img" 'BEGIN{printf "%.3f", a / b}')"
  rec cluster_cold_max_gets_per_blob pullthrough "$maxg"
  log "cluster cold rep $rep: $CONC_CLIENTS clients, $failed failed, upstream $up B for an image of $img B (max $maxg GETs per blob)"
done
verify_dir_digests "$T/cl/1" "${IMAGE_DIGEST[bench/$CL_IMG:1]}"
rm -rf "$T/cl"

# 7b: hit throughput of the raw blob through a non-owner (forwarded to the owner's cache) vs a
# local hit on the owner, interleaved
read -r CL_O CL_N < <(cl_role "$STREAM_DIGEST")
CL_BLOB_URL="https://registry.test:$UPORT/v2/bench/raw/blobs/$STREAM_DIGEST"
cl_speed() { # NAME -> bytes/s of one GET of the raw blob through that replica
  curl -sS --fail --max-time 600 -o /dev/null -w '%{speed_download}' --proxy "${R_URL[$1]}" \
    --cacert "$CLUSTER_TRUST/ca.crt" "$CL_BLOB_URL"
}
cl_speed "$CL_O" >/dev/null # the owner fills its cache
cl_cpu() { awk -v a="$(proc_cpu_s "${R_PID[$CL_O]}")" -v b="$(proc_cpu_s "${R_PID[$CL_N]}")" 'BEGIN{printf "%.3f", a + b}'; }
for rep in $(seq 1 "$REPS"); do
  # Proxy CPU seconds (owner + non-owner) per GB moved: forwarding adds the non-owner's decrypt
  # and re-encrypt to the owner's encrypt, on the same cores as curl.
  c0=$(cl_cpu)
  o0=$(proc_cpu_s "${R_PID[$CL_O]}")
  bps=$(cl_speed "$CL_N")
  rec cluster_hit_Bps nonowner "$bps"
  rec cluster_hit_cpu_s_per_GB nonowner "$(awk -v a="$c0" -v b="$(cl_cpu)" -v s="$STREAM_MB" 'BEGIN{printf "%.3f", (b - a) / (s * 1048576 / 1e9)}')"
  rec cluster_hit_cpu_s_per_GB owner_when_forwarded "$(awk -v a="$o0" -v b="$(proc_cpu_s "${R_PID[$CL_O]}")" -v s="$STREAM_MB" 'BEGIN{printf "%.3f", (b - a) / (s * 1048576 / 1e9)}')"
  c0=$(cl_cpu)
  bps=$(cl_speed "$CL_O")
  rec cluster_hit_Bps owner "$bps"
  rec cluster_hit_cpu_s_per_GB owner "$(awk -v a="$c0" -v b="$(cl_cpu)" -v s="$STREAM_MB" 'BEGIN{printf "%.3f", (b - a) / (s * 1048576 / 1e9)}')"
done
log "cluster hits: $(grep -P '^cluster_hit_Bps' "$RAW" | awk '{printf "%s=%.0fMB/s ", $2, $3 / 1e6}')"

# 7c: manifest HEAD storm on a cached tag through a non-owner of the tag (each HEAD forwarded) vs
# through its owner
read -r CL_TO CL_TN < <(cl_role "registry.test:$UPORT/bench/many")
for n in "$CL_TO" "$CL_TN"; do
  "$LOADGEN" --proxy "${R_IP[$n]}:${R_PORT[$n]}" --target "registry.test:$UPORT" --cafile "$CLUSTER_TRUST/ca.crt" \
    --path /v2/bench/many/manifests/1 --mode keepalive --conns 2 --duration 0.5 --method GET >/dev/null
done
for rep in $(seq 1 "$STORM_REPS"); do
  for role in owner nonowner; do
    n=$CL_TO
    [ "$role" = owner ] || n=$CL_TN
    out=$("$LOADGEN" --proxy "${R_IP[$n]}:${R_PORT[$n]}" --target "registry.test:$UPORT" \
      --cafile "$CLUSTER_TRUST/ca.crt" --path /v2/bench/many/manifests/1 --mode keepalive \
      --conns "$STORM_CONNS" --duration "$STORM_SECONDS") || fail "loadgen through $role $n failed: $out"
    log "cluster storm ($role $n): $out"
    read -r rps p99 errors < <(/usr/bin/python3 -c 'import json, sys
o = json.loads(sys.argv[1]); print(o["rps"], o["p99_ms"], o["errors"])' "$out")
    rec cluster_head_rps "$role" "$rps"
    rec cluster_head_p99_ms "$role" "$p99"
    rec cluster_head_errors "$role" "$errors"
  done
done

# 7d: the owner of the big layer dies (SIGKILL) while clients pull the big image through the
# two other replicas: how many pulls fail, how many retries, how long until every client has
# its image. The same pulls without the kill first, for comparison.
DEATH_CLIENTS=${BENCH_CLUSTER_DEATH_CLIENTS:-10}
big_layer=$(image_blobs "${IMAGE_DIR[bench/big:1]}" | tail -n 1)
read -r CL_BO _ < <(cl_role "$big_layer")
CL_SURV=()
for n in "${CL_NAMES[@]}"; do [ "$n" = "$CL_BO" ] || CL_SURV+=("$n"); done
death_run() { # KILL(0|1) -> records; every client retries (up to 5 attempts) until its pull verifies
  local kill=$1 i pids=() t0 tk="" n
  cl_fresh
  mkdir -p "$T/death"
  rm -rf "$T/death"/*
  t0=$(now)
  for i in $(seq 1 "$DEATH_CLIENTS"); do
    n=${CL_SURV[$((i % 2))]}
    (
      a=0
      while [ "$a" -lt 5 ]; do
        a=$((a + 1))
        if cl_pull "$n" big "$T/death/$i" >/dev/null &&
          /usr/bin/python3 "$IT_DIR/verify_dir.py" "$T/death/$i" "${IMAGE_DIGEST[bench/big:1]}" >/dev/null; then
          echo "$a $(now)" >"$T/death/$i.done"
          exit 0
        fi
      done
      echo "$a fail" >"$T/death/$i.done"
      exit 1
    ) &
    pids+=($!)
  done
  if [ "$kill" = 1 ]; then
    # Kill once the owner's fill of the layer is a quarter through (its CACHE_DIR/tmp file).
    local want=$((BIG_MB * 1048576 / 4)) got=0
    for i in $(seq 1 600); do
      got=$(find "${R_CACHE[$CL_BO]}/tmp" -type f -printf '%s\n' 2>/dev/null | sort -n | tail -n 1)
      [ "${got:-0}" -lt "$want" ] || break
      [ ! -e "$(cache_blob_path "$big_layer" "${R_CACHE[$CL_BO]}")" ] || { got=complete; break; }
      sleep 0.05
    done
    rec cluster_death_killed_at_bytes pullthrough "$([ "$got" = complete ] && echo $((BIG_MB * 1048576)) || echo "${got:-0}")"
    stop_replica "$CL_BO" KILL
    tk=$(now)
    log "cluster death: owner $CL_BO SIGKILLed with ${got:-0} of $((BIG_MB * 1048576)) bytes filled"
  fi
  wait_pids "${pids[@]}" || true
  local first_fail=0 attempts=0 last=0 first="" gaveup=0 a when
  for i in $(seq 1 "$DEATH_CLIENTS"); do
    read -r a when <"$T/death/$i.done"
    attempts=$((attempts + a))
    [ "$a" = 1 ] || first_fail=$((first_fail + 1))
    if [ "$when" = fail ]; then gaveup=$((gaveup + 1)); else
      last=$(awk -v a="$last" -v b="$when" 'BEGIN{print (b > a) ? b : a}')
      first=$(awk -v a="${first:-$when}" -v b="$when" 'BEGIN{print (b < a) ? b : a}')
    fi
  done
  if [ "$kill" = 1 ]; then
    rec cluster_death_failed_pulls pullthrough "$first_fail"
    rec cluster_death_retries pullthrough "$((attempts - DEATH_CLIENTS))"
    rec cluster_death_gave_up pullthrough "$gaveup"
    rec cluster_death_recover_s pullthrough "$(elapsed "$tk" "$last")"
    rec cluster_death_first_ok_s pullthrough "$(elapsed "$tk" "${first:-$last}")"
    rec cluster_death_wall pullthrough "$(elapsed "$t0" "$last")"
    cl_start "$CL_BO"
  else
    rec cluster_death_wall nokill "$(elapsed "$t0" "$last")"
  fi
  log "cluster death run (kill=$kill): $first_fail of $DEATH_CLIENTS first attempts failed, $((attempts - DEATH_CLIENTS)) retries, $gaveup gave up"
  rm -rf "$T/death"
}
death_run 0
death_run 1
for n in "${CL_NAMES[@]}"; do [ -z "${R_PID[$n]}" ] || stop_replica "$n" TERM; done
fi # cluster
# ---------------------------------------------------------------- S3 blob store

if want s3; then
if ! command -v radosgw >/dev/null 2>&1 || ! command -v s3cmd >/dev/null 2>&1; then
  log "== 8: skipped: Ceph RGW or s3cmd not installed (scripts/install-deps.sh)"
  meta s3 "not measured: Ceph RGW or s3cmd not installed"
else
log "== 8: BLOB_STORE on Ceph RGW: a ${S3_MB} MiB blob"
# shellcheck source=tests/integration/rgw.sh
source "$BENCH_REPO/tests/integration/rgw.sh"
# memstore holds objects in RAM: room for the object and an upload of it in flight.
RGW_MEMSTORE_BYTES=$(((S3_MB * 4 + 256) * 1048576))
[ "$RGW_MEMSTORE_BYTES" -ge 1073741824 ] || RGW_MEMSTORE_BYTES=1073741824
RGW_TLS=1 start_rgw
S3_BUCKET=pt-bench
rgw_make_bucket "$S3_BUCKET"
meta s3 "Ceph RGW $(radosgw --version 2>/dev/null | awk '{print $3}') (memstore, beast over TLS) on loopback, path style"
# The blob: random bytes pushed to the registry as one blob, and its key in the bucket.
head -c $((S3_MB * 1048576)) /dev/urandom >"$T/s3blob"
S3_DIGEST=$(sha256_of "$T/s3blob")
loc=$(curl -sS --fail --cacert "$TEST_CA_CRT" -X POST -D - -o /dev/null \
  "https://$RADDR/v2/bench/s3raw/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
case "$loc" in http*) ;; *) loc="https://$RADDR$loc" ;; esac
case "$loc" in *\?*) sep='&' ;; *) sep='?' ;; esac
curl -sS --fail --cacert "$TEST_CA_CRT" -T "$T/s3blob" -H 'Content-Type: application/octet-stream' \
  -o /dev/null "$loc${sep}digest=$S3_DIGEST" || fail "s3 blob upload to the registry failed"
S3_KEY="bench/blobs/sha256/${S3_DIGEST#sha256:}"
S3_ENV=("BLOB_STORE=s3://$S3_BUCKET/bench" "S3_ENDPOINT=$RGW_ENDPOINT" "AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY"
  "AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY")
S3_BLOB_URL="https://registry.test:$UPORT/v2/bench/s3raw/blobs/$S3_DIGEST"
s3_fresh() { # [with-s3] — (re)starts pullthrough with an empty cache, with or without BLOB_STORE
  [ -z "$PROXY_PID" ] || stop_proxy TERM
  rm -rf "$T/proxy/cache"
  if [ "${1:-}" = with-s3 ]; then start_proxy "${PT_ENV[@]}" "${S3_ENV[@]}"; else start_proxy "${PT_ENV[@]}"; fi
}
s3_speed() { # -> bytes/s of the blob through the proxy (its bytes checked)
  local speed
  speed=$(curl -sS --fail --max-time 600 --proxy "$PROXY_URL" --cacert "$PROXY_CA_CRT" -o "$T/s3blob.out" \
    -w '%{speed_download}' "$S3_BLOB_URL") || fail "s3 section: GET of the blob through the proxy failed"
  cmp -s "$T/s3blob" "$T/s3blob.out" || fail "s3 section: the proxy served other bytes"
  rm -f "$T/s3blob.out"
  echo "$speed"
}
s3_object_there() { s3curl -o /dev/null -w '%{http_code}' -I "$RGW_ENDPOINT/$S3_BUCKET/$S3_KEY" | grep -q '^200$'; }
s3_metric() { curl -sS --max-time 5 "$PROXY_URL/metrics" | awk -v m="$1" '$1 == m {printf "%d\n", $2}'; }
for rep in $(seq 1 "$REPS"); do
  # Cold fills: without BLOB_STORE, then with it (the object not in the bucket yet).
  s3c del "s3://$S3_BUCKET/$S3_KEY" >/dev/null 2>&1 || true
  s3_fresh
  rec s3_fill_Bps pullthrough "$(s3_speed)"
  s3_fresh with-s3
  rec s3_fill_Bps pullthrough-s3 "$(s3_speed)"
  # The upload with the fill: the time from the fill's end until the object is in the bucket (or failed).
  t0=$(now)
  for _ in $(seq 1 1200); do
    s3_object_there && break
    [ "$(s3_metric pullthrough_s3_errors_total)" = 0 ] || break
    sleep 0.1
  done
  if s3_object_there; then
    rec s3_upload_after_fill_s pullthrough-s3 "$(elapsed "$t0" "$(now)")"
  else
    rec s3_upload_failed pullthrough-s3 1
    log "s3: the proxy's upload failed: $(proxy_log_current | grep 'BLOB_STORE' | tail -1)"
    s3c put -q "$T/s3blob" "s3://$S3_BUCKET/$S3_KEY" # so that the reads below have the object
  fi
  # Reads: from the bucket through a proxy with an empty disk, then the same blob as a local hit,
  # then RGW itself.
  s3_fresh with-s3
  rec s3_hit_Bps from-bucket "$(s3_speed)"
  rec s3_hit_Bps local-disk "$(s3_speed)"
  rec s3_hit_Bps rgw-direct "$(s3curl --fail -o /dev/null -w '%{speed_download}' "$RGW_ENDPOINT/$S3_BUCKET/$S3_KEY")"
  rec check_s3_downloads pullthrough-s3 "$(s3_metric pullthrough_s3_downloads_total)"
  log "s3 rep $rep: $(grep -P '^s3_' "$RAW" | tail -6 | awk '{printf "%s/%s=%.1f ", $1, $2, ($1 ~ /Bps/ ? $3 / 1e6 : $3)}')"
done
stop_proxy TERM
stop_rgw
rm -f "$T/s3blob"
fi
fi # s3

# ---------------------------------------------------------------- report

meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$RESULTS_DIR"
cp "$RAW" "$RESULTS_DIR/raw.tsv"
cp "$META" "$RESULTS_DIR/meta.tsv"
/usr/bin/python3 "$BENCH_DIR/report.py" "$RESULTS_DIR"
# The cluster section (7), appended to results.md (and alone in cluster.md) from the same raw.tsv
# (medians, same run).
if grep -q '^cluster_' "$RAW"; then
  /usr/bin/python3 - "$RESULTS_DIR" "$CONC_CLIENTS" "${BENCH_CLUSTER_DEATH_CLIENTS:-10}" "$BIG_MB" <<'EOF' | tee "$RESULTS_DIR/cluster.md" | tee -a "$RESULTS_DIR/results.md"
import statistics, sys
from collections import defaultdict
d, clients, death_clients, big_mb = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
raw = defaultdict(list)
for line in open(f"{d}/raw.tsv"):
    if line.strip():
        m, s, v = line.rstrip("\n").split("\t")
        raw[(m, s)].append(float(v))
med = lambda m, s="pullthrough": statistics.median(raw[(m, s)]) if raw.get((m, s)) else None
mx = lambda m, s="pullthrough": max(raw[(m, s)]) if raw.get((m, s)) else None
f = lambda v, u="", n=2: "n/a" if v is None else f"{v:.{n}f}{u}"
verdict = lambda ok: "n/a" if ok is None else ("**met**" if ok else "**NOT met**")
rows = []
r = med("cluster_cold_upstream_ratio")
rows.append((f"{clients} cold clients over 3 replicas: upstream bytes / image bytes = 1.0",
             f"{f(r, '', 3)} (max {f(mx('cluster_cold_upstream_ratio'), '', 3)}; max GETs per blob {f(mx('cluster_cold_max_gets_per_blob'), '', 0)}; "
             f"wall {f(med('cluster_cold_wall'), ' s')}; failed pulls {f(mx('cluster_cold_failed'), '', 0)})",
             verdict(None if r is None else mx("cluster_cold_upstream_ratio") <= 1.0001)))
no, ow = med("cluster_hit_Bps", "nonowner"), med("cluster_hit_Bps", "owner")
r = no / ow if no and ow else None
rows.append(("Hit through a non-owner >= 0.8x a local hit on the owner",
             f"{f(no and no / 1e6, ' MB/s', 0)} / {f(ow and ow / 1e6, ' MB/s', 0)} = {f(r)} (proxy CPU per GB, both replicas: "
             f"{f(med('cluster_hit_cpu_s_per_GB', 'nonowner'), ' s')} forwarded (of which the owner {f(med('cluster_hit_cpu_s_per_GB', 'owner_when_forwarded'), ' s')}) "
             f"vs {f(med('cluster_hit_cpu_s_per_GB', 'owner'), ' s')} local)",
             verdict(None if r is None else r >= 0.8)))
p = med("cluster_head_p99_ms", "nonowner")
rows.append(("HEAD (cached tag) through a non-owner: p99 < 5 ms",
             f"p99 {f(p, ' ms')}, {f(med('cluster_head_rps', 'nonowner'), ' req/s', 0)} (owner: p99 {f(med('cluster_head_p99_ms', 'owner'), ' ms')}, "
             f"{f(med('cluster_head_rps', 'owner'), ' req/s', 0)}; errors {f(mx('cluster_head_errors', 'nonowner'), '', 0)})",
             verdict(None if p is None else p < 5)))
rows.append((f"Owner SIGKILLed while {death_clients} clients pull the {big_mb} MiB image through the two others",
             f"{f(med('cluster_death_failed_pulls'), '', 0)} pulls failed, {f(med('cluster_death_retries'), '', 0)} retries, "
             f"{f(med('cluster_death_gave_up'), '', 0)} gave up; first retried pull done {f(med('cluster_death_first_ok_s'), ' s')}, "
             f"all done {f(med('cluster_death_recover_s'), ' s')} after the kill (owner's fill at "
             f"{f(med('cluster_death_killed_at_bytes') and med('cluster_death_killed_at_bytes') / 1048576, ' MiB', 0)} when killed; "
             f"wall {f(med('cluster_death_wall'), ' s')} vs {f(med('cluster_death_wall', 'nokill'), ' s')} without the kill)",
             "(measured)"))
print("\n## 7. Cluster of three replicas (PEERS, same machine)\n")
print("| target | measured | verdict |")
print("| --- | --- | --- |")
for row in rows:
    print("| " + " | ".join(row) + " |")
print()
EOF
fi
log "results in $RESULTS_DIR"
finish
