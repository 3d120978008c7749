"""Grouping new findings into alerts: one group per vulnerability, worst first, and what fixes most of them."""

from __future__ import annotations

from workers.alerts.grouping import Affected, Remedy, RemedyKind, group_new, plan, remedy_of
from workers.report import DbInfo, Finding, ImageInfo, Layer, ScanReport


def finding(vuln="CVE-2099-1", package="zlib1g", severity="critical", fixed=None, layer="sha256:base", kev=None):
    return Finding(vuln, package, "1.0", fixed, "affected", severity, 9.8, None, "t", None, layer, kev=kev)


def report(digest="sha256:app", findings=(), layers=("sha256:base", "sha256:app-layer")):
    return ScanReport(
        image=ImageInfo("docker.io/library/app:1", digest, "debian 12.5", 1, None),
        db=DbInfo(2, "2026-12-01T00:00:00Z"),
        counts={},
        fixable={},
        layers=[Layer(i, d, None, 0, {}) for i, d in enumerate(layers)],
        vulnerabilities=list(findings),
    )


def test_a_finding_in_the_base_layer_that_the_current_base_lacks_is_fixed_by_rebuilding():
    current = report("sha256:new-debian", [], layers=("sha256:new-base",))
    remedy = remedy_of(report(), finding(), "debian:12", current)
    assert remedy == Remedy(RemedyKind.REBUILD, "debian:12")


def test_a_finding_the_current_base_still_has_is_not_fixed_by_rebuilding():
    current = report("sha256:new-debian", [finding()], layers=("sha256:new-base",))
    assert remedy_of(report(), finding(fixed="1.1"), "debian:12", current).kind is RemedyKind.UPGRADE


def test_a_finding_in_the_apps_own_layer_is_not_fixed_by_rebuilding():
    current = report("sha256:new-debian", [], layers=("sha256:new-base",))
    assert remedy_of(report(), finding(layer="sha256:app-layer"), "debian:12", current).kind is RemedyKind.NONE


def test_the_base_itself_is_not_told_to_rebuild_on_itself():
    current = report("sha256:app", [], layers=("sha256:base",))
    assert remedy_of(report(), finding(), "debian:12", current).kind is RemedyKind.NONE


def test_without_a_current_base_a_fixed_version_is_the_remedy():
    remedy = remedy_of(report(), finding(fixed="1.3.1"), None, None)
    assert remedy == Remedy(RemedyKind.UPGRADE, "zlib1g to 1.3.1")


def _affected(reference, vuln="CVE-2099-1", severity="critical", remedy=Remedy(RemedyKind.NONE), package="zlib1g"):
    return Affected(reference, finding(vuln, package, severity), remedy)


def test_one_group_per_vulnerability_worst_and_widest_first():
    new = [
        _affected("a", "CVE-2099-3", "high"),
        _affected("a", "CVE-2099-2"),
        _affected("b", "CVE-2099-1"),
        _affected("c", "CVE-2099-1"),
    ]
    groups = group_new(new, watched=5)
    assert [g.vulnerability for g in groups] == ["CVE-2099-1", "CVE-2099-2", "CVE-2099-3"]
    assert groups[0].references == ("b", "c") and groups[0].watched == 5


def test_two_packages_of_one_image_count_it_once():
    groups = group_new([_affected("a", package="libc6"), _affected("a", package="libc-bin")], watched=1)
    assert len(groups) == 1 and groups[0].references == ("a",)
    assert groups[0].remedies() == [(Remedy(RemedyKind.NONE), 1)]


def test_the_fix_sentence_names_what_fixes_most_first():
    rebuild, upgrade = Remedy(RemedyKind.REBUILD, "debian:12"), Remedy(RemedyKind.UPGRADE, "zlib1g to 1.3.1")
    new = [_affected(f"img{i}", remedy=rebuild) for i in range(29)] + [
        _affected("x", remedy=upgrade),
        _affected("y", remedy=upgrade),
    ]
    (group,) = group_new(new, watched=37)
    assert group.fix_sentence() == "29 are fixed by rebuilding on the current debian:12; 2 by upgrading zlib1g to 1.3.1"


def test_the_plan_gives_messages_up_to_the_limit_and_summarises_the_rest():
    groups = group_new([_affected("a", f"CVE-2099-{i}") for i in range(10)], watched=1)
    chosen = plan(groups, sent_today=2, limit=5)
    assert len(chosen.messages) == 3 and len(chosen.summarised) == 7
    assert plan(groups, sent_today=9, limit=5).messages == ()
