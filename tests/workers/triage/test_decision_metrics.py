"""Each stored triage decision is counted by state; a double click, stored once, is counted once."""

from datetime import UTC, datetime

from prometheus_client import REGISTRY

from workers.config import Settings
from workers.reference import parse_reference
from workers.triage.decide import Change, decide
from workers.triage.store import DecisionStore


def decisions(state: str) -> float:
    return REGISTRY.get_sample_value("chainscan_triage_decisions_total", {"state": state}) or 0.0


def test_a_decision_is_counted_by_state_and_a_repeat_is_not(redis_client):
    before = decisions("acknowledged")
    for _ in range(2):
        decide(
            DecisionStore(redis_client),
            Settings(),
            team="T1",
            image=parse_reference("mariadb"),
            vulnerability="CVE-2024-0001",
            package="openssl",
            change=Change(state="acknowledged", by="U1"),
            now=datetime(2026, 12, 5, tzinfo=UTC),
        )
    assert decisions("acknowledged") - before == 1
