#!/usr/bin/env bash
# `pullthrough docker-socket` against a Docker Engine API stand-in (fake_docker_engine.py) on a
# unix socket, with curl --unix-socket as the Docker client: pulls of the rewritten registries go
# via the mirror and are tagged back, the progress stream is streamed, containers/create pulls a
# missing image first, everything else (incl. a hijacked attach) passes through, engine errors
# reach the client unchanged, and a dead engine gives a 502 with the engine's JSON error shape.
source "$(dirname "$0")/lib.sh"
require_cmd curl
require_proxy_bin

MIRROR=mirror.test:5000
ENGINE_SOCK=$T/engine.sock
PT_SOCK=$T/run/docker.sock
ENGINE_LOG=$T/engine-requests.jsonl
RELEASE=$T/release-slow-pull
DIGEST=sha256:$(printf 'alpine' | sha256sum | cut -d' ' -f1)

cat >"$T/engine-state.json" <<EOD
{"images": ["nginx:latest"],
 "registry": ["$MIRROR/library/ubuntu:18.04", "$MIRROR/quay.io/org/app:1", "$MIRROR/library/busybox:latest",
              "$MIRROR/library/alpine@$DIGEST"],
 "broken": ["$MIRROR/library/broken:1"],
 "slow": ["$MIRROR/library/slow:1", "$MIRROR/library/slow:2"]}
EOD

start_engine() {
  : >"$ENGINE_LOG"
  $PY "$IT_DIR/fake_docker_engine.py" --socket "$ENGINE_SOCK" --log "$ENGINE_LOG" --state "$T/engine-state.json" \
    --release-file "$RELEASE" >"$T/engine.out" 2>&1 &
  ENGINE_PID=$!
  _register_pid "$ENGINE_PID" fake-docker-engine
  _register_log "fake engine requests" "$ENGINE_LOG"
  _register_log "fake engine output" "$T/engine.out"
  local i
  for i in $(seq 1 100); do
    curl -s --max-time 2 --unix-socket "$ENGINE_SOCK" http://d/_ping >/dev/null 2>&1 && { : >"$ENGINE_LOG"; return 0; }
    sleep 0.1
  done
  fail "fake engine did not start"
}

start_docker_socket() {
  _register_log "pullthrough docker-socket" "$PROXY_LOG"
  echo "=== start #1" >>"$PROXY_LOG"
  "$PULLTHROUGH_BIN" docker-socket --listen "$PT_SOCK" --docker "$ENGINE_SOCK" --mirror "$MIRROR" \
    --rewrite docker.io,quay.io --log-level debug >>"$PROXY_LOG" 2>&1 &
  PROXY_PID=$!
  _register_pid "$PROXY_PID" pullthrough-docker-socket
  local i
  for i in $(seq 1 100); do
    kill -0 "$PROXY_PID" 2>/dev/null || fail "pullthrough docker-socket exited during startup"
    [ -S "$PT_SOCK" ] && return 0
    sleep 0.1
  done
  fail "pullthrough docker-socket did not create $PT_SOCK"
}

# dcurl ARGS... : a Docker client call through pullthrough's socket.
dcurl() { curl -sS --max-time 30 --unix-socket "$PT_SOCK" "$@"; }

# engine_saw METHOD TARGET : how many requests the engine recorded with exactly that target.
engine_saw() {
  $PY - "$ENGINE_LOG" "$1" "$2" <<'PYEOF'
import json, sys
path, method, target = sys.argv[1:]
print(sum(1 for l in open(path) if l.strip() and (e := json.loads(l))["method"] == method and e["target"] == target))
PYEOF
}

# engine_last FIELD : a field of the engine's last recorded request ("headers.x-registry-auth", "body").
engine_last() {
  $PY - "$ENGINE_LOG" "$1" <<'PYEOF'
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
v = entries[-1]
for k in sys.argv[2].split("."):
    v = v.get(k, "") if isinstance(v, dict) else ""
print(v if isinstance(v, str) else json.dumps(v))
PYEOF
}

# ------------------------------------------------------------------ CLI
help=$("$PULLTHROUGH_BIN" docker-socket --help)
assert_contains "$help" "--mirror" "docker-socket --help lists --mirror"
assert_contains "$help" "--rewrite" "docker-socket --help lists --rewrite"
rc=0
"$PULLTHROUGH_BIN" docker-socket --listen "$T/x.sock" --docker "$ENGINE_SOCK" >"$T/nomirror.out" 2>&1 || rc=$?
assert_ne "$rc" 0 "docker-socket without --mirror refuses to start"
assert_file_contains "$T/nomirror.out" "--mirror" "and says that --mirror is needed"
rc=0
"$PULLTHROUGH_BIN" docker-socket --listen "$T/x.sock" --mirror mirror >"$T/badmirror.out" 2>&1 || rc=$?
assert_ne "$rc" 0 "a mirror name docker would take for a Docker Hub user is refused"
assert_file_contains "$T/badmirror.out" "expected HOST\[:PORT\]" "with a clear message"

start_engine
start_docker_socket

# ------------------------------------------------------------------ pass-through
out=$(dcurl -D "$T/ping.h" http://d/_ping)
assert_eq "$out" "OK" "/_ping passes through"
assert_eq "$(header_value Api-Version "$T/ping.h")" "1.43" "the engine's headers reach the client"
assert_eq "$(engine_saw GET /_ping)" 1 "the engine got the /_ping"
out=$(dcurl http://d/v1.43/containers/json)
assert_contains "$out" '"/web"' "GET /v1.43/containers/json passes through"
assert_eq "$(engine_saw GET /v1.43/containers/json)" 1 "the engine got GET /v1.43/containers/json unchanged"
conns=$(dcurl -o /dev/null -o /dev/null -w '%{num_connects} ' http://d/_ping http://d/v1.43/version)
assert_eq "$conns" "1 0 " "keep-alive: two requests on one client connection"

# ------------------------------------------------------------------ pulls via the mirror
: >"$ENGINE_LOG"
code=$(dcurl -o "$T/pull.out" -w '%{http_code}' -X POST -H 'X-Registry-Auth: c2VjcmV0' \
  'http://d/v1.43/images/create?fromImage=ubuntu&tag=18.04')
assert_eq "$code" 200 "docker pull ubuntu:18.04 answers 200"
pull_out=$(cat "$T/pull.out")
assert_contains "$pull_out" '"status":"Pull complete"' "the engine's progress stream reaches the client"
assert_contains "$pull_out" "Tagged $MIRROR/library/ubuntu:18.04 as ubuntu:18.04" "the client is told about the re-tag"
assert_eq "$(engine_saw POST "/v1.43/images/create?fromImage=mirror.test%3A5000%2Flibrary%2Fubuntu&tag=18.04")" 1 \
  "the engine was asked to pull $MIRROR/library/ubuntu:18.04"
assert_eq "$(engine_saw POST "/v1.43/images/create?fromImage=ubuntu&tag=18.04")" 0 "and not ubuntu:18.04 from Docker Hub"
assert_eq "$(engine_saw POST "/v1.43/images/$MIRROR/library/ubuntu:18.04/tag?repo=ubuntu&tag=18.04")" 1 \
  "after the pull, the image was tagged back to ubuntu:18.04"
tag_line=$(grep -n '/tag?' "$ENGINE_LOG" | cut -d: -f1)
pull_line=$(grep -n 'images/create' "$ENGINE_LOG" | cut -d: -f1)
[ "$tag_line" -gt "$pull_line" ] || fail "the tag came before the pull"
ok "the tag came after the pull"
auth=$(grep 'images/create' "$ENGINE_LOG" | $PY -c 'import json,sys; print(json.loads(sys.stdin.readline())["headers"].get("x-registry-auth","none"))')
assert_eq "$auth" none "the client's registry credentials are not sent to the mirror"
code=$(dcurl -o /dev/null -w '%{http_code}' http://d/v1.43/images/ubuntu:18.04/json)
assert_eq "$code" 200 "the engine now has ubuntu:18.04 (docker run ubuntu:18.04 works unchanged)"

: >"$ENGINE_LOG"
pull_out=$(dcurl -X POST 'http://d/v1.43/images/create?fromImage=quay.io%2Forg%2Fapp&tag=1')
assert_contains "$pull_out" "Tagged $MIRROR/quay.io/org/app:1 as quay.io/org/app:1" "a quay.io pull goes via the mirror"
assert_eq "$(engine_saw POST "/v1.43/images/$MIRROR/quay.io/org/app:1/tag?repo=quay.io%2Forg%2Fapp&tag=1")" 1 \
  "and is tagged back to quay.io/org/app:1"

: >"$ENGINE_LOG"
pull_out=$(dcurl -X POST "http://d/images/create?fromImage=docker.io%2Flibrary%2Falpine&tag=$DIGEST")
assert_contains "$pull_out" "Pulled by digest via the mirror as $MIRROR/library/alpine@$DIGEST" \
  "a pull by digest (no API version in the path) goes via the mirror"
assert_eq "$(grep -c '/tag?' "$ENGINE_LOG" || true)" 0 "a digest is not tagged"

# ------------------------------------------------------------------ errors from the engine
: >"$ENGINE_LOG"
code=$(dcurl -o "$T/gcr.out" -w '%{http_code}' -X POST 'http://d/v1.43/images/create?fromImage=gcr.io%2Fx%2Fy&tag=1')
assert_eq "$code" 404 "a registry not listed is pulled unchanged; the engine's 404 reaches the client"
assert_contains "$(cat "$T/gcr.out")" '"message":"pull access denied for gcr.io/x/y' "with the engine's message"
assert_eq "$(engine_saw POST "/v1.43/images/create?fromImage=gcr.io%2Fx%2Fy&tag=1")" 1 "the engine got the pull unchanged"

: >"$ENGINE_LOG"
code=$(dcurl -o "$T/nosuch.out" -w '%{http_code}' -X POST 'http://d/v1.43/images/create?fromImage=nosuch&tag=1')
assert_eq "$code" 404 "an image the mirror lacks: the engine's 404 reaches the client"
assert_contains "$(cat "$T/nosuch.out")" "pull access denied for $MIRROR/library/nosuch" "with the engine's message"
assert_eq "$(grep -c '/tag?' "$ENGINE_LOG" || true)" 0 "a failed pull is not tagged"

: >"$ENGINE_LOG"
pull_out=$(dcurl -X POST 'http://d/v1.43/images/create?fromImage=broken&tag=1')
assert_contains "$pull_out" '"errorDetail":{"message":"failed to register layer' \
  "an error inside the 200 progress stream reaches the client"
assert_eq "$(grep -c '/tag?' "$ENGINE_LOG" || true)" 0 "a pull whose stream reported an error is not tagged"
assert_log_contains "pull of broken:1 via $MIRROR/library/broken:1 failed: failed to register layer"

# ------------------------------------------------------------------ streaming, not buffering
: >"$ENGINE_LOG"
rm -f "$RELEASE"
dcurl -N -X POST 'http://d/v1.43/images/create?fromImage=slow&tag=1' >"$T/slow.out" &
slow_pid=$!
for i in $(seq 1 100); do
  grep -q 'Pulling fs layer' "$T/slow.out" 2>/dev/null && break
  sleep 0.1
done
assert_file_contains "$T/slow.out" 'Pulling fs layer' "the first progress messages reach the client while the pull runs"
assert_alive "$slow_pid" "the client, still streaming"
touch "$RELEASE"
wait_pids "$slow_pid" || fail "the slow pull's client failed"
assert_file_contains "$T/slow.out" "Tagged $MIRROR/library/slow:1 as slow:1" "the slow pull ends with the re-tag"

# ------------------------------------------------------------------ containers/create
: >"$ENGINE_LOG"
out=$(dcurl -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"Image":"busybox","Cmd":["true"]}' 'http://d/v1.43/containers/create?name=t1')
out=${out//$'\n'/} # the engine ends its JSON with a newline
assert_match "$out" '"Id":"c0ffee.* 201$' "containers/create of a missing busybox succeeds"
assert_eq "$(engine_saw GET /v1.43/images/busybox/json)" 1 "the proxy asked the engine whether it has busybox"
assert_eq "$(engine_saw POST "/v1.43/images/create?fromImage=mirror.test%3A5000%2Flibrary%2Fbusybox&tag=latest")" 1 \
  "then pulled busybox:latest via the mirror"
assert_eq "$(engine_saw POST "/v1.43/images/$MIRROR/library/busybox:latest/tag?repo=busybox&tag=latest")" 1 \
  "and tagged it back to busybox:latest"
assert_eq "$(engine_saw POST /v1.43/containers/create?name=t1)" 1 "then the create went to the engine"
assert_eq "$(engine_last body)" '{"Image":"busybox","Cmd":["true"]}' "with the client's body unchanged"

: >"$ENGINE_LOG"
printf '{"Image":"nginx","Cmd":["nginx"]}' >"$T/create.json"
out=$(dcurl -w ' %{http_code}' -X POST -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
  --data-binary @"$T/create.json" 'http://d/v1.43/containers/create')
out=${out//$'\n'/}
assert_match "$out" ' 201$' "containers/create with a chunked body, image present"
assert_eq "$(grep -c 'images/create' "$ENGINE_LOG" || true)" 0 "an image the engine has is not pulled"
assert_eq "$(engine_last body)" '{"Image":"nginx","Cmd":["nginx"]}' "the chunked body reached the engine whole"

: >"$ENGINE_LOG"
code=$(dcurl -o "$T/create404.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"Image":"gcr.io/x/y:1"}' 'http://d/v1.43/containers/create')
assert_eq "$code" 404 "containers/create of a missing image of another registry: the engine's 404"
assert_contains "$(cat "$T/create404.out")" '{"message":"No such image: gcr.io/x/y:1"}' "reaches the client unchanged"
assert_eq "$(grep -c 'images/create' "$ENGINE_LOG" || true)" 0 "and nothing was pulled"

# a digest cannot be tagged back: the create names the mirror's image instead
: >"$ENGINE_LOG"
out=$(dcurl -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
  -d "{\"Image\":\"alpine@$DIGEST\"}" 'http://d/v1.43/containers/create')
out=${out//$'\n'/}
assert_match "$out" ' 201$' "containers/create of a missing image by digest succeeds"
assert_eq "$(engine_saw POST "/v1.43/images/create?fromImage=mirror.test%3A5000%2Flibrary%2Falpine&tag=sha256%3A${DIGEST#sha256:}")" 1 \
  "the digest was pulled via the mirror"
assert_eq "$(engine_last body)" "{\"Image\":\"$MIRROR/library/alpine@$DIGEST\"}" \
  "and the create names the mirror's image by that digest"

# the pull via the mirror fails: the engine's own answer to the create reaches the client
: >"$ENGINE_LOG"
code=$(dcurl -o "$T/create-nosuch.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"Image":"nosuch:2"}' 'http://d/v1.43/containers/create')
assert_eq "$code" 404 "containers/create whose image the mirror lacks: 404"
assert_contains "$(cat "$T/create-nosuch.out")" '{"message":"No such image: nosuch:2"}' "the engine's message, unchanged"
assert_eq "$(engine_saw POST "/v1.43/images/create?fromImage=mirror.test%3A5000%2Flibrary%2Fnosuch&tag=2")" 1 \
  "after an attempt to pull it via the mirror"
assert_eq "$(engine_saw POST /v1.43/containers/create)" 1 "the create still went to the engine"

# Expect: 100-continue is answered by pullthrough, so the client does not wait for the engine
$PY -c 'import json; print(json.dumps({"Image": "nginx", "Env": ["X=" + "y" * 200000]}))' >"$T/big.json"
start_ms=$(date +%s%3N)
code=$(dcurl -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -H 'Expect: 100-continue' \
  --data-binary @"$T/big.json" 'http://d/v1.43/containers/create')
elapsed=$(($(date +%s%3N) - start_ms))
assert_eq "$code" 201 "containers/create with a 200 kB body and Expect: 100-continue"
[ "$elapsed" -lt 900 ] || fail "the client waited ${elapsed} ms (for a 100 Continue that never came?)"
ok "the client did not wait for a 100 Continue (${elapsed} ms)"
assert_eq "$(engine_last headers.expect)" "" "Expect is not forwarded (pullthrough reads the body itself)"

# ------------------------------------------------------------------ hijacked attach
attach=$($PY - "$PT_SOCK" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"POST /v1.43/containers/abc/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: api.moby.localhost\r\n"
          b"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n")
out = b""
while b"hello from the container\n" not in out:
    b = s.recv(4096)
    if not b:
        break
    out += b
s.sendall(b"ping\n")
while b"echo: ping\n" not in out:
    b = s.recv(4096)
    if not b:
        break
    out += b
s.shutdown(socket.SHUT_WR)  # stdin closed, as docker's CloseWrite
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
PYEOF
)
assert_contains "$attach" "HTTP/1.1 101 UPGRADED" "attach: the engine's 101 reaches the client"
assert_contains "$attach" "hello from the container" "attach: engine-to-client bytes after the switch"
assert_contains "$attach" "echo: ping" "attach: client-to-engine bytes after the switch"
assert_contains "$attach" "bye" "attach: the client's half-close reaches the engine, which finishes"
assert_contains "$(engine_last headers.upgrade)" "tcp" "the engine got the Upgrade: tcp field"

# ------------------------------------------------------------------ misbehaving clients
: >"$ENGINE_LOG"
rm -f "$RELEASE"
# (curl itself in the background, not the dcurl function's subshell: it is killed below)
curl -sS -N --max-time 30 --unix-socket "$PT_SOCK" -X POST 'http://d/v1.43/images/create?fromImage=slow&tag=2' \
  >"$T/gone.out" 2>/dev/null &
gone_pid=$!
for i in $(seq 1 100); do
  grep -q 'Pulling fs layer' "$T/gone.out" 2>/dev/null && break
  sleep 0.1
done
kill "$gone_pid" 2>/dev/null || true
wait "$gone_pid" 2>/dev/null || true
touch "$RELEASE"
sleep 0.5
assert_eq "$(grep -c '/tag?' "$ENGINE_LOG" || true)" 0 "a pull whose client went away mid-stream is not tagged"
garbage=$($PY - "$PT_SOCK" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.1\r\nBad Header\r\n\r\n")
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
sys.stdout.write(out.decode("latin-1"))
PYEOF
)
assert_contains "$garbage" "HTTP/1.1 400 Bad Request" "a malformed request gets 400"
assert_contains "$garbage" '{"message":"bad request: ' "with a JSON message"
assert_eq "$(dcurl http://d/_ping)" OK "and the socket still serves other clients"

# ------------------------------------------------------------------ the engine is down
kill "$ENGINE_PID"
wait "$ENGINE_PID" 2>/dev/null || true
code=$(dcurl -o "$T/down.out" -w '%{http_code}' http://d/_ping)
assert_eq "$code" 502 "with the engine down, the client gets 502"
assert_match "$(cat "$T/down.out")" '^\{"message":"pullthrough: cannot reach the Docker engine at .*engine.sock' \
  "and a JSON message in the engine's error shape"
head_reply=$($PY - "$PT_SOCK" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"HEAD /_ping HTTP/1.1\r\nHost: d\r\n\r\nGET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
# The HEAD answer must end with its head: the next bytes are the GET's status line.
first, _, rest = out.partition(b"\r\n\r\n")
print(first.split(b"\r\n")[0].decode(), "|", rest[:12].decode("latin-1"))
PYEOF
)
assert_eq "$head_reply" "HTTP/1.1 502 Bad Gateway | HTTP/1.1 502" \
  "HEAD /_ping (the docker CLI's ping) with the engine down: 502 without a body, connection kept"
assert_proxy_alive

stop_proxy TERM
assert_eq "$PROXY_EXIT" 0 "SIGTERM: exits 0"
[ ! -e "$PT_SOCK" ] || fail "the socket file is left behind"
ok "the socket file is removed on exit"
finish
