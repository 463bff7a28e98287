"""Pure rendering of `lab env` output: the topology override file and shell variables."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from .errors import LabError, LabUsageError


def topology_host_names(path: Path) -> list[str]:
    """The `hosts:` keys of a topology file, in file order (YAML mappings keep order)."""
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise LabUsageError(f"cannot read topology {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise LabUsageError(f"topology {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    hosts = doc.get("hosts") if isinstance(doc, dict) else None
    if not isinstance(hosts, dict) or not hosts:
        raise LabUsageError(f"topology {path} declares no hosts: nothing to map onto the lab")
    return [str(k) for k in hosts]


def render_override(
    lab_hosts: Sequence[tuple[str, str]], topology_hosts: Sequence[str] | None = None
) -> str:
    """YAML mapping the topology's hosts, in order, onto the lab's (name, address) hosts;
    without a topology, the lab hosts under their own names."""
    names = list(topology_hosts) if topology_hosts is not None else [n for n, _ in lab_hosts]
    if len(names) > len(lab_hosts):
        raise LabError(
            f"the topology has {len(names)} hosts but the lab only {len(lab_hosts)}: "
            f"run `xcompose lab down` then `xcompose lab up --hosts {len(names)}`"
        )
    mapping: dict[str, dict[str, str]] = {}
    comments: list[str] = []
    for name, (lab_name, addr) in zip(names, lab_hosts, strict=False):  # names past the lab are left out
        mapping[name] = {"address": addr, "docker": f"ssh://root@{addr}"}
        comments.append(f"#   {name} -> {lab_name}")
    head = "# xcompose lab override: topology hosts mapped onto lab hosts\n" + "\n".join(comments)
    return head + "\n" + yaml.safe_dump({"hosts": mapping}, sort_keys=False)


def render_shell_env(env: Mapping[str, str]) -> str:
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
