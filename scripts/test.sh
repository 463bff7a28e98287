#!/usr/bin/env bash
# The whole test suite: unit tests, then the end-to-end tests on a lab of real dockerd hosts.
# Needs root (network namespaces, dockerd); installs what it needs itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-lab-deps.sh
bash scripts/bootstrap.sh
exec .venv/bin/pytest -q -p no:cacheprovider "$@"
