#!/usr/bin/env bash
# The README's first command: installs the dependencies, builds, and starts the proxy in the
# foreground with its embedded defaults (listen 0.0.0.0:3128, CA in /ca, cache in
# /docker_mirror_cache). Any settings given as environment variables or flags are honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --build-only
bash scripts/build.sh
exec build/pullthrough "$@"
