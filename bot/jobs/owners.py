"""``/scan owners IMAGE`` off the ack path (reading the image's labels is a registry request), and the note a
scan thread gets when another team owns the image."""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue
from slack_sdk import WebClient

from bot import config as bot_config
from bot.jobs.publishing import post_once
from bot.render.blocks import Message, section
from bot.render.owners import owned_elsewhere, owner_mrkdwn, owner_text
from bot.slack_client import tell_user
from bot.threads import ThreadState, ThreadStore
from workers.owners.lookup import ownership
from workers.reference import parse_reference
from workers.report import ScanReport

log = logging.getLogger(__name__)


def enqueue_owners_answer(queue: Queue, request: dict):
    return queue.enqueue(answer_owners, request, job_timeout=120, result_ttl=600, failure_ttl=3600)


def answer_owners(request: dict) -> dict:
    """Tell the user (ephemerally, through the command's response_url) who owns the image and why."""
    from rq import get_current_job

    settings = bot_config.current().engine
    ref = parse_reference(request["image"])
    found = ownership(ref, settings, get_current_job().connection)
    tell_user(request.get("response_url"), owner_mrkdwn(ref.familiar, found))
    return {
        "team": found.owner.team if found.owner else None,
        "source": found.owner.source.value if found.owner else None,
    }


def post_owner_note(client: WebClient, store: ThreadStore, thread: ThreadState, report: ScanReport, redis: Redis):
    """Once per thread: when a team owns the image and its channel is not this one, say who (labels from the
    report: no registry request)."""
    settings = bot_config.current().engine
    try:
        found = ownership(
            parse_reference(report.image.reference), settings, redis, labels=report.image.labels, read_labels=False
        )
    except Exception as exc:  # the note is a courtesy: never the reason a thread fails
        log.warning("owners: no owner note: %s", type(exc).__name__)
        return
    note = owned_elsewhere(parse_reference(report.image.reference).familiar, found, thread.channel)
    if note:
        post_once(
            client,
            store,
            thread,
            "owner",
            Message(text=owner_text(report.image.reference, found), blocks=[section(note)]),
        )
