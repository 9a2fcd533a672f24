#!/usr/bin/env bash
# The README's first command: installs the build dependencies, builds the proxy executable alone
# (the `pullthrough` target, not the tests: scripts/run-tests.sh builds those in the same build/),
# and starts it in the foreground with its embedded defaults (listen 0.0.0.0:3128, CA in /ca,
# cache in /docker_mirror_cache). Any settings given as environment variables or flags are
# honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --build-only
bash scripts/build.sh --target pullthrough
exec build/pullthrough "$@"
