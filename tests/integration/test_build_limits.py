"""Builds run in the real Docker engine within their limits: no network, a memory cap, a time limit,
and no build context beyond the Dockerfile."""

from __future__ import annotations

import dataclasses
import time
import uuid

import docker.errors
import pytest

from workers.builds.build import build, remove
from workers.builds.checks import check_dockerfile
from workers.config import Settings

pytestmark = pytest.mark.integration

NO_ETH0 = 'RUN while read line; do case "$line" in eth0:*) echo "network!"; exit 7;; esac; done < /proc/net/dev\n'


@pytest.fixture
def settings(registry, test_images):
    return Settings(dockerhub_mirror=registry, build_timeout=60, build_memory_mb=256)


def dockerfile(*lines: str) -> str:
    """A Dockerfile with a unique comment-free ARG, so the engine's build cache never answers for it."""
    return f"FROM mariadb:latest\nARG NONCE={uuid.uuid4().hex}\n" + "".join(lines)


def built(docker_client, text: str, settings: Settings):
    tag = f"chainscan-test/limits:{uuid.uuid4().hex[:8]}"
    try:
        return build(docker_client, text, tag, settings)
    finally:
        remove(docker_client, tag)


def test_run_steps_have_no_network_unless_configured(docker_client, settings):
    assert built(docker_client, dockerfile(NO_ETH0), settings).error is None
    with_network = dataclasses.replace(settings, build_network=True)
    outcome = built(docker_client, dockerfile(NO_ETH0), with_network)
    assert (
        outcome.error and "returned a non-zero code: 7" in outcome.error and "network!" in "\n".join(outcome.log_tail)
    )


def test_run_steps_get_the_memory_cap(docker_client, settings):
    check = (
        'RUN read limit < /sys/fs/cgroup/memory/memory.limit_in_bytes; echo "limit $limit"; test "$limit" = 268435456\n'
    )
    outcome = built(docker_client, dockerfile(check), settings)
    assert outcome.error is None, outcome.log_tail


def test_a_build_over_its_time_limit_is_stopped(docker_client, settings):
    quick = dataclasses.replace(settings, build_timeout=3)
    started = time.monotonic()
    outcome = built(docker_client, dockerfile("RUN while :; do :; done\n"), quick)
    assert "longer than 3 seconds" in outcome.error and time.monotonic() - started < 15
    time.sleep(3)
    spinning = [c for c in docker_client.containers.list() if "while :" in " ".join(c.attrs["Config"]["Cmd"] or [])]
    assert spinning == [], "the engine kept running the cancelled build"


def test_the_build_context_is_the_dockerfile_alone(docker_client, settings):
    outcome = built(docker_client, dockerfile("COPY /etc/passwd /stolen\n"), settings)
    assert outcome.error and "build context" in outcome.error


def test_urls_and_non_dockerfiles_are_refused_before_building():
    assert "URL" in check_dockerfile("FROM x\nADD https://example.com/x.tgz /x\n")
    assert "no FROM" in check_dockerfile("echo hello")
    assert "limit" in check_dockerfile("FROM x\n" + "#" * 30_000)
    assert check_dockerfile("FROM x\nRUN true\n") is None


@pytest.mark.parametrize(
    ("lines", "line"),
    [("FROM 127.0.0.1:2375/x\nRUN true\n", 1), ("FROM mariadb:latest\nCOPY --from=169.254.169.254/x /a /b\n", 2)],
)
def test_attack_images_on_private_addresses_are_refused_before_anything_is_built(docker_client, settings, lines, line):
    tag = f"chainscan-test/limits:{uuid.uuid4().hex[:8]}"
    outcome = build(docker_client, lines, tag, settings)
    assert outcome.error.startswith(f"Line {line}: `") and "local or private address" in outcome.error
    assert outcome.image_id is None and outcome.log_tail == []
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(tag)


def test_attack_keys_a_run_step_prints_never_reach_the_log_tail_or_the_sentence(docker_client, settings):
    run = (
        "RUN echo AKIA$(echo IOSFODNN7EXAMPLE) aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY; exit 1\n"
    )
    outcome = built(docker_client, dockerfile(run), settings)
    shown = outcome.error + "\n".join(outcome.log_tail)
    assert "returned a non-zero code: 1" in outcome.error
    assert "AKIAIOSFODNN7EXAMPLE" not in shown and "EXAMPLEKEY" not in shown


def test_attack_a_fork_bomb_hits_the_pids_limit_and_ends_in_a_sentence(docker_client, settings):
    capped = dataclasses.replace(settings, build_pids_limit=64)
    started = time.monotonic()
    outcome = built(
        docker_client, dockerfile("RUN i=0; while [ $i -lt 2000 ]; do sleep 30 & i=$((i+1)); done; wait\n"), capped
    )
    assert outcome.error and "returned a non-zero code" in outcome.error, outcome.log_tail
    assert "fork" in "\n".join(outcome.log_tail).lower() and time.monotonic() - started < 30


def test_the_pids_limit_is_what_stops_a_hundred_processes(docker_client, settings):
    hundred = "RUN i=0; while [ $i -lt 100 ]; do sleep 2 & i=$((i+1)); done; wait\n"
    assert built(docker_client, dockerfile(hundred), dataclasses.replace(settings, build_pids_limit=64)).error
    outcome = built(docker_client, dockerfile(hundred), dataclasses.replace(settings, build_pids_limit=256))
    assert outcome.error is None, outcome.log_tail
