"""*Import triage decisions*: a file dropped in the channel (OpenVEX or ``.trivyignore.yaml``) read on a worker,
its proposals shown in the modal for confirmation (``views.update``), and stored once confirmed."""

from __future__ import annotations

import json
import logging
import secrets

from redis import Redis
from rq import Queue, get_current_job

from bot import config as bot_config
from bot.render.triage_views import import_confirmation, import_problem
from bot.slack_client import client_for, download_file
from workers.telemetry import context as telemetry
from workers.triage.imports import Proposal, TriageImportError, parse_import

log = logging.getLogger(__name__)

STASH = "chainscan:triage:import:"
STASH_TTL = 3600


def enqueue_prepare_import(queue: Queue, request: dict) -> None:
    queue.enqueue(
        prepare_import,
        request,
        result_ttl=600,
        meta=telemetry.job_meta(),
        description=f"prepare_import({request['file']})",
    )


def prepare_import(request: dict) -> dict:
    """``request``: team, user, channel, file (id), view (the modal's id)."""
    job = get_current_job()
    client = client_for(bot_config.current(), job.connection, request.get("team"))
    downloaded = download_file(client, request["file"])
    try:
        if downloaded is None:
            raise TriageImportError("I could not read that file (is the app allowed to read files here?).")
        name, text = downloaded
        proposals = parse_import(name, text)
    except TriageImportError as exc:
        client.views_update(view_id=request["view"], view=import_problem(str(exc)))
        return {"error": str(exc)}
    key = stash(job.connection, request, name, proposals)
    client.views_update(view_id=request["view"], view=import_confirmation(key, name, proposals))
    return {"proposals": len(proposals)}


def stash(redis: Redis, request: dict, name: str, proposals: list[Proposal]) -> str:
    key = secrets.token_hex(8)
    data = {**request, "name": name, "proposals": [p.to_dict() for p in proposals]}
    redis.set(f"{STASH}{key}", json.dumps(data), ex=STASH_TTL)
    return key


def unstash(redis: Redis, key: str | None) -> dict | None:
    if not isinstance(key, str) or not key.isalnum():
        return None
    raw = redis.get(f"{STASH}{key}")
    return json.loads(raw) if raw else None
