"""How many scans and builds one person, or one channel, may start: token buckets in Redis.

A limit is a :class:`Rate` (``SCAN_RATE_LIMIT=20/hour``: a bucket of 20 tokens that refills at 20 an
hour). ``parse_rate``, ``Bucket`` and ``LimitReached.sentence`` are pure; :func:`take` is the one Redis call, a
Lua script that checks every bucket of a request and spends one token from each only when all have one,
so two web processes never both spend the last token and a refused request costs nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum

from redis import Redis


class Action(str, Enum):
    SCAN = "scan"
    BUILD = "build"


class Scope(str, Enum):
    USER = "user"
    CHANNEL = "channel"


PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_UNITS = {"s": "second", "sec": "second", "m": "minute", "min": "minute", "h": "hour", "d": "day"}
_RATE = re.compile(r"(\d+)\s*/\s*([a-z]+)")
OFF_WORDS = ("off", "0", "none", "unlimited")
RATE_FORMAT = "a count per second, minute, hour or day like 20/hour, or off"


@dataclass(frozen=True)
class Rate:
    count: int
    period: str  # a key of PERIODS

    @property
    def seconds(self) -> int:
        return PERIODS[self.period]

    def __str__(self) -> str:
        return f"{self.count}/{self.period}"


def parse_rate(raw: str) -> Rate | None:
    """``20/hour`` (or ``20/h``, ``20/hours``) → a Rate; ``0``, ``0/hour`` or ``off`` → None (no limit).
    Anything else raises ValueError; the settings turn it into an error naming the variable."""
    text = raw.strip().lower()
    if text in OFF_WORDS:
        return None
    match = _RATE.fullmatch(text)
    unit = _UNITS.get(match[2], match[2].removesuffix("s")) if match else None
    if unit not in PERIODS:
        raise ValueError(f"expected {RATE_FORMAT}, got {raw!r}")
    count = int(match[1])
    return Rate(count, unit) if count else None


@dataclass(frozen=True)
class Bucket:
    action: Action
    scope: Scope
    owner: str  # a Slack user or channel id
    rate: Rate

    @property
    def key(self) -> str:
        return f"chainscan:limit:{self.action.value}:{self.scope.value}:{self.owner}"


@dataclass(frozen=True)
class LimitReached:
    bucket: Bucket
    retry_after: float  # seconds until the bucket holds a token again

    @property
    def sentence(self) -> str:
        rate, noun = self.bucket.rate, self.bucket.action.value
        started = f"{rate.count} {noun}{'' if rate.count == 1 else 's'} in the last {rate.period}"
        who = "You have" if self.bucket.scope is Scope.USER else "This channel has"
        return f"{who} started {started}; try again in {wait_phrase(self.retry_after)}."


def wait_phrase(seconds: float) -> str:
    """``40 seconds``, ``12 minutes``, ``3 hours``: rounded up, so the advice is never too early."""
    for unit, size, up_to in (("second", 1, 60), ("minute", 60, 120 * 60), ("hour", 3600, math.inf)):
        if seconds < up_to:
            n = max(1, math.ceil(seconds / size))
            return f"{n} {unit}{'' if n == 1 else 's'}"
    raise AssertionError("unreachable")


# KEYS: one hash per bucket ({tokens, at}); ARGV: now in ms, then capacity and period in ms per key.
# Returns {0, 0} when a token was spent from every bucket, else {i, ms until bucket i has a token}.
_TAKE = """
local now = tonumber(ARGV[1])
local left = {}
for i, key in ipairs(KEYS) do
  local capacity, period = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local saved = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(saved[1]) or capacity
  local at = tonumber(saved[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - at) * capacity / period)
  if tokens < 1 then
    return {i, math.ceil((1 - tokens) * period / capacity)}
  end
  left[i] = tokens - 1
end
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, 'tokens', tostring(left[i]), 'at', tostring(now))
  redis.call('PEXPIRE', key, ARGV[2 * i + 1])
end
return {0, 0}
"""


def take(redis: Redis, buckets: list[Bucket], now: float) -> LimitReached | None:
    """Spend one token from each bucket, or none and say which bucket is empty and for how long."""
    if not buckets:
        return None
    args = [int(now * 1000)]
    for bucket in buckets:
        args += [bucket.rate.count, bucket.rate.seconds * 1000]
    index, wait_ms = redis.register_script(_TAKE)(keys=[b.key for b in buckets], args=args)
    return LimitReached(buckets[int(index) - 1], int(wait_ms) / 1000) if int(index) else None
