#!/bin/bash
# The image's HEALTHCHECK: GET /healthz on the proxy's own listener; exit 0 on 200, 1 otherwise.
# Uses bash's /dev/tcp, so the image needs no curl. The address follows LISTEN (0.0.0.0 and ::
# mean loopback); HEALTHCHECK_ADDRESS overrides it (e.g. when LISTEN is set in a --config file).
set -euo pipefail

listen=${HEALTHCHECK_ADDRESS:-${LISTEN:-0.0.0.0:3128}}
if [[ $listen == *:* ]]; then
  port=${listen##*:}
  host=${listen%:*}
else
  port=$listen
  host=""
fi
host=${host#[}
host=${host%]}
case "$host" in
  "" | 0.0.0.0) host=127.0.0.1 ;;
  ::) host=::1 ;;
esac

if ! exec 3<>"/dev/tcp/$host/$port"; then
  echo "pullthrough healthcheck: cannot connect to $host:$port" >&2
  exit 1
fi
[[ $host == *:* ]] && authority="[$host]:$port" || authority="$host:$port"
trap '' PIPE # a peer that closes early makes the write fail, not kill us: its answer still counts
printf 'GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$authority" >&3 || true
status=""
IFS= read -r -t 5 status <&3 || true
case "$status" in
  "HTTP/1."?" 200 "*) exit 0 ;;
esac
echo "pullthrough healthcheck: $host:$port/healthz answered '${status%$'\r'}'" >&2
exit 1
