"""The api executor's reading, against a stand-in for docker-py's APIClient."""

from __future__ import annotations

import threading
from typing import Any

import docker.errors

from xcompose.engines.dockerapi import INSPECTS_AT_ONCE, WARM_CONNECTIONS, ApiExecutor
from xcompose.plan.naming import LABEL_PROJECT
from xcompose.plan.specs import HostTarget


class ListingAPI:
    """Lists containers; each inspect returns only once INSPECTS_AT_ONCE of them are under
    way (inspected one after another, they would never meet: the barrier breaks)."""

    def __init__(self, ids: list[str], gone: set[str]) -> None:
        self.ids = ids
        self.gone = gone
        self.barrier = threading.Barrier(INSPECTS_AT_ONCE, timeout=5)

    def containers(self, **_filters: Any) -> list[dict[str, Any]]:
        return [{"Id": i} for i in self.ids]

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        self.barrier.wait()
        if container_id in self.gone:
            raise docker.errors.NotFound(f"No such container: {container_id}")
        return {"Id": container_id, "Name": f"/{container_id}", "Config": {"Labels": {LABEL_PROJECT: "shop"}},
                "State": {"Status": "running"}}


def test_containers_are_inspected_several_at_once_leaving_out_those_removed_meanwhile() -> None:
    executor = ApiExecutor(HostTarget("h1", "10.0.0.1", "unix:///a.sock", max_parallel=8))
    fake = ListingAPI([f"c{n}" for n in range(INSPECTS_AT_ONCE * 2)], gone={"c1"})
    executor._api = fake  # type: ignore[assignment]
    found = executor.containers("shop")
    assert not fake.barrier.broken
    assert [c.id for c in found] == [f"c{n}" for n in range(INSPECTS_AT_ONCE * 2) if n != 1]  # listing order


class VersionAPI:
    """Answers /version; records every other GET. With `meet`, /version returns only once
    WARM_CONNECTIONS /_ping requests are under way beside it (asked after it, they would
    never meet: the barrier breaks)."""

    base_url = "http+docker://ssh"

    def __init__(self, meet: bool = False) -> None:
        self.barrier = threading.Barrier(WARM_CONNECTIONS + 1, timeout=5) if meet else None
        self.pinged: list[str] = []
        self.versions = 0
        self._version = "1.41"

    def version(self, api_version: bool = True) -> dict[str, Any]:
        self.versions += 1
        if self.barrier is not None:
            self.barrier.wait()
        return {"Version": "27.0", "ApiVersion": "1.47"}

    def get(self, url: str, **_options: Any) -> Closable:
        self.pinged.append(url)
        if self.barrier is not None:
            self.barrier.wait()
        return Closable()


class Closable:
    def close(self) -> None:
        pass


def test_preflight_over_ssh_opens_its_spare_connections_while_version_is_asked() -> None:
    executor = ApiExecutor(HostTarget("h1", "10.0.0.1", "ssh://root@10.0.0.1"))
    fake = VersionAPI(meet=True)
    executor._api = fake  # type: ignore[assignment]
    info = executor.preflight()
    assert fake.barrier is not None and not fake.barrier.broken
    assert fake.pinged == ["http+docker://ssh/_ping"] * WARM_CONNECTIONS
    assert info.api_version == "1.47" and fake._version == "1.47"


def test_preflight_over_a_socket_asks_version_alone() -> None:
    executor = ApiExecutor(HostTarget("h1", "10.0.0.1", "unix:///a.sock"))
    fake = VersionAPI()
    executor._api = fake  # type: ignore[assignment]
    executor.preflight()
    assert fake.versions == 1 and fake.pinged == []
