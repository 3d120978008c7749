"""Team- and base-wide decisions with the real Trivy: stored once, they hide the finding in every image of the
scope (and no other), counts stay Trivy's, and each image's exported ignore file and OpenVEX make the real Trivy
count exactly what the bot counts as open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from tests.integration.test_triage_vex import counts_of, scanned, trivy_with
from workers.config import Settings
from workers.reference import parse_reference
from workers.triage.apply import apply, finding_key
from workers.triage.decide import Change, decide, decisions_for
from workers.triage.model import Scope
from workers.triage.store import DecisionStore
from workers.triage.vex import image_purl, openvex, trivyignore

pytestmark = pytest.mark.integration
WORKSPACE = "T0SCOPE"


@pytest.fixture
def settings(tmp_path, monkeypatch, redis_client):
    path = tmp_path / "owners.yaml"
    path.write_text(
        "teams:\n  - name: data\n    channel: C0DATA\n    repositories: ['127.0.0.1:5000/library/mariadb']\n"
    )
    monkeypatch.setenv("OWNERS_FILE", str(path))
    return Settings.from_env()


def test_team_and_base_wide_decisions_hold_in_every_image_of_the_scope_and_trivy_agrees(
    registry, test_images, trivy_cache_dir, tmp_path, redis_client, settings
):
    mariadb = scanned(trivy_cache_dir, f"{registry}/library/mariadb:latest")
    webapp = scanned(trivy_cache_dir, f"{registry}/library/webapp:1")  # built on debian:12, owned by nobody
    common = sorted(
        {finding_key(f) for f in mariadb.vulnerabilities} & {finding_key(f) for f in webapp.vulnerabilities}
    )
    assert len(common) >= 2, "the two test images share findings"
    (team_vuln, team_pkg), (base_vuln, base_pkg) = common[0], common[1]
    store, now = DecisionStore(redis_client), datetime.now(UTC)
    until = (now + timedelta(days=20)).date().isoformat()
    team_wide = decide(
        store,
        settings,
        team=WORKSPACE,
        image=parse_reference(f"{registry}/library/mariadb"),
        vulnerability=team_vuln,
        package=team_pkg,
        now=now,
        change=Change("false_positive", by="U1", justification="vulnerable_code_not_present", owner_team="data"),
    ).decision
    base_wide = decide(
        store,
        settings,
        team=WORKSPACE,
        image=parse_reference(f"{registry}/library/mariadb"),
        vulnerability=base_vuln,
        package=base_pkg,
        now=now,
        severity="high",
        change=Change("accepted", by="U1", reason="not reachable", until=until, base="docker.io/library/debian"),
    ).decision
    assert (team_wide.scope, team_wide.repository) == (Scope.TEAM, "team:data")
    assert (base_wide.scope, base_wide.repository) == (Scope.BASE, "base:docker.io/library/debian")
    assert store.history(WORKSPACE, "team:data", team_vuln, team_pkg)[0].owner_team == "data"  # in the audit trail

    for report, hidden in ((mariadb, {common[0], common[1]}), (webapp, {common[1]})):
        applied = apply(report, decisions_for(store, settings, WORKSPACE, report), now)
        assert {finding_key(f) for f, _ in applied.suppressed} == hidden, report.image.reference
        for severity, count in report.counts.items():  # Trivy's counts, split into open and hidden
            assert applied.open_counts[severity] + applied.suppressed_counts[severity] == count
        reference = report.image.reference
        vex = openvex(applied.suppressed, image_purl(reference, report.image.digest), author="chainscan", now=now)
        out = tmp_path / report.image.reference.rsplit("/", 1)[-1].replace(":", "-")
        out.mkdir()
        trivy = trivy_with(trivy_cache_dir, out, reference, vex, trivyignore(applied.suppressed, now))
        assert counts_of(trivy) == {severity: n for severity, n in applied.open_counts.items() if n}
        (entry,) = yaml.safe_load(trivyignore(applied.suppressed, now))["vulnerabilities"]
        assert entry["statement"].endswith("for every image built on docker.io/library/debian)")
        if report is mariadb:
            assert any("for every image of team data" in s.get("status_notes", "") for s in vex["statements"])


def test_a_scope_must_be_one_thing(settings, redis_client):
    from workers.triage.validate import TriageInputError

    with pytest.raises(TriageInputError) as caught:
        decide(
            DecisionStore(redis_client),
            settings,
            team=WORKSPACE,
            image=parse_reference("mariadb"),
            vulnerability="CVE-1",
            package="p",
            now=datetime.now(UTC),
            change=Change("acknowledged", by="U1", owner_team="data", base="docker.io/library/debian"),
        )
    assert caught.value.field == "scope"
