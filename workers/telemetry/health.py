"""Readiness: may this process take work? Decided purely from a :class:`~workers.telemetry.fleet.Fleet`.

``/readyz`` on the web process and ``python -m bot status --check`` on a worker both ask :func:`problems`;
each problem is one sentence saying what is wrong and what to do. ``/healthz`` asks nothing: the process
answering is the health it reports.
"""

from __future__ import annotations

from workers.telemetry.fleet import Fleet


def problems(fleet: Fleet, now: float, *, db_max_age_hours: int, worker_host: str | None = None) -> list[str]:
    """Why this process is not ready (none: ready). ``worker_host``: also require a live worker there. Pure.

    A DB nobody has used yet is no problem (the workers download it on the first scan); one older than
    ``db_max_age_hours`` is: scans would miss what was disclosed since."""
    if not fleet.redis_up:
        return ["Redis is not answering: check REDIS_URL and that Redis is up."]
    found = []
    age = fleet.db_age_seconds(now)
    if age is not None and age > db_max_age_hours * 3600:
        found.append(
            f"The Trivy DB is {age / 3600:.0f} hours old (DB_MAX_AGE_HOURS is {db_max_age_hours}): "
            "let the workers update it, or refresh the mirror TRIVY_DB_REPOSITORY points at."
        )
    if worker_host is not None and worker_host not in fleet.alive_hosts(now):
        found.append(f"No worker of host {worker_host} is alive in Redis: restart `python -m bot worker`.")
    return found
