"""``python -m bot diff`` for real: two RQ worker processes scan both images in parallel jobs with the real
Trivy, and a second diff is served from the cache without running Trivy again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import FinishedJobRegistry

from tests.integration.conftest import all_text, parent_and_replies, run_workers, scan
from workers.config import Settings
from workers.scan.store import ReportStore

pytestmark = pytest.mark.integration


@contextmanager
def workers(count: int, redis_url: str, queue: str) -> Iterator[list[subprocess.Popen]]:
    """``count`` long-running ``rq worker`` processes on ``queue``, stopped (by their own pids) at the end."""
    command = [sys.executable, "-m", "rq.cli", "worker", "-q", "-u", redis_url, queue]
    procs = [subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.DEVNULL) for _ in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)


def bot_diff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "diff", *args], env=os.environ.copy(), capture_output=True, text=True, timeout=300
    )


def test_a_diff_scans_both_images_in_parallel_and_a_second_one_comes_from_the_cache(
    engine_env, redis_client, test_images
):
    settings = Settings.from_env()
    with workers(2, engine_env["REDIS_URL"], settings.queue_name):
        first = bot_diff("debian:12-20240101", "mariadb:11.4", "--format", "json")
        assert first.returncode == 0, first.stderr
        data = json.loads(first.stdout)
        jobs = [
            Job.fetch(i, connection=redis_client)
            for i in FinishedJobRegistry(queue=Queue(settings.queue_name, connection=redis_client)).get_job_ids()
        ]
        assert ReportStore(redis_client).trivy_runs() == 2
        second = bot_diff("debian:12-20240101", "mariadb:11.4", "--format", "json")
    assert len(jobs) == 2 and jobs[0].worker_name != jobs[1].worker_name  # one job a worker
    a, b = sorted(jobs, key=lambda j: j.started_at)
    assert b.started_at < a.ended_at, "the two scans did not overlap"
    assert data["before"]["reference"].endswith("library/debian:12-20240101")
    assert data["after"]["reference"].endswith("library/mariadb:11.4")
    assert not data["before"]["cached"] and not data["after"]["cached"]
    assert set(data) >= {"fixed", "kept", "brought", "counts", "packages", "base", "layers", "verdict"}
    assert sum(data["counts"]["brought"].values()) == len(data["brought"]) > 0
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["before"]["cached"] and again["after"]["cached"]
    assert ReportStore(redis_client).trivy_runs() == 2  # the second diff ran no Trivy
    assert again["counts"] == data["counts"]


def test_a_refused_image_name_ends_in_a_sentence_and_queues_nothing(engine_env, redis_client):
    result = bot_diff("mariadb:11.4", "evil.example.com/x:1")
    assert result.returncode == 1 and "evil.example.com" in result.stderr
    assert "Traceback" not in result.stderr
    assert Queue(Settings.from_env().queue_name, connection=redis_client).count == 0


def test_slash_scan_diff_answers_in_a_thread(web, slack, redis_client, test_images):
    response = scan(web, slack, "diff debian:12-20240101 mariadb:11.4")
    assert response.status_code == 200
    assert "Queued a diff of `debian:12-20240101` → `mariadb:11.4`" in response.json()["text"]
    assert slack.calls("chat.postMessage") == []  # nothing posted from the request thread

    run_workers(redis_client)

    ts, (parent, *replies) = parent_and_replies(slack)
    assert len(replies) == 1 and replies[0]["thread_ts"] == ts
    reply = all_text(replies[0])
    assert "*Fixed by the move*" in reply and "*Still there*" in reply and "*New in B*" in reply
    assert "Moving from docker.io/library/debian:12-20240101 to docker.io/library/mariadb:11.4" in reply
    assert "Layers:" in reply
    card = [c.params["text"] for c in slack.calls("chat.update") if c.ok][-1]
    assert card.startswith("Moving from") and "scanning" not in card
    assert ReportStore(redis_client).trivy_runs() == 2


def test_slash_scan_diff_with_a_refused_name_queues_nothing(web, slack, redis_client):
    response = scan(web, slack, "diff mariadb:11.4 evil.example.com/x:1")
    assert "evil.example.com" in response.json()["text"]
    assert Queue(Settings.from_env().queue_name, connection=redis_client).count == 0


def test_slash_scan_diff_where_the_bot_may_not_post_tells_the_user_and_scans_nothing(web, slack, redis_client):
    slack.fail_next("chat.postMessage", error="not_in_channel")
    scan(web, slack, "diff mariadb:11.4 mariadb:latest")
    run_workers(redis_client)
    notes = slack.responses("r1")
    assert len(notes) == 1 and "/invite" in notes[0]["text"] and "mariadb:11.4 → mariadb:latest" in notes[0]["text"]
    assert len(slack.calls("chat.postMessage")) == 1 and ReportStore(redis_client).trivy_runs() == 0
