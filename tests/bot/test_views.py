"""The modals, pure: what they carry and what a submission reads back, whatever its shape."""

import json
from datetime import date

import pytest

from bot.render.triage_views import (
    ACCEPT_CALLBACK,
    ASSIGN_CALLBACK,
    FALSE_POSITIVE_CALLBACK,
    metadata_key,
    submitted_fields,
    triage_modal,
)
from bot.render.views import build_modal, dockerfile_from_message


def test_the_build_modal_carries_the_channel_and_the_snippet():
    modal = build_modal("C1", snippet={"id": "F1", "name": "Dockerfile"})
    assert json.loads(modal["private_metadata"]) == {"channel": "C1", "file": "F1"}


def test_the_dockerfile_is_taken_from_a_code_block_or_a_snippet():
    assert dockerfile_from_message({"text": "look\n```FROM a\nRUN b &amp;&amp; c```"}) == ("FROM a\nRUN b && c", None)
    assert dockerfile_from_message({"files": [{"id": "F1", "mode": "snippet", "name": "Dockerfile"}]})[1]["id"] == "F1"
    assert dockerfile_from_message({"text": "hello"}) == ("", None)


@pytest.mark.parametrize("callback", [ASSIGN_CALLBACK, ACCEPT_CALLBACK, FALSE_POSITIVE_CALLBACK])
def test_triage_modals_carry_only_the_key(callback):
    modal = triage_modal(callback, "t1:abcdefabcdef", "*CVE-1*", today=date(2026, 12, 1), max_days=30)
    assert modal["callback_id"] == callback and metadata_key(modal) == "t1:abcdefabcdef"
    assert len(modal["blocks"]) <= 5


def test_the_accept_modal_defaults_to_90_days_within_the_maximum():
    modal = triage_modal(ACCEPT_CALLBACK, "t1:x", "x", today=date(2026, 12, 1), max_days=30)
    picker = next(b for b in modal["blocks"] if b.get("block_id") == "until")["element"]
    assert picker["initial_date"] == "2026-12-31" and "00:00 UTC" in json.dumps(modal)


@pytest.mark.parametrize(
    "view", [None, [], {"state": "x"}, {"state": {"values": {"reason": []}}}, {"private_metadata": "{"}]
)
def test_odd_submissions_read_as_empty(view):
    fields = submitted_fields(view)
    assert set(fields.values()) == {None} and metadata_key(view) is None
