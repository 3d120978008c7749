"""Base-image attribution with real parts: test images pushed to the real registry, read through
DOCKERHUB_MIRROR, scanned by the real Trivy on real RQ workers, the answer cached in the real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from rq import Queue, SimpleWorker

from tests.integration.conftest import parent_and_replies, run_workers
from tests.integration.test_build_flow import builds_on, submit  # noqa: F401 (builds_on is a fixture)
from workers.config import Settings
from workers.scan.queue import enqueue_scan, outcome_of
from workers.scan.store import ReportStore

pytestmark = pytest.mark.integration


def scanned(redis_client, reference: str):
    settings = Settings.from_env()
    queue = Queue(settings.queue_name, connection=redis_client)
    job = enqueue_scan(queue, settings, reference)
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    outcome = outcome_of(job)
    assert outcome is not None and outcome.report is not None, outcome and outcome.error
    return outcome.report


def test_an_image_on_debian_is_attributed_to_debian_12_by_its_bottom_layer(engine_env, redis_client, test_images):
    report = scanned(redis_client, "mariadb")
    base = report.base
    assert (base["name"], base["layers"], base["source"]) == ("docker.io/library/debian:12", 1, "layers")
    assert base["digest"] == test_images["library/debian:12"].digest
    bottom = report.layers[0].diff_id
    assert base["counts"] == {
        s: sum(1 for f in report.vulnerabilities if f.layer == bottom and f.severity == s) for s in base["counts"]
    }
    assert 0 < sum(base["counts"].values()) < report.total  # the base brings some, mariadb-server the rest
    assert base["refresh"] is None  # built on the current debian:12
    assert ReportStore(redis_client).trivy_runs() == 1  # the base's layers come from the registry, not a scan


def test_the_answer_is_cached_by_layer_digests(engine_env, redis_client, test_images):
    scanned(redis_client, "mariadb")
    keys = [k for k in redis_client.scan_iter("chainscan:base:*") if b":remote:" not in k]
    assert len(keys) == 1
    remote = [k.decode() for k in redis_client.scan_iter("chainscan:base:remote:*")]
    assert any("library/debian:12" in k for k in remote)  # the base's tag, asked once for every image on it
    redis_client.set(keys[0], json.dumps({"name": None}))  # what the cache says is what the next scan uses
    assert scanned(redis_client, "mariadb:latest").base is None


def test_the_base_itself_and_images_of_other_distributions_have_no_base(engine_env, redis_client, test_images):
    assert scanned(redis_client, "debian:12").base is None
    assert scanned(redis_client, f"{engine_env['DOCKERHUB_MIRROR']}/chainguard/mariadb:latest").base is None
    assert scanned(redis_client, "noos:1").base is None


def test_base_labels_name_an_older_base_and_say_what_refreshing_it_removes(engine_env, redis_client, test_images):
    report = scanned(redis_client, "webapp:1")
    base = report.base
    old = test_images["library/debian:12-20240101"].digest
    assert (base["name"], base["digest"], base["layers"], base["source"]) == (
        "docker.io/library/debian:12",
        old,
        1,
        "annotation",
    )
    curl = [f for f in report.vulnerabilities if f.package == "libcurl4"]
    assert curl and all(f.layer == report.layers[0].diff_id for f in curl)
    refresh = base["refresh"]
    assert refresh["current_digest"] == test_images["library/debian:12"].digest
    assert refresh["removes"] == len(curl)  # the current debian:12 no longer has libcurl4
    assert ReportStore(redis_client).trivy_runs() == 2  # the app, and the current base through the same engine


def test_manifest_annotations_name_the_base_as_labels_do(engine_env, redis_client, test_images):
    base = scanned(redis_client, "annotated:1").base
    old = test_images["library/debian:12-20240101"].digest
    assert (base["name"], base["digest"], base["layers"], base["source"]) == (
        "docker.io/library/debian:12",
        old,
        1,
        "annotation",
    )
    assert base["refresh"]["removes"] >= 1


def test_the_cli_json_and_text_carry_the_base(engine_env, redis_client, test_images):
    env = dict(os.environ)
    run = [sys.executable, "-m", "bot", "scan", "webapp:1", "--no-alternative"]
    data = json.loads(subprocess.run([*run, "--format", "json"], capture_output=True, text=True, env=env).stdout)
    assert set(data["base"]) == {"name", "digest", "layers", "counts", "source", "refresh"}
    text = subprocess.run(run, capture_output=True, text=True, env=env).stdout
    assert "base      debian:12 (layer 1) brings" in text
    assert "Rebuilding on the current debian:12 removes" in text


@pytest.mark.usefixtures("builds_on")  # before `web`: the server starts with builds on
def test_a_dockerfile_build_is_attributed_to_its_from_line(web, slack, redis_client, test_images):
    assert submit(web, slack, "FROM debian:12\nRUN echo built > /built.txt\n").status_code == 200
    run_workers(redis_client)
    _, (parent, *_) = parent_and_replies(slack)
    card = parent["blocks"][0]["text"]["text"].splitlines()
    debian = scanned(redis_client, "debian:12")
    assert f"base: debian:12 (layer 1) brings {debian.total} of {debian.total} findings" in card
