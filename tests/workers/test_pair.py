"""Combining the two outcomes of a /scan into one result: every reason there is no comparison. Pure."""

from tests.bot.render.test_snapshots import _findings, _mapping, _report
from workers.chainguard.alternatives import REASON_PAID, Status
from workers.errors import ErrorKind, ScanError
from workers.pair import ALREADY_CHAINGUARD, combine
from workers.scan.queue import Outcome

REPORT = _report("docker.io/library/mariadb:latest", _findings(4))
ALT = _report("cgr.dev/chainguard/mariadb:latest", [])


def test_with_both_reports_it_compares():
    result = combine(REPORT, _mapping(Status.MAPPED, "cgr.dev/chainguard/mariadb:latest"), Outcome(report=ALT))
    assert result.comparison is not None and result.reason is None and result.alternative_report is ALT


def test_each_missing_alternative_has_its_reason():
    assert combine(REPORT, None, None).reason == "the comparison was not requested"
    assert combine(REPORT, _mapping(Status.CHAINGUARD, None), None).reason == ALREADY_CHAINGUARD
    assert combine(REPORT, _mapping(Status.PAID, None, REASON_PAID), None).reason == REASON_PAID
    failed = Outcome(error=ScanError.of(ErrorKind.BUSY, what="cgr.dev/chainguard/mariadb"))
    result = combine(REPORT, _mapping(Status.MAPPED, "cgr.dev/chainguard/mariadb:latest"), failed)
    assert "could not be scanned" in result.reason and result.comparison is None
