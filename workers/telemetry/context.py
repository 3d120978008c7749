"""The request a piece of work belongs to: its id and where it came from. Pure, but for one context variable.

A slash command gets a request id at the HTTP edge; it rides in the RQ job meta of every job that command
causes (open the thread, the scans, the publisher), and each worker binds it again while it runs the job, so
every log line from the ack to the thread reply carries the same ``request_id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum


class Source(str, Enum):
    """What started a scan (the ``source`` label of ``chainscan_scans_total``)."""

    SLASH_COMMAND = "slash_command"
    RESCAN = "rescan"
    DIGEST = "digest"
    ALERT = "alert"
    CLI = "cli"
    BUILD = "build"
    OTHER = "other"


# Jobs that start work of their own, by RQ function name, when no meta says otherwise.
_SOURCE_OF_JOB = {
    "bot.jobs.digest_thread.send_digest": Source.DIGEST,
    "bot.jobs.digest_thread.alert_job": Source.ALERT,
    "bot.jobs.build_thread.open_build_thread": Source.BUILD,
    "workers.jobs.build_and_scan": Source.BUILD,
}


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    source: Source = Source.OTHER

    def meta(self) -> dict[str, str]:
        """What an RQ job carries in its meta so the worker can bind this context again."""
        return {"request_id": self.request_id, "source": self.source.value}


_current: ContextVar[RequestContext | None] = ContextVar("chainscan_request", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def current() -> RequestContext | None:
    return _current.get()


def current_source() -> Source:
    context = _current.get()
    return context.source if context else Source.OTHER


@contextmanager
def bound(context: RequestContext) -> Iterator[RequestContext]:
    """Make ``context`` the current one for the block (a request, a job)."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def job_meta(source: Source | None = None) -> dict[str, str]:
    """Meta for a job enqueued now: the current request (a new one when there is none), ``source`` if given."""
    context = _current.get() or RequestContext(new_request_id())
    if source is not None:
        context = RequestContext(context.request_id, source)
    return context.meta()


def from_job(meta: Mapping | None, func_name: str | None) -> RequestContext:
    """The context a worker binds while it runs a job: its meta's, else one named after the job. Pure."""
    meta = meta or {}
    request_id = meta.get("request_id") if isinstance(meta.get("request_id"), str) else None
    try:
        source = Source(meta.get("source"))
    except ValueError:
        source = _SOURCE_OF_JOB.get(func_name or "", Source.OTHER)
    return RequestContext(request_id or new_request_id(), source)
