"""After a DB update, the fleet judged again: what channels will read first is judged first.

:func:`order` is pure: the watched references by the next digest of a channel that watches them (soonest first),
then those watched by channels with no digest schedule (the hourly alert pass reads them). :func:`enqueue` puts
them on the scan queue in that order, REEVALUATE_BATCH references a job, so a worker pool judges the first
digests' images first, then one job for the digests scanned lately that no watched tag points at. Each job
resolves its tags with one manifest request each and judges in batched ``trivy sbom`` runs
(:meth:`workers.scan.engine.Scanner.reevaluate`); nothing reads an image.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from redis import Redis
from rq import Queue

from workers.config import Settings
from workers.digests.store import DigestStore

JOB_TIMEOUT = 3600


def order(watches: Iterable[tuple[str, datetime | None]]) -> list[str]:
    """References, each once, by the soonest digest that will read it; those no digest reads (None) last, in the
    order given. Pure."""
    soonest: dict[str, datetime | None] = {}
    for reference, moment in watches:
        if reference not in soonest or (
            moment is not None and (soonest[reference] is None or moment < soonest[reference])
        ):
            soonest[reference] = moment
    first_seen = {reference: index for index, reference in enumerate(soonest)}
    return sorted(soonest, key=lambda r: (soonest[r] is None, soonest[r] or datetime.min, first_seen[r]))


def watches(redis: Redis, now: datetime) -> list[tuple[str, datetime | None]]:
    """(reference, the next digest moment of the channel watching it, or None) for every watched image."""
    store = DigestStore(redis)
    schedules = {(team, channel): schedule for team, channel, schedule in store.schedules()}
    found = []
    for team, channel in store.watching_channels():
        schedule = schedules.get((team, channel))
        moment = schedule.next_moment(now) if schedule else None
        found += [(reference, moment) for reference in store.watched(team, channel)]
    return found


def enqueue(redis: Redis, settings: Settings, now: datetime) -> int:
    """Queue the fleet's re-evaluation on the scan queue; returns the jobs queued."""
    queue = Queue(settings.queue_name, connection=redis)
    references = order(watches(redis, now))
    size = settings.reevaluate_batch
    for start in range(0, len(references), size):
        queue.enqueue(
            "workers.jobs.reevaluate_job", references[start : start + size], job_timeout=JOB_TIMEOUT, result_ttl=3600
        )
    queue.enqueue("workers.jobs.reevaluate_stored_job", job_timeout=JOB_TIMEOUT, result_ttl=3600)
    return -(-len(references) // size) + 1
