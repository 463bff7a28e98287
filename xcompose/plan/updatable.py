"""What `docker update` can change in a container once it is made (its limits and restart
policy, in HostConfig), where the config hash cannot see it: the HostConfig entries a spec
asks for (engines/apiargs.py sends them) and how live values differ from them (converge.py
names the drift). Docker's own keys and units; no docker-py, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from xcompose.plan.specs import ContainerSpec

_UNITS = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def _size(value: int | str) -> str:
    number = int(value)
    if number < 0:  # a swap limit of -1: swap without limit
        return "unlimited"
    return next((f"{number // size}{unit}" for unit, size in _UNITS if number % size == 0), f"{number}B")


def _cpus(value: int | str) -> str:
    return f"{int(value) / 1e9:g}"


def _plain(value: int | str) -> str:
    return str(value)


def _entry(key: str, flag: str, unset: str, show: Callable[[int | str], str] = _plain) -> dict[str, Any]:
    """Metadata of a field: its HostConfig key, the `docker update` flag that changes it
    (its name in a drift reason), and how its value and its unset value read."""
    return {"key": key, "flag": flag, "unset": unset, "show": show}


def split_restart(policy: str) -> tuple[str, int]:
    """`on-failure:3` -> ('on-failure', 3); `always` -> ('always', 0)."""
    name, _, count = policy.partition(":")
    return name, int(count) if count else 0


@dataclass(frozen=True)
class Updatable:
    """The values as Docker keeps them, each way of saying "not set" made one: 0 or ""
    (Docker's defaults; a pids limit of 0, -1 or null is no limit) and `no` restart."""

    memory: int = field(default=0, metadata=_entry("Memory", "memory", "unlimited", _size))
    memory_reservation: int = field(default=0, metadata=_entry("MemoryReservation", "memory-reservation", "none",
                                                                _size))
    memory_swap: int = field(default=0, metadata=_entry("MemorySwap", "memory-swap", "default", _size))
    nano_cpus: int = field(default=0, metadata=_entry("NanoCpus", "cpus", "unlimited", _cpus))
    cpu_shares: int = field(default=0, metadata=_entry("CpuShares", "cpu-shares", "default"))
    cpu_quota: int = field(default=0, metadata=_entry("CpuQuota", "cpu-quota", "none"))
    cpu_period: int = field(default=0, metadata=_entry("CpuPeriod", "cpu-period", "default"))
    cpuset_cpus: str = field(default="", metadata=_entry("CpusetCpus", "cpuset-cpus", "any"))
    cpuset_mems: str = field(default="", metadata=_entry("CpusetMems", "cpuset-mems", "any"))
    pids_limit: int = field(default=0, metadata=_entry("PidsLimit", "pids-limit", "unlimited"))
    blkio_weight: int = field(default=0, metadata=_entry("BlkioWeight", "blkio-weight", "default"))
    restart: str = field(default="no", metadata=_entry("RestartPolicy", "restart", "no"))


_FIELDS = fields(Updatable)  # asked once: `fields()` on each of 36,000 containers added up


def host_config(spec: ContainerSpec) -> dict[str, Any]:
    """The HostConfig entries of the spec's limits that `docker update` can change, only
    those the spec sets, and its restart policy (`no` when unset, as the CLI sends it)."""
    name, count = split_restart(spec.restart or "no")
    wanted: dict[str, Any] = {
        "Memory": spec.mem_limit, "MemorySwap": spec.memswap_limit, "MemoryReservation": spec.mem_reservation,
        "NanoCpus": spec.nano_cpus, "CpuShares": spec.cpu_shares, "CpusetCpus": spec.cpuset,
        "PidsLimit": spec.pids_limit,
    }
    return {**{key: value for key, value in wanted.items() if value is not None},
            "RestartPolicy": {"Name": name, "MaximumRetryCount": count}}


def read(config: Mapping[str, Any]) -> Updatable:
    """The values of a HostConfig: from `docker inspect`, or what `host_config` plans."""
    values: dict[str, Any] = {}
    for f in _FIELDS:
        raw = config.get(f.metadata["key"])
        if f.name == "restart":
            policy = raw or {}
            name = str(policy.get("Name") or "no")
            count = int(policy.get("MaximumRetryCount") or 0)
            values[f.name] = f"{name}:{count}" if count else name
        elif f.name == "pids_limit":
            values[f.name] = max(int(raw or 0), 0)
        else:
            values[f.name] = str(raw or "") if isinstance(f.default, str) else int(raw or 0)
    return Updatable(**values)


def drift(spec: ContainerSpec, live: Updatable) -> list[str]:
    """How the live values differ from the spec's, as `FLAG LIVE -> PLANNED`. A value the
    spec leaves unset is planned at Docker's default, except the swap limit, whose default
    the engine derives from the memory limit and its swap support."""
    planned = read(host_config(spec))
    if planned == live:  # nearly always: nothing to name
        return []
    found = []
    for f in _FIELDS:
        if f.name == "memory_swap" and not spec.memswap_limit:
            continue
        have, want = getattr(live, f.name), getattr(planned, f.name)
        if have != want:
            meta = f.metadata
            shown = [meta["show"](v) if v != f.default else meta["unset"] for v in (have, want)]
            found.append(f"{meta['flag']} {shown[0]} -> {shown[1]}")
    return found
