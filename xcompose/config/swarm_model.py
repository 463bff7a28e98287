"""The `engine:` and `swarm:` keys: the same file on a Docker Swarm instead of plain engines."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from xcompose.config.strict import Strict

Engine = Literal["docker", "swarm"]
EndpointMode = Literal["vip", "dnsrr", "auto"]


class SwarmSettings(Strict):
    """How the project runs on a swarm (read only with `engine: swarm`)."""

    manager: str | None = Field(
        default=None, description="The host whose engine is a swarm manager (default: the first host)."
    )
    encrypted: bool = Field(
        default=True,
        description="Encrypt the overlay networks' traffic between nodes (IPsec ESP; every node's kernel "
        "must carry it).",
    )
    endpoint_mode: EndpointMode = Field(
        default="auto",
        description="How a service name resolves: vip (one virtual IP, needs IPVS on every node), dnsrr "
        "(the tasks' own IPs, round robin) or auto (vip where the nodes are known to carry it, else dnsrr).",
    )
