"""``/scan sbom IMAGE``: Trivy's SBOM of the image with KEV, EPSS and the team's triage attached, uploaded to the
channel as one file (its message is the thread). One side effect, the upload, so a retried job that failed before
it uploads nothing twice; a failure is a sentence in the channel.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rq import Queue, Retry, get_current_job

from bot import config as bot_config
from bot.jobs.triage_thread import applied_for
from bot.render import slack_text
from bot.slack_client import client_for
from workers.errors import ScanError
from workers.feeds.attach import joined
from workers.reference import parse_reference
from workers.sbom import SbomFormat, enrich
from workers.scan.engine import Scanner
from workers.telemetry import context as telemetry
from workers.triage.teams import default_team

EXTENSIONS = {SbomFormat.CYCLONEDX: "cdx.json", SbomFormat.SPDX_JSON: "spdx.json"}
TITLES = {SbomFormat.CYCLONEDX: "CycloneDX", SbomFormat.SPDX_JSON: "SPDX 2.3"}


def sbom_thread(request: dict) -> dict:
    """Scan (cached by digest) for the facts, run Trivy for the SBOM, attach the facts, upload."""
    job = get_current_job()
    redis, settings = job.connection, bot_config.current()
    client = client_for(settings, redis, request.get("team"))
    ref, fmt = parse_reference(request["image"]), SbomFormat(request["format"])
    scanner = Scanner(settings.engine, redis)
    try:
        report = scanner.scan(ref)
        document = scanner.sbom(ref, fmt.value)
    except ScanError as exc:
        text = slack_text.mrkdwn("I could not make the SBOM of {image}: {why}", image=ref.familiar, why=exc.message)
        client.chat_postMessage(channel=request["channel"], text=text)
        return {"error": exc.kind.value}
    now = datetime.now(UTC)
    (report,) = joined(redis, [report], now)
    applied = applied_for(redis, request.get("team") or default_team(redis), report, now)
    document = enrich(document, fmt, report, applied, now)
    client.files_upload_v2(
        channel=request["channel"],
        content=json.dumps(document, indent=2),
        filename=f"{ref.familiar.replace('/', '-').replace(':', '-')}.{EXTENSIONS[fmt]}",
        title=f"SBOM ({TITLES[fmt]}): {ref.familiar}",
        initial_comment=slack_text.mrkdwn(
            "The SBOM of {image} ({kind}, from Trivy) with KEV, EPSS and the team's triage: {n} findings, "
            "{hidden} suppressed.",
            image=ref.familiar,
            kind=TITLES[fmt],
            n=str(len(report.vulnerabilities)),
            hidden=str(len(applied.suppressed)),
        ),
    )
    return {"format": fmt.value, "findings": len(report.vulnerabilities)}


def enqueue_sbom_thread(queue: Queue, request: dict) -> None:
    queue.enqueue(
        sbom_thread,
        request,
        retry=Retry(max=2, interval=[10, 30]),
        result_ttl=600,
        meta=telemetry.job_meta(),
        description=f"sbom_thread({request['channel']}, {request['image']}, {request['format']})",
    )
