"""Triage in the thread: the findings message with a menu on each critical and high row, and the RQ job that
shows a decision in place (the row, via ``chat.update``) and notes it in the thread, once per change.

Decisions are stored by the listener (one Redis transaction, before the ack); everything that talks to
Slack runs here, on the workers, so a retried job never notes a decision twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime

from redis import Redis
from rq import Queue, Retry, get_current_job
from slack_sdk import WebClient

from bot import config as bot_config
from bot.findings_messages import FindingsMessages
from bot.render import slack_text
from bot.render.blocks import context
from bot.render.findings import base_text, decided, decided_block, decision_note, findings_blocks, rows_for
from bot.slack_client import client_for
from bot.threads import ThreadState, ThreadStore
from workers.report import ScanReport
from workers.telemetry import context as telemetry
from workers.triage.apply import Applied, apply, repository_of
from workers.triage.decide import decisions_for
from workers.triage.model import Decision, TriageState
from workers.triage.store import ActionTarget, DecisionStore
from workers.triage.teams import default_team

log = logging.getLogger(__name__)

TRIAGE_PAGE = 20  # rows with menus in one message of /scan triage, well within Slack's size limit
NOTED = "chainscan:triage:noted:"  # + key:version — the thread note of one change is posted once


def team_of(thread: ThreadState, redis: Redis) -> str:
    return thread.team or default_team(redis)


def applied_for(redis: Redis, team: str, report: ScanReport, now: datetime) -> Applied:
    return apply(report, decisions_for(DecisionStore(redis), bot_config.current().engine, team, report), now)


def post_findings(
    client: WebClient,
    store: ThreadStore,
    thread: ThreadState,
    report: ScanReport,
    applied: Applied,
    top: int,
    redis: Redis,
) -> tuple[str | None, bool]:
    """Post the findings message once; returns its ts (None when it was posted by an earlier try) and overflow."""
    team, repository = team_of(thread, redis), repository_of(report.image.reference)
    decisions = DecisionStore(redis)
    rows = rows_for(
        report,
        applied,
        severity=thread.severity,
        only_fixed=thread.only_fixed,
        kev_only=thread.kev_only,
        epss_min=thread.epss_min,
    )
    keyed = []
    for row in rows:
        if row.group.severity in ("critical", "high") and repository:
            target = ActionTarget(
                team=team,
                repository=repository,
                vulnerability=row.group.id,
                package=row.group.first.package,
                channel=thread.channel,
                ts=thread.ts,
                packages=row.group.packages,
            )
            row = replace(row, key=decisions.action_key(target))
            FindingsMessages(redis).index_row(row.key, team, repository, row.group.id, row.group.packages)
        keyed.append(row)
    pages = [keyed[i : i + TRIAGE_PAGE] for i in range(0, len(keyed), TRIAGE_PAGE)] if thread.triage else [keyed]
    first_ts, overflow = None, False
    for number, page in enumerate(pages or [[]], 1):
        part = "findings" if number == 1 else f"findings-{number}"
        message, cut = findings_blocks(report, page, top=len(page) if thread.triage else top, filtered=thread.filtered)
        overflow = overflow or (cut and not thread.triage)
        if len(pages) > 1:
            message.blocks.insert(0, context(f"Page {number} of {len(pages)} of the critical and high findings"))
        if store.posted(thread, part):
            continue
        ts = client.chat_postMessage(
            channel=thread.channel, thread_ts=thread.ts, text=message.text, blocks=message.blocks
        )["ts"]
        shown = {b.get("block_id", "")[4:] for b in message.blocks if b.get("block_id", "").startswith("row:")}
        rows_shown = {r.key: (base_text(r.group, ranked=r.ranked), r.group.severity) for r in page if r.key in shown}
        FindingsMessages(redis).save(thread.channel, ts, thread.ts, message.blocks, rows_shown, report.image.digest)
        store.mark_posted(thread, part)
        first_ts = first_ts or ts
    return first_ts, overflow


def enqueue_show_decision(queue: Queue, key: str, version: int, *, with_note: bool = True) -> None:
    queue.enqueue(
        show_decision,
        key,
        version,
        with_note,
        retry=Retry(max=3, interval=[5, 15, 60]),
        result_ttl=600,
        meta=telemetry.job_meta(),
        description=f"show_decision({key}, v{version})",
    )


def show_decision(key: str, version: int, with_note: bool = True) -> dict:
    """Update every row of ``key`` to the decision that now applies to it and note the change in each thread,
    once. The row, the note and the card's counts read the same decisions (:func:`applied_for`), so a team- or
    base-wide decision shows on the row as it counts on the card."""
    job = get_current_job()
    redis = job.connection
    target = DecisionStore(redis).resolve_action_key(key)
    if target is None:
        return {"error": "unknown key"}
    own = DecisionStore(redis).get_one(target.team, target.repository, target.vulnerability, target.package)
    client = client_for(bot_config.current(), redis, target.team)
    messages = FindingsMessages(redis)
    now = datetime.now(UTC)
    updated = 0
    for place in messages.places(key):
        card = messages.card(place.channel, place.thread_ts)
        report = ScanReport.from_dict(card["report"]) if card else None
        applied = applied_for(redis, target.team, report, now) if report else None
        decision, state = _shown(target, report, applied, own, now)
        with redis.lock(f"chainscan:lock:findings-message:{place.channel}:{place.ts}", timeout=30, blocking_timeout=30):
            blocks = messages.blocks(place.channel, place.ts)
            if blocks is None:
                continue
            new = decided_block(place.base, key, place.severity, decision, state)
            blocks = [new if b.get("block_id") == f"row:{key}" else b for b in blocks]
            client.chat_update(channel=place.channel, ts=place.ts, text="Findings (updated)", blocks=blocks)
            messages.replace_blocks(place.channel, place.ts, blocks)
        updated += 1
        if card:
            _redraw_card(client, card, report, applied, place.channel, place.thread_ts, now)
        if with_note and redis.set(
            f"{NOTED}{key}:{version}:{place.channel}:{place.ts}", "1", nx=True, ex=30 * 24 * 3600
        ):
            said = decision_note(decision, state) if decision else ""
            text = (
                slack_text.escape(f"{target.vulnerability} in {', '.join(target.all_packages)}")
                + ": "
                + (said or f"reopened by {slack_text.user(decision.by)}" if decision else "reopened")
            )
            client.chat_postMessage(channel=place.channel, thread_ts=place.thread_ts, text=text)
    return {"rows": updated}


def _shown(
    target: ActionTarget, report: ScanReport | None, applied: Applied | None, own: Decision | None, now: datetime
) -> tuple[Decision | None, TriageState]:
    """The decision a row shows and the state that counts: of the decisions that may match its thread's image
    (the repository's, its owning team's, its base's), the one that applies; the repository's own when the
    thread's card is gone (an alert's rows, or a thread older than 30 days)."""
    wanted = (target.vulnerability, target.package)
    finding = next((f for f in report.vulnerabilities if (f.id, f.package) == wanted), None) if report else None
    if finding is None:
        return own, _state(own, now)
    return decided(applied, finding)


def _redraw_card(
    client: WebClient, card: dict, report: ScanReport, applied: Applied, channel: str, thread_ts: str, now: datetime
) -> None:
    """The thread's card with the counts the new decision makes ("2 critical (1 accepted)")."""
    from bot.render.blocks import pair_card
    from workers.chainguard.alternatives import ChainguardMapping
    from workers.pair import PairResult

    alternative = ScanReport.from_dict(card["alternative"]) if card["alternative"] else None
    mapping = ChainguardMapping.from_dict(card["mapping"]) if card["mapping"] else None
    result = PairResult(report, alternative, mapping, card["reason"], None)
    drawn = pair_card(result, applied, findings_link=card["link"], now=now)
    client.chat_update(channel=channel, ts=thread_ts, text=drawn.text, blocks=drawn.blocks)


def _state(decision, now: datetime) -> TriageState:
    if decision is None:
        return TriageState.OPEN
    if decision.state is TriageState.ACCEPTED and decision.expired(now):
        return TriageState.OPEN
    return decision.state


def expire_acceptances(now_iso: str) -> dict:
    """Scheduled: warn seven days before an acceptance ends, reopen it when it has, each once, in the thread
    where it was decided. ``now_iso`` is the scheduler's clock (a test passes its own)."""
    from workers.triage.expiry import ExpiryStep, due, sentence

    job = get_current_job()
    redis, now = job.connection, datetime.fromisoformat(now_iso)
    store = DecisionStore(redis)
    done = {"warned": 0, "reopened": 0}
    for item in due(store.all(), now):
        claim = f"chainscan:triage:expiry:{item.claim}"
        if not redis.set(claim, "1", nx=True, ex=400 * 24 * 3600):
            continue  # done by an earlier run (or another scheduler's)
        try:
            if item.step is ExpiryStep.REOPEN:
                d = item.decision
                reopened = Decision(
                    team=d.team,
                    repository=d.repository,
                    vulnerability=d.vulnerability,
                    package=d.package,
                    state=TriageState.OPEN,
                    by="chainscan",
                    at=now.isoformat(timespec="seconds"),
                    reason=f"the acceptance by {d.by} ended on {d.until}",
                    thread=d.thread,
                )
                version = store.set(reopened).decision.version
                queue = Queue(bot_config.current().engine.queue_name, connection=redis)
                for key in FindingsMessages(redis).keys_for(d.team, d.repository, d.vulnerability, d.package):
                    enqueue_show_decision(queue, key, version, with_note=False)  # the row, redrawn; the note is below
            _tell_thread(redis, item.decision, sentence(item, escape=slack_text.escape, mention=slack_text.user))
        except Exception:
            redis.delete(claim)  # not done: the retry (or the next run) does it
            raise
        done["reopened" if item.step is ExpiryStep.REOPEN else "warned"] += 1
    return done


def _tell_thread(redis: Redis, decision, text: str) -> None:
    place = _thread_of(decision.thread)
    if place is None:
        log.info("no thread to tell: %s", text)
        return
    channel, ts = place
    client_for(bot_config.current(), redis, decision.team).chat_postMessage(channel=channel, thread_ts=ts, text=text)


def _thread_of(link: str | None) -> tuple[str, str] | None:
    """(channel, ts) from a thread link ``https://slack.com/archives/C123/p1700000000000100``."""
    if not link or "/archives/" not in link:
        return None
    channel, _, stamp = link.split("/archives/", 1)[1].partition("/p")
    if not channel or not stamp.isdigit() or len(stamp) < 7:
        return None
    return channel, f"{stamp[:-6]}.{stamp[-6:]}"


def vex_thread(request: dict) -> dict:
    """``/scan vex IMAGE``: the team's decisions on the image as an OpenVEX document, uploaded to the channel.
    The image is scanned through the engine (a cached result when the digest and DB are unchanged)."""
    from workers.errors import ScanError
    from workers.reference import parse_reference
    from workers.scan.engine import Scanner
    from workers.scan.resolve import source_reference
    from workers.triage.vex import image_purl, openvex

    job = get_current_job()
    redis, settings = job.connection, bot_config.current()
    client = client_for(settings, redis, request.get("team"))
    ref = parse_reference(request["image"])
    try:
        report = Scanner(settings.engine, redis).scan(ref)
    except ScanError as exc:
        text = slack_text.mrkdwn("I could not export {image}: {why}", image=ref.familiar, why=exc.message)
        client.chat_postMessage(channel=request["channel"], text=text)
        return {"error": exc.kind.value}
    team = request.get("team") or default_team(redis)
    now = datetime.now(UTC)
    applied = applied_for(redis, team, report, now)
    decisions = DecisionStore(redis).get(team, ref.name)
    product = image_purl(str(source_reference(ref, settings.engine)), report.image.digest)
    document = openvex(
        applied.suppressed, product, author="chainscan", now=now, version=sum(d.version for d in decisions) or 1
    )
    statements = len(document.get("statements") or [])
    if not statements:
        client.chat_postMessage(
            channel=request["channel"],
            text=f"No false positives are recorded for {ref.familiar}, so there is no OpenVEX document to export.",
        )
        return {"statements": 0}
    client.files_upload_v2(
        channel=request["channel"],
        content=json.dumps(document, indent=2),
        filename=f"{ref.familiar.replace('/', '-').replace(':', '-')}.openvex.json",
        title=f"OpenVEX: {ref.familiar}",
        initial_comment=f"The team's false positives for {ref.familiar} as OpenVEX ({statements} statement"
        f"{'s' if statements != 1 else ''}). Use it with `trivy image --vex FILE {ref.familiar}`.",
    )
    return {"statements": statements}


def enqueue_vex_thread(queue: Queue, request: dict) -> None:
    queue.enqueue(
        vex_thread,
        request,
        retry=Retry(max=2, interval=[10, 30]),
        result_ttl=600,
        meta=telemetry.job_meta(),
        description=f"vex_thread({request['channel']}, {request['image']})",
    )
