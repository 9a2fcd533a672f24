#!/usr/bin/env bash
# AUTH_REGISTRIES with a token registry: the credentials are configured for the
# realm's host (auth.test), and the password contains ':' (everything after the
# entry's second ':' is the password). skopeo with NO credentials pulls
# private/app:1: the proxy adds Basic tokuser:<password> to the client's token
# request, the token grants pull, the client's Bearer reaches the registry.
# Without AUTH_REGISTRIES the same pull is denied, and the denial (not a proxy
# error) reaches the client. The password never shows in the proxy log, even
# at LOG_LEVEL=trace.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
source "$IT_DIR/token_world.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_token_world
REPO=private/app

# --- 1. no AUTH_REGISTRIES: the anonymous token grants nothing, the registry denies
start_proxy "${TOKEN_PROXY_ENV[@]}" "CACHE_DIR=$T/proxy/cache-nocreds"
mark=$(proxy_log_mark)
tmark=$(token_log_mark)
if token_pull "$PRIVATE_IMAGE" "$T/denied"; then
  cat "$T/denied.log"
  fail "anonymous pull of $PRIVATE_IMAGE succeeded without AUTH_REGISTRIES"
fi
ok "without AUTH_REGISTRIES the anonymous pull of $PRIVATE_IMAGE fails"
assert_match "$(cat "$T/denied.log")" 'requested access to the resource is denied|unauthorized|authentication required' \
  "skopeo reports the registry's denial"
assert_not_contains "$(cat "$T/denied.log")" "pullthrough:" "the error is not one of the proxy's own"
tlines=$(token_log_since "$tmark")
assert_match "$tlines" \
  "authorization=none user=- auth=anonymous status=200 service=$TOKEN_SERVICE scope=repository:$REPO:pull granted=repository:$REPO:-( |\$)" \
  "token server: the token request came without credentials and was granted nothing"
assert_log_line "host=auth.test:$TOKEN_PORT" "method=GET" "path=/token " "status=200" "cache=BYPASS"
wait_proxy_requests "$mark" 1 "path=/v2/$REPO/manifests/1 "
assert_match "$(proxy_requests_since "$mark" "path=/v2/$REPO/manifests/1 ")" 'status=401 ' \
  "the registry's 401 for the manifest reached the client"
assert_not_contains "$(proxy_requests_since "$mark" "path=/v2/$REPO/manifests/1 ")" 'status=200' \
  "no manifest was served"
stop_proxy TERM

# --- 2. AUTH_REGISTRIES for auth.test: the proxy injects the credentials into the token request
start_proxy "${TOKEN_PROXY_ENV[@]}" "${TOKEN_AUTH_ENV[@]}" LOG_LEVEL=trace
assert_log_line "credentials for $TOKEN_USER@auth.test"
mark=$(proxy_log_mark)
tmark=$(token_log_mark)
token_pull "$PRIVATE_IMAGE" "$T/pull" || { cat "$T/pull.log"; fail "pull of $PRIVATE_IMAGE with injected credentials failed"; }
ok "skopeo (no credentials) pulled $PRIVATE_IMAGE: the proxy injected the token credentials"
verify_dir_digests "$T/pull" "$PRIVATE_DIGEST"
tlines=$(token_log_since "$tmark")
assert_match "$tlines" \
  "^method=GET path=/token\\?.* authorization=basic user=$TOKEN_USER auth=ok status=200 service=$TOKEN_SERVICE scope=repository:$REPO:pull granted=repository:$REPO:pull( |\$)" \
  "token server: Basic $TOKEN_USER with the whole password (colons included) was injected, pull granted"
assert_not_contains "$tlines" "authorization=none" "every token request carried the injected credentials"
wait_proxy_requests "$mark" 1 "host=auth.test:$TOKEN_PORT method=GET path=/token "
assert_match "$(proxy_requests_since "$mark" "host=auth.test:$TOKEN_PORT ")" 'status=200 .*cache=BYPASS$' \
  "token request: 200 cache=BYPASS"
wait_proxy_requests "$mark" 1 "method=GET path=/v2/$REPO/manifests/1 "
assert_match "$(proxy_requests_since "$mark" "method=GET path=/v2/$REPO/manifests/1 ")" 'status=200 .*cache=MISS$' \
  "tag manifest: 200 cache=MISS"
assert_blob_statuses "$mark" "$T/pull" "$REPO" MISS

# The public image pulls too (the injected account may pull it as well).
tmark=$(token_log_mark)
token_pull "$PUBLIC_IMAGE" "$T/pull-public" || { cat "$T/pull-public.log"; fail "pull of $PUBLIC_IMAGE failed"; }
verify_dir_digests "$T/pull-public" "$PUBLIC_DIGEST"
assert_match "$(token_log_since "$tmark")" "authorization=basic user=$TOKEN_USER auth=ok .*granted=repository:public/app:pull" \
  "public/app: the token request carried the injected credentials too"

# A client's own Authorization wins over the configured one (curl to the realm with other credentials).
tmark=$(token_log_mark)
code=$(pcurl -o "$T/own.json" -w '%{http_code}' -u "someone:else" \
  "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:$REPO:pull")
assert_eq "$code" 200 "token request with the client's own credentials: 200"
assert_match "$(token_log_since "$tmark")" "authorization=basic user=someone auth=bad .*granted=repository:$REPO:-( |\$)" \
  "the client's own Basic credentials reached the token server unchanged (not replaced)"

# --- the password never appears in the proxy's output (any run, any level), nor its Basic
# encoding. (The "=== start #" lines are lib.sh's, listing the environment it was given.)
grep -v '^=== start #' "$PROXY_LOG" >"$T/proxy-output.log"
B64=$(printf '%s' "$TOKEN_USER:$TOKEN_PASS" | base64 -w0)
assert_log_not_contains 'tokpass' "$T/proxy-output.log"
assert_log_not_contains "${B64%%=*}" "$T/proxy-output.log"

assert_proxy_alive
finish
