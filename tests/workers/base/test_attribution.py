"""Base-image attribution, the pure part: labels, official candidates, shared bottom layers, counts, refresh."""

from __future__ import annotations

import pytest

from workers.base.attribution import base_of, official_candidate, refresh_gain, shared_bottom
from workers.base.labels import BaseSource, labelled_base
from workers.builds.dockerfile import final_base
from workers.report import DbInfo, Finding, ImageInfo, Layer, ScanReport, tally

DIGEST = "sha256:" + "a" * 64


def finding(ident: str, layer: str, severity: str = "high", package: str = "pkg") -> Finding:
    return Finding(ident, package, "1", None, "affected", severity, None, None, "", None, layer)


def report(*findings: Finding, layers=("sha256:l1", "sha256:l2")) -> ScanReport:
    counts, fixable = tally(findings)
    return ScanReport(
        ImageInfo("r:1", DIGEST, "debian 12.5", 1, None),
        DbInfo(2, None),
        counts,
        fixable,
        [Layer(i + 1, diff_id, None, 1) for i, diff_id in enumerate(layers)],
        list(findings),
    )


def test_the_oci_base_labels_name_the_base_and_a_well_formed_digest():
    labels = {"org.opencontainers.image.base.name": "docker.io/library/debian:12"}
    assert labelled_base(labels) == ("docker.io/library/debian:12", None)
    assert labelled_base({**labels, "org.opencontainers.image.base.digest": DIGEST}) == (
        labels[next(iter(labels))],
        DIGEST,
    )
    assert labelled_base({**labels, "org.opencontainers.image.base.digest": "latest"})[1] is None
    assert labelled_base({"maintainer": "x"}) is None and labelled_base(None) is None


@pytest.mark.parametrize(
    ("os_name", "candidate"),
    [
        ("debian 12.5", "debian:12"),
        ("ubuntu 24.04", "ubuntu:24.04"),
        ("alpine 3.19.1", "alpine:3.19"),
        ("wolfi 20230201", None),
        ("debian bookworm/sid", None),
        (None, None),
    ],
)
def test_the_official_image_of_an_os_and_version(os_name, candidate):
    assert official_candidate(os_name) == candidate


def test_a_base_is_the_images_first_layers_and_the_image_adds_its_own():
    assert shared_bottom(["a", "b", "c"], ["a"]) == 1
    assert shared_bottom(["a", "b", "c"], ["a", "b"]) == 2
    assert shared_bottom(["a", "b"], ["a", "b"]) == 0  # the base itself
    assert shared_bottom(["a", "b"], ["x"]) == 0  # another base
    assert shared_bottom(["a", "b"], []) == 0
    assert shared_bottom(["a", "b"], ["a", "b"], named=True) == 2  # FROM x with ENV lines only: all base
    assert shared_bottom(["a"], ["a", "b"], named=True) == 0


def test_the_base_counts_the_findings_of_its_layers_only():
    scanned = report(
        finding("CVE-1", "sha256:l1", "critical"), finding("CVE-2", "sha256:l1"), finding("CVE-3", "sha256:l2")
    )
    base = base_of(scanned, "docker.io/library/debian:12", DIGEST, 1, BaseSource.LAYERS)
    assert base["counts"] == {"critical": 1, "high": 1, "medium": 0, "low": 0, "unknown": 0}
    assert (base["source"], base["refresh"]) == ("layers", None)


def test_a_base_whose_layers_were_not_found_has_no_counts():
    assert base_of(report(), "debian:12", None, None, BaseSource.ANNOTATION)["counts"] is None


def test_refreshing_removes_the_base_findings_the_current_base_lacks():
    scanned = report(
        finding("CVE-1", "sha256:l1"), finding("CVE-2", "sha256:l1", "medium"), finding("CVE-3", "sha256:l2")
    )
    current = report(finding("CVE-1", "sha256:new"), layers=("sha256:new",))
    gain = refresh_gain(scanned, 1, current)
    assert gain["removes"] == 1 and gain["counts"]["medium"] == 1 and gain["current_digest"] == DIGEST


@pytest.mark.parametrize(
    ("dockerfile", "base"),
    [
        ("FROM debian:12\nRUN true\n", "debian:12"),
        ("FROM golang:1.22 AS build\nRUN go build\nFROM debian:12-slim\nCOPY --from=build /x /x\n", "debian:12-slim"),
        ("FROM debian:12 AS base\nRUN true\nFROM base\nRUN true\n", "debian:12"),
        ("FROM golang:1.22 AS build\nFROM scratch\nCOPY --from=build /x /x\n", None),
        ("ARG BASE=debian:12\nFROM ${BASE}\n", None),
    ],
)
def test_a_builds_base_is_the_image_its_last_stage_stands_on(dockerfile, base):
    assert final_base(dockerfile) == base
