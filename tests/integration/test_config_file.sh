#!/usr/bin/env bash
# --config FILE / CONFIG_FILE: the real binary started from a JSON file, a YAML file (flag
# spellings, lists) and DockerProxy's configuration keys; the environment and flags win over the
# file; bad files make it exit 2 with a message naming the file and the key.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd curl openssl
require_proxy_bin
unset CONFIG_FILE THREADS MIRROR_LISTEN MIRROR_TLS_CERT MIRROR_TLS_KEY HEADER_TIMEOUT CLIENT_IDLE_TIMEOUT \
  ENABLE_MANIFEST_CACHE MANIFEST_CACHE_DEFAULT_TIME CACHE_MAX_SIZE

RUN=0
# launch LOG [ENV=value...] -- ARGS... : starts the proxy; waits for /healthz on $WANT_PORT.
launch() {
  local log=$1 i code
  shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  RUN=$((RUN + 1))
  _register_log "proxy run $RUN" "$log"
  env "${envs[@]}" "$PULLTHROUGH_BIN" "$@" >"$log" 2>&1 &
  PID=$!
  _register_pid "$PID" "pullthrough run $RUN"
  for i in $(seq 1 150); do
    kill -0 "$PID" 2>/dev/null || fail "run $RUN exited during start-up: $(tail -n 5 "$log")"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$WANT_PORT/healthz" || true)
    [ "$code" != 200 ] || return 0
    sleep 0.1
  done
  fail "run $RUN did not answer /healthz on $WANT_PORT"
}

stop() {
  kill -TERM "$PID"
  wait "$PID" 2>/dev/null || true
}

# expect_refused TEXT NEEDLE MESSAGE [FILE_NAME] : the proxy refuses the file with exit 2.
expect_refused() {
  local text=$1 needle=$2 message=$3 name=${4:-bad.yaml}
  local file="$T/bad/$RANDOM-$name" rc=0 out
  mkdir -p "$T/bad"
  printf '%b' "$text" >"$file"
  out=$(CA_DIR="$T/ca" CACHE_DIR="$T/cache" timeout 20 "$PULLTHROUGH_BIN" --config "$file" 2>&1) || rc=$?
  assert_eq "$rc" 2 "$message: exit 2"
  assert_contains "$out" "$file" "$message: names the file"
  assert_contains "$out" "$needle" "$message: names the key"
}

# ---------------------------------------------------------------- JSON
WANT_PORT=$(free_port 127.0.0.1)
cat >"$T/proxy.json" <<EOF
{
  "LISTEN": "127.0.0.1:$WANT_PORT",
  "CA_DIR": "$T/ca",
  "CACHE_DIR": "$T/cache",
  "REGISTRIES": ["quay.io", "ghcr.io"],
  "LOG_FORMAT": "json",
  "THREADS": 2,
  "VERIFY_SSL": true
}
EOF
launch "$T/json.log" -- --config "$T/proxy.json"
ok "started from a JSON file (LISTEN, CA_DIR, CACHE_DIR from the file)"
assert_file_contains "$T/json.log" '^\{.*"msg": ?"intercepting .*quay\.io.*ghcr\.io' "REGISTRIES (a list) and LOG_FORMAT=json from the file"
[ -f "$T/ca/ca.crt" ] || fail "CA_DIR from the file not used"
ok "CA created in the file's CA_DIR"
stop

# ---------------------------------------------------------------- YAML, flag spellings; env and flags win
WANT_PORT=$(free_port 127.0.0.1)
FILE_PORT=$(free_port 127.0.0.1)
cat >"$T/proxy.yaml" <<EOF
# flag spellings and env spellings mixed
listen: 127.0.0.1:$FILE_PORT
ca-dir: $T/ca
CACHE_DIR: $T/cache
registries:
  - registry.example
log_format: text
EOF
launch "$T/yaml-env.log" LISTEN="127.0.0.1:$WANT_PORT" CONFIG_FILE="$T/proxy.yaml" --
ok "started from a YAML file named by CONFIG_FILE; LISTEN from the environment wins"
assert_file_contains "$T/yaml-env.log" 'intercepting .*registry\.example' "YAML registries list applied"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$FILE_PORT/healthz" || true)
assert_ne "$code" 200 "the file's LISTEN was overridden"
stop

WANT_PORT=$(free_port 127.0.0.1)
launch "$T/yaml-flag.log" LISTEN="127.0.0.1:$FILE_PORT" -- --config "$T/proxy.yaml" --listen "127.0.0.1:$WANT_PORT"
ok "a flag wins over both the environment and the file"
stop

# ---------------------------------------------------------------- DockerProxy's keys
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout "$T/mirror.key" -out "$T/mirror.crt" 2>/dev/null
WANT_PORT=$(free_port 127.0.0.1)
MIRROR_PORT=$(free_port 0.0.0.0)
cat >"$T/dockerproxy.json" <<EOF
{
   "ServerPort": "$MIRROR_PORT",
   "UseTLS": true,
   "CertFilePath": "$T/mirror.crt",
   "KeyFilePath": "$T/mirror.key",
   "ReadTimeout": "5m",
   "WriteTimeout": "5m",
   "IdleTimeout": "10m",
   "CacheEvictionPeriod": "10m"
}
EOF
launch "$T/dockerproxy.log" LISTEN="127.0.0.1:$WANT_PORT" CA_DIR="$T/ca" CACHE_DIR="$T/cache" LOG_LEVEL=debug \
  -- --config "$T/dockerproxy.json"
ok "started from DockerProxy's configuration file"
assert_file_contains "$T/dockerproxy.log" 'registry mirror \(https\)' "ServerPort + UseTLS start a TLS mirror listener"
# The mirror listener speaks TLS with the given certificate on ServerPort.
subject=$(openssl s_client -connect "127.0.0.1:$MIRROR_PORT" -servername localhost -CAfile "$T/mirror.crt" \
  -verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -subject 2>/dev/null || true)
assert_contains "$subject" "CN = localhost" "the mirror serves CertFilePath/KeyFilePath on ServerPort"
stop

# ---------------------------------------------------------------- bad files
expect_refused "REGISTRIE: quay.io\n" "key 'REGISTRIE': unknown setting" "a misspelt key"
expect_refused "CACHE_MAX_SIZE: lots\n" "key 'CACHE_MAX_SIZE'" "a bad size"
expect_refused '{"THREADS": "many"}' "key 'THREADS'" "a bad number" bad.json
expect_refused '{"REGISTRIES": {"quay.io": true}}' "key 'REGISTRIES'" "an object where a string belongs" bad.json
expect_refused "ServerPort: web\n" "key 'ServerPort'" "a DockerProxy port that is no number"
expect_refused "UseTLS: true\nServerPort: 8443\n" "CertFilePath" "UseTLS without certificate"
expect_refused "IdleTimeout: forever\n" "key 'IdleTimeout'" "a DockerProxy duration that is none"
expect_refused "LISTEN: [\n" "not valid YAML" "broken YAML"
expect_refused '{"LISTEN": ' "not valid JSON" "broken JSON" bad.json
rc=0
out=$("$PULLTHROUGH_BIN" --config "$T/does-not-exist.yaml" 2>&1) || rc=$?
assert_eq "$rc" 2 "a missing file: exit 2"
assert_contains "$out" "$T/does-not-exist.yaml" "a missing file is named"

finish
