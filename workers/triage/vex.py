"""Exports Trivy reads back: OpenVEX for false positives, ``.trivyignore.yaml`` for accepted risks. Pure, no I/O.

Both take what :func:`workers.triage.apply.apply` hid in one image (``Applied.suppressed``), so
``trivy image --vex openvex.json --ignorefile .trivyignore.yaml`` shows the same open counts as the bot.

Package URLs are matched the way Trivy matches them (``pkg/purl``: a constraint without a version matches
every version, and every qualifier the constraint has must be in the target). Decisions are kept per
package name, so packages are written without version or qualifiers (``pkg:deb/debian/openssl``), and the
image is written with its ``repository_url``: the statement for ``docker.io/library/mariadb`` never matches
``cgr.dev/chainguard/mariadb``. A finding from a report cached before package URLs were kept cannot be
written safely (no package URL would hide the id in every package); it is left out and listed in a comment.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import yaml

from workers.reference import DOCKER_HUB, parse_reference
from workers.report import Finding
from workers.triage.model import Decision, Scope, TriageState

OPENVEX_CONTEXT = "https://openvex.dev/ns/v0.2.0"
DOCKER_HUB_REGISTRY = "index.docker.io"  # go-containerregistry's name for docker.io, which Trivy's purls carry
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/chainscan/triage/openvex")

Suppressed = Iterable[tuple[Finding, Decision]]


def image_purl(reference: str, digest: str | None = None) -> str:
    """The OCI package URL Trivy gives the image (``pkg/purl.parseOCI``), without ``arch``.

    ``docker.io/library/mariadb`` and ``sha256:ab…`` give
    ``pkg:oci/mariadb@sha256:ab…?repository_url=index.docker.io%2Flibrary%2Fmariadb``. Without a digest (none given
    and none in ``reference``) there is no version, and the purl matches every image of the repository.
    """
    ref = parse_reference(reference)
    registry = DOCKER_HUB_REGISTRY if ref.registry == DOCKER_HUB else ref.registry
    name = ref.repository.rsplit("/", 1)[-1].lower()
    version = digest or ref.digest
    purl = f"pkg:oci/{quote(name, safe='')}"
    if version:
        purl += "@" + quote(version, safe=":")
    return purl + "?repository_url=" + quote(f"{registry}/{ref.repository}", safe="")


def package_constraint(purl: str | None) -> str | None:
    """The package URL without version, qualifiers or subpath, matching every version of the package.

    ``pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12.5`` → ``pkg:deb/debian/bash``.
    """
    if not purl or not purl.startswith("pkg:"):
        return None
    base = purl.split("#", 1)[0].split("?", 1)[0]
    head, _, last = base.rpartition("/")
    return f"{head}/{last.split('@', 1)[0]}" if head else None


def openvex(suppressed: Suppressed, product: str, *, author: str, now: datetime, version: int = 1) -> dict[str, Any]:
    """An OpenVEX v0.2.0 document with one ``not_affected`` statement per false positive in the image."""
    statements = []
    for decision, purls in _grouped(suppressed, TriageState.FALSE_POSITIVE):
        if not purls:
            continue
        statements.append(
            {
                "vulnerability": {"name": decision.vulnerability},
                "timestamp": decision.at,
                "products": [{"@id": product, "subcomponents": [{"@id": purl} for purl in purls]}],
                "status": "not_affected",
                # OpenVEX: a not_affected statement has a justification or an impact statement, not both
                **(
                    {"justification": decision.justification.value}
                    if decision.justification
                    else {"impact_statement": decision.reason or _note(decision)}
                ),
                "status_notes": " ".join(part for part in (decision.reason, _note(decision)) if part),
            }
        )
    body = json.dumps([product, version, statements], sort_keys=True)
    return {
        "@context": OPENVEX_CONTEXT,
        "@id": f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, body)}",
        "author": author,
        "timestamp": _iso(now),
        "version": version,
        "tooling": "chainscan",
        "statements": statements,
    }


def trivyignore(suppressed: Suppressed, now: datetime) -> str:
    """A ``.trivyignore.yaml`` with one entry per accepted risk in the image that has not ended at ``now``."""
    entries, left_out = [], []
    for decision, purls in _grouped(suppressed, TriageState.ACCEPTED):
        if decision.expired(now):
            continue
        if not purls:
            left_out.append(f"{decision.vulnerability} in {decision.package}")
            continue
        entry: dict[str, Any] = {"id": decision.vulnerability, "purls": purls, "statement": _statement(decision)}
        if decision.until:
            entry["expired_at"] = date.fromisoformat(decision.until)
        entries.append(entry)
    header = f"# Accepted risks from chainscan triage, written {_iso(now)}.\n"
    if left_out:
        header += "# Left out, the scan has no package URLs (scan again): " + ", ".join(left_out) + "\n"
    return header + yaml.safe_dump({"vulnerabilities": entries}, sort_keys=False, allow_unicode=True)


def _grouped(suppressed: Suppressed, state: TriageState) -> list[tuple[Decision, list[str]]]:
    """Each decision in ``state`` once, with the package URLs of the findings it hid; empty if one had none."""
    groups: dict[tuple, tuple[Decision, set[str], bool]] = {}
    for finding, decision in suppressed:
        if decision.state is not state:
            continue
        _, purls, complete = groups.get(decision.key, (decision, set(), True))
        constraint = package_constraint(finding.purl)
        if constraint:
            purls.add(constraint)
        groups[decision.key] = (decision, purls, complete and constraint is not None)
    return [(decision, sorted(purls) if complete else []) for decision, purls, complete in groups.values()]


def _statement(decision: Decision) -> str:
    end = "until a fix exists" if decision.until_fixed and not decision.until else f"until {decision.until}"
    return f"{decision.reason or 'Accepted'} (accepted by {decision.by} {end}{_wide(decision)})"


def _note(decision: Decision) -> str:
    where = f" in {decision.thread}" if decision.thread else ""
    return f"Marked false positive by {decision.by} at {decision.at}{where}{_wide(decision)}."


def _wide(decision: Decision) -> str:
    """``, for every image of team payments`` when the decision is team- or base-wide."""
    return f", for {decision.scope_target}" if decision.scope in (Scope.TEAM, Scope.BASE) else ""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
