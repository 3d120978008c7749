"""The two risk feeds in their published formats, parsed and checked whole. Pure: bytes in, a feed out.

- FIRST's EPSS scores: a CSV, usually gzip-compressed, whose first line is a comment
  ``#model_version:v2025.03.14,score_date:2026-12-04T12:55:00Z``, then the header ``cve,epss,percentile``,
  then one row per CVE.
- CISA's Known Exploited Vulnerabilities catalog: JSON with ``catalogVersion``, ``dateReleased``, ``count``
  and ``vulnerabilities[]`` (``cveID``, ``dateAdded``, ``dueDate``, ``knownRansomwareCampaignUse``, …).

A file that is truncated, malformed or not the format expected raises :class:`FeedError` with one sentence;
nothing of it is kept, so a half-downloaded file can never replace a good copy.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import date
from enum import Enum

CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")
EPSS_HEADER = ("cve", "epss", "percentile")


class FeedKind(str, Enum):
    EPSS = "epss"
    KEV = "kev"

    @property
    def title(self) -> str:
        return {FeedKind.EPSS: "EPSS scores", FeedKind.KEV: "the KEV catalog"}[self]


class FeedError(ValueError):
    """A feed file that cannot be used; the message is one sentence naming the feed and the problem."""


@dataclass(frozen=True)
class KevEntry:
    date_added: str  # YYYY-MM-DD
    due_date: str | None
    ransomware: bool  # knownRansomwareCampaignUse == "Known"

    def to_dict(self) -> dict:
        return {"date_added": self.date_added, "due_date": self.due_date, "ransomware": self.ransomware}


@dataclass(frozen=True)
class EpssScore:
    score: float  # probability of exploitation in the next 30 days
    percentile: float

    def to_dict(self, day: str | None) -> dict:
        return {"score": self.score, "percentile": self.percentile, "date": day}


@dataclass(frozen=True)
class EpssFeed:
    model_version: str
    score_date: str  # YYYY-MM-DD, the day the scores are for
    scores: dict[str, EpssScore] = field(repr=False)

    @property
    def date(self) -> str:
        return self.score_date


@dataclass(frozen=True)
class KevFeed:
    catalog_version: str
    date_released: str  # YYYY-MM-DD
    entries: dict[str, KevEntry] = field(repr=False)

    @property
    def date(self) -> str:
        return self.date_released


def parse_epss(data: bytes) -> EpssFeed:
    """The EPSS CSV, gzip-compressed or not. Every row must be a CVE with two numbers from 0 to 1."""
    text = _decoded(_gunzipped(data, FeedKind.EPSS), FeedKind.EPSS)
    if text and not text.endswith("\n"):
        raise FeedError("The EPSS file ends in the middle of a line: it is truncated.")
    lines = text.splitlines()
    if len(lines) < 3 or not lines[0].startswith("#"):
        raise FeedError("The EPSS file does not start with its #model_version/score_date line and header.")
    meta = dict(part.split(":", 1) for part in lines[0][1:].split(",") if ":" in part)
    model, score_date = meta.get("model_version", "").strip(), _day(meta.get("score_date", ""))
    if not model or not score_date:
        raise FeedError(f"The EPSS file's first line lacks model_version or score_date: {lines[0][:80]!r}.")
    if tuple(h.strip() for h in lines[1].split(",")) != EPSS_HEADER:
        raise FeedError(f"The EPSS file's header is {lines[1][:60]!r}, not 'cve,epss,percentile'.")
    scores: dict[str, EpssScore] = {}
    for number, line in enumerate(lines[2:], start=3):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) != 3 or not CVE_ID.match(parts[0]):
            raise FeedError(f"Line {number} of the EPSS file is not 'CVE-id,score,percentile': {line[:60]!r}.")
        score, percentile = _probability(parts[1], number), _probability(parts[2], number)
        scores[parts[0]] = EpssScore(score, percentile)
    if not scores:
        raise FeedError("The EPSS file has a header but no scores.")
    return EpssFeed(model, score_date, scores)


def parse_kev(data: bytes) -> KevFeed:
    """The KEV JSON. Its ``count``, when present, must equal the entries: a cut file is refused."""
    try:
        doc = json.loads(_decoded(_gunzipped(data, FeedKind.KEV), FeedKind.KEV))
    except ValueError:
        raise FeedError("The KEV file is not valid JSON (truncated or not the catalog).") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("vulnerabilities"), list):
        raise FeedError("The KEV file has no 'vulnerabilities' list; is it CISA's catalog?")
    released = _day(str(doc.get("dateReleased") or ""))
    if not released:
        raise FeedError("The KEV file has no dateReleased.")
    vulnerabilities = doc["vulnerabilities"]
    if "count" in doc and doc["count"] != len(vulnerabilities):
        raise FeedError(f"The KEV file says it has {doc['count']} entries but holds {len(vulnerabilities)}.")
    entries: dict[str, KevEntry] = {}
    for number, item in enumerate(vulnerabilities, start=1):
        cve = item.get("cveID") if isinstance(item, dict) else None
        added = _day(str(item.get("dateAdded") or "")) if cve else None
        if not cve or not CVE_ID.match(cve) or not added:
            raise FeedError(f"Entry {number} of the KEV file lacks a valid cveID or dateAdded.")
        ransomware = str(item.get("knownRansomwareCampaignUse") or "").strip().lower() == "known"
        entries[cve] = KevEntry(added, _day(str(item.get("dueDate") or "")), ransomware)
    if not entries:
        raise FeedError("The KEV file lists no vulnerabilities.")
    return KevFeed(str(doc.get("catalogVersion") or released), released, entries)


def parse(kind: FeedKind, data: bytes) -> EpssFeed | KevFeed:
    return parse_epss(data) if kind is FeedKind.EPSS else parse_kev(data)


def _gunzipped(data: bytes, kind: FeedKind) -> bytes:
    if not data.startswith(b"\x1f\x8b"):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error):
        raise FeedError(f"The {kind.value.upper()} file is a truncated or corrupt gzip archive.") from None


def _decoded(data: bytes, kind: FeedKind) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FeedError(f"The {kind.value.upper()} file is not UTF-8 text.") from None


def _day(text: str) -> str | None:
    """``2026-12-04`` from ``2026-12-04`` or ``2026-12-04T12:55:00Z``; None when it is no date."""
    try:
        return date.fromisoformat(text.strip()[:10]).isoformat()
    except ValueError:
        return None


def _probability(text: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FeedError(f"Line {line} of the EPSS file has {text[:20]!r} where a number belongs.") from None
    if not 0.0 <= value <= 1.0:
        raise FeedError(f"Line {line} of the EPSS file has {value}, outside 0 to 1.")
    return value
