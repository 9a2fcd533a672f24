#!/bin/sh
# pullthrough host set-up: points the docker (or containerd) systemd service at the proxy, makes the
# system trust the proxy's root CA, and restarts the service.
#
#   curl -fsSL http://proxy.example:3128/setup/systemd | sudo sh       # docker
#   curl -fsSL http://proxy.example:3128/setup/containerd | sudo sh    # containerd
#
# The proxy serves this file with PROXY_URL (its own address, as this host reached it) and SERVICE
# filled in. From a checkout:
#   sudo PROXY_URL=http://proxy.example:3128 SERVICE=containerd sh scripts/setup/systemd.sh
#
# Settings (environment; `curl ... | sudo NAME=value sh` passes them through sudo):
#   PROXY_URL    the proxy, http://host:port (required)
#   SERVICE      docker or containerd (default docker): the unit that gets the drop-in
#   NO_PROXY     what the service reaches directly (default localhost,127.0.0.0/8,::1)
#   RESTART      0: write everything and reload systemd, but leave the service running as it is
#   ROOT         prefix of every path written and inspected (default: none, the real system)
#   SYSTEMCTL    systemctl command (default systemctl)
#   UPDATE_CA_CERTIFICATES  Debian/Ubuntu trust store refresh (default update-ca-certificates)
#   UPDATE_CA_TRUST         RHEL/CentOS/Fedora trust store refresh (default update-ca-trust extract)
#   FETCH        command that prints a URL's body (default: curl, else wget, never via a proxy)
#
# POSIX sh rather than bash: minimal nodes (k3s, busybox, some cloud images) have no bash.
set -eu

PROXY_URL="${PROXY_URL:-}"
SERVICE="${SERVICE:-docker}"
NO_PROXY="${NO_PROXY:-localhost,127.0.0.0/8,::1}"
RESTART="${RESTART:-1}"
ROOT="${ROOT:-}"
SYSTEMCTL="${SYSTEMCTL:-systemctl}"
UPDATE_CA_CERTIFICATES="${UPDATE_CA_CERTIFICATES:-update-ca-certificates}"
UPDATE_CA_TRUST="${UPDATE_CA_TRUST:-update-ca-trust extract}"
FETCH="${FETCH:-}"

die() {
  echo "pullthrough setup: $*" >&2
  exit 1
}
say() { echo "pullthrough setup: $*"; }

[ -n "$PROXY_URL" ] || die "set PROXY_URL (e.g. PROXY_URL=http://proxy.example:3128), or fetch this script from the proxy's /setup/$SERVICE"
PROXY_URL="${PROXY_URL%/}"
case "$PROXY_URL" in
  http://*) ;;
  *) die "PROXY_URL must start with http:// (got '$PROXY_URL')" ;;
esac
case "$SERVICE" in
  docker | containerd) ;;
  *) die "SERVICE must be docker or containerd (got '$SERVICE')" ;;
esac

# Where this distribution keeps extra trust roots, decided before anything is written.
if [ -f "$ROOT/etc/debian_version" ]; then
  trust_dir="$ROOT/usr/local/share/ca-certificates"
  trust_update="$UPDATE_CA_CERTIFICATES"
elif [ -f "$ROOT/etc/redhat-release" ] || [ -d "$ROOT/etc/pki/ca-trust/source/anchors" ]; then
  trust_dir="$ROOT/etc/pki/ca-trust/source/anchors"
  trust_update="$UPDATE_CA_TRUST"
else
  die "unknown distribution (no $ROOT/etc/debian_version or $ROOT/etc/redhat-release): add $PROXY_URL/ca.crt to the system trust roots by hand"
fi

if [ -z "$FETCH" ]; then
  # The proxy itself is never reached through a proxy.
  if command -v curl >/dev/null 2>&1; then
    FETCH="curl -fsS --noproxy * --max-time 30"
  elif command -v wget >/dev/null 2>&1; then
    FETCH="wget -q -Y off -T 30 -O -"
  else
    die "needs curl or wget to download $PROXY_URL/ca.crt"
  fi
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# shellcheck disable=SC2086 # FETCH is a command line
set -f # FETCH's '*' stays literal
$FETCH "$PROXY_URL/ca.crt" >"$tmp" || die "cannot download $PROXY_URL/ca.crt"
set +f
grep -q -e '-----BEGIN CERTIFICATE-----' "$tmp" || die "$PROXY_URL/ca.crt is not a PEM certificate: is $PROXY_URL a pullthrough proxy?"

mkdir -p "$trust_dir"
cp "$tmp" "$trust_dir/pullthrough.crt"
chmod 644 "$trust_dir/pullthrough.crt"
say "installed the proxy's root CA as $trust_dir/pullthrough.crt"
# shellcheck disable=SC2086 # a command line
$trust_update

dropin_dir="$ROOT/etc/systemd/system/$SERVICE.service.d"
dropin="$dropin_dir/http-proxy.conf"
mkdir -p "$dropin_dir"
if [ -f "$dropin" ] && ! grep -q 'pullthrough' "$dropin"; then
  cp "$dropin" "$dropin.before-pullthrough"
  say "kept the previous $dropin as $dropin.before-pullthrough"
fi
cat >"$dropin" <<EOD
# Written by pullthrough's set-up script ($PROXY_URL/setup/$SERVICE).
# Delete this file, then systemctl daemon-reload and restart $SERVICE, to stop using the proxy.
[Service]
Environment="HTTP_PROXY=$PROXY_URL/"
Environment="HTTPS_PROXY=$PROXY_URL/"
Environment="NO_PROXY=$NO_PROXY"
EOD
say "wrote $dropin"

$SYSTEMCTL daemon-reload
if [ "$RESTART" = 0 ]; then
  say "RESTART=0: restart $SERVICE yourself to use the proxy"
else
  $SYSTEMCTL restart "$SERVICE"
  say "restarted $SERVICE: it now pulls through $PROXY_URL"
fi
