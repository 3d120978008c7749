"""The Prometheus metrics each process counts itself (prometheus_client), and one function a fact to count.

Counters and the duration histogram live in the process that did the work; where one host runs several
processes (the worker pool, gunicorn's workers), prometheus_client's multiprocess mode adds them up at scrape
time (:mod:`workers.telemetry.exposition`). Fleet-wide gauges are not here: they are read from Redis when
scraped (:mod:`workers.telemetry.fleet`). Label values come from closed vocabularies only (outcomes, sources,
Slack method names, triage states), never from user text.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from workers.telemetry.context import current_source

SCANS = Counter(
    "chainscan_scans",
    "Image scans finished, by outcome (scanned by Trivy, answered from the cache, failed) and what started them.",
    ["outcome", "source"],
)
SCAN_DURATION = Histogram(
    "chainscan_scan_duration_seconds",
    "Seconds from a scan's start to its report (resolve, cache or Trivy, store), by whether the cache answered.",
    ["cached"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
TRIVY_RUNS = Counter("chainscan_trivy_runs", "Runs of the Trivy binary, by result.", ["result"])
CACHE_HITS = Counter("chainscan_cache_hits", "Scans answered from the report cache (same digest, platform and DB).")
SLACK_RETRIES = Counter(
    "chainscan_slack_api_retries", "Slack Web API calls tried again, by method and reason.", ["method", "reason"]
)
SLACK_ERRORS = Counter(
    "chainscan_slack_api_errors",
    "Slack Web API calls that failed in the end, by method and error.",
    ["method", "error"],
)
DIGESTS_SENT = Counter("chainscan_digests_sent", "Weekly digest messages posted (an update of one is not counted).")
TRIAGE_DECISIONS = Counter("chainscan_triage_decisions", "Triage decisions stored, by state.", ["state"])


def scan_finished(outcome: str, seconds: float) -> None:
    """``outcome``: scanned, cached or failed; the source is the current request's."""
    SCANS.labels(outcome=outcome, source=current_source().value).inc()
    if outcome != "failed":
        SCAN_DURATION.labels(cached=str(outcome == "cached").lower()).observe(seconds)


def trivy_ran(ok: bool) -> None:
    TRIVY_RUNS.labels(result="ok" if ok else "failed").inc()


def cache_hit() -> None:
    CACHE_HITS.inc()


def slack_retried(method: str, reason: str) -> None:
    SLACK_RETRIES.labels(method=method, reason=reason).inc()


def slack_failed(method: str, error: str) -> None:
    SLACK_ERRORS.labels(method=method, error=error).inc()


def digest_sent() -> None:
    DIGESTS_SENT.inc()


def triage_decided(state: str) -> None:
    TRIAGE_DECISIONS.labels(state=state).inc()
