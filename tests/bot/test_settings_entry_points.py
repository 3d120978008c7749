"""A bad value in any setting ends every entry point with one sentence naming it and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.config import SlackSettings
from workers.config import ConfigError, Settings


@pytest.mark.parametrize(
    "args, name, value",
    [
        (["serve"], "PORT", "x"),
        (["worker"], "WORKER_POOL_SIZE", "many"),
        (["scan", "mariadb"], "LOG_LEVEL", "loud"),
        (["status"], "BUILDS_ENABLED", "maybe"),
        (["triage", "list", "mariadb"], "SCAN_TIMEOUT", "soon"),
        (["worker"], "METRICS_PORT", "99999"),
        (["serve"], "LOG_FORMAT", "xml"),
        (["status", "--check"], "DB_MAX_AGE_HOURS", "old"),
    ],
)
def test_a_bad_setting_is_one_sentence_and_status_2(args, name, value):
    env = {**os.environ, name: value, "REDIS_URL": "redis://127.0.0.1:6379/15"}
    proc = subprocess.run([sys.executable, "-m", "bot", *args], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert name in proc.stderr and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_settings_are_parsed_once_each_with_a_sentence():
    with pytest.raises(ConfigError, match="PORT must be a number from 1 to 65535, got 'x'"):
        SlackSettings.from_env({"PORT": "x"})
    assert SlackSettings.from_env({"ACCESS_LOG": "off", "BUILDS_ENABLED": "YES"}).builds_enabled
    assert Settings.from_env({"BUILD_NETWORK": "1"}).build_network is True


def test_the_operating_settings_have_safe_defaults_and_name_themselves_when_wrong():
    defaults = Settings.from_env({})
    assert (defaults.log_format, defaults.metrics_port, defaults.metrics_host) == ("text", None, "127.0.0.1")
    assert defaults.db_max_age_hours == 72
    assert Settings.from_env({"LOG_FORMAT": "JSON", "METRICS_PORT": "9100"}).metrics_port == 9100
    with pytest.raises(ConfigError, match="LOG_FORMAT must be text or json, not 'xml'"):
        Settings.from_env({"LOG_FORMAT": "xml"})
