"""Seeding decisions from files a team already has: an OpenVEX document (false positives) or a Trivy
``.trivyignore.yaml`` (accepted risks). Pure: file text in, proposed changes out, or one sentence on why not.

A VEX ``not_affected`` statement becomes a false positive for each subcomponent package of each ``pkg:oci``
product; an ignore-file entry becomes an acceptance until its ``expired_at`` (required: an acceptance
always ends) for each of its package URLs, on the repository the person importing names.

An import obeys the menus' limits (:func:`refusals`, by :func:`workers.triage.validate.problems`): a file names no
severity the bot can trust, so an imported acceptance is held to the critical limit (TRIAGE_MAX_ACCEPT_DAYS_CRITICAL).
One proposal past a limit refuses the whole file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from workers.reference import InvalidReference, parse_reference
from workers.triage.model import Justification, TriageState
from workers.triage.validate import is_until_fixed, problems

MAX_PROPOSALS = 500
IMPORT_SEVERITY = "critical"  # the strictest: a file cannot vouch that a finding is not critical


class TriageImportError(ValueError):
    """The file cannot be imported; the message is a sentence for the user."""


@dataclass(frozen=True)
class Proposal:
    repository: str | None  # None: the person importing must name it (ignore files name no image)
    vulnerability: str
    package: str
    state: TriageState
    reason: str | None = None
    until: str | None = None
    justification: str | None = None

    def to_dict(self) -> dict:
        return {**self.__dict__, "state": self.state.value}

    @classmethod
    def from_dict(cls, data: dict) -> Proposal:
        return cls(**{**data, "state": TriageState(data["state"])})


def parse_import(name: str, text: str) -> list[Proposal]:
    """The decisions a file proposes; :class:`TriageImportError` when it is neither format or says nothing usable."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        proposals = _openvex(text)
    elif name.endswith((".yaml", ".yml")) or "vulnerabilities:" in text:
        proposals = _trivyignore(text)
    else:
        raise TriageImportError("That file is neither an OpenVEX document (JSON) nor a .trivyignore.yaml.")
    if not proposals:
        raise TriageImportError("The file holds no decision I can import (no not_affected statement, no ignore entry).")
    if len(proposals) > MAX_PROPOSALS:
        raise TriageImportError(
            f"The file proposes {len(proposals)} decisions; I import at most {MAX_PROPOSALS} at once."
        )
    return proposals


def _openvex(text: str) -> list[Proposal]:
    try:
        document = json.loads(text)
    except ValueError:
        raise TriageImportError("The OpenVEX document is not valid JSON.") from None
    if not isinstance(document, dict) or not str(document.get("@context", "")).startswith("https://openvex.dev/ns"):
        raise TriageImportError("That JSON is not an OpenVEX document (its @context is not openvex.dev).")
    found = []
    for statement in document.get("statements") or []:
        if not isinstance(statement, dict) or statement.get("status") != "not_affected":
            continue
        vulnerability = (statement.get("vulnerability") or {}).get("name")
        justification = statement.get("justification")
        if justification not in {j.value for j in Justification}:
            justification = (
                Justification.VULNERABLE_CODE_NOT_PRESENT.value if statement.get("impact_statement") else None
            )
        reason = statement.get("impact_statement") or statement.get("status_notes")
        for product in statement.get("products") or []:
            repository = repository_of_purl((product or {}).get("@id", ""))
            for sub in product.get("subcomponents") or []:
                package = package_of_purl((sub or {}).get("@id", ""))
                if vulnerability and package and justification:
                    found.append(
                        Proposal(
                            repository,
                            vulnerability,
                            package,
                            TriageState.FALSE_POSITIVE,
                            reason=reason,
                            justification=justification,
                        )
                    )
    return found


def _trivyignore(text: str) -> list[Proposal]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise TriageImportError("The .trivyignore.yaml is not valid YAML.") from None
    entries = data.get("vulnerabilities") if isinstance(data, dict) else None
    found = []
    for entry in entries or []:
        if not isinstance(entry, dict) or not entry.get("id"):
            continue
        until = entry.get("expired_at")
        until = until.isoformat() if isinstance(until, date) else str(until) if until else None
        for purl in entry.get("purls") or []:
            package = package_of_purl(str(purl))
            if package:
                found.append(
                    Proposal(
                        None,
                        str(entry["id"]),
                        package,
                        TriageState.ACCEPTED,
                        reason=entry.get("statement") or "imported from .trivyignore.yaml",
                        until=until,
                    )
                )
    return found


def refusals(
    proposals: list[Proposal], *, today: date, max_accept_days: int, max_accept_days_critical: int
) -> list[str]:
    """Why the menus would refuse these decisions, a sentence each (``CVE-… in pkg: …``); empty when all may be
    stored. Pure."""
    found = []
    for proposal in proposals:
        for _field, sentence in problems(
            proposal.state,
            severity=IMPORT_SEVERITY,
            reason=proposal.reason,
            until=proposal.until,
            justification=proposal.justification,
            assignee=None,
            today=today,
            until_fixed=is_until_fixed(proposal.until),
            max_accept_days=max_accept_days,
            max_accept_days_critical=max_accept_days_critical,
        ):
            found.append(f"{proposal.vulnerability} in {proposal.package}: {sentence}")
    return found


def repository_of_purl(purl: str) -> str | None:
    """``docker.io/library/mariadb`` from ``pkg:oci/mariadb@sha256:…?repository_url=index.docker.io%2Flibrary%2Fmariadb``."""
    if not purl.startswith("pkg:oci/"):
        return None
    url = parse_qs(urlsplit(purl).query).get("repository_url", [None])[0]
    if not url:
        return None
    url = unquote(url).replace("index.docker.io/", "docker.io/", 1)
    try:
        return parse_reference(url).name
    except InvalidReference:
        return None


def package_of_purl(purl: str) -> str | None:
    """``openssl`` from ``pkg:deb/debian/openssl@3.0.15-1?arch=amd64``."""
    if not purl.startswith("pkg:"):
        return None
    base = purl.split("#", 1)[0].split("?", 1)[0]
    name = unquote(base.rsplit("/", 1)[-1].split("@", 1)[0])
    return name or None
