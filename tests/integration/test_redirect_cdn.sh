#!/usr/bin/env bash
# The real redirect flow: the CNCF registry's `redirect` storage middleware sends every blob GET to
# a CDN stand-in (nginx serving the registry's storage over TLS at cdn.test). The proxy follows the
# redirects itself, the client never sees them, the blobs are cached under the registry's URLs,
# and a second pull works with the CDN down.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo nginx openssl curl htpasswd
require_proxy_bin

REG_IP=127.0.0.21
CDN_IP=127.0.0.23
make_test_pki "$T/pki"
STORAGE="$T/storage"
mkdir -p "$STORAGE"
CDN_PORT=$(free_port "$CDN_IP")
start_nginx_tls cdn "$CDN_IP" "$CDN_PORT" "$STORAGE"
CDN_DIR=$NGINX_DIR
start_registry reg "$REG_IP" auto --htpasswd alice:s3cret --storage "$STORAGE" \
  --redirect "https://cdn.test:$CDN_PORT"
RPORT=${REG_PORT[reg]}
seed_image "${REG_ADDR[reg]}" library/app:1.0 3 200000
DIGEST=$SEED_DIGEST

# The registry really redirects blob GETs to the CDN.
# (not `| head -n1`: head closing the pipe early fails the pipeline under pipefail)
blobs=$(image_blobs "$SEED_DIR")
blob=${blobs%%$'\n'*}
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TEST_CA_CRT" -u alice:s3cret \
  "https://$REG_IP:$RPORT/v2/library/app/blobs/$blob")
assert_eq "$code" 307 "the registry redirects blob GETs"

start_proxy REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$REG_IP cdn.test=$CDN_IP" \
  "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" "AUTH_REGISTRIES=registry.test:alice:s3cret"
IMAGE="registry.test:$RPORT/library/app:1.0"

proxy_pull "$IMAGE" "$T/out1" || fail "pull through the proxy with the registry redirecting to the CDN failed"
verify_dir_digests "$T/out1" "$DIGEST"
cdn_gets=$(grep -c 'GET /docker/registry/v2/blobs/sha256/' "$CDN_DIR/access.log" || true)
[ "$cdn_gets" -ge 4 ] || fail "the proxy fetched $cdn_gets blob(s) from the CDN, expected 4"
ok "the proxy fetched the 4 blobs from the CDN"
assert_log_line registry.test GET "/blobs/$blob" status=200 cache=MISS

# The CDN goes away: the blobs come from the cache.
kill "$(cat "$CDN_DIR/nginx.pid")" 2>/dev/null || true
sleep 0.5
proxy_pull "$IMAGE" "$T/out2" || fail "second pull with the CDN down failed"
verify_dir_digests "$T/out2" "$DIGEST"
assert_log_line registry.test GET "/blobs/$blob" status=200 cache=HIT
assert_proxy_alive
finish
