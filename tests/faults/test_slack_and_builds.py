"""Slack refusing for longer than the publisher's retries, and what a build leaves behind.

A 429 storm that outlasts the retries ends with the parent saying so in place (not "waiting for the
other…" for good). A build, failed or not, leaves no image, container or layer on the engine, and
none of the Dockerfile's secret values in Slack, the logs or any Redis value."""

from __future__ import annotations

import json
import logging

import docker
import pytest
from rq import Queue, Retry, SimpleWorker
from rq.job import Job

from bot.jobs.publishing import PARENT_FAILED, publish_failed
from bot.threads import ThreadStore
from tests.faults.conftest import redis_values
from tests.integration.conftest import all_text, parent_and_replies, run_workers, scan
from tests.integration.test_build_flow import builds_on, everything_sent, submit  # noqa: F401 (fixture)
from workers.config import Settings

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(120)]


def queue_of(redis_client) -> Queue:
    return Queue(Settings.from_env().queue_name, connection=redis_client)


def test_a_429_storm_longer_than_the_retries_leaves_the_parent_saying_it_failed(
    web, slack, redis_client, monkeypatch, test_images
):
    monkeypatch.setattr("bot.jobs.scan_thread.PUBLISH_RETRY", Retry(max=1))  # two tries, back to back
    assert scan(web, slack, "mariadb").status_code == 200
    SimpleWorker([queue_of(redis_client)], connection=redis_client).work(burst=True, max_jobs=1)  # the parent
    slack.rate_limit_next("chat.postMessage", retry_after=1, times=8)  # 1 + 3 client retries, for each try
    run_workers(redis_client)
    ts, (parent, *replies) = parent_and_replies(slack)
    assert PARENT_FAILED in all_text(parent) and "waiting" not in all_text(parent).lower()
    assert replies == []
    assert any("could not post the results" in r["text"] for r in slack.responses())


def test_when_the_failure_card_is_refused_too_a_delayed_job_puts_it_up(web, slack, redis_client, test_images):
    scan(web, slack, "mariadb")
    run_workers(redis_client)
    ts, _ = parent_and_replies(slack)
    thread = ThreadStore(redis_client).find("C0SCANS", ts)
    job = Job.fetch(thread.jobs["original"], connection=redis_client)
    job.args = [thread.key]  # publish_failed reads the thread key from the publisher's args
    slack.rate_limit_next("chat.update", retry_after=1, times=4)
    publish_failed(job, redis_client, None, None, None)
    queue = queue_of(redis_client)
    (later,) = [Job.fetch(i, connection=redis_client) for i in queue.scheduled_job_registry.get_job_ids()]
    assert later.func_name == "bot.jobs.publishing.mark_parent_failed"
    queue.scheduled_job_registry.remove(later)
    queue.enqueue_job(later)  # as RQ's scheduler does when it is due
    run_workers(redis_client)
    assert PARENT_FAILED in all_text(slack.messages_in_thread("C0SCANS", ts)[0])


PASSWORD, TOKEN = "s3cr3t-root-pw-7731", "tok-9f2c1e55aa01"
DOCKERFILES = {
    "failing": f"FROM mariadb:latest\nENV MYSQL_ROOT_PASSWORD={PASSWORD}\nENV API_TOKEN={TOKEN}\nRUN echo hi && exit 3\n",
    "succeeding": f"FROM mariadb:latest\nENV MYSQL_ROOT_PASSWORD={PASSWORD}\nENV API_TOKEN={TOKEN}\nEXPOSE 3306\n",
}


@pytest.mark.usefixtures("builds_on")
@pytest.mark.parametrize("kind", DOCKERFILES)
def test_a_build_leaves_nothing_on_the_engine_and_its_secrets_nowhere(
    web, slack, redis_client, test_images, caplog, kind
):
    assert submit(web, slack, DOCKERFILES[kind]).status_code == 200
    (queued,) = [Job.fetch(i, connection=redis_client) for i in queue_of(redis_client).job_ids]
    assert PASSWORD not in json.dumps(queued.args)  # the job carries a reference, not the text
    assert [v for v in redis_values(redis_client) if PASSWORD.encode() in v]  # the short-lived entry (the grep works)
    with caplog.at_level(logging.DEBUG):
        run_workers(redis_client)
    ts, (parent, *replies) = parent_and_replies(slack)
    assert ("failed" in all_text(parent)) == (kind == "failing")

    engine = docker.from_env()
    build_ids = [
        Job.fetch(i, connection=redis_client).args[2]
        for i in ThreadStore(redis_client).find("C0SCANS", ts).jobs.values()
    ]
    labelled = engine.images.list(all=True, filters={"label": "chainscan.build"})
    assert not [i for i in labelled if i.labels["chainscan.build"].split(".")[0] in build_ids]
    assert not [c for c in engine.containers.list(all=True) if PASSWORD in json.dumps(c.attrs)]
    assert not [i.id for i in engine.images.list(all=True) if PASSWORD in json.dumps(i.attrs)]

    for secret in (PASSWORD, TOKEN):
        assert secret not in everything_sent(slack)
        assert secret not in caplog.text
        assert not [v for v in redis_values(redis_client) if secret.encode() in v]


@pytest.mark.usefixtures("builds_on")
def test_a_build_allowed_when_submitted_but_not_when_a_worker_takes_it_is_refused_and_not_built(
    web, slack, redis_client, monkeypatch
):
    from bot import config as bot_config

    assert submit(web, slack, DOCKERFILES["succeeding"]).status_code == 200
    monkeypatch.setenv("BUILDS_ENABLED", "false")  # the worker's settings now say no
    bot_config.install(None)
    run_workers(redis_client)
    assert [c for c in slack.calls("chat.postMessage") if c.ok] == []
    (note,) = slack.ephemeral_messages()
    assert "turned off" in note["text"]
    assert not [v for v in redis_values(redis_client) if PASSWORD.encode() in v]  # refused: the entry is gone
