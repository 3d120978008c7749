"""A worker SIGKILLed while Trivy runs: RQ finds its scan abandoned within seconds (the job's heartbeat
stops), retries it, and the thread gets one answer well within a minute."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.faults.conftest import FINAL_WORDS, final_parent, top_level_posts, wait_for_file, worker_pool
from tests.integration.conftest import CHANNEL, all_text, scan

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(150)]


def test_a_worker_killed_mid_scan_is_answered_within_a_minute_exactly_once(
    web, slack, slack_env, redis_client, test_images, slow_trivy, tmp_path
):
    env = {
        **os.environ,
        **slack_env,
        "TRIVY_BIN": str(slow_trivy),
        "TRIVY_DELAY": "600",  # the first image scan hangs until its worker is killed
        "TRIVY_DELAY_ONCE": "1",
        "JOB_RETRIES": "1",
    }
    with worker_pool(env, tmp_path / "worker.log"):
        assert scan(web, slack, "mariadb").status_code == 200
        worker_pid, trivy_pid = map(int, wait_for_file(tmp_path / "trivy.started", 60).split())
        os.kill(worker_pid, signal.SIGKILL)
        os.kill(trivy_pid, signal.SIGKILL)
        killed = time.monotonic()
        ts, parent = final_parent(slack, timeout=90)
        answered = time.monotonic() - killed
        time.sleep(5)  # anything late (a second publisher, a stale sweeper) would show now
    print(f"\nanswered {answered:.1f} s after SIGKILL")
    assert answered < 60
    assert "critical" in all_text(parent), all_text(parent)  # the retry scanned it: the real card
    assert top_level_posts(slack) == 1
    replies = [all_text(m) for m in slack.messages_in_thread(CHANNEL, ts)[1:]]
    assert len(replies) == len(set(replies)) and replies
    finals = [
        c for c in slack.calls("chat.update") if c.ok and not any(w in c.params["text"].lower() for w in FINAL_WORDS)
    ]
    assert len(finals) == 1, [c.params["text"] for c in finals]
