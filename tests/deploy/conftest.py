"""Fixtures the deploy tests share with the integration tests."""

from tests.integration.conftest import slack  # noqa: F401 (the Slack Web API stand-in)
