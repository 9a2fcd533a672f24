#!/usr/bin/env bash
# docker/Dockerfile checked in seconds and without a container engine (test_container_image.sh
# builds and runs the image, in minutes, and says less precisely what broke): every file the
# Dockerfile copies or runs exists (and is not hidden by .dockerignore), the scripts and CMake
# options it uses exist, the runtime packages exist in Debian 12 and cover every shared library
# the built binary links, the image runs as a non-root user with EXPOSE/VOLUME/HEALTHCHECK/
# ENTRYPOINT as documented, compose.yml points at it, and the HEALTHCHECK script really tells a
# live proxy from a dead one.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd python3 curl
require_proxy_bin

DOCKERFILE="${PT_DOCKERFILE:-$REPO_ROOT/docker/Dockerfile}" # PT_DOCKERFILE: check another one
[ -f "$DOCKERFILE" ] || fail "no docker/Dockerfile"

# The Dockerfile as facts, one per line: KIND<TAB>STAGE<TAB>VALUE. Continuation lines are joined.
python3 - "$DOCKERFILE" >"$T/facts.tsv" <<'EOF'
import re, shlex, sys
text = open(sys.argv[1]).read()
lines, cur = [], ""
for raw in text.splitlines():
    s = raw.strip()
    if not cur and (not s or s.startswith("#")):
        continue
    if cur and s.startswith("#"):
        continue
    if s.endswith("\\"):
        cur += s[:-1] + " "
        continue
    lines.append(cur + s)
    cur = ""
stage = -1
args = {}
def out(kind, value):
    print(f"{kind}\t{stage}\t{value}")
for line in lines:
    instr, _, rest = line.partition(" ")
    instr = instr.upper()
    rest = rest.strip()
    if instr == "ARG":
        name, _, default = rest.partition("=")
        args[name] = default
        out("ARG", rest)
    elif instr == "FROM":
        stage += 1
        m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
        image = re.sub(r"\$\{(\w+)\}", lambda g: args.get(g.group(1), ""), m.group(1))
        out("FROM", f"{image} {m.group(2) or ''}".strip())
    elif instr in ("COPY", "ADD"):
        words = shlex.split(rest)
        opts = [w for w in words if w.startswith("--")]
        paths = [w for w in words if not w.startswith("--")]
        src = " ".join(paths[:-1])
        frm = next((o.split("=", 1)[1] for o in opts if o.startswith("--from=")), "")
        out("COPY_FROM" if frm else "COPY", f"{frm}|{src}|{paths[-1]}" if frm else f"{src}|{paths[-1]}")
    elif instr in ("CMD", "ENTRYPOINT", "HEALTHCHECK", "USER", "EXPOSE", "VOLUME", "WORKDIR", "RUN", "STOPSIGNAL"):
        out(instr, rest)
    else:
        out(instr, rest)
EOF
facts() { awk -F'\t' -v k="$1" '$1 == k {print $3}' "$T/facts.tsv"; }
facts_in_stage() { awk -F'\t' -v k="$1" -v s="$2" '$1 == k && $2 == s {print $3}' "$T/facts.tsv"; }

# ---------------------------------------------------------------- base images and stages
mapfile -t froms < <(facts FROM)
assert_eq "${#froms[@]}" 2 "two stages (build, runtime)"
assert_match "${froms[0]}" '^debian:(12|bookworm)(-slim)?(@sha256:[0-9a-f]+)? build$' "build stage on Debian 12, named build"
assert_match "${froms[1]}" '^debian:(12|bookworm)(-slim)?(@sha256:[0-9a-f]+)?$' "runtime stage on Debian 12"

# ---------------------------------------------------------------- files copied from the context
# .dockerignore patterns (simple ones: a top-level name, or **/x): a COPY source must not be hidden.
mapfile -t ignored < <(grep -vE '^\s*(#|$)' "$REPO_ROOT/.dockerignore" 2>/dev/null || true)
is_ignored() {
  local path=$1 pat
  for pat in "${ignored[@]}"; do
    # shellcheck disable=SC2053 # glob match intended
    [[ ${path%%/*} == $pat || $(basename "$path") == ${pat#\*\*/} ]] && return 0
  done
  return 1
}
while IFS='|' read -r src dst; do
  for s in $src; do
    if [ "$s" = . ]; then
      assert_contains "${ignored[*]}" build "COPY . . leaves the host's build/ out (.dockerignore)"
      continue
    fi
    [ -e "$REPO_ROOT/$s" ] || fail "COPY source '$s' does not exist in the repository"
    ! is_ignored "$s" || fail "COPY source '$s' is excluded by .dockerignore"
    ok "COPY $s -> $dst exists"
  done
done < <(facts COPY)

# ---------------------------------------------------------------- what the build stage runs
build_runs=$(facts_in_stage RUN 0)
workdir=$(facts_in_stage WORKDIR 0 | tail -n 1)
mapfile -t scripts < <(grep -oE '(scripts|docker)/[A-Za-z0-9_./-]+' <<<"$build_runs" | sort -u)
[ "${#scripts[@]}" -ge 2 ] || fail "the build stage runs no repository scripts: $build_runs"
for s in "${scripts[@]}"; do
  [ -f "$REPO_ROOT/$s" ] || fail "the build stage runs '$s', which does not exist"
  ok "build stage script $s exists"
done
assert_contains "$build_runs" "scripts/install-deps.sh --build-only" "build stage installs with CI's install script"
assert_contains "$build_runs" "scripts/build.sh" "build stage builds with CI's build script"
grep -q -- '--build-only' "$REPO_ROOT/scripts/install-deps.sh" || fail "install-deps.sh has no --build-only"
ok "install-deps.sh knows --build-only"
grep -qE 'cmake .*"\$@"' "$REPO_ROOT/scripts/build.sh" || fail "build.sh does not pass its arguments to cmake"
ok "build.sh passes -D options to cmake"
while read -r opt; do
  [ -n "$opt" ] || continue
  grep -qE "option\($opt |set\($opt " "$REPO_ROOT/CMakeLists.txt" || fail "-D$opt is no option of CMakeLists.txt"
  ok "-D$opt is a CMake option"
done < <(grep -oE -- '-D[A-Z_]+' <<<"$build_runs" | sed 's/^-D//' | sort -u)
# build.sh builds into <repo>/build and CMake puts the executable at its top: the path COPY --from uses.
grep -q -- '-B build' "$REPO_ROOT/scripts/build.sh" || fail "build.sh no longer builds into build/"
grep -qF "CMAKE_RUNTIME_OUTPUT_DIRECTORY \${CMAKE_BINARY_DIR}" "$REPO_ROOT/CMakeLists.txt" ||
  fail "CMakeLists.txt no longer puts the executable at build/pullthrough"
binary_copy=$(facts COPY_FROM | grep '^build|')
IFS='|' read -r _ binary_src binary_dst <<<"$binary_copy"
assert_eq "$binary_src" "$workdir/build/pullthrough" "the runtime copies build/pullthrough from the build WORKDIR"

# ---------------------------------------------------------------- runtime stage
runtime_runs=$(facts_in_stage RUN 1)
mapfile -t packages < <(python3 - "$runtime_runs" <<'EOF'
import shlex, sys
words = shlex.split(sys.argv[1].replace("&&", " && "))
i = words.index("install")
for w in words[i + 1:]:
    if w == "&&":
        break
    if not w.startswith("-"):
        print(w)
EOF
)
[ "${#packages[@]}" -ge 5 ] || fail "runtime package list not found in: $runtime_runs"
if apt-cache show --no-all-versions libc6 >/dev/null 2>&1; then
  # One apt-cache call (each costs seconds): the packages it knows, against the list.
  known=$(apt-cache show --no-all-versions "${packages[@]}" 2>/dev/null | sed -n 's/^Package: //p' | sort -u || true)
  for p in "${packages[@]}"; do
    grep -qx "$p" <<<"$known" || fail "runtime package '$p' is not in Debian 12 (apt-cache show)"
  done
  ok "all ${#packages[@]} runtime packages exist in Debian 12 (apt-cache show)"
else
  echo "NOTE: apt lists are empty here (apt-get update): package existence not checked"
fi
# Every shared library of the real binary comes from a package the runtime installs. One dpkg -S
# for all candidate paths (merged /usr: a library may be registered under /lib or /usr/lib).
# The ASan/UBSan test build links differently (sanitizer runtimes, shared RocksDB and its deps):
# it says nothing about the release image, so only the release build is checked this way.
# ldd's output is read once: under pipefail, "ldd | grep -q" fails whenever grep exits before ldd
# has written everything (SIGPIPE), which made a sanitized build look like a release build in CI.
linked=$(ldd "$PULLTHROUGH_BIN")
sanitized=0
grep -q 'libasan\.' <<<"$linked" && sanitized=1
mapfile -t libs < <(awk '$3 ~ /^\// {print $3}' <<<"$linked")
[ "${#libs[@]}" -gt 0 ] || fail "ldd found no shared libraries in $PULLTHROUGH_BIN"
candidates_of() { local real; real=$(readlink -f "$1"); printf '%s\n' "$1" "$real" "${real#/usr}" "/usr$1" "/usr$real"; }
declare -A owner_of=()
while IFS= read -r line; do
  owner_of[${line#*: }]=${line%%:*}
done < <(for lib in "${libs[@]}"; do candidates_of "$lib"; done | sort -u | xargs dpkg -S 2>/dev/null || true)
[ "$sanitized" = 0 ] || { log "sanitizer build: the library coverage check applies to release builds only"; libs=(); }
for lib in "${libs[@]}"; do
  owner=""
  while read -r candidate; do
    owner=${owner_of[$candidate]:-}
    [ -z "$owner" ] || break
  done < <(candidates_of "$lib")
  [ -n "$owner" ] || fail "no Debian package owns $lib (linked by $PULLTHROUGH_BIN)"
  [ "$owner" = libc6 ] && continue
  grep -qx "$owner" <<<"$(printf '%s\n' "${packages[@]}")" ||
    fail "$PULLTHROUGH_BIN links $lib from package $owner, which the runtime stage does not install"
  ok "runtime has $owner ($(basename "$lib"))"
done
grep -qx ca-certificates <<<"$(printf '%s\n' "${packages[@]}")" || fail "runtime lacks ca-certificates (upstream TLS)"
ok "runtime trusts the system roots (ca-certificates)"

user=$(facts_in_stage USER 1 | tail -n 1)
[ -n "$user" ] || fail "the runtime stage sets no USER"
case "${user%%:*}" in root | 0) fail "USER is root" ;; esac
ok "runs as non-root USER $user"
assert_contains "$runtime_runs" "useradd" "the runtime creates its user"
assert_contains "$runtime_runs" "chown ${user%%:*}:" "the user owns its directories"
for dir in /ca /docker_mirror_cache; do
  assert_contains "$runtime_runs" "$dir" "the runtime prepares $dir"
  assert_contains "$(facts VOLUME)" "\"$dir\"" "VOLUME $dir"
done
assert_match "$(facts EXPOSE)" '(^| )3128( |$)' "EXPOSE 3128"
entrypoint=$(facts ENTRYPOINT)
assert_eq "$entrypoint" "[\"$binary_dst\"]" "ENTRYPOINT is the copied binary"
healthcheck=$(facts HEALTHCHECK)
hc_copy=$(facts COPY | grep '^docker/healthcheck.sh|')
hc_dst=${hc_copy#*|}
assert_contains "$healthcheck" "CMD [\"$hc_dst\"]" "HEALTHCHECK runs the copied docker/healthcheck.sh"
[ -x "$REPO_ROOT/docker/healthcheck.sh" ] || fail "docker/healthcheck.sh is not executable"
if [ -z "$(facts ENV)" ]; then ok "no ENV baked in: configuration is the environment's"; fi
help=$("$PULLTHROUGH_BIN" --help)
assert_match "$help" '=0\.0\.0\.0:3128 \(Env:LISTEN\)' "the binary's default LISTEN is the exposed port"
assert_match "$help" '=/docker_mirror_cache \(Env:CACHE_DIR\)' "the binary's default CACHE_DIR is the volume"
assert_match "$help" '=/ca \(Env:CA_DIR\)' "the binary's default CA_DIR is the volume"

# ---------------------------------------------------------------- compose.yml
COMPOSE="$REPO_ROOT/docker/compose.yml"
[ -f "$COMPOSE" ] || fail "no docker/compose.yml"
if python3 -c 'import yaml' 2>/dev/null; then
  compose_facts=$(python3 - "$COMPOSE" <<'EOF'
import os, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
svc = doc["services"]["pullthrough"]
ctx = os.path.normpath(os.path.join(os.path.dirname(sys.argv[1]), svc["build"]["context"]))
print("dockerfile", os.path.join(ctx, svc["build"]["dockerfile"]))
print("ports", " ".join(svc["ports"]))
print("volumes", " ".join(v.split(":")[1] for v in svc["volumes"]))
print("env", " ".join(svc["environment"]))
site = doc["services"].get("registry", {})
print("site_profiles", " ".join(site.get("profiles", [])))
print("site_delete", site.get("environment", {}).get("REGISTRY_STORAGE_DELETE_ENABLED", ""))
print("site_volume", "site-registry" in (doc.get("volumes") or {}))
print("site_in_registries", "${SITE_REGISTRY" in svc["environment"]["REGISTRIES"])
EOF
)
  assert_eq "$(awk '$1 == "dockerfile" {print $2}' <<<"$compose_facts")" "$DOCKERFILE" "compose builds docker/Dockerfile from the repository root"
  assert_contains "$compose_facts" "3128:3128" "compose publishes 3128"
  assert_contains "$compose_facts" "/ca" "compose mounts /ca"
  assert_contains "$compose_facts" "/docker_mirror_cache" "compose mounts /docker_mirror_cache"
  assert_contains "$compose_facts" "REGISTRIES" "compose sets REGISTRIES"
  assert_eq "$(awk '$1 == "site_profiles" {print $2}' <<<"$compose_facts")" site-registry "the site registry is the profile site-registry"
  assert_eq "$(awk '$1 == "site_delete" {print $2}' <<<"$compose_facts")" true "the site registry allows deletions"
  assert_eq "$(awk '$1 == "site_volume" {print $2}' <<<"$compose_facts")" True "the site registry keeps its storage in a volume"
  assert_eq "$(awk '$1 == "site_in_registries" {print $2}' <<<"$compose_facts")" True "pullthrough intercepts SITE_REGISTRY"
else
  assert_file_contains "$COMPOSE" 'dockerfile: docker/Dockerfile' "compose builds docker/Dockerfile"
fi

# ---------------------------------------------------------------- the HEALTHCHECK against a real proxy
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck "$REPO_ROOT/docker/healthcheck.sh" || fail "shellcheck docker/healthcheck.sh"
  ok "shellcheck docker/healthcheck.sh"
fi
# shellcheck disable=SC2119 # no arguments: defaults
start_proxy
LISTEN="127.0.0.1:$PROXY_PORT" bash "$REPO_ROOT/docker/healthcheck.sh" || fail "healthcheck failed against a live proxy"
ok "healthcheck passes on a live proxy (LISTEN)"
LISTEN="0.0.0.0:1" HEALTHCHECK_ADDRESS="127.0.0.1:$PROXY_PORT" bash "$REPO_ROOT/docker/healthcheck.sh" ||
  fail "HEALTHCHECK_ADDRESS not honoured"
ok "HEALTHCHECK_ADDRESS overrides LISTEN"
# shellcheck disable=SC2119
stop_proxy
rc=0
out=$(LISTEN="127.0.0.1:$PROXY_PORT" bash "$REPO_ROOT/docker/healthcheck.sh" 2>&1) || rc=$?
assert_eq "$rc" 1 "healthcheck fails once the proxy is gone"
assert_contains "$out" "pullthrough healthcheck" "and says why"
# Something that answers, but not 200.
"$PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(1); print(s.getsockname()[1], flush=True)
c, _ = s.accept()
head = b""
while b"\r\n\r\n" not in head:
    head += c.recv(4096)
c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"); c.close()
' >"$T/fake.port" &
fake_pid=$!
_register_pid "$fake_pid" "fake 503"
for _ in $(seq 1 50); do [ -s "$T/fake.port" ] && break; sleep 0.1; done
rc=0
out=$(LISTEN="127.0.0.1:$(cat "$T/fake.port")" bash "$REPO_ROOT/docker/healthcheck.sh" 2>&1) || rc=$?
assert_eq "$rc" 1 "healthcheck fails on a 503 (still starting)"
assert_contains "$out" "503" "and quotes the status"

finish
