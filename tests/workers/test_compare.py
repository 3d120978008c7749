from workers.compare import compare
from workers.report import DbInfo, Finding, ImageInfo, ScanReport, tally


def f(vid, pkg, sev, fixed="2"):
    return Finding(vid, pkg, "1", fixed, "fixed" if fixed else "affected", sev, 7.0, None, "t", None, None)


def rep(ref, findings, size=100, layers=3):
    counts, fixable = tally(findings)
    return ScanReport(
        ImageInfo(ref, "sha256:x", "debian 12", size, "2026-01-01T00:00:00Z"),
        DbInfo(2, "t"),
        counts,
        fixable,
        [],
        findings,
    )


def test_removed_kept_added_by_vulnerability_and_package():
    original = rep(
        "mariadb",
        [
            f("CVE-1", "openssl", "critical"),
            f("CVE-2", "zlib", "high"),
            f("CVE-3", "pgjdbc", "high"),
            f("CVE-3", "other", "high"),
        ],
    )
    alternative = rep("cg/mariadb", [f("CVE-3", "pgjdbc", "high", fixed="42.2.28"), f("CVE-9", "glibc", "low")])
    c = compare(original, alternative)
    assert [(x.id, x.package) for x in c.removed] == [("CVE-1", "openssl"), ("CVE-2", "zlib"), ("CVE-3", "other")]
    assert [(x.id, x.package) for x in c.kept] == [("CVE-3", "pgjdbc")]
    assert [(x.id, x.package) for x in c.added] == [("CVE-9", "glibc")]
    assert c.removed_counts["critical"] == 1 and c.removed_counts["high"] == 2
    # "remain" is the kept list and "new" the added one, as the lists beside the sentence say (issue 13.6)
    assert c.verdict == (
        "Switching removes 1 critical and 2 high; 1 high remain (pgjdbc 1 → fixed in 42.2.28); "
        "1 lower-severity finding is new in the alternative."
    )
    data = c.to_dict()
    assert data["original"]["counts"]["critical"] == 1 and data["removed"][0] == {
        "id": "CVE-1",
        "package": "openssl",
        "severity": "critical",
        "installed": "1",
        "fixed": "2",
    }


def test_the_verdict_counts_net_as_the_card_shows_them():
    # Debian's libc6 is Wolfi's glibc: by (id, package) the CVE is removed and added; net, one fewer high.
    original = rep("mariadb", [f("CVE-1", "libc6", "high"), f("CVE-2", "zlib", "high"), f("CVE-3", "x", "low")])
    alternative = rep("cg", [f("CVE-1", "glibc", "high"), f("CVE-4", "y", "critical")])
    c = compare(original, alternative)
    assert [x.package for x in c.removed] == ["libc6", "zlib", "x"] and [x.package for x in c.added] == ["y", "glibc"]
    assert (
        c.verdict == "Switching removes 1 high but adds 1 critical; 1 critical and 1 high are new in the alternative."
    )


def test_clean_alternative_and_clean_original():
    assert (
        compare(rep("a", [f("CVE-1", "x", "medium")]), rep("b", [])).verdict
        == "Switching removes 1 medium; nothing known remains."
    )
    assert "no known vulnerabilities" in compare(rep("a", []), rep("b", [])).verdict
    assert compare(rep("a", [f("CVE-1", "x", "low")]), rep("b", [f("CVE-1", "x", "low")])).verdict.startswith(
        "Switching removes no findings; 1 lower"
    )
