"""The alert store: the day's message slots are claimed atomically and never past the limit; a channel's lease
is one pass's, and a retry of the same job takes it over from its dead try."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from redis.exceptions import LockError

from workers.alerts.store import AlertStore, GroupRecord, GroupState


def test_slots_stop_at_the_limit_and_a_held_slot_is_held(redis_client):
    store = AlertStore(redis_client)
    assert all(store.claim_slot("T", "C", "2026-12-06", f"CVE-{i}", 3) for i in range(3))
    assert not store.claim_slot("T", "C", "2026-12-06", "CVE-9", 3)
    assert store.claim_slot("T", "C", "2026-12-06", "CVE-1", 3)  # already its own
    assert store.claim_slot("T", "C", "2026-12-07", "CVE-9", 3)  # a new day


def test_racing_claims_never_pass_the_limit(redis_client):
    store = AlertStore(redis_client)
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda i: store.claim_slot("T", "C", "d", f"CVE-{i}", 5), range(200)))
    assert sum(won) == 5 and store.slots_used("T", "C", "d") == 5


def test_a_refused_post_gives_its_slot_back(redis_client):
    store = AlertStore(redis_client)
    store.claim_slot("T", "C", "d", "CVE-1", 1)
    store.save_group("T", "C", "d", "CVE-1", GroupRecord(GroupState.PENDING))
    store.give_back("T", "C", "d", "CVE-1")
    assert store.group("T", "C", "d", "CVE-1") is None and store.claim_slot("T", "C", "d", "CVE-2", 1)


def test_a_group_record_round_trips(redis_client):
    store = AlertStore(redis_client)
    store.save_group("T", "C", "d", "CVE-1", GroupRecord(GroupState.POSTED, "1.2", ["a", "b"]))
    assert store.group("T", "C", "d", "CVE-1") == GroupRecord(GroupState.POSTED, "1.2", ["a", "b"])


def test_a_lease_is_one_pass_at_a_time_and_free_once_released(redis_client):
    store = AlertStore(redis_client)
    first = store.lease("T", "C", "job-1")
    assert first.acquire()
    assert not store.lease("T", "C", "job-2").acquire() and not store.lease("T", "C").acquire()
    first.release()
    assert store.lease("T", "C", "job-2").acquire()


def test_a_retry_of_the_same_job_takes_over_its_dead_tries_lease_and_the_stalled_try_loses_it(redis_client):
    store = AlertStore(redis_client)
    dead = store.lease("T", "C", "job-1")
    assert dead.acquire()
    retry = store.lease("T", "C", "job-1")
    assert retry.acquire()  # at once, not after LEASE_TTL
    assert retry.reacquire()
    with pytest.raises(LockError):
        dead.reacquire()  # a try that was only stalled stops at its next step
    assert not store.lease("T", "C", "job-10").acquire()  # a holder is matched whole, not as a prefix
