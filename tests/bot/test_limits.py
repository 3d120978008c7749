"""``bot/limits.py``: the rates of the settings, the refusal sentence, and the token buckets in Redis."""

from __future__ import annotations

import pytest

from bot.config import SlackSettings
from bot.limits import Action, Bucket, LimitReached, Rate, Scope, parse_rate, take, wait_phrase
from workers.config import ConfigError


@pytest.mark.parametrize(
    "raw, rate",
    [
        ("20/hour", Rate(20, "hour")),
        (" 5 / h ", Rate(5, "hour")),
        ("60/minutes", Rate(60, "minute")),
        ("1/day", Rate(1, "day")),
        ("3/s", Rate(3, "second")),
        ("off", None),
        ("OFF", None),
        ("0", None),
        ("0/hour", None),
    ],
)
def test_rates_are_a_count_per_period_or_off(raw, rate):
    assert parse_rate(raw) == rate


@pytest.mark.parametrize("raw", ["lots", "20", "20/fortnight", "-1/hour", "1.5/hour", "/hour"])
def test_a_bad_rate_is_an_error_naming_the_variable(raw):
    with pytest.raises(ConfigError, match="SCAN_RATE_LIMIT must be a count per"):
        SlackSettings.from_env({"SCAN_RATE_LIMIT": raw})


def test_the_defaults_are_20_scans_an_hour_a_user_60_a_channel_and_5_builds():
    settings = SlackSettings.from_env({})
    assert (settings.scan_rate, settings.scan_channel_rate, settings.build_rate) == (
        Rate(20, "hour"),
        Rate(60, "hour"),
        Rate(5, "hour"),
    )
    assert SlackSettings.from_env({"BUILD_RATE_LIMIT": "off"}).build_rate is None


def test_the_refusal_says_how_many_and_when_to_try_again():
    user = Bucket(Action.SCAN, Scope.USER, "U1", Rate(20, "hour"))
    assert LimitReached(user, 11 * 60 + 2).sentence == (
        "You have started 20 scans in the last hour; try again in 12 minutes."
    )
    channel = Bucket(Action.BUILD, Scope.CHANNEL, "C1", Rate(1, "day"))
    assert (
        LimitReached(channel, 3 * 3600).sentence
        == "This channel has started 1 build in the last day; try again in 3 hours."
    )


@pytest.mark.parametrize("seconds, says", [(0.2, "1 second"), (40, "40 seconds"), (60, "1 minute"), (7200, "2 hours")])
def test_waits_are_rounded_up(seconds, says):
    assert wait_phrase(seconds) == says


def test_a_bucket_refuses_the_n_plus_first_and_refills_with_time(redis_client):
    bucket = Bucket(Action.SCAN, Scope.USER, "U1", Rate(3, "minute"))
    assert [take(redis_client, [bucket], 1000.0) for _ in range(3)] == [None, None, None]
    refusal = take(redis_client, [bucket], 1000.0)
    assert refusal.bucket == bucket and refusal.retry_after == pytest.approx(20)
    assert take(redis_client, [bucket], 1020.0) is None  # one token back after a third of a minute
    assert 0 < redis_client.pttl(bucket.key) <= 60_000


def test_a_refused_request_spends_no_token_from_the_other_buckets(redis_client):
    user = Bucket(Action.SCAN, Scope.USER, "U1", Rate(5, "hour"))
    channel = Bucket(Action.SCAN, Scope.CHANNEL, "C1", Rate(1, "hour"))
    assert take(redis_client, [user, channel], 0.0) is None
    assert take(redis_client, [user, channel], 0.0).bucket == channel
    other_channel = Bucket(Action.SCAN, Scope.CHANNEL, "C2", Rate(1, "hour"))
    assert take(redis_client, [user, other_channel], 0.0) is None
    # the user spent 2 of 5: the refused request in C1 cost nothing
    assert float(redis_client.hget(user.key, "tokens")) == pytest.approx(3)
