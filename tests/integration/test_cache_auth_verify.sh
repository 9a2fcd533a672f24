#!/usr/bin/env bash
# CACHE_AUTH_MODE: with "shared" (rpardini's behaviour) anything cached is served to any client, even
# one without credentials for a private repository. With "verify" the registry must accept the
# client's own credentials (one HEAD, remembered briefly) before a cached manifest or blob is served;
# wrong or missing credentials get the registry's own 401, and nothing is served when the registry
# cannot be asked.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd skopeo curl
require_proxy_bin

start_standard_registry # registry.test with htpasswd alice:s3cret, library/app:1.0
blob=$(image_blobs "$SEED_DIR_APP" | tail -n1)
manifest_url="https://registry.test:$RPORT/v2/library/app/manifests/$DIGEST"
blob_url="https://registry.test:$RPORT/v2/library/app/blobs/$blob"
status_of() { pcurl -o /dev/null -w '%{http_code}' "$@"; }

# --- shared: the leak verify mode exists to close.
start_proxy "${STD_PROXY_ENV[@]}"
proxy_pull "$IMAGE" "$T/a1" --src-creds "$RCREDS" >/dev/null
assert_eq "$(status_of "$manifest_url")" 200 "shared: a client without credentials is served the cached manifest"
stop_proxy
rm -rf "$T/proxy/cache"

# --- verify.
start_proxy "${STD_PROXY_ENV[@]}" CACHE_AUTH_MODE="shared registry.test=verify"
assert_log_contains 'cached content served: shared registry\.test=verify'
proxy_pull "$IMAGE" "$T/a2" --src-creds "$RCREDS" >/dev/null
verify_dir_digests "$T/a2" "$DIGEST"
assert_eq "$(status_of "$manifest_url")" 401 "verify: no credentials, no cached manifest (the registry's 401)"
assert_eq "$(status_of "$blob_url")" 401 "verify: no credentials, no cached blob"
assert_eq "$(status_of -u alice:wrong "$blob_url")" 401 "verify: wrong credentials, no cached blob"
pcurl -D "$T/challenge.h" -o /dev/null "$blob_url" || true
assert_match "$(header_value WWW-Authenticate "$T/challenge.h")" '^Basic ' "the client sees the registry's own challenge"

gets_before=$(registry_requests reg GET "/v2/library/app/blobs/$blob")
mark=$(proxy_log_mark)
proxy_pull "$IMAGE" "$T/a3" --src-creds "$RCREDS" >/dev/null
verify_dir_digests "$T/a3" "$DIGEST"
assert_eq "$(registry_requests reg GET "/v2/library/app/blobs/$blob")" "$gets_before" \
  "verify: the right credentials are served from the cache (no blob GET upstream)"
assert_match "$(proxy_requests_since "$mark" | grep -c 'cache=HIT' || true)" '^[1-9]' "... as HITs"
assert_eq "$(status_of -u "$RCREDS" "$blob_url")" 200 "verify: curl with the right credentials gets the blob"

# The registry goes away: a credential accepted a moment ago is still served (remembered briefly),
# one never seen is not (503: it cannot be checked).
kill "${REG_PID[reg]}"
wait "${REG_PID[reg]}" 2>/dev/null || true
assert_eq "$(status_of -u "$RCREDS" "$blob_url")" 200 "verify: a recently accepted credential is served while the registry is down"
assert_eq "$(status_of -u bob:other "$blob_url")" 503 "verify: an unknown credential cannot be checked: 503"
assert_log_contains 'cannot verify access'
assert_log_not_contains 's3cret'
assert_proxy_alive
finish
