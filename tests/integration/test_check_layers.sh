#!/usr/bin/env bash
# scripts/check-layers.sh: the layer check that scripts/run-tests.sh runs before building.
#   1. on a small made-up tree it passes and counts files and includes;
#   2. on a copy of the real sources (in the test's temp dir), with one forbidden include planted
#      at a time (proxy/net including proxy/registry, dockersock including cache, cache including
#      ca through an indented `#  include`, ca including auth) and with a source file directly in
#      proxy/, it fails and names the planted file and line;
#   3. the real tree passes.
# Needs no proxy, no network and no build (PULLTHROUGH_BIN is not used); takes well under a second.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

SCRIPT="$REPO_ROOT/scripts/check-layers.sh"
[ -f "$SCRIPT" ] || fail "$SCRIPT is missing"
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck "$SCRIPT" || fail "shellcheck $SCRIPT"
  ok "shellcheck scripts/check-layers.sh"
fi

# run_check [ARGS...] : runs a check-layers.sh (default: the repository's); sets RC and OUT.
run_check() {
  local script=${CHECK:-$SCRIPT}
  RC=0
  OUT=$(bash "$script" "$@" 2>&1) || RC=$?
}

# expect_violation WHAT EXPECTED-LINE : the last run failed (exit 1) and printed EXPECTED-LINE.
expect_violation() {
  assert_eq "$RC" 1 "$1: check-layers fails"
  if ! grep -qxF -- "$2" <<<"$OUT"; then
    fail "$1: the line '$2' is not in the output: $(head -c 3000 <<<"$OUT")"
  fi
  ok "$1: the output names the file and line"
}

# ---------------------------------------------------------------- 1. a small clean tree
MINI="$T/mini"
mkdir -p "$MINI/common" "$MINI/proxy/http" "$MINI/proxy/net" "$MINI/bench" "$MINI/tests"
printf '#pragma once\n#include <string>\n' >"$MINI/common/text.hpp"
printf '#pragma once\n  #  include "common/text.hpp"\n' >"$MINI/proxy/http/message.hpp"
cat >"$MINI/proxy/net/stream.cpp" <<'EOF'
#include "proxy/net/stream.hpp"

#include "common/text.hpp"
#include "proxy/http/message.hpp"
// #include "proxy/registry/session.hpp" is a comment, not an include
EOF
printf '#pragma once\n' >"$MINI/proxy/net/stream.hpp"
# Not scanned: tests and bench may include anything.
printf '#include "proxy/app/app.hpp"\n' >"$MINI/tests/t.cpp"
printf '#include "proxy/app/app.hpp"\n' >"$MINI/bench/b.cpp"
run_check "$MINI"
assert_eq "$RC" 0 "a tree that keeps its layers passes"
assert_eq "$OUT" "check-layers: 4 files, 4 includes, OK" "the summary counts scanned files and includes"

# ---------------------------------------------------------------- 2. planted violations
# A copy of the real sources and of the script, which then checks its own copy (no ROOT argument).
TREE="$T/tree"
fresh_tree() {
  rm -rf "$TREE"
  mkdir -p "$TREE/scripts"
  local d
  for d in common ca auth cache cluster s3 proxy dockersock; do
    [ -d "$REPO_ROOT/$d" ] && cp -R "$REPO_ROOT/$d" "$TREE/$d"
  done
  cp "$SCRIPT" "$TREE/scripts/check-layers.sh"
}
CHECK="$TREE/scripts/check-layers.sh"

first_source() { # DIR : the first .cpp in DIR (repo-relative path), or fails
  local found
  mapfile -t found < <(cd "$TREE" && find "$1" -maxdepth 1 -name '*.cpp' | LC_ALL=C sort)
  [ "${#found[@]}" -gt 0 ] || fail "no .cpp directly in $1/ to plant an include into"
  printf '%s\n' "${found[0]}"
}

append_include() { # FILE TEXT : appends TEXT as the file's last line; prints that line's number
  printf '\n%s\n' "$2" >>"$TREE/$1"
  wc -l <"$TREE/$1" | tr -d ' '
}

# proxy/net reaching up into proxy/registry.
fresh_tree
f=$(first_source proxy/net)
n=$(append_include "$f" '#include "proxy/registry/session.hpp"')
run_check
expect_violation "proxy/net including proxy/registry" \
  "$f:$n: includes proxy/registry/session.hpp (proxy/net may not include proxy/registry: it is a higher layer)"

# dockersock reaching sideways into cache.
fresh_tree
f=$(first_source dockersock)
n=$(append_include "$f" '#include "cache/cache_store.hpp"')
run_check
expect_violation "dockersock including cache" \
  "$f:$n: includes cache/cache_store.hpp (dockersock may not include cache: dockersock builds only on common proxy/http proxy/net)"

# cache including ca, written with blanks around the '#', on the first line of the file.
fresh_tree
f=$(first_source cache)
{ printf '  #  include "ca/leaf_cache.hpp"\n'; cat "$TREE/$f"; } >"$T/planted" && mv "$T/planted" "$TREE/$f"
run_check
expect_violation "cache including ca (indented)" \
  "$f:1: includes ca/leaf_cache.hpp (cache may not include ca: cache builds only on common)"

# ca and auth are side by side: neither includes the other.
fresh_tree
f=$(first_source ca)
n=$(append_include "$f" '#include "auth/credentials.hpp"')
run_check
expect_violation "ca including auth" \
  "$f:$n: includes auth/credentials.hpp (ca may not include auth: ca builds only on common)"

# A source file directly in proxy/.
fresh_tree
printf '#include "common/ascii.hpp"\n' >"$TREE/proxy/stray.cpp"
run_check
expect_violation "a file directly in proxy/" "proxy/stray.cpp: proxy/ holds only layer folders"
unset CHECK

# ---------------------------------------------------------------- 3. the real tree
run_check
if [ "$RC" -ne 0 ]; then
  fail "scripts/check-layers.sh reports violations in the sources (exit $RC):
$OUT"
fi
assert_match "$OUT" '^check-layers: [0-9]+ files, [0-9]+ includes, OK$' "the real tree keeps its layers"

finish
