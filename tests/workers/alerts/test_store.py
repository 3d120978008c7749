"""The alert store: the day's message slots are claimed atomically and never past the limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

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
