#!/usr/bin/env bash
# Docker's OAuth2 token flow through the proxy: a client holding credentials (or
# a refresh token) asks the realm with POST /token, form-encoded
# (grant_type=password|refresh_token, service, scope, client_id, access_type),
# as dockerd and containerd do. That POST is a token request, not a push: it
# must reach auth.test and its answer come back (never cached: BYPASS), with
# ALLOW_PUSH at its default (false), and the token it yields must work at the
# registry through the proxy.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
source "$IT_DIR/token_world.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_token_world
REPO=private/app
FORM=(--data-urlencode grant_type=password --data-urlencode "username=$TOKEN_USER"
  --data-urlencode "password=$TOKEN_PASS" --data-urlencode "service=$TOKEN_SERVICE"
  --data-urlencode "scope=repository:$REPO:pull" --data-urlencode client_id=pullthrough-tests
  --data-urlencode access_type=offline)
json_field() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$1" "$2"; }

# --- the token server's POST works without the proxy (so a failure below is the proxy's)
code=$(token_curl -o "$T/direct.json" -w '%{http_code}' "${FORM[@]}" "$TOKEN_REALM")
assert_eq "$code" 200 "direct POST /token (password grant): 200"
[ -n "$(json_field "$T/direct.json" refresh_token)" ] || fail "direct POST /token: no refresh_token"
: >"$TOKEN_LOG"

start_proxy "${TOKEN_PROXY_ENV[@]}"

# --- password grant through the proxy
code=$(pcurl -o "$T/post.json" -D "$T/post.h" -w '%{http_code}' "${FORM[@]}" "$TOKEN_REALM")
[ "$code" = 200 ] || fail "POST /token through the proxy: expected 200, got $code: $(head -c 300 "$T/post.json")"
ok "POST /token (password grant) through the proxy: 200"
assert_log_line "host=auth.test:$TOKEN_PORT" method=POST "path=/token " status=200 cache=BYPASS
assert_match "$(token_log_since 0)" \
  "^method=POST path=/token form=.* authorization=form user=$TOKEN_USER auth=ok status=200 service=$TOKEN_SERVICE scope=repository:$REPO:pull granted=repository:$REPO:pull grant_type=password" \
  "token server: the POST arrived with its form, password grant for $TOKEN_USER"
ACCESS=$(json_field "$T/post.json" access_token)
REFRESH=$(json_field "$T/post.json" refresh_token)
if [ -z "$ACCESS" ] || [ -z "$REFRESH" ]; then
  fail "POST /token answer lacks access_token/refresh_token: $(cat "$T/post.json")"
fi
ok "the answer has an access_token and a refresh_token"

code=$(pcurl -o "$T/m.json" -w '%{http_code}' -H "Authorization: Bearer $ACCESS" \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "https://$TREG_HOST:$TREG_PORT/v2/$REPO/manifests/$PRIVATE_DIGEST")
assert_eq "$code" 200 "the POSTed token pulls the private manifest through the proxy"
assert_eq "$(sha256_of "$T/m.json")" "$PRIVATE_DIGEST" "the manifest is private/app:1's"

# --- refresh-token grant through the proxy
tmark=$(token_log_mark)
code=$(pcurl -o "$T/refresh.json" -w '%{http_code}' --data-urlencode grant_type=refresh_token \
  --data-urlencode "refresh_token=$REFRESH" --data-urlencode "service=$TOKEN_SERVICE" \
  --data-urlencode "scope=repository:$REPO:pull" --data-urlencode client_id=pullthrough-tests "$TOKEN_REALM")
assert_eq "$code" 200 "POST /token (refresh_token grant) through the proxy: 200"
assert_match "$(token_log_since "$tmark")" "authorization=refresh user=$TOKEN_USER auth=ok .*granted=repository:$REPO:pull" \
  "token server: refresh grant for $TOKEN_USER"

assert_proxy_alive
finish
