#!/usr/bin/env bash
# Disk full: the cache directory is a 3 MiB tmpfs, and a 4 MB layer does not fit. The client still
# gets every byte (digests verify), the log says the blob was not cached, the proxy keeps running,
# and what did fit is cached. Needs root for the tmpfs mount; skipped (77) otherwise.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd
require_proxy_bin

SMALL="$T/small-cache"
mkdir -p "$SMALL"
if ! mount -t tmpfs -o size=3m tmpfs "$SMALL" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (needs root)"
  exit 77
fi
# Unmount first, then lib.sh's own exit handler (which reads the exit status from $?).
trap 'rc=$?; umount -l "$SMALL" 2>/dev/null; (exit $rc); _on_exit' EXIT

start_standard_registry
seed_image_sizes "${REG_ADDR[reg]}" big/app:1 4000000 20000
DIGEST_BIG=$SEED_DIGEST
start_proxy "${STD_PROXY_ENV[@]}" "CACHE_DIR=$SMALL"

proxy_pull "registry.test:$RPORT/big/app:1" "$T/out" --src-creds "$RCREDS" ||
  fail "the pull failed although only the cache disk was full"
verify_dir_digests "$T/out" "$DIGEST_BIG"
assert_log_line registry.test GET "/blobs/" "not cached"
proxy_pull "registry.test:$RPORT/big/app:1" "$T/out2" --src-creds "$RCREDS" || fail "the second pull failed"
verify_dir_digests "$T/out2" "$DIGEST_BIG"
assert_proxy_alive
finish
