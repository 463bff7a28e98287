"""The api executor's reading, against a stand-in for docker-py's APIClient."""

from __future__ import annotations

import threading
from typing import Any

import docker.errors
import pytest

from xcompose.engines.dockerapi import ApiExecutor
from xcompose.plan.naming import LABEL_PROJECT
from xcompose.plan.specs import HostTarget


class ListingAPI:
    """Lists containers; each inspect returns only once `at_once` of them are under way
    (inspected one after another, they would never meet: the barrier breaks)."""

    def __init__(self, ids: list[str], gone: set[str], at_once: int) -> None:
        self.ids = ids
        self.gone = gone
        self.barrier = threading.Barrier(at_once, timeout=5)

    def containers(self, **_filters: Any) -> list[dict[str, Any]]:
        return [{"Id": i} for i in self.ids]

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        self.barrier.wait()
        if container_id in self.gone:
            raise docker.errors.NotFound(f"No such container: {container_id}")
        return {"Id": container_id, "Name": f"/{container_id}", "Config": {"Labels": {LABEL_PROJECT: "shop"}},
                "State": {"Status": "running"}}


def test_containers_are_inspected_as_many_at_once_as_requests_may_be_under_way() -> None:
    executor = ApiExecutor(HostTarget("h1", "10.0.0.1", "unix:///a.sock", max_parallel=6))
    fake = ListingAPI([f"c{n}" for n in range(12)], gone={"c1"}, at_once=6)
    executor._api = fake  # type: ignore[assignment]
    found = executor.containers("shop")
    assert not fake.barrier.broken
    assert [c.id for c in found] == [f"c{n}" for n in range(12) if n != 1]  # listing order


class VersionAPI:
    """Answers /version; records every other GET. With `meet`, /version returns only once
    `meet` requests in all are under way (/_ping asked after it would never meet it: the
    barrier breaks)."""

    def __init__(self, base_url: str, meet: int = 0) -> None:
        self.base_url = base_url
        self.barrier = threading.Barrier(meet, timeout=5) if meet else None
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


@pytest.mark.parametrize(("url", "base_url"), [("ssh://root@10.0.0.1", "http+docker://ssh"),
                                               ("tcp://10.0.0.1:2375", "http://10.0.0.1:2375")])
def test_preflight_over_a_network_opens_a_connection_per_request_at_once_while_version_is_asked(
        url: str, base_url: str) -> None:
    executor = ApiExecutor(HostTarget("h1", "10.0.0.1", url, max_parallel=5))
    fake = VersionAPI(base_url, meet=5)
    executor._api = fake  # type: ignore[assignment]
    info = executor.preflight()
    assert fake.barrier is not None and not fake.barrier.broken
    assert fake.pinged == [f"{base_url}/_ping"] * 4
    assert info.api_version == "1.47" and fake._version == "1.47"


def test_preflight_over_a_socket_asks_version_alone() -> None:
    executor = ApiExecutor(HostTarget("h1", "10.0.0.1", "unix:///a.sock"))
    fake = VersionAPI("http+docker://localhost")
    executor._api = fake  # type: ignore[assignment]
    executor.preflight()
    assert fake.versions == 1 and fake.pinged == []
