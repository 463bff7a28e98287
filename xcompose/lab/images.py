"""Stand-in images built from Debian packages, cached by recipe hash, loaded into hosts.

No registry is reachable, so one "fat" root filesystem (every package any stand-in needs)
is built with mmdebstrap, imported once, and each stand-in is a config-only image on top
of it (ENTRYPOINT/CMD/ENV/STOPSIGNAL via a FROM-only Dockerfile): one mmdebstrap run, one
shared layer, so `docker save` of all tags carries the rootfs once and loading into the
other hosts is one tarball each.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import state as st
from .errors import LabError
from .sysutil import IMAGE_PROGRAMS, require_programs, run

SCRIPTS_DIR = Path(__file__).with_name("rootfs")
SUITE = "bookworm"
RECIPE_VERSION = "2"  # bump when the build procedure changes in a way the hash can't see

PACKAGES: tuple[str, ...] = (
    "socat", "openssl", "ca-certificates", "procps", "iproute2", "netcat-openbsd", "curl",
    "haproxy",
    # The kernel relay (ambassador mode kernel) installs DNAT rules from inside its container.
    "iptables",
    "redis-server", "redis-tools",
    "mariadb-server", "mariadb-client",
    "postgresql", "postgresql-client",
)
# Documentation and translations are a third of the tree and nothing here reads them.
DPKG_EXCLUDES: tuple[str, ...] = (
    "path-exclude=/usr/share/doc/*",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
)
# After installing: drop the databases the packages' postinst created (the entrypoints
# initialise their own on first start), PostgreSQL's optional LLVM JIT (130 MB; postgres
# runs without it), apt lists; make haproxy's config folder where the official image has
# it; then add the entrypoint scripts.
CUSTOMIZE = r"""set -e
root="$1"
rm -rf "$root"/var/lib/mysql/* "$root"/var/lib/postgresql/15 "$root"/etc/postgresql/15
rm -rf "$root"/usr/lib/postgresql/15/lib/llvmjit* "$root"/usr/lib/postgresql/15/lib/bitcode
rm -f "$root"/usr/lib/x86_64-linux-gnu/libLLVM-* "$root"/usr/lib/x86_64-linux-gnu/libz3.so*
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*
mkdir -p "$root"/var/lib/postgresql/data "$root"/data "$root"/usr/local/etc/haproxy
chroot "$root" chown postgres:postgres /var/lib/postgresql/data
chroot "$root" chown mysql:mysql /var/lib/mysql
install -m 0755 "$XLAB_SCRIPTS"/xlab-* "$root"/usr/local/bin/
"""

PG_BIN = "/usr/lib/postgresql/15/bin"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class ImageSpec:
    tags: tuple[str, ...]
    config: tuple[str, ...]  # Dockerfile instructions that only change the image config


IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec(("alpine/socat:latest",), ('ENTRYPOINT ["socat"]',)),
    # Debian's haproxy 2.6, laid out like the official `haproxy:2.6` image: the config is
    # read from /usr/local/etc/haproxy/haproxy.cfg, master-worker in the foreground, soft
    # stop on SIGUSR1. bash is there (probes may use its /dev/tcp).
    ImageSpec(
        ("haproxy:2.6",),
        (
            "STOPSIGNAL SIGUSR1",
            'ENTRYPOINT ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]',
        ),
    ),
    ImageSpec(
        ("redis:7",),
        (
            "WORKDIR /data",
            "EXPOSE 6379",
            'ENTRYPOINT ["/usr/local/bin/xlab-redis"]',
            'CMD ["redis-server", "--protected-mode", "no", "--bind", "0.0.0.0"]',
        ),
    ),
    ImageSpec(
        ("mysql:8",),
        ("EXPOSE 3306", 'ENTRYPOINT ["/usr/local/bin/xlab-mysql"]', 'CMD ["mysqld"]'),
    ),
    ImageSpec(
        ("postgres:16",),
        (
            f"ENV PATH={PG_BIN}:{DEFAULT_PATH} PGDATA=/var/lib/postgresql/data",
            "EXPOSE 5432",
            "STOPSIGNAL SIGINT",
            'ENTRYPOINT ["/usr/local/bin/xlab-postgres"]',
            'CMD ["postgres"]',
        ),
    ),
    ImageSpec(("wordpress:6",), ("EXPOSE 80", 'ENTRYPOINT ["/usr/local/bin/xlab-wordpress"]')),
    ImageSpec(
        ("tirtool/oracle11g:latest",),
        ("EXPOSE 1521", 'ENTRYPOINT ["/usr/local/bin/xlab-oracle"]'),
    ),
    # An image the kernel relay can run (`ambassador: {mode: kernel, image: ...}`): a shell,
    # sleep and iptables, as a user's `FROM alpine` + `apk add iptables` would have.
    ImageSpec(("xcompose/iptables:latest",), ('CMD ["/bin/sh"]',)),
    # `sleep` as PID 1 ignores SIGTERM; SIGKILL makes `docker stop` immediate.
    ImageSpec(
        ("xcompose/tools:latest", "debian:bookworm"),
        ("STOPSIGNAL SIGKILL", 'CMD ["sleep", "infinity"]'),
    ),
)


def all_tags() -> list[str]:
    return [t for spec in IMAGES for t in spec.tags]


# --- mirrors ---------------------------------------------------------------------------


def _deb822_entries(text: str) -> list[str]:
    lines: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for raw in para.splitlines():
            if raw.startswith("#") or ":" not in raw or raw[:1].isspace():
                continue
            key, _, val = raw.partition(":")
            fields[key.strip().lower()] = val.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                lines.append(f"deb {uri} {suite} {fields.get('components', 'main')}")
    return lines


def apt_mirrors(etc: Path = Path("/etc/apt")) -> list[str]:
    """`deb URI SUITE COMPONENTS` lines for the build, taken from this machine's apt
    sources (so a local mirror or proxy is honoured), restricted to the lab's suite.
    Always explicit: given no mirror, mmdebstrap would read sources from stdin."""
    found: list[str] = []
    legacy = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]
    for path in legacy:
        if path.is_file():
            for line in path.read_text().splitlines():
                line = line.split("#", 1)[0].strip()
                if line.startswith("deb ") and "[" not in line:
                    found.append(" ".join(line.split()))
    for path in sorted((etc / "sources.list.d").glob("*.sources")):
        found += _deb822_entries(path.read_text())
    ours = [m for m in found if len(m.split()) >= 3 and m.split()[2].startswith(SUITE)]
    return list(dict.fromkeys(ours)) or [f"deb http://deb.debian.org/debian {SUITE} main"]


# --- recipe hash -----------------------------------------------------------------------


def recipe_hash(mirrors: list[str], scripts_dir: Path = SCRIPTS_DIR) -> str:
    """Content hash of everything that shapes the images: packages, hooks, scripts,
    image configs, mirrors. Same hash -> the cached tarball is reused."""
    h = hashlib.sha256()
    doc = {
        "v": RECIPE_VERSION,
        "suite": SUITE,
        "packages": sorted(PACKAGES),
        "dpkg": list(DPKG_EXCLUDES),
        "customize": CUSTOMIZE,
        "images": [[list(s.tags), list(s.config)] for s in IMAGES],
        "mirrors": mirrors,
    }
    h.update(json.dumps(doc, sort_keys=True).encode())
    for path in sorted(scripts_dir.glob("xlab-*")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


# --- build and load --------------------------------------------------------------------

Progress = Callable[[str], None]


@dataclass
class ImagesReport:
    recipe: str
    built: bool
    tarball: str
    loaded: list[str] = field(default_factory=list)  # hosts that needed a `docker load`
    skipped: list[str] = field(default_factory=list)  # hosts that had every image already
    seconds: dict[str, float] = field(default_factory=dict)


def cache_dir(recipe: str) -> Path:
    return st.CACHE_ROOT / "images" / recipe


@contextlib.contextmanager
def _cache_lock() -> Iterator[None]:
    """One build at a time per machine: labs of other prefixes share the cache, and two
    builds of one recipe would write the same partial files (and the sweep of stale recipes
    could remove a build in flight)."""
    st.CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(st.CACHE_ROOT / "images.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _docker(sock: str, *args: str) -> list[str]:
    return ["docker", "-H", sock, *args]


def build_rootfs(out: Path, mirrors: list[str], progress: Progress) -> None:
    progress("building the root filesystem with mmdebstrap (about a minute)")
    tmp = out.with_suffix(".partial")
    argv = [
        "mmdebstrap", "--variant=apt", "--mode=root", "--format=tar",
        f"--include={','.join(PACKAGES)}",
        *[f"--dpkgopt={o}" for o in DPKG_EXCLUDES],
        f"--customize-hook={CUSTOMIZE}",
        SUITE, str(tmp), *mirrors,
    ]
    env_scripts = str(SCRIPTS_DIR)
    old = os.environ.get("XLAB_SCRIPTS")
    os.environ["XLAB_SCRIPTS"] = env_scripts  # read by the customize hook
    try:
        run(argv, "build root filesystem (mmdebstrap)", timeout=1800)
    finally:
        if old is None:
            os.environ.pop("XLAB_SCRIPTS", None)
        else:
            os.environ["XLAB_SCRIPTS"] = old
    os.replace(tmp, out)


def build_images(builder_sock: str, rootfs: Path, out: Path, recipe: str, progress: Progress) -> dict[str, str]:
    """Import the rootfs into the builder host, derive every stand-in, save them all."""
    import docker  # local import: the pure parts of this module must not need docker-py

    base = f"xcompose-lab/base:{recipe}"
    progress("importing the root filesystem")
    run(_docker(builder_sock, "import", str(rootfs), base), "docker import", timeout=900)
    client = docker.DockerClient(base_url=builder_sock, timeout=600)
    try:
        ids: dict[str, str] = {}
        for spec in IMAGES:
            dockerfile = "\n".join([f"FROM {base}", *spec.config, ""])
            progress(f"deriving {', '.join(spec.tags)}")
            try:
                image, _ = client.images.build(
                    fileobj=io.BytesIO(dockerfile.encode()), tag=spec.tags[0], rm=True
                )
            except docker.errors.DockerException as exc:
                raise LabError(f"build {spec.tags[0]}: {exc}") from None
            for extra in spec.tags[1:]:
                repo, _, tag = extra.rpartition(":")
                image.tag(repo, tag)
            for t in spec.tags:
                ids[t] = str(image.id)
        client.images.remove(base)  # untag only: the derived images keep the layer
    finally:
        client.close()
    progress("saving the images")
    tmp = out.with_suffix(".partial")
    run(_docker(builder_sock, "save", "-o", str(tmp), *all_tags()), "docker save", timeout=900)
    os.replace(tmp, out)
    return ids


def host_has_images(sock: str, ids: dict[str, str]) -> bool:
    for tag, image_id in ids.items():
        proc = run(_docker(sock, "image", "inspect", "--format", "{{.Id}}", tag),
                   "inspect image", check=False, timeout=60)
        if proc.returncode != 0 or proc.stdout.decode().strip() != image_id:
            return False
    return True


def ensure_images(
    hosts: list[tuple[str, str]],
    progress: Progress = lambda _m: None,
) -> ImagesReport:
    """Build (or reuse) the stand-ins and load them into every (name, unix-socket) host."""
    import time

    require_programs(IMAGE_PROGRAMS)
    if not hosts:
        raise LabError("the lab has no hosts")
    mirrors = apt_mirrors()
    recipe = recipe_hash(mirrors)
    cdir = cache_dir(recipe)
    tarball, manifest = cdir / "images.tar", cdir / "manifest.json"
    report = ImagesReport(recipe=recipe, built=False, tarball=str(tarball))
    t0 = time.monotonic()
    with _cache_lock():
        if not (tarball.is_file() and manifest.is_file()):
            cdir.mkdir(parents=True, exist_ok=True)
            # Other recipes' tarballs are stale (a recipe changed): keep the cache bounded.
            for old in cdir.parent.iterdir():
                if old != cdir:
                    shutil.rmtree(old, ignore_errors=True)
            with tempfile.TemporaryDirectory(dir=cdir) as tmpd:
                rootfs = Path(tmpd) / "rootfs.tar"
                build_rootfs(rootfs, mirrors, progress)
                report.seconds["rootfs"] = time.monotonic() - t0
                ids = build_images(hosts[0][1], rootfs, tarball, recipe, progress)
            manifest.write_text(json.dumps(ids, indent=2))
            report.built = True
            report.seconds["build"] = time.monotonic() - t0
        ids = json.loads(manifest.read_text())

    t1 = time.monotonic()

    def load(host: tuple[str, str]) -> tuple[str, bool]:
        name, sock = host
        if host_has_images(sock, ids):
            return name, False
        progress(f"loading images into {name}")
        run(_docker(sock, "load", "-q", "-i", str(tarball)), f"docker load into {name}", timeout=900)
        if not host_has_images(sock, ids):
            raise LabError(f"docker load into {name}: images missing after load")
        return name, True

    # Loads are mostly disk and decompression-free copying: two at a time suits small machines.
    with ThreadPoolExecutor(max_workers=2) as pool:
        for name, did in pool.map(load, hosts):
            (report.loaded if did else report.skipped).append(name)
    report.seconds["load"] = time.monotonic() - t1
    return report


def images_present(sock: str) -> tuple[int, int]:
    """(present, expected) count of stand-in tags on a host, for `lab status`."""
    proc = run(_docker(sock, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"),
               "list images", check=False, timeout=30)
    have = set(proc.stdout.decode().split()) if proc.returncode == 0 else set()
    tags = all_tags()
    return sum(1 for t in tags if t in have), len(tags)
