#!/usr/bin/env bash
# Upstream TLS is verified: without UPSTREAM_CA_BUNDLE the registry's test-CA
# certificate is not trusted and the client gets a 502 whose reason is logged;
# with VERIFY_SSL=false the same setup works, with a warning in the log.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_standard_registry
URL="https://registry.test:$RPORT/v2/"

# 1. Default verification, no extra CA: the upstream is untrusted.
start_proxy REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP"
code=$(pcurl -o "$T/502.body" -w '%{http_code}' -u "$RCREDS" "$URL" || true)
assert_eq "$code" 502 "untrusted upstream certificate: the client gets 502"
ok "the 502 body: $(head -c 160 "$T/502.body" | tr '\n' ' ')"
assert_log_line registry.test /v2/ 're:\b502\b'
# The log says why, on the request's line or a warning of its own.
assert_log_line 're:(?i)(certificate|verif|x509)' 're:(?i)(reject|fail|error|unable|untrusted|invalid)' 're:(?i)registry\.test'

if proxy_pull "$IMAGE" "$T/refused" --src-creds "$RCREDS" -q >"$T/skopeo.err" 2>&1; then
  fail "skopeo pulled through a proxy that cannot verify the upstream"
fi
ok "skopeo fails: $(tail -1 "$T/skopeo.err" | head -c 200)"
# A name the upstream certificate does not carry is refused as well (hostname check):
# wrongname.example resolves to the registry, whose certificate lacks that name.
stop_proxy TERM
start_proxy REGISTRIES="registry.test wrongname.example" \
  "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP wrongname.example=$REGISTRY_IP" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT"
code=$(pcurl -o /dev/null -w '%{http_code}' -u "$RCREDS" "$URL")
assert_eq "$code" 200 "with UPSTREAM_CA_BUNDLE the upstream verifies"
code=$(pcurl -o /dev/null -w '%{http_code}' -u "$RCREDS" "https://wrongname.example:$RPORT/v2/" || true)
assert_eq "$code" 502 "a certificate without the requested name is refused (502)"
stop_proxy TERM
assert_eq "$PROXY_EXIT" 0 "proxy exits 0 on SIGTERM"

# 2. VERIFY_SSL=false: works without the bundle, and warns.
start_proxy REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP" VERIFY_SSL=false
# A warning about the disabled verification is logged (at start or on first use).
assert_log_line 're:(?i)\bwarn' 're:(?i)(verif|VERIFY_SSL|insecure|certificate)'

code=$(pcurl -o /dev/null -w '%{http_code}' -u "$RCREDS" "$URL")
assert_eq "$code" 200 "VERIFY_SSL=false: /v2/ works without UPSTREAM_CA_BUNDLE"
proxy_pull "$IMAGE" "$T/out" --src-creds "$RCREDS" -q || fail "pull with VERIFY_SSL=false failed"
verify_dir_digests "$T/out" "$DIGEST"
# The client side is still a proper MITM: the client must still trust the proxy CA.
rc=0
curl -sS --max-time 20 -x "$PROXY_URL" --cacert "$TEST_CA_CRT" -o /dev/null "$URL" 2>/dev/null || rc=$?
assert_eq "$rc" 60 "VERIFY_SSL=false does not weaken the client side"
finish
