"""The swarm manager's answers as xcompose reads them, and the IPVS probe, against a stub
of docker-py's APIClient (what the Engine API returns, in its own JSON shapes)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import docker.errors
import pytest

from xcompose.engines.swarm import SwarmManager, carries_esp, carries_ipvs


class StubApi:
    """The few APIClient calls these tests need, answering with canned JSON."""

    def __init__(self, exit_code: int = 0, image: bool = True, output: bytes = b"") -> None:
        self.exit_code = exit_code
        self.image = image
        self.output = output
        self.removed: list[str] = []
        self.created: list[dict[str, Any]] = []

    def services(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        assert filters["label"] == "io.xcompose.project=shop"
        return [{"ID": "s1", "Version": {"Index": 12},
                 "Spec": {"Name": "shop_db", "Labels": {"io.xcompose.config-hash": "d1"},
                          "TaskTemplate": {"ForceUpdate": 2}}}]

    def networks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"Name": "shop_default", "Labels": {"io.xcompose.project": "shop"}}]

    def secrets(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"ID": "x1", "Spec": {"Name": "shop_token_abc"}}]

    def configs(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    def tasks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"ID": "t1", "ServiceID": "s1", "Slot": 1, "NodeID": "n1", "DesiredState": "running",
                 "Status": {"State": "running", "ContainerStatus": {"ContainerID": "c1"}},
                 "Spec": {"ForceUpdate": 2, "ContainerSpec": {"Labels": {"io.xcompose.config-hash": "d1"}}}},
                {"ID": "t0", "ServiceID": "s1", "Slot": 1, "NodeID": "n1", "DesiredState": "shutdown",
                 "Status": {"State": "failed", "Err": "task: non-zero exit (1)"}, "Spec": {}}]

    def inspect_image(self, image: str) -> dict[str, Any]:
        if not self.image:
            raise docker.errors.ImageNotFound("no such image")
        return {"Id": "sha256:x"}

    def create_host_config(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    def create_container(self, image: str, **kwargs: Any) -> dict[str, Any]:
        self.created.append(kwargs)
        return {"Id": "probe1"}

    def logs(self, container: str, stdout: bool, stderr: bool) -> bytes:
        return self.output

    def start(self, container: str) -> None:
        pass

    def wait(self, container: str, timeout: float) -> dict[str, Any]:
        return {"StatusCode": self.exit_code}

    def remove_container(self, container: str, force: bool) -> None:
        self.removed.append(container)


def executor(api: StubApi) -> Any:
    return SimpleNamespace(api=api, target=SimpleNamespace(name="h1"))


def test_the_projects_objects_are_read_by_name() -> None:
    live = SwarmManager(executor(StubApi())).read_live("shop")
    service = live.services["shop_db"]
    assert (service.id, service.version, service.digest, service.force_update) == ("s1", 12, "d1", 2)
    assert list(live.networks) == ["shop_default"] and live.secrets == {"shop_token_abc": "x1"}


def test_a_task_says_its_state_container_spec_digest_and_counter() -> None:
    running, failed = SwarmManager(executor(StubApi())).tasks(project="shop")
    assert (running.service, running.state, running.container_id, running.digest, running.force_update) == (
        "shop_db", "running", "c1", "d1", 2)
    assert (failed.desired, failed.message, failed.digest) == ("shutdown", "task: non-zero exit (1)", None)


@pytest.mark.parametrize(("exit_code", "image", "answer"), [
    (0, True, True),      # /proc/net/ip_vs is there: the kernel has IPVS
    (1, True, False),     # cat found no such file
    (127, True, None),    # no cat in the image: nothing is known
    (0, False, None),     # the image is not on the host yet
])
def test_the_ipvs_probe_reads_cats_exit_code(exit_code: int, image: bool, answer: bool | None) -> None:
    api = StubApi(exit_code, image)
    assert carries_ipvs(executor(api), "redis:7") is answer
    assert api.removed == (["probe1"] if image else [])
    assert [(c["entrypoint"], c["command"]) for c in api.created] == ([(["cat"], ["/proc/net/ip_vs"])] if image else [])


@pytest.mark.parametrize(("exit_code", "output", "answer"), [
    (0, b"", True),                                          # the ESP state was added
    (2, b"Error: Requested type not found.\n", False),       # no ESP in the kernel
    (2, b"Error: Requested AEAD algorithm not found.\n", False),  # no AES-GCM, which Docker uses
    (2, b"Error: RTNETLINK answers: Operation not permitted\n", None),  # not the kernel's answer
    (127, b"exec: ip: not found", None),                       # no `ip` in the image
])
def test_the_esp_probe_adds_an_esp_state_in_a_namespace_of_its_own(exit_code: int, output: bytes,
                                                                  answer: bool | None) -> None:
    api = StubApi(exit_code, output=output)
    assert carries_esp(executor(api), "redis:7") is answer
    made = api.created[0]
    assert made["entrypoint"] == ["ip"] and made["command"][:3] == ["xfrm", "state", "add"]
    assert "esp" in made["command"] and "rfc4106(gcm(aes))" in made["command"]
    assert made["host_config"] == {"network_mode": "none", "cap_add": ["NET_ADMIN"]}
    assert api.removed == ["probe1"]
