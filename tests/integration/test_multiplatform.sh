#!/usr/bin/env bash
# A multi-platform image: registry.test holds multi/app:1 as a Docker manifest
# list over linux/amd64 and linux/arm64 (schema2 manifests; make_image.py
# --platforms). Through the proxy, a client that accepts lists gets the list, and
# one that accepts only Docker schema2 manifests gets the linux/amd64 manifest
# (distribution picks the default platform for it, as Docker Hub does); skopeo
# pulls each platform. Then the registry stops, and every one of them still gets
# its answer from the cache — including a client whose Accept header (schema2 or
# OCI manifest) nobody sent while the registry was up: the cached amd64 manifest
# is what it accepts.
# (An OCI-manifest-only Accept is not used online: distribution 2.8 answers it with
# a schema1 conversion of the amd64 manifest.)
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

LIST=application/vnd.docker.distribution.manifest.list.v2+json
INDEX=application/vnd.oci.image.index.v1+json
V2=application/vnd.docker.distribution.manifest.v2+json
OCI=application/vnd.oci.image.manifest.v1+json
REPO=multi/app

make_test_pki "$T/pki"
RCREDS=alice:s3cret
start_registry reg "$REGISTRY_IP" auto --htpasswd "$RCREDS"
RPORT=${REG_PORT[reg]}

# The list and both platform images (one 100 kB layer each), pushed with --all.
SEED="$T/seed/multi"
mapfile -t OUT < <($PY "$IT_DIR/make_image.py" "$SEED" --layers 1 --size 100000 --seed multi \
  --platforms linux/amd64,linux/arm64)
LIST_DIGEST=${OUT[0]}
AMD64_DIGEST=${OUT[1]#linux/amd64 }
ARM64_DIGEST=${OUT[2]#linux/arm64 }
log "seeding ${REG_ADDR[reg]}/$REPO:1 (list $LIST_DIGEST: amd64 $AMD64_DIGEST, arm64 $ARM64_DIGEST)"
"${SKOPEO[@]}" copy -q --all --preserve-digests --dest-cert-dir "$TEST_CA_DIR" --dest-creds "$RCREDS" \
  "dir:$SEED" "docker://${REG_ADDR[reg]}/$REPO:1" >"$T/seed.log" 2>&1 ||
  { cat "$T/seed.log"; fail "seeding the manifest list failed"; }

start_proxy REGISTRIES=registry.test "UPSTREAM_RESOLVE=registry.test=$REGISTRY_IP" \
  "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" "AUTH_REGISTRIES=registry.test:$RCREDS"
TAG_URL="https://registry.test:$RPORT/v2/$REPO/manifests/1"
IMAGE="registry.test:$RPORT/$REPO:1"

# get_tag NAME METHOD WANT_DIGEST WANT_TYPE ACCEPT... — METHOD of the tag through the
# proxy, one Accept field per ACCEPT (podman, skopeo and docker send one field per
# type): 200, the manifest WANT_DIGEST (body, for a GET, and Docker-Content-Digest)
# of Content-Type WANT_TYPE.
get_tag() {
  local name=$1 method=$2 digest=$3 type=$4 what a
  shift 4
  local args=(-o "$T/$name.body")
  [ "$method" = GET ] || args=(-I -o /dev/null)
  for a in "$@"; do args+=(-H "Accept: $a"); done
  what=$(printf '[%s]' "$@")
  what="$method tag ($name), Accept: ${what//application\/vnd./}"
  pcurl "${args[@]}" -D "$T/$name.h" "$TAG_URL" || fail "$what: curl failed"
  assert_eq "$(response_status "$T/$name.h")" 200 "$what: 200"
  [ "$method" = HEAD ] || assert_eq "$(sha256_of "$T/$name.body")" "$digest" "$what: the manifest $digest"
  assert_eq "$(header_value Docker-Content-Digest "$T/$name.h")" "$digest" "$what: Docker-Content-Digest"
  assert_eq "$(header_value Content-Type "$T/$name.h")" "$type" "$what: Content-Type $type"
}

# pull_arch ARCH DIGEST OUT — skopeo picks ARCH from the list.
pull_arch() {
  proxy_pull "$IMAGE" "$3" --override-arch "$1" --override-os linux >"$3.log" 2>&1 ||
    { cat "$3.log"; fail "skopeo pull of $IMAGE for linux/$1 failed"; }
  ok "skopeo pulled $IMAGE for linux/$1"
  verify_dir_digests "$3" "$2"
}

# --- online
get_tag list GET "$LIST_DIGEST" "$LIST" "$LIST, $INDEX, $V2, $OCI"
get_tag v2 GET "$AMD64_DIGEST" "$V2" "$V2"
# podman's and skopeo's fields, in their order (the OCI manifest first)
get_tag podman-like GET "$LIST_DIGEST" "$LIST" "$OCI" "$V2" "$LIST" "$INDEX"
pull_arch amd64 "$AMD64_DIGEST" "$T/amd64"
pull_arch arm64 "$ARM64_DIGEST" "$T/arm64"

# --- offline
kill -KILL "${REG_PID[reg]}" 2>/dev/null || true
wait "${REG_PID[reg]}" 2>/dev/null || true
curl -s -o /dev/null --max-time 2 --cacert "$TEST_CA_CRT" "https://${REG_ADDR[reg]}/v2/" &&
  fail "the registry still answers after being killed"
ok "registry stopped (killed)"

get_tag list-offline GET "$LIST_DIGEST" "$LIST" "$LIST, $INDEX, $V2, $OCI"
get_tag v2-offline GET "$AMD64_DIGEST" "$V2" "$V2"
get_tag podman-like-offline GET "$LIST_DIGEST" "$LIST" "$OCI" "$V2" "$LIST" "$INDEX"
pull_arch amd64 "$AMD64_DIGEST" "$T/amd64-offline"
pull_arch arm64 "$ARM64_DIGEST" "$T/arm64-offline"
get_tag v2-head-offline HEAD "$AMD64_DIGEST" "$V2" "$V2"
# Accept headers nobody sent while the registry was up, without lists: the cached
# amd64 manifest is what they accept (in one field, and in two, the OCI type first).
get_tag v2-oci-offline GET "$AMD64_DIGEST" "$V2" "$V2, $OCI"
get_tag oci-v2-fields-offline GET "$AMD64_DIGEST" "$V2" "$OCI" "$V2"

assert_proxy_alive
finish
