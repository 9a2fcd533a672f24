#!/usr/bin/env bash
# Docker-Hub-style token auth through the proxy, anonymously: skopeo (no
# credentials) pulls public/app:1 from token.registry.test. The registry's
# Bearer challenge reaches the client unchanged, the client fetches an anonymous
# token from auth.test through the proxy (never cached: BYPASS), sends it to the
# registry, and the blobs are MISS on the first pull and HIT on the second.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
source "$IT_DIR/token_world.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_token_world
start_proxy "${TOKEN_PROXY_ENV[@]}"
REPO=public/app

# --- the challenge passes through unchanged (the realm is the real auth.test)
pcurl -D "$T/ping.h" -o /dev/null "https://$TREG_HOST:$TREG_PORT/v2/" || fail "GET /v2/ through the proxy failed"
assert_eq "$(response_status "$T/ping.h")" 401 "GET /v2/ without a token: the registry's 401"
assert_eq "$(header_value WWW-Authenticate "$T/ping.h")" \
  "Bearer realm=\"$TOKEN_REALM\",service=\"$TOKEN_SERVICE\"" "the Bearer challenge names auth.test's realm"

# --- first pull: anonymous token through the proxy, blobs MISS
mark=$(proxy_log_mark)
tmark=$(token_log_mark)
token_pull "$PUBLIC_IMAGE" "$T/pull1" || { cat "$T/pull1.log"; fail "anonymous pull of $PUBLIC_IMAGE failed"; }
ok "skopeo (no credentials) pulled $PUBLIC_IMAGE through the proxy"
verify_dir_digests "$T/pull1" "$PUBLIC_DIGEST"

wait_proxy_requests "$mark" 1 "host=auth.test:$TOKEN_PORT method=GET path=/token "
lines=$(proxy_requests_since "$mark" "host=auth.test:$TOKEN_PORT ")
bad=$(grep -vE 'method=GET path=/token status=200 .*cache=BYPASS( |$)' <<<"$lines" || true)
[ -z "$bad" ] || fail "token requests not all logged 'GET /token 200 BYPASS': $bad"
ok "token request(s) through the proxy: GET /token 200 cache=BYPASS ($(wc -l <<<"$lines"))"
tlines=$(token_log_since "$tmark")
assert_match "$tlines" \
  "^method=GET path=/token\?.* authorization=none user=- auth=anonymous status=200 service=$TOKEN_SERVICE scope=repository:public/app:pull granted=repository:public/app:pull( |$)" \
  "token server: anonymous GET /token for public/app, granted pull"
assert_not_contains "$tlines" "authorization=basic" "no credentials were sent to the token server"

assert_log_line "host=$TREG_HOST:$TREG_PORT" "method=GET" "path=/v2/ " "status=401" "cache=BYPASS"
wait_proxy_requests "$mark" 1 "method=GET path=/v2/$REPO/manifests/1 "
assert_match "$(proxy_requests_since "$mark" "method=GET path=/v2/$REPO/manifests/1 ")" \
  'status=200 .*cache=MISS$' "tag manifest: 200 cache=MISS"
assert_blob_statuses "$mark" "$T/pull1" "$REPO" MISS
assert_ne "$(registry_requests tokreg GET "/v2/$REPO/manifests/1")" 0 "the registry served the manifest"

# --- second pull: blobs and tag manifest from the cache; the token is fetched again (never cached)
mark=$(proxy_log_mark)
tmark=$(token_log_mark)
blob_gets=$(registry_requests tokreg GET "/v2/$REPO/blobs/$(image_blobs "$T/pull1" | head -1)")
token_pull "$PUBLIC_IMAGE" "$T/pull2" || { cat "$T/pull2.log"; fail "second anonymous pull failed"; }
ok "second anonymous pull"
verify_dir_digests "$T/pull2" "$PUBLIC_DIGEST"
assert_blob_statuses "$mark" "$T/pull2" "$REPO" HIT
wait_proxy_requests "$mark" 1 "method=GET path=/v2/$REPO/manifests/1 "
assert_match "$(proxy_requests_since "$mark" "method=GET path=/v2/$REPO/manifests/1 ")" \
  'status=200 .*cache=HIT$' "tag manifest: 200 cache=HIT"
assert_eq "$(registry_requests tokreg GET "/v2/$REPO/blobs/$(image_blobs "$T/pull1" | head -1)")" "$blob_gets" \
  "the registry was not asked for a blob again"
assert_match "$(token_log_since "$tmark")" "auth=anonymous status=200 .*granted=repository:public/app:pull" \
  "second pull: the token server issued a new anonymous token"
assert_match "$(proxy_requests_since "$mark" "host=auth.test:$TOKEN_PORT ")" \
  'method=GET path=/token status=200 .*cache=BYPASS$' "second pull: the token request went upstream (BYPASS)"

assert_proxy_alive
finish
