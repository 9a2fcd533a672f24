#!/usr/bin/env bash
# Registry-mirror mode over TLS (MIRROR_TLS_CERT/KEY): skopeo trusting the mirror's
# certificate pulls from https://mirror.test:<port>, through the same cache as the
# forward proxy; a client that does not trust the certificate gets nothing, and
# the proxy logs why.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

MIRROR_IP=127.0.0.42
start_standard_registry
make_server_cert "$T/pki" mirror mirror.test "$MIRROR_IP"
MPORT=$(free_port "$MIRROR_IP")
M="mirror.test:$MPORT"
start_proxy "${STD_PROXY_ENV[@]}" "AUTH_REGISTRIES=registry.test:$RCREDS" \
  "MIRROR_LISTEN=$MIRROR_IP:$MPORT" "MIRROR_UPSTREAM=registry.test:$RPORT" \
  "MIRROR_TLS_CERT=$T/pki/mirror.crt" "MIRROR_TLS_KEY=$T/pki/mirror.key"
assert_log_contains "registry mirror \(https\)"

code=$(curl -sS --max-time 10 --cacert "$TEST_CA_CRT" --resolve "$M:$MIRROR_IP" -o /dev/null -w '%{http_code}' \
  "https://$M/v2/")
assert_eq "$code" 200 "GET https://$M/v2/: 200"

# skopeo (Go) resolves mirror.test only through /etc/hosts: use the IP, which the certificate names too.
rm -rf "$T/pull"
"${SKOPEO[@]}" copy --src-cert-dir "$TEST_CA_DIR" "docker://$MIRROR_IP:$MPORT/library/app:1.0" "dir:$T/pull" \
  >"$T/pull.log" 2>&1 || { cat "$T/pull.log"; fail "skopeo pull from the TLS mirror failed"; }
ok "skopeo pulled from https://$MIRROR_IP:$MPORT (verified TLS)"
verify_dir_digests "$T/pull" "$DIGEST"
assert_log_line "host=registry.test:$RPORT" "path=/v2/library/app/manifests/1.0 " "status=200" "cache=MISS"

# The blobs are now cached for the forward proxy too.
mark=$(proxy_log_mark)
proxy_pull "$IMAGE" "$T/pull-connect" >"$T/pull-connect.log" 2>&1 ||
  { cat "$T/pull-connect.log"; fail "pull through the forward proxy failed"; }
verify_dir_digests "$T/pull-connect" "$DIGEST"
LAYER=$(image_blobs "$T/pull" | tail -1)
wait_proxy_requests "$mark" 1 "path=/v2/library/app/blobs/$LAYER "
assert_match "$(proxy_requests_since "$mark" "path=/v2/library/app/blobs/$LAYER ")" 'cache=HIT' \
  "the forward proxy serves the blob the TLS mirror cached"

# A client that does not trust the mirror's certificate.
if curl -sS --max-time 10 --resolve "$M:$MIRROR_IP" -o /dev/null "https://$M/v2/" 2>"$T/untrusted.err"; then
  fail "curl without the CA trusted the mirror"
fi
ok "a client without the mirror's CA refuses it ($(head -c 100 "$T/untrusted.err"))"
assert_log_line "mirror TLS handshake failed"

assert_proxy_alive
finish
