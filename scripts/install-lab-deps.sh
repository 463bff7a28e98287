#!/bin/sh
# Install what `xcompose lab` and the e2e tests need on Debian/Ubuntu. Idempotent: when
# every program is already present, apt is not touched at all.
set -eu

# program:package pairs; the program proves the package is installed.
NEEDS="
dockerd:docker.io
docker:docker.io
containerd:containerd
runc:runc
socat:socat
sshd:openssh-server
ssh:openssh-client
ssh-keygen:openssh-client
mmdebstrap:mmdebstrap
ip:iproute2
iptables:iptables
tcpdump:tcpdump
redis-cli:redis-tools
mariadb:mariadb-client
psql:postgresql-client
nc:netcat-openbsd
nsenter:util-linux
curl:curl
docker-compose:docker-compose
"

if [ "$(id -u)" -ne 0 ]; then
    echo "install-lab-deps.sh: run as root (it uses apt-get)" >&2
    exit 1
fi

PATH="/usr/local/sbin:/usr/sbin:/sbin:$PATH"
missing=""
for pair in $NEEDS; do
    prog=${pair%%:*}
    pkg=${pair#*:}
    if ! command -v "$prog" >/dev/null 2>&1; then
        case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
    fi
done
# Certificates are a file, not a program.
[ -s /etc/ssl/certs/ca-certificates.crt ] || missing="$missing ca-certificates"

if [ -z "$missing" ]; then
    echo "install-lab-deps.sh: everything is installed"
    exit 0
fi

echo "install-lab-deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y --no-install-recommends $missing
# On a systemd host docker.io also starts a dockerd in the root namespace; the lab does
# not use it (its FORWARD DROP policy is why `lab up` adds an ACCEPT rule for its bridge).
echo "install-lab-deps.sh: done"
