#!/usr/bin/env bash
# Pre-warming a token registry (token_world.sh: Docker-Hub-like Bearer tokens from auth.test):
# the warm answers the registry's Bearer challenges itself (the proxy fetches the token, with
# the AUTH_REGISTRIES credentials of the realm's host), so private/app:1 warms with the proxy's
# credentials and public/app:1 anonymously. A client then pulls both with every blob a cache HIT.
# Without credentials for the realm, the private image fails with the registry's denial.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
source "$IT_DIR/token_world.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_token_world

# --- without credentials for auth.test: the public image warms, the private one is denied
start_proxy "${TOKEN_PROXY_ENV[@]}" "CACHE_DIR=$T/proxy/cache-nocreds"
"$PULLTHROUGH_BIN" warm --proxy "$PROXY_URL" "$PUBLIC_IMAGE" "$PRIVATE_IMAGE" >"$T/anon.out" 2>"$T/anon.err" &&
  fail "warming $PRIVATE_IMAGE without credentials succeeded"
assert_contains "$(cat "$T/anon.out")" "$PUBLIC_IMAGE: done" "the public image warms anonymously"
assert_match "$(cat "$T/anon.out")" "$PRIVATE_IMAGE: FAILED: manifest 1: HTTP 401" "the private image: the registry's 401"
stop_proxy TERM

# --- with AUTH_REGISTRIES for the realm: both warm; a client's pull is all HITs
start_proxy "${TOKEN_PROXY_ENV[@]}" "${TOKEN_AUTH_ENV[@]}"
tmark=$(token_log_mark)
"$PULLTHROUGH_BIN" warm --proxy "$PROXY_URL" "$PUBLIC_IMAGE" "$PRIVATE_IMAGE" >"$T/warm.out" 2>"$T/warm.err" ||
  { cat "$T/warm.out" "$T/warm.err"; fail "warming with AUTH_REGISTRIES failed"; }
ok "both images warmed"
assert_contains "$(cat "$T/warm.out")" "warmed 2 of 2 image(s)" "the summary"
assert_match "$(token_log_since "$tmark" "scope=repository:private/app:pull")" "user=$TOKEN_USER .*granted=repository:private/app:pull" \
  "the proxy fetched the private token with the realm's credentials"
assert_not_contains "$(grep -v "^=== start" "$PROXY_LOG")" "$TOKEN_PASS" "the password never shows in the proxy's log"

mark=$(proxy_log_mark)
token_pull "$PRIVATE_IMAGE" "$T/private" || { cat "$T/private.log"; fail "pull of $PRIVATE_IMAGE failed"; }
verify_dir_digests "$T/private" "$PRIVATE_DIGEST"
assert_blob_statuses "$mark" "$T/private" private/app HIT
finish
