"""SSH settings as OpenSSH resolves them: a docker URL names a host alias that only an
Included file of the ssh config defines (its address, user, key and known_hosts), and
`up` reaches the host through both executors, as `ssh ALIAS` would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.e2e.deploy import EXECUTORS, Deployment
from xcompose.lab import Lab

Deploy = Callable[[str, str], Deployment]
pytestmark = pytest.mark.parametrize("executor", EXECUTORS)

TOPOLOGY = """\
hosts:
  h1: {}
services:
  cache: {image: redis:7, host: h1}
"""


def test_a_host_alias_from_an_included_file_is_reached(
    lab: Lab, deploy: Deploy, executor: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = tmp_path / "ssh_config"
    main.write_text(f"# the lab's hosts come from another file\nInclude {lab.ssh_config_path}\n")
    monkeypatch.setenv("XCOMPOSE_SSH_CONFIG", str(main))
    app = deploy(f"include-{executor}", executor).use(TOPOLOGY)
    override = app.files[-1]
    data = yaml.safe_load(override.read_text())
    alias = app.lab_host("h1").name  # `Host NAME ADDRESS` in the lab's file: HostName, User, key
    data["hosts"]["h1"]["docker"] = f"ssh://{alias}"
    override.write_text(yaml.safe_dump(data))
    app.up()
    assert [c.name for c in app.containers("h1", role="service")] == [f"{app.project}-cache"]
