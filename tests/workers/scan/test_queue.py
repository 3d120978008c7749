from workers.errors import ScanError
from workers.scan.queue import Outcome, _newest_id, outcome_from_result


def test_newest_stream_id_in_both_redis_protocols():
    assert _newest_id([[b"rq:results:x", [(b"1-0", {}), (b"2-0", {})]]]) == "2-0"  # RESP2
    assert _newest_id({b"rq:results:x": [[(b"3-0", {}), (b"4-0", {})]]}) == "4-0"  # RESP3


def test_job_results_become_outcomes():
    assert outcome_from_result({"error": {"kind": "not_found", "message": "Gone."}}).error.message == "Gone."
    assert outcome_from_result(None).error.kind == "internal"
    anything_else = outcome_from_result({"unexpected": True})
    assert (
        isinstance(anything_else, Outcome)
        and isinstance(anything_else.error, ScanError)
        and anything_else.report is None
    )
