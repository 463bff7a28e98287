#!/usr/bin/env bash
# The main job, end to end on this machine: a lab of two Docker hosts, the seeds' redis
# ambassador scenario brought up across them with `xcompose up`, and a PONG that crossed
# hosts through the ambassador pair. Needs root; installs what it needs itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-lab-deps.sh
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"

topology=examples/redis-ambassador.yaml
override=$(mktemp --suffix=.lab.yaml)
trap 'rm -f "$override"' EXIT

xcompose lab up --hosts 2
xcompose lab images
xcompose lab env --topology "$topology" > "$override" 2>/dev/null
eval "$(xcompose lab env --shell)"

xcompose -f "$topology" -f "$override" plan
xcompose -f "$topology" -f "$override" up
xcompose -f "$topology" -f "$override" ps

# redis-cli runs on the other host than redis and pings it through the ambassadors.
for _ in $(seq 1 20); do
    if xcompose -f "$topology" -f "$override" logs --tail 5 redis-cli | grep -q PONG; then
        xcompose -f "$topology" -f "$override" logs --tail 1 redis-cli
        echo "PONG across hosts: redis on big-server, redis-cli on client-server."
        echo "Tear down with: xcompose -f $topology -f <override> down && xcompose lab down"
        echo "(the override is printed by: xcompose lab env --topology $topology)"
        exit 0
    fi
    sleep 1
done
echo "no PONG from redis-cli within 20 s" >&2
exit 1
