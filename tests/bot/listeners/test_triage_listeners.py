"""The triage menu and modals, dispatched in process: each answer, each refusal, and the queue-down sentence."""

from __future__ import annotations

import json

from bot.render.triage_views import ACCEPT_CALLBACK, REASON, UNTIL
from bot.usergroups import cache_key
from tests.helpers.slack_requests import block_action_body, message_shortcut_body, view_submission_body
from workers.triage.store import ActionTarget, DecisionStore


def _key(redis) -> str:
    target = ActionTarget(
        team="T0TEST",
        repository="docker.io/library/mariadb",
        vulnerability="CVE-2024-1",
        package="libc6",
        channel="C0TEST",
        ts="1700000000.000100",
        packages=("libc6", "libc-bin"),
    )
    return DecisionStore(redis).action_key(target)


def _menu(verb: str, key: str, **kwargs) -> str:
    option = {"text": {"type": "plain_text", "text": verb}, "value": f"{verb}|{key}"}
    return block_action_body(
        "triage_menu", action_type="overflow", block_id=f"row:{key}", selected_option=option, **kwargs
    )


def test_acknowledge_stores_both_packages_of_the_row_and_queues_the_update(dispatcher):
    key = _key(dispatcher.redis)
    assert dispatcher.send(dispatcher.app(), _menu("ack", key)).status == 200
    decisions = DecisionStore(dispatcher.redis).get("T0TEST", "docker.io/library/mariadb")
    assert sorted(d.package for d in decisions) == ["libc-bin", "libc6"]
    assert {d.state.value for d in decisions} == {"acknowledged"}
    assert dispatcher.queued() == ["bot.jobs.triage_thread.show_decision", "bot.jobs.home.publish_home"]


def test_accept_opens_its_modal(dispatcher, slack):
    key = _key(dispatcher.redis)
    dispatcher.send(dispatcher.app(), _menu("accept", key))
    view = slack.last("views.open").params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == ACCEPT_CALLBACK and json.loads(view["private_metadata"]) == {"key": key}


def test_tampered_and_foreign_keys_are_refused(dispatcher, slack):
    app = dispatcher.app()
    for value in ("ack|t1:000000000000", "ack|../../etc", "nonsense", ""):
        option = {"text": {"type": "plain_text", "text": "x"}, "value": value}
        body = block_action_body(
            "triage_menu", action_type="overflow", selected_option=option, response_url=slack.response_url("tamper")
        )
        assert dispatcher.send(app, body).status == 200
    other_team = _menu("ack", _key(dispatcher.redis), team_id="T0OTHER", response_url=slack.response_url("tamper"))
    assert dispatcher.send(app, other_team).status == 200
    assert len([r for r in slack.responses("tamper") if "do not recognise" in r.get("text", "")]) == 5
    assert DecisionStore(dispatcher.redis).all() == []


def test_accepting_is_limited_to_the_allowed_people(dispatcher, slack):
    key = _key(dispatcher.redis)
    app = dispatcher.app(TRIAGE_ALLOWED_USERS="U0BOSS")
    dispatcher.send(app, _menu("accept", key, response_url=slack.response_url("deny")))
    assert any("<@U0BOSS>" in r.get("text", "") for r in slack.responses("deny"))
    values = {
        REASON: {REASON: {"type": "plain_text_input", "value": "ok"}},
        UNTIL: {UNTIL: {"type": "datepicker", "selected_date": "2099-01-01"}},
    }
    submission = view_submission_body(ACCEPT_CALLBACK, values, private_metadata=json.dumps({"key": key}))
    errors = json.loads(dispatcher.send(app, submission).body)["errors"]
    assert "<@U0BOSS>" in errors[REASON]
    acknowledging = dispatcher.send(app, _menu("ack", key))  # anyone may acknowledge
    assert acknowledging.status == 200 and DecisionStore(dispatcher.redis).all()


def test_malformed_submissions_are_inline_errors(dispatcher):
    app = dispatcher.app()
    for metadata in ("", "{", json.dumps({"key": 5}), json.dumps({"key": "t1:000000000000"})):
        response = dispatcher.send(app, view_submission_body(ACCEPT_CALLBACK, {}, private_metadata=metadata))
        assert response.status == 200 and "do not recognise" in json.loads(response.body)["errors"][REASON]


def test_a_store_that_does_not_answer_is_a_sentence(dispatcher, slack):
    down = dispatcher.redis_down()
    response = dispatcher.send(
        dispatcher.app(redis=down), _menu("ack", "t1:abcdefabcdef", response_url=slack.response_url("down"))
    )
    assert response.status == 200
    assert any("do not recognise" in r.get("text", "") or "Redis" in r.get("text", "") for r in slack.responses("down"))


def test_the_import_shortcut_needs_a_file(dispatcher, slack):
    body = message_shortcut_body("import_triage", message_text="no file here", response_url=slack.response_url("imp"))
    assert dispatcher.send(dispatcher.app(), body).status == 200
    assert any("OpenVEX file" in r.get("text", "") for r in slack.responses("imp"))


def test_a_member_of_an_allowed_user_group_may_accept(dispatcher, slack):
    slack.usergroups["S0SEC"] = ["U0TEST"]
    key = _key(dispatcher.redis)
    dispatcher.send(dispatcher.app(TRIAGE_ALLOWED_GROUPS="S0SEC"), _menu("accept", key))
    view = slack.last("views.open").params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == ACCEPT_CALLBACK  # allowed: the modal opened
    slack.usergroups["S0SEC"] = ["U0ELSE"]
    dispatcher.redis.delete(cache_key("S0SEC"))
    dispatcher.send(
        dispatcher.app(TRIAGE_ALLOWED_GROUPS="S0SEC"), _menu("fp", key, response_url=slack.response_url("g"))
    )
    assert any("<!subteam^S0SEC>" in r.get("text", "") for r in slack.responses("g"))


def test_the_jobs_of_a_click_carry_its_one_request_id(dispatcher):
    from rq import Queue

    from workers.telemetry.context import RequestContext, Source, bound

    key = _key(dispatcher.redis)
    with bound(RequestContext("click-req-1", Source.OTHER)):  # as bot/web.py binds one to each HTTP request
        assert dispatcher.send(dispatcher.app(), _menu("ack", key)).status == 200
    jobs = Queue("chainscan", connection=dispatcher.redis).get_jobs()
    assert len(jobs) == 2 and len({j.meta["request_id"] for j in jobs}) == 1
    if dispatcher.socket is None:  # over Socket Mode, bot/socket_mode.py binds a request id of its own
        assert jobs[0].meta["request_id"] == "click-req-1"


def test_the_modal_offers_the_owning_team_and_the_base_and_a_team_wide_acceptance_is_stored_once(
    dispatcher, slack, tmp_path
):
    from datetime import UTC, datetime, timedelta

    from bot.render.triage_views import SCOPE
    from workers.scan.store import ReportStore

    owners = tmp_path / "owners.yaml"
    owners.write_text("teams:\n  - {name: data, channel: C0DATA, repositories: [mariadb]}\n")
    dispatcher.redis.lpush(  # the repository's latest scan, as the engine records it
        "chainscan:history:docker.io/library/mariadb", json.dumps({"os": "debian 12.5", "base": None, "labels": None})
    )
    assert ReportStore(dispatcher.redis).history("docker.io/library/mariadb", 1)[0]["os"] == "debian 12.5"
    key = _key(dispatcher.redis)
    app = dispatcher.app(OWNERS_FILE=str(owners))
    dispatcher.send(app, _menu("accept", key))
    view = slack.last("views.open").params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    scope = next(b for b in view["blocks"] if b.get("block_id") == SCOPE)["element"]
    labels = {o["value"]: o["text"]["text"] for o in scope["options"]}
    assert labels == {
        "repository": "Every image of this repository",
        "digest": "Only this image digest",
        "team": "Every image of team data",
        "base": "Every image built on debian",
    }
    until = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    values = {
        REASON: {REASON: {"type": "plain_text_input", "value": "not reachable"}},
        UNTIL: {UNTIL: {"type": "datepicker", "selected_date": until}},
        SCOPE: {SCOPE: {"type": "radio_buttons", "selected_option": {"value": "team"}}},
    }
    body = view_submission_body(ACCEPT_CALLBACK, values, private_metadata=json.dumps({"key": key}))
    assert dispatcher.send(app, body).status == 200
    store = DecisionStore(dispatcher.redis)
    assert store.get("T0TEST", "docker.io/library/mariadb") == []
    decisions = store.get("T0TEST", "team:data")
    assert sorted(d.package for d in decisions) == ["libc-bin", "libc6"] and {d.owner_team for d in decisions} == {
        "data"
    }
