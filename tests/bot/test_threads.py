"""A thread's response_url lives only as long as Slack honours it (30 minutes)."""

from __future__ import annotations

import time

from bot.threads import RESPONSE_URL_TTL, ThreadState, ThreadStore


def thread(age: float) -> ThreadState:
    return ThreadState(
        channel="C1", ts="1.1", user="U1", image="x", response_url="https://hooks/r", created_at=time.time() - age
    )


def test_the_response_url_is_kept_in_a_key_that_expires_with_slacks_window(redis_client):
    store = ThreadStore(redis_client)
    store.save(thread(age=60))
    assert b"hooks" not in redis_client.get("chainscan:thread:C1:1.1")
    assert RESPONSE_URL_TTL - 70 < redis_client.ttl("chainscan:thread:C1:1.1:response_url") <= RESPONSE_URL_TTL - 60
    assert store.find("C1", "1.1").response_url == "https://hooks/r"


def test_an_older_thread_forgets_its_response_url(redis_client):
    store = ThreadStore(redis_client)
    store.save(thread(age=RESPONSE_URL_TTL + 1))
    assert store.find("C1", "1.1").response_url is None
    assert not redis_client.exists("chainscan:thread:C1:1.1:response_url")
