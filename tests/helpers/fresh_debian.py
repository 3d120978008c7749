"""A fresh Debian 12 machine in a container, for proving the README's set-up where nothing is installed yet.

The image is what a newcomer's machine has: ``debootstrap --variant=minbase`` with python3, python3-venv, git,
ca-certificates and sudo, and no pip. Made from Debian's own packages (the one registry these machines reach),
imported with ``docker import`` and kept under one tag, so a machine builds it once. The machine's own extra CA
certificates (a company proxy's, on these machines) are trusted inside, as they are on any machine of the site.

The container reaches the host's Docker engine through a relay socket of the test's own (``DockerRelay``), so
what the set-up does to the socket (an ACL for the user) touches the relay, never the host's socket.

``ensure_debootstrap_image`` makes the other Debian bases the same way: the base of the bot's own image in
tests/deploy/test_image.py, and the Debian 12 + mariadb-server base of the fleet benchmark.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

IMAGE = "localhost/chainscan-fresh-debian:12"
PACKAGES = "python3,python3-venv,git,ca-certificates,sudo"
MIRROR_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (its sources), or Debian's own."""
    if MIRROR_SOURCES.exists():
        for line in MIRROR_SOURCES.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    return "http://deb.debian.org/debian"


def ensure_fresh_debian_image(docker_client) -> str:
    """The tag of the fresh-machine image, built with debootstrap the first time (about a minute)."""
    return ensure_debootstrap_image(docker_client, IMAGE, PACKAGES)


def ensure_debootstrap_image(docker_client, tag: str, packages: str) -> str:
    """``tag``: a Debian 12 minbase with ``packages`` (comma-separated), built with debootstrap unless present."""
    import docker.errors

    try:
        docker_client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    if not shutil.which("debootstrap"):
        raise RuntimeError("debootstrap is missing: apt-get install debootstrap (deploy/setup.sh does)")
    with tempfile.TemporaryDirectory(prefix="debootstrap-") as tmp:
        root = Path(tmp) / "root"
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={packages}", "bookworm", str(root), debian_mirror()],
            check=True,
            capture_output=True,
            timeout=900,
        )
        for cert in HOST_CA_DIR.glob("*.crt"):
            shutil.copy(cert, root / "usr/local/share/ca-certificates" / cert.name)
        subprocess.run(["chroot", str(root), "update-ca-certificates"], check=True, capture_output=True)
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(root / leftover, ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", tag], stdin=tar.stdout, check=True, capture_output=True)
        tar.wait(60)
    return tag


class DockerRelay:
    """A unix socket that forwards every connection to the host's Docker engine, mode 0660 root:root like
    dockerd's own, so a non-root user in the container is refused until the set-up grants access."""

    def __init__(self, target: str = "/var/run/docker.sock"):
        self.target = target
        self.dir = Path(tempfile.mkdtemp(prefix="docker-relay-"))
        self.path = self.dir / "docker.sock"
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.path))
        self.path.chmod(0o660)
        self._server.listen(32)
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> DockerRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)  # pass the end of this direction on; the other one may still talk
        except OSError:
            pass
