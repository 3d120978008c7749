"""The expiry job with a controlled clock, on a real RQ worker: a warning seven days before, the reopening at
00:00 UTC on the date, each noted once in the thread where it was decided, however many schedulers run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rq import Queue

from bot.scheduler import expire_acceptances_if_due
from tests.integration.conftest import CHANNEL, run_workers
from workers.config import Settings
from workers.triage.model import Decision, TriageState
from workers.triage.store import DecisionStore

pytestmark = pytest.mark.integration

THREAD_TS = "1700000000.000100"


def _accept(redis_client, until: str) -> Decision:
    decision = Decision(
        team="T0TEST",
        repository="docker.io/library/mariadb",
        vulnerability="CVE-2024-0001",
        package="libc6",
        state=TriageState.ACCEPTED,
        by="U0ANA",
        at="2026-11-01T10:00:00+00:00",
        reason="build stage only",
        until=until,
        thread=f"https://slack.com/archives/{CHANNEL}/p{THREAD_TS.replace('.', '')}",
    )
    return DecisionStore(redis_client).set(decision).decision


def _run(redis_client, now: datetime) -> None:
    Queue(Settings.from_env().queue_name, connection=redis_client).enqueue(
        "bot.jobs.triage_thread.expire_acceptances", now.isoformat()
    )
    run_workers(redis_client)


def _notes(slack):
    return [
        c.params["text"] for c in slack.calls("chat.postMessage") if c.ok and c.params.get("thread_ts") == THREAD_TS
    ]


def test_warns_once_seven_days_before_then_reopens_once_at_midnight_utc(slack_env, slack, redis_client):
    _accept(redis_client, "2027-03-01")
    _run(redis_client, datetime(2027, 2, 20, 12, tzinfo=UTC))  # 9 days before: nothing
    assert _notes(slack) == []
    for _ in range(2):  # a retried or second job
        _run(redis_client, datetime(2027, 2, 23, 9, tzinfo=UTC))
    warnings = _notes(slack)
    assert len(warnings) == 1 and "<@U0ANA>" in warnings[0] and "ends on 2027-03-01" in warnings[0]
    _run(redis_client, datetime(2027, 2, 28, 23, 59, tzinfo=UTC))  # still accepted a minute before midnight
    assert DecisionStore(redis_client).all()[0].state is TriageState.ACCEPTED
    for _ in range(2):
        _run(redis_client, datetime(2027, 3, 1, 0, 1, tzinfo=UTC))
    notes = _notes(slack)
    assert len(notes) == 2 and "open again" in notes[1] and "<@U0ANA>" in notes[1]
    (decision,) = DecisionStore(redis_client).all()
    assert decision.state is TriageState.OPEN and decision.version == 2
    history = DecisionStore(redis_client).history(*decision.key)
    assert [e.new_state for e in history] == [TriageState.ACCEPTED, TriageState.OPEN]


def test_two_schedulers_enqueue_one_expiry_job_an_hour(slack_env, redis_client):
    settings = Settings.from_env()
    now = datetime(2027, 2, 23, 9, 30, tzinfo=UTC)
    assert expire_acceptances_if_due(redis_client, settings, now) is True
    assert expire_acceptances_if_due(redis_client, settings, now) is False  # the other scheduler, same hour
    assert len(Queue(settings.queue_name, connection=redis_client)) == 1
