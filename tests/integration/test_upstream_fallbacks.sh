#!/usr/bin/env bash
# REGISTRY_MIRRORS: a registry's pulls go to its upstreams in turn. Here registry.test (the origin,
# htpasswd alice) has the chain mirror.test (a second docker-registry, htpasswd bob, holding a copy
# of one image), backup.test (a registry answering 503), then registry.test itself:
#   1. the mirror has the image: it serves the whole pull; the origin sees no manifest or blob
#      request; the client's credentials (alice) never reach the mirror, which gets the proxy's
#      own (AUTH_REGISTRIES bob); the access log names the upstream; the cache keys stay the
#      origin's (a later pull is a HIT with the mirror gone);
#   1b. a mirror with a repository prefix (a Harbor proxy-cache project) serves a pull of
#      /v2/library/app as /v2/proxy-cache/library/app;
#   2. the mirror lacks an image (404) and the backup fails (503): the origin serves it, and the
#      backup, once failed, is tried last for a while (it sees one request, not one per blob);
#   3. the mirror serves a corrupt blob: the client's transfer is cut, nothing is cached, and the
#      retry gets the blob from the next upstream, verified and cached;
#   4. the mirror is down (connection refused): the pull succeeds from the origin;
#   5. SIGHUP re-reads REGISTRY_MIRRORS from the configuration file: the dead mirror is dropped
#      and never tried again; a chain that does not parse keeps the one in force.
# backup.test and the corrupt mirror are fake_blob_registry.py: no real registry answers 503 or
# flips a byte on demand. Everything else is docker-registry.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd openssl curl skopeo docker-registry htpasswd
require_proxy_bin

MIRROR_IP=127.0.0.22
BACKUP_IP=127.0.0.23
start_standard_registry # registry.test, alice, library/app:1.0
ORIGIN="registry.test:$RPORT"
seed_image "${REG_ADDR[reg]}" library/other:1.0 2 200000
seed_image "${REG_ADDR[reg]}" library/third:1.0 2 200000
THIRD_DIR=$SEED_DIR
seed_image "${REG_ADDR[reg]}" library/fourth:1.0 2 200000

start_registry mirror "$MIRROR_IP" auto --htpasswd bob:mirr0r
MPORT=${REG_PORT[mirror]}
SEED_DIGEST=${IMAGE_DIGEST[library/app:1.0]}
push_seed_dir "${REG_ADDR[mirror]}" library/app:1.0 "${IMAGE_DIR[library/app:1.0]}" bob:mirr0r "the origin's copy"
push_seed_dir "${REG_ADDR[mirror]}" proxy-cache/library/app:1.0 "${IMAGE_DIR[library/app:1.0]}" bob:mirr0r \
  "the origin's copy, in a proxy-cache project"
start_fake_blob_registry backup.test "$BACKUP_IP" --status 503
BACKUP_LOG=$FAKE_LOG
BPORT=$FAKE_PORT

CHAIN="$ORIGIN=mirror.test:$MPORT,backup.test:$BPORT,$ORIGIN"
# The origin by another name is another registry, with its own chain: a mirror with a prefix.
ALIAS="alias.registry.test:$RPORT"
PREFIXED="$ALIAS=mirror.test:$MPORT/proxy-cache,$ALIAS"
# In the configuration file, which SIGHUP re-reads (step 5).
printf 'REGISTRY_MIRRORS: %s %s\n' "$CHAIN" "$PREFIXED" >"$T/config.yaml"
start_proxy "${STD_PROXY_ENV[@]}" "REGISTRIES=registry.test alias.registry.test" "CONFIG_FILE=$T/config.yaml" \
  "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP alias.registry.test=$REGISTRY_IP mirror.test=$MIRROR_IP backup.test=$BACKUP_IP" \
  "AUTH_REGISTRIES=mirror.test:$MPORT:bob:mirr0r"
assert_log_contains "pulls of $ORIGIN: mirror.test:$MPORT, then backup.test:$BPORT, then $ORIGIN \\(REGISTRY_MIRRORS\\)"

origin_pulls() { # GETs and HEADs of manifests and blobs the origin saw
  grep -cE '"(GET|HEAD) /v2/[^ ]+/(manifests|blobs)/' "${REG_DIR[reg]}/registry.log" || true
}

# 1. The mirror has it.
mark=$(proxy_log_mark)
before=$(origin_pulls)
proxy_pull "$ORIGIN/library/app:1.0" "$T/app" --src-creds "$RCREDS" >"$T/pull-app.log" 2>&1 ||
  { cat "$T/pull-app.log"; fail "pull of app:1.0 with the mirror holding it failed"; }
verify_dir_digests "$T/app" "${IMAGE_DIGEST[library/app:1.0]}"
assert_eq "$(($(origin_pulls) - before))" 0 "the origin saw no manifest or blob request: the mirror served the pull"
wait_proxy_requests "$mark" 5 "path=/v2/library/app/(manifests|blobs)/"
lines=$(proxy_requests_since "$mark" "path=/v2/library/app/(manifests|blobs)/")
assert_eq "$(grep -c "upstream=mirror.test:$MPORT" <<<"$lines")" "$(wc -l <<<"$lines")" \
  "every manifest and blob line of the pull names upstream=mirror.test:$MPORT"
assert_file_contains "${REG_DIR[mirror]}/registry.log" 'user.name="?bob' "the mirror saw the proxy's own credentials (bob)"
if grep -q 'alice' "${REG_DIR[mirror]}/registry.log"; then fail "the client's credentials (alice) reached the mirror"; fi
ok "the client's credentials (alice) never reached the mirror"

# 1b. The mirror keeps it under a prefix.
mark=$(proxy_log_mark)
before=$(origin_pulls)
proxy_pull "$ALIAS/library/app:1.0" "$T/app-alias" --src-creds "$RCREDS" >"$T/pull-app-alias.log" 2>&1 ||
  { cat "$T/pull-app-alias.log"; fail "pull of $ALIAS/library/app:1.0 from the prefixed mirror failed"; }
verify_dir_digests "$T/app-alias" "${IMAGE_DIGEST[library/app:1.0]}"
assert_eq "$(($(origin_pulls) - before))" 0 "the origin saw no manifest or blob request: the prefixed mirror served it"
wait_proxy_requests "$mark" 5 "path=/v2/library/app/(manifests|blobs)/"
assert_eq "$(proxy_requests_since "$mark" "path=/v2/library/app/(manifests|blobs)/" | grep -vc "upstream=mirror.test:$MPORT/proxy-cache" || true)" 0 \
  "every line of the pull names upstream=mirror.test:$MPORT/proxy-cache"
assert_file_contains "${REG_DIR[mirror]}/registry.log" '"GET /v2/proxy-cache/library/app/manifests/1.0 ' \
  "the mirror was asked for the prefixed repository"

# 2. The mirror lacks it (404), the backup fails (503): the origin serves it.
mark=$(proxy_log_mark)
proxy_pull "$ORIGIN/library/other:1.0" "$T/other" --src-creds "$RCREDS" >"$T/pull-other.log" 2>&1 ||
  { cat "$T/pull-other.log"; fail "pull of other:1.0 (404 at the mirror, 503 at the backup) failed"; }
verify_dir_digests "$T/other" "${IMAGE_DIGEST[library/other:1.0]}"
wait_proxy_requests "$mark" 4 "path=/v2/library/other/(manifests|blobs)/"
lines=$(proxy_requests_since "$mark" "path=/v2/library/other/(manifests|blobs)/")
assert_eq "$(grep -c "upstream=$ORIGIN" <<<"$lines")" "$(wc -l <<<"$lines")" "every line of the pull names upstream=$ORIGIN"
assert_eq "$(grep -c ' 503$' "$BACKUP_LOG")" 1 \
  "the failing backup was asked once, then tried last (after the origin) for the rest of the pull"
assert_log_contains "upstream backup.test:$BPORT answered 503; trying $ORIGIN"

# 3. The mirror serves a corrupt blob.
_kill_pid "${REG_PID[mirror]}" registry-mirror
LAYER=$(image_blobs "$THIRD_DIR" | tail -n 1)
start_fake_blob_registry mirror.test "$MIRROR_IP" --port "$MPORT" --blob "$THIRD_DIR/${LAYER#sha256:}" --corrupt
BLOB_URL="https://$ORIGIN/v2/library/third/blobs/$LAYER"
mark=$(proxy_log_mark)
rc=0
pcurl -u "$RCREDS" -o "$T/layer.1" "$BLOB_URL" 2>"$T/curl.1.err" || rc=$?
assert_ne "$rc" 0 "the first GET of the layer, served corrupt by the mirror, is cut (curl exit $rc)"
[ "$(sha256_of "$T/layer.1")" != "$LAYER" ] || fail "the client got the whole corrupt layer as if it were right"
wait_proxy_requests "$mark" 1 "path=/v2/library/third/blobs/"
assert_match "$(proxy_requests_since "$mark" "path=/v2/library/third/blobs/")" "upstream=mirror.test:$MPORT.*does not match its digest" \
  "the log names the mirror that served the corrupt copy"
[ ! -e "$(cache_blob_path "$LAYER")" ] || fail "the corrupt layer was cached"
ok "nothing of the corrupt copy was cached"
mark=$(proxy_log_mark)
pcurl -u "$RCREDS" -o "$T/layer.2" "$BLOB_URL" || fail "the retry of the layer failed"
assert_eq "$(sha256_of "$T/layer.2")" "$LAYER" "the retry got the right layer"
wait_proxy_requests "$mark" 1 "path=/v2/library/third/blobs/"
assert_match "$(proxy_requests_since "$mark" "path=/v2/library/third/blobs/")" "cache=MISS.*upstream=$ORIGIN" \
  "the retry went to the origin, not to the mirror that corrupted it"
assert_eq "$(grep -c "^GET /v2/library/third/blobs/$LAYER " "$FAKE_LOG")" 1 "the corrupting mirror was asked for the layer once"
proxy_pull "$ORIGIN/library/third:1.0" "$T/third" --src-creds "$RCREDS" >"$T/pull-third.log" 2>&1 ||
  { cat "$T/pull-third.log"; fail "pull of third:1.0 after the corrupt copy failed"; }
verify_dir_digests "$T/third" "${IMAGE_DIGEST[library/third:1.0]}"

# 4. The mirror is down.
_kill_pid "$FAKE_PID" fake-mirror.test
mark=$(proxy_log_mark)
proxy_pull "$ORIGIN/library/fourth:1.0" "$T/fourth" --src-creds "$RCREDS" >"$T/pull-fourth.log" 2>&1 ||
  { cat "$T/pull-fourth.log"; fail "pull of fourth:1.0 with the mirror down failed"; }
verify_dir_digests "$T/fourth" "${IMAGE_DIGEST[library/fourth:1.0]}"
assert_log_contains "upstream mirror.test:$MPORT .*(refused|connect).*; trying $ORIGIN"

# The cache keys are the origin's: with the mirror gone, app:1.0 comes from the cache.
mark=$(proxy_log_mark)
proxy_pull "$ORIGIN/library/app:1.0" "$T/app-2" --src-creds "$RCREDS" >"$T/pull-app-2.log" 2>&1 ||
  { cat "$T/pull-app-2.log"; fail "second pull of app:1.0 failed"; }
verify_dir_digests "$T/app-2" "${IMAGE_DIGEST[library/app:1.0]}"
wait_proxy_requests "$mark" 4 "path=/v2/library/app/blobs/"
assert_eq "$(proxy_requests_since "$mark" "path=/v2/library/app/blobs/" | grep -vc 'cache=HIT' || true)" 0 \
  "the mirror's blobs were cached under the origin's keys (all HIT)"

# 5. SIGHUP: the dead mirror leaves the chain; a broken chain keeps the one in force.
seed_image "${REG_ADDR[reg]}" library/fifth:1.0 2 200000
printf 'REGISTRY_MIRRORS: %s=%s\n' "$ORIGIN" "$ORIGIN" >"$T/config.yaml"
kill -HUP "$PROXY_PID"
assert_log_line "reload (SIGHUP): REGISTRY_MIRRORS $ORIGIN: $ORIGIN"
printf 'REGISTRY_MIRRORS: %s\n' "$ORIGIN" >"$T/config.yaml"
kill -HUP "$PROXY_PID"
assert_log_line "reload (SIGHUP): keeping the previous settings" "REGISTRY_MIRRORS entry '$ORIGIN'"
mark=$(proxy_log_mark)
proxy_pull "$ORIGIN/library/fifth:1.0" "$T/fifth" --src-creds "$RCREDS" >"$T/pull-fifth.log" 2>&1 ||
  { cat "$T/pull-fifth.log"; fail "pull of fifth:1.0 after the reload failed"; }
verify_dir_digests "$T/fifth" "${IMAGE_DIGEST[library/fifth:1.0]}"
if tail -n +"$((mark + 1))" "$PROXY_LOG" | grep -q "upstream mirror.test"; then
  fail "the mirror dropped from the chain by SIGHUP was tried again"
fi
ok "the mirror dropped from the chain by SIGHUP is not tried any more"

assert_proxy_alive
finish
