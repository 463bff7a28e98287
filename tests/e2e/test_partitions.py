"""A host that stops answering, silently (every packet to it dropped: no reset, no error),
before and during the commands, through the ssh executor and the API over ssh:// and tcp://.
Each command ends within the host's bound, names the host, leaves the other hosts' work
done, and once the partition heals the next command converges."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable

import pytest

from tests.e2e.deploy import Deployment
from xcompose.lab import Lab

Deploy = Callable[[str, str], Deployment]
TRANSPORTS = ("ssh", "api", "tcp")  # ssh executor; API over ssh://; API over tcp://
LOST_AFTER = 5  # the hosts' `timeout:` in these tests
# A lost host is given up after LOST_AFTER; a command ends within a few of those (connect,
# then the call that was waiting), plus its own start and the other host's work.
BOUND = 4 * LOST_AFTER + 10

TOPOLOGY = """\
hosts:
  h1: {}
  h2: {}
services:
  steady:
    image: redis:7
    host: h1
  far:
    image: redis:7
    host: h2
    # Healthy only after a while: `up` is still waiting on h2 when the partition comes.
    command: [sh, -c, "sleep 6; touch /tmp/ready; exec redis-server --protected-mode no"]
    healthcheck: {test: [CMD-SHELL, test -f /tmp/ready], interval: 1s, retries: 60}
"""

pytestmark = pytest.mark.parametrize("transport", TRANSPORTS)


def deployed(deploy: Deploy, name: str, transport: str) -> Deployment:
    app = deploy(f"{name}-{transport}", transport)
    app.host_settings = {"timeout": f"{LOST_AFTER}s"}
    return app.use(TOPOLOGY)


def timed(app: Deployment, *args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    outcome = app.xcompose(*args, timeout=BOUND * 3)
    return outcome.code, outcome.output, time.monotonic() - started


def first_line(process: subprocess.Popen[str], within: float) -> str:
    """The first line the command prints, waited for at most `within` seconds."""
    assert process.stdout is not None
    stdout = process.stdout
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(within)
    assert found and found[0], f"nothing printed within {within}s"
    return found[0]


def finish(process: subprocess.Popen[str], within: float) -> tuple[int, str, float]:
    started = time.monotonic()
    try:
        out, err = process.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"still running {within:.0f}s after the partition:\n{out}{err}")
    return process.returncode, out + err, time.monotonic() - started


def one_container_per_step(app: Deployment) -> None:
    names = sorted(c.name for host in app.host_names for c in app.containers(host))
    assert names == sorted({f"{app.project}-steady", f"{app.project}-far"}), names


def test_a_host_lost_before_up_stops_it_before_anything_changes(lab: Lab, deploy: Deploy, transport: str) -> None:
    app = deployed(deploy, "part-before", transport)
    with lab.partition(app.lab_host("h2")):
        code, output, took = timed(app, "up")
    assert code == 1 and took < BOUND, (took, output)
    assert "host h2" in output and "nothing was changed" in output and "Traceback" not in output
    assert app.containers("h1") == []
    app.up()
    one_container_per_step(app)


def test_a_host_lost_during_up_fails_its_steps_and_the_next_up_converges(
    lab: Lab, deploy: Deploy, transport: str
) -> None:
    app = deployed(deploy, "part-during", transport)
    running = app.start("up")
    deadline = time.monotonic() + 120
    while not app.containers("h2") and time.monotonic() < deadline:  # far is being made
        time.sleep(0.2)
    assert app.containers("h2"), "up never reached h2"
    with lab.partition(app.lab_host("h2")):
        code, output, took = finish(running, BOUND)
    assert code == 1 and took < BOUND, (took, output)
    failed = [line for line in output.splitlines() if line.startswith("error: step")]
    assert failed and all("on host h2" in line for line in failed), output
    assert "stopped answering" in output and "Traceback" not in output
    # The other host's work is done.
    assert [c.status for c in app.containers("h1")] == ["running"]
    app.up()
    one_container_per_step(app)
    assert app.xcompose("up").code == 0


def test_following_the_log_of_a_lost_host_ends_within_the_bound(lab: Lab, deploy: Deploy, transport: str) -> None:
    app = deployed(deploy, "part-logs", transport)
    app.up()
    following = app.start("logs", "-f", "far")
    first_line(following, BOUND)  # the stream is open: a fixed wait was too short on a loaded machine
    with lab.partition(app.lab_host("h2")):
        code, output, took = finish(following, BOUND)
    assert code == 1 and took < BOUND, (took, output)
    assert "far@h2 ended" in output and "h2" in output and "Traceback" not in output


def test_down_with_a_lost_host_cleans_the_others_and_a_later_down_finishes(
    lab: Lab, deploy: Deploy, transport: str
) -> None:
    app = deployed(deploy, "part-down", transport)
    app.up()
    with lab.partition(app.lab_host("h2")):
        code, output, took = timed(app, "down")
    assert code == 1 and took < BOUND, (took, output)
    assert "h2" in output and "Traceback" not in output
    assert app.containers("h1") == []
    assert app.xcompose("down").code == 0
    assert app.leftovers() == []
