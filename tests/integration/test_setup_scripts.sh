#!/usr/bin/env bash
# GET /setup/systemd and /setup/containerd serve scripts/setup/systemd.sh with this proxy's address
# filled in. Each served script is run, as `curl ... | sh` would, against a temporary root
# directory (ROOT) with systemctl and the trust store commands replaced by recorders, under every
# POSIX shell available; the files it writes and the commands it runs are checked.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd curl
require_proxy_bin

SCRIPT="$REPO_ROOT/scripts/setup/systemd.sh"
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck -s sh "$SCRIPT" || fail "shellcheck -s sh $SCRIPT"
  ok "shellcheck -s sh scripts/setup/systemd.sh"
fi

# shellcheck disable=SC2119 # no settings needed
start_proxy
HOSTPORT="127.0.0.1:$PROXY_PORT"

# A recorder standing in for systemctl, update-ca-certificates and update-ca-trust.
mkdir -p "$T/bin"
cat >"$T/bin/record" <<'EOF'
#!/bin/sh
echo "$*" >>"$CALLS"
EOF
chmod +x "$T/bin/record"

served() { # NAME [curl args...] : the served script
  local name=$1
  shift
  curl -fsS --max-time 10 "$@" "$PROXY_URL/setup/$name"
}

# run_setup SHELL NAME ROOT [VAR=value...] : runs the served script like `curl | sh`; sets RC, OUT.
run_setup() {
  local shell=$1 name=$2 root=$3
  shift 3
  CALLS="$root.calls"
  : >"$CALLS"
  RC=0
  OUT=$(served "$name" | env CALLS="$CALLS" ROOT="$root" SYSTEMCTL="$T/bin/record systemctl" \
    UPDATE_CA_CERTIFICATES="$T/bin/record update-ca-certificates" \
    UPDATE_CA_TRUST="$T/bin/record update-ca-trust extract" "$@" "$shell" 2>&1) || RC=$?
}

make_root() { # DIR FAMILY(debian|redhat|none)
  rm -rf "$1"
  mkdir -p "$1/etc"
  case "$2" in
    debian) echo 12.5 >"$1/etc/debian_version" ;;
    redhat) echo "Rocky Linux release 9.3 (Blue Onyx)" >"$1/etc/redhat-release" ;;
  esac
}

# ---------------------------------------------------------------- what is served
body=$(served systemd)
assert_contains "$(head -n 1 <<<"$body")" "#!/bin/sh" "the served script starts with its shebang"
assert_contains "$body" ": \"\${PROXY_URL:=http://$HOSTPORT}\"" "PROXY_URL defaults to the proxy as reached (Host header)"
# shellcheck disable=SC2016 # the literal text of the served script
assert_contains "$body" ': "${SERVICE:=docker}"' "/setup/systemd configures docker"
# shellcheck disable=SC2016
assert_contains "$(served containerd)" ': "${SERVICE:=containerd}"' "/setup/containerd configures containerd"
assert_contains "$(served systemd -H 'Host: proxy.example:3128')" "http://proxy.example:3128" \
  "the address follows the Host header"
# shellcheck disable=SC2016 # sent literally
code=$(curl -s -o "$T/bad-host.txt" -w '%{http_code}' --max-time 10 -H 'Host: x$(touch /tmp/pwned)' "$PROXY_URL/setup/systemd")
assert_eq "$code" 400 "a Host header a shell would interpret is refused"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$PROXY_URL/setup/nope")
assert_eq "$code" 404 "unknown set-up scripts are 404"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -I "$PROXY_URL/setup/systemd")
assert_eq "$code" 200 "HEAD works too"

# ---------------------------------------------------------------- run it, under each shell
shells=()
for sh in dash bash "busybox sh"; do
  command -v "${sh%% *}" >/dev/null 2>&1 && shells+=("$sh")
done
[ "${#shells[@]}" -gt 0 ] || skip "no POSIX shell"
curl -fsS --max-time 10 -o "$T/ca.crt" "$PROXY_URL/ca.crt"

for sh in "${shells[@]}"; do
  tag=${sh// /-}

  # Debian/Ubuntu, docker.
  R="$T/root-debian-$tag"
  make_root "$R" debian
  run_setup "$sh" systemd "$R"
  [ "$RC" = 0 ] || fail "[$sh] debian/docker: exit $RC: $OUT"
  ok "[$sh] debian/docker set-up exits 0"
  dropin="$R/etc/systemd/system/docker.service.d/http-proxy.conf"
  assert_file_contains "$dropin" "^Environment=\"HTTPS_PROXY=http://$HOSTPORT/\"$" "[$sh] drop-in sets HTTPS_PROXY"
  assert_file_contains "$dropin" "^Environment=\"HTTP_PROXY=http://$HOSTPORT/\"$" "[$sh] drop-in sets HTTP_PROXY"
  assert_file_contains "$dropin" '^Environment="NO_PROXY=localhost,127.0.0.0/8,::1"$' "[$sh] drop-in sets NO_PROXY"
  assert_file_contains "$dropin" '^\[Service\]$' "[$sh] drop-in is a [Service] section"
  cmp -s "$T/ca.crt" "$R/usr/local/share/ca-certificates/pullthrough.crt" ||
    fail "[$sh] CA not installed into /usr/local/share/ca-certificates"
  ok "[$sh] the proxy's CA is in /usr/local/share/ca-certificates/pullthrough.crt"
  assert_eq "$(cat "$CALLS")" $'update-ca-certificates\nsystemctl daemon-reload\nsystemctl restart docker' \
    "[$sh] trust store refreshed, then systemd reloaded and docker restarted"

  # Running it again replaces its own drop-in and keeps no backup of it.
  run_setup "$sh" systemd "$R" NO_PROXY=localhost,registry.internal
  [ "$RC" = 0 ] || fail "[$sh] second run: exit $RC: $OUT"
  assert_file_contains "$dropin" '^Environment="NO_PROXY=localhost,registry.internal"$' "[$sh] NO_PROXY is settable"
  [ ! -e "$dropin.before-pullthrough" ] || fail "[$sh] backed up its own drop-in"
  ok "[$sh] re-running is idempotent"

  # RHEL family, containerd, an existing drop-in of the admin's kept aside, no restart.
  R="$T/root-redhat-$tag"
  make_root "$R" redhat
  mkdir -p "$R/etc/systemd/system/containerd.service.d"
  printf '[Service]\nEnvironment="HTTPS_PROXY=http://old:8080"\n' >"$R/etc/systemd/system/containerd.service.d/http-proxy.conf"
  run_setup "$sh" containerd "$R" RESTART=0
  [ "$RC" = 0 ] || fail "[$sh] redhat/containerd: exit $RC: $OUT"
  dropin="$R/etc/systemd/system/containerd.service.d/http-proxy.conf"
  assert_file_contains "$dropin" "HTTPS_PROXY=http://$HOSTPORT/" "[$sh] containerd drop-in written"
  assert_file_contains "$dropin.before-pullthrough" "http://old:8080" "[$sh] the previous drop-in is kept aside"
  cmp -s "$T/ca.crt" "$R/etc/pki/ca-trust/source/anchors/pullthrough.crt" ||
    fail "[$sh] CA not installed into /etc/pki/ca-trust/source/anchors"
  ok "[$sh] the proxy's CA is in /etc/pki/ca-trust/source/anchors/pullthrough.crt"
  assert_eq "$(cat "$CALLS")" $'update-ca-trust extract\nsystemctl daemon-reload' \
    "[$sh] RHEL trust refreshed, RESTART=0 leaves containerd alone"
  assert_contains "$OUT" "restart containerd yourself" "[$sh] and says so"

  # An unknown distribution: nothing written, a clear message.
  R="$T/root-unknown-$tag"
  make_root "$R" none
  run_setup "$sh" systemd "$R"
  assert_eq "$RC" 1 "[$sh] unknown distribution fails"
  assert_contains "$OUT" "unknown distribution" "[$sh] and says why"
  [ ! -e "$R/etc/systemd" ] || fail "[$sh] wrote files for an unknown distribution"
  ok "[$sh] and writes nothing"
  [ ! -s "$CALLS" ] || fail "[$sh] ran commands for an unknown distribution: $(cat "$CALLS")"

  # A PROXY_URL that is not a pullthrough proxy: refused before anything is written.
  R="$T/root-wrong-$tag"
  make_root "$R" debian
  dead_port=$(free_port 127.0.0.1)
  run_setup "$sh" systemd "$R" PROXY_URL="http://127.0.0.1:$dead_port"
  assert_eq "$RC" 1 "[$sh] an unreachable PROXY_URL fails"
  assert_contains "$OUT" "cannot download http://127.0.0.1:$dead_port/ca.crt" "[$sh] naming the URL"
  [ ! -e "$R/etc/systemd" ] || fail "[$sh] wrote a drop-in without a CA"
  ok "[$sh] and writes no drop-in"
done

# From a checkout, without the served defaults, PROXY_URL is required.
rc=0
out=$(env -u PROXY_URL ROOT="$T/x" sh "$SCRIPT" 2>&1) || rc=$?
assert_eq "$rc" 1 "the repository script without PROXY_URL fails"
assert_contains "$out" "set PROXY_URL" "and says what to set"
rc=0
out=$(PROXY_URL="https://x:1" ROOT="$T/x" sh "$SCRIPT" 2>&1) || rc=$?
assert_eq "$rc" 1 "PROXY_URL must be http://"
rc=0
out=$(PROXY_URL="http://x:1" SERVICE=podman ROOT="$T/x" sh "$SCRIPT" 2>&1) || rc=$?
assert_contains "$out" "SERVICE must be docker or containerd" "unknown services are refused"

finish
