#!/usr/bin/env bash
# Token registries offline: after public/app:1 (anonymous) and private/app:1
# (credentials injected for auth.test) were pulled once, BOTH the token server
# and the registry are stopped. Pulls still succeed from the cache: the proxy
# answers the client's /v2/ ping itself (200, STALE), so the client never looks
# for a token it could not get; the tag manifests are HIT (within the default
# 60 s window) or STALE (a 1 s window, expired), the blobs HIT.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
source "$IT_DIR/token_world.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_token_world
# Two caches filled while everything is up: the default tag window (60 s), and a 1 s one.
CACHE_DEFAULT="$T/proxy/cache-default"
CACHE_SHORT="$T/proxy/cache-short"
SHORT=(ENABLE_MANIFEST_CACHE=true MANIFEST_CACHE_DEFAULT_TIME=1s MANIFEST_CACHE_PRIMARY_REGEX=
  MANIFEST_CACHE_SECONDARY_REGEX=)

pull() { # IMAGE DIGEST OUT LABEL
  token_pull "$1" "$3" || { cat "$3.log"; fail "$4 failed"; }
  ok "$4"
  verify_dir_digests "$3" "$2"
}

online_pulls() { # LABEL
  local tmark
  tmark=$(token_log_mark)
  pull "$PUBLIC_IMAGE" "$PUBLIC_DIGEST" "$T/$1-public" "$1: pull public/app:1 (no credentials), world up"
  pull "$PRIVATE_IMAGE" "$PRIVATE_DIGEST" "$T/$1-private" "$1: pull private/app:1 (injected credentials), world up"
  assert_match "$(token_log_since "$tmark" "scope=repository:private/app:pull ")" \
    "authorization=basic user=$TOKEN_USER auth=ok .*granted=repository:private/app:pull" \
    "$1: the private token was granted to the injected $TOKEN_USER"
}

# offline_pull IMAGE DIGEST REPO OUT WANT_TAG_STATUS LABEL
offline_pull() {
  local image=$1 digest=$2 repo=$3 out=$4 want=$5 label=$6 mark
  mark=$(proxy_log_mark)
  pull "$image" "$digest" "$out" "$label"
  wait_proxy_requests "$mark" 1 "method=GET path=/v2/ "
  assert_match "$(proxy_requests_since "$mark" 'method=GET path=/v2/ ')" 'status=200 .*cache=STALE' \
    "$label: the proxy answered the /v2/ ping itself (200, STALE)"
  wait_proxy_requests "$mark" 1 "method=GET path=/v2/$repo/manifests/1 "
  local lines bad
  lines=$(proxy_requests_since "$mark" "path=/v2/$repo/manifests/")
  bad=$(grep -vE "status=200 .*cache=$want( |\$)" <<<"$lines" || true)
  [ -z "$bad" ] || fail "$label: manifest requests not all logged 200 cache=$want: $bad"
  ok "$label: manifest: 200 cache=$want"
  assert_blob_statuses "$mark" "$out" "$repo" HIT
  assert_eq "$(proxy_requests_since "$mark" "host=auth.test:" | wc -l)" 0 \
    "$label: the client asked for no token"
}

start_proxy "${TOKEN_PROXY_ENV[@]}" "${TOKEN_AUTH_ENV[@]}" "CACHE_DIR=$CACHE_DEFAULT"
online_pulls default-window
stop_proxy TERM
start_proxy "${TOKEN_PROXY_ENV[@]}" "${TOKEN_AUTH_ENV[@]}" "CACHE_DIR=$CACHE_SHORT" "${SHORT[@]}"
online_pulls short-window
sleep 2 # the short window's tags go stale

stop_token_server
stop_token_registry

# --- 1 s window, expired: tags STALE (revalidation failed: upstream unreachable), blobs HIT
offline_pull "$PUBLIC_IMAGE" "$PUBLIC_DIGEST" public/app "$T/short-off-public" STALE "1 s window, offline, public"
offline_pull "$PRIVATE_IMAGE" "$PRIVATE_DIGEST" private/app "$T/short-off-private" STALE "1 s window, offline, private"

# The token endpoint itself is never answered from the cache: offline it is the proxy's 502.
code=$(pcurl -o /dev/null -w '%{http_code}' "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:public/app:pull")
assert_eq "$code" 502 "offline token request: 502 from the proxy (tokens are not cached)"
assert_log_line "host=auth.test:$TOKEN_PORT" "path=/token" "status=502" "cache=BYPASS"

# --- default window (60 s), in a restarted proxy: tags still fresh, HIT
stop_proxy TERM
start_proxy "${TOKEN_PROXY_ENV[@]}" "${TOKEN_AUTH_ENV[@]}" "CACHE_DIR=$CACHE_DEFAULT"
offline_pull "$PUBLIC_IMAGE" "$PUBLIC_DIGEST" public/app "$T/default-off-public" HIT "default window, offline, public"
offline_pull "$PRIVATE_IMAGE" "$PRIVATE_DIGEST" private/app "$T/default-off-private" HIT "default window, offline, private"

assert_proxy_alive
finish
