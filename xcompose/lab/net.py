"""Pure naming and address allocation for the lab (no side effects; unit-tested)."""

from __future__ import annotations

import ipaddress
import re
import zlib
from collections.abc import Iterable

from .errors import LabUsageError

# Interface names are limited to 15 characters by the kernel; "<prefix><n>v" and
# "<prefix>br" must fit, so the prefix is kept short and simple.
PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")
MAX_HOSTS = 15  # each host's docker0 gets its own 172.(16+i).0.0/16, i = 1..15

# The lab's bridge subnets are /24s inside 10.251.0.0/16: private, and rarely used by
# corporate or cloud networks (which favour 10.0.x, 10.1.x, 172.16-31 and 192.168).
LAB_POOL = ipaddress.IPv4Network("10.251.0.0/16")
BRIDGE_HOST = 1  # the root namespace's address on the bridge: .1
HOST_OFFSET = 10  # lab host i gets .(10+i)


def validate_prefix(prefix: str) -> str:
    if not PREFIX_RE.match(prefix):
        raise LabUsageError(
            f"invalid lab name {prefix!r}: use 1-8 lowercase letters/digits, starting with a letter"
        )
    return prefix


def validate_host_count(n: int) -> int:
    if not 1 <= n <= MAX_HOSTS:
        raise LabUsageError(f"--hosts must be between 1 and {MAX_HOSTS}, got {n}")
    return n


def host_name(prefix: str, index: int) -> str:
    return f"{prefix}{index}"


def bridge_name(prefix: str) -> str:
    return f"{prefix}br"


def veth_name(prefix: str, index: int) -> str:
    return f"{prefix}{index}v"


def bridge_address(subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    return subnet.network_address + BRIDGE_HOST


def host_address(subnet: ipaddress.IPv4Network, index: int) -> ipaddress.IPv4Address:
    addr = subnet.network_address + HOST_OFFSET + index
    if addr not in subnet or addr == subnet.broadcast_address:
        raise LabUsageError(f"host {index} does not fit in {subnet}")
    return addr


def docker_bip(index: int) -> str:
    """docker0 of lab host i: distinct per host so addresses seen in logs and traces say
    which host a container lives on; they only exist inside that host's namespace."""
    if not 1 <= index <= MAX_HOSTS:
        raise LabUsageError(f"host index {index} out of range")
    return f"172.{16 + index}.0.1/16"


def _overlaps(net: ipaddress.IPv4Network, used: Iterable[ipaddress.IPv4Network]) -> bool:
    return any(net.overlaps(u) for u in used)


def pick_subnet(
    prefix: str,
    used: Iterable[ipaddress.IPv4Network],
    requested: str | None = None,
) -> ipaddress.IPv4Network:
    """Choose the lab's /24.

    Default routes (0.0.0.0/0) are not a clash: they cover everything. Any more specific
    route or address overlapping a candidate is. The first candidate depends on the
    prefix, so two labs (the user's `xlab` and the tests' `xct`) usually differ at once.
    """
    used_list = [u for u in used if u.prefixlen > 0]
    if requested is not None:
        try:
            net = ipaddress.IPv4Network(requested, strict=True)
        except ValueError as exc:
            raise LabUsageError(f"invalid --subnet {requested!r}: {exc}") from None
        if net.prefixlen > 27:
            raise LabUsageError(f"--subnet {net} is too small; use a /24 to /27")
        clash = [str(u) for u in used_list if net.overlaps(u)]
        if clash:
            raise LabUsageError(
                f"--subnet {net} clashes with existing route/address {', '.join(clash)}"
            )
        return net
    candidates = list(LAB_POOL.subnets(new_prefix=24))
    start = zlib.crc32(prefix.encode()) % len(candidates)
    for k in range(len(candidates)):
        net = candidates[(start + k) % len(candidates)]
        if not _overlaps(net, used_list):
            return net
    raise LabUsageError(f"no free /24 in {LAB_POOL}: every one clashes with a route; pass --subnet")
