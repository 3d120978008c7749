"""Local container registries for tests: Debian's docker-registry (CNCF distribution 2.8).

    ensure_registry(5000)                  # "127.0.0.1:5000", started only if nothing answers
    reg = start_registry(5002)             # a separate one, to stop for "registry down" tests
    reg.stop(); reg.start()
    locked = start_registry(5001, auth=("chainscan", "s3cret"))   # htpasswd basic auth
    watched = start_registry(5003, access_log=True); watched.count("GET", "/blobs/")   # what was read

Registries listen on 127.0.0.1 only and keep their blobs under
``$CHAINSCAN_TEST_WORLD`` (default: ``<tmp>/chainscan-test-world``)/registry-PORT, so a
later run re-pushes images cheaply.

The registry of `ensure_registry` is a shared background service, like Redis on 6379: it
outlives the process that started it (several pytest runs may use it at once) and
`stop_registry(port)` stops it, from any process. Registries of `start_registry` belong
to this process and are stopped when it exits.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import requests

REGISTRY_BINARY = "/usr/bin/docker-registry"
HOST = "127.0.0.1"

_started: dict[int, Registry] = {}
_ACCESS = re.compile(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) (/v2/[^ "]*) HTTP/')


def world_dir() -> Path:
    """Where the test world keeps state between runs (registry storage)."""
    return Path(os.environ.get("CHAINSCAN_TEST_WORLD", Path(tempfile.gettempdir()) / "chainscan-test-world"))


def registry_answers(address: str, timeout: float = 1.0) -> bool:
    """True when something speaks the registry API at address (401 counts: it is up)."""
    session = requests.Session()
    session.trust_env = False  # loopback: never through an HTTP(S)_PROXY
    try:
        response = session.get(f"http://{address}/v2/", timeout=timeout)
    except requests.RequestException:
        return False
    return response.status_code in (200, 401)


@dataclass
class Registry:
    port: int
    root: Path
    auth: tuple[str, str] | None = None
    access_log: bool = False  # every request a line in registry.log (requests() counts them)
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def config_path(self) -> Path:
        return self.root / "config.yml"

    @property
    def log_path(self) -> Path:
        return self.root / "registry.log"

    @property
    def pid_path(self) -> Path:
        return self.root / "registry.pid"

    def start(self, timeout: float = 20.0, *, detach: bool = False) -> Registry:
        """Start the server (again) and wait until /v2/ answers.

        detach=True: its own session, a pid file, and no stop at this process's exit.
        """
        if self.process and self.process.poll() is None:
            return self
        if registry_answers(self.address):
            raise RuntimeError(f"something already answers on {self.address}; cannot start another registry there")
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_config()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=detach,
            )
        if detach:
            self.pid_path.write_text(f"{self.process.pid}\n")
        else:
            _started[self.port] = self
        self._wait_until_up(timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server; its storage stays for a later start()."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
            self._forget_pid(self.process.pid)
        elif self.process is None:
            self._stop_detached(timeout)
        self.process = None
        _started.pop(self.port, None)

    def _stop_detached(self, timeout: float) -> None:
        """Stop a detached registry of ours, by its pid file (checked against /proc)."""
        try:
            pid = int(self.pid_path.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if str(self.config_path).encode() not in cmdline:
            return  # the pid was reused by something else
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._forget_pid(pid)

    def _forget_pid(self, pid: int) -> None:
        """Remove the pid file unless another process has meanwhile started a new server."""
        try:
            if int(self.pid_path.read_text()) == pid:
                self.pid_path.unlink()
        except (OSError, ValueError):
            pass

    def count(self, method: str, path_part: str) -> int:
        """How many ``method`` requests whose path holds ``path_part`` the access log has recorded so far."""
        return sum(1 for verb, path in self.requests() if verb == method and path_part in path)

    @property
    def running(self) -> bool:
        return bool(self.process and self.process.poll() is None)

    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request its access log holds so far (``access_log=True``), in order."""
        found = []
        for line in self._log_lines():
            match = _ACCESS.search(line)
            if match:
                found.append((match.group(1), match.group(2)))
        return found

    def _log_lines(self) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry on {self.address} exited: {self._log_tail()}")
            if registry_answers(self.address, timeout=0.5):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"docker-registry on {self.address} did not answer in {timeout}s: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-1500:]
        except OSError:
            return "(no log)"

    def _write_config(self) -> None:
        lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "  accesslog:",
            f"    disabled: {'false' if self.access_log else 'true'}",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.root / 'data'}",
            "  delete:",
            "    enabled: true",
            "  cache:",
            "    blobdescriptor: inmemory",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            f"  addr: {self.address}",
            f"  secret: chainscan-test-{self.port}",
            "  headers:",
            "    X-Content-Type-Options: [nosniff]",
        ]
        if self.auth:
            htpasswd = self.root / "htpasswd"
            htpasswd.write_text(htpasswd_line(*self.auth))
            lines += ["auth:", "  htpasswd:", "    realm: chainscan-test-registry", f"    path: {htpasswd}"]
        self.config_path.write_text("\n".join(lines) + "\n")


def htpasswd_line(username: str, password: str) -> str:
    """A bcrypt htpasswd entry (the only scheme distribution accepts), from libcrypt."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # stdlib up to Python 3.12; glibc's libxcrypt does bcrypt

    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5))
    if not hashed or not hashed.startswith("$2"):
        raise RuntimeError("this libcrypt cannot make bcrypt hashes for htpasswd")
    return f"{username}:{hashed}\n"


def start_registry(
    port: int, *, auth: tuple[str, str] | None = None, root: Path | None = None, access_log: bool = False
) -> Registry:
    """Start a registry of our own on 127.0.0.1:PORT (fails if the port already answers); ``access_log``: it logs
    every request, for :meth:`Registry.requests`."""
    suffix = "-auth" if auth else ""
    return Registry(port, root or world_dir() / f"registry-{port}{suffix}", auth, access_log).start()


def start_auth_registry(
    port: int = 5001, username: str = "chainscan", password: str = "correct-horse-battery"
) -> Registry:
    """A second registry that demands basic auth (htpasswd), for access-denied tests."""
    return start_registry(port, auth=(username, password))


def shared_registry(port: int = 5000) -> Registry:
    """The (possibly not running) shared background registry on PORT."""
    return Registry(port, world_dir() / f"registry-{port}")


def ensure_registry(port: int = 5000) -> str:
    """Return "127.0.0.1:PORT", starting a shared, auth-free background registry if nothing answers."""
    registry = shared_registry(port)
    if not registry_answers(registry.address):
        registry.start(detach=True)
    return registry.address


def stop_registry(port: int) -> bool:
    """Stop the registry on PORT if one of ours runs there (this process's or the shared one)."""
    registry = _started.get(port)
    if registry is not None:
        registry.stop()
        return True
    shared = shared_registry(port)
    if not shared.pid_path.exists():
        return False
    shared.stop()
    return not registry_answers(shared.address)


@atexit.register
def _stop_all() -> None:
    for registry in list(_started.values()):
        registry.stop()
