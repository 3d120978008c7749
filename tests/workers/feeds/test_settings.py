"""EPSS_URL, KEV_URL and FEED_TIMEOUT: defaults, mirrors, off, and a bad value naming its variable."""

from __future__ import annotations

import pytest

from workers.config import EPSS_URL, KEV_URL, ConfigError, Settings


def test_the_defaults_are_the_publishers_urls():
    settings = Settings.from_env({})
    assert (settings.epss_url, settings.kev_url, settings.feed_timeout) == (EPSS_URL, KEV_URL, 300)
    assert settings.kev_url.startswith("https://www.cisa.gov/") and "epss" in settings.epss_url


def test_a_mirror_a_path_or_off():
    settings = Settings.from_env(
        {"EPSS_URL": "https://mirror.internal/epss.csv.gz", "KEV_URL": "/srv/feeds/kev.json", "FEED_TIMEOUT": "60"}
    )
    assert (settings.epss_url, settings.kev_url, settings.feed_timeout) == (
        "https://mirror.internal/epss.csv.gz",
        "/srv/feeds/kev.json",
        60,
    )
    assert Settings.from_env({"KEV_URL": "off"}).kev_url is None


@pytest.mark.parametrize(("name", "value"), [("EPSS_URL", "ftp://x/epss.csv"), ("KEV_URL", "feeds/kev.json")])
def test_a_location_that_cannot_be_used_names_its_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_a_bad_feed_timeout_names_its_variable():
    with pytest.raises(ConfigError, match="FEED_TIMEOUT"):
        Settings.from_env({"FEED_TIMEOUT": "soon"})
