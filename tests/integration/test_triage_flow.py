"""Triage in the thread, end to end: menu clicks, message shortcuts and modal submissions to ``python -m bot serve``
over both of Slack's transports (``slack_app``: signed POSTs, and Socket Mode envelopes acked within 3 s), the
decision stored in Redis, the row updated in place by a real RQ worker, and the next scan honouring it. The Web API
stand-in records views.open, views.update and chat.update. Marked ``http_only`` with their reason: the tests about
what the workers do once the job is queued (the transport ends at the enqueue)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.render.triage_views import ACCEPT_CALLBACK, REASON, SCOPE, UNTIL
from tests.helpers.slack_requests import block_action_body, view_submission_body
from tests.integration.conftest import CHANNEL, all_text, parent_and_replies, routing_file, run_workers, scan
from workers.triage.store import DecisionStore

pytestmark = pytest.mark.integration


def _findings_message(slack, ts):
    thread = slack.messages_in_thread(CHANNEL, ts)
    return next(m for m in thread if "Worst findings" in all_text(m))


def _rows_with_menus(message):
    return [b for b in message["blocks"] if b.get("accessory", {}).get("action_id") == "triage_menu"]


def _option(row, verb):
    return next(o for o in row["accessory"]["options"] if o["value"].startswith(verb + "|"))


def _click(app, slack, message, row, verb, *, option=None, responses="triage", **kwargs):
    """A click on the row's menu (``option``: a forged one instead of the row's own)."""
    body = block_action_body(
        "triage_menu",
        action_type="overflow",
        block_id=row["block_id"],
        channel_id=CHANNEL,
        message_ts=message["ts"],
        response_url=slack.response_url(responses),
        selected_option=option or _option(row, verb),
        **kwargs,
    )
    return app.send(body)


def _opened_view(slack) -> dict:
    view = slack.last("views.open").params["view"]
    return json.loads(view) if isinstance(view, str) else view


def _accept(app, view: dict, reason: str, until: str, scope: str = "repository"):
    """The accept modal, submitted with these fields."""
    values = {
        REASON: {REASON: {"type": "plain_text_input", "value": reason}},
        UNTIL: {UNTIL: {"type": "datepicker", "selected_date": until}},
        SCOPE: {SCOPE: {"type": "radio_buttons", "selected_option": {"value": scope}}},
    }
    body = view_submission_body(ACCEPT_CALLBACK, values, private_metadata=view["private_metadata"])
    return app.send(body)


def _accept_form(app, slack, redis_client):
    """A scan's thread, and the accept modal its first triaged row's menu opened: (thread ts, findings message,
    row, view)."""
    ts, message = _scan_and_thread(app, slack, redis_client)
    row = _rows_with_menus(message)[0]
    _click(app, slack, message, row, "accept")
    return ts, message, row, _opened_view(slack)


def _scan_and_thread(app, slack, redis_client, image="mariadb"):
    assert scan(app, slack, image).status_code == 200
    run_workers(redis_client)
    ts, _ = parent_and_replies(slack)
    return ts, _findings_message(slack, ts)


@pytest.mark.http_only("the workers' side: the transport ends at the enqueue")
def test_critical_and_high_rows_carry_the_triage_menu(slack_app, slack, redis_client, test_images):
    _, message = _scan_and_thread(slack_app, slack, redis_client)
    rows = _rows_with_menus(message)
    assert rows, "no row with a triage menu"
    labels = [o["text"]["text"] for o in rows[0]["accessory"]["options"]]
    assert labels == ["Acknowledge", "Assign…", "Accept risk…", "False positive…"]
    assert all(len(o["value"]) <= 150 for r in rows for o in r["accessory"]["options"])


def test_acknowledge_updates_the_row_in_place_and_notes_it_once(slack_app, slack, redis_client, test_images):
    ts, message = _scan_and_thread(slack_app, slack, redis_client)
    row = _rows_with_menus(message)[0]
    assert _click(slack_app, slack, message, row, "ack").status_code == 200
    assert _click(slack_app, slack, message, row, "ack").status_code == 200  # a double click
    run_workers(redis_client)
    updates = [c for c in slack.calls("chat.update") if c.ok and c.params.get("ts") == message["ts"]]
    assert updates, "the findings message was not updated"
    updated = json.dumps(updates[-1].params["blocks"])
    assert "acknowledged by <@U0TEST>" in updated
    notes = [m for m in slack.messages_in_thread(CHANNEL, ts) if "acknowledged by" in m.get("text", "")]
    assert len(notes) == 1
    key = row["block_id"].removeprefix("row:")
    target = DecisionStore(redis_client).resolve_action_key(key)
    decision = DecisionStore(redis_client).get_one(target.team, target.repository, target.vulnerability, target.package)
    assert decision.state.value == "acknowledged" and decision.version == 1


def test_accept_risk_opens_a_modal_checks_it_inline_and_the_next_scan_counts_it_apart(
    slack_app, slack, redis_client, test_images
):
    ts, _, _, view = _accept_form(slack_app, slack, redis_client)
    assert view["callback_id"] == ACCEPT_CALLBACK

    def submit(reason, until):
        return _accept(slack_app, view, reason, until)

    missing = submit("", "2099-01-01")
    assert missing.status_code == 200 and missing.json()["response_action"] == "errors"
    assert "reason" in missing.json()["errors"][REASON].lower()
    past = submit("only in the build stage", "2020-01-01")
    assert "future" in past.json()["errors"][UNTIL]
    from datetime import date, timedelta

    until = (date.today() + timedelta(days=20)).isoformat()
    ok = submit("only in the build stage", until)
    assert ok.status_code == 200 and not ok.text.strip()
    run_workers(redis_client)
    updated = json.dumps(slack.last("chat.update").params.get("blocks"))
    assert f"accepted by <@U0TEST> until {until}" in updated or any(
        f"until {until}" in json.dumps(c.params.get("blocks")) for c in slack.calls("chat.update")
    )

    # the card is redrawn with the decision counted apart, at once
    card_updates = [c for c in slack.calls("chat.update") if c.ok and c.params.get("ts") == ts]
    assert "accepted)" in json.dumps(card_updates[-1].params.get("blocks"))

    # the next scan of the repository honours it: counted apart on the card, and in the CLI's JSON
    assert scan(slack_app, slack, "mariadb --rescan").status_code == 200
    run_workers(redis_client)
    cards = [c.params["text"] for c in slack.calls("chat.update") if c.ok and "open" in c.params.get("text", "")]
    assert cards
    blocks_text = json.dumps([c.params.get("blocks") for c in slack.calls("chat.update") if c.ok])
    assert "accepted)" in blocks_text


def test_a_tampered_menu_value_is_refused_with_a_sentence(slack_app, slack, redis_client, test_images):
    _, message = _scan_and_thread(slack_app, slack, redis_client)
    row = _rows_with_menus(message)[0]
    forged = dict(_option(row, "ack"), value="ack|t1:000000000000")
    assert _click(slack_app, slack, message, row, "ack", option=forged, responses="forged").status_code == 200
    assert any("do not recognise that menu" in r.get("text", "") for r in slack.responses("forged"))


@pytest.fixture
def only_the_boss_triages(monkeypatch):
    """An allow-list for risk acceptance, set before ``slack_app`` starts (it reads its settings once)."""
    monkeypatch.setenv("TRIAGE_ALLOWED_USERS", "U0BOSS")


def test_only_the_allowed_people_may_accept_risks(only_the_boss_triages, slack_app, slack, redis_client, test_images):
    _, message = _scan_and_thread(slack_app, slack, redis_client)
    row = _rows_with_menus(message)[0]
    assert _click(slack_app, slack, message, row, "accept", responses="deny").status_code == 200
    assert any("<@U0BOSS>" in r.get("text", "") for r in slack.responses("deny"))
    assert slack.calls("views.open") == []  # no modal for someone who may not accept


def test_the_cli_sets_lists_and_shows_the_history_of_decisions(engine_env, redis_client, test_images):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=120)

    bad = cli("triage", "set", "mariadb", "CVE-2024-0001", "--package", "libc6", "--state", "accepted", "--by", "U1")
    assert bad.returncode == 2 and bad.stderr.strip().endswith("needs a reason.") and bad.stdout == ""
    unknown = cli("triage", "set", "mariadb", "CVE-2024-0001", "--package", "libc6", "--state", "ignored", "--by", "U1")
    assert unknown.returncode == 2 and "not a triage state" in unknown.stderr
    invalid = cli("triage", "set", "Bad Name", "CVE-1", "--package", "x", "--state", "acknowledged", "--by", "U1")
    assert invalid.returncode == 2
    ok = cli("triage", "set", "mariadb", "CVE-2024-0001", "--package", "libc6", "--state", "acknowledged", "--by", "U1")
    assert ok.returncode == 0, ok.stderr
    listed = json.loads(cli("triage", "list", "mariadb", "--format", "json").stdout)
    assert [d["state"] for d in listed["decisions"]] == ["acknowledged"]
    history = cli("triage", "history", "mariadb", "CVE-2024-0001")
    assert "open → acknowledged" in history.stdout


@pytest.mark.http_only("the workers' side: the transport ends at the enqueue")
def test_scan_vex_uploads_the_false_positives_as_openvex(slack_app, slack, redis_client, test_images):
    _, message = _scan_and_thread(slack_app, slack, redis_client)
    row = _rows_with_menus(message)[0]
    key = row["block_id"].removeprefix("row:")
    target = DecisionStore(redis_client).resolve_action_key(key)
    from datetime import UTC, datetime

    from workers.config import Settings
    from workers.reference import parse_reference
    from workers.triage.decide import Change, decide

    decide(
        DecisionStore(redis_client),
        Settings.from_env(),
        team=target.team,
        image=parse_reference(target.repository),
        vulnerability=target.vulnerability,
        package=target.package,
        now=datetime.now(UTC),
        change=Change("false_positive", by="U0TEST", justification="vulnerable_code_not_in_execute_path"),
    )
    assert "OpenVEX" in scan(slack_app, slack, "vex mariadb").json()["text"]
    run_workers(redis_client)
    (upload,) = [u for u in slack.uploads(completed_only=True) if u.filename.endswith(".openvex.json")]
    document = json.loads(upload.content)
    (statement,) = document["statements"]
    assert statement["vulnerability"]["name"] == target.vulnerability
    assert statement["status"] == "not_affected"
    assert statement["justification"] == "vulnerable_code_not_in_execute_path"


@pytest.mark.http_only("the workers' side: the transport ends at the enqueue")
def test_scan_triage_lists_only_critical_and_high_with_menus(slack_app, slack, redis_client, test_images):
    assert scan(slack_app, slack, "triage mariadb").status_code == 200
    run_workers(redis_client)
    ts, _ = parent_and_replies(slack)
    message = _findings_message(slack, ts)
    rows = [b for b in message["blocks"] if b.get("block_id", "").startswith("row:")]
    assert rows and all("accessory" in b for b in rows)


def test_importing_an_ignore_file_is_confirmed_first_then_honoured(slack_app, slack, redis_client, test_images):
    from datetime import date, timedelta

    from bot.render.triage_views import IMPORT_CALLBACK, REPOSITORY
    from tests.helpers.slack_requests import message_shortcut_body

    until = (date.today() + timedelta(days=20)).isoformat()
    ignore = f"vulnerabilities:\n  - id: CVE-2024-9999\n    purls: [pkg:deb/debian/zlib1g]\n    expired_at: {until}\n"
    ignore += "    statement: not reachable\n"
    snippet = slack.add_snippet(ignore, name=".trivyignore.yaml")
    message = {
        "type": "message",
        "user": "U0OTHER",
        "ts": "1700000000.000200",
        "text": "our ignores",
        "files": [snippet],
    }
    body = message_shortcut_body(
        "import_triage", message=message, channel_id=CHANNEL, response_url=slack.response_url("import")
    )
    assert slack_app.send(body).status_code == 200
    opened = slack.last("views.open")
    assert "Reading the file" in json.dumps(opened.params["view"])
    run_workers(redis_client)  # reads the file, shows what it would decide
    shown = slack.last("views.update").params["view"]
    shown = json.loads(shown) if isinstance(shown, str) else shown
    assert "CVE-2024-9999" in json.dumps(shown) and shown["callback_id"] == IMPORT_CALLBACK
    assert DecisionStore(redis_client).all() == []  # nothing stored before it is confirmed

    values = {REPOSITORY: {REPOSITORY: {"type": "plain_text_input", "value": "mariadb"}}}
    confirm = view_submission_body(IMPORT_CALLBACK, values, private_metadata=shown["private_metadata"])
    assert slack_app.send(confirm).status_code == 200
    (decision,) = DecisionStore(redis_client).all()
    assert (decision.repository, decision.vulnerability, decision.package) == (
        "docker.io/library/mariadb",
        "CVE-2024-9999",
        "zlib1g",
    )
    assert decision.state.value == "accepted" and decision.until == until and decision.reason == "not reachable"
    assert any("imported 1 triage decision" in c.params.get("text", "") for c in slack.calls("chat.postMessage"))


def test_attack_an_import_past_the_menus_limit_is_refused_and_changes_no_decision(
    slack_app, slack, redis_client, test_images
):
    from datetime import date, timedelta

    from bot.render.triage_views import IMPORT_CALLBACK, REPOSITORY
    from tests.helpers.slack_requests import message_shortcut_body

    soon, far = (date.today() + timedelta(days=d) for d in (10, 170))
    ignore = "vulnerabilities:\n"
    ignore += f"  - id: CVE-2024-1111\n    purls: [pkg:deb/debian/zlib1g]\n    expired_at: {soon.isoformat()}\n"
    ignore += f"  - id: CVE-2024-9999\n    purls: [pkg:deb/debian/zlib1g]\n    expired_at: {far.isoformat()}\n"
    snippet = slack.add_snippet(ignore, name=".trivyignore.yaml")
    message = {"type": "message", "user": "U0OTHER", "ts": "1700000000.000400", "text": "x", "files": [snippet]}
    body = message_shortcut_body("import_triage", message=message, channel_id=CHANNEL)
    assert slack_app.send(body).status_code == 200
    run_workers(redis_client)
    shown = slack.last("views.update").params["view"]
    shown = json.loads(shown) if isinstance(shown, str) else shown
    values = {REPOSITORY: {REPOSITORY: {"type": "plain_text_input", "value": "mariadb"}}}
    confirm = view_submission_body(IMPORT_CALLBACK, values, private_metadata=shown["private_metadata"])
    answer = slack_app.send(confirm)
    assert answer.status_code == 200
    error = answer.json()["errors"][REPOSITORY]
    assert error.startswith("Nothing was imported: CVE-2024-9999 in zlib1g") and "at most 30 days" in error
    assert DecisionStore(redis_client).all() == [], "not even the acceptance within the limit"


def test_importing_a_file_that_is_neither_format_says_so(slack_app, slack, redis_client, test_images):
    from tests.helpers.slack_requests import message_shortcut_body

    snippet = slack.add_snippet("hello world", name="notes.txt")
    message = {"type": "message", "user": "U0OTHER", "ts": "1700000000.000300", "text": "x", "files": [snippet]}
    body = message_shortcut_body("import_triage", message=message, channel_id=CHANNEL)
    assert slack_app.send(body).status_code == 200
    run_workers(redis_client)
    shown = json.dumps(slack.last("views.update").params["view"])
    assert "neither an OpenVEX document" in shown


@pytest.mark.http_only("the workers' side: the transport ends at the enqueue")
def test_an_acceptance_that_ends_redraws_its_row_as_open(slack_app, slack, redis_client, test_images):
    from datetime import UTC, date, datetime, timedelta

    from rq import Queue

    from workers.config import Settings

    ts, message = _scan_and_thread(slack_app, slack, redis_client)
    row = _rows_with_menus(message)[0]
    target = DecisionStore(redis_client).resolve_action_key(row["block_id"].removeprefix("row:"))
    until = (date.today() + timedelta(days=3)).isoformat()
    from workers.triage.model import Decision, TriageState

    for package in target.all_packages:
        DecisionStore(redis_client).set(
            Decision(
                team=target.team,
                repository=target.repository,
                vulnerability=target.vulnerability,
                package=package,
                state=TriageState.ACCEPTED,
                by="U0ANA",
                at="2026-11-01T00:00:00+00:00",
                reason="for now",
                until=until,
                thread=f"https://slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}",
            )
        )
    later = datetime.fromisoformat(until).replace(tzinfo=UTC) + timedelta(minutes=1)
    Queue(Settings.from_env().queue_name, connection=redis_client).enqueue(
        "bot.jobs.triage_thread.expire_acceptances", later.isoformat()
    )
    run_workers(redis_client)
    run_workers(redis_client)  # the redraw jobs the expiry queued
    rows = [c for c in slack.calls("chat.update") if c.ok and c.params.get("ts") == message["ts"]]
    assert rows, "the row was not redrawn"
    assert "accepted by" not in json.dumps(rows[-1].params["blocks"])
    notes = [m for m in slack.messages_in_thread(CHANNEL, ts) if "open again" in m.get("text", "")]
    assert len(notes) == len(target.all_packages)


@pytest.fixture
def data_owns_mariadb(tmp_path, monkeypatch):
    """A routing file in which team data owns mariadb, so the triage modal offers its images; set before
    ``slack_app`` starts, which reads it."""
    routing_file(tmp_path, monkeypatch, f"teams:\n  - {{name: data, channel: {CHANNEL}, repositories: [mariadb]}}\n")


def _blocks(call) -> list[dict]:
    blocks = call.params.get("blocks")
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def test_a_team_wide_acceptance_shows_on_the_row_where_it_was_made_as_the_card_counts_it(
    data_owns_mariadb, slack_app, slack, redis_client, test_images
):
    from datetime import date, timedelta

    ts, message, row, view = _accept_form(slack_app, slack, redis_client)
    assert "Every image of team data" in json.dumps(view)
    until = (date.today() + timedelta(days=20)).isoformat()
    answer = _accept(slack_app, view, "not reachable <!here>", until, scope="team")
    assert answer.status_code == 200 and not answer.text.strip()
    target = DecisionStore(redis_client).resolve_action_key(row["block_id"].removeprefix("row:"))
    assert DecisionStore(redis_client).get(target.team, target.repository) == []  # stored once, for the team
    assert DecisionStore(redis_client).get(target.team, "team:data")
    run_workers(redis_client)

    updates = [c for c in slack.calls("chat.update") if c.ok and c.params.get("ts") == message["ts"]]
    assert updates, "the findings message was not updated"
    (drawn,) = [b for b in _blocks(updates[-1]) if b.get("block_id") == row["block_id"]]
    said = f"accepted by <@U0TEST> for every image of team data until {until}: not reachable &lt;!here&gt;"
    assert said in drawn["text"]["text"]
    assert "Reopen" in [o["text"]["text"] for o in drawn["accessory"]["options"]]
    notes = [m["text"] for m in slack.messages_in_thread(CHANNEL, ts) if "for every image of team data" in m["text"]]
    assert len(notes) == 1 and said in notes[0]  # the thread's note says the same
    card = [c for c in slack.calls("chat.update") if c.ok and c.params.get("ts") == ts][-1]
    assert "accepted)" in json.dumps(_blocks(card))  # and the card counts it apart
