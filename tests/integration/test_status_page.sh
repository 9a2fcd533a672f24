#!/usr/bin/env bash
# The status page (GET /) as a browser shows it: headless Chromium loads it from
# the proxy and dumps the rendered DOM. After an image is pulled twice (MISS,
# then HIT), the page shows the hit ratio and the bytes served from the cache and
# from upstream that /metrics reports, the cache entries, the image among the top
# images, and the links a client needs (/ca.crt, /setup/systemd). A fresh proxy's
# page says n/a rather than a made-up ratio. Skipped (77) without chromium.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
require_cmd docker-registry skopeo openssl curl htpasswd chromium
require_proxy_bin

# render NAME — the proxy's status page as Chromium renders it, in $T/NAME.html.
render() {
  local profile
  profile=$(mktemp -d "$T/chromium.XXXXXX")
  timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --no-proxy-server \
    --user-data-dir="$profile" --dump-dom "$PROXY_URL/" >"$T/$1.html" 2>"$T/$1.chromium.log" ||
    { tail -20 "$T/$1.chromium.log"; fail "chromium could not render $PROXY_URL/"; }
  [ -s "$T/$1.html" ] || { tail -20 "$T/$1.chromium.log"; fail "chromium dumped nothing for $PROXY_URL/"; }
  ok "chromium rendered the status page ($1, $(wc -c <"$T/$1.html") bytes of DOM)"
}

# element NAME ID — the text content of the element with that id in $T/NAME.html
# ("absent" if there is none).
element() {
  $PY - "$T/$1.html" "$2" <<'PYEOF'
import sys
from html.parser import HTMLParser

class Finder(HTMLParser):
    def __init__(self, wanted):
        super().__init__()
        self.wanted, self.depth, self.text, self.found = wanted, 0, [], False
    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += 1
        elif dict(attrs).get("id") == self.wanted:
            self.depth, self.found = 1, True
    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1
    def handle_data(self, data):
        if self.depth:
            self.text.append(data)

f = Finder(sys.argv[2])
f.feed(open(sys.argv[1], encoding="utf-8").read())
print(" ".join("".join(f.text).split()) if f.found else "absent")
PYEOF
}

metric() { $PY "$IT_DIR/prom_query.py" "$T/metrics.prom" "$1"; }

start_standard_registry
start_proxy "${STD_PROXY_ENV[@]}"

# --- a fresh proxy
curl -sS --fail --max-time 10 -D "$T/page.h" -o "$T/page.raw" "$PROXY_URL/" || fail "GET / failed"
assert_match "$(header_value Content-Type "$T/page.h")" '^text/html' "GET / is served as text/html"
assert_not_contains "$(cat "$T/page.raw")" "<script" "the page has no script"
assert_not_contains "$(grep -oE '(src|href)="[a-z]+://[^"]*"' "$T/page.raw" || true)" "://" \
  "the page loads nothing from elsewhere"
render fresh
assert_eq "$(element fresh hit-ratio)" "n/a" "a fresh proxy shows no hit ratio yet"
assert_eq "$(element fresh bytes-from-cache)" 0 "a fresh proxy has served 0 bytes from the cache"

# --- pull twice: MISS, then HIT
mark=$(proxy_log_mark)
proxy_pull "$IMAGE" "$T/out1" --src-creds "$RCREDS" >"$T/pull1.log" 2>&1 || { cat "$T/pull1.log"; fail "first pull failed"; }
wait_proxy_requests "$mark" 5 "path=/v2/library/app/(blobs|manifests)/"
mark=$(proxy_log_mark)
proxy_pull "$IMAGE" "$T/out2" --src-creds "$RCREDS" >"$T/pull2.log" 2>&1 || { cat "$T/pull2.log"; fail "second pull failed"; }
wait_proxy_requests "$mark" 5 "path=/v2/library/app/(blobs|manifests)/.* cache=HIT"
verify_dir_digests "$T/out2" "$DIGEST"
sleep 0.5 # the last access-log line (and its count) may trail the client

# What the page must show, from /metrics (neither the page nor a scrape is counted).
curl -sS --fail --max-time 10 -o "$T/metrics.prom" "$PROXY_URL/metrics" || fail "GET /metrics failed"
hits=$(($(metric 'pullthrough_requests_total{cache="HIT"}') + 0))
misses=$(($(metric 'pullthrough_requests_total{cache="MISS"}') + 0))
{ [ "$hits" -gt 0 ] && [ "$misses" -gt 0 ]; } || fail "test setup: expected hits and misses, got $hits and $misses"
want_ratio=$($PY -c "import sys; h, m = map(int, sys.argv[1:]); print(f'{100 * h / (h + m):.1f}%')" "$hits" "$misses")
from_cache=$(metric 'pullthrough_served_bytes_total{source="cache"}')
from_upstream=$(metric 'pullthrough_served_bytes_total{source="upstream"}')
group() { $PY -c "import sys; print(f'{int(sys.argv[1]):,}')" "$1"; }

render pulled
assert_eq "$(element pulled hit-ratio)" "$want_ratio" "the page shows the hit ratio ($hits hits, $misses misses)"
assert_eq "$(element pulled hits)" "$(group "$hits")" "the page shows the number of cache hits"
assert_eq "$(element pulled bytes-from-cache)" "$(group "$from_cache")" "the page shows the bytes served from the cache"
assert_eq "$(element pulled bytes-from-upstream)" "$(group "$from_upstream")" "the page shows the bytes served from upstream"
assert_match "$(element pulled bytes-saved)" '^[0-9.]+ (KiB|MiB)$' "bytes saved in human units: $(element pulled bytes-saved)"
assert_eq "$(element pulled cache-entries)" "$(group "$(metric pullthrough_cache_entries)")" "the page shows the cache entries"
assert_eq "$(element pulled cache-bytes)" "$(group "$(metric pullthrough_cache_size_bytes)")" "the page shows the cache use in bytes"
assert_match "$(element pulled cache-use)" '^[0-9]+\.[0-9]%$' "cache use vs the cap as a percentage: $(element pulled cache-use)"
assert_contains "$(element pulled top-images)" "registry.test:$RPORT/library/app" "the pulled image is among the top images"
assert_match "$(element pulled version)" '^[0-9]+\.[0-9]+\.[0-9]+' "the page shows the version"
assert_match "$(element pulled uptime)" '^[0-9]+[dhms]' "the page shows the uptime"
assert_file_contains "$T/pulled.html" 'href="/ca.crt"' "the page links /ca.crt"
assert_file_contains "$T/pulled.html" 'href="/setup/systemd"' "the page links /setup/systemd"
for link in /ca.crt /setup/systemd /metrics /healthz; do
  assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$PROXY_URL$link")" 200 "the page's link $link works"
done
assert_file_contains "$T/pulled.html" "HTTPS_PROXY=http://127\.0\.0\.1:$PROXY_PORT/" "the setup snippet names this proxy"

# The browser asked for nothing the proxy lacks (a favicon.ico would be a 404, counted LOCAL).
curl -sS --fail --max-time 10 -o "$T/metrics.prom" "$PROXY_URL/metrics" || fail "GET /metrics failed"
assert_eq "$(metric 'pullthrough_requests_total{cache="LOCAL"}')" absent "rendering the page made no failed request"

assert_contains "$(element pulled cached-images)" "registry.test:$RPORT/library/app:1.0" "the page lists the cached tag"

# After a restart the counters start again, but the cache (and so the list of cached images) stays.
stop_proxy TERM
start_proxy "${STD_PROXY_ENV[@]}"
render restarted
assert_contains "$(element restarted cached-images)" "registry.test:$RPORT/library/app:1.0" \
  "after a restart, the page still lists the cached tag (from the index)"
assert_contains "$(element restarted cached-images)" "${DIGEST:0:19}" "...with the digest it points at"

assert_proxy_alive
finish
