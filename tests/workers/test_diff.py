"""The diff of two reports, against golden JSON, and the rules behind it a line each."""

from __future__ import annotations

import json
import os
from pathlib import Path

from workers.compare import compare
from workers.diff import diff
from workers.report import ScanReport

DATA = Path(__file__).parent / "data" / "diff"


def load(name: str) -> ScanReport:
    return ScanReport.from_dict(json.loads((DATA / name).read_text()))


def golden(name: str, actual: str) -> None:
    """``actual`` equals the golden file ``name``; UPDATE_GOLDEN=1 rewrites it (then read the diff)."""
    path = DATA / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(actual)
    assert actual == path.read_text()


def mariadb_diff():
    return diff(load("mariadb-11.4.json"), load("mariadb-11.8.json"))


def test_the_diff_of_two_reports_matches_the_golden_json():
    golden("mariadb-11.4-to-11.8.json", json.dumps(mariadb_diff().to_dict(), indent=2) + "\n")


def test_fixed_kept_and_brought_are_the_comparisons_own_matching():
    a, b = load("mariadb-11.4.json"), load("mariadb-11.8.json")
    d, c = diff(a, b), compare(a, b)
    assert (d.fixed, d.kept, d.brought) == (c.removed, c.kept, c.added)


def test_the_sentence_names_what_the_move_fixes_keeps_and_brings():
    assert mariadb_diff().verdict == (
        "Moving from docker.io/library/mariadb:11.4 to docker.io/library/mariadb:11.8 fixes 1 critical and 2 high, "
        "keeps 2 lower-severity findings and brings 1 high (+1 lower); "
        "the worst new one is CVE-2024-0010 in mariadb-server 1:11.8.1."
    )


def test_packages_say_versions_and_counts_on_both_sides():
    rows = {p.package: p for p in mariadb_diff().packages}
    server = rows["mariadb-server"]
    assert (server.before, server.after, server.fixed, server.brought, server.worst) == (
        "1:11.4.2",
        "1:11.8.1",
        1,
        1,
        "high",
    )
    assert rows["openssl"].after is None and rows["openssl"].worst == "critical"
    assert rows["libsystemd0"].before is None and rows["libsystemd0"].brought == 1


def test_base_and_layer_changes_are_named():
    d = mariadb_diff()
    assert d.base.changed and d.base.after.startswith("docker.io/library/debian:12@")
    assert d.layers.shared == 1
    assert [layer["index"] for layer in d.layers.removed] == [2] and [x["index"] for x in d.layers.added] == [2, 3]


def test_an_image_diffed_with_itself_changes_nothing():
    a = load("mariadb-11.4.json")
    d = diff(a, a)
    assert not d.fixed and not d.brought and len(d.kept) == a.total
    assert not d.base.changed and not d.layers.added and not d.layers.removed
    assert "fixes nothing" in d.verdict and "brings nothing" in d.verdict
