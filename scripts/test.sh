#!/usr/bin/env bash
# The whole test suite: static checks, the unit tests, then the end-to-end tests on a lab of
# real dockerd hosts (and every bench in its smoke mode). Needs root (network namespaces,
# dockerd); installs what it needs itself. Arguments go to pytest; without any, the unit
# tests also run against the lowest dependency versions pyproject.toml allows.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-lab-deps.sh
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/mypy
if [ "$#" -eq 0 ]; then
    bash scripts/test-floors.sh
fi
exec .venv/bin/pytest -q -p no:cacheprovider "$@"
