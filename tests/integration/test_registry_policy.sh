#!/usr/bin/env bash
# REGISTRY_POLICY (from a YAML configuration file, a list of mappings) against two real
# registries, registry.test (htpasswd) and two.registry.test:
#   - deny: a pull of a denied repository fails, the client sees DENIED naming the rule, the
#     access log has the error, and the registry saw no request for that repository;
#   - allow: on two.registry.test only other/* and quota/* may be pulled, anything else is DENIED unasked;
#   - tag_freshness: registry.test's tags are fresh for 2 s, two.registry.test's for the default 60 s:
#     after 3 s a tag of registry.test is REVALIDATED, one of two.registry.test a HIT;
#   - max_share: registry.test may hold 40% of CACHE_MAX_SIZE=4m; pulling past that evicts its
#     least recently used files although the cache is far from full, while two.registry.test's older
#     files stay. Then POST /admin/cache/gc applies the share to the gc's cap.
# And a bad REGISTRY_POLICY in the environment stops the proxy at start-up, naming the entry.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_standard_registry
REG="registry.test:$RPORT"
mapfile -t APP_BLOBS < <(image_blobs "$SEED_DIR_APP")
seed_image "${REG_ADDR[reg]}" library/evil:1.0 1 1000
seed_image "${REG_ADDR[reg]}" library/big:1.0 2 500000
mapfile -t BIG_BLOBS < <(image_blobs "$SEED_DIR")

TWO_IP=127.0.0.25
start_registry two "$TWO_IP" auto
TWO="two.registry.test:${REG_PORT[two]}"
seed_image "${REG_ADDR[two]}" other/app:1.0 1 200000
mapfile -t OTHER_BLOBS < <(image_blobs "$SEED_DIR")
seed_image "${REG_ADDR[two]}" blocked/app:1.0 1 1000

# --- a bad policy stops the proxy at start-up, naming the entry
bad=$(timeout 20 env REGISTRY_POLICY="registry.test deny=x ; ghcr.io max_share=200%" LISTEN=127.0.0.1:0 \
  CA_DIR="$T/badca" CACHE_DIR="$T/badcache" "$PULLTHROUGH_BIN" 2>&1) && code=0 || code=$?
assert_ne "$code" 0 "a bad REGISTRY_POLICY stops the proxy"
assert_contains "$bad" "REGISTRY_POLICY: entry 2 (ghcr.io): max_share" "the message names the entry and the field"

cat >"$T/policy.yaml" <<EOF
REGISTRIES: [registry.test, two.registry.test]
UPSTREAM_RESOLVE: [registry.test=$REGISTRY_IP, two.registry.test=$TWO_IP]
UPSTREAM_CA_BUNDLE: $TEST_CA_CRT
CACHE_MAX_SIZE: 4m
REGISTRY_POLICY:
  - registry: $REG
    tag_freshness: 2s
    max_share: 40%
    deny: [library/evil*]
  - registry: $TWO
    allow: [other/*, quota/*]
EOF
start_proxy CONFIG_FILE="$T/policy.yaml"
assert_log_contains "registry policy: registry.test:$RPORT tag_freshness=2s max_share=40% deny=library/evil\\*"

pull_ok() { # IMAGE OUT [skopeo args]
  local image=$1 out=$2
  shift 2
  proxy_pull "$image" "$out" "$@" >"$out.log" 2>&1 || { cat "$out.log"; fail "pull of $image failed"; }
}
cached() { [ -f "$(cache_blob_path "$1")" ]; }
registry_saw() { # NAME ERE: lines of the registry's log naming it (seeding's pushes included)
  grep -cE -- "$2" "${REG_DIR[$1]}/registry.log" || true
}

# --- allowed on two.registry.test: pulled and cached
pull_ok "$TWO/other/app:1.0" "$T/other"
verify_dir_digests "$T/other" "${IMAGE_DIGEST[other/app:1.0]}"
for d in "${OTHER_BLOBS[@]}"; do cached "$d" || fail "$TWO's blob $d is not cached"; done
ok "$TWO/other/app:1.0 (allowed) pulled and cached"

# --- denied on registry.test
mark=$(proxy_log_mark)
evil_seen=$(registry_saw reg '/v2/library/evil/')
if proxy_pull "$REG/library/evil:1.0" "$T/evil" --src-creds "$RCREDS" >"$T/evil.log" 2>&1; then
  fail "the pull of a denied repository succeeded"
fi
assert_file_contains "$T/evil.log" "DENIED|denied" "skopeo reports the refusal"
assert_file_contains "$T/evil.log" "library/evil\\*" "skopeo's message names the rule"
assert_eq "$(registry_saw reg '/v2/library/evil/')" "$evil_seen" "registry.test saw no request for library/evil"
wait_proxy_requests "$mark" 1 "path=/v2/library/evil/"
assert_match "$(proxy_requests_since "$mark" "path=/v2/library/evil/" | head -n1)" \
  "status=403 .*error=.?denied by REGISTRY_POLICY: registry.test:$RPORT deny=library/evil\\*" \
  "the access log names the rule"
# The body a client gets, for a blob too.
body=$(pcurl -u "$RCREDS" -D "$T/evil.h" "https://$REG/v2/library/evil/blobs/${APP_BLOBS[0]}")
assert_contains "$(tr -d "\r" <"$T/evil.h")" "HTTP/1.1 403" "a denied blob request: 403"
assert_contains "$body" '{"errors":[{"code":"DENIED","message":"' "a registry-style DENIED body"
assert_eq "$(registry_saw reg '/v2/library/evil/')" "$evil_seen" "registry.test still saw no request for library/evil"

# --- not in two.registry.test's allow list
blocked_seen=$(registry_saw two '/v2/blocked/')
if proxy_pull "$TWO/blocked/app:1.0" "$T/blocked" >"$T/blocked.log" 2>&1; then
  fail "the pull of a repository outside the allow list succeeded"
fi
assert_file_contains "$T/blocked.log" "DENIED|denied" "skopeo reports the refusal"
assert_file_contains "$T/blocked.log" "allow=other/\\*,quota/\\*" "the message names the allow list"
assert_eq "$(registry_saw two '/v2/blocked/')" "$blocked_seen" "two.registry.test saw no request for blocked/app"

# --- tag freshness: 2 s for registry.test, the default 60 s for two.registry.test
ACCEPT="application/vnd.docker.distribution.manifest.v2+json"
tag_get() { # URL HEADERS-FILE [curl args]: the X-Cache of a GET of the tag
  local url=$1 headers=$2
  shift 2
  pcurl -o /dev/null -D "$headers" -H "Accept: $ACCEPT" "$@" "$url" || fail "GET $url failed"
  header_value X-Cache "$headers"
}
app_url="https://$REG/v2/library/app/manifests/1.0"
other_url="https://$TWO/v2/other/app/manifests/1.0"
assert_eq "$(tag_get "$app_url" "$T/t1.h" -u "$RCREDS")" MISS "registry.test's tag: MISS first"
assert_eq "$(tag_get "$app_url" "$T/t2.h" -u "$RCREDS")" HIT "then HIT within its 2 s"
sleep 3
heads_before=$(registry_requests reg HEAD /v2/library/app/manifests/1.0)
two_before=$(registry_saw two '/v2/other/app/manifests/1.0')
assert_eq "$(tag_get "$app_url" "$T/t3.h" -u "$RCREDS")" REVALIDATED "registry.test's tag after 3 s: REVALIDATED"
assert_eq "$(registry_requests reg HEAD /v2/library/app/manifests/1.0)" "$((heads_before + 1))" \
  "registry.test was asked once (HEAD)"
assert_eq "$(tag_get "$other_url" "$T/t4.h")" HIT "two.registry.test's tag, older than 3 s: still HIT"
assert_eq "$(registry_saw two '/v2/other/app/manifests/1.0')" "$two_before" "two.registry.test was not asked"

# --- max_share: registry.test may hold 40% of 4m (1677721 bytes)
pull_ok "$IMAGE" "$T/app" --src-creds "$RCREDS"
for d in "${APP_BLOBS[@]}"; do cached "$d" || fail "$REG's blob $d is not cached after the pull"; done
ok "$IMAGE (about 0.9 MB) pulled and cached"
# The LRU order counts in seconds: library/big's files must be younger than library/app's.
sleep 1.1
pull_ok "$REG/library/big:1.0" "$T/big" --src-creds "$RCREDS"
verify_dir_digests "$T/big" "${IMAGE_DIGEST[library/big:1.0]}"
gone=0
for d in "${APP_BLOBS[@]}"; do cached "$d" || gone=$((gone + 1)); done
[ "$gone" -ge 1 ] || fail "no file of $IMAGE was evicted although registry.test is over its share"
for d in "${BIG_BLOBS[@]}"; do cached "$d" || fail "the newest pull's blob $d was evicted"; done
for d in "${OTHER_BLOBS[@]}"; do cached "$d" || fail "two.registry.test's blob $d was evicted (it is within its share)"; done
ok "registry.test over its share: $gone of its least recently used files evicted; two.registry.test's older files stay"
assert_log_contains "of registry.test:$RPORT to keep it within its share \\(40% of 4194304 bytes"
log "cache now holds $(files_count "$T/proxy/cache/blobs") file(s), $(files_bytes "$T/proxy/cache/blobs") bytes"

# gc to 3m: registry.test's share becomes 40% of 3m (1258291): library/big's 1 MB fits, less old.
status=$(curl -sS -o "$T/gc.json" -w '%{http_code}' -X POST "$PROXY_URL/admin/cache/gc?max_size=3m")
assert_eq "$status" 200 "POST /admin/cache/gc?max_size=3m: 200"
left=0
for d in "${APP_BLOBS[@]:1}"; do cached "$d" && left=$((left + 1)); done
assert_eq "$left" 0 "gc: registry.test's older layers are all evicted to fit 40% of 3m"
for d in "${BIG_BLOBS[@]:1}"; do cached "$d" || fail "gc evicted the newer layer $d (it fits the share)"; done
for d in "${OTHER_BLOBS[@]}"; do cached "$d" || fail "gc evicted two.registry.test's blob $d"; done
ok "gc applied the share to its cap; two.registry.test's files stay"

# What was evicted pulls again (from upstream), the denied repository still does not.
pull_ok "$IMAGE" "$T/app2" --src-creds "$RCREDS"
verify_dir_digests "$T/app2" "$DIGEST"
assert_proxy_alive
finish
