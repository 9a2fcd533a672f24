#!/usr/bin/env bash
# `pullthrough cache ls|stats|rm|gc` on a real cache filled by skopeo pulls through
# the proxy: ls and stats work while the proxy runs, rm and gc refuse then (and
# name the admin API); on the stopped cache, rm of a tag keeps blobs another
# repository still uses, rm of a repository then frees them, rm of a blob digest
# removes exactly that file, and a later pull re-fetches exactly what was removed;
# gc removes orphan files and evicts down to --max-size.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

start_standard_registry # library/app:1.0, 3 layers
REG="registry.test:$RPORT"
mapfile -t BLOBS_APP1 < <(image_blobs "$SEED_DIR_APP")
seed_image "${REG_ADDR[reg]}" library/app:2.0 2 200000
DIGEST_APP2=$SEED_DIGEST
mapfile -t BLOBS_APP2 < <(image_blobs "$SEED_DIR")
# The same image as app:1.0 under another repository: its blobs are shared in the cache.
seed_image "${REG_ADDR[reg]}" library/copy:1.0 3 300000 --seed library/app:1.0
assert_eq "$SEED_DIGEST" "$DIGEST" "library/copy:1.0 is the same image as library/app:1.0"

CACHE="$T/proxy/cache"
cli() { "$PULLTHROUGH_BIN" cache --cache-dir "$CACHE" "$@"; }
json_get() { # JSON PYTHON-EXPRESSION-ON-j
  $PY -c 'import json, sys; j = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}
pull() { # REPO:TAG OUT
  proxy_pull "$REG/$1" "$2" --src-creds "$RCREDS" >"$2.log" 2>&1 || { cat "$2.log"; fail "pull of $1 failed"; }
  ok "pulled $1 through the proxy"
}
blob_gets() { # REPO DIGEST... : GETs of these blobs the registry has served
  local repo=$1 d n=0
  shift
  for d in "$@"; do n=$((n + $(registry_requests reg GET "/v2/$repo/blobs/$d"))); done
  echo "$n"
}
cached() { [ -f "$(cache_blob_path "$1")" ]; }

start_proxy "${STD_PROXY_ENV[@]}"
pull library/app:1.0 "$T/app1"
pull library/app:2.0 "$T/app2"
pull library/copy:1.0 "$T/copy1"
for d in "${BLOBS_APP1[@]}" "${BLOBS_APP2[@]}"; do cached "$d" || fail "blob $d not cached after the pulls"; done
ok "every blob of the three pulls is in the cache"

# --- ls and stats on the live cache (the proxy holds the index)
out=$(cli ls) || fail "cache ls on a live cache failed: $out"
ok "cache ls works while the proxy runs"
assert_match "$out" "^REPOSITORY +TAG +DIGEST +SIZE +BLOBS +LAST ACCESS" "ls prints a table header"
assert_match "$out" "$REG/library/app +1\.0 +sha256:${DIGEST:7:12} .* 4/4 " "ls lists app:1.0 with its 4 blobs"
assert_match "$out" "$REG/library/app +2\.0 +sha256:${DIGEST_APP2:7:12} .* 3/3 " "ls lists app:2.0"
assert_match "$out" "$REG/library/copy +1\.0 " "ls lists copy:1.0"
ls_json=$(cli ls --json)
assert_eq "$(json_get "$ls_json" 'len(j)')" 3 "ls --json: three images"
assert_eq "$(json_get "$ls_json" '[r["tag"] for r in j if r["repository"] == "library/app"]')" "['1.0', '2.0']" \
  "ls --json: app's tags"
app1_size=$(json_get "$ls_json" '[r["size"] for r in j if r["tag"] == "1.0" and r["repository"] == "library/app"][0]')
blob_bytes=0
for d in "${BLOBS_APP1[@]}"; do blob_bytes=$((blob_bytes + $(stat -c %s "$(cache_blob_path "$d")"))); done
manifest_size=$(stat -c %s "$(cache_blob_path "$DIGEST")")
assert_eq "$app1_size" "$((blob_bytes + manifest_size))" "ls --json: app:1.0's size is its manifest plus its blobs"
assert_eq "$(json_get "$(cli ls --json "$REG/library/co")" 'len(j)')" 1 "ls FILTER keeps matching repositories"

stats_json=$(cli stats --json) || fail "cache stats on a live cache failed"
assert_eq "$(json_get "$stats_json" '[r["registry"] for r in j["registries"]]')" "['$REG']" "stats: one registry"
assert_eq "$(json_get "$stats_json" 'j["registries"][0]["repositories"]')" 2 "stats: two repositories"
assert_eq "$(json_get "$stats_json" 'j["registries"][0]["blobs"]')" 7 "stats: 7 distinct blobs (copy shares app:1.0's)"
assert_eq "$(json_get "$stats_json" 'j["total_bytes"]')" "$(files_bytes "$CACHE/blobs")" \
  "stats: total bytes equal the blob files on disk"
assert_match "$(cli stats)" "^total: .* in 9 file\(s\)" "stats prints totals (7 blobs + 2 distinct manifests)"

# --- rm and gc refuse a live cache and point at the admin API
rc=0
out=$(cli rm "$REG/library/app:1.0" 2>&1) || rc=$?
assert_eq "$rc" 1 "cache rm on a live cache exits 1"
assert_contains "$out" "in use by a running pullthrough (pid $PROXY_PID" "cache rm names the running proxy"
assert_contains "$out" "curl -X DELETE http://127.0.0.1:3128/admin/cache/$REG/library/app:1.0" "cache rm shows the admin API call"
rc=0
out=$(cli gc --max-size 1m 2>&1) || rc=$?
assert_eq "$rc" 1 "cache gc on a live cache exits 1"
assert_contains "$out" "/admin/cache/gc?max_size=1048576" "cache gc shows the admin API call"
out=$(cli rm --dry-run "$REG/library/app:1.0") || fail "rm --dry-run on a live cache failed: $out"
assert_contains "$out" "would remove $REG/library/app:1.0: 1 tag entry, 1 manifest(s), 0 blob(s)" \
  "rm --dry-run works live and keeps blobs copy:1.0 uses"
assert_proxy_alive

stop_proxy TERM
assert_eq "$PROXY_EXIT" 0 "the proxy exits 0 on SIGTERM"

# --- rm a tag: tag and manifest go; the blobs stay (library/copy uses them)
out=$(cli rm "$REG/library/app:1.0") || fail "rm of a tag failed: $out"
assert_contains "$out" "removed $REG/library/app:1.0: 1 tag entry, 1 manifest(s), 0 blob(s)" "rm app:1.0"
ls_json=$(cli ls --json)
assert_eq "$(json_get "$ls_json" '[r["tag"] for r in j if r["repository"] == "library/app"]')" "['2.0']" \
  "after rm app:1.0, app has only 2.0"
for d in "${BLOBS_APP1[@]}"; do cached "$d" || fail "blob $d (shared with library/copy) was removed"; done
ok "blobs shared with library/copy are still cached"
cached "$DIGEST" || fail "the manifest file was removed although library/copy's tag uses it"
ok "the manifest file stays: library/copy:1.0 is the same manifest"

# --- rm a repository: now nothing references app:1.0's blobs any more
out=$(cli rm "$REG/library/copy") || fail "rm of a repository failed: $out"
assert_contains "$out" "removed $REG/library/copy: 1 tag entry, 1 manifest(s), 4 blob(s); 5 file(s) deleted" \
  "rm library/copy removes its tag, manifest and the 4 now unused blobs"
for d in "${BLOBS_APP1[@]}" "$DIGEST"; do ! cached "$d" || fail "file of $d is still in the cache"; done
ok "the files of app:1.0 / copy:1.0 are gone"
for d in "${BLOBS_APP2[@]}"; do cached "$d" || fail "blob $d of app:2.0 was removed"; done
ok "app:2.0's blobs are untouched"

# --- rm a blob digest: exactly that file
LAYER=${BLOBS_APP2[1]}
out=$(cli rm "$REG/library/app@$LAYER") || fail "rm of a blob digest failed: $out"
assert_contains "$out" "0 tag entries, 0 manifest(s), 1 blob(s); 1 file(s) deleted" "rm NAME@BLOB removes one blob"
! cached "$LAYER" || fail "blob $LAYER still cached"
ok "the blob file is gone"
rc=0
out=$(cli rm "$REG/library/app:9.9" 2>&1) || rc=$?
assert_eq "$rc" 1 "rm of something not cached exits 1"
assert_contains "$out" "nothing cached for $REG/library/app:9.9" "and says so"
rc=0
out=$(cli rm "library/app" 2>&1) || rc=$?
assert_eq "$rc" 1 "rm of a reference without registry exits 1"
assert_contains "$out" "expected registry/name" "and explains the syntax"

# --- a later pull re-fetches exactly what was removed
start_proxy "${STD_PROXY_ENV[@]}"
before=$(blob_gets library/app "${BLOBS_APP2[@]}")
pull library/app:2.0 "$T/app2-again"
verify_dir_digests "$T/app2-again" "$DIGEST_APP2"
assert_eq "$(($(blob_gets library/app "${BLOBS_APP2[@]}") - before))" 1 "re-pull of app:2.0 fetched only the removed blob"
assert_eq "$(registry_requests reg GET "/v2/library/app/blobs/$LAYER")" 2 "and that blob was fetched a second time"
before=$(blob_gets library/app "${BLOBS_APP1[@]}")
pull library/app:1.0 "$T/app1-again"
verify_dir_digests "$T/app1-again" "$DIGEST"
assert_eq "$(($(blob_gets library/app "${BLOBS_APP1[@]}") - before))" 4 "re-pull of app:1.0 fetched its 4 removed blobs"

# --- rm a manifest digest: its tag goes too
stop_proxy TERM
out=$(cli rm --dry-run "$REG/library/app@$DIGEST_APP2")
assert_contains "$out" "would remove $REG/library/app@$DIGEST_APP2: 1 tag entry, 1 manifest(s), 3 blob(s)" \
  "rm --dry-run NAME@MANIFEST plans the tag, the manifest and 3 blobs"
cached "$LAYER" || fail "--dry-run removed something"
ok "--dry-run changed nothing"
out=$(cli rm --json "$REG/library/app@$DIGEST_APP2")
assert_eq "$(json_get "$out" 'j[0]["removed_files"]')" 4 "rm NAME@MANIFEST --json: 4 files deleted"
assert_eq "$(json_get "$(cli ls --json)" '[r["tag"] for r in j]')" "['1.0']" "only app:1.0 is left"

# --- gc: orphan files go, then LRU eviction down to --max-size
ORPHAN=$(cache_blob_path "sha256:$(printf 'orphan' | sha256sum | cut -d' ' -f1)")
mkdir -p "$(dirname "$ORPHAN")"
printf 'orphan' >"$ORPHAN"
before=$(json_get "$(cli stats --json)" 'j["total_bytes"]')
out=$(cli gc --json --max-size 400000) || fail "gc failed: $out"
assert_eq "$(json_get "$out" 'j["orphan_files_removed"]')" 1 "gc removed the orphan file"
[ ! -e "$ORPHAN" ] || fail "orphan file still there"
after=$(json_get "$out" 'j["bytes_after"]')
if [ "$after" -gt 400000 ] || [ "$before" -le 400000 ]; then fail "gc: $before -> $after bytes, cap 400000"; fi
ok "gc evicted from $before to $after bytes (cap 400000)"
assert_eq "$(files_bytes "$CACHE/blobs")" "$after" "the files on disk match the index after gc"
out=$(cli gc --max-size 0)
assert_contains "$out" "cache now holds 0 B" "gc --max-size 0 empties the cache"
assert_eq "$(files_count "$CACHE/blobs")" 0 "no blob file left"
assert_eq "$(cli ls)" "no images cached" "ls of an empty cache"

finish
