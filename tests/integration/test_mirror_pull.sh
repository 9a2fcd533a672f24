#!/usr/bin/env bash
# Registry-mirror mode (MIRROR_LISTEN, plain HTTP): skopeo pulls from the mirror as
# from a registry, and the proxy fetches from the registry the request names:
#   - MIRROR_UPSTREAM when the path names none (docker://mirror/library/app:1.0),
#   - containerd's ?ns=host:port (curl, as containerd sends it),
#   - a host-like first path component (docker://mirror/registry.test/library/app:1.0),
# through the same cache (HITs across the mirror and the CONNECT path), credentials
# (AUTH_REGISTRIES injected, Bearer tokens fetched by the proxy for a token registry
# and reused until they expire) and policy (unlisted registries: 403, no open relay).
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
source "$IT_DIR/token_world.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

MIRROR_IP=127.0.0.41
start_standard_registry
start_token_world
MPORT=$(free_port "$MIRROR_IP")
M="$MIRROR_IP:$MPORT"
# registry.test without a port (the path form cannot carry one) reaches the same registry.
start_proxy "REGISTRIES=registry.test $TREG_HOST auth.test" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" \
  "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP:$RPORT $TREG_HOST=$TREG_IP:$TREG_PORT auth.test=$TOKEN_IP" \
  "AUTH_REGISTRIES=registry.test:$RCREDS auth.test:$TOKEN_USER:$TOKEN_PASS" \
  "MIRROR_LISTEN=$M" "MIRROR_UPSTREAM=registry.test:$RPORT"
assert_log_contains "listening on $M \(MIRROR_LISTEN\)"

# mirror_pull IMAGE OUT — skopeo from the mirror (plain HTTP: --src-tls-verify=false)
mirror_pull() {
  rm -rf "$2"
  "${SKOPEO[@]}" copy --src-tls-verify=false "docker://$1" "dir:$2" >"$2.log" 2>&1
}
mcurl() { curl -sS --max-time 30 "$@"; }

# --- /v2/ is the mirror's own answer: a registry that needs no login
code=$(mcurl -o "$T/ping.body" -D "$T/ping.h" -w '%{http_code}' "http://$M/v2/")
assert_eq "$code" 200 "GET /v2/ on the mirror: 200"
assert_eq "$(header_value Docker-Distribution-API-Version "$T/ping.h")" "registry/2.0" "GET /v2/: Docker-Distribution-API-Version"
assert_eq "$(header_value WWW-Authenticate "$T/ping.h")" "" "GET /v2/: no challenge"

# --- MIRROR_UPSTREAM: skopeo pulls library/app:1.0; Basic credentials injected; MISS then HIT
mark=$(proxy_log_mark)
mirror_pull "$M/library/app:1.0" "$T/pull1" || { cat "$T/pull1.log"; fail "skopeo pull from the mirror failed"; }
ok "skopeo pulled $M/library/app:1.0 (MIRROR_UPSTREAM registry.test:$RPORT)"
verify_dir_digests "$T/pull1" "$DIGEST"
assert_blob_statuses "$mark" "$T/pull1" library/app MISS
assert_log_line "host=registry.test:$RPORT" "path=/v2/library/app/manifests/1.0 " "status=200"

mark=$(proxy_log_mark)
mirror_pull "$M/library/app:1.0" "$T/pull2" || { cat "$T/pull2.log"; fail "second pull from the mirror failed"; }
verify_dir_digests "$T/pull2" "$DIGEST"
assert_blob_statuses "$mark" "$T/pull2" library/app HIT

# --- the same cache as the CONNECT path: a pull through HTTPS_PROXY hits what the mirror stored
mark=$(proxy_log_mark)
proxy_pull "$IMAGE" "$T/pull-connect" >"$T/pull-connect.log" 2>&1 ||
  { cat "$T/pull-connect.log"; fail "pull of $IMAGE through the forward proxy failed"; }
verify_dir_digests "$T/pull-connect" "$DIGEST"
assert_blob_statuses "$mark" "$T/pull-connect" library/app HIT

# --- containerd's ?ns=: the registry named by the parameter (here with a port), cache shared
LAYER=$(image_blobs "$T/pull1" | tail -1)
code=$(mcurl -o "$T/ns.blob" -D "$T/ns.h" -w '%{http_code}' \
  "http://$M/v2/library/app/blobs/$LAYER?ns=registry.test%3A$RPORT")
assert_eq "$code" 200 "GET blob ?ns=registry.test:$RPORT: 200"
assert_eq "$(sha256_of "$T/ns.blob")" "$LAYER" "?ns= blob has the right digest"
assert_eq "$(header_value X-Cache "$T/ns.h")" HIT "?ns= blob: served from the cache"
code=$(mcurl -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://$M/v2/library/app/manifests/1.0?ns=registry.test:$RPORT")
assert_eq "$code" 200 "GET manifest ?ns=registry.test:$RPORT (unencoded): 200"

# --- the registry in the path: docker://mirror/registry.test/library/app:1.0
mirror_pull "$M/registry.test/library/app:1.0" "$T/pull-path" ||
  { cat "$T/pull-path.log"; fail "skopeo pull of $M/registry.test/library/app:1.0 failed"; }
ok "skopeo pulled $M/registry.test/library/app:1.0 (registry named in the path)"
verify_dir_digests "$T/pull-path" "$DIGEST"
assert_log_line "host=registry.test " "path=/v2/library/app/manifests/1.0 " "status=200"

# --- a token registry: the proxy fetches the Bearer token itself and keeps it
tmark=$(token_log_mark)
mark=$(proxy_log_mark)
mirror_pull "$M/$TREG_HOST/public/app:1" "$T/pub1" || { cat "$T/pub1.log"; fail "mirror pull of public/app:1 failed"; }
ok "skopeo pulled $TREG_HOST/public/app:1 from the mirror (token fetched by the proxy)"
verify_dir_digests "$T/pub1" "$PUBLIC_DIGEST"
assert_blob_statuses "$mark" "$T/pub1" public/app MISS
tlines=$(token_log_since "$tmark")
assert_match "$tlines" "scope=repository:public/app:pull granted=repository:public/app:pull" \
  "the proxy got a token for public/app"
assert_eq "$(grep -c 'scope=repository:public/app:pull' <<<"$tlines")" 1 "one token request for the whole pull (kept per scope)"

tmark=$(token_log_mark)
mirror_pull "$M/$TREG_HOST/public/app:1" "$T/pub2" || { cat "$T/pub2.log"; fail "second mirror pull of public/app:1 failed"; }
verify_dir_digests "$T/pub2" "$PUBLIC_DIGEST"
assert_eq "$(token_log_since "$tmark" | wc -l)" 0 "second pull: the kept token was reused (no token request)"

tmark=$(token_log_mark)
mirror_pull "$M/$TREG_HOST/private/app:1" "$T/priv" || { cat "$T/priv.log"; fail "mirror pull of private/app:1 failed"; }
ok "skopeo pulled the private image from the mirror with no credentials of its own"
verify_dir_digests "$T/priv" "$PRIVATE_DIGEST"
assert_match "$(token_log_since "$tmark")" "authorization=basic user=$TOKEN_USER auth=ok .*granted=repository:private/app:pull" \
  "the proxy sent the AUTH_REGISTRIES credentials of auth.test to the token endpoint"

# --- policy: only registries the proxy intercepts, registry-style errors
code=$(mcurl -o "$T/denied.body" -w '%{http_code}' "http://$M/v2/other.test/x/manifests/1")
assert_eq "$code" 403 "an unlisted registry in the path: 403"
assert_contains "$(cat "$T/denied.body")" '"code":"DENIED"' "403 body is a registry error (DENIED)"
code=$(mcurl -o /dev/null -w '%{http_code}' "http://$M/v2/x/manifests/1?ns=other.test")
assert_eq "$code" 403 "an unlisted registry in ?ns=: 403"
code=$(mcurl -o "$T/bad.body" -w '%{http_code}' "http://$M/v2/Bad/Name/manifests/1")
assert_eq "$code" 400 "an invalid repository name: 400"
assert_contains "$(cat "$T/bad.body")" '"code":"NAME_INVALID"' "400 body: NAME_INVALID"
code=$(mcurl -o /dev/null -w '%{http_code}' "http://$M/ca.crt")
assert_eq "$code" 404 "non-registry paths: 404"
assert_log_line "host=other.test" "status=403" "cache=LOCAL"
assert_proxy_alive

# --- ALLOWED_CLIENTS applies to the mirror too (a client from 127.0.0.43 is not allowed)
stop_proxy TERM
start_proxy "REGISTRIES=registry.test" "MIRROR_LISTEN=$M" "ALLOWED_CLIENTS=127.0.0.1/32"
code=$(mcurl -o /dev/null -w '%{http_code}' "http://$M/v2/")
assert_eq "$code" 200 "an allowed client (127.0.0.1) reaches the mirror"
code=$(mcurl --interface 127.0.0.43 -o /dev/null -w '%{http_code}' "http://$M/v2/" || true)
assert_eq "$code" 403 "a client outside ALLOWED_CLIENTS gets 403 from the mirror"
assert_log_line "client=127.0.0.43:" "status=403"

assert_proxy_alive
finish
