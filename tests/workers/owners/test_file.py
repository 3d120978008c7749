"""The routing file on disk: read again when it changes, and the last good one in force while it is bad."""

from __future__ import annotations

import os

from workers.owners.file import RoutingFile

GOOD = "teams:\n  - {name: pay, channel: C0PAY, repositories: [mariadb]}\n"
OTHER = "teams:\n  - {name: web, channel: C0WEB, repositories: [nginx]}\n"
BAD = "teams:\n  - {name: pay, channel: C0PAY}\n"


def _write(path, text, tick):
    path.write_text(text)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # a new modification time, without sleeping


def test_no_file_routes_nothing(redis_client):
    assert RoutingFile(None, redis_client).routes().teams == ()


def test_a_changed_file_is_read_again(tmp_path, redis_client):
    path = tmp_path / "owners.yaml"
    _write(path, GOOD, 1)
    routing = RoutingFile(path, redis_client)
    assert [t.name for t in routing.routes().teams] == ["pay"]
    _write(path, OTHER, 2)
    assert [t.name for t in routing.routes().teams] == ["web"]


def test_a_bad_file_names_its_line_and_the_last_good_stays_in_force(tmp_path, redis_client, caplog):
    path = tmp_path / "owners.yaml"
    _write(path, GOOD, 1)
    routing = RoutingFile(path, redis_client)
    routing.routes()
    _write(path, BAD, 2)
    assert [t.name for t in routing.routes().teams] == ["pay"]
    assert routing.problem.startswith("Line 2 of the routing file: team `pay` owns nothing")
    assert routing.problem.endswith("The last good routing file stays in force.")
    routing.routes()
    assert sum("owns nothing" in r.getMessage() for r in caplog.records) == 1  # logged once per change
    _write(path, OTHER, 3)
    assert [t.name for t in routing.routes().teams] == ["web"] and routing.problem is None


def test_a_process_started_on_a_bad_file_uses_the_last_good_one_another_process_read(tmp_path, redis_client):
    path = tmp_path / "owners.yaml"
    _write(path, GOOD, 1)
    RoutingFile(path, redis_client).routes()
    _write(path, BAD, 2)
    fresh = RoutingFile(path, redis_client)
    assert [t.name for t in fresh.routes().teams] == ["pay"]
    assert "Line 2" in fresh.problem


def test_a_missing_file_is_a_sentence_not_a_traceback(tmp_path, redis_client):
    routing = RoutingFile(tmp_path / "gone.yaml", redis_client)
    assert routing.routes().teams == ()
    assert "cannot be read" in routing.problem


def test_a_file_that_is_not_text_is_refused(tmp_path, redis_client):
    path = tmp_path / "owners.yaml"
    path.write_bytes(b"\xff\xfe teams")
    routing = RoutingFile(path, redis_client)
    routing.routes()
    assert "not UTF-8" in routing.problem
