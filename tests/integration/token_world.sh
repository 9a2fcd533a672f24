# shellcheck shell=bash
# shellcheck disable=SC2034 # globals set here are read by the tests that source this
# shellcheck disable=SC2153 # REG_ADDR, REG_PORT... come from lib.sh
# A Docker-Hub-like token world for the integration tests: sourced after lib.sh
# by tests/integration/test_token_*.sh.
#
#   127.0.0.22  auth.test            token_server.py (HTTPS, test CA): GET /token
#                                    and POST /token (OAuth2 form), ES256 JWTs
#                                    signed by a self-signed P-256 certificate
#                                    sent in the JWT header's x5c
#   127.0.0.25  token.registry.test  docker-registry with `auth: token` (realm
#                                    https://auth.test:<port>/token, service
#                                    token.registry.test, issuer test-issuer,
#                                    rootcertbundle = the signing certificate)
#
# The registry holds public/app:1 and private/app:1. Anyone may pull public/*;
# everything else needs tokuser / "tokpass:with:colons" at the token server.
# Without (or with wrong) credentials the token server still answers 200, with a
# token granting nothing for private/* (as Docker Hub does), so the registry
# then says 401 insufficient_scope ("denied") on the manifest.
#
# Seeding: a token registry only accepts pushes with a push token, and the realm
# (auth.test) resolves only through the proxy. So the storage is first served by
# an htpasswd registry on the same address (seeded directly by IP, like every
# lib.sh seed), which is then stopped, and the token registry started on the
# same storage.
#
# Sets (start_token_world):
#   TOKEN_PORT TOKEN_URL TOKEN_REALM TOKEN_LOG TOKEN_PID   the token server
#   TREG_PORT TREG_ADDR TREG_HOST                          the token registry
#   PUBLIC_IMAGE PUBLIC_DIGEST PUBLIC_DIR                  token.registry.test:<port>/public/app:1
#   PRIVATE_IMAGE PRIVATE_DIGEST PRIVATE_DIR               token.registry.test:<port>/private/app:1
#   TOKEN_PROXY_ENV    start_proxy arguments intercepting both names
#   TOKEN_AUTH_ENV     AUTH_REGISTRIES for auth.test (tokuser, password with colons)

TOKEN_IP=$AUTH_IP
TREG_IP=127.0.0.25
TREG_HOST=token.registry.test
TOKEN_SERVICE=token.registry.test
TOKEN_ISSUER=test-issuer
TOKEN_USER=tokuser
TOKEN_PASS='tokpass:with:colons'
TOKEN_SEED_CREDS='seeder:seedpass'

# make_token_signing_cert DIR — self-signed EC P-256 certificate + key (the
# registry's rootcertbundle; the token server puts it in each JWT's x5c).
make_token_signing_cert() {
  local dir=$1
  mkdir -p "$dir"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3650 \
    -subj "/O=pullthrough integration tests/CN=test token signer" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,digitalSignature,keyCertSign" \
    -keyout "$dir/signing.key" -out "$dir/signing.crt" 2>/dev/null ||
    fail "could not make the token signing certificate"
  TOKEN_SIGN_CRT=$dir/signing.crt
  TOKEN_SIGN_KEY=$dir/signing.key
}

# start_token_server — auth.test on 127.0.0.22:<port>; extra token_server.py
# arguments (e.g. --reject-bad-credentials) may be set in TOKEN_SERVER_ARGS.
TOKEN_SERVER_ARGS=()
start_token_server() {
  $PY -c 'import cryptography' 2>/dev/null ||
    skip "$PY has no 'cryptography' module (python3-cryptography), needed by token_server.py"
  [ -n "${SERVER_CRT:-}" ] || make_test_pki "$T/pki"
  local dir="$T/token-server" i
  mkdir -p "$dir"
  [ -n "${TOKEN_SIGN_CRT:-}" ] || make_token_signing_cert "$dir"
  TOKEN_LOG="$dir/requests.log"
  : >"$TOKEN_LOG"
  rm -f "$dir/port"
  log "starting token server auth.test on $TOKEN_IP${TOKEN_SERVER_ARGS[*]:+ (${TOKEN_SERVER_ARGS[*]})}"
  $PY "$IT_DIR/token_server.py" --ip "$TOKEN_IP" --port-file "$dir/port" \
    --cert "$SERVER_CRT" --key "$SERVER_KEY" --sign-cert "$TOKEN_SIGN_CRT" --sign-key "$TOKEN_SIGN_KEY" \
    --issuer "$TOKEN_ISSUER" --user "$TOKEN_USER:$TOKEN_PASS" --user "$TOKEN_SEED_CREDS" \
    --public-prefix public/ --log "$TOKEN_LOG" "${TOKEN_SERVER_ARGS[@]}" >"$dir/stdout.log" 2>&1 &
  TOKEN_PID=$!
  _register_pid "$TOKEN_PID" "token-server"
  _register_log "token server requests" "$TOKEN_LOG"
  _register_log "token server output" "$dir/stdout.log"
  wait_port_file "$TOKEN_PID" "$dir" "token server"
  TOKEN_PORT=$WAITED_PORT
  TOKEN_URL="https://auth.test:$TOKEN_PORT"
  TOKEN_REALM="$TOKEN_URL/token"
  curl -sS --fail -o /dev/null --max-time 5 --cacert "$TEST_CA_CRT" \
    --resolve "auth.test:$TOKEN_PORT:$TOKEN_IP" "$TOKEN_URL/healthz" ||
    fail "token server does not answer on $TOKEN_URL/healthz"
}

# token_curl ARGS... — curl straight to the token server (no proxy).
token_curl() {
  curl -sS --max-time 10 --cacert "$TEST_CA_CRT" --resolve "auth.test:$TOKEN_PORT:$TOKEN_IP" "$@"
}

# start_token_world — the token server, the token registry seeded with
# public/app:1 and private/app:1, and a direct (proxy-less) check that the
# registry accepts the server's tokens.
start_token_world() {
  [ -n "${SERVER_CRT:-}" ] || make_test_pki "$T/pki"
  start_token_server

  local storage="$T/registry-tokreg/storage"
  start_registry tokseed "$TREG_IP" auto --htpasswd "$TOKEN_SEED_CREDS" --storage "$storage"
  seed_image "${REG_ADDR[tokseed]}" public/app:1 2 120000
  PUBLIC_DIGEST=$SEED_DIGEST
  PUBLIC_DIR=$SEED_DIR
  seed_image "${REG_ADDR[tokseed]}" private/app:1 2 110000
  PRIVATE_DIGEST=$SEED_DIGEST
  PRIVATE_DIR=$SEED_DIR
  _kill_pid "${REG_PID[tokseed]}" registry-tokseed

  start_registry tokreg "$TREG_IP" auto \
    --token "$TOKEN_REALM,$TOKEN_SERVICE,$TOKEN_ISSUER,$TOKEN_SIGN_CRT" --storage "$storage"
  TREG_PORT=${REG_PORT[tokreg]}
  TREG_ADDR=${REG_ADDR[tokreg]}
  PUBLIC_IMAGE="$TREG_HOST:$TREG_PORT/public/app:1"
  PRIVATE_IMAGE="$TREG_HOST:$TREG_PORT/private/app:1"
  TOKEN_PROXY_ENV=("REGISTRIES=$TREG_HOST auth.test"
    "UPSTREAM_RESOLVE=$TREG_HOST=$TREG_IP auth.test=$TOKEN_IP"
    "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT")
  TOKEN_AUTH_ENV=("AUTH_REGISTRIES=auth.test:$TOKEN_USER:$TOKEN_PASS")

  _check_token_world
  : >"$TOKEN_LOG" # forget the self-check's requests
}

# The world works without the proxy: the registry challenges with our realm,
# accepts an anonymous token for public/app, denies private/app with it, and
# accepts tokuser's token for private/app.
_check_token_world() {
  local base="https://$TREG_ADDR" h="$T/token-world-check" tok code
  mkdir -p "$h"
  curl -sS -o /dev/null -D "$h/ping.h" --max-time 5 --cacert "$TEST_CA_CRT" "$base/v2/" ||
    fail "token registry: GET /v2/ failed"
  [ "$(response_status "$h/ping.h")" = 401 ] || fail "token registry: GET /v2/ is not 401"
  case "$(header_value WWW-Authenticate "$h/ping.h")" in
    "Bearer realm=\"$TOKEN_REALM\",service=\"$TOKEN_SERVICE\""*) ;;
    *) fail "token registry: unexpected challenge: $(header_value WWW-Authenticate "$h/ping.h")" ;;
  esac
  local q="service=$TOKEN_SERVICE&scope=repository:public/app:pull"
  tok=$(token_curl --fail "$TOKEN_URL/token?$q" | $PY -c 'import json,sys; print(json.load(sys.stdin)["token"])') ||
    fail "token server: anonymous token for public/app failed"
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$TEST_CA_CRT" \
    -H "Authorization: Bearer $tok" "$base/v2/public/app/manifests/1")
  [ "$code" = 200 ] || fail "token registry rejects the token server's anonymous public/app token (HTTP $code; see its log)"
  q="service=$TOKEN_SERVICE&scope=repository:private/app:pull"
  tok=$(token_curl --fail "$TOKEN_URL/token?$q" | $PY -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$TEST_CA_CRT" \
    -H "Authorization: Bearer $tok" "$base/v2/private/app/manifests/1")
  [ "$code" = 401 ] || fail "token registry: anonymous token for private/app got HTTP $code, want 401"
  tok=$(token_curl --fail -u "$TOKEN_USER:$TOKEN_PASS" "$TOKEN_URL/token?$q" |
    $PY -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$TEST_CA_CRT" \
    -H "Authorization: Bearer $tok" "$base/v2/private/app/manifests/1")
  [ "$code" = 200 ] || fail "token registry rejects tokuser's private/app token (HTTP $code)"
  ok "token world: $TREG_HOST ($TREG_ADDR) trusts auth.test ($TOKEN_IP:$TOKEN_PORT); public/app anonymous, private/app for $TOKEN_USER only"
}

# stop_token_server / stop_token_registry — SIGKILL, then check nothing answers.
stop_token_server() {
  kill -KILL "$TOKEN_PID" 2>/dev/null || true
  wait "$TOKEN_PID" 2>/dev/null || true
  token_curl -o /dev/null --max-time 2 "$TOKEN_URL/healthz" 2>/dev/null &&
    fail "the token server still answers after being killed"
  ok "token server stopped (killed)"
}

stop_token_registry() {
  local pid=${REG_PID[tokreg]}
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  curl -s -o /dev/null --max-time 2 --cacert "$TEST_CA_CRT" "https://$TREG_ADDR/v2/" &&
    fail "the token registry still answers after being killed"
  ok "token registry stopped (killed)"
}

# token_log_mark — the token server log's line count; token_log_since MARK [ERE]
# — its lines after MARK (matching ERE).
token_log_mark() { wc -l <"$TOKEN_LOG" | tr -d ' '; }
token_log_since() {
  tail -n +"$(($1 + 1))" "$TOKEN_LOG" | grep -E -- "${2:-.}" || true
}

# token_pull IMAGE OUT [skopeo args...] — proxy_pull with skopeo's output in OUT.log;
# returns skopeo's status.
token_pull() {
  local image=$1 out=$2
  shift 2
  proxy_pull "$image" "$out" "$@" >"$out.log" 2>&1
}

# assert_blob_statuses MARK DIR REPO WANT — every blob of the image in DIR was
# requested (GET) after MARK and each such request logged status=200 cache=WANT
# (an ERE alternative like 'HIT|STALE' is allowed).
assert_blob_statuses() {
  local mark=$1 dir=$2 repo=$3 want=$4 d lines bad
  while read -r d; do
    wait_proxy_requests "$mark" 1 "method=GET path=/v2/$repo/blobs/$d "
    lines=$(proxy_requests_since "$mark" "method=GET path=/v2/$repo/blobs/$d ")
    bad=$(grep -vE "status=200 .*cache=($want)( |\$)" <<<"$lines" || true)
    [ -z "$bad" ] || fail "blob ${d:7:12} of $repo: want status=200 cache=$want, got: $bad"
    ok "blob ${d:7:12} of $repo: status=200 cache=$want"
  done < <(image_blobs "$dir")
}
