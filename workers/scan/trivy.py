"""Running the real Trivy binary, and reading the metadata of its two DBs (vulnerabilities, Java).

Arguments are always a list (never a shell string) and the image reference is
the last positional argument, after ``--``-free flags we control: user text can
never become a flag because references are validated (no leading ``-``) before
they get here, and we pass them after all options.

Trivy's own environment variables keep working: a flag we would pass by default
is left out when its ``TRIVY_*`` variable is set, so ``TRIVY_CACHE_DIR``,
``TRIVY_SKIP_DB_UPDATE``, ``TRIVY_TIMEOUT``, ``TRIVY_DB_REPOSITORY`` … behave as a
Trivy user expects.

Both DBs are fetched by ``python -m bot db update`` (:mod:`workers.scan.dbupdate`), so a scan passes
``--skip-db-update`` / ``--skip-java-db-update`` once a DB is there and never pays for a download. With
``TRIVY_SERVER`` the run is a client of ``trivy server`` (layers analysed here, matched against the server's
DB); its token stays in ``TRIVY_TOKEN``, which Trivy reads itself.

Trivy starts with an allow-listed environment (:mod:`workers.scan.childenv`), not the worker's.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from workers.errors import ErrorKind, ScanError
from workers.report import DbInfo
from workers.scan.childenv import trivy_env
from workers.telemetry import metrics

# (flag, value, the TRIVY_* variable that overrides it)
_DEFAULT_FLAGS: tuple[tuple[str, str | None, str], ...] = (
    ("--scanners", "vuln", "TRIVY_SCANNERS"),
    ("--skip-version-check", None, "TRIVY_SKIP_VERSION_CHECK"),
    ("--disable-telemetry", None, "TRIVY_DISABLE_TELEMETRY"),
)
OUTPUT_FORMATS = ("json", "cyclonedx", "spdx-json")  # the --format values we ask for, all JSON on stdout


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where Trivy keeps its DB, resolved as Trivy does."""
    env = os.environ if env is None else env
    if env.get("TRIVY_CACHE_DIR"):
        return Path(env["TRIVY_CACHE_DIR"])
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "trivy"


def db_info(env: Mapping[str, str] | None = None) -> DbInfo | None:
    """The vulnerability DB's version, from ``db/metadata.json``; None before the first download."""
    return _metadata(cache_dir(env) / "db" / "metadata.json")


def java_db_info(env: Mapping[str, str] | None = None) -> DbInfo | None:
    """The Java DB's version, from ``java-db/metadata.json``; None before the first download."""
    return _metadata(cache_dir(env) / "java-db" / "metadata.json")


def _metadata(path: Path) -> DbInfo | None:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return DbInfo(version=meta.get("Version"), updated_at=meta.get("UpdatedAt"), next_update=meta.get("NextUpdate"))


def image_command(
    trivy_bin: str,
    target: str,
    *,
    source: str = "remote",
    platform: str | None = None,
    timeout: int = 600,
    insecure: bool = False,
    env: Mapping[str, str] | None = None,
    skip_db: bool = False,
    skip_java_db: bool = False,
    server: str | None = None,
    output_format: str = "json",
    list_all_pkgs: bool = False,
) -> list[str]:
    """The argument list for ``trivy image`` with JSON output on stdout. ``skip_db``/``skip_java_db``: the DB is
    there, do not look for a newer one; ``server``: run as a client of that ``trivy server``; ``output_format``:
    Trivy's ``--format`` (``cyclonedx`` or ``spdx-json`` for an SBOM, JSON as well); ``list_all_pkgs``: the JSON
    lists every package, not only vulnerable ones (the inventory kept for re-evaluation, workers.inventory)."""
    env = os.environ if env is None else env
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"unknown Trivy output format {output_format!r}")
    args = [trivy_bin, "image", "--format", output_format, "--quiet", "--image-src", source]
    args += _common_flags(env, skip_db=skip_db, skip_java_db=skip_java_db, server=server, timeout=timeout)
    if list_all_pkgs and output_format == "json":
        args.append("--list-all-pkgs")
    if platform and source == "remote" and not env.get("TRIVY_PLATFORM"):
        args += ["--platform", platform]
    if insecure:
        args.append("--insecure")
    if target.startswith("-"):  # defence in depth: validated references never start with "-"
        raise ScanError.of(ErrorKind.INVALID_REFERENCE, "dash")
    args.append(target)
    return args


def sbom_command(
    trivy_bin: str,
    path: str,
    *,
    timeout: int = 600,
    env: Mapping[str, str] | None = None,
    skip_db: bool = False,
    skip_java_db: bool = False,
    server: str | None = None,
) -> list[str]:
    """The argument list for ``trivy sbom`` over a CycloneDX file we wrote, JSON on stdout: the same scanners,
    DB flags and server as an image scan, so its findings are the image scan's (workers.inventory)."""
    env = os.environ if env is None else env
    args = [trivy_bin, "sbom", "--format", "json", "--quiet"]
    args += _common_flags(env, skip_db=skip_db, skip_java_db=skip_java_db, server=server, timeout=timeout)
    return [*args, "--list-all-pkgs", path]


def convert_command(trivy_bin: str, path: str) -> list[str]:
    """``trivy convert`` of a JSON report we wrote (with every package) into Trivy's CycloneDX, on stdout."""
    return [trivy_bin, "convert", "--format", "cyclonedx", "--quiet", path]


def _common_flags(
    env: Mapping[str, str], *, skip_db: bool, skip_java_db: bool, server: str | None, timeout: int
) -> list[str]:
    """The flags every scan passes: scanners, no version check or telemetry, how the DBs are had, the timeout;
    each left out when its ``TRIVY_*`` variable is set."""
    args: list[str] = []
    for flag, value, variable in _DEFAULT_FLAGS:
        if not env.get(variable):
            args += [flag] if value is None else [flag, value]
    if server:  # our setting TRIVY_SERVER, checked when read: always explicit
        args += ["--server", server]
    elif skip_db and not env.get("TRIVY_SKIP_DB_UPDATE"):
        args.append("--skip-db-update")
    if skip_java_db and not env.get("TRIVY_SKIP_JAVA_DB_UPDATE"):
        args.append("--skip-java-db-update")
    if not env.get("TRIVY_TIMEOUT"):
        args += ["--timeout", f"{timeout}s"]
    return args


def run_json(args: list[str], **options) -> dict:
    """Run Trivy and parse its JSON (``options`` as for :func:`start`); every failure becomes a :class:`ScanError`
    sentence. Each run is counted in ``chainscan_trivy_runs_total`` by result, unless ``counted`` is False (a
    ``trivy convert``: no scan)."""
    return start(args, **options).json()


def start(
    args: list[str],
    *,
    timeout: int,
    extra_env: Mapping[str, str] | None = None,
    what: str,
    server: str | None = None,
    counted: bool = True,
) -> Running:
    """Start Trivy and return at once: its JSON is read by :meth:`Running.json` (a caller that has other work,
    such as resolving tags, does it while Trivy starts up and works)."""
    env = trivy_env(os.environ, extra_env)  # never the worker's secrets (childenv)
    try:
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env
        )
    except FileNotFoundError:
        if counted:
            metrics.trivy_ran(ok=False)
        raise ScanError.of(ErrorKind.TRIVY_MISSING, binary=args[0]) from None
    return Running(process, timeout=timeout, what=what, server=server, counted=counted)


@dataclass
class Running:
    """A Trivy process started by :func:`start`, its output not read yet."""

    process: subprocess.Popen
    timeout: int  # Trivy's own --timeout; the process is killed 30 s after it
    what: str  # what it reads, for the failure's sentence
    server: str | None = None
    counted: bool = True

    def json(self) -> dict:
        """Wait for it and parse its JSON; a failure becomes one :class:`ScanError` sentence."""
        try:
            output = self._json()
        except ScanError:
            if self.counted:
                metrics.trivy_ran(ok=False)
            raise
        if self.counted:
            metrics.trivy_ran(ok=True)
        return output

    def stop(self) -> None:
        """Kill it if it still runs (its output is no longer wanted)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()

    def _json(self) -> dict:
        try:
            stdout, stderr = self.process.communicate(timeout=self.timeout + 30)
        except subprocess.TimeoutExpired:
            self.stop()
            raise ScanError.of(ErrorKind.TIMEOUT, "scan", what=self.what, seconds=self.timeout) from None
        if self.process.returncode != 0:
            raise classify_failure(stderr, self.what, self.timeout, self.server)
        try:
            return json.loads(stdout)
        except ValueError:
            raise ScanError.of(ErrorKind.TRIVY_FAILED, "unreadable", what=self.what) from None


def classify_failure(stderr: str, what: str, timeout: int, server: str | None = None) -> ScanError:
    """Map Trivy's stderr to one sentence. Pure, so every branch is unit-tested. ``server``: the ``trivy server``
    this run was a client of (its failures are told apart from the registry's)."""
    text = stderr or ""
    low = text.lower()
    fatal = _fatal_line(text).lower()  # the failure itself, not a progress line that names the Java DB
    if "java db" in fatal or "java-db" in fatal:
        return ScanError.of(ErrorKind.NO_JAVA_DB, "first_run" if "first run" in fatal else "download", what=what)
    if server and "twirp" in low:
        variant = "refused" if "unauthorized" in low or "invalid token" in low else "down"
        return ScanError.of(ErrorKind.TRIVY_SERVER_DOWN, variant, what=what, server=server)
    if "redis cache" in fatal or "redis" in fatal and " cache" in fatal:
        return ScanError.of(ErrorKind.LAYER_CACHE, what=what)
    if "--skip-db-update cannot be specified on the first run" in low or "first run cannot skip" in low:
        return ScanError.of(ErrorKind.NO_DB, "first_run")
    if "failed to download vulnerability db" in low:
        return ScanError.of(ErrorKind.NO_DB, "download")
    if "db error" in low or "failed to open db" in low or "vulnerability db" in low and "error" in low:
        return ScanError.of(ErrorKind.NO_DB, "broken")
    if "context deadline exceeded" in low or "timeout" in low and "exceeded" in low:
        return ScanError.of(ErrorKind.TIMEOUT, "scan", what=what, seconds=timeout)
    if (
        "manifest_unknown" in low
        or "manifest unknown" in low
        or "name_unknown" in low
        or "not found" in low
        and "image" in low
    ):
        return ScanError.of(ErrorKind.NOT_FOUND, "trivy", what=what)
    if "unauthorized" in low or "denied" in low or "authentication required" in low:
        return ScanError.of(ErrorKind.ACCESS_DENIED, "trivy", what=what)
    if "toomanyrequests" in low or "rate limit" in low:
        return ScanError.of(ErrorKind.RATE_LIMITED, "trivy", what=what)
    if "no such host" in low or "server misbehaving" in low:
        return ScanError.of(ErrorKind.NAME_UNRESOLVED, "trivy", what=what)
    if "connection refused" in low or "i/o timeout" in low or "network is unreachable" in low:
        return ScanError.of(ErrorKind.UNREACHABLE, "trivy", what=what)
    return ScanError.of(ErrorKind.TRIVY_FAILED, what=what, detail=_last_error_line(text))


def _last_error_line(stderr: str) -> str:
    """The most telling line of Trivy's stderr, short and without paths to source files."""
    line = _fatal_line(stderr)
    for marker in ("FATAL", "ERROR", "Fatal error"):
        if marker in line:
            line = line.split(marker, 1)[1]
    line = line.strip(" :\t")
    return (line[:180] + "…") if len(line) > 180 else line


def _fatal_line(stderr: str) -> str:
    """The last line of Trivy's stderr that reports an error, whole."""
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip() and not line.strip().startswith(("goroutine", "/", "github.com"))
    ]
    return next(
        (text for text in reversed(lines) if "error" in text.lower() or "fatal" in text.lower()),
        lines[-1] if lines else "no output",
    )
