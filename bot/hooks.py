"""``POST /hooks/registry`` on the web process: a verified push of a watched repository becomes a scan.

:func:`workers.hooks.check` verifies and parses (pure); here come the Redis decisions: the delivery is
claimed once (SET NX for ``REGISTRY_HOOK_MAX_AGE`` + a minute, so a replay is refused), each pushed name goes
through ``parse_reference`` and the RegistryPolicy, and only the repositories some channel watches are
queued (:func:`bot.jobs.push_scan.enqueue_push`, coalesced by digest). Unverified → 401, malformed → 400,
a replay → 409, and none of them queues anything.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from redis import Redis
from rq import Queue

from bot.config import SlackSettings
from bot.jobs.push_scan import enqueue_push
from workers.allowlist import RegistryRefused
from workers.digests.store import DigestStore
from workers.hooks import Delivery, HookRefusal, check
from workers.reference import InvalidReference, parse_reference
from workers.scan.store import PREFIX

log = logging.getLogger(__name__)

SEEN = f"{PREFIX}hook:seen:"


def receive(
    headers: Mapping[str, str], body: bytes, settings: SlackSettings, redis: Redis, queue: Queue, now: float
) -> tuple[int, dict]:
    """The answer to one notification: (HTTP status, JSON body)."""
    verdict = check(headers, body, settings.hook_secrets, now, settings.hook_max_age)
    if isinstance(verdict, HookRefusal):
        return _refused(verdict)
    if not redis.set(f"{SEEN}{verdict.id}", 1, nx=True, ex=settings.hook_max_age + 60):
        return _refused(HookRefusal.REPLAY)
    return 202, _queue(verdict, settings, redis, queue)


def _refused(refusal: HookRefusal) -> tuple[int, dict]:
    log.warning("refused a registry notification: %s", refusal.value)
    return refusal.status, {"error": refusal.value, "reason": refusal.reason}


def _queue(delivery: Delivery, settings: SlackSettings, redis: Redis, queue: Queue) -> dict:
    queued = coalesced = ignored = 0
    store = DigestStore(redis)
    for push in delivery.pushes:
        try:
            ref = settings.engine.registry_policy.check(parse_reference(push.reference))
        except (InvalidReference, RegistryRefused) as exc:
            log.info("ignored a pushed name: %s", exc)
            ignored += 1
            continue
        watchers = store.watching(ref.name)
        if not watchers:
            ignored += 1
        elif enqueue_push(queue, settings, ref, push, [list(w) for w in watchers]):
            queued += 1
        else:
            coalesced += 1
    return {"provider": delivery.provider.value, "queued": queued, "coalesced": coalesced, "ignored": ignored}
