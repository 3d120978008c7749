"""The README's set-up on a fresh Debian 12 machine with no pip (a container made with debootstrap): as a user
with sudo, as root on a second run, and the sentences for a user whose sudo refuses and a machine without apt.

Slow (apt and pip download for real, from the package registries), so it runs once per test session, in one
container, in the order a newcomer meets these things.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.helpers.fresh_debian import DockerRelay, ensure_fresh_debian_image

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
HOME = "/opt/chainscan"


def _exec(name: str, *command: str, user: str = "root", timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "exec", "-u", user, "-w", HOME, name, *command],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,  # no terminal: sudo cannot ask for a password, as in CI
    )


def _copy_repo_in(name: str) -> None:
    """The project's files as a clone has them (tracked and new, not ignored), owned by the user ``dev``."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    present = b"\0".join(f for f in files.split(b"\0") if f and (REPO / f.decode()).exists())
    tar = subprocess.run(["tar", "-C", str(REPO), "--null", "-T", "-", "-c"], input=present, capture_output=True)
    subprocess.run(
        ["docker", "exec", "-i", name, "sh", "-c", f"mkdir -p {HOME} && tar -C {HOME} -x && chown -R dev {HOME}"],
        input=tar.stdout,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def fresh_machine(docker_client):
    image = ensure_fresh_debian_image(docker_client)
    name = f"chainscan-fresh-{uuid.uuid4().hex[:8]}"
    with DockerRelay() as relay:
        subprocess.run(
            ["docker", "run", "-d", "--name", name, "-v", f"{relay.path}:/var/run/docker.sock", image, "sleep", "3000"],
            check=True,
            capture_output=True,
        )
        try:
            setup = (
                "useradd -m -s /bin/bash dev && echo 'dev ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/dev"
                " && useradd -m -s /bin/bash guest"
            )
            subprocess.run(["docker", "exec", name, "sh", "-c", setup], check=True, capture_output=True)
            _copy_repo_in(name)
            yield name
        finally:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def _one_sentence(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_the_readme_setup_on_a_fresh_debian_without_pip(fresh_machine):
    name = fresh_machine
    assert _exec(name, "python3", "-m", "pip", "--version").returncode != 0, "the fresh machine must have no pip"

    # A user whose sudo asks for a password, with no terminal to type it in: one sentence, nothing half-done.
    refused = _exec(name, "./deploy/setup.sh", user="guest")
    assert refused.returncode == 1
    assert "sudo refused without a password" in _one_sentence(refused)

    # A machine without apt-get: one sentence naming what is missing.
    _exec(name, "mv", "/usr/bin/apt-get", "/usr/bin/apt-get.off")
    try:
        no_apt = _exec(name, "./deploy/setup.sh")
    finally:
        _exec(name, "mv", "/usr/bin/apt-get.off", "/usr/bin/apt-get")
    assert no_apt.returncode == 1
    assert "apt-get only" in _one_sentence(no_apt) and "python3-pip" in no_apt.stderr

    # The newcomer with sudo: everything installed, each step one line, no error wall.
    first = _exec(name, "./deploy/setup.sh", user="dev")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stderr == "", first.stderr
    steps = first.stdout.splitlines()
    assert steps and all(line.startswith("[setup] ") for line in steps), first.stdout
    assert any("pip install -r requirements.txt (into ~/.local of dev" in line for line in steps)
    assert any("docker group" in line for line in steps), "the user is given the Docker engine"
    assert steps[-1].startswith("[setup] ready:")

    # The main job now runs: no internet here, so it answers with one sentence (not a traceback wall).
    overview = _exec(name, "python3", "-m", "bot", user="dev")
    assert overview.returncode == 0 and "scan" in overview.stdout
    scan = _exec(name, "python3", "-m", "bot", "scan", "mariadb", "--no-alternative", user="dev", timeout=120)
    if scan.returncode != 0:
        sentence = _one_sentence(scan)
        assert "mariadb" in sentence and scan.stdout == ""

    # A second run: idempotent and fast.
    started = time.monotonic()
    again = _exec(name, "./deploy/setup.sh", user="dev")
    took = time.monotonic() - started
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already installed" in again.stdout and "apt-get install" not in again.stdout
    assert took < 20, f"a second run took {took:.1f} s"

    # Root on the same machine: apt has nothing left to do; root's own python3 gets the packages.
    as_root = _exec(name, "./deploy/setup.sh")
    assert as_root.returncode == 0 and as_root.stderr == "", as_root.stdout + as_root.stderr
    assert "apt-get install" not in as_root.stdout and "--break-system-packages" in as_root.stdout
    assert _exec(name, "python3", "-c", "import slack_bolt, rq, docker, redis").returncode == 0
