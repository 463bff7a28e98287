"""The api executor's reading, against a stand-in for docker-py's APIClient."""

from __future__ import annotations

import threading
from typing import Any

import docker.errors

from xcompose.engines.dockerapi import INSPECTS_AT_ONCE, ApiExecutor
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
