#!/usr/bin/env bash
# Hostile, malformed and slow input on the proxy port (plain and inside an
# intercepted CONNECT): every case gets a 4xx or a close, nothing hangs, and the
# proxy keeps serving health checks and real pulls afterwards.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_standard_registry
# A short header timeout, so that cutting off slowloris clients is seen within the test.
start_proxy "${STD_PROXY_ENV[@]}" HEADER_TIMEOUT=3s

# Warm-up: a real pull works before the abuse.
proxy_pull "$IMAGE" "$T/before" --src-creds "$RCREDS" -q || fail "pull before the garbage failed"
verify_dir_digests "$T/before" "$DIGEST"

rc=0
$PY "$IT_DIR/garbage.py" "$PROXY_PORT" "registry.test:$RPORT" "$PROXY_CA_CRT" 3 >"$T/garbage.out" 2>&1 || rc=$?
while IFS= read -r line; do
  case "$line" in
    PASS\ *) ok "${line#PASS }" ;;
    FAIL\ *) echo "not ok - ${line#FAIL }" ;;
    *) echo "  $line" ;;
  esac
done <"$T/garbage.out"
[ "$rc" = 0 ] || fail "$rc hostile-input case(s) failed (see 'not ok' above)"

assert_proxy_alive
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$PROXY_URL/healthz")
assert_eq "$code" 200 "/healthz after the garbage"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$PROXY_URL/nope")
assert_eq "$code" 404 "curl GET /nope: 404"
code=$(curl -s -o "$T/abs.body" -w '%{http_code}' --max-time 5 -x "$PROXY_URL" "http://example.com/")
assert_match "$code" '^4[0-9][0-9]$' "curl -x GET http://example.com/ (plain-HTTP proxying): a 4xx ($code)"
[ -s "$T/abs.body" ] || fail "the $code for plain-HTTP proxying has no explanatory body"
ok "the $code says why: $(head -c 120 "$T/abs.body" | tr '\n' ' ')"
proxy_pull "$IMAGE" "$T/after" --src-creds "$RCREDS" -q || fail "pull after the garbage failed"
verify_dir_digests "$T/after" "$DIGEST"
assert_log_not_contains 'AddressSanitizer|runtime error:|terminate called|Segmentation'
finish
