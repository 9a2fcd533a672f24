#!/usr/bin/env bash
# AUTH_REGISTRIES (rpardini's "host:user:password"): a client with no credentials of its own
# pulls a private image from an htpasswd registry because the proxy adds "Authorization: Basic"
# to every request for that host that carries none. Both entry forms are covered: the plain
# "host:user:password" (any port) and, with AUTH_REGISTRY_DELIMITER=":::", "host:PORT:::user:::password"
# (that port only). Without AUTH_REGISTRIES the registry's 401 + Basic challenge reaches the
# client unchanged; a client's own (wrong) Authorization passes through untouched and loses;
# the password never appears in the proxy's log (text or JSON, debug level included).
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd base64
require_proxy_bin

make_test_pki "$T/pki"
RUSER=alice
RPASS='Pt-Zq7w-secret-4711' # distinctive, so grep -F finds it only if it really leaked
RCREDS="$RUSER:$RPASS"
RBASIC=$(printf '%s' "$RCREDS" | base64 -w0)
start_registry reg "$REGISTRY_IP" auto --htpasswd "$RCREDS"
RPORT=${REG_PORT[reg]}
seed_image "${REG_ADDR[reg]}" private/app:1.0 2 200000
IMAGE="registry.test:$RPORT/private/app:1.0"
DIGEST=$SEED_DIGEST
BASE="https://registry.test:$RPORT"
# Interception through AUTH_REGISTRIES alone: no REGISTRIES here (registry.test is not a default).
UPSTREAM_ENV=("UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT")

# The proxy's own output only: lib.sh's "=== start #N: VAR=value..." marker lines echo the
# environment we gave the proxy (AUTH_REGISTRIES included) and are not the proxy's log.
proxy_output() { grep -v '^=== start #' "$PROXY_LOG" || true; }

assert_no_secret_in_log() { # LABEL
  local leaked
  leaked=$(proxy_output | grep -F -e "$RPASS" -e "$RBASIC" | head -3 || true)
  [ -z "$leaked" ] || fail "$1: the password (or its Basic encoding) is in the proxy log: $leaked"
  ok "$1: neither the password nor its Basic encoding is in the proxy log"
}

# The registry's 401 for an unauthenticated /v2/, seen directly (for comparison below).
code=$(curl -sS --max-time 10 --cacert "$TEST_CA_CRT" -o "$T/direct401.body" -D "$T/direct401.h" \
  -w '%{http_code}' "https://${REG_ADDR[reg]}/v2/")
assert_eq "$code" 401 "direct: the registry wants credentials"
DIRECT_CHALLENGE=$(header_value WWW-Authenticate "$T/direct401.h")
assert_match "$DIRECT_CHALLENGE" '^Basic realm=' "direct: the registry's challenge is Basic"

# ------------------------------------------------ 1. without AUTH_REGISTRIES: 401 reaches the client
start_proxy REGISTRIES=registry.test "${UPSTREAM_ENV[@]}"
if proxy_pull "$IMAGE" "$T/out-noauth" >"$T/pull-noauth.log" 2>&1; then
  cat "$T/pull-noauth.log"
  fail "a pull without any credentials succeeded (the registry requires htpasswd auth)"
fi
ok "without AUTH_REGISTRIES an anonymous pull fails"
assert_match "$(cat "$T/pull-noauth.log")" '401|[Uu]nauthori[sz]ed|authentication required' \
  "skopeo reports the authentication failure"
assert_log_line "host=registry.test:$RPORT" method=GET 're:path=/v2/(\s|$)' status=401
assert_log_line "host=registry.test:$RPORT" method=GET path=/v2/private/app/manifests/1.0 status=401

code=$(pcurl -o "$T/proxy401.body" -D "$T/proxy401.h" -w '%{http_code}' "$BASE/v2/")
assert_eq "$code" 401 "curl without credentials through the proxy: 401"
assert_eq "$(header_value WWW-Authenticate "$T/proxy401.h")" "$DIRECT_CHALLENGE" \
  "the registry's WWW-Authenticate reaches the client unchanged"
assert_eq "$(header_value Docker-Distribution-Api-Version "$T/proxy401.h")" \
  "$(header_value Docker-Distribution-Api-Version "$T/direct401.h")" "Docker-Distribution-Api-Version unchanged"
assert_eq "$(sha256_of "$T/proxy401.body")" "$(sha256_of "$T/direct401.body")" "the 401 body is the registry's, byte for byte"
stop_proxy TERM

# ------------------------------------------------ 2. plain "host:user:password" (matches any port)
start_proxy "AUTH_REGISTRIES=registry.test:$RCREDS" "${UPSTREAM_ENV[@]}"
assert_log_contains "credentials for $RUSER@registry\\.test( |$)"
assert_log_contains "intercepting .*registry\\.test"

proxy_pull "$IMAGE" "$T/out-plain" >"$T/pull-plain.log" 2>&1 ||
  { cat "$T/pull-plain.log"; fail "anonymous pull through the proxy with AUTH_REGISTRIES=registry.test:user:pass failed"; }
ok "skopeo without credentials pulled $IMAGE (plain host:user:password entry)"
verify_dir_digests "$T/out-plain" "$DIGEST"
assert_log_line "host=registry.test:$RPORT" method=GET 're:path=/v2/(\s|$)' status=200
assert_log_line "host=registry.test:$RPORT" method=GET path=/v2/private/app/manifests/1.0 status=200
assert_log_not_contains "host=registry\\.test:$RPORT .*status=401"

code=$(pcurl -o /dev/null -w '%{http_code}' "$BASE/v2/_catalog")
assert_eq "$code" 200 "curl without credentials: the injected credential opens /v2/_catalog"

# The client's own Authorization wins: wrong credentials are passed through and rejected.
code=$(pcurl -o "$T/wrong.body" -D "$T/wrong.h" -w '%{http_code}' -u "$RUSER:wrong" "$BASE/v2/")
assert_eq "$code" 401 "curl with its own wrong credentials: the registry's 401 (not overridden by the proxy)"
assert_eq "$(header_value WWW-Authenticate "$T/wrong.h")" "$DIRECT_CHALLENGE" "... with the registry's challenge"
# (A tag the cache does not hold: with CACHE_AUTH_MODE=shared, the default, what is cached is
# served to every client of the proxy whatever its credentials, whichever Accept it sends;
# test_cache_auth_verify.sh covers the mode that checks them.)
code=$(pcurl -o /dev/null -w '%{http_code}' -u "$RUSER:wrong" "$BASE/v2/private/app/manifests/not-cached")
assert_eq "$code" 401 "curl with its own wrong credentials: manifest 401"
assert_log_line "host=registry.test:$RPORT" method=GET path=/v2/private/app/manifests/not-cached status=401
code=$(pcurl -o /dev/null -w '%{http_code}' -H "Authorization: Bearer not-a-token" "$BASE/v2/")
assert_eq "$code" 401 "curl with its own Bearer header: passed through untouched (401), not replaced"
# skopeo with wrong credentials of its own (--src-creds). containers/image pings /v2/ WITHOUT
# credentials and sends them later only if that ping was challenged; with AUTH_REGISTRIES the
# ping gets 200 (injected credential), so skopeo (1.9) sends no Authorization at all and the
# pull succeeds on the proxy's credential. skopeo therefore cannot show that the client's header
# wins (curl above does, unambiguously); this only records what skopeo does, strictly either way.
mark=$(proxy_log_mark)
if proxy_pull "$IMAGE" "$T/out-wrong" --src-creds "$RUSER:wrong" >"$T/pull-wrong.log" 2>&1; then
  verify_dir_digests "$T/out-wrong" "$DIGEST"
  log "skopeo --src-creds $RUSER:wrong succeeded: it never sent its credentials (the /v2/ ping returned 200)"
else
  assert_match "$(cat "$T/pull-wrong.log")" '401|[Uu]nauthori[sz]ed|authentication required' \
    "skopeo with wrong credentials of its own fails with the registry's 401"
  wait_proxy_requests "$mark" 1 'status=401'
  ok "proxy log shows the 401 for skopeo's own wrong credentials"
fi
assert_no_secret_in_log "plain entry, text log"
assert_proxy_alive
stop_proxy TERM

# ------------------------------------------------ 3. "host:PORT:::user:::password", JSON log, debug
rm -rf "$T/proxy/cache" # pull from upstream again, not from the cache
start_proxy AUTH_REGISTRY_DELIMITER=":::" "AUTH_REGISTRIES=registry.test:$RPORT:::$RUSER:::$RPASS" \
  LOG_FORMAT=json LOG_LEVEL=debug "${UPSTREAM_ENV[@]}"
assert_log_contains "credentials for $RUSER@registry\\.test:$RPORT"

proxy_pull "$IMAGE" "$T/out-port" >"$T/pull-port.log" 2>&1 ||
  { cat "$T/pull-port.log"; fail "anonymous pull with AUTH_REGISTRIES=registry.test:$RPORT:::user:::pass failed"; }
ok "skopeo without credentials pulled $IMAGE (host:port entry, ':::' delimiter)"
verify_dir_digests "$T/out-port" "$DIGEST"
assert_log_line "\"host\":\"registry.test:$RPORT\"" '"method":"GET"' '"path":"/v2/private/app/manifests/1.0"' '"status":200'
assert_log_line "\"host\":\"registry.test:$RPORT\"" '"path":"/v2/"' '"status":200'
proxy_log_current | grep -v '^=== start #' | grep -vE '^\s*$' | $PY -c '
import json, sys
n = 0
for line in sys.stdin:
    json.loads(line)
    n += 1
sys.exit(0 if n else "no log lines")
' || fail "LOG_FORMAT=json: a proxy log line is not JSON: $(proxy_log_current | head -3)"
ok "LOG_FORMAT=json: every proxy log line is a JSON object"
code=$(pcurl -o /dev/null -w '%{http_code}' -u "$RUSER:wrong" "$BASE/v2/")
assert_eq "$code" 401 "host:port entry: the client's own wrong credentials still win (401)"
assert_no_secret_in_log "host:port entry, JSON log at debug level"
assert_proxy_alive
stop_proxy TERM

# ------------------------------------------------ 4. a host:port entry applies to that port only
start_proxy REGISTRIES=registry.test AUTH_REGISTRY_DELIMITER=":::" \
  "AUTH_REGISTRIES=registry.test:$((RPORT + 1)):::$RUSER:::$RPASS" "${UPSTREAM_ENV[@]}"
code=$(pcurl -o /dev/null -w '%{http_code}' "$BASE/v2/")
assert_eq "$code" 401 "a credential for registry.test:$((RPORT + 1)) is not sent to registry.test:$RPORT"
assert_log_line "host=registry.test:$RPORT" 're:path=/v2/(\s|$)' status=401
assert_no_secret_in_log "other-port entry"
stop_proxy TERM

# ------------------------------------------------ 5. "host:PORT:user:password" with the default delimiter
# What users write for a private registry on its own port: the number after the host is the port
# (it used to be read as the user, and every pull got 401 with no warning).
rm -rf "$T/proxy/cache"
start_proxy "AUTH_REGISTRIES=registry.test:$RPORT:$RUSER:$RPASS" "${UPSTREAM_ENV[@]}"
assert_log_contains "credentials for $RUSER@registry\\.test:$RPORT"
proxy_pull "$IMAGE" "$T/out-port-colon" >"$T/pull-port-colon.log" 2>&1 ||
  { cat "$T/pull-port-colon.log"; fail "anonymous pull with AUTH_REGISTRIES=registry.test:$RPORT:user:pass failed"; }
ok "skopeo without credentials pulled $IMAGE (host:port:user:password entry)"
verify_dir_digests "$T/out-port-colon" "$DIGEST"
assert_log_not_contains "host=registry\\.test:$RPORT .*status=401"
assert_no_secret_in_log "host:port:user:password entry"
stop_proxy TERM

# A number after the host that is no port could be a user as well: refused at start-up, unmasked
# parts only.
AUTH_REGISTRIES="registry.test:99999:$RUSER:$RPASS" timeout 10 "$PULLTHROUGH_BIN" --listen 127.0.0.1:0 \
  --ca-dir "$T/ca-refused" --cache-dir "$T/cache-refused" >"$T/refused.log" 2>&1 && st=0 || st=$?
[ "$st" -ne 0 ] || fail "an ambiguous AUTH_REGISTRIES entry was accepted"
assert_match "$(cat "$T/refused.log")" "AUTH_REGISTRIES entry #1 .*no port" "the ambiguous entry is refused at start-up, naming it"
if grep -qF -- "$RPASS" "$T/refused.log"; then fail "the refusal shows the password"; fi
ok "the refusal does not show the password"

# The whole log, every run: no password, no Basic encoding of it.
assert_no_secret_in_log "all runs"
finish
