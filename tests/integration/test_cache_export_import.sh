#!/usr/bin/env bash
# `cache export` and `cache import` for air-gapped sites. A proxy pulls three images from
# registry.test: a single-platform OCI image, a two-platform OCI index (only linux/amd64 pulled,
# so linux/arm64 is not cached) and a Docker schema2 image. With the proxy stopped they are
# exported to one tar (the uncached platform skipped, and said so); skopeo reads the OCI images
# back from it (oci-archive:) with every digest intact. The registry stops; the archive is
# imported into an empty cache, and a second proxy on that cache, OFFLINE=true, serves all three
# images (tags STALE, blobs HIT). Damaged and hostile archives (a flipped byte in a blob, a ../ path, a
# symlink, a truncated file, a missing blob) are refused, non-zero, and leave the cache's
# `cache ls` and files as they were.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

make_test_pki "$T/pki"
RCREDS=alice:s3cret
start_registry reg "$REGISTRY_IP" auto --htpasswd "$RCREDS"
RPORT=${REG_PORT[reg]}
REG="registry.test:$RPORT"

seed_image "${REG_ADDR[reg]}" library/single:1.0 2 100000 --oci
SINGLE_DIGEST=$SEED_DIGEST
seed_image "${REG_ADDR[reg]}" library/docker:1.0 2 100000
DOCKER_DIGEST=$SEED_DIGEST

SEED="$T/seed/multi"
mapfile -t OUT < <($PY "$IT_DIR/make_image.py" "$SEED" --layers 1 --size 100000 --seed multi --format oci \
  --platforms linux/amd64,linux/arm64)
INDEX_DIGEST=${OUT[0]}
AMD64_DIGEST=${OUT[1]#linux/amd64 }
ARM64_DIGEST=${OUT[2]#linux/arm64 }
log "seeding ${REG_ADDR[reg]}/library/multi:2.0 (index $INDEX_DIGEST: amd64 $AMD64_DIGEST, arm64 $ARM64_DIGEST)"
"${SKOPEO[@]}" copy -q --all --preserve-digests --dest-cert-dir "$TEST_CA_DIR" --dest-creds "$RCREDS" \
  "dir:$SEED" "docker://${REG_ADDR[reg]}/library/multi:2.0" >"$T/seed.log" 2>&1 ||
  { cat "$T/seed.log"; fail "seeding the index failed"; }

PROXY_ENV=(REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT"
  "AUTH_REGISTRIES=registry.test:$RCREDS")

# pull IMAGE OUT DIGEST LABEL [skopeo args...]
pull() {
  local image=$1 out=$2 digest=$3 label=$4
  shift 4
  proxy_pull "$image" "$out" "$@" >"$out.log" 2>&1 || { cat "$out.log"; fail "$label failed"; }
  ok "$label"
  verify_dir_digests "$out" "$digest"
}

pull_all() { # PREFIX WHEN
  pull "$REG/library/single:1.0" "$T/$1-single" "$SINGLE_DIGEST" "$2: single-platform OCI image"
  pull "$REG/library/docker:1.0" "$T/$1-docker" "$DOCKER_DIGEST" "$2: Docker schema2 image"
  pull "$REG/library/multi:2.0" "$T/$1-multi" "$AMD64_DIGEST" "$2: linux/amd64 of the index" \
    --override-os linux --override-arch amd64
}

# --- fill a cache through a proxy, then stop it
start_proxy "${PROXY_ENV[@]}"
pull_all online "pull through the proxy"
stop_proxy
CACHE1="$T/proxy/cache"

# --- export
ARCHIVE="$T/images.tar"
start=$(date +%s.%N)
"$PULLTHROUGH_BIN" cache export --cache-dir "$CACHE1" -o "$ARCHIVE" \
  "$REG/library/single:1.0" "$REG/library/multi:2.0" "$REG/library/docker:1.0" >"$T/export.out" 2>"$T/export.err" ||
  { cat "$T/export.out" "$T/export.err"; fail "cache export failed"; }
ok "cache export wrote $(stat -c %s "$ARCHIVE") bytes in $(echo "$(date +%s.%N) - $start" | bc) s"
assert_file_contains "$T/export.err" "skipped platform linux/arm64 $ARM64_DIGEST" \
  "export names the platform it skipped (linux/arm64, never pulled)"
assert_file_contains "$T/export.out" "exported $REG/library/multi:2.0 \\($INDEX_DIGEST, 2 manifest" \
  "the index goes with its one cached platform"

tar -tf "$ARCHIVE" >"$T/archive.list" || fail "GNU tar cannot list the archive"
assert_file_contains "$T/archive.list" '^oci-layout$' "GNU tar lists oci-layout"
assert_file_contains "$T/archive.list" '^index.json$' "GNU tar lists index.json"
assert_file_contains "$T/archive.list" "^blobs/sha256/${INDEX_DIGEST#sha256:}\$" "GNU tar lists the index blob"

# skopeo reads the OCI images straight from the archive, by the name in index.json
"${SKOPEO[@]}" copy "oci-archive:$ARCHIVE:$REG/library/single:1.0" "dir:$T/oa-single" >"$T/oa.log" 2>&1 ||
  { cat "$T/oa.log"; fail "skopeo cannot read the single-platform image from the archive"; }
verify_dir_digests "$T/oa-single" "$SINGLE_DIGEST"
"${SKOPEO[@]}" copy --override-os linux --override-arch amd64 "oci-archive:$ARCHIVE:$REG/library/multi:2.0" \
  "dir:$T/oa-multi" >"$T/oa.log" 2>&1 || { cat "$T/oa.log"; fail "skopeo cannot read the index from the archive"; }
verify_dir_digests "$T/oa-multi" "$AMD64_DIGEST"

# an image the cache does not hold: an error, and no archive
status=0
"$PULLTHROUGH_BIN" cache export --cache-dir "$CACHE1" -o "$T/none.tar" "$REG/library/single:9.9" \
  >/dev/null 2>"$T/none.err" || status=$?
assert_ne "$status" 0 "exporting an image not cached fails"
assert_file_contains "$T/none.err" "library/single:9.9: not cached" "and says which image is not cached"
[ ! -e "$T/none.tar" ] || fail "a failed export left $T/none.tar behind"
ok "a failed export writes no archive"

# --- the air-gapped side: the registry is gone, the archive goes into an empty cache
kill -KILL "${REG_PID[reg]}" 2>/dev/null || true
wait "${REG_PID[reg]}" 2>/dev/null || true
ok "registry stopped"
CACHE2="$T/cache2"
start=$(date +%s.%N)
"$PULLTHROUGH_BIN" cache import --cache-dir "$CACHE2" "$ARCHIVE" >"$T/import.out" 2>"$T/import.err" ||
  { cat "$T/import.out" "$T/import.err"; fail "cache import failed"; }
ok "cache import took $(echo "$(date +%s.%N) - $start" | bc) s: $(tail -n 1 "$T/import.out")"
assert_file_contains "$T/import.err" "linux/arm64 manifest $ARM64_DIGEST is not in the archive" \
  "import says which platform the archive lacks"
"$PULLTHROUGH_BIN" cache ls --cache-dir "$CACHE2" >"$T/ls.out" || fail "cache ls on the imported cache failed"
for repo in single:1.0 multi:2.0 docker:1.0; do
  assert_file_contains "$T/ls.out" "library/${repo%%:*} +${repo#*:}" "cache ls lists library/$repo"
done

start_proxy "${PROXY_ENV[@]}" CACHE_DIR="$CACHE2" OFFLINE=true
mark=$(proxy_log_mark)
pull_all offline "pull from the imported cache, registry down"
wait_proxy_requests "$mark" 1 "path=/v2/library/multi/manifests/2.0 "
lines=$(proxy_requests_since "$mark" "path=/v2/library/[a-z]*/manifests/[0-9.]* ")
bad=$(grep -vE 'status=200 .*cache=(STALE|HIT)( |$)' <<<"$lines" || true)
[ -z "$bad" ] || fail "tag requests not served STALE or HIT from the import: $bad"
ok "tags served from the import ($(wc -l <<<"$lines") request(s), STALE or HIT)"
lines=$(proxy_requests_since "$mark" "path=/v2/library/[a-z]*/blobs/")
bad=$(grep -vE 'status=200 .*cache=HIT( |$)' <<<"$lines" || true)
[ -z "$bad" ] || fail "blob requests not HIT: $bad"
ok "blobs HIT ($(wc -l <<<"$lines") request(s))"
stop_proxy

# --- hostile and damaged archives: refused, the cache unchanged
state() { # what must not change: cache ls, and every file outside the RocksDB directory
  "$PULLTHROUGH_BIN" cache ls --cache-dir "$CACHE2" --json
  (cd "$CACHE2" && find . -path ./index -prune -o -type f -printf '%p %s\n' | sort)
}
state >"$T/state.before"

$PY - "$ARCHIVE" "$T/hostile" <<'PYEOF'
import io, os, shutil, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
with tarfile.open(src) as t:
    members = t.getmembers()
    big = max(members, key=lambda m: m.size)
    data = bytearray(open(src, "rb").read())
# a flipped byte inside the largest blob
flipped = bytearray(data)
flipped[big.offset_data + big.size // 2] ^= 0x01
open(os.path.join(out, "flipped.tar"), "wb").write(flipped)
# cut in half
open(os.path.join(out, "truncated.tar"), "wb").write(data[: len(data) // 2])

def archive(name, extra):
    with tarfile.open(os.path.join(out, name), "w", format=tarfile.USTAR_FORMAT) as dst, tarfile.open(src) as t:
        for m in t.getmembers():
            if m.isfile() and m.name != extra.get("drop"):
                dst.addfile(m, t.extractfile(m))
        for info, payload in extra.get("add", []):
            dst.addfile(info, io.BytesIO(payload) if payload is not None else None)

evil = tarfile.TarInfo("../../evil")
evil.size = 4
archive("dotdot.tar", {"add": [(evil, b"evil")]})
link = tarfile.TarInfo("blobs/sha256/" + "0" * 64)
link.type = tarfile.SYMTYPE
link.linkname = "/etc/passwd"
archive("symlink.tar", {"add": [(link, None)]})
archive("missing-blob.tar", {"drop": big.name})
PYEOF

refused() { # FILE WHAT NEEDLE
  local status=0
  "$PULLTHROUGH_BIN" cache import --cache-dir "$CACHE2" "$1" >"$T/refused.out" 2>"$T/refused.err" || status=$?
  assert_ne "$status" 0 "$2: import exits non-zero"
  assert_file_contains "$T/refused.err" "$3" "$2: refused ($(head -c 200 "$T/refused.err" | tr '\n' ' '))"
  state >"$T/state.after"
  diff -u "$T/state.before" "$T/state.after" || fail "$2: the cache changed"
  ok "$2: cache ls and the cache's files unchanged"
}
refused "$T/hostile/flipped.tar" "a flipped byte in a blob" "does not match its digest"
refused "$T/hostile/truncated.tar" "a truncated archive" "truncated"
refused "$T/hostile/dotdot.tar" "a ../ path" "unsafe path"
refused "$T/hostile/symlink.tar" "a symbolic link" "symbolic link"
refused "$T/hostile/missing-blob.tar" "a blob referenced but missing" "which the archive does not hold"
[ ! -e "$T/evil" ] && [ ! -e "$(dirname "$T")/evil" ] || fail "something was written outside the cache"

finish
