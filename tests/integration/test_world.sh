#!/usr/bin/env bash
# Sanity check of the test world itself (no proxy): a TLS + htpasswd registry
# starts, deterministic images (Docker schema2 and OCI) seed, and a direct
# skopeo pull verifies. If this fails, every proxy test would fail for reasons
# that have nothing to do with the proxy.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd

make_test_pki "$T/pki"
start_registry reg "$REGISTRY_IP" auto --htpasswd alice:s3cret
addr=${REG_ADDR[reg]}

code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TEST_CA_CRT" "https://$addr/v2/")
assert_eq "$code" 401 "registry wants credentials"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TEST_CA_CRT" -u alice:s3cret "https://$addr/v2/")
assert_eq "$code" 200 "registry accepts htpasswd credentials over TLS (IP SAN)"

seed_image "$addr" library/app:1.0 3 200000
d1=$SEED_DIGEST
seed_image "$addr" library/app:1.0 3 200000
assert_eq "$SEED_DIGEST" "$d1" "image generation is deterministic"
seed_image "$addr" library/app:oci 2 100000 --oci
doci=$SEED_DIGEST

"${SKOPEO[@]}" copy -q --src-cert-dir "$TEST_CA_DIR" --src-creds alice:s3cret \
  "docker://$addr/library/app:1.0" "dir:$T/pulled"
verify_dir_digests "$T/pulled" "$d1"
"${SKOPEO[@]}" copy -q --src-cert-dir "$TEST_CA_DIR" --src-creds alice:s3cret \
  "docker://$addr/library/app:oci" "dir:$T/pulled-oci"
verify_dir_digests "$T/pulled-oci" "$doci"

digest=$(curl -sS -I --cacert "$TEST_CA_CRT" -u alice:s3cret \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "https://$addr/v2/library/app/manifests/1.0" | tr -d '\r' |
  awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
assert_eq "$digest" "$d1" "registry reports the seeded manifest digest"

if "${SKOPEO[@]}" copy -q --src-creds alice:s3cret "docker://$addr/library/app:1.0" "dir:$T/untrusted" 2>"$T/err"; then
  fail "pull without the test CA should fail"
fi
assert_contains "$(cat "$T/err")" "certificate" "without the test CA the registry is not trusted"

# A plain nginx over TLS (the tunnel target of test_tunnel.sh).
mkdir -p "$T/www" && echo hello >"$T/www/hello.txt"
nport=$(free_port "$OTHER_IP")
start_nginx_tls other "$OTHER_IP" "$nport" "$T/www"
body=$(curl -sS --cacert "$TEST_CA_CRT" "https://$OTHER_IP:$nport/hello.txt")
assert_eq "$body" hello "nginx serves over TLS with the test certificate"
finish
