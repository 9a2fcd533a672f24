#!/usr/bin/env bash
# The real docker CLI as the client of `pullthrough docker-socket` (the engine is still the
# stand-in fake_docker_engine.py: no Docker engine runs on the test machines). Skipped where no
# docker CLI is installed. Checks what a user sees: `docker pull` through the mirror ending with the
# image under its own name, `docker create` of a missing image, pull errors and a dead engine shown
# as the CLI shows the engine's own errors.
source "$(dirname "$0")/lib.sh"
require_cmd curl docker
require_proxy_bin

MIRROR=mirror.test:5000
ENGINE_SOCK=$T/engine.sock
PT_SOCK=$T/docker.sock
ENGINE_LOG=$T/engine-requests.jsonl
export DOCKER_CONFIG=$T/docker-config # never read the user's ~/.docker
mkdir -p "$DOCKER_CONFIG"
DOCKER=(docker -H "unix://$PT_SOCK")

cat >"$T/engine-state.json" <<EOD
{"images": [],
 "registry": ["$MIRROR/library/ubuntu:18.04", "$MIRROR/library/busybox:latest"],
 "broken": ["$MIRROR/library/broken:1"]}
EOD

$PY "$IT_DIR/fake_docker_engine.py" --socket "$ENGINE_SOCK" --log "$ENGINE_LOG" --state "$T/engine-state.json" \
  >"$T/engine.out" 2>&1 &
ENGINE_PID=$!
_register_pid "$ENGINE_PID" fake-docker-engine
_register_log "fake engine requests" "$ENGINE_LOG"
for i in $(seq 1 100); do
  [ -S "$ENGINE_SOCK" ] && break
  sleep 0.1
done

_register_log "pullthrough docker-socket" "$PROXY_LOG"
"$PULLTHROUGH_BIN" docker-socket --listen "$PT_SOCK" --docker "$ENGINE_SOCK" --mirror "$MIRROR" >>"$PROXY_LOG" 2>&1 &
PROXY_PID=$!
_register_pid "$PROXY_PID" pullthrough-docker-socket
for i in $(seq 1 100); do
  [ -S "$PT_SOCK" ] && break
  sleep 0.1
done
[ -S "$PT_SOCK" ] || fail "pullthrough docker-socket did not create its socket"

out=$("${DOCKER[@]}" pull ubuntu:18.04 2>&1) || fail "docker pull ubuntu:18.04 failed: $out"
ok "docker pull ubuntu:18.04 succeeds"
assert_contains "$out" "Pull complete" "docker shows the engine's progress"
assert_contains "$out" "Tagged $MIRROR/library/ubuntu:18.04 as" "and the re-tag"
assert_file_contains "$ENGINE_LOG" "images/create\\?fromImage=mirror.test%3A5000%2Flibrary%2Fubuntu&tag=18.04" \
  "the engine pulled from the mirror"
assert_file_contains "$ENGINE_LOG" "\"/v1\\.[0-9]+/images/$MIRROR/library/ubuntu:18.04/tag\\?repo=" "and tagged it back"
"${DOCKER[@]}" image inspect ubuntu:18.04 >/dev/null || fail "docker image inspect ubuntu:18.04 fails after the pull"
ok "docker image inspect ubuntu:18.04 finds the image under its own name"

out=$("${DOCKER[@]}" create busybox 2>&1) || fail "docker create busybox failed: $out"
assert_contains "$out" "c0ffee" "docker create of a missing busybox succeeds (pulled via the mirror first)"
assert_file_contains "$ENGINE_LOG" "images/create\\?fromImage=mirror.test%3A5000%2Flibrary%2Fbusybox&tag=latest" \
  "busybox came from the mirror"

rc=0
out=$("${DOCKER[@]}" pull broken:1 2>&1) || rc=$?
assert_ne "$rc" 0 "docker pull of an image whose pull fails mid-stream fails"
assert_contains "$out" "failed to register layer" "with the engine's error"

rc=0
out=$("${DOCKER[@]}" pull gcr.io/x/y:1 2>&1) || rc=$?
assert_ne "$rc" 0 "docker pull of a missing image of a registry not rewritten fails"
assert_contains "$out" "Error response from daemon: pull access denied for gcr.io/x/y" "with the engine's message"

kill "$ENGINE_PID"
wait "$ENGINE_PID" 2>/dev/null || true
rc=0
out=$("${DOCKER[@]}" image inspect ubuntu:18.04 2>&1) || rc=$?
assert_ne "$rc" 0 "with the engine down, docker fails"
assert_contains "$out" "pullthrough: cannot reach the Docker engine" "and says why"
finish
