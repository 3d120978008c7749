"""The findings messages posted in threads, kept in Redis so a decision can update its row in place.

For each posted findings message: its channel, ts and blocks; for each row's action key, the message it is
in and the row's text without the decision. A decision taken next month still finds its row (30 days, as
threads are kept); older rows are only told in the thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from redis import Redis

PREFIX = "chainscan:findings-message:"
ROW_PREFIX = "chainscan:findings-row:"
CARD_PREFIX = "chainscan:findings-card:"
_KEPT = ("id", "package", "installed", "fixed", "status", "severity", "layer", "source")
TTL = 30 * 24 * 3600


@dataclass
class RowPlace:
    channel: str
    ts: str  # the findings message
    thread_ts: str  # the thread's parent
    base: str  # the row's text without the decision
    severity: str
    digest: str | None = None  # the image the thread is about (for decisions scoped to one digest)


class FindingsMessages:
    def __init__(self, redis: Redis):
        self.redis = redis

    def save(
        self,
        channel: str,
        ts: str,
        thread_ts: str,
        blocks: list[dict],
        rows: dict[str, tuple[str, str]],
        digest: str | None = None,
    ) -> None:
        """``rows``: action key → (base text, severity) of every row with a menu in the message."""
        with self.redis.pipeline() as pipe:
            pipe.set(f"{PREFIX}{channel}:{ts}", json.dumps(blocks), ex=TTL)
            for key, (base, severity) in rows.items():
                place = {
                    "channel": channel,
                    "ts": ts,
                    "thread_ts": thread_ts,
                    "base": base,
                    "severity": severity,
                    "digest": digest,
                }
                pipe.set(f"{ROW_PREFIX}{key}:{channel}:{ts}", json.dumps(place), ex=TTL)
                pipe.sadd(f"{ROW_PREFIX}{key}", f"{channel}:{ts}")
                pipe.expire(f"{ROW_PREFIX}{key}", TTL)
            pipe.execute()

    def places(self, key: str) -> list[RowPlace]:
        """Every message (thread) in which the row of ``key`` is shown."""
        found = []
        for member in self.redis.smembers(f"{ROW_PREFIX}{key}"):
            raw = self.redis.get(f"{ROW_PREFIX}{key}:{member.decode() if isinstance(member, bytes) else member}")
            if raw:
                found.append(RowPlace(**json.loads(raw)))
        return found

    def index_row(self, key: str, team: str, repository: str, vulnerability: str, packages: tuple[str, ...]) -> None:
        """Remember which row keys show a finding, so the bot's own changes (an expiry) can redraw them."""
        with self.redis.pipeline() as pipe:
            for package in packages:
                index = f"{ROW_PREFIX}by:{team}|{repository}|{vulnerability}|{package}"
                pipe.sadd(index, key)
                pipe.expire(index, TTL)
            pipe.execute()

    def keys_for(self, team: str, repository: str, vulnerability: str, package: str) -> list[str]:
        members = self.redis.smembers(f"{ROW_PREFIX}by:{team}|{repository}|{vulnerability}|{package}")
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    def save_card(self, channel: str, thread_ts: str, result, findings_link: str | None) -> None:
        """What the thread's card was drawn from (findings trimmed to what counting needs), so a decision can
        redraw it with the new counts."""
        data = {
            "report": _trimmed(result.report.to_dict()),
            "alternative": _trimmed(result.alternative_report.to_dict()) if result.alternative_report else None,
            "mapping": result.mapping.to_dict() if result.mapping else None,
            "reason": result.reason,
            "link": findings_link,
        }
        self.redis.set(f"{CARD_PREFIX}{channel}:{thread_ts}", json.dumps(data), ex=TTL)

    def card(self, channel: str, thread_ts: str) -> dict | None:
        raw = self.redis.get(f"{CARD_PREFIX}{channel}:{thread_ts}")
        return json.loads(raw) if raw else None

    def blocks(self, channel: str, ts: str) -> list[dict] | None:
        raw = self.redis.get(f"{PREFIX}{channel}:{ts}")
        return json.loads(raw) if raw else None

    def replace_blocks(self, channel: str, ts: str, blocks: list[dict]) -> None:
        self.redis.set(f"{PREFIX}{channel}:{ts}", json.dumps(blocks), ex=TTL)


def _trimmed(report: dict) -> dict:
    """A report's dict with each finding cut to what counts and decisions need (titles and links dropped)."""
    empty = {"cvss_score": None, "cvss_vector": None, "title": "", "url": None}
    return {**report, "vulnerabilities": [{**empty, **{k: v[k] for k in _KEPT}} for v in report["vulnerabilities"]]}
