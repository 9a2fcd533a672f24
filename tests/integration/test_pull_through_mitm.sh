#!/usr/bin/env bash
# The core path: a TLS + htpasswd registry behind the proxy, real clients
# (skopeo, curl) trusting only the proxy's CA, the proxy MITMs registry.test,
# relays every request upstream over verified TLS and logs each one.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_standard_registry
seed_image "${REG_ADDR[reg]}" library/app:oci 2 150000 --oci
DIGEST_OCI=$SEED_DIGEST
seed_image "${REG_ADDR[reg]}" big/blob:1 1 6000000
DIGEST_BIG=$SEED_DIGEST
BIG_DIR=$SEED_DIR
start_proxy "${STD_PROXY_ENV[@]}"
BASE="https://registry.test:$RPORT"

# --- skopeo pulls through the proxy
proxy_pull "$IMAGE" "$T/out" --src-creds "$RCREDS" || fail "skopeo pull of $IMAGE through the proxy failed"
ok "skopeo pulled $IMAGE through the proxy"
verify_dir_digests "$T/out" "$DIGEST"

proxy_pull "registry.test:$RPORT/library/app:oci" "$T/out-oci" --src-creds "$RCREDS" ||
  fail "skopeo pull of the OCI image failed"
verify_dir_digests "$T/out-oci" "$DIGEST_OCI"

# Two pulls at once (one with a 6 MB layer) share the proxy.
proxy_pull "registry.test:$RPORT/big/blob:1" "$T/out-big" --src-creds "$RCREDS" >"$T/pull-big.log" 2>&1 &
p1=$!
proxy_pull "$IMAGE" "$T/out-2" --src-creds "$RCREDS" >"$T/pull-2.log" 2>&1 &
p2=$!
wait $p1 || { cat "$T/pull-big.log"; fail "concurrent pull of big/blob:1 failed"; }
wait $p2 || { cat "$T/pull-2.log"; fail "concurrent pull of $IMAGE failed"; }
ok "two concurrent pulls succeeded"
verify_dir_digests "$T/out-big" "$DIGEST_BIG"
verify_dir_digests "$T/out-2" "$DIGEST"

# --- the access log: one line per request with host, method, path, status, bytes, cache status
assert_log_line registry.test GET 're:/v2/(\s|"|$)' 're:\b401\b'
assert_log_line registry.test GET /v2/library/app/manifests/1.0 're:\b200\b'
LAYER=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"])' "$T/out/manifest.json")
LAYER_SIZE=$(stat -c %s "$T/out/${LAYER#sha256:}")
assert_log_line registry.test GET "/v2/library/app/blobs/$LAYER" 're:\b200\b' "re:\\b$LAYER_SIZE\\b" \
  're:\b(MISS|BYPASS|HIT|REVALIDATED|STALE)\b'
BIG_LAYER=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"])' "$BIG_DIR/manifest.json")
assert_log_line registry.test "/v2/big/blob/blobs/$BIG_LAYER" 're:\b200\b' \
  "re:\\b$(stat -c %s "$BIG_DIR/${BIG_LAYER#sha256:}")\\b"
# A duration is logged (any of: duration=12ms, duration_ms=3.4, "duration_ms":3.4, 0.012s).
assert_log_line "/v2/library/app/blobs/$LAYER" 're:duration|[0-9](ms|s)\b'

# --- curl through the proxy
code=$(pcurl -o /dev/null -w '%{http_code}' -u "$RCREDS" "$BASE/v2/")
assert_eq "$code" 200 "curl GET /v2/ with credentials through the proxy"
code=$(pcurl -o /dev/null -D "$T/h401" -w '%{http_code}' "$BASE/v2/")
assert_eq "$code" 401 "curl GET /v2/ without credentials: the registry's 401 passes through"
assert_match "$(header_value WWW-Authenticate "$T/h401")" '^Basic realm=' "the registry's Basic challenge passes through"
code=$(pcurl -o /dev/null -w '%{http_code}' -u "$RCREDS" "$BASE/v2/library/app/manifests/no-such-tag")
assert_eq "$code" 404 "an unknown tag is the registry's 404"
assert_log_line registry.test /v2/library/app/manifests/no-such-tag 're:\b404\b'

# The certificate the client sees is a leaf for registry.test signed by the proxy's root.
openssl s_client -proxy "127.0.0.1:$PROXY_PORT" -connect "registry.test:$RPORT" -servername registry.test \
  -CAfile "$PROXY_CA_CRT" -verify_return_error -verify_hostname registry.test -showcerts \
  </dev/null >"$T/s_client.txt" 2>&1 || { cat "$T/s_client.txt"; fail "openssl s_client via the proxy failed"; }
assert_file_contains "$T/s_client.txt" 'Verify return code: 0 \(ok\)' "the MITM leaf verifies against the proxy CA"
$PY - "$T/s_client.txt" >"$T/leaf.pem" <<'PYEOF'
import re, sys
print(re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", open(sys.argv[1]).read(), re.S)[0])
PYEOF
assert_eq "$(openssl x509 -in "$T/leaf.pem" -noout -issuer | sed 's/^issuer=//')" \
  "$(openssl x509 -in "$PROXY_CA_CRT" -noout -subject | sed 's/^subject=//')" "the leaf is issued by the proxy CA"
assert_contains "$(openssl x509 -in "$T/leaf.pem" -noout -ext subjectAltName)" "DNS:registry.test" "the leaf names registry.test"

# --- HEAD of a manifest: headers of the GET, no body (a HEAD then a GET on one connection:
# a body wrongly sent after the HEAD would corrupt the GET's response).
ACCEPT='Accept: application/vnd.docker.distribution.manifest.v2+json'
MURL="$BASE/v2/library/app/manifests/1.0"
curl -sS -v --max-time 30 -x "$PROXY_URL" --cacert "$PROXY_CA_CRT" -u "$RCREDS" -H "$ACCEPT" -I -D "$T/head.h" -o /dev/null "$MURL" \
  --next -sS --max-time 30 -x "$PROXY_URL" --cacert "$PROXY_CA_CRT" -u "$RCREDS" -H "$ACCEPT" -D "$T/get.h" -o "$T/manifest.get" "$MURL" \
  2>"$T/head-get.err" || { cat "$T/head-get.err"; fail "HEAD then GET of the manifest failed"; }
assert_match "$(head -1 "$T/head.h")" '^HTTP/1\.1 200' "HEAD manifest: 200"
assert_eq "$(header_value Content-Length "$T/head.h")" "$(stat -c %s "$SEED_DIR_APP/manifest.json")" "HEAD manifest: Content-Length of the manifest"
assert_eq "$(header_value Docker-Content-Digest "$T/head.h")" "$DIGEST" "HEAD manifest: Docker-Content-Digest"
assert_match "$(head -1 "$T/get.h")" '^HTTP/1\.1 200' "GET manifest after HEAD on the same connection: 200"
assert_eq "$(sha256_of "$T/manifest.get")" "$DIGEST" "GET manifest after HEAD: body is exactly the manifest"
assert_file_contains "$T/head-get.err" 'Re-using existing connection' "HEAD and GET shared one connection"
assert_log_line registry.test HEAD /v2/library/app/manifests/1.0 're:\b200\b'

# --- keep-alive: two URLs, one curl invocation, one connection; blob body verifies
curl -sS -v --max-time 30 -x "$PROXY_URL" --cacert "$PROXY_CA_CRT" -u "$RCREDS" \
  -o "$T/v2.body" "$BASE/v2/" -o "$T/blob.body" "$BASE/v2/library/app/blobs/$LAYER" \
  2>"$T/keepalive.err" || { cat "$T/keepalive.err"; fail "curl with two URLs failed"; }
assert_file_contains "$T/keepalive.err" 'Re-using existing connection' "curl reused the connection for the second URL"
assert_eq "$(sha256_of "$T/blob.body")" "$LAYER" "blob fetched with curl has the right digest"

assert_proxy_alive
finish
