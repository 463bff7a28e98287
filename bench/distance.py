"""Phase (d) of `bench/up.py`: `up` with the lab hosts far away (DESIGN §8).

Between xcompose and each of 3 lab hosts runs a delaying relay (delay.py) for the host's
sshd and one for its engine's TCP port; the topology's hosts point at the relays (`ssh://`
aliases whose ssh config and known_hosts name the relay's port, so host keys are still
checked; `tcp://127.0.0.1:PORT` for the engine). Timed, with no delay and with --rtt:
fresh `up` of 3 hosts x 10 containers, then `up` with nothing to change, then `down`
(untimed), through the `api` executor over tcp:// and over ssh://, and the `ssh`
executor; and what a user does by hand without xcompose: `docker-compose up -d` of each
host's 10 containers, host after host (over tcp://, through the same relays), fresh and
again with nothing to change. Targets: fresh under delay at most 1.5x the same without;
a no-op under 1 s + 4 round trips.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from delay import Relays
from uptools import (
    CLEANUPS,
    COMPOSE_LABEL,
    LABEL_PROJECT,
    Compose,
    Counter,
    Project,
    Run,
    Series,
    checked,
    compose_file,
    dump,
    override,
    topology,
)

if TYPE_CHECKING:
    from xcompose.lab import Lab

RTT = 0.050  # seconds: a link across a continent
HOSTS = 3
FAR = (("api-tcp", "api, tcp://"), ("api-ssh", "api, ssh://"), ("ssh", "ssh executor"))


def relay_targets(lab: Lab) -> list[tuple[str, int]]:
    """Each host's sshd, then each host's engine port: relay i + HOSTS is host i's engine."""
    engines = []
    for host in lab.hosts[:HOSTS]:
        url = urlsplit(host.tcp_url)
        assert url.hostname is not None and url.port is not None
        engines.append((url.hostname, url.port))
    return [(host.address, 22) for host in lab.hosts[:HOSTS]] + engines


def far_ssh_env(lab: Lab, work: Path, relays: Relays) -> dict[str, str]:
    """An ssh config naming host i `far-hI` at its relay, trusting the host's own key there
    (`[127.0.0.1]:PORT` in a known_hosts of its own), followed by the lab's own config."""
    keys = {}
    for line in lab.known_hosts_path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3:
            keys[fields[0]] = f"{fields[1]} {fields[2]}"
    known = work / "far_known_hosts"
    config = work / "far_ssh_config"
    known_lines, blocks = [], []
    for index, host in enumerate(lab.hosts[:HOSTS]):
        port = relays.port(index)
        known_lines.append(f"[127.0.0.1]:{port} {keys[host.address]}")
        blocks += [f"Host far-h{index + 1}", "    HostName 127.0.0.1", f"    Port {port}", "    User root",
                   f"    IdentityFile {lab.identity_file}", "    IdentitiesOnly yes",
                   f"    UserKnownHostsFile {known}", "    StrictHostKeyChecking yes", ""]
    known.write_text("\n".join(known_lines) + "\n")
    config.write_text("\n".join(blocks) + "\n" + lab.ssh_config_path.read_text())
    return {"XCOMPOSE_SSH_CONFIG": str(config)}


def far_override(lab: Lab, relays: Relays, transport: str) -> dict:
    hosts: dict[str, dict] = {}
    for index, host in enumerate(lab.hosts[:HOSTS]):
        if transport == "api-tcp":
            entry = {"docker": f"tcp://127.0.0.1:{relays.port(HOSTS + index)}", "executor": "api"}
        else:
            entry = {"docker": f"ssh://root@far-h{index + 1}", "executor": "ssh" if transport == "ssh" else "api"}
        hosts[f"h{index + 1}"] = {"address": host.address, **entry}
    return {"hosts": hosts}


def in_turn(runs: list[Run]) -> Run:
    """Commands run one after another, as one."""
    return Run(sum(r.seconds for r in runs), 0, "", statistics.mean(r.busy for r in runs))


def phase_d(lab: Lab, work: Path, env: dict[str, str], rounds: int, counter: Counter,
            say: Callable[[str], None], pairs: int, rtt: float, with_compose: bool,
            transports: tuple[tuple[str, str], ...] = FAR) -> list[list[str]]:
    name, compose_name = "xbu-d", "xbudc"
    total = HOSTS * 2 * pairs
    topo = work / "d.yaml"
    dump(topo, topology(name, HOSTS, pairs))
    near = work / "d.unix.yaml"
    dump(near, override(lab, HOSTS, "unix"))
    CLEANUPS.append(lambda: Project(name, [topo, near], env).run("down", "--quiet"))
    cfile = work / "d.docker-compose.yml"
    dump(cfile, compose_file(pairs))
    for host in lab.hosts[:HOSTS]:
        CLEANUPS.append(lambda h=host: Compose(compose_name, cfile, h.docker_socket, env).run("down"))
    checked("xcompose down", Project(name, [topo, near], env).run("down", "--quiet"))
    series = Series()
    delays = {"none": 0.0, "far": rtt}
    for tag, delay in delays.items():
        with Relays(relay_targets(lab), delay) as relays:
            far_env = {**env, **far_ssh_env(lab, work, relays)}
            projects = {}
            for key, _ in transports:
                over = work / f"d.{key}.{tag}.yaml"
                dump(over, far_override(lab, relays, key))
                projects[key] = Project(name, [topo, over], far_env)
            composes = [Compose(compose_name, cfile, f"tcp://127.0.0.1:{relays.port(HOSTS + i)}", env)
                        for i in range(HOSTS)]
            for rnd in range(rounds):
                order = transports[rnd % len(transports):] + transports[:rnd % len(transports)]
                for key, _ in order:
                    project = projects[key]
                    fresh = checked(f"fresh up over {key}", project.run("up"))
                    assert counter.running(LABEL_PROJECT, name) == total, f"{name} over {key}: not all running"
                    noop = checked(f"no-op up over {key}", project.run("up"))
                    if "nothing to change" not in noop.output:
                        raise SystemExit(f"the no-op up over {key} changed something:\n{noop.output}")
                    checked("xcompose down", project.run("down", "--quiet"))
                    series.add(f"fresh {key} {tag}", fresh)
                    series.add(f"noop {key} {tag}", noop)
                    say(f"(d) {tag} round {rnd + 1}/{rounds} {key}: fresh {fresh.seconds:.2f}s, "
                        f"no-op {noop.seconds:.2f}s")
                if not with_compose:
                    continue
                fresh = in_turn([checked("docker-compose up -d", c.run("up", "-d")) for c in composes])
                assert counter.running(COMPOSE_LABEL, compose_name) == total, "docker-compose: not all running"
                again = in_turn([checked("docker-compose up -d", c.run("up", "-d")) for c in composes])
                for c in composes:
                    checked("docker-compose down", c.run("down"))
                series.add(f"fresh compose {tag}", fresh)
                series.add(f"noop compose {tag}", again)
                say(f"(d) {tag} round {rnd + 1}/{rounds} docker-compose host after host: fresh "
                    f"{fresh.seconds:.2f}s, no-op {again.seconds:.2f}s")
    return rows(series, pairs, rtt, with_compose, transports)


def rows(series: Series, pairs: int, rtt: float, with_compose: bool,
         transports: tuple[tuple[str, str], ...]) -> list[list[str]]:
    ms = f"{rtt * 1000:g} ms RTT"
    size = f"{HOSTS}x{2 * pairs}"
    out: list[list[str]] = []
    done = [*transports, *([("compose", "docker-compose host after host")] if with_compose else [])]
    for key, label in done:
        fresh = f"(d) fresh up {size}, {label}"
        ratio = series.median(f"fresh {key} far") / series.median(f"fresh {key} none")
        out += [series.row(f"fresh {key} none", f"{fresh}, no delay"),
                series.row(f"fresh {key} far", f"{fresh}, {ms}"),
                [f"(d) fresh, {label}: {ms} / none", "", "", f"{ratio:.2f}x", "<= 1.5x", ""]]
    for key, label in done:
        noop = f"(d) no-op up {size}, {label}"
        ours = key != "compose"
        out += [series.row(f"noop {key} none", f"{noop}, no delay", target="< 1 s" if ours else ""),
                series.row(f"noop {key} far", f"{noop}, {ms}", target=f"< {1 + 4 * rtt:.2f} s" if ours else "")]
    if with_compose:
        for key, label in transports:
            ratio = series.median(f"fresh {key} far") / series.median("fresh compose far")
            out.append([f"(d) fresh, {ms}: xcompose ({label}) / docker-compose", "", "", f"{ratio:.2f}x", "", ""])
    return out
