#!/usr/bin/env bash
# ALLOW_PUSH: by default the proxy refuses every write on /v2/ (POST/PUT/PATCH/DELETE) with a 405
# naming ALLOW_PUSH, and nothing reaches the registry; with ALLOW_PUSH=true a real skopeo push
# goes through the proxy (uploads streamed, never cached: BYPASS) and lands in the registry.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_standard_registry
BASE="https://registry.test:$RPORT"
DIRECT="${REG_ADDR[reg]}"
PUSH_REF="registry.test:$RPORT/pushed:1"
PUSH_SRC="$T/push-src"
PUSH_DIGEST=$($PY "$IT_DIR/make_image.py" "$PUSH_SRC" --layers 2 --size 1500000 --seed pushed-through-proxy)
mapfile -t PUSH_BLOBS < <(image_blobs "$PUSH_SRC")

proxy_push() { # OUTFILE : skopeo copy dir:PUSH_SRC -> docker://PUSH_REF through the proxy
  HTTPS_PROXY="$PROXY_URL" NO_PROXY="" "${SKOPEO[@]}" copy --preserve-digests \
    --dest-cert-dir "$PROXY_CERT_DIR" --dest-creds "$RCREDS" \
    "dir:$PUSH_SRC" "docker://$PUSH_REF" >"$1" 2>&1
}
direct_inspect() { # REPO:TAG -> raw manifest on stdout (straight to the registry, no proxy)
  "${SKOPEO[@]}" inspect --raw --cert-dir "$TEST_CA_DIR" --creds "$RCREDS" "docker://$DIRECT/$1"
}
blob_files() { files_count "$T/proxy/cache/blobs"; }

# ------------------------------------------------ 1. default (ALLOW_PUSH unset): pushes refused
start_proxy "${STD_PROXY_ENV[@]}"
if proxy_push "$T/push-denied.log"; then
  cat "$T/push-denied.log"
  fail "skopeo push through the proxy succeeded although ALLOW_PUSH is off"
fi
ok "skopeo push through the proxy fails with default settings"
assert_contains "$(cat "$T/push-denied.log")" 405 "skopeo reports the 405"
assert_log_line "host=registry.test:$RPORT" method=POST path=/v2/pushed/blobs/uploads/ status=405
assert_eq "$(registry_requests reg POST /v2/pushed/blobs/uploads/)" 0 "the refused upload never reached the registry"
if direct_inspect pushed:1 >/dev/null 2>&1; then fail "pushed:1 exists in the registry after a refused push"; fi
ok "pushed:1 is not in the registry"

# curl writes: 405, body names ALLOW_PUSH, registry untouched.
check_refused() { # METHOD PATH [curl args...]
  local method=$1 path=$2 code before
  shift 2
  before=$(registry_requests reg "$method" "$path") # (seeding did POST uploads directly)
  code=$(pcurl -u "$RCREDS" -X "$method" -o "$T/refused.body" -D "$T/refused.h" -w '%{http_code}' "$@" "$BASE$path")
  assert_eq "$code" 405 "curl $method $path with default settings: 405"
  assert_contains "$(cat "$T/refused.body")" ALLOW_PUSH "the 405 body of $method $path names ALLOW_PUSH"
  assert_log_line "host=registry.test:$RPORT" "method=$method" "path=$path" status=405
  assert_eq "$(registry_requests reg "$method" "$path")" "$before" "$method $path never reached the registry"
}
printf '{"schemaVersion":2}' >"$T/fake-manifest.json"
check_refused PUT /v2/library/app/manifests/evil \
  -H 'Content-Type: application/vnd.docker.distribution.manifest.v2+json' --data-binary "@$T/fake-manifest.json"
check_refused DELETE "/v2/library/app/manifests/$DIGEST"
check_refused PATCH /v2/library/app/blobs/uploads/some-uuid \
  -H 'Content-Type: application/octet-stream' --data-binary "@$T/fake-manifest.json"
check_refused POST /v2/library/app/blobs/uploads/
[ "$(direct_inspect library/app:1.0 | sha256sum | awk '{print "sha256:" $1}')" = "$DIGEST" ] ||
  fail "library/app:1.0 changed in the registry after refused writes"
ok "library/app:1.0 is intact in the registry"
# A read on the same proxy still works after all those refusals.
code=$(pcurl -o /dev/null -w '%{http_code}' -u "$RCREDS" "$BASE/v2/library/app/manifests/1.0" \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json')
assert_eq "$code" 200 "reads still pass with ALLOW_PUSH off"
assert_proxy_alive
stop_proxy TERM

# ------------------------------------------------ 2. ALLOW_PUSH=true: the push goes through
rm -rf "$T/proxy/cache"
start_proxy "${STD_PROXY_ENV[@]}" ALLOW_PUSH=true
# A pull first: the cache is on and does store what is pulled.
proxy_pull "$IMAGE" "$T/out-pull" --src-creds "$RCREDS" >"$T/pull.log" 2>&1 ||
  { cat "$T/pull.log"; fail "pull of $IMAGE through the proxy with ALLOW_PUSH=true failed"; }
verify_dir_digests "$T/out-pull" "$DIGEST"
BLOBS_BEFORE=$(blob_files)
[ "$BLOBS_BEFORE" -gt 0 ] || fail "the pull stored no blob files in the cache ($T/proxy/cache/blobs)"
ok "the pull filled the cache ($BLOBS_BEFORE blob files)"
mark=$(proxy_log_mark)
proxy_push "$T/push-allowed.log" || { cat "$T/push-allowed.log"; fail "skopeo push through the proxy with ALLOW_PUSH=true failed"; }
ok "skopeo pushed $PUSH_REF through the proxy with ALLOW_PUSH=true"

assert_log_line "host=registry.test:$RPORT" method=POST path=/v2/pushed/blobs/uploads/ status=202 cache=BYPASS
assert_log_line "host=registry.test:$RPORT" method=PATCH 're:path=/v2/pushed/blobs/uploads/\S+' status=202 cache=BYPASS
assert_log_line "host=registry.test:$RPORT" method=PUT 're:path=/v2/pushed/blobs/uploads/\S+' status=201 cache=BYPASS
assert_log_line "host=registry.test:$RPORT" method=PUT path=/v2/pushed/manifests/1 status=201 cache=BYPASS
writes=$(proxy_requests_since "$mark" 'method=(POST|PUT|PATCH|DELETE) ')
[ -n "$writes" ] || fail "no write requests logged for the push"
if grep -vE ' cache=BYPASS( |$)' <<<"$writes" | grep -q .; then
  fail "a push request was not BYPASS: $(grep -vE ' cache=BYPASS( |$)' <<<"$writes" | head -3)"
fi
ok "every write request of the push is cache=BYPASS ($(wc -l <<<"$writes") of them)"
if grep -vE ' status=20[0-9] ' <<<"$writes" | grep -q .; then
  fail "a write of the push was not answered 2xx: $(grep -vE ' status=20[0-9] ' <<<"$writes" | head -3)"
fi
ok "every write of the push got a 2xx from the registry"
assert_ne "$(registry_requests reg POST /v2/pushed/blobs/uploads/)" 0 "the registry saw the upload POST"

# The registry has the image (straight from the registry, no proxy).
direct_inspect pushed:1 >"$T/pushed.manifest" || fail "skopeo inspect of pushed:1 straight from the registry failed"
assert_eq "$(sha256_of "$T/pushed.manifest")" "$PUSH_DIGEST" "the registry holds the pushed manifest (digest)"
"${SKOPEO[@]}" copy -q --src-cert-dir "$TEST_CA_DIR" --src-creds "$RCREDS" \
  "docker://$DIRECT/pushed:1" "dir:$T/pushed-back" >"$T/copy-back.log" 2>&1 ||
  { cat "$T/copy-back.log"; fail "copying pushed:1 straight back from the registry failed"; }
verify_dir_digests "$T/pushed-back" "$PUSH_DIGEST"

# Nothing of the push went into the cache.
assert_eq "$(blob_files)" "$BLOBS_BEFORE" "the cache gained no blob files from the push"
for b in "${PUSH_BLOBS[@]}" "$PUSH_DIGEST"; do
  [ ! -e "$(cache_blob_path "$b")" ] || fail "pushed blob $b is in the proxy cache ($(cache_blob_path "$b"))"
done
ok "none of the pushed blobs (nor the manifest) is in the proxy cache"

# The 404s the push's HEAD probes got were not remembered: pulling the image through the proxy works.
proxy_pull "registry.test:$RPORT/pushed:1" "$T/out-pushed" --src-creds "$RCREDS" >"$T/pull-pushed.log" 2>&1 ||
  { cat "$T/pull-pushed.log"; fail "pulling the just-pushed pushed:1 through the proxy failed"; }
verify_dir_digests "$T/out-pushed" "$PUSH_DIGEST"
BLOBS_BEFORE=$(blob_files)

# DELETE passes too: the manifest disappears from the registry.
code=$(pcurl -o /dev/null -w '%{http_code}' -u "$RCREDS" -X DELETE "$BASE/v2/pushed/manifests/$PUSH_DIGEST")
assert_eq "$code" 202 "curl DELETE of the pushed manifest through the proxy with ALLOW_PUSH=true: 202"
assert_log_line "host=registry.test:$RPORT" method=DELETE "path=/v2/pushed/manifests/$PUSH_DIGEST" status=202 cache=BYPASS
if direct_inspect pushed:1 >/dev/null 2>&1; then fail "pushed:1 still in the registry after the DELETE"; fi
ok "the DELETE reached the registry: pushed:1 is gone"
assert_eq "$(blob_files)" "$BLOBS_BEFORE" "the DELETE added no blob files to the cache"
assert_proxy_alive
finish
