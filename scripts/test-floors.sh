#!/usr/bin/env bash
# The unit tests against the lowest dependency versions pyproject.toml allows (scripts/floors.txt),
# in a fresh .venv-floors. Keep floors.txt in step with the `>=` floors in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .venv-floors
"${PYTHON:-python3}" -m venv .venv-floors
.venv-floors/bin/pip install --quiet --upgrade pip
.venv-floors/bin/pip install --quiet -c scripts/floors.txt -e '.[test]'
.venv-floors/bin/pip list --format=freeze | grep -iFf <(sed 's/==.*/==/' scripts/floors.txt)
.venv-floors/bin/python -m pytest -q -p no:cacheprovider -m "not e2e" "$@"
.venv-floors/bin/xcompose schema >/dev/null
echo "floors OK"
