"""RQ job functions. They know nothing about Slack; results are plain dicts.

A job returns ``{"report": …}`` on success and ``{"error": {"kind", "message"}}``
for a failure that another try would not fix (image missing, access denied).
Transient failures (registry unreachable, rate limit, timeout) are raised, so
RQ's ``Retry`` tries again; the sentence is kept in ``job.meta["error"]`` for
whoever reports the final failure.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime

from rq import get_current_job

from workers import config
from workers.base.find import find_base
from workers.builds import stash
from workers.builds.build import build, remove_build
from workers.builds.dockerfile import final_base, rewrite_for_chainguard
from workers.builds.misconfig import scan_dockerfile
from workers.builds.secrets import mask_secrets, scrub, secret_values
from workers.chainguard.state import current_catalog
from workers.config import Settings
from workers.errors import ErrorKind, ScanError
from workers.heartbeat import beating
from workers.inventory import fleet
from workers.reference import InvalidReference
from workers.scan import dbupdate, trivy
from workers.scan.engine import Scanner

log = logging.getLogger(__name__)


def scan_image(reference: str, force: bool = False) -> dict:
    """Scan one image reference; run by an RQ worker."""
    job = get_current_job()
    scanner = Scanner(config.current(), job.connection, inventory_in_background=True)
    try:
        with beating(job):  # a killed worker's scan is found abandoned within seconds, not 13 minutes
            report = scanner.scan(reference, force=force)
            report.base = base_or_none(scanner, report)
    except InvalidReference as exc:
        return _failed(job, scanner, reference, ScanError.of(ErrorKind.INVALID_REFERENCE, detail=str(exc)))
    except ScanError as exc:
        if exc.transient:
            _remember(job, scanner, reference, exc)
            raise
        return _failed(job, scanner, reference, exc)
    return {"report": report.to_dict()}


def update_db_job(now: str | None = None) -> dict:
    """Download or refresh Trivy's DBs for the fleet (the scheduler's periodic job); when the DB changed, queue the
    fleet's re-evaluation (:mod:`workers.inventory.fleet`): what the next digests read is judged first."""
    job, settings = get_current_job(), config.current()
    before = trivy.db_info()
    outcome = dbupdate.update(job.connection, settings)
    result = outcome.to_dict()
    if outcome.db and (before is None or before.updated_at != outcome.db.updated_at):
        moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
        result["reevaluation_jobs"] = fleet.enqueue(job.connection, settings, moment)
    return result


def reevaluate_job(references: list[str]) -> dict:
    """Judge these watched images again on the current DB from their inventories (one manifest request each)."""
    scanner = Scanner(config.current(), get_current_job().connection)
    judged = scanner.reevaluate(references)
    return {
        "judged": judged.count,
        "trivy_runs": judged.runs,
        "without_inventory": len(judged.without_inventory),
    }


def reevaluate_stored_job() -> dict:
    """Judge again every stored inventory no watched tag led to (scanned lately, not watched), by digest."""
    judged = Scanner(config.current(), get_current_job().connection).reevaluate_stored()
    return {"judged": judged.count, "trivy_runs": judged.runs}


def base_or_none(scanner: Scanner, report, dockerfile_from: str | None = None) -> dict | None:
    """The report's base image; an unexpected failure finding it is logged, never the scan's failure."""
    try:
        return find_base(scanner, report, dockerfile_from=dockerfile_from)
    except Exception:
        log.warning("base image attribution failed for %s", report.image.reference, exc_info=True)
        return report.base


BUILD_LABELS = {"original": "your Dockerfile", "chainguard": "its Chainguard version"}


def build_and_scan(dockerfile_ref: str, variant: str, build_id: str) -> dict:
    """Build the pasted Dockerfile (or its Chainguard rewrite), scan the image, remove every trace of it.

    ``dockerfile_ref`` names the short-lived Redis entry holding the text (:mod:`workers.builds.stash`):
    it is read and deleted here, and nothing this job leaves in Redis (result, meta, failure) holds a
    secret value of it."""
    job = get_current_job()
    # a job queued by the previous release carries the text itself: build it rather than refuse it
    legacy = "\n" in dockerfile_ref or " " in dockerfile_ref
    dockerfile = dockerfile_ref if legacy else stash.take(job.connection, dockerfile_ref)
    label = BUILD_LABELS[variant]
    if dockerfile is None:
        return {"error": ScanError.of(ErrorKind.BUILD_FAILED, what=label, detail=EXPIRED).to_dict()}
    secrets = secret_values(dockerfile)
    try:
        with beating(job):
            return _build_and_scan(job, dockerfile, variant, build_id, secrets)
    except ScanError:
        raise
    except Exception as exc:  # RQ keeps the failure for days: its text must not quote the Dockerfile
        raise RuntimeError(scrub(f"{type(exc).__name__}: {exc}", secrets)) from None


EXPIRED = "it waited for a worker longer than the Dockerfile is kept (15 minutes). Submit it again."


def _build_and_scan(job, dockerfile: str, variant: str, build_id: str, secrets: list[str]) -> dict:
    settings = config.current()
    scanner = Scanner(settings, job.connection)
    label = BUILD_LABELS[variant]
    text = dockerfile if variant == "original" else chainguard_rewrite(dockerfile, settings, job.connection).text
    tag = f"chainscan-build/{build_id}:{variant}"
    build_label = f"{build_id}.{variant}"
    try:
        outcome = build(scanner.docker, text, tag, settings, label=build_label)
        if outcome.error:
            error = ScanError.of(ErrorKind.BUILD_FAILED, what=label, detail=outcome.error)
            result = {**_failed(job, scanner, label, error), "build": {"log_tail": outcome.log_tail}}
            if variant == "chainguard":
                result["rewrite"] = masked_rewrite(dockerfile, settings, job.connection)
            return result
        report = scanner.scan_built(tag, label, secrets=secrets)
        report.base = base_or_none(scanner, report, dockerfile_from=final_base(text))
        result = {"report": report.to_dict(), "build": {"log_tail": outcome.log_tail}}
        if variant == "chainguard":
            result["rewrite"] = masked_rewrite(dockerfile, settings, job.connection)
        if variant == "original":
            found = scan_dockerfile(dockerfile, trivy_bin=settings.trivy_bin)
            result["misconfigurations"] = [vars(m) for m in found]
        return result
    except ScanError as exc:
        if exc.transient:
            _remember(job, scanner, label, exc)
            raise
        return _failed(job, scanner, label, exc)
    finally:
        with contextlib.suppress(ScanError):
            remove_build(scanner.docker, tag, build_label)


def chainguard_rewrite(dockerfile: str, settings: Settings, redis=None):
    """The Dockerfile with each FROM switched to Chainguard, by the (refreshed) catalog."""
    catalog = current_catalog(redis, settings)
    return rewrite_for_chainguard(dockerfile, catalog, settings.chainguard_registry, settings.chainguard_org_registry)


def masked_rewrite(dockerfile: str, settings: Settings, redis=None) -> dict:
    """What the Chainguard rewrite changed, with secret values masked, for the thread."""
    data = chainguard_rewrite(dockerfile, settings, redis).to_dict()
    data.pop("text")
    for item in data["changes"] + data["unmapped"]:
        for name in ("old", "new", "text"):
            if name in item:
                item[name] = mask_secrets(item[name])
    data["notes"] = [mask_secrets(note) for note in data["notes"]]
    return data


def _failed(job, scanner: Scanner, reference: str, error: ScanError) -> dict:
    _remember(job, scanner, reference, error)
    return {"error": error.to_dict()}


def _remember(job, scanner: Scanner, reference: str, error: ScanError) -> None:
    log.info("scan of %s failed: %s (%s)", reference, error.kind.value, error.message)
    channel = job.meta.get("channel") if isinstance(job.meta.get("channel"), str) else None
    scanner.store.record_failure(reference, error.kind.value, error.message, channel=channel)
    job.meta["error"] = error.to_dict()
    job.save_meta()


def refresh_catalog_job() -> dict:
    """Scheduled daily: which catalog images the Chainguard registry serves (stored for every worker)."""
    from workers.chainguard.state import refresh_and_store

    result = refresh_and_store(get_current_job().connection, config.current())
    return {
        "reachable": result.reachable,
        "served": len(result.available),
        "missing": result.missing,
        "error": result.error,
    }


def update_feeds_job(now: str | None = None) -> dict:
    """Scheduled daily: fetch KEV and EPSS into Redis. A feed that fails keeps its last good copy and the job
    raises after the others are stored, so RQ's retry tries again later."""
    from datetime import UTC, datetime

    from workers.feeds.update import update_feeds

    moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    outcomes = update_feeds(get_current_job().connection, config.current(), moment)
    failed = [f"{o.kind.value}: {o.error}" for o in outcomes if not o.ok]
    if failed:
        raise RuntimeError("; ".join(failed))
    return {o.kind.value: (o.status.date if o.status else None) for o in outcomes}
