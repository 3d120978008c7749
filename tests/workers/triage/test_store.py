import os
import threading
from dataclasses import replace

import pytest
from redis import Redis

from workers.triage.model import Justification, StaleDecision, TriageState
from workers.triage.store import ACTION_KEY_TTL, ActionTarget, DecisionStore

from .builders import DIGEST, REPOSITORY, decision

TRIAGE_REDIS_URL = os.environ.get("TEST_TRIAGE_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture
def redis():
    client = Redis.from_url(TRIAGE_REDIS_URL)
    try:
        client.ping()
    except Exception as exc:  # pragma: no cover - .ci/run starts one
        pytest.fail(f"No Redis at {TRIAGE_REDIS_URL} ({exc}); start redis-server or set TEST_TRIAGE_REDIS_URL.")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def store(redis):
    return DecisionStore(redis)


def test_a_stored_decision_is_read_back_with_version_one(store):
    result = store.set(
        decision(
            "CVE-1",
            "openssl",
            TriageState.FALSE_POSITIVE,
            reason="r",
            justification=Justification.COMPONENT_NOT_PRESENT,
            digest=DIGEST,
        )
    )
    assert result.changed and result.decision.version == 1
    assert store.get("T1", REPOSITORY) == [result.decision]
    assert store.get_one("T1", REPOSITORY, "CVE-1", "openssl") == result.decision
    assert store.get("T2", REPOSITORY) == [] and store.get_one("T1", REPOSITORY, "CVE-1", "bash") is None


def test_keys_are_namespaced_and_never_expire(store, redis):
    store.set(decision("CVE-1", "p", TriageState.ACKNOWLEDGED))
    keys = sorted(k.decode() for k in redis.keys("*"))
    assert keys == [
        "chainscan:triage:audit:T1:docker.io/library/mariadb:CVE-1:p",
        "chainscan:triage:decisions:T1:docker.io/library/mariadb",
    ]
    assert all(redis.ttl(key) == -1 for key in keys)


def test_a_port_in_the_registry_cannot_run_into_the_next_key_part(store, redis):
    store.set(decision("CVE-1", "p", TriageState.ACKNOWLEDGED, repository="127.0.0.1:5000/library/mariadb"))
    assert redis.exists("chainscan:triage:decisions:T1:127.0.0.1%3A5000/library/mariadb")


def test_an_identical_double_click_stores_one_version_and_one_audit_entry(store):
    click = decision("CVE-1", "p", TriageState.ACCEPTED, reason="r", until="2025-04-01")
    first = store.set(click, expected_version=0)
    second = store.set(replace(click, at="2025-03-01T09:00:01Z"), expected_version=0)
    assert first.changed and not second.changed and second.decision == first.decision
    assert len(store.history("T1", REPOSITORY, "CVE-1", "p")) == 1


def test_a_change_on_an_old_version_is_refused(store):
    store.set(decision("CVE-1", "p", TriageState.ACKNOWLEDGED))
    with pytest.raises(StaleDecision):
        store.set(decision("CVE-1", "p", TriageState.ASSIGNED, assignee="U2"), expected_version=0)
    assigned = store.set(decision("CVE-1", "p", TriageState.ASSIGNED, assignee="U2"), expected_version=1)
    assert assigned.decision.version == 2


def test_the_audit_trail_keeps_every_change_in_order(store):
    store.set(decision("CVE-1", "p", TriageState.ACCEPTED, reason="r", until="2025-04-01", thread="https://t/1"))
    store.set(decision("CVE-1", "p", TriageState.OPEN, by="U2", at="2025-03-02T09:00:00Z"))
    history = store.history("T1", REPOSITORY, "CVE-1", "p")
    assert [(e.old_state, e.new_state, e.by, e.version) for e in history] == [
        ("open", "accepted", "U1", 1),
        ("accepted", "open", "U2", 2),
    ]
    assert history[0].reason == "r" and history[0].until == "2025-04-01" and history[0].thread == "https://t/1"


def test_two_people_changing_one_finding_at_once_both_land(store, redis):
    changes = [
        decision("CVE-1", "p", TriageState.ACKNOWLEDGED, by="U1"),
        decision("CVE-1", "p", TriageState.ASSIGNED, by="U2", assignee="U3"),
    ]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def change(item):
        try:
            own = DecisionStore(Redis.from_url(TRIAGE_REDIS_URL))
            barrier.wait()
            results.append(own.set(item))
        except Exception as exc:  # pragma: no cover - shown by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=change, args=(item,)) for item in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    history = store.history("T1", REPOSITORY, "CVE-1", "p")
    assert sorted(e.by for e in history) == ["U1", "U2"] and [e.version for e in history] == [1, 2]
    assert history[1].old_state == history[0].new_state
    final = store.get_one("T1", REPOSITORY, "CVE-1", "p")
    assert final.version == 2 and final.by == history[1].by


def test_many_concurrent_changes_lose_no_update(store):
    states = [TriageState.ACKNOWLEDGED, TriageState.OPEN] * 10
    barrier = threading.Barrier(len(states))

    def change(index, state):
        own = DecisionStore(Redis.from_url(TRIAGE_REDIS_URL))
        barrier.wait()
        own.set(decision("CVE-1", "p", state, by=f"U{index}", at=f"2025-03-01T09:00:{index:02d}Z"))

    threads = [threading.Thread(target=change, args=pair) for pair in enumerate(states)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    history = store.history("T1", REPOSITORY, "CVE-1", "p")
    assert [e.version for e in history] == list(range(1, len(history) + 1))
    assert all(a.new_state == b.old_state for a, b in zip(history, history[1:], strict=False))
    assert store.get_one("T1", REPOSITORY, "CVE-1", "p").version == len(history)


def test_an_action_key_is_short_stable_and_resolves_to_its_target(store, redis):
    target = ActionTarget("T1", REPOSITORY, "CVE-2024-5535", "openssl", DIGEST, "C0SCANS", "1718150400.000100")
    key = store.action_key(target)
    assert key.startswith("t1:") and len(key) == 15 and len(key) < 60
    assert store.action_key(target) == key
    assert store.resolve_action_key(key) == target
    assert 0 < redis.ttl(f"chainscan:triage:action:{key}") <= ACTION_KEY_TTL
    assert store.action_key(ActionTarget("T1", REPOSITORY, "CVE-2024-5535", "libssl3")) != key


@pytest.mark.parametrize(
    "key",
    ["t1:000000000000", "t1:ZZZZZZZZZZZZ", "t2:abcdefabcdef", "", "t1:abc", None, '{"team": "T1"}', "t1:" + "0" * 13],
)
def test_unknown_or_tampered_action_keys_resolve_to_nothing(store, key):
    assert store.resolve_action_key(key) is None


def test_a_corrupted_action_entry_resolves_to_nothing(store, redis):
    key = store.action_key(ActionTarget("T1", REPOSITORY, "CVE-1", "p"))
    redis.set(f"chainscan:triage:action:{key}", '{"team": "T1"}')
    assert store.resolve_action_key(key) is None
    redis.set(f"chainscan:triage:action:{key}", "not json")
    assert store.resolve_action_key(key) is None


def test_a_decision_whose_finding_is_gone_from_two_scans_in_a_row_is_resolved(store):
    from dataclasses import replace as _replace
    from datetime import UTC, datetime

    from tests.workers.triage.builders import decision as _decision
    from tests.workers.triage.builders import finding as _finding
    from tests.workers.triage.builders import report as _report
    from workers.triage.decide import note_scan
    from workers.triage.model import TriageState as State

    now = datetime(2026, 12, 1, tzinfo=UTC)
    store.set(_decision("CVE-1", "zlib1g", State.ACKNOWLEDGED, team="T1"))
    with_it = _report([_finding("CVE-1", "zlib1g")])
    without = _report([_finding("CVE-2", "tar")])
    assert note_scan(store, "T1", without, now) == []  # gone once
    assert note_scan(store, "T1", without, now) == []  # the same scan again is not a second scan
    assert note_scan(store, "T1", with_it, now) == []  # back: the count starts again
    assert note_scan(store, "T1", without, now) == []
    second = _replace(without, db=_replace(without.db, updated_at="2026-12-02T00:00:00Z"))  # a new DB: another scan
    (resolved,) = note_scan(store, "T1", second, now)
    assert resolved.state is State.RESOLVED
    (kept,) = store.get("T1", "docker.io/library/mariadb")
    assert kept.state is State.RESOLVED and "2 scans in a row" in kept.reason
    assert [e.new_state for e in store.history(*kept.key)] == [State.ACKNOWLEDGED, State.RESOLVED]
