"""A cgroup per build that caps how many processes its RUN steps may start (``BUILD_PIDS_LIMIT``).

The engine's build API has no pids limit, but it takes a cgroup parent: the worker makes
``<BUILD_CGROUP_PARENT>/<build>`` in the pids hierarchy with ``pids.max`` set, and the build's
containers are created inside it. This writes the cgroup filesystem, so it holds only where the
worker runs on the engine's host (as root) and the engine uses the cgroupfs driver; elsewhere
:func:`limit_pids` returns None and the build runs without a pids limit.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))  # cgroup v1, then v2


def limit_pids(parent: str, build: str, limit: int, roots: tuple[Path, ...] = ROOTS) -> str | None:
    """The cgroup parent to hand the engine (``/parent/build``) once its ``pids.max`` is ``limit``; None when
    this host's cgroup filesystem cannot be written."""
    relative = f"{parent}/{build}"
    for root in roots:
        if not (root / "pids.max").exists() and not (root / "cgroup.procs").exists():
            continue
        try:
            (root / relative).mkdir(parents=True, exist_ok=True)
            (root / relative / "pids.max").write_text(str(limit))
        except OSError:
            continue
        return f"/{relative}"
    return None


def release(cgroup: str | None, roots: tuple[Path, ...] = ROOTS) -> None:
    """Remove the build's cgroup once its containers are gone (best effort: a busy cgroup stays)."""
    if not cgroup:
        return
    for root in roots:
        path = root / cgroup.strip("/")
        if path.is_dir():
            try:
                os.rmdir(path)
            except OSError:
                pass
