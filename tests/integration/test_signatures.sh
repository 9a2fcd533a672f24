#!/usr/bin/env bash
# Signatures through the cache, both ways clients find them:
#   1. the tag schema (cosign's fallback where a registry has no referrers API, as Debian's
#      docker-registry 2.8): an image and its signature artifact, pushed as the tag
#      sha256-<hex>.sig (an OCI manifest whose layer is a cosign simple-signing payload), pull
#      through the proxy, then again from a proxy on the same cache with OFFLINE=true;
#   2. the OCI 1.1 referrers API: GET /v2/<name>/referrers/<digest> is cached for
#      REFERRERS_CACHE_TIME (HIT), kept apart per artifactType filter, fetched again after it
#      (MISS), and served STALE once its upstream is gone. The upstream is fake_blob_registry.py
#      --referrers: no registry on these machines implements the API.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd openssl curl skopeo docker-registry htpasswd
require_proxy_bin

start_standard_registry
seed_image "${REG_ADDR[reg]}" library/signed:1.0 2 100000 --oci
SIGNED=${IMAGE_DIGEST[library/signed:1.0]}
SIG_TAG="sha256-${SIGNED#sha256:}.sig"
ORIGIN="registry.test:$RPORT"

# A cosign-style signature artifact, as a skopeo dir: layout.
$PY - "$T/sig" "$ORIGIN/library/signed" "$SIGNED" <<'PYEOF'
import hashlib, json, os, sys
out, repo, digest = sys.argv[1:4]
os.makedirs(out)
def blob(data):
    h = hashlib.sha256(data).hexdigest()
    open(os.path.join(out, h), "wb").write(data)
    return "sha256:" + h, len(data)
payload = json.dumps({"critical": {"identity": {"docker-reference": repo}, "image": {"docker-manifest-digest": digest},
                                   "type": "cosign container image signature"}, "optional": None}).encode()
layer, layer_size = blob(payload)
config, config_size = blob(json.dumps({"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": [layer]}}).encode())
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
            "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": layer, "size": layer_size,
                        "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQDfakesignatureforthetests=="}}]}
data = json.dumps(manifest).encode()
open(os.path.join(out, "manifest.json"), "wb").write(data)
open(os.path.join(out, "version"), "w").write("Directory Transport Version: 1.1\n")
print("sha256:" + hashlib.sha256(data).hexdigest())
PYEOF
SEED_DIGEST=$(sha256sum "$T/sig/manifest.json" | awk '{print "sha256:" $1}')
push_seed_dir "${REG_ADDR[reg]}" "library/signed:$SIG_TAG" "$T/sig" "$RCREDS" "its cosign-style signature"

PROXY_ENV=("${STD_PROXY_ENV[@]}" "AUTH_REGISTRIES=registry.test:$RPORT:$RCREDS")
start_proxy "${PROXY_ENV[@]}"
for ref in "signed:1.0" "signed:$SIG_TAG"; do
  proxy_pull "$ORIGIN/library/$ref" "$T/online-${ref##*:}" >"$T/pull.log" 2>&1 || { cat "$T/pull.log"; fail "pull of $ref failed"; }
  verify_dir_digests "$T/online-${ref##*:}" "${IMAGE_DIGEST[library/$ref]}"
done
stop_proxy

start_proxy "${PROXY_ENV[@]}" OFFLINE=true
for ref in "signed:1.0" "signed:$SIG_TAG"; do
  proxy_pull "$ORIGIN/library/$ref" "$T/offline-${ref##*:}" >"$T/pull.log" 2>&1 || { cat "$T/pull.log"; fail "offline pull of $ref failed"; }
  verify_dir_digests "$T/offline-${ref##*:}" "${IMAGE_DIGEST[library/$ref]}"
done
ok "the image and its signature (tag schema) pull offline"
stop_proxy

# 2. The referrers API.
cat >"$T/referrers.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$SEED_DIGEST","size":$(stat -c %s "$T/sig/manifest.json"),"artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json"}]}
JSON
start_fake_blob_registry refs.test 127.0.0.26 --referrers "$T/referrers.json"
start_proxy REGISTRIES=refs.test "UPSTREAM_RESOLVE=refs.test=127.0.0.26" "UPSTREAM_CA_BUNDLE=$TEST_CA_CRT" REFERRERS_CACHE_TIME=1s
URL="https://refs.test:$FAKE_PORT/v2/library/signed/referrers/$SIGNED"
FILTER="?artifactType=application%2Fvnd.dev.cosign.artifact.sig.v1%2Bjson"
upstream_gets() { grep -c "^GET /v2/library/signed/referrers/" "$FAKE_LOG" || true; }
get() { # SUFFIX N -> body in $T/refs.N, X-Cache in XC
  pcurl -D "$T/refs.$2.h" -o "$T/refs.$2" "$URL$1" || fail "GET referrers$1 failed"
  XC=$(header_value X-Cache "$T/refs.$2.h")
  cmp -s "$T/refs.$2" "$T/referrers.json" || fail "referrers answer $2 is not the upstream's list"
}
get "" 1
assert_eq "$XC/$(upstream_gets)" "MISS/1" "first referrers GET: MISS, fetched upstream"
get "" 2
assert_eq "$XC/$(upstream_gets)" "HIT/1" "second, within REFERRERS_CACHE_TIME: HIT, not fetched"
get "$FILTER" 3
assert_eq "$XC/$(upstream_gets)" "MISS/2" "with an artifactType filter: its own entry, fetched"
sleep 1.3
get "" 4
assert_eq "$XC/$(upstream_gets)" "MISS/3" "after REFERRERS_CACHE_TIME: fetched again"
_kill_pid "$FAKE_PID" fake-refs.test
sleep 1.3
get "" 5
assert_eq "$XC" STALE "upstream gone: the stored list is served STALE"
get "$FILTER" 6
assert_eq "$XC" STALE "the filtered list too"

assert_proxy_alive
finish
