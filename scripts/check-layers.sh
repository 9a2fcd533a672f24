#!/usr/bin/env bash
# Checks the layering of pullthrough's sources: every `#include "..."` in a .cpp/.hpp/.h under
# common/ ca/ auth/ cache/ cluster/ s3/ proxy/ dockersock/ must name a folder that the including file's layer
# may include (the table in this script). System includes (<...>) are not checked; tests/ and
# bench/ are not scanned (tests may include anything).
#
#   scripts/check-layers.sh [ROOT]     ROOT: the repository to check (default: this script's repo)
#
# Prints one line per violation, naming the file and line:
#   proxy/net/foo.cpp:12: includes proxy/registry/session.hpp (proxy/net may not include proxy/registry: it is a higher layer)
# and exits 1; otherwise prints `check-layers: N files, M includes, OK` and exits 0.
# scripts/run-tests.sh runs it; tests/integration/test_check_layers.sh tests it.
set -euo pipefail

# ---------------------------------------------------------------- the layers
# Why: each layer is a library that links only the layers below it (README.md, "Architecture"),
# so an include of a higher (or sideways) layer is a dependency its library does not have. It
# either fails to link, or quietly turns the layering into a cycle. Reading the table bottom to
# top is the build order.
#
# One line per layer: its folder, then every folder its sources may #include "..." from (itself
# included). Only folders listed first on a line hold sources: no file lives directly in proxy/,
# and an include of any other folder (tests/, bench/, a relative path) is an error.
#
# layer           may include
LAYERS='
common            common
ca                common ca
auth              common auth
cache             common cache
cluster           common cache cluster
s3                common s3
proxy/http        common proxy/http
proxy/net         common ca auth proxy/http proxy/net
proxy/registry    common ca auth cache cluster s3 proxy/http proxy/net proxy/registry
proxy/front       common ca auth cache cluster s3 proxy/http proxy/net proxy/registry proxy/front
proxy/ops         common ca auth cache cluster s3 proxy/http proxy/net proxy/registry proxy/front proxy/ops
proxy/app         common ca auth cache cluster s3 proxy/http proxy/net proxy/registry proxy/front proxy/ops proxy/app dockersock
dockersock        common proxy/http proxy/net dockersock
'
# The top-level folders scanned (the layers above, proxy/ holding the proxy/* layers).
SCANNED=(common ca auth cache cluster s3 proxy dockersock)

# ---------------------------------------------------------------- the check
case "${1:-}" in
  -h | --help)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
[ -d "$ROOT" ] || {
  echo "check-layers: $ROOT is not a directory" >&2
  exit 2
}
cd "$ROOT"

dirs=()
for d in "${SCANNED[@]}"; do
  if [ -d "$d" ]; then dirs+=("$d"); fi
done
if [ "${#dirs[@]}" -eq 0 ]; then
  echo "check-layers: none of ${SCANNED[*]} found in $ROOT" >&2
  exit 2
fi

# One find and one awk for the whole tree: awk reads each listed file itself (getline), so the
# check takes a few milliseconds whatever the number of files.
rc=0
report=$(find "${dirs[@]}" -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) |
  LC_ALL=C sort |
  PT_LAYERS="$LAYERS" awk '
    # The layer a repo-relative path belongs to: proxy/<x> for files under proxy/<x>/, "proxy"
    # for a path directly in proxy/, else its top-level folder ("" for a bare file name).
    function layer_of(path,   p, n) {
      n = split(path, p, "/")
      if (n < 2) return ""
      if (p[1] == "proxy") return (n >= 3) ? "proxy/" p[2] : "proxy"
      return p[1]
    }
    function violation(text) {
      print text
      bad++
    }
    BEGIN {
      n = split(ENVIRON["PT_LAYERS"], rows, "\n")
      for (i = 1; i <= n; i++) {
        m = split(rows[i], f)              # default FS: blanks, leading ones ignored
        if (m == 0) continue
        is_layer[f[1]] = 1
        below[f[1]] = ""
        for (j = 2; j <= m; j++) {
          may[f[1], f[j]] = 1
          if (f[j] != f[1]) below[f[1]] = below[f[1]] (below[f[1]] == "" ? "" : " ") f[j]
        }
      }
      files = 0; includes = 0; bad = 0
    }
    {
      file = $0
      files++
      own = layer_of(file)
      if (own == "proxy") {
        violation(file ": proxy/ holds only layer folders")
        own = ""
      } else if (!(own in is_layer)) {
        violation(file ": " own " is not a layer folder (the table is in scripts/check-layers.sh)")
        own = ""
      }
      line = 0
      while ((r = (getline text < file)) > 0) {
        line++
        if (text !~ /^[ \t]*#[ \t]*include[ \t]*"/) continue
        sub(/^[ \t]*#[ \t]*include[ \t]*"/, "", text)
        q = index(text, "\"")
        if (q == 0) continue                 # not a complete include: the compiler will say so
        inc = substr(text, 1, q - 1)
        includes++
        if (own == "") continue
        to = layer_of(inc)
        where = file ":" line ": includes " inc
        if (to == "" || inc ~ /^\.\.?\//) {
          violation(where " (not a path from the repository root)")
        } else if (to == "proxy") {
          violation(where " (proxy/ holds only layer folders)")
        } else if (!(to in is_layer)) {
          violation(where " (" to " is not a layer)")
        } else if (!((own, to) in may)) {
          if ((to, own) in may)
            why = "it is a higher layer"
          else if (below[own] == "")
            why = own " builds on no other layer"
          else
            why = own " builds only on " below[own]
          violation(where " (" own " may not include " to ": " why ")")
        }
      }
      if (r < 0) violation(file ": cannot be read")
      close(file)
    }
    END {
      if (files == 0) {
        print "check-layers: no .cpp/.hpp/.h files found"
        exit 1
      }
      if (bad > 0) {
        printf "check-layers: %d files, %d includes, %d violation%s (layer table: scripts/check-layers.sh)\n", files, includes, bad, (bad == 1 ? "" : "s")
        exit 1
      }
      printf "check-layers: %d files, %d includes, OK\n", files, includes
    }
  ') || rc=$?

if [ "$rc" -eq 0 ]; then
  printf '%s\n' "$report"
else
  printf '%s\n' "$report" >&2
fi
exit "$rc"
